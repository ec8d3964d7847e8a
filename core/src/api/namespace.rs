use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// docs/pipelines.md#the-records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Namespace {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub created: u64,
    #[serde(default)]
    pub modified: u64,
}

/// `POST /api/namespaces`. `name` defaults to the id when absent (docs/decisions.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["id"]))]
pub struct CreateNamespaceRequest {
    #[serde(default)]
    #[schemars(length(min = 3, max = 32), pattern(r"^[a-zA-Z0-9_-]+$"))]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        with = "String",
        length(min = 1, max = 128),
        pattern(r"^[^\u0000-\u001F\u007F-\u009F]*$")
    )]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        with = "String",
        length(max = 4096),
        pattern(r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$")
    )]
    pub description: Option<String>,
}

/// `PATCH /api/namespaces/{ns}`: at least one field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("anyOf" = [
    {"required": ["name"], "properties": {"name": {"type": "string"}}},
    {"required": ["description"], "properties": {"description": {"type": "string"}}},
]))]
pub struct UpdateNamespaceRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 128),
        pattern(r"^[^\u0000-\u001F\u007F-\u009F]*$")
    )]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 4096),
        pattern(r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$")
    )]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NamespaceResponse {
    pub namespace: Namespace,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NamespacesResponse {
    pub namespaces: Vec<Namespace>,
}
