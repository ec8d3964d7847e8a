//! Regression tests for defects found by driving Gofer from outside, each through the real
//! binary and a real Docker engine: secrets in debug logs, cancel grace, `pipeline exec`'s API
//! address, config typos, boot order, a lost Docker connection and a full disk.

use crate::common::{gofer, run, unused_addr};
use crate::recovery::{Server, call, wait_for};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Stdio};

/// The busybox test image, or `None` when Docker tests are skipped explicitly.
async fn image() -> Option<String> {
    let docker = gofer_server::testing::require_docker().await?;
    Some(
        gofer_server::testing::busybox_image(&docker)
            .await
            .expect("the busybox test image builds"),
    )
}

/// Starts the real binary on `addr` with `data` and more `GOFER_WEB_*` settings; its stderr
/// goes to `log`.
fn start_logged(addr: &str, data: &Path, env: &[(&str, &str)], log: &Path) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_gofer"))
        .args(["service", "start"])
        .env("GOFER_WEB_SERVER__BIND_ADDRESS", addr)
        .env("GOFER_WEB_SERVER__DATA_DIR", data)
        .env("GOFER_WEB_EXTERNAL_EVENTS__ENABLE", "false")
        .env("GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS", "false")
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("create the log file"))
        .spawn()
        .expect("start gofer");
    Server(child)
}

async fn healthy(http: &reqwest::Client, addr: &str) {
    let url = format!("http://{addr}/api/health");
    wait_for("the server", async || {
        let (status, _) = call(http, Method::GET, url.clone(), None).await;
        (status == 200).then_some(Value::Null)
    })
    .await;
}

