//! The Gofer server as a library: `serve(config, listener, shutdown)`. `main` (in
//! the `gofer` binary) only loads config, sets up tracing, binds and passes a shutdown future.

pub mod backup;
pub mod engine;
pub mod events;
pub mod extensions;
pub mod external_events;
pub mod http;
pub mod local_images;
pub mod logs;
pub mod metrics;
pub mod notify;
pub mod objects;
pub mod scheduler;
pub mod secrets;
pub mod service;
pub mod store;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod tls;
pub mod tokens;

use gofer_core::api::Namespace;
use gofer_core::config::{DEFAULT_ENCRYPTION_KEY, ServerConfig};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::{RedbStore, StoreError, StoreHandle};

/// The commit this binary was built from.
pub const COMMIT: &str = env!("GOFER_COMMIT");
/// The version of this binary.
pub const SEMVER: &str = env!("CARGO_PKG_VERSION");

/// Why the server could not start or stopped with an error. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Startup(String),
}

/// The data directory: `server.data_dir`, else `$XDG_DATA_HOME/gofer`, else
/// `~/.local/share/gofer` (docs/configuration.md).
pub fn resolve_data_dir(config: &ServerConfig) -> PathBuf {
    if !config.server.data_dir.is_empty() {
        return PathBuf::from(&config.server.data_dir);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("gofer");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".local/share/gofer")
}

/// Runs the server on `listener` until `shutdown` resolves: [`prepare`], then
/// [`Prepared::serve`].
pub async fn serve(
    config: ServerConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    prepare(config).await?.serve(listener, shutdown).await
}

/// A server that has done its boot sequence (docs/configuration.md#what-happens-at-start) up to opening the listener: data dir
/// created, store open (a second server on the same data dir fails here), engine connected,
/// default namespace present, unfinished runs recovered.
pub struct Prepared {
    state: Arc<http::AppState>,
    engine_task: tokio::task::JoinHandle<()>,
    /// One shutdown signal for warp's graceful drain, our drain deadline, the engine and the
    /// long-lived websocket streams, which warp no longer tracks once upgraded (they hold
    /// receivers through `AppState::shutdown` and close with 1000 when it turns true).
    stop_tx: tokio::sync::watch::Sender<bool>,
    stop_rx: tokio::sync::watch::Receiver<bool>,
    /// The external events listener (docs/extensions.md#webhooks-external-events), bound at boot when enabled.
    external: Option<tokio::net::TcpListener>,
    /// TLS of the API and external events listeners, when their `use_tls` is on.
    api_tls: Option<tokio_rustls::TlsAcceptor>,
    external_tls: Option<tokio_rustls::TlsAcceptor>,
    /// Keeps the store reachable from tests while the server runs.
    #[cfg(feature = "test-support")]
    _registration: testing::Registration,
}

/// What the process running the server adds to its configuration.
#[derive(Debug, Clone, Default)]
pub struct BootOptions {
    /// The `gofer` executable of this process, from which the locally packaged images are built
    /// at boot (docs/extensions.md#images-gofer-builds-itself). `None` (in-process test servers, whose executable is a test binary)
    /// builds none.
    pub local_images_from: Option<PathBuf>,
    /// The address the API listener is bound to, when the caller bound it already (its port
    /// completes the default `server.extension_address`; `None` takes the port of
    /// `server.bind_address`).
    pub api_address: Option<std::net::SocketAddr>,
}

/// Performs the boot sequence; see [`Prepared`].
pub async fn prepare(config: ServerConfig) -> Result<Prepared, ServerError> {
    prepare_with(config, BootOptions::default()).await
}

