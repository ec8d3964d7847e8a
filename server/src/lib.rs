//! The Gofer server as a library: `serve(config, listener, shutdown)` (STYLE rule 9).

pub mod store;
