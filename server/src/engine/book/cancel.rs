//! Cancelling a run or one task execution (docs/runs.md#cancellation).

use super::*;

impl RunBook {
    /// Cancels the run (docs/runs.md#cancellation): executions not started complete cancelled
    /// now; running ones are stopped with the grace (none when forced). A second, forced
    /// cancel kills what still runs.
    pub(super) fn cancel_run(
        &mut self,
        by_admin: bool,
        request: RunCancellation,
        now: u64,
    ) -> Vec<Step> {
        let kill_all = |book: &RunBook| {
            book.in_flight
                .iter()
                .map(|task| Step::Stop {
                    task: task.clone(),
                    stop: Stop {
                        kind: StopKind::Cancel,
                        grace_secs: 0,
                    },
                })
                .collect::<Vec<_>>()
        };
        if self.run.cancel.is_some() {
            let already_forced = self.run.run.cancellation.as_ref().is_some_and(|c| c.force);
            if !request.force || already_forced {
                return Vec::new();
            }
            let mut run = self.run.clone();
            if let Some(c) = run.run.cancellation.as_mut() {
                c.force = true;
            } else {
                run.run.cancellation = Some(request);
            }
            let mut steps = vec![Step::Commit(RunChanges {
                runs: vec![run],
                ..Default::default()
            })];
            steps.extend(kill_all(self));
            return steps;
        }
        let grace = if request.force { 0 } else { self.stop_timeout };
        let mut run = self.run.clone();
        run.cancel = Some(CancelRequest { by_admin });
        run.run.cancellation = Some(request);
        let mut changes = RunChanges {
            runs: vec![run],
            events: vec![EventKind::StartedRunCancellation {
                namespace_id: self.key.namespace.clone(),
                pipeline_id: self.key.pipeline.clone(),
                run_id: self.key.run,
            }],
            ..Default::default()
        };
        let mut stops = Vec::new();
        for (task, se) in &self.executions {
            if se.execution.state == ES::Complete {
                continue;
            }
            changes
                .events
                .push(EventKind::StartedTaskExecutionCancellation {
                    namespace_id: self.key.namespace.clone(),
                    pipeline_id: self.key.pipeline.clone(),
                    run_id: self.key.run,
                    task_execution_id: task.clone(),
                    timeout: grace,
                });
            let mut updated = se.clone();
            updated.cancel = Some(TaskCancel {
                grace_secs: grace,
                by_admin,
            });
            if self.in_flight.contains(task) {
                stops.push(Step::Stop {
                    task: task.clone(),
                    stop: Stop {
                        kind: StopKind::Cancel,
                        grace_secs: grace,
                    },
                });
            } else {
                let why = reason(XR::Cancelled, "the run was cancelled");
                changes
                    .events
                    .push(complete(&mut updated.execution, XS::Cancelled, why, now));
            }
            changes.executions.push(updated);
        }
        let mut steps = vec![Step::Commit(changes)];
        steps.extend(stops);
        steps
    }

    pub(super) fn cancel_task(
        &mut self,
        task: &str,
        grace: u64,
        by_admin: bool,
        now: u64,
    ) -> Vec<Step> {
        let Some(se) = self.executions.get(task) else {
            return Vec::new();
        };
        if se.execution.state == ES::Complete || se.cancel.is_some() {
            return Vec::new();
        }
        let mut updated = se.clone();
        updated.cancel = Some(TaskCancel {
            grace_secs: grace,
            by_admin,
        });
        let mut changes = RunChanges {
            events: vec![EventKind::StartedTaskExecutionCancellation {
                namespace_id: self.key.namespace.clone(),
                pipeline_id: self.key.pipeline.clone(),
                run_id: self.key.run,
                task_execution_id: task.to_owned(),
                timeout: grace,
            }],
            ..Default::default()
        };
        let in_flight = self.in_flight.contains(task);
        if !in_flight {
            let why = reason(XR::Cancelled, "the task was cancelled");
            changes
                .events
                .push(complete(&mut updated.execution, XS::Cancelled, why, now));
        }
        changes.executions.push(updated);
        let mut steps = vec![Step::Commit(changes)];
        if in_flight {
            steps.push(Step::Stop {
                task: task.to_owned(),
                stop: Stop {
                    kind: StopKind::Cancel,
                    grace_secs: grace,
                },
            });
        }
        steps
    }
}
