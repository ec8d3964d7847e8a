//! `gofer run start --watch`, `run watch`, `task logs | list | get` with real containers
//! (docs/cli.md `run watch`, docs/logs-and-events.md#reading). Needs a Docker engine (`.ci/ensure-docker`).

use crate::common::{ContainerNamespace, TestServer, busybox_image, shell_task};
use gofer_core::api::{Event, EventKind, TaskExecutionResponse, TaskExecutionsResponse};
use gofer_core::enums::{RunStatus, TaskExecutionStatus};

#[test]
fn a_successful_run_exits_0_with_prefixed_logs() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let Some(image) = busybox_image(&server) else {
        return;
    };
    let ns = server.create_namespace(&namespace);
    server.deploy_in(
        &ns,
        "hello",
        vec![shell_task(
            "greet",
            &image,
            "echo hello from greet; echo second line; printf 'no newline'",
        )],
    );
    let r = server
        .run_in(&ns, &["run", "start", "hello", "--watch"])
        .expect(0);
    // Progress on stderr.
    assert!(
        r.stderr.contains("run 1 of pipeline 'hello' queued")
            && r.stderr.contains("greet: running (attempt 1)")
            && r.stderr.contains("greet: complete, successful")
            && r.stderr.contains("run 1 of pipeline 'hello' successful"),
        "{}",
        r.stderr
    );

    // The raw log, unprefixed, the same with and without --follow once the task is complete.
    let stored = server
        .run_in(&ns, &["task", "logs", "hello", "1", "greet"])
        .expect(0)
        .stdout;
    let followed = server
        .run_in(&ns, &["task", "logs", "hello", "1", "greet", "--follow"])
        .expect(0)
        .stdout;
    assert_eq!(followed, stored);
    assert_eq!(stored, "hello from greet\nsecond line\nno newline");
    // Logs on stdout: every line prefixed by the task id, the final partial line too.
    assert_eq!(
        r.stdout, "greet | hello from greet\ngreet | second line\ngreet | no newline\n",
        "stderr:\n{}",
        r.stderr
    );

    let list: TaskExecutionsResponse = server
        .run_in(&ns, &["task", "list", "hello", "1", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(list.task_executions.len(), 1);
    let r = server
        .run_in(&ns, &["task", "list", "hello", "1"])
        .expect(0);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("greet ") && l.contains("successful")),
        "{}",
        r.stdout
    );

    // Watching a finished run replays its events and ends the same way.
    let r = server
        .run_in(&ns, &["run", "watch", "hello", "1"])
        .expect(0);
    assert!(r.stdout.contains("greet | second line"), "{}", r.stdout);
    let r = server
        .run_in(&ns, &["run", "watch", "hello", "1", "--output", "json"])
        .expect(0);
    let events: Vec<Event> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        matches!(
            events.last().map(|e| &e.kind),
            Some(EventKind::CompletedRun {
                run_id: 1,
                status: RunStatus::Successful,
                ..
            })
        ),
        "{events:?}"
    );
}

#[test]
fn a_failing_run_exits_8() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let Some(image) = busybox_image(&server) else {
        return;
    };
    let ns = server.create_namespace(&namespace);
    server.deploy_in(
        &ns,
        "failing",
        vec![shell_task("fail", &image, "echo boom; exit 3")],
    );
    let r = server
        .run_in(&ns, &["run", "start", "failing", "--watch"])
        .expect(8);
    assert_eq!(r.stdout, "fail | boom\n", "stderr:\n{}", r.stderr);
    assert!(
        r.stderr
            .contains("error: run 1 of pipeline 'failing' ended failed"),
        "{}",
        r.stderr
    );

    let task: TaskExecutionResponse = server
        .run_in(
            &ns,
            &["task", "get", "failing", "1", "fail", "--output", "json"],
        )
        .expect(0)
        .json();
    let t = &task.task_execution;
    assert_eq!(t.status, TaskExecutionStatus::Failed);
    assert_eq!(t.exit_code, Some(3));
    assert_eq!(t.attempts.len(), 1);
    let r = server
        .run_in(&ns, &["task", "get", "failing", "1", "fail"])
        .expect(0);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("exit code:") && l.ends_with(" 3")),
        "{}",
        r.stdout
    );

    // A missing task execution is 404 → 3.
    server
        .run_in(&ns, &["task", "logs", "failing", "1", "nope"])
        .expect(3);
}

/// `--watch` says why each task did not succeed (exit code, an image that could not be pulled,
/// the unmet parent) and repeats a failed task's last lines; a task that never started says so
/// in `task logs` and `task get` instead of looking like one that printed nothing.
#[test]
fn the_watch_says_why_tasks_failed_and_which_never_started() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let Some(image) = busybox_image(&server) else {
        return;
    };
    let ns = server.create_namespace(&namespace);
    let mut after = shell_task("after", &image, "echo never");
    after.depends_on = [("boom", "success")].into_iter().collect();
    server.deploy_in(
        &ns,
        "reasons",
        vec![
            shell_task("boom", &image, "echo about to fail; exit 3"),
            shell_task("nope", "does-not-exist.invalid/zzz:1", "true"),
            after,
        ],
    );
    let r = server
        .run_in(&ns, &["run", "start", "reasons", "--watch"])
        .expect(8);
    for needle in [
        "boom: complete, failed: exit code 3 (",
        "nope: complete, failed: never started: obtain image 'does-not-exist.invalid/zzz:1'",
        "after: complete, skipped: parent 'boom' finished 'failed' but 'success' was required",
        "task 'boom' failed: exit code 3; its last 1 line(s):\n  about to fail",
        "task 'nope' failed: never started: obtain image",
    ] {
        assert!(r.stderr.contains(needle), "{needle}\n---\n{}", r.stderr);
    }

    let r = server
        .run_in(&ns, &["task", "logs", "reasons", "1", "nope"])
        .expect(0);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr.contains(
            "task 'nope' never started, so it has no log: failed: never started: obtain image"
        ),
        "{}",
        r.stderr
    );
    let r = server
        .run_in(&ns, &["task", "get", "reasons", "1", "nope"])
        .expect(0);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("logs:") && l.ends_with("none: the task never started")),
        "{}",
        r.stdout
    );
    let r = server
        .run_in(&ns, &["task", "logs", "reasons", "1", "boom"])
        .expect(0);
    assert_eq!(r.stdout, "about to fail\n");

    // Task tables follow the graph (parents first), not the alphabet.
    let r = server
        .run_in(&ns, &["task", "list", "reasons", "1"])
        .expect(0);
    let order: Vec<&str> = r
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let at = |t: &str| order.iter().position(|o| *o == t).unwrap();
    assert!(at("boom") < at("after"), "{}", r.stdout);
    assert_ne!(order, ["after", "boom", "nope"], "{}", r.stdout);
}
