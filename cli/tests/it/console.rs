//! `gofer console` end to end: the real binary in a real terminal (tmux), against the
//! real server with a real run on Docker. Needs `tmux` (`.ci/run` installs it) and a Docker
//! engine (`.ci/ensure-docker`).

use crate::common::{ContainerNamespace, TestServer, busybox_image, no_config_dir, shell_task};
use gofer_core::api::OrderedMap;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long one screen condition may take (a container run on a loaded machine included).
const DEADLINE: Duration = Duration::from_secs(60);

/// A tmux server of our own (its own socket), killed on drop: never the user's or another
/// test's server.
pub(crate) struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    /// Starts `command` in a detached 140×32 session.
    pub(crate) fn start(command: &str) -> Tmux {
        let available = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            available,
            "the console end-to-end test needs tmux: install it (apt-get install -y tmux; .ci/run does this)"
        );
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let tmux = Tmux {
            socket: format!("gofer-it-{}-{}", std::process::id(), nanos % 1_000_000_000),
            session: "console".into(),
        };
        let status = tmux
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                &tmux.session,
                "-x",
                "140",
                "-y",
                "32",
                command,
            ])
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket]);
        cmd
    }

    /// The visible screen, as text.
    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends tmux key names (`Enter`, `j`, `Escape`).
    fn keys(&self, keys: &[&str]) {
        let status = self
            .cmd()
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Polls the screen until `condition` holds; panics with the last screen at the deadline.
    #[track_caller]
    pub(crate) fn wait_for(&self, what: &str, condition: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let screen = self.screen();
            if condition(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the console did not show {what} within {DEADLINE:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn alive(&self) -> bool {
        self.cmd()
            .args(["has-session", "-t", &self.session])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// The console against `url` (in namespace `ns` when given), with no CLI config, its trace in
/// `state` and no token from the environment.
fn console_command(url: &str, ns: Option<&str>, state: &std::path::Path) -> String {
    let ns = ns
        .map(|ns| format!(" --namespace {ns}"))
        .unwrap_or_default();
    format!(
        "env -u GOFER_TOKEN -u GOFER_API_TOKEN XDG_CONFIG_HOME={} XDG_STATE_HOME={} {} --api-base-url {url}{ns} console",
        no_config_dir().display(),
        state.display(),
        env!("CARGO_BIN_EXE_gofer"),
    )
}

/// A line of the screen containing every one of `parts`.
pub(crate) fn line_with(screen: &str, parts: &[&str]) -> bool {
    screen.lines().any(|l| parts.iter().all(|p| l.contains(p)))
}

#[test]
fn the_console_shows_a_live_run_its_dag_and_logs() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let Some(image) = busybox_image(&server) else {
        return;
    };
    let ns = server.create_namespace(&namespace);
    let mut never = shell_task("never", &image, "echo never printed");
    never.depends_on = OrderedMap(vec![("fail".into(), "success".into())]);
    server.deploy_in(
        &ns,
        "hello",
        vec![
            shell_task(
                "greet",
                &image,
                "echo hello from the console test; echo second line",
            ),
            shell_task("fail", &image, "echo about to fail; exit 3"),
            never,
        ],
    );
    let state = tempfile::tempdir().unwrap();
    let command = console_command(&server.url, Some(&ns), state.path());
    let tmux = Tmux::start(&command);

    // The pipelines view, live.
    tmux.wait_for("the pipeline 'hello'", |s| {
        line_with(s, &["hello", "active", "v1", "never run"]) && s.contains("● live")
    });
    // Open its runs: none yet.
    tmux.keys(&["Enter"]);
    tmux.wait_for("the empty runs view", |s| s.contains("no runs yet"));
    // A run started from the CLI appears by itself (event stream, no key pressed).
    server.run_in(&ns, &["run", "start", "hello"]).expect(0);
    tmux.wait_for("run 1 in the runs view", |s| line_with(s, &["1 ", "(api)"]));

    // The run view: once complete, every node shows its status glyph.
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the completed DAG", |s| {
        s.contains("run 1 failed")
            && s.contains("✔ greet")
            && s.contains("✖ fail")
            && s.contains("⏭ never")
    });
    assert!(screen.contains("skipped"), "{screen}");
    // Edges join the boxes (box-drawing characters between the columns).
    assert!(screen.contains("──"), "{screen}");

    // Select `greet` (order: fail, greet, never) and open its logs.
    tmux.keys(&["j"]);
    tmux.wait_for("greet selected in the details panel", |s| {
        line_with(s, &["details"]) && line_with(s, &["✔ greet", "successful", "│"])
    });
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("greet's log", |s| {
        s.contains("hello from the console test") && s.contains("second line")
    });
    assert!(screen.contains("greet logs"), "breadcrumbs: {screen}");

    // `/` searches the log; `esc` returns to the run; `:q` quits and restores the terminal.
    tmux.keys(&["/", "second", "Enter"]);
    tmux.wait_for("the paused, searched log", |s| s.contains("paused"));
    tmux.keys(&["Escape"]);
    tmux.wait_for("the run view again", |s| {
        s.contains("run 1 failed") && !s.contains("greet logs")
    });
    // An action: `s` on the run view starts a run of its pipeline with the variables typed at
    // the prompt; the status line shows the equivalent CLI command.
    tmux.keys(&["s"]);
    tmux.wait_for("the variables prompt", |s| {
        s.contains("start 'hello' with variables")
    });
    tmux.keys(&["GREETING=hi", "Enter"]);
    let expected = format!("same as: gofer --namespace {ns} run start hello -v GREETING=hi");
    tmux.wait_for("the started run and its CLI equivalent", |s| {
        s.contains("started run 2 of 'hello'") && s.contains(&expected)
    });
    let client = server.client();
    let run = server.block_on(client.get_run(&ns, "hello", 2)).unwrap();
    assert!(
        run.variables
            .iter()
            .any(|v| v.key == "GREETING" && v.value == "hi"),
        "{:?}",
        run.variables
    );
    tmux.keys(&[":", "q", "Enter"]);
    let deadline = Instant::now() + DEADLINE;
    while tmux.alive() {
        assert!(
            Instant::now() < deadline,
            "the console did not exit on :q; screen:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Tracing went to the state dir, never the terminal.
    let trace = std::fs::read_to_string(state.path().join("gofer/console.log")).unwrap();
    assert!(trace.contains("first frame"), "{trace}");
    assert_eq!(server.finish_runs(&ns, "hello"), vec![(1, 8), (2, 8)]);
}

#[test]
fn console_refuses_without_a_terminal_and_reports_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    // Not a terminal (assert_cmd pipes stdin/stdout): usage error, exit 2.
    let r = crate::common::run(crate::common::gofer().arg("console"));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("gofer console needs an interactive terminal"),
        "{}",
        r.stderr
    );
    // A bad [console] table or keymap is invalid input (exit 7) naming the entry.
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[console]\nread_only = \"yes\"\n").unwrap();
    let r = crate::common::run(crate::common::gofer().args([
        "--config",
        config.to_str().unwrap(),
        "console",
    ]));
    assert_eq!(r.code, 7, "{r:?}");
    assert!(
        r.stderr
            .contains("console.read_only: expected true or false"),
        "{}",
        r.stderr
    );
    std::fs::write(&config, "[console.keys]\nup = [\"hyper-k\"]\n").unwrap();
    let r = crate::common::run(crate::common::gofer().args([
        "--config",
        config.to_str().unwrap(),
        "console",
    ]));
    assert_eq!(r.code, 7, "{r:?}");
    assert!(
        r.stderr.contains("keys.up: unknown key 'hyper-k'"),
        "{}",
        r.stderr
    );
    std::fs::create_dir_all(dir.path().join("gofer")).unwrap();
    std::fs::write(
        dir.path().join("gofer/keymap.toml"),
        "[keys]\njump = [\"x\"]\n",
    )
    .unwrap();
    let r = crate::common::run(
        crate::common::gofer()
            .env("XDG_CONFIG_HOME", dir.path())
            .arg("console"),
    );
    assert_eq!(r.code, 7, "{r:?}");
    assert!(
        r.stderr.contains("keymap.toml: keys.jump: unknown action"),
        "{}",
        r.stderr
    );
}

#[test]
fn cancelling_from_the_console_asks_first_and_read_only_refuses() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let Some(image) = busybox_image(&server) else {
        return;
    };
    let ns = server.create_namespace(&namespace);
    server.deploy_in(
        &ns,
        "slow",
        vec![shell_task(
            "sleeper",
            &image,
            // As PID 1 the shell ignores SIGTERM unless it traps it: stop promptly when asked.
            "echo going to sleep; trap 'exit 143' TERM; sleep 120 & wait",
        )],
    );
    server.run_in(&ns, &["run", "start", "slow"]).expect(0);
    let state = tempfile::tempdir().unwrap();
    let console = |extra: &str| {
        format!(
            "env -u GOFER_TOKEN -u GOFER_API_TOKEN XDG_CONFIG_HOME={} XDG_STATE_HOME={} {} --api-base-url {} --namespace {ns} console {extra}",
            no_config_dir().display(),
            state.path().display(),
            env!("CARGO_BIN_EXE_gofer"),
            server.url,
        )
    };
    let open_run = |tmux: &Tmux| {
        // Keys typed before the console switched the terminal to raw mode would be lost.
        tmux.wait_for("the pipelines view", |s| {
            s.contains("slow") && s.contains("● live")
        });
        tmux.keys(&[":", "run slow 1", "Enter"]);
        tmux.wait_for("the running task", |s| s.contains("▶ sleeper"));
    };

    // Read-only: `c` is refused with a message, nothing is asked, the task keeps running.
    let tmux = Tmux::start(&console("--read-only"));
    tmux.wait_for("the read-only header", |s| s.contains("[read-only]"));
    open_run(&tmux);
    tmux.keys(&["c"]);
    tmux.wait_for("the refusal", |s| {
        s.contains("read-only mode: cancelling is disabled")
    });
    tmux.keys(&[":", "q", "Enter"]);
    drop(tmux);
    let client = server.client();
    let task = server
        .block_on(client.get_task_execution(&ns, "slow", 1, "sleeper"))
        .unwrap();
    assert_eq!(task.state.to_string(), "running");

    // Read-write: `c` asks; `n` declines; `c`, `y` cancels and the node turns ⊘.
    let tmux = Tmux::start(&console(""));
    open_run(&tmux);
    tmux.keys(&["c"]);
    tmux.wait_for("the question", |s| {
        s.contains("cancel task 'sleeper' of run 1 of 'slow'? (y/n)")
    });
    tmux.keys(&["n"]);
    tmux.wait_for("the decline", |s| {
        s.contains("cancelled: nothing was changed")
    });
    tmux.keys(&["c"]);
    tmux.wait_for("the question again", |s| s.contains("(y/n)"));
    tmux.keys(&["y"]);
    let expected = format!("same as: gofer --namespace {ns} task cancel slow 1 sleeper");
    tmux.wait_for("the cancelled task", |s| {
        s.contains(&expected) && s.contains("⊘ sleeper") && s.contains("run 1 cancelled")
    });
    tmux.keys(&[":", "q", "Enter"]);
    assert_eq!(server.finish_runs(&ns, "slow"), vec![(1, 8)]);
}

