//! Crash recovery through the real binary (docs/runs.md#restart-recovery): SIGKILL the server while a task runs,
//! start it again on the same data dir, and the run completes without the task's container being
//! started twice.

use crate::common::unused_addr;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn start(addr: &str, data: &std::path::Path) -> Server {
    start_with_env(addr, data, &[])
}

/// [`start`] with more `GOFER_WEB_*` settings (they override the defaults here).
pub(crate) fn start_with_env(addr: &str, data: &std::path::Path, env: &[(&str, &str)]) -> Server {
    spawn_server(addr, data, env, Stdio::null())
}

/// The real binary serving on `addr` from `data`, with the test defaults (no external events
/// listener, no standard extensions), then `env`; its stderr (the log) goes to `log`.
pub(crate) fn spawn_server(
    addr: &str,
    data: &std::path::Path,
    env: &[(&str, &str)],
    log: Stdio,
) -> Server {
    spawn_server_with_args(addr, data, &[], env, log)
}

/// [`spawn_server`] with extra `service start` arguments.
pub(crate) fn spawn_server_with_args(
    addr: &str,
    data: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    log: Stdio,
) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_gofer"))
        .args(["service", "start"])
        .args(args)
        .env("GOFER_WEB_SERVER__BIND_ADDRESS", addr)
        .env("GOFER_WEB_SERVER__DATA_DIR", data)
        .env("GOFER_WEB_EXTERNAL_EVENTS__ENABLE", "false")
        .env("GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS", "false")
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start gofer");
    Server(child)
}

pub(crate) async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method.clone(), url);
    if let Some(body) = body {
        req = req.json(&body);
    }
    match req.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let json = res
                .headers()
                .get("content-type")
                .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
            let path = res.url().path().to_string();
            let bytes = res.bytes().await.unwrap_or_default();
            if json {
                assert_documented(&method, &path, status, &bytes);
            }
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        }
        Err(_) => (0, Value::Null),
    }
}

/// The answer matches the OpenAPI document's schema for its route and status
/// (docs/api.md#the-openapi-document), as every in-process server's answers are checked.
pub(crate) fn assert_documented(method: &reqwest::Method, path: &str, status: u16, body: &[u8]) {
    use gofer_server::http::router::{Match, find};
    static ROUTES: std::sync::OnceLock<Vec<gofer_server::http::router::Route>> =
        std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(gofer_server::http::routes::all);
    let method = warp_method(method);
    if let Match::Found(route, _) = find(routes, &method, path) {
        let problem =
            gofer_server::testing::answer_problem(routes, &method, route.template, status, body);
        assert_eq!(
            problem,
            Ok(()),
            "{method} {path} → {status} does not match assets/openapi.json"
        );
    }
}

fn warp_method(method: &reqwest::Method) -> warp::http::Method {
    warp::http::Method::from_bytes(method.as_str().as_bytes()).expect("method")
}

pub(crate) async fn wait_for(what: &str, check: impl AsyncFnMut() -> Option<Value>) -> Value {
    match try_wait_for(check).await {
        Some(v) => v,
        None => panic!("timed out waiting for {what}"),
    }
}

/// [`wait_for`] that returns `None` at the deadline, for callers that say what they last saw.
pub(crate) async fn try_wait_for(mut check: impl AsyncFnMut() -> Option<Value>) -> Option<Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn containers(pipeline: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label=gofer.pipeline_id={pipeline}"),
        ])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// A server killed with SIGKILL while the one task of run 1 of a fresh pipeline was running.
struct Crashed {
    http: reqwest::Client,
    addr: String,
    dir: tempfile::TempDir,
    pipeline: String,
    base: String,
    /// `GOFER_WEB_*` settings of both server lives.
    env: Vec<(&'static str, &'static str)>,
}

impl Crashed {
    /// Starts the real binary, runs `task` (a task JSON object with id `sleeper`), waits until it
    /// runs and kills the server without any chance to record anything.
    async fn new(prefix: &str, task: impl FnOnce(&str) -> Value) -> Crashed {
        Crashed::with_env(prefix, &[], None, task).await
    }

