//! The `docker` engine (docs/schedulers.md#docker): one container per attempt on a local Docker engine, driven
//! through bollard over the unix socket.
//!
//! Latency matters (a task should cost about what `docker run` costs), so `start` is
//! create + start with no preliminary inspections: a missing image shows up as a 404 from
//! create, a name clash as a 409, and only then do we pull or inspect.

use super::{
    AttachSession, ContainerState, LABEL_INSTANCE, LABEL_MANAGED, Labels, ListedContainer, Output,
    Scheduler, SchedulerError, SchedulerResult, StartRequest, Started, is_local_image,
};
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerStateStatusEnum, ContainerSummaryStateEnum, EventMessage,
    ExecConfig, HostConfig, PortBinding,
};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    EventsOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    LogsOptionsBuilder, StopContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

/// Options for reading stdout and stderr, optionally following, optionally only the last lines.
pub(super) fn log_options(
    follow: bool,
    tail: Option<u64>,
) -> bollard::query_parameters::LogsOptions {
    let mut builder = LogsOptionsBuilder::new()
        .follow(follow)
        .stdout(true)
        .stderr(true);
    if let Some(lines) = tail {
        builder = builder.tail(&lines.to_string());
    }
    builder.build()
}

/// The socket used when neither `scheduler.docker.host` nor `DOCKER_HOST` says otherwise.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// A scheduler on one Docker engine. Cheap to clone (the client is shared).
#[derive(Debug, Clone)]
pub struct DockerScheduler {
    docker: Docker,
    host: String,
    timeout_secs: u64,
    /// Held (shared) by containers that died but that the engine is still tearing down; a
    /// start waits for them (see [`Self::wait_impl`]).
    settling: Arc<RwLock<()>>,
}

/// How long a start waits for died containers to be torn down before it goes ahead anyway.
const SETTLE_MAX: Duration = Duration::from_secs(1);

