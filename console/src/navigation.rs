//! Moving between screens: the screen stack (open, back, jump), what each screen loads when it
//! is shown, and switching namespace.
use crate::model::{App, Effect, ExtTab, Frame, Load, LogView, Screen};
use crate::screens::events::event_run;

impl App {
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
            Screen::Pipeline { pipeline } => vec![Effect::LoadPipeline {
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
            Screen::Extensions => vec![Effect::LoadExtensions],
            Screen::Running => vec![Effect::LoadRunning],
            Screen::Pulse => {
                self.pulse.last_asked = self.now_ms;
                vec![Effect::LoadPulse]
            }
            Screen::Extension { id } => {
                let mut effects = vec![Effect::LoadExtensions];
                match self.ext_tab {
                    ExtTab::Debug => effects.push(Effect::LoadExtensionDebug { id }),
                    ExtTab::Subscriptions => {
                        effects.push(Effect::LoadExtensionSubscriptions { id })
                    }
                    // The log streams on; reloading would start it again.
                    ExtTab::Logs | ExtTab::Settings => {}
                }
                effects
            }
        }
    }

    /// Pushes `screen` and returns the effects that load it.
    pub(crate) fn push(&mut self, screen: Screen) -> Vec<Effect> {
        let leaving_logs = self.showing_logs();
        match &screen {
            Screen::Runs { .. } => self.runs = Load::Loading,
            Screen::Pipeline { .. } => {
                self.pipeline = Load::Loading;
                self.diff = None;
            }
            Screen::Run { .. } => {
                self.run = Load::Loading;
                self.selected_task = None;
                self.diagnosis = None;
            }
            Screen::Namespaces => self.namespaces = Load::Loading,
            Screen::Extensions => self.extensions = Load::Loading,
            Screen::Running => self.running = Load::Loading,
            Screen::Extension { .. } => {
                self.ext_tab = ExtTab::Logs;
                self.ext_debug = Load::Loading;
                self.ext_subscriptions = Load::Loading;
            }
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
    pub(crate) fn enter_effects(&mut self) -> Vec<Effect> {
        if let Screen::Extension { .. } = self.screen() {
            let mut effects = vec![Effect::LoadExtensions];
            effects.extend(self.ext_tab_effects());
            return effects;
        }
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

    pub(crate) fn next_generation(&self) -> u64 {
        self.logs.generation + 1
    }

    /// `esc`: pops the stack (never past the first screen).
    pub(crate) fn back(&mut self) -> Vec<Effect> {
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
        if matches!(left.screen, Screen::Logs { .. })
            || (matches!(left.screen, Screen::Extension { .. }) && self.ext_tab == ExtTab::Logs)
        {
            self.logs.generation += 1;
            effects.push(Effect::StopLogs);
        }
        if matches!(left.screen, Screen::Run { .. }) {
            self.timeline = false;
            self.diagnosis = None;
        }
        if self.stale
            || matches!(
                self.screen(),
                Screen::Run { .. } | Screen::Runs { .. } | Screen::Pipeline { .. }
            )
        {
            effects.extend(self.reload_screen());
        }
        effects
    }

    /// Replaces the whole stack (`:` commands jump).
    pub(crate) fn jump(&mut self, stack: Vec<Screen>) -> Vec<Effect> {
        let leaving_logs = self.showing_logs();
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
        if let Screen::Pipeline { .. } = self.screen() {
            self.pipeline = Load::Loading;
            self.diff = None;
        }
        if let Screen::Namespaces = self.screen() {
            self.namespaces = Load::Loading;
        }
        if let Screen::Pipelines = self.screen() {
            self.pipelines = Load::Loading;
        }
        if let Screen::Extensions = self.screen() {
            self.extensions = Load::Loading;
        }
        effects.extend(self.enter_effects());
        effects
    }

    pub(crate) fn open(&mut self) -> Vec<Effect> {
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
            // Opens (or closes) the diff of the selected version against the live one.
            Screen::Pipeline { .. } => {
                let version = self.visible_versions().get(selected).map(|c| c.version);
                self.diff = if self.diff == version { None } else { version };
                Vec::new()
            }
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
                if crate::screens::events::is_deployment_event(&event) {
                    return self.jump(vec![Screen::Pipelines, Screen::Pipeline { pipeline }]);
                }
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
            Screen::Logs { .. } | Screen::Pulse => Vec::new(),
            // The run, in its namespace.
            Screen::Running => {
                let Some(r) = self.visible_running().get(selected).map(|a| a.run.clone()) else {
                    return Vec::new();
                };
                self.namespace = r.namespace_id.clone();
                self.jump(vec![
                    Screen::Pipelines,
                    Screen::Runs {
                        pipeline: r.pipeline_id.clone(),
                    },
                    Screen::Run {
                        pipeline: r.pipeline_id,
                        run_id: r.run_id,
                    },
                ])
            }
            Screen::Extensions => match self.visible_extensions().get(selected) {
                Some(e) => {
                    let id = e.registration.extension_id.clone();
                    self.push(Screen::Extension { id })
                }
                None => Vec::new(),
            },
            // On the subscriptions tab: that pipeline's runs, in its namespace.
            Screen::Extension { .. } => {
                if self.ext_tab != ExtTab::Subscriptions {
                    return Vec::new();
                }
                let Some(s) = self.visible_subscriptions().get(selected).copied() else {
                    return Vec::new();
                };
                let (ns, pipeline) = (s.namespace_id.clone(), s.pipeline_id.clone());
                self.namespace = ns;
                self.jump(vec![Screen::Pipelines, Screen::Runs { pipeline }])
            }
        }
    }

    pub(crate) fn switch_namespace(&mut self, ns: String) -> Vec<Effect> {
        self.namespace = ns;
        self.pipelines = Load::Loading;
        self.info(format!("namespace '{}'", self.namespace));
        self.jump(vec![Screen::Pipelines])
    }
}
