//! The swarm scheduler against a real single-node swarm (docs/schedulers.md#swarm), and a whole run through a
//! server configured with `scheduler.engine = "swarm"`.
//!
//! The local engine is made a swarm manager when it is not one yet (`.ci/run` does the same);
//! a one-node swarm leaves plain containers alone, so other tests are unaffected.

use crate::support::{TestServer, config_for};
use bytes::Bytes;
use futures_util::StreamExt;
use gofer_server::scheduler::swarm::{SwarmScheduler, SwarmSettings};
use gofer_server::scheduler::{
    ContainerState, Labels, Scheduler, SchedulerError, StartRequest, base_labels, task_labels,
};
use gofer_server::testing::{busybox_image, require_docker};
use serde_json::json;
use std::time::{Duration, Instant};

const FIXTURE_LABEL: &str = "gofer.test.fixture";

/// Makes the local engine a swarm manager if needed and connects the swarm scheduler.
async fn swarm() -> (SwarmScheduler, String) {
    let docker = require_docker()
        .await
        .expect("these tests need Docker: run .ci/ensure-docker");
    let image = busybox_image(&docker).await.expect("busybox test image");
    let info = docker.client().info().await.expect("engine info");
    let state = info.swarm.and_then(|s| s.local_node_state);
    if state != Some(bollard::models::LocalNodeState::ACTIVE) {
        let request = bollard::models::SwarmInitRequest {
            listen_addr: Some("127.0.0.1:2377".into()),
            advertise_addr: Some("127.0.0.1".into()),
            ..Default::default()
        };
        if let Err(e) = docker.client().init_swarm(request).await {
            // Another test may have initialised it at the same moment.
            let again = docker.client().info().await.expect("engine info");
            assert_eq!(
                again.swarm.and_then(|s| s.local_node_state),
                Some(bollard::models::LocalNodeState::ACTIVE),
                "docker swarm init failed: {e}"
            );
        }
    }
    let swarm = SwarmScheduler::connect(SwarmSettings {
        timeout_secs: 60,
        stop_grace_secs: 10,
        ..Default::default()
    })
    .await
    .expect("connect to the swarm manager");
    (swarm, image)
}

struct Fixture {
    swarm: SwarmScheduler,
    image: String,
    instance: String,
    id: String,
}

impl Fixture {
    async fn new() -> Fixture {
        let (swarm, image) = swarm().await;
        Fixture {
            swarm,
            image,
            instance: uuid::Uuid::new_v4().to_string(),
            id: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
        }
    }

    fn task(&self, task: &str, script: &str) -> StartRequest {
        let mut labels = task_labels(&self.instance, "it", &self.id, 1, task, 1);
        labels.insert(FIXTURE_LABEL.to_owned(), self.id.clone());
        StartRequest {
            name: format!("gofer-swarm-test.{}.{task}", self.id),
            image: self.image.clone(),
            command: Some(vec!["sh".into(), "-c".into(), script.into()]),
            labels,
            ..Default::default()
        }
    }

    async fn wait(&self, name: &str) -> ContainerState {
        tokio::time::timeout(Duration::from_secs(60), self.swarm.wait(name))
            .await
            .expect("the task should end within 60 s")
            .expect("wait")
    }
}

impl Drop for Fixture {
    /// Removes every service the test created, also while a failed test unwinds.
    fn drop(&mut self) {
        let filter = Labels::from([(FIXTURE_LABEL.to_owned(), self.id.clone())]);
        remove_services(filter);
    }
}

fn remove_services(filter: Labels) {
    let cleanup = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cleanup runtime");
        runtime.block_on(async {
            let (swarm, _) = swarm().await;
            for service in swarm.list(&filter).await.expect("list for cleanup") {
                swarm
                    .stop(&service.name, 0)
                    .await
                    .expect("stop for cleanup");
            }
        });
    });
    if cleanup.join().is_err() && !std::thread::panicking() {
        panic!("cleaning up the test services failed");
    }
}