impl DockerScheduler {
    /// Connects to `host` (`unix:///path` or a socket path; empty = `DOCKER_HOST` or the default
    /// socket), negotiates the API version and fails with [`SchedulerError::Unreachable`] when no
    /// engine answers. Every request then times out after `timeout_secs` (at least 1) waiting
    /// for the engine's answer; long-lived answers (wait, followed logs) are not cut off.
    pub async fn connect(host: &str, timeout_secs: u64) -> SchedulerResult<Self> {
        let timeout_secs = timeout_secs.max(1);
        let shown = if host.is_empty() {
            std::env::var("DOCKER_HOST")
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| DEFAULT_HOST.to_owned())
        } else if host.starts_with('/') {
            format!("unix://{host}")
        } else {
            host.to_owned()
        };
        let unreachable = |message: String| SchedulerError::Unreachable {
            host: shown.clone(),
            message,
        };
        let docker = Docker::connect_with_host(&shown)
            .map_err(|e| unreachable(e.to_string()))?
            .with_timeout(Duration::from_secs(timeout_secs))
            .negotiate_version()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Self {
            docker,
            host: shown,
            timeout_secs,
            settling: Arc::default(),
        })
    }

    /// The bollard client, for callers that need an engine API this contract does not cover
    /// (image builds, test fixtures).
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    /// The gateway address of the default `bridge` network (the host as task containers see
    /// it), when the engine has that network.
    pub async fn bridge_gateway(&self) -> Option<std::net::IpAddr> {
        let network = self
            .docker
            .inspect_network(
                "bridge",
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
            .ok()?;
        network
            .ipam?
            .config?
            .into_iter()
            .filter_map(|c| c.gateway?.parse().ok())
            .next()
    }

    /// The engine address in use, e.g. `unix:///var/run/docker.sock`.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn describe(&self, error: &BollardError) -> String {
        match error {
            BollardError::DockerResponseServerError { message, .. } => message.clone(),
            BollardError::DockerStreamError { error } => error.clone(),
            BollardError::RequestTimeoutError => format!(
                "the Docker engine did not answer within {}s (scheduler.docker.timeout)",
                self.timeout_secs
            ),
            other => other.to_string(),
        }
    }

    pub(super) fn engine_err(
        &self,
        op: &'static str,
        name: &str,
        error: &BollardError,
    ) -> SchedulerError {
        SchedulerError::Engine {
            op,
            name: name.to_owned(),
            message: self.describe(error),
        }
    }

    async fn start_impl(&self, request: &StartRequest) -> SchedulerResult<Started> {
        Ok(self.start_with(request, false).await?.0)
    }

    /// Creates (or adopts) the container, optionally attaches to its output before starting it
    /// (so not one byte is missed), then starts it.
    async fn start_with(
        &self,
        request: &StartRequest,
        attach: bool,
    ) -> SchedulerResult<(Started, Option<BoxStream<'static, SchedulerResult<Bytes>>>)> {
        let local = is_local_image(&request.image);
        if request.always_pull && !local {
            self.pull(request).await?;
        }
        let id = match self.create(request).await {
            Ok(id) => id,
            Err(e) if status_of(&e) == Some(404) => {
                if local {
                    return Err(SchedulerError::LocalImageMissing {
                        image: request.image.clone(),
                    });
                }
                self.pull(request).await?;
                match self.create(request).await {
                    Ok(id) => id,
                    Err(e) if status_of(&e) == Some(409) => self.adopt(request).await?,
                    Err(e) => return Err(self.engine_err("create container", &request.name, &e)),
                }
            }
            Err(e) if status_of(&e) == Some(409) => self.adopt(request).await?,
            Err(e) => return Err(self.engine_err("create container", &request.name, &e)),
        };
        let output = if attach {
            let options = AttachContainerOptionsBuilder::new()
                .stream(true)
                .stdout(true)
                .stderr(true)
                .logs(false)
                .build();
            match self
                .docker
                .attach_container(&request.name, Some(options))
                .await
            {
                Ok(attached) => Some(self.output_stream(
                    &request.name,
                    "read output of container",
                    attached.output,
                )),
                Err(e) => {
                    // Still startable: the caller falls back to following the engine's log.
                    tracing::warn!(container = %request.name, error = %e,
                        "could not attach before start; following the log instead");
                    None
                }
            }
        } else {
            None
        };
        // Docker tears a died container down (network, mounts) after reporting `die`; a start
        // that overlaps that takes 150 ms or more longer than waiting for it (measured on
        // Docker 20.10), so let the teardown finish first.
        let _ = tokio::time::timeout(SETTLE_MAX, self.settling.write()).await;
        if let Err(e) = self.docker.start_container(&request.name, None).await {
            let error = self.engine_err("start container", &request.name, &e);
            // A container that failed to start (e.g. its executable is missing) would stay
            // `created` forever, which pruning never removes; it is ours, so drop it.
            if let Err(cleanup) = self.remove_impl(&request.name).await {
                tracing::warn!(container = %request.name, error = %cleanup,
                    "could not remove a container that failed to start");
            }
            return Err(error);
        }
        let address = match request.publish_port {
            Some(port) => Some(self.published_address(&request.name, port).await?),
            None => None,
        };
        Ok((Started { id, address }, output))
    }

    async fn create(&self, request: &StartRequest) -> Result<String, BollardError> {
        let mut host_config = HostConfig {
            auto_remove: Some(false),
            // PID 1 ignores signals it has no handler for, so a shell script as PID 1 would sit
            // out a stop's whole grace: Docker's init process forwards SIGTERM to the program.
            init: Some(true),
            ..Default::default()
        };
        let mut exposed_ports = None;
        if let Some(port) = request.publish_port {
            let key = format!("{port}/tcp");
            let binding = PortBinding {
                host_ip: Some("127.0.0.1".to_owned()),
                host_port: Some(String::new()),
            };
            host_config.port_bindings = Some(HashMap::from([(key.clone(), Some(vec![binding]))]));
            exposed_ports = Some(vec![key]);
        }
        let body = ContainerCreateBody {
            image: Some(request.image.clone()),
            env: Some(
                request
                    .env
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
            ),
            entrypoint: request.entrypoint.clone(),
            cmd: request.command.clone(),
            labels: Some(request.labels.clone().into_iter().collect()),
            tty: Some(false),
            exposed_ports,
            host_config: Some(host_config),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new()
            .name(&request.name)
            .build();
        Ok(self.docker.create_container(Some(options), body).await?.id)
    }

    /// A container with the requested name exists: start it only if it is ours and was never
    /// started (docs/schedulers.md#what-every-scheduler-does, docs/runs.md#restart-recovery).
    async fn adopt(&self, request: &StartRequest) -> SchedulerResult<String> {
        let info = self
            .docker
            .inspect_container(&request.name, None)
            .await
            .map_err(|e| self.engine_err("inspect container", &request.name, &e))?;
        let labels = info.config.and_then(|c| c.labels).unwrap_or_default();
        let theirs = labels.get(LABEL_INSTANCE);
        if theirs.is_none() || theirs != request.labels.get(LABEL_INSTANCE) {
            return Err(SchedulerError::NameConflict {
                name: request.name.clone(),
                owner: match theirs {
                    Some(instance) => format!("Gofer instance {instance}"),
                    None => "something other than Gofer".to_owned(),
                },
            });
        }
        match state_of(info.state) {
            ContainerState::Created => Ok(info.id.unwrap_or_default()),
            state => Err(SchedulerError::AlreadyStarted {
                name: request.name.clone(),
                state,
            }),
        }
    }

    async fn pull(&self, request: &StartRequest) -> SchedulerResult<()> {
        let image = &request.image;
        let options = CreateImageOptionsBuilder::new()
            .from_image(&with_default_tag(image))
            .build();
        let credentials =
            request
                .registry_auth
                .as_ref()
                .map(|(username, password)| DockerCredentials {
                    username: Some(username.clone()),
                    password: Some(password.clone()),
                    serveraddress: registry_of(image).map(str::to_owned),
                    ..Default::default()
                });
        tracing::info!(image = %image, "pulling image");
        self.docker
            .create_image(Some(options), None, credentials)
            .try_for_each(|_| futures_util::future::ready(Ok(())))
            .await
            .map_err(|e| SchedulerError::ImageUnavailable {
                image: image.clone(),
                message: self.describe(&e),
            })
    }

    async fn published_address(&self, name: &str, port: u16) -> SchedulerResult<String> {
        let info = self
            .docker
            .inspect_container(name, None)
            .await
            .map_err(|e| self.engine_err("inspect container", name, &e))?;
        let key = format!("{port}/tcp");
        info.network_settings
            .and_then(|n| n.ports)
            .and_then(|mut ports| ports.remove(&key).flatten())
            .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port))
            .filter(|p| !p.is_empty())
            .map(|p| format!("127.0.0.1:{p}"))
            .ok_or_else(|| SchedulerError::Engine {
                op: "publish port of container",
                name: name.to_owned(),
                message: format!("the engine reports no host port for {key}"),
            })
    }

    async fn stop_impl(&self, name: &str, grace_secs: u64) -> SchedulerResult<()> {
        let result = if grace_secs == 0 {
            let options = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
            self.docker.kill_container(name, Some(options)).await
        } else {
            // The engine answers a stop only once the container has stopped, up to the grace
            // period later: give this one request that much more time.
            let docker = self
                .docker
                .clone()
                .with_timeout(Duration::from_secs(self.timeout_secs + grace_secs));
            let grace = i32::try_from(grace_secs).unwrap_or(i32::MAX);
            let options = StopContainerOptionsBuilder::new().t(grace).build();
            docker.stop_container(name, Some(options)).await
        };
        match result {
            Ok(()) => {}
            // 304: already stopped; 404: missing; 409: kill on a container that is not running.
            Err(e) if matches!(status_of(&e), Some(304 | 404 | 409)) => return Ok(()),
            Err(e) => return Err(self.engine_err("stop container", name, &e)),
        }
        if grace_secs == 0 {
            // A kill returns once the signal is sent; the contract promises a stopped container.
            self.wait_impl(name).await?;
        }
        Ok(())
    }

    async fn state_impl(&self, name: &str) -> SchedulerResult<ContainerState> {
        match self.docker.inspect_container(name, None).await {
            Ok(info) => Ok(state_of(info.state)),
            Err(e) if status_of(&e) == Some(404) => Ok(ContainerState::NotFound),
            Err(e) => Err(self.engine_err("inspect container", name, &e)),
        }
    }

    /// Waits for the container to stop. Docker reports a container `not-running` only after it
    /// has released its network and mounts, some 40 ms after the process exited; the `die` event
    /// carries the exit code as soon as the process is gone. Both are raced: the event is the fast
    /// path, the wait API the authority (it also answers for a container that stopped before the
    /// event subscription was in place, or that does not exist).
    async fn wait_impl(&self, name: &str) -> SchedulerResult<ContainerState> {
        let filters = HashMap::from([
            ("type", vec!["container".to_owned()]),
            ("event", vec!["die".to_owned()]),
            ("container", vec![name.to_owned()]),
        ]);
        // No `since`: only a die after subscribing is seen, and only the container that holds
        // this name now can die after that.
        let mut died = self
            .docker
            .events(Some(EventsOptionsBuilder::new().filters(&filters).build()))
            .boxed();
        let waited = self.wait_api(name);
        tokio::pin!(waited);
        loop {
            tokio::select! {
                state = &mut waited => return state,
                event = died.next() => match event.map(|e| e.map(|m| die_exit_code(&m, name))) {
                    Some(Ok(Some(exit_code))) => {
                        self.settle(name);
                        return Ok(ContainerState::Exited { exit_code });
                    }
                    Some(Ok(None)) => {}
                    // The event stream broke: the wait API still answers.
                    Some(Err(_)) | None => died = futures_util::stream::pending().boxed(),
                }
            }
        }
    }

    /// Holds the settling lock until the engine reports the died container `name` stopped (its
    /// teardown done) or [`SETTLE_MAX`] passed. Best effort: skipped while a start holds the lock.
    fn settle(&self, name: &str) {
        let Ok(guard) = self.settling.clone().try_read_owned() else {
            return;
        };
        let this = self.clone();
        let name = name.to_owned();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(SETTLE_MAX, this.wait_api(&name)).await;
            drop(guard);
        });
    }

    async fn wait_api(&self, name: &str) -> SchedulerResult<ContainerState> {
        let options = WaitContainerOptionsBuilder::new()
            .condition("not-running")
            .build();
        let mut answers = self.docker.wait_container(name, Some(options));
        match answers.next().await {
            Some(Ok(answer)) => Ok(ContainerState::Exited {
                exit_code: answer.status_code,
            }),
            // bollard reports a non-zero exit as an error; for us it is a result.
            Some(Err(BollardError::DockerContainerWaitError { code, .. })) => {
                Ok(ContainerState::Exited { exit_code: code })
            }
            Some(Err(e)) if status_of(&e) == Some(404) => Ok(ContainerState::NotFound),
            Some(Err(e)) => Err(self.engine_err("wait for container", name, &e)),
            None => Err(SchedulerError::Engine {
                op: "wait for container",
                name: name.to_owned(),
                message: "the engine ended the wait without a result".to_owned(),
            }),
        }
    }

    fn logs_impl(
        &self,
        name: &str,
        follow: bool,
        tail: Option<u64>,
    ) -> BoxStream<'static, SchedulerResult<Bytes>> {
        let stream = self.docker.logs(name, Some(log_options(follow, tail)));
        self.output_stream(name, "read logs of container", stream)
    }

    /// Raw bytes of an engine output stream (logs, service logs, attach); a 404 becomes
    /// [`SchedulerError::NotFound`], other failures name `op` and `name`.
    pub(super) fn output_stream(
        &self,
        name: &str,
        op: &'static str,
        stream: impl futures_util::Stream<Item = Result<bollard::container::LogOutput, BollardError>>
        + Send
        + 'static,
    ) -> BoxStream<'static, SchedulerResult<Bytes>> {
        let this = self.clone();
        let owned = name.to_owned();
        stream
            .map(move |item| match item {
                Ok(output) => Ok(output.into_bytes()),
                Err(e) if status_of(&e) == Some(404) => Err(SchedulerError::NotFound {
                    op: "read logs of",
                    name: owned.clone(),
                }),
                Err(e) => Err(this.engine_err(op, &owned, &e)),
            })
            .boxed()
    }

    pub(super) async fn attach_impl(
        &self,
        name: &str,
        command: Vec<String>,
    ) -> SchedulerResult<AttachSession> {
        let config = ExecConfig {
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(true),
            cmd: Some(command),
            ..Default::default()
        };
        let exec = match self.docker.create_exec(name, config).await {
            Ok(exec) => exec,
            Err(e) if status_of(&e) == Some(404) => {
                return Err(SchedulerError::NotFound {
                    op: "attach to",
                    name: name.to_owned(),
                });
            }
            Err(e) => return Err(self.engine_err("attach to container", name, &e)),
        };
        let options = StartExecOptions {
            detach: false,
            tty: true,
            output_capacity: None,
        };
        let started = self
            .docker
            .start_exec(&exec.id, Some(options))
            .await
            .map_err(|e| self.engine_err("attach to container", name, &e))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(SchedulerError::Engine {
                op: "attach to container",
                name: name.to_owned(),
                message: "the engine started the command detached".to_owned(),
            });
        };
        let this = self.clone();
        let owned = name.to_owned();
        let output = output
            .map(move |item| {
                item.map(|o| o.into_bytes())
                    .map_err(|e| this.engine_err("read terminal of container", &owned, &e))
            })
            .boxed();
        let this = self.clone();
        let owned = name.to_owned();
        let exit_code = async move {
            // The exec API has no wait; once the output has ended the command has exited, so
            // this normally answers on the first inspection.
            loop {
                let info = this
                    .docker
                    .inspect_exec(&exec.id)
                    .await
                    .map_err(|e| this.engine_err("inspect command in container", &owned, &e))?;
                if info.running != Some(true) {
                    return Ok(info.exit_code.unwrap_or(-1));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        .boxed();
        Ok(AttachSession {
            stdin: input,
            output,
            exit_code,
        })
    }

    async fn list_impl(&self, label_filter: &Labels) -> SchedulerResult<Vec<ListedContainer>> {
        let mut builder = ListContainersOptionsBuilder::new().all(true);
        if !label_filter.is_empty() {
            let labels: Vec<String> = label_filter
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            builder = builder.filters(&HashMap::from([("label", labels)]));
        }
        let summaries = self
            .docker
            .list_containers(Some(builder.build()))
            .await
            .map_err(|e| {
                self.engine_err(
                    "list containers labelled",
                    &describe_labels(label_filter),
                    &e,
                )
            })?;
        let mut listed = Vec::with_capacity(summaries.len());
        for summary in summaries {
            let Some(name) = summary
                .names
                .as_ref()
                .and_then(|names| names.first())
                .map(|n| n.trim_start_matches('/').to_owned())
            else {
                continue;
            };
            let state = match summary_state(summary.state, summary.status.as_deref()) {
                Some(state) => state,
                // The summary lacks what we need (e.g. an exit code in an unexpected format).
                None => self.state_impl(&name).await?,
            };
            let labels = summary.labels.unwrap_or_default().into_iter().collect();
            listed.push(ListedContainer {
                name,
                state,
                labels,
            });
        }
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listed)
    }

    async fn remove_impl(&self, name: &str) -> SchedulerResult<()> {
        match self.docker.remove_container(name, None).await {
            Ok(()) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(self.engine_err("remove container", name, &e)),
        }
    }

    async fn prune_impl(
        &self,
        instance_id: &str,
        is_complete: &(dyn Fn(&Labels) -> bool + Sync),
    ) -> SchedulerResult<Vec<String>> {
        let filter = Labels::from([
            (LABEL_MANAGED.to_owned(), "true".to_owned()),
            (LABEL_INSTANCE.to_owned(), instance_id.to_owned()),
        ]);
        let mut removed = Vec::new();
        for container in self.list_impl(&filter).await? {
            if matches!(container.state, ContainerState::Exited { .. })
                && is_complete(&container.labels)
            {
                self.remove_impl(&container.name).await?;
                removed.push(container.name);
            }
        }
        Ok(removed)
    }
}

