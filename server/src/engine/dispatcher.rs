//! The single owner of run state (STYLE rule 12). See the module docs of `engine`.

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
    /// The run deadline has been enforced (SPEC §5.8).
    deadline_enforced: bool,
    /// Substituted values of attempts about to launch (SPEC §6.3); taken by `launch`, never
    /// stored.
    resolved: HashMap<String, Resolved>,
}

pub(super) struct Dispatcher {
    store: StoreHandle,
    scheduler: Arc<dyn Scheduler>,
    config: Arc<EngineConfig>,
    tx: mpsc::UnboundedSender<Command>,
    /// Pending runs per pipeline, FIFO (SPEC §5.2).
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
    /// Loads every unfinished run and reconciles recorded attempts with the containers that
    /// exist (SPEC §5.12). Attempts found running or exited are reattached once the loop runs.
    pub(super) async fn recover(
        store: StoreHandle,
        scheduler: Arc<dyn Scheduler>,
        config: Arc<EngineConfig>,
        tx: mpsc::UnboundedSender<Command>,
    ) -> StoreResult<Dispatcher> {
        let resolver = Resolver {
            store: store.clone(),
            cipher: config.cipher.clone(),
            data_dir: config.data_dir.clone(),
        };
        let mut d = Dispatcher {
            resolver,
            store,
            scheduler,
            config,
            tx,
            queue: BTreeMap::new(),
            running: BTreeMap::new(),
        };
        let unfinished = d.store.read(|s| s.unfinished_runs()).await?;
        for StoredRunState { run, executions } in unfinished {
            match run.run.state {
                RunState::Pending => d
                    .queue
                    .entry((run.run.namespace_id.clone(), run.run.pipeline_id.clone()))
                    .or_default()
                    .push_back(run.run.run_id),
                _ => {
                    let key = key_of(&run);
                    let executions = executions
                        .into_iter()
                        .map(|e| (e.execution.task_id.clone(), e))
                        .collect();
                    d.running.insert(
                        key.clone(),
                        Running {
                            run,
                            executions,
                            active: HashMap::new(),
                            deadline_enforced: false,
                            resolved: HashMap::new(),
                        },
                    );
                    d.reconcile(&key).await;
                }
            }
        }
        Ok(d)
    }

