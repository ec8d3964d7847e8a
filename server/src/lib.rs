//! The Gofer server as a library: `serve(config, listener, shutdown)` (STYLE rule 9). `main` (in
//! the `gofer` binary) only loads config, sets up tracing, binds and passes a shutdown future.

pub mod events;
pub mod http;
pub mod logs;
pub mod scheduler;
pub mod store;
#[cfg(feature = "test-support")]
pub mod testing;

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
/// `~/.local/share/gofer` (SPEC §17.2).
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

/// Runs the server on `listener` until `shutdown` resolves, then drains requests for up to
/// `server.shutdown_timeout` seconds. Creates the data directory, opens the store (failing fast
/// when another server holds it) and performs the boot sequence of SPEC §17.3 before serving.
pub async fn serve(
    config: ServerConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    config
        .validate()
        .map_err(|e| ServerError::Startup(format!("invalid configuration: {e}")))?;
    let data_dir = resolve_data_dir(&config);
    std::fs::create_dir_all(&data_dir).map_err(|e| {
        ServerError::Startup(format!(
            "cannot create the data directory '{}': {e}; set server.data_dir to a writable directory",
            data_dir.display()
        ))
    })?;
    let db_path = gofer_core::paths::database(&data_dir);
    let store = tokio::task::spawn_blocking(move || RedbStore::open(&db_path))
        .await
        .map_err(|e| ServerError::Startup(format!("opening the store failed: {e}")))??;
    let store = StoreHandle::new(Arc::new(store));
    #[cfg(feature = "test-support")]
    let _registered = testing::register(&data_dir, store.clone());
    boot(&store, &config).await?;

    let shutdown_timeout = Duration::from_secs(config.server.shutdown_timeout);
    // One shutdown signal, three listeners: warp's graceful drain, our drain deadline, and the
    // long-lived websocket streams, which warp no longer tracks once upgraded (they hold
    // receivers through `AppState::shutdown` and close with 1000 when it turns true).
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let state = Arc::new(http::AppState {
        store,
        data_dir,
        config: Arc::new(config),
        routes: http::routes::all(),
        shutdown: stop_rx.clone(),
    });
    tokio::spawn({
        let stop_tx = stop_tx.clone();
        async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        }
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let server = warp::serve(http::filter(state))
        .incoming(listener)
        .graceful(stopped(stop_rx.clone()))
        .run();
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

/// Resolves to `true` once `shutdown` (see [`http::AppState::shutdown`]) turns true; to `false`
/// if its sender is gone without that, so a `select!` branch `true = shutting_down(..)` never fires
/// then.
pub(crate) async fn shutting_down(shutdown: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    shutdown.wait_for(|stop| *stop).await.is_ok()
}

/// Boot steps that need the store (SPEC §17.3): warnings about development defaults and the
/// `default` namespace.
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
