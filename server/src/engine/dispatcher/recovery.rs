//! Restart recovery: unfinished runs loaded from the store, and every attempt recorded but not
//! finished reconciled with the container the engine reports (reattach, collect, start, or
//! `orphaned`).

use super::*;

impl Dispatcher {
    /// Loads every unfinished run and reconciles recorded attempts with the containers that
    /// exist (docs/runs.md#restart-recovery). Attempts found running or exited are reattached once the loop runs.
    pub(in crate::engine) async fn recover(
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
    pub(super) async fn reconcile(&mut self, key: &RunKey) {
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
            // stays masked (docs/runs.md#variables). A reference that no longer resolves masks nothing.
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
}
