//! Extensions (docs/extensions.md#install-enable-disable-uninstall, docs/extensions.md#logs-and-debug; docs/api.md#extensions rows 4–10 and 15). Objects (rows 11–14) are in
//! `objects.rs`; the work is done by [`crate::extensions`].

use crate::extensions::masked;
use crate::http::Cx;
use crate::http::reply::{ApiError, created, no_content, ok};
use gofer_core::api::{
    ExtensionDebugResponse, ExtensionResponse, ExtensionsResponse, InstallExtensionRequest,
    UpdateExtensionRequest, parse_bool,
};
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

/// `POST /api/extensions` (admin): parses the request; `service::extensions::install` checks,
/// stores, starts and waits up to `extensions.start_timeout`
/// (docs/extensions.md#install-enable-disable-uninstall).
pub async fn install(mut cx: Cx) -> Result<Response, ApiError> {
    let request: InstallExtensionRequest = cx.json().await?;
    let state = &cx.state;
    let extension = crate::service::extensions::install(
        &state.store,
        &state.extensions,
        request,
        gofer_core::now_millis(),
    )
    .await?;
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
/// `GET /api/extensions/{id}/subscriptions`: the extension's subscriptions in the pipelines the
/// caller may read (an admin reads them all).
pub async fn subscriptions(cx: Cx) -> Result<Response, ApiError> {
    use gofer_core::api::ResourceKind;
    use gofer_core::enums::Action;
    let id = cx.extension()?;
    let page = cx.page(DEFAULT_LIMIT)?;
    let grants = cx.caller.grants.clone();
    let subscriptions = if grants.is_admin() {
        cx.state
            .store
            .read(move |s| s.list_extension_subscriptions(&id, page))
            .await?
    } else {
        let all = cx
            .state
            .store
            .read(move |s| s.list_extension_subscriptions(&id, gofer_core::api::Page::ALL))
            .await?;
        let readable = all
            .into_iter()
            .filter(|s| {
                grants.allows(
                    Action::Read,
                    &[
                        (ResourceKind::Namespaces, Some(s.namespace_id.as_str())),
                        (ResourceKind::Pipelines, Some(s.pipeline_id.as_str())),
                        (ResourceKind::Subscriptions, None),
                    ],
                )
            })
            .collect();
        page.apply(readable)
    };
    Ok(ok(&gofer_core::api::SubscriptionsResponse {
        subscriptions,
    }))
}
