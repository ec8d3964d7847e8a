//! `gofer up` and `gofer pipeline validate` (docs/cli.md#pipelines-as-code, docs/cli.md): turn a pipeline program or a
//! JSON file into a config, then register and deploy it, or only check it locally.

use super::Ctx;
use crate::failure::Failure;
use gofer_core::api::{Config, Deployment, Pipeline, PipelineConfigInput};
use serde::Serialize;
use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many lines of a failed build's stderr are shown (docs/cli.md#pipelines-as-code step 2).
const SHOWN_BUILD_LINES: usize = 15;

/// `gofer up --output json` (docs/cli.md#pipelines-as-code step 4).
#[derive(Debug, Serialize)]
struct UpOutput {
    pipeline: Pipeline,
    deployment: Option<Deployment>,
    /// The config equals the live version: nothing was registered or deployed.
    unchanged: bool,
}

/// Where a pipeline config comes from (docs/cli.md#pipelines-as-code step 1).
#[derive(Debug)]
enum Source {
    Cargo(PathBuf),
    Go(PathBuf),
    Json(PathBuf),
    Stdin,
}

fn source(path: &str) -> Result<Source, Failure> {
    if path == "-" {
        return Ok(Source::Stdin);
    }
    let p = Path::new(path);
    if p.is_dir() {
        if p.join("Cargo.toml").is_file() {
            return Ok(Source::Cargo(p.to_path_buf()));
        }
        if p.join("go.mod").is_file() {
            return Ok(Source::Go(p.to_path_buf()));
        }
        return Err(Failure::invalid(format!(
            "'{path}' has neither a Cargo.toml nor a go.mod; pass a pipeline program's directory, a .json file or - for stdin"
        )));
    }
    if path.ends_with(".json") {
        return Ok(Source::Json(p.to_path_buf()));
    }
    if !p.exists() {
        return Err(Failure::invalid(format!("'{path}' does not exist")));
    }
    Err(Failure::invalid(format!(
        "'{path}' is not a pipeline: pass a directory with a Cargo.toml or go.mod, a file ending in .json, or - for stdin"
    )))
}

/// Builds the pipeline config from `path` as `gofer up` does: runs a program (build phase on
/// stderr), or reads JSON. A failing program is exit 9, anything unreadable or invalid JSON exit 7.
pub fn load(path: &str) -> Result<PipelineConfigInput, Failure> {
    let text = match source(path)? {
        Source::Stdin => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                Failure::invalid(format!("cannot read the pipeline from stdin: {e}"))
            })?;
            text
        }
        Source::Json(file) => std::fs::read_to_string(&file)
            .map_err(|e| Failure::invalid(format!("cannot read '{}': {e}", file.display())))?,
        Source::Cargo(dir) => {
            let manifest = dir.join("Cargo.toml");
            let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
            cmd.args(["run", "--quiet", "--manifest-path"])
                .arg(&manifest);
            let shown = format!("cargo run --quiet --manifest-path {}", manifest.display());
            run_program(cmd, &shown, path)?
        }
        Source::Go(dir) => {
            let mut cmd = Command::new("go");
            cmd.args(["run", "."]).current_dir(&dir);
            let shown = format!("cd {} && go run .", dir.display());
            run_program(cmd, &shown, path)?
        }
    };
    parse(&text)
}

/// The JSON is the bare config or `{"config": {…}}` (docs/cli.md#pipelines-as-code step 3).
fn parse(text: &str) -> Result<PipelineConfigInput, Failure> {
    let invalid = |e: serde_json::Error| Failure::invalid(format!("invalid pipeline JSON: {e}"));
    let mut value: serde_json::Value = serde_json::from_str(text).map_err(invalid)?;
    if let Some(inner) = value.get_mut("config").filter(|c| c.is_object()) {
        value = inner.take();
    }
    if !value.is_object() {
        return Err(Failure::invalid(
            "invalid pipeline JSON: expected an object with the config ({\"id\", \"name\", \"tasks\", …})",
        ));
    }
    serde_json::from_value(value).map_err(invalid)
}

