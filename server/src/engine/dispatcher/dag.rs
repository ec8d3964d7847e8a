//! Carrying out the core's attempt steps: preparing attempts (substitution, the task log),
//! launching executors, and recording a task's result while it runs.

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
        let Some(se) = rs.book.executions.get(task) else {
            return Err(crate::store::StoreError::NotFound(format!(
                "task '{task}' not found in run {}",
                key.run
            )));
        };
        // `processing` with an attempt in flight counts as running: the container may report
        // before the dispatcher has processed its start.
        let in_flight = se.execution.state == ES::Running
            || (se.execution.state == ES::Processing && rs.book.in_flight(task));
        if !in_flight {
            return Err(not_running(&se.execution.state.to_string()));
        }
        let mut updated = se.clone();
        updated.execution.result = Some(result);
        let changes = RunChanges {
            executions: vec![updated],
            ..Default::default()
        };
        let written = changes.clone();
        self.store.write(move |s| s.commit(written)).await?;
        rs.book.record(&changes);
        Ok(())
    }

    /// Prepares attempts of ready tasks (docs/runs.md#attempts): substitution resolves just before
    /// each attempt, so parents can write run objects for their children, and the task log is
    /// created (its size is the attempt's offset). File work runs on the blocking pool, never on
    /// the dispatcher's loop.
    pub(super) async fn prepare(
        &mut self,
        key: &RunKey,
        tasks: Vec<String>,
    ) -> Vec<(String, Prepared)> {
        let Some(rs) = self.running.get(key) else {
            return Vec::new();
        };
        let view = rs.book.view();
        let mut results = Vec::new();
        let mut values = Vec::new();
        for task in tasks {
            let Some(execution) = view.get(&task) else {
                continue;
            };
            match resolve_references(&self.resolver, key, execution, &view).await {
                Ok(resolved) => values.push((task.clone(), resolved)),
                Err(problem) => {
                    results.push((task, Prepared::Unresolvable(problem)));
                    continue;
                }
            }
            let log_path = gofer_core::paths::task_log(
                &self.config.data_dir,
                &key.namespace,
                &key.pipeline,
                key.run,
                &task,
            );
            let path = log_path.clone();
            let prepared = tokio::task::spawn_blocking(move || prepare_log(&path))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            match prepared {
                Ok(log_offset) => results.push((task, Prepared::Ready { log_offset })),
                Err(err) => {
                    tracing::error!(path = %log_path.display(), error = %err, "cannot create the task log");
                    results.push((task, Prepared::NotNow));
                }
            }
        }
        if let Some(rs) = self.running.get_mut(key) {
            rs.resolved.extend(values);
        }
        results
    }

    /// Spawns the executor of `attempt` (already recorded). `recovered` is a container found at
    /// boot, which the executor follows instead of creating one.
    pub(super) async fn launch(
        &mut self,
        key: &RunKey,
        task: &str,
        attempt: u64,
        recovered: Option<Recovered>,
    ) {
        if recovered.is_some() {
            self.resolve_masks(key, task).await;
        }
        let reattach = match recovered {
            Some(Recovered::Started(at)) => Some(at),
            Some(Recovered::Created) | None => None,
        };
        let Some(rs) = self.running.get_mut(key) else {
            return;
        };
        let Some(se) = rs.book.executions.get(task) else {
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
            && let Some(token_id) = &rs.book.run.run.token_id
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
            resources: e.task.resources.effective(&self.config.resource_defaults),
            log_driver: self.config.log_driver.clone(),
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
        rs.book.launched(task);
    }

    /// A recovered container already has its environment; its references are resolved again
    /// only so that its log stays masked (docs/runs.md#variables). A reference that no longer
    /// resolves masks nothing.
    async fn resolve_masks(&mut self, key: &RunKey, task: &str) {
        let Some(rs) = self.running.get(key) else {
            return;
        };
        let view = rs.book.view();
        let Some(execution) = view.get(task) else {
            return;
        };
        if let Ok(resolved) = resolve_references(&self.resolver, key, execution, &view).await
            && let Some(rs) = self.running.get_mut(key)
        {
            rs.resolved.insert(task.to_owned(), resolved);
        }
    }
}
