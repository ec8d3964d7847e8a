//! The effective CLI configuration (docs/cli.md#global-flags): flag > environment > config file > default,
//! keeping the source of every value so that `gofer config show` can print it.

use crate::args::GlobalArgs;
use crate::failure::Failure;
use clap::ArgMatches;
use clap::parser::ValueSource;
use gofer_core::enums::OutputFormat;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Flag,
    Env,
    File,
    Default,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Env => "env",
            Source::File => "file",
            Source::Default => "default",
        }
    }
}

/// A value and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

/// The CLI config file: the path looked at, whether it exists and where the path came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub path: Option<PathBuf>,
    pub found: bool,
    pub source: Source,
}

/// Every global setting with its source.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config_file: ConfigFile,
    pub namespace: Sourced<String>,
    pub output: Sourced<OutputFormat>,
    pub api_base_url: Sourced<String>,
    pub token: Sourced<Option<String>>,
    pub detail: Sourced<bool>,
    pub tls_ca_cert: Sourced<Option<String>>,
    pub insecure_skip_tls_verify: Sourced<bool>,
    pub debug: Sourced<bool>,
    /// The `[console]` table of the config file (read by `gofer console`; empty when absent).
    pub console: toml::Table,
}

/// Defaults (docs/cli.md#global-flags).
pub const DEFAULT_NAMESPACE: &str = "default";
pub const DEFAULT_API_BASE_URL: &str = "http://127.0.0.1:8080";

/// Keys the CLI config file may contain.
const FILE_KEYS: &[&str] = &[
    "namespace",
    "output",
    "api_base_url",
    "token",
    "detail",
    "tls_ca_cert",
    "insecure_skip_tls_verify",
    "debug",
    "console",
];

/// The values the config file set, already type-checked.
#[derive(Debug, Default)]
struct FileValues {
    table: toml::Table,
}

impl FileValues {
    fn string(&self, key: &str) -> Option<String> {
        self.table
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }

    fn bool(&self, key: &str) -> Option<bool> {
        self.table.get(key).and_then(|v| v.as_bool())
    }
}

/// Source of a flag as clap saw it: the command line, its `env =` variable, or neither.
fn cli_source(matches: &ArgMatches, id: &str) -> Option<Source> {
    match matches.value_source(id) {
        Some(ValueSource::CommandLine) => Some(Source::Flag),
        Some(ValueSource::EnvVariable) => Some(Source::Env),
        _ => None,
    }
}

fn layer<T>(given: Option<(T, Source)>, file: Option<T>, default: T) -> Sourced<T> {
    match (given, file) {
        (Some((value, source)), _) => Sourced { value, source },
        (None, Some(value)) => Sourced {
            value,
            source: Source::File,
        },
        (None, None) => Sourced {
            value: default,
            source: Source::Default,
        },
    }
}

impl Settings {
    /// The API client these settings describe: the server URL, the token, and for an https
    /// server the CA file or, when asked, no certificate check (with a warning on stderr).
    pub fn client(&self) -> Result<gofer_sdk::Client, gofer_sdk::Error> {
        let insecure = self.insecure_skip_tls_verify.value;
        if insecure && self.api_base_url.value.starts_with("https:") {
            eprintln!(
                "warning: TLS certificate verification is off (insecure_skip_tls_verify): \
                 anyone between you and the server can read and change this traffic"
            );
        }
        self.quiet_client()
    }

    /// [`Settings::client`] without the warning (for shell completion, which must not write to
    /// the terminal).
    pub fn quiet_client(&self) -> Result<gofer_sdk::Client, gofer_sdk::Error> {
        let tls = gofer_sdk::TlsOptions {
            ca_cert: self.tls_ca_cert.value.as_ref().map(PathBuf::from),
            insecure_skip_verify: self.insecure_skip_tls_verify.value,
            pinned_cert: None,
        };
        gofer_sdk::Client::with_tls(&self.api_base_url.value, self.token.value.clone(), &tls)
    }

    /// Resolves the settings from the parsed flags, `matches` (for value sources), the
    /// environment (`env` looks a variable up) and the config file. Warnings (unknown file keys)
    /// are returned for the caller to print.
    pub fn resolve(
        args: &GlobalArgs,
        matches: &ArgMatches,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Settings, Vec<String>), Failure> {
        let config_file = match (&args.config, cli_source(matches, "config")) {
            (Some(path), Some(source)) => ConfigFile {
                path: Some(path.clone()),
                found: true,
                source,
            },
            _ => {
                let path = default_config_path(env);
                let found = path.as_deref().is_some_and(Path::is_file);
                ConfigFile {
                    path,
                    found,
                    source: Source::Default,
                }
            }
        };
        let (file, warnings) = match (&config_file.path, config_file.found) {
            (Some(path), true) => read_config_file(path)?,
            _ => (FileValues::default(), Vec::new()),
        };

        let given = |value: Option<String>, id: &str| value.zip(cli_source(matches, id));
        let flag = |on: bool, id: &str| cli_source(matches, id).map(|s| (on, s));

        let output_file = match file.string("output") {
            None => None,
            Some(text) => Some(OutputFormat::parse(&text).ok_or_else(|| {
                Failure::invalid(format!(
                    "{}: output: '{text}' is not one of plain, json",
                    display(&config_file.path)
                ))
            })?),
        };
        // `--token`/GOFER_TOKEN come through clap; GOFER_API_TOKEN is the fallback a task with
        // `inject_api_token` gets (docs/auth.md#run-tokens, docs/cli.md#global-flags).
        let token_given = given(args.token.clone(), "token").or_else(|| {
            env("GOFER_API_TOKEN")
                .filter(|t| !t.is_empty())
                .map(|t| (t, Source::Env))
        });

        let settings = Settings {
            namespace: layer(
                given(args.namespace.clone(), "namespace"),
                file.string("namespace"),
                DEFAULT_NAMESPACE.to_string(),
            ),
            output: layer(
                args.output.zip(cli_source(matches, "output")),
                output_file,
                OutputFormat::Plain,
            ),
            api_base_url: layer(
                given(args.api_base_url.clone(), "api_base_url"),
                file.string("api_base_url"),
                DEFAULT_API_BASE_URL.to_string(),
            ),
            token: layer(
                token_given.map(|(t, s)| (Some(t), s)),
                file.string("token").map(Some),
                None,
            ),
            detail: layer(flag(args.detail, "detail"), file.bool("detail"), false),
            tls_ca_cert: layer(
                given(args.tls_ca_cert.clone(), "tls_ca_cert").map(|(v, s)| (Some(v), s)),
                file.string("tls_ca_cert").map(Some),
                None,
            ),
            insecure_skip_tls_verify: layer(
                flag(args.insecure_skip_tls_verify, "insecure_skip_tls_verify"),
                file.bool("insecure_skip_tls_verify"),
                false,
            ),
            debug: layer(flag(args.debug, "debug"), file.bool("debug"), false),
            console: file
                .table
                .get("console")
                .and_then(|v| v.as_table())
                .cloned()
                .unwrap_or_default(),
            config_file,
        };
        Ok((settings, warnings))
    }
}

