//! Starting a run: what a start request may carry and who may start what.

use super::{ServiceError, ServiceResult};
use crate::engine::Engine;
use crate::store::{NewRun, RunTokenSeed, StoreHandle};
use gofer_core::api::{
    Initiator, InitiatorKind, OrderedMap, Page, RetryOf, Run, StartRunRequest, Variable,
};
use gofer_core::enums::{RunState, TaskExecutionStatus, VariableSource};
use gofer_core::id::{self, IdKind};

/// Largest accepted payload, serialised.
pub const MAX_PAYLOAD_BYTES: usize = 65536;

/// Who starts the run.
#[derive(Debug, Clone)]
pub struct Starter {
    pub token_id: String,
    pub user: String,
    /// The extension whose token this is: it may start only pipelines subscribed to it, and the
    /// run's variables are marked as coming from it.
    pub extension: Option<String>,
}

/// Checks `request`, then creates the run (`pending`) and hands it to the engine; never waits
/// for capacity. `run_token` is the seed of the run's API token.
pub async fn start(
    store: &StoreHandle,
    engine: &Engine,
    namespace: &str,
    pipeline: &str,
    request: StartRunRequest,
    starter: Starter,
    run_token: RunTokenSeed,
) -> ServiceResult<Run> {
    let new = prepare(store, namespace, pipeline, request, starter, run_token).await?;
    Ok(engine.start_run(namespace, pipeline, new).await?)
}

/// docs/runs.md#retrying-a-run: a new run of the live version with run `run_id`'s variables,
/// payload and task selection; with `failed_only`, the tasks that succeeded in it are reused
/// rather than run again. The old run must have ended.
#[allow(clippy::too_many_arguments)]
pub async fn retry(
    store: &StoreHandle,
    engine: &Engine,
    namespace: &str,
    pipeline: &str,
    run_id: u64,
    failed_only: bool,
    starter: Starter,
    run_token: RunTokenSeed,
) -> ServiceResult<Run> {
    let (ns, p) = (namespace.to_owned(), pipeline.to_owned());
    let (old, executions) = store
        .read(move |s| {
            let run = s.get_run(&ns, &p, run_id)?;
            let executions = s.list_task_executions(&ns, &p, run_id, Page::ALL)?;
            Ok((run, executions))
        })
        .await?;
    if old.state != RunState::Complete {
        return Err(ServiceError::Conflict(format!(
            "run {run_id} is still in progress; retry it once it has ended (or cancel it first)"
        )));
    }
    let request = StartRunRequest {
        variables: OrderedMap(
            old.variables
                .iter()
                .map(|v| (v.key.clone(), v.value.clone()))
                .collect(),
        ),
        payload: old.payload.clone(),
        only: old.only.clone(),
        command_override: old.command_override.clone(),
        subscription_id: None,
    };
    let mut new = prepare(store, namespace, pipeline, request, starter, run_token).await?;
    let reused_tasks = if failed_only {
        executions
            .iter()
            .filter(|e| e.status == TaskExecutionStatus::Successful)
            .map(|e| e.task_id.clone())
            .collect()
    } else {
        Vec::new()
    };
    new.retry = Some(RetryOf {
        run_id,
        failed_only,
        reused_tasks,
    });
    Ok(engine.start_run(namespace, pipeline, new).await?)
}

/// Checks a start request and turns it into the run to create (shared with a smoke deployment's
/// run, docs/pipelines.md#safe-deployments).
pub async fn prepare(
    store: &StoreHandle,
    namespace: &str,
    pipeline: &str,
    request: StartRunRequest,
    starter: Starter,
    run_token: RunTokenSeed,
) -> ServiceResult<NewRun> {
    gofer_core::validate::check_variable_sizes("variables", request.variables.iter())?;
    let mut variables = Vec::with_capacity(request.variables.0.len());
    for (key, value) in request.variables.iter() {
        if let Some(problem) = id::variable_key_problem(key) {
            return Err(ServiceError::Invalid(format!("variables.{key}: {problem}")));
        }
        variables.push(Variable {
            key: key.to_string(),
            value: value.to_string(),
            source: VariableSource::RunOptions,
        });
    }
    if let Some(payload) = &request.payload {
        gofer_core::validate::check_json_value("payload", payload)?;
        let size = serde_json::to_vec(payload)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_PAYLOAD_BYTES {
            return Err(ServiceError::TooLarge(format!(
                "payload: larger than {MAX_PAYLOAD_BYTES} bytes"
            )));
        }
    }
    if let Some(only) = &request.only {
        if only.is_empty() {
            return Err(ServiceError::Invalid(
                "only: must name at least one task".to_owned(),
            ));
        }
        for task in only {
            if !IdKind::Task.accepts(task) {
                return Err(ServiceError::Invalid(format!(
                    "only: unknown task '{task}'"
                )));
            }
        }
    }
    if let Some(command) = &request.command_override {
        if request.only.as_ref().map(Vec::len) != Some(1) {
            return Err(ServiceError::Invalid(
                "command_override: requires exactly one task in only".to_owned(),
            ));
        }
        if command.is_empty() {
            return Err(ServiceError::Invalid(
                "command_override: must not be empty".to_owned(),
            ));
        }
    }
    // An extension may start runs only of pipelines subscribed to it; its variables come from
    // the extension.
    if let Some(ext) = &starter.extension {
        let (ns, p, ext2) = (namespace.to_owned(), pipeline.to_owned(), ext.clone());
        let active = store
            .read(move |s| {
                s.get_pipeline(&ns, &p)?;
                s.has_active_subscription(&ns, &p, &ext2)
            })
            .await?;
        if !active {
            return Err(ServiceError::Forbidden(format!(
                "extension '{ext}' has no active subscription for pipeline '{pipeline}'"
            )));
        }
        // The subscription it fires for, when it names one, must be its own and active.
        if let Some(sub) = &request.subscription_id {
            let key = crate::store::SubscriptionKey {
                namespace: namespace.to_owned(),
                pipeline: pipeline.to_owned(),
                extension: ext.clone(),
                subscription: sub.clone(),
            };
            let found = store.read(move |s| s.get_subscription(&key)).await;
            match found {
                Ok(s) if s.status == gofer_core::enums::SubscriptionStatus::Active => {}
                Ok(s) => {
                    return Err(ServiceError::Forbidden(format!(
                        "subscription_id: subscription '{sub}' of extension '{ext}' is {}",
                        s.status
                    )));
                }
                Err(_) => {
                    return Err(ServiceError::Invalid(format!(
                        "subscription_id: extension '{ext}' has no subscription '{sub}' for \
                         pipeline '{pipeline}'"
                    )));
                }
            }
        }
        for v in &mut variables {
            v.source = VariableSource::Extension;
        }
    }
    // Only an extension's token names the subscription a run fires for; from any other caller
    // (an extension run by hand with an admin token, say) it is not recorded.
    let subscription_id = request
        .subscription_id
        .filter(|_| starter.extension.is_some());
    let kind = if starter.extension.is_some() {
        InitiatorKind::Extension
    } else if request.only.is_some() {
        InitiatorKind::OneOff
    } else {
        InitiatorKind::Api
    };
    let new = NewRun {
        variables,
        initiator: Initiator {
            id: starter.token_id,
            user: starter.user,
            kind,
            subscription_id,
        },
        payload: request.payload,
        only: request.only,
        command_override: request.command_override,
        run_token: Some(run_token),
        retry: None,
    };
    Ok(new)
}
