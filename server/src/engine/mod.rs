//! The run engine (docs/runs.md): a durable queue, DAG execution on a [`Scheduler`], cancellation,
//! timeouts, retries, log collection and restart recovery.
//!
//! One dispatcher task owns all run state (one writer of run state: ARCHITECTURE.md). It reacts to a closed set of
//! [`Command`]s — from the API (queued runs, cancellations) and from executors (an attempt's
//! container started or ended) — and to a one-second tick. Executors never touch the store; they
//! report through the channel. The store sees every change as one atomic `commit` of rows and
//! events, so a crash can never leave an event without its state or the reverse.

pub(crate) mod book;
mod dispatcher;
mod executor;
pub mod substitute;
mod task_result;

use crate::scheduler::Scheduler;
use crate::store::{NewRun, StoreError, StoreHandle, StoreResult};
use gofer_core::api::Run;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

pub use crate::store::RunKey;

/// Settings the engine needs, taken from the server config at boot.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    pub instance_id: String,
    /// `GOFER_API_BASE_URL` for tasks (docs/runs.md#variables).
    pub api_base_url: String,
    /// Grace in seconds for cancel and timeout stops (`api.task_execution_stop_timeout`).
    pub stop_timeout: u64,
    /// `api.run_parallelism_limit` (0 = unlimited).
    pub run_parallelism_limit: u64,
    /// `api.global_run_concurrency_limit` (0 = unlimited).
    pub global_run_limit: u64,
    /// `api.task_execution_log_retention` (0 = keep forever).
    pub log_retention: u64,
    /// `object_store.run_object_expiry` (0 = never expire).
    pub run_object_expiry: u64,
    /// Decrypts secrets for substitution (docs/runs.md#variables).
    pub cipher: Arc<crate::secrets::Cipher>,
    /// Remove finished task containers every `prune_interval` seconds (docs/runs.md#retention).
    pub prune: bool,
    pub prune_interval: u64,
    /// The key run token secrets are derived under (`secret_store.encryption_key`, docs/runs.md#variables;
    /// see `tokens::run_token_secret`).
    pub run_token_key: Vec<u8>,
    /// `scheduler.resources` defaults for tasks that set no limits (docs/pipelines.md#task-resources).
    pub resource_defaults: gofer_core::resources::TaskResources,
    /// `scheduler.docker.log_driver` / `scheduler.swarm.log_driver`; `None` = the engine's
    /// default (docs/schedulers.md#log-drivers).
    pub log_driver: Option<String>,
}

/// What the dispatcher reacts to.
pub(crate) enum Command {
    /// A run was created and waits in the queue.
    Queued(RunKey),
    CancelRun {
        key: RunKey,
        by_admin: bool,
        /// Who asked and whether to kill at once.
        request: gofer_core::api::RunCancellation,
        reply: oneshot::Sender<StoreResult<()>>,
    },
    CancelTask {
        key: RunKey,
        task: String,
        grace_secs: u64,
        by_admin: bool,
        reply: oneshot::Sender<StoreResult<()>>,
    },
    /// Record a task execution's JSON result (docs/runs.md#results-and-payload).
    SetResult {
        key: RunKey,
        task: String,
        result: serde_json::Value,
        reply: oneshot::Sender<StoreResult<()>>,
    },
    /// An attempt's container is running (`at` in ms).
    AttemptStarted {
        key: RunKey,
        task: String,
        attempt: u64,
        at: u64,
    },
    /// An attempt is over; its logs are flushed.
    AttemptEnded {
        key: RunKey,
        task: String,
        attempt: u64,
        outcome: executor::Outcome,
    },
}

/// The engine's handle, held by the HTTP layer.
#[derive(Clone)]
pub struct Engine {
    store: StoreHandle,
    tx: mpsc::UnboundedSender<Command>,
}

