//! `gofer`: the one binary. `main` parses, dispatches and maps errors to the exit
//! codes of docs/cli.md#exit-codes; it is the only place that calls `process::exit`.

mod args;
mod cli;
mod commands;
mod complete;
mod exit;
mod failure;
mod output;
mod settings;
mod std_extensions;
mod time;
mod watch;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use cli::{Cli, Command};
use commands::Ctx;
use commands::service::ServiceCommand;
use settings::Settings;
use time::TimeFormat;

fn main() {
    quiet_on_closed_pipes();
    // Every TLS connection of this process (server, extensions, CLI) uses ring.
    gofer_sdk::install_crypto_provider();
    // A shell asking for completions (COMPLETE=<shell>, set by the script `gofer completion`
    // prints) is answered here, and the process ends.
    clap_complete::CompleteEnv::with_factory(completion_command).complete();
    std::process::exit(run());
}

/// The command tree shell completion works from (docs/cli.md#shell-completion-and-manual): the
/// parser's, with the hidden `builtin` entrypoints out of reach. The completion engine offers a
/// hidden subcommand when it alone matches what was typed, and clap cannot remove a subcommand,
/// so it is renamed to a name nobody starts typing.
fn completion_command() -> clap::Command {
    Cli::command().mut_subcommand("builtin", |builtin| builtin.name("__builtin"))
}

/// A closed stdout or stderr (`gofer … | head -1`) ends the command quietly, as it does for
/// git and ripgrep: no panic message, no `error: Broken pipe`, exit 0.
fn quiet_on_closed_pipes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(exit::EXIT_OK);
        }
        default(info);
    }));
}

/// Whether `err` is a write to a closed pipe.
fn broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run() -> i32 {
    let started = std::time::Instant::now();
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(err) => {
            // The hidden `builtin` entrypoint is never a useful suggestion.
            if err.kind() == clap::error::ErrorKind::InvalidSubcommand
                && matches!(
                    err.get(clap::error::ContextKind::SuggestedSubcommand),
                    Some(clap::error::ContextValue::Strings(s)) if s.iter().any(|s| s == "builtin")
                )
            {
                let invalid = match err.get(clap::error::ContextKind::InvalidSubcommand) {
                    Some(clap::error::ContextValue::String(s)) => s.clone(),
                    _ => String::new(),
                };
                eprintln!(
                    "error: unrecognized subcommand '{invalid}'\n\nUsage: gofer [OPTIONS] <COMMAND>\n\nFor more information, try '--help'."
                );
                return exit::EXIT_USAGE;
            }
            let _ = err.print();
            // Help and version exit 0, everything else is a usage error.
            return if err.use_stderr() {
                exit::EXIT_USAGE
            } else {
                exit::EXIT_OK
            };
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return exit::EXIT_USAGE;
        }
    };
    let mut debug = false;
    let mut json = cli.global.output == Some(gofer_core::enums::OutputFormat::Json);
    let result = match cli.command {
        // Inside a task container: no settings, no server, its own exit codes (docs/extensions.md#images-gofer-builds-itself).
        Command::Builtin(command) => return commands::builtin::run(command),
        // Neither needs settings nor a server.
        Command::Completion { shell } => commands::shell::completion(shell),
        Command::Man => commands::shell::man(),
        Command::Service(ServiceCommand::Start {
            log_format, dev, ..
        }) => {
            // Under `service`, `--config` names the server config file (docs/cli.md); only a value
            // given on the command line counts, not GOFER_CONFIG (that names the CLI config).
            let given = matches.value_source("config") == Some(ValueSource::CommandLine);
            let path = cli.global.config.as_deref().filter(|_| given);
            commands::service::start(path, log_format.as_deref(), dev)
        }
        Command::Service(ServiceCommand::InitConfig { path, force }) => {
            commands::service::init_config(path.as_deref(), force)
        }
        Command::Service(ServiceCommand::Doctor { config, quarantine }) => {
            let json = cli.global.output == Some(gofer_core::enums::OutputFormat::Json);
            commands::service::doctor(config.as_deref(), quarantine, json)
        }
        command => match resolve_settings(&cli.global, &matches) {
            Ok(settings) => {
                debug = settings.debug.value;
                json = settings.output.value == gofer_core::enums::OutputFormat::Json;
                dispatch(settings, command, started)
            }
            Err(err) => Err(err),
        },
    };
    match result {
        Ok(()) => exit::EXIT_OK,
        Err(err) if broken_pipe(&err) => exit::EXIT_OK,
        Err(err) => {
            let code = failure::exit_code(&err);
            if json {
                report_json(&err, code);
            } else {
                report(&err, debug);
            }
            code
        }
    }
}

