//! Container schedulers: the contract of docs/schedulers.md#what-every-scheduler-does and its engines.
//!
//! The run engine holds one scheduler as `Arc<dyn Scheduler>`; every method therefore returns a
//! boxed future or stream so the trait stays object-safe. Futures borrow the scheduler and their
//! arguments; log streams own what they need (`'static`) so a log collector can be spawned.
//!
//! Container names and labels follow docs/schedulers.md#what-every-scheduler-does: [`task_container_name`],
//! [`extension_container_name`], [`task_labels`] and [`extension_labels`] build them, and only
//! containers labelled `gofer.managed=true` with our own `gofer.instance` are ever removed.

pub mod docker;
pub mod swarm;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use std::collections::BTreeMap;
use std::pin::Pin;
use tokio::io::AsyncWrite;

pub use docker::DockerScheduler;
pub use swarm::SwarmScheduler;

/// Container labels, ordered so that lists and debug output are stable.
pub type Labels = BTreeMap<String, String>;

pub type SchedulerResult<T> = Result<T, SchedulerError>;

/// Repository prefix of the images the server builds itself (docs/extensions.md#images-gofer-builds-itself); never pulled.
pub const LOCAL_IMAGE_PREFIX: &str = "gofer.local/";

pub const LABEL_MANAGED: &str = "gofer.managed";
pub const LABEL_INSTANCE: &str = "gofer.instance";
pub const LABEL_KIND: &str = "gofer.kind";
pub const LABEL_NAMESPACE: &str = "gofer.namespace_id";
pub const LABEL_PIPELINE: &str = "gofer.pipeline_id";
pub const LABEL_RUN: &str = "gofer.run_id";
pub const LABEL_TASK: &str = "gofer.task_id";
pub const LABEL_ATTEMPT: &str = "gofer.attempt";
pub const LABEL_EXTENSION: &str = "gofer.extension_id";

/// What to run (docs/runs.md#attempts step 2, docs/extensions.md#launch step 2). Its `Debug` shows environment keys and the
/// registry user only: values may be resolved secrets (docs/runs.md#variables: never logged).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StartRequest {
    /// Container name (docs/schedulers.md#what-every-scheduler-does), e.g. from [`task_container_name`].
    pub name: String,
    pub image: String,
    /// `(username, password)` sent with the pull.
    pub registry_auth: Option<(String, String)>,
    /// Pull even when the image is present locally (never for `gofer.local/` images).
    pub always_pull: bool,
    /// Environment, in order; later entries win for a repeated key.
    pub env: Vec<(String, String)>,
    /// Overrides the image's entrypoint when `Some`.
    pub entrypoint: Option<Vec<String>>,
    /// Overrides the image's command when `Some`.
    pub command: Option<Vec<String>>,
    /// Must include `gofer.instance`: an existing container with the same name is adopted only
    /// when it carries the same instance label.
    pub labels: Labels,
    /// A container port (tcp) to publish on `127.0.0.1:<random free port>` (extensions).
    pub publish_port: Option<u16>,
    /// CPU and memory limits; empty = none (docs/pipelines.md#task-resources).
    pub resources: gofer_core::resources::TaskResources,
    /// The engine log driver for the container; `None` = the engine's default
    /// (docs/schedulers.md#log-drivers).
    pub log_driver: Option<String>,
}

impl std::fmt::Debug for StartRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env_keys: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("StartRequest")
            .field("name", &self.name)
            .field("image", &self.image)
            .field(
                "registry_user",
                &self.registry_auth.as_ref().map(|(user, _)| user),
            )
            .field("always_pull", &self.always_pull)
            .field("env_keys", &env_keys)
            .field("entrypoint", &self.entrypoint)
            .field("command", &self.command)
            .field("labels", &self.labels)
            .field("publish_port", &self.publish_port)
            .finish()
    }
}

