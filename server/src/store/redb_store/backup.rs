//! A consistent copy of the whole database while it serves (docs/deploy.md#backup-and-restore):
//! every table copied into a new redb file inside one read transaction, so the copy is the
//! database as of one commit, and writers are never held up.

use super::*;
use redb::{Table, TableDefinition, TableHandle, Value};

/// Copies `def` (when it exists) from `src` into `dst`; returns the rows copied.
fn copy_table<K: Key + 'static, V: Value + 'static>(
    src: &ReadTransaction,
    dst: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> StoreResult<u64> {
    let from = match src.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(StoreError::Internal(format!("redb: {e}"))),
    };
    let mut to: Table<K, V> = dst.open_table(def).or_internal()?;
    let mut rows = 0;
    for entry in from.iter().or_internal()? {
        let (key, value) = entry.or_internal()?;
        to.insert(key.value(), value.value()).or_internal()?;
        rows += 1;
    }
    Ok(rows)
}

impl RedbStore {
    pub(super) fn backup_database(&self, path: &std::path::Path) -> StoreResult<u64> {
        let db = self.db()?;
        let src = db.begin_read().or_internal()?;
        let copy = Database::create(path).map_err(|e| {
            StoreError::Io(format!(
                "cannot create the backup copy {}: {e}",
                path.display()
            ))
        })?;
        let dst = copy.begin_write().or_internal()?;
        let mut rows = 0;
        let mut copied = std::collections::BTreeSet::new();
        rows += copy_table(&src, &dst, META)?;
        copied.insert(META.name());
        rows += copy_table(&src, &dst, NAMESPACES)?;
        copied.insert(NAMESPACES.name());
        rows += copy_table(&src, &dst, PIPELINES)?;
        copied.insert(PIPELINES.name());
        rows += copy_table(&src, &dst, PIPELINE_COUNTERS)?;
        copied.insert(PIPELINE_COUNTERS.name());
        rows += copy_table(&src, &dst, CONFIGS)?;
        copied.insert(CONFIGS.name());
        rows += copy_table(&src, &dst, DEPLOYMENTS)?;
        copied.insert(DEPLOYMENTS.name());
        rows += copy_table(&src, &dst, EVENTS)?;
        copied.insert(EVENTS.name());
        rows += copy_table(&src, &dst, RUNS)?;
        copied.insert(RUNS.name());
        rows += copy_table(&src, &dst, EXECUTIONS)?;
        copied.insert(EXECUTIONS.name());
        rows += copy_table(&src, &dst, RUN_QUEUE)?;
        copied.insert(RUN_QUEUE.name());
        rows += copy_table(&src, &dst, RUNNING_RUNS)?;
        copied.insert(RUNNING_RUNS.name());
        rows += copy_table(&src, &dst, RUNS_WITH_LOGS)?;
        copied.insert(RUNS_WITH_LOGS.name());
        rows += copy_table(&src, &dst, TOKENS)?;
        copied.insert(TOKENS.name());
        rows += copy_table(&src, &dst, TOKEN_HASHES)?;
        copied.insert(TOKEN_HASHES.name());
        rows += copy_table(&src, &dst, ROLES)?;
        copied.insert(ROLES.name());
        rows += copy_table(&src, &dst, RUN_TOKENS)?;
        copied.insert(RUN_TOKENS.name());
        rows += copy_table(&src, &dst, RUNS_WITH_OBJECTS)?;
        copied.insert(RUNS_WITH_OBJECTS.name());
        rows += copy_table(&src, &dst, PIPELINE_OBJECTS)?;
        copied.insert(PIPELINE_OBJECTS.name());
        rows += copy_table(&src, &dst, RUN_OBJECTS)?;
        copied.insert(RUN_OBJECTS.name());
        rows += copy_table(&src, &dst, EXTENSION_OBJECTS)?;
        copied.insert(EXTENSION_OBJECTS.name());
        rows += copy_table(&src, &dst, EXTENSIONS)?;
        copied.insert(EXTENSIONS.name());
        rows += copy_table(&src, &dst, SUBSCRIPTIONS)?;
        copied.insert(SUBSCRIPTIONS.name());
        rows += copy_table(&src, &dst, EXTENSION_SUBSCRIPTIONS)?;
        copied.insert(EXTENSION_SUBSCRIPTIONS.name());
        rows += copy_table(&src, &dst, PIPELINE_SECRETS)?;
        copied.insert(PIPELINE_SECRETS.name());
        rows += copy_table(&src, &dst, GLOBAL_SECRETS)?;
        copied.insert(GLOBAL_SECRETS.name());
        rows += copy_table(&src, &dst, QUARANTINE)?;
        copied.insert(QUARANTINE.name());
        // A table added to `tables.rs` but not here would silently be left out: refuse instead.
        for table in src.list_tables().or_internal()? {
            if !copied.contains(table.name()) {
                return Err(StoreError::Internal(format!(
                    "backup: table '{}' is not copied (add it to redb_store/backup.rs)",
                    table.name()
                )));
            }
        }
        dst.commit().or_internal()?;
        Ok(rows)
    }
}
