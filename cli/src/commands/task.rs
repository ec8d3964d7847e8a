//! `gofer task …` (docs/cli.md, docs/logs-and-events.md#reading, docs/runs.md#cancellation, docs/api.md#runs-and-task-executions): a run's task executions, their logs,
//! cancellation and attaching a shell.

use super::Ctx;
use crate::failure::Failure;
use crate::output::{Table, details, or_dash};
use crate::time::duration;
use bytes::Bytes;
use clap::Subcommand;
use futures_util::{SinkExt, StreamExt};
use gofer_core::api::{TaskExecution, TaskExecutionResponse, TaskExecutionsResponse};
use std::io::{BufRead, Write};

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// List a run's task executions
    List {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
    },
    /// Show one task execution: attempts, exit code, variables as stored, result
    Get {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
        /// Task id
        task: String,
    },
    /// Write a task's log (raw bytes) to stdout
    Logs {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
        /// Task id
        task: String,
        /// Keep following new output until the task completes
        #[arg(short, long)]
        follow: bool,
    },
    /// Cancel a task execution (its dependents then see a cancelled parent)
    Cancel {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
        /// Task id
        task: String,
        /// Seconds the container gets between SIGTERM and SIGKILL [default: the server's
        /// api.task_execution_stop_timeout]
        #[arg(short, long, value_name = "SECS")]
        wait_for: Option<u64>,
    },
    /// Record or read a task's JSON result (passed to dependent tasks as task_result{{task}})
    #[command(subcommand)]
    Result(ResultCommand),
    /// Run a command inside a running task's container, connected to this terminal.
    ///
    /// This build has no raw terminal mode: input is line-buffered (each line is sent when you
    /// press Enter, and end of input (Ctrl-D) ends the session), there is no echo control or
    /// tab completion, and Ctrl-C stops gofer rather than the remote command.
    Attach {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
        /// Task id
        task: String,
        /// Command to run, split on whitespace by the server
        #[arg(short, long = "cmd", value_name = "COMMAND", default_value = "/bin/sh")]
        cmd: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ResultCommand {
    /// Record the result of a running task; the last write wins.
    ///
    /// Give `<PIPELINE> <RUN> <TASK> <JSON>`, or only `<JSON>` inside a task: the ids then come
    /// from GOFER_PIPELINE_ID, GOFER_RUN_ID, GOFER_TASK_ID and GOFER_NAMESPACE_ID. `<JSON>` is
    /// the JSON text itself, or `-` or `@` to read it from stdin.
    Set {
        /// [<PIPELINE> <RUN> <TASK>] <JSON|@|->
        #[arg(value_name = "ARGS", num_args = 1..=4, required = true)]
        args: Vec<String>,
    },
    /// Print a task's recorded result (JSON), if any
    Get {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
        /// Task id
        task: String,
    },
}

pub async fn run(ctx: &Ctx, command: TaskCommand) -> anyhow::Result<()> {
    let ns = ctx.namespace();
    match command {
        TaskCommand::List { pipeline, run } => {
            let task_executions = ctx
                .client
                .list_task_executions(ns, &pipeline, run, None)
                .await?;
            let body = TaskExecutionsResponse { task_executions };
            ctx.print(&body, || tasks_table(ctx, &body.task_executions));
        }
        TaskCommand::Get {
            pipeline,
            run,
            task,
        } => {
            let task_execution = ctx
                .client
                .get_task_execution(ns, &pipeline, run, &task)
                .await?;
            let body = TaskExecutionResponse { task_execution };
            ctx.print(&body, || describe_task(ctx, &body.task_execution));
        }
        TaskCommand::Logs {
            pipeline,
            run,
            task,
            follow,
        } => {
            // A task whose container never ran has no log: say why instead of printing nothing.
            let execution = ctx
                .client
                .get_task_execution(ns, &pipeline, run, &task)
                .await?;
            if execution.never_started() {
                eprintln!(
                    "task '{task}' never started, so it has no log: {}",
                    crate::watch::outcome_text(&execution)
                );
                return Ok(());
            }
            let mut logs = ctx
                .client
                .task_logs(ns, &pipeline, run, &task, follow)
                .await?;
            let mut stdout = std::io::stdout().lock();
            while let Some(chunk) = logs.next().await {
                stdout.write_all(&chunk?)?;
                stdout.flush()?;
            }
        }
        TaskCommand::Cancel {
            pipeline,
            run,
            task,
            wait_for,
        } => {
            ctx.client
                .cancel_task_execution(ns, &pipeline, run, &task, wait_for)
                .await?;
            ctx.done(format!(
                "cancellation of task '{task}' of run {run} of pipeline '{pipeline}' requested"
            ));
        }
        TaskCommand::Attach {
            pipeline,
            run,
            task,
            cmd,
        } => attach(ctx, &pipeline, run, &task, &cmd).await?,
        TaskCommand::Result(ResultCommand::Set { args }) => {
            let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
            let target = result_target(ctx.namespace(), &args, &env)?;
            let json = args.last().expect("clap requires one argument");
            let result = read_result(json)?;
            ctx.client
                .set_task_result(
                    &target.ns,
                    &target.pipeline,
                    target.run,
                    &target.task,
                    &result,
                )
                .await?;
            ctx.done(format!(
                "result of task '{}' of run {} of pipeline '{}' recorded",
                target.task, target.run, target.pipeline
            ));
        }
        TaskCommand::Result(ResultCommand::Get {
            pipeline,
            run,
            task,
        }) => {
            let execution = ctx
                .client
                .get_task_execution(ns, &pipeline, run, &task)
                .await?;
            match &execution.result {
                Some(result) => {
                    crate::output::print(format_args!("{}", crate::output::json(result)))
                }
                None if ctx.json() => crate::output::println(format_args!("null")),
                None => crate::output::println(format_args!(
                    "task '{task}' of run {run} recorded no result"
                )),
            }
        }
    }
    Ok(())
}

/// Line-buffered attach: stdin lines are read on a thread (blocking reads) and sent as binary
/// frames; output is copied to stdout as it arrives. End of input closes the session.
async fn attach(ctx: &Ctx, pipeline: &str, run: u64, task: &str, cmd: &str) -> anyhow::Result<()> {
    let (mut input, mut output) = ctx
        .client
        .attach(ctx.namespace(), pipeline, run, task, Some(cmd))
        .await?;
    let (lines, mut stdin) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        let mut reader = std::io::stdin().lock();
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if lines.blocking_send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut stdout = std::io::stdout();
    let mut input_open = true;
    loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                None => break,
                Some(chunk) => {
                    stdout.write_all(&chunk?)?;
                    stdout.flush()?;
                }
            },
            line = stdin.recv(), if input_open => match line {
                Some(line) => input.send(Bytes::from(line)).await?,
                None => {
                    input_open = false;
                    input.close().await?;
                }
            },
        }
    }
    Ok(())
}

