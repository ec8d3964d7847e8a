//! Runs (SPEC §14.7 rows 36 and 38). Starting and cancelling runs belong to the engine.

use crate::http::Cx;
use crate::http::reply::{ApiError, ok};
use gofer_core::api::{RunResponse, RunsResponse};
use warp::reply::Response;

/// Default page size of the runs list (SPEC §14.1).
const DEFAULT_LIMIT: u64 = 50;

/// `GET P/runs`: by run id ascending.
pub async fn list(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let page = cx.page(DEFAULT_LIMIT)?;
    let runs = cx
        .state
        .store
        .read(move |s| s.list_runs(&ns, &p, page))
        .await?;
    Ok(ok(&RunsResponse { runs }))
}

/// `GET R`.
pub async fn get(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p, run) = (cx.ns()?, cx.pipeline()?, cx.run()?);
    let run = cx
        .state
        .store
        .read(move |s| s.get_run(&ns, &p, run))
        .await?;
    Ok(ok(&RunResponse { run }))
}
