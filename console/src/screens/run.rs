//! The run screen: the task graph (or tree below a width), the timeline, the selected task's details,
//! moving between tasks, and what `c` cancels there.

use crate::dag::{Layout, TREE_BELOW_WIDTH, tree};
use crate::draw::{duration, placeholder, run_glyph, run_word, span_ms, task_glyph, task_word};
use crate::model::{App, Effect, RunData, SIDE_PANEL_FROM, Screen, load};
use crate::mutation::Mutation;
use crate::screens::dag::{render_dag, render_tree, truncate};
use gofer_core::api::{Run, TaskExecution};
use gofer_core::enums::{RunState, TaskExecutionState};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout as Split, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

/// Why a task that ended without running never started: its status reason, or its status.
pub fn never_started_reason(execution: &TaskExecution) -> String {
    match &execution.status_reason {
        Some(reason) if !reason.description.is_empty() => reason.description.clone(),
        Some(reason) => reason.reason.to_string(),
        None => execution.status.to_string(),
    }
}

impl App {
    pub(crate) fn on_run(
        &mut self,
        namespace: String,
        pipeline: String,
        run_id: u64,
        result: Result<RunData, String>,
    ) -> Vec<Effect> {
        let shown = matches!(self.screen(), Screen::Run { pipeline: p, run_id: r } | Screen::Logs { pipeline: p, run_id: r, .. } if *p == pipeline && *r == run_id);
        if namespace != self.namespace || !shown {
            return Vec::new();
        }
        self.run = load(result);
        if let Some(data) = self.run.ready() {
            let known = self
                .selected_task
                .as_ref()
                .is_some_and(|id| data.tasks.iter().any(|t| &t.task_id == id));
            if !known {
                self.selected_task = self.task_order().into_iter().next();
            }
        }
        Vec::new()
    }

    /// Whether the run view draws the tree: the graph does not fit a pane narrower than
    /// [`TREE_BELOW_WIDTH`] columns (wider panes scroll the boxes instead).
    pub fn run_uses_tree(&self) -> bool {
        let Some(data) = self.run.ready() else {
            return false;
        };
        let (graph_width, _) = Layout::new(&data.tasks).size();
        let pane = self.dag_width();
        pane < TREE_BELOW_WIDTH && graph_width > pane
    }

    /// Width of the DAG pane: from [`SIDE_PANEL_FROM`] columns the details panel takes 40.
    pub fn dag_width(&self) -> u16 {
        if self.size.0 >= SIDE_PANEL_FROM {
            self.size.0 - 40
        } else {
            self.size.0
        }
    }

    /// Task ids of the run view in selection order (the tree order when the tree is drawn).
    pub fn task_order(&self) -> Vec<String> {
        let Some(data) = self.run.ready() else {
            return Vec::new();
        };
        let layout = Layout::new(&data.tasks);
        if self.run_uses_tree() || self.timeline {
            tree(&data.tasks, &layout)
                .into_iter()
                .map(|l| l.id)
                .collect()
        } else {
            layout.order
        }
    }

    /// In the run view's task graph (columns left to right): selects the task in the column
    /// `delta` away, on the nearest row. Elsewhere (and in the tree or timeline) it does nothing.
    pub(crate) fn move_across_columns(&mut self, delta: i32) -> Vec<Effect> {
        if !matches!(self.screen(), Screen::Run { .. }) || self.run_uses_tree() || self.timeline {
            return Vec::new();
        }
        let Some(data) = self.run.ready() else {
            return Vec::new();
        };
        let layout = Layout::new(&data.tasks);
        let current = self
            .selected_task
            .clone()
            .or_else(|| layout.order.first().cloned());
        let Some((column, row)) = current.and_then(|id| layout.cells.get(&id).copied()) else {
            return Vec::new();
        };
        let target = i32::from(column) + delta;
        let nearest = layout
            .order
            .iter()
            .filter_map(|id| layout.cells.get(id).map(|cell| (id, *cell)))
            .filter(|(_, (c, _))| i32::from(*c) == target)
            .min_by_key(|(_, (_, r))| r.abs_diff(row));
        if let Some((id, _)) = nearest {
            let id = id.clone();
            let index = self.task_order().iter().position(|t| *t == id).unwrap_or(0);
            self.selected_task = Some(id);
            self.frame_mut().selected = index;
        }
        Vec::new()
    }

    /// In the run view the selection is a task id (it survives reloads that reorder tasks).
    pub(crate) fn sync_task_selection(&mut self) {
        if matches!(self.screen(), Screen::Run { .. }) {
            let order = self.task_order();
            self.selected_task = order.get(self.frame().selected).cloned();
        }
    }

