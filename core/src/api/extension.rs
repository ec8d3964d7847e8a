//! Wire types of the extension REST API (docs/extensions.md#the-api-every-extension-serves), spoken between the server and every
//! extension, and of extension documentation (docs/extensions.md#install-enable-disable-uninstall).

use super::{OrderedMap, Permission, RegistryAuth, Role, StatusReason, Variable};
use crate::enums::{
    Action, ExtensionState, ExtensionStatus, SubscriptionStatus, SubscriptionStatusReasonKind,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An installed extension as registered (docs/extensions.md#install-enable-disable-uninstall). Secret-looking settings and the registry
/// password are shown as `********`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionRegistration {
    pub extension_id: String,
    pub image: String,
    #[serde(default)]
    pub registry_auth: Option<RegistryAuth>,
    #[serde(default)]
    pub settings: Vec<Variable>,
    pub created: u64,
    #[serde(default)]
    pub modified: u64,
    #[serde(default)]
    pub status: ExtensionStatus,
    #[serde(default)]
    pub additional_roles: Vec<String>,
}

/// An extension: its registration and what the server knows of its container (docs/extensions.md#install-enable-disable-uninstall).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Extension {
    pub registration: ExtensionRegistration,
    /// Where the server reaches it; empty when it is not running.
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub started: u64,
    #[serde(default)]
    pub state: ExtensionState,
    #[serde(default)]
    pub documentation: ExtensionDocumentation,
    /// Times the server's supervisor restarted it after it failed to start or stopped answering,
    /// since the server started it (new).
    #[serde(default)]
    pub restarts: u64,
    /// When the supervisor starts it again (Unix ms); 0 unless it is waiting to retry (new).
    #[serde(default)]
    pub retry_at: u64,
    /// Why the last start failed or why it was restarted; empty when it never failed (new).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_error: String,
}

/// `POST /api/extensions` (docs/extensions.md#install-enable-disable-uninstall).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallExtensionRequest {
    #[schemars(length(min = 3, max = 32), pattern(r"^[a-zA-Z0-9_-]+$"))]
    pub id: String,
    #[schemars(
        length(min = 1, max = 512),
        pattern(r"^[a-zA-Z0-9][a-zA-Z0-9._:/@-]*$")
    )]
    pub image: String,
    #[serde(default)]
    #[schemars(schema_with = "crate::api::variables_schema")]
    pub settings: OrderedMap,
    #[serde(default, deserialize_with = "super::objects::optional_object")]
    pub registry_auth: Option<RegistryAuth>,
    /// Ids of existing roles the extension's token holds besides its own.
    #[serde(default)]
    #[schemars(inner(length(min = 1)))]
    pub additional_roles: Vec<String>,
}

/// `PATCH /api/extensions/{id}` (docs/extensions.md#install-enable-disable-uninstall).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["enable"]))]
pub struct UpdateExtensionRequest {
    #[serde(default)]
    #[schemars(with = "bool")]
    pub enable: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionResponse {
    pub extension: Extension,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionsResponse {
    pub extensions: Vec<Extension>,
}

/// `extension:<id>`.
pub fn extension_role_id(extension_id: &str) -> String {
    format!("extension:{extension_id}")
}

/// The role of an extension's token (docs/auth.md#roles-that-always-exist).
pub fn extension_role(extension_id: &str) -> Role {
    use Action::{Delete, Read, Write};
    let resources = |r: &[&str]| r.iter().map(|s| (*s).to_owned()).collect();
    Role {
        id: extension_role_id(extension_id),
        description: format!("API access of extension '{extension_id}'."),
        permissions: vec![
            Permission {
                resources: vec![format!("extensions:{extension_id}"), "objects".into()],
                actions: vec![Read, Write, Delete],
            },
            Permission {
                resources: resources(&["namespaces:.*", "pipelines:.*", "runs"]),
                actions: vec![Read, Write],
            },
            Permission {
                resources: resources(&[
                    "configs",
                    "deployments",
                    "events",
                    "subscriptions",
                    "task_executions",
                ]),
                actions: vec![Read],
            },
        ],
        system_role: true,
    }
}

/// Whether a setting's value is stored encrypted and shown masked (docs/extensions.md#install-enable-disable-uninstall).
pub fn secret_looking_setting(key: &str) -> bool {
    let upper = key.to_uppercase();
    ["SECRET", "KEY", "TOKEN", "PASS", "PRIVATE", "CREDENTIAL"]
        .iter()
        .any(|word| upper.contains(word))
}

/// One documented parameter of an extension (`Parameter` of docs/extensions.md#install-enable-disable-uninstall).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionParameter {
    pub key: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub documentation: String,
}

/// `{config_params, pipeline_subscription_params, body}` (docs/extensions.md#install-enable-disable-uninstall).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionDocumentation {
    #[serde(default)]
    pub config_params: Vec<ExtensionParameter>,
    #[serde(default)]
    pub pipeline_subscription_params: Vec<ExtensionParameter>,
    #[serde(default)]
    pub body: String,
}

