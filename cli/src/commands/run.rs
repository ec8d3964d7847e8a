//! `gofer run …` (docs/cli.md, docs/runs.md#queue, docs/runs.md#cancellation, docs/runs.md#results-and-payload, docs/api.md#runs-and-task-executions): start, list, inspect, cancel
//! and watch a pipeline's runs. `gofer pipeline run` is [`start`] too.

use super::Ctx;
use super::task::tasks_table;
use crate::args::{key_value, read_payload};
use crate::failure::Failure;
use crate::output::{Table, details, or_dash};
use crate::time::duration;
use crate::watch;
use clap::{Args, Subcommand};
use gofer_core::api::{OrderedMap, Page, Run, RunResponse, RunsResponse, StartRunRequest};

#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// List a pipeline's runs, newest first
    // `--version` filters by config version here, so the command has no version flag of its own.
    #[command(disable_version_flag = true)]
    List {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// How many runs to show
        #[arg(long, default_value_t = 10)]
        limit: u64,
        /// How many runs to skip
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Oldest first
        #[arg(long)]
        no_reverse: bool,
        /// Only the runs made with this config version
        #[arg(long = "version", value_name = "VERSION")]
        config_version: Option<u64>,
    },
    /// Show a run and its task executions
    Get {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
    },
    /// Why a run failed: failed tasks with reason, exit code and last log lines, the chain of skipped tasks, timeouts and retries
    Debug {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
        /// Log lines shown per failed task
        #[arg(long, default_value_t = 20)]
        lines: usize,
    },
    /// Start a run of the pipeline's live config version
    Start(StartArgs),
    /// Start a new run with a finished run's variables and payload; with --failed-only, the
    /// tasks that succeeded are reused instead of run again
    Retry {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// The run to retry (it must have ended)
        run: u64,
        /// Run again only what did not succeed: successful tasks keep their results and run no
        /// container
        #[arg(long)]
        failed_only: bool,
        /// Follow the new run until it completes, like `gofer run watch`
        #[arg(long)]
        watch: bool,
    },
    /// Cancel a pending or running run
    Cancel {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
        /// Kill the run's tasks at once instead of giving them the server's stop grace
        /// (api.task_execution_stop_timeout); also hurries a cancel already in progress
        #[arg(long)]
        force: bool,
    },
    /// Follow a run until it completes: task table on stderr, task logs on stdout; exits 0 when
    /// the run succeeds, 8 otherwise
    Watch {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
    },
    /// Store and read a run's objects
    #[command(subcommand)]
    Object(super::object::RunObjectCommand),
}

/// `run start` and `pipeline run`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Pipeline id
    pub pipeline: String,
    /// A run variable (repeatable)
    #[arg(short = 'v', long = "var", value_name = "K=V", value_parser = key_value)]
    pub vars: Vec<(String, String)>,
    /// JSON payload for the run's tasks (GOFER_RUN_PAYLOAD): a file (p.json or @p.json), or - for stdin
    #[arg(long, value_name = "FILE|@")]
    pub payload: Option<String>,
    /// Run only this task (repeatable); dependencies on other tasks are dropped for this run
    #[arg(long, value_name = "TASK")]
    pub only: Vec<String>,
    /// Replace the command of the single --only task, as shell words
    #[arg(long, value_name = "WORDS", requires = "only")]
    pub command: Option<String>,
    /// Follow the run until it completes, like `gofer run watch`
    #[arg(long)]
    pub watch: bool,
}

pub async fn run(ctx: &Ctx, command: RunCommand) -> anyhow::Result<()> {
    let ns = ctx.namespace();
    match command {
        RunCommand::List {
            pipeline,
            limit,
            offset,
            no_reverse,
            config_version,
        } => {
            let page = Page {
                limit,
                offset,
                reverse: !no_reverse,
            };
            let runs = match config_version {
                Some(version) => {
                    ctx.client
                        .list_runs_of_version(ns, &pipeline, version, Some(page))
                        .await?
                }
                None => ctx.client.list_runs(ns, &pipeline, Some(page)).await?,
            };
            let body = RunsResponse { runs };
            ctx.print(&body, || runs_table(ctx, &body.runs));
        }
        RunCommand::Debug {
            pipeline,
            run,
            lines,
        } => {
            let (diagnosis, logs) = diagnose(ctx, ns, &pipeline, run, lines).await?;
            let body = serde_json::json!({"diagnosis": diagnosis, "logs": logs});
            ctx.print(&body, || {
                let mut text = gofer_core::diagnosis::lines(&diagnosis, &logs).join("\n");
                text.push('\n');
                text
            });
        }
        RunCommand::Get { pipeline, run } => {
            let run = ctx.client.get_run(ns, &pipeline, run).await?;
            if ctx.json() {
                ctx.print(&RunResponse { run }, String::new);
            } else {
                let tasks = ctx
                    .client
                    .list_task_executions(ns, &pipeline, run.run_id, None)
                    .await?;
                let mut out = describe_run(ctx, &run);
                if !tasks.is_empty() {
                    out.push('\n');
                    out.push_str(&tasks_table(ctx, &tasks));
                }
                crate::output::print(format_args!("{out}"));
            }
        }
        RunCommand::Start(args) => start(ctx, args).await?,
        RunCommand::Retry {
            pipeline,
            run,
            failed_only,
            watch,
        } => retry(ctx, &pipeline, run, failed_only, watch).await?,
        RunCommand::Cancel {
            pipeline,
            run,
            force,
        } => {
            ctx.client
                .cancel_run_with(ns, &pipeline, run, force)
                .await?;
            ctx.done(if force {
                format!("run {run} of pipeline '{pipeline}': its tasks are being killed")
            } else {
                format!(
                    "cancellation of run {run} of pipeline '{pipeline}' requested; its tasks get \
                     the server's stop grace (--force kills them at once)"
                )
            });
        }
        RunCommand::Watch { pipeline, run } => {
            let run = ctx.client.get_run(ns, &pipeline, run).await?;
            watch::watch(ctx, &run).await?;
        }
        RunCommand::Object(command) => super::object::run_run(ctx, command).await?,
    }
    Ok(())
}

