//! Deploying a version (docs/pipelines.md#versions-and-deployments,
//! docs/pipelines.md#safe-deployments): the strategy is checked, the deployment and — for a smoke
//! deployment — its run are created in one store transaction, and the run goes to the engine.

use super::runs::{Starter, prepare};
use super::{ServiceError, ServiceResult};
use crate::engine::Engine;
use crate::store::{RunTokenSeed, StoreHandle};
use gofer_core::api::{DeployPlan, DeployRequest, Deployment, StartRunRequest};

/// Who deploys: the smoke run a deploy may create is started by them, with this run token seed.
pub struct Deployer {
    pub starter: Starter,
    pub run_token: RunTokenSeed,
}

/// Deploys `version` the way `request` asks (no strategy = the instant switch).
pub async fn deploy(
    store: &StoreHandle,
    engine: &Engine,
    namespace: &str,
    pipeline: &str,
    version: u64,
    request: DeployRequest,
    deployer: Deployer,
) -> ServiceResult<Deployment> {
    let Deployer { starter, run_token } = deployer;
    let plan = request.plan().map_err(ServiceError::Invalid)?;
    let smoke_run = match &plan {
        DeployPlan::Smoke(smoke) => {
            let start = StartRunRequest {
                variables: smoke.variables.clone(),
                payload: smoke.payload.clone(),
                ..StartRunRequest::default()
            };
            let new = prepare(store, namespace, pipeline, start, starter, run_token)
                .await
                .map_err(|e| match e {
                    // The run's fields are the smoke's: say so in the field name.
                    ServiceError::Invalid(m) => ServiceError::Invalid(format!("smoke.{m}")),
                    ServiceError::TooLarge(m) => ServiceError::TooLarge(format!("smoke.{m}")),
                    other => other,
                })?;
            Some(new)
        }
        _ => None,
    };
    let (ns, p) = (namespace.to_owned(), pipeline.to_owned());
    let now = gofer_core::now_millis();
    let (deployment, run) = store
        .write(move |s| s.start_deployment(&ns, &p, version, plan, smoke_run, now))
        .await?;
    if let Some(run) = &run {
        engine.queued(run)?;
    }
    Ok(deployment)
}

/// Promotes (`promote`) or aborts a running deployment by hand.
pub async fn finish(
    store: &StoreHandle,
    namespace: &str,
    pipeline: &str,
    id: u64,
    promote: bool,
) -> ServiceResult<Deployment> {
    let (ns, p) = (namespace.to_owned(), pipeline.to_owned());
    let now = gofer_core::now_millis();
    Ok(store
        .write(move |s| s.finish_deployment(&ns, &p, id, promote, now))
        .await?)
}
