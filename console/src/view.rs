//! Drawing (STYLE rule 14): a pure function of [`App`] — no clock, no I/O. Every state has a
//! colour and a glyph (SPEC §16, issue 6 item 2); loading, empty, error and disconnected states
//! are drawn explicitly.

use crate::app::{App, Connection, Load, LogState, Mode, Screen};
use crate::config::{Action, Theme};
use crate::dag::{BOX_H, BOX_W, GAP_X, Layout, tree};
use gofer_core::api::{Run, TaskExecution};
use gofer_core::enums::{RunState, RunStatus, TaskExecutionState, TaskExecutionStatus};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout as Split, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row, Table, TableState, Widget, Wrap};

/// Below this size only a notice is drawn (SPEC §16.2).
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
        Screen::Run { .. } => render_run(app, frame, body),
        Screen::Logs { .. } => render_logs(app, frame, body),
        Screen::Events => render_events(app, frame, body),
    }
    render_status(app, frame, status);
    if app.help {
        render_help(app, frame, body);
    }
}

fn render_header(app: &App, frame: &mut Frame, area: Rect) {
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

fn crumb(screen: &Screen) -> String {
    match screen {
        Screen::Namespaces => "namespaces".into(),
        Screen::Pipelines => "pipelines".into(),
        Screen::Runs { pipeline } => format!("{pipeline} runs"),
        Screen::Run { run_id, .. } => format!("run {run_id}"),
        Screen::Logs { task, .. } => format!("{task} logs"),
        Screen::Events => "events".into(),
    }
}

fn render_crumbs(app: &App, frame: &mut Frame, area: Rect) {
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

fn render_status(app: &App, frame: &mut Frame, area: Rect) {
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

fn cursor() -> Span<'static> {
    Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK))
}

/// The keys worth showing at the bottom of the current view.
fn hints(app: &App) -> Vec<(Action, &'static str)> {
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
            (Action::Cancel, "cancel"),
        ],
        Screen::Pipelines => vec![
            (Action::Open, "runs"),
            (Action::Filter, "filter"),
            (Action::Start, "start run"),
        ],
        Screen::Runs { .. } => vec![
            (Action::Open, "open"),
            (Action::Filter, "filter"),
            (Action::Start, "start run"),
            (Action::Cancel, "cancel"),
        ],
        Screen::Namespaces | Screen::Events => {
            vec![(Action::Open, "open"), (Action::Filter, "filter")]
        }
    };
    if app.settings.read_only {
        hints.retain(|(a, _)| !matches!(a, Action::Start | Action::Cancel));
    }
    hints.extend([
        (Action::Command, "command"),
        (Action::Back, "back"),
        (Action::Quit, "quit"),
    ]);
    hints
}

// ----- glyphs and colours ------------------------------------------------------------------

/// Glyph and colour of a task execution (issue 6 item 2).
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

fn task_word(task: &TaskExecution) -> String {
    if task.state == TaskExecutionState::Complete {
        task.status.to_string()
    } else {
        task.state.to_string()
    }
}

