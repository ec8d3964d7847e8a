//! `gofer run start | list | get | cancel` and `pipeline run` against the real server (docs/runs.md#queue,
//! docs/runs.md#results-and-payload, docs/api.md#runs-and-task-executions, docs/cli.md#exit-codes, docs/cli.md). The checks do not depend on how the runs execute; they run in a
//! namespace of their own whose containers are removed at the end.

use crate::common::{ContainerNamespace, TestServer, shell_task};
use gofer_core::api::{InitiatorKind, RunResponse, RunsResponse};
use gofer_core::enums::{RunState, RunStatus, VariableSource};

#[test]
fn start_list_and_get_runs() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let ns = server.create_namespace(&namespace);
    server.deploy_in(
        &ns,
        "simple",
        vec![shell_task("build", "gofer-test/busybox:latest", "echo hi")],
    );

    // `--output json` prints the API body unchanged: it round-trips into RunResponse.
    let r = server
        .run_in(
            &ns,
            &[
                "run",
                "start",
                "simple",
                "-v",
                "GREETING=hello world",
                "--output",
                "json",
            ],
        )
        .expect(0);
    let first: RunResponse = r.json();
    let run = &first.run;
    assert_eq!((run.run_id, run.state), (1, RunState::Pending));
    assert_eq!(run.pipeline_config_version, 1);
    assert!(run.event_id.is_some(), "{run:?}");
    assert_eq!(run.initiator.kind, InitiatorKind::Api);
    assert!(
        run.variables.iter().any(|v| v.key == "GREETING"
            && v.value == "hello world"
            && v.source == VariableSource::RunOptions),
        "{run:?}"
    );

    // A one-off run with a payload from a file, through the `pipeline run` alias.
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("payload.json");
    std::fs::write(&payload, r#"{"release": "1.2.3"}"#).unwrap();
    let second: RunResponse = server
        .run_in(
            &ns,
            &[
                "pipeline",
                "run",
                "simple",
                "--payload",
                payload.to_str().unwrap(),
                "--only",
                "build",
                "--command",
                r#"sh -c "echo 'one off'""#,
                "--output",
                "json",
            ],
        )
        .expect(0)
        .json();
    let run = &second.run;
    assert_eq!(run.run_id, 2);
    assert_eq!(run.initiator.kind, InitiatorKind::OneOff);
    assert_eq!(run.payload, Some(serde_json::json!({"release": "1.2.3"})));
    assert_eq!(run.only, Some(vec!["build".to_string()]));
    assert_eq!(
        run.command_override,
        Some(vec!["sh".into(), "-c".into(), "echo 'one off'".into()])
    );

    // Plain start names the run and how to follow it.
    let r = server.run_in(&ns, &["run", "start", "simple"]).expect(0);
    assert!(
        r.stdout.starts_with("run 3 of pipeline 'simple' queued")
            && r.stdout.contains("gofer run watch simple 3"),
        "{}",
        r.stdout
    );

    // Newest first unless --no-reverse; --limit and --offset page.
    let ids = |args: &[&str]| -> Vec<u64> {
        let mut all = vec![
            "--namespace",
            &ns,
            "run",
            "list",
            "simple",
            "--output",
            "json",
        ];
        all.extend_from_slice(args);
        let list: RunsResponse = server.run(&all).expect(0).json();
        list.runs.iter().map(|r| r.run_id).collect()
    };
    assert_eq!(ids(&[]), [3, 2, 1]);
    assert_eq!(ids(&["--no-reverse"]), [1, 2, 3]);
    assert_eq!(ids(&["--limit", "1"]), [3]);
    assert_eq!(ids(&["--limit", "1", "--offset", "1"]), [2]);

    let r = server.run_in(&ns, &["run", "list", "simple"]).expect(0);
    let mut lines = r.stdout.lines();
    let header = lines.next().unwrap();
    for column in ["ID", "STATE", "STATUS", "STARTED", "DURATION", "INITIATOR"] {
        assert!(header.contains(column), "{}", r.stdout);
    }
    assert!(lines.next().unwrap().starts_with("3 "), "{}", r.stdout);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("2 ") && l.contains("(one_off)")),
        "{}",
        r.stdout
    );

    let got: RunResponse = server
        .run_in(&ns, &["run", "get", "simple", "2", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(got.run.run_id, 2);
    assert_eq!(got.run.payload, second.run.payload);
    let r = server.run_in(&ns, &["run", "get", "simple", "1"]).expect(0);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("run:") && l.ends_with(" 1")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("GREETING=hello world"), "{}", r.stdout);

    // Cancelling is accepted (204) whatever the run's state.
    let r = server
        .run_in(&ns, &["run", "cancel", "simple", "3"])
        .expect(0);
    assert_eq!(
        r.stdout,
        "cancellation of run 3 of pipeline 'simple' requested; its tasks get the server's stop grace (--force kills them at once)\n"
    );

    // Every run completes; run 3 ends cancelled unless it finished before the cancel arrived.
    let finished = server.finish_runs(&ns, "simple");
    assert_eq!(finished[..2], [(1, 0), (2, 0)], "{finished:?}");
    let run3: RunResponse = server
        .run_in(&ns, &["run", "get", "simple", "3", "--output", "json"])
        .expect(0)
        .json();
    let expected = match run3.run.status {
        RunStatus::Successful => 0,
        RunStatus::Cancelled => 8,
        other => panic!("run 3 ended {other}"),
    };
    assert_eq!(finished[2], (3, expected));
}

