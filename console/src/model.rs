//! The console's state: what it shows, the messages that change it and the effects it asks for.
//! Every screen's state is here, below the screens, so they can all see it; each screen's part
//! of the transition function and its drawing are in the screens modules.

use crate::config::ConsoleConfig;
use crate::logbuf::LogBuf;
use gofer_core::api::{
    Config, Deployment, Event, Extension, Metadata, Namespace, Run, Subscription, TaskExecution,
};
use ratatui::crossterm::event::KeyEvent;

use crate::mutation::Mutation;

/// From this terminal width the run view shows the details panel beside the graph (below it
/// otherwise).
pub const SIDE_PANEL_FROM: u16 = 140;
/// How many events the events view keeps.
pub const EVENTS_KEPT: usize = 2_000;
/// While the event stream is down, the visible view is refreshed this often (docs/cli.md#console).
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
    /// When each subscription (`extension/subscription`) fires next, as its extension's debug
    /// info says (schedule extensions only).
    pub next_fire: std::collections::BTreeMap<String, String>,
}

/// A run with its task executions.
#[derive(Debug, Clone, PartialEq)]
pub struct RunData {
    pub run: Run,
    pub tasks: Vec<TaskExecution>,
}

/// What the pipeline view shows (docs/cli.md#console): versions newest first, deployments newest
/// first, and the newest runs for the per-version figures.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineData {
    pub configs: Vec<Config>,
    pub deployments: Vec<Deployment>,
    pub runs: Vec<Run>,
}

impl PipelineData {
    /// The deployment in progress, if one is.
    pub fn running_deployment(&self) -> Option<&Deployment> {
        self.deployments
            .iter()
            .find(|d| d.state == gofer_core::enums::DeploymentState::Running)
    }

    /// The live version, if one is.
    pub fn live_version(&self) -> Option<u64> {
        self.configs
            .iter()
            .find(|c| c.state == gofer_core::enums::ConfigState::Live)
            .map(|c| c.version)
    }
}

/// The views of docs/cli.md#console that this console has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Namespaces,
    Pipelines,
    Runs {
        pipeline: String,
    },
    /// One pipeline: its deployment in progress, versions, deployments and version diffs.
    Pipeline {
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
    /// Every pending and running run the token may read, across namespaces (`:running`).
    Running,
    /// The server's health, run counts and rates (`:pulse`).
    Pulse,
    /// Every installed extension.
    Extensions,
    /// One extension, on one of its tabs.
    Extension {
        id: String,
    },
}

/// The tabs of the extension view (`tab` moves to the next).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtTab {
    Logs,
    Debug,
    Subscriptions,
    Settings,
}

impl ExtTab {
    pub const ALL: [ExtTab; 4] = [
        ExtTab::Logs,
        ExtTab::Debug,
        ExtTab::Subscriptions,
        ExtTab::Settings,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExtTab::Logs => "logs",
            ExtTab::Debug => "debug",
            ExtTab::Subscriptions => "subscriptions",
            ExtTab::Settings => "settings",
        }
    }

    pub fn next(self) -> ExtTab {
        let i = ExtTab::ALL.iter().position(|t| *t == self).unwrap_or(0);
        ExtTab::ALL[(i + 1) % ExtTab::ALL.len()]
    }
}

/// An extension's debug info as last fetched: the text (JSON pretty-printed) or the error, and
/// when (the console's clock).
#[derive(Debug, Clone, PartialEq)]
pub struct DebugInfo {
    pub result: Result<String, String>,
    pub fetched: u64,
}

/// One reading of the server's pulse: `/api/health` and the counters of `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PulseSample {
    pub status: String,
    pub checks: Vec<(String, String)>,
    pub pending: u64,
    pub running: u64,
    /// Completed runs by final status, since the server started.
    pub completed: Vec<(String, u64)>,
    /// Events published since the server started.
    pub events: u64,
}

