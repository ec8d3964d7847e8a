//! `App::update` key flows: navigation, filter, follow/pause, confirm-cancel,
//! read-only refusal, command mode, live events.

use crate::fixtures::*;
use gofer_console::app::{Effect, LogState, Mode, Msg, Mutation, Screen};
use ratatui::crossterm::event::KeyCode;
use serde_json::json;

#[test]
fn navigation_enter_esc_q_and_loads() {
    let mut app = on_pipelines(100, 24);
    assert_eq!(
        app.initial_effects()[0],
        Effect::LoadPipelines {
            namespace: "default".into()
        }
    );
    // j/k and arrows move, clamped.
    app.update(key('j'));
    app.update(code(KeyCode::Down));
    app.update(key('j'));
    assert_eq!(app.frame().selected, 2);
    app.update(key('k'));
    app.update(key('g'));
    assert_eq!(app.frame().selected, 0);
    app.update(key('G'));
    assert_eq!(app.frame().selected, 2);
    app.update(key('g'));
    // enter: pipelines → runs.
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(
        *app.screen(),
        Screen::Runs {
            pipeline: "deploy-web".into()
        }
    );
    assert_eq!(
        effects,
        vec![Effect::LoadRuns {
            namespace: "default".into(),
            pipeline: "deploy-web".into()
        }]
    );
    app.update(Msg::Runs {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        result: Ok(runs()),
    });
    app.update(ctrl('d'));
    assert_eq!(
        app.frame().selected,
        4,
        "ctrl-d moves half a page, clamped to the list"
    );
    app.update(ctrl('u'));
    assert_eq!(app.frame().selected, 0);
    // enter: runs → run 42.
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(
        *app.screen(),
        Screen::Run {
            pipeline: "deploy-web".into(),
            run_id: 42
        }
    );
    assert_eq!(
        effects,
        vec![Effect::LoadRun {
            namespace: "default".into(),
            pipeline: "deploy-web".into(),
            run_id: 42
        }]
    );
    app.update(Msg::Run {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        run_id: 42,
        result: Ok(diamond()),
    });
    assert_eq!(app.selected_task.as_deref(), Some("checkout"));
    app.update(key('j'));
    assert_eq!(app.selected_task.as_deref(), Some("build"));
    // enter: run → task logs (reads the execution first).
    let effects = app.update(code(KeyCode::Enter));
    assert!(
        matches!(&effects[..], [Effect::OpenLogs { task, .. }] if task == "build"),
        "{effects:?}"
    );
    assert_eq!(app.stack.len(), 4);
    // esc goes back and stops the log stream; q in a sub-view goes back too.
    let effects = app.update(code(KeyCode::Esc));
    assert!(effects.contains(&Effect::StopLogs), "{effects:?}");
    assert!(matches!(app.screen(), Screen::Run { .. }));
    assert_eq!(
        app.selected_task.as_deref(),
        Some("build"),
        "selection restored"
    );
    app.update(key('q'));
    app.update(code(KeyCode::Backspace));
    assert_eq!(*app.screen(), Screen::Pipelines);
    assert!(!app.quit);
    // esc at the top does nothing; q quits.
    app.update(code(KeyCode::Esc));
    assert!(!app.quit);
    app.update(key('q'));
    assert!(app.quit);
    // ctrl-c quits from anywhere, even while typing a command.
    let mut app = on_run(100, 24);
    app.update(key(':'));
    app.update(ctrl('c'));
    assert!(app.quit);
}

