//! Starting a container: create (or adopt one already created under the name), pull when needed, attach before start so no output is missed, wait for died containers' teardown, start; the published address of an extension's port.

use super::output::output_attach_options;
use super::wait::state_of;
use super::*;

impl DockerScheduler {
    pub(super) async fn start_impl(&self, request: &StartRequest) -> SchedulerResult<Started> {
        Ok(self.start_with(request, false).await?.0)
    }

    /// Creates (or adopts) the container, optionally attaches to its output before starting it
    /// (so not one byte is missed), then starts it.
    pub(super) async fn start_with(
        &self,
        request: &StartRequest,
        attach: bool,
    ) -> SchedulerResult<(Started, Option<BoxStream<'static, SchedulerResult<Bytes>>>)> {
        let local = is_local_image(&request.image);
        if request.always_pull && !local {
            self.pull(request).await?;
        }
        let id = match self.create(request).await {
            Ok(id) => id,
            Err(e) if status_of(&e) == Some(404) => {
                if local {
                    return Err(SchedulerError::LocalImageMissing {
                        image: request.image.clone(),
                    });
                }
                self.pull(request).await?;
                match self.create(request).await {
                    Ok(id) => id,
                    Err(e) if status_of(&e) == Some(409) => self.adopt(request).await?,
                    Err(e) => return Err(self.engine_err("create container", &request.name, &e)),
                }
            }
            Err(e) if status_of(&e) == Some(409) => self.adopt(request).await?,
            Err(e) => return Err(self.engine_err("create container", &request.name, &e)),
        };
        let output = if attach {
            match self
                .docker
                .attach_container(&request.name, Some(output_attach_options()))
                .await
            {
                Ok(attached) => Some(self.output_stream(
                    &request.name,
                    "read output of container",
                    attached.output,
                )),
                Err(e) => {
                    // Still startable: the caller falls back to following the engine's log.
                    tracing::warn!(container = %request.name, error = %e,
                        "could not attach before start; following the log instead");
                    None
                }
            }
        } else {
            None
        };
        // Docker tears a died container down (network, mounts) after reporting `die`; a start
        // that overlaps that takes 150 ms or more longer than waiting for it (measured on
        // Docker 20.10), so let the teardown finish first.
        let _ = tokio::time::timeout(SETTLE_MAX, self.settling.write()).await;
        if let Err(e) = self.docker.start_container(&request.name, None).await {
            let error = self.engine_err("start container", &request.name, &e);
            // A container that failed to start (e.g. its executable is missing) would stay
            // `created` forever, which pruning never removes; it is ours, so drop it.
            if let Err(cleanup) = self.remove_impl(&request.name).await {
                tracing::warn!(container = %request.name, error = %cleanup,
                    "could not remove a container that failed to start");
            }
            return Err(error);
        }
        let address = match request.publish_port {
            Some(port) => Some(self.published_address(&request.name, port).await?),
            None => None,
        };
        Ok((Started { id, address }, output))
    }

    pub(super) async fn create(&self, request: &StartRequest) -> Result<String, BollardError> {
        let mut host_config = HostConfig {
            auto_remove: Some(false),
            // PID 1 ignores signals it has no handler for, so a shell script as PID 1 would sit
            // out a stop's whole grace: Docker's init process forwards SIGTERM to the program.
            init: Some(true),
            // docs/pipelines.md#task-resources: a memory limit with no swap beyond it.
            nano_cpus: request.resources.cpus.map(|c| c.nano_cpus()),
            memory: request
                .resources
                .memory
                .map(|m| i64::try_from(m).unwrap_or(i64::MAX)),
            memory_swap: request
                .resources
                .memory
                .map(|m| i64::try_from(m).unwrap_or(i64::MAX)),
            log_config: request.log_driver.as_ref().map(|driver| {
                bollard::models::HostConfigLogConfig {
                    typ: Some(driver.clone()),
                    config: None,
                }
            }),
            ..Default::default()
        };
        let mut exposed_ports = None;
        if let Some(port) = request.publish_port {
            let key = format!("{port}/tcp");
            let binding = PortBinding {
                host_ip: Some("127.0.0.1".to_owned()),
                host_port: Some(String::new()),
            };
            host_config.port_bindings = Some(HashMap::from([(key.clone(), Some(vec![binding]))]));
            exposed_ports = Some(vec![key]);
        }
        let body = ContainerCreateBody {
            image: Some(request.image.clone()),
            env: Some(
                request
                    .env
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
            ),
            entrypoint: request.entrypoint.clone(),
            cmd: request.command.clone(),
            labels: Some(request.labels.clone().into_iter().collect()),
            tty: Some(false),
            exposed_ports,
            host_config: Some(host_config),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new()
            .name(&request.name)
            .build();
        Ok(self.docker.create_container(Some(options), body).await?.id)
    }

    /// A container with the requested name exists: start it only if it is ours and was never
    /// started (docs/schedulers.md#what-every-scheduler-does, docs/runs.md#restart-recovery).
    pub(super) async fn adopt(&self, request: &StartRequest) -> SchedulerResult<String> {
        let info = self
            .docker
            .inspect_container(&request.name, None)
            .await
            .map_err(|e| self.engine_err("inspect container", &request.name, &e))?;
        let labels = info.config.and_then(|c| c.labels).unwrap_or_default();
        let theirs = labels.get(LABEL_INSTANCE);
        if theirs.is_none() || theirs != request.labels.get(LABEL_INSTANCE) {
            return Err(SchedulerError::NameConflict {
                name: request.name.clone(),
                owner: match theirs {
                    Some(instance) => format!("Gofer instance {instance}"),
                    None => "something other than Gofer".to_owned(),
                },
            });
        }
        match state_of(info.state) {
            ContainerState::Created => Ok(info.id.unwrap_or_default()),
            state => Err(SchedulerError::AlreadyStarted {
                name: request.name.clone(),
                state,
            }),
        }
    }

    pub(super) async fn pull(&self, request: &StartRequest) -> SchedulerResult<()> {
        let image = &request.image;
        let options = CreateImageOptionsBuilder::new()
            .from_image(&with_default_tag(image))
            .build();
        let credentials =
            request
                .registry_auth
                .as_ref()
                .map(|(username, password)| DockerCredentials {
                    username: Some(username.clone()),
                    password: Some(password.clone()),
                    serveraddress: registry_of(image).map(str::to_owned),
                    ..Default::default()
                });
        tracing::info!(image = %image, "pulling image");
        self.docker
            .create_image(Some(options), None, credentials)
            .try_for_each(|_| futures_util::future::ready(Ok(())))
            .await
            .map_err(|e| SchedulerError::ImageUnavailable {
                image: image.clone(),
                message: self.describe(&e),
            })
    }

    pub(super) async fn published_address(&self, name: &str, port: u16) -> SchedulerResult<String> {
        let info = self
            .docker
            .inspect_container(name, None)
            .await
            .map_err(|e| self.engine_err("inspect container", name, &e))?;
        let key = format!("{port}/tcp");
        info.network_settings
            .and_then(|n| n.ports)
            .and_then(|mut ports| ports.remove(&key).flatten())
            .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port))
            .filter(|p| !p.is_empty())
            .map(|p| format!("127.0.0.1:{p}"))
            .ok_or_else(|| SchedulerError::Engine {
                op: "publish port of container",
                name: name.to_owned(),
                message: format!("the engine reports no host port for {key}"),
            })
    }
}

/// `fromImage` without a tag pulls every tag of the repository: default to `latest`.
pub(super) fn with_default_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}
