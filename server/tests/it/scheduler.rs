//! The docker scheduler against the real engine (docs/schedulers.md#what-every-scheduler-does, docs/schedulers.md#docker, docs/schedulers.md#what-every-scheduler-does, docs/runs.md#restart-recovery).
//!
//! Every test labels its containers with a fresh fixture id and removes them when it ends,
//! also when it panics. Instance ids are fresh per test, so `list` and `prune` only ever see
//! the test's own containers.

use bytes::Bytes;
use futures_util::StreamExt;
use gofer_server::scheduler::{
    ContainerState, DockerScheduler, Labels, Scheduler, SchedulerError, StartRequest, task_labels,
};
use gofer_server::testing::{busybox_image, require_docker, require_docker_with_timeout};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const FIXTURE_LABEL: &str = "gofer.test.fixture";

struct Fixture {
    docker: DockerScheduler,
    image: String,
    /// Our `gofer.instance`.
    instance: String,
    /// Another server's `gofer.instance`.
    foreign: String,
    id: String,
}

async fn fixture() -> Option<Fixture> {
    fixture_with(require_docker().await?).await
}

async fn fixture_with(docker: DockerScheduler) -> Option<Fixture> {
    let image = busybox_image(&docker)
        .await
        .expect("build the busybox test image");
    Some(Fixture {
        docker,
        image,
        instance: uuid::Uuid::new_v4().to_string(),
        foreign: uuid::Uuid::new_v4().to_string(),
        id: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
    })
}

impl Fixture {
    /// A task container of ours running `sh -c <script>`.
    fn task(&self, task: &str, script: &str) -> StartRequest {
        self.task_of(&self.instance, task, script)
    }

    fn task_of(&self, instance: &str, task: &str, script: &str) -> StartRequest {
        let mut labels = task_labels(instance, "it", self.id.as_str(), 1, task, 1);
        labels.insert(FIXTURE_LABEL.to_owned(), self.id.clone());
        StartRequest {
            name: format!("gofer-test.{}.{task}", self.id),
            image: self.image.clone(),
            command: Some(vec!["sh".into(), "-c".into(), script.into()]),
            labels,
            ..Default::default()
        }
    }

    fn ours(&self) -> Labels {
        Labels::from([
            ("gofer.managed".to_owned(), "true".to_owned()),
            ("gofer.instance".to_owned(), self.instance.clone()),
        ])
    }
}

impl Drop for Fixture {
    /// Kills and removes every container the test created, on a thread of its own so that it
    /// also runs while a failed test unwinds.
    fn drop(&mut self) {
        let filter = Labels::from([(FIXTURE_LABEL.to_owned(), self.id.clone())]);
        let host = self.docker.host().to_owned();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async {
                let docker = DockerScheduler::connect(&host, 30)
                    .await
                    .expect("reconnect for cleanup");
                for container in docker.list(&filter).await.expect("list for cleanup") {
                    docker
                        .stop(&container.name, 0)
                        .await
                        .expect("kill for cleanup");
                    docker
                        .remove(&container.name)
                        .await
                        .expect("remove for cleanup");
                }
            });
        });
        if cleanup.join().is_err() && !std::thread::panicking() {
            panic!("cleaning up the test containers failed");
        }
    }
}

/// Reads a whole log stream, failing the test if it does not end within `limit`.
async fn read_all(
    mut stream: futures_util::stream::BoxStream<'static, Result<Bytes, SchedulerError>>,
    limit: Duration,
) -> Vec<u8> {
    tokio::time::timeout(limit, async {
        let mut all = Vec::new();
        while let Some(chunk) = stream.next().await {
            all.extend_from_slice(&chunk.expect("log chunk"));
        }
        all
    })
    .await
    .expect("the log stream should end")
}

#[tokio::test]
async fn a_successful_command_exits_zero() {
    let Some(f) = fixture().await else { return };
    let request = f.task("ok", "exit 0");
    let started = f.docker.start(&request).await.expect("start");
    assert!(!started.id.is_empty());
    assert_eq!(started.address, None);
    assert_eq!(
        f.docker.wait(&request.name).await.unwrap(),
        ContainerState::Exited { exit_code: 0 }
    );
    assert_eq!(
        f.docker.state(&request.name).await.unwrap(),
        ContainerState::Exited { exit_code: 0 }
    );
}

