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
                    let book = RunBook::new(run, executions, d.config.stop_timeout);
                    let key = book.key.clone();
                    d.running.insert(key.clone(), Running::new(book));
                    d.reconcile(&key).await;
                }
            }
        }
        Ok(d)
    }

    /// Asks the scheduler about every attempt of a recovered run that was recorded but not
    /// finished, and lets the core resume or settle each. An attempt whose container cannot be
    /// listed now is left as recorded and looked at like any waiting task.
    pub(super) async fn reconcile(&mut self, key: &RunKey) {
        let Some(rs) = self.running.get(key) else {
            return;
        };
        let mut found = Vec::new();
        for (task, attempt) in rs.book.unfinished_attempts() {
            let labels = scheduler::task_labels(
                &self.config.instance_id,
                &key.namespace,
                &key.pipeline,
                key.run,
                &task,
                attempt,
            );
            match self.scheduler.list(&labels).await {
                Ok(containers) => {
                    found.push((task, containers.into_iter().next().map(|c| c.state)));
                }
                Err(e) => tracing::error!(error = %e, "listing containers for recovery failed"),
            }
        }
        let _ = self.feed(key, Input::Recovered(found)).await;
    }
}
