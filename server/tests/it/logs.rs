//! Task logs (docs/logs-and-events.md#reading, docs/logs-and-events.md#deleting-and-retention): plain and websocket transports, following, removal. Log files are
//! written directly where the collector writes them (docs/logs-and-events.md#where-they-live).

use crate::support::{
    Frame, TestServer, assert_error, create_run, execution, frames_until_close, live_pipeline,
    log_path, next_frame, put_executions, within, ws_connect, ws_refused,
};
use futures_util::StreamExt;
use gofer_core::api::{Run, TaskExecutionResponse};
use gofer_core::enums::TaskExecutionState;
use std::io::Write;

const P: &str = "/api/namespaces/default/pipelines/simple";

fn logs(run: &Run, task: &str) -> String {
    format!("{P}/runs/{}/tasks/{task}/logs", run.run_id)
}

fn append(path: &std::path::Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log");
    f.write_all(bytes).expect("append");
}

/// A server with pipeline `simple`, one run and its executions in the given states.
async fn setup(states: &[(&str, TaskExecutionState)]) -> (TestServer, tempfile::TempDir, Run) {
    let (s, dir) = TestServer::start().await;
    live_pipeline(&s, "simple").await;
    let run = create_run(&s, "simple").await;
    put_executions(
        &s,
        states
            .iter()
            .map(|(task, state)| execution(&run, task, *state))
            .collect(),
    )
    .await;
    (s, dir, run)
}

async fn complete(s: &TestServer, run: &Run, task: &str) {
    put_executions(s, vec![execution(run, task, TaskExecutionState::Complete)]).await;
}

