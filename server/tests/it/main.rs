//! The server's one integration-test binary (STYLE rule 25): one module per area.

mod api;
mod auth;
mod defects;
mod engine;
mod events;
mod hostile;
mod logs;
mod runs;
mod scheduler;
mod store;
mod stores;
mod support;
mod swarm;
