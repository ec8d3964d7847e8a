//! The console's state and its one transition function (STYLE rule 14): `update(msg)` changes
//! state and returns the I/O to perform as [`Effect`]s; it never does I/O itself and reads no
//! clock (time arrives as [`Msg::Tick`]).

use crate::config::{Action, ConsoleConfig, Key};
use crate::dag::{Layout, TREE_BELOW_WIDTH, tree};
use crate::logbuf::LogBuf;
use gofer_core::api::{Event, EventKind, Metadata, Namespace, Run, TaskExecution};
use gofer_core::enums::{PipelineState, RunState, TaskExecutionState};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// From this terminal width the run view shows the details panel beside the graph (below it
/// otherwise).
pub const SIDE_PANEL_FROM: u16 = 140;
/// How many events the events view keeps.
pub const EVENTS_KEPT: usize = 2_000;
/// While the event stream is down, the visible view is refreshed this often (SPEC §16).
pub const POLL_EVERY_MS: u64 = 2_000;

/// Something that is fetched: not yet, fetched, or failed with a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    Loading,
    Ready(T),
    Failed(String),
}

impl<T> Load<T> {
    pub fn ready(&self) -> Option<&T> {
        match self {
            Load::Ready(t) => Some(t),
            _ => None,
        }
    }
}

/// A row of the pipelines view.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineRow {
    pub metadata: Metadata,
    /// The live config version, if one is live.
    pub live_version: Option<u64>,
    pub last_run: Option<Run>,
    /// Its triggers (extension subscriptions), with how their last firing went.
    pub subscriptions: Vec<gofer_core::api::Subscription>,
}

/// A run with its task executions.
#[derive(Debug, Clone, PartialEq)]
pub struct RunData {
    pub run: Run,
    pub tasks: Vec<TaskExecution>,
}

/// The views of SPEC §16.1 that this console has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Namespaces,
    Pipelines,
    Runs {
        pipeline: String,
    },
    Run {
        pipeline: String,
        run_id: u64,
    },
    Logs {
        pipeline: String,
        run_id: u64,
        task: String,
    },
    Events,
}

/// A screen on the navigation stack, with its own selection and `/` filter (restored on `esc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub screen: Screen,
    pub selected: usize,
    pub filter: String,
}

/// What the bottom line is being used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// `:` typed; `input` excludes the colon.
    Command {
        input: String,
    },
    /// `/` on a list: the filter of the top frame, edited live.
    Filter,
    /// `/` in logs.
    Search {
        input: String,
    },
    /// `&` in logs.
    LogFilter {
        input: String,
    },
    /// A `y/n` question before a mutating action.
    Confirm(Mutation),
    /// `s`: variables for a new run of `pipeline`.
    StartPrompt {
        pipeline: String,
        input: String,
    },
}

/// A mutating action (hidden and refused in read-only mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    CancelRun {
        pipeline: String,
        run_id: u64,
    },
    CancelTask {
        pipeline: String,
        run_id: u64,
        task: String,
    },
    StartRun {
        pipeline: String,
        variables: Vec<(String, String)>,
    },
    SetPipelineState {
        pipeline: String,
        enable: bool,
    },
    Deploy {
        pipeline: String,
        version: u64,
    },
}

impl Mutation {
    /// The question asked before it runs.
    pub fn question(&self) -> String {
        match self {
            Mutation::CancelRun { pipeline, run_id } => {
                format!("cancel run {run_id} of pipeline '{pipeline}'? (y/n)")
            }
            Mutation::CancelTask {
                pipeline,
                run_id,
                task,
            } => {
                format!("cancel task '{task}' of run {run_id} of '{pipeline}'? (y/n)")
            }
            Mutation::StartRun { pipeline, .. } => format!("start a run of '{pipeline}'? (y/n)"),
            Mutation::SetPipelineState { pipeline, enable } => format!(
                "{} pipeline '{pipeline}'? (y/n)",
                if *enable { "enable" } else { "disable" }
            ),
            Mutation::Deploy { pipeline, version } => {
                format!("deploy version {version} of '{pipeline}'? (y/n)")
            }
        }
    }

    /// The equivalent `gofer …` command, shown after the action (issue 6 item 6).
    pub fn cli(&self, namespace: &str) -> String {
        let ns = if namespace == "default" {
            String::new()
        } else {
            format!(" --namespace {namespace}")
        };
        match self {
            Mutation::CancelRun { pipeline, run_id } => {
                format!("gofer{ns} run cancel {pipeline} {run_id}")
            }
            Mutation::CancelTask {
                pipeline,
                run_id,
                task,
            } => {
                format!("gofer{ns} task cancel {pipeline} {run_id} {task}")
            }
            Mutation::StartRun {
                pipeline,
                variables,
            } => {
                let mut cli = format!("gofer{ns} run start {pipeline}");
                for (k, v) in variables {
                    cli.push_str(&format!(" -v {}", shell_word(&format!("{k}={v}"))));
                }
                cli
            }
            Mutation::SetPipelineState { pipeline, enable } => format!(
                "gofer{ns} pipeline {} {pipeline}",
                if *enable { "enable" } else { "disable" }
            ),
            Mutation::Deploy { pipeline, version } => {
                format!("gofer{ns} pipeline config deploy {pipeline} {version}")
            }
        }
    }

    /// What the read-only refusal names.
    fn verb(&self) -> &'static str {
        match self {
            Mutation::CancelRun { .. } | Mutation::CancelTask { .. } => "cancelling",
            Mutation::StartRun { .. } => "starting runs",
            Mutation::SetPipelineState { .. } => "enabling and disabling pipelines",
            Mutation::Deploy { .. } => "deploying",
        }
    }
}

fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,@".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The event stream's health, shown in the header (issue 6 item 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    /// Down; the I/O layer retries after `retry_in_ms` (attempt `attempt`).
    Reconnecting {
        attempt: u32,
        retry_in_ms: u64,
        error: String,
    },
}

/// The log view's source state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogState {
    /// Waiting for the task execution to be read.
    Loading,
    /// The task has not started: the view starts following when it does.
    NotStarted,
    /// The task completed without ever starting a container (why, from its status reason).
    NeverStarted(String),
    Streaming,
    Ended,
    /// Removed by retention or by the API (SPEC §7.4).
    Expired,
    Failed(String),
}

