//! The extension manager (docs/extensions.md#install-enable-disable-uninstall, docs/extensions.md#the-api-every-extension-serves, docs/extensions.md#logs-and-debug): installs, launches, health-checks, restarts
//! and stops extension containers on the local Docker engine, and talks to them over the
//! extension REST API.
//!
//! One supervisor task per enabled extension owns its container: launch (docs/extensions.md#launch), then health
//! checks every `extensions.health_check_interval` seconds; three failed checks or an exited
//! container mark it `exited` and restart it after a backoff (docs/extensions.md#launch). Stopping a supervisor
//! sends `POST /api/shutdown`, stops the container with the configured grace and removes it.
//! The store holds registrations, subscriptions and the state the API shows; a started extension
//! gets every active (or failed) subscription delivered again (docs/extensions.md#launch step 5).

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

mod client;
mod subscriptions;
mod supervisor;

pub use client::CallError;

/// The standard extensions installed at boot (docs/extensions.md#install-enable-disable-uninstall): id and image.
const STD_EXTENSIONS: &[(&str, &str)] = &[
    ("interval", "gofer.local/extension-interval:latest"),
    ("cron", "gofer.local/extension-cron:latest"),
];

/// What settings and registry passwords show instead of their value (docs/extensions.md#install-enable-disable-uninstall).
pub const MASK: &str = "********";
/// The port every extension serves on inside its container (docs/extensions.md#launch).
const EXTENSION_PORT: u16 = 8082;
/// Server→extension calls time out after this (docs/extensions.md#the-api-every-extension-serves).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an extension must stay healthy for the restart backoff to reset (docs/extensions.md#launch).
const HEALTHY_RESET: Duration = Duration::from_secs(300);

/// Where a running extension answers, and the bearer secret to call it with.
pub(crate) struct Endpoint {
    /// `http(s)://127.0.0.1:<published port>`.
    pub url: String,
    /// The bearer secret the extension expects (its `GOFER_EXTENSION_SYSTEM_SECRET`).
    pub secret: String,
}

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
    /// The extensions' certificates and the API's (docs/deploy.md#tls-between-the-server-and-its-extensions).
    tls: crate::tls::ExtensionTls,
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

/// The associated data sealing setting `key` of extension `id` (docs/objects-and-secrets.md#secrets).
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
        tls: crate::tls::ExtensionTls,
    ) -> Extensions {
        let http = tls
            .client_builder(config.extensions.verify_certs)
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
                tls,
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
    /// to become healthy (docs/extensions.md#install-enable-disable-uninstall). `registration` is already validated and sealed.
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
            restarts: 0,
            retry_at: 0,
            last_error: String::new(),
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

    /// Enables or disables an extension (docs/extensions.md#install-enable-disable-uninstall).
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
    /// and role (docs/extensions.md#install-enable-disable-uninstall). The object files go too.
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
    /// `extensions.install_std_extensions` is on (docs/extensions.md#install-enable-disable-uninstall, boot). They start with the others.
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
                restarts: 0,
                retry_at: 0,
                last_error: String::new(),
            };
            self.inner
                .store
                .write(move |s| s.install_extension(&extension))
                .await?;
            tracing::info!(extension = %id, %image, "installed a standard extension");
        }
        Ok(())
    }
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
