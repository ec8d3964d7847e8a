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

/// `DELETE P`: the pipeline and everything in it (`service::deletes::pipeline`).
pub async fn delete(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let state = &cx.state;
    crate::service::deletes::pipeline(&state.store, &state.extensions, &state.data_dir, &ns, &p)
        .await?;
    Ok(no_content())
}
