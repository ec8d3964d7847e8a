//! API wire types (docs/pipelines.md#the-records, docs/api.md). Used unchanged by the server, the SDK, `--output json` and the
//! console. Optional fields added after 0.9 carry `#[serde(default)]`.

mod auth;
mod deployment;
mod diff;
mod event;
mod extension;
mod list;
mod namespace;
mod objects;
mod pipeline;
mod run;
mod store;
mod system;

pub use auth::*;
pub use deployment::*;
pub use diff::*;
pub use event::*;
pub use extension::*;
pub use list::*;
pub use namespace::*;
pub use pipeline::*;
pub use run::*;
pub use store::*;
pub use system::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The one error body every failed request answers with (docs/api.md#common-rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub request_id: String,
    pub message: String,
}

/// `{reason, description}` as used by deployments, runs and task executions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "StatusReasonOf{K}")]
pub struct StatusReason<K> {
    pub reason: K,
    #[serde(default)]
    pub description: String,
}

/// The header every client sends and the server checks (docs/auth.md#order-of-checks).
pub const API_VERSION_HEADER: &str = "gofer-api-version";
/// The only API version there is.
pub const API_VERSION: &str = "v0";
