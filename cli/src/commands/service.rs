//! `gofer service …` (docs/cli.md, docs/configuration.md): run the server in the foreground, print or write the
//! default server configuration.

use super::Ctx;
use crate::failure::Failure;
use clap::Subcommand;
use gofer_core::api::UpdateSystemRequest;
use gofer_core::config::{DEFAULT_SERVER_TOML, ServerConfig};
use std::path::{Path, PathBuf};

/// Read when `service start` gets no `--config` (docs/configuration.md#where-settings-come-from).
pub const SYSTEM_CONFIG_PATH: &str = "/etc/gofer/gofer_web.toml";

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Run the Gofer server in the foreground until SIGINT or SIGTERM
    Start {
        /// Server config file (TOML); must exist [default: /etc/gofer/gofer_web.toml when present]
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Log lines as JSON objects or human-readable text; overrides
        /// development.pretty_logging [default: pretty when that setting is on, else json]
        #[arg(long, value_name = "FORMAT", value_parser = ["json", "pretty"])]
        log_format: Option<String>,
        /// Development: plain HTTP on every listener (any *.use_tls is ignored) and loopback
        /// requests without a token act as admin (development.bypass_auth)
        #[arg(long)]
        dev: bool,
    },
    /// Pause or resume run ingress (ignore_pipeline_run_events) and print the new state
    ToggleEventIngress,
    /// Save a consistent copy of the running server's data (database, objects, task logs) as a
    /// tar file (admin); restore it by extracting it into an empty data directory
    Backup {
        /// The tar file to write (written whole, then moved into place)
        file: PathBuf,
    },
    /// Check the stopped server's database for records that cannot be read, and move them aside
    ///
    /// Lists every stored record that does not decode (exit 0 when there are none, 1 when there
    /// are). With --quarantine, moves them into the database's quarantine table, so lists, the
    /// queue and pipeline deletion work again. The server must be stopped (it holds the file).
    Doctor {
        /// Server config file (TOML), to find the data directory [default: as `service start`]
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Move the unreadable records into the quarantine table
        #[arg(long)]
        quarantine: bool,
    },
    /// Print the default, commented server configuration (or write it to a file)
    InitConfig {
        /// Write to this file instead of stdout
        #[arg(long, value_name = "FILE")]
        path: Option<PathBuf>,
        /// Overwrite the file if it exists
        #[arg(long, requires = "path")]
        force: bool,
    },
}

/// `service toggle-event-ingress`: reads the current state and PATCHes the opposite (docs/api.md#roles-global-secrets-system-tokens
/// #68–69). While paused, every start-run answers 503; queued and running runs continue.
pub async fn toggle_event_ingress(ctx: &Ctx) -> anyhow::Result<()> {
    let current = ctx.client.system().await?;
    let request = UpdateSystemRequest {
        ignore_pipeline_run_events: Some(!current.ignore_pipeline_run_events),
    };
    let system = ctx.client.update_system(&request).await?;
    ctx.print(&system, || {
        if system.ignore_pipeline_run_events {
            "run ingress paused: new runs are refused (ignore_pipeline_run_events = true)\n"
                .to_string()
        } else {
            "run ingress resumed: new runs are accepted (ignore_pipeline_run_events = false)\n"
                .to_string()
        }
    });
    Ok(())
}

/// `service backup` (docs/deploy.md#backup-and-restore): streams the archive into a temporary
/// file beside `file` and moves it into place only when it is complete.
pub async fn backup(ctx: &Ctx, file: &Path) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let mut stream = ctx.client.backup().await?;
    let partial = file.with_file_name(format!(
        ".{}.partial",
        file.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("gofer-backup.tar")
    ));
    let mut out = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| Failure::invalid(format!("cannot create '{}': {e}", partial.display())))?;
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(e.into());
            }
        };
        bytes += chunk.len() as u64;
        out.write_all(&chunk).await?;
    }
    out.sync_all().await?;
    drop(out);
    // A tar ends with two empty blocks; an archive cut short has none.
    if bytes < 1024 {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(
            Failure::unavailable("the server ended the backup early; nothing was written").into(),
        );
    }
    tokio::fs::rename(&partial, file).await?;
    ctx.done(format!(
        "backup written to {} ({bytes} bytes); restore it by extracting it into an empty data \
         directory (docs/deploy.md)",
        file.display()
    ));
    Ok(())
}

/// `service init-config`.
pub fn init_config(path: Option<&Path>, force: bool) -> anyhow::Result<()> {
    let Some(path) = path else {
        crate::output::print(format_args!("{DEFAULT_SERVER_TOML}"));
        return Ok(());
    };
    if path.exists() && !force {
        return Err(Failure::conflict(format!(
            "'{}' already exists; pass --force to overwrite it",
            path.display()
        ))
        .into());
    }
    std::fs::write(path, DEFAULT_SERVER_TOML)
        .map_err(|e| Failure::invalid(format!("cannot write '{}': {e}", path.display())))?;
    crate::output::println(format_args!(
        "default server configuration written to '{}'",
        path.display()
    ));
    Ok(())
}

