//! Extensions and their subscriptions.

use super::*;

impl RedbStore {
    pub(super) fn install_extension(&self, extension: &Extension) -> StoreResult<()> {
        let registration = &extension.registration;
        let id = registration.extension_id.as_str();
        self.write_auth(|tx| {
            let exists = tx
                .txn
                .open_table(EXTENSIONS)
                .or_internal()?
                .get(id)
                .or_internal()?
                .is_some();
            if exists {
                return Err(StoreError::Conflict(format!(
                    "extension '{id}' is already installed"
                )));
            }
            tx.require_roles(&registration.additional_roles)
                .map_err(|e| match e {
                    StoreError::Invalid(m) => {
                        StoreError::Invalid(m.replacen("roles:", "additional_roles:", 1))
                    }
                    other => other,
                })?;
            let role = gofer_core::api::extension_role(id);
            tx.put_role(&role)?;
            tx.emit(EventKind::CreatedRole { role_id: role.id })?;
            tx.put_extension(&StoredExtension {
                extension: extension.clone(),
                token_id: None,
            })?;
            tx.emit(EventKind::InstalledExtension {
                id: id.to_string(),
                image: registration.image.clone(),
            })?;
            Ok(())
        })
    }

    pub(super) fn get_extension(&self, id: &str) -> StoreResult<StoredExtension> {
        self.read(|txn| read_extension(txn, id))
    }

    pub(super) fn list_extensions(&self, page: Page) -> StoreResult<Vec<StoredExtension>> {
        self.read(|txn| {
            let table = txn.open_table(EXTENSIONS).or_internal()?;
            let all: Vec<StoredExtension> = page_of(
                table.range::<&str>(..).or_internal()?,
                WHOLE,
                false,
                "extension",
            )?;
            Ok(page_vec(all, page))
        })
    }

    pub(super) fn set_extension_runtime(&self, id: &str, runtime: &Extension) -> StoreResult<()> {
        self.write(|tx| {
            let mut stored = tx.require_extension(id)?;
            let ext = &mut stored.extension;
            ext.url = runtime.url.clone();
            ext.started = runtime.started;
            ext.state = runtime.state;
            ext.documentation = runtime.documentation.clone();
            ext.restarts = runtime.restarts;
            ext.retry_at = runtime.retry_at;
            ext.last_error = runtime.last_error.clone();
            tx.put_extension(&stored)
        })
    }

    pub(super) fn set_extension_status(
        &self,
        id: &str,
        enabled: bool,
        now: u64,
    ) -> StoreResult<bool> {
        use gofer_core::enums::ExtensionStatus;
        self.write_auth(|tx| {
            let mut stored = tx.require_extension(id)?;
            let status = if enabled {
                ExtensionStatus::Enabled
            } else {
                ExtensionStatus::Disabled
            };
            let registration = &mut stored.extension.registration;
            if registration.status == status {
                return Ok(false);
            }
            registration.status = status;
            registration.modified = now;
            let image = registration.image.clone();
            if !enabled && let Some(token_id) = &stored.token_id {
                // A disabled extension's token answers 401 (docs/extensions.md#install-enable-disable-uninstall, docs/extensions.md#the-api-every-extension-serves).
                let found: Option<StoredToken> = {
                    let tokens = tx.txn.open_table(TOKENS).or_internal()?;
                    get(&tokens, token_id.as_str(), "token")?
                };
                if let Some(mut token) = found {
                    token.token.disabled = true;
                    tx.put_token(&token.token, &token.hash)?;
                }
            }
            tx.put_extension(&stored)?;
            let id = id.to_string();
            tx.emit(if enabled {
                EventKind::EnabledExtension { id, image }
            } else {
                EventKind::DisabledExtension { id, image }
            })?;
            Ok(true)
        })
    }

    pub(super) fn replace_extension_token(
        &self,
        id: &str,
        token: &Token,
        hash: &str,
    ) -> StoreResult<()> {
        self.write_auth(|tx| {
            let mut stored = tx.require_extension(id)?;
            if let Some(old) = stored.token_id.take() {
                tx.remove_token(&old)?;
            }
            tx.put_token(token, hash)?;
            stored.token_id = Some(token.id.clone());
            tx.put_extension(&stored)
        })
    }

    pub(super) fn uninstall_extension(&self, id: &str) -> StoreResult<StoredExtension> {
        self.write_auth(|tx| {
            let stored = tx.require_extension(id)?;
            let id_upper = upper(id);
            tx.txn
                .open_table(EXTENSION_OBJECTS)
                .or_internal()?
                .retain_in((id, "")..(id_upper.as_str(), ""), |_, _| false)
                .or_internal()?;
            for key in tx.extension_subscription_keys(id)? {
                tx.remove_subscription(&key)?;
            }
            if let Some(token_id) = &stored.token_id {
                tx.remove_token(token_id)?;
            }
            tx.remove_role(&gofer_core::api::extension_role_id(id))?;
            tx.txn
                .open_table(EXTENSIONS)
                .or_internal()?
                .remove(id)
                .or_internal()?;
            tx.emit(EventKind::UninstalledExtension {
                id: id.to_string(),
                image: stored.extension.registration.image.clone(),
            })?;
            Ok(stored)
        })
    }

