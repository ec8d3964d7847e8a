//! Pipeline and run objects (docs/objects-and-secrets.md#objects; docs/api.md#objects rows 32–35, docs/api.md#runs-and-task-executions rows 40–43). Bytes are streamed
//! between the request/response bodies and files ([`crate::objects`]); redb holds the index.

use crate::http::reply::{ApiError, created, no_content, ok};
use crate::http::{BodyStream, Cx};
use crate::objects::{self, Upload, UploadError};
use crate::store::{ObjectScope, StoreError, StoreHandle};
use futures_util::StreamExt;
use gofer_core::api::{ObjectResponse, ObjectsResponse, parse_bool};
use gofer_core::id::IdKind;
use warp::Reply;
use warp::http::{HeaderValue, header};
use warp::reply::Response;

/// Default page size of object lists (docs/api.md#common-rules).
const DEFAULT_LIMIT: u64 = 200;

fn pipeline_scope(cx: &Cx) -> Result<ObjectScope, ApiError> {
    Ok(ObjectScope::Pipeline {
        namespace: cx.ns()?,
        pipeline: cx.pipeline()?,
    })
}

fn extension_scope(cx: &Cx) -> Result<ObjectScope, ApiError> {
    Ok(ObjectScope::Extension {
        extension: cx.extension()?,
    })
}

fn run_scope(cx: &Cx) -> Result<ObjectScope, ApiError> {
    Ok(ObjectScope::Run {
        namespace: cx.ns()?,
        pipeline: cx.pipeline()?,
        run_id: cx.run()?,
    })
}

/// `{key}` of a read or delete: a key that breaks its rule names nothing (404, docs/pipelines.md#identifiers).
fn existing_key(cx: &Cx) -> Result<String, ApiError> {
    cx.id("key", IdKind::Key, "object")
}

/// `{key}` of a put (a create route): a key that breaks its rule is 400 naming the key.
pub(super) fn new_key(cx: &Cx) -> Result<String, ApiError> {
    let value = cx.param("key");
    if IdKind::Key.accepts(value) {
        return Ok(value.to_string());
    }
    Err(ApiError::invalid(format!(
        "key: {} (got {})",
        IdKind::Key.rule(),
        shown(value)
    )))
}

/// A rejected value as a quoted, escaped, shortened string for an error message.
pub(super) fn shown(value: &str) -> String {
    let mut s: String = value
        .chars()
        .take(40)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if value.chars().count() > 40 {
        s.push_str("...");
    }
    format!("\"{s}\" of {} bytes", value.len())
}

pub async fn list_pipeline(cx: Cx) -> Result<Response, ApiError> {
    let scope = pipeline_scope(&cx)?;
    list(cx, scope).await
}

pub async fn list_extension(cx: Cx) -> Result<Response, ApiError> {
    let scope = extension_scope(&cx)?;
    list(cx, scope).await
}

pub async fn list_run(cx: Cx) -> Result<Response, ApiError> {
    let scope = run_scope(&cx)?;
    list(cx, scope).await
}

async fn list(cx: Cx, scope: ObjectScope) -> Result<Response, ApiError> {
    let page = cx.page(DEFAULT_LIMIT)?;
    let objects = cx
        .state
        .store
        .read(move |s| s.list_objects(&scope, page))
        .await?;
    Ok(ok(&ObjectsResponse { objects }))
}

pub async fn get_pipeline(cx: Cx) -> Result<Response, ApiError> {
    let scope = pipeline_scope(&cx)?;
    get(cx, scope).await
}

pub async fn get_extension(cx: Cx) -> Result<Response, ApiError> {
    let scope = extension_scope(&cx)?;
    get(cx, scope).await
}

pub async fn get_run(cx: Cx) -> Result<Response, ApiError> {
    let scope = run_scope(&cx)?;
    get(cx, scope).await
}

/// 200 with the raw bytes, streamed from the file in chunks.
async fn get(cx: Cx, scope: ObjectScope) -> Result<Response, ApiError> {
    let key = existing_key(&cx)?;
    let (sc, k) = (scope.clone(), key.clone());
    cx.state.store.read(move |s| s.get_object(&sc, &k)).await?;
    let path = objects::file(&cx.state.data_dir, &scope, &key);
    let (len, stream) = match objects::open(&path).await {
        Ok(opened) => opened,
        // Replaced or deleted between the index read and the open.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found(format!("object '{key}' not found")));
        }
        Err(e) => {
            return Err(ApiError::internal(format!(
                "opening {}: {e}",
                path.display()
            )));
        }
    };
    let mut res = warp::reply::stream(stream).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Ok(res)
}

pub async fn put_pipeline(cx: Cx) -> Result<Response, ApiError> {
    let scope = pipeline_scope(&cx)?;
    put(cx, scope).await
}

pub async fn put_extension(cx: Cx) -> Result<Response, ApiError> {
    let scope = extension_scope(&cx)?;
    put(cx, scope).await
}

pub async fn put_run(cx: Cx) -> Result<Response, ApiError> {
    let scope = run_scope(&cx)?;
    put(cx, scope).await
}

