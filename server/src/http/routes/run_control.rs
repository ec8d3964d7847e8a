//! Routes that change runs: start (docs/runs.md#queue, docs/runs.md#results-and-payload), cancel a run or a task (docs/runs.md#cancellation). They hand
//! the work to the engine; reads of runs live in their own module.

use crate::http::Cx;
use crate::http::reply::{ApiError, created, no_content};
use crate::service::runs::Starter;
use crate::store::{RunKey, RunTokenSeed};
use gofer_core::api::{RetryRunRequest, RunResponse, StartRunRequest};
use gofer_core::id::IdKind;
use warp::reply::Response;

/// `POST P/runs` → 201 `{run}` in state `pending`; never waits for capacity. The rules are
/// `service::runs::start`'s.
pub async fn start(mut cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let request: StartRunRequest = cx.json_or_default().await?;
    let starter = starter(&cx);
    let state = &cx.state;
    let run = crate::service::runs::start(
        &state.store,
        &state.engine,
        &ns,
        &p,
        request,
        starter,
        run_token_seed(&cx),
    )
    .await?;
    Ok(created(&RunResponse { run }))
}

pub(crate) fn starter(cx: &Cx) -> Starter {
    Starter {
        token_id: cx.caller.token_id.clone(),
        user: cx.caller.user.clone(),
        extension: cx
            .caller
            .token
            .as_ref()
            .and_then(|t| t.metadata.get("extension_id").cloned()),
    }
}

/// `POST R/retry` → 201 `{run}`: a new run with the old run's variables and payload; with
/// `failed_only`, the tasks that succeeded are reused (docs/runs.md#retrying-a-run).
pub async fn retry(mut cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let run_id = cx.number("run", 1, "run")?;
    let request: RetryRunRequest = cx.json_or_default().await?;
    let starter = starter(&cx);
    let state = &cx.state;
    let run = crate::service::runs::retry(
        &state.store,
        &state.engine,
        &ns,
        &p,
        run_id,
        request.failed_only,
        starter,
        run_token_seed(&cx),
    )
    .await?;
    Ok(created(&RunResponse { run }))
}

pub(crate) fn run_token_seed(cx: &Cx) -> RunTokenSeed {
    crate::engine::new_run_token(
        cx.state.config.secret_store.encryption_key.as_bytes(),
        cx.state.config.api.run_token_expiry,
    )
}

/// `DELETE R` → 204 once the cancellation is durable (docs/runs.md#cancellation).
pub async fn cancel(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let run = cx.number("run", 1, "run")?;
    let mut force = false;
    for (k, v) in cx.query_pairs() {
        if k == "force" {
            force = gofer_core::api::parse_bool("force", &v).map_err(ApiError::invalid)?;
        }
    }
    let request = gofer_core::api::RunCancellation {
        requested: gofer_core::now_millis(),
        by: cx.caller.user.clone(),
        force,
        reason: None,
    };
    cx.state
        .engine
        .cancel_run(RunKey::new(ns, p, run), cx.caller.is_admin(), request)
        .await?;
    Ok(no_content())
}

/// `DELETE T?wait_for=<seconds>` → 204 (docs/runs.md#cancellation).
pub async fn cancel_task(cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let run = cx.number("run", 1, "run")?;
    let task = cx.id("task", IdKind::Task, "task")?;
    let mut grace = cx.state.config.api.task_execution_stop_timeout;
    for (k, v) in cx.query_pairs() {
        if k == "wait_for" {
            grace = v.parse().map_err(|_| {
                ApiError::invalid("wait_for: must be a non-negative integer (seconds)")
            })?;
        }
    }
    cx.state
        .engine
        .cancel_task(RunKey::new(ns, p, run), task, grace, cx.caller.is_admin())
        .await?;
    Ok(no_content())
}