fn run_word(run: &Run) -> String {
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
fn ago(app: &App, ms: u64) -> String {
    if ms == 0 {
        return "—".into();
    }
    format!("{} ago", duration(app.now_ms.saturating_sub(ms)))
}

/// Duration of something that started at `started` and ended at `ended` (0 = still going).
fn span_ms(app: &App, started: u64, ended: u64) -> Option<u64> {
    if started == 0 {
        return None;
    }
    let end = if ended == 0 { app.now_ms } else { ended };
    Some(end.saturating_sub(started))
}

// ----- lists -------------------------------------------------------------------------------

/// Draws a placeholder for a loading / failed / empty list; `true` when it did.
fn placeholder<T>(
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

fn table<'a>(
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

fn render_namespaces(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let rows = app.visible_namespaces();
    if placeholder(
        frame,
        area,
        &app.namespaces,
        rows.is_empty(),
        "namespaces",
        "no namespaces match",
        theme,
    ) {
        return;
    }
    let rows = rows
        .into_iter()
        .map(|n| {
            Row::new(vec![
                n.id.clone(),
                n.name.clone(),
                n.description.clone(),
                ago(app, n.created),
            ])
        })
        .collect();
    table(
        app,
        frame,
        area,
        vec!["ID", "NAME", "DESCRIPTION", "CREATED"],
        vec![
            Constraint::Length(20),
            Constraint::Length(20),
            Constraint::Fill(1),
            Constraint::Length(14),
        ],
        rows,
    );
}

fn render_pipelines(app: &App, frame: &mut Frame, area: Rect) {
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
            let state_colour = if crate::app::is_active(p.metadata.state) {
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
                triggers(&p.subscriptions, theme),
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

/// A pipeline's subscriptions: `interval/every5m`, with ✖ and the reason when its extension
/// could not start a run (or could not take the subscription), ⏸ when disabled.
fn triggers(subscriptions: &[gofer_core::api::Subscription], theme: &Theme) -> Line<'static> {
    use gofer_core::enums::SubscriptionStatus;
    if subscriptions.is_empty() {
        return Line::from(Span::styled("-", Style::new().fg(Color::Gray)));
    }
    let mut spans = Vec::new();
    for (i, sub) in subscriptions.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(", "));
        }
        let name = format!("{}/{}", sub.extension_id, sub.subscription_id);
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

fn render_runs(app: &App, frame: &mut Frame, area: Rect) {
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

// ----- run view ----------------------------------------------------------------------------

fn render_run(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let Some(data) = app.run.ready() else {
        placeholder(frame, area, &app.run, false, "the run", "", theme);
        return;
    };
    let (glyph, colour) = run_glyph(&data.run, theme);
    let [title, rest] = Split::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let mut spans = vec![
        Span::styled(
            format!(" {glyph} run {} ", data.run.run_id),
            Style::new().fg(colour).add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "{} · v{} · {}",
            run_word(&data.run),
            data.run.pipeline_config_version,
            span_ms(app, data.run.started, data.run.ended).map_or("not started".into(), duration)
        )),
    ];
    if let Some(reason) = &data.run.status_reason {
        spans.push(Span::styled(
            format!(" · {}: {}", reason.reason, reason.description),
            Style::new().fg(theme.error),
        ));
    }
    frame.render_widget(Line::from(spans), title);
    if data.tasks.is_empty() {
        frame.render_widget(
            Paragraph::new("no task executions yet: the run is still queued")
                .style(Style::new().fg(Color::Gray)),
            rest,
        );
        return;
    }
    let (pane, side) = if app.size.0 >= crate::app::SIDE_PANEL_FROM {
        let [pane, side] =
            Split::horizontal([Constraint::Min(1), Constraint::Length(40)]).areas(rest);
        (pane, Some(side))
    } else {
        let [pane, side] = Split::vertical([Constraint::Min(1), Constraint::Length(6)]).areas(rest);
        (pane, Some(side))
    };
    let layout = Layout::new(&data.tasks);
    let selected = app.selected_task.as_deref();
    if app.timeline {
        render_timeline(
            app,
            &data.run,
            &data.tasks,
            &layout,
            selected,
            frame.buffer_mut(),
            pane,
        );
    } else if app.run_uses_tree() {
        render_tree(
            app,
            &data.tasks,
            &layout,
            selected,
            frame.buffer_mut(),
            pane,
        );
    } else {
        render_dag(
            app,
            &data.tasks,
            &layout,
            selected,
            frame.buffer_mut(),
            pane,
        );
    }
    if let (Some(side), Some(task)) = (
        side,
        selected.and_then(|s| data.tasks.iter().find(|t| t.task_id == s)),
    ) {
        render_details(app, task, frame, side);
    }
}

/// Draws `text` at virtual `(x, y)` shifted by `offset`, clipped to `area`.
fn put(buf: &mut Buffer, area: Rect, offset: (u16, u16), x: u16, y: u16, text: &str, style: Style) {
    if y < offset.1 || x < offset.0 {
        // Partially left of the view: draw the visible suffix.
        if y < offset.1 {
            return;
        }
        let skip = usize::from(offset.0 - x);
        let visible: String = text.chars().skip(skip).collect();
        if !visible.is_empty() {
            put(buf, area, offset, offset.0, y, &visible, style);
        }
        return;
    }
    let (sx, sy) = (area.x + (x - offset.0), area.y + (y - offset.1));
    if sy >= area.bottom() || sx >= area.right() {
        return;
    }
    let max = usize::from(area.right() - sx);
    buf.set_stringn(sx, sy, text, max, style);
}

/// Draws a DAG pane: boxes in columns by depth with box-drawing edges (issue 6 item 2).
/// Scrolls so the selected box is always visible.
pub fn render_dag(
    app: &App,
    tasks: &[TaskExecution],
    layout: &Layout,
    selected: Option<&str>,
    buf: &mut Buffer,
    area: Rect,
) {
    let theme = &app.settings.config.theme;
    if area.width == 0 || area.height == 0 {
        return;
    }
    let (w, h) = layout.size();
    // Scroll to keep the selected box in view, centred when it is not.
    let offset = match selected.and_then(|s| layout.origin(s)) {
        Some((x, y)) => {
            let ox = if x + BOX_W <= area.width {
                0
            } else {
                (x + BOX_W)
                    .saturating_sub(area.width)
                    .min(w.saturating_sub(area.width))
            };
            let oy = if y + BOX_H <= area.height {
                0
            } else {
                (y + BOX_H + 1)
                    .saturating_sub(area.height)
                    .min(h.saturating_sub(area.height))
            };
            (ox, oy)
        }
        None => (0, 0),
    };
    // Edges first, as a grid of line directions merged into box-drawing characters.
    const UP: u8 = 1;
    const DOWN: u8 = 2;
    const LEFT: u8 = 4;
    const RIGHT: u8 = 8;
    let mut grid: std::collections::HashMap<(u16, u16), u8> = std::collections::HashMap::new();
    let mut mark = |x: u16, y: u16, bits: u8| *grid.entry((x, y)).or_default() |= bits;
    for (parent, child) in &layout.edges {
        let (Some((px, py)), Some((cx, cy))) = (layout.origin(parent), layout.origin(child)) else {
            continue;
        };
        let (y1, y2) = (py + BOX_H / 2, cy + BOX_H / 2);
        let x1 = px + BOX_W; // first cell right of the parent box
        let xm = cx - GAP_X / 2; // the bend, in the gap before the child's column
        let x2 = cx - 1; // last cell before the child box
        for x in x1..xm {
            mark(x, y1, LEFT | RIGHT);
        }
        if y1 == y2 {
            mark(xm, y1, LEFT | RIGHT);
        } else {
            let (top, bottom) = (y1.min(y2), y1.max(y2));
            mark(xm, y1, LEFT | if y2 > y1 { DOWN } else { UP });
            mark(xm, y2, RIGHT | if y2 > y1 { UP } else { DOWN });
            for y in top + 1..bottom {
                mark(xm, y, UP | DOWN);
            }
        }
        for x in xm + 1..=x2 {
            mark(x, y2, LEFT | RIGHT);
        }
    }
    let edge_style = Style::new().fg(Color::DarkGray);
    for ((x, y), bits) in &grid {
        let c = match *bits {
            b if b == LEFT | RIGHT => "─",
            b if b == UP | DOWN => "│",
            b if b == LEFT | DOWN => "┐",
            b if b == LEFT | UP => "┘",
            b if b == RIGHT | DOWN => "┌",
            b if b == RIGHT | UP => "└",
            b if b == LEFT | RIGHT | DOWN => "┬",
            b if b == LEFT | RIGHT | UP => "┴",
            b if b == UP | DOWN | RIGHT => "├",
            b if b == UP | DOWN | LEFT => "┤",
            b if b == UP | DOWN | LEFT | RIGHT => "┼",
            b if b & (LEFT | RIGHT) != 0 => "─",
            _ => "│",
        };
        put(buf, area, offset, *x, *y, c, edge_style);
    }
    // Each child's incoming line ends in an arrowhead coloured by what it waits for: green when
    // it runs on its parents' success, red on their failure, gray on either (yellow when its
    // parents' conditions differ).
    for task in tasks {
        let parents: Vec<&String> = layout
            .edges
            .iter()
            .filter(|(_, child)| *child == task.task_id)
            .map(|(parent, _)| parent)
            .collect();
        let (Some(first), Some((cx, cy))) = (parents.first(), layout.origin(&task.task_id)) else {
            continue;
        };
        let condition = |p: &String| task.task.depends_on.get(p).copied();
        let colour = if parents.iter().all(|p| condition(p) == condition(first)) {
            match condition(first) {
                Some(gofer_core::enums::RequiredParentStatus::Success) => theme.successful,
                Some(gofer_core::enums::RequiredParentStatus::Failure) => theme.failed,
                _ => Color::Gray,
            }
        } else {
            theme.waiting
        };
        let y = cy + BOX_H / 2;
        let style = Style::new().fg(colour);
        for x in cx - GAP_X / 2 + 1..cx - 1 {
            put(buf, area, offset, x, y, "─", style);
        }
        put(buf, area, offset, cx - 1, y, "▸", style);
    }
    // Boxes over the edges (an edge that skips a column runs behind the boxes it passes).
    for task in tasks {
        let Some((x, y)) = layout.origin(&task.task_id) else {
            continue;
        };
        let (glyph, colour) = task_glyph(task, theme);
        let is_selected = selected == Some(task.task_id.as_str());
        let border = if is_selected {
            Style::new().fg(colour).add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(colour)
        };
        let fill = if is_selected {
            Style::new().bg(theme.selected)
        } else {
            Style::new()
        };
        let inner = usize::from(BOX_W - 2);
        let (tl, tr, bl, br, hz, vt) = if is_selected {
            ("┏", "┓", "┗", "┛", "━", "┃")
        } else {
            ("╭", "╮", "╰", "╯", "─", "│")
        };
        put(
            buf,
            area,
            offset,
            x,
            y,
            &format!("{tl}{}{tr}", hz.repeat(inner)),
            border,
        );
        put(
            buf,
            area,
            offset,
            x,
            y + BOX_H - 1,
            &format!("{bl}{}{br}", hz.repeat(inner)),
            border,
        );
        for row in 1..BOX_H - 1 {
            put(buf, area, offset, x, y + row, vt, border);
            put(buf, area, offset, x + BOX_W - 1, y + row, vt, border);
            put(buf, area, offset, x + 1, y + row, &" ".repeat(inner), fill);
        }
        // Some glyphs (⏳) are two cells wide: the id starts after the glyph's real width.
        let glyph_w = Span::raw(glyph).width() as u16;
        let id = truncate(&task.task_id, inner - 2 - usize::from(glyph_w));
        put(buf, area, offset, x + 2, y + 1, glyph, fill.fg(colour));
        put(
            buf,
            area,
            offset,
            x + 3 + glyph_w,
            y + 1,
            &id,
            fill.add_modifier(Modifier::BOLD),
        );
        let mut second = task_word(task);
        if let Some(ms) = span_ms(app, task.started, task.ended) {
            second.push_str(&format!(" {}", duration(ms)));
        }
        let total = task.task.retries.count + 1;
        if total > 1 {
            second.push_str(&format!(" {}/{total}", task.attempts.len().max(1)));
        }
        put(
            buf,
            area,
            offset,
            x + 2,
            y + 2,
            &truncate(&second, inner - 2),
            fill.fg(Color::Gray),
        );
    }
    // Where the canvas continues beyond the pane.
    if offset.0 > 0 || offset.1 > 0 || w > area.width + offset.0 || h > area.height + offset.1 {
        let more = format!(" {}/{} ", app.selected_index() + 1, tasks.len());
        let x = area.right().saturating_sub(more.chars().count() as u16);
        buf.set_string(x, area.y, more, Style::new().fg(Color::Gray));
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The narrow-terminal fallback: an indented tree (`├─ ✔ build 12s`).
pub fn render_tree(
    app: &App,
    tasks: &[TaskExecution],
    layout: &Layout,
    selected: Option<&str>,
    buf: &mut Buffer,
    area: Rect,
) {
    let theme = &app.settings.config.theme;
    let lines = tree(tasks, layout);
    let index = selected
        .and_then(|s| lines.iter().position(|l| l.id == s))
        .unwrap_or(0);
    let height = usize::from(area.height);
    let first = (index + 1).saturating_sub(height);
    for (row, line) in lines.iter().skip(first).take(height).enumerate() {
        let Some(task) = tasks.iter().find(|t| t.task_id == line.id) else {
            continue;
        };
        let (glyph, colour) = task_glyph(task, theme);
        let mut prefix = String::new();
        for guide in &line.guides {
            prefix.push_str(if *guide { "│  " } else { "   " });
        }
        prefix.push_str(if line.last { "└─ " } else { "├─ " });
        let mut spans = vec![
            Span::styled(prefix, Style::new().fg(Color::DarkGray)),
            Span::styled(format!("{glyph} "), Style::new().fg(colour)),
            Span::styled(line.id.clone(), Style::new().add_modifier(Modifier::BOLD)),
        ];
        let mut rest = String::new();
        if let Some(ms) = span_ms(app, task.started, task.ended) {
            rest.push_str(&format!(" {}", duration(ms)));
        } else {
            rest.push_str(&format!(" {}", task_word(task)));
        }
        if !line.also_after.is_empty() {
            rest.push_str(&format!("  (also after {})", line.also_after.join(", ")));
        }
        spans.push(Span::styled(rest, Style::new().fg(Color::Gray)));
        let mut l = Line::from(spans);
        if selected == Some(line.id.as_str()) {
            l = l.style(Style::new().bg(theme.selected));
        }
        let y = area.y + row as u16;
        Widget::render(l, Rect::new(area.x, y, area.width, 1), buf);
    }
}

/// The timeline (Gantt) toggle: when each task ran, relative to the run.
fn render_timeline(
    app: &App,
    run: &Run,
    tasks: &[TaskExecution],
    layout: &Layout,
    selected: Option<&str>,
    buf: &mut Buffer,
    area: Rect,
) {
    let theme = &app.settings.config.theme;
    let lines = tree(tasks, layout);
    let start = tasks
        .iter()
        .filter(|t| t.started > 0)
        .map(|t| t.started)
        .min()
        .unwrap_or(run.started);
    let end = if run.ended > 0 { run.ended } else { app.now_ms }.max(start + 1);
    let label_w: u16 = 18;
    let bar_w = area.width.saturating_sub(label_w + 9);
    let index = selected
        .and_then(|s| lines.iter().position(|l| l.id == s))
        .unwrap_or(0);
    let height = usize::from(area.height.saturating_sub(1));
    let first = (index + 1).saturating_sub(height);
    let header = format!(
        "{:<w$}{}",
        "TASK",
        format_args!("0s … {}", duration(end - start)),
        w = usize::from(label_w)
    );
    buf.set_stringn(
        area.x,
        area.y,
        header,
        usize::from(area.width),
        Style::new().add_modifier(Modifier::BOLD),
    );
    for (row, line) in lines.iter().skip(first).take(height).enumerate() {
        let Some(task) = tasks.iter().find(|t| t.task_id == line.id) else {
            continue;
        };
        let (glyph, colour) = task_glyph(task, theme);
        let y = area.y + 1 + row as u16;
        let style = if selected == Some(line.id.as_str()) {
            Style::new().bg(theme.selected)
        } else {
            Style::new()
        };
        buf.set_stringn(
            area.x,
            y,
            format!("{glyph} {}", truncate(&line.id, usize::from(label_w) - 3)),
            usize::from(label_w),
            style.fg(colour),
        );
        if task.started == 0 || bar_w == 0 {
            continue;
        }
        let scale = |t: u64| -> u16 {
            ((t.saturating_sub(start) as f64 / (end - start) as f64) * f64::from(bar_w)) as u16
        };
        let task_end = if task.ended > 0 {
            task.ended
        } else {
            app.now_ms
        };
        let (a, b) = (scale(task.started).min(bar_w), scale(task_end).min(bar_w));
        let len = b.saturating_sub(a).max(1);
        buf.set_stringn(
            area.x + label_w + a,
            y,
            "█".repeat(usize::from(len)),
            usize::from(bar_w - a.min(bar_w)),
            Style::new().fg(colour),
        );
        let d = duration(task_end.saturating_sub(task.started));
        buf.set_stringn(
            area.x + label_w + bar_w + 1,
            y,
            d,
            8,
            Style::new().fg(Color::Gray),
        );
    }
}

/// The side panel: the selected execution's details (SPEC §16.1).
fn render_details(app: &App, task: &TaskExecution, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let (glyph, colour) = task_glyph(task, theme);
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("{glyph} {}", task.task_id),
            Style::new().fg(colour).add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!("  {}", task_word(task))),
    ])];
    let total = task.task.retries.count + 1;
    let mut facts = vec![
        format!("attempt {} of {total}", task.attempts.len()),
        format!(
            "exit code {}",
            task.exit_code.map_or("—".into(), |c| c.to_string())
        ),
        format!(
            "duration {}",
            span_ms(app, task.started, task.ended).map_or("—".into(), duration)
        ),
        format!("image {}", task.task.image),
    ];
    if let Some(reason) = &task.status_reason {
        facts.insert(
            2,
            format!("reason {}: {}", reason.reason, reason.description),
        );
    }
    if !task.variables.is_empty() {
        facts.push("variables:".into());
        for v in &task.variables {
            facts.push(format!("  {}={}", v.key, v.value));
        }
    }
    lines.extend(facts.into_iter().map(Line::from));
    let block = if area.width >= 40 && area.height > 6 {
        Block::new().borders(Borders::LEFT).title(" details ")
    } else {
        Block::new().borders(Borders::TOP)
    };
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

// ----- logs --------------------------------------------------------------------------------

fn render_logs(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let logs = &app.logs;
    let [title, text] = Split::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let display = logs.display();
    let mut title_spans = Vec::new();
    if let (Some(data), Screen::Logs { task, .. }) = (app.run.ready(), app.screen())
        && let Some(t) = data.tasks.iter().find(|t| &t.task_id == task)
    {
        let (glyph, colour) = task_glyph(t, theme);
        title_spans.push(Span::styled(
            format!(" {glyph} {task} {} ", task_word(t)),
            Style::new().fg(colour),
        ));
    }
    let (mode, colour) = if logs.follow {
        ("● following".to_string(), theme.successful)
    } else {
        let below = display.len().saturating_sub(
            logs.first_shown(&display, usize::from(text.height)) + usize::from(text.height),
        );
        (
            format!("⏸ paused · {below} lines below (f follows)"),
            theme.waiting,
        )
    };
    title_spans.push(Span::styled(mode, Style::new().fg(colour)));
    title_spans.push(Span::styled(
        format!(
            " · {} lines{}{}{}{}",
            logs.buf.end() - logs.buf.start(),
            if logs.buf.dropped() > 0 {
                format!(" ({} oldest dropped)", logs.buf.dropped())
            } else {
                String::new()
            },
            logs.filter.as_ref().map_or(String::new(), |f| format!(
                " · & {f}: {} {}",
                display.len(),
                if display.len() == 1 {
                    "match"
                } else {
                    "matches"
                }
            )),
            if logs.wrap { " · wrap" } else { "" },
            match &logs.state {
                LogState::Ended => " · end of log".to_string(),
                LogState::Failed(e) if !logs.buf.is_empty() => format!(" · stream broke off: {e}"),
                _ => String::new(),
            },
        ),
        Style::new().fg(Color::Gray),
    ));
    frame.render_widget(Line::from(title_spans), title);
    let notice = match &logs.state {
        LogState::Loading => Some(("loading logs…".to_string(), Color::Gray)),
        LogState::NotStarted => Some((
            "task not started yet: its output appears here when it starts".into(),
            theme.waiting,
        )),
        LogState::NeverStarted(why) => Some((
            format!("the task never started, so it has no logs: {why}"),
            theme.skipped,
        )),
        LogState::Expired => Some((
            "logs expired: removed by retention or deleted".into(),
            theme.skipped,
        )),
        LogState::Failed(e) if logs.buf.is_empty() => {
            Some((format!("cannot read logs: {e}"), theme.error))
        }
        LogState::Streaming if logs.buf.is_empty() => Some(("no output yet".into(), Color::Gray)),
        LogState::Ended if logs.buf.is_empty() => {
            Some(("no output: the task printed nothing".into(), Color::Gray))
        }
        _ => None,
    };
    if let Some((text_, colour)) = notice {
        frame.render_widget(
            Paragraph::new(text_)
                .style(Style::new().fg(colour))
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(Block::new().borders(Borders::TOP)),
            text,
        );
        return;
    }
    let height = usize::from(text.height);
    let width = usize::from(text.width).max(1);
    let search = logs.search.as_ref().map(|s| s.to_lowercase());
    let mut rows: Vec<Line> = Vec::with_capacity(height);
    let first = logs.first_shown(&display, height);
    if logs.wrap {
        // Wrap by characters; when following, fill from the bottom.
        let mut visual: Vec<Line> = Vec::new();
        let iter: Box<dyn Iterator<Item = &u64>> = if logs.follow {
            Box::new(display.iter().rev())
        } else {
            Box::new(display[first..].iter())
        };
        for abs in iter {
            let line = logs.buf.line(*abs).unwrap_or_default().into_owned();
            let chars: Vec<char> = line.chars().collect();
            let mut chunks: Vec<Line> = chars
                .chunks(width)
                .map(|c| {
                    styled_line(
                        c.iter().collect(),
                        search.as_deref(),
                        logs.current_match == Some(*abs),
                        theme,
                    )
                })
                .collect();
            if chunks.is_empty() {
                chunks.push(Line::default());
            }
            if logs.follow {
                chunks.reverse();
            }
            visual.extend(chunks);
            if visual.len() >= height {
                break;
            }
        }
        visual.truncate(height);
        if logs.follow {
            visual.reverse();
        }
        rows = visual;
    } else {
        for abs in display.iter().skip(first).take(height) {
            let line = logs.buf.line(*abs).unwrap_or_default();
            let cut: String = line.chars().take(width).collect();
            rows.push(styled_line(
                cut,
                search.as_deref(),
                logs.current_match == Some(*abs),
                theme,
            ));
        }
    }
    frame.render_widget(Paragraph::new(rows), text);
}

/// A log line with search matches highlighted (the current match's line is underlined).
fn styled_line(text: String, search: Option<&str>, current: bool, theme: &Theme) -> Line<'static> {
    let base = if current {
        Style::new().add_modifier(Modifier::UNDERLINED)
    } else {
        Style::new()
    };
    let Some(pattern) = search.filter(|p| !p.is_empty()) else {
        return Line::from(Span::styled(text, base));
    };
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        // Lowercasing changed byte offsets (rare scripts): highlight the whole line instead.
        let style = if lower.contains(pattern) {
            base.fg(theme.matched)
        } else {
            base
        };
        return Line::from(Span::styled(text, style));
    }
    let mut spans = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find(pattern) {
        let start = at + found;
        let end = start + pattern.len();
        if start > at {
            spans.push(Span::styled(text[at..start].to_string(), base));
        }
        spans.push(Span::styled(
            text[start..end].to_string(),
            base.bg(theme.matched).fg(Color::Black),
        ));
        at = end;
    }
    if at < text.len() {
        spans.push(Span::styled(text[at..].to_string(), base));
    }
    Line::from(spans)
}

