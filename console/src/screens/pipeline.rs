//! The pipeline screen: the deployment in progress (a canary's runs and failure rate against its
//! threshold, the bake left, the promote/abort keys and their CLI twins), the versions with their
//! run figures (the selectable list; `enter` opens a version's diff against the live one), and
//! the deployments with how each ended.

use crate::config::{Action, Theme};
use crate::draw::{ago, duration, placeholder, table};
use crate::model::{App, PipelineData, Screen};
use crate::mutation::Mutation;
use gofer_core::api::{Config, Deployment};
use gofer_core::canary::Bake;
use gofer_core::enums::{ConfigState, DeploymentState, DeploymentStatus};
use gofer_core::stats::{VersionStats, version_stats};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Wrap};

impl App {
    /// The versions list of the pipeline view, newest first, filtered by `/`.
    pub fn visible_versions(&self) -> Vec<&Config> {
        let filter = &self.frame().filter;
        self.pipeline.ready().map_or(Vec::new(), |p| {
            p.configs
                .iter()
                .filter(|c| Self::matches(filter, &format!("{} {}", c.version, c.state)))
                .collect()
        })
    }
}

pub(crate) fn render_pipeline(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let Screen::Pipeline { pipeline } = app.screen() else {
        return;
    };
    let versions = app.visible_versions();
    if placeholder(
        frame,
        area,
        &app.pipeline,
        versions.is_empty(),
        "the pipeline",
        "no versions yet: register one with 'gofer up <path>'",
        theme,
    ) {
        return;
    }
    let Some(data) = app.pipeline.ready() else {
        return;
    };
    let progress = deployment_lines(app, pipeline, data);
    let shown_deployments = data.deployments.len().min(6) as u16;
    let [top, middle, bottom] = Layout::vertical([
        Constraint::Length(progress.len() as u16 + 1),
        Constraint::Fill(1),
        Constraint::Length(if app.diff.is_some() {
            12
        } else {
            shown_deployments + 2
        }),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(progress)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::TOP).title(" deployment ")),
        top,
    );
    render_versions(app, frame, middle, data, &versions);
    match app.diff {
        Some(version) => render_diff(app, frame, bottom, data, version),
        None => render_deployments(app, frame, bottom, data),
    }
}

/// The panel above the versions: where the deployment in progress stands, or that none is.
fn deployment_lines(app: &App, pipeline: &str, data: &PipelineData) -> Vec<Line<'static>> {
    let theme = &app.settings.config.theme;
    let keys = &app.settings.config.keymap;
    let Some(d) = data.running_deployment() else {
        // The live version and its overlap policy (docs/runs.md#overlapping-runs).
        let live = data
            .configs
            .iter()
            .find(|c| c.state == gofer_core::enums::ConfigState::Live)
            .map_or("no live version".to_string(), |c| {
                format!("live version {} · overlap {}", c.version, c.overlap)
            });
        return vec![Line::from(Span::styled(
            format!("no deployment in progress · {live}"),
            Style::new().fg(ratatui::style::Color::Gray),
        ))];
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("deployment {} · {} ", d.deployment_id, d.strategy),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "· version {} → {} · started {}",
            d.start_version,
            d.end_version,
            ago(app, d.started)
        )),
    ])];
    if let Some(c) = &d.canary {
        let rate = c.tally.failure_rate();
        let over = c.tally.counted() > 0 && rate > c.policy.max_failure_rate;
        let bake = match c.policy.bake {
            Bake::Runs(n) => format!("{} of {n} canary runs", c.tally.counted()),
            Bake::Seconds(_) => format!(
                "{} canary runs · {} of bake left",
                c.tally.counted(),
                duration(c.bake_until.saturating_sub(app.now_ms))
            ),
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{}% of new runs · {bake} · ", c.policy.percent)),
            Span::styled(
                format!(
                    "failure rate {:.1}% (threshold {:.1}%, after {} runs)",
                    rate * 100.0,
                    c.policy.max_failure_rate * 100.0,
                    c.policy.min_sample
                ),
                Style::new().fg(if over { theme.failed } else { theme.successful }),
            ),
        ]));
        let mut counts = format!(
            "{} succeeded · {} failed · {} in flight · {} runs stayed on version {}",
            c.tally.successful,
            c.tally.failed,
            c.in_flight(),
            c.baseline,
            d.start_version
        );
        if c.tally.scheduler_errors > 0 {
            counts.push_str(&format!(" · {} scheduler errors", c.tally.scheduler_errors));
        }
        if c.tally.cancelled > 0 {
            counts.push_str(&format!(" · {} cancelled (not counted)", c.tally.cancelled));
        }
        lines.push(Line::from(counts));
    }
    if let Some(s) = &d.smoke {
        lines.push(Line::from(format!(
            "smoke run {} tries version {} on its own; version {} stays live unless it succeeds",
            s.run_id, d.end_version, d.start_version
        )));
    }
    if !app.settings.read_only {
        let promote = Mutation::Promote {
            pipeline: pipeline.to_string(),
            deployment: d.deployment_id,
            version: d.end_version,
        };
        let abort = Mutation::Abort {
            pipeline: pipeline.to_string(),
            deployment: d.deployment_id,
            version: d.end_version,
        };
        lines.push(Line::from(Span::styled(
            format!(
                "{} promote ({}) · {} abort ({})",
                keys.label(Action::Promote),
                promote.cli(&app.namespace),
                keys.label(Action::Abort),
                abort.cli(&app.namespace)
            ),
            Style::new().fg(theme.accent),
        )));
    }
    lines
}