#[tokio::test]
async fn a_failing_command_reports_its_exit_code() {
    let Some(f) = fixture().await else { return };
    let request = f.task("three", "exit 3");
    f.docker.start(&request).await.expect("start");
    assert_eq!(
        f.docker.wait(&request.name).await.unwrap(),
        ContainerState::Exited { exit_code: 3 }
    );
    assert_eq!(
        f.docker.state(&request.name).await.unwrap(),
        ContainerState::Exited { exit_code: 3 }
    );
    // `list` reads the exit code from the engine's summary.
    let listed = f.docker.list(&request.labels).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, ContainerState::Exited { exit_code: 3 });
}

#[tokio::test]
async fn environment_entrypoint_and_command_reach_the_container() {
    let Some(f) = fixture().await else { return };
    let mut request = f.task("env", "");
    request.entrypoint = Some(vec!["/bin/sh".into(), "-c".into()]);
    request.command = Some(vec!["printf '%s|%s' \"$GREETING\" \"$OTHER\"".into()]);
    request.env = vec![
        ("GREETING".into(), "hello world".into()),
        ("OTHER".into(), "x=y".into()),
    ];
    f.docker.start(&request).await.expect("start");
    assert_eq!(
        f.docker.wait(&request.name).await.unwrap(),
        ContainerState::Exited { exit_code: 0 }
    );
    let log = read_all(f.docker.logs(&request.name, false), Duration::from_secs(10)).await;
    assert_eq!(log, b"hello world|x=y");
}

#[tokio::test]
async fn logs_hold_stdout_and_stderr_byte_for_byte() {
    let Some(f) = fixture().await else { return };
    let request = f.task(
        "logs",
        r"printf 'a\nb'; printf 'err\n' >&2; printf '\001\tz'",
    );
    f.docker.start(&request).await.expect("start");
    assert_eq!(
        f.docker.wait(&request.name).await.unwrap(),
        ContainerState::Exited { exit_code: 0 }
    );
    let log = read_all(f.docker.logs(&request.name, false), Duration::from_secs(10)).await;
    // stdout and stderr are read by the engine concurrently, so output written in one burst
    // has no defined order across the two streams: check that every byte is there exactly
    // once, unframed, and that each stream's own order is kept.
    let stderr_at = log
        .windows(4)
        .position(|w| w == b"err\n")
        .unwrap_or_else(|| panic!("stderr missing from {:?}", String::from_utf8_lossy(&log)));
    let mut stdout = log.clone();
    stdout.drain(stderr_at..stderr_at + 4);
    assert_eq!(
        stdout,
        b"a\nb\x01\tz",
        "whole log: {:?}",
        String::from_utf8_lossy(&log)
    );
    // Followed logs of an exited container give the same bytes and end.
    let followed = read_all(f.docker.logs(&request.name, true), Duration::from_secs(10)).await;
    assert_eq!(followed, log);
}

#[tokio::test]
async fn logs_interleave_the_two_streams_in_arrival_order() {
    let Some(f) = fixture().await else { return };
    // The pauses inside the container separate the writes in time, which is what gives
    // "arrival order" a meaning across two pipes.
    let request = f.task(
        "order",
        "echo out1; sleep 0.3; echo err1 >&2; sleep 0.3; echo out2",
    );
    f.docker.start(&request).await.expect("start");
    assert_eq!(
        f.docker.wait(&request.name).await.unwrap(),
        ContainerState::Exited { exit_code: 0 }
    );
    let log = read_all(f.docker.logs(&request.name, false), Duration::from_secs(10)).await;
    assert_eq!(String::from_utf8_lossy(&log), "out1\nerr1\nout2\n");
}

