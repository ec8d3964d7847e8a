//! Retention: expired task logs and run objects removed after runs complete.

use super::*;

impl Dispatcher {
    /// The boot-time sweep over every pipeline.
    pub(super) async fn sweep_all_logs(&self) {
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

    /// Run object expiry (docs/runs.md#retention): whenever a run is created or completes, the objects of
    /// every complete run at least `run_object_expiry` runs older than the newest are deleted
    /// and the run marked `store_objects_expired`.
    pub(super) async fn sweep_objects(&self, ns: &str, p: &str) {
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
    pub(super) async fn older_than_newest(&self, ns: &str, p: &str, keep: u64) -> Option<u64> {
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
    pub(super) async fn sweep_logs(&self, ns: &str, p: &str) {
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
            let _ = self.commit(changes).await;
        }
    }
}