async fn get_plain(s: &TestServer, path: &str) -> reqwest::Response {
    let res = s.http.get(s.url(path)).send().await.expect("request");
    assert_eq!(res.status(), 200, "{path}");
    res
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_logs_are_the_raw_bytes() {
    let (s, _dir, run) = setup(&[
        ("first", TaskExecutionState::Complete),
        ("second", TaskExecutionState::Waiting),
    ])
    .await;
    // Several read chunks' worth, with bytes that are not UTF-8 and no final newline.
    let mut content = Vec::new();
    for i in 0..20_000u32 {
        content.extend_from_slice(format!("line {i}: ").as_bytes());
        content.extend_from_slice(&[0xff, 0xfe, 0x00, b'\r', (i % 256) as u8, b'\n']);
    }
    content.extend_from_slice(b"no newline \xe2\x82");
    std::fs::write(log_path(&s, &run, "first"), &content).unwrap();

    let res = get_plain(&s, &logs(&run, "first")).await;
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(res.headers()["transfer-encoding"], "chunked");
    let body = res.bytes().await.unwrap();
    assert_eq!(body.len(), content.len());
    assert!(body[..] == content[..], "the body differs from the file");
    // follow=true on a complete execution ends the same way.
    let body = get_plain(&s, &format!("{}?follow=true", logs(&run, "first")))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(body[..] == content[..]);

    // A waiting execution without a file: empty body, and follow=false is the default.
    let body = get_plain(&s, &logs(&run, "second"))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(body.is_empty());

    assert_error(
        &s.call("GET", &format!("{}?follow=yes", logs(&run, "first")), None)
            .await,
        400,
        "follow: must be true or false",
    );
    assert_error(
        &s.call("GET", &logs(&run, "third"), None).await,
        404,
        "third",
    );
    assert_error(
        &s.call("GET", &format!("{P}/runs/9/tasks/first/logs"), None)
            .await,
        404,
        "9",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_follow_streams_appends_until_complete() {
    let (s, _dir, run) = setup(&[
        ("first", TaskExecutionState::Running),
        ("second", TaskExecutionState::Waiting),
    ])
    .await;
    let path = log_path(&s, &run, "first");
    append(&path, b"one\n");

    // follow=false: the current content, then the end, although the task still runs.
    let body = get_plain(&s, &logs(&run, "first"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(&body[..], b"one\n");

    let res = get_plain(&s, &format!("{}?follow=true", logs(&run, "first"))).await;
    let mut body = res.bytes_stream();
    let mut got = Vec::new();
    let mut read_until = async |got: &mut Vec<u8>, want: &[u8]| {
        within("log bytes", async {
            while !got.ends_with(want) {
                let chunk = body.next().await.expect("stream open").expect("chunk");
                got.extend_from_slice(&chunk);
            }
        })
        .await;
    };
    read_until(&mut got, b"one\n").await;
    append(&path, b"two\n");
    read_until(&mut got, b"two\n").await;
    append(&path, b"three, unfinished");
    // The collector flushes before the execution completes (docs/logs-and-events.md#where-they-live).
    complete(&s, &run, "first").await;
    let rest = within("the end of the log", async {
        let mut rest = Vec::new();
        while let Some(chunk) = body.next().await {
            rest.extend_from_slice(&chunk.expect("chunk"));
        }
        rest
    })
    .await;
    got.extend_from_slice(&rest);
    assert_eq!(got, b"one\ntwo\nthree, unfinished");

    // A waiting execution without a file waits for output, then ends once complete.
    let res = get_plain(&s, &format!("{}?follow=true", logs(&run, "second"))).await;
    let reader = tokio::spawn(async move { res.bytes().await.expect("body") });
    let second = log_path(&s, &run, "second");
    append(&second, b"late\n");
    complete(&s, &run, "second").await;
    let body = within("the waiting log", reader).await.unwrap();
    assert_eq!(&body[..], b"late\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_logs_send_one_frame_per_line() {
    let (s, _dir, run) = setup(&[
        ("first", TaskExecutionState::Complete),
        ("second", TaskExecutionState::Running),
    ])
    .await;
    std::fs::write(
        log_path(&s, &run, "first"),
        b"one\ntwo\r\n\n\xffbad\xe2\x82\xac\nlast",
    )
    .unwrap();
    let mut ws = ws_connect(&s, &logs(&run, "first")).await;
    let (frames, close) = frames_until_close(&mut ws).await;
    assert_eq!(frames, ["one\n", "two\r\n", "\n", "\u{fffd}bad€\n", "last"]);
    assert_eq!(close, (1000, "end of logs".to_string()));

    // Following is the websocket default: lines arrive as they are appended.
    let path = log_path(&s, &run, "second");
    append(&path, b"a\nb");
    let mut ws = ws_connect(&s, &logs(&run, "second")).await;
    assert_eq!(next_frame(&mut ws).await, Frame::Text("a\n".into()));
    append(&path, b"c\n");
    assert_eq!(next_frame(&mut ws).await, Frame::Text("bc\n".into()));
    // follow=false on a websocket: the current content, the partial line, and the end.
    append(&path, b"partial");
    let mut once = ws_connect(&s, &format!("{}?follow=false", logs(&run, "second"))).await;
    let (frames, close) = frames_until_close(&mut once).await;
    assert_eq!(frames, ["a\n", "bc\n", "partial"]);
    assert_eq!(close.0, 1000);
    // Completion ends the followed stream with the final partial line.
    complete(&s, &run, "second").await;
    let (frames, close) = frames_until_close(&mut ws).await;
    assert_eq!(frames, ["partial"]);
    assert_eq!(close, (1000, "end of logs".to_string()));

    // Errors come before the upgrade, as plain HTTP answers.
    assert_error(&ws_refused(&s, &logs(&run, "third")).await, 404, "third");
    assert_error(
        &ws_refused(&s, &format!("{}?follow=maybe", logs(&run, "first"))).await,
        400,
        "follow: must be true or false",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_logs() {
    let (s, _dir, run) = setup(&[
        ("first", TaskExecutionState::Complete),
        ("second", TaskExecutionState::Running),
    ])
    .await;
    let path = log_path(&s, &run, "first");
    std::fs::write(&path, b"bye\n").unwrap();
    std::fs::write(log_path(&s, &run, "second"), b"busy\n").unwrap();

    assert_error(
        &s.call("DELETE", &logs(&run, "second"), None).await,
        409,
        "task 'second' is not complete",
    );
    assert_eq!(s.call("DELETE", &logs(&run, "first"), None).await.0, 204);
    assert!(!path.exists(), "the log file is deleted");
    let (_, body) = s
        .call("GET", &format!("{P}/runs/1/tasks/first"), None)
        .await;
    let got: TaskExecutionResponse = serde_json::from_value(body).unwrap();
    assert!(got.task_execution.logs_removed);
    assert!(!got.task_execution.logs_expired);

    let removed = "logs for task 'first' have been removed";
    assert_error(
        &s.call("GET", &logs(&run, "first"), None).await,
        404,
        removed,
    );
    assert_error(&ws_refused(&s, &logs(&run, "first")).await, 404, removed);
    assert_error(
        &s.call("DELETE", &logs(&run, "first"), None).await,
        404,
        removed,
    );
    assert_error(
        &s.call("DELETE", &logs(&run, "third"), None).await,
        404,
        "third",
    );
    // The running task's log is untouched.
    let body = get_plain(&s, &logs(&run, "second"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(&body[..], b"busy\n");
}
