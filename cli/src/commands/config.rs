//! `gofer config show` (docs/cli.md): the effective CLI configuration with the source of each value.

use crate::output::{self, Table};
use crate::settings::{Settings, Source};
use clap::Subcommand;
use gofer_core::enums::OutputFormat;
use serde_json::{Value, json};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration and where each value came from (token masked)
    Show,
}

/// What a token is shown as.
const MASK: &str = "********";

pub fn run(settings: &Settings, command: ConfigCommand) {
    match command {
        ConfigCommand::Show => show(settings),
    }
}

fn entries(s: &Settings) -> Vec<(&'static str, Value, Source)> {
    let file = &s.config_file;
    let path = file.path.as_deref().map(|p| p.display().to_string());
    vec![
        ("config", json!(path), file.source),
        ("namespace", json!(s.namespace.value), s.namespace.source),
        ("output", json!(s.output.value.as_str()), s.output.source),
        (
            "api_base_url",
            json!(s.api_base_url.value),
            s.api_base_url.source,
        ),
        (
            "token",
            json!(s.token.value.as_ref().map(|_| MASK)),
            s.token.source,
        ),
        ("detail", json!(s.detail.value), s.detail.source),
        (
            "tls_ca_cert",
            json!(s.tls_ca_cert.value),
            s.tls_ca_cert.source,
        ),
        (
            "insecure_skip_tls_verify",
            json!(s.insecure_skip_tls_verify.value),
            s.insecure_skip_tls_verify.source,
        ),
        ("debug", json!(s.debug.value), s.debug.source),
    ]
}

fn show(settings: &Settings) {
    let entries = entries(settings);
    if settings.output.value == OutputFormat::Json {
        let mut body = serde_json::Map::new();
        for (key, value, source) in entries {
            let mut entry = json!({"value": value, "source": source.as_str()});
            if key == "config" {
                entry["found"] = json!(settings.config_file.found);
            }
            body.insert(key.to_string(), entry);
        }
        crate::output::print(format_args!("{}", output::json(&body)));
        return;
    }
    let mut table = Table::new(&["key", "value", "source"]);
    for (key, value, source) in entries {
        let mut text = match value {
            Value::Null => "-".to_string(),
            Value::String(s) => s,
            other => other.to_string(),
        };
        if key == "config" && !settings.config_file.found && settings.config_file.path.is_some() {
            text.push_str(" (not found)");
        }
        table.row(vec![key.to_string(), text, source.as_str().to_string()]);
    }
    crate::output::print(format_args!("{}", table.render()));
}
