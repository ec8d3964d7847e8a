//! Runs and task executions: creation, reads, and the engine's atomic commits.

use super::*;

impl RedbStore {
    pub(super) fn create_run(
        &self,
        namespace: &str,
        pipeline: &str,
        new: NewRun,
        now: u64,
    ) -> StoreResult<Run> {
        self.write_auth(|tx| -> StoreResult<StoreResult<Run>> {
            // docs/runs.md#queue steps 2-6, in order, inside the transaction that creates the run so no
            // concurrent change slips between a check and its effect.
            let metadata = tx.require_pipeline(namespace, pipeline)?;
            let system: System = {
                let meta = tx.txn.open_table(META).or_internal()?;
                get(&meta, META_SYSTEM, "system")?.unwrap_or_default()
            };
            if system.ignore_pipeline_run_events {
                return Err(StoreError::Unavailable("run ingress is paused".into()));
            }
            if metadata.state == PipelineState::Disabled {
                return Err(StoreError::Unavailable(format!(
                    "pipeline '{pipeline}' is disabled"
                )));
            }
            let mut counters = tx.counters(namespace, pipeline)?;
            if counters.live_version == 0 {
                return Err(StoreError::Conflict(format!(
                    "pipeline '{pipeline}' has no live config version; deploy one first \
                     (gofer pipeline config deploy {pipeline} <version>, or gofer up)"
                )));
            }
            // docs/runs.md#overlapping-runs: under `skip`, a start while a run is in progress is
            // refused, and the refusal is recorded (the event commits; the caller gets 409).
            // The run indexes are read first: the config, a larger record, only while a run is
            // in progress.
            if let Some(active) = tx.first_active_run(namespace, pipeline)?
                && tx.overlap_policy(namespace, pipeline, counters.live_version)?
                    == OverlapPolicy::Skip
            {
                let message = format!(
                    "pipeline '{pipeline}' skips a start while a run is in progress (overlap \
                     policy skip): run {active} has not finished"
                );
                tx.emit(EventKind::SkippedRun {
                    namespace_id: namespace.to_string(),
                    pipeline_id: pipeline.to_string(),
                    active_run_id: active,
                    initiator: new.initiator.clone(),
                })?;
                return Ok(Err(StoreError::Skipped(message)));
            }
            counters.last_run += 1;
            tx.put_counters(namespace, pipeline, &counters)?;
            // docs/pipelines.md#safe-deployments: a canary in progress may send this run to
            // its new version; the choice is a function of the run id, made once, here.
            let (version, deployment_id) =
                tx.choose_version(namespace, pipeline, &counters, counters.last_run)?;
            tx.insert_run(
                namespace,
                pipeline,
                counters.last_run,
                version,
                deployment_id,
                new,
                now,
            )
            .map(Ok)
        })?
    }

    pub(super) fn get_run(&self, namespace: &str, pipeline: &str, run_id: u64) -> StoreResult<Run> {
        self.read(|txn| Ok(read_run(txn, namespace, pipeline, run_id)?.run))
    }

