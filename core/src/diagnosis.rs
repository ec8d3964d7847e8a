//! Why a run failed, in words (docs/runs.md#why-a-run-failed): the tasks that failed with their
//! reason, exit code, attempts, timeout and retries; every skipped task with the chain of parents
//! back to the failure that caused it. Pure: `gofer run debug` and the console's diagnosis panel
//! both call it and add each failed task's last log lines themselves.

use crate::api::{Run, TaskExecution};
use crate::enums::{RunState, TaskExecutionStatus, TaskExecutionStatusReasonKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What went wrong in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Diagnosis {
    /// One line: how the run ended and why.
    pub summary: String,
    pub failed: Vec<FailedTask>,
    pub skipped: Vec<SkippedTask>,
}

/// A task that failed (or was cancelled), explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FailedTask {
    pub task: String,
    pub status: TaskExecutionStatus,
    /// The status reason kind (`abnormal_exit`, `timeout`, …).
    pub reason: String,
    pub description: String,
    pub exit_code: Option<i64>,
    /// Sentences about attempts, retries and the timeout.
    pub explanation: Vec<String>,
}

/// A task that never ran because of a failure upstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SkippedTask {
    pub task: String,
    /// From this task up to the task whose failure caused the skip: `["deploy", "test",
    /// "build"]` reads "deploy ← test ← build".
    pub chain: Vec<String>,
    /// How the chain's last task ended (`failed`, `cancelled`, …).
    pub cause: String,
}