    /// [`Crashed::new`] with server settings; with `stored`, the kill waits until the task's
    /// log holds that text.
    async fn with_env(
        prefix: &str,
        env: &[(&'static str, &'static str)],
        stored: Option<&str>,
        task: impl FnOnce(&str) -> Value,
    ) -> Crashed {
        let docker = gofer_server::testing::require_docker()
            .await
            .expect("this test needs Docker: run .ci/ensure-docker");
        let image = gofer_server::testing::busybox_image(&docker)
            .await
            .expect("busybox image");
        // Unique per run: containers left by earlier runs belong to other instances, which Gofer
        // must not touch, so a reused name would (correctly) fail.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let pipeline = format!("{prefix}{}x{nanos}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let addr = unused_addr().to_string();
        let base = format!("http://{addr}/api/namespaces/default/pipelines/{pipeline}");
        let http = crate::common::http();
        let mut server = start_with_env(&addr, dir.path(), env);
        let health = format!("http://{addr}/api/health");
        wait_for("the server", async || {
            let (status, _) = call(&http, reqwest::Method::GET, health.clone(), None).await;
            (status == 200).then_some(Value::Null)
        })
        .await;
        let config = json!({"config": {"id": pipeline, "name": prefix, "tasks": [task(&image)]}});
        let post = |url: String, body| call(&http, reqwest::Method::POST, url, body);
        assert_eq!(post(format!("{base}/configs"), Some(config)).await.0, 201);
        assert_eq!(post(format!("{base}/configs/1"), None).await.0, 201);
        let (status, run) = post(format!("{base}/runs"), Some(json!({}))).await;
        assert_eq!(status, 201, "{run}");
        let task_url = format!("{base}/runs/1/tasks/sleeper");
        wait_for("the task to run", async || {
            let (_, t) = call(&http, reqwest::Method::GET, task_url.clone(), None).await;
            (t["task_execution"]["state"] == "running").then_some(t)
        })
        .await;
        if let Some(text) = stored {
            let logs = format!("{task_url}/logs");
            wait_for("the task's first output in its log", async || {
                let body = http
                    .get(logs.clone())
                    .send()
                    .await
                    .ok()?
                    .text()
                    .await
                    .ok()?;
                body.contains(text).then_some(Value::Null)
            })
            .await;
        }
        server.0.kill().expect("SIGKILL");
        server.0.wait().expect("reap");
        Crashed {
            http,
            addr,
            dir,
            pipeline,
            base,
            env: env.to_vec(),
        }
    }

    /// Starts the server again on the same data dir and waits for run 1 to complete.
    async fn restart_until_done(&self) -> (Server, Value, Value) {
        let server = start_with_env(&self.addr, self.dir.path(), &self.env);
        let run_url = format!("{}/runs/1", self.base);
        let done = wait_for("the run to complete after restart", async || {
            let (_, r) = call(&self.http, reqwest::Method::GET, run_url.clone(), None).await;
            (r["run"]["state"] == "complete").then_some(r)
        })
        .await;
        let (_, task) = call(&self.http, reqwest::Method::GET, self.task_url(), None).await;
        (server, done["run"].clone(), task["task_execution"].clone())
    }