#[tokio::test]
async fn followed_logs_arrive_while_the_container_runs_and_end_at_exit() {
    let Some(f) = fixture().await else { return };
    let request = f.task(
        "follow",
        "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done",
    );
    f.docker.start(&request).await.expect("start");
    let mut stream = f.docker.logs(&request.name, true);
    let first = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a first line within 10 s")
        .expect("the stream should not end before the first line")
        .expect("log chunk");
    assert_eq!(first, Bytes::from_static(b"line 1\n"));
    assert_eq!(
        f.docker.state(&request.name).await.unwrap(),
        ContainerState::Running,
        "the first line should arrive while the container still runs"
    );
    let rest = read_all(stream, Duration::from_secs(10)).await;
    assert_eq!(rest, b"line 2\nline 3\nline 4\nline 5\n");
    assert_eq!(
        f.docker.state(&request.name).await.unwrap(),
        ContainerState::Exited { exit_code: 0 }
    );
}

#[tokio::test]
async fn followed_logs_outlive_the_request_timeout() {
    // The engine answers a log request at once and then streams: a silence longer than the
    // request timeout must not end the stream.
    let Some(docker) = require_docker_with_timeout(1).await else {
        return;
    };
    let Some(f) = fixture_with(docker).await else {
        return;
    };
    let request = f.task("quiet", "sleep 2; echo late");
    f.docker.start(&request).await.expect("start");
    let log = read_all(f.docker.logs(&request.name, true), Duration::from_secs(10)).await;
    assert_eq!(log, b"late\n");
}

#[tokio::test]
async fn stop_sends_sigkill_after_the_grace_period() {
    // A request timeout shorter than the grace period: neither the stop nor the wait may be
    // cut off by it.
    let Some(docker) = require_docker_with_timeout(2).await else {
        return;
    };
    let Some(f) = fixture_with(docker).await else {
        return;
    };
    // A program that ignores SIGTERM (the init process hands the signal on; it is ignored).
    let request = f.task("grace", "trap '' TERM; sleep 60");
    f.docker.start(&request).await.expect("start");
    assert_eq!(
        f.docker.state(&request.name).await.unwrap(),
        ContainerState::Running
    );

    let grace = Duration::from_secs(3);
    let begun = Instant::now();
    // Only the SIGKILL after the grace ends it.
    let (stopped, waited) = tokio::join!(f.docker.stop(&request.name, grace.as_secs()), async {
        let state = f.docker.wait(&request.name).await;
        (state, begun.elapsed())
    });
    stopped.expect("stop");
    let (state, elapsed) = waited;
    assert_eq!(state.unwrap(), ContainerState::Exited { exit_code: 137 });
    assert!(
        elapsed >= grace - Duration::from_millis(300),
        "ended after {elapsed:?}, before the grace"
    );
    assert!(
        elapsed <= grace + Duration::from_secs(5),
        "ended after {elapsed:?}"
    );

    // Stopping a stopped container succeeds.
    f.docker.stop(&request.name, 3).await.expect("stop again");
    f.docker.stop(&request.name, 0).await.expect("kill again");
}

#[tokio::test]
async fn stop_with_zero_grace_kills_at_once() {
    let Some(f) = fixture().await else { return };
    let request = f.task("kill", "trap '' TERM; sleep 60");
    f.docker.start(&request).await.expect("start");
    let begun = Instant::now();
    f.docker.stop(&request.name, 0).await.expect("kill");
    // `stop` resolves once the container has stopped.
    assert_eq!(
        f.docker.state(&request.name).await.unwrap(),
        ContainerState::Exited { exit_code: 137 }
    );
    assert!(
        begun.elapsed() < Duration::from_secs(5),
        "kill took {:?}",
        begun.elapsed()
    );
}

