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
    let http = crate::common::http();
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

/// A trigger that cannot reach the server does not fail silently: the server warns at boot
/// that containers cannot reach it where it says they can, and the subscription shows when its
/// extension last fired and why starting the run failed (API and CLI). Tasks are told the
/// port the server actually listens on.
#[tokio::test(flavor = "multi_thread")]
async fn a_trigger_that_cannot_reach_the_server_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    // Loopback only: containers cannot reach it.
    let addr = unused_addr().to_string();
    let port = addr.rsplit_once(':').unwrap().1.to_string();
    let base = format!("http://{addr}");
    let _server = start_logged(
        &addr,
        &dir.path().join("data"),
        &[("GOFER_WEB_EXTENSIONS__HEALTH_CHECK_INTERVAL", "1")],
        &log,
    );
    let http = crate::common::http();
    healthy(&http, &addr).await;
    let cli = |args: &[&str]| {
        crate::common::run(
            crate::common::gofer()
                .env("GOFER_API_BASE_URL", &base)
                .args(args),
        )
    };
    let warning = wait_for("the boot warning", async || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines()
            .find(|l| l.contains("tasks and extensions cannot reach the API at"))
            .map(|l| Value::String(l.to_string()))
    })
    .await;
    let warning = warning.as_str().unwrap();
    assert!(
        warning.contains(&format!(":{port} (server.extension_address)"))
            && warning.contains("server.bind_address"),
        "{warning}"
    );

    let ext = crate::common::unique("ivl");
    let _cleanup = crate::extensions::Cleanup(vec![ext.clone()]);
    cli(&[
        "extension",
        "install",
        &ext,
        "gofer.local/extension-interval",
        "-s",
        "MIN_INTERVAL=1s",
    ])
    .expect(0);
    let pipeline = crate::common::unique("tick");
    deploy(
        &http,
        &base,
        &pipeline,
        json!([{"id": "envs", "image": "gofer.local/debug-envs"}]),
    )
    .await;
    cli(&[
        "pipeline",
        "subscribe",
        &pipeline,
        &ext,
        "every1s",
        "-s",
        "every=1s",
    ])
    .expect(0);
    let url =
        format!("{base}/api/namespaces/default/pipelines/{pipeline}/subscriptions/{ext}/every1s");
    let sub = wait_for("the subscription to report the failure", async || {
        let (_, body) = call(&http, Method::GET, url.clone(), None).await;
        body["subscription"]["last_error"]
            .as_str()
            .is_some()
            .then(|| body["subscription"].clone())
    })
    .await;
    assert!(sub["last_fired"].as_u64().unwrap() > 0, "{sub}");
    assert!(
        sub["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot reach the Gofer server"),
        "{sub}"
    );
    assert_eq!(sub["status"], "active", "{sub}");
    assert_eq!(sub["status_reason"]["reason"], "failed", "{sub}");
    let r = cli(&[
        "pipeline",
        "subscription",
        "get",
        &pipeline,
        &ext,
        "every1s",
    ])
    .expect(0);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("last error:") && l.contains("cannot reach the Gofer server")),
        "{}",
        r.stdout
    );

    // Tasks get the port the server listens on (not :8080).
    let n = start_run(&http, &base, &pipeline).await;
    finished(&http, &base, &pipeline, n).await;
    let logs = http
        .get(format!(
            "{base}/api/namespaces/default/pipelines/{pipeline}/runs/{n}/tasks/envs/logs"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        logs.lines().any(
            |l| l.starts_with("GOFER_API_BASE_URL=http://") && l.ends_with(&format!(":{port}"))
        ),
        "{logs}"
    );
    crate::common::remove_pipeline_containers(&pipeline);
}