async fn read_all(
    mut stream: futures_util::stream::BoxStream<'static, Result<Bytes, SchedulerError>>,
) -> Vec<u8> {
    tokio::time::timeout(Duration::from_secs(60), async {
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
async fn swarm_jobs_report_exit_codes_and_both_output_streams() {
    let f = Fixture::new().await;
    let ok = f.task("ok", "echo out; echo err >&2");
    f.swarm.start(&ok).await.expect("start");
    assert_eq!(
        f.wait(&ok.name).await,
        ContainerState::Exited { exit_code: 0 }
    );
    let logs = read_all(f.swarm.logs(&ok.name, false)).await;
    let text = String::from_utf8_lossy(&logs);
    assert!(text.contains("out\n") && text.contains("err\n"), "{text}");

    let failing = f.task("failing", "exit 3");
    f.swarm.start(&failing).await.expect("start");
    assert_eq!(
        f.wait(&failing.name).await,
        ContainerState::Exited { exit_code: 3 }
    );
    assert_eq!(
        f.swarm.state(&failing.name).await.expect("state"),
        ContainerState::Exited { exit_code: 3 }
    );
}

#[tokio::test]
async fn swarm_followed_logs_deliver_everything_and_end_with_the_task() {
    let f = Fixture::new().await;
    let task = f.task(
        "follow",
        "echo first; sleep 1; printf 'second\\nno newline'",
    );
    f.swarm.start(&task).await.expect("start");
    let logs = read_all(f.swarm.logs(&task.name, true)).await;
    assert_eq!(String::from_utf8_lossy(&logs), "first\nsecond\nno newline");
}

#[tokio::test]
async fn swarm_stop_kills_the_task_and_removes_the_service() {
    let f = Fixture::new().await;
    let task = f.task("sleeper", "sleep 60");
    f.swarm.start(&task).await.expect("start");
    let deadline = Instant::now() + Duration::from_secs(60);
    while f.swarm.state(&task.name).await.expect("state") != ContainerState::Running {
        assert!(Instant::now() < deadline, "the task never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Its container runs under an init process, which hands SIGTERM on to the program.
    let ids = std::process::Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &format!("label={FIXTURE_LABEL}={}", f.id),
        ])
        .output()
        .unwrap();
    let id = String::from_utf8_lossy(&ids.stdout).trim().to_owned();
    let init = std::process::Command::new("docker")
        .args(["inspect", "--format", "{{.HostConfig.Init}}", &id])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&init.stdout).trim(),
        "true",
        "container {id}"
    );
    let began = Instant::now();
    f.swarm.stop(&task.name, 0).await.expect("stop");
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "a zero-grace stop took {:?}",
        began.elapsed()
    );
    assert_eq!(
        f.swarm.state(&task.name).await.expect("state"),
        ContainerState::NotFound
    );
    // Stopping again, or stopping what never existed, succeeds.
    f.swarm.stop(&task.name, 0).await.expect("second stop");
}

#[tokio::test]
async fn swarm_missing_image_ends_dead_naming_the_image() {
    let f = Fixture::new().await;
    let mut task = f.task("missing", "true");
    task.image = format!("gofer-test/no-such-image-{}:1", f.id);
    f.swarm.start(&task).await.expect("the service is created");
    match f.wait(&task.name).await {
        ContainerState::Dead { message } => {
            assert!(message.contains(&task.image), "{message}")
        }
        other => panic!("expected dead, got {other}"),
    }
}

#[tokio::test]
async fn swarm_adopts_its_own_service_refuses_a_foreign_one_and_prunes_only_its_own() {
    let f = Fixture::new().await;
    let task = f.task("once", "echo once");
    let first = f.swarm.start(&task).await.expect("start");
    let again = f.swarm.start(&task).await.expect("start again adopts");
    assert_eq!(first.id, again.id, "the same service, not a second one");
    assert_eq!(
        f.wait(&task.name).await,
        ContainerState::Exited { exit_code: 0 }
    );
    let logs = read_all(f.swarm.logs(&task.name, false)).await;
    assert_eq!(String::from_utf8_lossy(&logs), "once\n", "ran exactly once");

    let mut foreign = task.clone();
    foreign
        .labels
        .insert("gofer.instance".into(), "someone-else".into());
    assert!(matches!(
        f.swarm.start(&foreign).await,
        Err(SchedulerError::NameConflict { .. })
    ));

    // Another instance's finished service with the same shape is never pruned.
    let mut other = f.task("other", "true");
    let other_instance = uuid::Uuid::new_v4().to_string();
    other
        .labels
        .insert("gofer.instance".into(), other_instance.clone());
    f.swarm.start(&other).await.expect("start other");
    f.wait(&other.name).await;

    let pruned = f.swarm.prune(&f.instance, &|_| true).await.expect("prune");
    assert_eq!(pruned, std::slice::from_ref(&task.name));
    assert_eq!(
        f.swarm.state(&task.name).await.expect("state"),
        ContainerState::NotFound
    );
    assert_eq!(
        f.swarm.state(&other.name).await.expect("state"),
        ContainerState::Exited { exit_code: 0 }
    );
}

