//! Extensions (docs/extensions.md#install-enable-disable-uninstall, docs/extensions.md#logs-and-debug; docs/api.md#extensions rows 4–10 and 15). Objects (rows 11–14) are in
//! `objects.rs`; the work is done by [`crate::extensions`].

use crate::extensions::{masked, registration_of};
use crate::http::Cx;
use crate::http::reply::{ApiError, created, no_content, ok};
use gofer_core::api::{
    ExtensionDebugResponse, ExtensionResponse, ExtensionsResponse, InstallExtensionRequest,
    UpdateExtensionRequest, parse_bool, reserved_role,
};
use gofer_core::id::IdKind;
use warp::Reply;
use warp::reply::Response;

/// Default page size of the extension list (docs/api.md#common-rules).
const DEFAULT_LIMIT: u64 = 50;

/// `GET /api/extensions`: every extension, enabled or not, settings masked.
pub async fn list(cx: Cx) -> Result<Response, ApiError> {
    let page = cx.page(DEFAULT_LIMIT)?;
    let all = cx
        .state
        .store
        .read(move |s| s.list_extensions(page))
        .await?;
    Ok(ok(&ExtensionsResponse {
        extensions: all.into_iter().map(|e| masked(e.extension)).collect(),
    }))
}

/// `GET /api/extensions/{id}`.
pub async fn get(cx: Cx) -> Result<Response, ApiError> {
    let id = cx.extension()?;
    let stored = cx.state.store.read(move |s| s.get_extension(&id)).await?;
    Ok(ok(&ExtensionResponse {
        extension: masked(stored.extension),
    }))
}

/// A setting key: the variable key rule of docs/pipelines.md#identifiers, and not in the server's own
/// `GOFER_EXTENSION_SYSTEM_` namespace (docs/extensions.md#install-enable-disable-uninstall).
fn check_setting_key(key: &str) -> Result<(), ApiError> {
    if let Some(problem) = gofer_core::id::variable_key_problem(key) {
        return Err(ApiError::invalid(format!(
            "settings.{}: {problem}",
            key.escape_debug()
        )));
    }
    if key.to_uppercase().starts_with("GOFER_EXTENSION_SYSTEM_") {
        return Err(ApiError::invalid(format!(
            "settings.{key}: reserved; GOFER_EXTENSION_SYSTEM_* variables are set by the server"
        )));
    }
    Ok(())
}

