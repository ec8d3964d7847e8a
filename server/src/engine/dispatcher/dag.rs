//! Running a run's DAG: readiness and skips, substitution, recording and launching attempts,
//! their start and end (retries, timeouts), task results, and the final run status.

use super::*;

impl Dispatcher {
    /// Records a task execution's result while it runs (docs/runs.md#results-and-payload). Runs that are not in
    /// memory are queued or finished: their executions are not running, so the answer is 409
    /// (or 404 when the execution does not exist).
    pub(super) async fn set_result(
        &mut self,
        key: &RunKey,
        task: &str,
        result: serde_json::Value,
    ) -> StoreResult<()> {
        let not_running = |state: &str| {
            crate::store::StoreError::Conflict(format!(
                "task '{task}' of run {} is {state}; a result can only be recorded while the task runs",
                key.run
            ))
        };
        let Some(rs) = self.running.get_mut(key) else {
            let (ns, p, id, t) = (
                key.namespace.clone(),
                key.pipeline.clone(),
                key.run,
                task.to_string(),
            );
            let e = self
                .store
                .read(move |s| s.get_task_execution(&ns, &p, id, &t))
                .await?;
            return Err(not_running(&e.state.to_string()));
        };
        let Some(se) = rs.executions.get(task) else {
            return Err(crate::store::StoreError::NotFound(format!(
                "task '{task}' not found in run {}",
                key.run
            )));
        };
        // `processing` with an attempt in flight counts as running: the container may report
        // before the dispatcher has processed its start.
        let in_flight = se.execution.state == ES::Running
            || (se.execution.state == ES::Processing && rs.active.contains_key(task));
        if !in_flight {
            return Err(not_running(&se.execution.state.to_string()));
        }
        let mut updated = se.clone();
        updated.execution.result = Some(result);
        let changes = RunChanges {
            executions: vec![updated.clone()],
            ..Default::default()
        };
        self.store.write(move |s| s.commit(changes)).await?;
        rs.executions.insert(task.to_string(), updated);
        Ok(())
    }

