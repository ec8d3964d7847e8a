//! The command line (`:`), its completion, and the filter, search and start prompts.

use crate::config::Action;
use crate::model::{App, Effect, Mode, Screen};
use crate::mutation::Mutation;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Commands of `:` mode, for completion (docs/cli.md#console).
pub const COMMANDS: [&str; 17] = [
    "namespaces",
    "ns",
    "pipelines",
    "versions",
    "runs",
    "run",
    "events",
    "extensions",
    "running",
    "pulse",
    "start",
    "cancel",
    "deploy",
    "save",
    "refresh",
    "q",
    "quit",
];

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

impl App {
    pub(crate) fn edit_command(&mut self, event: KeyEvent, mut input: String) -> Vec<Effect> {
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
            [command, word] if matches!(*command, "runs" | "run" | "versions") => (
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

    pub(crate) fn run_command(&mut self, line: &str) -> Vec<Effect> {
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
            ("versions", [pipeline]) => self.jump(vec![
                Screen::Pipelines,
                Screen::Pipeline {
                    pipeline: pipeline.to_string(),
                },
            ]),
            ("versions", []) => match self.current_pipeline().cloned() {
                Some(pipeline) => self.jump(vec![Screen::Pipelines, Screen::Pipeline { pipeline }]),
                None => usage(self, ":versions <pipeline>"),
            },
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
            ("pulse", []) => {
                if *self.screen() == Screen::Pulse {
                    return self.reload_screen();
                }
                self.push(Screen::Pulse)
            }
            ("running", []) => {
                if *self.screen() == Screen::Running {
                    return self.reload_screen();
                }
                self.push(Screen::Running)
            }
            ("extensions", []) => {
                if *self.screen() == Screen::Extensions {
                    return self.reload_screen();
                }
                self.push(Screen::Extensions)
            }
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
                if !self.showing_logs() {
                    return usage(self, ":save <file> in a log view");
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

    pub(crate) fn edit_filter(&mut self, event: KeyEvent) -> Vec<Effect> {
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

    pub(crate) fn edit_search(
        &mut self,
        event: KeyEvent,
        mut input: String,
        filter: bool,
    ) -> Vec<Effect> {
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

    pub(crate) fn edit_start_prompt(
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
}