fn seconds(s: u64) -> String {
    if s.is_multiple_of(3600) && s >= 3600 {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) && s >= 60 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// The diagnosis of `run` from its task executions.
pub fn diagnose(run: &Run, tasks: &[TaskExecution]) -> Diagnosis {
    let by_id: BTreeMap<&str, &TaskExecution> =
        tasks.iter().map(|t| (t.task_id.as_str(), t)).collect();
    let mut failed = Vec::new();
    for t in tasks {
        if !matches!(
            t.status,
            TaskExecutionStatus::Failed | TaskExecutionStatus::Cancelled
        ) {
            continue;
        }
        let (reason, description) = t
            .status_reason
            .as_ref()
            .map(|r| (r.reason.to_string(), r.description.clone()))
            .unwrap_or_else(|| ("unknown".into(), String::new()));
        let mut explanation = Vec::new();
        let kind = t.status_reason.as_ref().map(|r| r.reason);
        let attempts = t.attempts.len().max(1);
        let retries = t.task.retries.count;
        if kind == Some(TaskExecutionStatusReasonKind::Timeout) && t.task.timeout > 0 {
            explanation.push(format!(
                "it ran longer than its timeout of {} and was stopped",
                seconds(t.task.timeout)
            ));
        }
        if kind == Some(TaskExecutionStatusReasonKind::OutOfMemory) {
            explanation.push(match t.task.resources.memory {
                Some(limit) => format!(
                    "it used more than its memory limit of {} and the kernel stopped it: raise \
                     resources.memory or make the task use less",
                    crate::resources::format_bytes(limit)
                ),
                None => "it used more than the server's default memory limit and the kernel \
                         stopped it: set resources.memory on the task"
                    .to_string(),
            });
        }
        if retries > 0 {
            let codes: Vec<String> = t
                .attempts
                .iter()
                .map(|a| match a.exit_code {
                    Some(code) => format!("#{} exit {code}", a.attempt),
                    None => format!("#{} {}", a.attempt, a.status),
                })
                .collect();
            explanation.push(format!(
                "it was tried {attempts} time(s): {} retries allowed, {} apart ({})",
                retries,
                seconds(t.task.retries.backoff),
                codes.join(", ")
            ));
        }
        if kind == Some(TaskExecutionStatusReasonKind::SchedulerError) {
            explanation.push(
                "its container could not be created or started: check the image name and that \
                 the engine can pull it"
                    .into(),
            );
        }
        if let Some(code) = t.exit_code.filter(|c| *c != 0)
            && kind == Some(TaskExecutionStatusReasonKind::AbnormalExit)
        {
            explanation.push(format!("its command exited with code {code}"));
        }
        failed.push(FailedTask {
            task: t.task_id.clone(),
            status: t.status,
            reason,
            description,
            exit_code: t.exit_code,
            explanation,
        });
    }
    let mut skipped = Vec::new();
    for t in tasks
        .iter()
        .filter(|t| t.status == TaskExecutionStatus::Skipped)
    {
        // Walk up through parents that did not end successfully, preferring one that failed.
        let mut chain = vec![t.task_id.clone()];
        let mut at = t;
        let mut cause = "skipped".to_string();
        for _ in 0..tasks.len() {
            let parents: Vec<&TaskExecution> = at
                .task
                .depends_on
                .keys()
                .filter_map(|p| by_id.get(p.as_str()).copied())
                .filter(|p| p.status != TaskExecutionStatus::Successful)
                .collect();
            let next = parents
                .iter()
                .find(|p| p.status != TaskExecutionStatus::Skipped)
                .or_else(|| parents.first())
                .copied();
            let Some(parent) = next else {
                break;
            };
            chain.push(parent.task_id.clone());
            cause = parent.status.to_string();
            if parent.status != TaskExecutionStatus::Skipped {
                break;
            }
            at = parent;
        }
        skipped.push(SkippedTask {
            task: t.task_id.clone(),
            chain,
            cause,
        });
    }
    let summary = if run.state != RunState::Complete {
        format!("run {} is {} — it has not ended yet", run.run_id, run.state)
    } else {
        let why = run
            .status_reason
            .as_ref()
            .map(|r| format!(" ({}: {})", r.reason, r.description))
            .unwrap_or_default();
        format!("run {} ended {}{why}", run.run_id, run.status)
    };
    Diagnosis {
        summary,
        failed,
        skipped,
    }
}

/// The diagnosis as the CLI prints it and the console shows it; `logs` holds each failed task's
/// last lines (absent when they could not be read).
pub fn lines(d: &Diagnosis, logs: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut out = vec![d.summary.clone()];
    if d.failed.is_empty() && d.skipped.is_empty() {
        out.push("no task failed".into());
    }
    for f in &d.failed {
        out.push(String::new());
        let code = f
            .exit_code
            .map(|c| format!(", exit code {c}"))
            .unwrap_or_default();
        out.push(format!(
            "✖ task {} {}: {}{code}",
            f.task, f.status, f.reason
        ));
        if !f.description.is_empty() {
            out.push(format!("  {}", f.description));
        }
        for e in &f.explanation {
            out.push(format!("  {e}"));
        }
        match logs.get(&f.task) {
            Some(lines) if lines.is_empty() => out.push("  (it printed nothing)".into()),
            Some(lines) => {
                out.push(format!("  last {} log line(s):", lines.len()));
                out.extend(lines.iter().map(|l| format!("  │ {l}")));
            }
            None => {}
        }
    }
    if !d.skipped.is_empty() {
        out.push(String::new());
        out.push("skipped because of a failure upstream:".into());
        for s in &d.skipped {
            out.push(format!("  ⏭ {} ({})", s.chain.join(" ← "), s.cause));
        }
    }
    out
}

/// The last `n` lines of a log.
pub fn tail(log: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(
        id: &str,
        status: &str,
        deps: serde_json::Value,
        extra: serde_json::Value,
    ) -> TaskExecution {
        let mut t = json!({
            "namespace_id": "n", "pipeline_id": "p", "run_id": 1, "task_id": id,
            "state": "complete", "status": status,
            "task": {"id": id, "description": "", "image": "i", "registry_auth": null,
                "depends_on": deps, "variables": [], "entrypoint": null, "command": null,
                "inject_api_token": false, "always_pull_newest_image": false}
        });
        for (k, v) in extra.as_object().unwrap() {
            if k == "task" {
                for (tk, tv) in v.as_object().unwrap() {
                    t["task"][tk] = tv.clone();
                }
            } else {
                t[k] = v.clone();
            }
        }
        serde_json::from_value(t).unwrap()
    }

    #[test]
    fn failures_and_skip_chains_in_words() {
        let run: Run = serde_json::from_value(json!({
            "namespace_id": "n", "pipeline_id": "p", "pipeline_config_version": 1, "run_id": 7,
            "state": "complete", "status": "failed",
            "status_reason": {"reason": "abnormal_exit", "description": "task build failed"},
            "initiator": {"id": "t", "user": "u", "kind": "api"}
        }))
        .unwrap();
        let tasks = vec![
            task("lint", "successful", json!({}), json!({})),
            task(
                "build",
                "failed",
                json!({"lint": "success"}),
                json!({"exit_code": 2,
                    "status_reason": {"reason": "abnormal_exit", "description": "exited with code 2"},
                    "task": {"retries": {"count": 1, "backoff": 5}},
                    "attempts": [{"attempt": 1, "exit_code": 2, "status": "failed"},
                                 {"attempt": 2, "exit_code": 2, "status": "failed"}]}),
            ),
            task("test", "skipped", json!({"build": "success"}), json!({})),
            task(
                "deploy",
                "skipped",
                json!({"test": "success", "lint": "success"}),
                json!({}),
            ),
            task(
                "slow",
                "failed",
                json!({}),
                json!({"status_reason": {"reason": "timeout", "description": "stopped"},
                    "task": {"timeout": 120}}),
            ),
        ];
        let d = diagnose(&run, &tasks);
        assert_eq!(d.failed.len(), 2);
        assert_eq!(d.failed[0].task, "build");
        assert!(
            d.failed[0].explanation.iter().any(|e| e
                .contains("tried 2 time(s): 1 retries allowed, 5s apart (#1 exit 2, #2 exit 2)")),
            "{:?}",
            d.failed[0]
        );
        assert!(d.failed[1].explanation[0].contains("timeout of 2m"));
        assert_eq!(d.skipped[1].chain, ["deploy", "test", "build"]);
        assert_eq!(d.skipped[1].cause, "failed");
        let logs = BTreeMap::from([(
            "build".to_string(),
            vec!["compiling".into(), "error: boom".into()],
        )]);
        let text = lines(&d, &logs).join("\n");
        assert!(
            text.starts_with("run 7 ended failed (abnormal_exit: task build failed)"),
            "{text}"
        );
        assert!(
            text.contains("✖ task build failed: abnormal_exit, exit code 2"),
            "{text}"
        );
        assert!(text.contains("  │ error: boom"), "{text}");
        assert!(text.contains("⏭ deploy ← test ← build (failed)"), "{text}");
        assert_eq!(tail("a\nb\nc\n", 2), ["b", "c"]);
    }
}
