//! Roles (docs/auth.md#roles-and-permissions, docs/api.md#roles-global-secrets-system-tokens).

use crate::http::Cx;
use crate::http::auth::compile_target;
use crate::http::reply::{ApiError, created, no_content, ok};
use gofer_core::api::{
    CreateRoleRequest, Permission, ResourceSpec, Role, RoleResponse, RolesResponse,
    UpdateRoleRequest,
};
use gofer_core::id::{self, IdKind};
use gofer_core::validate::check_description;
use warp::reply::Response;

pub async fn list(cx: Cx) -> Result<Response, ApiError> {
    let page = cx.page(200)?;
    let roles = cx.state.store.read(move |s| s.list_roles(page)).await?;
    Ok(ok(&RolesResponse { roles }))
}

/// Validates permissions and returns them with canonical resource strings (docs/auth.md#roles-and-permissions): kinds
/// lowercase, targets compiled to prove they are valid anchored regexes.
fn check_permissions(permissions: Vec<Permission>) -> Result<Vec<Permission>, ApiError> {
    let mut out = Vec::with_capacity(permissions.len());
    for (i, mut p) in permissions.into_iter().enumerate() {
        if p.resources.is_empty() {
            return Err(ApiError::invalid(format!(
                "permissions[{i}].resources: must name at least one resource"
            )));
        }
        if p.actions.is_empty() {
            return Err(ApiError::invalid(format!(
                "permissions[{i}].actions: must name at least one of read, write, delete"
            )));
        }
        for (j, resource) in p.resources.iter_mut().enumerate() {
            let field = format!("permissions[{i}].resources[{j}]");
            let spec = ResourceSpec::parse(resource)
                .map_err(|e| ApiError::invalid(format!("{field}: {e}")))?;
            if let Some(target) = &spec.target {
                compile_target(target).map_err(|e| {
                    ApiError::invalid(format!("{field}: resource '{resource}': {e}"))
                })?;
            }
            *resource = spec.canonical();
        }
        p.actions.sort();
        p.actions.dedup();
        out.push(p);
    }
    Ok(out)
}

/// `POST /api/roles` (admin) → 201.
pub async fn create(mut cx: Cx) -> Result<Response, ApiError> {
    let req: CreateRoleRequest = cx.json().await?;
    id::check("id", IdKind::Entity, &req.id)?;
    check_description("description", &req.description)?;
    let role = Role {
        id: req.id,
        description: req.description,
        permissions: check_permissions(req.permissions)?,
        system_role: false,
    };
    let role = cx.state.store.write(move |s| s.create_role(role)).await?;
    Ok(created(&RoleResponse { role }))
}

/// Role ids in paths: an entity id, or a per-extension or per-run system role id
/// (`extension:<id>`, `run:<ns>:<p>:<run>`). Anything else is 404 and never reaches storage.
fn role_id(cx: &Cx) -> Result<String, ApiError> {
    let id = cx.param("id");
    let parts: Vec<&str> = id.split(':').collect();
    let valid = match parts.as_slice() {
        [one] => IdKind::Entity.accepts(one),
        ["extension", ext] => IdKind::Entity.accepts(ext),
        ["run", ns, p, run] => {
            IdKind::Entity.accepts(ns)
                && IdKind::Entity.accepts(p)
                && run.parse::<u64>().is_ok_and(|n| n > 0)
        }
        _ => false,
    };
    if valid {
        Ok(id.to_string())
    } else {
        Err(ApiError::not_found(format!("role '{id}' not found")))
    }
}

pub async fn get(cx: Cx) -> Result<Response, ApiError> {
    let id = role_id(&cx)?;
    let role = cx.state.store.read(move |s| s.get_role(&id)).await?;
    Ok(ok(&RoleResponse { role }))
}

/// `PATCH /api/roles/{id}` (admin) → 200; system roles → 403.
pub async fn update(mut cx: Cx) -> Result<Response, ApiError> {
    let id = role_id(&cx)?;
    let req: UpdateRoleRequest = cx.json_or_default().await?;
    if req.description.is_none() && req.permissions.is_none() {
        return Err(ApiError::invalid(
            "body: at least one of description, permissions is required",
        ));
    }
    if let Some(d) = &req.description {
        check_description("description", d)?;
    }
    let permissions = req.permissions.map(check_permissions).transpose()?;
    let role = cx
        .state
        .store
        .write(move |s| s.update_role(&id, req.description, permissions))
        .await?;
    Ok(ok(&RoleResponse { role }))
}

/// `DELETE /api/roles/{id}` (admin) → 204; system roles → 403.
pub async fn delete(cx: Cx) -> Result<Response, ApiError> {
    let id = role_id(&cx)?;
    cx.state.store.write(move |s| s.delete_role(&id)).await?;
    Ok(no_content())
}
