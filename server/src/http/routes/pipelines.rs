use crate::http::Cx;
use crate::http::reply::{ApiError, no_content, ok};
use gofer_core::api::{PipelineResponse, PipelinesResponse, UpdatePipelineRequest};
use gofer_core::enums::PipelineState;
use warp::reply::Response;

pub async fn list(cx: Cx) -> Result<Response, ApiError> {
    let ns = cx.ns()?;
    let page = cx.page(200)?;
    let pipelines = cx
        .state
        .store
        .read(move |s| s.list_pipelines(&ns, page))
        .await?;
    Ok(ok(&PipelinesResponse { pipelines }))
}

pub async fn get(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let pipeline = cx
        .state
        .store
        .read(move |s| s.get_pipeline(&ns, &p))
        .await?;
    Ok(ok(&PipelineResponse { pipeline }))
}

/// `PATCH P` `{state: "active"|"disabled"}` → 204.
pub async fn update(mut cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let req: UpdatePipelineRequest = cx.json().await?;
    if !matches!(req.state, PipelineState::Active | PipelineState::Disabled) {
        return Err(ApiError::invalid("state: must be active or disabled"));
    }
    let now = gofer_core::now_millis();
    cx.state
        .store
        .write(move |s| s.set_pipeline_state(&ns, &p, req.state, now))
        .await?;
    Ok(no_content())
}

pub async fn delete(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    // Its subscriptions go with it; running extensions are told afterwards (SPEC §3.16).
    let (ns2, p2) = (ns.clone(), p.clone());
    let subscriptions = cx
        .state
        .store
        .read(move |s| s.list_subscriptions(&ns2, &p2, gofer_core::api::Page::ALL))
        .await
        .unwrap_or_default();
    cx.state
        .store
        .write({
            let (ns, p) = (ns.clone(), p.clone());
            move |s| s.delete_pipeline(&ns, &p)
        })
        .await?;
    // The index rows went with the pipeline; now its object files (SPEC §3.16).
    let data_dir = &cx.state.data_dir;
    crate::objects::remove_dir(&gofer_core::paths::pipeline_objects(data_dir, &ns, &p)).await;
    crate::objects::remove_dir(&gofer_core::paths::pipeline_run_objects(data_dir, &ns, &p)).await;
    for sub in &subscriptions {
        cx.state
            .extensions
            .unsubscribe(&crate::store::SubscriptionKey::of(sub))
            .await;
    }
    Ok(no_content())
}
