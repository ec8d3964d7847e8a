//! Pipeline subscriptions to extensions (SPEC §12.5; §14.8 rows 54–58). Delivery to the
//! extension is [`crate::extensions`]'s.

use crate::extensions::CallError;
use crate::http::Cx;
use crate::http::reply::{ApiError, created, no_content, ok};
use crate::store::SubscriptionKey;
use gofer_core::api::{
    CreateSubscriptionRequest, Subscription, SubscriptionResponse, SubscriptionsResponse,
    UpdateSubscriptionRequest,
};
use gofer_core::enums::{ExtensionStatus, SubscriptionStatus};
use gofer_core::id::{self, IdKind};
use gofer_core::validate::{RefKind, parse_reference};
use warp::reply::Response;

/// Default page size of subscription lists (SPEC §14.1).
const DEFAULT_LIMIT: u64 = 50;

fn key(cx: &Cx) -> Result<SubscriptionKey, ApiError> {
    Ok(SubscriptionKey {
        namespace: cx.ns()?,
        pipeline: cx.pipeline()?,
        extension: cx.id("ext", IdKind::Entity, "extension")?,
        subscription: cx.id("sub", IdKind::Entity, "subscription")?,
    })
}

/// `GET P/subscriptions`.
pub async fn list(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let page = cx.page(DEFAULT_LIMIT)?;
    let subscriptions = cx
        .state
        .store
        .read(move |s| s.list_subscriptions(&ns, &p, page))
        .await?;
    Ok(ok(&SubscriptionsResponse { subscriptions }))
}

/// `GET P/subscriptions/{ext}/{sub}`.
pub async fn get(cx: Cx) -> Result<Response, ApiError> {
    let key = key(&cx)?;
    let subscription = cx
        .state
        .store
        .read(move |s| s.get_subscription(&key))
        .await?;
    Ok(ok(&SubscriptionResponse { subscription }))
}