#[test]
fn filter_is_live_and_case_insensitive() {
    let mut app = on_pipelines(100, 24);
    app.update(key('G'));
    app.update(key('/'));
    assert_eq!(app.mode, Mode::Filter);
    type_text(&mut app, "DEP");
    let ids: Vec<_> = app
        .visible_pipelines()
        .iter()
        .map(|p| p.metadata.pipeline_id.clone())
        .collect();
    assert_eq!(ids, ["deploy-web"]);
    assert_eq!(
        app.frame().selected,
        0,
        "selection clamped into the filtered list"
    );
    // Keys typed into the filter are text, not actions: `q` does not quit.
    type_text(&mut app, "q");
    assert!(!app.quit);
    assert!(app.visible_pipelines().is_empty());
    app.update(code(KeyCode::Backspace));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.frame().filter, "DEP");
    // The filter belongs to its screen: entering the runs view starts unfiltered, esc restores.
    app.update(code(KeyCode::Enter));
    assert_eq!(app.frame().filter, "");
    app.update(code(KeyCode::Esc));
    assert_eq!(app.frame().filter, "DEP");
    // esc while filtering clears it.
    app.update(key('/'));
    app.update(code(KeyCode::Esc));
    assert_eq!(app.visible_pipelines().len(), 3);
}

#[test]
fn logs_follow_pause_and_resume() {
    let mut app = on_logs(100, 24, 500);
    let height = app.log_height();
    assert!(app.logs.follow);
    // Scrolling up pauses; new output does not move the view.
    app.update(key('k'));
    assert!(!app.logs.follow);
    let top = app.logs.top;
    assert_eq!(top, (500 - height - 1) as u64);
    let generation = app.logs.generation;
    app.update(Msg::LogChunk {
        generation,
        bytes: "more\n".into(),
    });
    assert_eq!(app.logs.top, top);
    assert!(!app.logs.follow);
    // G resumes, f toggles, space pauses and resumes.
    app.update(key('G'));
    assert!(app.logs.follow);
    app.update(key('f'));
    assert!(!app.logs.follow);
    app.update(key('f'));
    assert!(app.logs.follow);
    app.update(key(' '));
    assert!(!app.logs.follow);
    app.update(key(' '));
    assert!(app.logs.follow);
    // g goes to the top; scrolling back down to the end follows again.
    app.update(key('g'));
    assert_eq!(app.logs.top, 0);
    for _ in 0..600 {
        app.update(key('j'));
    }
    assert!(app.logs.follow);
    // Chunks of a replaced stream are dropped.
    app.update(Msg::LogChunk {
        generation: generation - 1,
        bytes: "stale\n".into(),
    });
    assert!(!app.logs.buf.text().contains("stale"));
}

#[test]
fn logs_search_and_filter() {
    let mut app = on_logs(100, 24, 500);
    app.update(key('/'));
    type_text(&mut app, "LINE 100:");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.logs.current_match, Some(99));
    assert!(!app.logs.follow, "a match pauses following");
    assert!(app.logs.top < 99, "context above the match is kept");
    app.update(key('/'));
    type_text(&mut app, "compiling");
    app.update(code(KeyCode::Enter));
    let first = app.logs.current_match.unwrap();
    app.update(key('n'));
    assert_eq!(app.logs.current_match, Some(first + 10));
    app.update(key('N'));
    assert_eq!(app.logs.current_match, Some(first));
    // & shows only matching lines; an empty pattern clears.
    app.update(key('&'));
    type_text(&mut app, "crate");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.logs.display().len(), 50);
    app.update(key('&'));
    for _ in 0..5 {
        app.update(code(KeyCode::Backspace));
    }
    app.update(code(KeyCode::Enter));
    assert_eq!(app.logs.filter, None);
    assert_eq!(app.logs.display().len(), 500);
    // :save writes the buffer.
    app.update(key(':'));
    type_text(&mut app, "save /tmp/x.log");
    let effects = app.update(code(KeyCode::Enter));
    assert!(
        matches!(&effects[..], [Effect::SaveLogs { path, text }] if path == "/tmp/x.log" && text.lines().count() == 500)
    );
}

#[test]
fn the_log_buffer_is_bounded() {
    let mut app = on_logs(100, 24, 0);
    let generation = app.logs.generation;
    let text: String = (0..5_000).map(|n| format!("{n}\n")).collect();
    app.update(Msg::LogChunk {
        generation,
        bytes: text.into(),
    });
    assert_eq!(app.logs.buf.end() - app.logs.buf.start(), 1_000);
    assert_eq!(app.logs.buf.dropped(), 4_000);
}

