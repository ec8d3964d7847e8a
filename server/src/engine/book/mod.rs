//! The engine's core: one running run's state machine, with no I/O and no clock (the rules are
//! in docs/runs.md).
//!
//! The dispatcher feeds a [`RunBook`] an [`Input`] and the time, and carries out the [`Step`]s it
//! answers, in order: store commits, attempt preparation (substitution and the task log), container
//! launches and stops. Stored rows change in memory only through [`RunBook::record`], which the
//! dispatcher calls after the commit that wrote them succeeded, so memory never runs ahead of the
//! store; a step list whose commit fails is abandoned and decided again on the next evaluation.
//!
//! Crash recovery is the same core: the dispatcher loads the run, asks which attempts were
//! recorded but not finished ([`RunBook::unfinished_attempts`]), and feeds what the scheduler
//! reports about their containers as [`Input::Recovered`].

mod cancel;
mod io;
mod recovery;

pub use io::{Input, Outcome, Prepared, Recovered, Step, Stop, StopKind};

use super::RunKey;
use crate::scheduler::ContainerState;
use crate::store::{CancelRequest, RunChanges, StoredExecution, StoredRun, TaskCancel};
use gofer_core::api::{
    Config, EventKind, RunCancellation, StatusReason, TaskAttempt, TaskExecution,
};
use gofer_core::enums::{
    RunState, TaskExecutionState as ES, TaskExecutionStatus as XS,
    TaskExecutionStatusReasonKind as XR,
};
use gofer_core::runstate::{self, Readiness, RunEnding};
use std::collections::{BTreeMap, BTreeSet};

/// One running run: its row and executions as stored, and what only memory knows.
#[derive(Debug, Clone)]
pub struct RunBook {
    pub key: RunKey,
    pub run: StoredRun,
    pub executions: BTreeMap<String, StoredExecution>,
    /// Tasks whose attempt has an executor.
    in_flight: BTreeSet<String>,
    /// The run deadline has been enforced.
    deadline_enforced: bool,
    /// Tasks whose log could not be created, and when to try again (not stored).
    held_until: BTreeMap<String, u64>,
    /// Grace in seconds for the stops the engine decides itself (deadline, run cancel).
    stop_timeout: u64,
}

fn reason(kind: XR, description: impl Into<String>) -> Option<StatusReason<XR>> {
    Some(StatusReason {
        reason: kind,
        description: description.into(),
    })
}

/// Completes an execution with a final status and returns its event.
fn complete(
    exec: &mut TaskExecution,
    status: XS,
    why: Option<StatusReason<XR>>,
    now: u64,
) -> EventKind {
    exec.state = ES::Complete;
    exec.status = status;
    exec.status_reason = why;
    exec.ended = now;
    EventKind::CompletedTaskExecution {
        namespace_id: exec.namespace_id.clone(),
        pipeline_id: exec.pipeline_id.clone(),
        run_id: exec.run_id,
        task_execution_id: exec.task_id.clone(),
        status,
        result: exec.result.clone(),
    }
}

fn exit_code_of(state: &ContainerState) -> Option<i64> {
    match state {
        ContainerState::Exited { exit_code } | ContainerState::OutOfMemory { exit_code, .. } => {
            Some(*exit_code)
        }
        _ => None,
    }
}

