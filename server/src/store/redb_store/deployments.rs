//! Deployments (docs/pipelines.md#versions-and-deployments, docs/pipelines.md#safe-deployments):
//! starting one, choosing a new run's version while one is in progress, counting its runs as
//! they complete, and concluding it — every step in the transaction that caused it, so a
//! restart finds the counters exactly as the last commit left them.

use super::*;
use gofer_core::api::{CanaryProgress, DeployPlan, SmokeProgress};
use gofer_core::canary::{self, Bake, Decision};
use gofer_core::enums::{
    DeploymentStatusReasonKind as Why, DeploymentStrategy, RunStatusReasonKind,
};

impl RedbStore {
    pub(super) fn deploy(
        &self,
        namespace: &str,
        pipeline: &str,
        version: u64,
        now: u64,
    ) -> StoreResult<Deployment> {
        self.start_deployment(namespace, pipeline, version, DeployPlan::Instant, None, now)
            .map(|(deployment, _)| deployment)
    }

    pub(super) fn start_deployment(
        &self,
        namespace: &str,
        pipeline: &str,
        version: u64,
        plan: DeployPlan,
        smoke_run: Option<NewRun>,
        now: u64,
    ) -> StoreResult<(Deployment, Option<Run>)> {
        self.write_auth(|tx| {
            tx.require_pipeline(namespace, pipeline)?;
            let target: Config = {
                let configs = tx.txn.open_table(CONFIGS).or_internal()?;
                get(&configs, (namespace, pipeline, version), "config")?
                    .ok_or_else(|| config_not_found(pipeline, version))?
            };
            if target.state == ConfigState::Live {
                return Err(StoreError::Conflict(format!(
                    "version {version} is already live"
                )));
            }
            let mut counters = tx.counters(namespace, pipeline)?;
            if counters.active_deployment != 0 {
                return Err(StoreError::Conflict(format!(
                    "a deployment of '{pipeline}' is already in progress (deployment {id}); \
                     promote or abort it first: gofer pipeline deployment promote|abort \
                     {pipeline} {id}",
                    id = counters.active_deployment
                )));
            }
            if matches!(plan, DeployPlan::Canary(_)) && counters.live_version == 0 {
                return Err(StoreError::Invalid(format!(
                    "canary: pipeline '{pipeline}' has no live version to compare the new one \
                     with; deploy version {version} without a strategy first"
                )));
            }
            let start_version = counters.live_version;
            let deployment_id = counters.last_deployment + 1;
            counters.last_deployment = deployment_id;
            let started = tx.emit(EventKind::StartedDeployment {
                namespace_id: namespace.to_string(),
                pipeline_id: pipeline.to_string(),
                start_version,
                end_version: version,
            })?;
            let mut deployment = Deployment {
                namespace_id: namespace.to_string(),
                pipeline_id: pipeline.to_string(),
                deployment_id,
                start_version,
                end_version: version,
                started: now,
                ended: 0,
                state: DeploymentState::Running,
                status: DeploymentStatus::Unknown,
                status_reason: None,
                logs: vec![started],
                strategy: DeploymentStrategy::Instant,
                canary: None,
                smoke: None,
            };
            let mut smoke = None;
            match plan {
                DeployPlan::Instant => {
                    // docs/pipelines.md#versions-and-deployments: all in this transaction.
                    tx.make_live(&mut counters, namespace, pipeline, version, now)?;
                    deployment.state = DeploymentState::Complete;
                    deployment.status = DeploymentStatus::Successful;
                    deployment.ended = now;
                    let completed = tx.emit(completed_event(&deployment))?;
                    deployment.logs.push(completed);
                }
                DeployPlan::Canary(policy) => {
                    deployment.strategy = DeploymentStrategy::Canary;
                    deployment.canary = Some(CanaryProgress {
                        policy,
                        seed: now.rotate_left(21) ^ deployment_id,
                        started: 0,
                        baseline: 0,
                        tally: Default::default(),
                        bake_until: match policy.bake {
                            Bake::Seconds(s) => now.saturating_add(s.saturating_mul(1000)),
                            Bake::Runs(_) => 0,
                        },
                    });
                    counters.active_deployment = deployment_id;
                }
                DeployPlan::Smoke(_) => {
                    deployment.strategy = DeploymentStrategy::Smoke;
                    counters.active_deployment = deployment_id;
                    let new = smoke_run.ok_or_else(|| {
                        StoreError::Internal("a smoke deployment needs its run".into())
                    })?;
                    counters.last_run += 1;
                    let run = tx.insert_run(
                        namespace,
                        pipeline,
                        counters.last_run,
                        version,
                        Some(deployment_id),
                        new,
                        now,
                    )?;
                    deployment.smoke = Some(SmokeProgress { run_id: run.run_id });
                    smoke = Some(run);
                }
            }
            tx.put_counters(namespace, pipeline, &counters)?;
            tx.put_deployment(&deployment)?;
            Ok((deployment, smoke))
        })
    }

