//! One module per noun. Commands that talk to the server get a [`Ctx`].

pub mod builtin;
pub mod config;
pub mod console;
pub mod deploy;
pub mod event;
pub mod exec;
pub mod extension;
pub mod namespace;
pub mod object;
pub mod pipeline;
pub mod role;
pub mod run;
pub mod secret;
pub mod service;
pub mod shell;
pub mod task;
pub mod token;
pub mod up;

use crate::output;
use crate::settings::Settings;
use crate::time::TimeFormat;
use gofer_core::enums::OutputFormat;
use gofer_sdk::Client;
use serde::Serialize;

/// What an API command needs: the client, the effective settings and a fixed clock.
pub struct Ctx {
    pub client: Client,
    pub settings: Settings,
    pub times: TimeFormat,
}

impl Ctx {
    /// The namespace commands work in (`--namespace`).
    pub fn namespace(&self) -> &str {
        &self.settings.namespace.value
    }

    /// Whether `--output json` is in effect.
    pub fn json(&self) -> bool {
        self.settings.output.value == OutputFormat::Json
    }

    /// A timestamp for plain output.
    pub fn time(&self, ms: u64) -> String {
        self.times.format(ms)
    }

    /// Prints `body` as JSON with `--output json`, else the plain text `plain` builds.
    pub fn print<T: Serialize>(&self, body: &T, plain: impl FnOnce() -> String) {
        if self.json() {
            crate::output::print(format_args!("{}", output::json(body)));
        } else {
            crate::output::print(format_args!("{}", plain()));
        }
    }

    /// For routes that answer 204: a message in plain mode, nothing with `--output json`
    /// (the API body is empty).
    pub fn done(&self, message: String) {
        if !self.json() {
            crate::output::println(format_args!("{message}"));
        }
    }
}