#[tokio::test]
async fn missing_containers_are_not_errors_where_the_contract_says_so() {
    let Some(f) = fixture().await else { return };
    let name = format!("gofer-test.{}.never-created", f.id);
    f.docker
        .stop(&name, 5)
        .await
        .expect("stop of a missing container");
    f.docker
        .stop(&name, 0)
        .await
        .expect("kill of a missing container");
    f.docker
        .remove(&name)
        .await
        .expect("remove of a missing container");
    assert_eq!(
        f.docker.state(&name).await.unwrap(),
        ContainerState::NotFound
    );
    assert_eq!(
        f.docker.wait(&name).await.unwrap(),
        ContainerState::NotFound
    );
    let mut logs = f.docker.logs(&name, false);
    match logs.next().await {
        Some(Err(SchedulerError::NotFound { .. })) => {}
        other => panic!("logs of a missing container: {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_image_fails_the_start_naming_the_image() {
    let Some(f) = fixture().await else { return };
    let mut request = f.task("noimage", "true");
    request.image = "gofer-test/does-not-exist:latest".into();
    let error = f
        .docker
        .start(&request)
        .await
        .expect_err("start without an image");
    match &error {
        SchedulerError::ImageUnavailable { image, .. } => assert_eq!(image, &request.image),
        other => panic!("expected ImageUnavailable, got {other:?}"),
    }
    assert!(
        error
            .to_string()
            .contains("gofer-test/does-not-exist:latest"),
        "{error}"
    );
    assert_eq!(
        f.docker.state(&request.name).await.unwrap(),
        ContainerState::NotFound
    );

    // gofer.local/ images are never pulled, even when asked to: the engine is not consulted
    // about a registry and the error says why.
    let mut request = f.task("nolocal", "true");
    request.image = "gofer.local/does-not-exist:latest".into();
    request.always_pull = true;
    let error = f
        .docker
        .start(&request)
        .await
        .expect_err("start without a local image");
    assert_eq!(
        error,
        SchedulerError::LocalImageMissing {
            image: "gofer.local/does-not-exist:latest".into()
        }
    );
    assert!(error.to_string().contains("never pulled"), "{error}");
}

/// Containers run with an init process, which starts first: a command that cannot run ends
/// the container with 127 and the init's explanation in its log.
#[tokio::test]
async fn a_command_that_cannot_run_exits_127_saying_why() {
    let Some(f) = fixture().await else { return };
    let mut request = f.task("noexec", "");
    request.entrypoint = Some(vec!["/no/such/binary".into()]);
    request.command = None;
    f.docker.start(&request).await.expect("start");
    assert_eq!(
        f.docker.wait(&request.name).await.unwrap(),
        ContainerState::Exited { exit_code: 127 }
    );
    let mut log = Vec::new();
    let mut stream = f.docker.logs(&request.name, false);
    while let Some(Ok(bytes)) = futures_util::StreamExt::next(&mut stream).await {
        log.extend_from_slice(&bytes);
    }
    let log = String::from_utf8_lossy(&log);
    assert!(log.contains("/no/such/binary"), "{log}");
}

#[tokio::test]
async fn a_name_held_by_another_instance_is_refused_and_left_alone() {
    let Some(f) = fixture().await else { return };
    let theirs = f.task_of(&f.foreign, "clash", "exit 0");
    f.docker.start(&theirs).await.expect("start theirs");
    let ours = f.task("clash", "exit 0");
    assert_eq!(ours.name, theirs.name);
    let error = f
        .docker
        .start(&ours)
        .await
        .expect_err("start over a foreign container");
    match &error {
        SchedulerError::NameConflict { name, owner } => {
            assert_eq!(name, &ours.name);
            assert!(owner.contains(&f.foreign), "{owner}");
        }
        other => panic!("expected NameConflict, got {other:?}"),
    }
    let listed = f.docker.list(&theirs.labels).await.unwrap();
    assert_eq!(listed.len(), 1, "the foreign container must survive");
    assert_eq!(listed[0].labels["gofer.instance"], f.foreign);
}

#[tokio::test]
async fn a_created_container_of_ours_is_started_and_a_started_one_is_not_restarted() {
    let Some(f) = fixture().await else { return };
    let request = f.task("adopt", "printf adopted");
    // What a crash between create and start leaves behind (docs/runs.md#restart-recovery).
    f.docker
        .client()
        .create_container(
            Some(
                bollard::query_parameters::CreateContainerOptionsBuilder::new()
                    .name(&request.name)
                    .build(),
            ),
            bollard::models::ContainerCreateBody {
                image: Some(request.image.clone()),
                cmd: request.command.clone(),
                labels: Some(request.labels.clone().into_iter().collect()),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    assert_eq!(
        f.docker.state(&request.name).await.unwrap(),
        ContainerState::Created
    );
    f.docker
        .start(&request)
        .await
        .expect("start the created container");
    assert_eq!(
        f.docker.wait(&request.name).await.unwrap(),
        ContainerState::Exited { exit_code: 0 }
    );
    let log = read_all(f.docker.logs(&request.name, false), Duration::from_secs(10)).await;
    assert_eq!(log, b"adopted");

    let error = f.docker.start(&request).await.expect_err("start twice");
    assert!(
        matches!(error, SchedulerError::AlreadyStarted { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn list_by_labels_finds_exactly_our_containers() {
    let Some(f) = fixture().await else { return };
    let one = f.task("one", "exit 0");
    let two = f.task("two", "sleep 60");
    let foreign = f.task_of(&f.foreign, "three", "exit 0");
    for request in [&one, &two, &foreign] {
        f.docker.start(request).await.expect("start");
    }
    f.docker.wait(&one.name).await.unwrap();

    let listed = f.docker.list(&f.ours()).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec![one.name.as_str(), two.name.as_str()]);
    assert_eq!(listed[0].state, ContainerState::Exited { exit_code: 0 });
    assert_eq!(listed[1].state, ContainerState::Running);
    assert_eq!(listed[0].labels["gofer.task_id"], "one");
    assert_eq!(listed[1].labels["gofer.kind"], "task");

    // Recovery lists by the full task label set (docs/runs.md#restart-recovery).
    let exact = f.docker.list(&two.labels).await.unwrap();
    assert_eq!(exact.len(), 1);
    assert_eq!(exact[0].name, two.name);
}

#[tokio::test]
async fn prune_removes_only_our_exited_complete_containers() {
    let Some(f) = fixture().await else { return };
    let done = f.task("done", "exit 0");
    let failed = f.task("failed", "exit 1");
    let incomplete = f.task("incomplete", "exit 0");
    let running = f.task("running", "sleep 60");
    let foreign = f.task_of(&f.foreign, "foreign", "exit 0");
    for request in [&done, &failed, &incomplete, &running, &foreign] {
        f.docker.start(request).await.expect("start");
    }
    for request in [&done, &failed, &incomplete, &foreign] {
        assert!(matches!(
            f.docker.wait(&request.name).await.unwrap(),
            ContainerState::Exited { .. }
        ));
    }

    let is_complete =
        |labels: &Labels| labels.get("gofer.task_id").map(String::as_str) != Some("incomplete");
    let mut removed = f
        .docker
        .prune(&f.instance, &is_complete)
        .await
        .expect("prune");
    removed.sort();
    assert_eq!(removed, vec![done.name.clone(), failed.name.clone()]);

    assert_eq!(
        f.docker.state(&done.name).await.unwrap(),
        ContainerState::NotFound
    );
    assert_eq!(
        f.docker.state(&failed.name).await.unwrap(),
        ContainerState::NotFound
    );
    assert_eq!(
        f.docker.state(&incomplete.name).await.unwrap(),
        ContainerState::Exited { exit_code: 0 }
    );
    assert_eq!(
        f.docker.state(&running.name).await.unwrap(),
        ContainerState::Running
    );
    assert_eq!(
        f.docker.state(&foreign.name).await.unwrap(),
        ContainerState::Exited { exit_code: 0 }
    );
}

#[tokio::test]
async fn remove_refuses_a_running_container() {
    let Some(f) = fixture().await else { return };
    let request = f.task("busy", "sleep 60");
    f.docker.start(&request).await.expect("start");
    let error = f
        .docker
        .remove(&request.name)
        .await
        .expect_err("remove while running");
    assert!(error.to_string().contains(&request.name), "{error}");
    f.docker.stop(&request.name, 0).await.unwrap();
    f.docker
        .remove(&request.name)
        .await
        .expect("remove once stopped");
    assert_eq!(
        f.docker.state(&request.name).await.unwrap(),
        ContainerState::NotFound
    );
}

#[tokio::test]
async fn attach_runs_a_command_with_a_tty() {
    let Some(f) = fixture().await else { return };
    let request = f.task("attach", "sleep 60");
    f.docker.start(&request).await.expect("start");

    let session = f
        .docker
        .attach(&request.name, vec!["echo".into(), "hi".into()])
        .await
        .expect("attach");
    let output = read_all(session.output, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&output);
    assert!(text.contains("hi"), "output: {text:?}");
    // A TTY turns \n into \r\n.
    assert!(text.contains("\r\n"), "output without a TTY? {text:?}");
    assert_eq!(session.exit_code.await.unwrap(), 0);

    // Input reaches an interactive command.
    let mut session = f
        .docker
        .attach(&request.name, vec!["sh".into()])
        .await
        .expect("attach sh");
    session
        .stdin
        .write_all(b"echo from-stdin; exit 7\n")
        .await
        .unwrap();
    session.stdin.flush().await.unwrap();
    let output = read_all(session.output, Duration::from_secs(10)).await;
    assert!(String::from_utf8_lossy(&output).contains("from-stdin"));
    assert_eq!(session.exit_code.await.unwrap(), 7);
}

#[tokio::test]
async fn a_published_port_is_reported_on_loopback() {
    let Some(f) = fixture().await else { return };
    let mut request = f.task("publish", "sleep 60");
    request.publish_port = Some(8082);
    let started = f.docker.start(&request).await.expect("start");
    let address = started.address.expect("an address");
    let port: u16 = address
        .strip_prefix("127.0.0.1:")
        .unwrap_or_else(|| panic!("not on loopback: {address}"))
        .parse()
        .expect("a port");
    assert_ne!(port, 0);
}

#[tokio::test]
async fn connect_explains_an_unreachable_engine() {
    let error = DockerScheduler::connect("unix:///nonexistent/docker.sock", 5)
        .await
        .expect_err("no engine there");
    assert!(
        matches!(error, SchedulerError::Unreachable { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("unix:///nonexistent/docker.sock"),
        "{message}"
    );
    assert!(message.contains("is dockerd running?"), "{message}");
    assert!(message.contains("ensure-docker"), "{message}");
}

/// docs/pipelines.md#task-resources: the limits reach the container (no swap beyond the
/// memory limit), and a container the kernel kills for its memory limit is told apart from any
/// other SIGKILL, with the limit.
#[tokio::test]
async fn resources_reach_the_container_and_out_of_memory_is_reported() {
    let Some(f) = fixture().await else { return };
    let limits = gofer_core::resources::TaskResources {
        cpus: Some(gofer_core::resources::Cpus(500)),
        memory: Some(32 << 20),
    };
    // dd with a 200 MiB block fills a 200 MiB buffer: far over 32 MiB. It starts a second in:
    // a kill in the container's first milliseconds can escape the engine's out-of-memory
    // notice on cgroup v1 (docs/pipelines.md#task-resources).
    let mut hungry = f.task(
        "hungry",
        "sleep 1; dd if=/dev/zero of=/dev/null bs=200M count=1",
    );
    hungry.resources = limits;
    f.docker.start(&hungry).await.expect("start");
    let inspect = f
        .docker
        .client()
        .inspect_container(&hungry.name, None)
        .await
        .expect("inspect");
    let host = inspect.host_config.expect("host config");
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.memory, Some(32 << 20));
    assert_eq!(host.memory_swap, Some(32 << 20));
    let ended = ContainerState::OutOfMemory {
        exit_code: 137,
        limit: 32 << 20,
    };
    assert_eq!(f.docker.wait(&hungry.name).await.unwrap(), ended);
    assert_eq!(f.docker.state(&hungry.name).await.unwrap(), ended);
    assert_eq!(
        ended.to_string(),
        "killed for exceeding its memory limit of 32Mi (exit code 137)"
    );

    // Within the limit, and a SIGKILL that is not the kernel's: plain exits.
    let mut modest = f.task("modest", "dd if=/dev/zero of=/dev/null bs=1M count=1");
    modest.resources = limits;
    f.docker.start(&modest).await.expect("start");
    assert_eq!(
        f.docker.wait(&modest.name).await.unwrap(),
        ContainerState::Exited { exit_code: 0 }
    );
    let mut killed = f.task("killed", "kill -9 $$");
    killed.resources = limits;
    f.docker.start(&killed).await.expect("start");
    assert_eq!(
        f.docker.wait(&killed.name).await.unwrap(),
        ContainerState::Exited { exit_code: 137 }
    );
}