/// `run start` / `pipeline run`.
pub async fn start(ctx: &Ctx, args: StartArgs) -> anyhow::Result<()> {
    let payload = match &args.payload {
        Some(source) => Some(read_payload(source)?),
        None => None,
    };
    let command_override = match &args.command {
        Some(words) => Some(shell_words(words)?),
        None => None,
    };
    let request = StartRunRequest {
        variables: OrderedMap(args.vars),
        payload,
        only: (!args.only.is_empty()).then_some(args.only),
        command_override,
        subscription_id: None,
    };
    let run = ctx
        .client
        .start_run(ctx.namespace(), &args.pipeline, &request)
        .await?;
    if args.watch {
        if !ctx.json() {
            eprintln!(
                "run {} of pipeline '{}' queued (config version {})",
                run.run_id, run.pipeline_id, run.pipeline_config_version
            );
        }
        return watch::watch(ctx, &run).await;
    }
    let body = RunResponse { run };
    ctx.print(&body, || {
        let run = &body.run;
        format!(
            "run {} of pipeline '{}' queued (config version {}); follow it with 'gofer run watch {} {}'\n",
            run.run_id, run.pipeline_id, run.pipeline_config_version, run.pipeline_id, run.run_id
        )
    });
    Ok(())
}

/// `gofer run retry` (docs/runs.md#retrying-a-run).
async fn retry(
    ctx: &Ctx,
    pipeline: &str,
    old: u64,
    failed_only: bool,
    watch: bool,
) -> anyhow::Result<()> {
    let run = ctx
        .client
        .retry_run(ctx.namespace(), pipeline, old, failed_only)
        .await?;
    let reused = run
        .retry
        .as_ref()
        .map(|r| r.reused_tasks.clone())
        .unwrap_or_default();
    let said = format!(
        "run {} of pipeline '{}' queued (config version {}), retrying run {old}{}",
        run.run_id,
        run.pipeline_id,
        run.pipeline_config_version,
        match reused.len() {
            0 if failed_only => "; no task had succeeded, so every task runs again".to_string(),
            0 => String::new(),
            _ => format!("; reused (not run again): {}", reused.join(", ")),
        }
    );
    if watch {
        if !ctx.json() {
            eprintln!("{said}");
        }
        return watch::watch(ctx, &run).await;
    }
    let body = RunResponse { run };
    ctx.print(&body, || {
        format!(
            "{said}\nfollow it with 'gofer run watch {} {}'\n",
            body.run.pipeline_id, body.run.run_id
        )
    });
    Ok(())
}

/// Splits `text` like a POSIX shell splits words: whitespace separates, single quotes keep
/// everything literally, double quotes keep everything but `\"` and `\\`, a backslash outside
/// quotes escapes the next character. No expansion of any kind.
pub fn shell_words(text: &str) -> Result<Vec<String>, Failure> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    let unterminated = |what: &str| Failure::invalid(format!("--command: unterminated {what}"));
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(unterminated("single quote")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(unterminated("double quote")),
                        },
                        Some(c) => w.push(c),
                        None => return Err(unterminated("double quote")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err(unterminated("escape")),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    if words.is_empty() {
        return Err(Failure::invalid("--command: no words given"));
    }
    Ok(words)
}

fn runs_table(ctx: &Ctx, runs: &[Run]) -> String {
    let mut table = Table::new(&["id", "state", "status", "started", "duration", "initiator"]);
    for run in runs {
        table.row(vec![
            run.run_id.to_string(),
            state_word(run),
            run.status.to_string(),
            ctx.time(run.started),
            duration(run.started, run.ended, ctx.times.now_ms),
            initiator(run),
        ]);
    }
    table.render()
}

/// `alice` for API runs, `alice (one_off)` otherwise.
fn initiator(run: &Run) -> String {
    if run.initiator.kind.to_string() == "api" {
        run.initiator.user.clone()
    } else {
        run.initiator.describe()
    }
}

