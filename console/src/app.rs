//! The console's state and its one transition function: `update(msg)` changes
//! state and returns the I/O to perform as [`Effect`]s; it never does I/O itself and reads no
//! clock (time arrives as [`Msg::Tick`]).

pub use crate::command::parse_variables;
pub use crate::model::*;
pub use crate::mutation::Mutation;
pub use crate::screens::events::event_run;
pub use crate::screens::pipelines::is_active;
pub use crate::screens::run::never_started_reason;
use gofer_core::api::{Event, EventKind};

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
            pipeline: Load::Loading,
            diff: None,
            extensions: Load::Loading,
            running: Load::Loading,
            pulse: PulseView::default(),
            ext_tab: ExtTab::Logs,
            ext_debug: Load::Loading,
            ext_subscriptions: Load::Loading,
            diagnosis: None,
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

    pub(crate) fn frame_mut(&mut self) -> &mut Frame {
        self.stack.last_mut().expect("the stack is never empty")
    }

    pub fn screen(&self) -> &Screen {
        &self.frame().screen
    }

    pub(crate) fn info(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: false,
            shown_at: self.now_ms,
        });
    }

    pub(crate) fn error(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: true,
            shown_at: self.now_ms,
        });
    }

    // ----- lists ---------------------------------------------------------------------------

    pub(crate) fn matches(filter: &str, text: &str) -> bool {
        filter.is_empty() || text.to_lowercase().contains(&filter.to_lowercase())
    }

    /// Number of rows of the current list (for moving the selection).
    pub(crate) fn list_len(&self) -> usize {
        match self.screen() {
            Screen::Namespaces => self.visible_namespaces().len(),
            Screen::Pipelines => self.visible_pipelines().len(),
            Screen::Runs { .. } => self.visible_runs().len(),
            Screen::Pipeline { .. } => self.visible_versions().len(),
            Screen::Extensions => self.visible_extensions().len(),
            Screen::Running => self.visible_running().len(),
            Screen::Pulse => 0,
            Screen::Extension { .. } => match self.ext_tab {
                ExtTab::Subscriptions => self.visible_subscriptions().len(),
                _ => 0,
            },
            Screen::Events => self.visible_events().len(),
            Screen::Run { .. } => self.task_order().len(),
            Screen::Logs { .. } => 0,
        }
    }

    /// Rows a page moves (half the list area, as vim's ctrl-d).
    pub(crate) fn page(&self) -> usize {
        usize::from(self.size.1.saturating_sub(6) / 2).max(1)
    }

    /// Height of the log text area (the view draws header, breadcrumbs, and status around it).
    pub fn log_height(&self) -> usize {
        // An extension's log sits under its tab bar: two lines fewer.
        let chrome = if matches!(self.screen(), Screen::Extension { .. }) {
            7
        } else {
            5
        };
        usize::from(self.size.1.saturating_sub(chrome)).max(1)
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
            Msg::Running(_) => Some(Effect::LoadRunning),
            Msg::Pipeline {
                namespace,
                pipeline,
                ..
            } => Some(Effect::LoadPipeline {
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
                Effect::LoadPipelines { .. }
                    | Effect::LoadRuns { .. }
                    | Effect::LoadPipeline { .. }
                    | Effect::LoadRunning
                    | Effect::LoadRun { .. }
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

    pub(crate) fn step(&mut self, msg: Msg) -> Vec<Effect> {
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
                if *self.screen() == Screen::Pulse
                    && !self.paused
                    && now.saturating_sub(self.pulse.last_asked) >= PULSE_EVERY_MS
                {
                    self.pulse.last_asked = now;
                    return vec![Effect::LoadPulse];
                }
                if self.connection != Connection::Live
                    && now.saturating_sub(self.last_poll_ms) >= POLL_EVERY_MS
                    && !self.paused
                {
                    // Polling fallback while the event stream is down (docs/cli.md#console).
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
            Msg::Pipeline {
                namespace,
                pipeline,
                result,
            } => {
                if namespace == self.namespace && self.current_pipeline() == Some(&pipeline) {
                    self.pipeline = load(result);
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
            Msg::Pulse(result) => {
                self.on_pulse(result);
                Vec::new()
            }
            Msg::Running(result) => {
                self.running = load(result);
                self.clamp_selection();
                Vec::new()
            }
            Msg::Extensions(result) => {
                self.extensions = load(result);
                self.clamp_selection();
                Vec::new()
            }
            Msg::ExtensionDebug { id, result } => {
                self.on_extension_debug(id, result);
                Vec::new()
            }
            Msg::DiagnosisLogs { run_id, result } => {
                let current = self.run.ready().map(|d| d.run.run_id);
                if current == Some(run_id) && self.diagnosis.is_some() {
                    self.diagnosis = Some(load(result));
                }
                Vec::new()
            }
            Msg::ExtensionSubscriptions { id, result } => {
                self.on_extension_subscriptions(id, result);
                Vec::new()
            }
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

    pub(crate) fn current_pipeline(&self) -> Option<&String> {
        match self.screen() {
            Screen::Runs { pipeline }
            | Screen::Pipeline { pipeline }
            | Screen::Run { pipeline, .. }
            | Screen::Logs { pipeline, .. } => Some(pipeline),
            _ => None,
        }
    }

    pub(crate) fn clamp_selection(&mut self) {
        let len = self.list_len();
        let frame = self.frame_mut();
        frame.selected = frame.selected.min(len.saturating_sub(1));
    }

    pub(crate) fn on_event(&mut self, event: Event) -> Vec<Effect> {
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
        // Runs of every namespace change the running view.
        if *self.screen() == Screen::Running
            && matches!(
                kind,
                EventKind::QueuedRun { .. }
                    | EventKind::StartedRun { .. }
                    | EventKind::CompletedRun { .. }
                    | EventKind::StartedTaskExecution { .. }
                    | EventKind::CompletedTaskExecution { .. }
            )
        {
            effects.push(Effect::LoadRunning);
        }
        // Extension events change the extensions views whatever the namespace.
        if matches!(
            kind,
            EventKind::InstalledExtension { .. }
                | EventKind::UninstalledExtension { .. }
                | EventKind::EnabledExtension { .. }
                | EventKind::DisabledExtension { .. }
                | EventKind::PipelineExtensionSubscriptionRegistered { .. }
                | EventKind::PipelineExtensionSubscriptionUnregistered { .. }
        ) {
            match self.screen().clone() {
                Screen::Extensions => effects.push(Effect::LoadExtensions),
                Screen::Extension { id } => {
                    effects.push(Effect::LoadExtensions);
                    if self.ext_tab == ExtTab::Subscriptions {
                        effects.push(Effect::LoadExtensionSubscriptions { id });
                    }
                }
                _ => {}
            }
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
            // Any event of the pipeline may change a deployment's figures.
            Screen::Pipeline { pipeline: p } if pipeline == Some(p.as_str()) => {
                effects.push(Effect::LoadPipeline {
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

    // ----- line editing --------------------------------------------------------------------
}