/// The log view (issue 6 item 3).
#[derive(Debug, Clone)]
pub struct LogView {
    pub buf: LogBuf,
    pub state: LogState,
    pub follow: bool,
    /// Absolute number of the first line shown while not following.
    pub top: u64,
    pub wrap: bool,
    pub search: Option<String>,
    /// The line of the current search match.
    pub current_match: Option<u64>,
    pub filter: Option<String>,
    /// Increments with every new log stream, so chunks of a stream that was replaced are dropped.
    pub generation: u64,
}

impl LogView {
    fn new(capacity: usize) -> LogView {
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

/// The events view: newest last.
#[derive(Debug, Clone, Default)]
pub struct EventsView {
    pub events: Vec<Event>,
    pub loaded: bool,
}

/// The bottom status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
    /// When it was shown (ms): it fades after [`STATUS_FADE_MS`], or at the next key press.
    pub shown_at: u64,
}

/// How long a status-line message stays.
pub const STATUS_FADE_MS: u64 = 5_000;

/// Input to [`App::update`]: a key, time, or the result of some I/O.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    /// Wall-clock time in ms (sent every second by the I/O layer).
    Tick(u64),
    Namespaces(Result<Vec<Namespace>, String>),
    Pipelines {
        namespace: String,
        result: Result<Vec<PipelineRow>, String>,
    },
    Runs {
        namespace: String,
        pipeline: String,
        result: Result<Vec<Run>, String>,
    },
    Run {
        namespace: String,
        pipeline: String,
        run_id: u64,
        result: Result<RunData, String>,
    },
    /// The task execution behind the log view was read (to know whether logs exist).
    LogTask {
        generation: u64,
        result: Result<TaskExecution, String>,
    },
    LogChunk {
        generation: u64,
        bytes: bytes::Bytes,
    },
    LogEnd {
        generation: u64,
        result: Result<(), String>,
    },
    EventHistory(Result<Vec<Event>, String>),
    Event(Event),
    Connection(Connection),
    /// A mutation finished: the status line text (`Ok`) or the error.
    Done {
        mutation: Mutation,
        result: Result<String, String>,
    },
    /// `:save` finished.
    Saved(Result<String, String>),
}

/// I/O for the runtime to perform; results come back as [`Msg`]s.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadNamespaces,
    LoadPipelines {
        namespace: String,
    },
    LoadRuns {
        namespace: String,
        pipeline: String,
    },
    LoadRun {
        namespace: String,
        pipeline: String,
        run_id: u64,
    },
    LoadEventHistory,
    /// Read the task execution, then follow its log (stopping any other log stream).
    OpenLogs {
        namespace: String,
        pipeline: String,
        run_id: u64,
        task: String,
        generation: u64,
    },
    /// Start following the log of a task that has just started.
    FollowLogs {
        namespace: String,
        pipeline: String,
        run_id: u64,
        task: String,
        generation: u64,
    },
    StopLogs,
    Mutate {
        namespace: String,
        mutation: Mutation,
    },
    SaveLogs {
        path: String,
        text: String,
    },
}

/// Options that do not change while the console runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub read_only: bool,
    pub log_capacity: usize,
    pub config: ConsoleConfig,
}

/// Commands of `:` mode, for completion (SPEC §16.2).
pub const COMMANDS: [&str; 13] = [
    "namespaces",
    "ns",
    "pipelines",
    "runs",
    "run",
    "events",
    "start",
    "cancel",
    "deploy",
    "save",
    "refresh",
    "q",
    "quit",
];

/// The whole console state.
#[derive(Debug, Clone)]
pub struct App {
    pub settings: Settings,
    pub namespace: String,
    pub stack: Vec<Frame>,
    pub mode: Mode,
    pub help: bool,
    pub timeline: bool,
    pub status: Option<Status>,
    pub connection: Connection,
    /// Live updates paused (`space`): events are kept but views are not refreshed.
    pub paused: bool,
    pub now_ms: u64,
    /// Terminal size.
    pub size: (u16, u16),
    pub namespaces: Load<Vec<Namespace>>,
    pub pipelines: Load<Vec<PipelineRow>>,
    pub runs: Load<Vec<Run>>,
    pub run: Load<RunData>,
    /// Selected task of the run view.
    pub selected_task: Option<String>,
    pub logs: LogView,
    pub events: EventsView,
    /// Data that changed while not on screen: reloaded when its screen is shown again.
    stale: bool,
    /// Loads asked for and not answered yet, and loads asked for again meanwhile: a burst of
    /// events costs one request in flight plus one more, not one request per event.
    in_flight: Vec<Effect>,
    again: Vec<Effect>,
    last_poll_ms: u64,
    pub quit: bool,
}

impl App {
    /// A console for `namespace` showing its pipelines; the runtime performs
    /// [`App::initial_effects`].
    pub fn new(settings: Settings, namespace: String, now_ms: u64, size: (u16, u16)) -> App {
        let capacity = settings.log_capacity;
        App {
            settings,
            namespace,
            stack: vec![Frame {
                screen: Screen::Pipelines,
                selected: 0,
                filter: String::new(),
            }],
            mode: Mode::Normal,
            help: false,
            timeline: false,
            status: None,
            connection: Connection::Connecting,
            paused: false,
            now_ms,
            size,
            namespaces: Load::Loading,
            pipelines: Load::Loading,
            runs: Load::Loading,
            run: Load::Loading,
            selected_task: None,
            logs: LogView::new(capacity),
            events: EventsView::default(),
            stale: false,
            in_flight: Vec::new(),
            again: Vec::new(),
            last_poll_ms: now_ms,
            quit: false,
        }
    }

    pub fn initial_effects(&self) -> Vec<Effect> {
        vec![
            Effect::LoadPipelines {
                namespace: self.namespace.clone(),
            },
            Effect::LoadEventHistory,
        ]
    }

    pub fn frame(&self) -> &Frame {
        self.stack.last().expect("the stack is never empty")
    }

    fn frame_mut(&mut self) -> &mut Frame {
        self.stack.last_mut().expect("the stack is never empty")
    }

    pub fn screen(&self) -> &Screen {
        &self.frame().screen
    }

