//! One supervisor task per enabled extension: it launches the container, health-checks it,
//! restarts it with backoff, records its state, and stops and removes it.

use super::*;

impl Extensions {
    /// Starts every enabled extension (at boot, after the listener is up; docs/extensions.md#launch).
    pub async fn start_enabled(&self) {
        let all = match self
            .inner
            .store
            .read(|s| s.list_extensions(gofer_core::api::Page::ALL))
            .await
        {
            Ok(all) => all,
            Err(e) => {
                tracing::error!(error = %e, "cannot list extensions to start them");
                return;
            }
        };
        for stored in all {
            let registration = &stored.extension.registration;
            if registration.status == ExtensionStatus::Enabled {
                self.start_supervisor(&registration.extension_id);
            }
        }
    }

    /// Stops every running extension (graceful server shutdown, docs/extensions.md#launch).
    pub async fn shutdown(&self) {
        let ids: Vec<String> = self.supervisors().keys().cloned().collect();
        let stops = ids.iter().map(|id| self.stop_supervisor(id));
        futures_util::future::join_all(stops).await;
    }

    /// The container's log stream (docs/extensions.md#logs-and-debug).
    pub fn logs(
        &self,
        id: &str,
        follow: bool,
    ) -> futures_util::stream::BoxStream<'static, crate::scheduler::SchedulerResult<bytes::Bytes>>
    {
        self.inner
            .docker
            .logs(&extension_container_name(id), follow)
    }

