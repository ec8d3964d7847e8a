//! Restart recovery: attempts recorded before a restart, matched with what the scheduler reports
//! (docs/runs.md#restart-recovery).

use super::*;

impl RunBook {
    /// Reconciles attempts recorded before a restart with their containers
    /// (docs/runs.md#restart-recovery): a vanished container fails its task `orphaned`; a
    /// created one is started; a running or exited one is followed. None is started twice.
    pub(super) fn recovered(
        &mut self,
        found: Vec<(String, Option<ContainerState>)>,
        now: u64,
    ) -> Vec<Step> {
        let mut changes = RunChanges::default();
        let mut launches = Vec::new();
        for (task, state) in found {
            let Some(se) = self.executions.get(&task) else {
                continue;
            };
            let Some(last) = se
                .execution
                .attempts
                .last()
                .filter(|a| a.status == XS::Unknown && a.ended == 0)
            else {
                continue;
            };
            let recovered = match state {
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
                    continue;
                }
                Some(ContainerState::Created) => Recovered::Created,
                Some(_) => Recovered::Started(last.started),
            };
            launches.push(Step::Launch {
                task: task.clone(),
                attempt: last.attempt,
                recovered: Some(recovered),
            });
            // A cancel accepted before the restart applies at once.
            let cancel = se.cancel.or(self.run.cancel.map(|c| TaskCancel {
                grace_secs: self.stop_timeout,
                by_admin: c.by_admin,
            }));
            if let Some(cancel) = cancel {
                launches.push(Step::Stop {
                    task,
                    stop: Stop {
                        kind: StopKind::Cancel,
                        grace_secs: cancel.grace_secs,
                    },
                });
            }
        }
        let mut steps = Vec::new();
        if !changes.executions.is_empty() {
            steps.push(Step::Commit(changes));
        }
        steps.extend(launches);
        steps
    }
}