    fn info(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: false,
            shown_at: self.now_ms,
        });
    }

    fn error(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: true,
            shown_at: self.now_ms,
        });
    }

    // ----- lists ---------------------------------------------------------------------------

    fn matches(filter: &str, text: &str) -> bool {
        filter.is_empty() || text.to_lowercase().contains(&filter.to_lowercase())
    }

    pub fn visible_namespaces(&self) -> Vec<&Namespace> {
        let filter = &self.frame().filter;
        self.namespaces.ready().map_or(Vec::new(), |all| {
            all.iter()
                .filter(|n| {
                    Self::matches(filter, &format!("{} {} {}", n.id, n.name, n.description))
                })
                .collect()
        })
    }

    pub fn visible_pipelines(&self) -> Vec<&PipelineRow> {
        let filter = &self.frame().filter;
        self.pipelines.ready().map_or(Vec::new(), |all| {
            all.iter()
                .filter(|p| {
                    Self::matches(
                        filter,
                        &format!("{} {}", p.metadata.pipeline_id, p.metadata.state),
                    )
                })
                .collect()
        })
    }

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

    /// One line describing an event (also what the events filter matches): its kind, then every
    /// id and value it carries (`ns=… pipeline=… run=… task=… status=…`, `role=…`,
    /// `extension=… subscription=…`), so every kind can be found by what it names.
    pub fn event_text(event: &Event) -> String {
        let mut text = event.kind.name().to_string();
        let value = serde_json::to_value(&event.kind).unwrap_or_default();
        let fields = value
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(|v| v.as_object());
        // Ids first, from the widest scope in; then the rest by name.
        const FIRST: [&str; 7] = [
            "namespace_id",
            "pipeline_id",
            "run_id",
            "task_execution_id",
            "extension_id",
            "subscription_id",
            "pipeline_subscription_id",
        ];
        let mut fields: Vec<(&String, &serde_json::Value)> = fields.into_iter().flatten().collect();
        fields.sort_by_key(|(key, _)| {
            (
                FIRST.iter().position(|f| f == key).unwrap_or(FIRST.len()),
                key.as_str(),
            )
        });
        for (key, value) in fields {
            let shown = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                // Results and other documents are too big for one line.
                _ => continue,
            };
            let name = match key.as_str() {
                "namespace_id" => "ns",
                "pipeline_id" => "pipeline",
                "task_execution_id" => "task",
                "pipeline_subscription_id" => "subscription",
                other => other.strip_suffix("_id").unwrap_or(other),
            };
            text.push_str(&format!(" {name}={shown}"));
        }
        text
    }

    pub fn visible_events(&self) -> Vec<&Event> {
        let filter = &self.frame().filter;
        self.events
            .events
            .iter()
            .filter(|e| Self::matches(filter, &Self::event_text(e)))
            .collect()
    }

    /// Number of rows of the current list (for moving the selection).
    fn list_len(&self) -> usize {
        match self.screen() {
            Screen::Namespaces => self.visible_namespaces().len(),
            Screen::Pipelines => self.visible_pipelines().len(),
            Screen::Runs { .. } => self.visible_runs().len(),
            Screen::Events => self.visible_events().len(),
            Screen::Run { .. } => self.task_order().len(),
            Screen::Logs { .. } => 0,
        }
    }

    /// Rows a page moves (half the list area, as vim's ctrl-d).
    fn page(&self) -> usize {
        usize::from(self.size.1.saturating_sub(6) / 2).max(1)
    }

    /// Height of the log text area (the view draws header, breadcrumbs, and status around it).
    pub fn log_height(&self) -> usize {
        usize::from(self.size.1.saturating_sub(5)).max(1)
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

    // ----- update --------------------------------------------------------------------------

    /// The only place state changes. Returns the I/O to perform.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let answered = match &msg {
            Msg::Pipelines { namespace, .. } => Some(Effect::LoadPipelines {
                namespace: namespace.clone(),
            }),
            Msg::Runs {
                namespace,
                pipeline,
                ..
            } => Some(Effect::LoadRuns {
                namespace: namespace.clone(),
                pipeline: pipeline.clone(),
            }),
            Msg::Run {
                namespace,
                pipeline,
                run_id,
                ..
            } => Some(Effect::LoadRun {
                namespace: namespace.clone(),
                pipeline: pipeline.clone(),
                run_id: *run_id,
            }),
            _ => None,
        };
        let mut effects = self.step(msg);
        if let Some(done) = answered {
            self.in_flight.retain(|e| *e != done);
            if let Some(i) = self.again.iter().position(|e| *e == done) {
                self.again.remove(i);
                effects.push(done);
            }
        }
        let mut out = Vec::with_capacity(effects.len());
        for effect in effects {
            let is_load = matches!(
                effect,
                Effect::LoadPipelines { .. } | Effect::LoadRuns { .. } | Effect::LoadRun { .. }
            );
            if !is_load {
                out.push(effect);
            } else if self.in_flight.contains(&effect) {
                if !self.again.contains(&effect) {
                    self.again.push(effect);
                }
            } else if !out.contains(&effect) {
                self.in_flight.push(effect.clone());
                out.push(effect);
            }
        }
        out
    }

    fn step(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Resize(w, h) => {
                self.size = (w, h);
                Vec::new()
            }
            Msg::Tick(now) => {
                self.now_ms = now;
                if self
                    .status
                    .as_ref()
                    .is_some_and(|s| now.saturating_sub(s.shown_at) >= STATUS_FADE_MS)
                {
                    self.status = None;
                }
                if self.connection != Connection::Live
                    && now.saturating_sub(self.last_poll_ms) >= POLL_EVERY_MS
                    && !self.paused
                {
                    // Polling fallback while the event stream is down (SPEC §16).
                    self.last_poll_ms = now;
                    return self.reload_screen();
                }
                Vec::new()
            }
            Msg::Namespaces(result) => {
                self.namespaces = load(result);
                self.clamp_selection();
                Vec::new()
            }
            Msg::Pipelines { namespace, result } => {
                if namespace == self.namespace {
                    self.pipelines = load(result);
                    self.clamp_selection();
                }
                Vec::new()
            }
            Msg::Runs {
                namespace,
                pipeline,
                result,
            } => {
                if namespace == self.namespace && self.current_pipeline() == Some(&pipeline) {
                    self.runs = load(result);
                    self.clamp_selection();
                }
                Vec::new()
            }
            Msg::Run {
                namespace,
                pipeline,
                run_id,
                result,
            } => self.on_run(namespace, pipeline, run_id, result),
            Msg::LogTask { generation, result } => self.on_log_task(generation, result),
            Msg::LogChunk { generation, bytes } => {
                if generation == self.logs.generation {
                    self.logs.buf.push(&bytes);
                    self.logs.state = LogState::Streaming;
                }
                Vec::new()
            }
            Msg::LogEnd { generation, result } => {
                if generation == self.logs.generation {
                    self.logs.buf.finish();
                    self.logs.state = match result {
                        Ok(()) => LogState::Ended,
                        Err(e) => LogState::Failed(e),
                    };
                }
                Vec::new()
            }
            Msg::EventHistory(result) => {
                match result {
                    Ok(mut events) => {
                        events.append(&mut self.events.events);
                        events.sort_by(|a, b| a.id.cmp(&b.id));
                        events.dedup_by(|a, b| a.id == b.id);
                        self.events.events = events;
                        self.trim_events();
                    }
                    Err(e) => self.error(format!("cannot read the event history: {e}")),
                }
                self.events.loaded = true;
                if *self.screen() == Screen::Events {
                    self.clamp_to_newest_event();
                }
                Vec::new()
            }
            Msg::Event(event) => self.on_event(event),
            Msg::Connection(connection) => {
                let was_down = self.connection != Connection::Live;
                self.connection = connection;
                if was_down && self.connection == Connection::Live {
                    // Whatever happened while down: read the visible view again.
                    return self.reload_screen();
                }
                Vec::new()
            }
            Msg::Done { mutation, result } => {
                match result {
                    Ok(text) => {
                        let cli = mutation.cli(&self.namespace);
                        self.info(format!("{text} · same as: {cli}"));
                    }
                    Err(e) => self.error(e),
                }
                self.reload_screen()
            }
            Msg::Saved(result) => {
                match result {
                    Ok(text) => self.info(text),
                    Err(text) => self.error(text),
                }
                Vec::new()
            }
        }
    }

    fn current_pipeline(&self) -> Option<&String> {
        match self.screen() {
            Screen::Runs { pipeline }
            | Screen::Run { pipeline, .. }
            | Screen::Logs { pipeline, .. } => Some(pipeline),
            _ => None,
        }
    }

    fn trim_events(&mut self) {
        let excess = self.events.events.len().saturating_sub(EVENTS_KEPT);
        self.events.events.drain(..excess);
    }

    fn clamp_selection(&mut self) {
        let len = self.list_len();
        let frame = self.frame_mut();
        frame.selected = frame.selected.min(len.saturating_sub(1));
    }

    fn on_run(
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

    fn on_log_task(
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

    fn on_event(&mut self, event: Event) -> Vec<Effect> {
        let kind = event.kind.clone();
        // On the events view, a selection on the newest row follows new events.
        let follow_newest = *self.screen() == Screen::Events
            && self.frame().selected + 1 >= self.visible_events().len();
        if self
            .events
            .events
            .last()
            .is_none_or(|last| last.id < event.id)
        {
            self.events.events.push(event);
        } else if !self.events.events.iter().any(|e| e.id == event.id) {
            self.events.events.push(event);
            self.events.events.sort_by(|a, b| a.id.cmp(&b.id));
        }
        self.trim_events();
        if follow_newest {
            self.clamp_to_newest_event();
        }
        if self.paused {
            self.stale = true;
            return Vec::new();
        }
        let (ns, pipeline) = kind.scope();
        let mut effects = Vec::new();
        if matches!(
            kind,
            EventKind::CreatedNamespace { .. } | EventKind::DeletedNamespace { .. }
        ) && *self.screen() == Screen::Namespaces
        {
            effects.push(Effect::LoadNamespaces);
        }
        if ns != Some(self.namespace.as_str()) {
            return effects;
        }
        let run = event_run(&kind);
        match self.screen().clone() {
            Screen::Pipelines => effects.push(Effect::LoadPipelines {
                namespace: self.namespace.clone(),
            }),
            Screen::Runs { pipeline: p } if pipeline == Some(p.as_str()) && run.is_some() => {
                effects.push(Effect::LoadRuns {
                    namespace: self.namespace.clone(),
                    pipeline: p,
                });
            }
            Screen::Run {
                pipeline: p,
                run_id,
            } if pipeline == Some(p.as_str()) && run == Some(run_id) => {
                effects.push(Effect::LoadRun {
                    namespace: self.namespace.clone(),
                    pipeline: p,
                    run_id,
                });
            }
            Screen::Logs {
                pipeline: p,
                run_id,
                task,
            } if pipeline == Some(p.as_str()) && run == Some(run_id) => {
                if let EventKind::StartedTaskExecution {
                    task_execution_id, ..
                } = &kind
                    && *task_execution_id == task
                    && self.logs.state == LogState::NotStarted
                {
                    self.logs.state = LogState::Streaming;
                    effects.push(Effect::FollowLogs {
                        namespace: self.namespace.clone(),
                        pipeline: p.clone(),
                        run_id,
                        task: task.clone(),
                        generation: self.logs.generation,
                    });
                }
                if let EventKind::CompletedTaskExecution {
                    task_execution_id, ..
                } = &kind
                    && *task_execution_id == task
                    && self.logs.state == LogState::NotStarted
                {
                    // Read the execution again for the reason it never started.
                    effects.push(Effect::OpenLogs {
                        namespace: self.namespace.clone(),
                        pipeline: p.clone(),
                        run_id,
                        task: task.clone(),
                        generation: self.logs.generation,
                    });
                }
                // The breadcrumb's run data (for the status of the task) stays fresh too.
                effects.push(Effect::LoadRun {
                    namespace: self.namespace.clone(),
                    pipeline: p,
                    run_id,
                });
            }
            _ => {}
        }
        // Screens below the top are read again when shown.
        self.stale = true;
        effects
    }

    /// The effects that read the data of the visible screen again.
    pub fn reload_screen(&mut self) -> Vec<Effect> {
        self.stale = false;
        let namespace = self.namespace.clone();
        match self.screen().clone() {
            Screen::Namespaces => vec![Effect::LoadNamespaces],
            Screen::Pipelines => vec![Effect::LoadPipelines { namespace }],
            Screen::Runs { pipeline } => vec![Effect::LoadRuns {
                namespace,
                pipeline,
            }],
            Screen::Run { pipeline, run_id }
            | Screen::Logs {
                pipeline, run_id, ..
            } => {
                vec![Effect::LoadRun {
                    namespace,
                    pipeline,
                    run_id,
                }]
            }
            Screen::Events => Vec::new(),
        }
    }

    /// Pushes `screen` and returns the effects that load it.
    fn push(&mut self, screen: Screen) -> Vec<Effect> {
        let leaving_logs = matches!(self.screen(), Screen::Logs { .. });
        match &screen {
            Screen::Runs { .. } => self.runs = Load::Loading,
            Screen::Run { .. } => {
                self.run = Load::Loading;
                self.selected_task = None;
            }
            Screen::Namespaces => self.namespaces = Load::Loading,
            _ => {}
        }
        self.stack.push(Frame {
            screen,
            selected: 0,
            filter: String::new(),
        });
        let mut effects = if leaving_logs {
            vec![Effect::StopLogs]
        } else {
            Vec::new()
        };
        effects.extend(self.enter_effects());
        effects
    }

    /// Effects when a screen becomes visible (pushed).
    fn enter_effects(&mut self) -> Vec<Effect> {
        if let Screen::Logs {
            pipeline,
            run_id,
            task,
        } = self.screen().clone()
        {
            self.logs = LogView::new(self.settings.log_capacity);
            self.logs.generation = self.next_generation();
            let mut effects = vec![Effect::OpenLogs {
                namespace: self.namespace.clone(),
                pipeline: pipeline.clone(),
                run_id,
                task,
                generation: self.logs.generation,
            }];
            if self.run.ready().is_none_or(|d| d.run.run_id != run_id) {
                self.run = Load::Loading;
                effects.push(Effect::LoadRun {
                    namespace: self.namespace.clone(),
                    pipeline,
                    run_id,
                });
            }
            return effects;
        }
        self.reload_screen()
    }

    fn next_generation(&self) -> u64 {
        self.logs.generation + 1
    }

    /// `esc`: pops the stack (never past the first screen).
    fn back(&mut self) -> Vec<Effect> {
        // A filtered view is first unfiltered (as its "esc clears it" hint says); the next
        // Esc leaves it.
        if !self.frame().filter.is_empty() {
            self.frame_mut().filter.clear();
            self.frame_mut().selected = 0;
            if matches!(self.screen(), Screen::Events) {
                self.clamp_to_newest_event();
            }
            return Vec::new();
        }
        if self.stack.len() == 1 {
            return Vec::new();
        }
        let left = self.stack.pop().expect("len > 1");
        let mut effects = Vec::new();
        if matches!(left.screen, Screen::Logs { .. }) {
            self.logs.generation += 1;
            effects.push(Effect::StopLogs);
        }
        if matches!(left.screen, Screen::Run { .. }) {
            self.timeline = false;
        }
        if self.stale || matches!(self.screen(), Screen::Run { .. } | Screen::Runs { .. }) {
            effects.extend(self.reload_screen());
        }
        effects
    }

    /// Replaces the whole stack (`:` commands jump).
    fn jump(&mut self, stack: Vec<Screen>) -> Vec<Effect> {
        let leaving_logs = matches!(self.screen(), Screen::Logs { .. });
        self.stack = vec![Frame {
            screen: stack[0].clone(),
            selected: 0,
            filter: String::new(),
        }];
        let mut effects = if leaving_logs {
            self.logs.generation += 1;
            vec![Effect::StopLogs]
        } else {
            Vec::new()
        };
        for screen in stack.into_iter().skip(1) {
            self.stack.push(Frame {
                screen,
                selected: 0,
                filter: String::new(),
            });
        }
        if let Screen::Run { .. } = self.screen() {
            self.run = Load::Loading;
            self.selected_task = None;
        }
        if let Screen::Runs { .. } = self.screen() {
            self.runs = Load::Loading;
        }
        if let Screen::Namespaces = self.screen() {
            self.namespaces = Load::Loading;
        }
        if let Screen::Pipelines = self.screen() {
            self.pipelines = Load::Loading;
        }
        effects.extend(self.enter_effects());
        effects
    }

    fn on_key(&mut self, event: KeyEvent) -> Vec<Effect> {
        if event.kind != ratatui::crossterm::event::KeyEventKind::Press {
            return Vec::new();
        }
        let key = Key::from_event(&event);
        let action = self.settings.config.keymap.action(&key);
        if action == Some(Action::ForceQuit) {
            self.quit = true;
            return Vec::new();
        }
        match self.mode.clone() {
            Mode::Normal => {
                // The last action's message makes way for this one's.
                self.status = None;
            }
            Mode::Confirm(mutation) => {
                self.mode = Mode::Normal;
                return match event.code {
                    KeyCode::Char('y') | KeyCode::Char('Y') => self.mutate(mutation),
                    _ => {
                        self.info("cancelled: nothing was changed");
                        Vec::new()
                    }
                };
            }
            Mode::Command { input } => return self.edit_command(event, input),
            Mode::Filter => return self.edit_filter(event),
            Mode::Search { input } => return self.edit_search(event, input, false),
            Mode::LogFilter { input } => return self.edit_search(event, input, true),
            Mode::StartPrompt { pipeline, input } => {
                return self.edit_start_prompt(event, pipeline, input);
            }
        }
        if self.help {
            // Any key closes help; `?` and `esc` do nothing else.
            self.help = false;
            if matches!(action, Some(Action::Help | Action::Back | Action::Quit)) {
                return Vec::new();
            }
        }
        let Some(action) = action else {
            return Vec::new();
        };
        self.on_action(action)
    }

    fn on_action(&mut self, action: Action) -> Vec<Effect> {
        let in_logs = matches!(self.screen(), Screen::Logs { .. });
        if in_logs && let Some(effects) = self.on_log_action(action) {
            return effects;
        }
        match action {
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::Left => self.move_across_columns(-1),
            Action::Right => self.move_across_columns(1),
            Action::PageUp => self.move_selection(-(self.page() as isize)),
            Action::PageDown => self.move_selection(self.page() as isize),
            Action::Top => {
                self.frame_mut().selected = 0;
                self.sync_task_selection();
                Vec::new()
            }
            Action::Bottom => {
                let len = self.list_len();
                self.frame_mut().selected = len.saturating_sub(1);
                self.sync_task_selection();
                Vec::new()
            }
            Action::Open => self.open(),
            Action::Logs => match self.screen() {
                Screen::Run { .. } => self.open(),
                _ => Vec::new(),
            },
            Action::Back => self.back(),
            Action::Quit => {
                if self.stack.len() > 1 {
                    self.back()
                } else {
                    self.quit = true;
                    Vec::new()
                }
            }
            Action::ForceQuit => {
                self.quit = true;
                Vec::new()
            }
            Action::Command => {
                self.mode = Mode::Command {
                    input: String::new(),
                };
                Vec::new()
            }
            Action::Filter => {
                if !matches!(self.screen(), Screen::Run { .. }) {
                    self.mode = Mode::Filter;
                }
                Vec::new()
            }
            Action::Help => {
                self.help = true;
                Vec::new()
            }
            Action::Pause | Action::Follow => {
                self.paused = !self.paused;
                if self.paused {
                    self.info("live updates paused (space resumes)");
                    Vec::new()
                } else {
                    self.info("live updates resumed");
                    self.reload_screen()
                }
            }
            Action::Timeline => {
                if matches!(self.screen(), Screen::Run { .. }) {
                    self.timeline = !self.timeline;
                }
                Vec::new()
            }
            Action::Refresh => {
                let mut effects = self.reload_screen();
                if *self.screen() == Screen::Events {
                    effects.push(Effect::LoadEventHistory);
                }
                effects
            }
            Action::Start => match self.selected_pipeline() {
                Some(pipeline) => self.request(Mutation::StartRun {
                    pipeline,
                    variables: Vec::new(),
                }),
                None => Vec::new(),
            },
            Action::Cancel => match self.cancel_target() {
                Some(mutation) => self.request(mutation),
                None => {
                    self.info("nothing to cancel here: select a run or a task");
                    Vec::new()
                }
            },
            Action::Enable | Action::Disable => match (self.screen(), self.selected_pipeline()) {
                (Screen::Pipelines, Some(pipeline)) => self.request(Mutation::SetPipelineState {
                    pipeline,
                    enable: action == Action::Enable,
                }),
                _ => Vec::new(),
            },
            Action::Tab => {
                if matches!(self.screen(), Screen::Run { .. }) {
                    self.timeline = !self.timeline;
                }
                Vec::new()
            }
            Action::Wrap | Action::LogFilter | Action::NextMatch | Action::PrevMatch => Vec::new(),
        }
    }

    /// Keys with a meaning of their own in the log view; `None` falls through.
    fn on_log_action(&mut self, action: Action) -> Option<Vec<Effect>> {
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
                // Scrolling up pauses following (issue 6 item 3).
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
    fn find_match(&mut self, forward: bool) {
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

    fn move_selection(&mut self, delta: isize) -> Vec<Effect> {
        let len = self.list_len();
        if len == 0 {
            return Vec::new();
        }
        let frame = self.frame_mut();
        let next = (frame.selected as isize + delta).clamp(0, len as isize - 1);
        frame.selected = next as usize;
        self.sync_task_selection();
        Vec::new()
    }

    /// In the run view's task graph (columns left to right): selects the task in the column
    /// `delta` away, on the nearest row. Elsewhere (and in the tree or timeline) it does nothing.
    fn move_across_columns(&mut self, delta: i32) -> Vec<Effect> {
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
    fn sync_task_selection(&mut self) {
        if matches!(self.screen(), Screen::Run { .. }) {
            let order = self.task_order();
            self.selected_task = order.get(self.frame().selected).cloned();
        }
    }

    /// Index of the selected row, for the view (the run view's comes from the task id).
    pub fn selected_index(&self) -> usize {
        if matches!(self.screen(), Screen::Run { .. })
            && let Some(id) = &self.selected_task
        {
            return self.task_order().iter().position(|t| t == id).unwrap_or(0);
        }
        self.frame().selected
    }

    fn selected_pipeline(&self) -> Option<String> {
        match self.screen() {
            Screen::Pipelines => self
                .visible_pipelines()
                .get(self.frame().selected)
                .map(|p| p.metadata.pipeline_id.clone()),
            Screen::Runs { pipeline } | Screen::Run { pipeline, .. } => Some(pipeline.clone()),
            _ => None,
        }
    }

    fn cancel_target(&self) -> Option<Mutation> {
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

    /// A mutating key or command: refused in read-only mode; starting asks for variables,
    /// everything else asks `y/n`.
    fn request(&mut self, mutation: Mutation) -> Vec<Effect> {
        if self.settings.read_only {
            self.error(format!(
                "read-only mode: {} is disabled (started with --read-only or console.read_only)",
                mutation.verb()
            ));
            return Vec::new();
        }
        match mutation {
            Mutation::StartRun {
                pipeline,
                variables,
            } if variables.is_empty() => {
                self.mode = Mode::StartPrompt {
                    pipeline,
                    input: String::new(),
                };
            }
            mutation => self.mode = Mode::Confirm(mutation),
        }
        Vec::new()
    }

    fn mutate(&mut self, mutation: Mutation) -> Vec<Effect> {
        if self.settings.read_only {
            // Never reached through the UI (requests are refused first); kept as a guard.
            self.error(format!("read-only mode: {} is disabled", mutation.verb()));
            return Vec::new();
        }
        self.info(format!("{} …", mutation.cli(&self.namespace)));
        vec![Effect::Mutate {
            namespace: self.namespace.clone(),
            mutation,
        }]
    }

    fn open(&mut self) -> Vec<Effect> {
        let selected = self.frame().selected;
        match self.screen().clone() {
            Screen::Namespaces => {
                let Some(ns) = self
                    .visible_namespaces()
                    .get(selected)
                    .map(|n| n.id.clone())
                else {
                    return Vec::new();
                };
                self.switch_namespace(ns)
            }
            Screen::Pipelines => match self.visible_pipelines().get(selected) {
                Some(p) => {
                    let pipeline = p.metadata.pipeline_id.clone();
                    self.push(Screen::Runs { pipeline })
                }
                None => Vec::new(),
            },
            Screen::Runs { pipeline } => match self.visible_runs().get(selected) {
                Some(r) => {
                    let run_id = r.run_id;
                    self.push(Screen::Run { pipeline, run_id })
                }
                None => Vec::new(),
            },
            Screen::Run { pipeline, run_id } => match self.selected_task.clone() {
                Some(task) => self.push(Screen::Logs {
                    pipeline,
                    run_id,
                    task,
                }),
                None => Vec::new(),
            },
            Screen::Events => {
                let Some(event) = self.visible_events().get(selected).map(|e| e.kind.clone())
                else {
                    return Vec::new();
                };
                let (ns, pipeline) = event.scope();
                let (Some(ns), Some(pipeline)) = (ns, pipeline) else {
                    return Vec::new();
                };
                let (ns, pipeline) = (ns.to_string(), pipeline.to_string());
                self.namespace = ns;
                let mut stack = vec![
                    Screen::Pipelines,
                    Screen::Runs {
                        pipeline: pipeline.clone(),
                    },
                ];
                if let Some(run_id) = event_run(&event) {
                    stack.push(Screen::Run { pipeline, run_id });
                }
                self.jump(stack)
            }
            Screen::Logs { .. } => Vec::new(),
        }
    }

    fn switch_namespace(&mut self, ns: String) -> Vec<Effect> {
        self.namespace = ns;
        self.pipelines = Load::Loading;
        self.info(format!("namespace '{}'", self.namespace));
        self.jump(vec![Screen::Pipelines])
    }

    // ----- line editing --------------------------------------------------------------------

    fn edit_command(&mut self, event: KeyEvent, mut input: String) -> Vec<Effect> {
        match event.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter => {
                self.mode = Mode::Normal;
                return self.run_command(input.trim());
            }
            KeyCode::Tab => {
                input = self.complete(&input);
                self.mode = Mode::Command { input };
            }
            KeyCode::Backspace => {
                if input.pop().is_none() {
                    self.mode = Mode::Normal;
                } else {
                    self.mode = Mode::Command { input };
                }
            }
            KeyCode::Char(c) if !event.modifiers.contains(KeyModifiers::CONTROL) => {
                input.push(c);
                self.mode = Mode::Command { input };
            }
            _ => {}
        }
        Vec::new()
    }

    /// Tab completion: the command name, then a pipeline id for `runs`/`run`, a namespace id for
    /// `ns`. Completes the longest common prefix of the candidates.
    pub fn complete(&self, input: &str) -> String {
        let words: Vec<&str> = input.split(' ').collect();
        let (done, partial, candidates): (String, &str, Vec<String>) = match words.as_slice() {
            [word] => (
                String::new(),
                word,
                COMMANDS.iter().map(|c| c.to_string()).collect(),
            ),
            [command, word] if matches!(*command, "runs" | "run") => (
                format!("{command} "),
                word,
                self.pipelines
                    .ready()
                    .map(|ps| ps.iter().map(|p| p.metadata.pipeline_id.clone()).collect())
                    .unwrap_or_default(),
            ),
            [command, word] if *command == "ns" => (
                format!("{command} "),
                word,
                self.namespaces
                    .ready()
                    .map(|ns| ns.iter().map(|n| n.id.clone()).collect())
                    .unwrap_or_default(),
            ),
            _ => return input.to_string(),
        };
        let matching: Vec<&String> = candidates
            .iter()
            .filter(|c| c.starts_with(partial))
            .collect();
        let Some(first) = matching.first() else {
            return input.to_string();
        };
        let mut prefix = first.to_string();
        for other in &matching[1..] {
            while !other.starts_with(&prefix) {
                prefix.pop();
            }
        }
        if matching.len() == 1 {
            prefix.push(' ');
        }
        format!("{done}{prefix}")
    }

    fn run_command(&mut self, line: &str) -> Vec<Effect> {
        let mut words = line.split_whitespace();
        let Some(command) = words.next() else {
            return Vec::new();
        };
        let args: Vec<&str> = words.collect();
        let usage = |app: &mut App, text: &str| {
            app.error(format!("usage: {text}"));
            Vec::new()
        };
        match (command, args.as_slice()) {
            ("q" | "quit", []) => {
                self.quit = true;
                Vec::new()
            }
            ("namespaces", []) => self.jump(vec![Screen::Namespaces]),
            ("ns", [id]) => self.switch_namespace(id.to_string()),
            ("ns", _) => usage(self, ":ns <namespace id>"),
            ("pipelines", []) => self.jump(vec![Screen::Pipelines]),
            ("runs", [pipeline]) => self.jump(vec![
                Screen::Pipelines,
                Screen::Runs {
                    pipeline: pipeline.to_string(),
                },
            ]),
            ("runs", []) => match self.current_pipeline().cloned() {
                Some(pipeline) => self.jump(vec![Screen::Pipelines, Screen::Runs { pipeline }]),
                None => usage(self, ":runs <pipeline>"),
            },
            ("run", [pipeline, id]) => match id.parse::<u64>() {
                Ok(run_id) => self.jump(vec![
                    Screen::Pipelines,
                    Screen::Runs {
                        pipeline: pipeline.to_string(),
                    },
                    Screen::Run {
                        pipeline: pipeline.to_string(),
                        run_id,
                    },
                ]),
                Err(_) => usage(self, ":run <pipeline> <run id> (the run id is a number)"),
            },
            ("run", _) => usage(self, ":run <pipeline> <run id>"),
            ("events", []) => {
                if *self.screen() != Screen::Events {
                    let effects = self.push(Screen::Events);
                    self.clamp_to_newest_event();
                    return effects;
                }
                Vec::new()
            }
            ("refresh", []) => self.on_action(Action::Refresh),
            ("start", vars) => {
                let Some(pipeline) = self.selected_pipeline() else {
                    return usage(self, ":start [K=V …] in the pipelines, runs or run view");
                };
                match parse_variables(&vars.join(" ")) {
                    Ok(variables) if variables.is_empty() => self.request(Mutation::StartRun {
                        pipeline,
                        variables,
                    }),
                    Ok(variables) => {
                        if self.settings.read_only {
                            return self.request(Mutation::StartRun {
                                pipeline,
                                variables,
                            });
                        }
                        self.mutate(Mutation::StartRun {
                            pipeline,
                            variables,
                        })
                    }
                    Err(e) => {
                        self.error(e);
                        Vec::new()
                    }
                }
            }
            ("cancel", []) => self.on_action(Action::Cancel),
            ("deploy", [version]) => {
                let Some(pipeline) = self.selected_pipeline() else {
                    return usage(self, ":deploy <version> in the pipelines, runs or run view");
                };
                match version.parse::<u64>() {
                    Ok(version) if version > 0 => {
                        self.request(Mutation::Deploy { pipeline, version })
                    }
                    _ => usage(self, ":deploy <version> (a config version, 1 or more)"),
                }
            }
            ("deploy", _) => usage(self, ":deploy <version>"),
            ("save", [path]) => {
                if !matches!(self.screen(), Screen::Logs { .. }) {
                    return usage(self, ":save <file> in the log view");
                }
                vec![Effect::SaveLogs {
                    path: path.to_string(),
                    text: self.logs.buf.text(),
                }]
            }
            ("save", _) => usage(self, ":save <file>"),
            (other, _) if COMMANDS.contains(&other) => {
                self.error(format!(":{other}: unexpected arguments; press ? for help"));
                Vec::new()
            }
            (other, _) => {
                self.error(format!(
                    "unknown command ':{other}' (commands: {}; tab completes)",
                    COMMANDS.join(", ")
                ));
                Vec::new()
            }
        }
    }

    fn clamp_to_newest_event(&mut self) {
        let len = self.visible_events().len();
        self.frame_mut().selected = len.saturating_sub(1);
    }

    fn edit_filter(&mut self, event: KeyEvent) -> Vec<Effect> {
        match event.code {
            KeyCode::Esc => {
                self.frame_mut().filter.clear();
                self.mode = Mode::Normal;
            }
            KeyCode::Enter => self.mode = Mode::Normal,
            KeyCode::Backspace => {
                self.frame_mut().filter.pop();
            }
            KeyCode::Char(c) if !event.modifiers.contains(KeyModifiers::CONTROL) => {
                self.frame_mut().filter.push(c);
            }
            KeyCode::Up | KeyCode::Down => {
                self.mode = Mode::Normal;
                return self.move_selection(if event.code == KeyCode::Up { -1 } else { 1 });
            }
            _ => {}
        }
        // Live as you type: the selection stays within the filtered list.
        let len = self.list_len();
        let frame = self.frame_mut();
        frame.selected = frame.selected.min(len.saturating_sub(1));
        self.sync_task_selection();
        Vec::new()
    }

    fn edit_search(&mut self, event: KeyEvent, mut input: String, filter: bool) -> Vec<Effect> {
        let set = |app: &mut App, input: String| {
            app.mode = if filter {
                Mode::LogFilter { input }
            } else {
                Mode::Search { input }
            }
        };
        match event.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter => {
                self.mode = Mode::Normal;
                if filter {
                    // An empty pattern clears the filter (as in `less`).
                    self.logs.filter = (!input.is_empty()).then_some(input);
                    self.logs.follow = true;
                    self.logs.current_match = None;
                } else if input.is_empty() {
                    self.logs.search = None;
                    self.logs.current_match = None;
                } else {
                    self.logs.search = Some(input);
                    self.logs.current_match = None;
                    self.find_match(false);
                }
            }
            KeyCode::Backspace => {
                input.pop();
                set(self, input);
            }
            KeyCode::Char(c) if !event.modifiers.contains(KeyModifiers::CONTROL) => {
                input.push(c);
                set(self, input);
            }
            _ => {}
        }
        Vec::new()
    }

    fn edit_start_prompt(
        &mut self,
        event: KeyEvent,
        pipeline: String,
        mut input: String,
    ) -> Vec<Effect> {
        match event.code {
            KeyCode::Esc => {
                self.mode = Mode::Normal;
                self.info("cancelled: no run was started");
            }
            KeyCode::Enter => {
                self.mode = Mode::Normal;
                match parse_variables(&input) {
                    Ok(variables) => {
                        return self.mutate(Mutation::StartRun {
                            pipeline,
                            variables,
                        });
                    }
                    Err(e) => {
                        self.error(e);
                        self.mode = Mode::StartPrompt { pipeline, input };
                    }
                }
            }
            KeyCode::Backspace => {
                input.pop();
                self.mode = Mode::StartPrompt { pipeline, input };
            }
            KeyCode::Char(c) if !event.modifiers.contains(KeyModifiers::CONTROL) => {
                input.push(c);
                self.mode = Mode::StartPrompt { pipeline, input };
            }
            _ => {}
        }
        Vec::new()
    }

    /// Whether the tree (not boxes) is drawn — used by the view.
    pub fn dag_layout(&self) -> Option<Layout> {
        self.run.ready().map(|d| Layout::new(&d.tasks))
    }
}

/// `K=V K2=V2`: run variables for `s` / `:start`. Keys must be non-empty.
pub fn parse_variables(input: &str) -> Result<Vec<(String, String)>, String> {
    input
        .split_whitespace()
        .map(|word| match word.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!(
                "variables: '{word}' is not KEY=VALUE (e.g. GREETING=hello)"
            )),
        })
        .collect()
}

fn load<T>(result: Result<T, String>) -> Load<T> {
    match result {
        Ok(t) => Load::Ready(t),
        Err(e) => Load::Failed(e),
    }
}

/// The run an event is about, if any.
pub fn event_run(kind: &EventKind) -> Option<u64> {
    match kind {
        EventKind::QueuedRun { run_id, .. }
        | EventKind::StartedRun { run_id, .. }
        | EventKind::CompletedRun { run_id, .. }
        | EventKind::StartedRunCancellation { run_id, .. }
        | EventKind::CreatedTaskExecution { run_id, .. }
        | EventKind::StartedTaskExecution { run_id, .. }
        | EventKind::CompletedTaskExecution { run_id, .. }
        | EventKind::StartedTaskExecutionCancellation { run_id, .. } => Some(*run_id),
        _ => None,
    }
}

/// Whether a pipeline row's state is `active` (for the view's colour).
pub fn is_active(state: PipelineState) -> bool {
    state == PipelineState::Active
}

/// Why a task that ended without running never started: its status reason, or its status.
pub fn never_started_reason(execution: &TaskExecution) -> String {
    match &execution.status_reason {
        Some(reason) if !reason.description.is_empty() => reason.description.clone(),
        Some(reason) => reason.reason.to_string(),
        None => execution.status.to_string(),
    }
}
