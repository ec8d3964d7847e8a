//! The difference between two config versions, as `GET P/configs/{v}/diff/{w}` answers it
//! (docs/pipelines.md#comparing-versions); `crate::diff` computes it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One field that differs. `from`/`to` are the values as the API shows them (`null` when the
/// field is absent on that side, e.g. a dependency or variable that one version lacks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FieldChange {
    /// The field's path: `timeout`, `image`, `depends_on.build`, `variables.GOAL`, `retries.count`.
    pub field: String,
    pub from: Value,
    pub to: Value,
}

/// A task present in both versions, with what differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskChange {
    pub task: String,
    pub changes: Vec<FieldChange>,
}

/// The difference from one version to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigDiff {
    pub namespace_id: String,
    pub pipeline_id: String,
    pub from_version: u64,
    pub to_version: u64,
    /// Pipeline-level fields: `name`, `description`, `parallelism`, `timeout`.
    pub pipeline: Vec<FieldChange>,
    pub tasks_added: Vec<String>,
    pub tasks_removed: Vec<String>,
    /// Tasks in both versions that differ, by task id.
    pub tasks_changed: Vec<TaskChange>,
}

impl ConfigDiff {
    /// Whether the two versions define the same pipeline.
    pub fn is_empty(&self) -> bool {
        self.pipeline.is_empty()
            && self.tasks_added.is_empty()
            && self.tasks_removed.is_empty()
            && self.tasks_changed.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigDiffResponse {
    pub diff: ConfigDiff,
}