#[test]
fn start_errors_map_to_exit_codes() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let ns = server.create_namespace(&namespace);

    // 404: no such pipeline, no such run.
    let r = server.run_in(&ns, &["run", "start", "nope"]).expect(3);
    assert!(
        r.stderr.starts_with("error: ") && r.stderr.contains("(request_id "),
        "{}",
        r.stderr
    );
    server.deploy_in(
        &ns,
        "simple",
        vec![shell_task("build", "gofer-test/busybox:latest", "true")],
    );
    server
        .run_in(&ns, &["run", "get", "simple", "99"])
        .expect(3);
    server
        .run_in(&ns, &["run", "cancel", "simple", "99"])
        .expect(3);
    server
        .run_in(&ns, &["task", "list", "simple", "99"])
        .expect(3);

    // 409: registered but never deployed.
    server.register_in(
        &ns,
        "undeployed",
        vec![shell_task("build", "gofer-test/busybox:latest", "true")],
    );
    let r = server
        .run_in(&ns, &["run", "start", "undeployed"])
        .expect(5);
    assert!(r.stderr.contains("no live config version"), "{}", r.stderr);

    // 503: a disabled pipeline.
    server
        .run_in(&ns, &["pipeline", "disable", "simple"])
        .expect(0);
    let r = server.run_in(&ns, &["run", "start", "simple"]).expect(6);
    assert!(r.stderr.contains("disabled"), "{}", r.stderr);
    server
        .run_in(&ns, &["pipeline", "enable", "simple"])
        .expect(0);

    // 400: an invalid run variable key.
    let r = server
        .run_in(&ns, &["run", "start", "simple", "-v", "MY KEY=x"])
        .expect(7);
    assert!(r.stderr.contains("variables."), "{}", r.stderr);

    // 503 while run ingress is paused.
    server
        .run_in(&ns, &["service", "toggle-event-ingress"])
        .expect(0);
    let r = server.run_in(&ns, &["run", "start", "simple"]).expect(6);
    assert!(r.stderr.contains("run ingress is paused"), "{}", r.stderr);
    server
        .run_in(&ns, &["service", "toggle-event-ingress"])
        .expect(0);

    // Local input problems: usage (2) and invalid payload (7); nothing reaches the server.
    server
        .run_in(&ns, &["run", "start", "simple", "-v", "NOEQUALS"])
        .expect(2);
    server
        .run_in(&ns, &["run", "start", "simple", "--command", "make"])
        .expect(2);
    let r = server
        .run_in(
            &ns,
            &["run", "start", "simple", "--payload", "/no/such/file.json"],
        )
        .expect(7);
    assert!(r.stderr.contains("/no/such/file.json"), "{}", r.stderr);
    let r = run_with_stdin(
        &server,
        &["run", "start", "simple", "--payload", "@"],
        "{nope",
    );
    assert_eq!(r.0, 7, "{}", r.1);

    // None of the refused starts made a run.
    let list: RunsResponse = server
        .run_in(&ns, &["run", "list", "simple", "--output", "json"])
        .expect(0)
        .json();
    assert!(list.runs.is_empty(), "{list:?}");
}

