//! Drawing: a pure function of [`App`] — no clock, no I/O. Every state has a
//! colour and a glyph (docs/cli.md#console); loading, empty, error and disconnected states
//! are drawn explicitly.

use crate::config::Action;
use crate::draw::crumb;
use crate::model::{App, Connection, Mode, Screen};
pub use crate::screens::dag::{render_dag, render_tree};
use crate::screens::events::render_events;
use crate::screens::help::render_help;
use crate::screens::logs::render_logs;
use crate::screens::namespaces::render_namespaces;
use crate::screens::pipelines::render_pipelines;
use crate::screens::run::render_run;
use crate::screens::runs::render_runs;
pub use gofer_core::api::{Run, TaskExecution};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout as Split, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

/// Below this size only a notice is drawn (docs/cli.md#console).
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Draws the whole console.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "terminal too small: {}×{}, gofer console needs at least {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [header, crumbs, body, status] = Split::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(app, frame, header);
    render_crumbs(app, frame, crumbs);
    match app.screen() {
        Screen::Namespaces => render_namespaces(app, frame, body),
        Screen::Pipelines => render_pipelines(app, frame, body),
        Screen::Runs { .. } => render_runs(app, frame, body),
        Screen::Pipeline { .. } => crate::screens::pipeline::render_pipeline(app, frame, body),
        Screen::Run { .. } => render_run(app, frame, body),
        Screen::Logs { .. } => render_logs(app, frame, body),
        Screen::Events => render_events(app, frame, body),
        Screen::Extensions => crate::screens::extensions::render_extensions(app, frame, body),
        Screen::Running => crate::screens::running::render_running(app, frame, body),
        Screen::Pulse => crate::screens::pulse::render_pulse(app, frame, body),
        Screen::Extension { .. } => crate::screens::extensions::render_extension(app, frame, body),
    }
    render_status(app, frame, status);
    if app.help {
        render_help(app, frame, body);
    }
}

pub(crate) fn render_header(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let (text, colour) = match &app.connection {
        Connection::Live => ("● live".to_string(), theme.successful),
        Connection::Connecting => ("◌ connecting…".to_string(), theme.waiting),
        Connection::Reconnecting {
            attempt,
            retry_in_ms,
            ..
        } => (
            format!(
                "✖ disconnected · retry {attempt} in {}s · polling",
                retry_in_ms.div_ceil(1000)
            ),
            theme.failed,
        ),
    };
    let mut left = vec![
        Span::styled(" gofer ", Style::new().bg(theme.accent).fg(Color::White)),
        Span::raw(" namespace "),
        Span::styled(
            app.namespace.clone(),
            Style::new().add_modifier(Modifier::BOLD),
        ),
    ];
    if app.settings.read_only {
        left.push(Span::styled(" [read-only]", Style::new().fg(theme.waiting)));
    }
    if app.paused {
        left.push(Span::styled(" [paused]", Style::new().fg(theme.waiting)));
    }
    let right = Line::from(vec![
        Span::styled(text, Style::new().fg(colour)),
        Span::raw(format!(
            "  {} help ",
            app.settings.config.keymap.label(Action::Help)
        )),
    ])
    .right_aligned();
    frame.render_widget(Line::from(left), area);
    frame.render_widget(right, area);
}

pub(crate) fn render_crumbs(app: &App, frame: &mut Frame, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    for (i, f) in app.stack.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" › ", Style::new().fg(Color::DarkGray)));
        }
        let style = if i + 1 == app.stack.len() {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(Color::Gray)
        };
        spans.push(Span::styled(crumb(&f.screen), style));
        if !f.filter.is_empty() {
            spans.push(Span::styled(
                format!(" /{}", f.filter),
                Style::new().fg(app.settings.config.theme.matched),
            ));
        }
    }
    frame.render_widget(Line::from(spans), area);
}