/// The final status of an attempt, its reason, its exit code and whether a retry may follow.
fn judge(outcome: &Outcome) -> (XS, Option<StatusReason<XR>>, Option<i64>, bool) {
    match outcome {
        Outcome::StartFailed(message) => (
            XS::Failed,
            reason(XR::SchedulerError, message.clone()),
            None,
            true,
        ),
        Outcome::Finished(ContainerState::Exited { exit_code: 0 }) => {
            (XS::Successful, None, Some(0), false)
        }
        Outcome::Finished(ContainerState::Exited { exit_code }) => (
            XS::Failed,
            reason(XR::AbnormalExit, format!("exited with code {exit_code}")),
            Some(*exit_code),
            true,
        ),
        Outcome::Finished(oom @ ContainerState::OutOfMemory { exit_code, .. }) => (
            XS::Failed,
            reason(XR::OutOfMemory, oom.to_string()),
            Some(*exit_code),
            true,
        ),
        Outcome::Finished(other) => (
            XS::Failed,
            reason(
                XR::SchedulerError,
                format!("the container ended unexpectedly: {other}"),
            ),
            None,
            true,
        ),
        Outcome::TimedOut {
            timeout_secs,
            state,
        } => (
            XS::Failed,
            reason(
                XR::Timeout,
                format!("exceeded task timeout of {timeout_secs}s"),
            ),
            exit_code_of(state),
            true,
        ),
        Outcome::Stopped {
            kind: StopKind::Cancel,
            state,
        } => (
            XS::Cancelled,
            reason(XR::Cancelled, "the task was cancelled"),
            exit_code_of(state),
            false,
        ),
        Outcome::Stopped {
            kind: StopKind::Deadline,
            state,
        } => (
            XS::Failed,
            reason(XR::Timeout, "the run exceeded its pipeline timeout"),
            exit_code_of(state),
            false,
        ),
    }
}

impl RunBook {
    /// What starting a queued run writes (docs/runs.md#queue): the run `running` with its deadline,
    /// one waiting execution per task, and their events. After the commit, [`RunBook::new`]
    /// with the same rows.
    pub fn start(mut run: StoredRun, config: &Config, api_base_url: &str, now: u64) -> RunChanges {
        let key = RunKey::of(&run.run);
        run.run.state = RunState::Running;
        run.run.started = now;
        run.deadline = if config.timeout > 0 {
            now.saturating_add(config.timeout.saturating_mul(1000))
        } else {
            0
        };
        let executions = runstate::new_executions(&run.run, config, api_base_url, now);
        let mut events = vec![EventKind::StartedRun {
            namespace_id: key.namespace.clone(),
            pipeline_id: key.pipeline.clone(),
            run_id: key.run,
        }];
        events.extend(executions.iter().map(|e| EventKind::CreatedTaskExecution {
            namespace_id: key.namespace.clone(),
            pipeline_id: key.pipeline.clone(),
            run_id: key.run,
            task_execution_id: e.task_id.clone(),
        }));
        RunChanges {
            runs: vec![run],
            executions: executions
                .into_iter()
                .map(|execution| StoredExecution {
                    execution,
                    retry_at: 0,
                    cancel: None,
                })
                .collect(),
            dequeued: vec![key],
            events,
        }
    }

    /// A run as stored (started now, or loaded at boot).
    pub fn new(run: StoredRun, executions: Vec<StoredExecution>, stop_timeout: u64) -> RunBook {
        RunBook {
            key: RunKey::of(&run.run),
            run,
            executions: executions
                .into_iter()
                .map(|e| (e.execution.task_id.clone(), e))
                .collect(),
            in_flight: BTreeSet::new(),
            deadline_enforced: false,
            held_until: BTreeMap::new(),
            stop_timeout,
        }
    }

    /// docs/runs.md#retrying-a-run: in the changes that start a retried run, the executions of
    /// tasks reused from the retried run (`old`, its executions) complete `successful` with
    /// reason `reused` and the old result, before anything is launched; no container runs for
    /// them, so they have no log.
    pub fn reuse(changes: &mut RunChanges, old: &[TaskExecution], now: u64) {
        let Some(retry) = changes.runs.first().and_then(|r| r.run.retry.clone()) else {
            return;
        };
        for se in &mut changes.executions {
            let e = &mut se.execution;
            if !retry.reused_tasks.contains(&e.task_id) {
                continue;
            }
            let Some(before) = old
                .iter()
                .find(|o| o.task_id == e.task_id && o.status == XS::Successful)
            else {
                continue;
            };
            e.state = ES::Complete;
            e.status = XS::Successful;
            e.status_reason = reason(
                XR::Reused,
                format!("reused from run {}, where it succeeded", retry.run_id),
            );
            e.result = before.result.clone();
            e.exit_code = before.exit_code;
            e.ended = now;
            changes.events.push(EventKind::CompletedTaskExecution {
                namespace_id: e.namespace_id.clone(),
                pipeline_id: e.pipeline_id.clone(),
                run_id: e.run_id,
                task_execution_id: e.task_id.clone(),
                status: XS::Successful,
                result: e.result.clone(),
            });
        }
    }

