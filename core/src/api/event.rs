//! Events (SPEC §3.12, §8.2). `kind` is externally tagged: `{"<kind_name>": {payload}}`.

use crate::enums::{RunStatus, TaskExecutionStatus};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub kind: EventKind,
    pub emitted: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    CreatedNamespace {
        namespace_id: String,
    },
    DeletedNamespace {
        namespace_id: String,
    },
    CreatedPipeline {
        namespace_id: String,
        pipeline_id: String,
    },
    DeletedPipeline {
        namespace_id: String,
        pipeline_id: String,
    },
    EnabledPipeline {
        namespace_id: String,
        pipeline_id: String,
    },
    DisabledPipeline {
        namespace_id: String,
        pipeline_id: String,
    },
    StartedDeployment {
        namespace_id: String,
        pipeline_id: String,
        start_version: u64,
        end_version: u64,
    },
    CompletedDeployment {
        namespace_id: String,
        pipeline_id: String,
        start_version: u64,
        end_version: u64,
    },
    QueuedRun {
        namespace_id: String,
        pipeline_id: String,
        run_id: u64,
    },
    StartedRun {
        namespace_id: String,
        pipeline_id: String,
        run_id: u64,
    },
    CompletedRun {
        namespace_id: String,
        pipeline_id: String,
        run_id: u64,
        status: RunStatus,
    },
    StartedRunCancellation {
        namespace_id: String,
        pipeline_id: String,
        run_id: u64,
    },
    CreatedTaskExecution {
        namespace_id: String,
        pipeline_id: String,
        run_id: u64,
        task_execution_id: String,
    },
    StartedTaskExecution {
        namespace_id: String,
        pipeline_id: String,
        run_id: u64,
        task_execution_id: String,
        #[serde(default)]
        attempt: u64,
    },
    CompletedTaskExecution {
        namespace_id: String,
        pipeline_id: String,
        run_id: u64,
        task_execution_id: String,
        status: TaskExecutionStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<serde_json::Value>,
    },
    StartedTaskExecutionCancellation {
        namespace_id: String,
        pipeline_id: String,
        run_id: u64,
        task_execution_id: String,
        timeout: u64,
    },
    InstalledExtension {
        id: String,
        image: String,
    },
    UninstalledExtension {
        id: String,
        image: String,
    },
    EnabledExtension {
        id: String,
        image: String,
    },
    DisabledExtension {
        id: String,
        image: String,
    },
    PipelineExtensionSubscriptionRegistered {
        namespace_id: String,
        pipeline_id: String,
        extension_id: String,
        subscription_id: String,
    },
    PipelineExtensionSubscriptionUnregistered {
        namespace_id: String,
        pipeline_id: String,
        extension_id: String,
        subscription_id: String,
    },
    CreatedRole {
        role_id: String,
    },
    DeletedRole {
        role_id: String,
    },
}

/// Every kind name, for `kinds` filters (SPEC §8.3).
pub const EVENT_KIND_NAMES: &[&str] = &[
    "created_namespace",
    "deleted_namespace",
    "created_pipeline",
    "deleted_pipeline",
    "enabled_pipeline",
    "disabled_pipeline",
    "started_deployment",
    "completed_deployment",
    "queued_run",
    "started_run",
    "completed_run",
    "started_run_cancellation",
    "created_task_execution",
    "started_task_execution",
    "completed_task_execution",
    "started_task_execution_cancellation",
    "installed_extension",
    "uninstalled_extension",
    "enabled_extension",
    "disabled_extension",
    "pipeline_extension_subscription_registered",
    "pipeline_extension_subscription_unregistered",
    "created_role",
    "deleted_role",
];

