//! The server's one integration-test binary: one module per area.
//!
//! Tests reach the server through `gofer-sdk` (`TestServer::sdk` and the helpers in `support`:
//! deploy, start and wait for runs, read logs), as our users do, wherever the SDK covers the
//! route; raw HTTP (`call`, `call_as`, websockets) only where the test is about the wire format,
//! a status code and its message, or a malformed request.

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
mod openapi;
mod runs;
mod scheduler;
mod store;
mod stores;
mod support;
mod swarm;