    fn task_url(&self) -> String {
        format!("{}/runs/1/tasks/sleeper", self.base)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_task_then_restart_completes_the_run_once() {
    let crashed = Crashed::new("recover", |image| {
        json!({"id": "sleeper", "image": image, "command": ["sh", "-c", "echo before; sleep 4; echo after"]})
    })
    .await;
    let (_server, run, task) = crashed.restart_until_done().await;
    assert_eq!(run["status"], "successful", "{run}");
    assert_eq!(task["attempts"].as_array().unwrap().len(), 1, "{task}");
    assert_eq!(
        containers(&crashed.pipeline).len(),
        1,
        "the task's container was started exactly once"
    );
    let logs = crashed
        .http
        .get(format!("{}/logs", crashed.task_url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&logs[..], b"before\nafter\n");
    crate::common::remove_pipeline_containers(&crashed.pipeline);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_vanished_while_down_is_orphaned() {
    let crashed = Crashed::new("orphan", |image| {
        json!({"id": "sleeper", "image": image, "command": ["sleep", "300"], "retries": {"count": 3, "backoff": 0}})
    })
    .await;
    crate::common::remove_pipeline_containers(&crashed.pipeline);
    let (_server, run, task) = crashed.restart_until_done().await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["status_reason"]["reason"], "scheduler_error");
    assert_eq!(task["status_reason"]["reason"], "orphaned", "{task}");
    assert_eq!(
        task["status_reason"]["description"],
        "container vanished while the server was down"
    );
    assert_eq!(
        task["attempts"].as_array().unwrap().len(),
        1,
        "orphaned is never retried"
    );
    assert!(
        containers(&crashed.pipeline).is_empty(),
        "nothing was started again"
    );
}

/// The container of run 1's task, and whether it still runs.
fn only_container(pipeline: &str) -> String {
    let ids = containers(pipeline);
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids[0].clone()
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

async fn task_log(crashed: &Crashed) -> Vec<u8> {
    crashed
        .http
        .get(format!("{}/logs", crashed.task_url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

/// docs/schedulers.md#log-drivers: with the default log driver (`local`), what a task writes
/// while the server is down — here, everything after its first line, and its exit — is in its
/// log after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_written_while_the_server_is_down_is_recovered_with_the_default_driver() {
    let crashed = Crashed::new("downlog", |image| {
        json!({"id": "sleeper", "image": image, "command": ["sh", "-c",
            "echo before; while [ ! -f /tmp/go ]; do sleep 0.05; done; echo during; echo done"]})
    })
    .await;
    let id = only_container(&crashed.pipeline);
    assert_eq!(
        docker(&["inspect", &id, "--format", "{{.HostConfig.LogConfig.Type}}"]),
        "local"
    );
    // The server is down: let the task write the rest and exit.
    docker(&["exec", &id, "sh", "-c", "echo > /tmp/go"]);
    assert_eq!(docker(&["wait", &id]), "0");
    let (_server, run, _) = crashed.restart_until_done().await;
    assert_eq!(run["status"], "successful", "{run}");
    assert_eq!(task_log(&crashed).await, b"before\nduring\ndone\n");
    crate::common::remove_pipeline_containers(&crashed.pipeline);
}

/// docs/schedulers.md#log-drivers: with `log_driver = "none"` the engine keeps no log, so a
/// restart keeps what was stored (nothing is truncated), follows the output from then on, and
/// the run completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_log_driver_none_a_restart_keeps_what_was_stored() {
    let crashed = Crashed::with_env(
        "nonelog",
        &[("GOFER_WEB_SCHEDULER__DOCKER__LOG_DRIVER", "none")],
        Some("before"),
        |image| {
            json!({"id": "sleeper", "image": image, "command": ["sh", "-c",
                "echo before; while [ ! -f /tmp/go ]; do sleep 0.05; done; echo after"]})
        },
    )
    .await;
    let id = only_container(&crashed.pipeline);
    assert_eq!(
        docker(&["inspect", &id, "--format", "{{.HostConfig.LogConfig.Type}}"]),
        "none"
    );
    docker(&["exec", &id, "sh", "-c", "echo > /tmp/go"]);
    assert_eq!(docker(&["wait", &id]), "0");
    let (_server, run, _) = crashed.restart_until_done().await;
    assert_eq!(run["status"], "successful", "{run}");
    // "after" was written while the server was down: with no engine log it is gone.
    assert_eq!(task_log(&crashed).await, b"before\n");
    crate::common::remove_pipeline_containers(&crashed.pipeline);
}