// ----- events ------------------------------------------------------------------------------

fn render_events(app: &App, frame: &mut Frame, area: Rect) {
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

// ----- help --------------------------------------------------------------------------------

fn render_help(app: &App, frame: &mut Frame, area: Rect) {
    let keys = &app.settings.config.keymap;
    let mut rows: Vec<(Action, &str)> = vec![
        (Action::Up, "move up / scroll up"),
        (Action::Down, "move down / scroll down"),
        (Action::Left, "task graph: the task in the column before"),
        (Action::Right, "task graph: the task in the column after"),
        (Action::Top, "top"),
        (Action::Bottom, "bottom"),
        (Action::PageDown, "half a page down"),
        (Action::PageUp, "half a page up"),
        (Action::Back, "go back"),
        (Action::Command, "command mode (tab completes)"),
        (Action::Help, "this help"),
        (Action::Refresh, "refresh"),
        (Action::Quit, "quit (back in a sub-view)"),
        (Action::ForceQuit, "quit"),
    ];
    let view: Vec<(Action, &str)> = match app.screen() {
        Screen::Logs { .. } => vec![
            (Action::Follow, "toggle follow (scrolling up pauses)"),
            (Action::Pause, "pause / resume following"),
            (Action::Filter, "search"),
            (Action::NextMatch, "next match"),
            (Action::PrevMatch, "previous match"),
            (Action::LogFilter, "show only matching lines"),
            (Action::Wrap, "toggle wrap"),
            (Action::Cancel, "cancel the task"),
        ],
        Screen::Run { .. } => vec![
            (Action::Open, "open the task's logs"),
            (Action::Logs, "open the task's logs"),
            (Action::Timeline, "toggle the timeline"),
            (Action::Cancel, "cancel the task (or the run)"),
            (Action::Start, "start a new run"),
            (Action::Pause, "pause / resume live updates"),
        ],
        Screen::Pipelines => vec![
            (Action::Open, "open the pipeline's runs"),
            (Action::Filter, "filter"),
            (Action::Start, "start a run"),
            (Action::Enable, "enable the pipeline"),
            (Action::Disable, "disable the pipeline"),
            (Action::Pause, "pause / resume live updates"),
        ],
        Screen::Runs { .. } => vec![
            (Action::Open, "open the run"),
            (Action::Filter, "filter"),
            (Action::Start, "start a run"),
            (Action::Cancel, "cancel the run"),
            (Action::Pause, "pause / resume live updates"),
        ],
        Screen::Namespaces => vec![
            (Action::Open, "switch to the namespace"),
            (Action::Filter, "filter"),
        ],
        Screen::Events => vec![
            (Action::Open, "go to the event's run or pipeline"),
            (Action::Filter, "filter by kind, namespace, pipeline…"),
            (Action::Pause, "pause / resume live updates"),
        ],
    };
    let mutating = |a: &Action| {
        matches!(
            a,
            Action::Start | Action::Cancel | Action::Enable | Action::Disable
        )
    };
    rows.splice(
        0..0,
        view.into_iter()
            .filter(|(a, _)| !(app.settings.read_only && mutating(a))),
    );
    let mut lines: Vec<Line> = rows
        .iter()
        .map(|(a, what)| {
            Line::from(vec![
                Span::styled(
                    format!("{:>16}  ", keys.label(*a)),
                    Style::new()
                        .fg(app.settings.config.theme.accent)
                        .add_modifier(Modifier::BOLD),
                ),
                Span::raw(what.to_string()),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "commands: :pipelines :runs <p> :run <p> <id> :events :namespaces :ns <id>",
        Style::new().fg(Color::Gray),
    )));
    let more = if app.settings.read_only {
        "read-only: start, cancel, deploy, enable/disable are disabled"
    } else {
        ":start [K=V …] :cancel :deploy <version> :save <file> :q"
    };
    lines.push(Line::from(Span::styled(
        format!("          {more}"),
        Style::new().fg(Color::Gray),
    )));
    let height = (lines.len() as u16 + 2).min(area.height);
    let width = 76.min(area.width);
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(format!(" keys: {} ", crumb(app.screen())))),
        popup,
    );
}