/// A server restart while the console is open: once the stream is back, the view shows what
/// happened meanwhile and after (a run started after the restart) without a key press.
#[test]
fn after_a_server_restart_the_view_catches_up_by_itself() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(image) = rt.block_on(crate::defects::image()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let addr = crate::common::unused_addr().to_string();
    let base = format!("http://{addr}");
    let log = dir.path().join("server.log");
    let http = crate::common::http();
    let pipeline = crate::common::unique("restart");
    let server = crate::defects::start_logged(&addr, &data, &[], &log);
    rt.block_on(async {
        crate::defects::healthy(&http, &addr).await;
        crate::defects::deploy(
            &http,
            &base,
            &pipeline,
            serde_json::json!([{"id": "t", "image": image, "command": ["sh", "-c", "echo hi"]}]),
        )
        .await;
    });
    let state = tempfile::tempdir().unwrap();
    let command = format!(
        "env -u GOFER_TOKEN -u GOFER_API_TOKEN XDG_CONFIG_HOME={} XDG_STATE_HOME={} {} --api-base-url {base} console",
        no_config_dir().display(),
        state.path().display(),
        env!("CARGO_BIN_EXE_gofer"),
    );
    let tmux = Tmux::start(&command);
    tmux.wait_for("the pipeline, live", |s| {
        line_with(s, &[&pipeline, "never run"]) && s.contains("● live")
    });
    rt.block_on(async {
        let n = crate::defects::start_run(&http, &base, &pipeline).await;
        crate::defects::finished(&http, &base, &pipeline, n).await;
    });
    tmux.wait_for("run 1 as the last run", |s| {
        line_with(s, &[&pipeline, "#1"]) || line_with(s, &[&pipeline, " 1 "])
    });

    // Restart the server on the same address and data.
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    drop(server);
    tmux.wait_for("the console to notice", |s| !s.contains("● live"));
    let _server = crate::defects::start_logged(&addr, &data, &[], &log);
    rt.block_on(async {
        crate::defects::healthy(&http, &addr).await;
        let n = crate::defects::start_run(&http, &base, &pipeline).await;
        assert_eq!(n, 2);
        crate::defects::finished(&http, &base, &pipeline, n).await;
    });
    tmux.wait_for("run 2 without a key press", |s| {
        s.contains("● live")
            && (line_with(s, &[&pipeline, "#2"]) || line_with(s, &[&pipeline, " 2 "]))
    });
    crate::common::remove_pipeline_containers(&pipeline);
}

