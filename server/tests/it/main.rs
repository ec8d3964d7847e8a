//! The server's one integration-test binary: one module per area.

// Test code may unwrap and print: a panic or a line on stdout is how a test reports.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod api;
mod auth;
mod defects;
mod engine;
mod engine_fake;
mod events;
mod hostile;
mod logs;
mod runs;
mod scheduler;
mod store;
mod stores;
mod support;
mod swarm;
