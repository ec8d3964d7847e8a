//! Tokens (docs/auth.md#tokens, docs/api.md#roles-global-secrets-system-tokens). Who may call each route is decided by its row's access
//! in the route table; these handlers only validate, store and reply.

use crate::http::Cx;
use crate::http::reply::{ApiError, created, no_content, ok};
use crate::tokens::{hash_secret, new_secret};
use gofer_core::api::{
    CreateTokenRequest, CreatedToken, Token, TokenResponse, TokensResponse, UpdateTokenRequest,
    reserved_role,
};
use std::collections::BTreeMap;
use warp::reply::Response;

/// Longest accepted `user` and metadata key/value (characters).
const MAX_TEXT: usize = 256;

/// `GET /api/tokens` (admin).
pub async fn list(cx: Cx) -> Result<Response, ApiError> {
    let page = cx.page(200)?;
    let tokens = cx.state.store.read(move |s| s.list_tokens(page)).await?;
    Ok(ok(&TokensResponse { tokens }))
}

/// `POST /api/tokens` (admin) → 201 `{token_details, secret}`; the secret is shown only here.
///
/// Only admin and bootstrap tokens reach this handler, and they hold every permission, so a
/// caller can never grant more than it has; the roles no one may grant (`bootstrap`,
/// `extension:*`, `run:*`) are refused with 403 (docs/decisions.md).
pub async fn create(mut cx: Cx) -> Result<Response, ApiError> {
    let req: CreateTokenRequest = cx.json().await?;
    let user = req.user.trim().to_string();
    if user.is_empty() || user.chars().count() > MAX_TEXT {
        return Err(ApiError::invalid(format!(
            "user: must be 1-{MAX_TEXT} characters"
        )));
    }
    gofer_core::validate::check_no_control("user", &user)?;
    if let Some(role) = req.roles.iter().find(|r| reserved_role(r)) {
        return Err(ApiError::forbidden(format!(
            "roles: role '{role}' cannot be given to a token through the API"
        )));
    }
    let metadata = req.metadata.unwrap_or_default();
    for (k, v) in &metadata {
        if k.is_empty() || k.chars().count() > MAX_TEXT || v.chars().count() > MAX_TEXT {
            return Err(ApiError::invalid(format!(
                "metadata.{k}: keys must be 1-{MAX_TEXT} characters and values at most {MAX_TEXT}"
            )));
        }
        gofer_core::validate::check_no_control(&format!("metadata.{}", k.escape_debug()), k)?;
        gofer_core::validate::check_no_control(&format!("metadata.{}", k.escape_debug()), v)?;
    }
    if req.expires > MAX_TOKEN_EXPIRY_SECS {
        return Err(ApiError::invalid(format!(
            "expires: must be at most {MAX_TOKEN_EXPIRY_SECS} seconds (10 years); 0 means never"
        )));
    }
    let now = gofer_core::now_millis();
    let expires = if req.expires == 0 {
        0
    } else {
        now.saturating_add(req.expires.saturating_mul(1000))
    };
    let mut roles: Vec<String> = Vec::with_capacity(req.roles.len());
    for role in req.roles {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    let token = Token {
        id: uuid::Uuid::now_v7().hyphenated().to_string(),
        created: now,
        metadata,
        expires,
        disabled: false,
        user,
        roles,
    };
    let secret = new_secret();
    let hash = hash_secret(&secret);
    let token = cx
        .state
        .store
        .write(move |s| s.create_token(token, hash))
        .await?;
    Ok(created(&CreatedToken {
        token_details: token,
        secret,
    }))
}

/// `POST /api/tokens/bootstrap` (no auth) → 201 once, then 409.
pub async fn bootstrap(cx: Cx) -> Result<Response, ApiError> {
    let token = Token {
        id: uuid::Uuid::now_v7().hyphenated().to_string(),
        created: gofer_core::now_millis(),
        metadata: BTreeMap::from([("bootstrap_token".to_string(), "true".to_string())]),
        expires: 0,
        disabled: false,
        user: "bootstrap".into(),
        roles: vec!["bootstrap".into()],
    };
    let secret = new_secret();
    let hash = hash_secret(&secret);
    let token = cx
        .state
        .store
        .write(move |s| s.bootstrap_token(token, hash))
        .await?;
    tracing::info!(token_id = %token.id, "bootstrap token created");
    Ok(created(&CreatedToken {
        token_details: token,
        secret,
    }))
}

/// `GET /api/tokens/whoami`: the caller's token; the dev-mode bypass gets a synthetic one
/// (docs/auth.md#tokens).
pub async fn whoami(cx: Cx) -> Result<Response, ApiError> {
    let token = match &cx.caller.token {
        Some(token) => Token::clone(token),
        None => Token {
            id: cx.caller.token_id.clone(),
            created: 0,
            metadata: BTreeMap::new(),
            expires: 0,
            disabled: false,
            user: cx.caller.user.clone(),
            roles: vec!["admin".into()],
        },
    };
    Ok(ok(&TokenResponse { token }))
}

/// Token ids are UUIDs; anything else names no token (404, never reaching storage).
fn token_id(cx: &Cx) -> Result<String, ApiError> {
    let id = cx.param("id");
    uuid::Uuid::try_parse(id)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| ApiError::not_found(format!("token '{id}' not found")))
}

/// `GET /api/tokens/{id}`: admin or the token itself.
pub async fn get(cx: Cx) -> Result<Response, ApiError> {
    let id = token_id(&cx)?;
    let token = cx.state.store.read(move |s| s.get_token(&id)).await?;
    Ok(ok(&TokenResponse { token }))
}

/// Longest token lifetime a create accepts, in seconds: 10 years (docs/decisions.md).
pub const MAX_TOKEN_EXPIRY_SECS: u64 = 315_360_000;

/// `PATCH /api/tokens/{id}` `{disabled?}` → 204; the caller's own token → 409.
pub async fn update(mut cx: Cx) -> Result<Response, ApiError> {
    let id = token_id(&cx)?;
    let req: UpdateTokenRequest = cx.json_or_default().await?;
    let Some(disabled) = req.disabled else {
        return Err(ApiError::invalid(
            "body: at least one of disabled is required",
        ));
    };
    cx.state
        .store
        .read({
            let id = id.clone();
            move |s| s.get_token(&id)
        })
        .await?;
    if id == cx.caller.token_id {
        return Err(ApiError::conflict(
            "cannot change the token this request is made with; use another admin token",
        ));
    }
    cx.state
        .store
        .write(move |s| s.set_token_disabled(&id, disabled))
        .await?;
    Ok(no_content())
}

/// `DELETE /api/tokens/{id}` → 204; the caller's own token → 409, like a change to it, so an
/// admin cannot lock themselves out by accident.
pub async fn delete(cx: Cx) -> Result<Response, ApiError> {
    let id = token_id(&cx)?;
    if id == cx.caller.token_id {
        // The token is checked to exist first: a missing id is 404 for everyone.
        let check = id.clone();
        cx.state.store.read(move |s| s.get_token(&check)).await?;
        return Err(ApiError::conflict(
            "cannot delete the token this request is made with; use another admin token",
        ));
    }
    cx.state.store.write(move |s| s.delete_token(&id)).await?;
    Ok(no_content())
}
