//! `gofer completion <shell>` and `gofer man` (docs/cli.md#shell-completion-and-manual): generated
//! from the same command tree the CLI parses with, so they never drift from it. The hidden
//! `builtin` entrypoints are left out.

use crate::cli::Cli;
use clap::CommandFactory as _;

fn command() -> clap::Command {
    Cli::command()
}

/// Writes the completion script for `shell` to stdout: it calls `COMPLETE=<shell> gofer -- …`
/// on every Tab, which `main` answers from the command tree and, for ids, from the server
/// (`crate::complete`).
pub fn completion(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells
        .completer(&name)
        .ok_or_else(|| anyhow::anyhow!("no completion support for {name}"))?;
    let mut out = Vec::new();
    completer.write_registration("COMPLETE", "gofer", "gofer", "gofer", &mut out)?;
    crate::output::print(String::from_utf8_lossy(&out));
    Ok(())
}

/// Writes the manual page (roff) to stdout: name, synopsis, the global options and every
/// command with its one-line description.
pub fn man() -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command()).render(&mut out)?;
    crate::output::print(String::from_utf8_lossy(&out));
    Ok(())
}