impl Engine {
    /// Recovers unfinished runs (docs/runs.md#restart-recovery) and starts the dispatcher. Call before the HTTP
    /// listener opens. The dispatcher stops when `shutdown` turns true; running containers are
    /// left alone so that the next start reattaches to them.
    pub async fn start(
        store: StoreHandle,
        scheduler: Arc<dyn Scheduler>,
        config: EngineConfig,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> StoreResult<(Engine, tokio::task::JoinHandle<()>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let config = Arc::new(config);
        let dispatcher = dispatcher::Dispatcher::recover(
            store.clone(),
            scheduler.clone(),
            config.clone(),
            tx.clone(),
        )
        .await?;
        if config.prune {
            tokio::spawn(prune_loop(
                store.clone(),
                scheduler,
                config,
                shutdown.clone(),
            ));
        }
        let handle = tokio::spawn(dispatcher.run(rx, shutdown));
        Ok((Engine { store, tx }, handle))
    }

    /// Creates a run (docs/runs.md#queue) and hands it to the dispatcher; never waits for capacity.
    pub async fn start_run(
        &self,
        namespace: &str,
        pipeline: &str,
        new: NewRun,
    ) -> StoreResult<Run> {
        let (ns, p) = (namespace.to_string(), pipeline.to_string());
        let now = gofer_core::now_millis();
        let run = self
            .store
            .write(move |s| s.create_run(&ns, &p, new, now))
            .await?;
        self.send(Command::Queued(RunKey::of(&run)))?;
        Ok(run)
    }

    /// Hands a run created elsewhere (a smoke deployment's run) to the dispatcher.
    pub fn queued(&self, run: &Run) -> StoreResult<()> {
        self.send(Command::Queued(RunKey::of(run)))
    }

    /// Cancels a run (docs/runs.md#cancellation); answers once the request is durable.
    pub async fn cancel_run(
        &self,
        key: RunKey,
        by_admin: bool,
        request: gofer_core::api::RunCancellation,
    ) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::CancelRun {
            key,
            by_admin,
            request,
            reply,
        })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Cancels one task execution with `grace_secs` before the kill (docs/runs.md#cancellation).
    pub async fn cancel_task(
        &self,
        key: RunKey,
        task: String,
        grace_secs: u64,
        by_admin: bool,
    ) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::CancelTask {
            key,
            task,
            grace_secs,
            by_admin,
            reply,
        })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Records `result` as the result of task execution `task` while it runs (docs/runs.md#results-and-payload); the
    /// last write wins. A missing run or task is `NotFound`, a task that is not running is
    /// `Conflict`. The dispatcher writes it, as it writes all run state.
    pub async fn set_task_result(
        &self,
        key: RunKey,
        task: String,
        result: serde_json::Value,
    ) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::SetResult {
            key,
            task,
            result,
            reply,
        })?;
        answer.await.map_err(|_| stopped())?
    }

    fn send(&self, command: Command) -> StoreResult<()> {
        self.tx.send(command).map_err(|_| stopped())
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the run engine is shutting down".into())
}

/// Prunes after boot recovery and then every `prune_interval` seconds (docs/runs.md#retention).
async fn prune_loop(
    store: StoreHandle,
    scheduler: Arc<dyn Scheduler>,
    config: Arc<EngineConfig>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let interval = std::time::Duration::from_secs(config.prune_interval.max(1));
    loop {
        match prune_once(&store, scheduler.as_ref(), &config.instance_id).await {
            Ok(removed) if !removed.is_empty() => {
                tracing::info!(count = removed.len(), "pruned finished task containers")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning task containers failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => return,
        }
    }
}

/// Removes this instance's exited task containers whose task execution is complete or no
/// longer exists. Containers of other instances, extensions and unfinished executions stay.
pub async fn prune_once(
    store: &StoreHandle,
    scheduler: &dyn Scheduler,
    instance_id: &str,
) -> Result<Vec<String>, crate::scheduler::SchedulerError> {
    use crate::scheduler::{self as sched, ContainerState};
    let ours = scheduler
        .list(&sched::base_labels(instance_id, "task"))
        .await?;
    let mut finished = std::collections::HashSet::new();
    for container in ours {
        if !matches!(
            container.state,
            ContainerState::Exited { .. } | ContainerState::OutOfMemory { .. }
        ) {
            continue;
        }
        let label = |k: &str| container.labels.get(k).cloned().unwrap_or_default();
        let (ns, p, task) = (
            label(sched::LABEL_NAMESPACE),
            label(sched::LABEL_PIPELINE),
            label(sched::LABEL_TASK),
        );
        let Ok(run) = label(sched::LABEL_RUN).parse::<u64>() else {
            continue;
        };
        let lookup = store
            .read(move |s| s.get_task_execution(&ns, &p, run, &task))
            .await;
        let done = match lookup {
            Ok(execution) => execution.state == gofer_core::enums::TaskExecutionState::Complete,
            Err(StoreError::NotFound(_)) => true,
            Err(_) => false,
        };
        if done {
            finished.insert(container.name);
        }
    }
    let is_complete = |labels: &crate::scheduler::Labels| {
        let get = |k: &str| labels.get(k).map(String::as_str).unwrap_or_default();
        let Ok(run) = get(sched::LABEL_RUN).parse::<u64>() else {
            return false;
        };
        let Ok(attempt) = get(sched::LABEL_ATTEMPT).parse::<u64>() else {
            return false;
        };
        let name = sched::task_container_name(
            get(sched::LABEL_NAMESPACE),
            get(sched::LABEL_PIPELINE),
            run,
            get(sched::LABEL_TASK),
            attempt,
        );
        get(sched::LABEL_KIND) == "task" && finished.contains(&name)
    };
    scheduler.prune(instance_id, &is_complete).await
}

/// A run token for a run about to be created (docs/runs.md#variables): the store keeps it only when a task of
/// the pinned config asks for it. Its secret is derived from the id with `key` (the encryption
/// key), never stored. It expires `expiry_secs` from now (`api.run_token_expiry`; 0 = never).
pub fn new_run_token(key: &[u8], expiry_secs: u64) -> crate::store::RunTokenSeed {
    let id = uuid::Uuid::now_v7().hyphenated().to_string();
    let secret = crate::tokens::run_token_secret(key, &id);
    let expiry_ms = expiry_secs.saturating_mul(1000);
    crate::store::RunTokenSeed {
        hash: crate::tokens::hash_secret(&secret),
        id,
        expires: if expiry_ms == 0 {
            0
        } else {
            gofer_core::now_millis().saturating_add(expiry_ms)
        },
    }
}