/// [`prepare`] with what the process adds (see [`BootOptions`]).
pub async fn prepare_with(
    mut config: ServerConfig,
    options: BootOptions,
) -> Result<Prepared, ServerError> {
    config
        .validate()
        .map_err(|e| ServerError::Startup(format!("invalid configuration: {e}")))?;
    raise_open_file_limit(&config);
    // Certificates are read before anything is written: a bad pair stops the boot with the
    // setting to fix (docs/deploy.md#tls).
    let api_tls = tls::acceptor(
        "server",
        config.server.use_tls,
        &config.server.tls_cert_path,
        &config.server.tls_key_path,
    )
    .map_err(ServerError::Startup)?;
    let external_tls = tls::acceptor(
        "external_events",
        config.external_events.use_tls && config.external_events.enable,
        &config.external_events.tls_cert_path,
        &config.external_events.tls_key_path,
    )
    .map_err(ServerError::Startup)?;
    // The external events port is taken before anything is written: a boot that cannot listen
    // leaves the data directory as it was.
    let external = if config.external_events.enable {
        let address = &config.external_events.bind_address;
        let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
            ServerError::Startup(format!(
                "cannot listen on {address} for external events (external_events.bind_address): \
                 {e}; set another address or external_events.enable = false"
            ))
        })?;
        tracing::info!(address = %address, "external events listener ready");
        Some(listener)
    } else {
        None
    };
    let data_dir = resolve_data_dir(&config);
    std::fs::create_dir_all(&data_dir).map_err(|e| {
        ServerError::Startup(format!(
            "cannot create the data directory '{}': {e}; set server.data_dir to a writable directory",
            data_dir.display()
        ))
    })?;
    // The extensions' certificates: a configured pair is checked, the server's CA is loaded or
    // created (docs/deploy.md#tls-between-the-server-and-its-extensions).
    let extension_tls =
        tls::ExtensionTls::from_config(&config, &data_dir).map_err(ServerError::Startup)?;
    let db_path = gofer_core::paths::database(&data_dir);
    let store = tokio::task::spawn_blocking(move || RedbStore::open(&db_path))
        .await
        .map_err(|e| ServerError::Startup(format!("opening the store failed: {e}")))??;
    let store = StoreHandle::new(Arc::new(store));
    #[cfg(feature = "test-support")]
    let registration = testing::register(&data_dir, store.clone());
    // Verify the encryption key before anything else uses the store (docs/objects-and-secrets.md#secrets, docs/configuration.md#what-happens-at-start).
    let cipher = Arc::new(
        secrets::Cipher::new(config.secret_store.encryption_key.as_bytes())
            .map_err(|e| ServerError::Startup(e.to_string()))?,
    );
    let secrets = secrets::Secrets::new(store.clone(), cipher.clone());
    secrets.verify_key().await.map_err(ServerError::Startup)?;
    let scheduler = connect_scheduler(&config).await?;
    // The engine beside the server, connected once: local images are built, the bridge gateway
    // is read and extensions run there.
    let local = local_docker(&config)
        .await
        .map_err(|e| ServerError::Startup(e.to_string()))?;
    if config.server.extension_address.is_empty() {
        config.server.extension_address =
            default_extension_address(&config, &options, &local).await;
        tracing::info!(
            address = %config.server.extension_address,
            "tasks and extensions reach the API here (server.extension_address)"
        );
    }
    if let Some(executable) = &options.local_images_from {
        build_local_images(&local, executable, &data_dir).await;
    }
    boot(&store, &config).await?;

    // Restart recovery happens here, before the listener serves (docs/runs.md#restart-recovery, docs/configuration.md#what-happens-at-start).
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    prune_events(&store, config.api.event_log_retention).await;
    tokio::spawn(recover_storage(store.clone(), stop_rx.clone()));
    tokio::spawn(prune_events_every(
        store.clone(),
        config.api.event_log_retention,
        config.api.event_prune_interval,
        stop_rx.clone(),
    ));
    tokio::spawn(advance_deployments_every(store.clone(), stop_rx.clone()));
    let instance_id = store.read(|s| s.instance_id()).await?;
    let instance_for_extensions = instance_id.clone();
    let cipher_for_extensions = cipher.clone();
    let cipher_for_notifications = cipher.clone();
    let scheme = if config.server.use_tls {
        "https"
    } else {
        "http"
    };
    let swarm = config.scheduler.engine == "swarm";
    let engine_config = engine::EngineConfig {
        data_dir: data_dir.clone(),
        instance_id,
        api_base_url: format!("{scheme}://{}", config.server.extension_address),
        stop_timeout: config.api.task_execution_stop_timeout,
        run_parallelism_limit: config.api.run_parallelism_limit,
        global_run_limit: config.api.global_run_concurrency_limit,
        log_retention: config.api.task_execution_log_retention,
        prune: if swarm {
            config.scheduler.swarm.prune
        } else {
            config.scheduler.docker.prune
        },
        prune_interval: if swarm {
            config.scheduler.swarm.prune_interval
        } else {
            config.scheduler.docker.prune_interval
        },
        run_token_key: config.secret_store.encryption_key.as_bytes().to_vec(),
        run_object_expiry: config.object_store.run_object_expiry,
        log_driver: Some(if swarm {
            config.scheduler.swarm.log_driver.clone()
        } else {
            config.scheduler.docker.log_driver.clone()
        })
        .filter(|d| !d.trim().is_empty()),
        resource_defaults: config
            .scheduler
            .resources
            .policy()
            .unwrap_or_default()
            .defaults,
        cipher,
    };
    let (engine, engine_task) = engine::Engine::start(
        store.clone(),
        scheduler.clone(),
        engine_config,
        stop_rx.clone(),
    )
    .await?;
    // docs/notifications.md: follows the event log on tasks of its own.
    let notifier = Arc::new(notify::Notifier::new(
        store.clone(),
        engine::substitute::Resolver {
            store: store.clone(),
            cipher: cipher_for_notifications,
            data_dir: data_dir.clone(),
        },
        format!("{scheme}://{}", config.server.extension_address),
    ));
    tokio::spawn(notifier.follow(stop_rx.clone()));
    let metrics = Arc::new(metrics::Metrics::default());
    tokio::spawn(
        metrics
            .clone()
            .follow_events(store.clone(), stop_rx.clone()),
    );
    let config = Arc::new(config);
    let extensions = extensions::Extensions::new(
        store.clone(),
        local,
        cipher_for_extensions,
        config.clone(),
        instance_for_extensions,
        extension_tls,
    );
    extensions.install_std().await?;
    let state = Arc::new(http::AppState {
        extensions,
        metrics,
        store,
        secrets,
        engine,
        scheduler,
        shutdown: stop_rx.clone(),
        data_dir,
        config,
        routes: http::routes::all(),
        auth: http::auth::Authenticator::default(),
    });
    Ok(Prepared {
        state,
        engine_task,
        stop_tx,
        stop_rx,
        external,
        api_tls,
        external_tls,
        #[cfg(feature = "test-support")]
        _registration: registration,
    })
}

