//! A real server on an ephemeral port with a temporary data dir.

use gofer_core::api::{Initiator, InitiatorKind, Run, Task, TaskExecution};
use gofer_core::config::ServerConfig;
use gofer_core::enums::{TaskExecutionState, TaskExecutionStatus};
use gofer_server::store::{NewRun, RunChanges, StoreHandle, StoredExecution};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub struct TestServer {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), gofer_server::ServerError>>>,
    /// Raw HTTP, for tests about the wire format or a malformed request.
    pub http: reqwest::Client,
    /// The SDK our users call, without a token (a loopback caller: the development bypass).
    /// Everything the SDK covers goes through it.
    pub sdk: gofer_sdk::Client,
}

/// The default test configuration for a data dir.
pub fn config_for(dir: &Path) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.server.data_dir = dir.display().to_string();
    config.server.bind_address = "127.0.0.1:0".into();
    config.server.shutdown_timeout = 5;
    // In-process servers build no local images, so a standard extension could not start.
    config.extensions.install_std_extensions = false;
    // Many servers run at once; none needs the second listener (the CLI tests cover it).
    config.external_events.enable = false;
    config
}

impl TestServer {
    /// Starts a server on a fresh temporary data dir (kept alive by the returned guard).
    pub async fn start() -> (TestServer, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = TestServer::start_with(config_for(dir.path())).await;
        (server, dir)
    }

    /// Starts a server with `config` and waits until it answers. The server needs a Docker
    /// engine (docs/schedulers.md#docker); without one this fails saying how to start it.
    pub async fn start_with(config: ServerConfig) -> TestServer {
        TestServer::start_on(config, "127.0.0.1:0").await
    }

