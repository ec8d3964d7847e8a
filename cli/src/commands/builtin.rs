//! `gofer builtin …`: hidden entrypoints of the locally packaged images (docs/extensions.md#images-gofer-builds-itself). They run
//! inside task containers built `FROM scratch` with this executable as `/gofer`, so they use only
//! the standard library and never talk to a server.

use clap::Subcommand;
use std::io::Write;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum BuiltinCommand {
    /// Debug task images (gofer.local/debug-*)
    #[command(subcommand)]
    Debug(DebugCommand),
    /// Standard extensions (gofer.local/extension-*)
    #[command(subcommand)]
    Extension(ExtensionCommand),
}

#[derive(Debug, Subcommand)]
pub enum ExtensionCommand {
    /// Start a run of each subscribed pipeline every `every` (docs/extensions.md#the-built-in-extensions)
    Interval,
    /// Start a run of each subscribed pipeline at every minute its cron expression matches
    Cron,
    /// Start runs of subscribed pipelines for signed GitHub webhooks
    Github,
}

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Print every environment variable as KEY=VALUE, sorted by key, and exit 0
    Envs,
    /// Sleep 4 s and exit 1
    Fail,
    /// Print LOGS_HEADER when set, then 15 numbered lines, one every LOG_INTERVAL (default 1s)
    Log,
    /// Print `waiting <WAIT_DURATION>`, sleep for it and exit 0 (42 when missing or invalid)
    Wait,
}

/// Exit code of `debug wait` without a usable `WAIT_DURATION` (docs/extensions.md#images-gofer-builds-itself).
pub const EXIT_WAIT_INVALID: i32 = 42;

/// Runs a builtin; returns the process exit code.
pub fn run(command: BuiltinCommand) -> i32 {
    let debug = match command {
        BuiltinCommand::Debug(debug) => debug,
        BuiltinCommand::Extension(extension) => return run_extension(extension),
    };
    let mut out = std::io::stdout().lock();
    // A closed stdout (the engine went away) is not worth a panic in a debug task.
    match debug {
        DebugCommand::Envs => {
            let _ = write!(out, "{}", envs(std::env::vars_os()));
            0
        }
        DebugCommand::Fail => {
            let _ = writeln!(out, "failing on purpose in 4s");
            let _ = out.flush();
            std::thread::sleep(Duration::from_secs(4));
            eprintln!("exiting with 1, as gofer.local/debug-fail always does");
            1
        }
        DebugCommand::Log => {
            let interval = match std::env::var("LOG_INTERVAL") {
                Ok(text) => match gofer_core::duration::parse(&text) {
                    Ok(interval) => interval,
                    Err(e) => {
                        eprintln!("error: LOG_INTERVAL: {e}");
                        return 1;
                    }
                },
                Err(_) => Duration::from_secs(1),
            };
            if let Some(header) = std::env::var_os("LOGS_HEADER") {
                let _ = writeln!(out, "{}", header.to_string_lossy());
            }
            for n in 1..=15 {
                if n > 1 {
                    std::thread::sleep(interval);
                }
                let _ = writeln!(out, "log line {n} of 15");
                let _ = out.flush();
            }
            0
        }
        DebugCommand::Wait => {
            let Some(text) = std::env::var_os("WAIT_DURATION") else {
                eprintln!("error: WAIT_DURATION is not set; set it to e.g. 30s or 1h30m");
                return EXIT_WAIT_INVALID;
            };
            let text = text.to_string_lossy();
            let duration = match gofer_core::duration::parse(&text) {
                Ok(duration) => duration,
                Err(e) => {
                    eprintln!("error: WAIT_DURATION: {e}");
                    return EXIT_WAIT_INVALID;
                }
            };
            let _ = writeln!(out, "waiting {text}");
            let _ = out.flush();
            std::thread::sleep(duration);
            0
        }
    }
}

/// Runs a standard extension until it is told to shut down; 1 when it cannot start.
fn run_extension(command: ExtensionCommand) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(async move {
        let env = crate::std_extensions::SystemEnv::from_env()?;
        let extension: std::sync::Arc<dyn crate::std_extensions::Extension> = match command {
            ExtensionCommand::Interval => {
                std::sync::Arc::new(crate::std_extensions::interval::Interval::new(&env)?)
            }
            ExtensionCommand::Cron => {
                std::sync::Arc::new(crate::std_extensions::cron::Cron::new(&env)?)
            }
            ExtensionCommand::Github => {
                std::sync::Arc::new(crate::std_extensions::github::Github::new(&env)?)
            }
        };
        crate::std_extensions::serve(env, extension).await
    });
    match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}

/// `KEY=VALUE` lines sorted by key (non-UTF-8 bytes replaced).
fn envs(vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>) -> String {
    let mut vars: Vec<(String, String)> = vars
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    vars.sort();
    vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envs_are_sorted_by_key() {
        let vars = [("B", "2"), ("A", "x=y"), ("GOFER_TASK_ID", "t")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()));
        assert_eq!(envs(vars), "A=x=y\nB=2\nGOFER_TASK_ID=t\n");
    }
}