    pub(super) fn list_runs(
        &self,
        namespace: &str,
        pipeline: &str,
        page: Page,
    ) -> StoreResult<Vec<Run>> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let runs = txn.open_table(RUNS).or_internal()?;
            // A range scan that skips `offset` keys undecoded and stops after `limit`, from
            // whichever end `reverse` asks for: never loads the pipeline's other runs.
            let range = runs
                .range(pipeline_runs(namespace, pipeline))
                .or_internal()?;
            let stored: Vec<StoredRun> = page_of(range, page, false, "run")?;
            Ok(stored.into_iter().map(|s| s.run).collect())
        })
    }

    pub(super) fn list_runs_of_version(
        &self,
        namespace: &str,
        pipeline: &str,
        version: u64,
        page: Page,
    ) -> StoreResult<Vec<Run>> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let runs = txn.open_table(RUNS).or_internal()?;
            let range = runs
                .range(pipeline_runs(namespace, pipeline))
                .or_internal()?;
            let stored: Vec<StoredRun> =
                page_of_where(range, page, false, "run", |s: &StoredRun| {
                    s.run.pipeline_config_version == version
                })?;
            Ok(stored.into_iter().map(|s| s.run).collect())
        })
    }

    pub(super) fn get_task_execution(
        &self,
        namespace: &str,
        pipeline: &str,
        run_id: u64,
        task_id: &str,
    ) -> StoreResult<TaskExecution> {
        self.read(|txn| {
            read_run(txn, namespace, pipeline, run_id)?;
            let executions = txn.open_table(EXECUTIONS).or_internal()?;
            let stored: StoredExecution = get(
                &executions,
                (namespace, pipeline, run_id, task_id),
                "task execution",
            )?
            .ok_or_else(|| execution_not_found(run_id, task_id))?;
            Ok(stored.execution)
        })
    }

    pub(super) fn list_task_executions(
        &self,
        namespace: &str,
        pipeline: &str,
        run_id: u64,
        page: Page,
    ) -> StoreResult<Vec<TaskExecution>> {
        self.read(|txn| {
            read_run(txn, namespace, pipeline, run_id)?;
            let executions = txn.open_table(EXECUTIONS).or_internal()?;
            let stored = executions_of(&executions, namespace, pipeline, run_id, page)?;
            Ok(stored.into_iter().map(|s| s.execution).collect())
        })
    }

    pub(super) fn active_run_counts(&self) -> StoreResult<(u64, u64)> {
        use redb::ReadableTableMetadata;
        self.read(|txn| {
            let pending = txn
                .open_table(RUN_QUEUE)
                .or_internal()?
                .len()
                .or_internal()?;
            let running = txn
                .open_table(RUNNING_RUNS)
                .or_internal()?
                .len()
                .or_internal()?;
            Ok((pending, running))
        })
    }

    pub(super) fn unfinished_runs(&self) -> StoreResult<Vec<StoredRunState>> {
        self.read(|txn| {
            let runs = txn.open_table(RUNS).or_internal()?;
            let executions = txn.open_table(EXECUTIONS).or_internal()?;
            let mut out = Vec::new();
            // Pending runs in queue order, then running ones; each index is exactly its state.
            for index in [RUN_QUEUE, RUNNING_RUNS] {
                let index = txn.open_table(index).or_internal()?;
                for entry in index.iter().or_internal()? {
                    let (key, _) = entry.or_internal()?;
                    let (ns, p, run_id) = key.value();
                    let Some(run) = skip_unreadable(indexed_run(&runs, ns, p, run_id))? else {
                        continue;
                    };
                    let executions = executions_of(&executions, ns, p, run_id, WHOLE)?;
                    out.push(StoredRunState { run, executions });
                }
            }
            Ok(out)
        })
    }

    pub(super) fn pending_runs(&self) -> StoreResult<Vec<StoredRun>> {
        self.read(|txn| {
            let runs = txn.open_table(RUNS).or_internal()?;
            let queue = txn.open_table(RUN_QUEUE).or_internal()?;
            let mut out = Vec::new();
            for entry in queue.iter().or_internal()? {
                let (key, _) = entry.or_internal()?;
                let (ns, p, run_id) = key.value();
                out.extend(skip_unreadable(indexed_run(&runs, ns, p, run_id))?);
            }
            Ok(out)
        })
    }

    pub(super) fn runs_with_logs(
        &self,
        namespace: &str,
        pipeline: &str,
        max_run_id: u64,
    ) -> StoreResult<Vec<StoredRunState>> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let runs = txn.open_table(RUNS).or_internal()?;
            let executions = txn.open_table(EXECUTIONS).or_internal()?;
            let index = txn.open_table(RUNS_WITH_LOGS).or_internal()?;
            let mut out = Vec::new();
            for entry in index
                .range((namespace, pipeline, 0)..=(namespace, pipeline, max_run_id))
                .or_internal()?
            {
                let run_id = entry.or_internal()?.0.value().2;
                let Some(run) = skip_unreadable(indexed_run(&runs, namespace, pipeline, run_id))?
                else {
                    continue;
                };
                if run.run.state != RunState::Complete {
                    continue; // handled when it completes (docs/logs-and-events.md#deleting-and-retention)
                }
                let executions = executions_of(&executions, namespace, pipeline, run_id, WHOLE)?;
                out.push(StoredRunState { run, executions });
            }
            Ok(out)
        })
    }

    pub(super) fn revoke_run_token(
        &self,
        namespace: &str,
        pipeline: &str,
        run_id: u64,
    ) -> StoreResult<bool> {
        self.write_auth(|tx| tx.revoke_run_token(namespace, pipeline, run_id))
    }

    pub(super) fn commit(&self, changes: RunChanges) -> StoreResult<Vec<Event>> {
        self.write(|tx| {
            // Only existing runs are changed: new runs come from `create_run` alone, so run ids
            // stay allocated by the pipeline counter.
            for stored in &changes.runs {
                let run = &stored.run;
                let before = tx.require_run(&run.namespace_id, &run.pipeline_id, run.run_id)?;
                tx.put_run(stored)?;
                if before.run.state != RunState::Complete && run.state == RunState::Complete {
                    // docs/pipelines.md#safe-deployments: a deployment's run counts in the
                    // commit that completes it.
                    tx.count_deployment_run(run, (tx.clock)())?;
                }
            }
            let mut touched = BTreeSet::new();
            for stored in &changes.executions {
                let e = &stored.execution;
                tx.require_run(&e.namespace_id, &e.pipeline_id, e.run_id)?;
                tx.put_execution(stored)?;
                touched.insert((e.namespace_id.as_str(), e.pipeline_id.as_str(), e.run_id));
            }
            for (ns, p, run_id) in &touched {
                tx.sync_logs_index(ns, p, *run_id)?;
            }
            for crate::store::RunKey {
                namespace: ns,
                pipeline: p,
                run: run_id,
            } in &changes.dequeued
            {
                let stored = tx.require_run(ns, p, *run_id)?;
                if stored.run.state == RunState::Pending {
                    // The queue holds exactly the pending runs: leaving it means changing state
                    // in the same commit.
                    return Err(StoreError::Invalid(format!(
                        "dequeued: run {run_id} of pipeline '{p}' is still pending"
                    )));
                }
                tx.txn
                    .open_table(RUN_QUEUE)
                    .or_internal()?
                    .remove((ns.as_str(), p.as_str(), *run_id))
                    .or_internal()?;
            }
            changes
                .events
                .into_iter()
                .map(|kind| tx.emit(kind))
                .collect()
        })
    }
}

