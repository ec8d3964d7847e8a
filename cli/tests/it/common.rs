//! The in-process server and helpers to run the binary.

use gofer_core::api::{PipelineConfigInput, TaskInput};
use gofer_core::config::ServerConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a test waits for the server to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// `gofer` isolated from the developer's environment: no `GOFER_*` variables and a config
/// directory that does not exist (so no default CLI config file is read).
pub fn gofer() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_gofer"));
    for (key, _) in std::env::vars() {
        if key.starts_with("GOFER_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.env("XDG_CONFIG_HOME", no_config_dir());
    cmd
}

/// [`gofer`] as a plain process, for tests that read its output while it runs.
pub fn gofer_process() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gofer"));
    for (key, _) in std::env::vars() {
        if key.starts_with("GOFER_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.env("XDG_CONFIG_HOME", no_config_dir());
    cmd
}

/// A directory that never exists.
pub fn no_config_dir() -> PathBuf {
    std::env::temp_dir().join("gofer-it-no-such-config-dir")
}

/// What a finished `gofer` run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Parses stdout as JSON into `T`.
    #[track_caller]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not the expected JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `cmd` to completion.
pub fn run(cmd: &mut assert_cmd::Command) -> Run {
    let output = cmd.output().expect("gofer runs");
    Run {
        code: output
            .status
            .code()
            .expect("gofer exits normally, not by a signal"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// An address nothing listens on (bound, then released).
pub fn unused_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A server config for tests: defaults, a temporary data dir, loopback only, no listeners or
/// extensions besides the API.
pub fn test_config(data_dir: &std::path::Path) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.server.data_dir = data_dir.display().to_string();
    config.server.bind_address = "127.0.0.1:0".into();
    config.server.shutdown_timeout = 5;
    config.external_events.enable = false;
    config.external_events.bind_address = "127.0.0.1:0".into();
    config.extensions.install_std_extensions = false;
    config
}

/// The real server, serving on `127.0.0.1:<ephemeral>` from a background thread until dropped.
pub struct TestServer {
    pub url: String,
    runtime: tokio::runtime::Runtime,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// What `serve` returned, sent by the server thread as its last act.
    result: mpsc::Receiver<Result<(), String>>,
    thread: Option<JoinHandle<()>>,
    _data_dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts the server and waits until it answers `GET /api/health`; panics with the server's
    /// own error when it fails to start.
    pub fn start() -> TestServer {
        TestServer::start_configured(|_| {})
    }

    /// [`TestServer::start`] with `development.bypass_auth = false`: every request needs a token.
    pub fn start_strict() -> TestServer {
        TestServer::start_configured(|c| c.development.bypass_auth = false)
    }

    /// [`TestServer::start`] with the test config changed by `adjust`.
    pub fn start_configured(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = test_config(data_dir.path());
        adjust(&mut config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let (report, result) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let served = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|runtime| {
                    runtime.block_on(async move {
                        let listener = tokio::net::TcpListener::from_std(listener)
                            .map_err(|e| e.to_string())?;
                        gofer_server::serve(config, listener, async {
                            let _ = stop.await;
                        })
                        .await
                        .map_err(|e| e.to_string())
                    })
                });
            let _ = report.send(served);
        });
        let server = TestServer {
            url: format!("http://{addr}"),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            shutdown: Some(shutdown),
            result,
            thread: Some(thread),
            _data_dir: data_dir,
        };
        server.wait_ready();
        server
    }

    /// The listener is bound before `serve` runs, so the first request simply waits in the
    /// backlog until the server accepts it; no polling needed. If `serve` fails, the listener
    /// is dropped, the request fails and the server's own error is reported.
    fn wait_ready(&self) {
        let client = self.client();
        match self.block_on(async { tokio::time::timeout(READY_TIMEOUT, client.health()).await }) {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                let served = self.result.recv_timeout(Duration::from_secs(10));
                panic!("the test server did not start: {error}; serve() returned: {served:?}");
            }
            Err(_) => {
                panic!("the test server did not answer GET /api/health within {READY_TIMEOUT:?}")
            }
        }
    }

    /// An SDK client for this server (no token: loopback requests use the dev-mode bypass).
    pub fn client(&self) -> gofer_sdk::Client {
        gofer_sdk::Client::new(&self.url, None).unwrap()
    }

    /// Runs SDK calls from a synchronous test.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// `gofer --api-base-url <this server>`.
    pub fn gofer(&self) -> assert_cmd::Command {
        let mut cmd = gofer();
        cmd.args(["--api-base-url", &self.url]);
        cmd
    }

    /// Runs `gofer <args>` against this server.
    pub fn run(&self, args: &[&str]) -> Run {
        run(self.gofer().args(args))
    }

    /// Runs `gofer --namespace <ns> <args>` against this server.
    pub fn run_in(&self, ns: &str, args: &[&str]) -> Run {
        run(self.gofer().args(["--namespace", ns]).args(args))
    }

    /// Registers pipeline `id` of namespace `ns` with `tasks`, without deploying it.
    pub fn register_in(&self, ns: &str, id: &str, tasks: Vec<TaskInput>) {
        let config = PipelineConfigInput {
            id: id.into(),
            name: id.into(),
            tasks,
            ..PipelineConfigInput::default()
        };
        let client = self.client();
        self.block_on(client.register_config(ns, id, &config))
            .unwrap();
    }

    /// Registers pipeline `id` of namespace `default` with `tasks` and makes it live.
    pub fn deploy(&self, id: &str, tasks: Vec<TaskInput>) {
        self.deploy_in("default", id, tasks);
    }

    /// Registers pipeline `id` of namespace `ns` with `tasks` and makes the new version live.
    pub fn deploy_in(&self, ns: &str, id: &str, tasks: Vec<TaskInput>) {
        self.register_in(ns, id, tasks);
        let client = self.client();
        let version = self.block_on(client.get_config(ns, id, 0)).unwrap().version;
        self.block_on(client.deploy_config(ns, id, version))
            .unwrap();
    }

    /// Waits, with `gofer run watch`, until every run of `ns`/`p` is complete, and returns each
    /// run's id with the exit code of its watch (0 successful, 8 failed or cancelled). Tests that
    /// start runs end with this, so that no container is still being created when their
    /// [`ContainerNamespace`] is cleaned up.
    pub fn finish_runs(&self, ns: &str, p: &str) -> Vec<(u64, i32)> {
        let client = self.client();
        let runs = self.block_on(client.list_runs(ns, p, None)).unwrap();
        runs.iter()
            .map(|r| {
                let id = r.run_id.to_string();
                (r.run_id, self.run_in(ns, &["run", "watch", p, &id]).code)
            })
            .collect()
    }

    /// Creates `namespace` on this server and returns its id.
    pub fn create_namespace(&self, namespace: &ContainerNamespace) -> String {
        let request = gofer_core::api::CreateNamespaceRequest {
            id: namespace.id.clone(),
            name: None,
            description: None,
        };
        let client = self.client();
        self.block_on(client.create_namespace(&request)).unwrap();
        namespace.id.clone()
    }
}

/// A task running `sh -c <script>` in `image`.
pub fn shell_task(id: &str, image: &str, script: &str) -> TaskInput {
    TaskInput {
        id: id.into(),
        image: image.into(),
        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        ..TaskInput::default()
    }
}

/// The busybox test image when a Docker engine answers (panics with
/// instructions when none does; `None` only when skipped explicitly).
pub fn busybox_image(server: &TestServer) -> Option<String> {
    server.block_on(async {
        let docker = gofer_server::testing::require_docker().await?;
        Some(
            gofer_server::testing::busybox_image(&docker)
                .await
                .expect("the busybox test image builds"),
        )
    })
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Wait for a clean shutdown (redb closed) before the data dir is removed.
        let served = self.result.recv_timeout(Duration::from_secs(30));
        if let Some(thread) = self.thread.take()
            && served.is_ok()
        {
            let _ = thread.join();
        }
        if !std::thread::panicking() {
            match served {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("serve() ended with an error: {e}"),
                Err(e) => panic!("the server did not shut down within 30s: {e}"),
            }
        }
    }
}

