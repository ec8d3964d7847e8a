//! Routes that change runs: start (SPEC §5.1, §5.13), cancel a run or a task (§5.9). They hand
//! the work to the engine; reads of runs live in their own module.

use crate::http::Cx;
use crate::http::reply::{ApiError, created, no_content};
use crate::store::{NewRun, RunKey, RunTokenSeed};
use gofer_core::api::{Initiator, InitiatorKind, RunResponse, StartRunRequest, Variable};
use gofer_core::enums::VariableSource;
use gofer_core::id::{self, IdKind};
use warp::reply::Response;

/// Largest accepted payload, serialised (SPEC §5.13).
pub const MAX_PAYLOAD_BYTES: usize = 65536;

/// `POST P/runs` → 201 `{run}` in state `pending`; never waits for capacity.
pub async fn start(mut cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let req: StartRunRequest = cx.json_or_default().await?;
    gofer_core::validate::check_variable_sizes("variables", req.variables.iter())?;
    let mut variables = Vec::with_capacity(req.variables.0.len());
    for (key, value) in req.variables.iter() {
        if let Some(problem) = id::variable_key_problem(key) {
            return Err(ApiError::invalid(format!("variables.{key}: {problem}")));
        }
        variables.push(Variable {
            key: key.to_string(),
            value: value.to_string(),
            source: VariableSource::RunOptions,
        });
    }
    if let Some(payload) = &req.payload {
        gofer_core::validate::check_json_value("payload", payload)?;
        let size = serde_json::to_vec(payload)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_PAYLOAD_BYTES {
            return Err(ApiError::too_large(format!(
                "payload: larger than {MAX_PAYLOAD_BYTES} bytes"
            )));
        }
    }
    if let Some(only) = &req.only {
        if only.is_empty() {
            return Err(ApiError::invalid("only: must name at least one task"));
        }
        for task in only {
            if !IdKind::Task.accepts(task) {
                return Err(ApiError::invalid(format!("only: unknown task '{task}'")));
            }
        }
    }
    if let Some(command) = &req.command_override {
        if req.only.as_ref().map(Vec::len) != Some(1) {
            return Err(ApiError::invalid(
                "command_override: requires exactly one task in only",
            ));
        }
        if command.is_empty() {
            return Err(ApiError::invalid("command_override: must not be empty"));
        }
    }
    // An extension may start runs only of pipelines subscribed to it (SPEC §12.6); its
    // variables come from the extension.
    let extension = cx
        .caller
        .token
        .as_ref()
        .and_then(|t| t.metadata.get("extension_id").cloned());
    if let Some(ext) = &extension {
        let (ns2, p2, ext2) = (ns.clone(), p.clone(), ext.clone());
        let active = cx
            .state
            .store
            .read(move |s| {
                s.get_pipeline(&ns2, &p2)?;
                s.has_active_subscription(&ns2, &p2, &ext2)
            })
            .await?;
        if !active {
            return Err(ApiError::forbidden(format!(
                "extension '{ext}' has no active subscription for pipeline '{p}'"
            )));
        }
        for v in &mut variables {
            v.source = VariableSource::Extension;
        }
    }
    let kind = if extension.is_some() {
        InitiatorKind::Extension
    } else if req.only.is_some() {
        InitiatorKind::OneOff
    } else {
        InitiatorKind::Api
    };
    let new = NewRun {
        variables,
        initiator: Initiator {
            id: cx.caller.token_id.clone(),
            user: cx.caller.user.clone(),
            kind,
        },
        payload: req.payload,
        only: req.only,
        command_override: req.command_override,
        run_token: Some(run_token_seed(&cx)),
    };
    let run = cx.state.engine.start_run(&ns, &p, new).await?;
    Ok(created(&RunResponse { run }))
}

fn run_token_seed(cx: &Cx) -> RunTokenSeed {
    crate::engine::new_run_token(
        cx.state.config.secret_store.encryption_key.as_bytes(),
        cx.state.config.api.run_token_expiry,
    )
}

/// `DELETE R` → 204 once the cancellation is durable (SPEC §5.9).
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
    };
    cx.state
        .engine
        .cancel_run(RunKey::new(ns, p, run), cx.caller.is_admin(), request)
        .await?;
    Ok(no_content())
}

/// `DELETE T?wait_for=<seconds>` → 204 (SPEC §5.9).
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
