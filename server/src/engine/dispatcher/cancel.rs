//! Cancelling a run or one task execution.

use super::*;

impl Dispatcher {
    pub(super) async fn cancel_run(
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

    pub(super) async fn cancel_task(
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
}
