use crate::http::Cx;
use crate::http::reply::{ApiError, created, no_content, ok};
use gofer_core::api::{
    ConfigResponse, ConfigsResponse, DeploymentResponse, DeploymentsResponse, Pipeline,
    RegisterConfigRequest, RegisterConfigResponse,
};
use gofer_core::validate::validate_config;
use warp::reply::Response;

pub async fn list(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let page = cx.page(200)?;
    let configs = cx
        .state
        .store
        .read(move |s| s.list_configs(&ns, &p, page))
        .await?;
    let configs = configs.iter().map(|c| c.redacted()).collect();
    Ok(ok(&ConfigsResponse { configs }))
}

/// `POST P/configs` (docs/pipelines.md#writing-a-pipeline-config). The `{p}` segment is checked by the `config.id` rule, so a bad
/// pipeline id here is 400, not 404 (docs/pipelines.md#identifiers: registration creates the pipeline).
pub async fn register(mut cx: Cx) -> Result<Response, ApiError> {
    let ns = cx.ns()?;
    let path_pipeline = cx.param("p").to_string();
    let req: RegisterConfigRequest = cx.json().await?;
    let valid = validate_config(&path_pipeline, &req.config)?;
    // The server's maxima (docs/pipelines.md#task-resources): every task over one is named.
    let policy = cx
        .state
        .config
        .scheduler
        .resources
        .policy()
        .unwrap_or_default();
    let over: Vec<String> = valid
        .tasks
        .values()
        .filter_map(|t| policy.check(&t.id, &t.resources).err())
        .collect();
    if !over.is_empty() {
        return Err(ApiError::invalid(over.join("; ")));
    }
    let now = gofer_core::now_millis();
    let Pipeline { metadata, config } = cx
        .state
        .store
        .write(move |s| s.register_config(&ns, valid, now))
        .await?;
    Ok(created(&RegisterConfigResponse {
        pipeline: Pipeline {
            metadata,
            config: config.redacted(),
        },
    }))
}

/// `GET P/configs/{version}`; `0` is the latest version.
pub async fn get(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let version = cx.number("version", 0, "config version")?;
    let config = cx
        .state
        .store
        .read(move |s| s.get_config(&ns, &p, version))
        .await?;
    Ok(ok(&ConfigResponse {
        config: config.redacted(),
    }))
}

/// `GET P/configs/{version}/diff/{other}`: what changed from `version` to `other`
/// (docs/pipelines.md#comparing-versions); `0` on either side is the latest version.
pub async fn diff(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let from = cx.number("version", 0, "config version")?;
    let to = cx.number("other", 0, "config version")?;
    let (a, b) = cx
        .state
        .store
        .read(move |s| Ok((s.get_config(&ns, &p, from)?, s.get_config(&ns, &p, to)?)))
        .await?;
    Ok(ok(&gofer_core::api::ConfigDiffResponse {
        diff: gofer_core::diff::diff(&a, &b),
    }))
}

/// `POST P/configs/{version}` deploys (docs/pipelines.md#versions-and-deployments); an optional
/// body asks for a canary or a smoke run (docs/pipelines.md#safe-deployments). The rules are
/// `service::deployments::deploy`'s.
pub async fn deploy(mut cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let version = cx.number("version", 1, "config version")?;
    let request: gofer_core::api::DeployRequest = cx.json_or_default().await?;
    let starter = crate::service::runs::Starter {
        token_id: cx.caller.token_id.clone(),
        user: cx.caller.user.clone(),
        extension: None,
    };
    let run_token = super::run_control::run_token_seed(&cx);
    let deployment = crate::service::deployments::deploy(
        &cx.state.store,
        &cx.state.engine,
        &ns,
        &p,
        version,
        request,
        crate::service::deployments::Deployer { starter, run_token },
    )
    .await?;
    Ok(created(&DeploymentResponse { deployment }))
}

/// `POST P/deployments/{deployment_id}/promote` and `…/abort` end a running deployment by hand
/// (docs/pipelines.md#safe-deployments) → 200 `{deployment}`; 409 when it is already complete.
pub async fn promote(cx: Cx) -> Result<Response, ApiError> {
    finish(cx, true).await
}

pub async fn abort(cx: Cx) -> Result<Response, ApiError> {
    finish(cx, false).await
}

async fn finish(cx: Cx, promote: bool) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let id = cx.number("deployment_id", 1, "deployment")?;
    let deployment =
        crate::service::deployments::finish(&cx.state.store, &ns, &p, id, promote).await?;
    Ok(ok(&DeploymentResponse { deployment }))
}

pub async fn delete(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let version = cx.number("version", 1, "config version")?;
    cx.state
        .store
        .write(move |s| s.delete_config(&ns, &p, version))
        .await?;
    Ok(no_content())
}

pub async fn list_deployments(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let page = cx.page(200)?;
    let deployments = cx
        .state
        .store
        .read(move |s| s.list_deployments(&ns, &p, page))
        .await?;
    Ok(ok(&DeploymentsResponse { deployments }))
}

pub async fn get_deployment(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let id = cx.number("deployment_id", 1, "deployment")?;
    let deployment = cx
        .state
        .store
        .read(move |s| s.get_deployment(&ns, &p, id))
        .await?;
    Ok(ok(&DeploymentResponse { deployment }))
}
