//! What changed between two config versions of a pipeline (docs/pipelines.md#comparing-versions):
//! pipeline fields, tasks added and removed, and each changed task field by field. Pure data in,
//! data out; the server answers it and the CLI draws it.

use crate::api::{Config, ConfigDiff, FieldChange, Task, TaskChange};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn change(out: &mut Vec<FieldChange>, field: impl Into<String>, from: Value, to: Value) {
    if from != to {
        out.push(FieldChange {
            field: field.into(),
            from,
            to,
        });
    }
}

/// The task's fields as the API shows them: a registry password that is not a secret reference
/// is `********`, so a diff never reveals one (it only says that it changed, when the masked
/// forms differ, which they do not: a changed literal password shows no change).
fn shown(task: &Task) -> Task {
    task.redacted()
}

fn task_changes(from: &Task, to: &Task) -> Vec<FieldChange> {
    let (a, b) = (shown(from), shown(to));
    let mut out = Vec::new();
    change(
        &mut out,
        "description",
        json!(a.description),
        json!(b.description),
    );
    change(&mut out, "image", json!(a.image), json!(b.image));
    change(
        &mut out,
        "registry_auth",
        json!(a.registry_auth),
        json!(b.registry_auth),
    );
    let parents: BTreeSet<&String> = a.depends_on.keys().chain(b.depends_on.keys()).collect();
    for parent in parents {
        change(
            &mut out,
            format!("depends_on.{parent}"),
            json!(a.depends_on.get(parent)),
            json!(b.depends_on.get(parent)),
        );
    }
    let keys: BTreeSet<&String> = a
        .variables
        .iter()
        .chain(b.variables.iter())
        .map(|v| &v.key)
        .collect();
    for key in keys {
        let value = |t: &Task| {
            t.variables
                .iter()
                .find(|v| &v.key == key)
                .map(|v| v.value.clone())
        };
        change(
            &mut out,
            format!("variables.{key}"),
            json!(value(&a)),
            json!(value(&b)),
        );
    }
    change(
        &mut out,
        "entrypoint",
        json!(a.entrypoint),
        json!(b.entrypoint),
    );
    change(&mut out, "command", json!(a.command), json!(b.command));
    change(
        &mut out,
        "resources.cpus",
        json!(a.resources.cpus),
        json!(b.resources.cpus),
    );
    change(
        &mut out,
        "resources.memory",
        json!(a.resources.memory.map(crate::resources::format_bytes)),
        json!(b.resources.memory.map(crate::resources::format_bytes)),
    );
    change(
        &mut out,
        "inject_api_token",
        json!(a.inject_api_token),
        json!(b.inject_api_token),
    );
    change(
        &mut out,
        "always_pull_newest_image",
        json!(a.always_pull_newest_image),
        json!(b.always_pull_newest_image),
    );
    change(&mut out, "timeout", json!(a.timeout), json!(b.timeout));
    change(
        &mut out,
        "retries.count",
        json!(a.retries.count),
        json!(b.retries.count),
    );
    change(
        &mut out,
        "retries.backoff",
        json!(a.retries.backoff),
        json!(b.retries.backoff),
    );
    out
}

/// What changed from `from` to `to` (two versions of one pipeline).
pub fn diff(from: &Config, to: &Config) -> ConfigDiff {
    let mut pipeline = Vec::new();
    change(&mut pipeline, "name", json!(from.name), json!(to.name));
    change(
        &mut pipeline,
        "description",
        json!(from.description),
        json!(to.description),
    );
    change(
        &mut pipeline,
        "parallelism",
        json!(from.parallelism),
        json!(to.parallelism),
    );
    change(
        &mut pipeline,
        "timeout",
        json!(from.timeout),
        json!(to.timeout),
    );
    change(
        &mut pipeline,
        "overlap",
        json!(from.overlap),
        json!(to.overlap),
    );
    change(
        &mut pipeline,
        "notifications",
        json!(from.notifications),
        json!(to.notifications),
    );
    let tasks_added = to
        .tasks
        .keys()
        .filter(|t| !from.tasks.contains_key(*t))
        .cloned()
        .collect();
    let tasks_removed = from
        .tasks
        .keys()
        .filter(|t| !to.tasks.contains_key(*t))
        .cloned()
        .collect();
    let tasks_changed = from
        .tasks
        .iter()
        .filter_map(|(id, a)| {
            let b = to.tasks.get(id)?;
            let changes = task_changes(a, b);
            (!changes.is_empty()).then(|| TaskChange {
                task: id.clone(),
                changes,
            })
        })
        .collect();
    ConfigDiff {
        namespace_id: to.namespace_id.clone(),
        pipeline_id: to.pipeline_id.clone(),
        from_version: from.version,
        to_version: to.version,
        pipeline,
        tasks_added,
        tasks_removed,
        tasks_changed,
    }
}