/// A whole run on the swarm engine: a DAG of two tasks, variables, exit codes and stored logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_completes_on_the_swarm_engine() {
    let (_swarm, image) = swarm().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config_for(dir.path());
    config.scheduler.engine = "swarm".into();
    let s = TestServer::start_with(config).await;
    let ns = s.unique_namespace().await;
    s.deploy(
        &ns,
        json!({"id": "swarm-run", "name": "swarm", "tasks": [
            {"id": "first", "image": image, "command": ["sh", "-c", "echo from $GOFER_TASK_ID; echo to-stderr >&2"]},
            {"id": "second", "image": image, "command": ["sh", "-c", "echo second; exit 4"],
             "depends_on": {"first": "success"}}
        ]}),
    )
    .await;
    let run = s.start_run(&ns, "swarm-run", json!({})).await;
    let done = s.wait_run(&ns, "swarm-run", run).await;
    assert_eq!(done["status"], "failed", "{done}");
    let first = s
        .wait_task(&ns, "swarm-run", run, "first", |t| t["state"] == "complete")
        .await;
    assert_eq!(first["status"], "successful", "{first}");
    let second = s
        .wait_task(&ns, "swarm-run", run, "second", |t| {
            t["state"] == "complete"
        })
        .await;
    assert_eq!(
        (second["status"].clone(), second["exit_code"].clone()),
        (json!("failed"), json!(4))
    );
    let logs = String::from_utf8(s.logs(&ns, "swarm-run", run, "first").await).expect("utf-8");
    assert!(
        logs.contains("from first\n") && logs.contains("to-stderr\n"),
        "{logs}"
    );
    assert_eq!(s.logs(&ns, "swarm-run", run, "second").await, b"second\n");

    let instance = s
        .store()
        .read(|st| st.instance_id())
        .await
        .expect("instance id");
    s.stop().await;
    remove_services(base_labels(&instance, "task"));
}

/// docs/pipelines.md#task-resources on swarm: the limits (and the same reservation) are in the
/// service's spec, and a task killed for its memory limit ends out of memory with the limit.
#[tokio::test]
async fn swarm_resources_are_limits_and_reservations_and_out_of_memory_is_reported() {
    let f = Fixture::new().await;
    // The allocation starts a second in: a kill in a container's first milliseconds can escape
    // the engine's out-of-memory notice on cgroup v1 (docs/pipelines.md#task-resources).
    let mut hungry = f.task(
        "hungry",
        "sleep 1; dd if=/dev/zero of=/dev/null bs=200M count=1",
    );
    hungry.resources = gofer_core::resources::TaskResources {
        cpus: Some(gofer_core::resources::Cpus(500)),
        memory: Some(32 << 20),
    };
    hungry.log_driver = Some("json-file".into());
    f.swarm.start(&hungry).await.expect("start");
    let docker = require_docker().await.expect("docker");
    let service = docker
        .client()
        .inspect_service(
            &gofer_server::scheduler::swarm::service_name(&hungry.name),
            None,
        )
        .await
        .expect("inspect service");
    let template = service
        .spec
        .and_then(|s| s.task_template)
        .expect("a task template");
    assert_eq!(
        template.log_driver.and_then(|d| d.name).as_deref(),
        Some("json-file"),
        "scheduler.swarm.log_driver reaches the service"
    );
    let resources = template.resources.expect("resources in the spec");
    let limits = resources.limits.expect("limits");
    assert_eq!(
        (limits.nano_cpus, limits.memory_bytes),
        (Some(500_000_000), Some(32 << 20))
    );
    let reservations = resources.reservations.expect("reservations");
    assert_eq!(
        (reservations.nano_cpus, reservations.memory_bytes),
        (Some(500_000_000), Some(32 << 20))
    );
    assert_eq!(
        f.wait(&hungry.name).await,
        ContainerState::OutOfMemory {
            exit_code: 137,
            limit: 32 << 20
        }
    );
}
