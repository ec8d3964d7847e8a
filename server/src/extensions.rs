//! The extension manager (SPEC §12.1–12.4, §12.8): installs, launches, health-checks, restarts
//! and stops extension containers on the local Docker engine, and talks to them over the
//! extension REST API.
//!
//! One supervisor task per enabled extension owns its container: launch (§12.2), then health
//! checks every `extensions.health_check_interval` seconds; three failed checks or an exited
//! container mark it `exited` and restart it after a backoff (§12.3). Stopping a supervisor
//! sends `POST /api/shutdown`, stops the container with the configured grace and removes it.
//! The store holds registrations, subscriptions and the state the API shows; a started extension
//! gets every active (or failed) subscription delivered again (§12.2 step 5).

use crate::scheduler::docker::DockerScheduler;
use crate::scheduler::{
    ContainerState, Scheduler, StartRequest, extension_container_name, extension_labels,
};
use crate::secrets::Cipher;
use crate::store::{StoreError, StoreHandle, StoredExtension, SubscriptionKey};
use gofer_core::api::{
    Extension, ExtensionDebugResponse, ExtensionDocumentation, ExtensionInfoResponse,
    ExtensionRegistration, RegistryAuth, Token, Variable, extension_role_id,
    secret_looking_setting,
};
use gofer_core::config::ServerConfig;
use gofer_core::enums::{
    ExtensionState, ExtensionStatus, SubscriptionStatus, SubscriptionStatusReasonKind,
    VariableSource,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The standard extensions installed at boot (SPEC §12.1): id and image.
const STD_EXTENSIONS: &[(&str, &str)] = &[
    ("interval", "gofer.local/extension-interval:latest"),
    ("cron", "gofer.local/extension-cron:latest"),
];

/// What settings and registry passwords show instead of their value (SPEC §3.9).
pub const MASK: &str = "********";
/// The port every extension serves on inside its container (SPEC §12.2).
const EXTENSION_PORT: u16 = 8082;
/// Server→extension calls time out after this (SPEC §12.4).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an extension must stay healthy for the restart backoff to reset (SPEC §12.3).
const HEALTHY_RESET: Duration = Duration::from_secs(300);

/// Where a running extension answers, and the bearer secret to call it with.
pub(crate) type Endpoint = (String, String);

/// Why a call to an extension failed (SPEC §12.4, §12.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No extension has this id (404).
    NotFound(String),
    /// The extension is not running (503).
    NotRunning(String),
    /// The extension refused the request with this 4xx status and message (a 400 for
    /// subscriptions, the same status for external events).
    Rejected { status: u16, message: String },
    /// The extension answered with a 5xx, timed out or is unreachable (502).
    Failed(String),
}

impl CallError {
    /// The HTTP status an API answer carries for this error: the one mapping every route and
    /// the external events listener use (`From<CallError> for ApiError`).
    pub fn status(&self) -> u16 {
        match self {
            CallError::NotFound(_) => 404,
            CallError::NotRunning(_) => 503,
            CallError::Rejected { status, .. } if (400..500).contains(status) => *status,
            CallError::Rejected { .. } => 400,
            CallError::Failed(_) => 502,
        }
    }