    /// Promotes or aborts a running deployment by hand.
    pub(super) fn finish_deployment(
        &self,
        namespace: &str,
        pipeline: &str,
        id: u64,
        promote: bool,
        now: u64,
    ) -> StoreResult<Deployment> {
        self.write(|tx| {
            tx.require_pipeline(namespace, pipeline)?;
            let mut deployment = tx.deployment(namespace, pipeline, id)?;
            if deployment.state != DeploymentState::Running {
                return Err(StoreError::Conflict(format!(
                    "deployment {id} of '{pipeline}' is already complete ({})",
                    deployment.status
                )));
            }
            let figures = figures_of(&deployment);
            let (why, verb) = if promote {
                (Why::PromotedByHand, "promoted by hand")
            } else {
                (Why::Aborted, "aborted by hand")
            };
            let description = match &figures {
                Some(line) => format!("{verb} after {line}"),
                None => verb.to_string(),
            };
            tx.conclude(&mut deployment, promote, why, description, now)?;
            Ok(deployment)
        })
    }

    /// Concludes the canaries whose time bake decides them at `now`; returns those concluded.
    pub(super) fn advance_deployments(&self, now: u64) -> StoreResult<Vec<Deployment>> {
        let due: Vec<(String, String, u64)> = self
            .active_deployments()?
            .into_iter()
            .filter(|d| d.decided_by_clock(now))
            .map(|d| (d.namespace_id, d.pipeline_id, d.deployment_id))
            .collect();
        let mut concluded = Vec::new();
        for (ns, p, id) in due {
            let done = self.write(|tx| {
                let mut deployment = tx.deployment(&ns, &p, id)?;
                if deployment.state != DeploymentState::Running {
                    return Ok(None);
                }
                tx.decide(&mut deployment, now)?;
                Ok(Some(deployment).filter(|d| d.state == DeploymentState::Complete))
            })?;
            concluded.extend(done);
        }
        Ok(concluded)
    }

    /// Every deployment in progress, across pipelines.
    pub(super) fn active_deployments(&self) -> StoreResult<Vec<Deployment>> {
        self.read(|txn| {
            let counters = txn.open_table(PIPELINE_COUNTERS).or_internal()?;
            let deployments = txn.open_table(DEPLOYMENTS).or_internal()?;
            let mut out = Vec::new();
            for row in counters.iter().or_internal()? {
                let (key, value) = row.or_internal()?;
                let Some(c) = skip_unreadable(decode::<PipelineCounters>(
                    "pipeline counters",
                    value.value(),
                ))?
                else {
                    continue;
                };
                if c.active_deployment == 0 {
                    continue;
                }
                let (ns, p) = key.value();
                if let Some(d) = get::<(&str, &str, u64), Deployment>(
                    &deployments,
                    (ns, p, c.active_deployment),
                    "deployment",
                )? {
                    out.push(d);
                }
            }
            Ok(out)
        })
    }

    pub(super) fn list_deployments(
        &self,
        namespace: &str,
        pipeline: &str,
        page: Page,
    ) -> StoreResult<Vec<Deployment>> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let deployments = txn.open_table(DEPLOYMENTS).or_internal()?;
            let range = deployments
                .range((namespace, pipeline, 0)..=(namespace, pipeline, u64::MAX))
                .or_internal()?;
            page_of(range, page, false, "deployment")
        })
    }

    pub(super) fn get_deployment(
        &self,
        namespace: &str,
        pipeline: &str,
        id: u64,
    ) -> StoreResult<Deployment> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let deployments = txn.open_table(DEPLOYMENTS).or_internal()?;
            get(&deployments, (namespace, pipeline, id), "deployment")?.ok_or_else(|| {
                StoreError::NotFound(format!(
                    "deployment {id} of pipeline '{pipeline}' not found"
                ))
            })
        })
    }
}