    pub(super) fn create_subscription(
        &self,
        sub: &gofer_core::api::Subscription,
    ) -> StoreResult<()> {
        let k = SubscriptionKey::of(sub);
        self.write(|tx| {
            tx.require_pipeline(&k.namespace, &k.pipeline)?;
            tx.require_extension(&k.extension)?;
            let key = subscription_row(&k);
            let mut table = tx.txn.open_table(SUBSCRIPTIONS).or_internal()?;
            if table.get(key).or_internal()?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "subscription '{}' of pipeline '{}' to extension '{}' already exists",
                    k.subscription, k.pipeline, k.extension
                )));
            }
            table.insert(key, encode(sub)?.as_slice()).or_internal()?;
            tx.txn
                .open_table(EXTENSION_SUBSCRIPTIONS)
                .or_internal()?
                .insert(subscription_index_row(&k), ())
                .or_internal()?;
            tx.emit(EventKind::PipelineExtensionSubscriptionRegistered {
                namespace_id: k.namespace.clone(),
                pipeline_id: k.pipeline.clone(),
                extension_id: k.extension.clone(),
                subscription_id: k.subscription.clone(),
            })?;
            Ok(())
        })
    }

    pub(super) fn get_subscription(
        &self,
        k: &SubscriptionKey,
    ) -> StoreResult<gofer_core::api::Subscription> {
        self.read(|txn| {
            read_pipeline(txn, &k.namespace, &k.pipeline)?;
            let table = txn.open_table(SUBSCRIPTIONS).or_internal()?;
            get(&table, subscription_row(k), "subscription")?
                .ok_or_else(|| subscription_not_found(k))
        })
    }

    pub(super) fn list_subscriptions(
        &self,
        namespace: &str,
        pipeline: &str,
        page: Page,
    ) -> StoreResult<Vec<gofer_core::api::Subscription>> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let table = txn.open_table(SUBSCRIPTIONS).or_internal()?;
            let p_upper = upper(pipeline);
            let range = table
                .range((namespace, pipeline, "", "")..(namespace, p_upper.as_str(), "", ""))
                .or_internal()?;
            page_of(range, page, page.reverse, "subscription")
        })
    }

    pub(super) fn list_extension_subscriptions(
        &self,
        extension: &str,
        page: Page,
    ) -> StoreResult<Vec<gofer_core::api::Subscription>> {
        self.read(|txn| {
            read_extension(txn, extension)?;
            let index = txn.open_table(EXTENSION_SUBSCRIPTIONS).or_internal()?;
            let table = txn.open_table(SUBSCRIPTIONS).or_internal()?;
            let ext_upper = upper(extension);
            let mut out = Vec::new();
            for entry in index
                .range((extension, "", "", "")..(ext_upper.as_str(), "", "", ""))
                .or_internal()?
            {
                let (k, _) = entry.or_internal()?;
                let (ext, ns, p, sub) = k.value();
                if let Some(s) = get(&table, (ns, p, ext, sub), "subscription")? {
                    out.push(s);
                }
            }
            Ok(page_vec(out, page))
        })
    }

    pub(super) fn set_subscription_status(
        &self,
        k: &SubscriptionKey,
        status: gofer_core::enums::SubscriptionStatus,
        reason: Option<
            gofer_core::api::StatusReason<gofer_core::enums::SubscriptionStatusReasonKind>,
        >,
    ) -> StoreResult<()> {
        self.write(|tx| {
            let key = subscription_row(k);
            let mut table = tx.txn.open_table(SUBSCRIPTIONS).or_internal()?;
            let mut sub: gofer_core::api::Subscription =
                get(&table, key, "subscription")?.ok_or_else(|| subscription_not_found(k))?;
            sub.status = status;
            sub.status_reason = reason;
            table.insert(key, encode(&sub)?.as_slice()).or_internal()?;
            Ok(())
        })
    }

    pub(super) fn record_subscription_fire(
        &self,
        k: &SubscriptionKey,
        last_fired: u64,
        last_error: Option<String>,
    ) -> StoreResult<bool> {
        use gofer_core::enums::{SubscriptionStatus, SubscriptionStatusReasonKind};
        self.write(|tx| {
            let key = subscription_row(k);
            let mut table = tx.txn.open_table(SUBSCRIPTIONS).or_internal()?;
            let Some(mut sub): Option<gofer_core::api::Subscription> =
                get(&table, key, "subscription")?
            else {
                return Ok(false);
            };
            let before = sub.clone();
            sub.last_fired = last_fired;
            sub.last_error = last_error.clone();
            // The status stays `active` (the extension holds the subscription, and runs it
            // starts need an active one); the reason says the trigger is failing.
            if sub.status == SubscriptionStatus::Active {
                sub.status_reason =
                    last_error
                        .as_ref()
                        .map(|error| gofer_core::api::StatusReason {
                            reason: SubscriptionStatusReasonKind::Failed,
                            description: format!("the extension could not start a run: {error}"),
                        });
            }
            if sub == before {
                return Ok(false);
            }
            table.insert(key, encode(&sub)?.as_slice()).or_internal()?;
            Ok(true)
        })
    }

    pub(super) fn delete_subscription(&self, k: &SubscriptionKey) -> StoreResult<()> {
        self.write(|tx| {
            tx.require_pipeline(&k.namespace, &k.pipeline)?;
            if tx.remove_subscription(k)? {
                Ok(())
            } else {
                Err(subscription_not_found(k))
            }
        })
    }

    pub(super) fn has_active_subscription(
        &self,
        namespace: &str,
        pipeline: &str,
        extension: &str,
    ) -> StoreResult<bool> {
        self.read(|txn| {
            let table = txn.open_table(SUBSCRIPTIONS).or_internal()?;
            let ext_upper = upper(extension);
            for entry in table
                .range(
                    (namespace, pipeline, extension, "")
                        ..(namespace, pipeline, ext_upper.as_str(), ""),
                )
                .or_internal()?
            {
                let (k, v) = entry.or_internal()?;
                let decoded =
                    with_key(decode("subscription", v.value()), "subscription", k.value());
                let Some(sub) = skip_unreadable::<gofer_core::api::Subscription>(decoded)? else {
                    continue;
                };
                if sub.status == gofer_core::enums::SubscriptionStatus::Active {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }
}