impl Scheduler for DockerScheduler {
    fn start<'a>(&'a self, request: &'a StartRequest) -> BoxFuture<'a, SchedulerResult<Started>> {
        self.start_impl(request).boxed()
    }

    fn start_attached<'a>(
        &'a self,
        request: &'a StartRequest,
    ) -> BoxFuture<'a, SchedulerResult<(Started, Output)>> {
        async move {
            let (started, output) = self.start_with(request, true).await?;
            let output = match output {
                Some(stream) => Output {
                    stream,
                    attached: true,
                },
                None => Output {
                    stream: self.logs(&request.name, true),
                    attached: false,
                },
            };
            Ok((started, output))
        }
        .boxed()
    }

    fn stop<'a>(&'a self, name: &'a str, grace_secs: u64) -> BoxFuture<'a, SchedulerResult<()>> {
        self.stop_impl(name, grace_secs).boxed()
    }

    fn state<'a>(&'a self, name: &'a str) -> BoxFuture<'a, SchedulerResult<ContainerState>> {
        self.state_impl(name).boxed()
    }

    fn wait<'a>(&'a self, name: &'a str) -> BoxFuture<'a, SchedulerResult<ContainerState>> {
        self.wait_impl(name).boxed()
    }

    fn logs(&self, name: &str, follow: bool) -> BoxStream<'static, SchedulerResult<Bytes>> {
        self.logs_impl(name, follow, None)
    }

    fn logs_tail(&self, name: &str, lines: u64) -> BoxStream<'static, SchedulerResult<Bytes>> {
        self.logs_impl(name, false, Some(lines))
    }

    fn attach<'a>(
        &'a self,
        name: &'a str,
        command: Vec<String>,
    ) -> BoxFuture<'a, SchedulerResult<AttachSession>> {
        self.attach_impl(name, command).boxed()
    }

    fn list<'a>(
        &'a self,
        label_filter: &'a Labels,
    ) -> BoxFuture<'a, SchedulerResult<Vec<ListedContainer>>> {
        self.list_impl(label_filter).boxed()
    }

    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, SchedulerResult<()>> {
        self.remove_impl(name).boxed()
    }

    fn prune<'a>(
        &'a self,
        instance_id: &'a str,
        is_complete: &'a (dyn Fn(&Labels) -> bool + Sync),
    ) -> BoxFuture<'a, SchedulerResult<Vec<String>>> {
        self.prune_impl(instance_id, is_complete).boxed()
    }
}

