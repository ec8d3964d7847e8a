//! Pipelines, their config versions and deployments.

use super::*;

impl RedbStore {
    pub(super) fn list_pipelines(&self, namespace: &str, page: Page) -> StoreResult<Vec<Metadata>> {
        self.read(|txn| {
            let namespaces = txn.open_table(NAMESPACES).or_internal()?;
            if namespaces.get(namespace).or_internal()?.is_none() {
                return Err(namespace_not_found(namespace));
            }
            let pipelines = txn.open_table(PIPELINES).or_internal()?;
            let end = upper(namespace);
            let range = pipelines
                .range((namespace, "")..(end.as_str(), ""))
                .or_internal()?;
            page_of(range, page, false, "pipeline")
        })
    }

    pub(super) fn get_pipeline(&self, namespace: &str, pipeline: &str) -> StoreResult<Metadata> {
        // One read transaction, one lookup on the hit path; the miss path looks at the
        // namespace only to name what is missing.
        self.read(|txn| read_pipeline(txn, namespace, pipeline))
    }

    pub(super) fn set_pipeline_state(
        &self,
        namespace: &str,
        pipeline: &str,
        state: PipelineState,
        now: u64,
    ) -> StoreResult<Metadata> {
        self.write(|tx| {
            let mut metadata = tx.require_pipeline(namespace, pipeline)?;
            let changed = metadata.state != state;
            metadata.state = state;
            metadata.modified = now;
            tx.txn
                .open_table(PIPELINES)
                .or_internal()?
                .insert((namespace, pipeline), encode(&metadata)?.as_slice())
                .or_internal()?;
            let (namespace_id, pipeline_id) = (namespace.to_string(), pipeline.to_string());
            match state {
                _ if !changed => {}
                PipelineState::Active => {
                    tx.emit(EventKind::EnabledPipeline {
                        namespace_id,
                        pipeline_id,
                    })?;
                }
                PipelineState::Disabled => {
                    tx.emit(EventKind::DisabledPipeline {
                        namespace_id,
                        pipeline_id,
                    })?;
                }
                PipelineState::Unknown => {}
            }
            Ok(metadata)
        })
    }

    pub(super) fn delete_pipeline(&self, namespace: &str, pipeline: &str) -> StoreResult<()> {
        self.write_auth(|tx| {
            tx.require_pipeline(namespace, pipeline)?;
            tx.delete_pipeline_rows(namespace, pipeline)
        })
    }

    pub(super) fn register_config(
        &self,
        namespace: &str,
        config: ValidConfig,
        now: u64,
    ) -> StoreResult<Pipeline> {
        self.write(|tx| {
            tx.require_namespace(namespace)?;
            let p = config.id.clone();
            let existing: Option<Metadata> = {
                let pipelines = tx.txn.open_table(PIPELINES).or_internal()?;
                get(&pipelines, (namespace, p.as_str()), "pipeline")?
            };
            let (metadata, mut counters, created) = match existing {
                Some(metadata) => (metadata, tx.counters(namespace, &p)?, false),
                None => {
                    let metadata = Metadata {
                        namespace_id: namespace.to_string(),
                        pipeline_id: p.clone(),
                        created: now,
                        modified: 0,
                        state: PipelineState::Active,
                    };
                    tx.txn
                        .open_table(PIPELINES)
                        .or_internal()?
                        .insert((namespace, p.as_str()), encode(&metadata)?.as_slice())
                        .or_internal()?;
                    (metadata, PipelineCounters::default(), true)
                }
            };
            counters.last_version += 1;
            tx.put_counters(namespace, &p, &counters)?;
            let config = config.into_config(namespace, counters.last_version, now);
            tx.put_config(&config)?;
            if created {
                tx.emit(EventKind::CreatedPipeline {
                    namespace_id: namespace.to_string(),
                    pipeline_id: p,
                })?;
            }
            Ok(Pipeline { metadata, config })
        })
    }

    pub(super) fn list_configs(
        &self,
        namespace: &str,
        pipeline: &str,
        page: Page,
    ) -> StoreResult<Vec<Config>> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let configs = txn.open_table(CONFIGS).or_internal()?;
            let range = configs
                .range((namespace, pipeline, 0)..=(namespace, pipeline, u64::MAX))
                .or_internal()?;
            page_of(range, page, true, "config")
        })
    }

    pub(super) fn get_config(
        &self,
        namespace: &str,
        pipeline: &str,
        version: u64,
    ) -> StoreResult<Config> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let configs = txn.open_table(CONFIGS).or_internal()?;
            if version != 0 {
                return get(&configs, (namespace, pipeline, version), "config")?
                    .ok_or_else(|| config_not_found(pipeline, version));
            }
            let latest = configs
                .range((namespace, pipeline, 1)..=(namespace, pipeline, u64::MAX))
                .or_internal()?
                .next_back()
                .transpose()
                .or_internal()?;
            match latest {
                Some((_, value)) => decode("config", value.value()),
                None => Err(StoreError::NotFound(format!(
                    "pipeline '{pipeline}' has no config versions"
                ))),
            }
        })
    }

    pub(super) fn live_config(
        &self,
        namespace: &str,
        pipeline: &str,
    ) -> StoreResult<Option<Config>> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let counters = txn.open_table(PIPELINE_COUNTERS).or_internal()?;
            let counters: PipelineCounters =
                get(&counters, (namespace, pipeline), "pipeline counters")?.unwrap_or_default();
            if counters.live_version == 0 {
                return Ok(None);
            }
            let configs = txn.open_table(CONFIGS).or_internal()?;
            get(
                &configs,
                (namespace, pipeline, counters.live_version),
                "config",
            )?
            .map(Some)
            .ok_or_else(|| {
                StoreError::Internal(format!(
                    "live version {} of pipeline '{namespace}/{pipeline}' is missing",
                    counters.live_version
                ))
            })
        })
    }

    pub(super) fn delete_config(
        &self,
        namespace: &str,
        pipeline: &str,
        version: u64,
    ) -> StoreResult<()> {
        self.write(|tx| {
            tx.require_pipeline(namespace, pipeline)?;
            let config: Config = {
                let configs = tx.txn.open_table(CONFIGS).or_internal()?;
                get(&configs, (namespace, pipeline, version), "config")?
                    .ok_or_else(|| config_not_found(pipeline, version))?
            };
            if config.state == ConfigState::Live {
                return Err(StoreError::Conflict(
                    "cannot delete the live version".into(),
                ));
            }
            let active = tx.counters(namespace, pipeline)?.active_deployment;
            if active != 0 && tx.deployment(namespace, pipeline, active)?.end_version == version {
                return Err(StoreError::Conflict(format!(
                    "version {version} is being deployed (deployment {active}); promote or \
                     abort that deployment first"
                )));
            }
            // docs/pipelines.md#versions-and-deployments: a version pending or running runs are pinned to stays.
            let pinned = tx
                .unfinished_of(namespace, pipeline)?
                .into_iter()
                .find(|stored| stored.run.pipeline_config_version == version);
            if let Some(StoredRun { run, .. }) = pinned {
                return Err(StoreError::Conflict(format!(
                    "version {version} is pinned by run {} ({}); cancel it or wait for it to \
                     complete",
                    run.run_id, run.state
                )));
            }
            tx.txn
                .open_table(CONFIGS)
                .or_internal()?
                .remove((namespace, pipeline, version))
                .or_internal()?;
            Ok(())
        })
    }
}
