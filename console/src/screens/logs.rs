//! The logs screen: following a task's log, search and wrap, and its drawing.

use crate::config::{Action, Theme};
use crate::draw::{task_glyph, task_word};
use crate::logbuf::LogBuf;
use crate::model::{App, Effect, LogState, LogView, Mode, Screen};
use crate::screens::run::never_started_reason;
use gofer_core::api::TaskExecution;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout as Split, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

impl LogView {
    pub(crate) fn new(capacity: usize) -> LogView {
        LogView {
            buf: LogBuf::new(capacity),
            state: LogState::Loading,
            follow: true,
            top: 0,
            wrap: false,
            search: None,
            current_match: None,
            filter: None,
            generation: 0,
        }
    }

    /// The absolute numbers of the lines on display, in order (all lines, or those matching
    /// the `&` filter).
    pub fn display(&self) -> Vec<u64> {
        let range = self.buf.start()..self.buf.end();
        match self.filter.as_deref() {
            None => range.collect(),
            Some(pattern) => {
                let pattern = pattern.to_lowercase();
                range
                    .filter(|abs| {
                        self.buf
                            .line(*abs)
                            .is_some_and(|l| crate::logbuf::contains_ci(&l, &pattern))
                    })
                    .collect()
            }
        }
    }

    /// The first line shown on a screen `height` lines tall: the tail when following, else
    /// `top` clamped into the buffer.
    pub fn first_shown(&self, display: &[u64], height: usize) -> usize {
        if self.follow {
            display.len().saturating_sub(height)
        } else {
            let position = display.partition_point(|abs| *abs < self.top);
            position.min(display.len().saturating_sub(height.max(1)))
        }
    }
}

impl App {
    pub(crate) fn on_log_task(
        &mut self,
        generation: u64,
        result: Result<TaskExecution, String>,
    ) -> Vec<Effect> {
        if generation != self.logs.generation {
            return Vec::new();
        }
        let Screen::Logs {
            pipeline,
            run_id,
            task,
        } = self.screen().clone()
        else {
            return Vec::new();
        };
        match result {
            Err(e) => {
                self.logs.state = LogState::Failed(e);
                Vec::new()
            }
            Ok(execution) => {
                if execution.logs_removed || execution.logs_expired {
                    self.logs.state = LogState::Expired;
                    Vec::new()
                } else if execution.never_started() {
                    // No container ever ran (an image that cannot be pulled, a parent that
                    // failed): there is no log, only a reason.
                    self.logs.state = LogState::NeverStarted(never_started_reason(&execution));
                    Vec::new()
                } else if execution.started == 0 {
                    self.logs.state = LogState::NotStarted;
                    Vec::new()
                } else {
                    self.logs.state = LogState::Streaming;
                    vec![Effect::FollowLogs {
                        namespace: self.namespace.clone(),
                        pipeline,
                        run_id,
                        task,
                        generation,
                    }]
                }
            }
        }
    }

    /// Keys with a meaning of their own in the log view; `None` falls through.
    pub(crate) fn on_log_action(&mut self, action: Action) -> Option<Vec<Effect>> {
        let height = self.log_height();
        let display = self.logs.display();
        let first = self.logs.first_shown(&display, height);
        let scroll_to = |logs: &mut LogView, position: usize| {
            let max_first = display.len().saturating_sub(height);
            if position >= max_first {
                logs.follow = true;
            } else {
                logs.follow = false;
                logs.top = display.get(position).copied().unwrap_or(0);
            }
        };
        match action {
            Action::Up => {
                // Scrolling up pauses following.
                let position = first.saturating_sub(1);
                self.logs.follow = false;
                self.logs.top = display.get(position).copied().unwrap_or(0);
            }
            Action::PageUp => {
                let position = first.saturating_sub(height / 2);
                self.logs.follow = false;
                self.logs.top = display.get(position).copied().unwrap_or(0);
            }
            Action::Down => scroll_to(&mut self.logs, first + 1),
            Action::PageDown => scroll_to(&mut self.logs, first + height / 2),
            Action::Top => {
                self.logs.follow = false;
                self.logs.top = display.first().copied().unwrap_or(0);
            }
            Action::Bottom => self.logs.follow = true,
            Action::Follow => self.logs.follow = !self.logs.follow || display.len() <= height,
            Action::Pause => {
                if self.logs.follow {
                    self.logs.follow = false;
                    self.logs.top = display.get(first).copied().unwrap_or(0);
                } else {
                    self.logs.follow = true;
                }
            }
            Action::Wrap => self.logs.wrap = !self.logs.wrap,
            Action::Filter => {
                self.mode = Mode::Search {
                    input: String::new(),
                }
            }
            Action::LogFilter => {
                self.mode = Mode::LogFilter {
                    input: self.logs.filter.clone().unwrap_or_default(),
                }
            }
            Action::NextMatch => self.find_match(true),
            Action::PrevMatch => self.find_match(false),
            Action::Start | Action::Enable | Action::Disable | Action::Open => {}
            _ => return None,
        }
        Some(Vec::new())
    }

    /// `n`/`N`: the next/previous line containing the search pattern, placed a third of the
    /// way down the screen so the lines around it stay visible.
    pub(crate) fn find_match(&mut self, forward: bool) {
        let Some(pattern) = self.logs.search.clone().filter(|p| !p.is_empty()) else {
            self.info("no search: type / and a pattern");
            return;
        };
        let pattern = pattern.to_lowercase();
        let display = self.logs.display();
        let height = self.log_height();
        let from = match self.logs.current_match {
            Some(line) => display.partition_point(|abs| *abs < line),
            None if forward => self.logs.first_shown(&display, height),
            None => self.logs.first_shown(&display, height) + height,
        };
        let is_match = |abs: &u64| {
            self.logs
                .buf
                .line(*abs)
                .is_some_and(|l| crate::logbuf::contains_ci(&l, &pattern))
        };
        let found = if forward {
            let start = if self.logs.current_match.is_some() {
                from + 1
            } else {
                from
            };
            display.iter().skip(start).find(|a| is_match(a)).copied()
        } else {
            display
                .iter()
                .take(from)
                .rev()
                .find(|a| is_match(a))
                .copied()
        };
        match found {
            Some(line) => {
                self.logs.current_match = Some(line);
                self.logs.follow = false;
                let position = display.partition_point(|abs| *abs < line);
                let context = height / 3;
                self.logs.top = display
                    .get(position.saturating_sub(context))
                    .copied()
                    .unwrap_or(line);
                self.status = None;
            }
            None => self.info(format!(
                "pattern not found {}: {pattern}",
                if forward { "below" } else { "above" }
            )),
        }
    }
}

pub(crate) fn render_logs(app: &App, frame: &mut Frame, area: Rect) {
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
            Some(("no output: nothing was printed".into(), Color::Gray))
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
pub(crate) fn styled_line(
    text: String,
    search: Option<&str>,
    current: bool,
    theme: &Theme,
) -> Line<'static> {
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
