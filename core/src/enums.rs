//! Every enumeration of docs/pipelines.md#the-records. Values from clients match case-insensitively; the server always
//! emits lowercase snake_case (docs/pipelines.md#words).

/// Declares a string enum that serialises as snake_case and deserialises case-insensitively.
/// `Variant => "text" / "Wire"` gives a different spelling on the wire than in messages and
/// tables (the deployment enums, which Gofer 0.9 published capitalised).
macro_rules! wire_enum {
    (@pick $first:literal $(, $rest:literal)*) => {
        $first
    };
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal $(/ $wire:literal)?),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub enum $name {
            #[default]
            $($variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Case-insensitive parse of the wire spelling.
            pub fn parse(value: &str) -> Option<Self> {
                $(if value.eq_ignore_ascii_case($text) { return Some($name::$variant); })+
                None
            }

            /// The accepted spellings joined for error messages.
            pub fn expected() -> String {
                [$($text),+].join(", ")
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::parse(s).ok_or_else(|| format!("unknown value '{s}'; expected one of: {}", Self::expected()))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.wire())
            }
        }

        impl $name {
            /// The spelling on the wire: [`Self::as_str`], capitalised for the enums Gofer 0.9
            /// published that way (docs/api.md#differences-from-gofer-09s-document).
            pub fn wire(self) -> &'static str {
                match self { $($name::$variant => $crate::enums::wire_enum!(@pick $($wire,)? $text)),+ }
            }
        }

        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                let values: Vec<&str> = Self::ALL.iter().map(|v| v.wire()).collect();
                ::schemars::json_schema!({
                    "type": "string",
                    "enum": values,
                    "description": "Matched case-insensitively in requests; answers use exactly these spellings.",
                })
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow::<str> as ::serde::Deserialize>::deserialize(d)?;
                Self::parse(&text).ok_or_else(|| {
                    ::serde::de::Error::custom(format!(
                        "unknown value '{text}'; expected one of: {}",
                        Self::expected()
                    ))
                })
            }
        }
    };
}

pub(crate) use wire_enum;