#[test]
fn log_states_follow_the_task() {
    let mut app = on_logs(100, 24, 0);
    let generation = app.logs.generation;
    let waiting = diamond().tasks[5].clone();
    let effects = app.update(Msg::LogTask {
        generation,
        result: Ok(waiting),
    });
    assert!(effects.is_empty());
    assert_eq!(app.logs.state, LogState::NotStarted);
    // The task starts: the console starts following (live, from the event stream).
    let started = event(
        9,
        json!({"started_task_execution": {"namespace_id": "default", "pipeline_id": "deploy-web", "run_id": 42, "task_execution_id": "test", "attempt": 1}}),
        0,
    );
    let effects = app.update(Msg::Event(started));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::FollowLogs { task, .. } if task == "test")),
        "{effects:?}"
    );
    app.update(Msg::LogEnd {
        generation,
        result: Ok(()),
    });
    assert_eq!(app.logs.state, LogState::Ended);
}

#[test]
fn cancel_asks_first_and_shows_the_cli_equivalent() {
    let mut app = on_runs(100, 24);
    // Run 42 is running: c asks, n declines.
    assert!(app.update(key('c')).is_empty());
    assert_eq!(
        app.mode,
        Mode::Confirm(Mutation::CancelRun {
            pipeline: "deploy-web".into(),
            run_id: 42
        })
    );
    assert!(app.update(key('n')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    // c, y cancels.
    app.update(key('c'));
    let effects = app.update(key('y'));
    let mutation = Mutation::CancelRun {
        pipeline: "deploy-web".into(),
        run_id: 42,
    };
    assert_eq!(
        effects,
        vec![Effect::Mutate {
            namespace: "default".into(),
            mutation: mutation.clone()
        }]
    );
    app.update(Msg::Done {
        mutation,
        result: Ok("cancelling run 42".into()),
    });
    let status = app.status.clone().unwrap();
    assert!(!status.error);
    assert_eq!(
        status.text,
        "cancelling run 42 · same as: gofer run cancel deploy-web 42"
    );
    // A complete run has nothing to cancel.
    app.update(key('j'));
    app.update(key('j'));
    assert!(app.update(key('c')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    // In the run view, c cancels the selected unfinished task.
    let mut app = on_run(100, 24);
    for _ in 0..3 {
        app.update(key('j'));
    }
    app.update(key('c'));
    assert_eq!(
        app.mode,
        Mode::Confirm(Mutation::CancelTask {
            pipeline: "deploy-web".into(),
            run_id: 42,
            task: "test".into()
        })
    );
}

/// docs/runs.md#retrying-a-run: `R` on a finished run asks, then retries it reusing the tasks
/// that succeeded, and shows the CLI twin; a run in progress has nothing to retry.
#[test]
fn retry_asks_first_and_shows_the_cli_equivalent() {
    let mut app = on_runs(100, 24);
    // Run 42 is running.
    assert!(app.update(key('R')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert!(
        app.status
            .clone()
            .unwrap()
            .text
            .contains("nothing to retry here")
    );
    app.update(key('j'));
    app.update(key('j'));
    let finished = app.visible_runs()[2].run_id;
    app.update(key('R'));
    let mutation = Mutation::RetryRun {
        pipeline: "deploy-web".into(),
        run_id: finished,
    };
    assert_eq!(app.mode, Mode::Confirm(mutation.clone()));
    assert_eq!(
        mutation.question(),
        format!("retry run {finished} of 'deploy-web', reusing the tasks that succeeded? (y/n)")
    );
    let effects = app.update(key('y'));
    assert_eq!(
        effects,
        vec![Effect::Mutate {
            namespace: "default".into(),
            mutation: mutation.clone()
        }]
    );
    app.update(Msg::Done {
        mutation,
        result: Ok(format!(
            "started run 50 of 'deploy-web', retrying run {finished}"
        )),
    });
    assert_eq!(
        app.status.clone().unwrap().text,
        format!(
            "started run 50 of 'deploy-web', retrying run {finished} · same as: gofer run retry \
             deploy-web {finished} --failed-only"
        )
    );
}

#[test]
fn start_prompts_for_variables() {
    let mut app = on_pipelines(100, 24);
    app.update(key('s'));
    assert!(matches!(&app.mode, Mode::StartPrompt { pipeline, .. } if pipeline == "deploy-web"));
    type_text(&mut app, "GREETING=hi x");
    assert!(app.update(code(KeyCode::Enter)).is_empty());
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .contains("'x' is not KEY=VALUE")
    );
    assert!(
        matches!(app.mode, Mode::StartPrompt { .. }),
        "the prompt stays open to fix the input"
    );
    app.update(code(KeyCode::Backspace));
    app.update(code(KeyCode::Backspace));
    let effects = app.update(code(KeyCode::Enter));
    let mutation = Mutation::StartRun {
        pipeline: "deploy-web".into(),
        variables: vec![("GREETING".into(), "hi".into())],
    };
    assert_eq!(
        mutation.cli("default"),
        "gofer run start deploy-web -v GREETING=hi"
    );
    assert_eq!(
        mutation.cli("team a"),
        "gofer --namespace team a run start deploy-web -v GREETING=hi"
    );
    assert_eq!(
        effects,
        vec![Effect::Mutate {
            namespace: "default".into(),
            mutation
        }]
    );
    // :start with variables starts at once.
    let effects = {
        app.update(key(':'));
        type_text(&mut app, "start A=1 B='two words'");
        app.update(code(KeyCode::Enter))
    };
    assert!(effects.is_empty() || matches!(&effects[0], Effect::Mutate { .. }));
}

#[test]
fn read_only_refuses_every_mutation() {
    let mut app = gofer_console::app::App::new(settings(true), "default".into(), NOW, (100, 24));
    app.update(Msg::Pipelines {
        namespace: "default".into(),
        result: Ok(pipelines()),
    });
    for k in ['s', 'e', 'd'] {
        let effects = app.update(key(k));
        assert!(effects.is_empty());
        assert_eq!(app.mode, Mode::Normal, "{k}");
        let status = app.status.clone().unwrap();
        assert!(
            status.error && status.text.starts_with("read-only mode: "),
            "{status:?}"
        );
    }
    app.update(code(KeyCode::Enter));
    app.update(Msg::Runs {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        result: Ok(runs()),
    });
    assert!(app.update(key('c')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert!(
        app.status
            .clone()
            .unwrap()
            .text
            .contains("cancelling is disabled")
    );
    for command in ["start A=1", "start", "cancel", "deploy 2"] {
        app.update(key(':'));
        type_text(&mut app, command);
        let effects = app.update(code(KeyCode::Enter));
        assert!(effects.is_empty(), "{command}: {effects:?}");
        assert_eq!(app.mode, Mode::Normal, "{command}");
        assert!(
            app.status
                .clone()
                .unwrap()
                .text
                .starts_with("read-only mode: "),
            "{command}"
        );
    }
    // Retrying starts a run: refused too.
    app.update(key('j'));
    app.update(key('j'));
    assert!(app.update(key('R')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert!(
        app.status
            .clone()
            .unwrap()
            .text
            .starts_with("read-only mode: ")
    );
}

#[test]
fn command_mode_jumps_and_completes() {
    let mut app = on_pipelines(100, 24);
    app.update(key(':'));
    type_text(&mut app, "pip");
    app.update(code(KeyCode::Tab));
    assert_eq!(
        app.mode,
        Mode::Command {
            input: "pipelines ".into()
        }
    );
    app.update(code(KeyCode::Esc));
    app.update(key(':'));
    type_text(&mut app, "runs night");
    app.update(code(KeyCode::Tab));
    assert_eq!(
        app.mode,
        Mode::Command {
            input: "runs nightly-backup ".into()
        }
    );
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(
        *app.screen(),
        Screen::Runs {
            pipeline: "nightly-backup".into()
        }
    );
    assert_eq!(
        app.stack.len(),
        2,
        "breadcrumbs: pipelines › nightly-backup runs"
    );
    assert_eq!(
        effects,
        vec![Effect::LoadRuns {
            namespace: "default".into(),
            pipeline: "nightly-backup".into()
        }]
    );
    // :run p id, :ns id, :events, errors.
    app.update(key(':'));
    type_text(&mut app, "run deploy-web 42");
    app.update(code(KeyCode::Enter));
    assert_eq!(
        *app.screen(),
        Screen::Run {
            pipeline: "deploy-web".into(),
            run_id: 42
        }
    );
    app.update(key(':'));
    type_text(&mut app, "run deploy-web x");
    app.update(code(KeyCode::Enter));
    assert!(
        app.status
            .clone()
            .unwrap()
            .text
            .contains("the run id is a number")
    );
    app.update(key(':'));
    type_text(&mut app, "ns team-a");
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(app.namespace, "team-a");
    assert_eq!(
        effects,
        vec![Effect::LoadPipelines {
            namespace: "team-a".into()
        }]
    );
    app.update(key(':'));
    type_text(&mut app, "bogus");
    app.update(code(KeyCode::Enter));
    let status = app.status.clone().unwrap();
    assert!(
        status.error && status.text.starts_with("unknown command ':bogus'"),
        "{status:?}"
    );
    app.update(key(':'));
    type_text(&mut app, "q");
    app.update(code(KeyCode::Enter));
    assert!(app.quit);
}

#[test]
fn events_refresh_the_visible_view() {
    let mut app = on_runs(100, 24);
    let queued = event(
        10,
        json!({"queued_run": {"namespace_id": "default", "pipeline_id": "deploy-web", "run_id": 43}}),
        0,
    );
    let effects = app.update(Msg::Event(queued));
    assert_eq!(
        effects,
        vec![Effect::LoadRuns {
            namespace: "default".into(),
            pipeline: "deploy-web".into()
        }]
    );
    // Other pipelines and namespaces do not reload this view.
    let other = event(
        11,
        json!({"queued_run": {"namespace_id": "default", "pipeline_id": "other", "run_id": 1}}),
        0,
    );
    assert!(app.update(Msg::Event(other)).is_empty());
    let elsewhere = event(
        12,
        json!({"queued_run": {"namespace_id": "team-a", "pipeline_id": "deploy-web", "run_id": 1}}),
        0,
    );
    assert!(app.update(Msg::Event(elsewhere)).is_empty());
    assert_eq!(app.events.events.len(), 3);
    // While that load is in flight, more events ask for one more load, not one each.
    let more = event(
        14,
        json!({"started_run": {"namespace_id": "default", "pipeline_id": "deploy-web", "run_id": 43}}),
        0,
    );
    assert!(app.update(Msg::Event(more.clone())).is_empty());
    let mut again = more;
    again.id = "0190-0015".into();
    assert!(app.update(Msg::Event(again)).is_empty());
    let answer = |app: &mut gofer_console::app::App| {
        app.update(Msg::Runs {
            namespace: "default".into(),
            pipeline: "deploy-web".into(),
            result: Ok(runs()),
        })
    };
    assert_eq!(
        answer(&mut app),
        vec![Effect::LoadRuns {
            namespace: "default".into(),
            pipeline: "deploy-web".into()
        }]
    );
    assert!(answer(&mut app).is_empty());
    // Paused: nothing reloads; resuming reloads.
    app.update(key(' '));
    let again = event(
        13,
        json!({"completed_run": {"namespace_id": "default", "pipeline_id": "deploy-web", "run_id": 43, "status": "successful"}}),
        0,
    );
    assert!(app.update(Msg::Event(again)).is_empty());
    assert!(!app.update(key(' ')).is_empty());
    answer(&mut app);
    // Disconnected: the view is polled every 2 s; reconnecting reloads it.
    app.update(Msg::Connection(
        gofer_console::app::Connection::Reconnecting {
            attempt: 1,
            retry_in_ms: 250,
            error: "x".into(),
        },
    ));
    assert!(app.update(Msg::Tick(NOW + 1_000)).is_empty());
    assert!(!app.update(Msg::Tick(NOW + 2_500)).is_empty());
    answer(&mut app);
    assert!(
        !app.update(Msg::Connection(gofer_console::app::Connection::Live))
            .is_empty()
    );
}

#[test]
fn enter_on_an_event_opens_its_run() {
    let mut app = on_pipelines(100, 24);
    app.update(Msg::EventHistory(Ok(events())));
    app.update(key(':'));
    type_text(&mut app, "events");
    app.update(code(KeyCode::Enter));
    // New events keep the selection on the newest row when it was there.
    assert_eq!(app.frame().selected, 6);
    let newer = event(
        20,
        json!({"created_namespace": {"namespace_id": "team-b"}}),
        0,
    );
    app.update(Msg::Event(newer));
    assert_eq!(app.frame().selected, 7);
    app.update(key('k'));
    // Newest selected first: the team-a completed_run.
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(app.namespace, "team-a");
    assert_eq!(
        *app.screen(),
        Screen::Run {
            pipeline: "etl".into(),
            run_id: 3
        }
    );
    assert_eq!(
        effects,
        vec![Effect::LoadRun {
            namespace: "team-a".into(),
            pipeline: "etl".into(),
            run_id: 3
        }]
    );
}

#[test]
fn deploy_enable_and_disable_ask_first() {
    let mut app = on_pipelines(100, 24);
    app.update(key('j'));
    app.update(key('d'));
    let disable = Mutation::SetPipelineState {
        pipeline: "nightly-backup".into(),
        enable: false,
    };
    assert_eq!(app.mode, Mode::Confirm(disable.clone()));
    assert_eq!(
        disable.cli("default"),
        "gofer pipeline disable nightly-backup"
    );
    assert_eq!(
        app.update(key('y')),
        vec![Effect::Mutate {
            namespace: "default".into(),
            mutation: disable
        }]
    );
    app.update(key(':'));
    type_text(&mut app, "deploy 0");
    app.update(code(KeyCode::Enter));
    assert!(
        app.status
            .clone()
            .unwrap()
            .text
            .contains("a config version, 1 or more")
    );
    app.update(key(':'));
    type_text(&mut app, "deploy 11");
    app.update(code(KeyCode::Enter));
    let deploy = Mutation::Deploy {
        pipeline: "nightly-backup".into(),
        version: 11,
    };
    assert_eq!(app.mode, Mode::Confirm(deploy.clone()));
    assert_eq!(
        deploy.cli("team-a"),
        "gofer --namespace team-a pipeline config deploy nightly-backup 11"
    );
    assert_eq!(app.update(key('y')).len(), 1);
}

/// ←/→ move the selection across the columns of the left-to-right task graph.
#[test]
fn left_and_right_move_across_the_task_graph() {
    let mut app = on_run(120, 30);
    assert!(
        !app.run_uses_tree(),
        "this size draws the graph left to right"
    );
    app.update(key('g'));
    assert_eq!(app.selected_task.as_deref(), Some("checkout"));
    app.update(code(KeyCode::Right));
    let second = app.selected_task.clone().unwrap();
    assert!(second == "build" || second == "lint", "{second}");
    app.update(code(KeyCode::Right));
    let third = app.selected_task.clone().unwrap();
    assert!(third == "test" || third == "package", "{third}");
    app.update(code(KeyCode::Left));
    app.update(code(KeyCode::Left));
    assert_eq!(app.selected_task.as_deref(), Some("checkout"));
    // Nothing left of the first column.
    app.update(code(KeyCode::Left));
    assert_eq!(app.selected_task.as_deref(), Some("checkout"));
}

/// Status-line messages fade after a few seconds, and at the next key press.
#[test]
fn status_messages_fade() {
    let mut app = on_pipelines(100, 24);
    app.update(key(':'));
    type_text(&mut app, "ext");
    app.update(code(KeyCode::Enter));
    let shown = app.status.clone().expect("an unknown command says so");
    assert!(shown.error, "{shown:?}");
    app.update(Msg::Tick(shown.shown_at + 1_000));
    assert!(app.status.is_some(), "still shown after 1 s");
    app.update(Msg::Tick(
        shown.shown_at + gofer_console::app::STATUS_FADE_MS,
    ));
    assert!(app.status.is_none(), "gone after the fade time");

    app.update(key(':'));
    type_text(&mut app, "ext");
    app.update(code(KeyCode::Enter));
    assert!(app.status.is_some());
    app.update(key('j'));
    assert!(app.status.is_none(), "gone at the next action");
}

/// `i` opens the pipeline view; `P` and `X` ask y/n before promoting or aborting the deployment
/// in progress, and say so when there is none.
#[test]
fn promote_and_abort_a_deployment_from_the_pipeline_view() {
    let mut app = on_pipelines(120, 30);
    assert_eq!(
        app.update(key('i')),
        vec![Effect::LoadPipeline {
            namespace: "default".into(),
            pipeline: "deploy-web".into()
        }]
    );
    assert_eq!(
        *app.screen(),
        Screen::Pipeline {
            pipeline: "deploy-web".into()
        }
    );
    app.update(Msg::Pipeline {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        result: Ok(pipeline_data(true)),
    });
    assert_eq!(app.visible_versions().len(), 4, "the versions are the list");
    app.update(key('P'));
    let promote = Mutation::Promote {
        pipeline: "deploy-web".into(),
        deployment: 4,
        version: 4,
    };
    assert_eq!(app.mode, Mode::Confirm(promote.clone()));
    assert!(promote.question().contains("make version 4 live now"));
    app.update(key('n'));
    assert_eq!(app.mode, Mode::Normal);
    app.update(key('X'));
    let abort = Mutation::Abort {
        pipeline: "deploy-web".into(),
        deployment: 4,
        version: 4,
    };
    assert_eq!(app.mode, Mode::Confirm(abort.clone()));
    assert_eq!(
        abort.cli("default"),
        "gofer pipeline deployment abort deploy-web 4"
    );
    assert_eq!(
        app.update(key('y')),
        vec![Effect::Mutate {
            namespace: "default".into(),
            mutation: abort
        }]
    );
    // A deployment event of this pipeline reads the view again.
    let effects = app.update(Msg::Event(event(
        900,
        json!({"deployment_rolled_back": {"namespace_id": "default", "pipeline_id": "deploy-web",
            "deployment_id": 4, "start_version": 3, "end_version": 4, "reason": "aborted",
            "description": "aborted by hand", "canary_runs": 4, "failed": 1,
            "scheduler_errors": 1}}),
        0,
    )));
    assert!(effects.contains(&Effect::LoadPipeline {
        namespace: "default".into(),
        pipeline: "deploy-web".into()
    }));
    app.update(Msg::Pipeline {
        namespace: "default".into(),
        pipeline: "deploy-web".into(),
        result: Ok(pipeline_data(false)),
    });
    app.update(key('P'));
    assert_eq!(app.mode, Mode::Normal);
    assert!(
        app.status
            .clone()
            .unwrap()
            .text
            .contains("no deployment in progress")
    );
    // `:versions <id>` jumps there too.
    app.update(key(':'));
    type_text(&mut app, "versions nightly-backup");
    app.update(code(KeyCode::Enter));
    assert_eq!(
        *app.screen(),
        Screen::Pipeline {
            pipeline: "nightly-backup".into()
        }
    );
}

#[test]
fn enter_on_a_deployment_event_opens_the_versions_view() {
    let mut app = on_pipelines(100, 24);
    app.update(Msg::EventHistory(Ok(vec![event(
        30,
        json!({"deployment_promoted": {"namespace_id": "default", "pipeline_id": "deploy-web",
            "deployment_id": 4, "start_version": 3, "end_version": 4, "reason": "canary_baked",
            "description": "baked", "canary_runs": 6, "failed": 0, "scheduler_errors": 0}}),
        5,
    )])));
    app.update(key(':'));
    type_text(&mut app, "events");
    app.update(code(KeyCode::Enter));
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(
        *app.screen(),
        Screen::Pipeline {
            pipeline: "deploy-web".into()
        }
    );
    assert_eq!(
        effects,
        vec![Effect::LoadPipeline {
            namespace: "default".into(),
            pipeline: "deploy-web".into()
        }]
    );
}

/// `E` opens the extensions; enter opens one on its log; tab walks the tabs (leaving the log
/// stops its stream); `e`/`d` ask first for an extension or a subscription; enter on a
/// subscription goes to that pipeline's runs in its namespace.
#[test]
fn extensions_view_keys_and_effects() {
    let mut app = on_pipelines(120, 24);
    assert_eq!(app.update(key('E')), vec![Effect::LoadExtensions]);
    app.update(Msg::Extensions(Ok(extensions())));
    app.update(key('j'));
    app.update(key('d'));
    let disable = Mutation::SetExtensionState {
        id: "cron".into(),
        enable: false,
    };
    assert_eq!(app.mode, Mode::Confirm(disable.clone()));
    assert_eq!(disable.cli("team-a"), "gofer extension disable cron");
    app.update(key('n'));
    app.update(key('k'));
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(
        *app.screen(),
        Screen::Extension {
            id: "interval".into()
        }
    );
    assert!(effects.contains(&Effect::OpenExtensionLogs {
        id: "interval".into(),
        generation: app.logs.generation
    }));
    assert!(app.showing_logs(), "the log keys apply on the logs tab");
    let effects = app.update(code(KeyCode::Tab));
    assert_eq!(
        effects,
        vec![
            Effect::StopLogs,
            Effect::LoadExtensionDebug {
                id: "interval".into()
            }
        ]
    );
    assert_eq!(
        app.update(key('r')),
        vec![
            Effect::LoadExtensions,
            Effect::LoadExtensionDebug {
                id: "interval".into()
            }
        ]
    );
    app.update(code(KeyCode::Tab));
    app.update(Msg::ExtensionSubscriptions {
        id: "interval".into(),
        result: Ok(subscriptions()),
    });
    app.update(key('j'));
    app.update(key('e'));
    let enable = Mutation::SetSubscriptionState {
        namespace: "team-a".into(),
        pipeline: "etl".into(),
        extension: "interval".into(),
        subscription: "tick".into(),
        enable: true,
    };
    assert_eq!(app.mode, Mode::Confirm(enable.clone()));
    assert_eq!(
        enable.cli("default"),
        "gofer --namespace team-a pipeline subscription enable etl interval tick"
    );
    assert_eq!(
        app.update(key('y')),
        vec![Effect::Mutate {
            namespace: "default".into(),
            mutation: enable
        }]
    );
    app.update(code(KeyCode::Enter));
    assert_eq!(app.namespace, "team-a");
    assert_eq!(
        *app.screen(),
        Screen::Runs {
            pipeline: "etl".into()
        }
    );
    // Read-only: no enabling or disabling.
    let mut ro = gofer_console::app::App::new(settings(true), "default".into(), NOW, (120, 24));
    ro.update(key('E'));
    ro.update(Msg::Extensions(Ok(extensions())));
    ro.update(key('d'));
    assert_eq!(ro.mode, Mode::Normal);
    assert!(ro.status.clone().unwrap().text.contains("read-only"));
}

/// `:running`: loads the runs in progress, reloads on run events of any namespace, and enter
/// opens the run in its namespace.
#[test]
fn running_view_follows_runs_everywhere() {
    let mut app = on_pipelines(120, 24);
    app.update(key(':'));
    type_text(&mut app, "running");
    assert_eq!(app.update(code(KeyCode::Enter)), vec![Effect::LoadRunning]);
    app.update(Msg::Running(Ok(active_runs())));
    let effects = app.update(Msg::Event(event(
        40,
        json!({"completed_run": {"namespace_id": "team-z", "pipeline_id": "other",
            "run_id": 9, "status": "successful"}}),
        0,
    )));
    assert_eq!(effects, vec![Effect::LoadRunning]);
    app.update(Msg::Running(Ok(active_runs())));
    app.update(key('G'));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.namespace, "team-a");
    assert_eq!(
        *app.screen(),
        Screen::Run {
            pipeline: "etl".into(),
            run_id: 44
        }
    );
}
