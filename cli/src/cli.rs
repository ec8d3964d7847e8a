//! The command line (SPEC §15): global flags and the command tree. Parsing only; each noun's
//! behaviour lives in `commands/<noun>.rs` (STYLE rule 19).

use crate::commands::{
    config::ConfigCommand, console::ConsoleArgs, event::EventCommand, namespace::NamespaceCommand,
    pipeline::PipelineCommand, role::RoleCommand, run::RunCommand, service::ServiceCommand,
    task::TaskCommand, token::TokenCommand,
};
use clap::builder::{BoolishValueParser, PossibleValuesParser, TypedValueParser};
use clap::{ArgAction, Args, Parser, Subcommand};
use gofer_core::enums::OutputFormat;
use std::path::PathBuf;

/// Gofer runs pipelines of container tasks. One binary: server, CLI and console.
#[derive(Debug, Parser)]
#[command(
    name = "gofer",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Global flags (SPEC §15.1). Each falls back to its environment variable, then to the CLI
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a pipeline (program directory, .json file or - for stdin), register it and deploy
    /// it; prints what changed against the live version
    Up {
        /// A pipeline program's directory (Cargo.toml or go.mod), a .json file, or - for stdin
        path: String,
        /// Register the new version without making it live
        #[arg(long)]
        no_deploy: bool,
    },
    /// Inspect the CLI configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage namespaces
    #[command(subcommand)]
    Namespace(NamespaceCommand),
    /// Manage pipelines, their config versions and deployments
    #[command(subcommand)]
    Pipeline(PipelineCommand),
    /// Start, inspect, cancel and watch runs
    #[command(subcommand)]
    Run(RunCommand),
    /// Inspect a run's task executions, read their logs, cancel or attach to them
    #[command(subcommand)]
    Task(TaskCommand),
    /// Read and follow the event log
    #[command(subcommand)]
    Event(EventCommand),
    /// Manage API tokens: create, disable, delete; bootstrap the first one
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage roles: named sets of permissions that tokens hold
    #[command(subcommand)]
    Role(RoleCommand),
    /// Manage pipeline and global secrets
    #[command(subcommand)]
    Secret(crate::commands::secret::SecretCommand),
    /// Install, enable, disable and inspect extensions (interval, cron, your own)
    #[command(subcommand)]
    Extension(crate::commands::extension::ExtensionCommand),
    /// Run or configure the Gofer server
    #[command(subcommand)]
    Service(ServiceCommand),
    /// The operator console: a full-screen terminal UI of runs, DAGs, logs and events
    Console(ConsoleArgs),
    /// Entrypoints of the images the server builds from this executable (SPEC §12.10)
    #[command(subcommand, hide = true)]
    Builtin(crate::commands::builtin::BuiltinCommand),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_are_global() {
        let cli = Cli::try_parse_from([
            "gofer",
            "namespace",
            "list",
            "--output",
            "JSON",
            "--namespace",
            "x",
        ])
        .unwrap();
        assert_eq!(cli.global.output, Some(OutputFormat::Json));
        assert_eq!(cli.global.namespace.as_deref(), Some("x"));
    }
}
