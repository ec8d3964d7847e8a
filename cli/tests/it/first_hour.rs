//! A new operator's first hour, through the real binary: what the server logs when clients
//! come and go, and how triggers that cannot reach the server are reported.

use crate::common::unused_addr;
use crate::defects::{deploy, finished, healthy, start_logged, start_run};
use crate::recovery::{call, wait_for};
use reqwest::Method;
use serde_json::{Value, json};

/// A client that stops following a log and a clean shutdown are not errors: the server log
/// has no ERROR line for either.
#[tokio::test(flavor = "multi_thread")]
async fn clients_that_leave_and_a_clean_shutdown_log_no_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let addr = unused_addr().to_string();
    let base = format!("http://{addr}");
    let mut server = start_logged(&addr, &dir.path().join("data"), &[], &log);
    let http = reqwest::Client::new();
    healthy(&http, &addr).await;
    let pipeline = crate::common::unique("leave");
    deploy(
        &http,
        &base,
        &pipeline,
        json!([{"id": "t", "image": "gofer.local/debug-log",
                "variables": {"LOG_INTERVAL": "1s"}}]),
    )
    .await;
    let n = start_run(&http, &base, &pipeline).await;
    let url = format!(
        "{base}/api/namespaces/default/pipelines/{pipeline}/runs/{n}/tasks/t/logs?follow=true"
    );
    // Follow until the first bytes arrive, then hang up mid-stream.
    let task = format!("{base}/api/namespaces/default/pipelines/{pipeline}/runs/{n}/tasks/t");
    wait_for("the task to run", async || {
        let (_, body) = call(&http, Method::GET, task.clone(), None).await;
        (body["task_execution"]["state"] == "running").then_some(Value::Null)
    })
    .await;
    let mut response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap();
    assert!(first.is_some_and(|b| !b.is_empty()));
    drop(response);
    let run = finished(&http, &base, &pipeline, n).await;
    assert_eq!(run["status"], "successful", "{run}");

    // SIGTERM: a clean shutdown.
    let pid = server.0.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.0.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(text.contains("server stopped"), "{text}");
    crate::common::remove_pipeline_containers(&pipeline);
}
