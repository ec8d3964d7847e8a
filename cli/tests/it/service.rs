//! `gofer service init-config` and `gofer service start` (docs/cli.md, docs/configuration.md).

use crate::common::{gofer, run, test_config};
use gofer_core::config::{DEFAULT_SERVER_TOML, ServerConfig};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn init_config_prints_the_defaults() {
    let r = run(gofer().args(["service", "init-config"])).expect(0);
    assert_eq!(r.stdout, DEFAULT_SERVER_TOML);
    let printed: toml::Table = r.stdout.parse().unwrap();
    let defaults: toml::Table = DEFAULT_SERVER_TOML.parse().unwrap();
    assert_eq!(printed, defaults);
    let config: ServerConfig = toml::from_str(&r.stdout).unwrap();
    assert_eq!(config, ServerConfig::default());
}

#[test]
fn init_config_path_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gofer_web.toml");
    let path_arg = path.to_str().unwrap();

    run(gofer().args(["service", "init-config", "--path", path_arg])).expect(0);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), DEFAULT_SERVER_TOML);

    std::fs::write(&path, "# mine\n").unwrap();
    let r = run(gofer().args(["service", "init-config", "--path", path_arg])).expect(5);
    assert!(
        r.stderr.contains(path_arg) && r.stderr.contains("--force"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# mine\n",
        "left alone"
    );

    run(gofer().args(["service", "init-config", "--path", path_arg, "--force"])).expect(0);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), DEFAULT_SERVER_TOML);
}

#[test]
fn start_needs_an_existing_config_file() {
    let r = run(gofer().args([
        "service",
        "start",
        "--config",
        "/nonexistent/gofer_web.toml",
    ]))
    .expect(7);
    assert!(
        r.stderr.contains("/nonexistent/gofer_web.toml"),
        "{}",
        r.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[secret_store]\nencryption_key = \"short\"\n").unwrap();
    let r = run(gofer().args(["service", "start", "--config", path.to_str().unwrap()])).expect(7);
    assert!(
        r.stderr.contains("secret_store.encryption_key"),
        "{}",
        r.stderr
    );
}

/// Writes a server config for `bind` with a temporary data dir and JSON logs.
fn write_config(dir: &std::path::Path, bind: &str) -> std::path::PathBuf {
    let mut config = test_config(&dir.join("data"));
    config.server.bind_address = bind.into();
    config.development.pretty_logging = false;
    let table = toml::Table::try_from(&config).unwrap();
    let path = dir.join("gofer_web.toml");
    std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
    path
}

#[test]
fn start_reports_a_bind_failure_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &addr);
    let r = run(gofer().args(["service", "start", "--config", path.to_str().unwrap()])).expect(1);
    assert!(
        r.stderr
            .contains(&format!("error: cannot listen on {addr}")),
        "{}",
        r.stderr
    );
}

/// Kills the child on drop so a failing test leaves no server behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn start_serves_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "127.0.0.1:0");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gofer"))
        .args(["service", "start", "--config", path.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut server = Server(child);

    // Read stderr on a thread; the main thread waits for lines with a deadline.
    let (lines, received) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut url = None;
    while url.is_none()
        || !seen
            .iter()
            .any(|l: &String| l.starts_with("gofer: data dir"))
    {
        let line = received
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| {
                panic!(
                    "no startup lines ({e}); stderr so far:\n{}",
                    seen.join("\n")
                )
            });
        if let Some(rest) = line.strip_prefix("gofer: listening on ") {
            url = Some(rest.to_string());
        }
        seen.push(line);
    }
    let url = url.unwrap();
    assert!(
        seen.iter()
            .any(|l| l.contains(&dir.path().join("data").display().to_string())),
        "{seen:?}"
    );
    // The JSON log lines are there (the file's `pretty_logging = false` took effect).
    assert!(seen.iter().any(|l| l.starts_with('{')), "{seen:?}");

    // It serves the API: the CLI can talk to it.
    let r = run(gofer().args(["--api-base-url", &url, "namespace", "get", "default"])).expect(0);
    assert!(r.stdout.contains("default"), "{}", r.stdout);

    // SIGTERM stops it cleanly.
    let pid = server.0.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = server.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", seen.join("\n"));
}

#[test]
fn toggle_event_ingress_flips_and_prints_the_new_state() {
    let server = crate::common::TestServer::start();
    let r = server.run(&["service", "toggle-event-ingress"]).expect(0);
    assert!(r.stdout.starts_with("run ingress paused"), "{}", r.stdout);
    let client = server.client();
    assert!(
        server
            .block_on(client.system())
            .unwrap()
            .ignore_pipeline_run_events
    );

    let r = server
        .run(&["service", "toggle-event-ingress", "--output", "json"])
        .expect(0);
    let system: gofer_core::api::System = r.json();
    assert!(!system.ignore_pipeline_run_events);
    assert_eq!(system, server.block_on(client.system()).unwrap());
    let r = server.run(&["service", "toggle-event-ingress"]).expect(0);
    assert!(r.stdout.starts_with("run ingress paused"), "{}", r.stdout);
}

