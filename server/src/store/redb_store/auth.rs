//! Tokens and roles.

use super::*;

impl RedbStore {
    pub(super) fn auth_generation(&self) -> u64 {
        self.auth_generation.load(Ordering::Acquire)
    }

    pub(super) fn ensure_roles(&self, roles: Vec<Role>) -> StoreResult<()> {
        self.write_auth(|tx| {
            for role in &roles {
                let exists = tx
                    .txn
                    .open_table(ROLES)
                    .or_internal()?
                    .get(role.id.as_str())
                    .or_internal()?
                    .is_some();
                if !exists {
                    tx.put_role(role)?;
                    tx.emit(EventKind::CreatedRole {
                        role_id: role.id.clone(),
                    })?;
                }
            }
            Ok(())
        })
    }

    pub(super) fn bootstrap_token(&self, token: Token, hash: String) -> StoreResult<Token> {
        self.write_auth(|tx| {
            let mut meta = tx.txn.open_table(META).or_internal()?;
            let mut system: System = get(&meta, META_SYSTEM, "system")?.unwrap_or_default();
            if system.bootstrap_token_created {
                return Err(StoreError::Conflict(
                    "bootstrap token already exists".into(),
                ));
            }
            system.bootstrap_token_created = true;
            meta.insert(META_SYSTEM, encode(&system)?.as_slice())
                .or_internal()?;
            drop(meta);
            tx.put_token(&token, &hash)?;
            Ok(token)
        })
    }

    pub(super) fn create_token(&self, token: Token, hash: String) -> StoreResult<Token> {
        self.write_auth(|tx| {
            tx.require_roles(&token.roles)?;
            tx.put_token(&token, &hash)?;
            Ok(token)
        })
    }

    pub(super) fn get_token(&self, id: &str) -> StoreResult<Token> {
        self.read(|txn| {
            let tokens = txn.open_table(TOKENS).or_internal()?;
            get::<_, StoredToken>(&tokens, id, "token")?
                .map(|s| s.token)
                .ok_or_else(|| StoreError::NotFound(format!("token '{id}' not found")))
        })
    }

    pub(super) fn token_by_hash(&self, hash: &str) -> StoreResult<Option<Token>> {
        self.read(|txn| {
            let hashes = txn.open_table(TOKEN_HASHES).or_internal()?;
            let Some(id) = hashes.get(hash).or_internal()? else {
                return Ok(None);
            };
            let tokens = txn.open_table(TOKENS).or_internal()?;
            Ok(get::<_, StoredToken>(&tokens, id.value(), "token")?.map(|s| s.token))
        })
    }

    pub(super) fn list_tokens(&self, page: Page) -> StoreResult<Vec<Token>> {
        self.read(|txn| {
            let tokens = txn.open_table(TOKENS).or_internal()?;
            let stored: Vec<StoredToken> =
                page_of(tokens.iter().or_internal()?, page, false, "token")?;
            Ok(stored.into_iter().map(|s| s.token).collect())
        })
    }

    pub(super) fn set_token_disabled(&self, id: &str, disabled: bool) -> StoreResult<Token> {
        self.write_auth(|tx| {
            let mut tokens = tx.txn.open_table(TOKENS).or_internal()?;
            let mut stored: StoredToken = get(&tokens, id, "token")?
                .ok_or_else(|| StoreError::NotFound(format!("token '{id}' not found")))?;
            stored.token.disabled = disabled;
            tokens
                .insert(id, encode(&stored)?.as_slice())
                .or_internal()?;
            Ok(stored.token)
        })
    }

    pub(super) fn delete_token(&self, id: &str) -> StoreResult<()> {
        self.write_auth(|tx| {
            if tx.remove_token(id)? {
                Ok(())
            } else {
                Err(StoreError::NotFound(format!("token '{id}' not found")))
            }
        })
    }

    pub(super) fn list_roles(&self, page: Page) -> StoreResult<Vec<Role>> {
        self.read(|txn| {
            let roles = txn.open_table(ROLES).or_internal()?;
            page_of(roles.iter().or_internal()?, page, false, "role")
        })
    }

    pub(super) fn get_role(&self, id: &str) -> StoreResult<Role> {
        self.read(|txn| {
            let roles = txn.open_table(ROLES).or_internal()?;
            get(&roles, id, "role")?
                .ok_or_else(|| StoreError::NotFound(format!("role '{id}' not found")))
        })
    }

    pub(super) fn all_roles(&self) -> StoreResult<Vec<Role>> {
        self.read(|txn| {
            let roles = txn.open_table(ROLES).or_internal()?;
            page_of(roles.iter().or_internal()?, WHOLE, false, "role")
        })
    }

    pub(super) fn create_role(&self, role: Role) -> StoreResult<Role> {
        self.write_auth(|tx| {
            let exists = tx
                .txn
                .open_table(ROLES)
                .or_internal()?
                .get(role.id.as_str())
                .or_internal()?
                .is_some();
            if exists {
                return Err(StoreError::Conflict(format!(
                    "role '{}' already exists",
                    role.id
                )));
            }
            tx.put_role(&role)?;
            tx.emit(EventKind::CreatedRole {
                role_id: role.id.clone(),
            })?;
            Ok(role)
        })
    }

    pub(super) fn update_role(
        &self,
        id: &str,
        description: Option<String>,
        permissions: Option<Vec<Permission>>,
    ) -> StoreResult<Role> {
        self.write_auth(|tx| {
            let mut role: Role = {
                let roles = tx.txn.open_table(ROLES).or_internal()?;
                get(&roles, id, "role")?
                    .ok_or_else(|| StoreError::NotFound(format!("role '{id}' not found")))?
            };
            if role.system_role {
                return Err(StoreError::Forbidden(format!(
                    "role '{id}' is a system role and cannot be changed"
                )));
            }
            if let Some(description) = description {
                role.description = description;
            }
            if let Some(permissions) = permissions {
                role.permissions = permissions;
            }
            tx.put_role(&role)?;
            Ok(role)
        })
    }

    pub(super) fn delete_role(&self, id: &str) -> StoreResult<()> {
        self.write_auth(|tx| {
            let role: Role = {
                let roles = tx.txn.open_table(ROLES).or_internal()?;
                get(&roles, id, "role")?
                    .ok_or_else(|| StoreError::NotFound(format!("role '{id}' not found")))?
            };
            if role.system_role {
                return Err(StoreError::Forbidden(format!(
                    "role '{id}' is a system role and cannot be deleted"
                )));
            }
            tx.remove_role(id)?;
            Ok(())
        })
    }
}
