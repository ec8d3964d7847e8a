//! Gofer's shared vocabulary: the API wire types, identifier rules, pipeline validation and
//! DAG logic, and the configuration schemas. This crate does no I/O (see ARCHITECTURE.md).

pub mod api;
pub mod canary;
pub mod config;
pub mod cron;
pub mod dag;
pub mod diagnosis;
pub mod diff;
pub mod duration;
pub mod enums;
pub mod id;
pub mod layered;
pub mod paths;
pub mod resources;
pub mod runstate;
pub mod stats;
pub mod suggest;
pub mod validate;

/// Current time as Unix epoch milliseconds (docs/pipelines.md#words). The only clock read in core; kept
/// here so every crate stamps times the same way.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