/// The exit code a container `die` event reports, when the event is about the container `name`
/// (the engine's `container` filter also matches id prefixes) and carries a readable code.
fn die_exit_code(event: &EventMessage, name: &str) -> Option<i64> {
    let attributes = event.actor.as_ref()?.attributes.as_ref()?;
    if attributes.get("name").map(String::as_str) != Some(name) {
        return None;
    }
    attributes.get("exitCode")?.parse().ok()
}

pub(crate) fn status_of(error: &BollardError) -> Option<u16> {
    match error {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn state_of(state: Option<bollard::models::ContainerState>) -> ContainerState {
    let state = state.unwrap_or_default();
    match state.status {
        Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
        // `stopping` is still running as far as an attempt is concerned.
        Some(ContainerStateStatusEnum::RUNNING | ContainerStateStatusEnum::STOPPING) => {
            ContainerState::Running
        }
        Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerStateStatusEnum::EXITED) => ContainerState::Exited {
            exit_code: state.exit_code.unwrap_or(-1),
        },
        Some(ContainerStateStatusEnum::DEAD) => ContainerState::Dead {
            message: state
                .error
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "the engine reports the container dead".to_owned()),
        },
        Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Dead {
            message: "the container is being removed".to_owned(),
        },
        Some(ContainerStateStatusEnum::EMPTY) | None => ContainerState::Dead {
            message: "the engine reports no state for the container".to_owned(),
        },
    }
}

