//! Runs (docs/api.md#runs-and-task-executions rows 36 and 38). Starting and cancelling runs belong to the engine.

use crate::http::Cx;
use crate::http::reply::{ApiError, json_bytes, ok};
use gofer_core::api::{RunResponse, RunsResponse};
use warp::reply::Response;

/// `GET /api/runs`: every pending and running run the caller may read, across namespaces and
/// pipelines, oldest first, with its running tasks and queue position.
pub async fn active(cx: Cx) -> Result<Response, ApiError> {
    use gofer_core::api::{ActiveRun, ActiveRunsResponse, ResourceKind};
    use gofer_core::enums::{Action, RunState, TaskExecutionState};
    let grants = cx.caller.grants.clone();
    let mut unfinished = cx.state.store.read(|s| s.unfinished_runs()).await?;
    unfinished.sort_by(|a, b| {
        (
            &a.run.run.namespace_id,
            &a.run.run.pipeline_id,
            a.run.run.run_id,
        )
            .cmp(&(
                &b.run.run.namespace_id,
                &b.run.run.pipeline_id,
                b.run.run.run_id,
            ))
    });
    let mut runs = Vec::new();
    let mut position = 0;
    let mut last_pipeline: Option<(String, String)> = None;
    for state in unfinished {
        let run = state.run.run;
        let key = (run.namespace_id.clone(), run.pipeline_id.clone());
        if last_pipeline.as_ref() != Some(&key) {
            position = 0;
            last_pipeline = Some(key);
        }
        let queue_position = if run.state == RunState::Pending {
            position += 1;
            position
        } else {
            0
        };
        let readable = grants.allows(
            Action::Read,
            &[
                (ResourceKind::Namespaces, Some(run.namespace_id.as_str())),
                (ResourceKind::Pipelines, Some(run.pipeline_id.as_str())),
                (ResourceKind::Runs, None),
            ],
        );
        if !readable {
            continue;
        }
        let running_tasks = state
            .executions
            .iter()
            .filter(|e| e.execution.state == TaskExecutionState::Running)
            .map(|e| e.execution.task_id.clone())
            .collect();
        runs.push(ActiveRun {
            run,
            running_tasks,
            queue_position,
        });
    }
    runs.sort_by_key(|r| r.run.queued);
    Ok(ok(&ActiveRunsResponse { runs }))
}

/// Default page size of the runs list (docs/api.md#common-rules).
const DEFAULT_LIMIT: u64 = 50;

/// `GET P/runs`: by run id ascending. Pages are served from the page cache until the next
/// write (dashboards and `run watch` poll this list).
pub async fn list(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let page = cx.page(DEFAULT_LIMIT)?;
    let store = &cx.state.store;
    // `?version=N`: only the runs made with config version N (docs/api.md#runs-and-task-executions).
    if let Some((_, text)) = cx.query_pairs().into_iter().find(|(k, _)| k == "version") {
        let version = text
            .parse::<u64>()
            .ok()
            .filter(|v| *v >= 1)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "version: must be a config version, a whole number from 1 (got '{}')",
                    text.escape_debug()
                ))
            })?;
        let runs = store
            .read(move |s| s.list_runs_of_version(&ns, &p, version, page))
            .await?;
        return Ok(ok(&RunsResponse { runs }));
    }
    let generation = store.generation();
    let key = ("runs", ns.clone(), p.clone(), page);
    if let Some(body) = store.pages.get(&key, generation) {
        return Ok(json_bytes(body));
    }
    let runs = store.read(move |s| s.list_runs(&ns, &p, page)).await?;
    let body = bytes::Bytes::from(
        serde_json::to_vec(&RunsResponse { runs })
            .map_err(|e| ApiError::internal(e.to_string()))?,
    );
    store.pages.put(key, generation, body.clone());
    Ok(json_bytes(body))
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
