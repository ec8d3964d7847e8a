//! The events screen: the live event feed, its text per kind, and its drawing.

use crate::draw::{ago, table};
use crate::model::{App, EVENTS_KEPT};
use gofer_core::api::{Event, EventKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row};

/// The run an event is about, if any.
pub fn event_run(kind: &EventKind) -> Option<u64> {
    match kind {
        EventKind::QueuedRun { run_id, .. }
        | EventKind::StartedRun { run_id, .. }
        | EventKind::CompletedRun { run_id, .. }
        | EventKind::StartedRunCancellation { run_id, .. }
        | EventKind::CreatedTaskExecution { run_id, .. }
        | EventKind::StartedTaskExecution { run_id, .. }
        | EventKind::CompletedTaskExecution { run_id, .. }
        | EventKind::StartedTaskExecutionCancellation { run_id, .. }
        | EventKind::CanaryRunStarted { run_id, .. }
        | EventKind::NotificationSent { run_id, .. }
        | EventKind::NotificationFailed { run_id, .. } => Some(*run_id),
        EventKind::SkippedRun { active_run_id, .. } => Some(*active_run_id),
        _ => None,
    }
}

/// Whether an event is about a deployment (`enter` on it opens the versions view).
pub fn is_deployment_event(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::StartedDeployment { .. }
            | EventKind::CompletedDeployment { .. }
            | EventKind::DeploymentPromoted { .. }
            | EventKind::DeploymentRolledBack { .. }
    )
}

impl App {
    /// One line describing an event (also what the events filter matches): its kind, then every
    /// id and value it carries (`ns=… pipeline=… run=… task=… status=…`, `role=…`,
    /// `extension=… subscription=…`), so every kind can be found by what it names.
    pub fn event_text(event: &Event) -> String {
        let mut text = event.kind.name().to_string();
        let value = serde_json::to_value(&event.kind).unwrap_or_default();
        let fields = value
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(|v| v.as_object());
        // Ids first, from the widest scope in; then the rest by name.
        const FIRST: [&str; 7] = [
            "namespace_id",
            "pipeline_id",
            "run_id",
            "task_execution_id",
            "extension_id",
            "subscription_id",
            "pipeline_subscription_id",
        ];
        let mut fields: Vec<(&String, &serde_json::Value)> = fields.into_iter().flatten().collect();
        fields.sort_by_key(|(key, _)| {
            (
                FIRST.iter().position(|f| f == key).unwrap_or(FIRST.len()),
                key.as_str(),
            )
        });
        for (key, value) in fields {
            let shown = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                // Results and other documents are too big for one line.
                _ => continue,
            };
            let name = match key.as_str() {
                "namespace_id" => "ns",
                "pipeline_id" => "pipeline",
                "task_execution_id" => "task",
                "pipeline_subscription_id" => "subscription",
                other => other.strip_suffix("_id").unwrap_or(other),
            };
            text.push_str(&format!(" {name}={shown}"));
        }
        text
    }

    pub fn visible_events(&self) -> Vec<&Event> {
        let filter = &self.frame().filter;
        self.events
            .events
            .iter()
            .filter(|e| Self::matches(filter, &Self::event_text(e)))
            .collect()
    }

    pub(crate) fn trim_events(&mut self) {
        let excess = self.events.events.len().saturating_sub(EVENTS_KEPT);
        self.events.events.drain(..excess);
    }

    pub(crate) fn clamp_to_newest_event(&mut self) {
        let len = self.visible_events().len();
        self.frame_mut().selected = len.saturating_sub(1);
    }
}

pub(crate) fn render_events(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let events = app.visible_events();
    if events.is_empty() {
        let text = if !app.events.loaded {
            "loading events…"
        } else if app.frame().filter.is_empty() {
            "no events yet: they appear here live"
        } else {
            "no events match the filter (esc clears it)"
        };
        frame.render_widget(
            Paragraph::new(text)
                .style(Style::new().fg(Color::Gray))
                .block(Block::new().borders(Borders::TOP)),
            area,
        );
        return;
    }
    // The kind column fits the longest kind shown (up to the longest there is).
    let kind_width = events
        .iter()
        .map(|e| e.kind.name().len())
        .max()
        .unwrap_or(4)
        .clamp(4, 44);
    let rows = events
        .into_iter()
        .map(|e| {
            let text = App::event_text(e);
            let (kind, rest) = text.split_once(' ').unwrap_or((text.as_str(), ""));
            let colour = if kind.starts_with("completed") {
                if rest.contains("status=failed") {
                    theme.failed
                } else if rest.contains("status=cancelled") {
                    theme.cancelled
                } else {
                    theme.successful
                }
            } else if kind.starts_with("started") {
                theme.running
            } else if kind.starts_with("deleted") || kind.contains("cancellation") {
                theme.cancelled
            } else {
                Color::Reset
            };
            Row::new(vec![
                Line::from(ago(app, e.emitted)),
                Line::from(Span::styled(kind.to_string(), Style::new().fg(colour))),
                Line::from(rest.to_string()),
            ])
        })
        .collect();
    table(
        app,
        frame,
        area,
        vec!["WHEN", "KIND", "DETAILS"],
        vec![
            Constraint::Length(12),
            Constraint::Length(u16::try_from(kind_width).unwrap_or(44)),
            Constraint::Fill(1),
        ],
        rows,
    );
}