/// `GET /api/info` of an extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionInfoResponse {
    pub extension_id: String,
    pub documentation: ExtensionDocumentation,
}

/// `GET /api/debug` of an extension (and of `GET /api/extensions/{id}/debug`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionDebugResponse {
    pub info: String,
}

/// `POST /api/subscribe` of an extension: settings already resolved by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionSubscribeRequest {
    pub namespace_id: String,
    pub pipeline_id: String,
    pub pipeline_subscription_id: String,
    #[serde(default)]
    pub pipeline_subscription_params: OrderedMap,
}

/// `POST /api/schedule` of an extension: the instants a subscription is scheduled for between
/// `from` and `to` (RFC 3339, both included), at most `limit` (docs/extensions.md#backfilling-a-schedule, new).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionScheduleRequest {
    pub namespace_id: String,
    pub pipeline_id: String,
    pub pipeline_subscription_id: String,
    pub from: String,
    pub to: String,
    pub limit: u64,
}

/// The answer to [`ExtensionScheduleRequest`]: instants in order, RFC 3339 in UTC, and the
/// variables a run for each gets (`{"GOFER_EXTENSION_CRON_SCHEDULED_TIME": …}` for cron).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionScheduleResponse {
    pub instants: Vec<ScheduledInstant>,
}

/// One scheduled instant and the run variables that go with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduledInstant {
    pub at: String,
    #[serde(default)]
    pub variables: OrderedMap,
}

/// Most runs one backfill may start.
pub const BACKFILL_LIMIT: u64 = 10_000;

/// `POST P/subscriptions/{ext}/{sub}/backfill` body (docs/extensions.md#backfilling-a-schedule, new).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    /// Start of the window, RFC 3339 with an offset (`2026-12-01T00:00:00Z`).
    #[schemars(extend("format" = "date-time"))]
    pub from: String,
    /// End of the window, RFC 3339 with an offset; not before `from`.
    #[schemars(extend("format" = "date-time"))]
    pub to: String,
    /// Most runs this backfill may start (default 100, at most 10,000); more instants in the
    /// range are refused.
    #[serde(default)]
    #[schemars(range(min = 1, max = BACKFILL_LIMIT))]
    pub max: Option<u64>,
    /// List the instants without starting anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a backfill did, instant by instant, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackfillResponse {
    pub dry_run: bool,
    pub instants: Vec<BackfilledInstant>,
}

/// One instant of a backfill: the run started for it, or why none was (a `skip` overlap policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackfilledInstant {
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// `DELETE /api/subscribe` of an extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionUnsubscribeRequest {
    pub namespace_id: String,
    pub pipeline_id: String,
    pub pipeline_subscription_id: String,
}