/// The run's state, `cancelling` between an accepted cancel and the run's end.
fn state_word(run: &Run) -> String {
    if run.cancellation.is_some() && run.state != gofer_core::enums::RunState::Complete {
        "cancelling".to_string()
    } else {
        run.state.to_string()
    }
}

/// `cancelling (asked by alice at …)` while it stops; the plain state otherwise.
fn state_text(ctx: &Ctx, run: &Run) -> String {
    match &run.cancellation {
        Some(c) if run.state != gofer_core::enums::RunState::Complete => format!(
            "cancelling (asked by {} at {}{})",
            c.by,
            ctx.time(c.requested),
            if c.force { ", tasks killed" } else { "" }
        ),
        _ => run.state.to_string(),
    }
}

fn describe_run(ctx: &Ctx, run: &Run) -> String {
    let reason = run
        .status_reason
        .as_ref()
        .map(|r| format!("{}: {}", r.reason, r.description))
        .unwrap_or_else(|| "-".to_string());
    let variables: Vec<String> = run
        .variables
        .iter()
        .map(|v| format!("{}={}", v.key, v.value))
        .collect();
    let list = |items: &Option<Vec<String>>| {
        items
            .as_ref()
            .map(|i| i.join(" "))
            .unwrap_or_else(|| "-".to_string())
    };
    details(&[
        ("namespace", run.namespace_id.clone()),
        ("pipeline", run.pipeline_id.clone()),
        ("run", run.run_id.to_string()),
        ("config version", run.pipeline_config_version.to_string()),
        ("state", state_text(ctx, run)),
        ("status", run.status.to_string()),
        ("status reason", reason),
        ("initiator", initiator(run)),
        (
            "retry of",
            run.retry.as_ref().map_or("-".to_string(), |r| {
                if r.reused_tasks.is_empty() {
                    format!("run {}", r.run_id)
                } else {
                    format!("run {} (reused: {})", r.run_id, r.reused_tasks.join(", "))
                }
            }),
        ),
        ("queued", ctx.time(run.queued)),
        ("started", ctx.time(run.started)),
        ("ended", ctx.time(run.ended)),
        (
            "duration",
            duration(run.started, run.ended, ctx.times.now_ms),
        ),
        ("variables", or_dash(&variables.join(", "))),
        (
            "payload",
            run.payload
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".to_string()),
        ),
        ("only", list(&run.only)),
        ("command override", list(&run.command_override)),
        (
            "event",
            run.event_id.clone().unwrap_or_else(|| "-".to_string()),
        ),
    ])
}

/// The diagnosis of a run and the last `lines` log lines of each failed task (docs/runs.md#why-a-run-failed).
pub async fn diagnose(
    ctx: &Ctx,
    ns: &str,
    pipeline: &str,
    run_id: u64,
    lines: usize,
) -> anyhow::Result<(
    gofer_core::diagnosis::Diagnosis,
    std::collections::BTreeMap<String, Vec<String>>,
)> {
    let run = ctx.client.get_run(ns, pipeline, run_id).await?;
    let tasks = ctx
        .client
        .list_task_executions(ns, pipeline, run_id, None)
        .await?;
    let diagnosis = gofer_core::diagnosis::diagnose(&run, &tasks);
    let mut logs = std::collections::BTreeMap::new();
    for failed in &diagnosis.failed {
        let Some(t) = tasks.iter().find(|t| t.task_id == failed.task) else {
            continue;
        };
        if t.started == 0 || t.logs_expired || t.logs_removed {
            continue;
        }
        if let Ok(tail) = ctx
            .client
            .task_log_tail(ns, pipeline, run_id, &failed.task, lines)
            .await
        {
            logs.insert(failed.task.clone(), tail);
        }
    }
    Ok((diagnosis, logs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_split_like_sh() {
        let ok = |s: &str| shell_words(s).unwrap();
        assert_eq!(ok("make all"), ["make", "all"]);
        assert_eq!(
            ok("  sh  -c 'echo $HOME; exit 3' "),
            ["sh", "-c", "echo $HOME; exit 3"]
        );
        assert_eq!(
            ok(r#"echo "a \"b\" \n" c\ d ''"#),
            ["echo", r#"a "b" \n"#, "c d", ""]
        );
        for bad in ["'open", "\"open", "trailing\\", "   "] {
            assert!(shell_words(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_initiator_kind_is_said_once() {
        let mut run: Run = serde_json::from_value(serde_json::json!({
            "namespace_id": "default", "pipeline_id": "p", "pipeline_config_version": 1,
            "run_id": 1, "state": "running", "status": "unknown",
            "initiator": {"id": "x", "user": "interval (extension)", "kind": "extension"}
        }))
        .unwrap();
        assert_eq!(initiator(&run), "interval (extension)");
        run.initiator.user = "alice".into();
        assert_eq!(initiator(&run), "alice (extension)");
    }

    #[test]
    fn key_values() {
        assert_eq!(key_value("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(key_value("A=").unwrap(), ("A".into(), String::new()));
        assert!(key_value("A").is_err());
    }
}
