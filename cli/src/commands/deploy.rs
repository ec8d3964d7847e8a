//! Deploying a version with a strategy, following a deployment, and describing one
//! (docs/pipelines.md#safe-deployments). Shared by `pipeline config deploy`, `pipeline
//! deployment …` and `up`.

use super::Ctx;
use crate::args::StrategyArgs;
use crate::failure::Failure;
use crate::output::details;
use gofer_core::api::{Deployment, DeploymentResponse};
use gofer_core::canary::Bake;
use gofer_core::enums::{DeploymentState, DeploymentStatus, DeploymentStrategy};
use std::time::Duration;

/// Deploys `version` as `strategy` asks. An instant deploy sends no body (as 0.9 clients do).
/// With `--wait`, follows a canary or smoke deployment to its end.
pub async fn deploy(
    ctx: &Ctx,
    ns: &str,
    pipeline: &str,
    version: u64,
    strategy: &StrategyArgs,
) -> anyhow::Result<Deployment> {
    let deployment = if strategy.is_instant() {
        ctx.client.deploy_config(ns, pipeline, version).await?
    } else {
        let request = strategy.request()?;
        ctx.client
            .deploy_config_with(ns, pipeline, version, &request)
            .await?
    };
    if strategy.wait && deployment.state == DeploymentState::Running {
        if !ctx.json() {
            crate::output::print(started(&deployment));
        }
        return follow(ctx, ns, pipeline, deployment).await;
    }
    Ok(deployment)
}

