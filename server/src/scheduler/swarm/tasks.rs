//! A service's task and what it says: state, waiting for the end, stopping (the grace updated, then the service removed) and deleting.

use super::start::nanos;
use super::*;

impl SwarmScheduler {
    /// The service's newest task; `Ok(None)` when it has none yet; `NotFound` when the service
    /// does not exist.
    pub(super) async fn task(&self, name: &str) -> SchedulerResult<Option<Task>> {
        let client = self.docker.client();
        match client.inspect_service(name, None).await {
            Ok(_) => {}
            Err(e) if status_of(&e) == Some(404) => {
                return Err(SchedulerError::NotFound {
                    op: "inspect",
                    name: name.to_owned(),
                });
            }
            Err(e) => return Err(self.err("inspect service", name, &e)),
        }
        let filters = HashMap::from([("service", vec![name])]);
        let tasks = client
            .list_tasks(Some(
                ListTasksOptionsBuilder::new().filters(&filters).build(),
            ))
            .await
            .map_err(|e| self.err("list tasks of service", name, &e))?;
        Ok(tasks
            .into_iter()
            .max_by(|a, b| a.created_at.cmp(&b.created_at)))
    }

    pub(super) async fn state_impl(&self, name: &str) -> SchedulerResult<ContainerState> {
        match self.task(name).await {
            Ok(Some(task)) => Ok(self.why_killed(&task, task_state(&task)).await),
            Ok(None) => Ok(ContainerState::Created),
            Err(SchedulerError::NotFound { .. }) => Ok(ContainerState::NotFound),
            Err(e) => Err(e),
        }
    }

    /// A task killed by SIGKILL (137) on this node may have been stopped by the kernel for its
    /// memory limit: its container's record says so (docs/pipelines.md#task-resources). On
    /// another node the container cannot be read and the plain exit stands.
    async fn why_killed(&self, task: &Task, state: ContainerState) -> ContainerState {
        let ContainerState::Exited { exit_code: 137 } = state else {
            return state;
        };
        let Some(id) = self.local_container(task) else {
            return state;
        };
        let limit = task
            .spec
            .as_ref()
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.memory_bytes)
            .and_then(|m| u64::try_from(m).ok())
            .unwrap_or(0);
        // The engine may record the kill as out of memory a moment after the task's end: with a
        // memory limit, look a few times over half a second.
        let looks = if limit > 0 { 6 } else { 1 };
        for look in 0..looks {
            if look > 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            match self.docker.client().inspect_container(&id, None).await {
                Ok(info) if info.state.as_ref().and_then(|s| s.oom_killed) == Some(true) => {
                    return ContainerState::OutOfMemory {
                        exit_code: 137,
                        limit,
                    };
                }
                Ok(_) => {}
                Err(_) => return state,
            }
        }
        state
    }

    /// The id of the task's container when it runs (or ran) on this node.
    fn local_container(&self, task: &Task) -> Option<String> {
        let status = task.status.as_ref()?.container_status.as_ref()?;
        (task.node_id.as_deref() == Some(self.node_id.as_str()))
            .then(|| status.container_id.clone())
            .flatten()
            .filter(|id| !id.is_empty())
    }

    /// Waits on the engine's container `die` events for this service (tasks on this node), with
    /// a one-second re-check for tasks on other nodes; after an event, the task's state is
    /// re-read briefly until swarm has recorded the end.
    pub(super) async fn wait_impl(&self, name: &str) -> SchedulerResult<ContainerState> {
        let filters = HashMap::from([
            ("type", vec!["container".to_owned()]),
            ("event", vec!["die".to_owned()]),
            ("label", vec![format!("{SERVICE_NAME_LABEL}={name}")]),
        ]);
        let mut events = self
            .docker
            .client()
            .events(Some(EventsOptionsBuilder::new().filters(&filters).build()))
            .boxed();
        let mut quick_checks = 0u32;
        loop {
            let state = self.state_impl(name).await?;
            if state.is_finished() {
                return Ok(state);
            }
            if quick_checks > 0 {
                quick_checks -= 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            tokio::select! {
                event = events.next() => match event {
                    Some(Ok(_)) => quick_checks = 100,
                    // The event stream broke: keep re-checking on the timer.
                    Some(Err(_)) | None => {
                        events = futures_util::stream::pending().boxed();
                    }
                },
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    pub(super) async fn stop_impl(&self, name: &str, grace_secs: u64) -> SchedulerResult<()> {
        let client = self.docker.client();
        let task = match self.task(name).await {
            Ok(task) => task,
            Err(SchedulerError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let local_container = task.as_ref().and_then(|t| self.local_container(t));
        match local_container {
            Some(id) => {
                let options = StopContainerOptionsBuilder::new()
                    .t(i32::try_from(grace_secs).unwrap_or(i32::MAX))
                    .build();
                match client.stop_container(&id, Some(options)).await {
                    Ok(()) => {}
                    Err(e) if matches!(status_of(&e), Some(304 | 404)) => {}
                    Err(e) => return Err(self.err("stop container of service", name, &e)),
                }
            }
            None if grace_secs != self.stop_grace_secs => {
                // On another node: the grace travels in the service spec (docs/schedulers.md#swarm).
                if let Ok(service) = client.inspect_service(name, None).await
                    && let (Some(mut spec), Some(version)) =
                        (service.spec, service.version.and_then(|v| v.index))
                {
                    if let Some(container) = spec
                        .task_template
                        .as_mut()
                        .and_then(|t| t.container_spec.as_mut())
                    {
                        container.stop_grace_period = Some(nanos(grace_secs));
                    }
                    let options = UpdateServiceOptionsBuilder::new()
                        .version(i32::try_from(version).unwrap_or(i32::MAX))
                        .build();
                    if let Err(e) = client.update_service(name, spec, options, None).await {
                        tracing::warn!(service = %name, error = %e, "could not update the stop grace");
                    }
                }
            }
            None => {}
        }
        self.delete(name).await?;
        // Resolve once this node's container of the service has stopped (bounded).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(grace_secs + 10);
        let filters = HashMap::from([("label", vec![format!("{SERVICE_NAME_LABEL}={name}")])]);
        while tokio::time::Instant::now() < deadline {
            let running = client
                .list_containers(Some(
                    ListContainersOptionsBuilder::new()
                        .filters(&filters)
                        .build(),
                ))
                .await
                .map_err(|e| self.err("list containers of service", name, &e))?;
            if running.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    pub(super) async fn delete(&self, name: &str) -> SchedulerResult<()> {
        match self.docker.client().delete_service(name).await {
            Ok(()) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(self.err("remove service", name, &e)),
        }
    }
}