fn display(path: &Option<PathBuf>) -> String {
    path.as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// `$XDG_CONFIG_HOME/gofer/config.toml`, else `~/.config/gofer/config.toml`.
fn default_config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(xdg) = env("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("gofer/config.toml"));
    }
    env("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| PathBuf::from(home).join(".config/gofer/config.toml"))
}

/// Reads and type-checks the config file; unknown keys become warnings.
fn read_config_file(path: &Path) -> Result<(FileValues, Vec<String>), Failure> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Failure::invalid(format!("config file '{name}' not found"))
        } else {
            Failure::invalid(format!("cannot read config file '{name}': {e}"))
        }
    })?;
    let mut table: toml::Table = text
        .parse()
        .map_err(|e| Failure::invalid(format!("{name}: not valid TOML: {e}")))?;
    let mut warnings = Vec::new();
    table.retain(|key, _| {
        let known = FILE_KEYS.contains(&key);
        if !known {
            warnings.push(format!("{name}: unknown configuration key '{key}' ignored"));
        }
        known
    });
    for (key, value) in &table {
        let bool_key = matches!(
            key.as_str(),
            "detail" | "insecure_skip_tls_verify" | "debug"
        );
        let table_key = key == "console";
        let ok = if bool_key {
            value.is_bool()
        } else if table_key {
            value.is_table()
        } else {
            value.is_str()
        };
        if !ok {
            let expected = if bool_key {
                "boolean"
            } else if table_key {
                "table"
            } else {
                "string"
            };
            return Err(Failure::invalid(format!(
                "{name}: {key}: expected {expected}, got {}",
                value.type_str()
            )));
        }
    }
    Ok((FileValues { table }, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::{CommandFactory, FromArgMatches};

    fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<(Settings, Vec<String>), Failure> {
        // clap reads `env =` variables from the process environment, which tests must not touch,
        // so only flags and the lookup closure are exercised here; env sources of clap-backed
        // flags are covered by the integration tests.
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        Settings::resolve(&cli.global, &matches, &lookup)
    }

    #[test]
    fn flag_beats_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "namespace = \"filens\"\ndetail = true\ntoken = \"t\"\nbogus = 1\n",
        )
        .unwrap();
        let path = path.to_str().unwrap();
        let (s, warnings) = resolve(
            &[
                "gofer",
                "--config",
                path,
                "--namespace",
                "flagns",
                "config",
                "show",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            s.namespace,
            Sourced {
                value: "flagns".into(),
                source: Source::Flag
            }
        );
        assert_eq!(
            s.detail,
            Sourced {
                value: true,
                source: Source::File
            }
        );
        assert_eq!(s.token.source, Source::File);
        assert_eq!(s.api_base_url.source, Source::Default);
        assert_eq!(s.config_file.source, Source::Flag);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("unknown configuration key 'bogus' ignored"),
            "{warnings:?}"
        );
    }

    #[test]
    fn api_token_fallback_and_default_path() {
        let dir = tempfile::tempdir().unwrap();
        let xdg = dir.path().to_str().unwrap();
        let (s, _) = resolve(
            &["gofer", "config", "show"],
            &[("GOFER_API_TOKEN", "injected"), ("XDG_CONFIG_HOME", xdg)],
        )
        .unwrap();
        assert_eq!(
            s.token,
            Sourced {
                value: Some("injected".into()),
                source: Source::Env
            }
        );
        assert_eq!(
            s.config_file.path,
            Some(dir.path().join("gofer/config.toml"))
        );
        assert!(!s.config_file.found);
    }

    #[test]
    fn missing_explicit_file_and_bad_types_are_invalid() {
        let e = resolve(
            &[
                "gofer",
                "--config",
                "/nonexistent/gofer.toml",
                "config",
                "show",
            ],
            &[],
        )
        .unwrap_err();
        assert_eq!(e.code, crate::exit::EXIT_INVALID);
        assert!(
            e.message.contains("/nonexistent/gofer.toml"),
            "{}",
            e.message
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "detail = \"yes\"\n").unwrap();
        let e = resolve(
            &[
                "gofer",
                "--config",
                path.to_str().unwrap(),
                "config",
                "show",
            ],
            &[],
        )
        .unwrap_err();
        assert!(
            e.message.contains("detail: expected boolean"),
            "{}",
            e.message
        );
    }
}
