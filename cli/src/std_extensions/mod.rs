//! The standard extensions built into the `gofer` binary (docs/extensions.md#the-built-in-extensions), run as
//! `gofer builtin extension <name>` inside their `gofer.local/extension-<name>` images.
//!
//! Each implements `gofer_sdk::extension::Extension`; the SDK's `serve` is the extension REST
//! API they share (and third-party extensions written in Rust can use).

// An extension container's stdout is its log (`gofer extension logs`): the built-ins print
// what they do there.
#![allow(clippy::print_stdout)]

pub mod cron;
pub mod github;
pub mod interval;

pub use gofer_sdk::extension::{Extension, SystemEnv, serve, setting};

use gofer_core::api::ExtensionDocumentation;

/// The documentation of a built-in extension image (`gofer.local/extension-<name>[:tag]`), which
/// this binary knows without running it; `None` for any other image.
pub fn documentation_for_image(image: &str) -> Option<ExtensionDocumentation> {
    let name = image.strip_prefix("gofer.local/extension-")?;
    let name = name.split_once(':').map_or(name, |(name, _)| name);
    match name {
        "interval" => Some(interval::documentation()),
        "cron" => Some(cron::documentation()),
        "github" => Some(github::documentation()),
        _ => None,
    }
}
