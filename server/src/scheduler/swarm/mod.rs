//! The `swarm` engine (docs/schedulers.md#swarm): each attempt is a Docker service in `replicated-job` mode
//! (one task, never restarted) on a swarm manager, named and labelled like a container
//! (docs/schedulers.md#what-every-scheduler-does). State comes from the service's task; logs from the service-logs API.
//!
//! Decisions where docs/schedulers.md#swarm leaves room (docs/decisions.md):
//! - Swarm nodes pull images themselves (a failed pull of an image present on the node is only
//!   logged by the engine), so `always_pull_newest_image` has no separate effect here.
//! - Updating a job service makes the engine run the job again, so `stop` stops the task's
//!   container directly with the requested grace when it runs on this node; only for tasks on
//!   other nodes does it update the service's grace period first. Then the service is removed.
//! - A followed service-log stream never ends by itself; it ends here when the task has
//!   finished, after re-reading the complete log for anything the live stream had not delivered.
//!
//! `mod.rs`: connecting, service names and the `Scheduler` impl; `start.rs` (the service spec);
//! `tasks.rs` (state, wait, stop); `output.rs` (logs, attach); `listing.rs` (list, remove, prune).

mod listing;
mod output;
mod start;
mod tasks;

use super::docker::{DockerScheduler, log_options, registry_of, status_of};
use super::{
    AttachSession, ContainerState, LABEL_INSTANCE, LOCAL_IMAGE_PREFIX, Labels, ListedContainer,
    Scheduler, SchedulerError, SchedulerResult, StartRequest, Started,
};
use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::models::{
    Limit, LocalNodeState, NetworkAttachmentConfig, ResourceObject, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicatedJob, Task, TaskSpec, TaskSpecContainerSpec, TaskSpecLogDriver,
    TaskSpecPlacement, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::query_parameters::{
    EventsOptionsBuilder, ListContainersOptionsBuilder, ListServicesOptionsBuilder,
    ListTasksOptionsBuilder, StopContainerOptionsBuilder, UpdateServiceOptionsBuilder,
};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};
use std::collections::HashMap;
use std::time::Duration;

/// The label swarm puts on a service's containers.
const SERVICE_NAME_LABEL: &str = "com.docker.swarm.service.name";
/// Our label holding the docs/schedulers.md#what-every-scheduler-does name of a service (service names must be DNS labels).
const LABEL_NAME: &str = "gofer.name";

/// The service name for a docs/schedulers.md#what-every-scheduler-does container name. Swarm requires a DNS label (letters,
/// digits and `-`, at most 63 characters), which `gofer.<ns>.<p>.<run>.<task>.<attempt>` is
/// not; the name is kept readable where it fits and made unique by a stable hash of the whole
/// name. The docs/schedulers.md#what-every-scheduler-does name itself is on the service as the `gofer.name` label.
pub fn service_name(name: &str) -> String {
    let mut readable = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if !(c == '-' && readable.ends_with('-')) {
            readable.push(c);
        }
    }
    let readable = readable.trim_matches('-');
    let readable = readable[..readable.len().min(46)].trim_end_matches('-');
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{readable}-{hash:016x}")
}

/// A scheduler on a swarm manager. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SwarmScheduler {
    docker: DockerScheduler,
    /// The manager node the server talks to (`gofer.local/` images run only there, and attach
    /// works only there).
    node_id: String,
    network: String,
    constraints: Vec<String>,
    /// Stop grace written into every service (`api.task_execution_stop_timeout`).
    stop_grace_secs: u64,
}

/// Where and how to run services (`scheduler.swarm.*`, `api.task_execution_stop_timeout`).
#[derive(Debug, Clone, Default)]
pub struct SwarmSettings {
    pub host: String,
    pub timeout_secs: u64,
    pub network: String,
    pub constraints: Vec<String>,
    pub stop_grace_secs: u64,
}

impl SwarmScheduler {
    /// Connects like [`DockerScheduler::connect`] and checks that the engine is an active swarm
    /// manager; otherwise fails with a message saying how to make it one.
    pub async fn connect(settings: SwarmSettings) -> SchedulerResult<Self> {
        let docker = DockerScheduler::connect(&settings.host, settings.timeout_secs).await?;
        let info = docker
            .client()
            .info()
            .await
            .map_err(|e| SchedulerError::Unreachable {
                host: docker.host().to_owned(),
                message: docker.describe(&e),
            })?;
        let swarm = info.swarm.unwrap_or_default();
        let manager = swarm.local_node_state == Some(LocalNodeState::ACTIVE)
            && swarm.control_available == Some(true);
        let node_id = swarm.node_id.filter(|id| !id.is_empty());
        match (manager, node_id) {
            (true, Some(node_id)) => Ok(SwarmScheduler {
                docker,
                node_id,
                network: settings.network,
                constraints: settings.constraints,
                stop_grace_secs: settings.stop_grace_secs,
            }),
            _ => Err(SchedulerError::Unreachable {
                host: docker.host().to_owned(),
                message: "scheduler.engine is \"swarm\" but this engine is not a swarm manager \
                          (run `docker swarm init` on it, or set scheduler.engine = \"docker\")"
                    .to_owned(),
            }),
        }
    }

    /// The swarm node id of the manager the server talks to.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    fn err(&self, op: &'static str, name: &str, error: &BollardError) -> SchedulerError {
        self.docker.engine_err(op, name, error)
    }
}

