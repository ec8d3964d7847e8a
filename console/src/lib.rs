//! `gofer console`: the operator console (docs/cli.md#console), a ratatui terminal UI that is purely a
//! client of the Gofer API through `gofer-sdk` — it never reads the database.
//!
//! Elm-like: [`app::App`] is the state and [`app::App::update`] its only
//! transition, returning [`app::Effect`]s; [`view::render`] draws a frame from the state alone;
//! [`runtime`] turns terminal input, SDK answers, the event websocket and log streams into
//! [`app::Msg`]s and performs the effects. The binary (`cli`) resolves the configuration and
//! sets up tracing (to a file, never the terminal); this crate only draws and talks to the API.

pub mod app;
pub mod command;
pub mod config;
pub mod dag;
pub mod draw;
pub mod keys;
pub mod logbuf;
pub mod model;
pub mod mutation;
pub mod navigation;
pub mod runtime;
pub mod screens;
pub mod view;

use std::time::Instant;

/// Everything the console needs to start.
pub struct Options {
    /// A client for the server (base URL and token from the CLI configuration, docs/cli.md#global-flags).
    pub client: gofer_sdk::Client,
    /// The namespace to open (`--namespace`).
    pub namespace: String,
    pub settings: app::Settings,
    /// When the process started, for the time-to-first-frame figure in the trace file.
    pub started: Instant,
}

/// Why the console could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The terminal could not be set up or drawn to.
    #[error("terminal error: {0}")]
    Terminal(#[from] std::io::Error),
}

/// Takes over the terminal (raw mode, alternate screen, no mouse capture) until the user quits.
/// The terminal is restored on return, on error and on panic (ratatui's panic hook restores it
/// before the panic message is printed).
pub fn run(options: Options) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut terminal = ratatui::try_init()?;
    let size = terminal
        .size()
        .map(|s| (s.width, s.height))
        .unwrap_or((80, 24));
    let app = app::App::new(
        options.settings,
        options.namespace,
        gofer_core::now_millis(),
        size,
    );
    let result = runtime.block_on(runtime::run_app(
        app,
        options.client,
        &mut terminal,
        options.started,
    ));
    ratatui::restore();
    // Background tasks (streams, requests) end with the runtime.
    runtime.shutdown_background();
    result.map_err(Error::from)
}