/// Registers and deploys `config` as pipeline `id` in namespace `default`.
async fn deploy(http: &reqwest::Client, base: &str, id: &str, tasks: Value) {
    let (status, body) = call(
        http,
        Method::POST,
        format!("{base}/api/namespaces/default/pipelines/{id}/configs"),
        Some(json!({"config": {"id": id, "name": id, "tasks": tasks}})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(
        http,
        Method::POST,
        format!("{base}/api/namespaces/default/pipelines/{id}/configs/1"),
        None,
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {body}");
}

/// Starts a run of `id` and returns its number.
async fn start_run(http: &reqwest::Client, base: &str, id: &str) -> u64 {
    let (status, body) = call(
        http,
        Method::POST,
        format!("{base}/api/namespaces/default/pipelines/{id}/runs"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["run"]["run_id"].as_u64().unwrap()
}

/// Waits until run `n` of `id` is complete and returns it.
async fn finished(http: &reqwest::Client, base: &str, id: &str, n: u64) -> Value {
    let url = format!("{base}/api/namespaces/default/pipelines/{id}/runs/{n}");
    wait_for("the run to complete", async || {
        let (_, body) = call(http, Method::GET, url.clone(), None).await;
        (body["run"]["state"] == "complete").then(|| body["run"].clone())
    })
    .await
}

/// Even at `trace`, the server log never shows a resolved secret or a run token: the Docker and
/// HTTP client libraries (which log whole request bodies at `debug`) are held at `info`.
#[tokio::test(flavor = "multi_thread")]
async fn trace_logs_never_show_resolved_secrets_or_run_tokens() {
    let Some(image) = image().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let addr = unused_addr().to_string();
    let base = format!("http://{addr}");
    let _server = start_logged(
        &addr,
        &dir.path().join("data"),
        &[("GOFER_WEB_API__LOG_LEVEL", "trace")],
        &log,
    );
    let http = reqwest::Client::new();
    healthy(&http, &addr).await;
    deploy(
        &http,
        &base,
        "logged",
        json!([{"id": "t", "image": image, "command": ["sh", "-c", "echo ran"],
                "inject_api_token": true,
                "variables": {"X": "pipeline_secret{{k}}"}}]),
    )
    .await;
    let secret = "s3cr3t-value-that-must-not-be-logged";
    let (status, body) = call(
        &http,
        Method::POST,
        format!("{base}/api/namespaces/default/pipelines/logged/secrets"),
        Some(json!({"key": "k", "content": secret})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let n = start_run(&http, &base, "logged").await;
    let run = finished(&http, &base, "logged", n).await;
    assert_eq!(run["status"], "successful", "{run}");

    let text = std::fs::read_to_string(&log).unwrap();
    // The level was in force: our own debug lines are there.
    assert!(
        text.contains("DEBUG") || text.contains("\"level\":\"DEBUG\""),
        "no debug lines at all:\n{text}"
    );
    assert!(!text.contains(secret), "the secret is in the log:\n{text}");
    assert!(
        !text.contains("GOFER_API_TOKEN="),
        "a run token is in the log:\n{text}"
    );
}

/// A cancelled `sleep 300` ends at once with the default grace: the task container's init
/// process hands SIGTERM to the program (exit 143), instead of PID 1 ignoring it until the
/// grace runs out and SIGKILL (137).
#[tokio::test(flavor = "multi_thread")]
async fn cancel_reaches_the_program_within_seconds_with_the_default_grace() {
    let Some(image) = image().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let addr = unused_addr().to_string();
    let base = format!("http://{addr}");
    let _server = start_logged(
        &addr,
        &dir.path().join("data"),
        &[],
        &dir.path().join("server.log"),
    );
    let http = reqwest::Client::new();
    healthy(&http, &addr).await;
    deploy(
        &http,
        &base,
        "sleepy",
        json!([{"id": "nap", "image": image, "command": ["sh", "-c", "sleep 300"]}]),
    )
    .await;
    let n = start_run(&http, &base, "sleepy").await;
    let task = format!("{base}/api/namespaces/default/pipelines/sleepy/runs/{n}/tasks/nap");
    wait_for("the task to run", async || {
        let (_, body) = call(&http, Method::GET, task.clone(), None).await;
        (body["task_execution"]["state"] == "running").then_some(Value::Null)
    })
    .await;
    let cancelled = std::time::Instant::now();
    let (status, body) = call(
        &http,
        Method::DELETE,
        format!("{base}/api/namespaces/default/pipelines/sleepy/runs/{n}"),
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let run = finished(&http, &base, "sleepy", n).await;
    assert_eq!(run["status"], "cancelled", "{run}");
    let (_, body) = call(&http, Method::GET, task.clone(), None).await;
    let execution = &body["task_execution"];
    assert_eq!(execution["status"], "cancelled", "{execution}");
    assert_eq!(
        execution["exit_code"], 143,
        "SIGTERM ended the program: {execution}"
    );
    // The default grace is 30 s; ending well inside it shows the signal got through.
    assert!(
        cancelled.elapsed() < std::time::Duration::from_secs(25),
        "the cancel took {:?}",
        cancelled.elapsed()
    );
}

/// `gofer pipeline exec` listens where task containers reach it and hands them that address:
/// a task posts its result with its run token and its child reads it, while another server
/// listens on :8080 (the old default address) and would have received the token.
#[tokio::test(flavor = "multi_thread")]
async fn exec_hands_tasks_its_own_api_address() {
    let Some(image) = image().await else { return };
    // Something else on :8080, when the port is free: it must receive nothing.
    let decoy = tokio::net::TcpListener::bind("0.0.0.0:8080").await.ok();
    let (hits_tx, mut hits) = tokio::sync::mpsc::unbounded_channel::<()>();
    if let Some(decoy) = decoy {
        tokio::spawn(async move {
            while let Ok((_socket, _)) = decoy.accept().await {
                let _ = hits_tx.send(());
            }
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("handoff.json");
    let post = "wget -q -O- --header \"Authorization: Bearer $GOFER_API_TOKEN\" \
        --post-data '{\"answer\": 42}' \
        \"$GOFER_API_BASE_URL/api/namespaces/$GOFER_NAMESPACE_ID/pipelines/$GOFER_PIPELINE_ID/runs/$GOFER_RUN_ID/tasks/$GOFER_TASK_ID/result\" \
        && echo posted to $GOFER_API_BASE_URL";
    let config = gofer_sdk::Pipeline::new("handoff", "Hand-off").tasks([
        gofer_sdk::Task::new("produce", &image)
            .script(post)
            .inject_api_token(true),
        gofer_sdk::Task::new("consume", &image)
            .depends_on("produce", gofer_sdk::Requires::Success)
            .variable("GOT", gofer_sdk::task_result("produce"))
            .script("echo \"got $GOT\""),
    ]);
    std::fs::write(&file, config.to_json().unwrap()).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        run(gofer()
            .args(["pipeline", "exec", file.to_str().unwrap()])
            .env("TMPDIR", dir.path()))
    })
    .await
    .unwrap()
    .expect(0);
    assert!(
        out.stdout.contains("consume    | got {\"answer\":42}")
            || out.stdout.contains("got {\"answer\": 42}"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        !out.stdout.contains("posted to http://172.17.0.1:8080"),
        "{}",
        out.stdout
    );
    assert!(hits.try_recv().is_err(), "the server on :8080 was called");
}
