//! Locally packaged images (docs/extensions.md#images-gofer-builds-itself) through the real binary: `gofer service start` builds
//! the `gofer.local/debug-*` images from its own executable, tasks run them without a registry,
//! and a second boot of the same executable builds nothing.

use crate::common::{unique, unused_addr};
use crate::recovery::{Server, call, start, start_with_env, wait_for};
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
        .expect("this test needs Docker: run .ci/ensure-docker");
    let http = crate::common::http();
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

    // A pipeline of debug tasks.
    let pipeline = unique("debug");
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

    crate::common::remove_pipeline_containers(&pipeline);
}

/// Removes a container by name or id (best effort, for cleanup).
fn docker_rm(id: &str) {
    let _ = Command::new("docker").args(["rm", "-f", id]).output();
}

/// The std `interval` extension image (docs/extensions.md#the-built-in-extensions), run as the server would run it (docs/extensions.md#launch), speaks
/// the extension API (docs/extensions.md#the-api-every-extension-serves) and starts runs of its subscribed pipeline through the real server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interval_extension_image_starts_runs_for_its_subscriptions() {
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    // The extension container reaches the server through the docker0 gateway.
    let port = unused_addr().port();
    let gofer_host = format!("172.17.0.1:{port}");
    let _server = start_with_env(
        &format!("0.0.0.0:{port}"),
        dir.path(),
        &[("GOFER_WEB_SERVER__EXTENSION_ADDRESS", gofer_host.as_str())],
    );
    let api = format!("http://127.0.0.1:{port}/api");
    wait_for("the server", async || {
        let (status, _) = call(&http, Method::GET, format!("{api}/health"), None).await;
        (status == 200).then_some(Value::Null)
    })
    .await;
    // Containers are not on loopback: the extension needs a real token.
    let (status, body) = call(&http, Method::POST, format!("{api}/tokens/bootstrap"), None).await;
    assert_eq!(status, 201, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    let pipeline = unique("every");
    let base = format!("{api}/namespaces/default/pipelines/{pipeline}");
    let config = json!({"config": {"id": pipeline, "name": "interval", "tasks": [
        {"id": "envs", "image": "gofer.local/debug-envs"}]}});
    assert_eq!(
        call(&http, Method::POST, format!("{base}/configs"), Some(config))
            .await
            .0,
        201
    );
    assert_eq!(
        call(&http, Method::POST, format!("{base}/configs/1"), None)
            .await
            .0,
        201
    );

    let name = unique("gofer-test-interval-");
    let out = Command::new("docker")
        .args(["run", "-d", "--name", &name, "-p", "127.0.0.1::8082"])
        .args(["-e", "GOFER_EXTENSION_SYSTEM_ID=interval"])
        .args(["-e", &format!("GOFER_EXTENSION_SYSTEM_SECRET={secret}")])
        .args([
            "-e",
            &format!("GOFER_EXTENSION_SYSTEM_GOFER_HOST={gofer_host}"),
        ])
        .args(["-e", "GOFER_EXTENSION_CONFIG_MIN_INTERVAL=1s"])
        .arg("gofer.local/extension-interval:latest")
        .output()
        .expect("docker run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cleanup = scopeguard(name.clone(), pipeline.clone());
    let port = Command::new("docker")
        .args(["port", &name, "8082"])
        .output()
        .unwrap();
    let published = String::from_utf8_lossy(&port.stdout)
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let ext = format!("http://{published}/api");
    wait_for("the extension's health", async || {
        let status = http
            .get(format!("{ext}/health"))
            .send()
            .await
            .map(|r| r.status().as_u16());
        (status.ok() == Some(204)).then_some(Value::Null)
    })
    .await;

    let bearer = format!("Bearer {secret}");
    let send = async |method: Method, path: &str, body: Option<Value>, auth: bool| {
        let mut req = http.request(method, format!("{ext}/{path}"));
        if auth {
            req = req.header("authorization", &bearer);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (status, body) = send(Method::GET, "info", None, false).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["request_id"].is_string() && body["message"].is_string(),
        "{body}"
    );
    let (status, info) = send(Method::GET, "info", None, true).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["extension_id"], "interval");
    let params = &info["documentation"]["pipeline_subscription_params"];
    assert_eq!(params[0]["key"], "every");
    assert_eq!(params[0]["required"], true);

    let subscribe = |params: Value| {
        json!({"namespace_id": "default", "pipeline_id": pipeline,
        "pipeline_subscription_id": "tick", "pipeline_subscription_params": params})
    };
    for (params, message) in [
        (json!({}), "every: missing"),
        (json!({"every": "0s"}), "every: must be longer than 0s"),
        (json!({"every": "soon"}), "every: 'soon'"),
        (json!({"every": "1s", "jitter": "lots"}), "jitter: "),
        (
            json!({"every": "1s", "cron": "* * * * *"}),
            "cron: unknown parameter",
        ),
    ] {
        let (status, body) = send(Method::POST, "subscribe", Some(subscribe(params)), true).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["message"].as_str().unwrap().starts_with(message),
            "{body}"
        );
    }
    let (status, body) = send(
        Method::POST,
        "subscribe",
        Some(subscribe(json!({"every": "1s"}))),
        true,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let runs = wait_for("two runs started by the extension", async || {
        let (_, r) = call(&http, Method::GET, format!("{base}/runs"), None).await;
        (r["runs"].as_array().is_some_and(|runs| runs.len() >= 2)).then_some(r)
    })
    .await;
    for run in runs["runs"].as_array().unwrap() {
        assert_eq!(run["initiator"]["user"], "bootstrap", "{run}");
    }
    let (_, debug) = send(Method::GET, "debug", None, true).await;
    let debug: Value = serde_json::from_str(debug["info"].as_str().unwrap()).unwrap();
    assert_eq!(
        debug["subscriptions"][0]["subscription_id"], "tick",
        "{debug}"
    );
    assert_eq!(debug["subscriptions"][0]["every"], "1s", "{debug}");

    let key = json!({"namespace_id": "default", "pipeline_id": pipeline, "pipeline_subscription_id": "tick"});
    assert_eq!(
        send(Method::DELETE, "subscribe", Some(key.clone()), true)
            .await
            .0,
        204
    );
    assert_eq!(
        send(Method::DELETE, "subscribe", Some(key), true).await.0,
        204,
        "unknown is fine"
    );
    let (_, debug) = send(Method::GET, "debug", None, true).await;
    let debug: Value = serde_json::from_str(debug["info"].as_str().unwrap()).unwrap();
    assert_eq!(debug["subscriptions"], json!([]), "{debug}");

    assert_eq!(send(Method::POST, "shutdown", None, true).await.0, 204);
    let waited = Command::new("docker")
        .args(["wait", &name])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&waited.stdout).trim(),
        "0",
        "exits 0 after shutdown"
    );
    drop(cleanup);
}

/// Removes the extension container and the pipeline's task containers when dropped.
fn scopeguard(container: String, pipeline: String) -> impl Drop {
    struct Guard(String, String);
    impl Drop for Guard {
        fn drop(&mut self) {
            docker_rm(&self.0);
            crate::common::remove_pipeline_containers(&self.1);
        }
    }
    Guard(container, pipeline)
}