/// The pipeline view in a real terminal: a canary deployment in progress, its progress, and `P`
/// promoting it after a `y`; `enter` shows a version's diff.
#[test]
fn the_console_promotes_a_canary_from_the_pipeline_view() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let Some(image) = busybox_image(&server) else {
        return;
    };
    let ns = server.create_namespace(&namespace);
    server.deploy_in(&ns, "web", vec![shell_task("ship", &image, "echo v1")]);
    server.register_in(&ns, "web", vec![shell_task("ship", &image, "echo v2")]);
    let client = server.client();
    let request = gofer_core::api::DeployRequest {
        canary: Some(gofer_core::api::CanaryRequest {
            percent: 30,
            bake_runs: Some(5),
            ..Default::default()
        }),
        smoke: None,
    };
    let started = server
        .block_on(client.deploy_config_with(&ns, "web", 2, &request))
        .unwrap();
    assert_eq!(started.state, gofer_core::enums::DeploymentState::Running);
    let state = tempfile::tempdir().unwrap();
    let command = console_command(&server.url, Some(&ns), state.path());
    let tmux = Tmux::start(&command);
    tmux.wait_for("the pipeline 'web'", |s| line_with(s, &["web", "active"]));
    tmux.keys(&["i"]);
    tmux.wait_for("the canary's progress", |s| {
        line_with(s, &["deployment 2", "canary", "version 1 → 2"])
            && line_with(s, &["30% of new runs", "0 of 5 canary runs"])
            && s.contains("pipeline deployment promote web 2")
    });
    // enter on version 2: its diff against the live version 1.
    tmux.keys(&["Enter"]);
    tmux.wait_for("the diff", |s| {
        s.contains("version 1 → 2") && s.contains("~ task ship")
    });
    // enter again closes it: the deployments list is back.
    tmux.keys(&["Enter"]);
    tmux.wait_for("the deployments list", |s| {
        line_with(s, &["2", "canary", "1 → 2", "running"])
    });
    tmux.keys(&["P"]);
    tmux.wait_for("the question", |s| {
        s.contains("promote deployment 2 of 'web': make version 2 live now? (y/n)")
    });
    tmux.keys(&["y"]);
    tmux.wait_for("the promoted deployment", |s| {
        s.contains("no deployment in progress · live version 2")
            && line_with(s, &["2", "canary", "successful", "promoted_by_hand"])
    });
    let live = server
        .block_on(client.get_deployment(&ns, "web", 2))
        .unwrap();
    assert_eq!(live.status, gofer_core::enums::DeploymentStatus::Successful);
    tmux.keys(&["q", "q"]);
}

