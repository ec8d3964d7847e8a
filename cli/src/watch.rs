//! `run watch` and `run start --watch` (docs/cli.md): follow a run through the event stream until
//! `completed_run`, with a task table on stderr and each task's log lines on stdout.
//!
//! * Events come from `GET /api/events` filtered to the pipeline, starting `after` the run's
//!   `queued_run` event, so nothing between the start of the run and the subscription is missed.
//! * Each task's log is followed (plain transport, `follow=true`) from its first
//!   `started_task_execution`; lines go to stdout as `<task> | <line>`. The watch ends once
//!   `completed_run` arrived and every log stream has ended.
//! * When stderr is a terminal the table is redrawn in place; otherwise each change is one
//!   plain status line (progress on stderr, stdout stays the logs).
//! * `--output json`: one JSON event per line on stdout, no logs, no table.

use crate::commands::Ctx;
use crate::failure::Failure;
use crate::output::{Table, json_line};
use crate::time::duration;
use futures_util::StreamExt;
use gofer_core::api::{Event, EventKind, Run};
use gofer_core::enums::{RunStatus, TaskExecutionState, TaskExecutionStatus};
use gofer_sdk::{Client, EventFilter};
use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often the table is redrawn at most, and at least while something runs.
const REDRAW_EVERY: Duration = Duration::from_millis(250);

/// What the log followers report.
enum LogMessage {
    Line { task: String, text: String },
    Done { task: String, error: Option<String> },
}

/// Follows `run` until it completes; `Ok` when it ended `successful`, else a [`Failure`] with
/// exit code 8.
pub async fn watch(ctx: &Ctx, run: &Run) -> anyhow::Result<()> {
    let (ns, p, run_id) = (&run.namespace_id, &run.pipeline_id, run.run_id);
    let filter = EventFilter {
        history: run.event_id.is_none(),
        after: run.event_id.clone(),
        namespace_id: Some(ns.clone()),
        pipeline_id: Some(p.clone()),
        ..EventFilter::default()
    };
    let mut events = ctx.client.events(&filter).await?;
    let json = ctx.json();
    let mut view = View::new(run_id, !json && std::io::stderr().is_terminal());
    let (logs_tx, mut logs) = mpsc::unbounded_channel();
    let mut following = HashSet::new();
    let mut open_logs = 0usize;
    let mut outcome: Option<RunStatus> = None;
    let mut tick = tokio::time::interval(REDRAW_EVERY);

    while outcome.is_none() || open_logs > 0 {
        tokio::select! {
            event = events.next(), if outcome.is_none() => {
                let event = match event {
                    Some(event) => event?,
                    None => {
                        return Err(Failure::unavailable(format!(
                            "the event stream ended before run {run_id} of pipeline '{p}' completed"
                        ))
                        .into());
                    }
                };
                if !concerns(&event, ns, p, run_id) {
                    continue;
                }
                if json {
                    crate::output::println(format_args!("{}", json_line(&event)));
                    std::io::stdout().flush()?;
                }
                if let EventKind::StartedTaskExecution { task_execution_id, .. } = &event.kind
                    && !json
                    && following.insert(task_execution_id.clone())
                {
                    open_logs += 1;
                    tokio::spawn(follow_log(
                        ctx.client.clone(),
                        run.clone(),
                        task_execution_id.clone(),
                        logs_tx.clone(),
                    ));
                }
                if let EventKind::CompletedRun { status, .. } = &event.kind {
                    outcome = Some(*status);
                }
                // Why a task did not succeed is in its execution, not in the event.
                let why = match &event.kind {
                    EventKind::CompletedTaskExecution { task_execution_id, status, .. }
                        if *status != TaskExecutionStatus::Successful && !json =>
                    {
                        ctx.client
                            .get_task_execution(ns, p, run_id, task_execution_id)
                            .await
                            .ok()
                            .map(|e| outcome_text(&e))
                    }
                    _ => None,
                };
                view.apply(&event, why);
            }
            Some(message) = logs.recv() => match message {
                LogMessage::Line { task, text } => view.log_line(&task, &text)?,
                LogMessage::Done { task, error } => {
                    open_logs -= 1;
                    if let Some(error) = error {
                        view.note(&format!("warning: cannot follow the log of task '{task}': {error}"));
                    }
                }
            },
            _ = tick.tick(), if view.tty => view.redraw(false),
        }
        view.redraw(false);
    }
    view.redraw(true);
    let status = outcome.expect("the loop ends only after completed_run");
    if !json {
        view.summarise_failures();
        eprintln!(
            "run {run_id} of pipeline '{p}' {status} after {}",
            duration(view.run_started, view.run_ended, gofer_core::now_millis())
        );
    }
    if status == RunStatus::Successful {
        Ok(())
    } else {
        Err(Failure::run_failed(format!("run {run_id} of pipeline '{p}' ended {status}")).into())
    }
}

