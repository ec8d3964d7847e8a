//! Shell completion that knows the server's ids (docs/cli.md#shell-completion-and-manual): the
//! script `gofer completion <shell>` prints calls back into `gofer` on every Tab, and arguments
//! naming a namespace, pipeline or extension are completed with the ids the server has. The
//! server, token and namespace come from the environment and the CLI config file (flags typed
//! on the line being completed are not seen). An unreachable server completes nothing and
//! prints nothing; every lookup gives up after two seconds.

use crate::args::GlobalArgs;
use crate::settings::Settings;
use clap::{Args as _, FromArgMatches as _};
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use std::future::Future;
use std::time::Duration;

/// How long one Tab may wait for the server.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// Pipeline ids of the namespace the settings name, with each pipeline's state as help.
pub fn pipelines() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        ask(async |client, namespace| {
            let pipelines = client.list_pipelines(&namespace, None).await?;
            Ok(pipelines
                .into_iter()
                .map(|p| (p.pipeline_id, p.state.to_string()))
                .collect())
        })
    })
}

/// Namespace ids, with each namespace's name as help.
pub fn namespaces() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        ask(async |client, _| {
            let namespaces = client.list_namespaces(None).await?;
            Ok(namespaces.into_iter().map(|n| (n.id, n.name)).collect())
        })
    })
}

/// Extension ids, with each extension's image as help.
pub fn extensions() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        ask(async |client, _| {
            let extensions = client.list_extensions(None).await?;
            Ok(extensions
                .into_iter()
                .map(|e| (e.registration.extension_id, e.registration.image))
                .collect())
        })
    })
}

/// The settings a plain `gofer` command would use: environment, config file, defaults (the
/// global flags parsed from an empty command line, so only their environment variables count).
fn settings() -> Option<Settings> {
    let matches = GlobalArgs::augment_args(clap::Command::new("gofer"))
        .try_get_matches_from(["gofer"])
        .ok()?;
    let args = GlobalArgs::from_arg_matches(&matches).ok()?;
    let env = |key: &str| std::env::var(key).ok();
    Settings::resolve(&args, &matches, &env)
        .ok()
        .map(|(settings, _)| settings)
}

/// Runs one lookup against the server; any failure completes nothing.
fn ask<F, Fut>(lookup: F) -> Vec<CompletionCandidate>
where
    F: FnOnce(gofer_sdk::Client, String) -> Fut,
    Fut: Future<Output = Result<Vec<(String, String)>, gofer_sdk::Error>>,
{
    let Some(settings) = settings() else {
        return Vec::new();
    };
    let Ok(client) = settings.quiet_client() else {
        return Vec::new();
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let namespace = settings.namespace.value.clone();
    let looked_up = runtime
        .block_on(async { tokio::time::timeout(LOOKUP_TIMEOUT, lookup(client, namespace)).await });
    match looked_up {
        Ok(Ok(items)) => items
            .into_iter()
            .map(|(id, help)| {
                let candidate = CompletionCandidate::new(id);
                if help.is_empty() {
                    candidate
                } else {
                    candidate.help(Some(help.into()))
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}