/// `service start`: load and validate the config, set up logging, bind, serve until a signal.
/// `config` is the `--config` path given on the command line, if any; `log_format` is
/// `--log-format` (`json` or `pretty`), which wins over `development.pretty_logging`.
pub fn start(config: Option<&Path>, log_format: Option<&str>, dev: bool) -> anyhow::Result<()> {
    let (file, loaded) = load_server_config(config)?;
    let mut config = loaded.config;
    if dev {
        config.server.use_tls = false;
        config.external_events.use_tls = false;
        config.extensions.use_tls = false;
        config.development.bypass_auth = true;
    }
    let scheme = if config.server.use_tls {
        "https"
    } else {
        "http"
    };

    let pretty = log_format.map_or(config.development.pretty_logging, |f| f == "pretty");
    init_tracing(&config, pretty);
    if let Some((name, _)) = &file {
        tracing::info!(file = %name, "configuration loaded");
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::error(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let address = config.server.bind_address.clone();
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|e| Failure::error(format!("cannot listen on {address}: {e}")))?;
        let local = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or(address);
        // Boot (store, engine, recovery) before announcing the address, so a refused start never
        // claims to be listening.
        let prepared = gofer_server::prepare_with(
            config,
            gofer_server::BootOptions {
                local_images_from: std::env::current_exe().ok(),
                api_address: listener.local_addr().ok(),
            },
        )
        .await
        .map_err(|e| Failure::error(e.to_string()))?;
        eprintln!("gofer: listening on {scheme}://{local}");
        eprintln!("gofer: data dir {}", prepared.data_dir().display());
        prepared
            .serve(listener, shutdown_signal())
            .await
            .map_err(|e| Failure::error(e.to_string()))?;
        Ok(())
    })
}

/// `service doctor`: scan (and with `quarantine`, quarantine) unreadable records of the data
/// directory's database, with the server stopped.
pub fn doctor(config: Option<&Path>, quarantine: bool, json: bool) -> anyhow::Result<()> {
    let (_, loaded) = load_server_config(config)?;
    let data_dir = gofer_server::resolve_data_dir(&loaded.config);
    let path = gofer_core::paths::database(&data_dir);
    if !path.exists() {
        return Err(Failure::not_found(format!(
            "no database at '{}'; set server.data_dir (or --config) to the server's data directory",
            path.display()
        ))
        .into());
    }
    let store = gofer_server::store::RedbStore::open(&path).map_err(|e| match e {
        gofer_server::store::StoreError::Locked(m) => {
            Failure::conflict(format!("{m}; `service doctor` needs the server stopped"))
        }
        other => Failure::error(other.to_string()),
    })?;
    let records = if quarantine {
        store.quarantine_unreadable()
    } else {
        store.scan_unreadable()
    }
    .map_err(|e| Failure::error(e.to_string()))?;
    if json {
        crate::output::println(format_args!("{}", serde_json::to_string_pretty(&records)?));
    } else if records.is_empty() {
        crate::output::println(format_args!(
            "{}: every stored record reads back",
            path.display()
        ));
    } else {
        let verb = if quarantine {
            "quarantined"
        } else {
            "unreadable"
        };
        crate::output::println(format_args!(
            "{} record(s) {verb} in {}:",
            records.len(),
            path.display()
        ));
        for r in &records {
            crate::output::println(format_args!(
                "  {}  {}  {}",
                crate::output::sanitize(&r.table),
                crate::output::sanitize(&r.key),
                crate::output::sanitize(&r.error)
            ));
        }
    }
    if !records.is_empty() && !quarantine {
        return Err(Failure::error(format!(
            "{} unreadable record(s); run `gofer service doctor --quarantine` to move them aside",
            records.len()
        ))
        .into());
    }
    Ok(())
}

/// The server configuration as `service start` sees it: defaults, the config file (see
/// [`read_server_config`]), then `GOFER_WEB_*`; also the file's name and text, if one was read.
fn load_server_config(
    config: Option<&Path>,
) -> Result<(Option<(String, String)>, gofer_core::config::Loaded), Failure> {
    let file = read_server_config(config)?;
    let env: Vec<(String, String)> = std::env::vars().collect();
    let loaded = ServerConfig::load(
        file.as_ref()
            .map(|(name, text)| (name.as_str(), text.as_str())),
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(|e| Failure::invalid(e.to_string()))?;
    Ok((file, loaded))
}

/// The server config text: `--config` (must exist), else the system file when present.
fn read_server_config(config: Option<&Path>) -> Result<Option<(String, String)>, Failure> {
    let (path, required) = match config {
        Some(path) => (path.to_path_buf(), true),
        None => (PathBuf::from(SYSTEM_CONFIG_PATH), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some((path.display().to_string(), text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Failure::invalid(format!(
            "server config file '{}' not found",
            path.display()
        ))),
        Err(e) => Err(Failure::invalid(format!(
            "cannot read '{}': {e}",
            path.display()
        ))),
    }
}

/// Human-readable logs when `pretty` (`--log-format`, else `development.pretty_logging`), else JSON lines; the level is
/// `api.log_level` unless `RUST_LOG` says otherwise. Logs go to stderr.
///
/// Whatever the level, the HTTP and Docker client libraries never log below `info`: at `debug`
/// and `trace` they write whole request bodies and headers (a container's environment with its
/// resolved secrets, `Authorization` headers). See docs/security.md.
fn init_tracing(config: &ServerConfig, pretty: bool) {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.api.log_level));
    let quiet_libraries = tracing_subscriber::filter::filter_fn(|meta| {
        *meta.level() <= tracing::Level::INFO || !is_library_target(meta.target())
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if pretty {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .finish()
            .with(quiet_libraries)
            .init();
    } else {
        builder.json().finish().with(quiet_libraries).init();
    }
}

/// Log targets of libraries that write request bodies or headers at `debug`/`trace`.
fn is_library_target(target: &str) -> bool {
    const LIBRARIES: [&str; 8] = [
        "bollard",
        "hyper",
        "hyper_util",
        "h2",
        "warp",
        "reqwest",
        "tungstenite",
        "tokio_tungstenite",
    ];
    LIBRARIES.iter().any(|lib| {
        target
            .strip_prefix(lib)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested");
}
