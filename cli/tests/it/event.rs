//! `gofer event list | watch | get | delete` against the real server (docs/logs-and-events.md#events, docs/api.md#events, docs/cli.md).

use crate::common::{ContainerNamespace, TestServer, gofer_process, shell_task};
use gofer_core::api::{DeploymentResponse, Event, EventKind, EventResponse};

/// Parses one JSON event per line.
fn json_lines(stdout: &str) -> Vec<Event> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn get_and_delete_single_events() {
    let server = TestServer::start();
    server.deploy(
        "simple",
        vec![shell_task("build", "gofer-test/busybox:latest", "true")],
    );
    // The deployment's log holds its events, with their ids.
    let deployment: DeploymentResponse = server
        .run(&[
            "pipeline",
            "deployment",
            "get",
            "simple",
            "1",
            "--output",
            "json",
        ])
        .expect(0)
        .json();
    let started = deployment
        .deployment
        .logs
        .iter()
        .find(|e| e.kind.name() == "started_deployment")
        .expect("the deployment logged started_deployment")
        .clone();

    let got: EventResponse = server
        .run(&["event", "get", &started.id, "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(got.event, started);
    let r = server.run(&["event", "get", &started.id]).expect(0);
    assert!(
        r.stdout.contains("kind:")
            && r.stdout.contains("started_deployment")
            && r.stdout.contains("pipeline_id=simple"),
        "{}",
        r.stdout
    );

    let r = server.run(&["event", "delete", &started.id]).expect(0);
    assert_eq!(r.stdout, format!("event '{}' deleted\n", started.id));
    let r = server.run(&["event", "get", &started.id]).expect(3);
    assert!(r.stderr.contains("(request_id "), "{}", r.stderr);
    server.run(&["event", "delete", &started.id]).expect(3);
}

#[test]
fn list_reads_history_newest_first_and_prints_oldest_first() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let ns = server.create_namespace(&namespace);
    server.deploy_in(
        &ns,
        "simple",
        vec![shell_task("build", "gofer-test/busybox:latest", "true")],
    );
    server.deploy_in(
        &ns,
        "other",
        vec![shell_task("build", "gofer-test/busybox:latest", "true")],
    );
    for pipeline in ["simple", "other", "simple"] {
        server.run_in(&ns, &["run", "start", pipeline]).expect(0);
    }

    let r = server
        .run_in(&ns, &["event", "list", "--kinds", "queued_run"])
        .expect(0);
    let rows: Vec<&str> = r.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{}", r.stdout);
    assert!(
        rows.iter().all(|l| l.contains("queued_run")),
        "{}",
        r.stdout
    );
    assert!(
        rows[0].contains("pipeline_id=simple") && rows[0].contains("run_id=1"),
        "oldest first: {}",
        r.stdout
    );

    let events = |args: &[&str]| -> Vec<Event> {
        let mut all = vec!["--namespace", &ns, "event", "list", "--output", "json"];
        all.extend_from_slice(args);
        json_lines(&server.run(&all).expect(0).stdout)
    };
    let queued = events(&["--kinds", "queued_run"]);
    let pipelines: Vec<&str> = queued.iter().map(|e| e.kind.scope().1.unwrap()).collect();
    assert_eq!(pipelines, ["simple", "other", "simple"]);
    assert!(queued.windows(2).all(|w| w[0].id < w[1].id), "{queued:?}");

    // --limit keeps the most recent; --reverse prints them newest first.
    let last = events(&["--kinds", "queued_run", "--limit", "2"]);
    assert_eq!(last, queued[1..]);
    let reversed = events(&["--kinds", "queued_run", "--limit", "2", "--reverse"]);
    assert_eq!(reversed, [queued[2].clone(), queued[1].clone()]);

    // --pipeline filters on the pipeline of --namespace.
    let simple = events(&[
        "--kinds",
        "queued_run,created_pipeline",
        "--pipeline",
        "simple",
    ]);
    let kinds: Vec<&str> = simple.iter().map(|e| e.kind.name()).collect();
    assert_eq!(kinds, ["created_pipeline", "queued_run", "queued_run"]);
    assert!(
        simple
            .iter()
            .all(|e| e.kind.scope() == (Some(ns.as_str()), Some("simple"))),
        "{simple:?}"
    );
    let elsewhere = json_lines(
        &server
            .run(&[
                "event",
                "list",
                "--output",
                "json",
                "--pipeline",
                "simple",
                "--namespace",
                "no-such-namespace",
            ])
            .expect(0)
            .stdout,
    );
    assert!(elsewhere.is_empty(), "{elsewhere:?}");

    // An unknown kind is refused before the upgrade: 400, exit 7.
    let r = server
        .run_in(&ns, &["event", "list", "--kinds", "no_such_kind"])
        .expect(7);
    assert!(r.stderr.contains("(request_id "), "{}", r.stderr);

    assert_eq!(server.finish_runs(&ns, "simple"), [(1, 0), (2, 0)]);
    assert_eq!(server.finish_runs(&ns, "other"), [(1, 0)]);
}

#[test]
fn watch_follows_live_events_until_the_server_stops() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let ns = server.create_namespace(&namespace);
    server.deploy_in(
        &ns,
        "simple",
        vec![shell_task("build", "gofer-test/busybox:latest", "true")],
    );
    // With --history the replay alone shows the run; the stream then continues live, so the
    // watcher is stopped by shutting the server down (close 1000 ends the stream).
    server.run_in(&ns, &["run", "start", "simple"]).expect(0);
    let mut child = gofer_process()
        .args([
            "--api-base-url",
            &server.url,
            "event",
            "watch",
            "--history",
            "--kinds",
            "queued_run",
            "--output",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let first: Event = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(
        matches!(first.kind, EventKind::QueuedRun { run_id: 1, .. }),
        "{first:?}"
    );
    // A live event arrives too.
    server.run_in(&ns, &["run", "start", "simple"]).expect(0);
    let second: Event = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(
        matches!(second.kind, EventKind::QueuedRun { run_id: 2, .. }),
        "{second:?}"
    );
    assert_eq!(server.finish_runs(&ns, "simple"), [(1, 0), (2, 0)]);
    drop(server);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