/// A namespace id no other test run uses, for tests whose runs start containers: container
/// names contain the namespace (docs/schedulers.md#what-every-scheduler-does) and the Docker engine is shared with other test
/// runs, so a fixed namespace would collide with containers an earlier run left. On drop, every
/// container of the namespace is removed: declare it before the [`TestServer`], so that it is
/// dropped after the server stopped and can start no more containers.
pub struct ContainerNamespace {
    pub id: String,
}

impl ContainerNamespace {
    pub fn new() -> ContainerNamespace {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        ContainerNamespace {
            id: format!("it-{}-{}", std::process::id(), nanos % 1_000_000_000_000),
        }
    }
}

impl Drop for ContainerNamespace {
    fn drop(&mut self) {
        use gofer_server::scheduler::{LABEL_MANAGED, LABEL_NAMESPACE, Scheduler};
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            let Some(docker) = gofer_server::testing::require_docker().await else {
                return;
            };
            let labels = [
                (LABEL_MANAGED.to_owned(), "true".to_owned()),
                (LABEL_NAMESPACE.to_owned(), self.id.clone()),
            ]
            .into_iter()
            .collect();
            for container in docker.list(&labels).await.unwrap_or_default() {
                let _ = docker.stop(&container.name, 0).await;
                let _ = docker.remove(&container.name).await;
            }
        });
    }
}

/// Removes every container of a pipeline's tasks (test cleanup; best effort).
pub fn remove_pipeline_containers(pipeline: &str) {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=gofer.pipeline_id={pipeline}"),
        ])
        .output();
    if let Ok(out) = out {
        for id in String::from_utf8_lossy(&out.stdout).lines() {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", id])
                .output();
        }
    }
}

/// A pipeline, extension or container name no earlier test run used: container names include
/// these ids, and containers of other server instances are never touched, so names must not
/// repeat between runs.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}{}x{nanos}", std::process::id())
}

/// A plain `reqwest` client for raw HTTP in tests (reqwest has no TLS provider of its own here:
/// ring is installed first, as the CLI does).
pub fn http() -> reqwest::Client {
    http_builder().build().expect("http client")
}

/// [`http`]'s builder, for tests that set timeouts or redirects.
pub fn http_builder() -> reqwest::ClientBuilder {
    gofer_sdk::install_crypto_provider();
    reqwest::Client::builder()
}