impl Prepared {
    /// The data directory in use.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.state.data_dir
    }

    /// The run engine, for an embedding program that starts runs in-process (`gofer pipeline
    /// exec` starts its run with initiator kind `cli_exec`, docs/pipelines.md#the-records).
    pub fn engine(&self) -> &engine::Engine {
        &self.state.engine
    }

    /// Serves the API on `listener` until `shutdown` resolves, then drains requests for up to
    /// `server.shutdown_timeout` seconds. Running task containers are left running; the next
    /// start reattaches to them.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Prepared {
            state,
            engine_task,
            stop_tx,
            stop_rx,
            external,
            api_tls,
            external_tls,
            ..
        } = self;
        let stop_tx = Arc::new(stop_tx);
        tokio::spawn({
            let stop_tx = stop_tx.clone();
            async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            }
        });
        // Tasks and extensions call the API at `server.extension_address`: say so at once when
        // nothing answers there (a server bound to loopback only, a wrong address), instead of
        // letting triggers and result hand-offs fail silently later.
        if let Ok(local) = listener.local_addr() {
            tokio::spawn(check_extension_address(
                state.config.server.extension_address.clone(),
                local,
            ));
        }
        let shutdown_timeout = Duration::from_secs(state.config.server.shutdown_timeout);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let extensions = state.extensions.clone();
        let config = state.config.clone();
        let api_limits = http::listen::Limits {
            header_read_timeout: Duration::from_secs(config.server.header_read_timeout),
            max_connections: usize::try_from(config.server.max_connections).unwrap_or(usize::MAX),
        };
        let server = http::listen::serve(
            listener,
            warp::service(http::filter(state)),
            api_limits,
            "api",
            api_tls,
            stopped(stop_rx.clone()),
        );
        if let Some(listener) = external {
            let events = &config.external_events;
            let filter = external_events::filter(
                extensions.clone(),
                events.max_body_bytes,
                Duration::from_secs(events.body_read_timeout),
            );
            let limits = http::listen::Limits {
                header_read_timeout: Duration::from_secs(events.header_read_timeout),
                max_connections: usize::try_from(events.max_connections).unwrap_or(usize::MAX),
            };
            tokio::spawn(http::listen::serve(
                listener,
                warp::service(filter),
                limits,
                "external_events",
                external_tls,
                stopped(stop_rx.clone()),
            ));
        }
        // Extensions start once the listener is up: they call the API (docs/configuration.md#what-happens-at-start).
        tokio::spawn({
            let extensions = extensions.clone();
            async move { extensions.start_enabled().await }
        });
        let deadline = {
            let stopped = stopped(stop_rx);
            async move {
                stopped.await;
                tracing::info!(
                    timeout_secs = shutdown_timeout.as_secs(),
                    "shutting down: draining requests"
                );
                tokio::time::sleep(shutdown_timeout).await;
            }
        };
        let drained = tokio::select! {
            () = server => true,
            () = deadline => {
                tracing::warn!("shutdown timeout reached; closing the remaining connections");
                false
            }
        };
        extensions.shutdown().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), engine_task).await;
        // Every receiver gone means every websocket stream has said goodbye.
        if drained
            && tokio::time::timeout(shutdown_timeout, stop_tx.closed())
                .await
                .is_err()
        {
            tracing::warn!("shutdown timeout reached; some websocket streams did not close");
        }
        tracing::info!("server stopped");
        Ok(())
    }
}

