//! What the command line takes that several commands share: the global flags, `K=V` pairs and
//! payload sources. Commands and settings depend on this module; it depends on none of them.

use crate::failure::Failure;
use clap::builder::{BoolishValueParser, PossibleValuesParser, TypedValueParser};
use clap::{ArgAction, Args};
use gofer_core::enums::OutputFormat;
use std::io::Read as _;
use std::path::PathBuf;

/// Global flags (docs/cli.md#global-flags). Each falls back to its environment variable, then to the CLI
/// config file, then to its default; `gofer config show` prints where each value came from.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Namespace to work in [file key: namespace] [default: default]
    #[arg(long, global = true, env = "GOFER_NAMESPACE", value_name = "ID")]
    pub namespace: Option<String>,

    /// Output format [file key: output] [default: plain]
    #[arg(
        long,
        global = true,
        env = "GOFER_OUTPUT",
        value_name = "FORMAT",
        ignore_case = true,
        value_parser = PossibleValuesParser::new(["plain", "json"])
            .map(|s| OutputFormat::parse(&s).expect("one of the possible values")),
    )]
    pub output: Option<OutputFormat>,

    /// CLI config file [default: $XDG_CONFIG_HOME/gofer/config.toml, else ~/.config/gofer/config.toml]
    #[arg(long, global = true, env = "GOFER_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Gofer server URL [file key: api_base_url] [default: http://127.0.0.1:8080]
    #[arg(long, global = true, env = "GOFER_API_BASE_URL", value_name = "URL")]
    pub api_base_url: Option<String>,

    /// API token; also read from GOFER_API_TOKEN when GOFER_TOKEN is unset [file key: token]
    #[arg(
        long,
        global = true,
        env = "GOFER_TOKEN",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub token: Option<String>,

    /// Show absolute RFC 3339 times instead of relative ones [file key: detail]
    #[arg(long, global = true, env = "GOFER_DETAIL", action = ArgAction::SetTrue,
        value_parser = BoolishValueParser::new())]
    pub detail: bool,

    /// Skip TLS certificate verification [file key: insecure_skip_tls_verify]
    #[arg(long, global = true, env = "GOFER_INSECURE_SKIP_TLS_VERIFY", action = ArgAction::SetTrue,
        value_parser = BoolishValueParser::new())]
    pub insecure_skip_tls_verify: bool,

    /// Trace requests on stderr [file key: debug]
    #[arg(long, global = true, env = "GOFER_DEBUG", action = ArgAction::SetTrue,
        value_parser = BoolishValueParser::new())]
    pub debug: bool,
}

/// `K=V` → `(K, V)`; the key is checked by the server (400, exit 7).
pub fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) => Ok((key.to_string(), value.to_string())),
        None => Err(format!("expected K=V, got '{text}'")),
    }
}

/// The payload JSON from a file, or from stdin for `@` or `-`.
pub fn read_payload(source: &str) -> Result<serde_json::Value, Failure> {
    let text = if source == "@" || source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::invalid(format!("cannot read the payload from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(source)
            .map_err(|e| Failure::invalid(format!("cannot read payload file '{source}': {e}")))?
    };
    serde_json::from_str(&text)
        .map_err(|e| Failure::invalid(format!("the payload is not valid JSON: {e}")))
}
