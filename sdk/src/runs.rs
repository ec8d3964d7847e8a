//! Runs, task executions, task logs and attach (docs/runs.md#queue, docs/runs.md#cancellation, docs/logs-and-events.md#reading, docs/api.md#runs-and-task-executions).

use crate::client::paged;
use crate::error::broken;
use crate::ws::{Socket, payloads};
use crate::{Client, Error};
use bytes::Bytes;
use futures_util::stream::{SplitSink, StreamExt};
use futures_util::{Sink, SinkExt};
use gofer_core::api::{
    Page, Run, RunResponse, RunsResponse, StartRunRequest, TaskExecution, TaskExecutionResponse,
    TaskExecutionsResponse,
};
use reqwest::Method;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio_tungstenite::tungstenite::Message;

pub use crate::error::ByteStream;

impl Client {
    /// `…/namespaces/{ns}/pipelines/{p}/runs` followed by `rest`.
    fn runs_path<'a>(ns: &'a str, p: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
        let mut path = vec!["api", "namespaces", ns, "pipelines", p, "runs"];
        path.extend_from_slice(rest);
        path
    }

    /// `POST …/pipelines/{p}/runs`: queues a run and answers it at once, `pending` (docs/runs.md#queue).
    pub async fn start_run(
        &self,
        ns: &str,
        p: &str,
        request: &StartRunRequest,
    ) -> Result<Run, Error> {
        let builder = self
            .request(Method::POST, &Self::runs_path(ns, p, &[]))
            .json(request);
        let response: RunResponse = self.json(builder).await?;
        Ok(response.run)
    }

    /// `POST …/runs/{run}/retry`: a new run with run `run`'s variables and payload; with
    /// `failed_only`, the tasks that succeeded are reused (docs/runs.md#retrying-a-run).
    pub async fn retry_run(
        &self,
        ns: &str,
        p: &str,
        run: u64,
        failed_only: bool,
    ) -> Result<Run, Error> {
        let run = run.to_string();
        let builder = self
            .request(Method::POST, &Self::runs_path(ns, p, &[&run, "retry"]))
            .json(&gofer_core::api::RetryRunRequest { failed_only });
        let response: RunResponse = self.json(builder).await?;
        Ok(response.run)
    }

    /// `GET /api/runs`: every pending and running run the token may read, across namespaces,
    /// with its running tasks and queue position (docs/api.md#runs-and-task-executions).
    pub async fn active_runs(&self) -> Result<Vec<gofer_core::api::ActiveRun>, Error> {
        let response: gofer_core::api::ActiveRunsResponse = self
            .json(self.request(Method::GET, &["api", "runs"]))
            .await?;
        Ok(response.runs)
    }

    /// `GET …/pipelines/{p}/runs`: oldest first unless the page says `reverse`.
    pub async fn list_runs(
        &self,
        ns: &str,
        p: &str,
        page: Option<Page>,
    ) -> Result<Vec<Run>, Error> {
        let builder = paged(
            self.request(Method::GET, &Self::runs_path(ns, p, &[])),
            page,
        );
        let response: RunsResponse = self.json(builder).await?;
        Ok(response.runs)
    }

    /// `GET …/pipelines/{p}/runs?version=N`: the runs made with config version `version`, in
    /// the same order and pages as [`Client::list_runs`].
    pub async fn list_runs_of_version(
        &self,
        ns: &str,
        p: &str,
        version: u64,
        page: Option<Page>,
    ) -> Result<Vec<Run>, Error> {
        let builder = paged(
            self.request(Method::GET, &Self::runs_path(ns, p, &[])),
            page,
        )
        .query(&[("version", version.to_string())]);
        let response: RunsResponse = self.json(builder).await?;
        Ok(response.runs)
    }

    /// `GET …/runs/{run}`.
    pub async fn get_run(&self, ns: &str, p: &str, run: u64) -> Result<Run, Error> {
        let run = run.to_string();
        let builder = self.request(Method::GET, &Self::runs_path(ns, p, &[&run]));
        let response: RunResponse = self.json(builder).await?;
        Ok(response.run)
    }

    /// `DELETE …/runs/{run}`: asks the server to cancel the run; answers before it is done
    /// (docs/runs.md#cancellation). Cancelling a complete run is a no-op.
    pub async fn cancel_run(&self, ns: &str, p: &str, run: u64) -> Result<(), Error> {
        self.cancel_run_with(ns, p, run, false).await
    }

    /// `DELETE …/runs/{run}?force=true` when `force`: its tasks are killed at once instead of
    /// being given the server's stop grace (also turns a cancel in progress into a kill).
    pub async fn cancel_run_with(
        &self,
        ns: &str,
        p: &str,
        run: u64,
        force: bool,
    ) -> Result<(), Error> {
        let run = run.to_string();
        let mut request = self.request(Method::DELETE, &Self::runs_path(ns, p, &[&run]));
        if force {
            request = request.query(&[("force", "true")]);
        }
        self.empty(request).await
    }

    /// `GET …/runs/{run}/tasks`.
    pub async fn list_task_executions(
        &self,
        ns: &str,
        p: &str,
        run: u64,
        page: Option<Page>,
    ) -> Result<Vec<TaskExecution>, Error> {
        let run = run.to_string();
        let builder = paged(
            self.request(Method::GET, &Self::runs_path(ns, p, &[&run, "tasks"])),
            page,
        );
        let response: TaskExecutionsResponse = self.json(builder).await?;
        Ok(response.task_executions)
    }

    /// `GET …/runs/{run}/tasks/{task}`.
    pub async fn get_task_execution(
        &self,
        ns: &str,
        p: &str,
        run: u64,
        task: &str,
    ) -> Result<TaskExecution, Error> {
        let run = run.to_string();
        let builder = self.request(Method::GET, &Self::runs_path(ns, p, &[&run, "tasks", task]));
        let response: TaskExecutionResponse = self.json(builder).await?;
        Ok(response.task_execution)
    }

    /// `PUT …/runs/{run}/tasks/{task}/result`: records the running task's JSON result (at most
    /// 64 KiB serialised; docs/runs.md#results-and-payload). Dependent tasks read it through `task_result{{task}}`.
    pub async fn set_task_result(
        &self,
        ns: &str,
        p: &str,
        run: u64,
        task: &str,
        result: &serde_json::Value,
    ) -> Result<(), Error> {
        let run = run.to_string();
        let builder = self
            .request(
                Method::PUT,
                &Self::runs_path(ns, p, &[&run, "tasks", task, "result"]),
            )
            .json(result);
        self.empty(builder).await
    }

    /// `DELETE …/runs/{run}/tasks/{task}[?wait_for=<secs>]`: stops the task's container with a
    /// grace period of `wait_for` seconds (the server's default when `None`, docs/runs.md#cancellation).
    pub async fn cancel_task_execution(
        &self,
        ns: &str,
        p: &str,
        run: u64,
        task: &str,
        wait_for: Option<u64>,
    ) -> Result<(), Error> {
        let run = run.to_string();
        let mut builder = self.request(
            Method::DELETE,
            &Self::runs_path(ns, p, &[&run, "tasks", task]),
        );
        if let Some(secs) = wait_for {
            builder = builder.query(&[("wait_for", secs.to_string())]);
        }
        self.empty(builder).await
    }

    /// `DELETE …/runs/{run}/tasks/{task}/logs` (only for a complete execution, docs/logs-and-events.md#deleting-and-retention).
    pub async fn delete_task_logs(
        &self,
        ns: &str,
        p: &str,
        run: u64,
        task: &str,
    ) -> Result<(), Error> {
        let run = run.to_string();
        let path = Self::runs_path(ns, p, &[&run, "tasks", task, "logs"]);
        self.empty(self.request(Method::DELETE, &path)).await
    }

    /// `GET …/runs/{run}/tasks/{task}/logs?follow=…` over the plain transport (docs/logs-and-events.md#reading): the
    /// raw stored bytes, streamed as they arrive (never buffered whole). With `follow`, the stream
    /// continues with new output and ends once the execution is complete and every byte was sent.
    ///
    /// Errors the server reports before streaming (404 missing execution or removed logs) are
    /// the `Err` of this call; a connection that breaks later is the stream's last item.
    pub async fn task_logs(
        &self,
        ns: &str,
        p: &str,
        run: u64,
        task: &str,
        follow: bool,
    ) -> Result<ByteStream, Error> {
        let run = run.to_string();
        let path = Self::runs_path(ns, p, &[&run, "tasks", task, "logs"]);
        let builder = self
            .request(Method::GET, &path)
            .query(&[("follow", follow.to_string())]);
        self.byte_stream(builder).await
    }

    /// The last `lines` lines of a task's stored log (what `gofer run debug` and the console's
    /// diagnosis show of a failed task). A stream that breaks off ends the text early.
    pub async fn task_log_tail(
        &self,
        ns: &str,
        p: &str,
        run: u64,
        task: &str,
        lines: usize,
    ) -> Result<Vec<String>, Error> {
        let mut stream = self.task_logs(ns, p, run, task, false).await?;
        let mut bytes = Vec::new();
        while let Some(Ok(chunk)) = stream.next().await {
            bytes.extend_from_slice(&chunk);
        }
        Ok(gofer_core::diagnosis::tail(
            &String::from_utf8_lossy(&bytes),
            lines,
        ))
    }

    /// `GET …/runs/{run}/tasks/{task}/attach?command=…` (websocket, docs/api.md#runs-and-task-executions): runs `command`
    /// (split on whitespace by the server; `/bin/sh` when `None`) inside the task's running
    /// container. Bytes sent into the [`AttachInput`] reach the process's stdin unchanged; the
    /// [`ByteStream`] yields its output and ends when the server closes (the process exited,
    /// the task completed, or shutdown).
    ///
    /// 404 (missing execution) and 409 (not running) arrive as [`Error::Api`].
    pub async fn attach(
        &self,
        ns: &str,
        p: &str,
        run: u64,
        task: &str,
        command: Option<&str>,
    ) -> Result<(AttachInput, ByteStream), Error> {
        let run = run.to_string();
        let path = Self::runs_path(ns, p, &[&run, "tasks", task, "attach"]);
        let mut url = self.url(&path);
        if let Some(command) = command {
            url.query_pairs_mut().append_pair("command", command);
        }
        let request = format!("GET {}", url.path());
        let socket = self.websocket(url).await?;
        let (sink, frames) = socket.split();
        let input = AttachInput {
            sink,
            request: request.clone(),
        };
        Ok((input, payloads(frames, request)))
    }
}

