//! What is running now (`:running`): every pending and running run the token may read, across
//! namespaces and pipelines, with its current tasks, elapsed time and queue position — the
//! screen an operator leaves open. Refreshed by the event stream.

use crate::draw::{duration, placeholder, run_glyph, run_word, table};
use crate::model::App;
use gofer_core::api::ActiveRun;
use gofer_core::enums::RunState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Row;

impl App {
    pub fn visible_running(&self) -> Vec<&ActiveRun> {
        let filter = &self.frame().filter;
        self.running.ready().map_or(Vec::new(), |all| {
            all.iter()
                .filter(|a| {
                    Self::matches(
                        filter,
                        &format!(
                            "{} {} {} {} {}",
                            a.run.namespace_id,
                            a.run.pipeline_id,
                            a.run.run_id,
                            a.run.state,
                            a.running_tasks.join(" ")
                        ),
                    )
                })
                .collect()
        })
    }
}

pub(crate) fn render_running(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let rows = app.visible_running();
    let empty = if app.frame().filter.is_empty() {
        "nothing is running or queued right now"
    } else {
        "no runs match the filter (esc clears it)"
    };
    if placeholder(
        frame,
        area,
        &app.running,
        rows.is_empty(),
        "the runs in progress",
        empty,
        theme,
    ) {
        return;
    }
    let rows = rows
        .into_iter()
        .map(|a| {
            let r = &a.run;
            let (glyph, colour) = run_glyph(r, theme);
            let (since, what) = if r.state == RunState::Pending {
                (r.queued, format!("queued, #{} in line", a.queue_position))
            } else if a.running_tasks.is_empty() {
                (r.started, "between tasks".to_string())
            } else {
                (r.started, a.running_tasks.join(", "))
            };
            Row::new(vec![
                Line::from(r.namespace_id.clone()),
                Line::from(r.pipeline_id.clone()),
                Line::from(r.run_id.to_string()),
                Line::from(Span::styled(
                    format!("{glyph} {}", run_word(r)),
                    Style::new().fg(colour),
                )),
                Line::from(what),
                Line::from(duration(app.now_ms.saturating_sub(since))),
                Line::from(r.initiator.describe()),
            ])
        })
        .collect();
    table(
        app,
        frame,
        area,
        vec![
            "NAMESPACE",
            "PIPELINE",
            "RUN",
            "STATE",
            "NOW",
            "FOR",
            "INITIATOR",
        ],
        vec![
            Constraint::Length(22),
            Constraint::Length(22),
            Constraint::Length(6),
            Constraint::Length(12),
            Constraint::Fill(1),
            Constraint::Length(8),
            Constraint::Length(24),
        ],
        rows,
    );
}
