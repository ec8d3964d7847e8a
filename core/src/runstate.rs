//! Pure run-state logic (docs/runs.md#queue–docs/runs.md#conditions, docs/runs.md#final-status, docs/runs.md#variables–docs/runs.md#variables): building a run's task executions,
//! deciding when a task may leave `waiting`, and a run's final status. The engine's dispatcher
//! calls these plain functions; nothing here does I/O or reads a clock.

use crate::api::{Config, Run, StatusReason, Task, TaskExecution, Variable};
use crate::enums::*;
use std::collections::BTreeMap;

/// The system variables of one task of a run (docs/runs.md#variables), except the per-attempt
/// `GOFER_TASK_ATTEMPT` and the secret `GOFER_API_TOKEN`, which are added at launch and never
/// stored.
pub fn system_variables(run: &Run, task: &Task, api_base_url: &str) -> Vec<Variable> {
    let mut vars = vec![
        ("GOFER_NAMESPACE_ID", run.namespace_id.clone()),
        ("GOFER_PIPELINE_ID", run.pipeline_id.clone()),
        ("GOFER_RUN_ID", run.run_id.to_string()),
        ("GOFER_TASK_ID", task.id.clone()),
        ("GOFER_TASK_IMAGE", task.image.clone()),
        ("GOFER_API_BASE_URL", api_base_url.to_string()),
    ];
    if let Some(payload) = &run.payload {
        vars.push((
            "GOFER_RUN_PAYLOAD",
            base64_encode(payload.to_string().as_bytes()),
        ));
    }
    vars.into_iter()
        .map(|(k, v)| Variable {
            key: k.to_string(),
            value: v,
            source: VariableSource::System,
        })
        .collect()
}

/// Merges the three sources (docs/runs.md#variables): pipeline config > run options > system, exact
/// case-sensitive keys. Order: surviving system entries, then run entries, then pipeline entries.
pub fn merge_variables(
    system: &[Variable],
    run: &[Variable],
    pipeline: &[Variable],
) -> Vec<Variable> {
    let pipeline_keys: std::collections::BTreeSet<&str> =
        pipeline.iter().map(|v| v.key.as_str()).collect();
    let run_kept: Vec<&Variable> = run
        .iter()
        .filter(|v| !pipeline_keys.contains(v.key.as_str()))
        .collect();
    let run_keys: std::collections::BTreeSet<&str> =
        run_kept.iter().map(|v| v.key.as_str()).collect();
    system
        .iter()
        .filter(|v| !pipeline_keys.contains(v.key.as_str()) && !run_keys.contains(v.key.as_str()))
        .chain(run_kept)
        .chain(pipeline.iter())
        .cloned()
        .collect()
}

/// The task execution rows of a run leaving the queue (docs/runs.md#queue), in task id order. One-off runs
/// (docs/runs.md#results-and-payload) keep only the listed tasks, drop dependencies on tasks outside the list and replace the
/// command when asked.
pub fn new_executions(
    run: &Run,
    config: &Config,
    api_base_url: &str,
    now: u64,
) -> Vec<TaskExecution> {
    let only: Option<std::collections::BTreeSet<&str>> = run
        .only
        .as_ref()
        .map(|o| o.iter().map(String::as_str).collect());
    config
        .tasks
        .values()
        .filter(|t| only.as_ref().is_none_or(|o| o.contains(t.id.as_str())))
        .map(|t| {
            let mut task = t.clone();
            if let Some(only) = &only {
                task.depends_on
                    .retain(|parent, _| only.contains(parent.as_str()));
                if let Some(command) = &run.command_override {
                    task.command = Some(command.clone());
                }
            }
            let variables = merge_variables(
                &system_variables(run, &task, api_base_url),
                &run.variables,
                &task.variables,
            );
            TaskExecution {
                namespace_id: run.namespace_id.clone(),
                pipeline_id: run.pipeline_id.clone(),
                run_id: run.run_id,
                task_id: task.id.clone(),
                created: now,
                started: 0,
                ended: 0,
                exit_code: None,
                logs_expired: false,
                logs_removed: false,
                state: TaskExecutionState::Waiting,
                status: TaskExecutionStatus::Unknown,
                status_reason: None,
                variables,
                task,
                attempts: vec![],
                result: None,
            }
        })
        .collect()
}

/// What a waiting task may do now (docs/runs.md#conditions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// A parent is not complete yet.
    Wait,
    /// Every parent is complete but a condition is unmet; the description names each unmet parent.
    Skip(String),
    /// Every condition holds.
    Run,
}

