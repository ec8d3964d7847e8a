//! `gofer service doctor`: finds every stored record that does not decode and can move such
//! records aside into the `quarantine` table, so one bad record stops costing anything
//! (docs/security.md, "Unreadable records"). It works on a database no server holds open.

use super::*;
use crate::store::UnreadableRecord;
use redb::{TableDefinition, TableHandle};

/// One quarantined record, with its original bytes.
#[derive(Debug, Serialize, Deserialize)]
struct Quarantined {
    table: String,
    key: String,
    error: String,
    quarantined: u64,
    /// The stored value exactly as it was, hex-encoded.
    value_hex: String,
}

/// An unreadable record found by a scan, with its raw key for removal.
struct Found {
    record: UnreadableRecord,
    raw_key: Vec<u8>,
}

/// Tries to decode every value of `table` as `T`.
fn scan_table<K, T>(
    txn: &ReadTransaction,
    table: TableDefinition<K, Bytes>,
    out: &mut Vec<Found>,
) -> StoreResult<()>
where
    K: Key + 'static,
    T: DeserializeOwned,
{
    let name = table.name().to_string();
    let table = match txn.open_table(table) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(StoreError::Internal(format!("redb: {e}"))),
    };
    for entry in table.iter().or_internal()? {
        let (key, value) = entry.or_internal()?;
        if let Err(StoreError::Unreadable(error)) = decode::<T>(&name, value.value()) {
            let key_value = key.value();
            out.push(Found {
                record: UnreadableRecord {
                    table: name.clone(),
                    key: format!("{key_value:?}"),
                    error,
                },
                raw_key: K::as_bytes(&key_value).as_ref().to_vec(),
            });
        }
    }
    Ok(())
}

/// Every table whose values are records, with the type its values decode to.
fn scan_all(txn: &ReadTransaction) -> StoreResult<Vec<Found>> {
    let mut out = Vec::new();
    scan_table::<_, serde_json::Value>(txn, META, &mut out)?;
    scan_table::<_, Namespace>(txn, NAMESPACES, &mut out)?;
    scan_table::<_, Metadata>(txn, PIPELINES, &mut out)?;
    scan_table::<_, PipelineCounters>(txn, PIPELINE_COUNTERS, &mut out)?;
    scan_table::<_, Config>(txn, CONFIGS, &mut out)?;
    scan_table::<_, Deployment>(txn, DEPLOYMENTS, &mut out)?;
    scan_table::<_, Event>(txn, EVENTS, &mut out)?;
    scan_table::<_, StoredRun>(txn, RUNS, &mut out)?;
    scan_table::<_, StoredExecution>(txn, EXECUTIONS, &mut out)?;
    scan_table::<_, StoredToken>(txn, TOKENS, &mut out)?;
    scan_table::<_, Role>(txn, ROLES, &mut out)?;
    scan_table::<_, Object>(txn, PIPELINE_OBJECTS, &mut out)?;
    scan_table::<_, Object>(txn, RUN_OBJECTS, &mut out)?;
    scan_table::<_, Object>(txn, EXTENSION_OBJECTS, &mut out)?;
    scan_table::<_, StoredExtension>(txn, EXTENSIONS, &mut out)?;
    scan_table::<_, gofer_core::api::Subscription>(txn, SUBSCRIPTIONS, &mut out)?;
    scan_table::<_, StoredSecret>(txn, PIPELINE_SECRETS, &mut out)?;
    scan_table::<_, StoredSecret>(txn, GLOBAL_SECRETS, &mut out)?;
    Ok(out)
}

/// Removes the row of `raw_key` from `table` when the table is `name`; returns its bytes.
fn take_raw<K: Key + 'static>(
    txn: &WriteTransaction,
    table: TableDefinition<K, Bytes>,
    name: &str,
    raw_key: &[u8],
) -> StoreResult<Option<Vec<u8>>> {
    if table.name() != name {
        return Ok(None);
    }
    let mut table = txn.open_table(table).or_internal()?;
    let removed = table.remove(K::from_bytes(raw_key)).or_internal()?;
    Ok(Some(
        removed.map(|v| v.value().to_vec()).unwrap_or_default(),
    ))
}

