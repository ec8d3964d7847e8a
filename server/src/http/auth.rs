//! Authentication and authorization (docs/auth.md): secrets and their hashes, compiled roles, and
//! [`Authenticator`], the cache that makes checking a token cost a hash and a map lookup.
//!
//! The decision itself is made in one place, [`super::authorize`], from the route's declared
//! [`Access`]; this module only knows how to find a token and evaluate permissions.

use super::reply::ApiError;
use super::router::{Access, Params, Res};
use crate::store::{StoreHandle, StoreResult};
use gofer_core::api::{ResourceKind, ResourceSpec, Role, Token};
use gofer_core::enums::Action;
use regex::Regex;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// At most this many tokens are cached; beyond that the cache starts over (it refills on use).
const MAX_CACHED_TOKENS: usize = 10_000;

/// Compiles a permission target anchored (docs/auth.md#how-a-request-is-matched): `^(?:<target>)$`.
pub fn compile_target(target: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(&format!("^(?:{target})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("'{target}' is not a valid regular expression: {e}"))
}

/// One resource of a permission, ready to match.
#[derive(Debug)]
struct CompiledResource {
    kind: ResourceKind,
    target: Option<Regex>,
}

#[derive(Debug)]
struct CompiledPermission {
    resources: Vec<CompiledResource>,
    actions: Vec<Action>,
}

/// A role with its regexes compiled once.
#[derive(Debug)]
pub struct CompiledRole {
    pub id: String,
    /// `admin` and `bootstrap` pass every route (docs/auth.md#how-a-request-is-matched).
    admin: bool,
    permissions: Vec<CompiledPermission>,
}

impl CompiledRole {
    /// Compiles `role`; resources that do not parse (never stored by the API) are skipped with a
    /// warning rather than failing every request.
    pub fn compile(role: &Role) -> CompiledRole {
        let permissions = role
            .permissions
            .iter()
            .map(|p| CompiledPermission {
                actions: p.actions.clone(),
                resources: p
                    .resources
                    .iter()
                    .filter_map(|text| {
                        let parsed = ResourceSpec::parse(text).and_then(|spec| {
                            let target = spec.target.as_deref().map(compile_target).transpose()?;
                            Ok(CompiledResource {
                                kind: spec.kind,
                                target,
                            })
                        });
                        match parsed {
                            Ok(r) => Some(r),
                            Err(e) => {
                                tracing::warn!(role = %role.id, error = %e, "ignoring a stored resource");
                                None
                            }
                        }
                    })
                    .collect(),
            })
            .collect();
        CompiledRole {
            id: role.id.clone(),
            admin: role.id == "admin" || role.id == "bootstrap",
            permissions,
        }
    }

    /// Whether this role grants `action` on every resource of `required` (docs/auth.md#how-a-request-is-matched).
    fn satisfies(&self, action: Action, required: &[(ResourceKind, Option<&str>)]) -> bool {
        required.iter().all(|(kind, id)| {
            self.permissions.iter().any(|p| {
                p.actions.contains(&action)
                    && p.resources.iter().any(|r| {
                        r.kind == ResourceKind::All
                            || (r.kind == *kind
                                && match (&r.target, id) {
                                    (Some(re), Some(id)) => re.is_match(id),
                                    _ => true,
                                })
                    })
            })
        })
    }
}

/// The roles in force, by id.
pub type RoleMap = HashMap<String, Arc<CompiledRole>>;

/// What a request proved about its caller: the roles it holds (unknown role ids dropped,
/// docs/auth.md#roles-and-permissions).
#[derive(Debug, Clone, Default)]
pub struct Grants {
    roles: Vec<Arc<CompiledRole>>,
}

impl Grants {
    /// The grants of `role_ids` under `roles`.
    pub fn of(role_ids: &[String], roles: &RoleMap) -> Grants {
        Grants {
            roles: role_ids
                .iter()
                .filter_map(|id| roles.get(id).cloned())
                .collect(),
        }
    }

    /// Full access: the dev-mode bypass (docs/auth.md#without-a-token).
    pub fn admin() -> Grants {
        static ADMIN: std::sync::LazyLock<Arc<CompiledRole>> = std::sync::LazyLock::new(|| {
            Arc::new(CompiledRole {
                id: "admin".into(),
                admin: true,
                permissions: Vec::new(),
            })
        });
        Grants {
            roles: vec![ADMIN.clone()],
        }
    }

    /// Holds `admin` or `bootstrap`.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r.admin)
    }

    /// Admins pass; otherwise one role must satisfy every required resource (docs/auth.md#how-a-request-is-matched).
    pub fn allows(&self, action: Action, required: &[(ResourceKind, Option<&str>)]) -> bool {
        self.is_admin() || self.roles.iter().any(|r| r.satisfies(action, required))
    }
}

/// The resources a route requires, with the path ids as targets.
pub fn required<'a>(resources: &[Res], params: &'a Params) -> Vec<(ResourceKind, Option<&'a str>)> {
    resources
        .iter()
        .map(|r| match r {
            Res::Namespaces => (ResourceKind::Namespaces, None),
            Res::Namespace => (ResourceKind::Namespaces, params.get("ns")),
            Res::Pipelines => (ResourceKind::Pipelines, None),
            Res::Pipeline => (ResourceKind::Pipelines, params.get("p")),
            Res::Configs => (ResourceKind::Configs, None),
            Res::Deployments => (ResourceKind::Deployments, None),
            Res::Events => (ResourceKind::Events, None),
            Res::Extensions => (ResourceKind::Extensions, None),
            Res::Extension => (ResourceKind::Extensions, params.get("id")),
            Res::Objects => (ResourceKind::Objects, None),
            Res::Permissions => (ResourceKind::Permissions, None),
            Res::Runs => (ResourceKind::Runs, None),
            Res::Secrets => (ResourceKind::Secrets, None),
            Res::Subscriptions => (ResourceKind::Subscriptions, None),
            Res::System => (ResourceKind::System, None),
            Res::TaskExecutions => (ResourceKind::TaskExecutions, None),
            Res::Tokens => (ResourceKind::Tokens, None),
        })
        .collect()
}

