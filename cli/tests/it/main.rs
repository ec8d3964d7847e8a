//! Integration tests of the `gofer` binary (one test binary). Tests that need a
//! server start the real one in-process on an ephemeral port with a temporary data dir
//! and run the real binary against it with `assert_cmd`.

// Test code may unwrap and print: a panic or a line on stdout is how a test reports.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod auth;
mod common;
mod config_show;
mod console;
mod defects;
mod deploy;
mod errors;
mod event;
mod exec;
mod extensions;
mod first_hour;
mod hostile;
mod local_images;
mod namespace;
mod observability;
mod operations;
mod pipeline;
mod recovery;
mod results;
mod run;
mod sdk;
mod service;
mod stores;
mod tls;
mod up;
mod watch;