    pub(super) async fn advance(&mut self, key: &RunKey) {
        let now = gofer_core::now_millis();
        let Some(rs) = self.running.get_mut(key) else {
            return;
        };
        let mut changes = RunChanges::default();
        let mut launches = Vec::new();
        let mut resolved = Vec::new();

        // Run deadline: stop running attempts, settle everything not yet started.
        if rs.run.deadline > 0 && now >= rs.run.deadline && !rs.deadline_enforced {
            rs.deadline_enforced = true;
            for active in rs.active.values() {
                let _ = active.stop.send(Some(Stop {
                    kind: StopKind::Deadline,
                    grace_secs: self.config.stop_timeout,
                }));
            }
            for (task, se) in rs.executions.iter_mut() {
                if se.execution.state != ES::Complete && !rs.active.contains_key(task) {
                    let mut updated = se.clone();
                    let why = reason(XR::Timeout, "the run exceeded its pipeline timeout");
                    changes
                        .events
                        .push(complete(&mut updated.execution, XS::Skipped, why, now));
                    changes.executions.push(updated);
                }
            }
        }

        if changes.executions.is_empty() && !rs.deadline_enforced && rs.run.cancel.is_none() {
            let view: BTreeMap<String, TaskExecution> = rs
                .executions
                .iter()
                .map(|(k, v)| (k.clone(), v.execution.clone()))
                .collect();
            for (task, se) in &rs.executions {
                let e = &se.execution;
                if e.state == ES::Complete || e.state == ES::Running || rs.active.contains_key(task)
                {
                    continue;
                }
                if se.retry_at > now {
                    continue;
                }
                let retrying = !e.attempts.is_empty();
                if !retrying {
                    match runstate::readiness(&e.task, &view) {
                        Readiness::Wait => continue,
                        Readiness::Skip(why) => {
                            let mut updated = se.clone();
                            let why = reason(XR::FailedPrecondition, why);
                            changes.events.push(complete(
                                &mut updated.execution,
                                XS::Skipped,
                                why,
                                now,
                            ));
                            changes.executions.push(updated);
                            continue;
                        }
                        Readiness::Run => {}
                    }
                }
                // Substitution (docs/runs.md#variables) resolves here, just before each attempt, so parents
                // can write run objects for their children.
                match resolve_references(&self.resolver, key, e, &view).await {
                    Ok(values) => {
                        resolved.push((task.clone(), values));
                    }
                    Err(problem) => {
                        let mut updated = se.clone();
                        let why = reason(XR::FailedPrecondition, problem);
                        changes
                            .events
                            .push(complete(&mut updated.execution, XS::Failed, why, now));
                        changes.executions.push(updated);
                        continue;
                    }
                }
                // Record the attempt durably before asking the scheduler (docs/runs.md#attempts).
                let log_path = gofer_core::paths::task_log(
                    &self.config.data_dir,
                    &key.namespace,
                    &key.pipeline,
                    key.run,
                    task,
                );
                // File work runs on the blocking pool, never on the dispatcher's loop.
                let path = log_path.clone();
                let prepared = tokio::task::spawn_blocking(move || prepare_log(&path))
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e)));
                let offset = match prepared {
                    Ok(offset) => offset,
                    Err(err) => {
                        tracing::error!(path = %log_path.display(), error = %err, "cannot create the task log");
                        continue;
                    }
                };
                let mut updated = se.clone();
                let attempt = updated.execution.attempts.len() as u64 + 1;
                updated.execution.attempts.push(TaskAttempt {
                    attempt,
                    started: 0,
                    ended: 0,
                    exit_code: None,
                    status: XS::Unknown,
                    status_reason: None,
                    log_offset: offset,
                });
                updated.execution.state = ES::Processing;
                updated.retry_at = 0;
                changes.executions.push(updated);
                launches.push((task.clone(), attempt));
            }
        }

        if !changes.executions.is_empty() {
            if !self.commit(changes.clone()).await {
                return;
            }
            let rs = self.running.get_mut(key).expect("present above");
            for se in changes.executions {
                rs.executions.insert(se.execution.task_id.clone(), se);
            }
            rs.resolved.extend(resolved);
            for (task, attempt) in launches {
                self.launch(key, &task, attempt, None);
            }
        }
        self.finish_if_done(key).await;
    }

    /// Spawns the executor of `attempt` (already recorded). `reattach` carries the recorded start
    /// time of a container found by recovery.
    pub(super) fn launch(&mut self, key: &RunKey, task: &str, attempt: u64, reattach: Option<u64>) {
        let Some(rs) = self.running.get_mut(key) else {
            return;
        };
        let Some(se) = rs.executions.get(task) else {
            return;
        };
        let e = &se.execution;
        let log_offset = e.attempts.last().map(|a| a.log_offset).unwrap_or(0);
        let resolved = rs.resolved.remove(task).unwrap_or_else(|| Resolved {
            // Only a reattached attempt gets here without values; its container has them.
            env: e
                .variables
                .iter()
                .map(|v| (v.key.clone(), v.value.clone()))
                .collect(),
            ..Resolved::default()
        });
        let mut env = resolved.env;
        env.push(("GOFER_TASK_ATTEMPT".into(), attempt.to_string()));
        // The run's API token (docs/runs.md#variables), derived again here so its plaintext is never stored.
        let mut masks = resolved.masks;
        if e.task.inject_api_token
            && let Some(token_id) = &rs.run.run.token_id
        {
            let secret = crate::tokens::run_token_secret(&self.config.run_token_key, token_id);
            // Masked in the task's log like any secret (docs/runs.md#variables).
            substitute::add_mask(&mut masks, &secret);
            env.push(("GOFER_API_TOKEN".into(), secret));
        }
        let request = StartRequest {
            name: scheduler::task_container_name(
                &key.namespace,
                &key.pipeline,
                key.run,
                task,
                attempt,
            ),
            image: e.task.image.clone(),
            registry_auth: e.task.registry_auth.as_ref().map(|a| {
                let pass = resolved.registry_pass.clone().unwrap_or(a.pass.clone());
                (a.user.clone(), pass)
            }),
            always_pull: e.task.always_pull_newest_image,
            env,
            entrypoint: e.task.entrypoint.clone(),
            command: e.task.command.clone(),
            labels: scheduler::task_labels(
                &self.config.instance_id,
                &key.namespace,
                &key.pipeline,
                key.run,
                task,
                attempt,
            ),
            publish_port: None,
        };
        let spec = AttemptSpec {
            key: key.clone(),
            task: task.to_string(),
            attempt,
            request,
            log_path: gofer_core::paths::task_log(
                &self.config.data_dir,
                &key.namespace,
                &key.pipeline,
                key.run,
                task,
            ),
            timeout_secs: e.task.timeout,
            reattach_started: reattach,
            log_offset,
            stop_timeout: self.config.stop_timeout,
            masks,
        };
        let (stop, stop_rx) = watch::channel(None);
        // A cancel accepted before the container started applies at once.
        if let Some(cancel) = se.cancel.or(rs.run.cancel.map(|c| TaskCancel {
            grace_secs: self.config.stop_timeout,
            by_admin: c.by_admin,
        })) {
            let _ = stop.send(Some(Stop {
                kind: StopKind::Cancel,
                grace_secs: cancel.grace_secs,
            }));
        }
        // Every log line of the attempt carries its ids.
        let span = tracing::info_span!(
            "attempt",
            namespace = %key.namespace,
            pipeline = %key.pipeline,
            run = key.run,
            task = %task,
            attempt
        );
        let handle = tokio::spawn(
            executor::execute(spec, self.scheduler.clone(), self.tx.clone(), stop_rx)
                .instrument(span),
        );
        rs.active.insert(
            task.to_string(),
            Active {
                stop,
                task: handle.abort_handle(),
            },
        );
    }

    pub(super) async fn attempt_started(
        &mut self,
        key: &RunKey,
        task: &str,
        attempt: u64,
        at: u64,
    ) {
        let Some(se) = self.running.get(key).and_then(|rs| rs.executions.get(task)) else {
            return;
        };
        let mut updated = se.clone();
        let e = &mut updated.execution;
        let Some(a) = e.attempts.iter_mut().find(|a| a.attempt == attempt) else {
            return;
        };
        if a.started == 0 {
            a.started = at;
        }
        if e.started == 0 {
            e.started = at;
        }
        e.state = ES::Running;
        let event = EventKind::StartedTaskExecution {
            namespace_id: key.namespace.clone(),
            pipeline_id: key.pipeline.clone(),
            run_id: key.run,
            task_execution_id: task.to_string(),
            attempt,
        };
        let changes = RunChanges {
            executions: vec![updated.clone()],
            events: vec![event],
            ..Default::default()
        };
        if self.commit(changes).await
            && let Some(rs) = self.running.get_mut(key)
        {
            rs.executions.insert(task.to_string(), updated);
        }
    }

    pub(super) async fn attempt_ended(
        &mut self,
        key: &RunKey,
        task: &str,
        attempt: u64,
        outcome: Outcome,
    ) {
        let now = gofer_core::now_millis();
        let Some(rs) = self.running.get_mut(key) else {
            return;
        };
        rs.active.remove(task);
        let Some(se) = rs.executions.get(task) else {
            return;
        };
        let mut updated = se.clone();
        let run_cancelled = rs.run.cancel.is_some();
        let deadline_passed =
            rs.deadline_enforced || (rs.run.deadline > 0 && now >= rs.run.deadline);
        let e = &mut updated.execution;
        let (status, why, exit_code, retryable) = match &outcome {
            Outcome::StartFailed(message) => (
                XS::Failed,
                reason(XR::SchedulerError, message.clone()),
                None,
                true,
            ),
            Outcome::Finished(state) => match state {
                ContainerState::Exited { exit_code: 0 } => (XS::Successful, None, Some(0), false),
                ContainerState::Exited { exit_code } => (
                    XS::Failed,
                    reason(XR::AbnormalExit, format!("exited with code {exit_code}")),
                    Some(*exit_code),
                    true,
                ),
                other => (
                    XS::Failed,
                    reason(
                        XR::SchedulerError,
                        format!("the container ended unexpectedly: {other}"),
                    ),
                    None,
                    true,
                ),
            },
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
        };
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
            && !run_cancelled
            && !deadline_passed
        {
            e.state = ES::Waiting;
            updated.retry_at = now.saturating_add(e.task.retries.backoff.saturating_mul(1000));
        } else {
            changes.events.push(complete(e, status, why, now));
        }
        changes.executions.push(updated.clone());
        if self.commit(changes).await
            && let Some(rs) = self.running.get_mut(key)
        {
            rs.executions.insert(task.to_string(), updated);
        }
        self.advance(key).await;
    }

    /// Finalises a run whose executions are all complete (docs/runs.md#final-status).
    pub(super) async fn finish_if_done(&mut self, key: &RunKey) {
        let Some(rs) = self.running.get(key) else {
            return;
        };
        if !rs.active.is_empty()
            || rs
                .executions
                .values()
                .any(|e| e.execution.state != ES::Complete)
        {
            return;
        }
        let now = gofer_core::now_millis();
        let executions: Vec<TaskExecution> = rs
            .executions
            .values()
            .map(|e| e.execution.clone())
            .collect();
        let cancelled = rs.run.cancel.map(|c| c.by_admin).or_else(|| {
            rs.executions
                .values()
                .find_map(|e| e.cancel.map(|c| c.by_admin))
        });
        let deadline_passed =
            rs.deadline_enforced || (rs.run.deadline > 0 && now >= rs.run.deadline);
        let (status, why) = runstate::final_status(
            &executions,
            RunEnding {
                cancelled,
                deadline_passed,
            },
        );
        let mut run = rs.run.clone();
        run.run.state = RunState::Complete;
        run.run.status = status;
        run.run.status_reason = why;
        run.run.ended = now;
        let changes = RunChanges {
            runs: vec![run],
            events: vec![EventKind::CompletedRun {
                namespace_id: key.namespace.clone(),
                pipeline_id: key.pipeline.clone(),
                run_id: key.run,
                status,
            }],
            ..Default::default()
        };
        if self.commit(changes).await {
            self.running.remove(key);
            self.sweep_logs(&key.namespace, &key.pipeline).await;
            self.sweep_objects(&key.namespace, &key.pipeline).await;
        }
    }
}
