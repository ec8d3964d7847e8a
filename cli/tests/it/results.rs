//! Run payloads, task results and one-off runs through the CLI with real containers (docs/runs.md#results-and-payload,
//! docs/runs.md#variables, docs/api.md#runs-and-task-executions). Needs a Docker engine.

use crate::common::{ContainerNamespace, TestServer, busybox_image, shell_task};
use gofer_core::api::{Event, EventKind, TaskExecutionResponse, TaskExecutionsResponse, TaskInput};
use gofer_core::enums::{TaskExecutionState, TaskExecutionStatus};
use gofer_server::scheduler::{LABEL_MANAGED, LABEL_NAMESPACE, Scheduler};
use std::time::{Duration, Instant};

/// Polls `gofer task get` until the task is running (deadline 60 s).
fn wait_running(server: &TestServer, ns: &str, p: &str, run: u64, task: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = server.client();
    loop {
        // The executions appear when the run leaves the queue: 404 until then.
        match server.block_on(client.get_task_execution(ns, p, run, task)) {
            Ok(e) if e.state == TaskExecutionState::Running => return,
            Ok(e) => assert!(
                e.state != TaskExecutionState::Complete,
                "task '{task}' completed before it was seen running: {e:?}"
            ),
            Err(gofer_sdk::Error::Api { status: 404, .. }) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(Instant::now() < deadline, "task '{task}' never ran");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Lets a `wait_for_go` task finish: creates `/go` in its container.
fn release(ns: &str, p: &str, run: u64, task: &str) {
    let name = gofer_server::scheduler::task_container_name(ns, p, run, task, 1);
    let status = std::process::Command::new("docker")
        .args(["exec", &name, "sh", "-c", "echo > /go"])
        .status()
        .expect("the docker CLI runs");
    assert!(status.success(), "docker exec in {name} failed");
}

/// A parent records a result while it runs; the child receives it through
/// `task_result{{parent}}`; the run's payload reaches the task as base64 JSON; the result is
/// shown by `task get`, `task result get` and the `completed_task_execution` event.
#[test]
fn payload_reaches_tasks_and_a_parent_result_reaches_its_child() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let Some(image) = busybox_image(&server) else {
        return;
    };
    let ns = server.create_namespace(&namespace);
    let mut child = shell_task("child", &image, "echo \"got $PARENT\"");
    child.depends_on = [("parent", "success")].into_iter().collect();
    child.variables = [("PARENT", "task_result{{parent}}")].into_iter().collect();
    server.deploy_in(
        &ns,
        "results",
        vec![
            shell_task(
                "parent",
                &image,
                "echo \"payload $GOFER_RUN_PAYLOAD\"; while [ ! -e /go ]; do sleep 0.1; done",
            ),
            child,
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("payload.json");
    std::fs::write(&payload, r#"{"environment": "staging", "n": [1, 2]}"#).unwrap();
    server
        .run_in(
            &ns,
            &[
                "run",
                "start",
                "results",
                "--payload",
                payload.to_str().unwrap(),
            ],
        )
        .expect(0);
    wait_running(&server, &ns, "results", 1, "parent");

    // Bad results are refused with the documented codes before a good one is recorded.
    let r = server
        .run_in(
            &ns,
            &[
                "task", "result", "set", "results", "1", "parent", "not json",
            ],
        )
        .expect(7);
    assert!(
        r.stderr.contains("the result is not valid JSON"),
        "{}",
        r.stderr
    );
    let big = format!("\"{}\"", "x".repeat(70_000));
    let r = server
        .run_in(
            &ns,
            &["task", "result", "set", "results", "1", "parent", &big],
        )
        .expect(7);
    assert!(
        r.stderr.contains("result: larger than 65536 bytes"),
        "{}",
        r.stderr
    );
    let r = server
        .run_in(
            &ns,
            &["task", "result", "set", "results", "1", "nope", "{}"],
        )
        .expect(3);
    assert!(r.stderr.contains("task 'nope' not found"), "{}", r.stderr);
    // The child is waiting, not running: 409.
    server
        .run_in(
            &ns,
            &["task", "result", "set", "results", "1", "child", "{}"],
        )
        .expect(5);
    // POST is accepted like PUT (for minimal clients such as busybox wget); an empty body is 400.
    let url = format!(
        "{}/api/namespaces/{ns}/pipelines/results/runs/1/tasks/parent/result",
        server.url
    );
    let post = |body: &'static str| {
        server.block_on(async {
            let response = crate::common::http()
                .post(&url)
                .header("gofer-api-version", "v0")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        })
    };
    assert_eq!(post(r#"{"via": "post"}"#), (204, String::new()));
    let (status, body) = post("  ");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("body: must be a JSON value"), "{body}");
    let seen = server
        .block_on(
            server
                .client()
                .get_task_execution(&ns, "results", 1, "parent"),
        )
        .unwrap();
    assert_eq!(seen.result, Some(serde_json::json!({"via": "post"})));
    // The last write wins; the ids can also come from the task's environment (docs/runs.md#variables).
    server
        .run_in(
            &ns,
            &[
                "task",
                "result",
                "set",
                "results",
                "1",
                "parent",
                "{\"v\": 1}",
            ],
        )
        .expect(0);
    let r = crate::common::run(
        server
            .gofer()
            .args(["task", "result", "set", "-"])
            .env("GOFER_NAMESPACE_ID", &ns)
            .env("GOFER_PIPELINE_ID", "results")
            .env("GOFER_RUN_ID", "1")
            .env("GOFER_TASK_ID", "parent")
            .write_stdin(r#"{"url": "https://staging.example", "ok": true}"#),
    )
    .expect(0);
    assert_eq!(
        r.stdout,
        "result of task 'parent' of run 1 of pipeline 'results' recorded\n"
    );
    release(&ns, "results", 1, "parent");
    let watch = server
        .run_in(&ns, &["run", "watch", "results", "1", "--output", "json"])
        .expect(0);

    let result = serde_json::json!({"url": "https://staging.example", "ok": true});
    let parent: TaskExecutionResponse = server
        .run_in(
            &ns,
            &["task", "get", "results", "1", "parent", "--output", "json"],
        )
        .expect(0)
        .json();
    assert_eq!(parent.task_execution.result, Some(result.clone()));
    let plain = server
        .run_in(&ns, &["task", "result", "get", "results", "1", "parent"])
        .expect(0)
        .stdout;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&plain).unwrap(),
        result
    );
    let none = server
        .run_in(&ns, &["task", "result", "get", "results", "1", "child"])
        .expect(0)
        .stdout;
    assert_eq!(none, "task 'child' of run 1 recorded no result\n");
    // Too late now: the parent is complete.
    server
        .run_in(
            &ns,
            &["task", "result", "set", "results", "1", "parent", "{}"],
        )
        .expect(5);

    // The completed_task_execution event carries the result.
    let events: Vec<Event> = watch
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let carried = events.iter().find_map(|e| match &e.kind {
        EventKind::CompletedTaskExecution {
            task_execution_id,
            result,
            ..
        } if task_execution_id == "parent" => Some(result.clone()),
        _ => None,
    });
    assert_eq!(carried, Some(Some(result)));

    // The payload, base64-encoded, and the result, compact JSON, in the logs.
    let parent_log = server
        .run_in(&ns, &["task", "logs", "results", "1", "parent"])
        .expect(0)
        .stdout;
    let encoded = parent_log
        .trim()
        .strip_prefix("payload ")
        .unwrap_or_else(|| panic!("{parent_log}"));
    assert_eq!(
        decode_base64(encoded),
        r#"{"environment":"staging","n":[1,2]}"#
    );
    let child_log = server
        .run_in(&ns, &["task", "logs", "results", "1", "child"])
        .expect(0)
        .stdout;
    assert_eq!(
        child_log,
        "got {\"ok\":true,\"url\":\"https://staging.example\"}\n"
    );
}

/// A child whose parent recorded no result fails with `failed_precondition`, naming both.
#[test]
fn a_missing_parent_result_fails_the_child() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let Some(image) = busybox_image(&server) else {
        return;
    };
    let ns = server.create_namespace(&namespace);
    let mut child = shell_task("child", &image, "echo never");
    child.depends_on = [("parent", "success")].into_iter().collect();
    child.variables = [("PARENT", "task_result{{parent}}")].into_iter().collect();
    server.deploy_in(
        &ns,
        "noresult",
        vec![shell_task("parent", &image, "true"), child],
    );
    server
        .run_in(&ns, &["run", "start", "noresult", "--watch"])
        .expect(8);
    let child: TaskExecutionResponse = server
        .run_in(
            &ns,
            &["task", "get", "noresult", "1", "child", "--output", "json"],
        )
        .expect(0)
        .json();
    let e = child.task_execution;
    assert_eq!(e.status, TaskExecutionStatus::Failed);
    let reason = e.status_reason.unwrap();
    assert_eq!(reason.reason.to_string(), "failed_precondition");
    assert_eq!(
        reason.description,
        "variable 'PARENT': task_result{{parent}} cannot be resolved: task 'parent' recorded no result"
    );
}

/// `run start --only b --command …` runs exactly one container, with the overridden command;
/// an oversized payload is refused with 413 (exit 7).
#[test]
fn only_runs_exactly_one_container_with_the_overridden_command() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let Some(image) = busybox_image(&server) else {
        return;
    };
    let ns = server.create_namespace(&namespace);
    let mut second: TaskInput = shell_task("second", &image, "echo original");
    second.depends_on = [("first", "success")].into_iter().collect();
    server.deploy_in(
        &ns,
        "oneoff",
        vec![shell_task("first", &image, "echo first"), second],
    );
    let r = server
        .run_in(
            &ns,
            &[
                "run",
                "start",
                "oneoff",
                "--only",
                "second",
                "--command",
                "sh -c 'echo overridden; echo \"$GOFER_TASK_ID\"'",
                "--watch",
            ],
        )
        .expect(0);
    assert_eq!(r.stdout, "second | overridden\nsecond | second\n");
    let list: TaskExecutionsResponse = server
        .run_in(&ns, &["task", "list", "oneoff", "1", "--output", "json"])
        .expect(0)
        .json();
    let ids: Vec<&str> = list
        .task_executions
        .iter()
        .map(|e| e.task_id.as_str())
        .collect();
    assert_eq!(ids, ["second"]);
    let containers = server.block_on(async {
        let docker = gofer_server::testing::require_docker().await.unwrap();
        let labels = [
            (LABEL_MANAGED.to_owned(), "true".to_owned()),
            (LABEL_NAMESPACE.to_owned(), ns.clone()),
        ]
        .into_iter()
        .collect();
        docker.list(&labels).await.unwrap()
    });
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [gofer_server::scheduler::task_container_name(
            &ns, "oneoff", 1, "second", 1
        )]
    );
    let r = server.run_in(&ns, &["run", "get", "oneoff", "1"]).expect(0);
    assert!(r.stdout.contains("(one_off)"), "{}", r.stdout);

    // 413 for a payload over 64 KiB, before any run is created.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    std::fs::write(&big, format!("{{\"big\": \"{}\"}}", "x".repeat(65_536))).unwrap();
    let r = server
        .run_in(
            &ns,
            &["run", "start", "oneoff", "--payload", big.to_str().unwrap()],
        )
        .expect(7);
    assert!(
        r.stderr.contains("payload: larger than 65536 bytes"),
        "{}",
        r.stderr
    );
    assert_eq!(
        server
            .block_on(server.client().list_runs(&ns, "oneoff", None))
            .unwrap()
            .len(),
        1
    );
}

fn decode_base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).unwrap()
}