/// Exit code and stderr of `gofer <args>` with `stdin` as input.
fn run_with_stdin(server: &TestServer, args: &[&str], stdin: &str) -> (i32, String) {
    let output = server
        .gofer()
        .args(args)
        .write_stdin(stdin)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// An accepted cancel shows as `cancelling` (who asked, when) until the run ends; `--force`
/// kills a task that ignores SIGTERM at once instead of waiting out the grace.
#[test]
fn cancelling_is_visible_and_force_kills() {
    let namespace = crate::common::ContainerNamespace::new();
    let server = TestServer::start();
    let Some(image) = crate::common::busybox_image(&server) else {
        return;
    };
    let ns = server.create_namespace(&namespace);
    server.deploy_in(
        &ns,
        "stubborn",
        vec![crate::common::shell_task(
            "hold",
            &image,
            "trap '' TERM; echo holding; sleep 300",
        )],
    );
    server.run_in(&ns, &["run", "start", "stubborn"]).expect(0);
    let client = server.client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let task = server.block_on(client.get_task_execution(&ns, "stubborn", 1, "hold"));
        if task.is_ok_and(|t| t.state == gofer_core::enums::TaskExecutionState::Running) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the task never ran");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let r = server
        .run_in(&ns, &["run", "cancel", "stubborn", "1"])
        .expect(0);
    assert!(
        r.stdout.contains("--force kills them at once"),
        "{}",
        r.stdout
    );
    // The task ignores SIGTERM, so the run stays cancelling for the whole grace (30 s).
    let r = server
        .run_in(&ns, &["run", "get", "stubborn", "1"])
        .expect(0);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("state:") && l.contains("cancelling (asked by")),
        "{}",
        r.stdout
    );
    let r = server.run_in(&ns, &["run", "list", "stubborn"]).expect(0);
    assert!(r.stdout.contains("cancelling"), "{}", r.stdout);

    let asked = std::time::Instant::now();
    server
        .run_in(&ns, &["run", "cancel", "stubborn", "1", "--force"])
        .expect(0);
    let run = loop {
        let run = server.block_on(client.get_run(&ns, "stubborn", 1)).unwrap();
        if run.state == gofer_core::enums::RunState::Complete {
            break run;
        }
        assert!(
            asked.elapsed() < std::time::Duration::from_secs(20),
            "the forced cancel did not end the run inside the 30 s grace"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(run.status, gofer_core::enums::RunStatus::Cancelled);
    let cancellation = run.cancellation.expect("the cancellation is recorded");
    assert!(cancellation.force);
    let task = server
        .block_on(client.get_task_execution(&ns, "stubborn", 1, "hold"))
        .unwrap();
    assert_eq!(task.exit_code, Some(137), "killed: {task:?}");
}

/// `gofer run debug`: one task failed and two were skipped because of it; the failure's last
/// log lines and the skip chain are printed (docs/runs.md#why-a-run-failed).
#[test]
fn run_debug_explains_a_failure_and_its_skip_chain() {
    let namespace = crate::common::ContainerNamespace::new();
    let server = TestServer::start();
    let Some(image) = crate::common::busybox_image(&server) else {
        return;
    };
    let ns = server.create_namespace(&namespace);
    let mut test = shell_task("test", &image, "echo never");
    test.depends_on = gofer_core::api::OrderedMap(vec![("build".into(), "success".into())]);
    let mut deploy = shell_task("deploy", &image, "echo never");
    deploy.depends_on = gofer_core::api::OrderedMap(vec![("test".into(), "success".into())]);
    server.deploy_in(
        &ns,
        "broken",
        vec![
            shell_task(
                "build",
                &image,
                "for i in $(seq 1 30); do echo line $i; done; echo error: boom; exit 3",
            ),
            test,
            deploy,
        ],
    );
    server
        .run_in(&ns, &["run", "start", "broken", "--watch"])
        .expect(8);
    let out = server
        .run_in(&ns, &["run", "debug", "broken", "1"])
        .expect(0);
    let text = out.stdout;
    assert!(text.starts_with("run 1 ended failed"), "{text}");
    assert!(
        text.contains("✖ task build failed: abnormal_exit, exit code 3"),
        "{text}"
    );
    assert!(text.contains("last 20 log line(s):"), "{text}");
    assert!(text.contains("  │ error: boom"), "{text}");
    assert!(
        text.contains("  │ line 12") && !text.contains("  │ line 11\n"),
        "{text}"
    );
    assert!(text.contains("⏭ test ← build (failed)"), "{text}");
    assert!(text.contains("⏭ deploy ← test ← build (failed)"), "{text}");
    let json: serde_json::Value = server
        .run_in(&ns, &["run", "debug", "broken", "1", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(json["diagnosis"]["failed"][0]["task"], "build");
    assert_eq!(json["logs"]["build"].as_array().unwrap().len(), 20);
    server
        .run_in(&ns, &["run", "debug", "broken", "9"])
        .expect(3);
}
