//! Stopping, reading the state of, and waiting for a container: the `die` event raced against the wait API (which stays the authority), and the settle lock that lets a died container's teardown finish before the next start.

use super::*;

impl DockerScheduler {
    pub(super) async fn stop_impl(&self, name: &str, grace_secs: u64) -> SchedulerResult<()> {
        let result = if grace_secs == 0 {
            let options = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
            self.docker.kill_container(name, Some(options)).await
        } else {
            // The engine answers a stop only once the container has stopped, up to the grace
            // period later: give this one request that much more time.
            let docker = self
                .docker
                .clone()
                .with_timeout(Duration::from_secs(self.timeout_secs + grace_secs));
            let grace = i32::try_from(grace_secs).unwrap_or(i32::MAX);
            let options = StopContainerOptionsBuilder::new().t(grace).build();
            docker.stop_container(name, Some(options)).await
        };
        match result {
            Ok(()) => {}
            // 304: already stopped; 404: missing; 409: kill on a container that is not running.
            Err(e) if matches!(status_of(&e), Some(304 | 404 | 409)) => return Ok(()),
            Err(e) => return Err(self.engine_err("stop container", name, &e)),
        }
        if grace_secs == 0 {
            // A kill returns once the signal is sent; the contract promises a stopped container.
            self.wait_impl(name).await?;
        }
        Ok(())
    }

    pub(super) async fn state_impl(&self, name: &str) -> SchedulerResult<ContainerState> {
        match self.docker.inspect_container(name, None).await {
            Ok(info) => Ok(state_of(info.state).with_limit(&info.host_config)),
            Err(e) if status_of(&e) == Some(404) => Ok(ContainerState::NotFound),
            Err(e) => Err(self.engine_err("inspect container", name, &e)),
        }
    }

    /// Waits for the container to stop. Docker reports a container `not-running` only after it
    /// has released its network and mounts, some 40 ms after the process exited; the `die` event
    /// carries the exit code as soon as the process is gone. Both are raced: the event is the fast
    /// path, the wait API the authority (it also answers for a container that stopped before the
    /// event subscription was in place, or that does not exist).
    pub(super) async fn wait_impl(&self, name: &str) -> SchedulerResult<ContainerState> {
        let filters = HashMap::from([
            ("type", vec!["container".to_owned()]),
            ("event", vec!["die".to_owned(), "oom".to_owned()]),
            ("container", vec![name.to_owned()]),
        ]);
        // No `since`: only a die after subscribing is seen, and only the container that holds
        // this name now can die after that.
        let mut died = self
            .docker
            .events(Some(EventsOptionsBuilder::new().filters(&filters).build()))
            .boxed();
        let waited = self.wait_api(name);
        tokio::pin!(waited);
        // The kernel's out-of-memory kill arrives as its own `oom` event, which the engine may
        // record on the container only after `die` (docs/pipelines.md#task-resources).
        let mut oom = false;
        loop {
            tokio::select! {
                state = &mut waited => return self.why_killed(name, state?, oom).await,
                event = died.next() => match event {
                    Some(Ok(m)) if is_oom_event(&m, name) => oom = true,
                    Some(Ok(m)) => if let Some(exit_code) = die_exit_code(&m, name) {
                        self.settle(name);
                        return self
                            .why_killed(name, ContainerState::Exited { exit_code }, oom)
                            .await;
                    },
                    // The event stream broke: the wait API still answers.
                    Some(Err(_)) | None => died = futures_util::stream::pending().boxed(),
                }
            }
        }
    }