    /// The message, without the status.
    pub fn message(&self) -> &str {
        match self {
            CallError::NotFound(m)
            | CallError::NotRunning(m)
            | CallError::Rejected { message: m, .. }
            | CallError::Failed(m) => m,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for CallError {}

struct Supervisor {
    stop: watch::Sender<bool>,
    state: watch::Receiver<ExtensionState>,
    task: tokio::task::JoinHandle<()>,
}

struct Inner {
    store: StoreHandle,
    docker: DockerScheduler,
    cipher: Arc<Cipher>,
    config: Arc<ServerConfig>,
    instance_id: String,
    http: reqwest::Client,
    supervisors: Mutex<HashMap<String, Supervisor>>,
    /// Plaintext secrets of the extensions' current tokens, for server→extension calls; never
    /// stored (the store keeps only the hash, as for every token).
    secrets: Mutex<HashMap<String, String>>,
}

/// The extension manager; cheap to clone.
#[derive(Clone)]
pub struct Extensions {
    inner: Arc<Inner>,
}

/// The associated data sealing setting `key` of extension `id` (SPEC §9.2).
fn setting_scope(id: &str, key: &str) -> String {
    format!("extension_setting/{id}/{key}")
}

/// The associated data sealing the registry password of extension `id`.
fn registry_scope(id: &str) -> String {
    format!("extension_registry/{id}")
}

impl Extensions {
    pub fn new(
        store: StoreHandle,
        docker: DockerScheduler,
        cipher: Arc<Cipher>,
        config: Arc<ServerConfig>,
        instance_id: String,
    ) -> Extensions {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .unwrap_or_default();
        Extensions {
            inner: Arc::new(Inner {
                store,
                docker,
                cipher,
                config,
                instance_id,
                http,
                supervisors: Mutex::new(HashMap::new()),
                secrets: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn secrets(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.inner
            .secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn supervisors(&self) -> std::sync::MutexGuard<'_, HashMap<String, Supervisor>> {
        self.inner
            .supervisors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Seals secret-looking settings and the registry password for storage.
    pub fn seal_registration(
        &self,
        mut registration: ExtensionRegistration,
    ) -> Result<ExtensionRegistration, String> {
        let id = registration.extension_id.clone();
        for setting in &mut registration.settings {
            if secret_looking_setting(&setting.key) && !setting.value.is_empty() {
                let sealed = self
                    .inner
                    .cipher
                    .seal(&setting_scope(&id, &setting.key), setting.value.as_bytes())
                    .map_err(|e| e.to_string())?;
                setting.value = hex::encode(sealed);
            }
        }
        if let Some(auth) = &mut registration.registry_auth
            && !auth.pass.is_empty()
        {
            let sealed = self
                .inner
                .cipher
                .seal(&registry_scope(&id), auth.pass.as_bytes())
                .map_err(|e| e.to_string())?;
            auth.pass = hex::encode(sealed);
        }
        Ok(registration)
    }

    /// The plaintext of a stored (sealed) value.
    fn open(&self, scope: &str, sealed_hex: &str) -> Result<String, String> {
        let sealed =
            hex::decode(sealed_hex).map_err(|e| format!("stored value is not hex: {e}"))?;
        let plain = self
            .inner
            .cipher
            .open(scope, &sealed)
            .map_err(|e| e.to_string())?;
        String::from_utf8(plain).map_err(|e| e.to_string())
    }

    /// Installs and starts an extension, waiting up to `extensions.start_timeout` seconds for it
    /// to become healthy (SPEC §12.1). `registration` is already validated and sealed.
    pub async fn install(
        &self,
        registration: ExtensionRegistration,
    ) -> Result<Extension, StoreError> {
        let extension = Extension {
            registration,
            url: String::new(),
            started: 0,
            state: ExtensionState::Processing,
            documentation: ExtensionDocumentation::default(),
        };
        let id = extension.registration.extension_id.clone();
        let stored = extension.clone();
        self.inner
            .store
            .write(move |s| s.install_extension(&stored))
            .await?;
        let state = self.start_supervisor(&id);
        let timeout = Duration::from_secs(self.inner.config.extensions.start_timeout);
        let mut state = state;
        let _ = tokio::time::timeout(
            timeout,
            state.wait_for(|s| matches!(s, ExtensionState::Running | ExtensionState::Exited)),
        )
        .await;
        let id2 = id.clone();
        Ok(self
            .inner
            .store
            .read(move |s| s.get_extension(&id2))
            .await?
            .extension)
    }

    /// Enables or disables an extension (SPEC §12.1).
    pub async fn set_enabled(&self, id: &str, enable: bool) -> Result<(), StoreError> {
        let (id2, now) = (id.to_owned(), gofer_core::now_millis());
        let changed = self
            .inner
            .store
            .write(move |s| s.set_extension_status(&id2, enable, now))
            .await?;
        if !changed {
            return Ok(());
        }
        if enable {
            self.start_supervisor(id);
        } else {
            self.stop_supervisor(id).await;
        }
        Ok(())
    }

    /// Stops and removes the extension's container, then deletes it with its objects, token
    /// and role (SPEC §12.1). The object files go too.
    pub async fn uninstall(&self, id: &str) -> Result<(), StoreError> {
        let id2 = id.to_owned();
        self.inner
            .store
            .read(move |s| s.get_extension(&id2))
            .await?;
        self.stop_supervisor(id).await;
        let id2 = id.to_owned();
        self.inner
            .store
            .write(move |s| s.uninstall_extension(&id2))
            .await?;
        let dir =
            gofer_core::paths::extension_objects(&crate::resolve_data_dir(&self.inner.config), id);
        crate::objects::remove_dir(&dir).await;
        Ok(())
    }

    /// Registers the standard extensions that are not registered yet, when
    /// `extensions.install_std_extensions` is on (SPEC §12.1, boot). They start with the others.
    /// `github` joins them when it is written (docs/decisions.md).
    pub async fn install_std(&self) -> Result<(), StoreError> {
        if !self.inner.config.extensions.install_std_extensions {
            return Ok(());
        }
        for (id, image) in STD_EXTENSIONS {
            let id2 = (*id).to_owned();
            match self.inner.store.read(move |s| s.get_extension(&id2)).await {
                Ok(_) => continue,
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            let request = gofer_core::api::InstallExtensionRequest {
                id: (*id).to_owned(),
                image: (*image).to_owned(),
                settings: gofer_core::api::OrderedMap::default(),
                registry_auth: None,
                additional_roles: Vec::new(),
            };
            let extension = Extension {
                registration: registration_of(request, gofer_core::now_millis()),
                url: String::new(),
                started: 0,
                state: ExtensionState::Processing,
                documentation: ExtensionDocumentation::default(),
            };
            self.inner
                .store
                .write(move |s| s.install_extension(&extension))
                .await?;
            tracing::info!(extension = %id, %image, "installed a standard extension");
        }
        Ok(())
    }

    /// Starts every enabled extension (at boot, after the listener is up; SPEC §12.2).
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

    /// Stops every running extension (graceful server shutdown, SPEC §12.3).
    pub async fn shutdown(&self) {
        let ids: Vec<String> = self.supervisors().keys().cloned().collect();
        let stops = ids.iter().map(|id| self.stop_supervisor(id));
        futures_util::future::join_all(stops).await;
    }

    /// `GET /api/debug` of a running extension (SPEC §12.8).
    pub async fn debug(&self, id: &str) -> Result<String, CallError> {
        // The request carries no user input, so an extension refusing it is its own fault (502).
        let response = self
            .call(id, reqwest::Method::GET, "debug", None::<&()>)
            .await
            .map_err(|e| match e {
                CallError::Rejected { status, message } => CallError::Failed(format!(
                    "extension '{id}' answered {status} to a debug request: {message}"
                )),
                other => other,
            })?;
        let info: ExtensionDebugResponse = response.json().await.map_err(|e| {
            CallError::Failed(format!(
                "extension '{id}' sent an unreadable debug answer: {e}"
            ))
        })?;
        Ok(info.info)
    }

    /// One server→extension call (SPEC §12.4) to a running extension: `path` under `/api/`,
    /// bearer auth, the client's 10 s timeout. A 2xx answers the response; a 4xx is `Rejected`
    /// with the extension's status and message; a 5xx or no answer is `Failed`.
    async fn call<B: serde::Serialize + ?Sized>(
        &self,
        id: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response, CallError> {
        let endpoint = self.reachable(id).await?;
        self.call_at(id, &endpoint, method, path, body).await
    }

    /// [`Extensions::call`] to an extension already found running by [`Extensions::reachable`].
    async fn call_at<B: serde::Serialize + ?Sized>(
        &self,
        id: &str,
        (url, secret): &Endpoint,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response, CallError> {
        let mut request = self
            .inner
            .http
            .request(method, format!("{url}/api/{path}"))
            .bearer_auth(secret);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| CallError::Failed(format!("extension '{id}' did not answer: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let message = extension_message(&response.text().await.unwrap_or_default());
        if status.is_client_error() {
            Err(CallError::Rejected {
                status: status.as_u16(),
                message,
            })
        } else {
            Err(CallError::Failed(format!(
                "extension '{id}' answered {status}: {message}"
            )))
        }
    }

    /// Forwards a webhook to the extension's `POST /api/external-event` (SPEC §12.7), at the
    /// `endpoint` the listener found before it read the body ([`Extensions::reachable`]: a
    /// disabled or stopped extension is `NotRunning`, 503). Its 4xx is `Rejected` (answered with
    /// the same status); 5xx or silence is `Failed` (502).
    pub(crate) async fn external_event(
        &self,
        id: &str,
        endpoint: &Endpoint,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<(), CallError> {
        let request = gofer_core::api::ExtensionExternalEventRequest {
            headers: gofer_core::api::OrderedMap(headers),
            body,
        };
        self.call_at(
            id,
            endpoint,
            reqwest::Method::POST,
            "external-event",
            Some(&request),
        )
        .await
        .map(drop)
    }

    /// Whether the extension is running (subscriptions are delivered now) or not (they are
    /// delivered at its next start).
    pub async fn is_running(&self, id: &str) -> bool {
        self.reachable(id).await.is_ok()
    }

    /// Resolves a subscription's settings (SPEC §6.3). `run_object` and `task_result`
    /// references are refused. The error names the setting.
    pub async fn resolve_settings(
        &self,
        sub: &gofer_core::api::Subscription,
    ) -> Result<gofer_core::api::OrderedMap, String> {
        use gofer_core::validate::{RefKind, parse_reference};
        let resolver = crate::engine::substitute::Resolver {
            store: self.inner.store.clone(),
            cipher: self.inner.cipher.clone(),
            data_dir: crate::resolve_data_dir(&self.inner.config),
        };
        let key = crate::store::RunKey::new(sub.namespace_id.clone(), sub.pipeline_id.clone(), 0);
        let mut out = Vec::with_capacity(sub.settings.0.len());
        for (k, v) in sub.settings.iter() {
            let value = match parse_reference(v) {
                Some(r) if matches!(r.kind, RefKind::RunObject | RefKind::TaskResult) => {
                    return Err(format!(
                        "settings.{k}: {} references are not allowed in subscription settings",
                        r.kind.name()
                    ));
                }
                Some(r) => {
                    crate::engine::substitute::resolve_one(&resolver, &key, &r)
                        .await
                        .map_err(|problem| format!("settings.{k}: {problem}"))?
                        .0
                }
                None => v.to_owned(),
            };
            out.push((k.to_owned(), value));
        }
        Ok(gofer_core::api::OrderedMap(out))
    }

    /// `value` itself, or the secret it names when it is a `global_secret{{k}}` reference.
    async fn resolve_global_secret(&self, value: &str) -> Result<String, String> {
        use gofer_core::validate::{RefKind, parse_reference};
        let Some(reference) = parse_reference(value).filter(|r| r.kind == RefKind::GlobalSecret)
        else {
            return Ok(value.to_owned());
        };
        let key = reference.key.clone();
        let (_, sealed) = self
            .inner
            .store
            .read(move |s| s.get_secret(&crate::store::SecretScope::Global, &key))
            .await
            .map_err(|e| format!("global secret '{}': {e}", reference.key))?;
        let plain = self
            .inner
            .cipher
            .open(
                &crate::store::SecretScope::Global.associated_data(&reference.key),
                &sealed,
            )
            .map_err(|e| format!("global secret '{}': {e}", reference.key))?;
        String::from_utf8(plain)
            .map_err(|_| format!("global secret '{}' is not valid UTF-8", reference.key))
    }

    /// `POST /api/subscribe` with the resolved settings.
    pub async fn subscribe(
        &self,
        sub: &gofer_core::api::Subscription,
        settings: gofer_core::api::OrderedMap,
    ) -> Result<(), CallError> {
        let body = gofer_core::api::ExtensionSubscribeRequest {
            namespace_id: sub.namespace_id.clone(),
            pipeline_id: sub.pipeline_id.clone(),
            pipeline_subscription_id: sub.subscription_id.clone(),
            pipeline_subscription_params: settings,
        };
        self.call(
            &sub.extension_id,
            reqwest::Method::POST,
            "subscribe",
            Some(&body),
        )
        .await
        .map(drop)
    }

    /// `DELETE /api/subscribe` when the extension runs; best effort (failures are logged).
    pub async fn unsubscribe(&self, key: &SubscriptionKey) {
        let body = gofer_core::api::ExtensionUnsubscribeRequest {
            namespace_id: key.namespace.clone(),
            pipeline_id: key.pipeline.clone(),
            pipeline_subscription_id: key.subscription.clone(),
        };
        match self
            .call(
                &key.extension,
                reqwest::Method::DELETE,
                "subscribe",
                Some(&body),
            )
            .await
        {
            Ok(_) | Err(CallError::NotFound(_) | CallError::NotRunning(_)) => {}
            Err(e) => {
                tracing::warn!(extension = %key.extension, subscription = %key.subscription,
                    error = %e, "telling the extension about a removed subscription failed");
            }
        }
    }

    /// Resolves and delivers one subscription, recording `active`, or `error` with the reason
    /// (SPEC §12.2 step 5, §12.5 enabling).
    pub async fn deliver(&self, sub: &gofer_core::api::Subscription) {
        let outcome = match self.resolve_settings(sub).await {
            Ok(settings) => self
                .subscribe(sub, settings)
                .await
                .map_err(|e| e.to_string()),
            Err(problem) => Err(problem),
        };
        let (status, reason) = match outcome {
            Ok(()) => (SubscriptionStatus::Active, None),
            Err(message) => {
                tracing::warn!(extension = %sub.extension_id, subscription = %sub.subscription_id,
                    error = %message, "delivering a subscription failed");
                (
                    SubscriptionStatus::Error,
                    Some(gofer_core::api::StatusReason {
                        reason: SubscriptionStatusReasonKind::Failed,
                        description: message,
                    }),
                )
            }
        };
        let key = SubscriptionKey::of(sub);
        let _ = self
            .inner
            .store
            .write(move |s| s.set_subscription_status(&key, status, reason))
            .await;
    }

    /// Delivers every `active` or `error` subscription of a just-started extension.
    async fn deliver_all(&self, id: &str) {
        let id2 = id.to_owned();
        let subs = self
            .inner
            .store
            .read(move |s| s.list_extension_subscriptions(&id2, gofer_core::api::Page::ALL))
            .await
            .unwrap_or_default();
        for sub in subs {
            if matches!(
                sub.status,
                SubscriptionStatus::Active | SubscriptionStatus::Error
            ) {
                self.deliver(&sub).await;
            }
        }
    }

    /// The URL and bearer secret of a running extension.
    pub(crate) async fn reachable(&self, id: &str) -> Result<Endpoint, CallError> {
        let id2 = id.to_owned();
        let stored = self
            .inner
            .store
            .read(move |s| s.get_extension(&id2))
            .await
            .map_err(|e| match e {
                StoreError::NotFound(m) => CallError::NotFound(m),
                e => CallError::NotRunning(e.to_string()),
            })?;
        let ext = &stored.extension;
        if ext.state != ExtensionState::Running || ext.url.is_empty() {
            return Err(CallError::NotRunning(format!(
                "extension '{id}' is not running (state {})",
                ext.state
            )));
        }
        let secret = self
            .secret_of(id, &stored)
            .ok_or_else(|| CallError::NotRunning(format!("extension '{id}' has no token yet")))?;
        Ok((ext.url.clone(), secret))
    }

    /// The plaintext of the extension's current token, kept by its supervisor.
    fn secret_of(&self, id: &str, stored: &StoredExtension) -> Option<String> {
        stored.token_id.as_ref()?;
        self.secrets().get(id).cloned()
    }

    /// The container's log stream (SPEC §12.8).
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

    fn start_supervisor(&self, id: &str) -> watch::Receiver<ExtensionState> {
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

    async fn stop_supervisor(&self, id: &str) {
        let supervisor = self.supervisors().remove(id);
        if let Some(supervisor) = supervisor {
            let _ = supervisor.stop.send(true);
            let _ = supervisor.task.await;
        }
    }

    /// Launch, watch, restart, until told to stop; then shut the container down.
    async fn supervise(
        self,
        id: String,
        mut stop: watch::Receiver<bool>,
        state: watch::Sender<ExtensionState>,
    ) {
        let config = &self.inner.config.extensions;
        let max_backoff = Duration::from_secs(config.restart_backoff_max.max(1));
        let interval = Duration::from_secs(config.health_check_interval.max(1));
        let mut backoff = Duration::from_secs(1);
        loop {
            let launched = tokio::select! {
                r = self.launch(&id, &state) => r,
                _ = stop.wait_for(|s| *s) => break,
            };
            match launched {
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
                        if !exited && self.health(&url).await {
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
                }
                Err(e) => {
                    tracing::error!(extension = %id, error = %e, "extension failed to start");
                }
            }
            self.record(&id, ExtensionState::Exited, String::new(), None)
                .await;
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

    /// SPEC §12.2 steps 1–4; returns the URL of a healthy extension.
    async fn launch(
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
            ("GOFER_EXTENSION_SYSTEM_TLS_CERT".to_owned(), String::new()),
            ("GOFER_EXTENSION_SYSTEM_TLS_KEY".to_owned(), String::new()),
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
            })
            .await
            .map_err(|e| e.to_string())?;
        let address = started
            .address
            .ok_or_else(|| "the engine published no port".to_owned())?;
        let url = format!("http://{address}");
        self.record(id, ExtensionState::Processing, url.clone(), None)
            .await;

        // Health once per second, up to 30 times, then the documentation (SPEC §12.2 step 4).
        let mut healthy = false;
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
            if self.health(&url).await {
                healthy = true;
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        if !healthy {
            return Err(format!(
                "extension '{id}' did not answer GET /api/health within 30 s"
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

    async fn health(&self, url: &str) -> bool {
        matches!(
            self.inner.http.get(format!("{url}/api/health")).send().await,
            Ok(r) if r.status().is_success()
        )
    }

    /// Reads the extension's debug info and stores each subscription's last firing it reports
    /// (see `ExtensionFireReports`; an extension that reports none is left alone).
    async fn record_fires(&self, id: &str) {
        let Ok(info) = self.debug(id).await else {
            return;
        };
        let Ok(report) = serde_json::from_str::<gofer_core::api::ExtensionFireReports>(&info)
        else {
            return;
        };
        for fire in report.subscriptions {
            if fire.last_fired == 0 {
                continue;
            }
            let key = SubscriptionKey {
                namespace: fire.namespace_id,
                pipeline: fire.pipeline_id,
                extension: id.to_owned(),
                subscription: fire.subscription_id,
            };
            let (last_fired, last_error) = (fire.last_fired, fire.last_error);
            let recorded = self
                .inner
                .store
                .write(move |s| s.record_subscription_fire(&key, last_fired, last_error))
                .await;
            if let Err(e) = recorded {
                tracing::warn!(extension = %id, error = %e, "cannot record a subscription's last firing");
            }
        }
    }

    /// Stores the runtime fields; `documentation` is kept when `None`.
    async fn record(
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
                let runtime = Extension {
                    url,
                    started: if state == ExtensionState::Running {
                        gofer_core::now_millis()
                    } else {
                        current.started
                    },
                    state,
                    documentation: documentation.unwrap_or(current.documentation),
                    registration: current.registration,
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

    /// `POST /api/shutdown` (best effort), then stop with grace and remove (SPEC §12.1, §12.3).
    /// An extension that never became healthy gets no grace: it may not even have set up its
    /// signal handlers yet, and as PID 1 of its container it would then ignore SIGTERM for the
    /// whole grace (seen when an uninstall followed a boot at once).
    async fn stop_container(&self, id: &str) {
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
    async fn remove_containers(&self, id: &str, grace: u64) {
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

/// The `message` of an extension's error body, or the body itself.
fn extension_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

/// An extension for the API: secret-looking settings and the registry password masked.
pub fn masked(mut extension: Extension) -> Extension {
    let registration = &mut extension.registration;
    for Variable { key, value, .. } in &mut registration.settings {
        if secret_looking_setting(key) && !value.is_empty() {
            *value = MASK.to_owned();
        }
    }
    if let Some(RegistryAuth { pass, .. }) = &mut registration.registry_auth
        && !pass.is_empty()
    {
        *pass = MASK.to_owned();
    }
    extension
}

/// The registration of a validated install request.
pub fn registration_of(
    request: gofer_core::api::InstallExtensionRequest,
    now: u64,
) -> ExtensionRegistration {
    ExtensionRegistration {
        extension_id: request.id,
        image: request.image,
        registry_auth: request.registry_auth,
        settings: request
            .settings
            .0
            .into_iter()
            .map(|(key, value)| Variable {
                key,
                value,
                source: VariableSource::System,
            })
            .collect(),
        created: now,
        modified: 0,
        status: ExtensionStatus::Enabled,
        additional_roles: request.additional_roles,
    }
}
