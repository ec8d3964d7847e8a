//! Task logs (docs/logs-and-events.md#reading, docs/logs-and-events.md#deleting-and-retention; docs/api.md#runs-and-task-executions rows 48 and 49). The reading itself lives in
//! [`crate::logs`].

use crate::http::Cx;
use crate::http::reply::{ApiError, no_content};
use crate::logs::{self, TaskKey};
use crate::store::{RunChanges, StoreHandle, StoredExecution};
use gofer_core::api::{TaskExecution, parse_bool};
use gofer_core::enums::TaskExecutionState;
use warp::Reply;
use warp::reply::Response;

fn key(cx: &Cx) -> Result<TaskKey, ApiError> {
    Ok(TaskKey {
        namespace: cx.ns()?,
        pipeline: cx.pipeline()?,
        run_id: cx.run()?,
        task_id: cx.task()?,
    })
}

/// The execution, or 404 when it is missing or its logs are gone.
async fn execution_with_logs(
    store: &StoreHandle,
    key: &TaskKey,
) -> Result<TaskExecution, ApiError> {
    let k = key.clone();
    let execution = store
        .read(move |s| s.get_task_execution(&k.namespace, &k.pipeline, k.run_id, &k.task_id))
        .await?;
    if execution.logs_removed || execution.logs_expired {
        return Err(ApiError::not_found(format!(
            "logs for task '{}' have been removed",
            key.task_id
        )));
    }
    Ok(execution)
}

/// (WS or plain) `GET T/logs[?follow=]`: `follow` defaults to true on a websocket, false
/// otherwise. Errors come before the upgrade.
pub async fn get(cx: Cx) -> Result<Response, ApiError> {
    let key = key(&cx)?;
    let mut follow = cx.ws.is_some();
    for (k, v) in cx.query_pairs() {
        if k == "follow" {
            follow = parse_bool("follow", &v).map_err(ApiError::invalid)?;
        }
    }
    execution_with_logs(&cx.state.store, &key).await?;
    let path = gofer_core::paths::task_log(
        &cx.state.data_dir,
        &key.namespace,
        &key.pipeline,
        key.run_id,
        &key.task_id,
    );
    let store = cx.state.store.clone();
    match cx.ws {
        Some(ws) => {
            let shutdown = cx.state.shutdown.clone();
            Ok(ws
                .on_upgrade(move |socket| {
                    let stream = logs::task_log(store, path, key, follow);
                    logs::send_lines(socket, stream, shutdown)
                })
                .into_response())
        }
        None => Ok(logs::plain_response(logs::task_log(
            store, path, key, follow,
        ))),
    }
}

/// `DELETE T/logs` (docs/logs-and-events.md#deleting-and-retention): 404 when missing or already removed, 409 unless `complete`.
pub async fn delete(cx: Cx) -> Result<Response, ApiError> {
    let key = key(&cx)?;
    let mut execution = execution_with_logs(&cx.state.store, &key).await?;
    if execution.state != TaskExecutionState::Complete {
        return Err(ApiError::conflict(format!(
            "task '{}' is not complete; its logs can be deleted once it is",
            key.task_id
        )));
    }
    // File first: if removing it fails nothing changed and the client may retry; if the commit
    // then fails, a retry finds no file and commits.
    let path = gofer_core::paths::task_log(
        &cx.state.data_dir,
        &key.namespace,
        &key.pipeline,
        key.run_id,
        &key.task_id,
    );
    match tokio::fs::remove_file(&path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(ApiError::internal(format!(
                "removing '{}': {e}",
                path.display()
            )));
        }
    }
    // A complete execution is never written by the engine again, so this write cannot race it;
    // its retry and cancel state is spent.
    execution.logs_removed = true;
    let changes = RunChanges {
        executions: vec![StoredExecution {
            execution,
            retry_at: 0,
            cancel: None,
        }],
        ..RunChanges::default()
    };
    cx.state.store.write(move |s| s.commit(changes)).await?;
    Ok(no_content())
}
