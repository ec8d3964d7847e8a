use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `GET /api/system/metadata` (docs/api.md#roles-global-secrets-system-tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SystemMetadata {
    pub commit: String,
    pub semver: String,
}

/// `GET /api/system` and the answer of `PATCH /api/system`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct System {
    pub bootstrap_token_created: bool,
    pub ignore_pipeline_run_events: bool,
}

/// `PATCH /api/system`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["ignore_pipeline_run_events"]))]
pub struct UpdateSystemRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub ignore_pipeline_run_events: Option<bool>,
}

/// `GET /api/health` (docs/api.md#operations): `status` is `ok` or `error`; each check is `ok` or
/// `error: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    pub status: String,
    pub checks: BTreeMap<String, String>,
}
