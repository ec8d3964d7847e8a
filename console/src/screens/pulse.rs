//! The server's pulse (`:pulse`): its health checks, runs by state and the queue's depth now,
//! and over the last 15 minutes runs and failures per minute and the event rate as sparklines —
//! read every 2 seconds from `/api/health` and `/metrics`.

use crate::model::{App, PULSE_WINDOW_MS, PulseSample};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline};

impl App {
    pub(crate) fn on_pulse(&mut self, result: Result<PulseSample, String>) {
        match result {
            Ok(sample) => {
                self.pulse.error = None;
                self.pulse.samples.push_back((self.now_ms, sample));
                let oldest = self.now_ms.saturating_sub(PULSE_WINDOW_MS);
                while self.pulse.samples.front().is_some_and(|(t, _)| *t < oldest) {
                    self.pulse.samples.pop_front();
                }
            }
            Err(e) => self.pulse.error = Some(e),
        }
    }

    /// Per-minute increases of a counter over the window, oldest minute first (15 buckets); a
    /// counter that went down (a server restart) counts from zero.
    pub fn pulse_rate(&self, counter: impl Fn(&PulseSample) -> u64) -> Vec<u64> {
        let minutes = (PULSE_WINDOW_MS / 60_000) as usize;
        let mut buckets = vec![0u64; minutes];
        let samples: Vec<&(u64, PulseSample)> = self.pulse.samples.iter().collect();
        for pair in samples.windows(2) {
            let ((_, a), (t, b)) = (pair[0], pair[1]);
            let (before, after) = (counter(a), counter(b));
            let delta = if after >= before {
                after - before
            } else {
                after
            };
            // The minute the reading closes: 0 = the current minute, the last bucket.
            let minutes_ago = (self.now_ms.saturating_sub(*t) / 60_000) as usize;
            if let Some(index) = (minutes - 1).checked_sub(minutes_ago) {
                buckets[index] += delta;
            }
        }
        buckets
    }
}

pub(crate) fn render_pulse(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let Some((_, now)) = app.pulse.samples.back() else {
        let text = match &app.pulse.error {
            Some(e) => format!("cannot read the server's pulse: {e}"),
            None => "reading the server's pulse…".to_string(),
        };
        frame.render_widget(
            Paragraph::new(text).block(Block::new().borders(Borders::TOP)),
            area,
        );
        return;
    };
    let [head, runs, fails, events] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
    ])
    .areas(area);
    let ok = now.status == "ok";
    let mut checks = vec![Span::styled(
        format!("health {} ", now.status),
        Style::new()
            .fg(if ok { theme.successful } else { theme.failed })
            .add_modifier(Modifier::BOLD),
    )];
    for (name, value) in &now.checks {
        checks.push(Span::raw(format!("· {name} {value} ")));
    }
    let mut lines = vec![
        Line::from(checks),
        Line::from(format!(
            "runs now: {} running · {} queued · completed since the server started: {} ({} failed) · {} events",
            now.running,
            now.pending,
            now.completed_total(),
            now.completed_with("failed"),
            now.events
        )),
    ];
    if let Some(e) = &app.pulse.error {
        lines.push(Line::from(Span::styled(
            format!("the last reading failed: {e}"),
            Style::new().fg(theme.error),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::new().borders(Borders::TOP)),
        head,
    );
    let spark = |title: String, data: Vec<u64>, colour: Color, area: Rect, frame: &mut Frame| {
        frame.render_widget(
            Sparkline::default()
                .block(Block::new().borders(Borders::TOP).title(title))
                .data(&data)
                .style(Style::new().fg(colour)),
            area,
        );
    };
    let per_min = |v: &[u64]| v.last().copied().unwrap_or(0);
    let completed = app.pulse_rate(PulseSample::completed_total);
    let failed = app.pulse_rate(|s| s.completed_with("failed"));
    let evs = app.pulse_rate(|s| s.events);
    spark(
        format!(
            " runs completed per minute, last 15 min · now {}/min ",
            per_min(&completed)
        ),
        completed,
        theme.successful,
        runs,
        frame,
    );
    spark(
        format!(" failures per minute · now {}/min ", per_min(&failed)),
        failed,
        theme.failed,
        fails,
        frame,
    );
    spark(
        format!(" events per minute · now {}/min ", per_min(&evs)),
        evs,
        theme.accent,
        events,
        frame,
    );
}