/// id, state, status, attempts, exit code, duration.
pub fn tasks_table(ctx: &Ctx, tasks: &[TaskExecution]) -> String {
    let mut table = Table::new(&[
        "task",
        "state",
        "status",
        "attempts",
        "exit code",
        "duration",
    ]);
    for t in in_graph_order(tasks, |t| &t.task_id, |t| &t.task.depends_on) {
        table.row(vec![
            t.task_id.clone(),
            t.state.to_string(),
            t.status.to_string(),
            t.attempts.len().to_string(),
            exit_code(t.exit_code),
            duration(t.started, t.ended, ctx.times.now_ms),
        ]);
    }
    table.render()
}

/// `items` in the order the task graph runs them (parents first, ties by id), as the console
/// draws them; in their own order when their dependencies do not form a graph of just them.
pub(crate) fn in_graph_order<T>(
    items: &[T],
    id: impl Fn(&T) -> &String,
    depends_on: impl Fn(
        &T,
    )
        -> &std::collections::BTreeMap<String, gofer_core::enums::RequiredParentStatus>,
) -> Vec<&T> {
    let graph = items.iter().map(|t| (id(t).clone(), depends_on(t).clone()));
    match gofer_core::dag::Dag::new(graph) {
        Ok(dag) => dag
            .order()
            .iter()
            .filter_map(|task| items.iter().find(|t| id(t) == task))
            .collect(),
        Err(_) => items.iter().collect(),
    }
}

fn exit_code(code: Option<i64>) -> String {
    code.map(|c| c.to_string())
        .unwrap_or_else(|| "-".to_string())
}

fn describe_task(ctx: &Ctx, t: &TaskExecution) -> String {
    let reason = t
        .status_reason
        .as_ref()
        .map(|r| format!("{}: {}", r.reason, r.description))
        .unwrap_or_else(|| "-".to_string());
    let logs = if t.never_started() {
        "none: the task never started".to_string()
    } else if t.logs_expired {
        "expired".to_string()
    } else if t.logs_removed {
        "removed".to_string()
    } else {
        "kept".to_string()
    };
    let words = |w: &Option<Vec<String>>| {
        w.as_ref()
            .map(|w| w.join(" "))
            .unwrap_or_else(|| "-".to_string())
    };
    let mut out = details(&[
        ("namespace", t.namespace_id.clone()),
        ("pipeline", t.pipeline_id.clone()),
        ("run", t.run_id.to_string()),
        ("task", t.task_id.clone()),
        ("image", t.task.image.clone()),
        ("command", words(&t.task.command)),
        ("state", t.state.to_string()),
        ("status", t.status.to_string()),
        ("status reason", reason),
        ("exit code", exit_code(t.exit_code)),
        ("created", ctx.time(t.created)),
        ("started", ctx.time(t.started)),
        ("ended", ctx.time(t.ended)),
        ("duration", duration(t.started, t.ended, ctx.times.now_ms)),
        ("logs", logs),
        (
            "result",
            t.result
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".to_string()),
        ),
    ]);
    if !t.attempts.is_empty() {
        out.push('\n');
        let mut table = Table::new(&[
            "attempt",
            "status",
            "exit code",
            "started",
            "duration",
            "reason",
        ]);
        for a in &t.attempts {
            table.row(vec![
                a.attempt.to_string(),
                a.status.to_string(),
                exit_code(a.exit_code),
                ctx.time(a.started),
                duration(a.started, a.ended, ctx.times.now_ms),
                a.status_reason
                    .as_ref()
                    .map(|r| format!("{}: {}", r.reason, r.description))
                    .unwrap_or_else(|| "-".to_string()),
            ]);
        }
        out.push_str(&table.render());
    }
    out.push('\n');
    // As stored: references such as pipeline_secret{{k}} appear as written (docs/pipelines.md#the-records).
    let mut table = Table::new(&["variable", "value", "source"]);
    for v in &t.variables {
        table.row(vec![v.key.clone(), or_dash(&v.value), v.source.to_string()]);
    }
    out.push_str(&table.render());
    out
}