/// The Docker engine beside the server: the configured one, or the swarm manager's engine.
/// Local images are built and extensions run there (docs/extensions.md#launch, docs/extensions.md#images-gofer-builds-itself).
async fn local_docker(
    config: &ServerConfig,
) -> scheduler::SchedulerResult<scheduler::docker::DockerScheduler> {
    let (host, timeout) = if config.scheduler.engine == "swarm" {
        (&config.scheduler.swarm.host, config.scheduler.swarm.timeout)
    } else {
        (
            &config.scheduler.docker.host,
            config.scheduler.docker.timeout,
        )
    };
    scheduler::docker::DockerScheduler::connect(host, timeout).await
}

/// The gateway of Docker's default `bridge` network: the host's address as containers on that
/// network see it. `None` when the engine cannot be asked or has no such network.
pub async fn bridge_gateway(host: &str, timeout_secs: u64) -> Option<std::net::IpAddr> {
    let docker = scheduler::docker::DockerScheduler::connect(host, timeout_secs)
        .await
        .ok()?;
    docker.bridge_gateway().await
}

/// `server.extension_address` when it is left empty: the bridge gateway of the local engine
/// (`172.17.0.1` when it does not say) and the port the API listens on.
async fn default_extension_address(
    config: &ServerConfig,
    options: &BootOptions,
    local: &scheduler::docker::DockerScheduler,
) -> String {
    let port = options.api_address.map(|a| a.port()).unwrap_or_else(|| {
        config
            .server
            .bind_address
            .parse::<std::net::SocketAddr>()
            .map(|a| a.port())
            .unwrap_or(8080)
    });
    let gateway = local
        .bridge_gateway()
        .await
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::new(172, 17, 0, 1)));
    std::net::SocketAddr::new(gateway, port).to_string()
}

