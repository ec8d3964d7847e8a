use super::{Event, StatusReason};
use crate::enums::*;
use schemars::JsonSchema;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// Pipeline metadata (docs/pipelines.md#the-records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Metadata {
    pub namespace_id: String,
    pub pipeline_id: String,
    pub created: u64,
    #[serde(default)]
    pub modified: u64,
    pub state: PipelineState,
}

/// `{metadata, config}` as answered by config registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Pipeline {
    pub metadata: Metadata,
    pub config: Config,
}

/// One immutable config version (docs/pipelines.md#writing-a-pipeline-config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Config {
    pub namespace_id: String,
    pub pipeline_id: String,
    pub version: u64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub parallelism: u64,
    #[serde(default)]
    pub timeout: u64,
    pub tasks: BTreeMap<String, Task>,
    /// What a start does while another run is in progress (docs/runs.md#overlapping-runs, new).
    #[serde(default)]
    pub overlap: OverlapPolicy,
    /// Who is told when runs fail, recover, succeed or run long (docs/notifications.md, new).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<Notification>,
    pub state: ConfigState,
    pub registered: u64,
    #[serde(default)]
    pub deprecated: u64,
}

/// A task of a config version (docs/pipelines.md#writing-a-pipeline-config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Task {
    pub id: String,
    #[serde(default)]
    pub description: String,
    pub image: String,
    #[serde(default)]
    pub registry_auth: Option<RegistryAuth>,
    #[serde(default)]
    pub depends_on: BTreeMap<String, RequiredParentStatus>,
    #[serde(default)]
    pub variables: Vec<Variable>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub inject_api_token: bool,
    #[serde(default)]
    pub always_pull_newest_image: bool,
    #[serde(default)]
    pub timeout: u64,
    #[serde(default)]
    pub retries: Retries,
    /// CPU and memory limits (docs/pipelines.md#task-resources); absent when not set (new).
    #[serde(
        default,
        skip_serializing_if = "crate::resources::TaskResources::is_empty"
    )]
    pub resources: crate::resources::TaskResources,
}

impl Task {
    /// The task as the API shows it: a literal registry password is replaced by `********`; a secret
    /// reference is shown as written (docs/pipelines.md#writing-a-pipeline-config).
    pub fn redacted(&self) -> Task {
        let mut task = self.clone();
        if let Some(auth) = task.registry_auth.as_mut()
            && !crate::validate::is_reference(&auth.pass)
        {
            auth.pass = "********".to_string();
        }
        task
    }
}

impl Config {
    /// The config as the API shows it (registry passwords redacted).
    pub fn redacted(&self) -> Config {
        let mut config = self.clone();
        for task in config.tasks.values_mut() {
            *task = task.redacted();
        }
        config
    }
}

/// One notification of a pipeline (docs/notifications.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Notification {
    pub on: Vec<NotifyOn>,
    /// A webhook URL, or a `pipeline_secret{{…}}` / `global_secret{{…}}` reference to one.
    pub target: String,
    #[serde(default)]
    pub format: NotificationFormat,
    /// Seconds after which a running run is `long_running`; 0 when not asked for.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub long_running_after: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A notification's target as events, logs and the CLI show it: a secret reference as written,
/// a URL as its scheme and host only (its path and query often carry the credential;
/// docs/notifications.md#delivery).
pub fn shown_notification_target(target: &str) -> String {
    if crate::validate::parse_reference(target).is_some() {
        return target.to_string();
    }
    match target.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            // Credentials in the authority are dropped too.
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}")
        }
        None => "(invalid target)".to_string(),
    }
}

/// A notification as sent: checked by the validator so that every problem names its field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationInput {
    #[serde(default)]
    pub on: Vec<String>,
    #[serde(default)]
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_running_after: Option<u64>,
}

/// `{key, value, source}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Variable {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub source: VariableSource,
}

/// Credentials for a private registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryAuth {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub pass: String,
}

/// Extra attempts and the delay between them (docs/pipelines.md#writing-a-pipeline-config, docs/runs.md#retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Retries {
    #[serde(default)]
    pub count: u64,
    #[serde(default = "default_backoff")]
    pub backoff: u64,
}

fn default_backoff() -> u64 {
    10
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            count: 0,
            backoff: default_backoff(),
        }
    }
}