    /// Whether the task's attempt has an executor.
    pub fn in_flight(&self, task: &str) -> bool {
        self.in_flight.contains(task)
    }

    /// The executor of the task's attempt runs (after a [`Step::Launch`]).
    pub fn launched(&mut self, task: &str) {
        self.in_flight.insert(task.to_owned());
    }

    /// Applies rows a commit wrote.
    pub fn record(&mut self, changes: &RunChanges) {
        for run in &changes.runs {
            if RunKey::of(&run.run) == self.key {
                self.run = run.clone();
            }
        }
        for se in &changes.executions {
            if se.execution.run_id == self.key.run {
                self.executions
                    .insert(se.execution.task_id.clone(), se.clone());
            }
        }
    }

    /// The executions as the API shows them.
    pub fn view(&self) -> BTreeMap<String, TaskExecution> {
        self.executions
            .iter()
            .map(|(k, v)| (k.clone(), v.execution.clone()))
            .collect()
    }

    /// The earliest time something is due without an input (the run deadline, a retry's
    /// backoff, a held task), if any.
    pub fn next_wake(&self) -> Option<u64> {
        let deadline =
            (self.run.deadline > 0 && !self.deadline_enforced).then_some(self.run.deadline);
        let retries = self
            .executions
            .values()
            .filter(|se| se.execution.state != ES::Complete && se.retry_at > 0)
            .map(|se| se.retry_at);
        deadline
            .into_iter()
            .chain(retries)
            .chain(self.held_until.values().copied())
            .min()
    }

    /// Attempts recorded but not finished (at boot, before the first input): task and attempt.
    pub fn unfinished_attempts(&self) -> Vec<(String, u64)> {
        self.executions
            .iter()
            .filter(|(_, se)| se.execution.state != ES::Complete)
            .filter_map(|(task, se)| {
                se.execution
                    .attempts
                    .last()
                    .filter(|a| a.status == XS::Unknown && a.ended == 0)
                    .map(|a| (task.clone(), a.attempt))
            })
            .collect()
    }

    fn deadline_passed(&self, now: u64) -> bool {
        self.deadline_enforced || (self.run.deadline > 0 && now >= self.run.deadline)
    }

    /// The core's one entry point: what to do about `input` at time `now` (ms).
    pub fn apply(&mut self, input: Input, now: u64) -> Vec<Step> {
        match input {
            Input::Evaluate => self.evaluate(now),
            Input::Prepared(results) => self.prepared(results, now),
            Input::AttemptStarted { task, attempt, at } => self.attempt_started(&task, attempt, at),
            Input::AttemptEnded {
                task,
                attempt,
                outcome,
            } => self.attempt_ended(&task, attempt, &outcome, now),
            Input::CancelRun { by_admin, request } => self.cancel_run(by_admin, request, now),
            Input::CancelTask {
                task,
                grace_secs,
                by_admin,
            } => self.cancel_task(&task, grace_secs, by_admin, now),
            Input::Recovered(found) => self.recovered(found, now),
        }
    }