/// A container's output from [`Scheduler::start_attached`].
pub struct Output {
    pub stream: BoxStream<'static, SchedulerResult<Bytes>>,
    /// `true` when the stream is attached to the container itself: once it ends without an
    /// error it has delivered every byte. A followed engine log can end at the container's exit
    /// before the final partial line, which the log collector then reconciles.
    pub attached: bool,
}

/// What `start` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The engine's id for the container (docker) or service (swarm).
    pub id: String,
    /// `127.0.0.1:<port>` when [`StartRequest::publish_port`] was set.
    pub address: Option<String>,
}

/// A container's state as the engine reports it (docs/schedulers.md#what-every-scheduler-does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited {
        exit_code: i64,
    },
    /// Stopped by the kernel for going over its memory limit (docs/pipelines.md#task-resources).
    /// `limit` is the container's memory limit in bytes (0 when the engine did not say).
    OutOfMemory {
        exit_code: i64,
        limit: u64,
    },
    Dead {
        message: String,
    },
    NotFound,
}

impl ContainerState {
    /// Whether the container's process has ended (or never will run again).
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            Self::Exited { .. } | Self::OutOfMemory { .. } | Self::Dead { .. } | Self::NotFound
        )
    }
}

impl std::fmt::Display for ContainerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Created => f.write_str("created"),
            Self::Running => f.write_str("running"),
            Self::Paused => f.write_str("paused"),
            Self::Restarting => f.write_str("restarting"),
            Self::Exited { exit_code } => write!(f, "exited with code {exit_code}"),
            Self::OutOfMemory { exit_code, limit } => match limit {
                0 => write!(
                    f,
                    "killed for exceeding its memory limit (exit code {exit_code})"
                ),
                limit => write!(
                    f,
                    "killed for exceeding its memory limit of {} (exit code {exit_code})",
                    gofer_core::resources::format_bytes(*limit)
                ),
            },
            Self::Dead { message } => write!(f, "dead: {message}"),
            Self::NotFound => f.write_str("not found"),
        }
    }
}

/// One entry of [`Scheduler::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedContainer {
    pub name: String,
    pub state: ContainerState,
    pub labels: Labels,
}

/// An interactive command running with a TTY inside a container ([`Scheduler::attach`]).
pub struct AttachSession {
    /// The command's terminal input.
    pub stdin: Pin<Box<dyn AsyncWrite + Send>>,
    /// The terminal output, raw; ends when the command exits.
    pub output: BoxStream<'static, SchedulerResult<Bytes>>,
    /// Resolves to the command's exit code once it has exited (read `output` to its end first).
    pub exit_code: BoxFuture<'static, SchedulerResult<i64>>,
}

impl std::fmt::Debug for AttachSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AttachSession")
    }
}

/// Why a scheduler operation failed. Messages read well after "failed to" and name the
/// container or image concerned; the engine's own words come last.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedulerError {
    /// No engine answered at connect time.
    #[error(
        "cannot reach the Docker engine at {host}: is dockerd running? \
         (.ci/ensure-docker starts one): {message}"
    )]
    Unreachable { host: String, message: String },
    /// The image is not present and pulling it failed.
    #[error("obtain image '{image}': {message}")]
    ImageUnavailable { image: String, message: String },
    /// A `gofer.local/` image is missing; those are built by the server, never pulled.
    #[error(
        "obtain image '{image}': it is not present on the engine and gofer.local/ images are \
         built by the server at boot, never pulled (see the server log for the build error)"
    )]
    LocalImageMissing { image: String },
    /// A container with the target name belongs to someone else (docs/schedulers.md#what-every-scheduler-does).
    #[error(
        "start container '{name}': a container with this name already exists and belongs to \
         {owner}; Gofer never removes containers it does not own (remove it with \
         `docker rm {name}` if it is no longer needed)"
    )]
    NameConflict { name: String, owner: String },
    /// A container with the target name is ours but already past `created`.
    #[error("start container '{name}': it already exists ({state})")]
    AlreadyStarted { name: String, state: ContainerState },
    /// The container does not exist.
    #[error("{op} container '{name}': no such container")]
    NotFound { op: &'static str, name: String },
    /// The operation is not possible with this engine or in this situation.
    #[error("{0}")]
    Unsupported(String),
    /// The engine refused or failed the request.
    #[error("{op} '{name}': {message}")]
    Engine {
        op: &'static str,
        name: String,
        message: String,
    },
}