/// `POST /api/external-event` of an extension: the webhook as received by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionExternalEventRequest {
    #[serde(default)]
    pub headers: OrderedMap,
    /// The body's bytes. Sent as a base64 string (compact: a 25 MB webhook is 33 MB on the
    /// wire, not the ~100 MB of an array of numbers); an array of byte numbers, as earlier
    /// versions sent, is read too (docs/decisions.md).
    #[serde(default, with = "body_bytes")]
    #[schemars(with = "String")]
    pub body: Vec<u8>,
}

/// `body` of [`ExtensionExternalEventRequest`]: base64 out, base64 or byte numbers in.
mod body_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::de::{self, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl<'de> Visitor<'de> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a base64 string or an array of byte numbers")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
                STANDARD.decode(v).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_any(Bytes)
    }
}

/// A pipeline's subscription to an extension (docs/extensions.md#subscriptions). Settings are stored as written
/// (references unresolved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Subscription {
    pub namespace_id: String,
    pub pipeline_id: String,
    pub extension_id: String,
    pub subscription_id: String,
    #[serde(default)]
    #[schemars(schema_with = "crate::api::variables_schema")]
    pub settings: OrderedMap,
    #[serde(default)]
    pub status: SubscriptionStatus,
    #[serde(default)]
    pub status_reason: Option<StatusReason<SubscriptionStatusReasonKind>>,
    /// When the extension last tried to start a run for it (Unix ms, 0 = never; new).
    #[serde(default)]
    pub last_fired: u64,
    /// Why that attempt failed; absent when it succeeded (new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// What the server reads from an extension's `GET /api/debug` info when the info is JSON (new,
/// optional): how its last attempt to start a run went for each subscription, so the server can
/// show a trigger that fails. Other fields of the info are ignored; an extension whose info is
/// not JSON, or has no `subscriptions`, reports nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtensionFireReports {
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionFireReport>,
}

/// One subscription's last firing, as its extension saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubscriptionFireReport {
    pub namespace_id: String,
    pub pipeline_id: String,
    pub subscription_id: String,
    /// Unix ms; 0 = not fired yet.
    #[serde(default)]
    pub last_fired: u64,
    /// `None` when the run was started.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// `POST …/pipelines/{p}/subscriptions` (docs/extensions.md#subscriptions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscriptionRequest {
    #[schemars(length(min = 3, max = 32), pattern(r"^[a-zA-Z0-9_-]+$"))]
    pub extension_id: String,
    #[schemars(length(min = 3, max = 32), pattern(r"^[a-zA-Z0-9_-]+$"))]
    pub subscription_id: String,
    #[serde(default)]
    #[schemars(schema_with = "crate::api::variables_schema")]
    pub settings: OrderedMap,
}

/// `PATCH …/pipelines/{p}/subscriptions/{ext}/{sub}` (docs/extensions.md#subscriptions): `active` or `disabled`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["status"]))]
pub struct UpdateSubscriptionRequest {
    #[serde(default)]
    #[schemars(with = "SubscriptionStatusChange")]
    pub status: Option<String>,
}

/// The statuses a subscription can be set to.
//
// The OpenAPI schema of `status` in `UpdateSubscriptionRequest`; the handler reads the string.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(
    dead_code,
    reason = "only describes the wire values in the OpenAPI document"
)]
enum SubscriptionStatusChange {
    Active,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubscriptionResponse {
    pub subscription: Subscription,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubscriptionsResponse {
    pub subscriptions: Vec<Subscription>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_event_bodies_are_base64_and_byte_arrays_still_read() {
        let request = ExtensionExternalEventRequest {
            headers: OrderedMap::default(),
            body: b"{\"a\":1}\xff".to_vec(),
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["body"], "eyJhIjoxff8=");
        let back: ExtensionExternalEventRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, request);
        let old: ExtensionExternalEventRequest =
            serde_json::from_str(r#"{"headers":{},"body":[104,105]}"#).unwrap();
        assert_eq!(old.body, b"hi");
        assert!(serde_json::from_str::<ExtensionExternalEventRequest>(r#"{"body":"!!"}"#).is_err());
    }
}
