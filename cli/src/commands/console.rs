//! `gofer console [--read-only]` (docs/cli.md#console): resolves the console's configuration, sets up
//! tracing to a file (never the terminal) and hands over to `gofer-console`.

use crate::exit::EXIT_USAGE;
use crate::failure::Failure;
use crate::settings::Settings;
use clap::Args;
use clap::builder::BoolishValueParser;
use gofer_console::config::{ConsoleConfig, Layer};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Hide and refuse every mutating action (start, cancel, deploy, enable/disable)
    /// [file key: console.read_only]
    #[arg(long, env = "GOFER_CONSOLE_READ_ONLY", action = clap::ArgAction::SetTrue,
        value_parser = BoolishValueParser::new())]
    pub read_only: bool,
}

/// Keys of the CLI config's `[console]` table.
const CONSOLE_KEYS: &[&str] = &["read_only", "log_buffer_lines", "keys", "theme"];

/// What the console reads from the `[console]` table.
#[derive(Debug, PartialEq)]
struct ConsoleFile {
    read_only: bool,
    log_buffer_lines: usize,
}

fn console_file(table: &toml::Table, origin: &str) -> Result<ConsoleFile, Failure> {
    if let Some(key) = table.keys().find(|k| !CONSOLE_KEYS.contains(&k.as_str())) {
        return Err(Failure::invalid(format!(
            "{origin}: console.{key}: unknown key (known: {})",
            CONSOLE_KEYS.join(", ")
        )));
    }
    let read_only = match table.get("read_only") {
        None => false,
        Some(v) => v.as_bool().ok_or_else(|| {
            Failure::invalid(format!(
                "{origin}: console.read_only: expected true or false"
            ))
        })?,
    };
    let log_buffer_lines = match table.get("log_buffer_lines") {
        None => gofer_console::logbuf::DEFAULT_CAPACITY,
        Some(v) => v
            .as_integer()
            .filter(|n| (100..=10_000_000).contains(n))
            .map(|n| n as usize)
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "{origin}: console.log_buffer_lines: expected a number of lines from 100 to 10000000"
                ))
            })?,
    };
    for key in ["keys", "theme"] {
        if table.get(key).is_some_and(|v| !v.is_table()) {
            return Err(Failure::invalid(format!(
                "{origin}: console.{key}: expected a table ([console.{key}])"
            )));
        }
    }
    Ok(ConsoleFile {
        read_only,
        log_buffer_lines,
    })
}

/// `$XDG_CONFIG_HOME/gofer/keymap.toml`, else `~/.config/gofer/keymap.toml` (docs/cli.md#console).
fn keymap_path() -> Option<PathBuf> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(xdg) = var("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(xdg).join("gofer/keymap.toml"));
    }
    var("HOME").map(|h| PathBuf::from(h).join(".config/gofer/keymap.toml"))
}

/// `$XDG_STATE_HOME/gofer/console.log`, else `~/.local/state/gofer/console.log`, else the
/// temporary directory.
pub fn trace_path() -> PathBuf {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(state) = var("XDG_STATE_HOME") {
        return PathBuf::from(state).join("gofer/console.log");
    }
    match var("HOME") {
        Some(home) => PathBuf::from(home).join(".local/state/gofer/console.log"),
        None => std::env::temp_dir().join("gofer-console.log"),
    }
}

fn read_keymap(path: &Path) -> Result<Option<toml::Table>, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::invalid(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let table: toml::Table = text
        .parse()
        .map_err(|e| Failure::invalid(format!("{}: not valid TOML: {e}", path.display())))?;
    if let Some(key) = table
        .keys()
        .find(|k| !["keys", "theme"].contains(&k.as_str()))
    {
        return Err(Failure::invalid(format!(
            "{}: {key}: unknown table (expected [keys] and [theme])",
            path.display()
        )));
    }
    Ok(Some(table))
}

/// Tracing goes to the trace file only; filter with `GOFER_CONSOLE_LOG` (default `info`).
fn init_tracing(path: &Path) -> Result<(), Failure> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::invalid(format!(
                "cannot create {} for the console log: {e}",
                dir.display()
            ))
        })?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Failure::invalid(format!("cannot open {}: {e}", path.display())))?;
    let filter = std::env::var("GOFER_CONSOLE_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .init();
    Ok(())
}

pub fn run(settings: &Settings, args: ConsoleArgs, started: Instant) -> anyhow::Result<()> {
    let origin = settings
        .config_file
        .path
        .as_deref()
        .map_or("config".to_string(), |p| p.display().to_string());
    let file = console_file(&settings.console, &origin)?;
    let keymap_path = keymap_path();
    let keymap = match &keymap_path {
        Some(path) => read_keymap(path)?,
        None => None,
    };
    let table = |t: Option<&toml::Table>, key: &str| -> Option<toml::Table> {
        t.and_then(|t| t.get(key))
            .and_then(|v| v.as_table())
            .cloned()
    };
    let (km_keys, km_theme) = (
        table(keymap.as_ref(), "keys"),
        table(keymap.as_ref(), "theme"),
    );
    let (cf_keys, cf_theme) = (
        table(Some(&settings.console), "keys"),
        table(Some(&settings.console), "theme"),
    );
    let keymap_origin = keymap_path
        .as_deref()
        .map_or(String::new(), |p| p.display().to_string());
    let config = ConsoleConfig::load(&[
        Layer {
            origin: keymap_origin,
            keys: km_keys.as_ref(),
            theme: km_theme.as_ref(),
        },
        Layer {
            origin: format!("{origin} [console]"),
            keys: cf_keys.as_ref(),
            theme: cf_theme.as_ref(),
        },
    ])
    .map_err(Failure::invalid)?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Failure {
            code: EXIT_USAGE,
            message: "gofer console needs an interactive terminal (stdin and stdout)".into(),
        }
        .into());
    }
    let client = settings.client()?;
    let trace = trace_path();
    init_tracing(&trace)?;
    tracing::info!(server = client.base_url(), trace = %trace.display(), "console starting");
    gofer_console::run(gofer_console::Options {
        client,
        namespace: settings.namespace.value.clone(),
        settings: gofer_console::app::Settings {
            read_only: args.read_only || file.read_only,
            log_capacity: file.log_buffer_lines,
            config,
        },
        started,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_table_is_checked() {
        let table: toml::Table = "read_only = true\nlog_buffer_lines = 5000".parse().unwrap();
        assert_eq!(
            console_file(&table, "c.toml").unwrap(),
            ConsoleFile {
                read_only: true,
                log_buffer_lines: 5000
            }
        );
        let bad = |text: &str| {
            console_file(&text.parse().unwrap(), "c.toml")
                .unwrap_err()
                .message
        };
        assert_eq!(
            bad("readonly = true"),
            "c.toml: console.readonly: unknown key (known: read_only, log_buffer_lines, keys, theme)"
        );
        assert_eq!(
            bad("read_only = \"yes\""),
            "c.toml: console.read_only: expected true or false"
        );
        assert!(bad("log_buffer_lines = 5").contains("from 100 to 10000000"));
        assert_eq!(
            bad("keys = 1"),
            "c.toml: console.keys: expected a table ([console.keys])"
        );
    }
}