/// The operations every engine implements (docs/schedulers.md#what-every-scheduler-does).
pub trait Scheduler: Send + Sync {
    /// Creates and starts the container, pulling its image as the pull rule says. An existing
    /// container with this name is started when it carries our `gofer.instance` and was never
    /// started; any other existing container makes this fail.
    fn start<'a>(&'a self, request: &'a StartRequest) -> BoxFuture<'a, SchedulerResult<Started>>;

    /// [`start`](Self::start), plus the container's stdout and stderr from its first byte, in
    /// arrival order, ending when it stops. Engines that can attach before starting (docker)
    /// deliver output straight from the container rather than re-reading their log store,
    /// which is several times faster; the default follows [`logs`](Self::logs).
    fn start_attached<'a>(
        &'a self,
        request: &'a StartRequest,
    ) -> BoxFuture<'a, SchedulerResult<(Started, Output)>> {
        Box::pin(async move {
            let started = self.start(request).await?;
            Ok((
                started,
                Output {
                    stream: self.logs(&request.name, true),
                    attached: false,
                },
            ))
        })
    }

    /// Whether the engine keeps a readable log of the container (`logs` replays it from the
    /// first byte). A container logging to `none` has none: following it delivers output from
    /// now on only (docs/schedulers.md#log-drivers).
    fn engine_log_readable<'a>(&'a self, _name: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async { true })
    }

    /// SIGTERM, then SIGKILL after `grace_secs` (0 = SIGKILL now). Resolves once the container
    /// has stopped. A stopped or missing container is not an error.
    fn stop<'a>(&'a self, name: &'a str, grace_secs: u64) -> BoxFuture<'a, SchedulerResult<()>>;

    /// The current state; a missing container is [`ContainerState::NotFound`], not an error.
    fn state<'a>(&'a self, name: &'a str) -> BoxFuture<'a, SchedulerResult<ContainerState>>;

    /// Resolves when the container is no longer running, with its final state (usually
    /// `Exited`; `NotFound` when it was removed). Uses the engine's wait API, not polling.
    fn wait<'a>(&'a self, name: &'a str) -> BoxFuture<'a, SchedulerResult<ContainerState>>;

    /// stdout and stderr from the beginning, in arrival order, as raw bytes. With `follow`
    /// the stream ends when the container stops; without, when the current log is read.
    fn logs(&self, name: &str, follow: bool) -> BoxStream<'static, SchedulerResult<Bytes>>;

    /// The last `lines` lines of stdout+stderr (a final line without a newline counts), without
    /// following. The log collector uses it to pick up output that arrived after a followed
    /// stream had already ended at the container's exit.
    fn logs_tail(&self, name: &str, lines: u64) -> BoxStream<'static, SchedulerResult<Bytes>>;

    /// Runs `command` with a TTY inside the running container.
    fn attach<'a>(
        &'a self,
        name: &'a str,
        command: Vec<String>,
    ) -> BoxFuture<'a, SchedulerResult<AttachSession>>;

    /// Every container (any state) carrying all of `label_filter`.
    fn list<'a>(
        &'a self,
        label_filter: &'a Labels,
    ) -> BoxFuture<'a, SchedulerResult<Vec<ListedContainer>>>;

    /// Removes a stopped container; a missing one is not an error.
    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, SchedulerResult<()>>;

    /// Removes the exited containers labelled `gofer.managed=true` and
    /// `gofer.instance=<instance_id>` for which `is_complete(labels)` holds (docs/schedulers.md#docker);
    /// returns their names.
    fn prune<'a>(
        &'a self,
        instance_id: &'a str,
        is_complete: &'a (dyn Fn(&Labels) -> bool + Sync),
    ) -> BoxFuture<'a, SchedulerResult<Vec<String>>>;
}

