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

use super::docker::{DockerScheduler, log_options, registry_of, status_of};
use super::{
    AttachSession, ContainerState, LABEL_INSTANCE, LOCAL_IMAGE_PREFIX, Labels, ListedContainer,
    Scheduler, SchedulerError, SchedulerResult, StartRequest, Started,
};
use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::models::{
    LocalNodeState, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicatedJob, Task, TaskSpec, TaskSpecContainerSpec, TaskSpecPlacement,
    TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum, TaskState,
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

    fn spec(&self, request: &StartRequest) -> ServiceSpec {
        let mut labels: HashMap<String, String> = request.labels.clone().into_iter().collect();
        labels.insert(LABEL_NAME.to_owned(), request.name.clone());
        let mut constraints = self.constraints.clone();
        if request.image.starts_with(LOCAL_IMAGE_PREFIX) {
            constraints.push(format!("node.id=={}", self.node_id));
        }
        let networks = (!self.network.is_empty()).then(|| {
            vec![NetworkAttachmentConfig {
                target: Some(self.network.clone()),
                ..Default::default()
            }]
        });
        ServiceSpec {
            name: Some(service_name(&request.name)),
            labels: Some(labels.clone()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(request.image.clone()),
                    labels: Some(labels),
                    // Swarm's `Command` is the entrypoint, `Args` the command.
                    command: request.entrypoint.clone(),
                    args: request.command.clone(),
                    env: Some(
                        request
                            .env
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect(),
                    ),
                    stop_grace_period: Some(nanos(self.stop_grace_secs)),
                    // An init process as PID 1 forwards SIGTERM to the program, so a stop
                    // takes effect at once instead of after the whole grace.
                    init: Some(true),
                    ..Default::default()
                }),
                restart_policy: Some(TaskSpecRestartPolicy {
                    condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
                    ..Default::default()
                }),
                placement: (!constraints.is_empty()).then(|| TaskSpecPlacement {
                    constraints: Some(constraints),
                    ..Default::default()
                }),
                networks,
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated_job: Some(ServiceSpecModeReplicatedJob {
                    max_concurrent: Some(1),
                    total_completions: Some(1),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    async fn start_impl(&self, request: &StartRequest) -> SchedulerResult<Started> {
        if request.publish_port.is_some() {
            return Err(SchedulerError::Unsupported(format!(
                "start service '{}': publishing a port is for extensions, which always run on \
                 the local engine (docs/extensions.md#launch)",
                request.name
            )));
        }
        let credentials =
            request
                .registry_auth
                .as_ref()
                .map(|(username, password)| DockerCredentials {
                    username: Some(username.clone()),
                    password: Some(password.clone()),
                    serveraddress: registry_of(&request.image).map(str::to_owned),
                    ..Default::default()
                });
        let client = self.docker.client();
        match client.create_service(self.spec(request), credentials).await {
            Ok(created) => Ok(Started {
                id: created.id.unwrap_or_default(),
                address: None,
            }),
            // The name exists: ours (a start repeated after a crash) is adopted, never started a
            // second time; anyone else's is refused (docs/schedulers.md#what-every-scheduler-does).
            Err(e) if status_of(&e) == Some(409) => {
                let service = client
                    .inspect_service(&service_name(&request.name), None)
                    .await
                    .map_err(|e| self.err("inspect service", &request.name, &e))?;
                let labels = service.spec.and_then(|s| s.labels).unwrap_or_default();
                let theirs = labels.get(LABEL_INSTANCE);
                if theirs.is_some() && theirs == request.labels.get(LABEL_INSTANCE) {
                    Ok(Started {
                        id: service.id.unwrap_or_default(),
                        address: None,
                    })
                } else {
                    Err(SchedulerError::NameConflict {
                        name: request.name.clone(),
                        owner: theirs.map_or_else(
                            || "something other than Gofer".to_owned(),
                            |i| format!("Gofer instance {i}"),
                        ),
                    })
                }
            }
            Err(e) => Err(self.err("create service", &request.name, &e)),
        }
    }

    fn err(&self, op: &'static str, name: &str, error: &BollardError) -> SchedulerError {
        self.docker.engine_err(op, name, error)
    }

    /// The service's newest task; `Ok(None)` when it has none yet; `NotFound` when the service
    /// does not exist.
    async fn task(&self, name: &str) -> SchedulerResult<Option<Task>> {
        let client = self.docker.client();
        match client.inspect_service(name, None).await {
            Ok(_) => {}
            Err(e) if status_of(&e) == Some(404) => {
                return Err(SchedulerError::NotFound {
                    op: "inspect",
                    name: name.to_owned(),
                });
            }
            Err(e) => return Err(self.err("inspect service", name, &e)),
        }
        let filters = HashMap::from([("service", vec![name])]);
        let tasks = client
            .list_tasks(Some(
                ListTasksOptionsBuilder::new().filters(&filters).build(),
            ))
            .await
            .map_err(|e| self.err("list tasks of service", name, &e))?;
        Ok(tasks
            .into_iter()
            .max_by(|a, b| a.created_at.cmp(&b.created_at)))
    }

    async fn state_impl(&self, name: &str) -> SchedulerResult<ContainerState> {
        match self.task(name).await {
            Ok(Some(task)) => Ok(task_state(&task)),
            Ok(None) => Ok(ContainerState::Created),
            Err(SchedulerError::NotFound { .. }) => Ok(ContainerState::NotFound),
            Err(e) => Err(e),
        }
    }

    /// Waits on the engine's container `die` events for this service (tasks on this node), with
    /// a one-second re-check for tasks on other nodes; after an event, the task's state is
    /// re-read briefly until swarm has recorded the end.
    async fn wait_impl(&self, name: &str) -> SchedulerResult<ContainerState> {
        let filters = HashMap::from([
            ("type", vec!["container".to_owned()]),
            ("event", vec!["die".to_owned()]),
            ("label", vec![format!("{SERVICE_NAME_LABEL}={name}")]),
        ]);
        let mut events = self
            .docker
            .client()
            .events(Some(EventsOptionsBuilder::new().filters(&filters).build()))
            .boxed();
        let mut quick_checks = 0u32;
        loop {
            let state = self.state_impl(name).await?;
            if state.is_finished() {
                return Ok(state);
            }
            if quick_checks > 0 {
                quick_checks -= 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            tokio::select! {
                event = events.next() => match event {
                    Some(Ok(_)) => quick_checks = 100,
                    // The event stream broke: keep re-checking on the timer.
                    Some(Err(_)) | None => {
                        events = futures_util::stream::pending().boxed();
                    }
                },
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn stop_impl(&self, name: &str, grace_secs: u64) -> SchedulerResult<()> {
        let client = self.docker.client();
        let task = match self.task(name).await {
            Ok(task) => task,
            Err(SchedulerError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let local_container = task.as_ref().and_then(|t| {
            let status = t.status.as_ref()?.container_status.as_ref()?;
            (t.node_id.as_deref() == Some(self.node_id.as_str()))
                .then(|| status.container_id.clone())
                .flatten()
                .filter(|id| !id.is_empty())
        });
        match local_container {
            Some(id) => {
                let options = StopContainerOptionsBuilder::new()
                    .t(i32::try_from(grace_secs).unwrap_or(i32::MAX))
                    .build();
                match client.stop_container(&id, Some(options)).await {
                    Ok(()) => {}
                    Err(e) if matches!(status_of(&e), Some(304 | 404)) => {}
                    Err(e) => return Err(self.err("stop container of service", name, &e)),
                }
            }
            None if grace_secs != self.stop_grace_secs => {
                // On another node: the grace travels in the service spec (docs/schedulers.md#swarm).
                if let Ok(service) = client.inspect_service(name, None).await
                    && let (Some(mut spec), Some(version)) =
                        (service.spec, service.version.and_then(|v| v.index))
                {
                    if let Some(container) = spec
                        .task_template
                        .as_mut()
                        .and_then(|t| t.container_spec.as_mut())
                    {
                        container.stop_grace_period = Some(nanos(grace_secs));
                    }
                    let options = UpdateServiceOptionsBuilder::new()
                        .version(i32::try_from(version).unwrap_or(i32::MAX))
                        .build();
                    if let Err(e) = client.update_service(name, spec, options, None).await {
                        tracing::warn!(service = %name, error = %e, "could not update the stop grace");
                    }
                }
            }
            None => {}
        }
        self.delete(name).await?;
        // Resolve once this node's container of the service has stopped (bounded).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(grace_secs + 10);
        let filters = HashMap::from([("label", vec![format!("{SERVICE_NAME_LABEL}={name}")])]);
        while tokio::time::Instant::now() < deadline {
            let running = client
                .list_containers(Some(
                    ListContainersOptionsBuilder::new()
                        .filters(&filters)
                        .build(),
                ))
                .await
                .map_err(|e| self.err("list containers of service", name, &e))?;
            if running.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    async fn delete(&self, name: &str) -> SchedulerResult<()> {
        match self.docker.client().delete_service(name).await {
            Ok(()) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(self.err("remove service", name, &e)),
        }
    }

    fn read_logs(
        &self,
        name: &str,
        follow: bool,
        tail: Option<u64>,
    ) -> BoxStream<'static, SchedulerResult<Bytes>> {
        let stream = self
            .docker
            .client()
            .service_logs(name, Some(log_options(follow, tail)));
        self.docker
            .output_stream(name, "read logs of service", stream)
    }

    /// A followed log that ends when the task has finished: the live stream until then, then
    /// whatever the complete log holds beyond the bytes already delivered.
    fn followed_logs(&self, name: &str) -> BoxStream<'static, SchedulerResult<Bytes>> {
        enum Phase {
            Live {
                live: BoxStream<'static, SchedulerResult<Bytes>>,
                done: BoxFuture<'static, ()>,
                sent: usize,
            },
            Rest {
                rest: BoxStream<'static, SchedulerResult<Bytes>>,
                skip: usize,
            },
            End,
        }
        let this = self.clone();
        let owned = name.to_owned();
        let done = {
            let this = this.clone();
            let owned = owned.clone();
            async move {
                let _ = this.wait_impl(&owned).await;
            }
            .boxed()
        };
        let start = Phase::Live {
            live: self.read_logs(name, true, None),
            done,
            sent: 0,
        };
        futures_util::stream::unfold(start, move |mut phase| {
            let this = this.clone();
            let owned = owned.clone();
            async move {
                loop {
                    phase = match phase {
                        Phase::Live {
                            mut live,
                            mut done,
                            sent,
                        } => {
                            tokio::select! {
                                biased;
                                item = live.next() => match item {
                                    Some(Ok(bytes)) => {
                                        let sent = sent + bytes.len();
                                        return Some((Ok(bytes), Phase::Live { live, done, sent }));
                                    }
                                    Some(Err(e)) => return Some((Err(e), Phase::End)),
                                    None => Phase::Rest { rest: this.read_logs(&owned, false, None), skip: sent },
                                },
                                () = &mut done => Phase::Rest { rest: this.read_logs(&owned, false, None), skip: sent },
                            }
                        }
                        Phase::Rest { mut rest, skip } => match rest.next().await {
                            Some(Ok(bytes)) if bytes.len() <= skip => Phase::Rest {
                                rest,
                                skip: skip - bytes.len(),
                            },
                            Some(Ok(bytes)) => {
                                let tail = bytes.slice(skip..);
                                return Some((Ok(tail), Phase::Rest { rest, skip: 0 }));
                            }
                            // The service is gone (removed by a stop): nothing more to read.
                            Some(Err(SchedulerError::NotFound { .. })) | None => return None,
                            Some(Err(e)) => return Some((Err(e), Phase::End)),
                        },
                        Phase::End => return None,
                    };
                }
            }
        })
        .boxed()
    }

    async fn attach_impl(
        &self,
        name: &str,
        command: Vec<String>,
    ) -> SchedulerResult<AttachSession> {
        let task = self.task(name).await?.ok_or_else(|| {
            SchedulerError::Unsupported(format!(
                "attach to service '{name}': its task has not been scheduled yet"
            ))
        })?;
        let node = task.node_id.clone().unwrap_or_default();
        if node != self.node_id {
            return Err(SchedulerError::Unsupported(format!(
                "attach to service '{name}': its task runs on swarm node {node}, and attach works \
                 only for tasks on the manager node the server talks to ({})",
                self.node_id
            )));
        }
        let container = task
            .status
            .and_then(|s| s.container_status)
            .and_then(|c| c.container_id)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| SchedulerError::NotFound {
                op: "attach to",
                name: name.to_owned(),
            })?;
        self.docker.attach_impl(&container, command).await
    }

    async fn list_impl(&self, label_filter: &Labels) -> SchedulerResult<Vec<ListedContainer>> {
        let mut listed: Vec<ListedContainer> = self
            .services(label_filter)
            .await?
            .into_iter()
            .map(|(_, listed)| listed)
            .collect();
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listed)
    }

    /// The services carrying `label_filter`: service name and listing (named per docs/schedulers.md#what-every-scheduler-does).
    async fn services(
        &self,
        label_filter: &Labels,
    ) -> SchedulerResult<Vec<(String, ListedContainer)>> {
        let labels: Vec<String> = label_filter
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut builder = ListServicesOptionsBuilder::new();
        if !labels.is_empty() {
            builder = builder.filters(&HashMap::from([("label", labels)]));
        }
        let services = self
            .docker
            .client()
            .list_services(Some(builder.build()))
            .await
            .map_err(|e| self.err("list services", "labelled", &e))?;
        let mut listed = Vec::with_capacity(services.len());
        for service in services {
            let Some(spec) = service.spec else { continue };
            let Some(svc) = spec.name else { continue };
            let state = self.state_impl(&svc).await?;
            let labels: Labels = spec.labels.unwrap_or_default().into_iter().collect();
            let name = labels
                .get(LABEL_NAME)
                .cloned()
                .unwrap_or_else(|| svc.clone());
            listed.push((
                svc,
                ListedContainer {
                    name,
                    state,
                    labels,
                },
            ));
        }
        Ok(listed)
    }

    async fn remove_impl(&self, name: &str) -> SchedulerResult<()> {
        match self.state_impl(name).await? {
            ContainerState::NotFound => Ok(()),
            state if state.is_finished() => self.delete(name).await,
            state => Err(SchedulerError::Engine {
                op: "remove service",
                name: name.to_owned(),
                message: format!("its task is still {state}; stop it first"),
            }),
        }
    }

    async fn prune_impl(
        &self,
        instance_id: &str,
        is_complete: &(dyn Fn(&Labels) -> bool + Sync),
    ) -> SchedulerResult<Vec<String>> {
        let filter = Labels::from([
            (super::LABEL_MANAGED.to_owned(), "true".to_owned()),
            (LABEL_INSTANCE.to_owned(), instance_id.to_owned()),
        ]);
        let mut removed = Vec::new();
        for (svc, service) in self.services(&filter).await? {
            if matches!(
                service.state,
                ContainerState::Exited { .. } | ContainerState::Dead { .. }
            ) && is_complete(&service.labels)
            {
                self.delete(&svc).await?;
                removed.push(service.name);
            }
        }
        Ok(removed)
    }
}

fn nanos(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX)
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