/// Whether `condition` accepts a parent that ended with `status` (docs/runs.md#conditions).
pub fn condition_met(condition: RequiredParentStatus, status: TaskExecutionStatus) -> bool {
    use TaskExecutionStatus as S;
    match condition {
        RequiredParentStatus::Any => matches!(status, S::Successful | S::Failed | S::Skipped),
        RequiredParentStatus::Success => status == S::Successful,
        RequiredParentStatus::Failure => status == S::Failed,
        RequiredParentStatus::Unknown => false,
    }
}

/// Decides a task's readiness from its parents' executions (missing parents count as complete
/// and skipped, which never happens for a validated config).
pub fn readiness(task: &Task, executions: &BTreeMap<String, TaskExecution>) -> Readiness {
    let mut unmet = Vec::new();
    for (parent, condition) in &task.depends_on {
        let (state, status) = executions
            .get(parent)
            .map(|e| (e.state, e.status))
            .unwrap_or((TaskExecutionState::Complete, TaskExecutionStatus::Skipped));
        if state != TaskExecutionState::Complete {
            return Readiness::Wait;
        }
        if !condition_met(*condition, status) {
            unmet.push(format!(
                "parent '{parent}' finished '{status}' but '{condition}' was required"
            ));
        }
    }
    if unmet.is_empty() {
        Readiness::Run
    } else {
        Readiness::Skip(unmet.join("; "))
    }
}

/// How a run ended, as far as the executions tell (docs/runs.md#final-status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunEnding {
    /// `Some(by_admin)` of the first cancel request (run or task), if any.
    pub cancelled: Option<bool>,
    /// The run deadline passed before the run completed.
    pub deadline_passed: bool,
}

/// A cancelled run's reason with the server's own explanation, when the server cancelled it
/// (docs/runs.md#overlapping-runs); any other reason unchanged.
pub fn cancel_reason(
    why: Option<StatusReason<RunStatusReasonKind>>,
    cancellation: Option<&crate::api::RunCancellation>,
) -> Option<StatusReason<RunStatusReasonKind>> {
    match (why, cancellation.and_then(|c| c.reason.as_ref())) {
        (Some(mut why), Some(reason))
            if matches!(
                why.reason,
                RunStatusReasonKind::UserCancelled | RunStatusReasonKind::AdminCancelled
            ) =>
        {
            why.description = reason.clone();
            Some(why)
        }
        (why, _) => why,
    }
}

/// The final status and reason of a run whose executions are all complete (docs/runs.md#final-status).
pub fn final_status(
    executions: &[TaskExecution],
    ending: RunEnding,
) -> (RunStatus, Option<StatusReason<RunStatusReasonKind>>) {
    if let Some(by_admin) = ending.cancelled {
        let reason = if by_admin {
            RunStatusReasonKind::AdminCancelled
        } else {
            RunStatusReasonKind::UserCancelled
        };
        return (
            RunStatus::Cancelled,
            Some(StatusReason {
                reason,
                description: "the run was cancelled".into(),
            }),
        );
    }
    if ending.deadline_passed {
        return (
            RunStatus::Failed,
            Some(StatusReason {
                reason: RunStatusReasonKind::Timeout,
                description: "the run exceeded its pipeline timeout".into(),
            }),
        );
    }
    let first_failed = executions
        .iter()
        .filter(|e| e.status == TaskExecutionStatus::Failed)
        .min_by_key(|e| (e.ended, e.task_id.clone()));
    if let Some(failed) = first_failed {
        let (kind, description) = failed
            .status_reason
            .as_ref()
            .map(|r| (r.reason, r.description.clone()))
            .unwrap_or((TaskExecutionStatusReasonKind::Unknown, String::new()));
        let reason = match kind {
            TaskExecutionStatusReasonKind::AbnormalExit
            | TaskExecutionStatusReasonKind::OutOfMemory => RunStatusReasonKind::AbnormalExit,
            TaskExecutionStatusReasonKind::Timeout => RunStatusReasonKind::Timeout,
            TaskExecutionStatusReasonKind::SchedulerError
            | TaskExecutionStatusReasonKind::Orphaned => RunStatusReasonKind::SchedulerError,
            TaskExecutionStatusReasonKind::FailedPrecondition => {
                RunStatusReasonKind::FailedPrecondition
            }
            _ => RunStatusReasonKind::Unknown,
        };
        return (
            RunStatus::Failed,
            Some(StatusReason {
                reason,
                description: format!("task '{}' failed: {description}", failed.task_id),
            }),
        );
    }
    (RunStatus::Successful, None)
}

