//! `gofer pipeline exec` (docs/cli.md): run a pipeline once on the local Docker engine without a
//! running server, and leave nothing behind.
//!
//! An in-process server (`gofer_server::prepare`) gets a temporary data dir and an ephemeral
//! port on the Docker bridge's gateway (where task containers reach it, docs/decisions.md); the pipeline is registered and deployed in a namespace of its own
//! (`exec-<random>`, so that container names never collide with another exec or a real server's
//! runs, docs/schedulers.md#what-every-scheduler-does), one run is started with initiator kind `cli_exec`, and the output is that of
//! `run watch`. Afterwards — also after Ctrl-C — the server stops, the run's containers are
//! removed and the data dir is deleted. The exit code is the run's: 0 successful, 8 otherwise.

use super::Ctx;
use crate::failure::Failure;
use gofer_core::api::{CreateNamespaceRequest, Initiator, InitiatorKind, Variable};
use gofer_core::config::ServerConfig;
use gofer_core::enums::VariableSource;
use gofer_server::scheduler::{LABEL_MANAGED, LABEL_NAMESPACE, Scheduler};
use gofer_server::store::NewRun;

/// Largest run payload, serialised: the server's own limit.
use gofer_server::service::runs::MAX_PAYLOAD_BYTES;

/// `gofer pipeline exec <path> [-v K=V]… [--payload <file|@>]`.
pub async fn exec(
    ctx: &Ctx,
    path: &str,
    vars: Vec<(String, String)>,
    payload: Option<String>,
) -> anyhow::Result<()> {
    // Everything that can be checked locally is, before anything is created.
    let input = super::up::load(path)?;
    gofer_core::validate::validate_config(&input.id, &input)
        .map_err(|e| Failure::invalid(format!("invalid pipeline: {e}")))?;
    let mut variables = Vec::with_capacity(vars.len());
    for (key, value) in vars {
        if let Some(problem) = gofer_core::id::variable_key_problem(&key) {
            return Err(Failure::invalid(format!("variables.{key}: {problem}")).into());
        }
        variables.push(Variable {
            key,
            value,
            source: VariableSource::RunOptions,
        });
    }
    let payload = match payload {
        Some(source) => {
            let value = crate::args::read_payload(&source)?;
            if value.to_string().len() > MAX_PAYLOAD_BYTES {
                return Err(Failure::invalid(format!(
                    "payload: larger than {MAX_PAYLOAD_BYTES} bytes"
                ))
                .into());
            }
            Some(value)
        }
        None => None,
    };

    let data_dir = tempfile::Builder::new()
        .prefix("gofer-exec-")
        .tempdir()
        .map_err(|e| Failure::error(format!("cannot create a temporary directory: {e}")))?;
    let namespace = unique_namespace();
    let mut config = ServerConfig::default();
    config.server.data_dir = data_dir.path().display().to_string();
    config.server.shutdown_timeout = 2;
    config.external_events.enable = false;
    config.extensions.install_std_extensions = false;
    // Containers are removed below, by namespace, once the run is over.
    config.scheduler.docker.prune = false;
    let docker = (
        config.scheduler.docker.host.clone(),
        config.scheduler.docker.timeout,
    );

    // Tasks reach the API on the host's address on Docker's bridge (the gateway), so that is
    // where this server listens: a task's result, objects and run token go to this server and
    // to no other one (a real server on :8080 included).
    let gateway = gofer_server::bridge_gateway(&docker.0, docker.1)
        .await
        .ok_or_else(|| {
            Failure::unavailable(
                "cannot find the Docker bridge network's gateway: is a Docker engine running?",
            )
        })?;
    let listener = tokio::net::TcpListener::bind((gateway, 0))
        .await
        .map_err(|e| Failure::error(format!("cannot listen on {gateway}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::error(e.to_string()))?;
    config.server.bind_address = addr.to_string();
    config.server.extension_address = addr.to_string();
    let run_token = gofer_server::engine::new_run_token(
        config.secret_store.encryption_key.as_bytes(),
        config.api.run_token_expiry,
    );
    let prepared = gofer_server::prepare_with(
        config,
        gofer_server::BootOptions {
            local_images_from: std::env::current_exe().ok(),
            api_address: Some(addr),
        },
    )
    .await
    .map_err(|e| Failure::unavailable(format!("cannot start the in-process server: {e}")))?;
    let engine = prepared.engine().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(prepared.serve(listener, async {
        let _ = stopped.await;
    }));

    // The listener is not on loopback, so the auth bypass does not apply: the CLI takes the
    // bootstrap token of this fresh server.
    let bootstrap = gofer_sdk::Client::new(&format!("http://{addr}"), None)?
        .bootstrap_token()
        .await
        .map_err(|e| Failure::unavailable(format!("the in-process server did not answer: {e}")))?;
    let exec_ctx = Ctx {
        client: gofer_sdk::Client::new(&format!("http://{addr}"), Some(bootstrap.secret))?,
        settings: ctx.settings.clone(),
        times: ctx.times,
    };
    let run = async {
        let client = &exec_ctx.client;
        client
            .create_namespace(&CreateNamespaceRequest {
                id: namespace.clone(),
                name: Some(format!("gofer pipeline exec {path}")),
                description: None,
            })
            .await?;
        let registered = client
            .register_config(&namespace, &input.id, &input)
            .await?;
        client
            .deploy_config(&namespace, &input.id, registered.config.version)
            .await?;
        let new = NewRun {
            variables,
            initiator: Initiator {
                id: String::new(),
                user: whoami(),
                kind: InitiatorKind::CliExec,
                subscription_id: None,
            },
            payload,
            only: None,
            command_override: None,
            run_token: Some(run_token),
            retry: None,
        };
        let run = engine
            .start_run(&namespace, &input.id, new)
            .await
            .map_err(|e| Failure::error(format!("cannot start the run: {e}")))?;
        if !exec_ctx.json() {
            eprintln!(
                "run {} of pipeline '{}' started on a temporary server (namespace '{namespace}')",
                run.run_id, run.pipeline_id
            );
        }
        crate::watch::watch(&exec_ctx, &run).await
    };
    let outcome = tokio::select! {
        outcome = run => outcome,
        _ = tokio::signal::ctrl_c() => Err(Failure::run_failed(
            "interrupted: the run was stopped and its containers removed",
        ).into()),
    };

    // Close the client's idle keep-alive connections first: the server's graceful shutdown
    // waits for open connections. Then stop the engine, so that it starts no container after
    // the sweep.
    drop(exec_ctx);
    let _ = stop.send(());
    if let Ok(Err(e)) = server.await {
        eprintln!("warning: the in-process server stopped with an error: {e}");
    }
    if let Err(e) = remove_containers(&docker, &namespace).await {
        eprintln!("warning: could not remove the containers of namespace '{namespace}': {e}");
    }
    if let Err(e) = data_dir.close() {
        eprintln!("warning: could not remove the temporary data directory: {e}");
    }
    outcome
}

/// `exec-<12 hex digits>`, from the clock and the process id.
fn unique_namespace() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mixed = (nanos ^ (u128::from(std::process::id()) << 40)) & 0xffff_ffff_ffff;
    format!("exec-{mixed:012x}")
}

fn whoami() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "gofer pipeline exec".into())
}

/// Stops and removes every container Gofer created for `namespace`.
async fn remove_containers((host, timeout): &(String, u64), namespace: &str) -> Result<(), String> {
    let docker = gofer_server::scheduler::DockerScheduler::connect(host, *timeout)
        .await
        .map_err(|e| e.to_string())?;
    let labels = [
        (LABEL_MANAGED.to_owned(), "true".to_owned()),
        (LABEL_NAMESPACE.to_owned(), namespace.to_owned()),
    ]
    .into_iter()
    .collect();
    for container in docker.list(&labels).await.map_err(|e| e.to_string())? {
        let _ = docker.stop(&container.name, 0).await;
        docker
            .remove(&container.name)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn namespaces_are_valid_ids() {
        let ns = super::unique_namespace();
        assert!(
            gofer_core::id::IdKind::Entity.accepts(&ns),
            "{ns} must be a namespace id"
        );
    }
}
