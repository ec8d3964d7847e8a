//! The Gofer server as a library: `serve(config, listener, shutdown)` (STYLE rule 9).

pub mod scheduler;
pub mod store;
#[cfg(feature = "test-support")]
pub mod testing;

use gofer_core::config::ServerConfig;
use std::future::Future;
use std::path::PathBuf;

/// Why the server could not start or stopped with an error. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Store(#[from] store::StoreError),
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
    let _ = (config, listener, shutdown);
    Err(ServerError::Startup("the HTTP API is being written (next commit)".into()))
}
