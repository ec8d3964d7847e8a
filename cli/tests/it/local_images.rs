//! Locally packaged images (SPEC §12.10) through the real binary: `gofer service start` builds
//! the `gofer.local/debug-*` images from its own executable, tasks run them without a registry,
//! and a second boot of the same executable builds nothing.

use crate::common::unused_addr;
use crate::recovery::{Server, call, start, wait_for};
use gofer_server::local_images::{HASH_LABEL, IMAGES};
use reqwest::Method;
use serde_json::{Value, json};
use std::process::Command;

async fn image_ids_and_hashes(
    docker: &gofer_server::scheduler::docker::DockerScheduler,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for image in IMAGES {
        let info = docker
            .client()
            .inspect_image(image.image)
            .await
            .unwrap_or_else(|e| panic!("{} was not built: {e}", image.image));
        let hash = info
            .config
            .and_then(|c| c.labels)
            .and_then(|mut l| l.remove(HASH_LABEL))
            .unwrap_or_default();
        out.push((info.id.unwrap_or_default(), hash));
    }
    out
}

async fn start_and_wait(http: &reqwest::Client, addr: &str, data: &std::path::Path) -> Server {
    let server = start(addr, data);
    let health = format!("http://{addr}/api/health");
    wait_for("the server", async || {
        let (status, _) = call(http, Method::GET, health.clone(), None).await;
        (status == 200).then_some(Value::Null)
    })
    .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_images_are_built_from_the_binary_and_run_as_tasks() {
    let docker = gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run ../shared/ci/ensure-docker");
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let addr = unused_addr().to_string();
    let server = start_and_wait(&http, &addr, dir.path()).await;

    // Every image is labelled with the SHA-256 of the binary that built it.
    let sum = Command::new("sha256sum")
        .arg(env!("CARGO_BIN_EXE_gofer"))
        .output()
        .expect("sha256sum");
    let sum = String::from_utf8_lossy(&sum.stdout);
    let expected = sum.split_whitespace().next().unwrap().to_owned();
    let built = image_ids_and_hashes(&docker).await;
    for (image, (_, hash)) in IMAGES.iter().zip(&built) {
        assert_eq!(
            hash, &expected,
            "{} is labelled with another binary",
            image.image
        );
    }

    // A pipeline of debug tasks (unique id: container names must not meet earlier runs').
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let pipeline = format!("debug{}x{nanos}", std::process::id());
    let base = format!("http://{addr}/api/namespaces/default/pipelines/{pipeline}");
    let config = json!({"config": {"id": pipeline, "name": "debug images", "tasks": [
        {"id": "envs", "image": "gofer.local/debug-envs", "variables": {"FOO": "bar"}},
        {"id": "wait", "image": "gofer.local/debug-wait:latest", "variables": {"WAIT_DURATION": "1s"}},
        {"id": "nowait", "image": "gofer.local/debug-wait:latest"},
        {"id": "badwait", "image": "gofer.local/debug-wait:latest", "variables": {"WAIT_DURATION": "soon"}},
        {"id": "fail", "image": "gofer.local/debug-fail:latest"},
        {"id": "log", "image": "gofer.local/debug-log:latest",
         "variables": {"LOG_INTERVAL": "0s", "LOGS_HEADER": "a header"}},
    ]}});
    let (status, body) = call(&http, Method::POST, format!("{base}/configs"), Some(config)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        call(&http, Method::POST, format!("{base}/configs/1"), None)
            .await
            .0,
        201
    );
    let (status, body) = call(&http, Method::POST, format!("{base}/runs"), Some(json!({}))).await;
    assert_eq!(status, 201, "{body}");
    let run_url = format!("{base}/runs/1");
    let run = wait_for("the run to complete", async || {
        let (_, r) = call(&http, Method::GET, run_url.clone(), None).await;
        (r["run"]["state"] == "complete").then_some(r)
    })
    .await;
    assert_eq!(run["run"]["status"], "failed", "{run}");

    let task = async |id: &str| {
        let (_, t) = call(&http, Method::GET, format!("{run_url}/tasks/{id}"), None).await;
        let logs = http
            .get(format!("{run_url}/tasks/{id}/logs"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (t["task_execution"].clone(), logs)
    };
    let (envs, logs) = task("envs").await;
    assert_eq!(envs["status"], "successful", "{envs}");
    let lines: Vec<&str> = logs.lines().collect();
    assert!(lines.contains(&"FOO=bar"), "{logs}");
    assert!(lines.contains(&"GOFER_TASK_ID=envs"), "{logs}");
    let mut sorted = lines.clone();
    sorted.sort_by_key(|l| l.split('=').next().unwrap_or_default().to_owned());
    assert_eq!(lines, sorted, "envs are printed sorted by key");

    let (wait, logs) = task("wait").await;
    assert_eq!(wait["status"], "successful", "{wait}");
    assert_eq!(logs, "waiting 1s\n");
    for id in ["nowait", "badwait"] {
        let (t, logs) = task(id).await;
        assert_eq!(t["status"], "failed", "{t}");
        assert_eq!(t["exit_code"], 42, "{t}");
        assert!(logs.contains("WAIT_DURATION"), "{logs}");
    }
    let (fail, _) = task("fail").await;
    assert_eq!(fail["status"], "failed", "{fail}");
    assert_eq!(fail["exit_code"], 1, "{fail}");
    let (log, logs) = task("log").await;
    assert_eq!(log["status"], "successful", "{log}");
    let expected: String = std::iter::once("a header".to_owned())
        .chain((1..=15).map(|n| format!("log line {n} of 15")))
        .map(|l| l + "\n")
        .collect();
    assert_eq!(logs, expected);

    // The same binary booting again (another data dir) finds its images current.
    drop(server);
    let dir2 = tempfile::tempdir().unwrap();
    let _again = start_and_wait(&http, &unused_addr().to_string(), dir2.path()).await;
    assert_eq!(
        image_ids_and_hashes(&docker).await,
        built,
        "nothing was rebuilt"
    );

    let out = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=gofer.pipeline_id={pipeline}"),
        ])
        .output()
        .expect("docker ps");
    for id in String::from_utf8_lossy(&out.stdout).lines() {
        let _ = Command::new("docker").args(["rm", "-f", id]).output();
    }
}