fn render_versions(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    data: &PipelineData,
    versions: &[&Config],
) {
    let theme = &app.settings.config.theme;
    let stats: Vec<VersionStats> = version_stats(&data.runs);
    let rows = versions
        .iter()
        .map(|c| {
            let s = stats.iter().find(|s| s.version == c.version);
            let colour = match c.state {
                ConfigState::Live => theme.successful,
                ConfigState::Deprecated => theme.skipped,
                _ => theme.waiting,
            };
            let mut state = c.state.to_string();
            if data
                .running_deployment()
                .is_some_and(|d| d.end_version == c.version)
            {
                state.push_str(" (deploying)");
            }
            Row::new(vec![
                Line::from(c.version.to_string()),
                Line::from(Span::styled(state, Style::new().fg(colour))),
                Line::from(s.map_or("0".into(), |s| s.runs.to_string())),
                Line::from(s.map_or("—".into(), VersionStats::success_text)),
                Line::from(s.and_then(|s| s.median_ms).map_or("—".into(), duration)),
                Line::from(ago(app, c.registered)),
            ])
        })
        .collect();
    table(
        app,
        frame,
        area,
        vec![
            "VERSION",
            "STATE",
            "RUNS",
            "SUCCESSFUL",
            "MEDIAN",
            "REGISTERED",
        ],
        vec![
            Constraint::Length(8),
            Constraint::Length(24),
            Constraint::Length(6),
            Constraint::Length(16),
            Constraint::Length(8),
            Constraint::Fill(1),
        ],
        rows,
    );
}

fn deployment_colour(d: &Deployment, theme: &Theme) -> ratatui::style::Color {
    match (d.state, d.status) {
        (DeploymentState::Running, _) => theme.running,
        (_, DeploymentStatus::Successful) => theme.successful,
        (_, DeploymentStatus::Failed) => theme.failed,
        _ => theme.unknown,
    }
}

fn render_deployments(app: &App, frame: &mut Frame, area: Rect, data: &PipelineData) {
    let theme = &app.settings.config.theme;
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{:<5} {:<8} {:<9} {:<10} {:<22} {}",
            "ID", "STRATEGY", "VERSIONS", "STATUS", "REASON", "STARTED"
        ),
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
    ))];
    if data.deployments.is_empty() {
        lines.push(Line::from("no deployments yet"));
    }
    for d in data.deployments.iter().take(6) {
        let status = if d.state == DeploymentState::Running {
            "running".to_string()
        } else {
            d.status.to_string()
        };
        let reason = d
            .status_reason
            .as_ref()
            .map_or("—".to_string(), |r| r.reason.to_string());
        lines.push(Line::from(vec![
            Span::raw(format!(
                "{:<5} {:<8} {:<9} ",
                d.deployment_id,
                d.strategy.to_string(),
                format!("{} → {}", d.start_version, d.end_version)
            )),
            Span::styled(
                format!("{status:<10} "),
                Style::new().fg(deployment_colour(d, theme)),
            ),
            Span::raw(format!("{reason:<22} {}", ago(app, d.started))),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::new().borders(Borders::TOP).title(" deployments ")),
        area,
    );
}

fn render_diff(app: &App, frame: &mut Frame, area: Rect, data: &PipelineData, version: u64) {
    use gofer_core::diff::LineKind;
    let theme = &app.settings.config.theme;
    let to = data.configs.iter().find(|c| c.version == version);
    // Against the live version; the live version itself against the one before it.
    let live = data.live_version();
    let from_version = match live {
        Some(live) if live != version => Some(live),
        _ => data
            .configs
            .iter()
            .map(|c| c.version)
            .filter(|v| *v < version)
            .max(),
    };
    let from = from_version.and_then(|v| data.configs.iter().find(|c| c.version == v));
    let (title, lines) = match (from, to) {
        (Some(from), Some(to)) => {
            let diff = gofer_core::diff::diff(from, to);
            let mut lines: Vec<Line> = gofer_core::diff::lines(&diff)
                .into_iter()
                .map(|(kind, text)| {
                    let style = match kind {
                        LineKind::Added => Style::new().fg(theme.successful),
                        LineKind::Removed => Style::new().fg(theme.failed),
                        LineKind::Changed => Style::new().fg(theme.waiting),
                        LineKind::Detail => Style::new(),
                    };
                    Line::from(Span::styled(text, style))
                })
                .collect();
            if lines.is_empty() {
                lines.push(Line::from("the two versions are the same"));
            }
            (
                format!(" version {} → {} ", from.version, to.version),
                lines,
            )
        }
        _ => (
            format!(" version {version} "),
            vec![Line::from("no earlier version to compare with")],
        ),
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::TOP).title(title)),
        area,
    );
}