/// Which task execution `task result set` writes to.
#[derive(Debug, PartialEq, Eq)]
struct ResultTarget {
    ns: String,
    pipeline: String,
    run: u64,
    task: String,
}

/// `<p> <run> <task> <json>`, or `<json>` with the ids from the task's environment (docs/runs.md#results-and-payload,
/// docs/runs.md#variables). Anything else is a usage error (exit 2).
fn result_target(
    namespace: &str,
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ResultTarget, Failure> {
    let usage = |message: String| Failure {
        code: crate::exit::EXIT_USAGE,
        message,
    };
    let parse_run = |text: &str| {
        text.parse::<u64>()
            .map_err(|_| usage(format!("run id must be a positive integer, got '{text}'")))
    };
    match args {
        [pipeline, run, task, _] => Ok(ResultTarget {
            ns: namespace.to_string(),
            pipeline: pipeline.clone(),
            run: parse_run(run)?,
            task: task.clone(),
        }),
        [_] => {
            let missing: Vec<&str> = ["GOFER_PIPELINE_ID", "GOFER_RUN_ID", "GOFER_TASK_ID"]
                .into_iter()
                .filter(|k| env(k).is_none())
                .collect();
            if !missing.is_empty() {
                return Err(usage(format!(
                    "give <pipeline> <run> <task> <json>, or run inside a task where {} set ({} missing)",
                    "GOFER_PIPELINE_ID, GOFER_RUN_ID and GOFER_TASK_ID are",
                    missing.join(", ")
                )));
            }
            Ok(ResultTarget {
                ns: env("GOFER_NAMESPACE_ID").unwrap_or_else(|| namespace.to_string()),
                pipeline: env("GOFER_PIPELINE_ID").unwrap_or_default(),
                run: parse_run(&env("GOFER_RUN_ID").unwrap_or_default())?,
                task: env("GOFER_TASK_ID").unwrap_or_default(),
            })
        }
        _ => Err(usage(format!(
            "expected <json> or <pipeline> <run> <task> <json>, got {} arguments",
            args.len()
        ))),
    }
}

/// The result JSON: the argument itself, or stdin for `-` and `@`.
fn read_result(arg: &str) -> Result<serde_json::Value, Failure> {
    let text = if arg == "-" || arg == "@" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| Failure::invalid(format!("cannot read the result from stdin: {e}")))?;
        text
    } else {
        arg.to_string()
    };
    serde_json::from_str(&text)
        .map_err(|e| Failure::invalid(format!("the result is not valid JSON: {e}")))
}

#[cfg(test)]
mod result_tests {
    use super::*;

    #[test]
    fn result_target_from_arguments_or_the_task_environment() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let none = |_: &str| None;
        assert_eq!(
            result_target("ns", &args(&["p", "3", "t", "{}"]), &none).unwrap(),
            ResultTarget {
                ns: "ns".into(),
                pipeline: "p".into(),
                run: 3,
                task: "t".into()
            }
        );
        let inside = |k: &str| match k {
            "GOFER_NAMESPACE_ID" => Some("team".to_string()),
            "GOFER_PIPELINE_ID" => Some("build".to_string()),
            "GOFER_RUN_ID" => Some("7".to_string()),
            "GOFER_TASK_ID" => Some("plan".to_string()),
            _ => None,
        };
        assert_eq!(
            result_target("default", &args(&["-"]), &inside).unwrap(),
            ResultTarget {
                ns: "team".into(),
                pipeline: "build".into(),
                run: 7,
                task: "plan".into()
            }
        );
        let e = result_target("default", &args(&["-"]), &none).unwrap_err();
        assert_eq!(e.code, crate::exit::EXIT_USAGE);
        assert!(
            e.message
                .contains("GOFER_PIPELINE_ID, GOFER_RUN_ID, GOFER_TASK_ID missing"),
            "{}",
            e.message
        );
        let e = result_target("ns", &args(&["p", "t", "{}"]), &none).unwrap_err();
        assert_eq!(e.code, crate::exit::EXIT_USAGE);
        let e = result_target("ns", &args(&["p", "x", "t", "{}"]), &none).unwrap_err();
        assert!(e.message.contains("run id"), "{}", e.message);
        assert_eq!(
            read_result("{\"a\": 1}").unwrap(),
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            read_result("nope").unwrap_err().code,
            crate::exit::EXIT_INVALID
        );
    }
}
