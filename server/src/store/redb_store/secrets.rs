//! Secrets (sealed values; the store never sees plaintext).

use super::*;

impl RedbStore {
    pub(super) fn secret_check(&self, candidate: Vec<u8>) -> StoreResult<Vec<u8>> {
        self.write(|tx| {
            let mut meta = tx.txn.open_table(META).or_internal()?;
            if let Some(stored) = get::<_, String>(&meta, META_SECRET_CHECK, "secret check")? {
                return unhex("secret check", &stored);
            }
            meta.insert(
                META_SECRET_CHECK,
                encode(&hex::encode(&candidate))?.as_slice(),
            )
            .or_internal()?;
            Ok(candidate)
        })
    }

    pub(super) fn put_secret(
        &self,
        scope: &SecretScope,
        secret: Secret,
        ciphertext: Vec<u8>,
        force: bool,
    ) -> StoreResult<Secret> {
        let stored = StoredSecret {
            secret,
            ciphertext: hex::encode(&ciphertext),
        };
        let value = encode(&stored)?;
        let key = stored.secret.key.as_str();
        self.write(|tx| {
            let exists = match scope {
                SecretScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    tx.require_pipeline(namespace, pipeline)?;
                    let mut table = tx.txn.open_table(PIPELINE_SECRETS).or_internal()?;
                    let k = (namespace.as_str(), pipeline.as_str(), key);
                    let exists = table.get(k).or_internal()?.is_some();
                    if !exists || force {
                        table.insert(k, value.as_slice()).or_internal()?;
                    }
                    exists
                }
                SecretScope::Global => {
                    let mut table = tx.txn.open_table(GLOBAL_SECRETS).or_internal()?;
                    let exists = table.get(key).or_internal()?.is_some();
                    if !exists || force {
                        table.insert(key, value.as_slice()).or_internal()?;
                    }
                    exists
                }
            };
            if exists && !force {
                return Err(StoreError::Conflict(format!(
                    "secret '{key}' already exists; use force to replace it"
                )));
            }
            Ok(stored.secret.clone())
        })
    }

    pub(super) fn get_secret(
        &self,
        scope: &SecretScope,
        key: &str,
    ) -> StoreResult<(Secret, Vec<u8>)> {
        self.read(|txn| {
            let stored: Option<StoredSecret> = match scope {
                SecretScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    read_pipeline(txn, namespace, pipeline)?;
                    let table = txn.open_table(PIPELINE_SECRETS).or_internal()?;
                    get(
                        &table,
                        (namespace.as_str(), pipeline.as_str(), key),
                        "secret",
                    )?
                }
                SecretScope::Global => {
                    let table = txn.open_table(GLOBAL_SECRETS).or_internal()?;
                    get(&table, key, "secret")?
                }
            };
            let stored = stored.ok_or_else(|| secret_not_found(key))?;
            let ciphertext = unhex("secret", &stored.ciphertext)?;
            Ok((stored.secret, ciphertext))
        })
    }

    pub(super) fn list_secrets(&self, scope: &SecretScope, page: Page) -> StoreResult<Vec<Secret>> {
        self.read(|txn| {
            let stored: Vec<StoredSecret> = match scope {
                SecretScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    read_pipeline(txn, namespace, pipeline)?;
                    let table = txn.open_table(PIPELINE_SECRETS).or_internal()?;
                    let (ns, p) = (namespace.as_str(), pipeline.as_str());
                    let p_upper = upper(p);
                    let range = table
                        .range((ns, p, "")..(ns, p_upper.as_str(), ""))
                        .or_internal()?;
                    page_of(range, WHOLE, false, "secret")?
                }
                SecretScope::Global => {
                    let table = txn.open_table(GLOBAL_SECRETS).or_internal()?;
                    page_of(table.iter().or_internal()?, WHOLE, false, "secret")?
                }
            };
            let mut secrets: Vec<Secret> = stored.into_iter().map(|s| s.secret).collect();
            secrets.sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));
            Ok(page_vec(secrets, page))
        })
    }

    pub(super) fn delete_secret(&self, scope: &SecretScope, key: &str) -> StoreResult<()> {
        self.write(|tx| {
            let removed = match scope {
                SecretScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    tx.require_pipeline(namespace, pipeline)?;
                    let mut table = tx.txn.open_table(PIPELINE_SECRETS).or_internal()?;
                    table
                        .remove((namespace.as_str(), pipeline.as_str(), key))
                        .or_internal()?
                        .is_some()
                }
                SecretScope::Global => {
                    let mut table = tx.txn.open_table(GLOBAL_SECRETS).or_internal()?;
                    table.remove(key).or_internal()?.is_some()
                }
            };
            if removed {
                Ok(())
            } else {
                Err(secret_not_found(key))
            }
        })
    }
}