/// The stdin side of an attach session: a [`Sink`] of bytes, each sent as one binary frame
/// (written to the process's stdin as is). Closing it sends a websocket close frame.
pub struct AttachInput {
    sink: SplitSink<Socket, Message>,
    request: String,
}

impl std::fmt::Debug for AttachInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachInput")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl AttachInput {
    fn map(&self, error: impl std::fmt::Display) -> Error {
        broken(&self.request, error)
    }
}

impl Sink<Bytes> for AttachInput {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let polled = self.sink.poll_ready_unpin(cx);
        polled.map_err(|e| self.map(e))
    }

    fn start_send(mut self: Pin<&mut Self>, item: Bytes) -> Result<(), Error> {
        let sent = self.sink.start_send_unpin(Message::Binary(item));
        sent.map_err(|e| self.map(e))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let polled = self.sink.poll_flush_unpin(cx);
        polled.map_err(|e| self.map(e))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let polled = self.sink.poll_close_unpin(cx);
        polled.map_err(|e| self.map(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canned::{
        Received, chunk, respond_in_parts, respond_once, respond_with, runtime, websocket_once,
    };
    use gofer_core::api::OrderedMap;
    use std::sync::mpsc;

    const RUN: &str = r#"{"namespace_id":"default","pipeline_id":"simple","pipeline_config_version":2,
        "run_id":3,"queued":5,"state":"pending","status":"unknown",
        "initiator":{"id":"0","user":"dev_bypass","kind":"one_off"},"event_id":"e-1",
        "payload":{"a":1},"only":["build"],"command_override":["make","all"]}"#;

    const TASK: &str = r#"{"namespace_id":"default","pipeline_id":"simple","run_id":3,
        "task_id":"build","state":"complete","status":"failed","exit_code":2,
        "task":{"id":"build","image":"busybox"},
        "attempts":[{"attempt":1,"exit_code":2,"status":"failed","log_offset":0}],
        "result":{"ok":false}}"#;

    fn json_response(status: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn received(rx: mpsc::Receiver<Received>) -> Received {
        rx.recv().unwrap()
    }

    #[test]
    fn start_run_posts_the_request_and_unwraps_201() {
        let (url, rx) = respond_with(json_response("201 Created", &format!(r#"{{"run":{RUN}}}"#)));
        let client = Client::new(&url, None).unwrap();
        let request = StartRunRequest {
            variables: OrderedMap(vec![("GREETING".into(), "hi".into())]),
            payload: Some(serde_json::json!({"a": 1})),
            only: Some(vec!["build".into()]),
            command_override: Some(vec!["make".into(), "all".into()]),
            subscription_id: None,
        };
        let run = runtime()
            .block_on(client.start_run("default", "simple", &request))
            .unwrap();
        assert_eq!(run.run_id, 3);
        assert_eq!(run.event_id.as_deref(), Some("e-1"));
        assert_eq!(run.only, Some(vec!["build".to_string()]));
        let got = received(rx);
        assert_eq!(
            got.request_line(),
            "POST /api/namespaces/default/pipelines/simple/runs HTTP/1.1"
        );
        let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"variables": {"GREETING": "hi"}, "payload": {"a": 1},
                "only": ["build"], "command_override": ["make", "all"]})
        );

        // An empty request is `{}`.
        let (url, rx) = respond_with(json_response("201 Created", &format!(r#"{{"run":{RUN}}}"#)));
        let client = Client::new(&url, None).unwrap();
        runtime()
            .block_on(client.start_run("default", "simple", &StartRunRequest::default()))
            .unwrap();
        assert_eq!(received(rx).body, "{}");
    }

    #[test]
    fn run_reads_and_cancel() {
        let (url, rx) = respond_with(json_response("200 OK", &format!(r#"{{"runs":[{RUN}]}}"#)));
        let client = Client::new(&url, None).unwrap();
        let page = Page {
            limit: 10,
            offset: 0,
            reverse: true,
        };
        let runs = runtime()
            .block_on(client.list_runs("ns", "p", Some(page)))
            .unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(
            received(rx).request_line(),
            "GET /api/namespaces/ns/pipelines/p/runs?limit=10&offset=0&reverse=true HTTP/1.1"
        );

        let (url, rx) = respond_with(json_response("200 OK", &format!(r#"{{"run":{RUN}}}"#)));
        let client = Client::new(&url, None).unwrap();
        let run = runtime().block_on(client.get_run("ns", "p", 3)).unwrap();
        assert_eq!(run.pipeline_config_version, 2);
        assert_eq!(
            received(rx).request_line(),
            "GET /api/namespaces/ns/pipelines/p/runs/3 HTTP/1.1"
        );

        let (url, head) = respond_once("204 No Content", "", "");
        let client = Client::new(&url, None).unwrap();
        runtime().block_on(client.cancel_run("ns", "p", 3)).unwrap();
        assert!(
            head.recv()
                .unwrap()
                .starts_with("DELETE /api/namespaces/ns/pipelines/p/runs/3 HTTP/1.1"),
        );
    }

    #[test]
    fn task_execution_reads_cancel_and_log_deletion() {
        let (url, rx) = respond_with(json_response(
            "200 OK",
            &format!(r#"{{"task_executions":[{TASK}]}}"#),
        ));
        let client = Client::new(&url, None).unwrap();
        let tasks = runtime()
            .block_on(client.list_task_executions("ns", "p", 3, None))
            .unwrap();
        assert_eq!(tasks[0].attempts[0].exit_code, Some(2));
        assert_eq!(
            received(rx).request_line(),
            "GET /api/namespaces/ns/pipelines/p/runs/3/tasks HTTP/1.1"
        );

        let (url, rx) = respond_with(json_response(
            "200 OK",
            &format!(r#"{{"task_execution":{TASK}}}"#),
        ));
        let client = Client::new(&url, None).unwrap();
        let task = runtime()
            .block_on(client.get_task_execution("ns", "p", 3, "build"))
            .unwrap();
        assert_eq!(task.result, Some(serde_json::json!({"ok": false})));
        assert_eq!(
            received(rx).request_line(),
            "GET /api/namespaces/ns/pipelines/p/runs/3/tasks/build HTTP/1.1"
        );

        for (wait_for, line) in [
            (
                Some(7),
                "DELETE /api/namespaces/ns/pipelines/p/runs/3/tasks/build?wait_for=7 HTTP/1.1",
            ),
            (
                None,
                "DELETE /api/namespaces/ns/pipelines/p/runs/3/tasks/build HTTP/1.1",
            ),
        ] {
            let (url, head) = respond_once("204 No Content", "", "");
            let client = Client::new(&url, None).unwrap();
            runtime()
                .block_on(client.cancel_task_execution("ns", "p", 3, "build", wait_for))
                .unwrap();
            assert!(head.recv().unwrap().starts_with(line), "{line}");
        }

        let (url, head) = respond_once("204 No Content", "", "");
        let client = Client::new(&url, None).unwrap();
        runtime()
            .block_on(client.delete_task_logs("ns", "p", 3, "build"))
            .unwrap();
        assert!(
            head.recv().unwrap().starts_with(
                "DELETE /api/namespaces/ns/pipelines/p/runs/3/tasks/build/logs HTTP/1.1"
            )
        );
    }

    #[test]
    fn task_logs_stream_the_chunked_body_as_it_arrives() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec();
        let first = [head, chunk("line 1\n")].concat();
        let rest = [chunk("line 2\npart"), b"0\r\n\r\n".to_vec()].concat();
        let (go, wait) = mpsc::channel();
        let (url, rx) = respond_in_parts(vec![first, rest], wait);
        let client = Client::new(&url, Some("t".into())).unwrap();
        let rt = runtime();
        let mut logs = rt
            .block_on(client.task_logs("ns", "p", 3, "build", true))
            .unwrap();
        let got = received(rx);
        assert_eq!(
            got.request_line(),
            "GET /api/namespaces/ns/pipelines/p/runs/3/tasks/build/logs?follow=true HTTP/1.1"
        );
        let head = got.head.to_ascii_lowercase();
        assert!(!head.contains("upgrade"), "plain transport: {head}");
        assert!(head.contains("authorization: bearer t\r\n"), "{head}");
        // The first chunk arrives while the server still holds back the rest: not buffered.
        let first = rt.block_on(logs.next()).unwrap().unwrap();
        assert_eq!(&first[..], b"line 1\n");
        go.send(()).unwrap();
        let mut rest = Vec::new();
        while let Some(bytes) = rt.block_on(logs.next()) {
            rest.extend_from_slice(&bytes.unwrap());
        }
        assert_eq!(rest, b"line 2\npart");
    }

    #[test]
    fn task_logs_errors_come_before_the_stream() {
        let (url, rx) = respond_with(json_response(
            "404 Not Found",
            r#"{"request_id":"r-9","message":"logs for task 'build' have been removed"}"#,
        ));
        let client = Client::new(&url, None).unwrap();
        let err = runtime()
            .block_on(client.task_logs("ns", "p", 3, "build", false))
            .err()
            .unwrap();
        assert!(
            matches!(&err, Error::Api { status: 404, request_id, .. } if request_id == "r-9"),
            "{err:?}"
        );
        assert!(received(rx).request_line().contains("/logs?follow=false "));
    }

    #[test]
    fn attach_sends_stdin_bytes_and_streams_output() {
        let output = vec![
            Message::Binary(Bytes::from_static(b"$ ")),
            Message::Binary(Bytes::from_static(b"hello\n")),
        ];
        let (url, head, got) = websocket_once(output, true, "");
        let client = Client::new(&url, Some("t".into())).unwrap();
        let rt = runtime();
        let (mut input, mut output) = rt
            .block_on(client.attach("ns", "p", 3, "build", Some("/bin/sh -l")))
            .unwrap();
        let head = head.recv().unwrap();
        assert!(
            head.starts_with(
                "GET /api/namespaces/ns/pipelines/p/runs/3/tasks/build/attach?command=%2Fbin%2Fsh+-l\r\n"
            ),
            "{head}"
        );
        assert!(head.contains("gofer-api-version: v0\r\n"), "{head}");
        assert!(head.contains("authorization: Bearer t\r\n"), "{head}");
        assert_eq!(&rt.block_on(output.next()).unwrap().unwrap()[..], b"$ ");
        assert_eq!(
            &rt.block_on(output.next()).unwrap().unwrap()[..],
            b"hello\n"
        );
        rt.block_on(async {
            input.send(Bytes::from_static(b"echo hi\n")).await.unwrap();
            input.close().await.unwrap();
        });
        // The server answers the close; the output ends.
        assert!(rt.block_on(output.next()).is_none());
        assert_eq!(
            got.recv().unwrap(),
            vec![Message::Binary(Bytes::from_static(b"echo hi\n"))]
        );
    }

    #[test]
    fn refused_attach_is_an_api_error() {
        let (url, _) = respond_with(json_response(
            "409 Conflict",
            r#"{"request_id":"r-3","message":"task 'build' is not running"}"#,
        ));
        let client = Client::new(&url, None).unwrap();
        let err = runtime()
            .block_on(client.attach("ns", "p", 3, "build", None))
            .err()
            .unwrap();
        assert!(
            matches!(&err, Error::Api { status: 409, message, request_id }
                if message == "task 'build' is not running" && request_id == "r-3"),
            "{err:?}"
        );
    }
}
