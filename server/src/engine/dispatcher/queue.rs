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
        let (parallelism, overlap) = match live {
            Some(c) => (c.parallelism, c.overlap),
            None => {
                let (ns, p) = (ns.to_string(), p.to_string());
                self.store
                    .read(move |s| s.get_config(&ns, &p, version))
                    .await
                    .map(|c| (c.parallelism, c.overlap))
                    .unwrap_or_default()
            }
        };
        // docs/runs.md#overlapping-runs: `queue` runs one at a time; under `cancel_previous` the
        // new run waits for the cancelled one to end.
        let one_at_a_time = match overlap {
            OverlapPolicy::Queue | OverlapPolicy::CancelPrevious => 1,
            OverlapPolicy::Allow | OverlapPolicy::Skip => 0,
        };
        [
            parallelism,
            one_at_a_time,
            self.config.run_parallelism_limit,
        ]
        .into_iter()
        .filter(|l| *l > 0)
        .min()
        .unwrap_or(0)
    }

    /// docs/runs.md#overlapping-runs: under `cancel_previous`, run `newer` cancels every earlier
    /// run of the pipeline that is still pending or running, saying which run replaced it.
    pub(super) async fn supersede(&mut self, ns: &str, p: &str, newer: u64) {
        let mut earlier: Vec<u64> = self
            .queue
            .get(&(ns.to_string(), p.to_string()))
            .map(|q| q.iter().copied().filter(|id| *id < newer).collect())
            .unwrap_or_default();
        earlier.extend(
            self.running
                .keys()
                .filter(|k| k.namespace == ns && k.pipeline == p && k.run < newer)
                .map(|k| k.run),
        );
        // Most runs find none in progress: the policy is read only when there is one.
        if earlier.is_empty() {
            return;
        }
        let (ns2, p2) = (ns.to_string(), p.to_string());
        let policy = self
            .store
            .read(move |s| s.live_config(&ns2, &p2))
            .await
            .ok()
            .flatten()
            .map(|c| c.overlap)
            .unwrap_or_default();
        if policy != OverlapPolicy::CancelPrevious {
            return;
        }
        earlier.sort_unstable();
        for run in earlier {
            let key = RunKey {
                namespace: ns.to_string(),
                pipeline: p.to_string(),
                run,
            };
            let request = RunCancellation {
                requested: gofer_core::now_millis(),
                by: format!("run {newer}"),
                force: false,
                reason: Some(format!(
                    "cancelled by run {newer}: the pipeline's overlap policy is cancel_previous"
                )),
            };
            if let Err(e) = self.cancel_run(&key, false, request).await {
                tracing::warn!(run, newer, error = %e, "cannot cancel a run superseded by a newer one");
            }
        }
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
        // docs/runs.md#retrying-a-run: the retried run's executions, for the tasks it reuses.
        let reused_from = run
            .run
            .retry
            .as_ref()
            .filter(|r| !r.reused_tasks.is_empty())
            .map(|r| r.run_id);
        let old = match reused_from {
            Some(old_run) => {
                let (ns, p) = (key.namespace.clone(), key.pipeline.clone());
                match self
                    .store
                    .read(move |s| s.list_task_executions(&ns, &p, old_run, Page::ALL))
                    .await
                {
                    Ok(executions) => executions,
                    Err(e) => {
                        // Gone (deleted since): every task runs again.
                        tracing::warn!(run = %key, old_run, error = %e, "cannot read the retried run's tasks; running them all");
                        Vec::new()
                    }
                }
            }
            None => Vec::new(),
        };
        let now = gofer_core::now_millis();
        let mut changes = RunBook::start(run, &config, &self.config.api_base_url, now);
        RunBook::reuse(&mut changes, &old, now);
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
