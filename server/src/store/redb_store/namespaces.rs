//! Namespaces.

use super::*;

impl RedbStore {
    pub(super) fn list_namespaces(&self, page: Page) -> StoreResult<Vec<Namespace>> {
        self.read(|txn| {
            let namespaces = txn.open_table(NAMESPACES).or_internal()?;
            page_of(namespaces.iter().or_internal()?, page, false, "namespace")
        })
    }

    pub(super) fn get_namespace(&self, id: &str) -> StoreResult<Namespace> {
        self.read(|txn| {
            let namespaces = txn.open_table(NAMESPACES).or_internal()?;
            get(&namespaces, id, "namespace")?.ok_or_else(|| namespace_not_found(id))
        })
    }

    pub(super) fn create_namespace(&self, namespace: Namespace) -> StoreResult<Namespace> {
        self.write(|tx| {
            {
                let mut namespaces = tx.txn.open_table(NAMESPACES).or_internal()?;
                if namespaces
                    .get(namespace.id.as_str())
                    .or_internal()?
                    .is_some()
                {
                    return Err(StoreError::Conflict(format!(
                        "namespace '{}' already exists",
                        namespace.id
                    )));
                }
                namespaces
                    .insert(namespace.id.as_str(), encode(&namespace)?.as_slice())
                    .or_internal()?;
            }
            tx.emit(EventKind::CreatedNamespace {
                namespace_id: namespace.id.clone(),
            })?;
            Ok(namespace)
        })
    }

    pub(super) fn update_namespace(
        &self,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        now: u64,
    ) -> StoreResult<Namespace> {
        self.write(|tx| {
            let mut namespace = tx.require_namespace(id)?;
            if let Some(name) = name {
                namespace.name = name;
            }
            if let Some(description) = description {
                namespace.description = description;
            }
            namespace.modified = now;
            let mut namespaces = tx.txn.open_table(NAMESPACES).or_internal()?;
            namespaces
                .insert(id, encode(&namespace)?.as_slice())
                .or_internal()?;
            Ok(namespace)
        })
    }

    pub(super) fn delete_namespace(&self, id: &str) -> StoreResult<()> {
        self.write_auth(|tx| {
            tx.require_namespace(id)?;
            let pipeline_ids = {
                let pipelines = tx.txn.open_table(PIPELINES).or_internal()?;
                let end = upper(id);
                let range = pipelines
                    .range((id, "")..(end.as_str(), ""))
                    .or_internal()?;
                range
                    .map(|entry| {
                        let (key, _) = entry.or_internal()?;
                        Ok(key.value().1.to_string())
                    })
                    .collect::<StoreResult<Vec<String>>>()?
            };
            for p in &pipeline_ids {
                tx.delete_pipeline_rows(id, p)?;
            }
            tx.txn
                .open_table(NAMESPACES)
                .or_internal()?
                .remove(id)
                .or_internal()?;
            tx.emit(EventKind::DeletedNamespace {
                namespace_id: id.to_string(),
            })?;
            Ok(())
        })
    }
}
