//! Pipeline subscriptions to extensions (docs/extensions.md#subscriptions; docs/api.md#secrets-and-subscriptions rows 54–58). Delivery to the
//! extension is [`crate::extensions`]'s.

use crate::http::Cx;
use crate::http::reply::{ApiError, created, no_content, ok};
use crate::store::SubscriptionKey;
use gofer_core::api::{
    CreateSubscriptionRequest, SubscriptionResponse, SubscriptionsResponse,
    UpdateSubscriptionRequest,
};
use gofer_core::enums::SubscriptionStatus;
use gofer_core::id::IdKind;
use warp::reply::Response;

/// Default page size of subscription lists (docs/api.md#common-rules).
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

/// `POST P/subscriptions` (docs/extensions.md#subscriptions): validated, delivered when the extension runs (nothing is
/// stored when it refuses), stored `active` — `service::subscriptions::create`.
pub async fn create(mut cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let req: CreateSubscriptionRequest = cx.json().await?;
    let state = &cx.state;
    let subscription =
        crate::service::subscriptions::create(&state.store, &state.extensions, &ns, &p, req)
            .await?;
    Ok(created(&SubscriptionResponse { subscription }))
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

/// `POST P/subscriptions/{ext}/{sub}/backfill` (docs/extensions.md#backfilling-a-schedule):
/// one run per scheduled instant in the range, started as the caller.
pub async fn backfill(mut cx: Cx) -> Result<Response, ApiError> {
    let key = key(&cx)?;
    let request: gofer_core::api::BackfillRequest = cx.json().await?;
    let starter = super::run_control::starter(&cx);
    let state = cx.state.clone();
    let (secret, expiry) = (
        state.config.secret_store.encryption_key.clone(),
        state.config.api.run_token_expiry,
    );
    let answer = crate::service::subscriptions::backfill(
        &state.store,
        &state.extensions,
        &state.engine,
        key,
        request,
        starter,
        || crate::engine::new_run_token(secret.as_bytes(), expiry),
    )
    .await?;
    Ok(ok(&answer))
}
