//! Task executions (docs/api.md#runs-and-task-executions rows 44 and 45).

use crate::http::Cx;
use crate::http::reply::{ApiError, no_content, ok};
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

/// Largest accepted task result, serialised (docs/runs.md#results-and-payload).
pub const MAX_RESULT_BYTES: usize = 65536;

/// `PUT` or `POST T/result` with a JSON body → 204 (docs/runs.md#results-and-payload, docs/api.md#runs-and-task-executions). Only while the
/// execution runs (409 otherwise); the last write wins. The body is read at most one byte past
/// the limit, so an oversized result is refused without buffering it.
pub async fn set_result(mut cx: Cx) -> Result<Response, ApiError> {
    use futures_util::StreamExt;
    let (ns, p, run, task) = (cx.ns()?, cx.pipeline()?, cx.run()?, cx.task()?);
    let mut bytes = Vec::new();
    if let Some(mut body) = cx.body.take() {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| ApiError::invalid(format!("body: {e}")))?;
            if bytes.len() + chunk.len() > MAX_RESULT_BYTES {
                return Err(ApiError::too_large(format!(
                    "result: larger than {MAX_RESULT_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(
            "body: must be a JSON value (the task's result)",
        ));
    }
    // Tasks post results with minimal clients (busybox `wget --post-data` declares a form), so
    // a request with a token may declare any type; one without (the development bypass) must
    // say application/json, like every JSON route (docs/security.md).
    if !cx.headers.contains_key(warp::http::header::AUTHORIZATION) {
        crate::http::require_json(&cx.headers, &bytes)?;
    }
    let result: serde_json::Value = crate::http::parse_json(&bytes)?;
    gofer_core::validate::check_json_value("result", &result)?;
    cx.state
        .engine
        .set_task_result(crate::store::RunKey::new(ns, p, run), task, result)
        .await?;
    Ok(no_content())
}
