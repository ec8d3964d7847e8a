//! Pipeline and global secrets (docs/objects-and-secrets.md#secrets; docs/api.md#secrets-and-subscriptions rows 50–53, docs/api.md#roles-global-secrets-system-tokens rows 64–67). Values are
//! encrypted by [`crate::secrets::Secrets`] before they reach the store and are only ever
//! returned by a get with `include_secret=true`.

use super::objects::shown;
use crate::http::Cx;
use crate::http::reply::{ApiError, created, no_content, ok};
use crate::store::SecretScope;
use gofer_core::api::{
    GetSecretResponse, MAX_SECRET_BYTES, PutGlobalSecretRequest, PutPipelineSecretRequest, Secret,
    SecretResponse, SecretsResponse, parse_bool,
};
use gofer_core::id::IdKind;
use warp::reply::Response;

/// Default page size of secret lists (docs/api.md#common-rules).
const DEFAULT_LIMIT: u64 = 200;

/// Longest namespace regex (docs/pipelines.md#identifiers).
const MAX_REGEX_LEN: usize = 256;

fn pipeline_scope(cx: &Cx) -> Result<SecretScope, ApiError> {
    Ok(SecretScope::Pipeline {
        namespace: cx.ns()?,
        pipeline: cx.pipeline()?,
    })
}

fn check_content(content: &str) -> Result<(), ApiError> {
    if content.is_empty() || content.len() > MAX_SECRET_BYTES {
        return Err(ApiError::invalid(format!(
            "content: must be 1 byte to 64 KiB (it is {} bytes)",
            content.len()
        )));
    }
    Ok(())
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if IdKind::Key.accepts(key) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "key: {} (got {})",
            IdKind::Key.rule(),
            shown(key)
        )))
    }
}

/// Global secret scopes: at least one regex, each ≤ 256 characters and compiling. They are
/// matched whole (anchored) against namespace ids.
fn check_namespaces(namespaces: &[String]) -> Result<(), ApiError> {
    if namespaces.is_empty() {
        return Err(ApiError::invalid(
            "namespaces: must list at least one namespace regex (\".*\" allows every namespace)",
        ));
    }
    for (i, re) in namespaces.iter().enumerate() {
        if re.is_empty() || re.chars().count() > MAX_REGEX_LEN {
            return Err(ApiError::invalid(format!(
                "namespaces[{i}]: must be 1-{MAX_REGEX_LEN} characters"
            )));
        }
        if let Err(e) = regex::Regex::new(re) {
            let first = e.to_string();
            let first = first
                .lines()
                .last()
                .unwrap_or("invalid regex")
                .trim()
                .to_string();
            return Err(ApiError::invalid(format!(
                "namespaces[{i}]: not a valid regex: {first}"
            )));
        }
    }
    Ok(())
}

fn include_secret(cx: &Cx) -> Result<bool, ApiError> {
    let mut include = false;
    for (k, v) in cx.query_pairs() {
        if k == "include_secret" {
            include = parse_bool("include_secret", &v).map_err(ApiError::invalid)?;
        }
    }
    Ok(include)
}

pub async fn list_pipeline(cx: Cx) -> Result<Response, ApiError> {
    let scope = pipeline_scope(&cx)?;
    list(cx, scope).await
}

pub async fn list_global(cx: Cx) -> Result<Response, ApiError> {
    list(cx, SecretScope::Global).await
}

async fn list(cx: Cx, scope: SecretScope) -> Result<Response, ApiError> {
    let page = cx.page(DEFAULT_LIMIT)?;
    let secrets = cx
        .state
        .store
        .read(move |s| s.list_secrets(&scope, page))
        .await?;
    Ok(ok(&SecretsResponse { secrets }))
}

pub async fn put_pipeline(mut cx: Cx) -> Result<Response, ApiError> {
    let scope = pipeline_scope(&cx)?;
    let SecretScope::Pipeline { namespace, .. } = &scope else {
        unreachable!("pipeline_scope builds a pipeline scope")
    };
    let namespace = namespace.clone();
    let req: PutPipelineSecretRequest = cx.json().await?;
    check_key(&req.key)?;
    check_content(&req.content)?;
    let secret = Secret {
        key: req.key,
        namespaces: vec![namespace],
        created: gofer_core::now_millis(),
    };
    let secret = cx
        .state
        .secrets
        .put(scope, secret, &req.content, req.force)
        .await?;
    Ok(created(&SecretResponse { secret }))
}

pub async fn put_global(mut cx: Cx) -> Result<Response, ApiError> {
    let req: PutGlobalSecretRequest = cx.json().await?;
    check_key(&req.key)?;
    check_content(&req.content)?;
    check_namespaces(&req.namespaces)?;
    let secret = Secret {
        key: req.key,
        namespaces: req.namespaces,
        created: gofer_core::now_millis(),
    };
    let secret = cx
        .state
        .secrets
        .put(SecretScope::Global, secret, &req.content, req.force)
        .await?;
    Ok(created(&SecretResponse { secret }))
}

pub async fn get_pipeline(cx: Cx) -> Result<Response, ApiError> {
    let scope = pipeline_scope(&cx)?;
    get(cx, scope).await
}

pub async fn get_global(cx: Cx) -> Result<Response, ApiError> {
    get(cx, SecretScope::Global).await
}

/// Metadata always; the decrypted value only with `include_secret=true`.
async fn get(cx: Cx, scope: SecretScope) -> Result<Response, ApiError> {
    let key = cx.id("key", IdKind::Key, "secret")?;
    let include = include_secret(&cx)?;
    if include {
        let (metadata, value) = cx.state.secrets.get(scope, &key).await?;
        return Ok(ok(&GetSecretResponse {
            metadata,
            secret: Some(value),
        }));
    }
    let (metadata, _) = cx
        .state
        .store
        .read(move |s| s.get_secret(&scope, &key))
        .await?;
    Ok(ok(&GetSecretResponse {
        metadata,
        secret: None,
    }))
}

pub async fn delete_pipeline(cx: Cx) -> Result<Response, ApiError> {
    let scope = pipeline_scope(&cx)?;
    delete(cx, scope).await
}

pub async fn delete_global(cx: Cx) -> Result<Response, ApiError> {
    delete(cx, SecretScope::Global).await
}

async fn delete(cx: Cx, scope: SecretScope) -> Result<Response, ApiError> {
    let key = cx.id("key", IdKind::Key, "secret")?;
    cx.state
        .store
        .write(move |s| s.delete_secret(&scope, &key))
        .await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_regexes_match_whole_ids() {
        let re = vec!["team-.*".to_string()];
        assert!(crate::secrets::namespace_allowed(&re, "team-a"));
        assert!(!crate::secrets::namespace_allowed(&re, "my-team-a"));
        assert!(!crate::secrets::namespace_allowed(
            &["a|b".to_string()],
            "ab"
        ));
        assert!(crate::secrets::namespace_allowed(&["a|b".to_string()], "b"));
        assert!(check_namespaces(&["(".to_string()]).is_err());
        assert!(check_namespaces(&[]).is_err());
    }
}
