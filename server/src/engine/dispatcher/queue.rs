//! The queue: pending runs per pipeline in order, started as the pipeline's parallelism and
//! the global limit allow.

use super::*;

impl Dispatcher {
    pub(super) async fn pipeline_limit(&self, ns: &str, p: &str, head: &StoredRun) -> u64 {
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

    pub(super) async fn dequeue(&mut self) {
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
    pub(super) async fn load_pending(
        &self,
        ns: &str,
        p: &str,
        run_id: u64,
    ) -> StoreResult<StoredRun> {
        let (ns, p) = (ns.to_string(), p.to_string());
        let run = self.store.read(move |s| s.get_run(&ns, &p, run_id)).await?;
        Ok(StoredRun {
            run,
            cancel: None,
            deadline: 0,
        })
    }

    /// Moves a run from the queue to `running` with its execution rows (docs/runs.md#queue).
    pub(super) async fn start_run(&mut self, run: StoredRun) -> bool {
        let key = RunKey::of(&run.run);
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
        let changes = RunBook::start(
            run,
            &config,
            &self.config.api_base_url,
            gofer_core::now_millis(),
        );
        if self.commit(changes.clone()).await.is_err() {
            return false;
        }
        let RunChanges {
            mut runs,
            executions,
            ..
        } = changes;
        let Some(run) = runs.pop() else {
            return false;
        };
        let book = RunBook::new(run, executions, self.config.stop_timeout);
        self.running.insert(key, Running::new(book));
        true
    }
}