/// With `--output json`, errors are JSON on stderr too: `{"error": "…", "exit_code": 3}` (and
/// the `request_id` the server gave, when there is one).
fn report_json(err: &anyhow::Error, code: i32) {
    let mut body = serde_json::json!({"error": format!("{err:#}"), "exit_code": code});
    if let Some(gofer_sdk::Error::Api { request_id, .. }) = err
        .chain()
        .find_map(|c| c.downcast_ref::<gofer_sdk::Error>())
        && !request_id.is_empty()
    {
        body["request_id"] = serde_json::Value::String(request_id.clone());
    }
    eprintln!("{body}");
}

fn resolve_settings(
    args: &args::GlobalArgs,
    matches: &clap::ArgMatches,
) -> anyhow::Result<Settings> {
    let env = |key: &str| std::env::var(key).ok();
    let (settings, warnings) = Settings::resolve(args, matches, &env)?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    Ok(settings)
}

fn dispatch(
    settings: Settings,
    command: Command,
    started: std::time::Instant,
) -> anyhow::Result<()> {
    if let Command::Console(args) = command {
        // The console takes over the terminal and traces to a file (docs/cli.md#console).
        return commands::console::run(&settings, args, started);
    }
    if settings.debug.value {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("gofer_sdk=debug"))
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    if let Command::Config(command) = command {
        commands::config::run(&settings, command);
        return Ok(());
    }
    let client = settings.client()?;
    let times = TimeFormat {
        now_ms: gofer_core::now_millis(),
        absolute: settings.detail.value,
    };
    let ctx = Ctx {
        client,
        settings,
        times,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            // Answered before settings are resolved (see `run`); kept here for completeness.
            Command::Completion { shell } => commands::shell::completion(shell),
            Command::Man => commands::shell::man(),
            Command::Up {
                path,
                no_deploy,
                strategy,
            } => commands::up::up(&ctx, &path, no_deploy, &strategy).await,
            Command::Namespace(command) => commands::namespace::run(&ctx, command).await,
            Command::Pipeline(command) => commands::pipeline::run(&ctx, command).await,
            Command::Run(command) => commands::run::run(&ctx, command).await,
            Command::Task(command) => commands::task::run(&ctx, command).await,
            Command::Event(command) => commands::event::run(&ctx, command).await,
            Command::Token(command) => commands::token::run(&ctx, command).await,
            Command::Role(command) => commands::role::run(&ctx, command).await,
            Command::Secret(command) => commands::secret::run(&ctx, command).await,
            Command::Extension(command) => commands::extension::run(&ctx, command).await,
            Command::Service(ServiceCommand::ToggleEventIngress) => {
                commands::service::toggle_event_ingress(&ctx).await
            }
            Command::Service(ServiceCommand::Backup { file }) => {
                commands::service::backup(&ctx, &file).await
            }
            Command::Config(_)
            | Command::Builtin(_)
            | Command::Console(_)
            | Command::Service(
                ServiceCommand::Start { .. }
                | ServiceCommand::InitConfig { .. }
                | ServiceCommand::Doctor { .. },
            ) => {
                unreachable!("handled before connecting")
            }
        }
    })
}

/// Prints `error: …` on stderr: the server's message with its request id, or a hint for an
/// unreachable server (docs/cli.md#global-flags).
fn report(err: &anyhow::Error, debug: bool) {
    let sdk = err
        .chain()
        .find_map(|c| c.downcast_ref::<gofer_sdk::Error>());
    match sdk {
        // The SDK's message says which settings make the certificate trusted.
        Some(e) if e.is_untrusted_certificate() => eprintln!("error: {e}"),
        Some(gofer_sdk::Error::Unreachable { url, message }) => {
            eprintln!(
                "error: cannot reach the Gofer server at {url}: is the server running? start it with 'gofer service start'"
            );
            if debug {
                eprintln!("cause: {message}");
            }
        }
        Some(gofer_sdk::Error::Api { request_id, .. }) if !request_id.is_empty() => {
            eprintln!("error: {err:#} (request_id {request_id})");
        }
        _ => eprintln!("error: {err:#}"),
    }
}
