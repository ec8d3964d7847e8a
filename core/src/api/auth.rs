//! Tokens, roles and permissions (docs/auth.md#tokens, docs/auth.md#roles-and-permissions, docs/auth.md, docs/api.md#roles-global-secrets-system-tokens).

use crate::enums::Action;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// docs/auth.md#tokens. The secret's hash is never part of this type, so it can never be serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Token {
    pub id: String,
    pub created: u64,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Unix ms after which the token is refused; 0 = never.
    #[serde(default)]
    pub expires: u64,
    #[serde(default)]
    pub disabled: bool,
    pub user: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Token {
    /// Whether the token is past its expiry at `now` (docs/auth.md#tokens: `expires != 0 && now > expires`).
    pub fn expired_at(&self, now: u64) -> bool {
        self.expires != 0 && now > self.expires
    }
}

/// docs/auth.md#roles-and-permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    #[schemars(schema_with = "resources_schema")]
    pub resources: Vec<String>,
    #[schemars(length(min = 1))]
    pub actions: Vec<Action>,
}

/// docs/auth.md#roles-and-permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Role {
    pub id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub permissions: Vec<Permission>,
    #[serde(default)]
    pub system_role: bool,
}

crate::enums::wire_enum!(
    /// A resource kind of a permission (docs/auth.md#roles-and-permissions).
    ResourceKind {
        All => "all",
        Configs => "configs",
        Deployments => "deployments",
        Events => "events",
        Extensions => "extensions",
        Namespaces => "namespaces",
        Objects => "objects",
        Permissions => "permissions",
        Pipelines => "pipelines",
        Runs => "runs",
        Secrets => "secrets",
        Subscriptions => "subscriptions",
        System => "system",
        TaskExecutions => "task_executions",
        Tokens => "tokens",
    }
);

impl ResourceKind {
    /// Only `namespaces`, `pipelines` and `extensions` take a target (docs/auth.md#roles-and-permissions).
    pub fn takes_target(self) -> bool {
        matches!(
            self,
            ResourceKind::Namespaces | ResourceKind::Pipelines | ResourceKind::Extensions
        )
    }
}

/// Longest permission target regex, in characters (like every regex the API takes).
pub const MAX_TARGET_CHARS: usize = 256;