    /// Like [`TestServer::start_with`], listening on `bind` (e.g. `0.0.0.0:0`, so containers and
    /// non-loopback peers can connect). [`TestServer::url`] still goes through 127.0.0.1.
    pub async fn start_on(config: ServerConfig, bind: &str) -> TestServer {
        assert!(
            gofer_server::testing::require_docker().await.is_some(),
            "the Gofer server needs a Docker engine even for API tests; run .ci/ensure-docker"
        );
        let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
        let addr = SocketAddr::from(([127, 0, 0, 1], listener.local_addr().expect("addr").port()));
        let data_dir = PathBuf::from(&config.server.data_dir);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(gofer_server::serve(config, listener, async {
            let _ = stopped.await;
        }));
        gofer_sdk::install_crypto_provider();
        let http = reqwest::Client::new();
        let sdk = gofer_sdk::Client::new(&format!("http://{addr}"), None).expect("sdk client");
        let server = TestServer {
            addr,
            data_dir,
            stop: Some(stop),
            task: Some(task),
            http,
            sdk,
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

    /// The websocket URL of `path`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// The running server's store (see `gofer_server::testing::running_store`). Do not keep it
    /// past [`TestServer::stop`]: it holds the database open.
    pub fn store(&self) -> StoreHandle {
        gofer_server::testing::running_store(&self.data_dir).expect("the server's store")
    }

    /// Creates a namespace with a fresh random id and returns the id.
    pub async fn unique_namespace(&self) -> String {
        let id = format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let request = gofer_core::api::CreateNamespaceRequest {
            id: id.clone(),
            name: None,
            description: None,
        };
        let created = self.sdk.create_namespace(&request).await;
        assert_eq!(created.expect("create namespace").id, id);
        id
    }

    /// This server instance's task containers, with the engine that lists them.
    async fn task_containers(
        &self,
    ) -> (
        gofer_server::scheduler::docker::DockerScheduler,
        Vec<gofer_server::scheduler::ListedContainer>,
    ) {
        use gofer_server::scheduler::Scheduler;
        let instance = self
            .store()
            .read(|s| s.instance_id())
            .await
            .expect("instance id");
        let docker = gofer_server::testing::require_docker()
            .await
            .expect("docker");
        let ours = docker
            .list(&gofer_server::scheduler::base_labels(&instance, "task"))
            .await
            .expect("list containers");
        (docker, ours)
    }

    /// The names of this server instance's task containers that have not finished.
    pub async fn running_containers(&self) -> Vec<String> {
        let (_, ours) = self.task_containers().await;
        ours.into_iter()
            .filter(|c| !c.state.is_finished())
            .map(|c| c.name)
            .collect()
    }

    /// Removes every task container this server instance created.
    pub async fn remove_containers(&self) {
        use gofer_server::scheduler::Scheduler;
        let (docker, ours) = self.task_containers().await;
        for c in ours {
            let _ = docker.stop(&c.name, 0).await;
            let _ = docker.remove(&c.name).await;
        }
    }

    /// Stops the server gracefully and waits for it (the store is closed afterwards).
    pub async fn stop(mut self) {
        self.assert_answers_documented();
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
        self.call_as(None, method, path, body).await
    }

    /// [`TestServer::call`] with `Authorization: <authorization>` when given (the whole header
    /// value, e.g. `Bearer <secret>`).
    pub async fn call_as(
        &self,
        authorization: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, self.url(path));
        if let Some(value) = authorization {
            req = req.header("authorization", value);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let json = res
            .headers()
            .get("content-type")
            .is_none_or(|t| t.as_bytes().starts_with(b"application/json"));
        let bytes = res.bytes().await.expect("body");
        let value = if bytes.is_empty() {
            Value::Null
        } else if !json {
            // `GET /metrics` and other text answers.
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
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

impl TestServer {
    /// Every JSON answer this server gave matched the OpenAPI document's schema for its route
    /// and status (docs/api.md#the-openapi-document); checked when the server stops, so every
    /// test checks the answers it received.
    pub fn assert_answers_documented(&self) {
        let violations = gofer_server::testing::answer_violations(&self.data_dir);
        assert!(
            violations.is_empty(),
            "answers that do not match assets/openapi.json:\n{}",
            violations.join("\n")
        );
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.stop.is_some() && !std::thread::panicking() {
            self.assert_answers_documented();
        }
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

/// Registers pipeline `p` in `default` with [`simple_config`] (tasks `first` and `second`) and
/// deploys version 1, so runs can be created.
pub async fn live_pipeline(s: &TestServer, p: &str) {
    let base = format!("/api/namespaces/default/pipelines/{p}/configs");
    let (status, body) = s.call("POST", &base, Some(simple_config(p))).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s.call("POST", &format!("{base}/1"), None).await;
    assert_eq!(status, 201, "{body}");
}

/// Creates a run of `default/<p>` through the store, as `POST P/runs` will.
pub async fn create_run(s: &TestServer, p: &str) -> Run {
    let p = p.to_string();
    let new = NewRun {
        variables: Vec::new(),
        initiator: Initiator {
            id: "0".into(),
            user: "test".into(),
            kind: InitiatorKind::Api,
            subscription_id: None,
        },
        payload: None,
        only: None,
        command_override: None,
        run_token: None,
        retry: None,
    };
    s.store()
        .write(move |st| st.create_run("default", &p, new, gofer_core::now_millis()))
        .await
        .expect("create_run")
}

/// A task execution of `run` for task `task` in `state`, as the engine would record it.
pub fn execution(run: &Run, task: &str, state: TaskExecutionState) -> TaskExecution {
    let complete = state == TaskExecutionState::Complete;
    TaskExecution {
        namespace_id: run.namespace_id.clone(),
        pipeline_id: run.pipeline_id.clone(),
        run_id: run.run_id,
        task_id: task.to_string(),
        created: gofer_core::now_millis(),
        started: 0,
        ended: 0,
        exit_code: complete.then_some(0),
        logs_expired: false,
        logs_removed: false,
        state,
        status: if complete {
            TaskExecutionStatus::Successful
        } else {
            TaskExecutionStatus::Unknown
        },
        status_reason: None,
        variables: Vec::new(),
        task: Task {
            id: task.to_string(),
            description: String::new(),
            image: "busybox".into(),
            registry_auth: None,
            depends_on: Default::default(),
            variables: Vec::new(),
            entrypoint: None,
            command: None,
            inject_api_token: false,
            always_pull_newest_image: false,
            timeout: 0,
            retries: Default::default(),
            resources: Default::default(),
        },
        attempts: Vec::new(),
        result: None,
    }
}

/// Writes executions through `Store::commit`, the engine's only write path.
pub async fn put_executions(s: &TestServer, executions: Vec<TaskExecution>) {
    let changes = RunChanges {
        executions: executions
            .into_iter()
            .map(|execution| StoredExecution {
                execution,
                retry_at: 0,
                cancel: None,
            })
            .collect(),
        ..RunChanges::default()
    };
    s.store()
        .write(move |st| st.commit(changes))
        .await
        .expect("commit");
}

/// Where the log of `task` in `run` lives (docs/logs-and-events.md#where-they-live); its directory exists afterwards.
pub fn log_path(s: &TestServer, run: &Run, task: &str) -> PathBuf {
    let path = gofer_core::paths::task_log(
        &s.data_dir,
        &run.namespace_id,
        &run.pipeline_id,
        run.run_id,
        task,
    );
    std::fs::create_dir_all(path.parent().expect("parent")).expect("log dir");
    path
}

/// Awaits `fut`, failing after 10 seconds (a hung stream fails the test instead of hanging it).
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A websocket client connection.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a websocket to `path`, expecting the upgrade to succeed.
pub async fn ws_connect(s: &TestServer, path: &str) -> Ws {
    match tokio_tungstenite::connect_async(s.ws_url(path)).await {
        Ok((ws, _)) => ws,
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => panic!(
            "upgrade of {path} refused with {}: {}",
            res.status(),
            String::from_utf8_lossy(res.body().as_deref().unwrap_or_default())
        ),
        Err(e) => panic!("websocket {path}: {e}"),
    }
}

/// Opens a websocket to `path`, expecting an ordinary HTTP error; returns status and body.
pub async fn ws_refused(s: &TestServer, path: &str) -> (u16, Value) {
    match tokio_tungstenite::connect_async(s.ws_url(path)).await {
        Ok(_) => panic!("upgrade of {path} accepted"),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            let body = res.body().as_deref().unwrap_or_default();
            let value = serde_json::from_slice(body).unwrap_or_else(|e| {
                panic!("non-JSON body ({e}): {}", String::from_utf8_lossy(body))
            });
            (res.status().as_u16(), value)
        }
        Err(e) => panic!("websocket {path}: {e}"),
    }
}

/// What a websocket client sees next (pings and pongs skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Close(u16, String),
    /// The connection ended without a close frame.
    End,
}

/// The next frame, failing after 10 seconds.
pub async fn next_frame(ws: &mut Ws) -> Frame {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    within("a websocket frame", async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return Frame::Text(t.to_string()),
                Some(Ok(Message::Close(Some(c)))) => {
                    return Frame::Close(c.code.into(), c.reason.to_string());
                }
                Some(Ok(Message::Close(None))) => return Frame::Close(1005, String::new()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => panic!("unexpected frame {other:?}"),
                Some(Err(_)) | None => return Frame::End,
            }
        }
    })
    .await
}

/// Every text frame until the close frame; returns them with the close code and reason.
pub async fn frames_until_close(ws: &mut Ws) -> (Vec<String>, (u16, String)) {
    let mut texts = Vec::new();
    loop {
        match next_frame(ws).await {
            Frame::Text(t) => texts.push(t),
            Frame::Close(code, reason) => return (texts, (code, reason)),
            Frame::End => panic!("connection ended without a close frame after {texts:?}"),
        }
    }
}

/// The busybox test image (built once from the static /bin/busybox, FROM scratch).
pub async fn busybox() -> String {
    let docker = gofer_server::testing::require_docker()
        .await
        .expect("these tests need Docker: run .ci/ensure-docker");
    gofer_server::testing::busybox_image(&docker)
        .await
        .expect("building the busybox test image")
}

impl TestServer {
    /// Registers `config` (the inner object of docs/pipelines.md#writing-a-pipeline-config) and
    /// deploys the new version, through the SDK.
    pub async fn deploy(&self, ns: &str, config: Value) {
        let input: gofer_core::api::PipelineConfigInput =
            serde_json::from_value(config).expect("a pipeline config");
        let p = input.id.clone();
        let registered = self
            .sdk
            .register_config(ns, &p, &input)
            .await
            .expect("register");
        self.sdk
            .deploy_config(ns, &p, registered.config.version)
            .await
            .expect("deploy");
    }

    /// Starts a run (`body` is the start-run request) and returns its id.
    pub async fn start_run(&self, ns: &str, p: &str, body: Value) -> u64 {
        let request: gofer_core::api::StartRunRequest =
            serde_json::from_value(body).expect("a start-run request");
        let run = self
            .sdk
            .start_run(ns, p, &request)
            .await
            .expect("start run");
        assert_eq!(run.state, gofer_core::enums::RunState::Pending);
        run.run_id
    }

    /// Polls the run until it is complete (deadline 120 s) and returns it.
    pub async fn wait_run(&self, ns: &str, p: &str, run: u64) -> Value {
        self.wait_run_state(ns, p, run, "complete").await
    }

    /// Polls the run until its state is `state`; returns it as JSON for the assertions.
    pub async fn wait_run_state(&self, ns: &str, p: &str, run: u64, state: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let got = self.sdk.get_run(ns, p, run).await.expect("get run");
            if got.state.to_string() == state {
                return serde_json::to_value(got).expect("run as JSON");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "run {run} never reached {state}: {got:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Polls a task execution until `pred` holds of it (as JSON; deadline 60 s).
    pub async fn wait_task(
        &self,
        ns: &str,
        p: &str,
        run: u64,
        task: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let got = self.sdk.get_task_execution(ns, p, run, task).await;
            let last = match got {
                Ok(execution) => {
                    let json = serde_json::to_value(execution).expect("execution as JSON");
                    if pred(&json) {
                        return json;
                    }
                    json.to_string()
                }
                // Not created yet (the run is still queued).
                Err(e) => e.to_string(),
            };
            assert!(
                std::time::Instant::now() < deadline,
                "task {task} never matched: {last}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The task's stored log (plain transport, no follow), through the SDK.
    pub async fn logs(&self, ns: &str, p: &str, run: u64, task: &str) -> Vec<u8> {
        use futures_util::StreamExt as _;
        let mut stream = self
            .sdk
            .task_logs(ns, p, run, task, false)
            .await
            .unwrap_or_else(|e| panic!("logs of {task}: {e}"));
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.expect("log chunk"));
        }
        bytes
    }
}
