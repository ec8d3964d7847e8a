//! Creating a subscription: its settings are checked against what the extension documents, and
//! a running extension must accept it before it is stored.

use super::{ServiceError, ServiceResult};
use crate::extensions::{CallError, Extensions};
use crate::store::{StoreHandle, SubscriptionKey};
use gofer_core::api::{CreateSubscriptionRequest, Subscription};
use gofer_core::enums::{ExtensionStatus, SubscriptionStatus};
use gofer_core::id::{self, IdKind};
use gofer_core::validate::{RefKind, parse_reference};

/// Validates `req`, delivers it to the extension when it runs (nothing is stored when it
/// refuses), and stores it `active`.
pub async fn create(
    store: &StoreHandle,
    extensions: &Extensions,
    namespace: &str,
    pipeline: &str,
    req: CreateSubscriptionRequest,
) -> ServiceResult<Subscription> {
    if !IdKind::Entity.accepts(&req.subscription_id) {
        return Err(ServiceError::Invalid(format!(
            "subscription_id: {} (got '{}')",
            IdKind::Entity.rule(),
            req.subscription_id.escape_debug()
        )));
    }
    gofer_core::validate::check_variable_sizes("settings", req.settings.iter())?;
    for (k, v) in req.settings.iter() {
        if let Some(problem) = id::variable_key_problem(k) {
            return Err(ServiceError::Invalid(format!("settings.{k}: {problem}")));
        }
        if let Some(r) = parse_reference(v)
            && matches!(r.kind, RefKind::RunObject | RefKind::TaskResult)
        {
            return Err(ServiceError::Invalid(format!(
                "settings.{k}: {} references are not allowed in subscription settings",
                r.kind.name()
            )));
        }
    }
    let (ns2, p2) = (namespace.to_owned(), pipeline.to_owned());
    store.read(move |s| s.get_pipeline(&ns2, &p2)).await?;
    if !IdKind::Entity.accepts(&req.extension_id) {
        return Err(ServiceError::NotFound(format!(
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
        return Err(ServiceError::Conflict(format!(
            "extension '{}' is disabled; enable it first (gofer extension enable {})",
            req.extension_id, req.extension_id
        )));
    }
    let sub = Subscription {
        namespace_id: namespace.to_owned(),
        pipeline_id: pipeline.to_owned(),
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
        return Err(ServiceError::Conflict(format!(
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
                return Err(ServiceError::Invalid(format!(
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
            return Err(ServiceError::Invalid(format!(
                "settings.{}: required by extension '{}'",
                param.key, sub.extension_id
            )));
        }
    }
    if extensions.is_running(&sub.extension_id).await {
        let settings = extensions
            .resolve_settings(&sub)
            .await
            .map_err(ServiceError::Invalid)?;
        match extensions.subscribe(&sub, settings).await {
            Ok(()) => {}
            // Whatever 4xx the extension chose, a refused subscription is a 400.
            Err(CallError::Rejected { message, .. }) => {
                return Err(ServiceError::Invalid(format!(
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
    Ok(sub)
}

/// Default and largest `max` of a backfill (docs/extensions.md#backfilling-a-schedule).
pub const BACKFILL_DEFAULT_MAX: u64 = 100;
pub use gofer_core::api::BACKFILL_LIMIT;

/// docs/extensions.md#backfilling-a-schedule: asks the subscription's extension for its
/// scheduled instants between `from` and `to`, refuses more than `max`, and (unless a dry run)
/// starts one run per instant, in order, through the normal queue and overlap policy, with the
/// variables the extension gives each instant. A start the overlap policy skips is reported
/// for its instant; any other failure stops the backfill there.
pub async fn backfill(
    store: &StoreHandle,
    extensions: &Extensions,
    engine: &crate::engine::Engine,
    key: SubscriptionKey,
    request: gofer_core::api::BackfillRequest,
    starter: super::runs::Starter,
    run_token: impl Fn() -> crate::store::RunTokenSeed,
) -> ServiceResult<gofer_core::api::BackfillResponse> {
    use gofer_core::api::{BackfillResponse, BackfilledInstant, ExtensionScheduleRequest};
    let from =
        gofer_core::cron::parse_instant("from", &request.from).map_err(ServiceError::Invalid)?;
    let to = gofer_core::cron::parse_instant("to", &request.to).map_err(ServiceError::Invalid)?;
    if to < from {
        return Err(ServiceError::Invalid(format!(
            "to: {to} is before from ({from})"
        )));
    }
    let max = request.max.unwrap_or(BACKFILL_DEFAULT_MAX);
    if max == 0 || max > BACKFILL_LIMIT {
        return Err(ServiceError::Invalid(format!(
            "max: must be between 1 and {BACKFILL_LIMIT} (got {max})"
        )));
    }
    let key2 = key.clone();
    let subscription = store.read(move |s| s.get_subscription(&key2)).await?;
    if subscription.status != SubscriptionStatus::Active {
        return Err(ServiceError::Conflict(format!(
            "subscription '{}' is {}: enable it before backfilling",
            key.subscription, subscription.status
        )));
    }
    let instants = extensions
        .schedule(
            &key.extension,
            &ExtensionScheduleRequest {
                namespace_id: key.namespace.clone(),
                pipeline_id: key.pipeline.clone(),
                pipeline_subscription_id: key.subscription.clone(),
                from: from.to_string(),
                to: to.to_string(),
                // One more than allowed, to tell "too many" from "exactly max".
                limit: max + 1,
            },
        )
        .await?;
    if instants.len() as u64 > max {
        return Err(ServiceError::Invalid(format!(
            "max: the range holds more than {max} scheduled instants; narrow --from/--to or \
             raise --max"
        )));
    }
    let mut done = Vec::with_capacity(instants.len());
    for instant in instants {
        if request.dry_run {
            done.push(BackfilledInstant {
                at: instant.at,
                run_id: None,
                skipped: None,
            });
            continue;
        }
        let (who, token) = (starter.clone(), run_token());
        let run_request = gofer_core::api::StartRunRequest {
            variables: instant.variables,
            ..Default::default()
        };
        match super::runs::start(
            store,
            engine,
            &key.namespace,
            &key.pipeline,
            run_request,
            who,
            token,
        )
        .await
        {
            Ok(run) => done.push(BackfilledInstant {
                at: instant.at,
                run_id: Some(run.run_id),
                skipped: None,
            }),
            Err(ServiceError::Store(crate::store::StoreError::Skipped(message))) => {
                done.push(BackfilledInstant {
                    at: instant.at,
                    run_id: None,
                    skipped: Some(message),
                })
            }
            Err(e) => return Err(e),
        }
    }
    Ok(BackfillResponse {
        dry_run: request.dry_run,
        instants: done,
    })
}