pub(crate) fn render_status(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let keys = &app.settings.config.keymap;
    let line = match &app.mode {
        Mode::Command { input } => {
            Line::from(vec![Span::raw(":"), Span::raw(input.clone()), cursor()])
        }
        Mode::Filter => Line::from(vec![
            Span::raw("/"),
            Span::raw(app.frame().filter.clone()),
            cursor(),
            Span::styled(
                "  enter keeps · esc clears",
                Style::new().fg(Color::DarkGray),
            ),
        ]),
        Mode::Search { input } => {
            Line::from(vec![Span::raw("/"), Span::raw(input.clone()), cursor()])
        }
        Mode::LogFilter { input } => Line::from(vec![
            Span::raw("&"),
            Span::raw(input.clone()),
            cursor(),
            Span::styled(
                "  only matching lines · empty clears",
                Style::new().fg(Color::DarkGray),
            ),
        ]),
        Mode::Confirm(mutation) => Line::from(Span::styled(
            mutation.question(),
            Style::new().fg(theme.waiting).add_modifier(Modifier::BOLD),
        )),
        Mode::StartPrompt { pipeline, input } => Line::from(vec![
            Span::styled(
                format!("start '{pipeline}' with variables (K=V …, enter starts, esc aborts): "),
                Style::new().fg(theme.waiting),
            ),
            Span::raw(input.clone()),
            cursor(),
        ]),
        Mode::Normal => match &app.status {
            Some(status) if status.error => Line::from(Span::styled(
                format!("✖ {}", status.text),
                Style::new().fg(theme.error),
            )),
            Some(status) => Line::from(Span::raw(status.text.clone())),
            None => Line::from(Span::styled(
                hints(app)
                    .iter()
                    .map(|(a, what)| format!("{} {what}", keys.label(*a)))
                    .collect::<Vec<_>>()
                    .join(" · "),
                Style::new().fg(Color::DarkGray),
            )),
        },
    };
    frame.render_widget(line, area);
}

pub(crate) fn cursor() -> Span<'static> {
    Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK))
}

/// The keys worth showing at the bottom of the current view.
pub(crate) fn hints(app: &App) -> Vec<(Action, &'static str)> {
    let mut hints = match app.screen() {
        Screen::Logs { .. } => vec![
            (Action::Follow, "follow"),
            (Action::Filter, "search"),
            (Action::LogFilter, "filter"),
            (Action::Wrap, "wrap"),
        ],
        Screen::Run { .. } => vec![
            (Action::Open, "logs"),
            (Action::Timeline, "timeline"),
            (Action::Diagnose, "why it failed"),
            (Action::Retry, "retry"),
            (Action::Cancel, "cancel"),
        ],
        Screen::Pipelines => vec![
            (Action::Open, "runs"),
            (Action::Details, "versions & deployments"),
            (Action::Filter, "filter"),
            (Action::Start, "start run"),
        ],
        Screen::Pipeline { .. } => vec![
            (Action::Open, "diff"),
            (Action::Promote, "promote"),
            (Action::Abort, "abort"),
            (Action::Start, "start run"),
        ],
        Screen::Runs { .. } => vec![
            (Action::Open, "open"),
            (Action::Filter, "filter"),
            (Action::Start, "start run"),
            (Action::Cancel, "cancel"),
        ],
        Screen::Extensions => vec![
            (Action::Open, "open"),
            (Action::Enable, "enable"),
            (Action::Disable, "disable"),
        ],
        Screen::Extension { .. } if app.ext_tab == crate::model::ExtTab::Logs => vec![
            (Action::Tab, "next tab"),
            (Action::Follow, "follow"),
            (Action::Filter, "search"),
            (Action::LogFilter, "filter"),
        ],
        Screen::Extension { .. } if app.ext_tab == crate::model::ExtTab::Subscriptions => vec![
            (Action::Tab, "next tab"),
            (Action::Open, "pipeline runs"),
            (Action::Enable, "enable"),
            (Action::Disable, "disable"),
        ],
        Screen::Extension { .. } => vec![(Action::Tab, "next tab"), (Action::Refresh, "refresh")],
        Screen::Namespaces => vec![
            (Action::Open, "open"),
            (Action::Filter, "filter"),
            (Action::Extensions, "extensions"),
        ],
        Screen::Pulse => vec![(Action::Pause, "pause")],
        Screen::Events | Screen::Running => {
            vec![(Action::Open, "open"), (Action::Filter, "filter")]
        }
    };
    if app.settings.read_only {
        hints.retain(|(a, _)| {
            !matches!(
                a,
                Action::Start
                    | Action::Cancel
                    | Action::Promote
                    | Action::Abort
                    | Action::Enable
                    | Action::Disable
            )
        });
    }
    hints.extend([
        (Action::Command, "command"),
        (Action::Back, "back"),
        (Action::Quit, "quit"),
    ]);
    hints
}

// ----- glyphs and colours ------------------------------------------------------------------

// ----- lists -------------------------------------------------------------------------------

// ----- run view ----------------------------------------------------------------------------

// ----- logs --------------------------------------------------------------------------------

// ----- events ------------------------------------------------------------------------------

// ----- help --------------------------------------------------------------------------------
