//! `task_result{{t}}` substitution (docs/runs.md#results-and-payload, docs/runs.md#variables): the JSON result a parent task recorded,
//! serialised compactly. Registration already checked that `t` is an ancestor of the task
//! (docs/runs.md#variables), so by the time a task leaves `waiting` its parent is complete.

use gofer_core::api::TaskExecution;
use std::collections::BTreeMap;

/// The value of variable `variable` = `task_result{{parent}}` in a run whose executions are
/// `executions`. A parent without a result fails the dependent task with a message naming both
/// (docs/runs.md#results-and-payload: `failed_precondition`).
pub(super) fn resolve(
    variable: &str,
    parent: &str,
    executions: &BTreeMap<String, TaskExecution>,
) -> Result<String, String> {
    let Some(execution) = executions.get(parent) else {
        // A one-off run (docs/runs.md#results-and-payload) can leave the parent out of the run.
        return Err(format!(
            "variable '{variable}': task_result{{{{{parent}}}}} cannot be resolved: task '{parent}' is not part of this run"
        ));
    };
    match &execution.result {
        Some(result) => Ok(result.to_string()),
        None => Err(format!(
            "variable '{variable}': task_result{{{{{parent}}}}} cannot be resolved: task '{parent}' recorded no result"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execution(result: Option<serde_json::Value>) -> TaskExecution {
        serde_json::from_value(serde_json::json!({
            "namespace_id": "ns", "pipeline_id": "p", "run_id": 1, "task_id": "parent",
            "state": "complete", "status": "successful",
            "task": {"id": "parent", "image": "busybox"},
            "result": result,
        }))
        .unwrap()
    }

    #[test]
    fn resolves_compact_json_or_names_what_is_missing() {
        let mut executions = BTreeMap::new();
        executions.insert(
            "parent".to_string(),
            execution(Some(serde_json::json!({"url": "https://x", "n": [1, 2]}))),
        );
        assert_eq!(
            resolve("R", "parent", &executions).unwrap(),
            r#"{"n":[1,2],"url":"https://x"}"#
        );
        assert_eq!(
            resolve("R", "other", &executions).unwrap_err(),
            "variable 'R': task_result{{other}} cannot be resolved: task 'other' is not part of this run"
        );
        executions.insert("parent".to_string(), execution(None));
        assert_eq!(
            resolve("R", "parent", &executions).unwrap_err(),
            "variable 'R': task_result{{parent}} cannot be resolved: task 'parent' recorded no result"
        );
    }
}
