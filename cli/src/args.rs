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

    /// PEM file of CA certificates to trust for an https server, in addition to the system's
    /// [file key: tls_ca_cert]
    #[arg(long, global = true, env = "GOFER_TLS_CA_CERT", value_name = "PATH")]
    pub tls_ca_cert: Option<String>,

    /// Skip TLS certificate verification (insecure: prints a warning) [file key: insecure_skip_tls_verify]
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

/// The payload JSON from a file (`p.json` or, as curl and gh write it, `@p.json`), or from stdin
/// for `-` (and `@` alone, as before).
pub fn read_payload(source: &str) -> Result<serde_json::Value, Failure> {
    let source = match source.strip_prefix('@') {
        Some(path) if !path.is_empty() => path,
        _ => source,
    };
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

/// How `pipeline config deploy` and `up` deploy a version (docs/pipelines.md#safe-deployments).
/// No flag is the instant switch.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Deployment strategy")]
pub struct StrategyArgs {
    /// Canary: send PCT% (1-100) of new runs to the new version, watch them, then promote it or roll it back
    #[arg(long, value_name = "PCT")]
    pub canary: Option<u64>,
    /// How long a canary bakes: a number of completed canary runs (6) or a duration (90s, 30m, 2h) [default: 10 runs]
    #[arg(long, value_name = "RUNS|DURATION", requires = "canary")]
    pub bake: Option<String>,
    /// Highest canary failure rate that still promotes: 0.2 or 20% [default: 0]
    #[arg(long, value_name = "R", requires = "canary")]
    pub max_failure_rate: Option<String>,
    /// Completed canary runs needed before the failure rate can roll back [default: 3, or the bake's run count if smaller]
    #[arg(long, value_name = "N", requires = "canary")]
    pub min_sample: Option<u64>,
    /// Blue/green: run the new version once on its own first; it goes live only if that run succeeds
    #[arg(long, conflicts_with = "canary")]
    pub smoke: bool,
    /// A variable for the smoke run (repeatable)
    #[arg(long = "smoke-var", value_name = "K=V", value_parser = key_value, requires = "smoke")]
    pub smoke_vars: Vec<(String, String)>,
    /// JSON payload for the smoke run: a file (p.json or @p.json), or - for stdin
    #[arg(long, value_name = "SOURCE", requires = "smoke")]
    pub smoke_payload: Option<String>,
    /// Wait until a canary or smoke deployment concludes, printing its progress; exit 8 if it fails
    #[arg(long)]
    pub wait: bool,
}

impl StrategyArgs {
    /// The deploy body these flags ask for; bad values are exit 7 naming the flag.
    pub fn request(&self) -> Result<gofer_core::api::DeployRequest, Failure> {
        use gofer_core::api::{CanaryRequest, DeployRequest, OrderedMap, SmokeRequest};
        let mut request = DeployRequest::default();
        if let Some(percent) = self.canary {
            let mut canary = CanaryRequest {
                percent,
                min_sample: self.min_sample,
                ..CanaryRequest::default()
            };
            if let Some(bake) = &self.bake {
                if let Ok(runs) = bake.trim().parse::<u64>() {
                    canary.bake_runs = Some(runs);
                } else {
                    let d = gofer_core::duration::parse(bake).map_err(|e| {
                        Failure::invalid(format!(
                            "--bake: '{bake}' is neither a number of runs (6) nor a duration \
                             (30m): {e}"
                        ))
                    })?;
                    canary.bake_seconds = Some(d.as_secs());
                }
            }
            if let Some(rate) = &self.max_failure_rate {
                let text = rate.trim();
                let parsed = match text.strip_suffix('%') {
                    Some(pct) => pct.trim().parse::<f64>().map(|p| p / 100.0),
                    None => text.parse::<f64>(),
                };
                canary.max_failure_rate = Some(parsed.map_err(|_| {
                    Failure::invalid(format!(
                        "--max-failure-rate: '{rate}' is not a rate; write 0.2 or 20%"
                    ))
                })?);
            }
            request.canary = Some(canary);
        }
        if self.smoke {
            let payload = match &self.smoke_payload {
                Some(source) => Some(read_payload(source)?),
                None => None,
            };
            request.smoke = Some(SmokeRequest {
                variables: OrderedMap(self.smoke_vars.clone()),
                payload,
            });
        }
        // The server checks the same rules; checking here names the flag instead of the field.
        request.plan().map_err(|e| {
            Failure::invalid(
                e.replace("canary.percent", "--canary")
                    .replace("canary.bake_runs", "--bake")
                    .replace("canary.bake_seconds", "--bake")
                    .replace("canary.max_failure_rate", "--max-failure-rate")
                    .replace("canary.min_sample", "--min-sample"),
            )
        })?;
        Ok(request)
    }

    /// Whether any strategy flag was given.
    pub fn is_instant(&self) -> bool {
        self.canary.is_none() && !self.smoke
    }
}
