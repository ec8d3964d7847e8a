//! Regression tests for defects found by driving Gofer from outside, each through the real
//! binary and a real Docker engine: secrets in debug logs, cancel grace, `pipeline exec`'s API
//! address, config typos, boot order, a lost Docker connection and a full disk.

use crate::common::{gofer, run, unused_addr};
use crate::recovery::{Server, call, wait_for};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// The busybox test image, or `None` when Docker tests are skipped explicitly.
pub(crate) async fn image() -> Option<String> {
    let docker = gofer_server::testing::require_docker().await?;
    Some(
        gofer_server::testing::busybox_image(&docker)
            .await
            .expect("the busybox test image builds"),
    )
}

/// Starts the real binary on `addr` with `data` and more `GOFER_WEB_*` settings; its stderr
/// goes to `log`.
pub(crate) fn start_logged(addr: &str, data: &Path, env: &[(&str, &str)], log: &Path) -> Server {
    let log = std::fs::File::create(log).expect("create the log file");
    crate::recovery::spawn_server(addr, data, env, log.into())
}

pub(crate) async fn healthy(http: &reqwest::Client, addr: &str) {
    let url = format!("http://{addr}/api/health");
    wait_for("the server", async || {
        let (status, _) = call(http, Method::GET, url.clone(), None).await;
        (status == 200).then_some(Value::Null)
    })
    .await;
}

