use crate::http::Cx;
use crate::http::reply::{ApiError, created, no_content, ok};
use gofer_core::api::{
    CreateNamespaceRequest, Namespace, NamespaceResponse, NamespacesResponse,
    UpdateNamespaceRequest,
};
use gofer_core::api::{Page, ResourceKind};
use gofer_core::enums::Action;
use gofer_core::id::{self, IdKind};
use gofer_core::validate::{check_description, check_name};
use warp::reply::Response;

/// `GET /api/namespaces`: only the namespaces the caller could read (docs/auth.md#how-a-request-is-matched). The filter
/// applies before pagination, so pages hold readable namespaces only.
pub async fn list(cx: Cx) -> Result<Response, ApiError> {
    let page = cx.page(200)?;
    let grants = cx.caller.grants.clone();
    let namespaces = if grants.is_admin() {
        cx.state
            .store
            .read(move |s| s.list_namespaces(page))
            .await?
    } else {
        let all = cx
            .state
            .store
            .read(|s| s.list_namespaces(Page::ALL))
            .await?;
        let readable: Vec<Namespace> = all
            .into_iter()
            .filter(|n| {
                grants.allows(
                    Action::Read,
                    &[(ResourceKind::Namespaces, Some(n.id.as_str()))],
                )
            })
            .collect();
        page.apply(readable)
    };
    Ok(ok(&NamespacesResponse { namespaces }))
}

pub async fn create(mut cx: Cx) -> Result<Response, ApiError> {
    let req: CreateNamespaceRequest = cx.json().await?;
    id::check("id", IdKind::Entity, &req.id)?;
    let name = req.name.unwrap_or_else(|| req.id.clone());
    check_name("name", &name)?;
    let description = req.description.unwrap_or_default();
    check_description("description", &description)?;
    let namespace = Namespace {
        id: req.id,
        name,
        description,
        created: gofer_core::now_millis(),
        modified: 0,
    };
    let namespace = cx
        .state
        .store
        .write(move |s| s.create_namespace(namespace))
        .await?;
    Ok(created(&NamespaceResponse { namespace }))
}

pub async fn get(cx: Cx) -> Result<Response, ApiError> {
    let ns = cx.ns()?;
    let namespace = cx.state.store.read(move |s| s.get_namespace(&ns)).await?;
    Ok(ok(&NamespaceResponse { namespace }))
}

pub async fn update(mut cx: Cx) -> Result<Response, ApiError> {
    let ns = cx.ns()?;
    let req: UpdateNamespaceRequest = cx.json_or_default().await?;
    if req.name.is_none() && req.description.is_none() {
        return Err(ApiError::invalid(
            "body: at least one of name, description is required",
        ));
    }
    if let Some(name) = &req.name {
        check_name("name", name)?;
    }
    if let Some(description) = &req.description {
        check_description("description", description)?;
    }
    let now = gofer_core::now_millis();
    let namespace = cx
        .state
        .store
        .write(move |s| s.update_namespace(&ns, req.name, req.description, now))
        .await?;
    Ok(ok(&NamespaceResponse { namespace }))
}

/// `DELETE /api/namespaces/{ns}`: the namespace and everything in it
/// (`service::deletes::namespace`).
pub async fn delete(cx: Cx) -> Result<Response, ApiError> {
    let ns = cx.ns()?;
    let state = &cx.state;
    crate::service::deletes::namespace(&state.store, &state.extensions, &state.data_dir, &ns)
        .await?;
    Ok(no_content())
}