/// Whether `event` is about run `run_id` of `ns`/`p`.
fn concerns(event: &Event, ns: &str, p: &str, run_id: u64) -> bool {
    use EventKind::*;
    let id = match &event.kind {
        QueuedRun { run_id, .. }
        | StartedRun { run_id, .. }
        | CompletedRun { run_id, .. }
        | StartedRunCancellation { run_id, .. }
        | CreatedTaskExecution { run_id, .. }
        | StartedTaskExecution { run_id, .. }
        | CompletedTaskExecution { run_id, .. }
        | StartedTaskExecutionCancellation { run_id, .. } => *run_id,
        _ => return false,
    };
    id == run_id && event.kind.scope() == (Some(ns), Some(p))
}

/// Streams one task's log into `out` line by line; a final partial line is sent at the end.
async fn follow_log(
    client: Client,
    run: Run,
    task: String,
    out: mpsc::UnboundedSender<LogMessage>,
) {
    let result: Result<(), gofer_sdk::Error> = async {
        let mut stream = client
            .task_logs(&run.namespace_id, &run.pipeline_id, run.run_id, &task, true)
            .await?;
        let mut lines = Lines::default();
        let send = |text: String| {
            let _ = out.send(LogMessage::Line {
                task: task.clone(),
                text,
            });
        };
        while let Some(chunk) = stream.next().await {
            lines.push(&chunk?).for_each(send);
        }
        lines.finish().into_iter().for_each(send);
        Ok(())
    }
    .await;
    let _ = out.send(LogMessage::Done {
        task,
        error: result.err().map(|e| e.to_string()),
    });
}

/// Splits a byte stream into lines (without `\n` or `\r\n`; invalid UTF-8 replaced).
#[derive(Debug, Default)]
struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// Adds `bytes`; returns the lines they complete.
    fn push(&mut self, bytes: &[u8]) -> impl Iterator<Item = String> + use<> {
        self.pending.extend_from_slice(bytes);
        let mut complete = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            complete.push(text(&line));
        }
        complete.into_iter()
    }

    /// The final partial line, if any.
    fn finish(self) -> Option<String> {
        (!self.pending.is_empty()).then(|| text(&self.pending))
    }
}