/// Streams the body to a temporary file, indexes the object (evicting the oldest at the pipeline
/// limit), then renames the file into place. Missing parents, an existing key without `force`
/// and an expired run are refused before any byte is read.
async fn put(mut cx: Cx, scope: ObjectScope) -> Result<Response, ApiError> {
    let state = cx.state.clone();
    let config = &state.config.object_store;
    let params = new_key(&cx).and_then(|key| {
        let mut force = false;
        for (k, v) in cx.query_pairs() {
            if k == "force" {
                force = parse_bool("force", &v).map_err(ApiError::invalid)?;
            }
        }
        Ok((key, force))
    });
    let checked = match params {
        Ok((key, force)) => precheck(&state.store, &scope, &key, force)
            .await
            .map(|()| (key, force)),
        Err(e) => Err(e),
    };
    let (key, force) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            // Read (and drop) what the client is still sending before refusing: closing a
            // connection with unread bytes resets it, and the client would then report a
            // broken connection instead of this answer.
            if let Some(body) = cx.body.take() {
                drain(body, config.max_object_bytes).await;
            }
            return Err(e);
        }
    };

    let dir = scope.dir(&state.data_dir);
    let body: BodyStream = match cx.body.take() {
        Some(body) => body,
        None => futures_util::stream::empty().boxed(),
    };
    let upload = Upload::receive(&dir, body, config.max_object_bytes)
        .await
        .map_err(|e| match e {
            UploadError::TooLarge(max) => ApiError::too_large(format!(
                "body: the object is larger than {max} bytes (object_store.max_object_bytes)"
            )),
            UploadError::Body(e) => ApiError::invalid(format!("body: {e}")),
            UploadError::Io(e) => ApiError::internal(format!("writing an object: {e}")),
        })?;

    let (sc, k) = (scope.clone(), key.clone());
    let limit = config.pipeline_object_limit;
    let now = gofer_core::now_millis();
    let put = state
        .store
        .write(move |s| s.put_object(&sc, &k, now, force, limit))
        .await?;
    let path = objects::file(&state.data_dir, &scope, &key);
    if let Err(e) = upload.commit(&path).await {
        // Row and file go together: without its file the new row must not stay.
        let (sc, k) = (scope.clone(), key.clone());
        if let Err(undo) = state.store.write(move |s| s.delete_object(&sc, &k)).await {
            tracing::error!(key = %key, error = %undo, "cannot remove the row of an object whose file failed");
        }
        return Err(ApiError::internal(format!(
            "moving an object into place: {e}"
        )));
    }
    for evicted in &put.evicted {
        tracing::debug!(key = %evicted, "evicted an object at the pipeline object limit");
        objects::remove_file(&objects::file(&state.data_dir, &scope, evicted)).await;
    }
    Ok(created(&ObjectResponse { object: put.object }))
}

/// Reads and discards up to `limit` bytes of a refused upload (0 = no limit).
async fn drain(mut body: BodyStream, limit: u64) {
    let mut read = 0u64;
    while let Some(Ok(chunk)) = body.next().await {
        read += chunk.len() as u64;
        if limit > 0 && read > limit {
            break;
        }
    }
}

/// The refusals of a put that need no body: missing parent (404), expired run or existing key
/// without force (409). The write transaction checks again.
async fn precheck(
    store: &StoreHandle,
    scope: &ObjectScope,
    key: &str,
    force: bool,
) -> Result<(), ApiError> {
    let (sc, k) = (scope.clone(), key.to_string());
    store
        .read(move |s| {
            match &sc {
                ObjectScope::Extension { extension } => {
                    s.get_extension(extension)?;
                }
                ObjectScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    s.get_pipeline(namespace, pipeline)?;
                }
                ObjectScope::Run {
                    namespace,
                    pipeline,
                    run_id,
                } => {
                    if s.get_run(namespace, pipeline, *run_id)?
                        .store_objects_expired
                    {
                        return Err(StoreError::Conflict(format!(
                            "objects for run {run_id} have expired"
                        )));
                    }
                }
            }
            match s.get_object(&sc, &k) {
                Ok(_) if !force => Err(StoreError::Conflict(format!(
                    "object '{k}' already exists; use force to replace it"
                ))),
                Ok(_) | Err(StoreError::NotFound(_)) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await?;
    Ok(())
}

pub async fn delete_pipeline(cx: Cx) -> Result<Response, ApiError> {
    let scope = pipeline_scope(&cx)?;
    delete(cx, scope).await
}

pub async fn delete_extension(cx: Cx) -> Result<Response, ApiError> {
    let scope = extension_scope(&cx)?;
    delete(cx, scope).await
}

pub async fn delete_run(cx: Cx) -> Result<Response, ApiError> {
    let scope = run_scope(&cx)?;
    delete(cx, scope).await
}

async fn delete(cx: Cx, scope: ObjectScope) -> Result<Response, ApiError> {
    let key = existing_key(&cx)?;
    let (sc, k) = (scope.clone(), key.clone());
    cx.state
        .store
        .write(move |s| s.delete_object(&sc, &k))
        .await?;
    objects::remove_file(&objects::file(&cx.state.data_dir, &scope, &key)).await;
    Ok(no_content())
}