impl Tx<'_> {
    /// The overlap policy of `version` (the live one) of the pipeline.
    fn overlap_policy(&self, ns: &str, p: &str, version: u64) -> StoreResult<OverlapPolicy> {
        let configs = self.txn.open_table(CONFIGS).or_internal()?;
        let config: Option<Config> = get(&configs, (ns, p, version), "config")?;
        Ok(config.map(|c| c.overlap).unwrap_or_default())
    }

    /// The oldest run of the pipeline that is pending or running, if any.
    fn first_active_run(&self, ns: &str, p: &str) -> StoreResult<Option<u64>> {
        let mut first: Option<u64> = None;
        for index in [RUNNING_RUNS, RUN_QUEUE] {
            let table = self.txn.open_table(index).or_internal()?;
            if let Some(entry) = table.range(pipeline_runs(ns, p)).or_internal()?.next() {
                let (key, _) = entry.or_internal()?;
                let id = key.value().2;
                first = Some(first.map_or(id, |f| f.min(id)));
            }
        }
        Ok(first)
    }

    /// Writes a new pending run `run_id` pinned to `version` (the caller has counted the id):
    /// checks `only` against that version, makes the run token when a task asks for one, emits
    /// `queued_run` and queues the run.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn insert_run(
        &self,
        namespace: &str,
        pipeline: &str,
        run_id: u64,
        version: u64,
        deployment_id: Option<u64>,
        new: NewRun,
        now: u64,
    ) -> StoreResult<Run> {
        // The config is read only when something needs it: most runs name no tasks and
        // inject no token.
        let mut needs_token = false;
        if new.only.is_some() || new.run_token.is_some() {
            let config: Config = {
                let configs = self.txn.open_table(CONFIGS).or_internal()?;
                get(&configs, (namespace, pipeline, version), "config")?.ok_or_else(|| {
                    StoreError::Internal(format!(
                        "version {version} of pipeline '{namespace}/{pipeline}' is missing"
                    ))
                })?
            };
            if let Some(task) = new
                .only
                .iter()
                .flatten()
                .find(|t| !config.tasks.contains_key(t.as_str()))
            {
                return Err(StoreError::Invalid(format!("only: unknown task '{task}'")));
            }
            needs_token = config.tasks.values().any(|t| t.inject_api_token);
        }
        let queued = self.emit(EventKind::QueuedRun {
            namespace_id: namespace.to_string(),
            pipeline_id: pipeline.to_string(),
            run_id,
        })?;
        let mut run = Run {
            namespace_id: namespace.to_string(),
            pipeline_id: pipeline.to_string(),
            pipeline_config_version: version,
            run_id,
            queued: now,
            started: 0,
            ended: 0,
            state: RunState::Pending,
            status: RunStatus::Unknown,
            status_reason: None,
            initiator: new.initiator,
            variables: new.variables,
            token_id: None,
            store_objects_expired: false,
            event_id: Some(queued.id),
            payload: new.payload,
            only: new.only,
            command_override: new.command_override,
            cancellation: None,
            deployment_id,
            retry: new.retry,
        };
        if let Some(seed) = new.run_token.as_ref().filter(|_| needs_token) {
            self.create_run_token(&run, seed, now)?;
            run.token_id = Some(seed.id.clone());
        }
        // `put_run` also appends it to the durable queue (state `pending`).
        self.put_run(&StoredRun {
            run: run.clone(),
            cancel: None,
            deadline: 0,
        })?;
        Ok(run)
    }
}
