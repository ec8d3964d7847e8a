//! Events (docs/logs-and-events.md#events, docs/logs-and-events.md#kinds). `kind` is externally tagged: `{"<kind_name>": {payload}}`.

use crate::enums::{
    DeploymentStatus, DeploymentStatusReasonKind, DeploymentStrategy, RunStatus,
    TaskExecutionStatus,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    pub id: String,
    pub kind: EventKind,
    pub emitted: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
        /// New: which deployment, how, and how it ended.
        #[serde(default)]
        deployment_id: u64,
        #[serde(default)]
        strategy: DeploymentStrategy,
        #[serde(default)]
        status: DeploymentStatus,
    },
    /// A start was refused because a run was in progress and the pipeline's overlap policy is
    /// `skip` (docs/runs.md#overlapping-runs, new).
    SkippedRun {
        namespace_id: String,
        pipeline_id: String,
        /// The run in progress that caused the skip.
        active_run_id: u64,
        /// Who asked for the skipped start.
        initiator: super::Initiator,
    },
    /// A notification reached its target (a 2xx answer; docs/notifications.md, new).
    NotificationSent {
        namespace_id: String,
        pipeline_id: String,
        run_id: u64,
        /// `failure`, `recovery`, `success` or `long_running`.
        trigger: String,
        /// The target as configured when it is a secret reference, else the URL's scheme and
        /// host only (a webhook URL's path is often its secret).
        target: String,
        attempt: u64,
        status: u16,
    },
    /// An attempt to deliver a notification failed (docs/notifications.md, new).
    NotificationFailed {
        namespace_id: String,
        pipeline_id: String,
        run_id: u64,
        trigger: String,
        target: String,
        attempt: u64,
        /// The target's HTTP status; 0 when it did not answer.
        status: u16,
        error: String,
        /// Whether another attempt follows.
        retrying: bool,
    },
    /// A run was created on a canary's new version (new).
    CanaryRunStarted {
        namespace_id: String,
        pipeline_id: String,
        deployment_id: u64,
        run_id: u64,
        version: u64,
    },
    /// A deployment made its new version live after watching it (new). The figures are the
    /// canary's counted runs (or the smoke run's), and the reason says which rule decided.
    DeploymentPromoted {
        namespace_id: String,
        pipeline_id: String,
        deployment_id: u64,
        start_version: u64,
        end_version: u64,
        reason: DeploymentStatusReasonKind,
        description: String,
        canary_runs: u64,
        failed: u64,
        scheduler_errors: u64,
    },
    /// A deployment gave up on its new version; the live version did not change (new).
    DeploymentRolledBack {
        namespace_id: String,
        pipeline_id: String,
        deployment_id: u64,
        start_version: u64,
        end_version: u64,
        reason: DeploymentStatusReasonKind,
        description: String,
        canary_runs: u64,
        failed: u64,
        scheduler_errors: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        smoke_run_id: Option<u64>,
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

/// Every kind name, for `kinds` filters (docs/logs-and-events.md#the-stream).
pub const EVENT_KIND_NAMES: &[&str] = &[
    "created_namespace",
    "deleted_namespace",
    "created_pipeline",
    "deleted_pipeline",
    "enabled_pipeline",
    "disabled_pipeline",
    "started_deployment",
    "completed_deployment",
    "canary_run_started",
    "skipped_run",
    "notification_sent",
    "notification_failed",
    "deployment_promoted",
    "deployment_rolled_back",
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
            CanaryRunStarted { .. } => "canary_run_started",
            SkippedRun { .. } => "skipped_run",
            NotificationSent { .. } => "notification_sent",
            NotificationFailed { .. } => "notification_failed",
            DeploymentPromoted { .. } => "deployment_promoted",
            DeploymentRolledBack { .. } => "deployment_rolled_back",
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
            | CanaryRunStarted {
                namespace_id,
                pipeline_id,
                ..
            }
            | SkippedRun {
                namespace_id,
                pipeline_id,
                ..
            }
            | NotificationSent {
                namespace_id,
                pipeline_id,
                ..
            }
            | NotificationFailed {
                namespace_id,
                pipeline_id,
                ..
            }
            | DeploymentPromoted {
                namespace_id,
                pipeline_id,
                ..
            }
            | DeploymentRolledBack {
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

/// Query of the event stream `GET /api/events` (docs/logs-and-events.md#the-stream). Serializes to the query string a
/// client sends (absent and `false` fields are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventStreamQuery {
    /// Replay stored events first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub history: bool,
    /// With `history`: newest first, then the stream closes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reverse: bool,
    /// Replay events with ids strictly greater than this one, then continue live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Only these kinds (wire names, comma-separated on the wire); `None` = all.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "comma_separated"
    )]
    #[schemars(with = "Option<String>")]
    pub kinds: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<String>,
}

