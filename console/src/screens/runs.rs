//! The runs screen: a pipeline's runs, and their drawing.

use crate::draw::{ago, duration, placeholder, run_glyph, run_word, span_ms, table};
use crate::model::App;
use gofer_core::api::Run;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Row;

impl App {
    pub fn visible_runs(&self) -> Vec<&Run> {
        let filter = &self.frame().filter;
        self.runs.ready().map_or(Vec::new(), |all| {
            all.iter()
                .filter(|r| {
                    Self::matches(
                        filter,
                        &format!("{} {} {} {}", r.run_id, r.state, r.status, r.initiator.user),
                    )
                })
                .collect()
        })
    }
}

pub(crate) fn render_runs(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let rows = app.visible_runs();
    let empty = if app.frame().filter.is_empty() {
        "no runs yet: press s to start one"
    } else {
        "no runs match the filter (esc clears it)"
    };
    if placeholder(
        frame,
        area,
        &app.runs,
        rows.is_empty(),
        "runs",
        empty,
        theme,
    ) {
        return;
    }
    let rows = rows
        .into_iter()
        .map(|r| {
            let (glyph, colour) = run_glyph(r, theme);
            Row::new(vec![
                Line::from(format!("{}", r.run_id)),
                Line::from(Span::styled(
                    format!("{glyph} {}", run_word(r)),
                    Style::new().fg(colour),
                )),
                Line::from(ago(app, r.queued)),
                Line::from(ago(app, r.started)),
                Line::from(span_ms(app, r.started, r.ended).map_or("—".into(), duration)),
                Line::from(r.initiator.describe()),
            ])
        })
        .collect();
    table(
        app,
        frame,
        area,
        vec![
            "RUN",
            "STATUS",
            "QUEUED",
            "STARTED",
            "DURATION",
            "INITIATOR",
        ],
        vec![
            Constraint::Length(6),
            Constraint::Length(14),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(10),
            Constraint::Fill(1),
        ],
        rows,
    );
}
