//! Every view rendered from fixture state. Snapshots are text
//! only (colours are not compared); the glyphs carry the state.

use crate::fixtures::*;
use gofer_console::app::{App, Connection, Msg};
use gofer_console::dag::Layout;
use gofer_console::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use serde_json::json;

fn draw(app: &App) -> String {
    let (w, h) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| view::render(app, f)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn pipelines_list() {
    insta::assert_snapshot!(draw(&on_pipelines(100, 24)));
}

#[test]
fn pipelines_loading_failed_and_empty() {
    let mut app = app(80, 24);
    insta::assert_snapshot!("pipelines_loading", draw(&app));
    app.update(Msg::Pipelines {
        namespace: "default".into(),
        result: Err(
            "cannot reach the Gofer server at http://127.0.0.1:8080: connection refused".into(),
        ),
    });
    app.update(Msg::Connection(Connection::Reconnecting {
        attempt: 3,
        retry_in_ms: 2000,
        error: "refused".into(),
    }));
    insta::assert_snapshot!("pipelines_failed_disconnected", draw(&app));
    app.update(Msg::Pipelines {
        namespace: "default".into(),
        result: Ok(vec![]),
    });
    insta::assert_snapshot!("pipelines_empty", draw(&app));
}

#[test]
fn pipelines_read_only_hides_actions() {
    let mut app = App::new(settings(true), "default".into(), NOW, (100, 24));
    app.update(Msg::Pipelines {
        namespace: "default".into(),
        result: Ok(pipelines()),
    });
    app.update(Msg::Connection(Connection::Live));
    let text = draw(&app);
    assert!(text.contains("[read-only]"), "{text}");
    assert!(!text.contains("start run"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn pipelines_filtered() {
    let mut app = on_pipelines(100, 24);
    app.update(key('/'));
    type_text(&mut app, "NIGHT");
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn runs_list() {
    insta::assert_snapshot!(draw(&on_runs(100, 24)));
}

#[test]
fn run_dag_diamond_with_side_panel() {
    insta::assert_snapshot!(draw(&on_run(140, 30)));
}

#[test]
fn run_tree_fallback_on_an_80_column_terminal() {
    // The diamond's four columns of boxes need 106 columns: an 80-column terminal gets the tree.
    let app = on_run(80, 24);
    assert!(app.run_uses_tree());
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn run_dag_diamond_medium_width() {
    let mut app = on_run(100, 30);
    // Select `package` to show a skipped node highlighted.
    for _ in 0..4 {
        app.update(key('j'));
    }
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn run_tree_fallback_at_60_columns() {
    let app = on_run(120, 30);
    let data = diamond();
    let layout = Layout::new(&data.tasks);
    let mut terminal = Terminal::new(TestBackend::new(60, 10)).unwrap();
    terminal
        .draw(|f| {
            let area = f.area();
            view::render_tree(
                &app,
                &data.tasks,
                &layout,
                Some("lint"),
                f.buffer_mut(),
                area,
            )
        })
        .unwrap();
    insta::assert_snapshot!(terminal.backend().to_string());
}

#[test]
fn run_timeline() {
    let mut app = on_run(100, 24);
    app.update(key('t'));
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn logs_following() {
    let app = on_logs(100, 24, 500);
    assert!(app.logs.follow);
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn logs_paused() {
    let mut app = on_logs(100, 24, 500);
    for _ in 0..5 {
        app.update(key('k'));
    }
    assert!(!app.logs.follow);
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn logs_filtered() {
    let mut app = on_logs(100, 24, 500);
    app.update(key('&'));
    type_text(&mut app, "crate");
    app.update(code(KeyCode::Enter));
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn logs_search_and_wrap() {
    let mut app = on_logs(100, 24, 500);
    app.update(key('/'));
    type_text(&mut app, "line 250:");
    app.update(code(KeyCode::Enter));
    insta::assert_snapshot!("logs_search", draw(&app));
    let generation = app.logs.generation;
    app.update(Msg::LogChunk {
        generation,
        bytes: format!("{}\n", "wrapped ".repeat(30)).into(),
    });
    app.update(key('w'));
    app.update(key('G'));
    insta::assert_snapshot!("logs_wrap", draw(&app));
}

#[test]
fn logs_states() {
    let mut app = on_logs(80, 24, 0);
    insta::assert_snapshot!("logs_no_output_yet", draw(&app));
    let generation = app.logs.generation;
    let mut expired = diamond().tasks[3].clone();
    expired.logs_expired = true;
    expired.logs_removed = true;
    app.update(Msg::LogTask {
        generation,
        result: Ok(expired),
    });
    insta::assert_snapshot!("logs_expired", draw(&app));
    app.update(Msg::LogTask {
        generation,
        result: Ok(diamond().tasks[4].clone()),
    });
    insta::assert_snapshot!("logs_never_started", draw(&app));
    // An attempt was recorded but its image could not be pulled: no container ever ran.
    let mut unpulled = serde_json::to_value(diamond().tasks[0].clone()).unwrap();
    unpulled["started"] = json!(0);
    unpulled["ended"] = json!(NOW);
    unpulled["exit_code"] = json!(null);
    unpulled["status"] = json!("failed");
    unpulled["status_reason"] = json!({"reason": "scheduler_error",
        "description": "obtain image 'does-not-exist/zzz:1': pull access denied"});
    unpulled["attempts"] = json!([{"attempt": 1, "started": 0, "ended": NOW,
        "exit_code": null, "status": "failed", "log_offset": 0}]);
    app.update(Msg::LogTask {
        generation,
        result: Ok(serde_json::from_value(unpulled).unwrap()),
    });
    insta::assert_snapshot!("logs_image_never_pulled", draw(&app));
}

#[test]
fn events_view() {
    let mut app = on_pipelines(100, 24);
    app.update(Msg::EventHistory(Ok(events())));
    app.update(key(':'));
    type_text(&mut app, "events");
    app.update(code(KeyCode::Enter));
    insta::assert_snapshot!("events", draw(&app));
    app.update(key('/'));
    type_text(&mut app, "team-a");
    app.update(code(KeyCode::Enter));
    insta::assert_snapshot!("events_filtered", draw(&app));
}

#[test]
fn namespaces_view() {
    let mut app = on_pipelines(100, 24);
    app.update(key(':'));
    type_text(&mut app, "namespaces");
    app.update(code(KeyCode::Enter));
    app.update(Msg::Namespaces(Ok(namespaces())));
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn help_overlay() {
    let mut app = on_run(100, 30);
    app.update(key('?'));
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn command_mode() {
    let mut app = on_runs(100, 24);
    app.update(key(':'));
    type_text(&mut app, "run");
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn confirm_prompt() {
    let mut app = on_runs(100, 24);
    app.update(key('c'));
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn tiny_terminals_never_panic() {
    for (w, h) in [(0, 0), (20, 5), (1, 1), (79, 23), (80, 24)] {
        for app in [
            on_pipelines(w, h),
            on_runs(w, h),
            on_run(w, h),
            on_logs(w.max(1), h.max(1), 50),
        ] {
            let mut app = app;
            app.size = (w, h);
            let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
            terminal.draw(|f| view::render(&app, f)).unwrap();
            app.update(key('?'));
            terminal.draw(|f| view::render(&app, f)).unwrap();
        }
    }
    insta::assert_snapshot!("too_small_20x5", draw(&on_pipelines(20, 5)));
}

#[test]
fn a_hundred_tasks_stay_readable() {
    // 100 tasks: 10 layers of 10, each depending on the task above it in the previous layer.
    let mut data = diamond();
    data.tasks = (0..100)
        .map(|i| {
            let id = format!("t{:02}", i);
            let parent = (i >= 10).then(|| format!("t{:02}", i - 10));
            let deps: Vec<&str> = parent.iter().map(String::as_str).collect();
            let (state, status) = if i < 50 {
                ("complete", "successful")
            } else {
                ("waiting", "unknown")
            };
            task(&id, &deps, state, status, None)
        })
        .collect();
    let mut app = on_runs(120, 30);
    app.update(code(KeyCode::Enter));
    app.update(Msg::Run {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        run_id: 42,
        result: Ok(data),
    });
    // Select the last task: the view scrolls so it is drawn, highlighted.
    app.update(key('G'));
    assert_eq!(app.selected_task.as_deref(), Some("t99"));
    let text = draw(&app);
    assert!(text.contains("t99"), "{text}");
    assert!(text.contains("100/100"), "{text}");
    for size in [(80, 24), (200, 60), (120, 30)] {
        app.update(Msg::Resize(size.0, size.1));
        let mut terminal = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
        terminal.draw(|f| view::render(&app, f)).unwrap();
        assert!(terminal.backend().to_string().contains("t99"));
    }
}

/// Stored text with escape sequences and line breaks (a token's `user` written by an older
/// version) never reaches the terminal as control characters.
#[test]
fn stored_control_characters_are_never_drawn() {
    let mut app = on_pipelines(120, 30);
    app.update(code(KeyCode::Enter));
    let mut list = runs();
    list[0].initiator.user = "\u{1b}[2J\u{1b}]0;owned\u{7}mallory\nroot".into();
    app.update(Msg::Runs {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        result: Ok(list),
    });
    let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
    terminal.draw(|f| view::render(&app, f)).unwrap();
    let cells: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(cells.contains("mallory"), "the user is shown: {cells}");
    assert!(
        !cells.chars().any(|c| c.is_control()),
        "a control character reached the screen buffer"
    );
}

/// A run whose cancel was accepted says `cancelling` and who asked, until it ends.
#[test]
fn run_cancelling() {
    let mut app = on_run(100, 26);
    let mut data = diamond();
    data.run.cancellation = Some(gofer_core::api::RunCancellation {
        requested: NOW - 2_000,
        by: "alice".into(),
        force: false,
        reason: None,
    });
    app.update(Msg::Run {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        run_id: 42,
        result: Ok(data),
    });
    let screen = draw(&app);
    assert!(screen.contains("cancelling (by alice)"), "{screen}");
    insta::assert_snapshot!(screen);
}

/// A retried run says what it retried; a reused task's details say where it came from and its
/// limits (docs/runs.md#retrying-a-run, docs/pipelines.md#task-resources).
#[test]
fn a_retried_run_names_the_run_and_its_reused_tasks() {
    let mut app = on_run(120, 36);
    let mut data = diamond();
    data.run.retry = Some(gofer_core::api::RetryOf {
        run_id: 41,
        failed_only: true,
        reused_tasks: vec![data.tasks[0].task_id.clone()],
    });
    data.tasks[0].status_reason = Some(gofer_core::api::StatusReason {
        reason: gofer_core::enums::TaskExecutionStatusReasonKind::Reused,
        description: "reused from run 41, where it succeeded".into(),
    });
    data.tasks[0].task.resources = gofer_core::resources::TaskResources {
        cpus: Some(gofer_core::resources::Cpus(500)),
        memory: Some(512 << 20),
    };
    app.update(Msg::Run {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        run_id: 42,
        result: Ok(data),
    });
    let screen = draw(&app);
    assert!(screen.contains("retry of run 41 (1 reused)"), "{screen}");
    assert!(
        screen.contains("reason reused: reused from run 41, where it succeeded"),
        "{screen}"
    );
    assert!(screen.contains("limits 0.5 CPU, 512Mi memory"), "{screen}");
}

/// An extension's run names its initiator once: `interval (extension)`.
#[test]
fn extension_runs_name_their_initiator_once() {
    let mut app = on_runs(120, 24);
    let mut list = runs();
    list[0].initiator.user = "interval (extension)".into();
    list[0].initiator.kind = gofer_core::api::InitiatorKind::Extension;
    app.update(Msg::Runs {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        result: Ok(list),
    });
    let screen = draw(&app);
    assert!(screen.contains("interval (extension)"), "{screen}");
    assert!(!screen.contains("(extension) (extension)"), "{screen}");
}

/// Every event kind shows its ids, so the filter finds it by what it names.
#[test]
fn every_event_kind_shows_its_ids() {
    let mut app = on_pipelines(100, 24);
    app.update(Msg::EventHistory(Ok(events())));
    app.update(key(':'));
    type_text(&mut app, "events");
    app.update(code(KeyCode::Enter));
    app.update(key('/'));
    type_text(&mut app, "interval");
    app.update(code(KeyCode::Enter));
    let screen = draw(&app);
    assert!(
        screen.contains("pipeline_extension_subscription_registered ns=default"),
        "{screen}"
    );
    // Esc clears the filter and stays on the events; a second Esc leaves.
    app.update(code(KeyCode::Esc));
    assert_eq!(*app.screen(), gofer_console::app::Screen::Events);
    assert!(app.frame().filter.is_empty());
    app.update(key('/'));
    type_text(&mut app, "team-reader");
    app.update(code(KeyCode::Enter));
    let screen = draw(&app);
    assert!(screen.contains("created_role"), "{screen}");
    assert!(screen.contains("role=team-reader"), "{screen}");
    app.update(code(KeyCode::Esc));
    app.update(code(KeyCode::Esc));
    assert_ne!(*app.screen(), gofer_console::app::Screen::Events);
}

#[test]
fn pipeline_with_a_canary_in_progress() {
    let text = draw(&on_pipeline(120, 30, true));
    assert!(text.contains("3 succeeded · 1 failed"), "{text}");
    assert!(
        text.contains("gofer pipeline deployment promote deploy-web 4"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn pipeline_without_a_deployment_and_a_version_diff() {
    let mut app = on_pipeline(120, 30, false);
    let text = draw(&app);
    assert!(
        text.contains("no deployment in progress · live version 3"),
        "{text}"
    );
    assert!(text.contains("smoke_run_failed"), "{text}");
    // enter on version 4 (the first row): what changed against the live version 3.
    app.update(code(KeyCode::Enter));
    let text = draw(&app);
    assert!(text.contains("version 3 → 4"), "{text}");
    assert!(
        text.contains("image: \"builder:1\" → \"builder:2\""),
        "{text}"
    );
    assert!(
        text.contains("depends_on.build: \"success\" → \"any\""),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn pipeline_read_only_shows_no_promote_or_abort() {
    let mut app = App::new(settings(true), "default".into(), NOW, (120, 30));
    app.update(Msg::Pipelines {
        namespace: "default".into(),
        result: Ok(pipelines()),
    });
    app.update(key('i'));
    app.update(Msg::Pipeline {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        result: Ok(pipeline_data(true)),
    });
    let text = draw(&app);
    assert!(!text.contains("promote"), "{text}");
    assert!(text.contains("3 succeeded"), "{text}");
}

#[test]
fn extensions_list_with_a_failing_extension() {
    let mut app = on_extensions(120, 24);
    let text = draw(&app);
    assert!(
        text.contains("exited · restarted 3× · retry in 8s"),
        "{text}"
    );
    assert!(
        !text.contains("last error"),
        "interval never failed: {text}"
    );
    insta::assert_snapshot!(text);
    // The selected extension's last error, in full, below the list.
    app.update(key('j'));
    let text = draw(&app);
    assert!(
        text.contains("last error: the container of extension 'cron' exited while starting"),
        "{text}"
    );
    insta::assert_snapshot!("extensions_failing_selected", text);
}

#[test]
fn extensions_loading_failed_and_empty() {
    let mut app = on_pipelines(100, 24);
    app.update(key('E'));
    insta::assert_snapshot!("extensions_loading", draw(&app));
    app.update(Msg::Extensions(Err("permission denied".into())));
    let text = draw(&app);
    assert!(
        text.contains("cannot load extensions: permission denied"),
        "{text}"
    );
    app.update(Msg::Extensions(Ok(vec![])));
    let text = draw(&app);
    assert!(text.contains("no extensions installed"), "{text}");
}

/// The extension's tabs: its log (the log view), debug info (and a 503), subscriptions across
/// namespaces (references as written), settings.
#[test]
fn extension_tabs() {
    let mut app = on_extensions(120, 24);
    app.update(code(KeyCode::Enter));
    let generation = app.logs.generation;
    app.update(Msg::LogChunk {
        generation,
        bytes: bytes::Bytes::from_static(
            b"interval extension listening on 0.0.0.0:8082\nsubscribed default/deploy-web hourly\n",
        ),
    });
    let text = draw(&app);
    assert!(text.contains("listening on 0.0.0.0:8082"), "{text}");
    insta::assert_snapshot!("extension_logs", text);

    app.update(code(KeyCode::Tab));
    insta::assert_snapshot!("extension_debug_loading", draw(&app));
    app.update(Msg::ExtensionDebug {
        id: "interval".into(),
        result: Ok("{\n  \"subscriptions\": [\n    {\n      \"next_fire\": \"2023-11-14T22:16:00Z\"\n    }\n  ]\n}".into()),
    });
    let text = draw(&app);
    assert!(text.contains("\"next_fire\""), "{text}");
    insta::assert_snapshot!("extension_debug", text);
    app.update(Msg::ExtensionDebug {
        id: "interval".into(),
        result: Err("503 extension 'interval' is not running".into()),
    });
    let text = draw(&app);
    assert!(
        text.contains("unavailable: 503 extension 'interval' is not running"),
        "{text}"
    );
    insta::assert_snapshot!("extension_debug_503", text);

    app.update(code(KeyCode::Tab));
    app.update(Msg::ExtensionSubscriptions {
        id: "interval".into(),
        result: Ok(subscriptions()),
    });
    let text = draw(&app);
    assert!(text.contains("fired 2m00s ago"), "{text}");
    insta::assert_snapshot!("extension_subscriptions", text);
    // The selected one's settings in full: a secret reference as written, never resolved.
    app.update(key('j'));
    let text = draw(&app);
    assert!(
        text.contains("team-a/etl tick: every=5m token=global_secret{{etl_token}}"),
        "{text}"
    );
    assert!(
        text.contains("failed: every: must be at least 1m"),
        "{text}"
    );

    app.update(code(KeyCode::Tab));
    let text = draw(&app);
    assert!(text.contains("API_TOKEN = ********"), "{text}");
    assert!(text.contains("every (required)"), "{text}");
    insta::assert_snapshot!("extension_settings", text);
}

/// `x` in the run view: the failed task with its last log lines, the skipped one with its chain.
#[test]
fn run_diagnosis_panel() {
    let mut app = on_run(120, 32);
    let effects = app.update(key('x'));
    assert_eq!(
        effects,
        vec![gofer_console::app::Effect::LoadDiagnosisLogs {
            namespace: "default".into(),
            pipeline: "deploy-web".into(),
            run_id: 42,
            tasks: vec!["lint".into()],
        }]
    );
    let loading = draw(&app);
    assert!(
        loading.contains("reading the failed tasks' logs"),
        "{loading}"
    );
    app.update(Msg::DiagnosisLogs {
        run_id: 42,
        result: Ok(std::collections::BTreeMap::from([(
            "lint".to_string(),
            vec![
                "checking 12 files".into(),
                "src/app.rs:3: unused import".into(),
            ],
        )])),
    });
    let text = draw(&app);
    assert!(text.contains("✖ task lint failed"), "{text}");
    assert!(text.contains("│ src/app.rs:3: unused import"), "{text}");
    assert!(text.contains("⏭ package ← lint (failed)"), "{text}");
    insta::assert_snapshot!(text);
    // x again closes it.
    app.update(key('x'));
    assert!(!draw(&app).contains("x closes"));
}

#[test]
fn running_now_across_namespaces() {
    let mut app = on_pipelines(120, 24);
    app.update(key(':'));
    type_text(&mut app, "running");
    app.update(code(KeyCode::Enter));
    insta::assert_snapshot!("running_loading", draw(&app));
    app.update(Msg::Running(Ok(active_runs())));
    let text = draw(&app);
    assert!(text.contains("test, lint"), "{text}");
    assert!(text.contains("queued, #2 in line"), "{text}");
    assert!(text.contains("team-a"), "{text}");
    insta::assert_snapshot!(text);
    app.update(Msg::Running(Ok(vec![])));
    assert!(draw(&app).contains("nothing is running or queued right now"));
}

/// The triggers column says how a pipeline is triggered and when a schedule fires next.
#[test]
fn pipelines_show_their_triggers_and_next_fire() {
    let text = draw(&on_pipelines(170, 24));
    assert!(
        text.contains(
            "cron 0 6 * * 1-5 Europe/Berlin · next 2023-11-15T06:00:00+01:00[Europe/Berlin]"
        ),
        "{text}"
    );
    assert_eq!(
        gofer_console::screens::pipelines::trigger_text(
            &serde_json::from_value(json!({
                "namespace_id": "n", "pipeline_id": "p", "extension_id": "interval",
                "subscription_id": "s", "settings": {"every": "5m"}, "status": "active"
            }))
            .unwrap()
        ),
        "interval every 5m"
    );
}

/// `:pulse`: health, runs now, and per-minute sparklines from successive `/metrics` readings.
#[test]
fn pulse_from_health_and_metrics() {
    use gofer_console::app::PulseSample;
    let mut app = on_pipelines(120, 30);
    app.update(key(':'));
    type_text(&mut app, "pulse");
    assert_eq!(
        app.update(code(KeyCode::Enter)),
        vec![gofer_console::app::Effect::LoadPulse]
    );
    assert!(draw(&app).contains("reading the server's pulse"));
    let metrics = |ok: u64, failed: u64, events: u64| {
        format!(
            "# TYPE gofer_runs gauge\ngofer_runs{{state=\"pending\"}} 3\ngofer_runs{{state=\"running\"}} 2\n\
             gofer_runs_total{{status=\"successful\"}} {ok}\ngofer_runs_total{{status=\"failed\"}} {failed}\n\
             gofer_events_total{{kind=\"queued_run\"}} {events}\ngofer_events_total{{kind=\"completed_run\"}} {events}\n"
        )
    };
    let checks = vec![
        ("scheduler".to_string(), "ok".to_string()),
        ("storage".to_string(), "ok".to_string()),
    ];
    // Ten minutes of readings, a minute apart: 4 runs and 1 failure a minute.
    for minute in 0..10u64 {
        app.update(Msg::Tick(NOW + minute * 60_000));
        app.update(Msg::Pulse(Ok(PulseSample::from_metrics(
            "ok".into(),
            checks.clone(),
            &metrics(minute * 3, minute, minute * 10),
        ))));
    }
    let sample = &app.pulse.samples.back().unwrap().1;
    assert_eq!((sample.pending, sample.running, sample.events), (3, 2, 180));
    assert_eq!(
        app.pulse_rate(|s| s.completed_total()).iter().sum::<u64>(),
        36
    );
    let text = draw(&app);
    assert!(
        text.contains("health ok · scheduler ok · storage ok"),
        "{text}"
    );
    assert!(text.contains("2 running · 3 queued"), "{text}");
    assert!(text.contains("now 4/min"), "{text}");
    insta::assert_snapshot!(text);
    app.update(Msg::Pulse(Err("cannot reach the Gofer server".into())));
    assert!(draw(&app).contains("the last reading failed: cannot reach the Gofer server"));
}
