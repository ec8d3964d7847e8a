//! Objects of every scope, and run object expiry.

use super::*;

impl RedbStore {
    pub(super) fn put_object(
        &self,
        scope: &ObjectScope,
        key: &str,
        now: u64,
        force: bool,
        limit: u64,
    ) -> StoreResult<PutObject> {
        let object = Object {
            key: key.to_string(),
            created: now,
        };
        let value = encode(&object)?;
        self.write(|tx| {
            let mut evicted = Vec::new();
            match scope {
                ObjectScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    let (ns, p) = (namespace.as_str(), pipeline.as_str());
                    tx.require_pipeline(ns, p)?;
                    let mut table = tx.txn.open_table(PIPELINE_OBJECTS).or_internal()?;
                    let exists = table.get((ns, p, key)).or_internal()?.is_some();
                    if exists && !force {
                        return Err(object_exists(key));
                    }
                    if !exists && limit > 0 {
                        let p_upper = upper(p);
                        let range = table
                            .range((ns, p, "")..(ns, p_upper.as_str(), ""))
                            .or_internal()?;
                        let mut all: Vec<Object> = page_of(range, WHOLE, false, "object")?;
                        let count = all.len() as u64;
                        if count >= limit {
                            all.sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));
                            let excess = usize::try_from(count - limit + 1).unwrap_or(usize::MAX);
                            for old in all.into_iter().take(excess) {
                                table.remove((ns, p, old.key.as_str())).or_internal()?;
                                evicted.push(old.key);
                            }
                        }
                    }
                    table.insert((ns, p, key), value.as_slice()).or_internal()?;
                }
                ObjectScope::Extension { extension } => {
                    tx.require_extension(extension)?;
                    let mut table = tx.txn.open_table(EXTENSION_OBJECTS).or_internal()?;
                    let exists = table
                        .get((extension.as_str(), key))
                        .or_internal()?
                        .is_some();
                    if exists && !force {
                        return Err(object_exists(key));
                    }
                    table
                        .insert((extension.as_str(), key), value.as_slice())
                        .or_internal()?;
                }
                ObjectScope::Run {
                    namespace,
                    pipeline,
                    run_id,
                } => {
                    let (ns, p) = (namespace.as_str(), pipeline.as_str());
                    let run = tx.require_run(ns, p, *run_id)?;
                    if run.run.store_objects_expired {
                        return Err(StoreError::Conflict(format!(
                            "objects for run {run_id} have expired"
                        )));
                    }
                    let mut table = tx.txn.open_table(RUN_OBJECTS).or_internal()?;
                    let exists = table.get((ns, p, *run_id, key)).or_internal()?.is_some();
                    if exists && !force {
                        return Err(object_exists(key));
                    }
                    table
                        .insert((ns, p, *run_id, key), value.as_slice())
                        .or_internal()?;
                }
            }
            Ok(PutObject {
                object: object.clone(),
                evicted,
            })
        })
    }

    pub(super) fn get_object(&self, scope: &ObjectScope, key: &str) -> StoreResult<Object> {
        self.read(|txn| {
            let object: Option<Object> = match scope {
                ObjectScope::Extension { extension } => {
                    read_extension(txn, extension)?;
                    let table = txn.open_table(EXTENSION_OBJECTS).or_internal()?;
                    get(&table, (extension.as_str(), key), "object")?
                }
                ObjectScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    read_pipeline(txn, namespace, pipeline)?;
                    let table = txn.open_table(PIPELINE_OBJECTS).or_internal()?;
                    get(
                        &table,
                        (namespace.as_str(), pipeline.as_str(), key),
                        "object",
                    )?
                }
                ObjectScope::Run {
                    namespace,
                    pipeline,
                    run_id,
                } => {
                    read_pipeline(txn, namespace, pipeline)?;
                    read_run(txn, namespace, pipeline, *run_id)?;
                    let table = txn.open_table(RUN_OBJECTS).or_internal()?;
                    get(
                        &table,
                        (namespace.as_str(), pipeline.as_str(), *run_id, key),
                        "object",
                    )?
                }
            };
            object.ok_or_else(|| StoreError::NotFound(format!("object '{key}' not found")))
        })
    }

    pub(super) fn list_objects(&self, scope: &ObjectScope, page: Page) -> StoreResult<Vec<Object>> {
        self.read(|txn| {
            let mut objects: Vec<Object> = match scope {
                ObjectScope::Extension { extension } => {
                    let id = extension.as_str();
                    read_extension(txn, id)?;
                    let table = txn.open_table(EXTENSION_OBJECTS).or_internal()?;
                    let id_upper = upper(id);
                    let range = table
                        .range((id, "")..(id_upper.as_str(), ""))
                        .or_internal()?;
                    page_of(range, WHOLE, false, "object")?
                }
                ObjectScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    let (ns, p) = (namespace.as_str(), pipeline.as_str());
                    read_pipeline(txn, ns, p)?;
                    let table = txn.open_table(PIPELINE_OBJECTS).or_internal()?;
                    let p_upper = upper(p);
                    let range = table
                        .range((ns, p, "")..(ns, p_upper.as_str(), ""))
                        .or_internal()?;
                    page_of(range, WHOLE, false, "object")?
                }
                ObjectScope::Run {
                    namespace,
                    pipeline,
                    run_id,
                } => {
                    let (ns, p) = (namespace.as_str(), pipeline.as_str());
                    read_pipeline(txn, ns, p)?;
                    read_run(txn, ns, p, *run_id)?;
                    let table = txn.open_table(RUN_OBJECTS).or_internal()?;
                    let p_upper = upper(p);
                    let range = table
                        .range(run_executions(ns, p, &p_upper, *run_id))
                        .or_internal()?;
                    page_of(range, WHOLE, false, "object")?
                }
            };
            objects.sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));
            Ok(page_vec(objects, page))
        })
    }

    pub(super) fn delete_object(&self, scope: &ObjectScope, key: &str) -> StoreResult<()> {
        self.write(|tx| {
            let removed = match scope {
                ObjectScope::Extension { extension } => {
                    tx.require_extension(extension)?;
                    let mut table = tx.txn.open_table(EXTENSION_OBJECTS).or_internal()?;
                    table
                        .remove((extension.as_str(), key))
                        .or_internal()?
                        .is_some()
                }
                ObjectScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    tx.require_pipeline(namespace, pipeline)?;
                    let mut table = tx.txn.open_table(PIPELINE_OBJECTS).or_internal()?;
                    table
                        .remove((namespace.as_str(), pipeline.as_str(), key))
                        .or_internal()?
                        .is_some()
                }
                ObjectScope::Run {
                    namespace,
                    pipeline,
                    run_id,
                } => {
                    tx.require_run(namespace, pipeline, *run_id)?;
                    let mut table = tx.txn.open_table(RUN_OBJECTS).or_internal()?;
                    table
                        .remove((namespace.as_str(), pipeline.as_str(), *run_id, key))
                        .or_internal()?
                        .is_some()
                }
            };
            if removed {
                Ok(())
            } else {
                Err(StoreError::NotFound(format!("object '{key}' not found")))
            }
        })
    }

    pub(super) fn expire_run_objects(
        &self,
        namespace: &str,
        pipeline: &str,
        max_run_id: u64,
    ) -> StoreResult<Vec<u64>> {
        let (ns, p) = (namespace, pipeline);
        // Called for every new run: commit (and fsync) only when there is something to expire.
        let due = self.read(|txn| {
            let index = txn.open_table(RUNS_WITH_OBJECTS).or_internal()?;
            let mut range = index
                .range((ns, p, 0)..=(ns, p, max_run_id))
                .or_internal()?;
            Ok(range.next().is_some())
        })?;
        if !due {
            return Ok(Vec::new());
        }
        // `write_auth`: the expired runs' API tokens are revoked in the same transaction.
        self.write_auth(|tx| {
            let candidates: Vec<u64> = {
                let index = tx.txn.open_table(RUNS_WITH_OBJECTS).or_internal()?;
                index
                    .range((ns, p, 0)..=(ns, p, max_run_id))
                    .or_internal()?
                    .map(|entry| entry.map(|(k, _)| k.value().2).or_internal())
                    .collect::<StoreResult<_>>()?
            };
            let p_upper = upper(p);
            let mut expired = Vec::new();
            for run_id in candidates {
                let mut stored: StoredRun = {
                    let runs = tx.txn.open_table(RUNS).or_internal()?;
                    get(&runs, (ns, p, run_id), "run")?.ok_or_else(|| run_not_found(p, run_id))?
                };
                if stored.run.state != RunState::Complete {
                    continue;
                }
                stored.run.store_objects_expired = true;
                tx.put_run(&stored)?;
                tx.txn
                    .open_table(RUN_OBJECTS)
                    .or_internal()?
                    .retain_in(run_executions(ns, p, &p_upper, run_id), |_, _| false)
                    .or_internal()?;
                // The run's API token goes with its objects (docs/auth.md#run-tokens).
                tx.revoke_run_token(ns, p, run_id)?;
                expired.push(run_id);
            }
            Ok(expired)
        })
    }
}
