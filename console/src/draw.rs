//! Drawing helpers every screen uses: glyphs and words for states, durations, tables and
//! placeholders for loading, empty and failed lists.

use crate::config::Theme;
use gofer_core::api::{Run, TaskExecution};
use gofer_core::enums::{RunState, RunStatus, TaskExecutionState, TaskExecutionStatus};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState, Wrap};

use crate::model::{App, Load, Screen};
use ratatui::Frame;

/// Glyph and colour of a task execution.
pub fn task_glyph(task: &TaskExecution, theme: &Theme) -> (&'static str, Color) {
    match (task.state, task.status) {
        (TaskExecutionState::Complete, TaskExecutionStatus::Successful) => ("✔", theme.successful),
        (TaskExecutionState::Complete, TaskExecutionStatus::Failed) => ("✖", theme.failed),
        (TaskExecutionState::Complete, TaskExecutionStatus::Skipped) => ("⏭", theme.skipped),
        (TaskExecutionState::Complete, TaskExecutionStatus::Cancelled) => ("⊘", theme.cancelled),
        (TaskExecutionState::Complete, TaskExecutionStatus::Unknown) => ("?", theme.unknown),
        (TaskExecutionState::Running, _) => ("▶", theme.running),
        _ => ("⏳", theme.waiting),
    }
}

/// Glyph and colour of a run.
pub fn run_glyph(run: &Run, theme: &Theme) -> (&'static str, Color) {
    match (run.state, run.status) {
        (RunState::Complete, RunStatus::Successful) => ("✔", theme.successful),
        (RunState::Complete, RunStatus::Failed) => ("✖", theme.failed),
        (RunState::Complete, RunStatus::Cancelled) => ("⊘", theme.cancelled),
        (RunState::Complete, RunStatus::Unknown) => ("?", theme.unknown),
        (RunState::Running, _) if run.cancellation.is_some() => ("⊘", theme.cancelled),
        (RunState::Running, _) => ("▶", theme.running),
        _ => ("⏳", theme.waiting),
    }
}

pub(crate) fn task_word(task: &TaskExecution) -> String {
    if task.state == TaskExecutionState::Complete {
        task.status.to_string()
    } else {
        task.state.to_string()
    }
}

pub(crate) fn run_word(run: &Run) -> String {
    if run.state == RunState::Complete {
        run.status.to_string()
    } else if let Some(c) = &run.cancellation {
        // Between an accepted cancel and the run's end.
        format!(
            "cancelling (by {}{})",
            c.by,
            if c.force { ", killing" } else { "" }
        )
    } else {
        run.state.to_string()
    }
}

/// `12s`, `3m04s`, `1h02m`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// How long ago `ms` was, relative to the app's clock.
pub(crate) fn ago(app: &App, ms: u64) -> String {
    if ms == 0 {
        return "—".into();
    }
    format!("{} ago", duration(app.now_ms.saturating_sub(ms)))
}

/// Duration of something that started at `started` and ended at `ended` (0 = still going).
pub(crate) fn span_ms(app: &App, started: u64, ended: u64) -> Option<u64> {
    if started == 0 {
        return None;
    }
    let end = if ended == 0 { app.now_ms } else { ended };
    Some(end.saturating_sub(started))
}

/// Draws a placeholder for a loading / failed / empty list; `true` when it did.
pub(crate) fn placeholder<T>(
    frame: &mut Frame,
    area: Rect,
    load: &Load<T>,
    empty: bool,
    what: &str,
    empty_text: &str,
    theme: &Theme,
) -> bool {
    let (text, style) = match load {
        Load::Loading => (format!("loading {what}…"), Style::new().fg(Color::Gray)),
        Load::Failed(e) => (
            format!("cannot load {what}: {e}\npress r to retry"),
            Style::new().fg(theme.error),
        ),
        Load::Ready(_) if empty => (empty_text.to_string(), Style::new().fg(Color::Gray)),
        Load::Ready(_) => return false,
    };
    frame.render_widget(
        Paragraph::new(text)
            .style(style)
            .wrap(Wrap { trim: true })
            .block(Block::new().borders(Borders::TOP)),
        area,
    );
    true
}

pub(crate) fn table<'a>(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    header: Vec<&'a str>,
    widths: Vec<Constraint>,
    rows: Vec<Row<'a>>,
) {
    let selected = app.selected_index();
    let table = Table::new(rows, widths)
        .header(
            Row::new(header)
                .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)),
        )
        .row_highlight_style(
            Style::new()
                .bg(app.settings.config.theme.selected)
                .add_modifier(Modifier::BOLD),
        )
        .highlight_symbol("▌")
        .block(Block::new().borders(Borders::TOP));
    let mut state = TableState::new().with_selected(Some(selected));
    frame.render_stateful_widget(table, area, &mut state);
}

pub(crate) fn crumb(screen: &Screen) -> String {
    match screen {
        Screen::Namespaces => "namespaces".into(),
        Screen::Pipelines => "pipelines".into(),
        Screen::Runs { pipeline } => format!("{pipeline} runs"),
        Screen::Pipeline { pipeline } => format!("{pipeline} versions & deployments"),
        Screen::Run { run_id, .. } => format!("run {run_id}"),
        Screen::Logs { task, .. } => format!("{task} logs"),
        Screen::Events => "events".into(),
        Screen::Extensions => "extensions".into(),
        Screen::Running => "running now".into(),
        Screen::Pulse => "pulse".into(),
        Screen::Extension { id } => format!("extension {id}"),
    }
}
