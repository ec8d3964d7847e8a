//! Tests of the console's pure parts (one test binary): `update()` key flows and
//! insta snapshots of every view rendered from fixture state into ratatui's `TestBackend`
//!. The end-to-end test against a real server is in `cli/tests/it/console.rs`.

// Test code may unwrap and print: a panic or a line on stdout is how a test reports.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod fixtures;
mod snapshots;
mod update;
