//! Task executions (SPEC §14.7 rows 44 and 45).

use crate::http::Cx;
use crate::http::reply::{ApiError, ok};
use gofer_core::api::{TaskExecutionResponse, TaskExecutionsResponse};
use warp::reply::Response;

/// `GET R/tasks`: by task id.
pub async fn list(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p, run) = (cx.ns()?, cx.pipeline()?, cx.run()?);
    let page = cx.page(200)?;
    let task_executions = cx
        .state
        .store
        .read(move |s| s.list_task_executions(&ns, &p, run, page))
        .await?;
    Ok(ok(&TaskExecutionsResponse { task_executions }))
}

/// `GET T`.
pub async fn get(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p, run, task) = (cx.ns()?, cx.pipeline()?, cx.run()?, cx.task()?);
    let task_execution = cx
        .state
        .store
        .read(move |s| s.get_task_execution(&ns, &p, run, &task))
        .await?;
    Ok(ok(&TaskExecutionResponse { task_execution }))
}