    pub(super) fn start_supervisor(&self, id: &str) -> watch::Receiver<ExtensionState> {
        let mut supervisors = self.supervisors();
        if let Some(existing) = supervisors.get(id)
            && !existing.task.is_finished()
        {
            return existing.state.clone();
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let (state_tx, state_rx) = watch::channel(ExtensionState::Processing);
        let this = self.clone();
        let id_owned = id.to_owned();
        let task = tokio::spawn(async move { this.supervise(id_owned, stop_rx, state_tx).await });
        supervisors.insert(
            id.to_owned(),
            Supervisor {
                stop: stop_tx,
                state: state_rx.clone(),
                task,
            },
        );
        state_rx
    }

    pub(super) async fn stop_supervisor(&self, id: &str) {
        let supervisor = self.supervisors().remove(id);
        if let Some(supervisor) = supervisor {
            let _ = supervisor.stop.send(true);
            let _ = supervisor.task.await;
        }
    }

    /// Launch, watch, restart, until told to stop; then shut the container down.
    pub(super) async fn supervise(
        self,
        id: String,
        mut stop: watch::Receiver<bool>,
        state: watch::Sender<ExtensionState>,
    ) {
        let config = &self.inner.config.extensions;
        let max_backoff = Duration::from_secs(config.restart_backoff_max.max(1));
        let interval = Duration::from_secs(config.health_check_interval.max(1));
        let mut backoff = Duration::from_secs(1);
        let mut restarts = 0u64;
        self.record_retry(&id, restarts, 0, None).await;
        loop {
            let launched = tokio::select! {
                r = self.launch(&id, &state) => r,
                _ = stop.wait_for(|s| *s) => break,
            };
            let why = match launched {
                Ok(url) => {
                    let healthy_since = tokio::time::Instant::now();
                    let mut failures = 0;
                    loop {
                        tokio::select! {
                            () = tokio::time::sleep(interval) => {}
                            _ = stop.wait_for(|s| *s) => break,
                        }
                        let exited = matches!(
                            self.inner
                                .docker
                                .state(&extension_container_name(&id))
                                .await,
                            Ok(ContainerState::Exited { .. }
                                | ContainerState::NotFound
                                | ContainerState::Dead { .. })
                        );
                        if !exited && self.health(&url).await.is_ok() {
                            failures = 0;
                            self.record_fires(&id).await;
                            continue;
                        }
                        failures += 1;
                        if exited || failures >= 3 {
                            tracing::warn!(extension = %id, exited, "extension is unhealthy; restarting it");
                            break;
                        }
                    }
                    if *stop.borrow() {
                        break;
                    }
                    if healthy_since.elapsed() >= HEALTHY_RESET {
                        backoff = Duration::from_secs(1);
                    }
                    "its container exited or it stopped answering GET /api/health".to_owned()
                }
                Err(e) => {
                    tracing::error!(extension = %id, error = %e, "extension failed to start");
                    e
                }
            };
            self.record(&id, ExtensionState::Exited, String::new(), None)
                .await;
            restarts += 1;
            let retry_at = gofer_core::now_millis() + backoff.as_millis() as u64;
            self.record_retry(&id, restarts, retry_at, Some(why)).await;
            let _ = state.send(ExtensionState::Exited);
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            backoff = (backoff * 2).min(max_backoff);
        }
        self.stop_container(&id).await;
        self.record(&id, ExtensionState::Exited, String::new(), None)
            .await;
        let _ = state.send(ExtensionState::Exited);
    }

    /// docs/extensions.md#launch steps 1–4; returns the URL of a healthy extension.
    pub(super) async fn launch(
        &self,
        id: &str,
        state: &watch::Sender<ExtensionState>,
    ) -> Result<String, String> {
        let name = extension_container_name(id);
        let docker = &self.inner.docker;
        self.remove_containers(id, 0).await;
        let id2 = id.to_owned();
        let stored = self
            .inner
            .store
            .read(move |s| s.get_extension(&id2))
            .await
            .map_err(|e| e.to_string())?;
        let registration = stored.extension.registration.clone();

        // A new token; the previous one is deleted with the replacement.
        let secret = crate::tokens::new_secret();
        let mut roles = vec![extension_role_id(id)];
        roles.extend(registration.additional_roles.iter().cloned());
        let token = Token {
            id: uuid::Uuid::now_v7().hyphenated().to_string(),
            created: gofer_core::now_millis(),
            metadata: [("extension_id".to_owned(), id.to_owned())].into(),
            expires: 0,
            disabled: false,
            user: format!("{id} (extension)"),
            roles,
        };
        let hash = crate::tokens::hash_secret(&secret);
        let id2 = id.to_owned();
        self.inner
            .store
            .write(move |s| s.replace_extension_token(&id2, &token, &hash))
            .await
            .map_err(|e| e.to_string())?;
        self.secrets().insert(id.to_owned(), secret.clone());

        let config = &self.inner.config;
        // A certificate of its own for each launch when the server issues them.
        let (tls_cert, tls_key) = self.inner.tls.serving_pair(id)?;
        let mut env = vec![
            ("GOFER_EXTENSION_SYSTEM_ID".to_owned(), id.to_owned()),
            ("GOFER_EXTENSION_SYSTEM_SECRET".to_owned(), secret.clone()),
            (
                "GOFER_EXTENSION_SYSTEM_GOFER_HOST".to_owned(),
                config.server.extension_address.clone(),
            ),
            (
                "GOFER_EXTENSION_SYSTEM_BIND_ADDRESS".to_owned(),
                format!("0.0.0.0:{EXTENSION_PORT}"),
            ),
            (
                "GOFER_EXTENSION_SYSTEM_USE_TLS".to_owned(),
                config.extensions.use_tls.to_string(),
            ),
            ("GOFER_EXTENSION_SYSTEM_TLS_CERT".to_owned(), tls_cert),
            ("GOFER_EXTENSION_SYSTEM_TLS_KEY".to_owned(), tls_key),
            (
                "GOFER_EXTENSION_SYSTEM_GOFER_USE_TLS".to_owned(),
                config.server.use_tls.to_string(),
            ),
            (
                "GOFER_EXTENSION_SYSTEM_GOFER_CERT".to_owned(),
                self.inner.tls.api_cert.clone().unwrap_or_default(),
            ),
            (
                "GOFER_EXTENSION_SYSTEM_LOG_LEVEL".to_owned(),
                config.api.log_level.clone(),
            ),
        ];
        for setting in &registration.settings {
            let value = if secret_looking_setting(&setting.key) && !setting.value.is_empty() {
                self.open(&setting_scope(id, &setting.key), &setting.value)?
            } else {
                setting.value.clone()
            };
            // A `global_secret{{k}}` setting reaches the container resolved; only the reference
            // is ever stored or shown.
            let value = self
                .resolve_global_secret(&value)
                .await
                .map_err(|problem| format!("settings.{}: {problem}", setting.key))?;
            env.push((setting.key.clone(), value.clone()));
            env.push((
                format!("GOFER_EXTENSION_CONFIG_{}", setting.key.to_uppercase()),
                value,
            ));
        }
        let registry_auth = match &registration.registry_auth {
            Some(auth) if !auth.pass.is_empty() => Some((
                auth.user.clone(),
                self.open(&registry_scope(id), &auth.pass)?,
            )),
            Some(auth) => Some((auth.user.clone(), String::new())),
            None => None,
        };
        let _ = state.send(ExtensionState::Processing);
        self.record(id, ExtensionState::Processing, String::new(), None)
            .await;
        let started = docker
            .start(&StartRequest {
                name: name.clone(),
                image: registration.image.clone(),
                registry_auth,
                always_pull: false,
                env,
                entrypoint: None,
                command: None,
                labels: extension_labels(&self.inner.instance_id, id),
                publish_port: Some(EXTENSION_PORT),
                resources: Default::default(),
                log_driver: None,
            })
            .await
            .map_err(|e| e.to_string())?;
        let address = started
            .address
            .ok_or_else(|| "the engine published no port".to_owned())?;
        let url = format!("{}://{address}", self.inner.tls.scheme());
        self.record(id, ExtensionState::Processing, url.clone(), None)
            .await;

        // Health once per second, up to 30 times, then the documentation (docs/extensions.md#launch step 4).
        let mut healthy = false;
        let mut last_problem = String::new();
        for _ in 0..30 {
            if matches!(
                docker.state(&name).await,
                Ok(ContainerState::Exited { .. }
                    | ContainerState::NotFound
                    | ContainerState::Dead { .. })
            ) {
                return Err(format!(
                    "the container of extension '{id}' exited while starting"
                ));
            }
            match self.health(&url).await {
                Ok(()) => {
                    healthy = true;
                    break;
                }
                Err(problem) => last_problem = problem,
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        if !healthy {
            return Err(format!(
                "extension '{id}' did not answer GET /api/health within 30 s (last: {last_problem})"
            ));
        }
        let info: ExtensionInfoResponse = self
            .inner
            .http
            .get(format!("{url}/api/info"))
            .bearer_auth(&secret)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("GET /api/info of extension '{id}' failed: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET /api/info of extension '{id}' was unreadable: {e}"))?;
        self.record(
            id,
            ExtensionState::Running,
            url.clone(),
            Some(info.documentation),
        )
        .await;
        self.deliver_all(id).await;
        let _ = state.send(ExtensionState::Running);
        tracing::info!(extension = %id, %url, "extension running");
        Ok(url)
    }

    /// Stores the supervisor's restart count, when it retries (0 = not waiting) and, when given,
    /// why it had to (docs/extensions.md#launch).
    pub(super) async fn record_retry(
        &self,
        id: &str,
        restarts: u64,
        retry_at: u64,
        why: Option<String>,
    ) {
        let id2 = id.to_owned();
        let result = self
            .inner
            .store
            .write(move |s| {
                let mut runtime = s.get_extension(&id2)?.extension;
                runtime.restarts = restarts;
                runtime.retry_at = retry_at;
                if let Some(why) = why {
                    runtime.last_error = why;
                }
                s.set_extension_runtime(&id2, &runtime)
            })
            .await;
        if let Err(e) = result
            && !matches!(e, StoreError::NotFound(_))
        {
            tracing::warn!(extension = %id, error = %e, "cannot record the extension's restart");
        }
    }

    /// Stores the runtime fields; `documentation` is kept when `None`.
    pub(super) async fn record(
        &self,
        id: &str,
        state: ExtensionState,
        url: String,
        documentation: Option<ExtensionDocumentation>,
    ) {
        let id2 = id.to_owned();
        let result = self
            .inner
            .store
            .write(move |s| {
                let current = s.get_extension(&id2)?.extension;
                let running = state == ExtensionState::Running;
                let runtime = Extension {
                    url,
                    started: if running {
                        gofer_core::now_millis()
                    } else {
                        current.started
                    },
                    state,
                    documentation: documentation.unwrap_or(current.documentation),
                    registration: current.registration,
                    restarts: current.restarts,
                    // A running extension waits for no retry.
                    retry_at: if running { 0 } else { current.retry_at },
                    last_error: current.last_error,
                };
                s.set_extension_runtime(&id2, &runtime)
            })
            .await;
        if let Err(e) = result
            && !matches!(e, StoreError::NotFound(_))
        {
            tracing::warn!(extension = %id, error = %e, "cannot record the extension's state");
        }
    }

    /// `POST /api/shutdown` (best effort), then stop with grace and remove (docs/extensions.md#install-enable-disable-uninstall, docs/extensions.md#launch).
    /// An extension that never became healthy gets no grace: it may not even have set up its
    /// signal handlers yet, and as PID 1 of its container it would then ignore SIGTERM for the
    /// whole grace (seen when an uninstall followed a boot at once).
    pub(super) async fn stop_container(&self, id: &str) {
        let id2 = id.to_owned();
        let mut grace = 0;
        if let Ok(stored) = self.inner.store.read(move |s| s.get_extension(&id2)).await
            && stored.extension.state == ExtensionState::Running
            && !stored.extension.url.is_empty()
            && let Some(secret) = self.secret_of(id, &stored)
        {
            grace = self.inner.config.extensions.stop_timeout;
            let _ = self
                .inner
                .http
                .post(format!("{}/api/shutdown", stored.extension.url))
                .bearer_auth(secret)
                .send()
                .await;
        }
        self.remove_containers(id, grace).await;
        self.secrets().remove(id);
    }

    /// Stops (with `grace` seconds) and removes this server's containers of extension `id`,
    /// found by their labels: a container of the same name that another Gofer instance owns is
    /// never touched (starting ours then fails, naming the owner).
    pub(super) async fn remove_containers(&self, id: &str, grace: u64) {
        let docker = &self.inner.docker;
        let ours = extension_labels(&self.inner.instance_id, id);
        let listed = match docker.list(&ours).await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(extension = %id, error = %e, "cannot list the extension's containers");
                return;
            }
        };
        for container in listed {
            if !container.state.is_finished()
                && let Err(e) = docker.stop(&container.name, grace).await
            {
                tracing::warn!(extension = %id, error = %e, "stopping the extension failed");
            }
            if let Err(e) = docker.remove(&container.name).await {
                tracing::warn!(extension = %id, error = %e, "removing the extension's container failed");
            }
        }
    }
}