impl PulseSample {
    /// Reads the gauges and counters the pulse shows from Prometheus text.
    pub fn from_metrics(status: String, checks: Vec<(String, String)>, text: &str) -> PulseSample {
        let mut sample = PulseSample {
            status,
            checks,
            ..PulseSample::default()
        };
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let value = value as u64;
            let label = |key: &str| {
                name.split_once(&format!("{key}=\""))
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map(|(v, _)| v.to_string())
            };
            if name.starts_with("gofer_runs{") {
                match label("state").as_deref() {
                    Some("pending") => sample.pending = value,
                    Some("running") => sample.running = value,
                    _ => {}
                }
            } else if name.starts_with("gofer_runs_total{") {
                if let Some(status) = label("status") {
                    sample.completed.push((status, value));
                }
            } else if name.starts_with("gofer_events_total{") {
                sample.events += value;
            }
        }
        sample
    }

    pub fn completed_with(&self, status: &str) -> u64 {
        self.completed
            .iter()
            .filter(|(s, _)| s == status)
            .map(|(_, n)| *n)
            .sum()
    }

    pub fn completed_total(&self) -> u64 {
        self.completed.iter().map(|(_, n)| n).sum()
    }
}

/// The pulse view: readings of the last 15 minutes (the console's clock, ms).
#[derive(Debug, Clone, Default)]
pub struct PulseView {
    pub samples: std::collections::VecDeque<(u64, PulseSample)>,
    pub error: Option<String>,
    pub last_asked: u64,
}

/// How far back the pulse's sparklines go, and how often it reads the server.
pub const PULSE_WINDOW_MS: u64 = 15 * 60_000;
pub const PULSE_EVERY_MS: u64 = 2_000;

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

/// The event stream's health, shown in the header.
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
    Pipeline {
        namespace: String,
        pipeline: String,
        result: Result<PipelineData, String>,
    },
    Extensions(Result<Vec<Extension>, String>),
    Running(Result<Vec<gofer_core::api::ActiveRun>, String>),
    Pulse(Result<PulseSample, String>),
    ExtensionDebug {
        id: String,
        result: Result<String, String>,
    },
    ExtensionSubscriptions {
        id: String,
        result: Result<Vec<Subscription>, String>,
    },
    /// The last log lines of a run's failed tasks, for the diagnosis panel.
    DiagnosisLogs {
        run_id: u64,
        result: Result<std::collections::BTreeMap<String, Vec<String>>, String>,
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
    LoadPipeline {
        namespace: String,
        pipeline: String,
    },
    LoadExtensions,
    LoadRunning,
    LoadPulse,
    LoadExtensionDebug {
        id: String,
    },
    LoadExtensionSubscriptions {
        id: String,
    },
    /// Read the last log lines of `tasks` (the failed ones) of a run.
    LoadDiagnosisLogs {
        namespace: String,
        pipeline: String,
        run_id: u64,
        tasks: Vec<String>,
    },
    /// Follow an extension container's log (stopping any other log stream).
    OpenExtensionLogs {
        id: String,
        generation: u64,
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
    pub pipeline: Load<PipelineData>,
    /// The pipeline view's version whose diff against the live version is open.
    pub diff: Option<u64>,
    pub extensions: Load<Vec<Extension>>,
    pub running: Load<Vec<gofer_core::api::ActiveRun>>,
    pub pulse: PulseView,
    pub ext_tab: ExtTab,
    pub ext_debug: Load<DebugInfo>,
    pub ext_subscriptions: Load<Vec<Subscription>>,
    /// The run view's diagnosis panel (`x`): `None` while closed, else the failed tasks' last
    /// log lines.
    pub diagnosis: Option<Load<std::collections::BTreeMap<String, Vec<String>>>>,
    pub run: Load<RunData>,
    /// Selected task of the run view.
    pub selected_task: Option<String>,
    pub logs: LogView,
    pub events: EventsView,
    /// Data that changed while not on screen: reloaded when its screen is shown again.
    pub(crate) stale: bool,
    /// Loads asked for and not answered yet, and loads asked for again meanwhile: a burst of
    /// events costs one request in flight plus one more, not one request per event.
    pub(crate) in_flight: Vec<Effect>,
    pub(crate) again: Vec<Effect>,
    pub(crate) last_poll_ms: u64,
    pub quit: bool,
}

pub(crate) fn load<T>(result: Result<T, String>) -> Load<T> {
    match result {
        Ok(t) => Load::Ready(t),
        Err(e) => Load::Failed(e),
    }
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
    /// Removed by retention or by the API (docs/logs-and-events.md#deleting-and-retention).
    Expired,
    Failed(String),
}
/// The log view.
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

/// The events view: newest last.
#[derive(Debug, Clone, Default)]
pub struct EventsView {
    pub events: Vec<Event>,
    pub loaded: bool,
}