/// The state a container summary shows; `None` when it cannot be told without an inspection.
/// The exit code only appears in the human status, e.g. `Exited (3) 2 minutes ago`.
fn summary_state(
    state: Option<ContainerSummaryStateEnum>,
    status: Option<&str>,
) -> Option<ContainerState> {
    Some(match state? {
        ContainerSummaryStateEnum::CREATED => ContainerState::Created,
        ContainerSummaryStateEnum::RUNNING | ContainerSummaryStateEnum::STOPPING => {
            ContainerState::Running
        }
        ContainerSummaryStateEnum::PAUSED => ContainerState::Paused,
        ContainerSummaryStateEnum::RESTARTING => ContainerState::Restarting,
        ContainerSummaryStateEnum::EXITED => {
            let code = status?.strip_prefix("Exited (")?.split(')').next()?;
            ContainerState::Exited {
                exit_code: code.parse().ok()?,
            }
        }
        ContainerSummaryStateEnum::REMOVING => ContainerState::Dead {
            message: "the container is being removed".to_owned(),
        },
        ContainerSummaryStateEnum::DEAD | ContainerSummaryStateEnum::EMPTY => return None,
    })
}

fn describe_labels(labels: &Labels) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `fromImage` without a tag pulls every tag of the repository: default to `latest`.
fn with_default_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// The registry host of an image reference, when it names one (`host.tld/…`, `host:5000/…`,
/// `localhost/…`); `None` for Docker Hub.
pub(super) fn registry_of(image: &str) -> Option<&str> {
    let (first, _) = image.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn die_events_give_the_exit_code_of_the_named_container_only() {
        let event = |name: &str, code: Option<&str>| EventMessage {
            actor: Some(bollard::models::EventActor {
                id: Some("0123abcd".to_owned()),
                attributes: Some(
                    [("name", Some(name)), ("exitCode", code)]
                        .into_iter()
                        .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
                        .collect(),
                ),
            }),
            ..Default::default()
        };
        let ours = "gofer.default.p.1.t.1";
        assert_eq!(die_exit_code(&event(ours, Some("3")), ours), Some(3));
        assert_eq!(die_exit_code(&event(ours, Some("137")), ours), Some(137));
        assert_eq!(
            die_exit_code(&event("gofer.default.p.1.t.10", Some("0")), ours),
            None
        );
        assert_eq!(die_exit_code(&event(ours, None), ours), None);
        assert_eq!(die_exit_code(&event(ours, Some("x")), ours), None);
        assert_eq!(die_exit_code(&EventMessage::default(), ours), None);
    }

    #[test]
    fn tags_default_to_latest() {
        assert_eq!(with_default_tag("busybox"), "busybox:latest");
        assert_eq!(with_default_tag("a/b:1"), "a/b:1");
        assert_eq!(with_default_tag("host:5000/b"), "host:5000/b:latest");
        assert_eq!(with_default_tag("b@sha256:00"), "b@sha256:00");
    }

    #[test]
    fn registries_are_recognised() {
        assert_eq!(registry_of("busybox"), None);
        assert_eq!(registry_of("library/busybox"), None);
        assert_eq!(registry_of("ghcr.io/x/y"), Some("ghcr.io"));
        assert_eq!(registry_of("localhost/y"), Some("localhost"));
        assert_eq!(registry_of("host:5000/y"), Some("host:5000"));
    }

    #[test]
    fn summary_exit_codes_are_read() {
        let exited = Some(ContainerSummaryStateEnum::EXITED);
        assert_eq!(
            summary_state(exited, Some("Exited (3) 2 minutes ago")),
            Some(ContainerState::Exited { exit_code: 3 })
        );
        assert_eq!(summary_state(exited, Some("weird")), None);
        assert_eq!(
            summary_state(Some(ContainerSummaryStateEnum::CREATED), None),
            Some(ContainerState::Created)
        );
    }
}