wire_enum!(
    /// Pipeline metadata state.
    PipelineState { Unknown => "unknown", Active => "active", Disabled => "disabled" }
);
wire_enum!(
    /// Config version state (docs/pipelines.md#versions-and-deployments).
    ConfigState { Unknown => "unknown", Unreleased => "unreleased", Live => "live", Deprecated => "deprecated" }
);
wire_enum!(
    /// Deployment state.
    DeploymentState {
        Unknown => "unknown" / "Unknown", Running => "running" / "Running",
        Complete => "complete" / "Complete"
    }
);
wire_enum!(
    /// Deployment status.
    DeploymentStatus {
        Unknown => "unknown" / "Unknown", Failed => "failed" / "Failed",
        Successful => "successful" / "Successful"
    }
);
wire_enum!(
    /// How a deployment makes its version live (docs/pipelines.md#safe-deployments).
    DeploymentStrategy { Instant => "instant", Canary => "canary", Smoke => "smoke" }
);
wire_enum!(
    /// Deployment status reason.
    DeploymentStatusReasonKind {
        Unknown => "unknown" / "Unknown", CanaryBaked => "canary_baked", CanaryFailureRate => "canary_failure_rate",
        SmokeRunSucceeded => "smoke_run_succeeded", SmokeRunFailed => "smoke_run_failed",
        PromotedByHand => "promoted_by_hand", Aborted => "aborted"
    }
);
wire_enum!(
    /// What a new run does when one of the pipeline's runs is still pending or running
    /// (docs/runs.md#overlapping-runs).
    OverlapPolicy {
        Allow => "allow", Skip => "skip", Queue => "queue", CancelPrevious => "cancel_previous"
    }
);
wire_enum!(
    /// When a pipeline's notification is sent (docs/notifications.md).
    NotifyOn {
        Failure => "failure", Recovery => "recovery", Success => "success",
        LongRunning => "long_running"
    }
);
wire_enum!(
    /// The body a notification posts (docs/notifications.md).
    NotificationFormat { Json => "json", Slack => "slack" }
);
wire_enum!(
    /// Run state.
    RunState { Unknown => "unknown", Pending => "pending", Running => "running", Complete => "complete" }
);
wire_enum!(
    /// Run status.
    RunStatus { Unknown => "unknown", Failed => "failed", Successful => "successful", Cancelled => "cancelled" }
);
wire_enum!(
    /// Why a run ended the way it did.
    RunStatusReasonKind {
        Unknown => "unknown", AbnormalExit => "abnormal_exit", SchedulerError => "scheduler_error",
        FailedPrecondition => "failed_precondition", UserCancelled => "user_cancelled",
        AdminCancelled => "admin_cancelled", Timeout => "timeout"
    }
);
wire_enum!(
    /// Task execution state.
    TaskExecutionState {
        Unknown => "unknown", Processing => "processing", Waiting => "waiting", Running => "running",
        Complete => "complete"
    }
);
wire_enum!(
    /// Task execution status.
    TaskExecutionStatus {
        Unknown => "unknown", Failed => "failed", Successful => "successful", Cancelled => "cancelled",
        Skipped => "skipped"
    }
);
wire_enum!(
    /// Why a task execution ended the way it did.
    TaskExecutionStatusReasonKind {
        Unknown => "unknown", AbnormalExit => "abnormal_exit", SchedulerError => "scheduler_error",
        FailedPrecondition => "failed_precondition", Cancelled => "cancelled", Orphaned => "orphaned",
        Timeout => "timeout", OutOfMemory => "out_of_memory", Reused => "reused"
    }
);
wire_enum!(
    /// A `depends_on` condition (docs/runs.md#conditions). `unknown` exists in the type but is rejected at registration.
    RequiredParentStatus { Unknown => "unknown", Any => "any", Success => "success", Failure => "failure" }
);
wire_enum!(
    /// Where a variable came from (docs/runs.md#variables).
    VariableSource {
        Unknown => "unknown", PipelineConfig => "pipeline_config", System => "system",
        RunOptions => "run_options", Extension => "extension"
    }
);
wire_enum!(
    /// Extension registration status (docs/pipelines.md#the-records, docs/extensions.md#install-enable-disable-uninstall).
    ExtensionStatus { Unknown => "unknown", Enabled => "enabled", Disabled => "disabled" }
);
wire_enum!(
    /// Extension state (docs/pipelines.md#the-records, docs/extensions.md#install-enable-disable-uninstall).
    ExtensionState {
        Unknown => "unknown", Processing => "processing", Running => "running", Exited => "exited"
    }
);
wire_enum!(
    /// Subscription status (docs/pipelines.md#the-records, docs/extensions.md#subscriptions).
    SubscriptionStatus {
        Unknown => "unknown", Active => "active", Error => "error", Disabled => "disabled"
    }
);
wire_enum!(
    /// Why a subscription is in `error` (docs/pipelines.md#the-records).
    SubscriptionStatusReasonKind { Unknown => "unknown", NotFound => "not_found", Failed => "failed" }
);
wire_enum!(
    /// Permission action (docs/auth.md#roles-and-permissions).
    Action { Read => "read", Write => "write", Delete => "delete" }
);
wire_enum!(
    /// `--output` format of the CLI (docs/cli.md#global-flags).
    OutputFormat { Plain => "plain", Json => "json" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_in_lowercase_out() {
        for text in ["\"Success\"", "\"success\"", "\"SUCCESS\""] {
            let v: RequiredParentStatus = serde_json::from_str(text).unwrap();
            assert_eq!(v, RequiredParentStatus::Success);
            assert_eq!(serde_json::to_string(&v).unwrap(), "\"success\"");
        }
        let err = serde_json::from_str::<RunState>("\"sleepy\"").unwrap_err();
        assert!(err.to_string().contains("unknown value 'sleepy'"), "{err}");
    }
}
