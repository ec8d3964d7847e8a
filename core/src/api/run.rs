//! Runs and task executions (docs/pipelines.md#the-records, docs/runs.md#queue, docs/runs.md#results-and-payload).

use super::{OrderedMap, StatusReason, Task, Variable};
use crate::enums::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

crate::enums::wire_enum!(
    /// How a run was started (docs/pipelines.md#the-records).
    InitiatorKind { Api => "api", Extension => "extension", OneOff => "one_off", CliExec => "cli_exec" }
);

/// Who started a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Initiator {
    pub id: String,
    pub user: String,
    #[serde(default)]
    pub kind: InitiatorKind,
    /// The extension's subscription the run fired for, when the extension named it (new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
}

impl Initiator {
    /// `alice (api)`; the kind is said once even when the user's name already ends with it, as
    /// an extension's does (`interval (extension)`).
    pub fn describe(&self) -> String {
        let kind = self.kind.to_string();
        let who = if self.user.ends_with(&format!("({kind})")) {
            self.user.clone()
        } else {
            format!("{} ({kind})", self.user)
        };
        match &self.subscription_id {
            Some(sub) => format!("{who} · {sub}"),
            None => who,
        }
    }
}

/// One execution of a pipeline (docs/pipelines.md#the-records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Run {
    pub namespace_id: String,
    pub pipeline_id: String,
    pub pipeline_config_version: u64,
    pub run_id: u64,
    #[serde(default)]
    pub queued: u64,
    #[serde(default)]
    pub started: u64,
    #[serde(default)]
    pub ended: u64,
    pub state: RunState,
    pub status: RunStatus,
    #[serde(default)]
    pub status_reason: Option<StatusReason<RunStatusReasonKind>>,
    pub initiator: Initiator,
    #[serde(default)]
    pub variables: Vec<Variable>,
    #[serde(default)]
    pub token_id: Option<String>,
    #[serde(default)]
    pub store_objects_expired: bool,
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
    #[serde(default)]
    pub only: Option<Vec<String>>,
    #[serde(default)]
    pub command_override: Option<Vec<String>>,
    /// Set once a cancel was accepted, while the run's tasks stop and after (new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<RunCancellation>,
    /// The deployment that chose this run's version, when one was in progress (new,
    /// docs/pipelines.md#safe-deployments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<u64>,
    /// The run this one retried, and which of its tasks were reused rather than run again
    /// (docs/runs.md#retrying-a-run, new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryOf>,
}

/// What a retried run carries over (docs/runs.md#retrying-a-run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RetryOf {
    /// The run retried.
    pub run_id: u64,
    /// Only the tasks that did not succeed were run again.
    #[serde(default)]
    pub failed_only: bool,
    /// Tasks that succeeded in the retried run: their executions are `successful` with reason
    /// `reused` and the old run's result, and no container runs for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reused_tasks: Vec<String>,
}

/// `POST R/retry` body (docs/runs.md#retrying-a-run, new).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRunRequest {
    #[serde(default)]
    pub failed_only: bool,
}

/// A run's accepted cancellation (new): shown as `cancelling` until the run completes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunCancellation {
    /// When the cancel was accepted (Unix ms).
    pub requested: u64,
    /// Who asked: the token's user (`anonymous`, `admin` for the loopback bypass).
    pub by: String,
    /// Tasks are killed at once instead of being given `api.task_execution_stop_timeout`.
    #[serde(default)]
    pub force: bool,
    /// Why, when the server cancelled it rather than a person (a newer run under the overlap
    /// policy `cancel_previous`, docs/runs.md#overlapping-runs); becomes the run's status
    /// description (new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl TaskExecution {
    /// Complete without a container ever running (an image that could not be pulled, a skip):
    /// it has no log, only a reason.
    pub fn never_started(&self) -> bool {
        self.state == crate::enums::TaskExecutionState::Complete && self.started == 0
    }
}

/// One container launch of a task execution (docs/pipelines.md#the-records, new).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskAttempt {
    pub attempt: u64,
    #[serde(default)]
    pub started: u64,
    #[serde(default)]
    pub ended: u64,
    #[serde(default)]
    pub exit_code: Option<i64>,
    pub status: TaskExecutionStatus,
    #[serde(default)]
    pub status_reason: Option<StatusReason<TaskExecutionStatusReasonKind>>,
    #[serde(default)]
    pub log_offset: u64,
}

/// The record of one task within one run (docs/pipelines.md#the-records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskExecution {
    pub namespace_id: String,
    pub pipeline_id: String,
    pub run_id: u64,
    pub task_id: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub started: u64,
    #[serde(default)]
    pub ended: u64,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub logs_expired: bool,
    #[serde(default)]
    pub logs_removed: bool,
    pub state: TaskExecutionState,
    pub status: TaskExecutionStatus,
    #[serde(default)]
    pub status_reason: Option<StatusReason<TaskExecutionStatusReasonKind>>,
    #[serde(default)]
    pub variables: Vec<Variable>,
    pub task: Task,
    #[serde(default)]
    pub attempts: Vec<TaskAttempt>,
    #[serde(default)]
    pub result: Option<serde_json::Value>,
}

/// `POST P/runs` body; every field optional (docs/runs.md#queue, docs/runs.md#results-and-payload).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRunRequest {
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    #[schemars(schema_with = "crate::api::variables_schema")]
    pub variables: OrderedMap,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_override: Option<Vec<String>>,
    /// The subscription this run fires for, named by an extension (its own active subscription
    /// of the pipeline); ignored from other callers (new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunResponse {
    pub run: Run,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunsResponse {
    pub runs: Vec<Run>,
}

/// A run in progress, across namespaces (`GET /api/runs`, new; docs/api.md#runs-and-task-executions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ActiveRun {
    pub run: Run,
    /// Tasks whose container runs now.
    #[serde(default)]
    pub running_tasks: Vec<String>,
    /// Its place in its pipeline's queue (1 = next) while pending; 0 once it runs.
    #[serde(default)]
    pub queue_position: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ActiveRunsResponse {
    pub runs: Vec<ActiveRun>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskExecutionResponse {
    pub task_execution: TaskExecution,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskExecutionsResponse {
    pub task_executions: Vec<TaskExecution>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_initiator_says_who_and_which_subscription() {
        let mut by = Initiator {
            id: "t".into(),
            user: "interval (extension)".into(),
            kind: InitiatorKind::Extension,
            subscription_id: None,
        };
        assert_eq!(by.describe(), "interval (extension)");
        by.subscription_id = Some("hourly".into());
        assert_eq!(by.describe(), "interval (extension) · hourly");
        let alice = Initiator {
            id: "t".into(),
            user: "alice".into(),
            kind: InitiatorKind::Api,
            subscription_id: None,
        };
        assert_eq!(alice.describe(), "alice (api)");
    }
}