    /// The finished run `R` retries (docs/runs.md#retrying-a-run).
    pub(crate) fn retry_target(&self) -> Option<Mutation> {
        let (pipeline, run) = match self.screen() {
            Screen::Runs { pipeline } => (
                pipeline.clone(),
                (*self.visible_runs().get(self.frame().selected)?).clone(),
            ),
            Screen::Run { pipeline, .. } => (pipeline.clone(), self.run.ready()?.run.clone()),
            _ => return None,
        };
        (run.state == RunState::Complete).then_some(Mutation::RetryRun {
            pipeline,
            run_id: run.run_id,
        })
    }

    pub(crate) fn cancel_target(&self) -> Option<Mutation> {
        match self.screen() {
            Screen::Runs { pipeline } => self
                .visible_runs()
                .get(self.frame().selected)
                .filter(|r| r.state != RunState::Complete)
                .map(|r| Mutation::CancelRun {
                    pipeline: pipeline.clone(),
                    run_id: r.run_id,
                }),
            Screen::Run { pipeline, run_id } => {
                let data = self.run.ready()?;
                let task = self.selected_task.as_ref()?;
                let execution = data.tasks.iter().find(|t| &t.task_id == task)?;
                if execution.state == TaskExecutionState::Complete {
                    // The task is done; cancel the run if it is still going.
                    (data.run.state != RunState::Complete).then(|| Mutation::CancelRun {
                        pipeline: pipeline.clone(),
                        run_id: *run_id,
                    })
                } else {
                    Some(Mutation::CancelTask {
                        pipeline: pipeline.clone(),
                        run_id: *run_id,
                        task: task.clone(),
                    })
                }
            }
            Screen::Logs {
                pipeline,
                run_id,
                task,
            } => Some(Mutation::CancelTask {
                pipeline: pipeline.clone(),
                run_id: *run_id,
                task: task.clone(),
            }),
            _ => None,
        }
    }

    /// Whether the tree (not boxes) is drawn — used by the view.
    pub fn dag_layout(&self) -> Option<Layout> {
        self.run.ready().map(|d| Layout::new(&d.tasks))
    }
}

pub(crate) fn render_run(app: &App, frame: &mut Frame, area: Rect) {
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
    // docs/runs.md#retrying-a-run
    if let Some(retry) = &data.run.retry {
        spans.push(Span::raw(match retry.reused_tasks.len() {
            0 => format!(" · retry of run {}", retry.run_id),
            n => format!(" · retry of run {} ({n} reused)", retry.run_id),
        }));
    }
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
    if let Some(logs) = &app.diagnosis {
        // `x`: the diagnosis takes the view's lower half.
        let [top, bottom] =
            Split::vertical([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(rest);
        let diagnosis = gofer_core::diagnosis::diagnose(&data.run, &data.tasks);
        let empty = std::collections::BTreeMap::new();
        let (logs, note) = match logs {
            crate::model::Load::Ready(l) => (l, None),
            crate::model::Load::Loading => (&empty, Some("reading the failed tasks' logs…")),
            crate::model::Load::Failed(_) => (&empty, Some("the logs could not be read")),
        };
        let mut lines: Vec<Line> = gofer_core::diagnosis::lines(&diagnosis, logs)
            .into_iter()
            .map(|l| {
                let style = if l.starts_with('✖') {
                    Style::new().fg(theme.failed)
                } else if l.trim_start().starts_with('⏭') {
                    Style::new().fg(theme.skipped)
                } else {
                    Style::new()
                };
                Line::from(Span::styled(l, style))
            })
            .collect();
        if let Some(note) = note {
            lines.push(Line::from(Span::styled(note, Style::new().fg(Color::Gray))));
        }
        let layout = Layout::new(&data.tasks);
        let selected = app.selected_task.as_deref();
        if app.run_uses_tree() {
            render_tree(app, &data.tasks, &layout, selected, frame.buffer_mut(), top);
        } else {
            render_dag(app, &data.tasks, &layout, selected, frame.buffer_mut(), top);
        }
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(
                    ratatui::widgets::Block::new()
                        .borders(ratatui::widgets::Borders::TOP)
                        .title(" why it failed · x closes · same as: gofer run debug "),
                ),
            bottom,
        );
        return;
    }
    let (pane, side) = if app.size.0 >= crate::model::SIDE_PANEL_FROM {
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

/// The timeline (Gantt) toggle: when each task ran, relative to the run.
pub(crate) fn render_timeline(
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

/// The side panel: the selected execution's details (docs/cli.md#console).
pub(crate) fn render_details(app: &App, task: &TaskExecution, frame: &mut Frame, area: Rect) {
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
    // On the first line of facts: the panel may show only a few.
    if !task.task.resources.is_empty() {
        facts[0].push_str(&format!(" · limits {}", task.task.resources.describe()));
    }
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
