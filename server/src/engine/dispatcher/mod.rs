//! The single owner of run state (one writer of run state: ARCHITECTURE.md). See the module docs of `engine`.
//!
//! `mod.rs` holds the state and the loop (commands, the 1 s tick, commits); the rest is split by
//! concern: `recovery.rs` (boot), `queue.rs` (pending runs and limits), `dag.rs` (readiness,
//! attempts, results, the final status), `cancel.rs`, `retention.rs` (logs and objects).

use super::executor::{self, AttemptSpec, Outcome, Stop, StopKind};
use super::substitute::{self, Resolved, Resolver};
use super::{Command, EngineConfig, RunKey};
use crate::scheduler::{self, ContainerState, Scheduler, StartRequest};
use crate::store::{
    CancelRequest, RunChanges, StoreError, StoreHandle, StoreResult, StoredExecution, StoredRun,
    StoredRunState, TaskCancel,
};
use gofer_core::api::{Config, EventKind, Page, StatusReason, TaskAttempt, TaskExecution};
use gofer_core::enums::{
    RunState, RunStatus, TaskExecutionState as ES, TaskExecutionStatus as XS,
    TaskExecutionStatusReasonKind as XR,
};
use gofer_core::runstate::{self, Readiness, RunEnding};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tracing::Instrument as _;

mod cancel;
mod dag;
mod queue;
mod recovery;
mod retention;

/// An attempt in flight.
struct Active {
    stop: watch::Sender<Option<Stop>>,
    task: tokio::task::AbortHandle,
}

/// A running run in memory; mirrors what is stored.
struct Running {
    run: StoredRun,
    executions: BTreeMap<String, StoredExecution>,
    active: HashMap<String, Active>,
    /// The run deadline has been enforced (docs/runs.md#timeouts).
    deadline_enforced: bool,
    /// Substituted values of attempts about to launch (docs/runs.md#variables); taken by `launch`, never
    /// stored.
    resolved: HashMap<String, Resolved>,
}

pub(super) struct Dispatcher {
    store: StoreHandle,
    scheduler: Arc<dyn Scheduler>,
    config: Arc<EngineConfig>,
    tx: mpsc::UnboundedSender<Command>,
    /// Pending runs per pipeline, FIFO (docs/runs.md#queue).
    /// Only ids: a queued run is loaded from the store when it is dispatched or cancelled, so a
    /// long queue costs a few bytes per run, not the run's variables and payload.
    queue: BTreeMap<(String, String), VecDeque<u64>>,
    running: BTreeMap<RunKey, Running>,
    resolver: Resolver,
}

fn key_of(run: &StoredRun) -> RunKey {
    RunKey::of(&run.run)
}

fn reason(kind: XR, description: impl Into<String>) -> Option<StatusReason<XR>> {
    Some(StatusReason {
        reason: kind,
        description: description.into(),
    })
}

/// Completes an execution with a final status (the caller emits the event).
fn complete(
    exec: &mut TaskExecution,
    status: XS,
    why: Option<StatusReason<XR>>,
    now: u64,
) -> EventKind {
    exec.state = ES::Complete;
    exec.status = status;
    exec.status_reason = why;
    exec.ended = now;
    EventKind::CompletedTaskExecution {
        namespace_id: exec.namespace_id.clone(),
        pipeline_id: exec.pipeline_id.clone(),
        run_id: exec.run_id,
        task_execution_id: exec.task_id.clone(),
        status,
        result: exec.result.clone(),
    }
}

impl Dispatcher {
    pub(super) async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Command>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        self.sweep_all_logs().await;
        self.drive().await;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = rx.recv() => match command {
                    Some(command) => self.handle(command).await,
                    None => break,
                },
                _ = tick.tick() => {}
                () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
            }
            // Batch whatever else is already waiting before re-evaluating.
            while let Ok(command) = rx.try_recv() {
                self.handle(command).await;
            }
            self.drive().await;
        }
        // Containers keep running; the next start reattaches to them (docs/runs.md#restart-recovery).
        for rs in self.running.values() {
            for active in rs.active.values() {
                active.task.abort();
            }
        }
        tracing::info!("run engine stopped");
    }

    async fn handle(&mut self, command: Command) {
        let span = match &command {
            Command::Queued(key)
            | Command::CancelRun { key, .. }
            | Command::CancelTask { key, .. }
            | Command::SetResult { key, .. }
            | Command::AttemptStarted { key, .. }
            | Command::AttemptEnded { key, .. } => tracing::info_span!(
                "run",
                namespace = %key.namespace,
                pipeline = %key.pipeline,
                run = key.run
            ),
        };
        self.handle_in_span(command).instrument(span).await;
    }

    async fn handle_in_span(&mut self, command: Command) {
        match command {
            Command::Queued(RunKey {
                namespace: ns,
                pipeline: p,
                run: run_id,
            }) => {
                self.queue
                    .entry((ns.clone(), p.clone()))
                    .or_default()
                    .push_back(run_id);
                self.sweep_logs(&ns, &p).await;
                self.sweep_objects(&ns, &p).await;
            }
            Command::CancelRun {
                key,
                by_admin,
                request,
                reply,
            } => {
                let result = self.cancel_run(&key, by_admin, request).await;
                let _ = reply.send(result);
            }
            Command::SetResult {
                key,
                task,
                result,
                reply,
            } => {
                let answer = self.set_result(&key, &task, result).await;
                let _ = reply.send(answer);
            }
            Command::CancelTask {
                key,
                task,
                grace_secs,
                by_admin,
                reply,
            } => {
                let result = self.cancel_task(&key, &task, grace_secs, by_admin).await;
                let _ = reply.send(result);
            }
            Command::AttemptStarted {
                key,
                task,
                attempt,
                at,
            } => self.attempt_started(&key, &task, attempt, at).await,
            Command::AttemptEnded {
                key,
                task,
                attempt,
                outcome,
            } => self.attempt_ended(&key, &task, attempt, outcome).await,
        }
    }

    /// Writes one atomic change; on failure the error is logged and memory is not updated by the
    /// caller (it re-evaluates on the next tick).
    async fn commit(&self, changes: RunChanges) -> bool {
        match self.store.write(move |s| s.commit(changes)).await {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(error = %e, "committing run state failed");
                false
            }
        }
    }

    async fn drive(&mut self) {
        self.dequeue().await;
        let keys: Vec<RunKey> = self.running.keys().cloned().collect();
        for key in keys {
            self.advance(&key).await;
        }
    }
}

fn exit_code_of(state: &ContainerState) -> Option<i64> {
    match state {
        ContainerState::Exited { exit_code } => Some(*exit_code),
        _ => None,
    }
}

/// Creates the task log (empty) if needed and returns its size: the next attempt's offset.
fn prepare_log(path: &std::path::Path) -> std::io::Result<u64> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    Ok(file.metadata()?.len())
}

/// The single place where substitution plugs in (docs/runs.md#variables): every reference of the execution
/// resolved for one attempt, or the problem (naming the variable and the reference, never a
/// value) that fails the task with `failed_precondition`. Secret and object references resolve
/// in [`substitute`]; other kinds sit beside it.
///
/// `executions` is the run's current view, for `task_result{{t}}` (docs/runs.md#results-and-payload).
async fn resolve_references(
    resolver: &Resolver,
    key: &RunKey,
    execution: &TaskExecution,
    executions: &BTreeMap<String, TaskExecution>,
) -> Result<Resolved, String> {
    substitute::resolve(resolver, key, execution, executions).await
}