/// `POST /api/extensions` (admin): validates, stores, starts and waits up to
/// `extensions.start_timeout` (docs/extensions.md#install-enable-disable-uninstall).
pub async fn install(mut cx: Cx) -> Result<Response, ApiError> {
    let request: InstallExtensionRequest = cx.json().await?;
    if !IdKind::Entity.accepts(&request.id) {
        return Err(ApiError::invalid(format!(
            "id: {} (got '{}')",
            IdKind::Entity.rule(),
            request.id.escape_debug()
        )));
    }
    if let Some(problem) = gofer_core::validate::image_problem(&request.image) {
        return Err(ApiError::invalid(format!("image: {problem}")));
    }
    gofer_core::validate::check_variable_sizes("settings", request.settings.iter())?;
    let mut seen = std::collections::BTreeSet::new();
    for (key, _) in request.settings.iter() {
        check_setting_key(key)?;
        if !seen.insert(key.to_uppercase()) {
            return Err(ApiError::invalid(format!(
                "settings.{key}: given twice (keys are compared ignoring case, as each becomes \
                 GOFER_EXTENSION_CONFIG_<KEY>)"
            )));
        }
    }
    // `global_secret{{k}}` is the one reference an extension setting may hold (there is no
    // pipeline to resolve the others against); it is resolved when the extension starts and
    // only the reference is stored.
    for (key, value) in request.settings.iter() {
        use gofer_core::validate::{RefKind, parse_reference};
        match parse_reference(value) {
            Some(r) if r.kind == RefKind::GlobalSecret => {
                let secret_key = r.key.clone();
                let exists = cx
                    .state
                    .store
                    .read(move |s| s.get_secret(&crate::store::SecretScope::Global, &secret_key))
                    .await;
                if exists.is_err() {
                    return Err(ApiError::invalid(format!(
                        "settings.{key}: global secret '{}' does not exist; create it first \
                         (gofer secret global put {} …)",
                        r.key, r.key
                    )));
                }
            }
            Some(r) => {
                return Err(ApiError::invalid(format!(
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
            return Err(ApiError::forbidden(format!(
                "additional_roles: role '{role}' cannot be given to a token"
            )));
        }
    }
    let registration = registration_of(request, gofer_core::now_millis());
    let registration = cx
        .state
        .extensions
        .seal_registration(registration)
        .map_err(ApiError::internal)?;
    let extension = cx.state.extensions.install(registration).await?;
    Ok(created(&ExtensionResponse {
        extension: masked(extension),
    }))
}

/// `PATCH /api/extensions/{id}` (admin) `{enable}`.
pub async fn update(mut cx: Cx) -> Result<Response, ApiError> {
    let id = cx.extension()?;
    let request: UpdateExtensionRequest = cx.json_or_default().await?;
    let Some(enable) = request.enable else {
        return Err(ApiError::invalid(
            "enable: missing; send {\"enable\": true} or false",
        ));
    };
    cx.state.extensions.set_enabled(&id, enable).await?;
    Ok(no_content())
}

/// `DELETE /api/extensions/{id}` (admin).
pub async fn uninstall(cx: Cx) -> Result<Response, ApiError> {
    let id = cx.extension()?;
    cx.state.extensions.uninstall(&id).await?;
    Ok(no_content())
}

/// `GET /api/extensions/{id}/debug` (admin): proxies the extension's `GET /api/debug`.
pub async fn debug(cx: Cx) -> Result<Response, ApiError> {
    let id = cx.extension()?;
    let info = cx.state.extensions.debug(&id).await?;
    Ok(ok(&ExtensionDebugResponse { info }))
}

/// (WS or plain) `GET /api/extensions/{id}/logs[?follow=]`: the container's log (docs/extensions.md#logs-and-debug).
pub async fn logs(cx: Cx) -> Result<Response, ApiError> {
    use futures_util::StreamExt;
    let id = cx.extension()?;
    let mut follow = cx.ws.is_some();
    for (k, v) in cx.query_pairs() {
        if k == "follow" {
            follow = parse_bool("follow", &v).map_err(ApiError::invalid)?;
        }
    }
    let id2 = id.clone();
    cx.state.store.read(move |s| s.get_extension(&id2)).await?;
    let (tx, stream) = crate::logs::LogStream::channel();
    let mut source = cx.state.extensions.logs(&id, follow);
    tokio::spawn(async move {
        while let Some(item) = source.next().await {
            let item = match item {
                Ok(bytes) => Ok(bytes),
                // No container (never started, or removed): an empty log.
                Err(crate::scheduler::SchedulerError::NotFound { .. }) => break,
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            if tx.send(item).await.is_err() {
                break;
            }
        }
    });
    match cx.ws {
        Some(ws) => {
            let shutdown = cx.state.shutdown.clone();
            Ok(ws
                .on_upgrade(move |socket| crate::logs::send_lines(socket, stream, shutdown))
                .into_response())
        }
        None => Ok(crate::logs::plain_response(stream)),
    }
}

/// `GET /api/extensions/{id}/subscriptions`: every subscription to the extension (docs/extensions.md#subscriptions).
pub async fn subscriptions(cx: Cx) -> Result<Response, ApiError> {
    let id = cx.extension()?;
    let page = cx.page(DEFAULT_LIMIT)?;
    let subscriptions = cx
        .state
        .store
        .read(move |s| s.list_extension_subscriptions(&id, page))
        .await?;
    Ok(ok(&gofer_core::api::SubscriptionsResponse {
        subscriptions,
    }))
}