    /// The deadline, skips (to a fixed point, so a skip reaches every descendant at once), the
    /// tasks ready for an attempt, and the final status once every execution is complete.
    fn evaluate(&mut self, now: u64) -> Vec<Step> {
        self.held_until.retain(|_, until| *until > now);
        // The dispatcher evaluates every running run after every command, so the common case —
        // every unfinished task has its attempt under way — answers without copying anything.
        let deadline_due =
            self.run.deadline > 0 && now >= self.run.deadline && !self.deadline_enforced;
        let waiting = self.executions.iter().any(|(task, se)| {
            !matches!(se.execution.state, ES::Complete | ES::Running)
                && !self.in_flight.contains(task)
        });
        let may_finish = self.in_flight.is_empty()
            && self
                .executions
                .values()
                .all(|se| se.execution.state == ES::Complete);
        if !deadline_due && !waiting && !may_finish {
            return Vec::new();
        }
        let mut steps = Vec::new();
        let mut changes = RunChanges::default();
        let mut view = self.executions.clone();

        if self.run.deadline > 0 && now >= self.run.deadline && !self.deadline_enforced {
            self.deadline_enforced = true;
            for task in &self.in_flight {
                steps.push(Step::Stop {
                    task: task.clone(),
                    stop: Stop {
                        kind: StopKind::Deadline,
                        grace_secs: self.stop_timeout,
                    },
                });
            }
            for (task, se) in view.iter_mut() {
                if se.execution.state != ES::Complete && !self.in_flight.contains(task) {
                    let why = reason(XR::Timeout, "the run exceeded its pipeline timeout");
                    changes
                        .events
                        .push(complete(&mut se.execution, XS::Skipped, why, now));
                    changes.executions.push(se.clone());
                }
            }
        }

        let mut ready = Vec::new();
        if !self.deadline_enforced && self.run.cancel.is_none() {
            loop {
                let executions: BTreeMap<String, TaskExecution> = view
                    .iter()
                    .map(|(k, v)| (k.clone(), v.execution.clone()))
                    .collect();
                let mut skipped = false;
                ready.clear();
                for (task, se) in view.iter_mut() {
                    let e = &se.execution;
                    if e.state == ES::Complete
                        || e.state == ES::Running
                        || self.in_flight.contains(task)
                        || se.retry_at > now
                        || self.held_until.contains_key(task)
                    {
                        continue;
                    }
                    // A retry needs no readiness check: its parents were met for the first attempt.
                    if e.attempts.is_empty() {
                        match runstate::readiness(&e.task, &executions) {
                            Readiness::Wait => continue,
                            Readiness::Skip(why) => {
                                let why = reason(XR::FailedPrecondition, why);
                                changes.events.push(complete(
                                    &mut se.execution,
                                    XS::Skipped,
                                    why,
                                    now,
                                ));
                                changes.executions.push(se.clone());
                                skipped = true;
                                continue;
                            }
                            Readiness::Run => {}
                        }
                    }
                    ready.push(task.clone());
                }
                if !skipped {
                    break;
                }
            }
        }

        let all_complete = view.values().all(|se| se.execution.state == ES::Complete);
        let finished = all_complete && self.in_flight.is_empty();
        if finished {
            changes.runs.push(self.final_run(&view, now));
            changes.events.push(EventKind::CompletedRun {
                namespace_id: self.key.namespace.clone(),
                pipeline_id: self.key.pipeline.clone(),
                run_id: self.key.run,
                status: changes.runs[0].run.status,
            });
        }
        if changes != RunChanges::default() {
            steps.push(Step::Commit(changes));
        }
        if finished {
            steps.push(Step::Finished);
        } else if !ready.is_empty() {
            steps.push(Step::Prepare(ready));
        }
        steps
    }

    /// The run row completed with its final status (docs/runs.md#final-status).
    fn final_run(&self, view: &BTreeMap<String, StoredExecution>, now: u64) -> StoredRun {
        let executions: Vec<TaskExecution> = view.values().map(|e| e.execution.clone()).collect();
        let cancelled = self
            .run
            .cancel
            .map(|c| c.by_admin)
            .or_else(|| view.values().find_map(|e| e.cancel.map(|c| c.by_admin)));
        let (status, why) = runstate::final_status(
            &executions,
            RunEnding {
                cancelled,
                deadline_passed: self.deadline_passed(now),
            },
        );
        let mut run = self.run.clone();
        run.run.state = RunState::Complete;
        run.run.status = status;
        run.run.status_reason = runstate::cancel_reason(why, run.run.cancellation.as_ref());
        run.run.ended = now;
        run
    }

