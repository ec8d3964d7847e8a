//! A real server on an ephemeral port with a temporary data dir (STYLE rule 22).

use gofer_core::config::ServerConfig;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), gofer_server::ServerError>>>,
    pub http: reqwest::Client,
}

/// The default test configuration for a data dir.
pub fn config_for(dir: &Path) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.server.data_dir = dir.display().to_string();
    config.server.bind_address = "127.0.0.1:0".into();
    config.server.shutdown_timeout = 5;
    config
}

impl TestServer {
    /// Starts a server on a fresh temporary data dir (kept alive by the returned guard).
    pub async fn start() -> (TestServer, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = TestServer::start_with(config_for(dir.path())).await;
        (server, dir)
    }

    /// Starts a server with `config` and waits until it answers.
    pub async fn start_with(config: ServerConfig) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(gofer_server::serve(config, listener, async {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::new();
        let server = TestServer {
            addr,
            stop: Some(stop),
            task: Some(task),
            http,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Ok(r) = self.http.get(self.url("/api/health")).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                !self.task.as_ref().expect("running").is_finished(),
                "the server stopped during startup"
            );
            assert!(
                std::time::Instant::now() < deadline,
                "server did not become ready"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server gracefully and waits for it (the store is closed afterwards).
    pub async fn stop(mut self) {
        let _ = self.stop.take().expect("running").send(());
        self.task
            .take()
            .expect("running")
            .await
            .expect("server task")
            .expect("server stopped cleanly");
    }

    /// Sends a request and returns status and JSON body (`Value::Null` for empty bodies).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, self.url(path));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let bytes = res.bytes().await.expect("body");
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!("non-JSON body ({e}): {}", String::from_utf8_lossy(&bytes))
            })
        };
        (status, value)
    }

    /// Sends raw bytes as the body.
    pub async fn call_raw(
        &self,
        method: &str,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let res = self
            .http
            .request(method, self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A minimal valid pipeline config body for pipeline `id`.
pub fn simple_config(id: &str) -> Value {
    serde_json::json!({"config": {
        "id": id, "name": format!("Pipeline {id}"),
        "tasks": [
            {"id": "first", "image": "busybox", "command": ["echo", "hi"]},
            {"id": "second", "image": "busybox", "depends_on": {"first": "Success"}}
        ]
    }})
}

/// Asserts the standard error body and that its message contains `needle`.
#[track_caller]
pub fn assert_error(got: &(u16, Value), status: u16, needle: &str) {
    assert_eq!(got.0, status, "unexpected status, body: {}", got.1);
    let message = got.1["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {}", got.1));
    assert!(
        message.contains(needle),
        "message {message:?} does not contain {needle:?}"
    );
    assert!(
        got.1["request_id"].as_str().is_some_and(|r| !r.is_empty()),
        "no request_id: {}",
        got.1
    );
}