impl EventKind {
    /// The kind's wire name (`completed_run`, …).
    pub fn name(&self) -> &'static str {
        use EventKind::*;
        match self {
            CreatedNamespace { .. } => "created_namespace",
            DeletedNamespace { .. } => "deleted_namespace",
            CreatedPipeline { .. } => "created_pipeline",
            DeletedPipeline { .. } => "deleted_pipeline",
            EnabledPipeline { .. } => "enabled_pipeline",
            DisabledPipeline { .. } => "disabled_pipeline",
            StartedDeployment { .. } => "started_deployment",
            CompletedDeployment { .. } => "completed_deployment",
            QueuedRun { .. } => "queued_run",
            StartedRun { .. } => "started_run",
            CompletedRun { .. } => "completed_run",
            StartedRunCancellation { .. } => "started_run_cancellation",
            CreatedTaskExecution { .. } => "created_task_execution",
            StartedTaskExecution { .. } => "started_task_execution",
            CompletedTaskExecution { .. } => "completed_task_execution",
            StartedTaskExecutionCancellation { .. } => "started_task_execution_cancellation",
            InstalledExtension { .. } => "installed_extension",
            UninstalledExtension { .. } => "uninstalled_extension",
            EnabledExtension { .. } => "enabled_extension",
            DisabledExtension { .. } => "disabled_extension",
            PipelineExtensionSubscriptionRegistered { .. } => {
                "pipeline_extension_subscription_registered"
            }
            PipelineExtensionSubscriptionUnregistered { .. } => {
                "pipeline_extension_subscription_unregistered"
            }
            CreatedRole { .. } => "created_role",
            DeletedRole { .. } => "deleted_role",
        }
    }

    /// `(namespace_id, pipeline_id)` when the payload names them (for stream filters).
    pub fn scope(&self) -> (Option<&str>, Option<&str>) {
        use EventKind::*;
        match self {
            CreatedNamespace { namespace_id } | DeletedNamespace { namespace_id } => {
                (Some(namespace_id), None)
            }
            CreatedPipeline {
                namespace_id,
                pipeline_id,
            }
            | DeletedPipeline {
                namespace_id,
                pipeline_id,
            }
            | EnabledPipeline {
                namespace_id,
                pipeline_id,
            }
            | DisabledPipeline {
                namespace_id,
                pipeline_id,
            }
            | StartedDeployment {
                namespace_id,
                pipeline_id,
                ..
            }
            | CompletedDeployment {
                namespace_id,
                pipeline_id,
                ..
            }
            | QueuedRun {
                namespace_id,
                pipeline_id,
                ..
            }
            | StartedRun {
                namespace_id,
                pipeline_id,
                ..
            }
            | CompletedRun {
                namespace_id,
                pipeline_id,
                ..
            }
            | StartedRunCancellation {
                namespace_id,
                pipeline_id,
                ..
            }
            | CreatedTaskExecution {
                namespace_id,
                pipeline_id,
                ..
            }
            | StartedTaskExecution {
                namespace_id,
                pipeline_id,
                ..
            }
            | CompletedTaskExecution {
                namespace_id,
                pipeline_id,
                ..
            }
            | StartedTaskExecutionCancellation {
                namespace_id,
                pipeline_id,
                ..
            }
            | PipelineExtensionSubscriptionRegistered {
                namespace_id,
                pipeline_id,
                ..
            }
            | PipelineExtensionSubscriptionUnregistered {
                namespace_id,
                pipeline_id,
                ..
            } => (Some(namespace_id), Some(pipeline_id)),
            InstalledExtension { .. }
            | UninstalledExtension { .. }
            | EnabledExtension { .. }
            | DisabledExtension { .. }
            | CreatedRole { .. }
            | DeletedRole { .. } => (None, None),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventResponse {
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn externally_tagged_like_spec_example() {
        let e = Event {
            id: "0190".into(),
            kind: EventKind::CompletedRun {
                namespace_id: "default".into(),
                pipeline_id: "simple".into(),
                run_id: 4,
                status: RunStatus::Successful,
            },
            emitted: 1,
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"]["completed_run"]["status"], "successful");
        assert_eq!(e.kind.name(), "completed_run");
        assert!(EVENT_KIND_NAMES.contains(&e.kind.name()));
    }
}