/// Removes the row of `raw_key` from whichever record table is `name`; returns its bytes.
fn take_any(txn: &WriteTransaction, name: &str, raw_key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
    let taken = [
        take_raw(txn, META, name, raw_key)?,
        take_raw(txn, NAMESPACES, name, raw_key)?,
        take_raw(txn, PIPELINES, name, raw_key)?,
        take_raw(txn, PIPELINE_COUNTERS, name, raw_key)?,
        take_raw(txn, CONFIGS, name, raw_key)?,
        take_raw(txn, DEPLOYMENTS, name, raw_key)?,
        take_raw(txn, EVENTS, name, raw_key)?,
        take_raw(txn, RUNS, name, raw_key)?,
        take_raw(txn, EXECUTIONS, name, raw_key)?,
        take_raw(txn, TOKENS, name, raw_key)?,
        take_raw(txn, ROLES, name, raw_key)?,
        take_raw(txn, PIPELINE_OBJECTS, name, raw_key)?,
        take_raw(txn, RUN_OBJECTS, name, raw_key)?,
        take_raw(txn, EXTENSION_OBJECTS, name, raw_key)?,
        take_raw(txn, EXTENSIONS, name, raw_key)?,
        take_raw(txn, SUBSCRIPTIONS, name, raw_key)?,
        take_raw(txn, PIPELINE_SECRETS, name, raw_key)?,
        take_raw(txn, GLOBAL_SECRETS, name, raw_key)?,
    ];
    Ok(taken.into_iter().flatten().next())
}

/// Removes a run's index rows, so no reader follows them to the quarantined run.
fn remove_run_indexes(txn: &WriteTransaction, raw_key: &[u8]) -> StoreResult<()> {
    for index in [RUN_QUEUE, RUNNING_RUNS, RUNS_WITH_LOGS, RUNS_WITH_OBJECTS] {
        txn.open_table(index)
            .or_internal()?
            .remove(<RunKey<'static> as redb::Value>::from_bytes(raw_key))
            .or_internal()?;
    }
    Ok(())
}

impl RedbStore {
    /// Every stored record that does not decode (an offline scan of the whole database).
    pub fn scan_unreadable(&self) -> StoreResult<Vec<UnreadableRecord>> {
        let txn = self.db()?.begin_read().or_internal()?;
        Ok(scan_all(&txn)?.into_iter().map(|f| f.record).collect())
    }

    /// Moves every unreadable record into the `quarantine` table, in one transaction; a run's
    /// queue and index rows go with it, so its pipeline can be deleted again. Returns what moved.
    pub fn quarantine_unreadable(&self) -> StoreResult<Vec<UnreadableRecord>> {
        let found = {
            let txn = self.db()?.begin_read().or_internal()?;
            scan_all(&txn)?
        };
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let now = (self.clock)();
        let txn = self.db()?.begin_write().or_internal()?;
        for f in &found {
            let name = f.record.table.as_str();
            let Some(raw_value) = take_any(&txn, name, &f.raw_key)? else {
                return Err(StoreError::Internal(format!(
                    "cannot quarantine a record of table '{name}'"
                )));
            };
            if name == RUNS.name() {
                remove_run_indexes(&txn, &f.raw_key)?;
            }
            let entry = Quarantined {
                table: f.record.table.clone(),
                key: f.record.key.clone(),
                error: f.record.error.clone(),
                quarantined: now,
                value_hex: hex::encode(raw_value),
            };
            let id = format!("{}/{}", f.record.table, hex::encode(&f.raw_key));
            txn.open_table(QUARANTINE)
                .or_internal()?
                .insert(id.as_str(), encode(&entry)?.as_slice())
                .or_internal()?;
        }
        txn.commit().or_internal()?;
        self.generation.fetch_add(1, Ordering::Release);
        self.auth_generation.fetch_add(1, Ordering::Release);
        Ok(found.into_iter().map(|f| f.record).collect())
    }
}