/// Standard base64 with padding (for `GOFER_RUN_PAYLOAD`).
pub fn base64_encode(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Initiator, Retries};
    use proptest::prelude::*;

    fn var(k: &str, v: &str, source: VariableSource) -> Variable {
        Variable {
            key: k.into(),
            value: v.into(),
            source,
        }
    }

    #[test]
    fn precedence_pipeline_over_run_over_system() {
        let system = [
            var("A", "s", VariableSource::System),
            var("B", "s", VariableSource::System),
            var("C", "s", VariableSource::System),
        ];
        let run = [
            var("B", "r", VariableSource::RunOptions),
            var("C", "r", VariableSource::RunOptions),
        ];
        let pipeline = [var("C", "p", VariableSource::PipelineConfig)];
        let merged = merge_variables(&system, &run, &pipeline);
        let got: Vec<_> = merged
            .iter()
            .map(|v| (v.key.as_str(), v.value.as_str()))
            .collect();
        assert_eq!(got, [("A", "s"), ("B", "r"), ("C", "p")]);
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(input.as_bytes()), want);
        }
    }

    fn task(id: &str, deps: &[(&str, RequiredParentStatus)]) -> Task {
        Task {
            id: id.into(),
            description: String::new(),
            image: "busybox".into(),
            registry_auth: None,
            depends_on: deps.iter().map(|(p, c)| (p.to_string(), *c)).collect(),
            variables: vec![],
            entrypoint: None,
            command: Some(vec!["true".into()]),
            inject_api_token: false,
            always_pull_newest_image: false,
            timeout: 0,
            retries: Retries::default(),
            resources: Default::default(),
        }
    }

    fn run() -> Run {
        Run {
            namespace_id: "ns".into(),
            pipeline_id: "p".into(),
            pipeline_config_version: 1,
            run_id: 3,
            queued: 0,
            started: 0,
            ended: 0,
            state: RunState::Running,
            status: RunStatus::Unknown,
            status_reason: None,
            initiator: Initiator {
                id: "0".into(),
                user: "u".into(),
                kind: Default::default(),
                subscription_id: None,
            },
            variables: vec![],
            token_id: None,
            store_objects_expired: false,
            event_id: None,
            payload: None,
            only: None,
            command_override: None,
            cancellation: None,
            deployment_id: None,
            retry: None,
        }
    }

    fn config(tasks: Vec<Task>) -> Config {
        Config {
            namespace_id: "ns".into(),
            pipeline_id: "p".into(),
            version: 1,
            name: "p".into(),
            description: String::new(),
            parallelism: 0,
            timeout: 0,
            tasks: tasks.into_iter().map(|t| (t.id.clone(), t)).collect(),
            overlap: Default::default(),
            notifications: Vec::new(),
            state: ConfigState::Live,
            registered: 0,
            deprecated: 0,
        }
    }

    #[test]
    fn one_off_runs_keep_only_listed_tasks() {
        use RequiredParentStatus::Success;
        let cfg = config(vec![task("a", &[]), task("b", &[("a", Success)])]);
        let mut r = run();
        r.only = Some(vec!["b".into()]);
        r.command_override = Some(vec!["echo".into(), "x".into()]);
        r.payload = Some(serde_json::json!({"k": 1}));
        let execs = new_executions(&r, &cfg, "http://h", 5);
        assert_eq!(execs.len(), 1);
        assert!(execs[0].task.depends_on.is_empty());
        assert_eq!(
            execs[0].task.command.as_deref(),
            Some(&["echo".to_string(), "x".to_string()][..])
        );
        let payload = execs[0]
            .variables
            .iter()
            .find(|v| v.key == "GOFER_RUN_PAYLOAD")
            .unwrap();
        assert_eq!(payload.value, base64_encode(br#"{"k":1}"#));
    }

    #[test]
    fn final_status_rules() {
        let mut e = new_executions(&run(), &config(vec![task("a", &[]), task("b", &[])]), "", 0);
        for x in &mut e {
            x.state = TaskExecutionState::Complete;
            x.status = TaskExecutionStatus::Successful;
        }
        assert_eq!(
            final_status(
                &e,
                RunEnding {
                    cancelled: None,
                    deadline_passed: false
                }
            )
            .0,
            RunStatus::Successful
        );
        e[1].status = TaskExecutionStatus::Failed;
        e[1].status_reason = Some(StatusReason {
            reason: TaskExecutionStatusReasonKind::AbnormalExit,
            description: "exited with code 3".into(),
        });
        let (status, reason) = final_status(
            &e,
            RunEnding {
                cancelled: None,
                deadline_passed: false,
            },
        );
        assert_eq!(status, RunStatus::Failed);
        let reason = reason.unwrap();
        assert_eq!(reason.reason, RunStatusReasonKind::AbnormalExit);
        assert_eq!(reason.description, "task 'b' failed: exited with code 3");
        let (status, reason) = final_status(
            &e,
            RunEnding {
                cancelled: Some(true),
                deadline_passed: true,
            },
        );
        assert_eq!(
            (status, reason.unwrap().reason),
            (RunStatus::Cancelled, RunStatusReasonKind::AdminCancelled)
        );
        let (status, reason) = final_status(
            &e,
            RunEnding {
                cancelled: None,
                deadline_passed: true,
            },
        );
        assert_eq!(
            (status, reason.unwrap().reason),
            (RunStatus::Failed, RunStatusReasonKind::Timeout)
        );
    }

    /// A random DAG (acyclic by construction, random conditions) executed by repeatedly asking
    /// `readiness` and finishing ready tasks with random outcomes.
    fn dag() -> impl Strategy<Value = (Vec<Task>, Vec<bool>, u64)> {
        (1usize..25)
            .prop_flat_map(|n| {
                (
                    Just(n),
                    proptest::collection::vec(proptest::collection::vec(0u8..4, n), n),
                    proptest::collection::vec(any::<bool>(), n),
                    any::<u64>(),
                )
            })
            .prop_map(|(n, edges, outcomes, seed)| {
                let tasks = (0..n)
                    .map(|i| {
                        let deps: Vec<(String, RequiredParentStatus)> = (0..i)
                            .filter_map(|j| match edges[i][j] {
                                1 => Some((format!("t{j:02}"), RequiredParentStatus::Any)),
                                2 => Some((format!("t{j:02}"), RequiredParentStatus::Success)),
                                3 => Some((format!("t{j:02}"), RequiredParentStatus::Failure)),
                                _ => None,
                            })
                            .collect();
                        let deps: Vec<(&str, RequiredParentStatus)> =
                            deps.iter().map(|(p, c)| (p.as_str(), *c)).collect();
                        task(&format!("t{i:02}"), &deps)
                    })
                    .collect();
                (tasks, outcomes, seed)
            })
    }

    proptest! {
        #[test]
        fn execution_respects_dependencies_and_skip_rules((tasks, outcomes, seed) in dag()) {
            let mut r = run();
            r.run_id = 1;
            let cfg = config(tasks.clone());
            let mut execs: BTreeMap<String, TaskExecution> = new_executions(&r, &cfg, "", 0)
                .into_iter().map(|e| (e.task_id.clone(), e)).collect();
            let outcome: BTreeMap<String, bool> = tasks.iter().zip(&outcomes).map(|(t, o)| (t.id.clone(), *o)).collect();
            let mut s = seed | 1;
            let mut steps = 0;
            loop {
                let pending: Vec<String> = execs.values().filter(|e| e.state != TaskExecutionState::Complete).map(|e| e.task_id.clone()).collect();
                if pending.is_empty() { break; }
                steps += 1;
                prop_assert!(steps <= tasks.len() + 1, "no progress: the DAG would wait forever");
                // Decide every pending task against one snapshot, in a shuffled order.
                let snapshot = execs.clone();
                let mut order = pending.clone();
                for i in (1..order.len()).rev() {
                    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                    order.swap(i, (s % (i as u64 + 1)) as usize);
                }
                let mut progressed = false;
                for id in order {
                    let t = &snapshot[&id].task;
                    match readiness(t, &snapshot) {
                        Readiness::Wait => {
                            prop_assert!(t.depends_on.keys().any(|p| snapshot[p].state != TaskExecutionState::Complete));
                        }
                        Readiness::Skip(why) => {
                            prop_assert!(!why.is_empty());
                            let e = execs.get_mut(&id).unwrap();
                            e.state = TaskExecutionState::Complete;
                            e.status = TaskExecutionStatus::Skipped;
                            progressed = true;
                        }
                        Readiness::Run => {
                            // No task starts before all its parents finished, and every condition holds.
                            for (p, c) in &t.depends_on {
                                prop_assert_eq!(snapshot[p].state, TaskExecutionState::Complete);
                                prop_assert!(condition_met(*c, snapshot[p].status));
                            }
                            let e = execs.get_mut(&id).unwrap();
                            e.state = TaskExecutionState::Complete;
                            e.status = if outcome[&id] { TaskExecutionStatus::Successful } else { TaskExecutionStatus::Failed };
                            progressed = true;
                        }
                    }
                }
                prop_assert!(progressed);
            }
            // Skip propagation: a task is skipped exactly when some condition was unmet.
            for e in execs.values() {
                let unmet = e.task.depends_on.iter().any(|(p, c)| !condition_met(*c, execs[p].status));
                prop_assert_eq!(e.status == TaskExecutionStatus::Skipped, unmet);
            }
        }
    }
}