/// Registers and deploys `config` as pipeline `id` in namespace `default`.
pub(crate) async fn deploy(http: &reqwest::Client, base: &str, id: &str, tasks: Value) {
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
pub(crate) async fn start_run(http: &reqwest::Client, base: &str, id: &str) -> u64 {
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
pub(crate) async fn finished(http: &reqwest::Client, base: &str, id: &str, n: u64) -> Value {
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
    let http = crate::common::http();
    healthy(&http, &addr).await;
    let pipeline = crate::common::unique("logged");
    deploy(
        &http,
        &base,
        &pipeline,
        json!([{"id": "t", "image": image, "command": ["sh", "-c", "echo ran"],
                "inject_api_token": true,
                "variables": {"X": "pipeline_secret{{k}}"}}]),
    )
    .await;
    let secret = "s3cr3t-value-that-must-not-be-logged";
    let (status, body) = call(
        &http,
        Method::POST,
        format!("{base}/api/namespaces/default/pipelines/{pipeline}/secrets"),
        Some(json!({"key": "k", "content": secret})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let n = start_run(&http, &base, &pipeline).await;
    let run = finished(&http, &base, &pipeline, n).await;
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
    crate::common::remove_pipeline_containers(&pipeline);
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
    let http = crate::common::http();
    healthy(&http, &addr).await;
    let pipeline = crate::common::unique("sleepy");
    deploy(
        &http,
        &base,
        &pipeline,
        json!([{"id": "nap", "image": image, "command": ["sh", "-c", "sleep 300"]}]),
    )
    .await;
    let n = start_run(&http, &base, &pipeline).await;
    let task = format!("{base}/api/namespaces/default/pipelines/{pipeline}/runs/{n}/tasks/nap");
    wait_for("the task to run", async || {
        let (_, body) = call(&http, Method::GET, task.clone(), None).await;
        (body["task_execution"]["state"] == "running").then_some(Value::Null)
    })
    .await;
    let cancelled = std::time::Instant::now();
    let (status, body) = call(
        &http,
        Method::DELETE,
        format!("{base}/api/namespaces/default/pipelines/{pipeline}/runs/{n}"),
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let run = finished(&http, &base, &pipeline, n).await;
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
    crate::common::remove_pipeline_containers(&pipeline);
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
        out.stdout.contains("consume | got {\"answer\":42}"),
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

/// A typo in a server setting refuses the boot, naming the setting and the nearest known one
/// (auth bypass must never stay on because `bypas_auth` was misspelt); so does a negative
/// number, naming its key. Exit code 7 (invalid input).
#[test]
fn typos_and_negative_numbers_in_the_server_config_refuse_the_boot() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gofer.toml");
    std::fs::write(&file, "[development]\nbypas_auth = false\n").unwrap();
    let r = run(gofer()
        .args(["service", "start", "--config", file.to_str().unwrap()])
        .env("GOFER_WEB_SERVER__DATA_DIR", dir.path().join("data")))
    .expect(7);
    assert!(
        r.stderr.contains(
            "unknown setting 'development.bypas_auth' (did you mean development.bypass_auth?)"
        ),
        "{}",
        r.stderr
    );
    let r = run(gofer()
        .args(["service", "start"])
        .env("GOFER_WEB_SERVER__DATA_DIR", dir.path().join("data"))
        .env("GOFER_WEB_API__RUN_TOKEN_EXPIRY", "-5"))
    .expect(7);
    assert!(
        r.stderr
            .contains("api.run_token_expiry: must be a whole number of 0 or more (got -5)"),
        "{}",
        r.stderr
    );
    assert!(
        !dir.path().join("data").exists(),
        "a refused boot created the data directory"
    );
}

/// When the external events port is taken the boot fails before anything is written: no
/// database, no `default` namespace committed.
#[test]
fn a_taken_external_events_port_fails_the_boot_before_anything_is_written() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let r = run(gofer()
        .args(["service", "start"])
        .env("GOFER_WEB_SERVER__BIND_ADDRESS", unused_addr().to_string())
        .env("GOFER_WEB_SERVER__DATA_DIR", &data)
        .env("GOFER_WEB_EXTERNAL_EVENTS__ENABLE", "true")
        .env("GOFER_WEB_EXTERNAL_EVENTS__BIND_ADDRESS", &port)
        .env("GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS", "false"))
    .expect(1);
    assert!(
        r.stderr.contains("external_events.bind_address"),
        "{}",
        r.stderr
    );
    assert!(
        !data.join("gofer.redb").exists(),
        "the failed boot wrote the database"
    );
}

/// A unix socket that forwards every connection to the Docker engine's socket, until killed.
struct DockerProxy {
    path: std::path::PathBuf,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl DockerProxy {
    fn start(path: &Path) -> DockerProxy {
        let _ = std::fs::remove_file(path);
        let listener = tokio::net::UnixListener::bind(path).expect("bind the proxy socket");
        let tasks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let spawned = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let connection = tokio::spawn(async move {
                    let engine = std::env::var("DOCKER_HOST")
                        .ok()
                        .and_then(|h| h.strip_prefix("unix://").map(str::to_owned))
                        .unwrap_or_else(|| "/var/run/docker.sock".to_owned());
                    if let Ok(mut engine) = tokio::net::UnixStream::connect(engine).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                    }
                });
                spawned.lock().unwrap().push(connection);
            }
        });
        tasks.lock().unwrap().push(accept);
        DockerProxy {
            path: path.to_path_buf(),
            tasks,
        }
    }

    /// Drops every connection at once, as a dying proxy or engine socket would.
    fn kill(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for DockerProxy {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Losing the Docker connection does not fail running tasks: when the engine answers again
/// the server re-observes the containers, their runs succeed with complete logs and their
/// dependents run; health reports the outage meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_docker_connection_does_not_fail_running_tasks() {
    let Some(image) = image().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let proxy = DockerProxy::start(&socket);
    let addr = unused_addr().to_string();
    let base = format!("http://{addr}");
    let host = format!("unix://{}", socket.display());
    let _server = start_logged(
        &addr,
        &dir.path().join("data"),
        &[("GOFER_WEB_SCHEDULER__DOCKER__HOST", &host)],
        &dir.path().join("server.log"),
    );
    let http = crate::common::http();
    healthy(&http, &addr).await;
    let pipeline = crate::common::unique("outage");
    deploy(
        &http,
        &base,
        &pipeline,
        json!([
            {"id": "work", "image": image,
             "command": ["sh", "-c", "echo start; sleep 6; echo finish"]},
            {"id": "after", "image": image, "command": ["sh", "-c", "echo after"],
             "depends_on": {"work": "success"}}
        ]),
    )
    .await;
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(start_run(&http, &base, &pipeline).await);
    }
    for n in &runs {
        let task =
            format!("{base}/api/namespaces/default/pipelines/{pipeline}/runs/{n}/tasks/work");
        wait_for("the task to run", async || {
            let (_, body) = call(&http, Method::GET, task.clone(), None).await;
            (body["task_execution"]["state"] == "running").then_some(Value::Null)
        })
        .await;
    }

    proxy.kill();
    let health = format!("{base}/api/health");
    let outage = wait_for("health to report the engine outage", async || {
        let (status, body) = call(&http, Method::GET, health.clone(), None).await;
        (status == 503).then_some(body)
    })
    .await;
    assert!(
        outage["checks"]["scheduler"]
            .as_str()
            .is_some_and(|s| s.starts_with("error")),
        "{outage}"
    );
    for n in &runs {
        let (_, body) = call(
            &http,
            Method::GET,
            format!("{base}/api/namespaces/default/pipelines/{pipeline}/runs/{n}"),
            None,
        )
        .await;
        assert_eq!(body["run"]["state"], "running", "during the outage: {body}");
    }
    let _proxy = DockerProxy::start(&socket);

    for n in &runs {
        let run = finished(&http, &base, &pipeline, *n).await;
        assert_eq!(run["status"], "successful", "run {n}: {run}");
        let logs = http
            .get(format!(
                "{base}/api/namespaces/default/pipelines/{pipeline}/runs/{n}/tasks/work/logs"
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            logs.contains("start") && logs.contains("finish"),
            "run {n}: {logs}"
        );
        assert_eq!(logs.matches("start").count(), 1, "run {n}: {logs}");
    }
    wait_for("health to recover", async || {
        let (status, _) = call(&http, Method::GET, health.clone(), None).await;
        (status == 200).then_some(Value::Null)
    })
    .await;
    crate::common::remove_pipeline_containers(&pipeline);
}

/// A tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// `None` when this user cannot mount (the test needs root, as CI runs it).
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(path.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A full disk: writes answer 507 saying so, health reports the storage error (503); once
/// space is back the server reopens its database by itself, writes work again and nothing
/// written before is lost.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_is_reported_and_recovered_from_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let Some(_tmpfs) = Tmpfs::mount(&data, "6m") else {
        assert_ne!(
            current_uid(),
            0,
            "root could not mount a tmpfs for the full-disk test"
        );
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let addr = unused_addr().to_string();
    let base = format!("http://{addr}");
    let mut server = start_logged(&addr, &data, &[], &dir.path().join("server.log"));
    let http = crate::common::http();
    healthy(&http, &addr).await;
    let (status, body) = call(
        &http,
        Method::POST,
        format!("{base}/api/namespaces"),
        Some(json!({"id": "kept", "name": "Kept"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let secrets = format!("{base}/api/namespaces/default/pipelines/full/secrets");
    // Secrets need their pipeline.
    deploy(
        &http,
        &base,
        "full",
        json!([{"id": "t", "image": "busybox"}]),
    )
    .await;
    let (status, body) = call(
        &http,
        Method::POST,
        secrets.clone(),
        Some(json!({"key": "before", "content": "kept"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // Fill the disk.
    let filler = data.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![7u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    let mut refused = None;
    for i in 0..200 {
        let (status, body) = call(
            &http,
            Method::POST,
            secrets.clone(),
            Some(json!({"key": format!("k{i}"), "content": "x".repeat(32 * 1024)})),
        )
        .await;
        if status != 201 {
            refused = Some((status, body));
            break;
        }
    }
    let (status, body) = refused.expect("a write failed on the full disk");
    assert!(status == 507 || status == 503, "{status} {body}");
    if status == 507 {
        assert!(body["message"].as_str().unwrap().contains("disk"), "{body}");
    }
    let (status, health) = call(&http, Method::GET, format!("{base}/api/health"), None).await;
    assert_eq!(status, 503, "{health}");
    assert!(
        health["checks"]["storage"]
            .as_str()
            .is_some_and(|s| s.starts_with("error")),
        "{health}"
    );

    std::fs::remove_file(&filler).unwrap();
    let health_url = format!("{base}/api/health");
    wait_for("storage to recover", async || {
        let (status, body) = call(&http, Method::GET, health_url.clone(), None).await;
        (status == 200 && body["checks"]["storage"] == "ok").then_some(Value::Null)
    })
    .await;
    let (status, body) = call(
        &http,
        Method::POST,
        secrets.clone(),
        Some(json!({"key": "after", "content": "back"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(
        &http,
        Method::GET,
        format!("{base}/api/namespaces/kept"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&http, Method::GET, format!("{secrets}/before"), None).await;
    assert_eq!(status, 200, "{body}");
    let _ = server.0.kill();
    let _ = server.0.wait();
}

fn current_uid() -> u32 {
    String::from_utf8_lossy(&Command::new("id").arg("-u").output().unwrap().stdout)
        .trim()
        .parse()
        .unwrap_or(u32::MAX)
}
