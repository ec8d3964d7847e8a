//! Installing an extension: its id, image, settings (keys, the one reference they may hold) and
//! extra roles are checked before anything is stored, then the registration is sealed, stored and
//! started (docs/extensions.md#install-enable-disable-uninstall).

use super::{ServiceError, ServiceResult};
use crate::extensions::{Extensions, registration_of};
use crate::store::{SecretScope, StoreHandle};
use gofer_core::api::{Extension, InstallExtensionRequest, reserved_role};
use gofer_core::id::{self, IdKind};
use gofer_core::validate::{RefKind, parse_reference};

/// A setting key: the variable key rule (docs/pipelines.md#identifiers), and not in the server's
/// own `GOFER_EXTENSION_SYSTEM_` namespace.
fn check_setting_key(key: &str) -> ServiceResult<()> {
    if let Some(problem) = id::variable_key_problem(key) {
        return Err(ServiceError::Invalid(format!(
            "settings.{}: {problem}",
            key.escape_debug()
        )));
    }
    if key.to_uppercase().starts_with("GOFER_EXTENSION_SYSTEM_") {
        return Err(ServiceError::Invalid(format!(
            "settings.{key}: reserved; GOFER_EXTENSION_SYSTEM_* variables are set by the server"
        )));
    }
    Ok(())
}

/// Validates `request`, then stores, starts and waits for the extension up to
/// `extensions.start_timeout`; answers it in the state reached.
pub async fn install(
    store: &StoreHandle,
    extensions: &Extensions,
    request: InstallExtensionRequest,
    now: u64,
) -> ServiceResult<Extension> {
    if !IdKind::Entity.accepts(&request.id) {
        return Err(ServiceError::Invalid(format!(
            "id: {} (got '{}')",
            IdKind::Entity.rule(),
            request.id.escape_debug()
        )));
    }
    if let Some(problem) = gofer_core::validate::image_problem(&request.image) {
        return Err(ServiceError::Invalid(format!("image: {problem}")));
    }
    gofer_core::validate::check_variable_sizes("settings", request.settings.iter())?;
    let mut seen = std::collections::BTreeSet::new();
    for (key, _) in request.settings.iter() {
        check_setting_key(key)?;
        if !seen.insert(key.to_uppercase()) {
            return Err(ServiceError::Invalid(format!(
                "settings.{key}: given twice (keys are compared ignoring case, as each becomes \
                 GOFER_EXTENSION_CONFIG_<KEY>)"
            )));
        }
    }
    // `global_secret{{k}}` is the one reference an extension setting may hold (there is no
    // pipeline to resolve the others against); it is resolved when the extension starts and
    // only the reference is stored.
    for (key, value) in request.settings.iter() {
        match parse_reference(value) {
            Some(r) if r.kind == RefKind::GlobalSecret => {
                let secret_key = r.key.clone();
                let exists = store
                    .read(move |s| s.get_secret(&SecretScope::Global, &secret_key))
                    .await;
                if exists.is_err() {
                    return Err(ServiceError::Invalid(format!(
                        "settings.{key}: global secret '{}' does not exist; create it first \
                         (gofer secret global put {} …)",
                        r.key, r.key
                    )));
                }
            }
            Some(r) => {
                return Err(ServiceError::Invalid(format!(
                    "settings.{key}: {} references are not allowed in extension settings (only \
                     global_secret{{{{…}}}})",
                    r.kind.name()
                )));
            }
            None => {}
        }
    }
    for role in &request.additional_roles {
        if reserved_role(role) {
            return Err(ServiceError::Forbidden(format!(
                "additional_roles: role '{role}' cannot be given to a token"
            )));
        }
    }
    let registration = extensions
        .seal_registration(registration_of(request, now))
        .map_err(ServiceError::Internal)?;
    Ok(extensions.install(registration).await?)
}