impl EventStreamQuery {
    /// Parses and validates decoded query pairs; errors name the parameter, e.g.
    /// `kinds: unknown event kind 'nope'`. Unknown parameters are ignored.
    pub fn from_query<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<EventStreamQuery, String> {
        let mut q = EventStreamQuery::default();
        for (key, value) in pairs {
            match key {
                "history" => q.history = super::parse_bool("history", value)?,
                "reverse" => q.reverse = super::parse_bool("reverse", value)?,
                "after" => {
                    if !is_event_id(value) {
                        return Err(format!("after: '{value}' is not an event id"));
                    }
                    q.after = Some(value.to_string());
                }
                "kinds" => {
                    let mut kinds = Vec::new();
                    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                        if !EVENT_KIND_NAMES.contains(&name) {
                            return Err(format!("kinds: unknown event kind '{name}'"));
                        }
                        kinds.push(name.to_string());
                    }
                    if kinds.is_empty() {
                        return Err("kinds: must name at least one event kind".into());
                    }
                    q.kinds = Some(kinds);
                }
                "namespace_id" => q.namespace_id = Some(value.to_string()),
                "pipeline_id" => q.pipeline_id = Some(value.to_string()),
                _ => {}
            }
        }
        if q.reverse && q.after.is_some() {
            return Err("reverse: cannot be combined with after".into());
        }
        if q.reverse && !q.history {
            return Err("reverse: requires history=true".into());
        }
        Ok(q)
    }

    /// Whether `event` passes the `kinds`, `namespace_id` and `pipeline_id` filters.
    pub fn matches(&self, event: &Event) -> bool {
        let (namespace, pipeline) = event.kind.scope();
        self.kinds
            .as_ref()
            .is_none_or(|k| k.iter().any(|n| n == event.kind.name()))
            && self
                .namespace_id
                .as_deref()
                .is_none_or(|n| namespace == Some(n))
            && self
                .pipeline_id
                .as_deref()
                .is_none_or(|p| pipeline == Some(p))
    }
}

/// Whether `id` has the form of an event id: a canonical lowercase hyphenated UUID.
pub fn is_event_id(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

mod comma_separated {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<String>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.join(",")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        Ok(s.map(|s| s.split(',').map(str::to_string).collect()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

    fn parse(q: &[(&str, &str)]) -> Result<EventStreamQuery, String> {
        EventStreamQuery::from_query(q.iter().copied())
    }

    #[test]
    fn stream_query_validation() {
        assert_eq!(parse(&[]).unwrap(), EventStreamQuery::default());
        let q = parse(&[("kinds", "queued_run, completed_run"), ("history", "true")]).unwrap();
        assert_eq!(
            q.kinds,
            Some(vec!["queued_run".to_string(), "completed_run".to_string()])
        );
        assert!(q.history);
        assert_eq!(
            parse(&[("kinds", "queued_run,nope")]).unwrap_err(),
            "kinds: unknown event kind 'nope'"
        );
        assert_eq!(
            parse(&[("kinds", ",")]).unwrap_err(),
            "kinds: must name at least one event kind"
        );
        assert_eq!(
            parse(&[("reverse", "true")]).unwrap_err(),
            "reverse: requires history=true"
        );
        let id = "0190a3b4-0000-7000-8000-000000000001";
        assert_eq!(
            parse(&[("reverse", "true"), ("history", "true"), ("after", id)]).unwrap_err(),
            "reverse: cannot be combined with after"
        );
        assert_eq!(parse(&[("after", id)]).unwrap().after.as_deref(), Some(id));
        assert!(parse(&[("after", "0190")]).is_err());
        assert!(parse(&[("after", &id.to_uppercase())]).is_err());
        assert!(parse(&[("history", "yes")]).is_err());
    }

    #[test]
    fn stream_query_filters() {
        let event = |kind| Event {
            id: "x".into(),
            kind,
            emitted: 0,
        };
        let queued = event(EventKind::QueuedRun {
            namespace_id: "ns1".into(),
            pipeline_id: "p1".into(),
            run_id: 1,
        });
        let role = event(EventKind::CreatedRole {
            role_id: "r".into(),
        });
        let all = EventStreamQuery::default();
        assert!(all.matches(&queued) && all.matches(&role));
        let ns = EventStreamQuery {
            namespace_id: Some("ns1".into()),
            ..Default::default()
        };
        assert!(ns.matches(&queued) && !ns.matches(&role));
        let other = EventStreamQuery {
            pipeline_id: Some("p2".into()),
            ..Default::default()
        };
        assert!(!other.matches(&queued));
        let kinds = EventStreamQuery {
            kinds: Some(vec!["created_role".into()]),
            ..Default::default()
        };
        assert!(!kinds.matches(&queued) && kinds.matches(&role));
    }
}
