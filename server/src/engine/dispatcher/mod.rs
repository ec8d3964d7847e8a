//! The single owner of run state (one writer of run state: ARCHITECTURE.md). See the module docs of `engine`.
//!
//! `mod.rs` holds the state and the loop (commands, the 1 s tick, commits); the rest is split by
//! concern: `recovery.rs` (boot), `queue.rs` (pending runs and limits), `dag.rs` (readiness,
//! attempts, results, the final status), `cancel.rs`, `retention.rs` (logs and objects).

use super::book::{Input, Prepared, Recovered, RunBook, Step};
use super::executor::{self, AttemptSpec, Stop};
use super::substitute::{self, Resolved, Resolver};
use super::{Command, EngineConfig, RunKey};
use crate::scheduler::{self, Scheduler, StartRequest};
use crate::store::{RunChanges, StoreError, StoreHandle, StoreResult, StoredRun, StoredRunState};
use gofer_core::api::{Config, EventKind, Page, RunCancellation, TaskExecution};
use gofer_core::enums::{OverlapPolicy, RunState, RunStatus, TaskExecutionState as ES};
use gofer_core::runstate::{self, RunEnding};
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

/// A running run in memory: the core's book of it (docs/runs.md) and the executors of its
/// attempts.
struct Running {
    book: RunBook,
    active: HashMap<String, Active>,
    /// Substituted values of attempts about to launch (docs/runs.md#variables); taken by `launch`, never
    /// stored.
    resolved: HashMap<String, Resolved>,
}

impl Running {
    fn new(book: RunBook) -> Running {
        Running {
            book,
            active: HashMap::new(),
            resolved: HashMap::new(),
        }
    }
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

impl Dispatcher {
    pub(super) async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Command>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        self.sweep_all_logs().await;
        self.drive().await;
        loop {
            let wake = self.next_wake();
            tokio::select! {
                command = rx.recv() => match command {
                    Some(command) => self.handle(command).await,
                    None => break,
                },
                () = tokio::time::sleep(wake) => {}
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
                self.supersede(&ns, &p, run_id).await;
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
            } => {
                let _ = self
                    .feed(&key, Input::AttemptStarted { task, attempt, at })
                    .await;
            }
            Command::AttemptEnded {
                key,
                task,
                attempt,
                outcome,
            } => {
                if let Some(rs) = self.running.get_mut(&key) {
                    rs.active.remove(&task);
                }
                let input = Input::AttemptEnded {
                    task,
                    attempt,
                    outcome,
                };
                let _ = self.feed(&key, input).await;
            }
        }
    }

    /// How long the loop may sleep: until the earliest deadline, retry or held task of any
    /// running run, and never more than a second (the queue and retention are looked at then).
    fn next_wake(&self) -> Duration {
        let now = gofer_core::now_millis();
        let soonest = self
            .running
            .values()
            .filter_map(|rs| rs.book.next_wake())
            .min()
            .map_or(1000, |at| at.saturating_sub(now));
        Duration::from_millis(soonest.clamp(1, 1000))
    }

    async fn drive(&mut self) {
        self.dequeue().await;
        let keys: Vec<RunKey> = self.running.keys().cloned().collect();
        for key in keys {
            // A failed commit is logged by `feed` and decided again on the next pass.
            let _ = self.feed(&key, Input::Evaluate).await;
        }
    }

    /// Writes one atomic change of run state; a failure is logged here and returned.
    async fn commit(&self, changes: RunChanges) -> StoreResult<()> {
        let result = self.store.write(move |s| s.commit(changes)).await;
        if let Err(e) = &result {
            tracing::error!(error = %e, "committing run state failed");
        }
        result.map(|_| ())
    }

    /// Feeds `input` to the run's core and carries out its steps in order (module docs of
    /// `engine::book`); after any input that changed stored state the run is evaluated again. A
    /// failed commit abandons the steps after it and is returned.
    async fn feed(&mut self, key: &RunKey, input: Input) -> StoreResult<()> {
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            let evaluating = input == Input::Evaluate;
            let Some(rs) = self.running.get_mut(key) else {
                return Ok(());
            };
            let steps = rs.book.apply(input, gofer_core::now_millis());
            let mut changed = false;
            for step in steps {
                match step {
                    Step::Commit(changes) => {
                        self.commit(changes.clone()).await?;
                        if let Some(rs) = self.running.get_mut(key) {
                            rs.book.record(&changes);
                        }
                        changed = true;
                    }
                    Step::Prepare(tasks) => {
                        let results = self.prepare(key, tasks).await;
                        inputs.push_back(Input::Prepared(results));
                    }
                    Step::Launch {
                        task,
                        attempt,
                        recovered,
                    } => self.launch(key, &task, attempt, recovered).await,
                    Step::Stop { task, stop } => {
                        if let Some(active) =
                            self.running.get(key).and_then(|rs| rs.active.get(&task))
                        {
                            let _ = active.stop.send(Some(stop));
                        }
                    }
                    Step::Finished => {
                        self.running.remove(key);
                        self.sweep_logs(&key.namespace, &key.pipeline).await;
                        self.sweep_objects(&key.namespace, &key.pipeline).await;
                        return Ok(());
                    }
                }
            }
            if changed && !evaluating {
                inputs.push_back(Input::Evaluate);
            }
        }
        Ok(())
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