/// The `completed_deployment` event of a deployment in its final state.
fn completed_event(d: &Deployment) -> EventKind {
    EventKind::CompletedDeployment {
        namespace_id: d.namespace_id.clone(),
        pipeline_id: d.pipeline_id.clone(),
        start_version: d.start_version,
        end_version: d.end_version,
        deployment_id: d.deployment_id,
        strategy: d.strategy,
        status: d.status,
    }
}

/// The canary's figures in words, when it is a canary.
fn figures_of(d: &Deployment) -> Option<String> {
    d.canary.as_ref().map(CanaryProgress::summary)
}

impl Tx<'_> {
    pub(super) fn deployment(&self, ns: &str, p: &str, id: u64) -> StoreResult<Deployment> {
        let table = self.txn.open_table(DEPLOYMENTS).or_internal()?;
        get(&table, (ns, p, id), "deployment")?.ok_or_else(|| {
            StoreError::NotFound(format!("deployment {id} of pipeline '{p}' not found"))
        })
    }

    pub(super) fn put_deployment(&self, d: &Deployment) -> StoreResult<()> {
        self.txn
            .open_table(DEPLOYMENTS)
            .or_internal()?
            .insert(
                (
                    d.namespace_id.as_str(),
                    d.pipeline_id.as_str(),
                    d.deployment_id,
                ),
                encode(d)?.as_slice(),
            )
            .or_internal()?;
        Ok(())
    }

    /// Makes `version` live and the previous live version deprecated.
    fn make_live(
        &self,
        counters: &mut PipelineCounters,
        ns: &str,
        p: &str,
        version: u64,
        now: u64,
    ) -> StoreResult<()> {
        let read = |v: u64| -> StoreResult<Config> {
            let configs = self.txn.open_table(CONFIGS).or_internal()?;
            get(&configs, (ns, p, v), "config")?.ok_or_else(|| {
                StoreError::Internal(format!("version {v} of pipeline '{ns}/{p}' is missing"))
            })
        };
        let mut target = read(version)?;
        target.state = ConfigState::Live;
        target.deprecated = 0;
        self.put_config(&target)?;
        if counters.live_version != 0 && counters.live_version != version {
            let mut previous = read(counters.live_version)?;
            previous.state = ConfigState::Deprecated;
            previous.deprecated = now;
            self.put_config(&previous)?;
        }
        counters.live_version = version;
        Ok(())
    }

    /// The version and deployment of run `run_id`, created now: the live version, unless a
    /// canary in progress sends this run to its new version (docs/pipelines.md#safe-deployments).
    /// Records the choice on the deployment and emits `canary_run_started` for a canary run.
    pub(super) fn choose_version(
        &self,
        ns: &str,
        p: &str,
        counters: &PipelineCounters,
        run_id: u64,
    ) -> StoreResult<(u64, Option<u64>)> {
        if counters.active_deployment == 0 {
            return Ok((counters.live_version, None));
        }
        let mut d = self.deployment(ns, p, counters.active_deployment)?;
        let Some(c) = d.canary.as_mut() else {
            // A smoke deployment: everything but its own run stays on the live version.
            return Ok((counters.live_version, None));
        };
        let version = if canary::picks_new(c.seed, run_id, c.policy.percent) {
            c.started += 1;
            d.end_version
        } else {
            c.baseline += 1;
            d.start_version
        };
        if version == d.end_version {
            let event = self.emit(EventKind::CanaryRunStarted {
                namespace_id: ns.to_string(),
                pipeline_id: p.to_string(),
                deployment_id: d.deployment_id,
                run_id,
                version,
            })?;
            d.logs.push(event);
        }
        self.put_deployment(&d)?;
        Ok((version, Some(d.deployment_id)))
    }

    /// Counts a run of a deployment that just completed, and concludes the deployment when
    /// that decides it.
    pub(super) fn count_deployment_run(&self, run: &Run, now: u64) -> StoreResult<()> {
        let Some(id) = run.deployment_id else {
            return Ok(());
        };
        let (ns, p) = (run.namespace_id.as_str(), run.pipeline_id.as_str());
        if self.counters(ns, p)?.active_deployment != id {
            return Ok(()); // concluded already: later completions change nothing
        }
        let mut d = self.deployment(ns, p, id)?;
        if let Some(smoke) = &d.smoke {
            if smoke.run_id != run.run_id {
                return Ok(());
            }
            let ok = run.status == RunStatus::Successful;
            let (why, description) = if ok {
                (
                    Why::SmokeRunSucceeded,
                    format!("smoke run {} succeeded", run.run_id),
                )
            } else {
                (
                    Why::SmokeRunFailed,
                    format!(
                        "smoke run {} ended {}{}; the live version did not change",
                        run.run_id,
                        run.status,
                        run.status_reason
                            .as_ref()
                            .map(|r| format!(" ({})", r.reason))
                            .unwrap_or_default()
                    ),
                )
            };
            return self.conclude(&mut d, ok, why, description, now);
        }
        let Some(c) = d.canary.as_mut() else {
            return Ok(());
        };
        if run.pipeline_config_version != d.end_version {
            return Ok(()); // a baseline run on the live version
        }
        match run.status {
            RunStatus::Successful => c.tally.successful += 1,
            RunStatus::Cancelled => c.tally.cancelled += 1,
            _ => {
                c.tally.failed += 1;
                if run
                    .status_reason
                    .as_ref()
                    .is_some_and(|r| r.reason == RunStatusReasonKind::SchedulerError)
                {
                    c.tally.scheduler_errors += 1;
                }
            }
        }
        self.decide(&mut d, now)
    }

    /// Applies the canary rules to `d` at `now`: concludes it, or stores its counters.
    fn decide(&self, d: &mut Deployment, now: u64) -> StoreResult<()> {
        let Some(c) = d.canary.as_ref() else {
            return self.put_deployment(d);
        };
        let elapsed = now.saturating_sub(d.started) / 1000;
        match canary::decide(&c.policy, &c.tally, elapsed) {
            Decision::KeepBaking => self.put_deployment(d),
            Decision::Promote => {
                let description = format!("baked: {}", c.summary());
                self.conclude(d, true, Why::CanaryBaked, description, now)
            }
            Decision::RollBack { .. } => {
                let description = format!(
                    "canary failure rate above the threshold: {}; version {} stays live",
                    c.summary(),
                    d.start_version
                );
                self.conclude(d, false, Why::CanaryFailureRate, description, now)
            }
        }
    }

    /// Ends a running deployment: promoted (its version goes live) or rolled back (nothing
    /// changes for live traffic), with the event that says why and `completed_deployment`.
    fn conclude(
        &self,
        d: &mut Deployment,
        promote: bool,
        why: Why,
        description: String,
        now: u64,
    ) -> StoreResult<()> {
        let (ns, p) = (d.namespace_id.clone(), d.pipeline_id.clone());
        let mut counters = self.counters(&ns, &p)?;
        if promote {
            self.make_live(&mut counters, &ns, &p, d.end_version, now)?;
        }
        counters.active_deployment = 0;
        self.put_counters(&ns, &p, &counters)?;
        let tally = d.canary.as_ref().map(|c| c.tally).unwrap_or_default();
        let event = if promote {
            EventKind::DeploymentPromoted {
                namespace_id: ns.clone(),
                pipeline_id: p.clone(),
                deployment_id: d.deployment_id,
                start_version: d.start_version,
                end_version: d.end_version,
                reason: why,
                description: description.clone(),
                canary_runs: tally.counted(),
                failed: tally.failed,
                scheduler_errors: tally.scheduler_errors,
            }
        } else {
            EventKind::DeploymentRolledBack {
                namespace_id: ns.clone(),
                pipeline_id: p.clone(),
                deployment_id: d.deployment_id,
                start_version: d.start_version,
                end_version: d.end_version,
                reason: why,
                description: description.clone(),
                canary_runs: tally.counted(),
                failed: tally.failed,
                scheduler_errors: tally.scheduler_errors,
                smoke_run_id: d.smoke.as_ref().map(|s| s.run_id),
            }
        };
        let decided = self.emit(event)?;
        d.logs.push(decided);
        d.state = DeploymentState::Complete;
        d.status = if promote {
            DeploymentStatus::Successful
        } else {
            DeploymentStatus::Failed
        };
        d.status_reason = Some(gofer_core::api::StatusReason {
            reason: why,
            description,
        });
        d.ended = now;
        let completed = self.emit(completed_event(d))?;
        d.logs.push(completed);
        self.put_deployment(d)
    }
}