/// The schema of a permission's `resources`: what [`ResourceSpec::parse`] accepts, as far as a
/// pattern can say it (kinds in any case, a target only on the kinds that take one; that the
/// target is a valid regular expression only the server checks).
fn resources_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    // `[aA][lL][lL]`: JSON Schema patterns have no case-insensitive flag.
    let any_case = |kind: &str| -> String {
        kind.chars()
            .map(|c| {
                if c.is_ascii_alphabetic() {
                    format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    let kinds = |targeted: bool| -> String {
        ResourceKind::ALL
            .iter()
            .filter(|k| !targeted || k.takes_target())
            .map(|k| any_case(&k.to_string()))
            .collect::<Vec<_>>()
            .join("|")
    };
    let pattern = format!(
        "^\\s*(?:{})\\s*$|^\\s*(?:{})\\s*:[\\s\\S]{{1,{MAX_TARGET_CHARS}}}$",
        kinds(false),
        kinds(true)
    );
    let names = ResourceKind::ALL
        .iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    schemars::json_schema!({
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "pattern": pattern},
        "description": format!(
            "`<kind>` or `<kind>:<regex>`. Kinds: {names}; only namespaces, pipelines and \
             extensions take a `:<regex>` target, of at most {MAX_TARGET_CHARS} characters \
             (docs/auth.md#roles-and-permissions)."
        )
    })
}

/// A parsed permission resource string: a kind and an optional target regex (not yet compiled;
/// the server compiles it anchored, docs/auth.md#how-a-request-is-matched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSpec {
    pub kind: ResourceKind,
    pub target: Option<String>,
}

impl ResourceSpec {
    /// Parses `<kind>` or `<kind>:<target>` (the target is everything after the first `:`).
    /// Errors are message fragments without the field name: `unknown resource kind 'x'`.
    pub fn parse(text: &str) -> Result<ResourceSpec, String> {
        let (kind_text, target) = match text.split_once(':') {
            Some((k, t)) => (k, Some(t.to_string())),
            None => (text, None),
        };
        let kind = ResourceKind::parse(kind_text.trim()).ok_or_else(|| {
            format!(
                "unknown resource kind '{kind_text}'; expected one of {}",
                ResourceKind::expected()
            )
        })?;
        if target.is_some() && !kind.takes_target() {
            return Err(format!(
                "resource '{text}': kind '{kind}' takes no target (only namespaces, pipelines \
                 and extensions do)"
            ));
        }
        if target.as_deref() == Some("") {
            return Err(format!("resource '{text}': the target after ':' is empty"));
        }
        if let Some(t) = &target
            && t.chars().count() > MAX_TARGET_CHARS
        {
            return Err(format!(
                "resource '{kind}:…': the target regex is {} characters; at most {MAX_TARGET_CHARS}",
                t.chars().count()
            ));
        }
        Ok(ResourceSpec { kind, target })
    }

    /// The canonical output form: lowercase kind, then `:<target>` when set (docs/auth.md#roles-and-permissions).
    pub fn canonical(&self) -> String {
        match &self.target {
            Some(t) => format!("{}:{t}", self.kind),
            None => self.kind.to_string(),
        }
    }
}

/// `POST /api/tokens`. `expires` is seconds from now; 0 = never.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["user"]))]
pub struct CreateTokenRequest {
    #[serde(default)]
    #[schemars(length(min = 1, max = 256))]
    pub user: String,
    /// Ids of existing roles.
    #[serde(default)]
    #[schemars(inner(length(min = 1)))]
    pub roles: Vec<String>,
    #[serde(default)]
    pub expires: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `PATCH /api/tokens/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["disabled"]))]
pub struct UpdateTokenRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub disabled: Option<bool>,
}

/// `201` answer of token creation and bootstrap: the plaintext secret, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreatedToken {
    pub token_details: Token,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenResponse {
    pub token: Token,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokensResponse {
    pub tokens: Vec<Token>,
}

/// `POST /api/roles`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["id"]))]
pub struct CreateRoleRequest {
    #[serde(default)]
    #[schemars(length(min = 3, max = 32), pattern(r"^[a-zA-Z0-9_-]+$"))]
    pub id: String,
    #[serde(default)]
    #[schemars(
        length(max = 4096),
        pattern(r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$")
    )]
    pub description: String,
    #[serde(default, deserialize_with = "super::objects::objects")]
    pub permissions: Vec<Permission>,
}

/// `PATCH /api/roles/{id}`: at least one field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("anyOf" = [
    {"required": ["description"], "properties": {"description": {"type": "string"}}},
    // `items` only so that client generators, which need it on every array, read the branch;
    // the property's own schema says what the items are.
    {"required": ["permissions"], "properties": {"permissions": {"type": "array", "items": {}}}},
]))]
pub struct UpdateRoleRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 4096),
        pattern(r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*$")
    )]
    pub description: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::objects::optional_objects"
    )]
    pub permissions: Option<Vec<Permission>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoleResponse {
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RolesResponse {
    pub roles: Vec<Role>,
}

/// The system roles of docs/auth.md#roles-that-always-exist that exist at every boot (extension and run roles are made
/// per extension and per run).
pub fn system_roles() -> Vec<Role> {
    use Action::{Delete, Read, Write};
    let perm = |resources: &[&str], actions: &[Action]| Permission {
        resources: resources.iter().map(|r| r.to_string()).collect(),
        actions: actions.to_vec(),
    };
    let all = || vec![perm(&["all"], &[Read, Write, Delete])];
    vec![
        Role {
            id: "admin".into(),
            description: "Full access to everything.".into(),
            permissions: all(),
            system_role: true,
        },
        Role {
            id: "bootstrap".into(),
            description: "The bootstrap token's role: full access to everything.".into(),
            permissions: all(),
            system_role: true,
        },
        Role {
            id: "user".into(),
            description: "Works with pipelines of the default namespace.".into(),
            permissions: vec![
                perm(
                    &[
                        "namespaces:default",
                        "pipelines:.*",
                        "configs",
                        "deployments",
                        "events",
                        "objects",
                        "runs",
                        "secrets",
                        "subscriptions",
                        "task_executions",
                    ],
                    &[Read, Write, Delete],
                ),
                perm(&["extensions:.*", "permissions"], &[Read]),
            ],
            system_role: true,
        },
        Role {
            id: "anonymous".into(),
            description: "Callers without a token: read pipelines and runs of default.".into(),
            permissions: vec![perm(
                &["namespaces:default", "pipelines:.*", "runs"],
                &[Read],
            )],
            system_role: true,
        },
    ]
}

/// The role of a run's API token (docs/auth.md#run-tokens): `run:<ns>:<p>:<run_id>`.
pub fn run_role(namespace: &str, pipeline: &str, run_id: u64) -> Role {
    use Action::{Read, Write};
    let ns = format!("namespaces:{namespace}");
    let p = format!("pipelines:{pipeline}");
    Role {
        id: run_role_id(namespace, pipeline, run_id),
        description: format!("API access of run {run_id} of pipeline '{namespace}/{pipeline}'."),
        permissions: vec![
            Permission {
                resources: vec![ns.clone(), p.clone(), "runs".into(), "objects".into()],
                actions: vec![Read, Write],
            },
            Permission {
                resources: vec![
                    ns,
                    p,
                    "configs".into(),
                    "deployments".into(),
                    "task_executions".into(),
                ],
                actions: vec![Read],
            },
        ],
        system_role: true,
    }
}

/// `run:<ns>:<p>:<run_id>`.
pub fn run_role_id(namespace: &str, pipeline: &str, run_id: u64) -> String {
    format!("run:{namespace}:{pipeline}:{run_id}")
}

/// Roles no token may be given through `POST /api/tokens` (docs/auth.md#tokens).
pub fn reserved_role(id: &str) -> bool {
    id == "bootstrap" || id.starts_with("extension:") || id.starts_with("run:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_strings_parse_and_print_canonically() {
        let r = ResourceSpec::parse("Namespaces:team-.*").unwrap();
        assert_eq!(r.kind, ResourceKind::Namespaces);
        assert_eq!(r.canonical(), "namespaces:team-.*");
        // The target is everything after the first ':'.
        let r = ResourceSpec::parse("pipelines:a:b").unwrap();
        assert_eq!(r.target.as_deref(), Some("a:b"));
        assert_eq!(ResourceSpec::parse("RUNS").unwrap().canonical(), "runs");
        assert!(
            ResourceSpec::parse("runs:x")
                .unwrap_err()
                .contains("takes no target")
        );
        assert!(
            ResourceSpec::parse("bogus")
                .unwrap_err()
                .contains("unknown resource kind")
        );
        assert!(
            ResourceSpec::parse("pipelines:")
                .unwrap_err()
                .contains("empty")
        );
    }

    #[test]
    fn token_hash_is_never_serialised_and_expiry_is_inclusive() {
        let t = Token {
            id: "x".into(),
            created: 1,
            metadata: BTreeMap::new(),
            expires: 10,
            disabled: false,
            user: "u".into(),
            roles: vec![],
        };
        assert!(!t.expired_at(10));
        assert!(t.expired_at(11));
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json.as_object().unwrap().len(), 7);
    }

    #[test]
    fn system_role_resources_all_parse() {
        for role in system_roles()
            .into_iter()
            .chain([run_role("default", "p", 1)])
        {
            for p in &role.permissions {
                for r in &p.resources {
                    ResourceSpec::parse(r).unwrap();
                }
            }
        }
        assert!(reserved_role("bootstrap") && reserved_role("run:a:b:1"));
        assert!(!reserved_role("admin"));
    }
}