/// The extensions view in a real terminal against the real binary: an installed interval
/// extension with a subscribed pipeline; its state, its log's startup line, its debug info's
/// next run, and disabling the subscription with `d` + `y`, which the API then reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_debugs_an_extension_and_disables_its_subscription() {
    use crate::extensions::{Cleanup, start_reachable, terminate};
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let port = crate::common::unused_addr().port();
    let server = start_reachable(&http, port, dir.path(), &[]).await;
    let url = format!("http://127.0.0.1:{port}");
    let ext = crate::common::unique("civ");
    let pipeline = crate::common::unique("ticked");
    let _cleanup = Cleanup(vec![ext.clone()]);
    let cli = |args: &[&str]| {
        crate::common::run(
            crate::common::gofer()
                .env("GOFER_API_BASE_URL", &url)
                .args(args),
        )
    };
    cli(&[
        "extension",
        "install",
        &ext,
        "gofer.local/extension-interval",
    ])
    .expect(0);
    let client = gofer_sdk::Client::new(&url, None).unwrap();
    let config: gofer_core::api::PipelineConfigInput = serde_json::from_value(serde_json::json!({
        "id": pipeline, "name": "ticked",
        "tasks": [{"id": "t", "image": "gofer.local/debug-envs"}]
    }))
    .unwrap();
    client
        .register_config("default", &pipeline, &config)
        .await
        .unwrap();
    client.deploy_config("default", &pipeline, 1).await.unwrap();
    cli(&[
        "pipeline",
        "subscribe",
        &pipeline,
        &ext,
        "tick",
        "-s",
        "every=1h",
    ])
    .expect(0);

    let state = tempfile::tempdir().unwrap();
    let command = console_command(&url, None, state.path());
    let tmux = Tmux::start(&command);
    tmux.wait_for("the pipelines view", |s| s.contains(&pipeline));
    tmux.keys(&[":", "extensions", "Enter"]);
    tmux.wait_for("the extension, running", |s| {
        line_with(
            s,
            &[&ext, "gofer.local/extension-interval", "running", "enabled"],
        )
    });
    tmux.keys(&["/", &ext, "Enter", "Enter"]);
    tmux.wait_for("its log's startup line", |s| {
        s.contains(&format!("extension {ext} listening on 0.0.0.0:8082"))
    });
    tmux.keys(&["Tab"]);
    tmux.wait_for("the debug info with the next run", |s| {
        s.contains("\"next_run\"") && s.contains("fetched")
    });
    tmux.keys(&["Tab"]);
    tmux.wait_for("the subscription", |s| {
        line_with(
            s,
            &[&format!("default/{pipeline}"), "tick", "every=1h", "active"],
        )
    });
    tmux.keys(&["d"]);
    tmux.wait_for("the question", |s| {
        s.contains(&format!(
            "disable subscription 'tick' of '{pipeline}' to '{ext}'? (y/n)"
        ))
    });
    tmux.keys(&["y"]);
    tmux.wait_for("the subscription disabled", |s| {
        line_with(s, &[&format!("default/{pipeline}"), "tick", "disabled"])
    });
    let sub = client
        .get_subscription("default", &pipeline, &ext, "tick")
        .await
        .unwrap();
    assert_eq!(sub.status, gofer_core::enums::SubscriptionStatus::Disabled);
    tmux.keys(&["q", "q", "q"]);
    cli(&["extension", "uninstall", &ext]).expect(0);
    terminate(server);
}