    /// Holds the settling lock until the engine reports the died container `name` stopped (its
    /// teardown done) or [`SETTLE_MAX`] passed. Best effort: skipped while a start holds the lock.
    pub(super) fn settle(&self, name: &str) {
        let Ok(guard) = self.settling.clone().try_read_owned() else {
            return;
        };
        let this = self.clone();
        let name = name.to_owned();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(SETTLE_MAX, this.wait_api(&name)).await;
            drop(guard);
        });
    }

    /// A container killed by SIGKILL (137) may have been stopped by the kernel for its memory
    /// limit: the engine's record says so (docs/pipelines.md#task-resources).
    async fn why_killed(
        &self,
        name: &str,
        state: ContainerState,
        oom_seen: bool,
    ) -> SchedulerResult<ContainerState> {
        let ContainerState::Exited { exit_code: 137 } = state else {
            return Ok(state);
        };
        let oom_of = |info: bollard::models::ContainerInspectResponse| {
            let oom = oom_seen || info.state.as_ref().and_then(|s| s.oom_killed) == Some(true);
            oom.then(|| {
                ContainerState::OutOfMemory {
                    exit_code: 137,
                    limit: 0,
                }
                .with_limit(&info.host_config)
            })
        };
        let limited = match self.docker.inspect_container(name, None).await {
            Ok(info) => {
                let limited = info
                    .host_config
                    .as_ref()
                    .and_then(|h| h.memory)
                    .is_some_and(|m| m > 0);
                if let Some(oom) = oom_of(info) {
                    return Ok(oom);
                }
                limited
            }
            Err(_) => return Ok(state),
        };
        if !limited {
            return Ok(state);
        }
        // The engine records the kernel's kill asynchronously, sometimes a moment after the
        // exit: with a memory limit, look again for up to half a second.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match self.docker.inspect_container(name, None).await {
                Ok(info) => {
                    if let Some(oom) = oom_of(info) {
                        return Ok(oom);
                    }
                }
                Err(_) => break,
            }
        }
        Ok(state)
    }

    pub(super) async fn wait_api(&self, name: &str) -> SchedulerResult<ContainerState> {
        let options = WaitContainerOptionsBuilder::new()
            .condition("not-running")
            .build();
        let mut answers = self.docker.wait_container(name, Some(options));
        match answers.next().await {
            Some(Ok(answer)) => Ok(ContainerState::Exited {
                exit_code: answer.status_code,
            }),
            // bollard reports a non-zero exit as an error; for us it is a result.
            Some(Err(BollardError::DockerContainerWaitError { code, .. })) => {
                Ok(ContainerState::Exited { exit_code: code })
            }
            Some(Err(e)) if status_of(&e) == Some(404) => Ok(ContainerState::NotFound),
            Some(Err(e)) => Err(self.engine_err("wait for container", name, &e)),
            None => Err(SchedulerError::Engine {
                op: "wait for container",
                name: name.to_owned(),
                message: "the engine ended the wait without a result".to_owned(),
            }),
        }
    }
}

/// Whether `event` is the kernel's out-of-memory kill of the container `name`.
pub(super) fn is_oom_event(event: &EventMessage, name: &str) -> bool {
    event.action.as_deref() == Some("oom")
        && event
            .actor
            .as_ref()
            .and_then(|a| a.attributes.as_ref())
            .and_then(|a| a.get("name"))
            .map(String::as_str)
            == Some(name)
}

/// The exit code a container `die` event reports, when the event is about the container `name`
/// (the engine's `container` filter also matches id prefixes) and carries a readable code.
pub(super) fn die_exit_code(event: &EventMessage, name: &str) -> Option<i64> {
    let attributes = event.actor.as_ref()?.attributes.as_ref()?;
    if attributes.get("name").map(String::as_str) != Some(name) {
        return None;
    }
    attributes.get("exitCode")?.parse().ok()
}

pub(super) fn state_of(state: Option<bollard::models::ContainerState>) -> ContainerState {
    let state = state.unwrap_or_default();
    match state.status {
        Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
        // `stopping` is still running as far as an attempt is concerned.
        Some(ContainerStateStatusEnum::RUNNING | ContainerStateStatusEnum::STOPPING) => {
            ContainerState::Running
        }
        Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerStateStatusEnum::EXITED) if state.oom_killed == Some(true) => {
            ContainerState::OutOfMemory {
                exit_code: state.exit_code.unwrap_or(137),
                limit: 0,
            }
        }
        Some(ContainerStateStatusEnum::EXITED) => ContainerState::Exited {
            exit_code: state.exit_code.unwrap_or(-1),
        },
        Some(ContainerStateStatusEnum::DEAD) => ContainerState::Dead {
            message: state
                .error
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "the engine reports the container dead".to_owned()),
        },
        Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Dead {
            message: "the container is being removed".to_owned(),
        },
        Some(ContainerStateStatusEnum::EMPTY) | None => ContainerState::Dead {
            message: "the engine reports no state for the container".to_owned(),
        },
    }
}

impl ContainerState {
    /// An out-of-memory state with the container's memory limit filled in.
    pub(super) fn with_limit(self, host: &Option<bollard::models::HostConfig>) -> ContainerState {
        match self {
            ContainerState::OutOfMemory { exit_code, .. } => ContainerState::OutOfMemory {
                exit_code,
                limit: host
                    .as_ref()
                    .and_then(|h| h.memory)
                    .and_then(|m| u64::try_from(m).ok())
                    .unwrap_or(0),
            },
            other => other,
        }
    }
}
