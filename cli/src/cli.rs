//! The command line (docs/cli.md): global flags and the command tree. Parsing only; each noun's
//! behaviour lives in `commands/<noun>.rs`.

pub use crate::args::GlobalArgs;
use crate::commands::{
    config::ConfigCommand, console::ConsoleArgs, event::EventCommand, namespace::NamespaceCommand,
    pipeline::PipelineCommand, role::RoleCommand, run::RunCommand, service::ServiceCommand,
    task::TaskCommand, token::TokenCommand,
};
use clap::{Parser, Subcommand};

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a pipeline (program directory, .json file or - for stdin), register it and deploy
    /// it; prints what changed against the live version
    Up {
        /// A pipeline program's directory (Cargo.toml or go.mod), a .json file, or - for stdin
        path: String,
        /// Register the new version without making it live
        #[arg(long, conflicts_with_all = ["canary", "smoke"])]
        no_deploy: bool,
        #[command(flatten)]
        strategy: crate::args::StrategyArgs,
    },
    /// Print a shell completion script: gofer completion bash > /etc/bash_completion.d/gofer
    Completion {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): gofer man | man -l -
    Man,
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
    /// Entrypoints of the images the server builds from this executable (docs/extensions.md#images-gofer-builds-itself)
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
        assert_eq!(
            cli.global.output,
            Some(gofer_core::enums::OutputFormat::Json)
        );
        assert_eq!(cli.global.namespace.as_deref(), Some("x"));
    }
}