/// What a line of a printed diff is, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Added,
    Removed,
    Changed,
    /// A field of a changed task, under its `~ task` line.
    Detail,
}

/// The diff as the CLI and the console print it, one line each: `~ name: "a" → "b"`,
/// `+ task x`, `- task y`, `~ task z` followed by its indented fields. A missing value is
/// `(none)`.
pub fn lines(d: &ConfigDiff) -> Vec<(LineKind, String)> {
    let value = |v: &Value| match v {
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    };
    let mut out = Vec::new();
    for c in &d.pipeline {
        out.push((
            LineKind::Changed,
            format!("~ {}: {} → {}", c.field, value(&c.from), value(&c.to)),
        ));
    }
    for t in &d.tasks_added {
        out.push((LineKind::Added, format!("+ task {t}")));
    }
    for t in &d.tasks_removed {
        out.push((LineKind::Removed, format!("- task {t}")));
    }
    for t in &d.tasks_changed {
        out.push((LineKind::Changed, format!("~ task {}", t.task)));
        for c in &t.changes {
            out.push((
                LineKind::Detail,
                format!("    {}: {} → {}", c.field, value(&c.from), value(&c.to)),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(version: u64, tasks: Value, timeout: u64) -> Config {
        let tasks: std::collections::BTreeMap<String, Task> = tasks
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                let task: Task = serde_json::from_value(t.clone()).expect("task");
                (task.id.clone(), task)
            })
            .collect();
        serde_json::from_value(json!({
            "namespace_id": "ns", "pipeline_id": "p", "version": version, "name": "p",
            "timeout": timeout, "tasks": tasks, "state": "live", "registered": 1
        }))
        .expect("config")
    }

    #[test]
    fn one_image_and_one_dependency_are_exactly_what_changed() {
        let a = config(
            1,
            json!([
                {"id": "build", "image": "builder:1"},
                {"id": "test", "image": "tester:1", "depends_on": {"build": "success"}}
            ]),
            0,
        );
        let b = config(
            2,
            json!([
                {"id": "build", "image": "builder:2"},
                {"id": "test", "image": "tester:1", "depends_on": {"build": "any"}}
            ]),
            0,
        );
        let d = diff(&a, &b);
        assert_eq!((d.from_version, d.to_version), (1, 2));
        assert!(d.pipeline.is_empty() && d.tasks_added.is_empty() && d.tasks_removed.is_empty());
        assert_eq!(
            d.tasks_changed,
            vec![
                TaskChange {
                    task: "build".into(),
                    changes: vec![FieldChange {
                        field: "image".into(),
                        from: json!("builder:1"),
                        to: json!("builder:2"),
                    }],
                },
                TaskChange {
                    task: "test".into(),
                    changes: vec![FieldChange {
                        field: "depends_on.build".into(),
                        from: json!("success"),
                        to: json!("any"),
                    }],
                },
            ]
        );
    }

    #[test]
    fn added_removed_pipeline_fields_and_variables() {
        let a = config(
            3,
            json!([
                {"id": "old", "image": "x"},
                {"id": "keep", "image": "x", "variables": [{"key": "A", "value": "1", "source": "pipeline_config"}]}
            ]),
            0,
        );
        let b = config(
            5,
            json!([
                {"id": "new", "image": "x"},
                {"id": "keep", "image": "x", "variables": [{"key": "B", "value": "pipeline_secret{{b}}", "source": "pipeline_config"}],
                 "retries": {"count": 2, "backoff": 10}}
            ]),
            600,
        );
        let d = diff(&a, &b);
        assert_eq!(
            d.pipeline,
            vec![FieldChange {
                field: "timeout".into(),
                from: json!(0),
                to: json!(600)
            }]
        );
        assert_eq!(d.tasks_added, vec!["new".to_string()]);
        assert_eq!(d.tasks_removed, vec!["old".to_string()]);
        let fields: Vec<(&str, Value, Value)> = d.tasks_changed[0]
            .changes
            .iter()
            .map(|c| (c.field.as_str(), c.from.clone(), c.to.clone()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("variables.A", json!("1"), Value::Null),
                ("variables.B", Value::Null, json!("pipeline_secret{{b}}")),
                ("retries.count", json!(0), json!(2)),
            ]
        );
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn a_literal_registry_password_is_never_shown() {
        let with_pass = |pass: &str| {
            config(
                1,
                json!([{"id": "t", "image": "x", "registry_auth": {"user": "u", "pass": pass}}]),
                0,
            )
        };
        let d = diff(&with_pass("hunter2"), &with_pass("pipeline_secret{{reg}}"));
        let text = serde_json::to_string(&d).expect("json");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("pipeline_secret{{reg}}"), "{text}");
    }
}