fn text(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

/// One task's row, built from events.
#[derive(Debug, Clone)]
struct TaskRow {
    id: String,
    state: TaskExecutionState,
    status: TaskExecutionStatus,
    attempt: u64,
    started: u64,
    ended: u64,
    cancelling: bool,
    /// How it ended when not successfully (`failed: exit code 3`).
    outcome: Option<String>,
    /// Its last log lines, shown again when it failed.
    last_lines: std::collections::VecDeque<String>,
}

/// Log lines of a failed task repeated in the summary at the end of a watch.
const LAST_LINES: usize = 10;

/// How a task execution ended, as a person would say it: `successful`, `failed: exit code 3`,
/// `failed: never started: obtain image 'x': …`, `skipped: parent 'a' finished 'failed' …`.
pub(crate) fn outcome_text(e: &gofer_core::api::TaskExecution) -> String {
    use gofer_core::enums::TaskExecutionStatusReasonKind as Why;
    let status = e.status;
    if status == TaskExecutionStatus::Successful {
        return status.to_string();
    }
    let description = e
        .status_reason
        .as_ref()
        .map(|r| r.description.clone())
        .unwrap_or_default();
    match (&e.status_reason, e.exit_code) {
        (Some(r), Some(code)) if r.reason == Why::AbnormalExit => {
            format!("{status}: exit code {code}")
        }
        (Some(_), _) if e.never_started() && status == TaskExecutionStatus::Failed => {
            format!("{status}: never started: {description}")
        }
        (Some(r), _) if description.is_empty() => format!("{status}: {}", r.reason),
        (Some(_), _) => format!("{status}: {description}"),
        (None, _) => status.to_string(),
    }
}

/// The task table and status lines on stderr, and the prefixed log lines on stdout.
struct View {
    run_id: u64,
    tty: bool,
    run_state: &'static str,
    run_started: u64,
    run_ended: u64,
    tasks: Vec<TaskRow>,
    /// How many lines of table are on screen (tty only).
    drawn: usize,
    dirty: bool,
    last_draw: Option<Instant>,
}

impl View {
    fn new(run_id: u64, tty: bool) -> View {
        View {
            run_id,
            tty,
            run_state: "pending",
            run_started: 0,
            run_ended: 0,
            tasks: Vec::new(),
            drawn: 0,
            dirty: true,
            last_draw: None,
        }
    }

    fn task(&mut self, id: &str) -> &mut TaskRow {
        if let Some(i) = self.tasks.iter().position(|t| t.id == id) {
            return &mut self.tasks[i];
        }
        self.tasks.push(TaskRow {
            id: id.to_string(),
            state: TaskExecutionState::Processing,
            status: TaskExecutionStatus::Unknown,
            attempt: 0,
            started: 0,
            ended: 0,
            cancelling: false,
            outcome: None,
            last_lines: std::collections::VecDeque::new(),
        });
        self.tasks.last_mut().expect("just pushed")
    }

    /// Updates the state from one event of this run and reports the change.
    fn apply(&mut self, event: &Event, why: Option<String>) {
        use EventKind::*;
        let at = event.emitted;
        let line = match &event.kind {
            StartedRun { .. } => {
                self.run_state = "running";
                self.run_started = at;
                format!("run {}: running", self.run_id)
            }
            StartedRunCancellation { .. } => {
                self.run_state = "cancelling";
                format!("run {}: cancelling", self.run_id)
            }
            CompletedRun { status, .. } => {
                self.run_state = "complete";
                self.run_ended = at;
                format!("run {}: complete, {status}", self.run_id)
            }
            CreatedTaskExecution {
                task_execution_id, ..
            } => {
                self.task(task_execution_id);
                format!("{task_execution_id}: created")
            }
            StartedTaskExecution {
                task_execution_id,
                attempt,
                ..
            } => {
                let row = self.task(task_execution_id);
                row.state = TaskExecutionState::Running;
                row.attempt = *attempt;
                if row.started == 0 {
                    row.started = at;
                }
                format!("{task_execution_id}: running (attempt {attempt})")
            }
            CompletedTaskExecution {
                task_execution_id,
                status,
                ..
            } => {
                let row = self.task(task_execution_id);
                row.state = TaskExecutionState::Complete;
                row.status = *status;
                row.ended = at;
                row.outcome = why;
                let took = duration(row.started, row.ended, at);
                let outcome = row.outcome.clone().unwrap_or_else(|| status.to_string());
                format!("{task_execution_id}: complete, {outcome} ({took})")
            }
            StartedTaskExecutionCancellation {
                task_execution_id, ..
            } => {
                self.task(task_execution_id).cancelling = true;
                format!("{task_execution_id}: cancelling")
            }
            _ => return,
        };
        self.dirty = true;
        if !self.tty {
            eprintln!("{line}");
        }
    }

    /// Width of the task column of log lines.
    fn width(&self) -> usize {
        self.tasks.iter().map(|t| t.id.len()).max().unwrap_or(0)
    }

    /// Prints one log line on stdout, moving the table out of the way on a terminal.
    fn log_line(&mut self, task: &str, text: &str) -> std::io::Result<()> {
        let row = self.task(task);
        if row.last_lines.len() == LAST_LINES {
            row.last_lines.pop_front();
        }
        row.last_lines.push_back(text.to_string());
        self.clear();
        let width = self.width().max(task.len());
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{task:<width$} | {text}")?;
        stdout.flush()?;
        self.dirty = true;
        Ok(())
    }

    /// After the run: each failed task with why, and its last log lines.
    fn summarise_failures(&mut self) {
        let failed: Vec<String> = self
            .tasks
            .iter()
            .filter(|t| t.status == TaskExecutionStatus::Failed)
            .map(|t| {
                let mut text = format!(
                    "task '{}' {}",
                    t.id,
                    t.outcome.clone().unwrap_or_else(|| t.status.to_string())
                );
                if t.last_lines.is_empty() {
                    text.push_str("\n  (no output)");
                } else {
                    text.push_str(&format!("; its last {} line(s):", t.last_lines.len()));
                    for line in &t.last_lines {
                        text.push_str(&format!("\n  {line}"));
                    }
                }
                text
            })
            .collect();
        for text in failed {
            self.note(&text);
        }
    }

    /// A message on stderr (above the table on a terminal).
    fn note(&mut self, message: &str) {
        self.clear();
        eprintln!("{message}");
        self.dirty = true;
    }

    /// Erases the table from the terminal (the cursor ends where it started).
    fn clear(&mut self) {
        if self.tty && self.drawn > 0 {
            eprint!("\x1b[{}A\r\x1b[J", self.drawn);
            self.drawn = 0;
        }
    }

    /// Redraws the table when it changed or time passed (durations grow); `force` at the end.
    fn redraw(&mut self, force: bool) {
        if !self.tty {
            return;
        }
        let due = self.last_draw.is_none_or(|at| at.elapsed() >= REDRAW_EVERY);
        let running = self.run_state != "complete";
        if !force && !(due && (self.dirty || running)) {
            return;
        }
        let now = gofer_core::now_millis();
        let mut table = Table::new(&["task", "state", "status", "attempt", "duration"]);
        for t in &self.tasks {
            let state = if t.cancelling && t.state != TaskExecutionState::Complete {
                "cancelling".to_string()
            } else {
                t.state.to_string()
            };
            table.row(vec![
                t.id.clone(),
                state,
                t.outcome.clone().unwrap_or_else(|| t.status.to_string()),
                if t.attempt == 0 {
                    "-".to_string()
                } else {
                    t.attempt.to_string()
                },
                duration(t.started, t.ended, now),
            ]);
        }
        let text = format!(
            "run {}: {} {}\n{}",
            self.run_id,
            self.run_state,
            duration(self.run_started, self.run_ended, now),
            table.render()
        );
        self.clear();
        eprint!("{text}");
        self.drawn = text.lines().count();
        self.dirty = false;
        self.last_draw = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks() {
        let mut lines = Lines::default();
        assert_eq!(lines.push(b"one\ntw").collect::<Vec<_>>(), ["one"]);
        assert_eq!(lines.push(b"o\r\n\nthr").collect::<Vec<_>>(), ["two", ""]);
        assert_eq!(lines.push(b"ee \xff").count(), 0);
        assert_eq!(lines.finish().as_deref(), Some("three \u{fffd}"));
        assert_eq!(Lines::default().finish(), None);
    }

    #[test]
    fn only_this_runs_events_concern_the_watch() {
        let event = |kind: EventKind| Event {
            id: "e".into(),
            kind,
            emitted: 1,
        };
        let started = |ns: &str, p: &str, run_id| {
            event(EventKind::StartedRun {
                namespace_id: ns.into(),
                pipeline_id: p.into(),
                run_id,
            })
        };
        assert!(concerns(
            &started("default", "simple", 3),
            "default",
            "simple",
            3
        ));
        assert!(!concerns(
            &started("default", "simple", 4),
            "default",
            "simple",
            3
        ));
        assert!(!concerns(
            &started("other", "simple", 3),
            "default",
            "simple",
            3
        ));
        assert!(!concerns(
            &started("default", "other", 3),
            "default",
            "simple",
            3
        ));
        let deployment = event(EventKind::StartedDeployment {
            namespace_id: "default".into(),
            pipeline_id: "simple".into(),
            start_version: 0,
            end_version: 1,
        });
        assert!(!concerns(&deployment, "default", "simple", 3));
    }

    #[test]
    fn the_view_follows_task_states() {
        let mut view = View::new(3, false);
        let task_event = |kind| Event {
            id: "e".into(),
            kind,
            emitted: 1_000,
        };
        let ids = |t: &str| ("default".to_string(), "simple".to_string(), t.to_string());
        let (namespace_id, pipeline_id, task_execution_id) = ids("build");
        view.apply(
            &task_event(EventKind::CreatedTaskExecution {
                namespace_id: namespace_id.clone(),
                pipeline_id: pipeline_id.clone(),
                run_id: 3,
                task_execution_id: task_execution_id.clone(),
            }),
            None,
        );
        view.apply(
            &task_event(EventKind::StartedTaskExecution {
                namespace_id: namespace_id.clone(),
                pipeline_id: pipeline_id.clone(),
                run_id: 3,
                task_execution_id: task_execution_id.clone(),
                attempt: 2,
            }),
            None,
        );
        let row = &view.tasks[0];
        assert_eq!(
            (row.state, row.attempt, row.started),
            (TaskExecutionState::Running, 2, 1_000)
        );
        view.apply(
            &task_event(EventKind::CompletedTaskExecution {
                namespace_id,
                pipeline_id,
                run_id: 3,
                task_execution_id,
                status: TaskExecutionStatus::Failed,
                result: None,
            }),
            Some("failed: exit code 3".into()),
        );
        let row = &view.tasks[0];
        assert_eq!(
            (row.state, row.status, row.outcome.as_deref()),
            (
                TaskExecutionState::Complete,
                TaskExecutionStatus::Failed,
                Some("failed: exit code 3")
            )
        );
        assert_eq!(view.tasks.len(), 1);
        assert_eq!(view.width(), 5);
    }
}