/// Builds the locally packaged images on the engine beside the server (docs/extensions.md#images-gofer-builds-itself). A failure is
/// logged, not fatal: tasks using a missing image then fail with `scheduler_error`.
async fn build_local_images(
    docker: &scheduler::docker::DockerScheduler,
    executable: &std::path::Path,
    work_dir: &std::path::Path,
) {
    match local_images::ensure(docker, executable, work_dir).await {
        Ok(built) if built.is_empty() => tracing::debug!("local images are current"),
        Ok(built) => tracing::info!(images = ?built, "built local images"),
        Err(e) => tracing::error!(
            error = %e,
            "cannot build the local images; tasks using gofer.local/ images will fail"
        ),
    }
}

/// Connects to the configured container engine; the server does not start without one
/// (docs/schedulers.md#docker).
async fn connect_scheduler(
    config: &ServerConfig,
) -> Result<Arc<dyn scheduler::Scheduler>, ServerError> {
    match config.scheduler.engine.as_str() {
        "docker" => {
            let docker = scheduler::docker::DockerScheduler::connect(
                &config.scheduler.docker.host,
                config.scheduler.docker.timeout,
            )
            .await
            .map_err(|e| ServerError::Startup(e.to_string()))?;
            Ok(Arc::new(docker))
        }
        "swarm" => {
            let swarm =
                scheduler::swarm::SwarmScheduler::connect(scheduler::swarm::SwarmSettings {
                    host: config.scheduler.swarm.host.clone(),
                    timeout_secs: config.scheduler.swarm.timeout,
                    network: config.scheduler.swarm.network.clone(),
                    constraints: config.scheduler.swarm.constraints.clone(),
                    stop_grace_secs: config.api.task_execution_stop_timeout,
                })
                .await
                .map_err(|e| ServerError::Startup(e.to_string()))?;
            Ok(Arc::new(swarm))
        }
        other => Err(ServerError::Startup(format!(
            "scheduler.engine: '{other}' is not one of docker, swarm"
        ))),
    }
}

/// Raises the soft open-file limit to the hard limit, and warns when even that leaves too few
/// descriptors for both listeners' connection caps plus the store, logs and the engine
/// (docs/security.md, "Listeners").
fn raise_open_file_limit(config: &ServerConfig) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => limit = raised,
            Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
        }
    }
    let mut needed = config.server.max_connections;
    if config.external_events.enable {
        needed = needed.saturating_add(config.external_events.max_connections);
    }
    // Room for the database, task log files, Docker connections and extensions.
    let needed = needed.saturating_add(1024);
    match limit.current {
        Some(current) if current < needed => tracing::warn!(
            open_files = current,
            needed,
            "the open-file limit is low for server.max_connections and \
             external_events.max_connections; raise it (ulimit -n, LimitNOFILE=) or lower them"
        ),
        _ => {}
    }
}

/// Resolves to `true` once `shutdown` (see [`http::AppState::shutdown`]) turns true; to `false`
/// if its sender is gone without that, so a `select!` branch `true = shutting_down(..)` never fires
/// then.
pub(crate) async fn shutting_down(shutdown: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    shutdown.wait_for(|stop| *stop).await.is_ok()
}

/// Deletes events older than `retention_secs` (docs/logs-and-events.md#one-event-deletion-retention).
async fn prune_events(store: &StoreHandle, retention_secs: u64) {
    let cutoff = gofer_core::now_millis().saturating_sub(retention_secs.saturating_mul(1000));
    match store.write(move |s| s.prune_events(cutoff)).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(count = n, "pruned old events"),
        Err(e) => tracing::warn!(error = %e, "pruning events failed"),
    }
}

/// Warns when the API cannot be reached at `extension_address` from this host (a container on
/// the bridge reaches the host the same way, so this catches a server listening on loopback
/// only): tasks would get a wrong `GOFER_API_BASE_URL` and extensions could not start runs.
async fn check_extension_address(extension_address: String, listening: std::net::SocketAddr) {
    let connect = tokio::net::TcpStream::connect(extension_address.as_str());
    let problem = match tokio::time::timeout(Duration::from_secs(3), connect).await {
        Ok(Ok(_)) => return,
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 3 s".to_owned(),
    };
    let port = listening.port();
    tracing::warn!(
        "tasks and extensions cannot reach the API at {extension_address} \
         (server.extension_address): {problem}. The server listens on {listening} only; set \
         server.bind_address = \"0.0.0.0:{port}\" (or the Docker bridge's address), or \
         server.extension_address to where containers can reach it. Until then, triggers cannot \
         start runs and tasks cannot send results"
    );
}

