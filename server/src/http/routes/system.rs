use crate::http::Cx;
use crate::http::reply::{ApiError, json_response, ok};
use gofer_core::api::{Health, SystemMetadata, UpdateSystemRequest};
use std::collections::BTreeMap;
use warp::http::StatusCode;
use warp::reply::Response;

/// `GET /metrics` (docs/api.md#operations): Prometheus text format 0.0.4.
pub async fn metrics(cx: Cx) -> Result<Response, ApiError> {
    let (pending, running) = cx.state.store.read(|s| s.active_run_counts()).await?;
    let extensions = cx
        .state
        .store
        .read(|s| s.list_extensions(gofer_core::api::Page::ALL))
        .await?;
    let mut states: BTreeMap<gofer_core::enums::ExtensionState, u64> = BTreeMap::new();
    for e in &extensions {
        *states.entry(e.extension.state).or_default() += 1;
    }
    let unreadable = cx.state.store.blocking().unreadable().len() as u64;
    let canaries: u64 = cx
        .state
        .store
        .read(|s| s.active_deployments())
        .await?
        .iter()
        .filter_map(|d| d.canary.as_ref().map(|c| c.in_flight()))
        .sum();
    let body = cx
        .state
        .metrics
        .render(pending, running, &states, unreadable, canaries);
    let mut res = Response::new(body.into());
    res.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(res)
}

/// `GET /api/health` (docs/api.md#operations): 200 when every check passes, else 503 with the same shape.
pub async fn health(cx: Cx) -> Result<Response, ApiError> {
    // A write failure (full disk, I/O error) is an error until the database is reopened, even
    // though reads may still answer.
    let storage = match cx.state.store.blocking().failure() {
        Some(failure) => format!("error: {failure}"),
        None => match cx.state.store.read(|s| s.system()).await {
            Ok(_) => match cx.state.store.blocking().unreadable().len() {
                0 => "ok".to_string(),
                1 => "degraded: 1 unreadable record (see gofer service doctor)".to_string(),
                n => format!("degraded: {n} unreadable records (see gofer service doctor)"),
            },
            Err(e) => format!("error: {e}"),
        },
    };
    // The container engine answers a cheap list (nothing carries this label).
    let probe =
        crate::scheduler::Labels::from([("gofer.health_probe".to_string(), "1".to_string())]);
    let scheduler = match tokio::time::timeout(
        std::time::Duration::from_secs(2),
        cx.state.scheduler.list(&probe),
    )
    .await
    {
        Ok(Ok(_)) => "ok".to_string(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "error: the container engine did not answer within 2 s".to_string(),
    };
    let checks = BTreeMap::from([
        ("storage".to_string(), storage),
        ("scheduler".to_string(), scheduler),
    ]);
    // A degraded store still serves everything else: 200, with the reason in the check.
    let healthy = checks.values().all(|v| !v.starts_with("error"));
    let degraded = checks.values().any(|v| v.starts_with("degraded"));
    let body = Health {
        status: match (healthy, degraded) {
            (false, _) => "error",
            (true, true) => "degraded",
            (true, false) => "ok",
        }
        .into(),
        checks,
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok(json_response(status, &body))
}

/// `GET /api/system/metadata`.
pub async fn metadata(_cx: Cx) -> Result<Response, ApiError> {
    Ok(ok(&SystemMetadata {
        commit: crate::COMMIT.to_string(),
        semver: crate::SEMVER.to_string(),
    }))
}

/// `GET /api/openapi.json` (docs/api.md#the-openapi-document): the document of this server's
/// routes, rendered once.
pub async fn openapi(cx: Cx) -> Result<Response, ApiError> {
    static DOCUMENT: std::sync::OnceLock<bytes::Bytes> = std::sync::OnceLock::new();
    let body = DOCUMENT
        .get_or_init(|| crate::http::openapi::render(&cx.state.routes).into())
        .clone();
    Ok(crate::http::reply::json_bytes(body))
}

/// `GET /api/system`.
pub async fn get(cx: Cx) -> Result<Response, ApiError> {
    let system = cx.state.store.read(|s| s.system()).await?;
    Ok(ok(&system))
}

/// `PATCH /api/system` (docs/api.md#roles-global-secrets-system-tokens op 69).
pub async fn update(mut cx: Cx) -> Result<Response, ApiError> {
    let req: UpdateSystemRequest = cx.json_or_default().await?;
    if req.ignore_pipeline_run_events.is_none() {
        return Err(ApiError::invalid(
            "body: at least one field is required (ignore_pipeline_run_events)",
        ));
    }
    let system = cx
        .state
        .store
        .write(move |s| s.update_system(req.ignore_pipeline_run_events))
        .await?;
    Ok(ok(&system))
}

/// `GET /api/system/backup` (admin; docs/deploy.md#backup-and-restore): a tar of the data dir,
/// made while the server runs and streamed as it is written.
pub async fn backup(cx: Cx) -> Result<Response, ApiError> {
    use warp::Reply;
    let data_dir = cx.state.data_dir.clone();
    let copy = data_dir.join(format!(".backup-{}.redb", uuid::Uuid::new_v4().simple()));
    let target = copy.clone();
    if let Err(e) = cx
        .state
        .store
        .read(move |s| s.backup_database(&target))
        .await
    {
        let _ = std::fs::remove_file(&copy);
        return Err(e.into());
    }
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let failed = tx.clone();
        let result = crate::backup::write_archive(tx, &data_dir, &copy);
        let _ = std::fs::remove_file(&copy);
        if let Err(e) = result {
            tracing::warn!(error = %e, "a backup was not completed");
            let _ = failed.blocking_send(Err(e));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut res = warp::reply::stream(stream).into_response();
    let headers = res.headers_mut();
    headers.insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("application/x-tar"),
    );
    headers.insert(
        warp::http::header::CONTENT_DISPOSITION,
        warp::http::HeaderValue::from_static("attachment; filename=\"gofer-backup.tar\""),
    );
    Ok(res)
}