/// Polls a running deployment until it concludes, printing each change of its progress (plain
/// output); a deployment that ends `failed` is exit 8.
pub async fn follow(
    ctx: &Ctx,
    ns: &str,
    pipeline: &str,
    mut deployment: Deployment,
) -> anyhow::Result<Deployment> {
    let mut last = String::new();
    while deployment.state == DeploymentState::Running {
        let line = progress(&deployment);
        if line != last && !ctx.json() {
            crate::output::println(format_args!("  {line}"));
            last = line;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        deployment = ctx
            .client
            .get_deployment(ns, pipeline, deployment.deployment_id)
            .await?;
    }
    if deployment.status == DeploymentStatus::Failed {
        ctx.print(
            &DeploymentResponse {
                deployment: deployment.clone(),
            },
            String::new,
        );
        return Err(Failure::run_failed(format!(
            "deployment {} of pipeline '{pipeline}' failed: {}",
            deployment.deployment_id,
            reason(&deployment)
        ))
        .into());
    }
    Ok(deployment)
}

/// One line for a deployment that has just started or finished.
pub fn started(d: &Deployment) -> String {
    let follow = format!(
        "follow it with: gofer pipeline deployment get {p} {id}; end it early with: gofer \
         pipeline deployment promote|abort {p} {id}",
        p = d.pipeline_id,
        id = d.deployment_id
    );
    match (d.state, d.strategy, &d.canary, &d.smoke) {
        (DeploymentState::Running, _, Some(c), _) => format!(
            "canary deployment {} of pipeline '{}' started: version {} gets {}% of new runs, \
             version {} the rest, until {}; promoted if at most {:.1}% fail\n{follow}\n",
            d.deployment_id,
            d.pipeline_id,
            d.end_version,
            c.policy.percent,
            d.start_version,
            match c.policy.bake {
                Bake::Runs(n) => format!("{n} canary runs complete"),
                Bake::Seconds(s) => format!(
                    "{} have passed with at least one canary run",
                    gofer_core::duration::format_secs(s)
                ),
            },
            c.policy.max_failure_rate * 100.0,
        ),
        (DeploymentState::Running, _, _, Some(s)) => format!(
            "smoke deployment {} of pipeline '{}' started: run {} tries version {} on its own; \
             version {} stays live unless it succeeds\n{follow}\n",
            d.deployment_id,
            d.pipeline_id,
            s.run_id,
            d.end_version,
            version_or_none(d.start_version),
        ),
        (_, DeploymentStrategy::Instant, _, _) => format!(
            "deployed version {} of pipeline '{}' (deployment {}, previous live version {}): {}\n",
            d.end_version,
            d.pipeline_id,
            d.deployment_id,
            version_or_none(d.start_version),
            d.status
        ),
        _ => format!(
            "{} deployment {} of pipeline '{}' (version {} → {}): {} — {}\n",
            d.strategy,
            d.deployment_id,
            d.pipeline_id,
            version_or_none(d.start_version),
            d.end_version,
            d.status,
            reason(d)
        ),
    }
}

/// Where a running deployment stands, in one line.
pub fn progress(d: &Deployment) -> String {
    match (&d.canary, &d.smoke) {
        (Some(c), _) => {
            let mut line = c.summary();
            if c.bake_until != 0 {
                let left = c.bake_until.saturating_sub(gofer_core::now_millis()) / 1000;
                line.push_str(&format!(
                    ", {} of bake left",
                    gofer_core::duration::format_secs(left)
                ));
            }
            line.push_str(&format!(", {} in flight", c.in_flight()));
            line
        }
        (None, Some(s)) => format!("waiting for smoke run {}", s.run_id),
        _ => d.state.to_string(),
    }
}

fn reason(d: &Deployment) -> String {
    d.status_reason
        .as_ref()
        .map(|r| format!("{}: {}", r.reason, r.description))
        .unwrap_or_else(|| "-".to_string())
}

/// The plain view of one deployment.
pub fn describe(ctx: &Ctx, d: &Deployment) -> String {
    // Kinds in order, repeats folded: "started_deployment, canary_run_started ×6, …".
    let mut events: Vec<(&str, usize)> = Vec::new();
    for e in &d.logs {
        match events.last_mut() {
            Some((kind, n)) if *kind == e.kind.name() => *n += 1,
            _ => events.push((e.kind.name(), 1)),
        }
    }
    let events: Vec<String> = events
        .into_iter()
        .map(|(kind, n)| match n {
            1 => kind.to_string(),
            n => format!("{kind} ×{n}"),
        })
        .collect();
    let mut rows = vec![
        ("namespace", d.namespace_id.clone()),
        ("pipeline", d.pipeline_id.clone()),
        ("deployment", d.deployment_id.to_string()),
        ("strategy", d.strategy.to_string()),
        ("from version", version_or_none(d.start_version)),
        ("to version", d.end_version.to_string()),
        ("state", d.state.to_string()),
        ("status", d.status.to_string()),
        ("status reason", reason(d)),
        ("started", ctx.time(d.started)),
        ("ended", ctx.time(d.ended)),
    ];
    if let Some(c) = &d.canary {
        rows.push(("canary share", format!("{}%", c.policy.percent)));
        rows.push((
            "bake",
            match c.policy.bake {
                Bake::Runs(n) => format!("{n} canary runs"),
                Bake::Seconds(s) => gofer_core::duration::format_secs(s),
            },
        ));
        rows.push((
            "max failure rate",
            format!(
                "{:.1}% (after {} runs)",
                c.policy.max_failure_rate * 100.0,
                c.policy.min_sample
            ),
        ));
        rows.push(("progress", progress(d)));
        rows.push((
            "runs",
            format!(
                "{} on version {}, {} on version {}",
                c.started, d.end_version, c.baseline, d.start_version
            ),
        ));
    }
    if let Some(s) = &d.smoke {
        rows.push(("smoke run", s.run_id.to_string()));
    }
    rows.push((
        "events",
        if events.is_empty() {
            "-".into()
        } else {
            events.join(", ")
        },
    ));
    details(&rows)
}

/// A version number, or `none` for 0 (no live version before).
pub fn version_or_none(version: u64) -> String {
    if version == 0 {
        "none".to_string()
    } else {
        version.to_string()
    }
}
