//! A write transaction (`Tx`): events, and the rows of namespaces, pipelines, configs, runs and
//! task executions that several operations write together.

use super::*;

// ---- transactions ------------------------------------------------------------------------------

/// A write transaction plus what emitting events needs.
pub(super) struct Tx<'a> {
    pub(super) txn: &'a WriteTransaction,
    pub(super) clock: &'a Clock,
}

impl Tx<'_> {
    /// Writes an event in this transaction. Callers must not hold `META` or `EVENTS` open.
    pub(super) fn emit(&self, kind: EventKind) -> StoreResult<Event> {
        let mut meta = self.txn.open_table(META).or_internal()?;
        let last: Option<LastEvent> = get(&meta, META_LAST_EVENT, "last event")?;
        let (id, emitted) = next_event_id(last.as_ref(), (self.clock)())?;
        let event = Event { id, kind, emitted };
        let last = LastEvent {
            id: event.id.clone(),
            emitted,
        };
        meta.insert(META_LAST_EVENT, encode(&last)?.as_slice())
            .or_internal()?;
        drop(meta);
        let mut events = self.txn.open_table(EVENTS).or_internal()?;
        events
            .insert(event.id.as_str(), encode(&event)?.as_slice())
            .or_internal()?;
        Ok(event)
    }

    pub(super) fn require_namespace(&self, ns: &str) -> StoreResult<Namespace> {
        let namespaces = self.txn.open_table(NAMESPACES).or_internal()?;
        get(&namespaces, ns, "namespace")?.ok_or_else(|| namespace_not_found(ns))
    }

    pub(super) fn require_pipeline(&self, ns: &str, p: &str) -> StoreResult<Metadata> {
        let pipelines = self.txn.open_table(PIPELINES).or_internal()?;
        match get(&pipelines, (ns, p), "pipeline")? {
            Some(metadata) => Ok(metadata),
            None => Err(pipeline_not_found(
                &self.txn.open_table(NAMESPACES).or_internal()?,
                ns,
                p,
            )),
        }
    }

    /// The counters of an existing pipeline; a missing row means the file is inconsistent.
    pub(super) fn counters(&self, ns: &str, p: &str) -> StoreResult<PipelineCounters> {
        let counters = self.txn.open_table(PIPELINE_COUNTERS).or_internal()?;
        get(&counters, (ns, p), "pipeline counters")?
            .ok_or_else(|| StoreError::Internal(format!("pipeline '{ns}/{p}' has no counters row")))
    }

    pub(super) fn put_counters(
        &self,
        ns: &str,
        p: &str,
        counters: &PipelineCounters,
    ) -> StoreResult<()> {
        let mut table = self.txn.open_table(PIPELINE_COUNTERS).or_internal()?;
        table
            .insert((ns, p), encode(counters)?.as_slice())
            .or_internal()?;
        Ok(())
    }

    pub(super) fn put_config(&self, config: &Config) -> StoreResult<()> {
        let mut configs = self.txn.open_table(CONFIGS).or_internal()?;
        let key = (
            config.namespace_id.as_str(),
            config.pipeline_id.as_str(),
            config.version,
        );
        configs
            .insert(key, encode(config)?.as_slice())
            .or_internal()?;
        Ok(())
    }

    /// The stored run of an existing pipeline (`NotFound` naming the namespace, pipeline or run).
    pub(super) fn require_run(&self, ns: &str, p: &str, run_id: u64) -> StoreResult<StoredRun> {
        self.require_pipeline(ns, p)?;
        let runs = self.txn.open_table(RUNS).or_internal()?;
        get(&runs, (ns, p, run_id), "run")?.ok_or_else(|| run_not_found(p, run_id))
    }

    /// Writes a run row and keeps the run indexes in step with its state: the queue holds exactly
    /// the `pending` runs, `RUNNING_RUNS` exactly those neither pending nor complete.
    pub(super) fn put_run(&self, stored: &StoredRun) -> StoreResult<()> {
        let key = run_key(&stored.run);
        self.txn
            .open_table(RUNS)
            .or_internal()?
            .insert(key, encode(stored)?.as_slice())
            .or_internal()?;
        let mut queue = self.txn.open_table(RUN_QUEUE).or_internal()?;
        let mut running = self.txn.open_table(RUNNING_RUNS).or_internal()?;
        match stored.run.state {
            RunState::Pending => {
                queue.insert(key, ()).or_internal()?;
                running.remove(key).or_internal()?;
            }
            RunState::Complete => {
                queue.remove(key).or_internal()?;
                running.remove(key).or_internal()?;
            }
            RunState::Running | RunState::Unknown => {
                queue.remove(key).or_internal()?;
                running.insert(key, ()).or_internal()?;
            }
        }
        let mut with_objects = self.txn.open_table(RUNS_WITH_OBJECTS).or_internal()?;
        if stored.run.state == RunState::Complete && !stored.run.store_objects_expired {
            with_objects.insert(key, ()).or_internal()?;
        } else {
            with_objects.remove(key).or_internal()?;
        }
        Ok(())
    }

    /// Writes an execution row of an existing run.
    pub(super) fn put_execution(&self, stored: &StoredExecution) -> StoreResult<()> {
        let e = &stored.execution;
        let key = (
            e.namespace_id.as_str(),
            e.pipeline_id.as_str(),
            e.run_id,
            e.task_id.as_str(),
        );
        self.txn
            .open_table(EXECUTIONS)
            .or_internal()?
            .insert(key, encode(stored)?.as_slice())
            .or_internal()?;
        Ok(())
    }

    /// Puts the run in `RUNS_WITH_LOGS` exactly when one of its executions still has logs.
    pub(super) fn sync_logs_index(&self, ns: &str, p: &str, run_id: u64) -> StoreResult<()> {
        let executions = self.txn.open_table(EXECUTIONS).or_internal()?;
        let has_logs = executions_of(&executions, ns, p, run_id, WHOLE)?
            .iter()
            .any(|e| !e.execution.logs_removed);
        let mut index = self.txn.open_table(RUNS_WITH_LOGS).or_internal()?;
        if has_logs {
            index.insert((ns, p, run_id), ()).or_internal()?;
        } else {
            index.remove((ns, p, run_id)).or_internal()?;
        }
        Ok(())
    }

    /// The pending and running runs of a pipeline, by run id.
    pub(super) fn unfinished_of(&self, ns: &str, p: &str) -> StoreResult<Vec<StoredRun>> {
        let mut keys = Vec::new();
        for table in [RUN_QUEUE, RUNNING_RUNS] {
            let index = self.txn.open_table(table).or_internal()?;
            for entry in index.range(pipeline_runs(ns, p)).or_internal()? {
                keys.push(entry.or_internal()?.0.value().2);
            }
        }
        keys.sort_unstable();
        let runs = self.txn.open_table(RUNS).or_internal()?;
        let mut out = Vec::new();
        for id in keys {
            out.extend(skip_unreadable(indexed_run(&runs, ns, p, id))?);
        }
        Ok(out)
    }

    /// Removes a pipeline and everything beneath it (docs/pipelines.md#what-a-delete-takes-with-it, for what exists so far: configs,
    /// deployments, counters, runs, executions, object index rows, pipeline secrets and their
    /// index entries; the caller removes the object files) and emits
    /// `deleted_pipeline`. `Conflict` when it has a pending or running run; the caller's
    /// transaction then aborts, so nothing is deleted (for a namespace: no pipeline at all).
    pub(super) fn delete_pipeline_rows(&self, ns: &str, p: &str) -> StoreResult<()> {
        for index in [RUN_QUEUE, RUNNING_RUNS] {
            let index = self.txn.open_table(index).or_internal()?;
            if index
                .range(pipeline_runs(ns, p))
                .or_internal()?
                .next()
                .is_some()
            {
                return Err(StoreError::Conflict(format!(
                    "pipeline '{p}' has pending or running runs; cancel them first"
                )));
            }
        }
        let with_tokens: Vec<u64> = {
            let run_tokens = self.txn.open_table(RUN_TOKENS).or_internal()?;
            run_tokens
                .range(pipeline_runs(ns, p))
                .or_internal()?
                .map(|entry| Ok(entry.or_internal()?.0.value().2))
                .collect::<StoreResult<_>>()?
        };
        for run_id in with_tokens {
            self.revoke_run_token(ns, p, run_id)?;
        }
        let p_upper = upper(p);
        self.txn
            .open_table(EXECUTIONS)
            .or_internal()?
            .retain_in((ns, p, 0, "")..(ns, p_upper.as_str(), 0, ""), |_, _| false)
            .or_internal()?;
        for index in [RUN_QUEUE, RUNNING_RUNS, RUNS_WITH_LOGS, RUNS_WITH_OBJECTS] {
            self.txn
                .open_table(index)
                .or_internal()?
                .retain_in(pipeline_runs(ns, p), |_, _| false)
                .or_internal()?;
        }
        self.txn
            .open_table(RUNS)
            .or_internal()?
            .retain_in(pipeline_runs(ns, p), |_, _| false)
            .or_internal()?;
        self.txn
            .open_table(RUN_OBJECTS)
            .or_internal()?
            .retain_in((ns, p, 0, "")..(ns, p_upper.as_str(), 0, ""), |_, _| false)
            .or_internal()?;
        for table in [PIPELINE_OBJECTS, PIPELINE_SECRETS] {
            self.txn
                .open_table(table)
                .or_internal()?
                .retain_in((ns, p, "")..(ns, p_upper.as_str(), ""), |_, _| false)
                .or_internal()?;
        }
        for key in self.pipeline_subscription_keys(ns, p)? {
            self.remove_subscription(&key)?;
        }
        let all = (ns, p, 0)..=(ns, p, u64::MAX);
        self.txn
            .open_table(CONFIGS)
            .or_internal()?
            .retain_in(all.clone(), |_, _| false)
            .or_internal()?;
        self.txn
            .open_table(DEPLOYMENTS)
            .or_internal()?
            .retain_in(all, |_, _| false)
            .or_internal()?;
        self.txn
            .open_table(PIPELINE_COUNTERS)
            .or_internal()?
            .remove((ns, p))
            .or_internal()?;
        self.txn
            .open_table(PIPELINES)
            .or_internal()?
            .remove((ns, p))
            .or_internal()?;
        self.emit(EventKind::DeletedPipeline {
            namespace_id: ns.to_string(),
            pipeline_id: p.to_string(),
        })?;
        Ok(())
    }
}
