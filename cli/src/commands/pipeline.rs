//! `gofer pipeline …` (docs/cli.md, docs/api.md#namespaces-and-pipelines, docs/api.md#configs-and-deployments): pipelines, config versions and
//! deployments, always within `--namespace`.

use super::Ctx;
use super::deploy::version_or_none;
use crate::output::{Table, details, or_dash};
use clap::Subcommand;
use gofer_core::api::{
    Config, ConfigResponse, ConfigsResponse, DeploymentResponse, DeploymentsResponse, Metadata,
    Page, PipelineResponse, PipelinesResponse,
};
use gofer_core::enums::PipelineState;

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// List the pipelines of the namespace
    List,
    /// Show a pipeline and its live config version
    Get {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
    },
    /// Start a run (same as `gofer run start`)
    Run(super::run::StartArgs),
    /// Let the pipeline start runs again
    Enable {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
    },
    /// Stop the pipeline from starting runs
    Disable {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
    },
    /// Delete a pipeline with its configs, runs, objects and secrets
    Delete {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
    },
    /// Manage a pipeline's config versions
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Inspect a pipeline's deployments
    #[command(subcommand)]
    Deployment(DeploymentCommand),
    /// Store and read a pipeline's objects
    #[command(subcommand)]
    Object(super::object::PipelineObjectCommand),
    /// Subscribe the pipeline to an extension, which then starts its runs (e.g. every 5m)
    Subscribe {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Extension id, e.g. interval
        #[arg(add = crate::complete::extensions())]
        extension: String,
        /// Subscription id: 3-32 characters of [a-zA-Z0-9_-]
        subscription: String,
        /// A setting for the extension (repeatable), e.g. -s every=5m
        #[arg(short = 's', long = "setting", value_name = "K=V", value_parser = crate::args::key_value)]
        settings: Vec<(String, String)>,
    },
    /// Remove a pipeline's subscription to an extension
    Unsubscribe {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Extension id
        #[arg(add = crate::complete::extensions())]
        extension: String,
        /// Subscription id
        subscription: String,
    },
    /// List, inspect, enable and disable a pipeline's subscriptions
    #[command(subcommand)]
    Subscription(super::extension::SubscriptionCommand),
    /// Build a pipeline as `gofer up` does and check it with the server's rules, without a server
    Validate {
        /// A pipeline program's directory (Cargo.toml or go.mod), a .json file, or - for stdin
        path: String,
    },
    /// Run a pipeline once on the local Docker engine, without a server; exits 0 when the run
    /// succeeds, 8 otherwise, and removes its containers and temporary data
    Exec {
        /// A pipeline program's directory (Cargo.toml or go.mod), a .json file, or - for stdin
        path: String,
        /// A run variable (repeatable)
        #[arg(short = 'v', long = "var", value_name = "K=V", value_parser = crate::args::key_value)]
        vars: Vec<(String, String)>,
        /// JSON payload for the run's tasks (GOFER_RUN_PAYLOAD): a file (p.json or @p.json), or - for stdin
        #[arg(long, value_name = "FILE|@")]
        payload: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// List config versions, newest first
    List {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
    },
    /// Show one config version (0 = the latest registered)
    Get {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Config version
        #[arg(value_name = "VERSION")]
        config_version: u64,
    },
    /// What changed from one version to another (0 = the latest registered)
    Diff {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// The version to compare from
        #[arg(value_name = "FROM")]
        from: u64,
        /// The version to compare to
        #[arg(value_name = "TO")]
        to: u64,
    },
    /// Make a version live (rolls forward or back), at once or through a canary or smoke run
    Deploy {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Config version
        #[arg(value_name = "VERSION")]
        config_version: u64,
        #[command(flatten)]
        strategy: crate::args::StrategyArgs,
    },
    /// Delete a version that is not live
    Delete {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Config version
        #[arg(value_name = "VERSION")]
        config_version: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeploymentCommand {
    /// List deployments, oldest first
    List {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
    },
    /// Show one deployment (a canary's progress, a smoke run)
    Get {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Deployment id
        id: u64,
        /// Wait until a running deployment concludes, printing its progress; exit 8 if it fails
        #[arg(long)]
        wait: bool,
    },
    /// Make a running deployment's version live now, whatever its canary says
    Promote {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Deployment id
        id: u64,
    },
    /// End a running deployment; the live version does not change
    Abort {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Deployment id
        id: u64,
    },
}

pub async fn run(ctx: &Ctx, command: PipelineCommand) -> anyhow::Result<()> {
    let ns = ctx.namespace();
    match command {
        PipelineCommand::List => {
            let pipelines = ctx.client.list_pipelines(ns, None).await?;
            let body = PipelinesResponse { pipelines };
            ctx.print(&body, || {
                let mut table = Table::new(&["id", "state", "created", "modified"]);
                for p in &body.pipelines {
                    table.row(vec![
                        p.pipeline_id.clone(),
                        p.state.to_string(),
                        ctx.time(p.created),
                        ctx.time(p.modified),
                    ]);
                }
                table.render()
            });
        }
        PipelineCommand::Get { pipeline } => {
            let metadata = ctx.client.get_pipeline(ns, &pipeline).await?;
            if ctx.json() {
                ctx.print(&PipelineResponse { pipeline: metadata }, String::new);
            } else {
                let live = super::up::live_config(ctx, ns, &pipeline).await?;
                let newest = Page {
                    limit: VERSION_STATS_RUNS,
                    offset: 0,
                    reverse: true,
                };
                let runs = ctx.client.list_runs(ns, &pipeline, Some(newest)).await?;
                crate::output::print(format_args!(
                    "{}\n{}",
                    describe_pipeline(ctx, &metadata, live.as_ref()),
                    describe_versions(&runs)
                ));
            }
        }
        PipelineCommand::Run(args) => super::run::start(ctx, args).await?,
        PipelineCommand::Object(command) => super::object::run_pipeline(ctx, command).await?,
        PipelineCommand::Subscribe {
            pipeline,
            extension,
            subscription,
            settings,
        } => {
            super::extension::subscribe(ctx, ns, &pipeline, extension, subscription, settings)
                .await?;
        }
        PipelineCommand::Unsubscribe {
            pipeline,
            extension,
            subscription,
        } => {
            ctx.client
                .delete_subscription(ns, &pipeline, &extension, &subscription)
                .await?;
            ctx.done(format!(
                "subscription '{subscription}' of '{pipeline}' to '{extension}' removed"
            ));
        }
        PipelineCommand::Subscription(command) => {
            super::extension::subscription(ctx, ns, command).await?;
        }
        PipelineCommand::Enable { pipeline } => {
            ctx.client
                .update_pipeline_state(ns, &pipeline, PipelineState::Active)
                .await?;
            ctx.done(format!("pipeline '{pipeline}' enabled"));
        }
        PipelineCommand::Disable { pipeline } => {
            ctx.client
                .update_pipeline_state(ns, &pipeline, PipelineState::Disabled)
                .await?;
            ctx.done(format!("pipeline '{pipeline}' disabled"));
        }
        PipelineCommand::Delete { pipeline } => {
            ctx.client.delete_pipeline(ns, &pipeline).await?;
            ctx.done(format!("pipeline '{pipeline}' deleted"));
        }
        PipelineCommand::Config(command) => config(ctx, ns, command).await?,
        PipelineCommand::Deployment(command) => deployment(ctx, ns, command).await?,
        PipelineCommand::Validate { path } => super::up::validate(ctx, &path)?,
        PipelineCommand::Exec {
            path,
            vars,
            payload,
        } => super::exec::exec(ctx, &path, vars, payload).await?,
    }
    Ok(())
}

async fn config(ctx: &Ctx, ns: &str, command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::List { pipeline } => {
            let configs = ctx.client.list_configs(ns, &pipeline, None).await?;
            let body = ConfigsResponse { configs };
            ctx.print(&body, || {
                let mut table = Table::new(&[
                    "version",
                    "name",
                    "state",
                    "tasks",
                    "registered",
                    "deprecated",
                ]);
                for c in &body.configs {
                    table.row(vec![
                        c.version.to_string(),
                        c.name.clone(),
                        c.state.to_string(),
                        c.tasks.len().to_string(),
                        ctx.time(c.registered),
                        ctx.time(c.deprecated),
                    ]);
                }
                table.render()
            });
        }
        ConfigCommand::Get {
            pipeline,
            config_version: version,
        } => {
            let config = ctx.client.get_config(ns, &pipeline, version).await?;
            let body = ConfigResponse { config };
            ctx.print(&body, || describe_config(ctx, &body.config));
        }
        ConfigCommand::Diff { pipeline, from, to } => {
            let diff = ctx.client.config_diff(ns, &pipeline, from, to).await?;
            let colour = crate::output::colour();
            let body = gofer_core::api::ConfigDiffResponse { diff };
            ctx.print(&body, || describe_diff(&body.diff, colour));
        }
        ConfigCommand::Deploy {
            pipeline,
            config_version: version,
            strategy,
        } => {
            let deployment = super::deploy::deploy(ctx, ns, &pipeline, version, &strategy).await?;
            let body = DeploymentResponse { deployment };
            ctx.print(&body, || super::deploy::started(&body.deployment));
        }
        ConfigCommand::Delete {
            pipeline,
            config_version: version,
        } => {
            ctx.client.delete_config(ns, &pipeline, version).await?;
            ctx.done(format!(
                "config version {version} of pipeline '{pipeline}' deleted"
            ));
        }
    }
    Ok(())
}

async fn deployment(ctx: &Ctx, ns: &str, command: DeploymentCommand) -> anyhow::Result<()> {
    match command {
        DeploymentCommand::List { pipeline } => {
            let deployments = ctx.client.list_deployments(ns, &pipeline, None).await?;
            let body = DeploymentsResponse { deployments };
            ctx.print(&body, || {
                let mut table = Table::new(&[
                    "id", "strategy", "from", "to", "state", "status", "reason", "started", "ended",
                ]);
                for d in &body.deployments {
                    table.row(vec![
                        d.deployment_id.to_string(),
                        d.strategy.to_string(),
                        version_or_none(d.start_version),
                        d.end_version.to_string(),
                        d.state.to_string(),
                        d.status.to_string(),
                        d.status_reason
                            .as_ref()
                            .map(|r| r.reason.to_string())
                            .unwrap_or_else(|| "-".into()),
                        ctx.time(d.started),
                        ctx.time(d.ended),
                    ]);
                }
                table.render()
            });
        }
        DeploymentCommand::Get { pipeline, id, wait } => {
            let mut deployment = ctx.client.get_deployment(ns, &pipeline, id).await?;
            if wait {
                deployment = super::deploy::follow(ctx, ns, &pipeline, deployment).await?;
            }
            let body = DeploymentResponse { deployment };
            ctx.print(&body, || super::deploy::describe(ctx, &body.deployment));
        }
        DeploymentCommand::Promote { pipeline, id } => {
            let deployment = ctx.client.promote_deployment(ns, &pipeline, id).await?;
            let body = DeploymentResponse { deployment };
            ctx.print(&body, || super::deploy::started(&body.deployment));
        }
        DeploymentCommand::Abort { pipeline, id } => {
            let deployment = ctx.client.abort_deployment(ns, &pipeline, id).await?;
            let body = DeploymentResponse { deployment };
            ctx.print(&body, || super::deploy::started(&body.deployment));
        }
    }
    Ok(())
}

/// How many of the newest runs `pipeline get` sums up per config version.
const VERSION_STATS_RUNS: u64 = 100;

/// Success rate and median duration per config version over the newest runs: what to look at
/// before rolling a version forward or back.
fn describe_versions(runs: &[gofer_core::api::Run]) -> String {
    if runs.is_empty() {
        return "no runs yet\n".to_string();
    }
    let mut table = Table::new(&["version", "runs", "successful", "median duration"]);
    for v in gofer_core::stats::version_stats(runs) {
        let successful = v.success_text();
        let median = v
            .median_ms
            .map(|ms| crate::time::duration(1, 1 + ms, 0))
            .unwrap_or_else(|| "-".to_string());
        table.row(vec![
            v.version.to_string(),
            v.runs.to_string(),
            successful,
            median,
        ]);
    }
    format!(
        "runs per version (the newest {} runs; cancelled runs do not count):\n{}",
        runs.len(),
        table.render()
    )
}

/// `failure, recovery → https://hooks.example.com; …` (docs/notifications.md): a URL shows
/// its scheme and host only.
fn notifications_text(c: &Config) -> String {
    or_dash(
        &c.notifications
            .iter()
            .map(|n| {
                let on: Vec<String> = n.on.iter().map(ToString::to_string).collect();
                format!(
                    "{} → {}",
                    on.join(", "),
                    gofer_core::api::shown_notification_target(&n.target)
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    )
}

fn describe_pipeline(ctx: &Ctx, m: &Metadata, live: Option<&Config>) -> String {
    let mut pairs = vec![
        ("namespace", m.namespace_id.clone()),
        ("pipeline", m.pipeline_id.clone()),
        ("state", m.state.to_string()),
        ("created", ctx.time(m.created)),
        ("modified", ctx.time(m.modified)),
    ];
    match live {
        Some(c) => {
            pairs.push(("live version", c.version.to_string()));
            pairs.push(("name", c.name.clone()));
            pairs.push(("description", or_dash(&c.description)));
            pairs.push(("overlap", c.overlap.to_string()));
            pairs.push(("notifications", notifications_text(c)));
        }
        None => pairs.push((
            "live version",
            format!(
                "none (deploy one with 'gofer pipeline config deploy {} <version>')",
                m.pipeline_id
            ),
        )),
    }
    let mut out = details(&pairs);
    if let Some(c) = live {
        out.push('\n');
        out.push_str(&tasks_table(c));
    }
    out
}

fn describe_config(ctx: &Ctx, c: &Config) -> String {
    let limit = |n: u64, unit: &str| {
        if n == 0 {
            "none".to_string()
        } else {
            format!("{n}{unit}")
        }
    };
    let mut out = details(&[
        ("namespace", c.namespace_id.clone()),
        ("pipeline", c.pipeline_id.clone()),
        ("version", c.version.to_string()),
        ("name", c.name.clone()),
        ("description", or_dash(&c.description)),
        ("state", c.state.to_string()),
        ("parallelism", limit(c.parallelism, "")),
        ("timeout", limit(c.timeout, "s")),
        ("overlap", c.overlap.to_string()),
        ("notifications", notifications_text(c)),
        ("registered", ctx.time(c.registered)),
        ("deprecated", ctx.time(c.deprecated)),
    ]);
    out.push('\n');
    out.push_str(&tasks_table(c));
    out
}

fn tasks_table(c: &Config) -> String {
    let mut table = Table::new(&["task", "image", "depends on", "command"]);
    let tasks: Vec<&gofer_core::api::Task> = c.tasks.values().collect();
    for task in super::task::in_graph_order(&tasks, |t| &t.id, |t| &t.depends_on) {
        let depends: Vec<String> = task
            .depends_on
            .iter()
            .map(|(id, cond)| format!("{id}:{cond}"))
            .collect();
        table.row(vec![
            task.id.clone(),
            task.image.clone(),
            or_dash(&depends.join(",")),
            task.command
                .as_ref()
                .map(|c| c.join(" "))
                .unwrap_or_else(|| "-".to_string()),
        ]);
    }
    table.render()
}

/// A config diff for a person: a header naming the versions, then the changes
/// (`crate::output::config_diff_lines`).
fn describe_diff(d: &gofer_core::api::ConfigDiff, colour: bool) -> String {
    let mut out = format!(
        "pipeline '{}': version {} → version {}\n",
        d.pipeline_id, d.from_version, d.to_version
    );
    if d.is_empty() {
        out.push_str("no changes\n");
    } else {
        out.push_str(&crate::output::config_diff_lines(d, colour));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gofer_core::api::Run;

    fn run(id: u64, version: u64, status: &str, took_ms: u64) -> Run {
        serde_json::from_value(serde_json::json!({
            "namespace_id": "n", "pipeline_id": "p", "pipeline_config_version": version,
            "run_id": id, "queued": 1, "started": 10, "ended": 10 + took_ms,
            "state": if status == "unknown" { "running" } else { "complete" },
            "status": status, "initiator": {"id": "t", "user": "u", "kind": "api"},
        }))
        .expect("run")
    }

    #[test]
    fn versions_sum_up_success_and_median_without_cancelled_runs() {
        let runs = [
            run(6, 2, "unknown", 0),
            run(5, 2, "failed", 400),
            run(4, 2, "successful", 200),
            run(3, 2, "cancelled", 9_000),
            run(2, 1, "successful", 100),
            run(1, 1, "successful", 300),
        ];
        let text = describe_versions(&runs);
        assert!(text.contains("50% (1 of 2)"), "{text}");
        assert!(text.contains("100% (2 of 2)"), "{text}");
        assert_eq!(describe_versions(&[]), "no runs yet\n");
    }
}