/// Deployment record (docs/pipelines.md#versions-and-deployments,
/// docs/pipelines.md#safe-deployments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Deployment {
    pub namespace_id: String,
    pub pipeline_id: String,
    pub deployment_id: u64,
    pub start_version: u64,
    pub end_version: u64,
    pub started: u64,
    #[serde(default)]
    pub ended: u64,
    pub state: DeploymentState,
    pub status: DeploymentStatus,
    #[serde(default)]
    pub status_reason: Option<StatusReason<DeploymentStatusReasonKind>>,
    #[serde(default)]
    pub logs: Vec<Event>,
    /// `instant` for every deployment made without a strategy (new).
    #[serde(default)]
    pub strategy: crate::enums::DeploymentStrategy,
    /// A canary's rules and runs so far (new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<super::CanaryProgress>,
    /// A smoke deployment's run (new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoke: Option<super::SmokeProgress>,
}

// ---- requests ---------------------------------------------------------------------------------

/// `POST P/configs` body (docs/pipelines.md#writing-a-pipeline-config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterConfigRequest {
    #[serde(deserialize_with = "super::objects::object")]
    pub config: PipelineConfigInput,
}

/// A pipeline config as clients send it (docs/pipelines.md#writing-a-pipeline-config). The server
/// checks it as a whole and names every problem in one 400.
//
// Fields the validator checks for presence default to empty when decoding, so that a missing one
// is reported by `crate::validate` with its field name, together with the other problems.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// The document states the validator's rules that JSON Schema can express (docs/api.md), so a
// generated client knows them; the rest (the DAG, the id matching the path) only the server checks.
#[schemars(extend("required" = ["id", "name", "tasks"]))]
pub struct PipelineConfigInput {
    #[serde(default)]
    #[schemars(length(min = 3, max = 32), pattern(r"^[a-zA-Z0-9_-]+$"))]
    pub id: String,
    #[serde(default)]
    #[schemars(
        length(min = 1, max = 128),
        pattern(r"^[^\u0000-\u001F\u007F-\u009F]*$")
    )]
    pub name: String,
    // null reads as empty, so the schema allows it (as for every null_as_default field below
    // but `tasks` and `image`, whose empty value the validator refuses anyway).
    #[serde(default, deserialize_with = "null_as_default")]
    #[schemars(
        with = "Option<String>",
        length(max = 4096),
        pattern(r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$")
    )]
    pub description: String,
    #[serde(default)]
    pub parallelism: u64,
    #[serde(default)]
    pub timeout: u64,
    #[serde(default, deserialize_with = "super::objects::objects_or_null")]
    #[schemars(length(min = 1))]
    pub tasks: Vec<TaskInput>,
    /// `allow` (default), `skip`, `queue` or `cancel_previous`, checked by the validator so a
    /// bad value is named (docs/runs.md#overlapping-runs, new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<String>,
    /// Webhooks told about failures, recoveries, successes and long runs (docs/notifications.md, new).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::objects::objects"
    )]
    pub notifications: Vec<NotificationInput>,
}

/// A task as SDKs send it. `depends_on` keeps raw condition strings so that an invalid one is
/// reported by the validator with the task and parent named (docs/pipelines.md#writing-a-pipeline-config rule 7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["id", "image"]))]
pub struct TaskInput {
    #[serde(default)]
    #[schemars(length(min = 1, max = 64), pattern(r"^[a-zA-Z0-9_-]+$"))]
    pub id: String,
    // null reads as empty, so the schema allows it (as for every null_as_default field below
    // but `tasks` and `image`, whose empty value the validator refuses anyway).
    #[serde(default, deserialize_with = "null_as_default")]
    #[schemars(
        with = "Option<String>",
        length(max = 4096),
        pattern(r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$")
    )]
    pub description: String,
    /// A container image reference; it must contain more than white space.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schemars(pattern(r"\S"))]
    pub image: String,
    #[serde(default, deserialize_with = "super::objects::optional_object")]
    pub registry_auth: Option<RegistryAuth>,
    #[serde(default, deserialize_with = "null_as_default")]
    #[schemars(with = "Option<OrderedMap>")]
    pub depends_on: OrderedMap,
    #[serde(default, deserialize_with = "null_as_default")]
    #[schemars(schema_with = "crate::api::nullable_variables_schema")]
    pub variables: OrderedMap,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default, deserialize_with = "null_as_default")]
    #[schemars(with = "Option<bool>")]
    pub inject_api_token: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    #[schemars(with = "Option<bool>")]
    pub always_pull_newest_image: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    #[schemars(with = "Option<u64>")]
    pub timeout: u64,
    #[serde(default, deserialize_with = "super::objects::optional_object")]
    pub retries: Option<RetriesInput>,
    /// `{cpus, memory}` as sent: checked by the validator so a bad value is named (new).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::objects::optional_object"
    )]
    pub resources: Option<ResourcesInput>,
}

