//! The store's identity, health and recovery, and the system settings.

use super::*;

impl RedbStore {
    pub(super) fn instance_id(&self) -> StoreResult<String> {
        Ok(self.instance_id.clone())
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(super) fn unreadable(&self) -> Vec<crate::store::UnreadableRecord> {
        self.unreadable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|((table, key), error)| crate::store::UnreadableRecord {
                table: table.clone(),
                key: key.clone(),
                error: error.clone(),
            })
            .collect()
    }

    pub(super) fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(super) fn recover(&self) -> Result<bool, String> {
        let Some(reason) = self.failure() else {
            return Ok(false);
        };
        let Some(path) = &self.path else {
            return Err(format!(
                "{reason} (an in-memory database cannot be reopened)"
            ));
        };
        let mut slot = self
            .db
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The failed instance refuses every operation from now on; it must be closed (its
        // last transaction dropped) before the file can be opened again.
        if let Some(old) = slot.take()
            && let Err(still_used) = Arc::try_unwrap(old)
        {
            *slot = Some(still_used);
            return Err(format!("{reason} (waiting for open transactions to end)"));
        }
        match Database::builder().set_cache_size(CACHE_BYTES).create(path) {
            Ok(db) => {
                *slot = Some(Arc::new(db));
                *self
                    .failure
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                self.generation.fetch_add(1, Ordering::Release);
                self.auth_generation.fetch_add(1, Ordering::Release);
                tracing::info!("storage recovered: the database was reopened");
                Ok(true)
            }
            Err(e) => Err(format!("{reason} (reopening failed: {e})")),
        }
    }

    pub(super) fn system(&self) -> StoreResult<System> {
        self.read(|txn| {
            let meta = txn.open_table(META).or_internal()?;
            Ok(get(&meta, META_SYSTEM, "system")?.unwrap_or_default())
        })
    }

    pub(super) fn update_system(
        &self,
        ignore_pipeline_run_events: Option<bool>,
    ) -> StoreResult<System> {
        self.write(|tx| {
            let mut meta = tx.txn.open_table(META).or_internal()?;
            let mut system: System = get(&meta, META_SYSTEM, "system")?.unwrap_or_default();
            if let Some(ignore) = ignore_pipeline_run_events {
                system.ignore_pipeline_run_events = ignore;
            }
            meta.insert(META_SYSTEM, encode(&system)?.as_slice())
                .or_internal()?;
            Ok(system)
        })
    }
}