/// Runs a pipeline program: stdout is the config JSON; stderr drives a spinner when stderr is a
/// terminal, and its last lines are shown when the program fails (exit 9).
fn run_program(mut cmd: Command, shown: &str, path: &str) -> Result<String, Failure> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| Failure {
        code: crate::exit::EXIT_BUILD_FAILED,
        message: format!("cannot run '{shown}': {e}"),
    })?;
    let lines: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let stderr = child.stderr.take().expect("piped");
    let reader = {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut lines = lines.lock().expect("not poisoned");
                if lines.len() == SHOWN_BUILD_LINES {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        })
    };
    let done = Arc::new(AtomicBool::new(false));
    let spinner = std::io::stderr().is_terminal().then(|| {
        let (done, lines, path) = (done.clone(), lines.clone(), path.to_string());
        std::thread::spawn(move || spin(&done, &lines, &path))
    });
    let mut stdout = String::new();
    let read = child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut stdout);
    let status = child.wait();
    let _ = reader.join();
    done.store(true, Ordering::Relaxed);
    if let Some(spinner) = spinner {
        let _ = spinner.join();
    }
    let status = status.map_err(|e| Failure {
        code: crate::exit::EXIT_BUILD_FAILED,
        message: format!("'{shown}' did not finish: {e}"),
    })?;
    if !status.success() {
        let lines = lines.lock().expect("not poisoned");
        let mut message = format!("the pipeline program at '{path}' failed ({status})");
        if !lines.is_empty() {
            message.push_str(&format!(
                "; the last {} lines of its output:\n",
                lines.len()
            ));
            for line in lines.iter() {
                message.push_str("  ");
                message.push_str(line);
                message.push('\n');
            }
        } else {
            message.push('\n');
        }
        message.push_str(&format!("reproduce with: {shown}"));
        return Err(Failure {
            code: crate::exit::EXIT_BUILD_FAILED,
            message,
        });
    }
    read.map_err(|e| Failure::invalid(format!("the output of '{shown}' is not UTF-8 text: {e}")))?;
    Ok(stdout)
}

/// Draws `⠋ building <path>: <latest stderr line>` until `done`, then clears the line.
fn spin(done: &AtomicBool, lines: &Mutex<VecDeque<String>>, path: &str) {
    const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let mut err = std::io::stderr();
    let mut frame = 0;
    while !done.load(Ordering::Relaxed) {
        let latest = lines
            .lock()
            .expect("not poisoned")
            .back()
            .cloned()
            .unwrap_or_default();
        let mut text = format!("{} building {path}: {latest}", FRAMES[frame % FRAMES.len()]);
        text = text.chars().take(99).collect();
        let _ = write!(err, "\r\x1b[2K{text}");
        let _ = err.flush();
        frame += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = write!(err, "\r\x1b[2K");
    let _ = err.flush();
}

/// `gofer pipeline validate <path>`: builds and checks the config with the server's own rules
/// (docs/pipelines.md#writing-a-pipeline-config), without a server.
pub fn validate(ctx: &Ctx, path: &str) -> anyhow::Result<()> {
    let input = load(path)?;
    let valid = gofer_core::validate::validate_config(&input.id, &input)
        .map_err(|e| Failure::invalid(format!("invalid pipeline: {e}")))?;
    let body = gofer_core::api::RegisterConfigRequest { config: input };
    ctx.print(&body, || {
        format!(
            "pipeline '{}' is valid: {} task(s): {}\n",
            valid.id,
            valid.tasks.len(),
            valid.dag.order().join(", ")
        )
    });
    Ok(())
}

/// `gofer up <path> [--no-deploy | strategy flags]` (docs/cli.md#pipelines-as-code,
/// docs/pipelines.md#safe-deployments).
pub async fn up(
    ctx: &Ctx,
    path: &str,
    no_deploy: bool,
    strategy: &crate::args::StrategyArgs,
) -> anyhow::Result<()> {
    // Bad strategy flags are refused before anything is registered.
    strategy.request()?;
    let input = load(path)?;
    let ns = ctx.namespace();
    let p = input.id.clone();
    // The live version before this registration, to report what changes. A pipeline that does
    // not exist yet has none.
    let before = match live_config(ctx, ns, &p).await {
        Ok(live) => live,
        Err(e) if not_found(&e) => None,
        Err(e) => return Err(e),
    };
    // The same config as the live version: registering it would only add a copy.
    if let Some(live) = before.as_ref().filter(|live| same_config(&input, live)) {
        if ctx.json() {
            let metadata = ctx.client.get_pipeline(ns, &p).await?;
            ctx.print(
                &UpOutput {
                    pipeline: Pipeline {
                        metadata,
                        config: live.clone(),
                    },
                    deployment: None,
                    unchanged: true,
                },
                String::new,
            );
        } else {
            crate::output::print(format_args!(
                "pipeline '{p}' is unchanged: live version {} already has this config; nothing registered
                 next:
  gofer run start {p} --watch
  gofer pipeline get {p}
",
                live.version
            ));
        }
        return Ok(());
    }
    let pipeline = ctx.client.register_config(ns, &p, &input).await?;
    let version = pipeline.config.version;
    let mut out = format!("registered version {version} of pipeline '{p}' in namespace '{ns}'\n");
    out.push_str(&describe_changes(
        before.as_ref(),
        &pipeline.config,
        crate::output::colour(),
    ));
    // A canary compares the new version with the live one; a first version has none, so it
    // goes live at once.
    let first_canary = before.is_none() && strategy.canary.is_some();
    if !ctx.json() && !no_deploy {
        crate::output::print(format_args!("{out}"));
        out.clear();
        if first_canary {
            out.push_str(
                "no live version to compare a canary with: this first version goes live at once\n",
            );
        }
    }
    let deployment = if no_deploy {
        None
    } else if first_canary {
        Some(ctx.client.deploy_config(ns, &p, version).await?)
    } else {
        Some(super::deploy::deploy(ctx, ns, &p, version, strategy).await?)
    };
    if ctx.json() {
        ctx.print(
            &UpOutput {
                pipeline,
                deployment,
                unchanged: false,
            },
            String::new,
        );
        return Ok(());
    }
    match &deployment {
        Some(d) if d.state == gofer_core::enums::DeploymentState::Running => {
            out.push_str(&super::deploy::started(d))
        }
        Some(d) if d.strategy != gofer_core::enums::DeploymentStrategy::Instant => {
            out.push_str(&super::deploy::started(d))
        }
        Some(d) => out.push_str(&format!(
            "deployed version {} (deployment {}): {}\n",
            d.end_version, d.deployment_id, d.status
        )),
        None => out.push_str(&format!(
            "not deployed (--no-deploy); make it live with 'gofer pipeline config deploy {p} {version}'\n"
        )),
    }
    out.push_str(&format!(
        "next:\n  gofer run start {p} --watch\n  gofer pipeline get {p}\n"
    ));
    crate::output::print(format_args!("{out}"));
    Ok(())
}

/// Whether `input` would register exactly the live config (compared as the server stores it).
fn same_config(input: &PipelineConfigInput, live: &Config) -> bool {
    match gofer_core::validate::validate_config(&input.id, input) {
        Ok(valid) => {
            valid.name == live.name
                && valid.description == live.description
                && valid.parallelism == live.parallelism
                && valid.timeout == live.timeout
                && valid.overlap == live.overlap
                && valid.notifications == live.notifications
                && valid.tasks == live.tasks
        }
        Err(_) => false,
    }
}

fn not_found(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<gofer_sdk::Error>(),
            Some(gofer_sdk::Error::Api { status: 404, .. })
        )
    })
}

