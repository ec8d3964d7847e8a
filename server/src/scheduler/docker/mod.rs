//! The `docker` engine (docs/schedulers.md#docker): one container per attempt on a local Docker engine, driven
//! through bollard over the unix socket.
//!
//! Latency matters (a task should cost about what `docker run` costs), so `start` is
//! create + start with no preliminary inspections: a missing image shows up as a 404 from
//! create, a name clash as a 409, and only then do we pull or inspect.
//!
//! `mod.rs`: connecting and the `Scheduler` impl; `start.rs`; `wait.rs` (stop, state, wait and
//! the settle lock); `output.rs` (logs and attach).

mod output;
mod start;
mod wait;

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
        let configs = network.ipam?.config?;
        let pairs: Vec<_> = configs.into_iter().map(|c| (c.gateway, c.subnet)).collect();
        gateway_of(&pairs)
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
            if matches!(
                container.state,
                ContainerState::Exited { .. } | ContainerState::OutOfMemory { .. }
            ) && is_complete(&container.labels)
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
        if !follow {
            return self.logs_impl(name, false, None);
        }
        // A container without a readable engine log (driver `none`) is followed by attaching
        // to its output: what it writes from now on.
        let (this, owned) = (self.clone(), name.to_owned());
        futures_util::stream::once(async move {
            if this.log_readable(&owned).await {
                this.logs_impl(&owned, true, None)
            } else if matches!(this.state_impl(&owned).await, Ok(state) if state.is_finished()) {
                // Stopped: it will write nothing more, and there is no log to replay.
                futures_util::stream::empty().boxed()
            } else {
                this.attach_output(&owned).await
            }
        })
        .flatten()
        .boxed()
    }

    fn engine_log_readable<'a>(&'a self, name: &'a str) -> BoxFuture<'a, bool> {
        self.log_readable(name).boxed()
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

pub(crate) fn status_of(error: &BollardError) -> Option<u16> {
    match error {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
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

/// The registry host of an image reference, when it names one (`host.tld/…`, `host:5000/…`,
/// `localhost/…`); `None` for Docker Hub.
pub(super) fn registry_of(image: &str) -> Option<&str> {
    let (first, _) = image.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// The gateway of a network from its IPAM configs (`(gateway, subnet)` pairs), IPv4 first. Some
/// engines (Docker 20.10 after a daemon restart, seen on a fresh CI machine) list the default
/// bridge with a subnet and no gateway; Docker's allocator then gave the bridge the subnet's
/// first address, which is what this answers.
pub(crate) fn gateway_of(configs: &[(Option<String>, Option<String>)]) -> Option<std::net::IpAddr> {
    let stated = configs
        .iter()
        .filter_map(|(gateway, _)| gateway.as_deref()?.parse::<std::net::IpAddr>().ok());
    let derived = configs
        .iter()
        .filter_map(|(_, subnet)| first_address(subnet.as_deref()?));
    let mut all: Vec<std::net::IpAddr> = stated.chain(derived).collect();
    // A stated gateway wins over a derived one (stable sort), IPv4 over IPv6.
    all.sort_by_key(|ip| ip.is_ipv6());
    all.into_iter().next()
}

/// The first host address of an IPv4 subnet such as `172.17.0.0/16`.
fn first_address(subnet: &str) -> Option<std::net::IpAddr> {
    let (network, bits) = subnet.split_once('/')?;
    let network: std::net::Ipv4Addr = network.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    if bits > 30 {
        return None;
    }
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    let first = (u32::from(network) & mask).checked_add(1)?;
    Some(std::net::IpAddr::V4(first.into()))
}

#[cfg(test)]
mod tests {
    use super::start::with_default_tag;
    use super::wait::die_exit_code;
    use super::*;

    #[test]
    fn the_bridge_gateway_is_the_stated_one_or_the_subnets_first_address() {
        let some = |s: &str| Some(s.to_string());
        let ip = |s: &str| s.parse::<std::net::IpAddr>().ok();
        // As most engines answer.
        assert_eq!(
            gateway_of(&[(some("172.17.0.1"), some("172.17.0.0/16"))]),
            ip("172.17.0.1")
        );
        // Docker 20.10 after a restart: a subnet and no gateway.
        assert_eq!(
            gateway_of(&[(None, some("172.17.0.0/16"))]),
            ip("172.17.0.1")
        );
        assert_eq!(
            gateway_of(&[(None, some("10.200.3.0/24"))]),
            ip("10.200.3.1")
        );
        // A stated gateway wins, and IPv4 comes before IPv6.
        assert_eq!(
            gateway_of(&[
                (None, some("fd00::/64")),
                (None, some("192.168.5.0/24")),
                (some("192.168.5.254"), some("192.168.5.0/24")),
            ]),
            ip("192.168.5.254")
        );
        assert_eq!(
            gateway_of(&[(some("fd00::1"), some("fd00::/64"))]),
            ip("fd00::1")
        );
        // Nothing usable.
        assert_eq!(gateway_of(&[]), None);
        assert_eq!(gateway_of(&[(None, some("not a subnet"))]), None);
        assert_eq!(gateway_of(&[(None, some("172.17.0.0/32"))]), None);
    }

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