    /// Records the prepared attempts durably before anything is started
    /// (docs/runs.md#attempts), and fails the tasks whose references do not resolve.
    fn prepared(&mut self, results: Vec<(String, Prepared)>, now: u64) -> Vec<Step> {
        let mut changes = RunChanges::default();
        let mut launches = Vec::new();
        for (task, result) in results {
            let Some(se) = self.executions.get(&task) else {
                continue;
            };
            // Something decided about the task while it was prepared (a cancel, the deadline).
            if se.execution.state == ES::Complete
                || self.in_flight.contains(&task)
                || self.run.cancel.is_some()
                || self.deadline_enforced
            {
                continue;
            }
            let mut updated = se.clone();
            match result {
                Prepared::Ready { log_offset } => {
                    let attempt = updated.execution.attempts.len() as u64 + 1;
                    updated.execution.attempts.push(TaskAttempt {
                        attempt,
                        started: 0,
                        ended: 0,
                        exit_code: None,
                        status: XS::Unknown,
                        status_reason: None,
                        log_offset,
                    });
                    updated.execution.state = ES::Processing;
                    updated.retry_at = 0;
                    launches.push(Step::Launch {
                        task: task.clone(),
                        attempt,
                        recovered: None,
                    });
                }
                Prepared::Unresolvable(problem) => {
                    let why = reason(XR::FailedPrecondition, problem);
                    changes
                        .events
                        .push(complete(&mut updated.execution, XS::Failed, why, now));
                }
                Prepared::NotNow => {
                    self.held_until.insert(task, now.saturating_add(1000));
                    continue;
                }
            }
            changes.executions.push(updated);
        }
        if changes.executions.is_empty() {
            return Vec::new();
        }
        let mut steps = vec![Step::Commit(changes)];
        steps.extend(launches);
        steps
    }

    fn attempt_started(&mut self, task: &str, attempt: u64, at: u64) -> Vec<Step> {
        let Some(se) = self.executions.get(task) else {
            return Vec::new();
        };
        let mut updated = se.clone();
        let e = &mut updated.execution;
        let Some(a) = e.attempts.iter_mut().find(|a| a.attempt == attempt) else {
            return Vec::new();
        };
        if a.started == 0 {
            a.started = at;
        }
        if e.started == 0 {
            e.started = at;
        }
        e.state = ES::Running;
        let event = EventKind::StartedTaskExecution {
            namespace_id: self.key.namespace.clone(),
            pipeline_id: self.key.pipeline.clone(),
            run_id: self.key.run,
            task_execution_id: task.to_owned(),
            attempt,
        };
        vec![Step::Commit(RunChanges {
            executions: vec![updated],
            events: vec![event],
            ..Default::default()
        })]
    }

    /// Settles an attempt: a retry after its backoff (docs/runs.md#retries) or the task's final
    /// status.
    fn attempt_ended(
        &mut self,
        task: &str,
        attempt: u64,
        outcome: &Outcome,
        now: u64,
    ) -> Vec<Step> {
        self.in_flight.remove(task);
        let Some(se) = self.executions.get(task) else {
            return Vec::new();
        };
        let mut updated = se.clone();
        let (status, why, exit_code, retryable) = judge(outcome);
        let e = &mut updated.execution;
        if let Some(a) = e.attempts.iter_mut().find(|a| a.attempt == attempt) {
            a.ended = now;
            a.exit_code = exit_code;
            a.status = status;
            a.status_reason = why.clone();
        }
        e.exit_code = exit_code;
        let allowed = e.task.retries.count + 1;
        let mut changes = RunChanges::default();
        if retryable
            && (e.attempts.len() as u64) < allowed
            && updated.cancel.is_none()
            && self.run.cancel.is_none()
            && !self.deadline_passed(now)
        {
            e.state = ES::Waiting;
            updated.retry_at = now.saturating_add(e.task.retries.backoff.saturating_mul(1000));
        } else {
            changes.events.push(complete(e, status, why, now));
        }
        changes.executions.push(updated);
        vec![Step::Commit(changes)]
    }
}

#[cfg(test)]
mod tests;