/// `:running` in a real terminal: a run started from the CLI appears, then leaves when it
/// completes.
#[test]
fn the_console_shows_what_is_running_now() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let Some(image) = busybox_image(&server) else {
        return;
    };
    let ns = server.create_namespace(&namespace);
    server.deploy_in(&ns, "busy", vec![shell_task("work", &image, "sleep 3")]);
    let state = tempfile::tempdir().unwrap();
    let command = console_command(&server.url, Some(&ns), state.path());
    let tmux = Tmux::start(&command);
    tmux.wait_for("the pipelines view", |s| s.contains("busy"));
    tmux.keys(&[":", "running", "Enter"]);
    tmux.wait_for("nothing running", |s| {
        s.contains("nothing is running or queued right now")
    });
    server.run_in(&ns, &["run", "start", "busy"]).expect(0);
    tmux.wait_for("the run in progress", |s| {
        line_with(s, &["busy", "1 "]) && (s.contains("work") || s.contains("queued"))
    });
    tmux.wait_for("the run gone once complete", |s| {
        s.contains("nothing is running or queued right now")
    });
    server.finish_runs(&ns, "busy");
    tmux.keys(&["q", "q"]);
}

/// The pulse reads the real server's `/api/health` and `/metrics`: what it parses matches the
/// server's state.
#[test]
fn the_pulse_reads_the_real_servers_health_and_metrics() {
    let server = TestServer::start();
    let client = server.client();
    server
        .block_on(
            client.create_namespace(&gofer_core::api::CreateNamespaceRequest {
                id: "pulse-ns".into(),
                name: None,
                description: None,
            }),
        )
        .unwrap();
    let health = server.block_on(client.health()).unwrap();
    let text = server.block_on(client.metrics()).unwrap();
    let sample = gofer_console::app::PulseSample::from_metrics(
        health.status.clone(),
        health.checks.into_iter().collect(),
        &text,
    );
    assert_eq!(sample.status, "ok");
    assert!(
        sample
            .checks
            .iter()
            .any(|(name, value)| name == "storage" && value == "ok"),
        "{sample:?}"
    );
    assert_eq!((sample.pending, sample.running), (0, 0), "{text}");
    assert!(sample.events >= 1, "created_namespace is counted: {text}");
}
