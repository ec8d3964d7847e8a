//! The help overlay.

use crate::config::Action;
use crate::draw::crumb;
use crate::model::{App, Screen};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

pub(crate) fn render_help(app: &App, frame: &mut Frame, area: Rect) {
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
            (Action::Diagnose, "why the run failed (gofer run debug)"),
            (
                Action::Retry,
                "retry the run, reusing the tasks that succeeded",
            ),
            (Action::Cancel, "cancel the task (or the run)"),
            (Action::Start, "start a new run"),
            (Action::Pause, "pause / resume live updates"),
        ],
        Screen::Pipelines => vec![
            (Action::Open, "open the pipeline's runs"),
            (Action::Details, "the pipeline's versions and deployments"),
            (Action::Filter, "filter"),
            (Action::Start, "start a run"),
            (Action::Enable, "enable the pipeline"),
            (Action::Disable, "disable the pipeline"),
            (Action::Pause, "pause / resume live updates"),
        ],
        Screen::Pipeline { .. } => vec![
            (
                Action::Open,
                "show / hide the version's diff against the live one",
            ),
            (Action::Promote, "promote the deployment in progress"),
            (Action::Abort, "abort the deployment in progress"),
            (Action::Filter, "filter versions"),
            (Action::Start, "start a run"),
            (Action::Pause, "pause / resume live updates"),
        ],
        Screen::Runs { .. } => vec![
            (Action::Details, "the pipeline's versions and deployments"),
            (Action::Open, "open the run"),
            (Action::Filter, "filter"),
            (Action::Start, "start a run"),
            (
                Action::Retry,
                "retry the run, reusing the tasks that succeeded",
            ),
            (Action::Cancel, "cancel the run"),
            (Action::Pause, "pause / resume live updates"),
        ],
        Screen::Namespaces => vec![
            (Action::Open, "switch to the namespace"),
            (Action::Filter, "filter"),
            (Action::Extensions, "the extensions"),
        ],
        Screen::Pulse => vec![
            (Action::Pause, "pause / resume reading the server"),
            (Action::Refresh, "read it now"),
        ],
        Screen::Running => vec![
            (Action::Open, "open the run"),
            (Action::Filter, "filter by namespace, pipeline, task…"),
            (Action::Pause, "pause / resume live updates"),
        ],
        Screen::Extensions => vec![
            (
                Action::Open,
                "open the extension (logs, debug, subscriptions, settings)",
            ),
            (Action::Logs, "the extension's log"),
            (Action::Enable, "enable the extension"),
            (Action::Disable, "disable the extension"),
            (Action::Filter, "filter"),
        ],
        Screen::Extension { .. } => vec![
            (
                Action::Tab,
                "next tab: logs, debug, subscriptions, settings",
            ),
            (Action::Refresh, "ask for the debug info again"),
            (Action::Follow, "logs: toggle follow"),
            (Action::Filter, "logs: search; subscriptions: filter"),
            (Action::LogFilter, "logs: show only matching lines"),
            (Action::Wrap, "logs: toggle wrap"),
            (
                Action::Enable,
                "enable the selected subscription (or the extension)",
            ),
            (
                Action::Disable,
                "disable the selected subscription (or the extension)",
            ),
            (Action::Open, "subscriptions: that pipeline's runs"),
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
            Action::Start
                | Action::Cancel
                | Action::Enable
                | Action::Disable
                | Action::Promote
                | Action::Abort
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
