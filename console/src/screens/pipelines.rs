//! The pipelines screen: the list with each pipeline's state and triggers, and its drawing.

use crate::config::Theme;
use crate::draw::{ago, placeholder, run_glyph, run_word, table};
use crate::model::{App, PipelineRow, Screen};
use gofer_core::enums::PipelineState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Row;

/// Whether a pipeline row's state is `active` (for the view's colour).
pub fn is_active(state: PipelineState) -> bool {
    state == PipelineState::Active
}

impl App {
    pub fn visible_pipelines(&self) -> Vec<&PipelineRow> {
        let filter = &self.frame().filter;
        self.pipelines.ready().map_or(Vec::new(), |all| {
            all.iter()
                .filter(|p| {
                    Self::matches(
                        filter,
                        &format!("{} {}", p.metadata.pipeline_id, p.metadata.state),
                    )
                })
                .collect()
        })
    }

    pub(crate) fn selected_pipeline(&self) -> Option<String> {
        match self.screen() {
            Screen::Pipelines => self
                .visible_pipelines()
                .get(self.frame().selected)
                .map(|p| p.metadata.pipeline_id.clone()),
            Screen::Runs { pipeline }
            | Screen::Pipeline { pipeline }
            | Screen::Run { pipeline, .. } => Some(pipeline.clone()),
            _ => None,
        }
    }
}

pub(crate) fn render_pipelines(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let rows = app.visible_pipelines();
    let empty = if app.frame().filter.is_empty() {
        "no pipelines in this namespace yet: register one with 'gofer up <path>'"
    } else {
        "no pipelines match the filter (esc clears it)"
    };
    if placeholder(
        frame,
        area,
        &app.pipelines,
        rows.is_empty(),
        "pipelines",
        empty,
        theme,
    ) {
        return;
    }
    let rows = rows
        .into_iter()
        .map(|p| {
            let state_colour = if is_active(p.metadata.state) {
                theme.successful
            } else {
                theme.skipped
            };
            let last = match &p.last_run {
                Some(run) => {
                    let (glyph, colour) = run_glyph(run, theme);
                    Line::from(vec![
                        Span::styled(format!("{glyph} "), Style::new().fg(colour)),
                        Span::raw(format!(
                            "#{} {} · {}",
                            run.run_id,
                            run_word(run),
                            ago(app, run.queued.max(run.started))
                        )),
                    ])
                }
                None => Line::from(Span::styled("never run", Style::new().fg(Color::Gray))),
            };
            Row::new(vec![
                Line::from(p.metadata.pipeline_id.clone()),
                Line::from(Span::styled(
                    p.metadata.state.to_string(),
                    Style::new().fg(state_colour),
                )),
                Line::from(
                    p.live_version
                        .map_or("none".to_string(), |v| format!("v{v}")),
                ),
                last,
                triggers(&p.subscriptions, &p.next_fire, theme),
            ])
        })
        .collect();
    table(
        app,
        frame,
        area,
        vec!["PIPELINE", "STATE", "LIVE", "LAST RUN", "TRIGGERS"],
        vec![
            Constraint::Length(28),
            Constraint::Length(10),
            Constraint::Length(6),
            Constraint::Length(30),
            Constraint::Fill(1),
        ],
        rows,
    );
}

/// How a subscription triggers its pipeline, in a few words: the extension, then its settings'
/// values (`cron 0 6 * * 1-5 Europe/Berlin`, `github acme/app push`, `interval every 5m`).
pub fn trigger_text(sub: &gofer_core::api::Subscription) -> String {
    let mut text = sub.extension_id.clone();
    for (key, value) in sub.settings.iter() {
        // Durations read better with their name.
        if matches!(key, "every" | "jitter") {
            text.push_str(&format!(" {key} {value}"));
        } else {
            text.push_str(&format!(" {value}"));
        }
    }
    if sub.settings.0.is_empty() {
        text.push_str(&format!("/{}", sub.subscription_id));
    }
    text
}

/// A pipeline's subscriptions as [`trigger_text`], with the next fire time when the extension
/// says it, ✖ and the reason when its extension could not start a run (or could not take the
/// subscription), ⏸ when disabled.
pub(crate) fn triggers(
    subscriptions: &[gofer_core::api::Subscription],
    next_fire: &std::collections::BTreeMap<String, String>,
    theme: &Theme,
) -> Line<'static> {
    use gofer_core::enums::SubscriptionStatus;
    if subscriptions.is_empty() {
        return Line::from(Span::styled("-", Style::new().fg(Color::Gray)));
    }
    let mut spans = Vec::new();
    for (i, sub) in subscriptions.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(", "));
        }
        let mut name = trigger_text(sub);
        if let Some(next) = next_fire.get(&format!("{}/{}", sub.extension_id, sub.subscription_id))
        {
            name.push_str(&format!(" · next {next}"));
        }
        let failing = sub.status == SubscriptionStatus::Error || sub.status_reason.is_some();
        if sub.status == SubscriptionStatus::Disabled {
            spans.push(Span::styled(
                format!("⏸ {name}"),
                Style::new().fg(theme.skipped),
            ));
        } else if failing {
            let why = sub
                .last_error
                .clone()
                .or_else(|| sub.status_reason.as_ref().map(|r| r.description.clone()))
                .unwrap_or_default();
            spans.push(Span::styled(
                format!("✖ {name}: {why}"),
                Style::new().fg(theme.failed),
            ));
        } else {
            spans.push(Span::raw(name));
        }
    }
    Line::from(spans)
}