/// docs/deploy.md: the shipped systemd unit is accepted by `systemd-analyze verify` (with its
/// `ExecStart` pointed at this build's binary), runs as its own user with the docker group,
/// writes only to the data dir, and starts the server with the config file the docs create.
#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/gofer.service"
    ))
    .expect("assets/gofer.service");
    for line in [
        "User=gofer",
        "SupplementaryGroups=docker",
        "ReadWritePaths=/var/lib/gofer",
        "ProtectSystem=strict",
        "Restart=on-failure",
        "ExecStart=/usr/local/bin/gofer service start --config /etc/gofer/gofer_web.toml",
    ] {
        assert!(unit.contains(line), "the unit lacks {line}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gofer.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/gofer", env!("CARGO_BIN_EXE_gofer")),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze runs (.ci/run installs systemd when missing)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// docs/deploy.md#backup-and-restore: `gofer service backup` while runs are being written, then
/// the archive extracted into an empty data dir: the restored server has the same namespaces,
/// pipelines, finished runs with their logs, secrets and objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_runs_are_written_restores_into_a_fresh_data_dir() {
    use crate::extensions::start_reachable;
    use crate::recovery::{call, wait_for};
    use serde_json::json;
    let image = crate::defects::image()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let port = crate::common::unused_addr().port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = start_reachable(&http, port, dir.path(), &[]).await;
    let cli = |args: &[&str]| run(gofer().args(["--api-base-url", &url]).args(args));
    let pipeline = crate::common::unique("kept");
    let base = format!("{url}/api/namespaces/default/pipelines/{pipeline}");
    cli(&["namespace", "create", "team-b", "--name", "Team B"]).expect(0);
    let config = json!({"config": {"id": pipeline, "name": "kept", "tasks": [
        {"id": "t", "image": image, "command": ["sh", "-c", "echo hi from $GOFER_RUN_ID"]}]}});
    let (status, body) = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/configs"),
        Some(config),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        call(
            &http,
            reqwest::Method::POST,
            format!("{base}/configs/1"),
            None
        )
        .await
        .0,
        201
    );
    cli(&[
        "secret",
        "pipeline",
        "put",
        &pipeline,
        "token",
        "s3cr3t-backup",
    ])
    .expect(0);
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "kept bytes").unwrap();
    cli(&[
        "pipeline",
        "object",
        "put",
        &pipeline,
        "note",
        note.to_str().unwrap(),
    ])
    .expect(0);
    let start_run = async || {
        let (status, body) = call(
            &http,
            reqwest::Method::POST,
            format!("{base}/runs"),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        body["run"]["run_id"].as_u64().unwrap()
    };
    let done = async |id: u64| {
        wait_for("a run to finish", async || {
            let (_, r) = call(
                &http,
                reqwest::Method::GET,
                format!("{base}/runs/{id}"),
                None,
            )
            .await;
            (r["run"]["state"] == "complete").then_some(r["run"].clone())
        })
        .await
    };
    for _ in 0..3 {
        let id = start_run().await;
        assert_eq!(done(id).await["status"], "successful");
    }
    // Runs being written while the backup is taken.
    let mut busy = Vec::new();
    for _ in 0..4 {
        busy.push(start_run().await);
    }
    let archive = dir.path().join("gofer-backup.tar");
    let r = cli(&["service", "backup", archive.to_str().unwrap()]).expect(0);
    assert!(r.stdout.contains("backup written to"), "{}", r.stdout);
    for id in busy {
        done(id).await;
    }
    let _ = server.0.kill();
    let _ = server.0.wait();

    // Restore: extract into an empty data dir and start a server on it.
    let restored = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(restored.path())
        .status()
        .expect("tar");
    assert!(status.success());
    assert!(restored.path().join("gofer.redb").is_file());
    let port2 = crate::common::unused_addr().port();
    let url2 = format!("http://127.0.0.1:{port2}");
    let mut second = start_reachable(&http, port2, restored.path(), &[]).await;
    let cli2 = |args: &[&str]| run(gofer().args(["--api-base-url", &url2]).args(args));
    let namespaces = cli2(&["namespace", "list"]).expect(0).stdout;
    assert!(namespaces.contains("team-b"), "{namespaces}");
    let pipelines = cli2(&["pipeline", "list"]).expect(0).stdout;
    assert!(pipelines.contains(&pipeline), "{pipelines}");
    let base2 = format!("{url2}/api/namespaces/default/pipelines/{pipeline}");
    for id in 1..=3u64 {
        let (status, r) = call(
            &http,
            reqwest::Method::GET,
            format!("{base2}/runs/{id}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["run"]["status"], "successful", "{r}");
        let log = cli2(&["task", "logs", &pipeline, &id.to_string(), "t"])
            .expect(0)
            .stdout;
        assert!(log.contains(&format!("hi from {id}")), "{log}");
    }
    let secret = cli2(&[
        "secret",
        "pipeline",
        "get",
        &pipeline,
        "token",
        "--include-secret",
    ])
    .expect(0)
    .stdout;
    assert!(secret.contains("s3cr3t-backup"), "{secret}");
    let object = cli2(&["pipeline", "object", "get", &pipeline, "note"])
        .expect(0)
        .stdout;
    assert_eq!(object, "kept bytes");
    let _ = second.0.kill();
    let _ = second.0.wait();
    crate::common::remove_pipeline_containers(&pipeline);
}