/// A swarm task's state as a container state (docs/schedulers.md#swarm).
pub fn task_state(task: &Task) -> ContainerState {
    let status = task.status.clone().unwrap_or_default();
    let message = || {
        status
            .err
            .clone()
            .filter(|e| !e.is_empty())
            .or_else(|| status.message.clone().filter(|m| !m.is_empty()))
            .unwrap_or_else(|| "the swarm task ended without a message".to_owned())
    };
    match status.state {
        None
        | Some(
            TaskState::NEW
            | TaskState::ALLOCATED
            | TaskState::PENDING
            | TaskState::ASSIGNED
            | TaskState::ACCEPTED
            | TaskState::PREPARING
            | TaskState::READY
            | TaskState::STARTING,
        ) => ContainerState::Created,
        Some(TaskState::RUNNING) => ContainerState::Running,
        Some(TaskState::COMPLETE) => ContainerState::Exited { exit_code: 0 },
        Some(TaskState::FAILED) => match status.container_status.and_then(|c| c.exit_code) {
            Some(exit_code) => ContainerState::Exited { exit_code },
            None => ContainerState::Dead { message: message() },
        },
        Some(
            TaskState::REJECTED | TaskState::ORPHANED | TaskState::SHUTDOWN | TaskState::REMOVE,
        ) => ContainerState::Dead { message: message() },
    }
}

impl Scheduler for SwarmScheduler {
    fn start<'a>(&'a self, request: &'a StartRequest) -> BoxFuture<'a, SchedulerResult<Started>> {
        self.start_impl(request).boxed()
    }

    fn stop<'a>(&'a self, name: &'a str, grace_secs: u64) -> BoxFuture<'a, SchedulerResult<()>> {
        let svc = service_name(name);
        async move { self.stop_impl(&svc, grace_secs).await }.boxed()
    }

    fn state<'a>(&'a self, name: &'a str) -> BoxFuture<'a, SchedulerResult<ContainerState>> {
        let svc = service_name(name);
        async move { self.state_impl(&svc).await }.boxed()
    }

    fn wait<'a>(&'a self, name: &'a str) -> BoxFuture<'a, SchedulerResult<ContainerState>> {
        let svc = service_name(name);
        async move { self.wait_impl(&svc).await }.boxed()
    }

    fn logs(&self, name: &str, follow: bool) -> BoxStream<'static, SchedulerResult<Bytes>> {
        let svc = service_name(name);
        if follow {
            self.followed_logs(&svc)
        } else {
            self.read_logs(&svc, false, None)
        }
    }

    fn logs_tail(&self, name: &str, lines: u64) -> BoxStream<'static, SchedulerResult<Bytes>> {
        self.read_logs(&service_name(name), false, Some(lines))
    }

    fn attach<'a>(
        &'a self,
        name: &'a str,
        command: Vec<String>,
    ) -> BoxFuture<'a, SchedulerResult<AttachSession>> {
        let svc = service_name(name);
        async move { self.attach_impl(&svc, command).await }.boxed()
    }

    fn list<'a>(
        &'a self,
        label_filter: &'a Labels,
    ) -> BoxFuture<'a, SchedulerResult<Vec<ListedContainer>>> {
        self.list_impl(label_filter).boxed()
    }

    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, SchedulerResult<()>> {
        let svc = service_name(name);
        async move { self.remove_impl(&svc).await }.boxed()
    }

    fn prune<'a>(
        &'a self,
        instance_id: &'a str,
        is_complete: &'a (dyn Fn(&Labels) -> bool + Sync),
    ) -> BoxFuture<'a, SchedulerResult<Vec<String>>> {
        self.prune_impl(instance_id, is_complete).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerStatus, TaskStatus};

    fn task(state: TaskState, exit_code: Option<i64>, err: &str) -> Task {
        Task {
            status: Some(TaskStatus {
                state: Some(state),
                err: Some(err.to_owned()),
                container_status: Some(ContainerStatus {
                    exit_code,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn service_names_are_dns_labels_unique_per_container_name() {
        let long = format!("gofer.{}.{}.12.build_all.1", "n".repeat(32), "p".repeat(32));
        for name in [
            "gofer.default.simple.1.first.1",
            long.as_str(),
            "gofer.a_b.c.1.t.2",
        ] {
            let svc = service_name(name);
            assert!(svc.len() <= 63, "{svc}");
            assert!(
                svc.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{svc}"
            );
            assert!(!svc.starts_with('-') && !svc.ends_with('-'), "{svc}");
            assert_eq!(svc, service_name(name), "stable");
        }
        assert_eq!(
            &service_name("gofer.default.simple.1.first.1")[..30],
            "gofer-default-simple-1-first-1"
        );
        assert_ne!(
            service_name("gofer.a_b.c.1.t.1"),
            service_name("gofer.a-b.c.1.t.1"),
            "names that sanitise alike stay distinct"
        );
    }

    #[test]
    fn task_states_map_as_spec_13_3_says() {
        assert_eq!(
            task_state(&task(TaskState::PREPARING, None, "")),
            ContainerState::Created
        );
        assert_eq!(
            task_state(&task(TaskState::RUNNING, None, "")),
            ContainerState::Running
        );
        assert_eq!(
            task_state(&task(TaskState::COMPLETE, Some(0), "")),
            ContainerState::Exited { exit_code: 0 }
        );
        assert_eq!(
            task_state(&task(TaskState::FAILED, Some(3), "task: non-zero exit (3)")),
            ContainerState::Exited { exit_code: 3 }
        );
        assert_eq!(
            task_state(&task(TaskState::REJECTED, None, "No such image: x:1")),
            ContainerState::Dead {
                message: "No such image: x:1".into()
            }
        );
        assert_eq!(
            task_state(&Task::default()),
            ContainerState::Created,
            "a task without status has not started"
        );
    }
}