    /// Resumes or settles every attempt of a recovered run that was recorded but not finished.
    async fn reconcile(&mut self, key: &RunKey) {
        let now = gofer_core::now_millis();
        let Some(rs) = self.running.get(key) else {
            return;
        };
        let mut changes = RunChanges::default();
        let mut resume = Vec::new();
        for (task, se) in &rs.executions {
            let e = &se.execution;
            if e.state == ES::Complete {
                continue;
            }
            let Some(last) = e
                .attempts
                .last()
                .filter(|a| a.status == XS::Unknown && a.ended == 0)
            else {
                continue;
            };
            let labels = scheduler::task_labels(
                &self.config.instance_id,
                &key.namespace,
                &key.pipeline,
                key.run,
                task,
                last.attempt,
            );
            let found = match self.scheduler.list(&labels).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::error!(error = %e, "listing containers for recovery failed");
                    continue;
                }
            };
            match found.into_iter().next().map(|c| c.state) {
                None | Some(ContainerState::NotFound) => {
                    let mut se = se.clone();
                    let ex = &mut se.execution;
                    let why = reason(XR::Orphaned, "container vanished while the server was down");
                    if let Some(a) = ex.attempts.last_mut() {
                        a.ended = now;
                        a.status = XS::Failed;
                        a.status_reason = why.clone();
                    }
                    changes.events.push(complete(ex, XS::Failed, why, now));
                    changes.executions.push(se);
                }
                Some(ContainerState::Created) => resume.push((task.clone(), last.attempt, None)),
                Some(_) => resume.push((task.clone(), last.attempt, Some(last.started))),
            }
        }
        if !changes.executions.is_empty()
            && self.commit(changes.clone()).await
            && let Some(rs) = self.running.get_mut(key)
        {
            for se in changes.executions {
                rs.executions.insert(se.execution.task_id.clone(), se);
            }
        }
        for (task, attempt, reattach) in resume {
            // The container already has its environment; resolve again only so that its log
            // stays masked (SPEC §6.4). A reference that no longer resolves masks nothing.
            if let Some(rs) = self.running.get_mut(key)
                && let Some(se) = rs.executions.get(&task)
                && let Ok(resolved) = resolve_references(
                    &self.resolver,
                    key,
                    &se.execution,
                    &rs.executions
                        .iter()
                        .map(|(k, v)| (k.clone(), v.execution.clone()))
                        .collect(),
                )
                .await
            {
                rs.resolved.insert(task.clone(), resolved);
            }
            self.launch(key, &task, attempt, reattach);
        }
    }

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
        // Containers keep running; the next start reattaches to them (SPEC §17.3).
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

    // ---- queue (SPEC §5.2, §5.3) ------------------------------------------------------------

    async fn pipeline_limit(&self, ns: &str, p: &str, head: &StoredRun) -> u64 {
        let (ns2, p2, version) = (
            ns.to_string(),
            p.to_string(),
            head.run.pipeline_config_version,
        );
        let live = self
            .store
            .read(move |s| s.live_config(&ns2, &p2))
            .await
            .ok()
            .flatten();
        let parallelism = match live {
            Some(c) => c.parallelism,
            None => {
                let (ns, p) = (ns.to_string(), p.to_string());
                self.store
                    .read(move |s| s.get_config(&ns, &p, version))
                    .await
                    .map(|c| c.parallelism)
                    .unwrap_or(0)
            }
        };
        [parallelism, self.config.run_parallelism_limit]
            .into_iter()
            .filter(|l| *l > 0)
            .min()
            .unwrap_or(0)
    }

    async fn dequeue(&mut self) {
        let pipelines: Vec<(String, String)> = self
            .queue
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for (ns, p) in pipelines {
            loop {
                let global = self.config.global_run_limit;
                if global > 0 && self.running.len() as u64 >= global {
                    return;
                }
                let Some(head) = self
                    .queue
                    .get(&(ns.clone(), p.clone()))
                    .and_then(|q| q.front())
                    .copied()
                else {
                    break;
                };
                let head = match self.load_pending(&ns, &p, head).await {
                    Ok(run) => run,
                    Err(StoreError::Unreadable(e)) => {
                        // It can never start; the runs behind it must (the store has logged it,
                        // and `gofer service doctor` quarantines it).
                        tracing::error!(pipeline = %p, run = head, error = %e, "skipping an unreadable queued run");
                        if let Some(q) = self.queue.get_mut(&(ns.clone(), p.clone())) {
                            q.pop_front();
                        }
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(pipeline = %p, run = head, error = %e, "cannot load a queued run");
                        break;
                    }
                };
                let limit = self.pipeline_limit(&ns, &p, &head).await;
                let in_pipeline = self
                    .running
                    .keys()
                    .filter(|k| k.namespace == ns && k.pipeline == p)
                    .count() as u64;
                if limit > 0 && in_pipeline >= limit {
                    break;
                }
                if !self.start_run(head).await {
                    break;
                }
                if let Some(q) = self.queue.get_mut(&(ns.clone(), p.clone())) {
                    q.pop_front();
                }
            }
        }
    }

    /// A queued run as stored (pending runs have no cancel request and no deadline yet).
    async fn load_pending(&self, ns: &str, p: &str, run_id: u64) -> StoreResult<StoredRun> {
        let (ns, p) = (ns.to_string(), p.to_string());
        let run = self.store.read(move |s| s.get_run(&ns, &p, run_id)).await?;
        Ok(StoredRun {
            run,
            cancel: None,
            deadline: 0,
        })
    }

    /// Moves a run from the queue to `running` with its execution rows (SPEC §5.3).
    async fn start_run(&mut self, mut run: StoredRun) -> bool {
        let key = key_of(&run);
        let (ns, p, version) = (
            key.namespace.clone(),
            key.pipeline.clone(),
            run.run.pipeline_config_version,
        );
        let config: Config = match self
            .store
            .read(move |s| s.get_config(&ns, &p, version))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(run = %key, error = %e, "the run's config version is missing");
                return false;
            }
        };
        let now = gofer_core::now_millis();
        run.run.state = RunState::Running;
        run.run.started = now;
        run.deadline = if config.timeout > 0 {
            now.saturating_add(config.timeout.saturating_mul(1000))
        } else {
            0
        };
        let executions =
            runstate::new_executions(&run.run, &config, &self.config.api_base_url, now);
        let mut events = vec![EventKind::StartedRun {
            namespace_id: key.namespace.clone(),
            pipeline_id: key.pipeline.clone(),
            run_id: key.run,
        }];
        events.extend(executions.iter().map(|e| EventKind::CreatedTaskExecution {
            namespace_id: key.namespace.clone(),
            pipeline_id: key.pipeline.clone(),
            run_id: key.run,
            task_execution_id: e.task_id.clone(),
        }));
        let stored: Vec<StoredExecution> = executions
            .into_iter()
            .map(|execution| StoredExecution {
                execution,
                retry_at: 0,
                cancel: None,
            })
            .collect();
        let changes = RunChanges {
            runs: vec![run.clone()],
            executions: stored.clone(),
            dequeued: vec![key.clone()],
            events,
        };
        if !self.commit(changes).await {
            return false;
        }
        self.running.insert(
            key,
            Running {
                run,
                executions: stored
                    .into_iter()
                    .map(|e| (e.execution.task_id.clone(), e))
                    .collect(),
                active: HashMap::new(),
                deadline_enforced: false,
                resolved: HashMap::new(),
            },
        );
        true
    }

    // ---- DAG (SPEC §5.4–§5.8) ---------------------------------------------------------------

    /// Records a task execution's result while it runs (SPEC §5.13). Runs that are not in
    /// memory are queued or finished: their executions are not running, so the answer is 409
    /// (or 404 when the execution does not exist).
    async fn set_result(
        &mut self,
        key: &RunKey,
        task: &str,
        result: serde_json::Value,
    ) -> StoreResult<()> {
        let not_running = |state: &str| {
            crate::store::StoreError::Conflict(format!(
                "task '{task}' of run {} is {state}; a result can only be recorded while the task runs",
                key.run
            ))
        };
        let Some(rs) = self.running.get_mut(key) else {
            let (ns, p, id, t) = (
                key.namespace.clone(),
                key.pipeline.clone(),
                key.run,
                task.to_string(),
            );
            let e = self
                .store
                .read(move |s| s.get_task_execution(&ns, &p, id, &t))
                .await?;
            return Err(not_running(&e.state.to_string()));
        };
        let Some(se) = rs.executions.get(task) else {
            return Err(crate::store::StoreError::NotFound(format!(
                "task '{task}' not found in run {}",
                key.run
            )));
        };
        // `processing` with an attempt in flight counts as running: the container may report
        // before the dispatcher has processed its start.
        let in_flight = se.execution.state == ES::Running
            || (se.execution.state == ES::Processing && rs.active.contains_key(task));
        if !in_flight {
            return Err(not_running(&se.execution.state.to_string()));
        }
        let mut updated = se.clone();
        updated.execution.result = Some(result);
        let changes = RunChanges {
            executions: vec![updated.clone()],
            ..Default::default()
        };
        self.store.write(move |s| s.commit(changes)).await?;
        rs.executions.insert(task.to_string(), updated);
        Ok(())
    }

    async fn advance(&mut self, key: &RunKey) {
        let now = gofer_core::now_millis();
        let Some(rs) = self.running.get_mut(key) else {
            return;
        };
        let mut changes = RunChanges::default();
        let mut launches = Vec::new();
        let mut resolved = Vec::new();

        // Run deadline: stop running attempts, settle everything not yet started.
        if rs.run.deadline > 0 && now >= rs.run.deadline && !rs.deadline_enforced {
            rs.deadline_enforced = true;
            for active in rs.active.values() {
                let _ = active.stop.send(Some(Stop {
                    kind: StopKind::Deadline,
                    grace_secs: self.config.stop_timeout,
                }));
            }
            for (task, se) in rs.executions.iter_mut() {
                if se.execution.state != ES::Complete && !rs.active.contains_key(task) {
                    let mut updated = se.clone();
                    let why = reason(XR::Timeout, "the run exceeded its pipeline timeout");
                    changes
                        .events
                        .push(complete(&mut updated.execution, XS::Skipped, why, now));
                    changes.executions.push(updated);
                }
            }
        }

        if changes.executions.is_empty() && !rs.deadline_enforced && rs.run.cancel.is_none() {
            let view: BTreeMap<String, TaskExecution> = rs
                .executions
                .iter()
                .map(|(k, v)| (k.clone(), v.execution.clone()))
                .collect();
            for (task, se) in &rs.executions {
                let e = &se.execution;
                if e.state == ES::Complete || e.state == ES::Running || rs.active.contains_key(task)
                {
                    continue;
                }
                if se.retry_at > now {
                    continue;
                }
                let retrying = !e.attempts.is_empty();
                if !retrying {
                    match runstate::readiness(&e.task, &view) {
                        Readiness::Wait => continue,
                        Readiness::Skip(why) => {
                            let mut updated = se.clone();
                            let why = reason(XR::FailedPrecondition, why);
                            changes.events.push(complete(
                                &mut updated.execution,
                                XS::Skipped,
                                why,
                                now,
                            ));
                            changes.executions.push(updated);
                            continue;
                        }
                        Readiness::Run => {}
                    }
                }
                // Substitution (SPEC §6.3) resolves here, just before each attempt, so parents
                // can write run objects for their children.
                match resolve_references(&self.resolver, key, e, &view).await {
                    Ok(values) => {
                        resolved.push((task.clone(), values));
                    }
                    Err(problem) => {
                        let mut updated = se.clone();
                        let why = reason(XR::FailedPrecondition, problem);
                        changes
                            .events
                            .push(complete(&mut updated.execution, XS::Failed, why, now));
                        changes.executions.push(updated);
                        continue;
                    }
                }
                // Record the attempt durably before asking the scheduler (SPEC §5.6 step 1).
                let log_path = gofer_core::paths::task_log(
                    &self.config.data_dir,
                    &key.namespace,
                    &key.pipeline,
                    key.run,
                    task,
                );
                // File work runs on the blocking pool, never on the dispatcher's loop.
                let path = log_path.clone();
                let prepared = tokio::task::spawn_blocking(move || prepare_log(&path))
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e)));
                let offset = match prepared {
                    Ok(offset) => offset,
                    Err(err) => {
                        tracing::error!(path = %log_path.display(), error = %err, "cannot create the task log");
                        continue;
                    }
                };
                let mut updated = se.clone();
                let attempt = updated.execution.attempts.len() as u64 + 1;
                updated.execution.attempts.push(TaskAttempt {
                    attempt,
                    started: 0,
                    ended: 0,
                    exit_code: None,
                    status: XS::Unknown,
                    status_reason: None,
                    log_offset: offset,
                });
                updated.execution.state = ES::Processing;
                updated.retry_at = 0;
                changes.executions.push(updated);
                launches.push((task.clone(), attempt));
            }
        }

        if !changes.executions.is_empty() {
            if !self.commit(changes.clone()).await {
                return;
            }
            let rs = self.running.get_mut(key).expect("present above");
            for se in changes.executions {
                rs.executions.insert(se.execution.task_id.clone(), se);
            }
            rs.resolved.extend(resolved);
            for (task, attempt) in launches {
                self.launch(key, &task, attempt, None);
            }
        }
        self.finish_if_done(key).await;
    }

    /// Spawns the executor of `attempt` (already recorded). `reattach` carries the recorded start
    /// time of a container found by recovery.
    fn launch(&mut self, key: &RunKey, task: &str, attempt: u64, reattach: Option<u64>) {
        let Some(rs) = self.running.get_mut(key) else {
            return;
        };
        let Some(se) = rs.executions.get(task) else {
            return;
        };
        let e = &se.execution;
        let log_offset = e.attempts.last().map(|a| a.log_offset).unwrap_or(0);
        let resolved = rs.resolved.remove(task).unwrap_or_else(|| Resolved {
            // Only a reattached attempt gets here without values; its container has them.
            env: e
                .variables
                .iter()
                .map(|v| (v.key.clone(), v.value.clone()))
                .collect(),
            ..Resolved::default()
        });
        let mut env = resolved.env;
        env.push(("GOFER_TASK_ATTEMPT".into(), attempt.to_string()));
        // The run's API token (SPEC §6.5), derived again here so its plaintext is never stored.
        let mut masks = resolved.masks;
        if e.task.inject_api_token
            && let Some(token_id) = &rs.run.run.token_id
        {
            let secret = crate::tokens::run_token_secret(&self.config.run_token_key, token_id);
            // Masked in the task's log like any secret (SPEC §6.4, §6.5).
            substitute::add_mask(&mut masks, &secret);
            env.push(("GOFER_API_TOKEN".into(), secret));
        }
        let request = StartRequest {
            name: scheduler::task_container_name(
                &key.namespace,
                &key.pipeline,
                key.run,
                task,
                attempt,
            ),
            image: e.task.image.clone(),
            registry_auth: e.task.registry_auth.as_ref().map(|a| {
                let pass = resolved.registry_pass.clone().unwrap_or(a.pass.clone());
                (a.user.clone(), pass)
            }),
            always_pull: e.task.always_pull_newest_image,
            env,
            entrypoint: e.task.entrypoint.clone(),
            command: e.task.command.clone(),
            labels: scheduler::task_labels(
                &self.config.instance_id,
                &key.namespace,
                &key.pipeline,
                key.run,
                task,
                attempt,
            ),
            publish_port: None,
        };
        let spec = AttemptSpec {
            key: key.clone(),
            task: task.to_string(),
            attempt,
            request,
            log_path: gofer_core::paths::task_log(
                &self.config.data_dir,
                &key.namespace,
                &key.pipeline,
                key.run,
                task,
            ),
            timeout_secs: e.task.timeout,
            reattach_started: reattach,
            log_offset,
            stop_timeout: self.config.stop_timeout,
            masks,
        };
        let (stop, stop_rx) = watch::channel(None);
        // A cancel accepted before the container started applies at once.
        if let Some(cancel) = se.cancel.or(rs.run.cancel.map(|c| TaskCancel {
            grace_secs: self.config.stop_timeout,
            by_admin: c.by_admin,
        })) {
            let _ = stop.send(Some(Stop {
                kind: StopKind::Cancel,
                grace_secs: cancel.grace_secs,
            }));
        }
        // Every log line of the attempt carries its ids.
        let span = tracing::info_span!(
            "attempt",
            namespace = %key.namespace,
            pipeline = %key.pipeline,
            run = key.run,
            task = %task,
            attempt
        );
        let handle = tokio::spawn(
            executor::execute(spec, self.scheduler.clone(), self.tx.clone(), stop_rx)
                .instrument(span),
        );
        rs.active.insert(
            task.to_string(),
            Active {
                stop,
                task: handle.abort_handle(),
            },
        );
    }

    async fn attempt_started(&mut self, key: &RunKey, task: &str, attempt: u64, at: u64) {
        let Some(se) = self.running.get(key).and_then(|rs| rs.executions.get(task)) else {
            return;
        };
        let mut updated = se.clone();
        let e = &mut updated.execution;
        let Some(a) = e.attempts.iter_mut().find(|a| a.attempt == attempt) else {
            return;
        };
        if a.started == 0 {
            a.started = at;
        }
        if e.started == 0 {
            e.started = at;
        }
        e.state = ES::Running;
        let event = EventKind::StartedTaskExecution {
            namespace_id: key.namespace.clone(),
            pipeline_id: key.pipeline.clone(),
            run_id: key.run,
            task_execution_id: task.to_string(),
            attempt,
        };
        let changes = RunChanges {
            executions: vec![updated.clone()],
            events: vec![event],
            ..Default::default()
        };
        if self.commit(changes).await
            && let Some(rs) = self.running.get_mut(key)
        {
            rs.executions.insert(task.to_string(), updated);
        }
    }

    async fn attempt_ended(&mut self, key: &RunKey, task: &str, attempt: u64, outcome: Outcome) {
        let now = gofer_core::now_millis();
        let Some(rs) = self.running.get_mut(key) else {
            return;
        };
        rs.active.remove(task);
        let Some(se) = rs.executions.get(task) else {
            return;
        };
        let mut updated = se.clone();
        let run_cancelled = rs.run.cancel.is_some();
        let deadline_passed =
            rs.deadline_enforced || (rs.run.deadline > 0 && now >= rs.run.deadline);
        let e = &mut updated.execution;
        let (status, why, exit_code, retryable) = match &outcome {
            Outcome::StartFailed(message) => (
                XS::Failed,
                reason(XR::SchedulerError, message.clone()),
                None,
                true,
            ),
            Outcome::Finished(state) => match state {
                ContainerState::Exited { exit_code: 0 } => (XS::Successful, None, Some(0), false),
                ContainerState::Exited { exit_code } => (
                    XS::Failed,
                    reason(XR::AbnormalExit, format!("exited with code {exit_code}")),
                    Some(*exit_code),
                    true,
                ),
                other => (
                    XS::Failed,
                    reason(
                        XR::SchedulerError,
                        format!("the container ended unexpectedly: {other}"),
                    ),
                    None,
                    true,
                ),
            },
            Outcome::TimedOut {
                timeout_secs,
                state,
            } => (
                XS::Failed,
                reason(
                    XR::Timeout,
                    format!("exceeded task timeout of {timeout_secs}s"),
                ),
                exit_code_of(state),
                true,
            ),
            Outcome::Stopped {
                kind: StopKind::Cancel,
                state,
            } => (
                XS::Cancelled,
                reason(XR::Cancelled, "the task was cancelled"),
                exit_code_of(state),
                false,
            ),
            Outcome::Stopped {
                kind: StopKind::Deadline,
                state,
            } => (
                XS::Failed,
                reason(XR::Timeout, "the run exceeded its pipeline timeout"),
                exit_code_of(state),
                false,
            ),
        };
        if let Some(a) = e.attempts.iter_mut().find(|a| a.attempt == attempt) {
            a.ended = now;
            a.exit_code = exit_code;
            a.status = status;
            a.status_reason = why.clone();
        }
        e.exit_code = exit_code;
        let allowed = e.task.retries.count + 1;
        let mut changes = RunChanges::default();
        if retryable
            && (e.attempts.len() as u64) < allowed
            && updated.cancel.is_none()
            && !run_cancelled
            && !deadline_passed
        {
            e.state = ES::Waiting;
            updated.retry_at = now.saturating_add(e.task.retries.backoff.saturating_mul(1000));
        } else {
            changes.events.push(complete(e, status, why, now));
        }
        changes.executions.push(updated.clone());
        if self.commit(changes).await
            && let Some(rs) = self.running.get_mut(key)
        {
            rs.executions.insert(task.to_string(), updated);
        }
        self.advance(key).await;
    }

    /// Finalises a run whose executions are all complete (SPEC §5.10).
    async fn finish_if_done(&mut self, key: &RunKey) {
        let Some(rs) = self.running.get(key) else {
            return;
        };
        if !rs.active.is_empty()
            || rs
                .executions
                .values()
                .any(|e| e.execution.state != ES::Complete)
        {
            return;
        }
        let now = gofer_core::now_millis();
        let executions: Vec<TaskExecution> = rs
            .executions
            .values()
            .map(|e| e.execution.clone())
            .collect();
        let cancelled = rs.run.cancel.map(|c| c.by_admin).or_else(|| {
            rs.executions
                .values()
                .find_map(|e| e.cancel.map(|c| c.by_admin))
        });
        let deadline_passed =
            rs.deadline_enforced || (rs.run.deadline > 0 && now >= rs.run.deadline);
        let (status, why) = runstate::final_status(
            &executions,
            RunEnding {
                cancelled,
                deadline_passed,
            },
        );
        let mut run = rs.run.clone();
        run.run.state = RunState::Complete;
        run.run.status = status;
        run.run.status_reason = why;
        run.run.ended = now;
        let changes = RunChanges {
            runs: vec![run],
            events: vec![EventKind::CompletedRun {
                namespace_id: key.namespace.clone(),
                pipeline_id: key.pipeline.clone(),
                run_id: key.run,
                status,
            }],
            ..Default::default()
        };
        if self.commit(changes).await {
            self.running.remove(key);
            self.sweep_logs(&key.namespace, &key.pipeline).await;
            self.sweep_objects(&key.namespace, &key.pipeline).await;
        }
    }

    // ---- cancellation (SPEC §5.9) -----------------------------------------------------------

    async fn cancel_run(
        &mut self,
        key: &RunKey,
        by_admin: bool,
        request: gofer_core::api::RunCancellation,
    ) -> StoreResult<()> {
        let now = gofer_core::now_millis();
        let queue_key = (key.namespace.clone(), key.pipeline.clone());
        // A pending run leaves the queue and completes cancelled with no executions.
        if let Some(pos) = self
            .queue
            .get(&queue_key)
            .and_then(|q| q.iter().position(|id| *id == key.run))
        {
            let mut run = self
                .load_pending(&key.namespace, &key.pipeline, key.run)
                .await?;
            run.cancel = Some(CancelRequest { by_admin });
            run.run.cancellation = Some(request);
            let (status, why) = runstate::final_status(
                &[],
                RunEnding {
                    cancelled: Some(by_admin),
                    deadline_passed: false,
                },
            );
            run.run.state = RunState::Complete;
            run.run.status = status;
            run.run.status_reason = why;
            run.run.ended = now;
            let changes = RunChanges {
                runs: vec![run],
                dequeued: vec![key.clone()],
                events: vec![
                    EventKind::StartedRunCancellation {
                        namespace_id: key.namespace.clone(),
                        pipeline_id: key.pipeline.clone(),
                        run_id: key.run,
                    },
                    EventKind::CompletedRun {
                        namespace_id: key.namespace.clone(),
                        pipeline_id: key.pipeline.clone(),
                        run_id: key.run,
                        status: RunStatus::Cancelled,
                    },
                ],
                ..Default::default()
            };
            self.store.write(move |s| s.commit(changes)).await?;
            if let Some(q) = self.queue.get_mut(&queue_key) {
                q.remove(pos);
            }
            return Ok(());
        }
        let Some(rs) = self.running.get_mut(key) else {
            // Not pending and not running: it exists and is complete (204), or it is missing.
            let RunKey {
                namespace: ns,
                pipeline: p,
                run: id,
            } = key.clone();
            self.store.read(move |s| s.get_run(&ns, &p, id)).await?;
            return Ok(());
        };
        if rs.run.cancel.is_some() {
            // Already cancelling: a forced cancel now kills what still runs.
            let already_forced = rs.run.run.cancellation.as_ref().is_some_and(|c| c.force);
            if request.force && !already_forced {
                let mut run = rs.run.clone();
                if let Some(c) = run.run.cancellation.as_mut() {
                    c.force = true;
                } else {
                    run.run.cancellation = Some(request);
                }
                let changes = RunChanges {
                    runs: vec![run.clone()],
                    ..Default::default()
                };
                self.store.write(move |s| s.commit(changes)).await?;
                rs.run = run;
                for active in rs.active.values() {
                    let _ = active.stop.send(Some(Stop {
                        kind: StopKind::Cancel,
                        grace_secs: 0,
                    }));
                }
            }
            return Ok(());
        }
        let grace = if request.force {
            0
        } else {
            self.config.stop_timeout
        };
        let mut run = rs.run.clone();
        run.cancel = Some(CancelRequest { by_admin });
        run.run.cancellation = Some(request);
        let mut changes = RunChanges {
            runs: vec![run.clone()],
            events: vec![EventKind::StartedRunCancellation {
                namespace_id: key.namespace.clone(),
                pipeline_id: key.pipeline.clone(),
                run_id: key.run,
            }],
            ..Default::default()
        };
        let mut to_stop = Vec::new();
        for (task, se) in &rs.executions {
            if se.execution.state == ES::Complete {
                continue;
            }
            changes
                .events
                .push(EventKind::StartedTaskExecutionCancellation {
                    namespace_id: key.namespace.clone(),
                    pipeline_id: key.pipeline.clone(),
                    run_id: key.run,
                    task_execution_id: task.clone(),
                    timeout: grace,
                });
            let mut updated = se.clone();
            updated.cancel = Some(TaskCancel {
                grace_secs: grace,
                by_admin,
            });
            if rs.active.contains_key(task) {
                to_stop.push(task.clone());
            } else {
                let why = reason(XR::Cancelled, "the run was cancelled");
                changes
                    .events
                    .push(complete(&mut updated.execution, XS::Cancelled, why, now));
            }
            changes.executions.push(updated);
        }
        self.store
            .write({
                let changes = changes.clone();
                move |s| s.commit(changes)
            })
            .await?;
        rs.run = run;
        for se in changes.executions {
            rs.executions.insert(se.execution.task_id.clone(), se);
        }
        for task in to_stop {
            if let Some(active) = rs.active.get(&task) {
                let _ = active.stop.send(Some(Stop {
                    kind: StopKind::Cancel,
                    grace_secs: grace,
                }));
            }
        }
        self.finish_if_done(key).await;
        Ok(())
    }

    async fn cancel_task(
        &mut self,
        key: &RunKey,
        task: &str,
        grace: u64,
        by_admin: bool,
    ) -> StoreResult<()> {
        let now = gofer_core::now_millis();
        let Some(rs) = self.running.get_mut(key) else {
            // Not running: the execution must exist (404 otherwise) and is complete, or the run
            // is still queued and has no executions yet.
            let (ns, p, id, t) = (
                key.namespace.clone(),
                key.pipeline.clone(),
                key.run,
                task.to_string(),
            );
            self.store
                .read(move |s| s.get_task_execution(&ns, &p, id, &t))
                .await?;
            return Ok(());
        };
        let Some(se) = rs.executions.get(task) else {
            return Err(crate::store::StoreError::NotFound(format!(
                "task '{task}' not found in run {}",
                key.run
            )));
        };
        if se.execution.state == ES::Complete || se.cancel.is_some() {
            return Ok(());
        }
        let mut updated = se.clone();
        updated.cancel = Some(TaskCancel {
            grace_secs: grace,
            by_admin,
        });
        let mut changes = RunChanges {
            events: vec![EventKind::StartedTaskExecutionCancellation {
                namespace_id: key.namespace.clone(),
                pipeline_id: key.pipeline.clone(),
                run_id: key.run,
                task_execution_id: task.to_string(),
                timeout: grace,
            }],
            ..Default::default()
        };
        let active = rs.active.contains_key(task);
        if !active {
            let why = reason(XR::Cancelled, "the task was cancelled");
            changes
                .events
                .push(complete(&mut updated.execution, XS::Cancelled, why, now));
        }
        changes.executions.push(updated.clone());
        self.store.write(move |s| s.commit(changes)).await?;
        rs.executions.insert(task.to_string(), updated);
        if let Some(a) = rs.active.get(task) {
            let _ = a.stop.send(Some(Stop {
                kind: StopKind::Cancel,
                grace_secs: grace,
            }));
        }
        self.advance(key).await;
        Ok(())
    }

    // ---- retention (SPEC §7.4) --------------------------------------------------------------

    /// The boot-time sweep over every pipeline.
    async fn sweep_all_logs(&self) {
        if self.config.log_retention == 0 {
            return;
        }
        let all = Page::ALL;
        let Ok(namespaces) = self.store.read(move |s| s.list_namespaces(all)).await else {
            return;
        };
        for ns in namespaces {
            let id = ns.id.clone();
            let Ok(pipelines) = self.store.read(move |s| s.list_pipelines(&id, all)).await else {
                continue;
            };
            for p in pipelines {
                self.sweep_logs(&ns.id, &p.pipeline_id).await;
            }
        }
    }

    /// Run object expiry (SPEC §9.1): whenever a run is created or completes, the objects of
    /// every complete run at least `run_object_expiry` runs older than the newest are deleted
    /// and the run marked `store_objects_expired`.
    async fn sweep_objects(&self, ns: &str, p: &str) {
        let expiry = self.config.run_object_expiry;
        if expiry == 0 {
            return;
        }
        let Some(max) = self.older_than_newest(ns, p, expiry).await else {
            return;
        };
        let (ns2, p2) = (ns.to_string(), p.to_string());
        let expired = match self
            .store
            .write(move |s| s.expire_run_objects(&ns2, &p2, max))
            .await
        {
            Ok(expired) => expired,
            Err(e) => {
                tracing::warn!(error = %e, namespace = ns, pipeline = p, "run object expiry failed");
                return;
            }
        };
        for run_id in expired {
            let dir = gofer_core::paths::run_objects(&self.config.data_dir, ns, p, run_id);
            crate::objects::remove_dir(&dir).await;
        }
    }

    /// The highest run id at least `keep` runs older than the pipeline's newest run (the
    /// cutoff of object expiry and log retention); `None` when there is none.
    async fn older_than_newest(&self, ns: &str, p: &str, keep: u64) -> Option<u64> {
        let (ns, p) = (ns.to_string(), p.to_string());
        let newest = self
            .store
            .read(move |s| {
                s.list_runs(
                    &ns,
                    &p,
                    Page {
                        limit: 1,
                        offset: 0,
                        reverse: true,
                    },
                )
            })
            .await
            .ok()?;
        newest.first()?.run_id.checked_sub(keep)
    }

    /// Deletes the logs of complete runs older than the newest `log_retention` runs.
    async fn sweep_logs(&self, ns: &str, p: &str) {
        let retention = self.config.log_retention;
        if retention == 0 {
            return;
        }
        let Some(max) = self.older_than_newest(ns, p, retention).await else {
            return;
        };
        let (ns2, p2) = (ns.to_string(), p.to_string());
        let Ok(old) = self
            .store
            .read(move |s| s.runs_with_logs(&ns2, &p2, max))
            .await
        else {
            return;
        };
        let mut changes = RunChanges::default();
        for state in old {
            for mut se in state.executions {
                if se.execution.logs_removed {
                    continue;
                }
                let path = gofer_core::paths::task_log(
                    &self.config.data_dir,
                    ns,
                    p,
                    se.execution.run_id,
                    &se.execution.task_id,
                );
                if let Err(e) = tokio::fs::remove_file(&path).await
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %path.display(), error = %e, "could not delete an expired log");
                    continue;
                }
                se.execution.logs_expired = true;
                se.execution.logs_removed = true;
                changes.executions.push(se);
            }
        }
        if !changes.executions.is_empty() {
            self.commit(changes).await;
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

/// The single place where substitution plugs in (SPEC §6.3): every reference of the execution
/// resolved for one attempt, or the problem (naming the variable and the reference, never a
/// value) that fails the task with `failed_precondition`. Secret and object references resolve
/// in [`substitute`]; other kinds sit beside it.
///
/// `executions` is the run's current view, for `task_result{{t}}` (SPEC §5.13).
async fn resolve_references(
    resolver: &Resolver,
    key: &RunKey,
    execution: &TaskExecution,
    executions: &BTreeMap<String, TaskExecution>,
) -> Result<Resolved, String> {
    substitute::resolve(resolver, key, execution, executions).await
}
