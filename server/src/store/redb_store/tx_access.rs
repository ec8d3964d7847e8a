//! A write transaction's rows of tokens, roles, extensions, subscriptions and run tokens.

use super::*;

impl Tx<'_> {
    /// Stores a token and its hash index entry.
    pub(super) fn put_token(&self, token: &Token, hash: &str) -> StoreResult<()> {
        let stored = StoredToken {
            token: token.clone(),
            hash: hash.to_string(),
        };
        self.txn
            .open_table(TOKENS)
            .or_internal()?
            .insert(token.id.as_str(), encode(&stored)?.as_slice())
            .or_internal()?;
        self.txn
            .open_table(TOKEN_HASHES)
            .or_internal()?
            .insert(hash, token.id.as_str())
            .or_internal()?;
        Ok(())
    }

    /// Deletes a token and its hash index entry; `false` when it did not exist.
    pub(super) fn remove_token(&self, id: &str) -> StoreResult<bool> {
        let stored: Option<StoredToken> = {
            let mut tokens = self.txn.open_table(TOKENS).or_internal()?;
            let removed = tokens.remove(id).or_internal()?;
            match removed {
                Some(guard) => Some(decode("token", guard.value())?),
                None => None,
            }
        };
        let Some(stored) = stored else {
            return Ok(false);
        };
        self.txn
            .open_table(TOKEN_HASHES)
            .or_internal()?
            .remove(stored.hash.as_str())
            .or_internal()?;
        Ok(true)
    }

    pub(super) fn put_role(&self, role: &Role) -> StoreResult<()> {
        self.txn
            .open_table(ROLES)
            .or_internal()?
            .insert(role.id.as_str(), encode(role)?.as_slice())
            .or_internal()?;
        Ok(())
    }

    /// Deletes a role and emits `deleted_role`; `false` when it did not exist.
    /// Deletes a role and takes it off every token that lists it, so that a role created later
    /// under the same id gives old tokens nothing.
    pub(super) fn remove_role(&self, id: &str) -> StoreResult<bool> {
        let existed = self
            .txn
            .open_table(ROLES)
            .or_internal()?
            .remove(id)
            .or_internal()?
            .is_some();
        let mut tokens = self.txn.open_table(TOKENS).or_internal()?;
        let mut holders = Vec::new();
        for row in tokens.iter().or_internal()? {
            let (key, value) = row.or_internal()?;
            // An unreadable token cannot authenticate anyone; the doctor deals with it.
            if let Ok(stored) = decode::<StoredToken>("token", value.value())
                && stored.token.roles.iter().any(|r| r == id)
            {
                holders.push((key.value().to_string(), stored));
            }
        }
        for (key, mut stored) in holders {
            stored.token.roles.retain(|r| r != id);
            tokens
                .insert(key.as_str(), encode(&stored)?.as_slice())
                .or_internal()?;
        }
        if existed {
            self.emit(EventKind::DeletedRole {
                role_id: id.to_string(),
            })?;
        }
        Ok(existed)
    }

    /// Deletes a subscription row and its index entry and emits
    /// `pipeline_extension_subscription_unregistered`; `false` when it did not exist.
    pub(super) fn remove_subscription(&self, k: &SubscriptionKey) -> StoreResult<bool> {
        let existed = self
            .txn
            .open_table(SUBSCRIPTIONS)
            .or_internal()?
            .remove(subscription_row(k))
            .or_internal()?
            .is_some();
        self.txn
            .open_table(EXTENSION_SUBSCRIPTIONS)
            .or_internal()?
            .remove(subscription_index_row(k))
            .or_internal()?;
        if existed {
            self.emit(EventKind::PipelineExtensionSubscriptionUnregistered {
                namespace_id: k.namespace.clone(),
                pipeline_id: k.pipeline.clone(),
                extension_id: k.extension.clone(),
                subscription_id: k.subscription.clone(),
            })?;
        }
        Ok(existed)
    }

    /// The keys of a pipeline's subscriptions.
    pub(super) fn pipeline_subscription_keys(
        &self,
        ns: &str,
        p: &str,
    ) -> StoreResult<Vec<SubscriptionKey>> {
        let table = self.txn.open_table(SUBSCRIPTIONS).or_internal()?;
        let p_upper = upper(p);
        let range = table
            .range((ns, p, "", "")..(ns, p_upper.as_str(), "", ""))
            .or_internal()?;
        subscription_keys(range, |(ns, p, ext, sub)| (ns, p, ext, sub))
    }

    /// The keys of an extension's subscriptions.
    pub(super) fn extension_subscription_keys(
        &self,
        ext: &str,
    ) -> StoreResult<Vec<SubscriptionKey>> {
        let table = self.txn.open_table(EXTENSION_SUBSCRIPTIONS).or_internal()?;
        let ext_upper = upper(ext);
        let range = table
            .range((ext, "", "", "")..(ext_upper.as_str(), "", "", ""))
            .or_internal()?;
        subscription_keys(range, |(ext, ns, p, sub)| (ns, p, ext, sub))
    }

    /// An existing extension, or `NotFound` naming it.
    pub(super) fn require_extension(&self, id: &str) -> StoreResult<StoredExtension> {
        let table = self.txn.open_table(EXTENSIONS).or_internal()?;
        get(&table, id, "extension")?.ok_or_else(|| extension_not_found(id))
    }

    pub(super) fn put_extension(&self, stored: &StoredExtension) -> StoreResult<()> {
        self.txn
            .open_table(EXTENSIONS)
            .or_internal()?
            .insert(
                stored.extension.registration.extension_id.as_str(),
                encode(stored)?.as_slice(),
            )
            .or_internal()?;
        Ok(())
    }

    /// Every role id in `roles` must exist.
    pub(super) fn require_roles(&self, roles: &[String]) -> StoreResult<()> {
        let table = self.txn.open_table(ROLES).or_internal()?;
        for id in roles {
            if table.get(id.as_str()).or_internal()?.is_none() {
                return Err(StoreError::Invalid(format!("roles: unknown role '{id}'")));
            }
        }
        Ok(())
    }

    /// See `Store::revoke_run_token`.
    pub(super) fn revoke_run_token(&self, ns: &str, p: &str, run_id: u64) -> StoreResult<bool> {
        let token_id = {
            let mut run_tokens = self.txn.open_table(RUN_TOKENS).or_internal()?;
            let removed = run_tokens.remove((ns, p, run_id)).or_internal()?;
            removed.map(|g| g.value().to_string())
        };
        let Some(token_id) = token_id else {
            return Ok(false);
        };
        self.remove_token(&token_id)?;
        self.remove_role(&gofer_core::api::run_role_id(ns, p, run_id))?;
        Ok(true)
    }

    /// Creates the run's role and token (docs/auth.md#run-tokens) and emits `created_role`.
    pub(super) fn create_run_token(
        &self,
        run: &Run,
        seed: &RunTokenSeed,
        now: u64,
    ) -> StoreResult<()> {
        let (ns, p, run_id) = (&run.namespace_id, &run.pipeline_id, run.run_id);
        let role = gofer_core::api::run_role(ns, p, run_id);
        self.put_role(&role)?;
        self.emit(EventKind::CreatedRole {
            role_id: role.id.clone(),
        })?;
        let token = Token {
            id: seed.id.clone(),
            created: now,
            metadata: [
                ("system_generated_run_token", "true".to_string()),
                ("namespace", ns.clone()),
                ("pipeline", p.clone()),
                ("run", run_id.to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            expires: seed.expires,
            disabled: false,
            user: "system_generated_run_token".into(),
            roles: vec![role.id],
        };
        self.put_token(&token, &seed.hash)?;
        self.txn
            .open_table(RUN_TOKENS)
            .or_internal()?
            .insert((ns.as_str(), p.as_str(), run_id), seed.id.as_str())
            .or_internal()?;
        Ok(())
    }
}