/// What changed against the live version: tasks added and removed, and every changed field
/// with its old and new value (`gofer pipeline config diff` shows the same).
pub fn describe_changes(before: Option<&Config>, after: &Config, colour: bool) -> String {
    let Some(before) = before else {
        let ids: Vec<&str> = after.tasks.keys().map(String::as_str).collect();
        return format!(
            "no live version before: {} task(s) added: {}\n",
            ids.len(),
            ids.join(", ")
        );
    };
    let diff = gofer_core::diff::diff(before, after);
    if diff.is_empty() {
        return format!("no changes against live version {}\n", before.version);
    }
    format!(
        "changes against live version {}:\n{}",
        before.version,
        crate::output::config_diff_lines(&diff, colour)
    )
}

/// The live config version, if any: configs are listed page by page until one is `live`.
pub(crate) async fn live_config(
    ctx: &Ctx,
    ns: &str,
    pipeline: &str,
) -> anyhow::Result<Option<Config>> {
    const PAGE: u64 = gofer_core::api::MAX_LIMIT;
    let mut offset = 0;
    loop {
        let page = gofer_core::api::Page {
            limit: PAGE,
            offset,
            reverse: false,
        };
        let configs = ctx.client.list_configs(ns, pipeline, Some(page)).await?;
        let count = configs.len() as u64;
        if let Some(live) = configs
            .into_iter()
            .find(|c| c.state == gofer_core::enums::ConfigState::Live)
        {
            return Ok(Some(live));
        }
        if count < PAGE {
            return Ok(None);
        }
        offset += PAGE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_may_be_bare_or_wrapped() {
        let bare = parse(r#"{"id": "abc", "name": "n", "tasks": []}"#).unwrap();
        let wrapped = parse(r#"{"config": {"id": "abc", "name": "n", "tasks": []}}"#).unwrap();
        assert_eq!(bare, wrapped);
        assert_eq!(bare.id, "abc");
        for bad in ["not json", "[1]", r#"{"id": 3}"#] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code, crate::exit::EXIT_INVALID);
            assert!(
                e.message.starts_with("invalid pipeline JSON"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn unknown_sources_are_invalid_input() {
        let e = source("/no/such/pipeline").unwrap_err();
        assert_eq!(e.code, crate::exit::EXIT_INVALID);
        let dir = tempfile::tempdir().unwrap();
        let e = source(dir.path().to_str().unwrap()).unwrap_err();
        assert!(
            e.message.contains("neither a Cargo.toml nor a go.mod"),
            "{}",
            e.message
        );
    }
}
