//! Fixed state for snapshots and update tests: a clock, pipelines, runs and a 6-task diamond.

use gofer_console::app::{App, Msg, PipelineRow, RunData, Settings};
use gofer_console::config::ConsoleConfig;
use gofer_core::api::{Event, Metadata, Namespace, Run, TaskExecution};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::json;

/// "Now" for every fixture: 2023-11-14T22:15:00Z.
pub const NOW: u64 = 1_700_000_100_000;

pub fn settings(read_only: bool) -> Settings {
    Settings {
        read_only,
        log_capacity: 1_000,
        config: ConsoleConfig::defaults(),
    }
}

pub fn app(width: u16, height: u16) -> App {
    App::new(settings(false), "default".into(), NOW, (width, height))
}

pub fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn code(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// Types `text` key by key, returning every effect.
pub fn type_text(app: &mut App, text: &str) -> Vec<gofer_console::app::Effect> {
    text.chars().flat_map(|c| app.update(key(c))).collect()
}

pub fn run(id: u64, state: &str, status: &str, queued_ago_s: u64, took_s: Option<u64>) -> Run {
    let queued = NOW - queued_ago_s * 1000;
    let started = if state == "pending" { 0 } else { queued + 1000 };
    let ended = match (state, took_s) {
        ("complete", Some(s)) => started + s * 1000,
        _ => 0,
    };
    serde_json::from_value(json!({
        "namespace_id": "default", "pipeline_id": "deploy-web", "pipeline_config_version": 3,
        "run_id": id, "queued": queued, "started": started, "ended": ended,
        "state": state, "status": status, "status_reason": null,
        "initiator": {"id": "0", "user": "alice", "kind": "api"},
        "variables": [], "token_id": null, "store_objects_expired": false, "event_id": null
    }))
    .unwrap()
}

pub fn metadata(id: &str, state: &str) -> Metadata {
    serde_json::from_value(json!({
        "namespace_id": "default", "pipeline_id": id, "created": NOW - 86_400_000,
        "modified": 0, "state": state
    }))
    .unwrap()
}

pub fn pipelines() -> Vec<PipelineRow> {
    vec![
        PipelineRow {
            metadata: metadata("deploy-web", "active"),
            live_version: Some(3),
            last_run: Some(run(42, "running", "unknown", 30, None)),
            subscriptions: vec![serde_json::from_value(json!({
                "namespace_id": "default", "pipeline_id": "deploy-web",
                "extension_id": "interval", "subscription_id": "every5m",
                "status": "active",
                "status_reason": {"reason": "failed", "description": "the extension could not start a run: cannot reach the Gofer server at http://172.17.0.1:8080"},
                "last_fired": NOW - 60_000,
                "last_error": "cannot reach the Gofer server at http://172.17.0.1:8080"
            }))
            .unwrap()],
            next_fire: Default::default(),
        },
        PipelineRow {
            metadata: metadata("nightly-backup", "active"),
            live_version: Some(12),
            last_run: Some(run(7, "complete", "failed", 3_600, Some(95))),
            subscriptions: vec![serde_json::from_value(json!({
                "namespace_id": "default", "pipeline_id": "nightly-backup",
                "extension_id": "cron", "subscription_id": "nightly",
                "settings": {"expression": "0 6 * * 1-5", "timezone": "Europe/Berlin"},
                "status": "active"
            }))
            .unwrap()],
            next_fire: [(
                "cron/nightly".to_string(),
                "2023-11-15T06:00:00+01:00[Europe/Berlin]".to_string(),
            )]
            .into(),
        },
        PipelineRow {
            metadata: metadata("lint-docs", "disabled"),
            live_version: None,
            last_run: None,
            subscriptions: vec![],
            next_fire: Default::default(),
        },
    ]
}

pub fn runs() -> Vec<Run> {
    vec![
        run(42, "running", "unknown", 30, None),
        run(41, "pending", "unknown", 10, None),
        run(40, "complete", "successful", 600, Some(185)),
        run(39, "complete", "failed", 4_000, Some(12)),
        run(38, "complete", "cancelled", 90_000, Some(4)),
    ]
}

/// A task execution of run 42; `deps` are parent ids; `span` = (started s ago, ended s ago).
pub fn task(
    id: &str,
    deps: &[&str],
    state: &str,
    status: &str,
    span: Option<(u64, Option<u64>)>,
) -> TaskExecution {
    let (started, ended) = match span {
        None => (0, 0),
        Some((s, e)) => (NOW - s * 1000, e.map_or(0, |e| NOW - e * 1000)),
    };
    let depends_on: serde_json::Map<String, serde_json::Value> = deps
        .iter()
        .map(|d| (d.to_string(), json!("success")))
        .collect();
    let attempts = if started > 0 {
        json!([{"attempt": 1, "started": started, "ended": ended, "exit_code": if status == "failed" { json!(2) } else if ended > 0 { json!(0) } else { json!(null) }, "status": status, "log_offset": 0}])
    } else {
        json!([])
    };
    serde_json::from_value(json!({
        "namespace_id": "default", "pipeline_id": "deploy-web", "run_id": 42, "task_id": id,
        "created": NOW - 30_000, "started": started, "ended": ended,
        "exit_code": if status == "failed" { json!(2) } else if ended > 0 { json!(0) } else { json!(null) },
        "logs_expired": false, "logs_removed": false, "state": state, "status": status,
        "status_reason": if status == "failed" { json!({"reason": "abnormal_exit", "description": "exited with code 2"}) } else { json!(null) },
        "variables": [{"key": "GOFER_TASK_ID", "value": id, "source": "system"}],
        "task": {"id": id, "image": "busybox:1.36", "depends_on": depends_on},
        "attempts": attempts
    }))
    .unwrap()
}

/// The 6-task diamond with mixed states: checkout ✔ → build ✔, lint ✖ → test ▶ (after
/// build), package ⏭ (after build and lint) → deploy ⏳ (after test and package).
pub fn diamond() -> RunData {
    RunData {
        run: run(42, "running", "unknown", 30, None),
        tasks: vec![
            task(
                "checkout",
                &[],
                "complete",
                "successful",
                Some((29, Some(25))),
            ),
            task(
                "build",
                &["checkout"],
                "complete",
                "successful",
                Some((25, Some(13))),
            ),
            task(
                "lint",
                &["checkout"],
                "complete",
                "failed",
                Some((25, Some(21))),
            ),
            task("test", &["build"], "running", "unknown", Some((13, None))),
            task("package", &["build", "lint"], "complete", "skipped", None),
            task("deploy", &["test", "package"], "waiting", "unknown", None),
        ],
    }
}

pub fn namespaces() -> Vec<Namespace> {
    vec![
        serde_json::from_value(json!({"id": "default", "name": "Default", "description": "Default namespace created by Gofer.", "created": NOW - 86_400_000 * 3, "modified": 0})).unwrap(),
        serde_json::from_value(json!({"id": "team-a", "name": "Team A", "description": "", "created": NOW - 3_600_000, "modified": 0})).unwrap(),
    ]
}

pub fn event(n: u64, kind: serde_json::Value, ago_s: u64) -> Event {
    serde_json::from_value(
        json!({"id": format!("0190-{n:04}"), "kind": kind, "emitted": NOW - ago_s * 1000}),
    )
    .unwrap()
}

pub fn events() -> Vec<Event> {
    vec![
        serde_json::from_value(json!({"id": "0189-0001", "emitted": NOW - 1_000_000,
            "kind": {"created_role": {"role_id": "team-reader"}}}))
        .unwrap(),
        serde_json::from_value(json!({"id": "0189-0002", "emitted": NOW - 950_000,
            "kind": {"pipeline_extension_subscription_registered": {"namespace_id": "default",
                "pipeline_id": "deploy-web", "extension_id": "interval", "subscription_id": "every5m"}}}))
        .unwrap(),
        event(
            1,
            json!({"created_pipeline": {"namespace_id": "default", "pipeline_id": "deploy-web"}}),
            900,
        ),
        event(
            2,
            json!({"queued_run": {"namespace_id": "default", "pipeline_id": "deploy-web", "run_id": 42}}),
            30,
        ),
        event(
            3,
            json!({"started_run": {"namespace_id": "default", "pipeline_id": "deploy-web", "run_id": 42}}),
            29,
        ),
        event(
            4,
            json!({"completed_task_execution": {"namespace_id": "default", "pipeline_id": "deploy-web", "run_id": 42, "task_execution_id": "lint", "status": "failed"}}),
            21,
        ),
        event(
            5,
            json!({"completed_run": {"namespace_id": "team-a", "pipeline_id": "etl", "run_id": 3, "status": "successful"}}),
            5,
        ),
    ]
}

/// An app on the pipelines view with data loaded.
pub fn on_pipelines(width: u16, height: u16) -> App {
    let mut app = app(width, height);
    app.update(Msg::Pipelines {
        namespace: "default".into(),
        result: Ok(pipelines()),
    });
    app.update(Msg::Connection(gofer_console::app::Connection::Live));
    app
}

/// An app on the runs view of deploy-web.
pub fn on_runs(width: u16, height: u16) -> App {
    let mut app = on_pipelines(width, height);
    app.update(code(KeyCode::Enter));
    app.update(Msg::Runs {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        result: Ok(runs()),
    });
    app
}

/// An app on the run view of run 42 (the diamond).
pub fn on_run(width: u16, height: u16) -> App {
    let mut app = on_runs(width, height);
    app.update(code(KeyCode::Enter));
    app.update(Msg::Run {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        run_id: 42,
        result: Ok(diamond()),
    });
    app
}

/// An app on the log view of task `test`, with `lines` lines received (`line 1` … `line N`).
pub fn on_logs(width: u16, height: u16, lines: usize) -> App {
    let mut app = on_run(width, height);
    // Select `test` (the order depends on the width: columns, or the tree when narrow).
    for _ in 0..6 {
        if app.selected_task.as_deref() == Some("test") {
            break;
        }
        app.update(key('j'));
    }
    assert_eq!(app.selected_task.as_deref(), Some("test"));
    app.update(code(KeyCode::Enter));
    let generation = app.logs.generation;
    app.update(Msg::LogTask {
        generation,
        result: Ok(diamond().tasks[3].clone()),
    });
    let text: String = (1..=lines)
        .map(|n| {
            format!(
                "line {n}: {}\n",
                if n % 10 == 0 {
                    "compiling crate gofer-core"
                } else {
                    "ok"
                }
            )
        })
        .collect();
    app.update(Msg::LogChunk {
        generation,
        bytes: text.into(),
    });
    app
}

/// deploy-web's versions 1-4 (3 live, 4 being deployed as a canary), its deployments and runs
/// on versions 3 and 4.
pub fn pipeline_data(canary_running: bool) -> gofer_console::app::PipelineData {
    let config = |version: u64, state: &str, image: &str, deps: serde_json::Value| {
        serde_json::from_value::<gofer_core::api::Config>(json!({
            "namespace_id": "default", "pipeline_id": "deploy-web", "version": version,
            "parallelism": 0, "name": "deploy web", "description": "",
            "tasks": {
                "build": {"id": "build", "description": "", "image": image,
                    "registry_auth": null, "depends_on": {}, "variables": [],
                    "entrypoint": null, "command": null, "inject_api_token": false,
                    "always_pull_newest_image": false},
                "ship": {"id": "ship", "description": "", "image": "shipper:1",
                    "registry_auth": null, "depends_on": deps, "variables": [],
                    "entrypoint": null, "command": null, "inject_api_token": false,
                    "always_pull_newest_image": false}
            },
            "state": state, "registered": NOW - version * 3_600_000, "deprecated": 0
        }))
        .unwrap()
    };
    let deployment = |id: u64, from: u64, to: u64, extra: serde_json::Value| {
        let mut d = json!({
            "namespace_id": "default", "pipeline_id": "deploy-web", "deployment_id": id,
            "start_version": from, "end_version": to, "started": NOW - (10 - id) * 600_000,
            "ended": NOW - (10 - id) * 600_000 + 1000, "state": "complete",
            "status": "successful", "status_reason": null, "logs": [], "strategy": "instant"
        });
        for (k, v) in extra.as_object().unwrap() {
            d[k] = v.clone();
        }
        serde_json::from_value::<gofer_core::api::Deployment>(d).unwrap()
    };
    let mut deployments = vec![
        deployment(3, 0, 3, json!({})),
        deployment(
            2,
            0,
            2,
            json!({"strategy": "smoke", "status": "failed", "smoke": {"run_id": 12},
                "status_reason": {"reason": "smoke_run_failed", "description": "smoke run 12 ended failed"}}),
        ),
    ];
    if canary_running {
        deployments.insert(
            0,
            deployment(
                4,
                3,
                4,
                json!({"strategy": "canary", "state": "running", "status": "unknown", "ended": 0,
                    "canary": {"policy": {"percent": 25, "bake": {"runs": 6},
                        "max_failure_rate": 0.2, "min_sample": 3},
                        "seed": 7, "started": 5, "baseline": 14,
                        "tally": {"successful": 3, "failed": 1, "scheduler_errors": 1, "cancelled": 0},
                        "bake_until": 0}}),
            ),
        );
    }
    let mut runs: Vec<Run> = (1..=8)
        .map(|i| {
            run(
                40 + i,
                "complete",
                if i == 3 { "failed" } else { "successful" },
                600 - i * 10,
                Some(20 + i),
            )
        })
        .collect();
    for r in runs.iter_mut().take(4) {
        r.pipeline_config_version = 4;
    }
    gofer_console::app::PipelineData {
        configs: vec![
            config(4, "unreleased", "builder:2", json!({"build": "any"})),
            config(3, "live", "builder:1", json!({"build": "success"})),
            config(2, "unreleased", "builder:1", json!({})),
            config(1, "deprecated", "builder:0", json!({})),
        ],
        deployments,
        runs,
    }
}

/// An app on deploy-web's pipeline view (`i` on the pipelines view), data loaded.
pub fn on_pipeline(width: u16, height: u16, canary_running: bool) -> App {
    let mut app = on_pipelines(width, height);
    app.update(key('i'));
    app.update(Msg::Pipeline {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        result: Ok(pipeline_data(canary_running)),
    });
    app
}

/// Three extensions: interval running, cron failing (restarted, waiting to retry), github disabled.
pub fn extensions() -> Vec<gofer_core::api::Extension> {
    let ext = |id: &str, state: &str, status: &str, extra: serde_json::Value| {
        let mut e = json!({
            "registration": {"extension_id": id, "image": format!("gofer.local/extension-{id}"),
                "registry_auth": null, "settings": [], "created": NOW - 7_200_000,
                "modified": 0, "status": status, "additional_roles": []},
            "url": "", "started": NOW - 3_600_000, "state": state,
            "documentation": {"body": "", "config_params": [], "pipeline_subscription_params": []}
        });
        for (k, v) in extra.as_object().unwrap() {
            e[k] = v.clone();
        }
        serde_json::from_value::<gofer_core::api::Extension>(e).unwrap()
    };
    vec![
        ext(
            "interval",
            "running",
            "enabled",
            json!({"documentation": {"body": "Starts a run every `every`.",
                "config_params": [{"key": "MIN_INTERVAL", "documentation": "The shortest `every` (default 1m).", "required": false}],
                "pipeline_subscription_params": [{"key": "every", "documentation": "How often, e.g. 5m.", "required": true}]},
                "registration": {"extension_id": "interval", "image": "gofer.local/extension-interval",
                    "registry_auth": null, "settings": [{"key": "MIN_INTERVAL", "value": "1s", "source": "pipeline_config"},
                        {"key": "API_TOKEN", "value": "********", "source": "pipeline_config"}],
                    "created": NOW - 7_200_000, "modified": 0, "status": "enabled", "additional_roles": []}}),
        ),
        ext(
            "cron",
            "exited",
            "enabled",
            json!({"restarts": 3, "retry_at": NOW + 8_000,
                "last_error": "the container of extension 'cron' exited while starting"}),
        ),
        ext("github", "exited", "disabled", json!({})),
    ]
}

pub fn subscriptions() -> Vec<gofer_core::api::Subscription> {
    serde_json::from_value(json!([
        {"namespace_id": "default", "pipeline_id": "deploy-web", "extension_id": "interval",
         "subscription_id": "hourly", "settings": {"every": "1h"}, "status": "active",
         "status_reason": null, "last_fired": NOW - 120_000},
        {"namespace_id": "team-a", "pipeline_id": "etl", "extension_id": "interval",
         "subscription_id": "tick", "settings": {"every": "5m", "token": "global_secret{{etl_token}}"},
         "status": "error", "status_reason": {"reason": "failed",
            "description": "every: must be at least 1m"}, "last_fired": 0}
    ]))
    .unwrap()
}

/// An app on the extensions view (`E` from the pipelines view), data loaded.
pub fn on_extensions(width: u16, height: u16) -> App {
    let mut app = on_pipelines(width, height);
    app.update(key('E'));
    app.update(Msg::Extensions(Ok(extensions())));
    app
}

/// Three runs in progress: one running two tasks, one between tasks, one queued second in line.
pub fn active_runs() -> Vec<gofer_core::api::ActiveRun> {
    let mut queued = run(44, "pending", "unknown", 20, None);
    queued.namespace_id = "team-a".into();
    queued.pipeline_id = "etl".into();
    vec![
        gofer_core::api::ActiveRun {
            run: run(42, "running", "unknown", 95, None),
            running_tasks: vec!["test".into(), "lint".into()],
            queue_position: 0,
        },
        gofer_core::api::ActiveRun {
            run: run(43, "running", "unknown", 30, None),
            running_tasks: vec![],
            queue_position: 0,
        },
        gofer_core::api::ActiveRun {
            run: queued,
            running_tasks: vec![],
            queue_position: 2,
        },
    ]
}
