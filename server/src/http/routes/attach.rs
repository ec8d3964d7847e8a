//! `GET T/attach` (WS): an interactive command with a TTY in a running task's container
//! (docs/api.md#runs-and-task-executions row 47).

use crate::http::Cx;
use crate::http::reply::ApiError;
use futures_util::{SinkExt, StreamExt};
use gofer_core::enums::TaskExecutionState;
use gofer_core::id::IdKind;
use tokio::io::AsyncWriteExt;
use warp::Reply;
use warp::reply::Response;
use warp::ws::Message;

pub async fn attach(mut cx: Cx) -> Result<Response, ApiError> {
    let (ns, p) = (cx.ns()?, cx.pipeline()?);
    let run = cx.number("run", 1, "run")?;
    let task = cx.id("task", IdKind::Task, "task")?;
    let command: Vec<String> = cx
        .query_pairs()
        .into_iter()
        .find(|(k, _)| k == "command")
        .map(|(_, v)| v.split_whitespace().map(str::to_string).collect())
        .filter(|c: &Vec<String>| !c.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".to_string()]);
    let (n, pp, t) = (ns.clone(), p.clone(), task.clone());
    let execution = cx
        .state
        .store
        .read(move |s| s.get_task_execution(&n, &pp, run, &t))
        .await?;
    if execution.state != TaskExecutionState::Running {
        return Err(ApiError::conflict(format!(
            "task '{task}' is not running (state {})",
            execution.state
        )));
    }
    let attempt = execution.attempts.last().map(|a| a.attempt).unwrap_or(1);
    let Some(ws) = cx.ws.take() else {
        return Err(ApiError::invalid("websocket upgrade required"));
    };
    let name = crate::scheduler::task_container_name(&ns, &p, run, &task, attempt);
    let session = cx
        .state
        .scheduler
        .attach(&name, command)
        .await
        .map_err(|e| ApiError::conflict(format!("cannot attach to task '{task}': {e}")))?;
    let mut shutdown = cx.state.shutdown.clone();
    let reply = ws.on_upgrade(move |socket| async move {
        let (mut to_client, mut from_client) = socket.split();
        let crate::scheduler::AttachSession {
            mut stdin,
            mut output,
            exit_code,
        } = session;
        let input = async move {
            while let Some(Ok(message)) = from_client.next().await {
                let bytes = if message.is_text() {
                    let mut text = message.to_str().unwrap_or_default().to_string();
                    text.push('\r');
                    text.into_bytes()
                } else if message.is_binary() {
                    message.as_bytes().to_vec()
                } else if message.is_close() {
                    break;
                } else {
                    continue;
                };
                if stdin.write_all(&bytes).await.is_err() || stdin.flush().await.is_err() {
                    break;
                }
            }
        };
        let relay = async {
            while let Some(chunk) = output.next().await {
                let Ok(chunk) = chunk else { break };
                if to_client.send(Message::binary(chunk)).await.is_err() {
                    break;
                }
            }
            // The command exited (its output ended).
            let code = exit_code.await.unwrap_or(-1);
            tracing::debug!(code, "attach command exited");
        };
        tokio::select! {
            () = relay => {}
            () = input => {}
            () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => {}
        }
        let _ = to_client
            .send(Message::close_with(1000u16, "attach ended"))
            .await;
        let _ = to_client.close().await;
    });
    Ok(reply.into_response())
}