/// `POST P/subscriptions` (SPEC §12.5): validated, delivered when the extension runs (nothing is
/// stored when it refuses), stored `active`.
pub async fn create(mut cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let req: CreateSubscriptionRequest = cx.json().await?;
    if !IdKind::Entity.accepts(&req.subscription_id) {
        return Err(ApiError::invalid(format!(
            "subscription_id: {} (got '{}')",
            IdKind::Entity.rule(),
            req.subscription_id.escape_debug()
        )));
    }
    gofer_core::validate::check_variable_sizes("settings", req.settings.iter())?;
    for (k, v) in req.settings.iter() {
        if let Some(problem) = id::variable_key_problem(k) {
            return Err(ApiError::invalid(format!("settings.{k}: {problem}")));
        }
        if let Some(r) = parse_reference(v)
            && matches!(r.kind, RefKind::RunObject | RefKind::TaskResult)
        {
            return Err(ApiError::invalid(format!(
                "settings.{k}: {} references are not allowed in subscription settings",
                r.kind.name()
            )));
        }
    }
    let store = &cx.state.store;
    let (ns2, p2) = (ns.clone(), p.clone());
    store.read(move |s| s.get_pipeline(&ns2, &p2)).await?;
    if !IdKind::Entity.accepts(&req.extension_id) {
        return Err(ApiError::not_found(format!(
            "extension '{}' not found",
            req.extension_id.escape_debug()
        )));
    }
    let ext_id = req.extension_id.clone();
    let extension = store
        .read(move |s| s.get_extension(&ext_id))
        .await?
        .extension;
    if extension.registration.status == ExtensionStatus::Disabled {
        return Err(ApiError::conflict(format!(
            "extension '{}' is disabled; enable it first (gofer extension enable {})",
            req.extension_id, req.extension_id
        )));
    }
    let sub = Subscription {
        namespace_id: ns,
        pipeline_id: p,
        extension_id: req.extension_id,
        subscription_id: req.subscription_id,
        settings: req.settings,
        status: SubscriptionStatus::Active,
        status_reason: None,
        last_fired: 0,
        last_error: None,
    };
    let k = SubscriptionKey::of(&sub);
    if store.read(move |s| s.get_subscription(&k)).await.is_ok() {
        return Err(ApiError::conflict(format!(
            "subscription '{}' of pipeline '{}' to extension '{}' already exists",
            sub.subscription_id, sub.pipeline_id, sub.extension_id
        )));
    }
    // A setting the extension does not document is a typo: it would be ignored and the
    // intended one missing (an extension that documents none is not checked).
    let params = &extension.documentation.pipeline_subscription_params;
    if !params.is_empty() {
        for (key, _) in sub.settings.iter() {
            if !params.iter().any(|p| p.key == key) {
                let known: Vec<&str> = params.iter().map(|p| p.key.as_str()).collect();
                return Err(ApiError::invalid(format!(
                    "settings.{key}: unknown setting{}; extension '{}' takes: {}",
                    gofer_core::suggest::did_you_mean(key, known.iter().copied()),
                    sub.extension_id,
                    known.join(", ")
                )));
            }
        }
    }
    for param in params {
        if param.required && !sub.settings.iter().any(|(k, _)| k == param.key) {
            return Err(ApiError::invalid(format!(
                "settings.{}: required by extension '{}'",
                param.key, sub.extension_id
            )));
        }
    }
    let extensions = &cx.state.extensions;
    if extensions.is_running(&sub.extension_id).await {
        let settings = extensions
            .resolve_settings(&sub)
            .await
            .map_err(ApiError::invalid)?;
        match extensions.subscribe(&sub, settings).await {
            Ok(()) => {}
            // Whatever 4xx the extension chose, a refused subscription is a 400.
            Err(CallError::Rejected { message, .. }) => {
                return Err(ApiError::invalid(format!(
                    "extension rejected subscription: {message}"
                )));
            }
            Err(e @ CallError::Failed(_)) => return Err(e.into()),
            // It stopped in between: stored, delivered at its next start.
            Err(CallError::NotRunning(_)) => {}
            // Uninstalled in between: the store refuses the subscription below.
            Err(CallError::NotFound(_)) => {}
        }
    }
    let stored = sub.clone();
    let result = store.write(move |s| s.create_subscription(&stored)).await;
    if let Err(e) = result {
        // Refused after delivery (a concurrent create, a deleted pipeline): take it back.
        extensions.unsubscribe(&SubscriptionKey::of(&sub)).await;
        return Err(e.into());
    }
    Ok(created(&SubscriptionResponse { subscription: sub }))
}

/// `PATCH P/subscriptions/{ext}/{sub}` `{status: "active"|"disabled"}`.
pub async fn update(mut cx: Cx) -> Result<Response, ApiError> {
    let key = key(&cx)?;
    let req: UpdateSubscriptionRequest = cx.json_or_default().await?;
    let enable = match req.status.as_deref() {
        Some("active") => true,
        Some("disabled") => false,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "status: must be active or disabled (got '{}')",
                other.escape_debug()
            )));
        }
        None => {
            return Err(ApiError::invalid(
                "status: missing; send active or disabled",
            ));
        }
    };
    let k = key.clone();
    let sub = cx.state.store.read(move |s| s.get_subscription(&k)).await?;
    let extensions = &cx.state.extensions;
    if enable {
        let k = key.clone();
        cx.state
            .store
            .write(move |s| s.set_subscription_status(&k, SubscriptionStatus::Active, None))
            .await?;
        if extensions.is_running(&key.extension).await {
            // Failure marks it `error` with the extension's message.
            extensions.deliver(&sub).await;
        }
    } else {
        let k = key.clone();
        cx.state
            .store
            .write(move |s| s.set_subscription_status(&k, SubscriptionStatus::Disabled, None))
            .await?;
        extensions.unsubscribe(&key).await;
    }
    Ok(no_content())
}

/// `DELETE P/subscriptions/{ext}/{sub}`.
pub async fn delete(cx: Cx) -> Result<Response, ApiError> {
    let key = key(&cx)?;
    let k = key.clone();
    cx.state
        .store
        .write(move |s| s.delete_subscription(&k))
        .await?;
    cx.state.extensions.unsubscribe(&key).await;
    Ok(no_content())
}
