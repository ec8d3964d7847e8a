//! Subscriptions on the extension side: their settings resolved (`global_secret{{…}}` and
//! pipeline references), delivered to a running extension, taken back, delivered again when the
//! extension starts, and each subscription's last firing recorded from the extension's reports.

use super::*;

impl Extensions {
    /// `POST /api/schedule` of a running extension: the instants subscription `sub` is
    /// scheduled for in a range (docs/extensions.md#backfilling-a-schedule). An extension that
    /// has no schedule (404 from it) is a 400 saying so.
    pub async fn schedule(
        &self,
        extension: &str,
        request: &gofer_core::api::ExtensionScheduleRequest,
    ) -> Result<Vec<gofer_core::api::ScheduledInstant>, CallError> {
        let response = self
            .call(extension, reqwest::Method::POST, "schedule", Some(request))
            .await
            .map_err(|e| match e {
                CallError::Rejected { status: 404, .. } => CallError::Rejected {
                    status: 400,
                    message: format!(
                        "extension '{extension}' has no schedule to backfill (cron has one)"
                    ),
                },
                other => other,
            })?;
        let answer: gofer_core::api::ExtensionScheduleResponse =
            response.json().await.map_err(|e| {
                CallError::Failed(format!(
                    "extension '{extension}' sent an unreadable schedule: {e}"
                ))
            })?;
        Ok(answer.instants)
    }

    /// Resolves a subscription's settings (docs/runs.md#variables). `run_object` and `task_result`
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
    pub(super) async fn resolve_global_secret(&self, value: &str) -> Result<String, String> {
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
    /// (docs/extensions.md#launch step 5, docs/extensions.md#subscriptions enabling).
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
    pub(super) async fn deliver_all(&self, id: &str) {
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

    /// Reads the extension's debug info and stores each subscription's last firing it reports
    /// (see `ExtensionFireReports`; an extension that reports none is left alone).
    pub(super) async fn record_fires(&self, id: &str) {
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
}
