//! Keys and actions: what each key does on each screen, moving the selection, and asking before a
//! change.

use crate::config::{Action, Key};
use crate::model::{App, Effect, Mode, Screen};
use crate::mutation::Mutation;
use ratatui::crossterm::event::{KeyCode, KeyEvent};

impl App {
    pub(crate) fn on_key(&mut self, event: KeyEvent) -> Vec<Effect> {
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

    pub(crate) fn on_action(&mut self, action: Action) -> Vec<Effect> {
        let in_logs = self.showing_logs();
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
                Screen::Run { .. } | Screen::Extensions => self.open(),
                Screen::Extension { .. } if self.ext_tab != crate::model::ExtTab::Logs => {
                    while self.ext_tab != crate::model::ExtTab::Logs {
                        self.ext_tab = self.ext_tab.next();
                    }
                    self.ext_tab_effects()
                }
                _ => Vec::new(),
            },
            Action::Diagnose => {
                if !matches!(self.screen(), Screen::Run { .. }) {
                    return Vec::new();
                }
                if self.diagnosis.take().is_some() {
                    return Vec::new();
                }
                let Some(data) = self.run.ready() else {
                    return Vec::new();
                };
                let d = gofer_core::diagnosis::diagnose(&data.run, &data.tasks);
                let effect = Effect::LoadDiagnosisLogs {
                    namespace: self.namespace.clone(),
                    pipeline: data.run.pipeline_id.clone(),
                    run_id: data.run.run_id,
                    tasks: d.failed.into_iter().map(|f| f.task).collect(),
                };
                self.diagnosis = Some(crate::model::Load::Loading);
                vec![effect]
            }
            Action::Extensions => {
                if matches!(self.screen(), Screen::Extensions) {
                    Vec::new()
                } else {
                    self.push(Screen::Extensions)
                }
            }
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
            Action::Retry => match self.retry_target() {
                Some(mutation) => self.request(mutation),
                None => {
                    self.info("nothing to retry here: select a run that has ended");
                    Vec::new()
                }
            },
            Action::Cancel => match self.cancel_target() {
                Some(mutation) => self.request(mutation),
                None => {
                    self.info("nothing to cancel here: select a run or a task");
                    Vec::new()
                }
            },
            Action::Enable | Action::Disable => {
                let enable = action == Action::Enable;
                match (self.screen().clone(), self.selected_pipeline()) {
                    (Screen::Pipelines, Some(pipeline)) => {
                        self.request(Mutation::SetPipelineState { pipeline, enable })
                    }
                    (Screen::Extensions, _) => {
                        let selected = self.frame().selected;
                        match self.visible_extensions().get(selected) {
                            Some(e) => {
                                let id = e.registration.extension_id.clone();
                                self.request(Mutation::SetExtensionState { id, enable })
                            }
                            None => Vec::new(),
                        }
                    }
                    (Screen::Extension { .. }, _)
                        if self.ext_tab == crate::model::ExtTab::Subscriptions =>
                    {
                        let selected = self.frame().selected;
                        match self.visible_subscriptions().get(selected).copied() {
                            Some(s) => {
                                let mutation = Mutation::SetSubscriptionState {
                                    namespace: s.namespace_id.clone(),
                                    pipeline: s.pipeline_id.clone(),
                                    extension: s.extension_id.clone(),
                                    subscription: s.subscription_id.clone(),
                                    enable,
                                };
                                self.request(mutation)
                            }
                            None => Vec::new(),
                        }
                    }
                    (Screen::Extension { id }, _) => {
                        self.request(Mutation::SetExtensionState { id, enable })
                    }
                    _ => Vec::new(),
                }
            }
            Action::Details => match self.selected_pipeline() {
                Some(pipeline) if !matches!(self.screen(), Screen::Pipeline { .. }) => {
                    self.push(Screen::Pipeline { pipeline })
                }
                _ => Vec::new(),
            },
            Action::Promote | Action::Abort => {
                let Screen::Pipeline { pipeline } = self.screen().clone() else {
                    return Vec::new();
                };
                let running = self
                    .pipeline
                    .ready()
                    .and_then(|p| p.running_deployment())
                    .map(|d| (d.deployment_id, d.end_version));
                match running {
                    Some((deployment, version)) if action == Action::Promote => {
                        self.request(Mutation::Promote {
                            pipeline,
                            deployment,
                            version,
                        })
                    }
                    Some((deployment, version)) => self.request(Mutation::Abort {
                        pipeline,
                        deployment,
                        version,
                    }),
                    None => {
                        self.info("no deployment in progress: nothing to promote or abort");
                        Vec::new()
                    }
                }
            }
            Action::Tab if matches!(self.screen(), Screen::Extension { .. }) => self.next_ext_tab(),
            Action::Tab => {
                if matches!(self.screen(), Screen::Run { .. }) {
                    self.timeline = !self.timeline;
                }
                Vec::new()
            }
            Action::Wrap | Action::LogFilter | Action::NextMatch | Action::PrevMatch => Vec::new(),
        }
    }

    pub(crate) fn move_selection(&mut self, delta: isize) -> Vec<Effect> {
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

    /// Index of the selected row, for the view (the run view's comes from the task id).
    pub fn selected_index(&self) -> usize {
        if matches!(self.screen(), Screen::Run { .. })
            && let Some(id) = &self.selected_task
        {
            return self.task_order().iter().position(|t| t == id).unwrap_or(0);
        }
        self.frame().selected
    }

    /// A mutating key or command: refused in read-only mode; starting asks for variables,
    /// everything else asks `y/n`.
    pub(crate) fn request(&mut self, mutation: Mutation) -> Vec<Effect> {
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

    pub(crate) fn mutate(&mut self, mutation: Mutation) -> Vec<Effect> {
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
}