/// `resources` as sent: `cpus` a number of cores, `memory` bytes or a string such as "512Mi"
/// (docs/pipelines.md#task-resources).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("anyOf" = [
        {"type": "number", "minimum": 0.0005, "maximum": 1_000_000},
        {"type": "string", "description": "a number of cores, such as \"0.5\""},
        {"type": "null"}
    ]), description = "Cores: a positive number such as 0.5 or 2 (or the same as a string).")]
    pub cpus: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("anyOf" = [
        {"type": "integer", "minimum": 6_291_456},
        {
            "type": "string",
            "description": "bytes with a suffix, such as \"512Mi\" or \"2Gi\"",
            "pattern": "^\\s*(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:Ki|Mi|Gi|Ti|k|K|M|G|T)?B?\\s*$"
        },
        {"type": "null"}
    ]), description = "Bytes, at least 6 MiB: a whole number or a string such as \"512Mi\".")]
    pub memory: Option<serde_json::Value>,
}

/// `retries` as sent: both fields optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetriesInput {
    #[serde(default)]
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<u64>,
}

/// `{"<p>": {state}}` for `PATCH P`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePipelineRequest {
    #[schemars(with = "PipelineStateChange")]
    pub state: PipelineState,
}

/// The states a pipeline can be set to.
//
// The OpenAPI schema of `state` in `UpdatePipelineRequest`.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(
    dead_code,
    reason = "only describes the wire values in the OpenAPI document"
)]
enum PipelineStateChange {
    Active,
    Disabled,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A JSON object of string values that keeps its input order (task variables are kept "in input
/// order", docs/pipelines.md#writing-a-pipeline-config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderedMap(pub Vec<(String, String)>);

impl OrderedMap {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for OrderedMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        OrderedMap(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl Serialize for OrderedMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl schemars::JsonSchema for OrderedMap {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OrderedMap".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "String values by key, in the order given."
        })
    }
}

/// The schema of an [`OrderedMap`] of variables or settings in a request: the variable key rule
/// ([`crate::id::variable_key_problem`]; the 256 is bytes of UTF-8, which `maxLength`, counting
/// characters, can only bound from above).
pub fn variables_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "additionalProperties": {"type": "string"},
        "propertyNames": {
            "minLength": 1,
            "maxLength": 256,
            "pattern": "^[^=\\s\\u0000]+$"
        },
        "description": "String values by key, in the order given. Keys are 1-256 bytes of \
                        UTF-8 without '=', NUL or whitespace."
    })
}

/// [`variables_schema`], or `null` (read as no variables).
pub fn nullable_variables_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"anyOf": [variables_schema(generator), {"type": "null"}]})
}

impl<'de> Deserialize<'de> for OrderedMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedMap, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(OrderedMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

// ---- responses --------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PipelineResponse {
    pub pipeline: Metadata,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PipelinesResponse {
    pub pipelines: Vec<Metadata>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegisterConfigResponse {
    pub pipeline: Pipeline,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigResponse {
    pub config: Config,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigsResponse {
    pub configs: Vec<Config>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeploymentResponse {
    pub deployment: Deployment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeploymentsResponse {
    pub deployments: Vec<Deployment>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_parses() {
        let body = r#"{"config": {
          "id": "simple", "name": "Simple Pipeline", "description": null, "parallelism": 0, "timeout": 3600,
          "tasks": [{
            "id": "build", "description": null, "image": "ubuntu:latest",
            "registry_auth": {"user": "u", "pass": "pipeline_secret{{registry_pass}}"},
            "depends_on": {"checkout": "Success"},
            "variables": {"Z": "1", "A": "2"},
            "entrypoint": null, "command": ["bash", "-c", "make"],
            "inject_api_token": false, "always_pull_newest_image": true,
            "timeout": 600, "retries": {"count": 2, "backoff": 10}
          }]
        }}"#;
        let req: RegisterConfigRequest = serde_json::from_str(body).unwrap();
        let task = &req.config.tasks[0];
        assert_eq!(task.variables.0[0].0, "Z", "input order kept");
        assert_eq!(task.depends_on.0[0], ("checkout".into(), "Success".into()));
        assert_eq!(task.retries.unwrap().count, 2);
    }

    #[test]
    fn registry_password_redacted_unless_reference() {
        let mut task = Task {
            id: "t".into(),
            description: String::new(),
            image: "i".into(),
            registry_auth: Some(RegistryAuth {
                user: "u".into(),
                pass: "hunter2".into(),
            }),
            depends_on: Default::default(),
            variables: vec![],
            entrypoint: None,
            command: None,
            inject_api_token: false,
            always_pull_newest_image: false,
            timeout: 0,
            retries: Retries::default(),
            resources: Default::default(),
        };
        assert_eq!(task.redacted().registry_auth.unwrap().pass, "********");
        task.registry_auth.as_mut().unwrap().pass = "pipeline_secret{{p}}".into();
        assert_eq!(
            task.redacted().registry_auth.unwrap().pass,
            "pipeline_secret{{p}}"
        );
    }
}