/// `gofer.<ns>.<p>.<run_id>.<task_id>.<attempt>` (docs/schedulers.md#what-every-scheduler-does). Ids never contain `.`.
pub fn task_container_name(
    namespace_id: &str,
    pipeline_id: &str,
    run_id: u64,
    task_id: &str,
    attempt: u64,
) -> String {
    format!("gofer.{namespace_id}.{pipeline_id}.{run_id}.{task_id}.{attempt}")
}

/// `gofer.extension.<id>` (docs/extensions.md#launch).
pub fn extension_container_name(extension_id: &str) -> String {
    format!("gofer.extension.{extension_id}")
}

/// The labels every Gofer container carries (docs/schedulers.md#what-every-scheduler-does); `kind` is `task` or `extension`.
pub fn base_labels(instance_id: &str, kind: &str) -> Labels {
    BTreeMap::from([
        (LABEL_MANAGED.to_owned(), "true".to_owned()),
        (LABEL_INSTANCE.to_owned(), instance_id.to_owned()),
        (LABEL_KIND.to_owned(), kind.to_owned()),
    ])
}

/// The labels of a task container (docs/schedulers.md#what-every-scheduler-does); also the filter recovery lists by (docs/runs.md#restart-recovery).
pub fn task_labels(
    instance_id: &str,
    namespace_id: &str,
    pipeline_id: &str,
    run_id: u64,
    task_id: &str,
    attempt: u64,
) -> Labels {
    let mut labels = base_labels(instance_id, "task");
    labels.extend([
        (LABEL_NAMESPACE.to_owned(), namespace_id.to_owned()),
        (LABEL_PIPELINE.to_owned(), pipeline_id.to_owned()),
        (LABEL_RUN.to_owned(), run_id.to_string()),
        (LABEL_TASK.to_owned(), task_id.to_owned()),
        (LABEL_ATTEMPT.to_owned(), attempt.to_string()),
    ]);
    labels
}

/// The labels of an extension container (docs/schedulers.md#what-every-scheduler-does).
pub fn extension_labels(instance_id: &str, extension_id: &str) -> Labels {
    let mut labels = base_labels(instance_id, "extension");
    labels.insert(LABEL_EXTENSION.to_owned(), extension_id.to_owned());
    labels
}

/// Whether the pull rule may ever pull `image` (docs/extensions.md#images-gofer-builds-itself, docs/schedulers.md#what-every-scheduler-does).
pub fn is_local_image(image: &str) -> bool {
    image.starts_with(LOCAL_IMAGE_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_spec() {
        assert_eq!(
            task_container_name("default", "p", 7, "build", 2),
            "gofer.default.p.7.build.2"
        );
        assert_eq!(extension_container_name("cron"), "gofer.extension.cron");
    }

    #[test]
    fn task_labels_carry_identity() {
        let labels = task_labels("i-1", "ns", "p", 3, "t", 1);
        let expected: Vec<(&str, &str)> = vec![
            ("gofer.attempt", "1"),
            ("gofer.instance", "i-1"),
            ("gofer.kind", "task"),
            ("gofer.managed", "true"),
            ("gofer.namespace_id", "ns"),
            ("gofer.pipeline_id", "p"),
            ("gofer.run_id", "3"),
            ("gofer.task_id", "t"),
        ];
        let got: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(extension_labels("i", "cron")["gofer.kind"], "extension");
        assert_eq!(extension_labels("i", "cron")["gofer.extension_id"], "cron");
    }

    #[test]
    fn local_images_are_recognised() {
        assert!(is_local_image("gofer.local/debug-log:latest"));
        assert!(!is_local_image("gofer.localhost/x"));
        assert!(!is_local_image("busybox"));
    }
}
