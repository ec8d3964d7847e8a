//! Objects and secrets (docs/objects-and-secrets.md, docs/api.md#objects–docs/api.md#roles-global-secrets-system-tokens). Secret values travel only in a put request
//! and in a get answer that asked for them (`include_secret=true`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Object metadata (docs/objects-and-secrets.md); the bytes are served raw, never inside JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Object {
    pub key: String,
    /// Unix ms of the put that wrote the current bytes.
    pub created: u64,
}

/// `{"object": Object}`: the answer of an object put.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ObjectResponse {
    pub object: Object,
}

/// `{"objects": [Object]}`, ordered by `created` ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ObjectsResponse {
    pub objects: Vec<Object>,
}

/// Secret metadata (docs/objects-and-secrets.md). `namespaces` is `[<namespace id>]` for a pipeline secret and
/// the list of namespace regexes for a global one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Secret {
    pub key: String,
    pub namespaces: Vec<String>,
    pub created: u64,
}

/// `POST P/secrets` (docs/api.md#secrets-and-subscriptions row 51).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PutPipelineSecretRequest {
    #[schemars(length(min = 1, max = 128), pattern(r"^[a-zA-Z0-9._-]+$"), extend("not" = {"enum": [".", ".."]}))]
    pub key: String,
    #[schemars(length(min = 1, max = 65536))]
    pub content: String,
    #[serde(default)]
    pub force: bool,
}

/// `POST /api/secrets/global` (docs/api.md#roles-global-secrets-system-tokens row 65). `namespaces` are regexes, each fully matched
/// against a namespace id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PutGlobalSecretRequest {
    #[schemars(length(min = 1, max = 128), pattern(r"^[a-zA-Z0-9._-]+$"), extend("not" = {"enum": [".", ".."]}))]
    pub key: String,
    #[schemars(length(min = 1, max = 65536))]
    pub content: String,
    #[schemars(length(min = 1), inner(length(min = 1, max = 256)))]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub force: bool,
}

/// `{"secret": Secret}`: the answer of a secret put (metadata only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretResponse {
    pub secret: Secret,
}

/// `GET …/secrets/{key}`: `secret` is the value only when `include_secret=true` was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GetSecretResponse {
    pub metadata: Secret,
    pub secret: Option<String>,
}

/// `{"secrets": [Secret]}` (metadata only), ordered by `created` ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretsResponse {
    pub secrets: Vec<Secret>,
}

/// Largest secret value (docs/pipelines.md#identifiers: 1 byte–64 KiB).
pub const MAX_SECRET_BYTES: usize = 64 * 1024;