/// The 403 message of a failed permission match: names the action and resources.
pub fn denied(action: Action, required: &[(ResourceKind, Option<&str>)]) -> ApiError {
    let list: Vec<String> = required
        .iter()
        .map(|(kind, id)| match id {
            Some(id) => format!("{kind}:{id}"),
            None => kind.to_string(),
        })
        .collect();
    ApiError::forbidden(format!(
        "permission denied: this route requires {action} on {}",
        list.join(", ")
    ))
}

/// Whether `access` lets callers without a token in with the `anonymous` role (docs/auth.md#without-a-token).
pub fn anonymous_allowed(access: Access) -> bool {
    matches!(
        access,
        Access::Perm {
            anonymous: true,
            ..
        }
    )
}

#[derive(Default)]
struct Cache {
    /// The store's auth generation this cache reflects; `None` before the first load.
    generation: Option<u64>,
    roles: Arc<RoleMap>,
    /// Tokens by secret hash.
    tokens: HashMap<String, Arc<Token>>,
}

/// Finds tokens by secret and holds every role compiled. Both are cached until the store's auth
/// generation changes (any token or role write), so the common request costs one SHA-256 and two
/// map lookups under a read lock. Unknown secrets are not cached (they would let anyone grow the
/// cache) and always reach the store.
#[derive(Default)]
pub struct Authenticator {
    cache: RwLock<Cache>,
}

impl Authenticator {
    /// The token whose secret hashes to `hash` (if any) and the roles in force.
    pub async fn resolve(
        &self,
        store: &StoreHandle,
        hash: Option<&str>,
    ) -> StoreResult<(Option<Arc<Token>>, Arc<RoleMap>)> {
        let generation = store.blocking().auth_generation();
        {
            let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
            if cache.generation == Some(generation) {
                match hash {
                    None => return Ok((None, cache.roles.clone())),
                    Some(h) => {
                        if let Some(token) = cache.tokens.get(h) {
                            return Ok((Some(token.clone()), cache.roles.clone()));
                        }
                    }
                }
            }
        }
        let stale = {
            let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
            cache.generation != Some(generation)
        };
        let owned = hash.map(str::to_string);
        let (generation, token, roles) = store
            .read(move |s| {
                // Read the generation first: a write that lands after it makes this load look
                // stale, never fresh.
                let generation = s.auth_generation();
                let token = owned.as_deref().map(|h| s.token_by_hash(h)).transpose()?;
                let roles = if stale { Some(s.all_roles()?) } else { None };
                Ok((generation, token.flatten(), roles))
            })
            .await?;
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if let Some(roles) = roles {
            let compiled: RoleMap = roles
                .iter()
                .map(|r| (r.id.clone(), Arc::new(CompiledRole::compile(r))))
                .collect();
            if cache.generation.is_none_or(|g| g <= generation) {
                cache.generation = Some(generation);
                cache.roles = Arc::new(compiled);
                cache.tokens.clear();
            } else {
                // A newer load won the race; use what we read for this request only.
                return Ok((token.map(Arc::new), Arc::new(compiled)));
            }
        }
        let token = token.map(Arc::new);
        if let (Some(h), Some(t)) = (hash, &token)
            && cache.generation == Some(generation)
        {
            if cache.tokens.len() >= MAX_CACHED_TOKENS {
                cache.tokens.clear();
            }
            cache.tokens.insert(h.to_string(), t.clone());
        }
        Ok((token, cache.roles.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_anchored() {
        let role = Role {
            id: "r".into(),
            description: String::new(),
            permissions: vec![gofer_core::api::Permission {
                resources: vec!["namespaces:team-.*".into(), "pipelines".into()],
                actions: vec![Action::Read],
            }],
            system_role: false,
        };
        let c = CompiledRole::compile(&role);
        let ok = |ns: &str| {
            c.satisfies(
                Action::Read,
                &[
                    (ResourceKind::Namespaces, Some(ns)),
                    (ResourceKind::Pipelines, Some("p")),
                ],
            )
        };
        assert!(ok("team-a"));
        assert!(!ok("xteam-a"));
        assert!(!c.satisfies(Action::Write, &[(ResourceKind::Namespaces, Some("team-a"))]));
        // A route resource the role does not mention is not granted.
        assert!(!c.satisfies(Action::Read, &[(ResourceKind::Runs, None)]));
        assert!(compile_target("(").is_err());
    }
}