/// Reopens the database after a full disk or an I/O error, as soon as it can be reopened
/// (checked every second): writes then work again without a restart.
async fn recover_storage(store: StoreHandle, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut last_reason = String::new();
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            true = shutting_down(&mut shutdown) => return,
        }
        if store.blocking().failure().is_none() {
            continue;
        }
        // A write, so that event followers wake up once the database is back.
        match store.write(|s| Ok(s.recover())).await {
            Ok(Ok(true)) => last_reason.clear(),
            Ok(Ok(false)) => {}
            Ok(Err(reason)) => {
                if reason != last_reason {
                    tracing::warn!(reason = %reason, "storage still failing; retrying every second");
                    last_reason = reason;
                }
            }
            Err(e) => tracing::error!(error = %e, "storage recovery failed"),
        }
    }
}

/// Prunes events every `interval_secs` until shutdown.
async fn prune_events_every(
    store: StoreHandle,
    retention_secs: u64,
    interval_secs: u64,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let interval = Duration::from_secs(interval_secs.max(1));
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => prune_events(&store, retention_secs).await,
            true = shutting_down(&mut shutdown) => return,
        }
    }
}

/// Concludes canaries whose time bake is over (docs/pipelines.md#safe-deployments); a canary
/// baked in runs is concluded by the commit that completes its deciding run. Runs once right
/// away, so a canary whose bake ended while the server was down is decided at start.
async fn advance_deployments_every(
    store: StoreHandle,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let now = gofer_core::now_millis();
        // Reading first keeps an idle server from signalling a write every second.
        let due = store
            .read(|s| s.active_deployments())
            .await
            .map(|active| active.iter().any(|d| d.decided_by_clock(now)))
            .unwrap_or(true);
        let result = if due {
            store.write(move |s| s.advance_deployments(now)).await
        } else {
            Ok(Vec::new())
        };
        match result {
            Ok(done) => {
                for d in done {
                    tracing::info!(
                        namespace = %d.namespace_id,
                        pipeline = %d.pipeline_id,
                        deployment = d.deployment_id,
                        status = %d.status,
                        "deployment concluded at the end of its bake"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "checking deployments in progress failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            true = shutting_down(&mut shutdown) => return,
        }
    }
}

/// Boot steps that need the store (docs/configuration.md#what-happens-at-start): warnings about development defaults, the system
/// roles and the `default` namespace.
async fn boot(store: &StoreHandle, config: &ServerConfig) -> Result<(), ServerError> {
    if config.secret_store.encryption_key == DEFAULT_ENCRYPTION_KEY {
        tracing::warn!(
            "secret_store.encryption_key is the well-known development default; anyone can decrypt \
             stored secrets. Set your own 32-byte key before storing real secrets"
        );
    }
    if config.development.bypass_auth {
        tracing::warn!(
            "development.bypass_auth is on: requests from loopback without a token act as admin. \
             A reverse proxy on this host would make all traffic look local; set \
             development.bypass_auth = false in production"
        );
    }
    // System roles (docs/auth.md#roles-that-always-exist, docs/configuration.md#what-happens-at-start): created when missing, never changed.
    store
        .write(|s| s.ensure_roles(gofer_core::api::system_roles()))
        .await?;
    let default = Namespace {
        id: "default".into(),
        name: "Default".into(),
        description: "Default namespace created by Gofer.".into(),
        created: gofer_core::now_millis(),
        modified: 0,
    };
    match store.write(move |s| s.create_namespace(default)).await {
        Ok(_) => tracing::info!("created the default namespace"),
        Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
