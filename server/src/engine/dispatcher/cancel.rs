//! Cancelling a run or one task execution.

use super::*;
use crate::store::CancelRequest;

impl Dispatcher {
    pub(super) async fn cancel_run(
        &mut self,
        key: &RunKey,
        by_admin: bool,
        request: RunCancellation,
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
            run.run.status_reason = runstate::cancel_reason(why, run.run.cancellation.as_ref());
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
        if !self.running.contains_key(key) {
            // Not pending and not running: it exists and is complete (204), or it is missing.
            let RunKey {
                namespace: ns,
                pipeline: p,
                run: id,
            } = key.clone();
            self.store.read(move |s| s.get_run(&ns, &p, id)).await?;
            return Ok(());
        }
        self.feed(key, Input::CancelRun { by_admin, request }).await
    }

    pub(super) async fn cancel_task(
        &mut self,
        key: &RunKey,
        task: &str,
        grace: u64,
        by_admin: bool,
    ) -> StoreResult<()> {
        let Some(rs) = self.running.get(key) else {
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
        if !rs.book.executions.contains_key(task) {
            return Err(crate::store::StoreError::NotFound(format!(
                "task '{task}' not found in run {}",
                key.run
            )));
        }
        let input = Input::CancelTask {
            task: task.to_owned(),
            grace_secs: grace,
            by_admin,
        };
        self.feed(key, input).await
    }
}
