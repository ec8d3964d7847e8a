//! Wire types of the extension REST API (SPEC §12.4), spoken between the server and every
//! extension, and of extension documentation (SPEC §3.9).

use super::OrderedMap;
use serde::{Deserialize, Serialize};

/// One documented parameter of an extension (`Parameter` of SPEC §3.9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionParameter {
    pub key: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub documentation: String,
}

/// `{config_params, pipeline_subscription_params, body}` (SPEC §3.9).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionDocumentation {
    #[serde(default)]
    pub config_params: Vec<ExtensionParameter>,
    #[serde(default)]
    pub pipeline_subscription_params: Vec<ExtensionParameter>,
    #[serde(default)]
    pub body: String,
}

/// `GET /api/info` of an extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionInfoResponse {
    pub extension_id: String,
    pub documentation: ExtensionDocumentation,
}

/// `GET /api/debug` of an extension (and of `GET /api/extensions/{id}/debug`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionDebugResponse {
    pub info: String,
}

/// `POST /api/subscribe` of an extension: settings already resolved by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionSubscribeRequest {
    pub namespace_id: String,
    pub pipeline_id: String,
    pub pipeline_subscription_id: String,
    #[serde(default)]
    pub pipeline_subscription_params: OrderedMap,
}

/// `DELETE /api/subscribe` of an extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExtensionUnsubscribeRequest {
    pub namespace_id: String,
    pub pipeline_id: String,
    pub pipeline_subscription_id: String,
}

/// `POST /api/external-event` of an extension: the webhook as received by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionExternalEventRequest {
    #[serde(default)]
    pub headers: OrderedMap,
    #[serde(default)]
    pub body: Vec<u8>,
}
