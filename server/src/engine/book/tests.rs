//! The core without any I/O: inputs in, steps out, with a clock the test sets. Whole DAGs run
//! here in microseconds, by a tiny driver that plays the dispatcher (commit succeeds, every
//! preparation is ready, launches are instant).

use super::*;
use gofer_core::api::{Initiator, Run};
use gofer_core::enums::{RunStatus, TaskExecutionStatus};
use serde_json::json;

const T0: u64 = 1_000_000;

fn config(tasks: serde_json::Value, timeout: u64) -> Config {
    let tasks: BTreeMap<String, gofer_core::api::Task> = tasks
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let task: gofer_core::api::Task = serde_json::from_value(t.clone()).unwrap();
            (task.id.clone(), task)
        })
        .collect();
    serde_json::from_value(json!({
        "namespace_id": "team", "pipeline_id": "p", "version": 1, "name": "p",
        "timeout": timeout, "tasks": tasks, "state": "live", "registered": 1
    }))
    .unwrap()
}

fn queued_run() -> StoredRun {
    let run: Run = serde_json::from_value(json!({
        "namespace_id": "team", "pipeline_id": "p", "pipeline_config_version": 1, "run_id": 7,
        "queued": T0 - 10, "state": "pending", "status": "unknown",
        "initiator": Initiator { id: "t".into(), user: "u".into(), kind: Default::default(), subscription_id: None },
    }))
    .unwrap();
    StoredRun {
        run,
        cancel: None,
        deadline: 0,
    }
}

/// A started book, as the dispatcher holds it after the start commit.
fn book(tasks: serde_json::Value, timeout: u64) -> RunBook {
    let changes = RunBook::start(queued_run(), &config(tasks, timeout), "http://x", T0);
    assert_eq!(changes.runs.len(), 1);
    assert_eq!(changes.dequeued, vec![RunKey::of(&changes.runs[0].run)]);
    RunBook::new(changes.runs[0].clone(), changes.executions, 5)
}

fn task(id: &str, depends_on: serde_json::Value) -> serde_json::Value {
    json!({"id": id, "image": "img", "depends_on": depends_on})
}

/// Plays the dispatcher for one input: commits succeed (and are recorded), every preparation is
/// ready, every launch happens. Returns the launches and stops, in order, and whether the run
/// finished.
#[derive(Debug, Default)]
struct Played {
    launched: Vec<(String, u64)>,
    stopped: Vec<(String, Stop)>,
    finished: bool,
    commits: usize,
}

fn play(book: &mut RunBook, input: Input, now: u64) -> Played {
    let mut played = Played::default();
    let mut inputs = std::collections::VecDeque::from([input]);
    while let Some(input) = inputs.pop_front() {
        let evaluating = input == Input::Evaluate;
        let mut changed = false;
        for step in book.apply(input, now) {
            match step {
                Step::Commit(changes) => {
                    book.record(&changes);
                    played.commits += 1;
                    changed = true;
                }
                Step::Prepare(tasks) => inputs.push_back(Input::Prepared(
                    tasks
                        .into_iter()
                        .map(|t| (t, Prepared::Ready { log_offset: 0 }))
                        .collect(),
                )),
                Step::Launch { task, attempt, .. } => {
                    book.launched(&task);
                    played.launched.push((task, attempt));
                }
                Step::Stop { task, stop } => played.stopped.push((task, stop)),
                Step::Finished => played.finished = true,
            }
        }
        if changed && !evaluating {
            inputs.push_back(Input::Evaluate);
        }
    }
    played
}

fn exited(task: &str, attempt: u64, exit_code: i64) -> Input {
    Input::AttemptEnded {
        task: task.into(),
        attempt,
        outcome: Outcome::Finished(ContainerState::Exited { exit_code }),
    }
}

fn status(book: &RunBook, task: &str) -> (ES, TaskExecutionStatus) {
    let e = &book.executions[task].execution;
    (e.state, e.status)
}

#[test]
fn a_chain_runs_in_order_and_the_run_succeeds() {
    let mut b = book(
        json!([task("a", json!({})), task("b", json!({"a": "success"}))]),
        0,
    );
    let first = play(&mut b, Input::Evaluate, T0);
    assert_eq!(first.launched, vec![("a".to_owned(), 1)]);
    assert_eq!(b.executions["a"].execution.state, ES::Processing);
    let started = play(
        &mut b,
        Input::AttemptStarted {
            task: "a".into(),
            attempt: 1,
            at: T0 + 5,
        },
        T0 + 5,
    );
    assert!(started.launched.is_empty());
    assert_eq!(b.executions["a"].execution.started, T0 + 5);
    let second = play(&mut b, exited("a", 1, 0), T0 + 10);
    assert_eq!(second.launched, vec![("b".to_owned(), 1)]);
    assert_eq!(status(&b, "a"), (ES::Complete, XS::Successful));
    let last = play(&mut b, exited("b", 1, 0), T0 + 20);
    assert!(last.finished);
    assert_eq!(b.run.run.state, RunState::Complete);
    assert_eq!(b.run.run.status, RunStatus::Successful);
    assert_eq!(b.run.run.ended, T0 + 20);
}

#[test]
fn a_skip_reaches_every_descendant_in_one_evaluation() {
    // a fails; b needs a's success; c and d hang below b: all three skip at once and the run
    // ends in the same commit.
    let mut b = book(
        json!([
            task("a", json!({})),
            task("b", json!({"a": "success"})),
            task("c", json!({"b": "success"})),
            task("d", json!({"c": "success"})),
        ]),
        0,
    );
    play(&mut b, Input::Evaluate, T0);
    let ended = play(&mut b, exited("a", 1, 3), T0 + 1);
    assert!(ended.launched.is_empty());
    assert!(ended.finished);
    for t in ["b", "c", "d"] {
        assert_eq!(status(&b, t), (ES::Complete, XS::Skipped), "task {t}");
    }
    assert_eq!(status(&b, "a"), (ES::Complete, XS::Failed));
    assert_eq!(b.executions["a"].execution.exit_code, Some(3));
    assert_eq!(b.run.run.status, RunStatus::Failed);
    // One commit for a's end, one for the skips with the final run row.
    assert_eq!(ended.commits, 2);
}

#[test]
fn an_any_condition_runs_after_a_failure() {
    let mut b = book(
        json!([task("a", json!({})), task("cleanup", json!({"a": "any"}))]),
        0,
    );
    play(&mut b, Input::Evaluate, T0);
    let ended = play(&mut b, exited("a", 1, 1), T0 + 1);
    assert_eq!(ended.launched, vec![("cleanup".to_owned(), 1)]);
}

#[test]
fn a_retry_waits_for_its_backoff_and_wakes_the_loop_then() {
    let mut b = book(
        json!([{"id": "a", "image": "img", "retries": {"count": 2, "backoff": 3}}]),
        0,
    );
    play(&mut b, Input::Evaluate, T0);
    let failed = play(&mut b, exited("a", 1, 1), T0 + 100);
    assert!(failed.launched.is_empty());
    assert_eq!(b.executions["a"].execution.state, ES::Waiting);
    assert_eq!(b.next_wake(), Some(T0 + 100 + 3000));
    // Not before the backoff...
    assert!(play(&mut b, Input::Evaluate, T0 + 3099).launched.is_empty());
    // ...then attempt 2, which fails too, and attempt 3, which succeeds.
    assert_eq!(
        play(&mut b, Input::Evaluate, T0 + 3100).launched,
        vec![("a".to_owned(), 2)]
    );
    play(&mut b, exited("a", 2, 1), T0 + 3200);
    assert_eq!(
        play(&mut b, Input::Evaluate, T0 + 6200).launched,
        vec![("a".to_owned(), 3)]
    );
    assert!(play(&mut b, exited("a", 3, 0), T0 + 6300).finished);
    let e = &b.executions["a"].execution;
    assert_eq!(e.attempts.len(), 3);
    assert_eq!(e.status, XS::Successful);
    assert_eq!(b.run.run.status, RunStatus::Successful);
}

#[test]
fn retries_end_with_the_last_failure() {
    let mut b = book(
        json!([{"id": "a", "image": "img", "retries": {"count": 1, "backoff": 0}}]),
        0,
    );
    play(&mut b, Input::Evaluate, T0);
    let again = play(&mut b, exited("a", 1, 2), T0 + 1);
    assert_eq!(again.launched, vec![("a".to_owned(), 2)]);
    let done = play(&mut b, exited("a", 2, 4), T0 + 2);
    assert!(done.finished);
    assert_eq!(b.executions["a"].execution.exit_code, Some(4));
    assert_eq!(status(&b, "a"), (ES::Complete, XS::Failed));
}

#[test]
fn the_run_deadline_stops_what_runs_and_skips_the_rest() {
    let mut b = book(
        json!([task("a", json!({})), task("b", json!({"a": "success"}))]),
        10,
    );
    assert_eq!(b.run.deadline, T0 + 10_000);
    play(&mut b, Input::Evaluate, T0);
    assert_eq!(b.next_wake(), Some(T0 + 10_000));
    let late = play(&mut b, Input::Evaluate, T0 + 10_000);
    assert_eq!(
        late.stopped,
        vec![(
            "a".to_owned(),
            Stop {
                kind: StopKind::Deadline,
                grace_secs: 5
            }
        )]
    );
    assert_eq!(status(&b, "b"), (ES::Complete, XS::Skipped));
    assert!(!late.finished, "a still runs");
    let stopped = Input::AttemptEnded {
        task: "a".into(),
        attempt: 1,
        outcome: Outcome::Stopped {
            kind: StopKind::Deadline,
            state: ContainerState::Exited { exit_code: 143 },
        },
    };
    assert!(play(&mut b, stopped, T0 + 11_000).finished);
    assert_eq!(status(&b, "a"), (ES::Complete, XS::Failed));
    assert_eq!(b.run.run.status, RunStatus::Failed);
}

#[test]
fn a_task_timeout_fails_the_attempt_and_may_be_retried() {
    let mut b = book(
        json!([{"id": "a", "image": "img", "timeout": 1, "retries": {"count": 1, "backoff": 0}}]),
        0,
    );
    play(&mut b, Input::Evaluate, T0);
    let timed_out = Input::AttemptEnded {
        task: "a".into(),
        attempt: 1,
        outcome: Outcome::TimedOut {
            timeout_secs: 1,
            state: ContainerState::Exited { exit_code: 137 },
        },
    };
    assert_eq!(
        play(&mut b, timed_out, T0 + 1000).launched,
        vec![("a".to_owned(), 2)]
    );
    let first = &b.executions["a"].execution.attempts[0];
    assert_eq!(first.status, XS::Failed);
    assert_eq!(
        first.status_reason.as_ref().map(|r| r.reason),
        Some(XR::Timeout)
    );
}

#[test]
fn cancelling_stops_running_tasks_and_cancels_the_waiting_ones() {
    let mut b = book(
        json!([task("a", json!({})), task("b", json!({"a": "success"}))]),
        0,
    );
    play(&mut b, Input::Evaluate, T0);
    let request = RunCancellation {
        requested: T0 + 1,
        by: "alice".into(),
        force: false,
        reason: None,
    };
    let cancel = play(
        &mut b,
        Input::CancelRun {
            by_admin: false,
            request: request.clone(),
        },
        T0 + 1,
    );
    assert_eq!(
        cancel.stopped,
        vec![(
            "a".to_owned(),
            Stop {
                kind: StopKind::Cancel,
                grace_secs: 5
            }
        )]
    );
    assert_eq!(status(&b, "b"), (ES::Complete, XS::Cancelled));
    assert!(!cancel.finished);
    // A second, forced cancel kills at once.
    let forced = play(
        &mut b,
        Input::CancelRun {
            by_admin: false,
            request: RunCancellation {
                force: true,
                reason: None,
                ..request
            },
        },
        T0 + 2,
    );
    assert_eq!(forced.stopped[0].1.grace_secs, 0);
    let stopped = Input::AttemptEnded {
        task: "a".into(),
        attempt: 1,
        outcome: Outcome::Stopped {
            kind: StopKind::Cancel,
            state: ContainerState::Exited { exit_code: 137 },
        },
    };
    let end = play(&mut b, stopped, T0 + 3);
    assert!(end.finished);
    assert!(end.launched.is_empty(), "nothing starts after a cancel");
    assert_eq!(b.run.run.status, RunStatus::Cancelled);
}

#[test]
fn a_failed_attempt_is_not_retried_once_the_run_is_cancelled() {
    let mut b = book(
        json!([{"id": "a", "image": "img", "retries": {"count": 3}}]),
        0,
    );
    play(&mut b, Input::Evaluate, T0);
    play(
        &mut b,
        Input::CancelRun {
            by_admin: true,
            request: RunCancellation {
                requested: T0,
                by: "admin".into(),
                force: false,
                reason: None,
            },
        },
        T0,
    );
    let end = play(&mut b, exited("a", 1, 1), T0 + 1);
    assert!(end.launched.is_empty());
    assert!(end.finished);
    assert_eq!(b.executions["a"].execution.attempts.len(), 1);
}

#[test]
fn cancelling_one_waiting_task_skips_what_needs_it() {
    let mut b = book(
        json!([
            task("a", json!({})),
            task("b", json!({"a": "success"})),
            task("c", json!({"b": "success"})),
        ]),
        0,
    );
    play(&mut b, Input::Evaluate, T0);
    let cancel = play(
        &mut b,
        Input::CancelTask {
            task: "b".into(),
            grace_secs: 0,
            by_admin: false,
        },
        T0 + 1,
    );
    assert!(cancel.stopped.is_empty(), "b was not running");
    assert_eq!(status(&b, "b"), (ES::Complete, XS::Cancelled));
    assert_eq!(status(&b, "c"), (ES::Complete, XS::Skipped));
    // A cancel of a complete task changes nothing.
    assert_eq!(
        b.apply(
            Input::CancelTask {
                task: "b".into(),
                grace_secs: 0,
                by_admin: false
            },
            T0 + 2
        ),
        vec![]
    );
}

#[test]
fn an_unresolvable_reference_fails_the_task_before_any_attempt() {
    let mut b = book(json!([task("a", json!({}))]), 0);
    let steps = b.apply(Input::Evaluate, T0);
    assert_eq!(steps, vec![Step::Prepare(vec!["a".into()])]);
    let steps = b.apply(
        Input::Prepared(vec![(
            "a".into(),
            Prepared::Unresolvable("variable X: secret 'k' does not exist".into()),
        )]),
        T0,
    );
    let [Step::Commit(changes)] = steps.as_slice() else {
        panic!("expected one commit, got {steps:?}");
    };
    b.record(changes);
    assert_eq!(status(&b, "a"), (ES::Complete, XS::Failed));
    assert!(b.executions["a"].execution.attempts.is_empty());
}

#[test]
fn a_log_that_cannot_be_created_holds_the_task_for_a_second() {
    let mut b = book(json!([task("a", json!({}))]), 0);
    b.apply(Input::Evaluate, T0);
    let steps = b.apply(Input::Prepared(vec![("a".into(), Prepared::NotNow)]), T0);
    assert!(steps.is_empty());
    assert_eq!(b.next_wake(), Some(T0 + 1000));
    assert!(b.apply(Input::Evaluate, T0 + 999).is_empty());
    assert_eq!(
        b.apply(Input::Evaluate, T0 + 1000),
        vec![Step::Prepare(vec!["a".into()])]
    );
}

#[test]
fn memory_follows_only_what_was_committed() {
    // Steps not carried out (a failed commit) leave the book as it was: the same decision
    // comes back on the next evaluation.
    let mut b = book(json!([task("a", json!({}))]), 0);
    b.apply(Input::Evaluate, T0);
    let prepared = Input::Prepared(vec![("a".into(), Prepared::Ready { log_offset: 0 })]);
    let first = b.apply(prepared.clone(), T0);
    assert!(matches!(first[0], Step::Commit(_)));
    assert_eq!(b.executions["a"].execution.state, ES::Waiting);
    assert_eq!(
        b.apply(Input::Evaluate, T0 + 1),
        vec![Step::Prepare(vec!["a".into()])]
    );
    assert_eq!(b.apply(prepared, T0 + 1), first);
}

#[test]
fn recovery_follows_found_containers_and_fails_vanished_ones() {
    let mut b = book(
        json!([
            task("a", json!({})),
            task("b", json!({})),
            task("c", json!({}))
        ]),
        0,
    );
    let first = play(&mut b, Input::Evaluate, T0);
    assert_eq!(first.launched.len(), 3);
    play(
        &mut b,
        Input::AttemptStarted {
            task: "a".into(),
            attempt: 1,
            at: T0 + 7,
        },
        T0 + 7,
    );
    // The server stops; a new book is loaded from what was stored.
    let mut after = RunBook::new(b.run.clone(), b.executions.values().cloned().collect(), 5);
    let mut unfinished = after.unfinished_attempts();
    unfinished.sort();
    assert_eq!(
        unfinished,
        vec![("a".into(), 1), ("b".into(), 1), ("c".into(), 1)]
    );
    let steps = after.apply(
        Input::Recovered(vec![
            ("a".into(), Some(ContainerState::Running)),
            ("b".into(), Some(ContainerState::Created)),
            ("c".into(), None),
        ]),
        T0 + 100,
    );
    let Step::Commit(changes) = &steps[0] else {
        panic!("the orphan is committed first: {steps:?}");
    };
    assert_eq!(changes.executions.len(), 1);
    assert_eq!(
        steps[1..],
        [
            Step::Launch {
                task: "a".into(),
                attempt: 1,
                recovered: Some(Recovered::Started(T0 + 7)),
            },
            Step::Launch {
                task: "b".into(),
                attempt: 1,
                recovered: Some(Recovered::Created),
            },
        ]
    );
    after.record(changes);
    after.launched("a");
    after.launched("b");
    assert_eq!(status(&after, "c"), (ES::Complete, XS::Failed));
    assert_eq!(
        after.executions["c"]
            .execution
            .status_reason
            .as_ref()
            .map(|r| r.reason),
        Some(XR::Orphaned)
    );
    // Nothing starts twice: the recovered attempts are in flight, not prepared again.
    assert!(
        play(&mut after, Input::Evaluate, T0 + 101)
            .launched
            .is_empty()
    );
}

#[test]
fn a_cancel_accepted_before_a_restart_stops_the_recovered_container() {
    let mut b = book(json!([task("a", json!({}))]), 0);
    play(&mut b, Input::Evaluate, T0);
    play(
        &mut b,
        Input::CancelRun {
            by_admin: false,
            request: RunCancellation {
                requested: T0,
                by: "u".into(),
                force: false,
                reason: None,
            },
        },
        T0,
    );
    let mut after = RunBook::new(b.run.clone(), b.executions.values().cloned().collect(), 5);
    let steps = after.apply(
        Input::Recovered(vec![("a".into(), Some(ContainerState::Running))]),
        T0 + 1,
    );
    assert_eq!(
        steps[1],
        Step::Stop {
            task: "a".into(),
            stop: Stop {
                kind: StopKind::Cancel,
                grace_secs: 5
            }
        }
    );
}

#[test]
fn starting_sets_the_deadline_and_one_waiting_execution_per_task() {
    let changes = RunBook::start(
        queued_run(),
        &config(json!([task("a", json!({})), task("b", json!({}))]), 60),
        "http://x",
        T0,
    );
    let run = &changes.runs[0];
    assert_eq!(run.run.state, RunState::Running);
    assert_eq!(run.run.started, T0);
    assert_eq!(run.deadline, T0 + 60_000);
    assert_eq!(changes.executions.len(), 2);
    assert!(
        changes
            .executions
            .iter()
            .all(|e| e.execution.state == ES::Waiting)
    );
    // started_run plus one created_task_execution per task.
    assert_eq!(changes.events.len(), 3);
}

mod random_dags {
    //! The core alone over random DAGs: random conditions and retries, random exit codes and
    //! task timeouts, the order attempts end in (what random delays would change), and a random
    //! cancel or restart point. Thousands of runs a second.

    use super::*;
    use gofer_core::enums::RequiredParentStatus;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// An attempt that runs over its task timeout instead of exiting.
    const TIMED_OUT: i64 = -1;

    /// One task: parents (earlier tasks) with their condition, retries, and per possible attempt
    /// its exit code or [`TIMED_OUT`].
    type TaskSpec = (Vec<(usize, RequiredParentStatus)>, u64, Vec<i64>);

    #[derive(Debug, Clone)]
    struct Spec {
        tasks: Vec<TaskSpec>,
        /// Which in-flight attempt ends next, as indexes taken modulo the number in flight.
        order: Vec<usize>,
        /// After this many ended attempts: 0 = cancel the run, 1 = restart, 2 = nothing.
        interrupt: (usize, u8),
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (1usize..=30)
            .prop_flat_map(|n| {
                let task = |i: usize| {
                    (
                        proptest::collection::vec(
                            (
                                0..i.max(1),
                                prop_oneof![
                                    Just(RequiredParentStatus::Any),
                                    Just(RequiredParentStatus::Success),
                                    Just(RequiredParentStatus::Failure),
                                ],
                            ),
                            0..=(i.min(3)),
                        ),
                        0u64..=2,
                        proptest::collection::vec(
                            prop_oneof![3 => Just(0i64), 1 => Just(1i64), 1 => Just(TIMED_OUT)],
                            3,
                        ),
                    )
                        .prop_map(move |(parents, retries, exits)| {
                            // One condition per parent, as a config has.
                            let mut seen = std::collections::BTreeSet::new();
                            let parents: Vec<_> = parents
                                .into_iter()
                                .filter(|(p, _)| i > 0 && seen.insert(*p))
                                .collect();
                            (parents, retries, exits)
                        })
                };
                let tasks: Vec<_> = (0..n).map(task).collect();
                (
                    tasks,
                    proptest::collection::vec(any::<usize>(), 200),
                    (0usize..40, 0u8..3),
                )
            })
            .prop_map(|(tasks, order, interrupt)| Spec {
                tasks,
                order,
                interrupt,
            })
    }

    fn name(i: usize) -> String {
        format!("t{i:02}")
    }

    fn config_of(spec: &Spec) -> serde_json::Value {
        serde_json::Value::Array(
            spec.tasks
                .iter()
                .enumerate()
                .map(|(i, (parents, retries, _))| {
                    let depends_on: serde_json::Map<String, serde_json::Value> = parents
                        .iter()
                        .map(|(p, c)| (name(*p), json!(c.to_string())))
                        .collect();
                    json!({"id": name(i), "image": "img", "depends_on": depends_on,
                           "retries": {"count": retries, "backoff": 0}})
                })
                .collect(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn every_task_ends_as_its_conditions_say(spec in spec()) {
            let mut b = book(config_of(&spec), 0);
            let mut now = T0;
            // Attempts launched, per task: each number once.
            let mut launched: HashMap<String, Vec<u64>> = HashMap::new();
            let mut in_flight: Vec<(String, u64)> = Vec::new();
            let mut cancelled = false;
            let mut ended = 0usize;
            let mut finished = false;
            let mut record = |p: Played, in_flight: &mut Vec<(String, u64)>| -> bool {
                for (task, attempt) in p.launched {
                    let seen = launched.entry(task.clone()).or_default();
                    assert!(!seen.contains(&attempt), "{task} attempt {attempt} launched twice");
                    seen.push(attempt);
                    in_flight.push((task, attempt));
                }
                p.finished
            };
            finished |= record(play(&mut b, Input::Evaluate, now), &mut in_flight);
            let mut order = spec.order.iter().cycle();
            while !finished {
                prop_assert!(!in_flight.is_empty(), "nothing runs but the run is not finished");
                now += 10;
                if ended == spec.interrupt.0 && spec.interrupt.1 == 0 && !cancelled {
                    cancelled = true;
                    let p = play(&mut b, Input::CancelRun {
                        by_admin: false,
                        request: RunCancellation { requested: now, by: "u".into(), force: false , reason: None,},
                    }, now);
                    // Only what runs is stopped.
                    for (task, _) in &p.stopped {
                        prop_assert!(in_flight.iter().any(|(t, _)| t == task));
                    }
                    finished |= record(p, &mut in_flight);
                    continue;
                }
                if ended == spec.interrupt.0 && spec.interrupt.1 == 1 {
                    // A restart: a new book from what was committed; every in-flight container
                    // is still there and must be followed, not started again.
                    let mut after = RunBook::new(b.run.clone(), b.executions.values().cloned().collect(), 5);
                    let mut unfinished = after.unfinished_attempts();
                    unfinished.sort();
                    let mut expected = in_flight.clone();
                    expected.sort();
                    prop_assert_eq!(&unfinished, &expected);
                    let found = unfinished.iter().map(|(t, _)| (t.clone(), Some(ContainerState::Running))).collect();
                    let steps = after.apply(Input::Recovered(found), now);
                    let relaunched: Vec<(String, u64)> = steps.iter().filter_map(|s| match s {
                        Step::Launch { task, attempt, recovered: Some(Recovered::Started(_)) } => Some((task.clone(), *attempt)),
                        _ => None,
                    }).collect();
                    prop_assert_eq!(relaunched.len(), expected.len());
                    for (task, _) in &relaunched {
                        after.launched(task);
                    }
                    b = after;
                    ended += 1; // the restart happens once
                    finished |= record(play(&mut b, Input::Evaluate, now), &mut in_flight);
                    continue;
                }
                let pick = order.next().copied().unwrap_or(0) % in_flight.len();
                let (task, attempt) = in_flight.remove(pick);
                let index: usize = task[1..].parse().unwrap();
                let exit_code = spec.tasks[index].2[(attempt - 1) as usize];
                ended += 1;
                let ended = if exit_code == TIMED_OUT {
                    Input::AttemptEnded {
                        task: task.clone(),
                        attempt,
                        outcome: Outcome::TimedOut {
                            timeout_secs: 1,
                            state: ContainerState::Exited { exit_code: 137 },
                        },
                    }
                } else {
                    exited(&task, attempt, exit_code)
                };
                finished |= record(play(&mut b, ended, now), &mut in_flight);
            }

            prop_assert!(in_flight.is_empty());
            prop_assert_eq!(b.run.run.state, RunState::Complete);
            let view = b.view();
            for (i, (parents, retries, _)) in spec.tasks.iter().enumerate() {
                let e = &view[&name(i)];
                prop_assert_eq!(e.state, ES::Complete, "{} not complete", name(i));
                prop_assert!(e.attempts.len() as u64 <= retries + 1);
                let met = parents.iter().all(|(p, c)| runstate::condition_met(*c, view[&name(*p)].status));
                let ran = !e.attempts.is_empty();
                if ran {
                    prop_assert!(met, "{} ran with a parent condition unmet", name(i));
                }
                if !cancelled {
                    // Without a cancel, a task runs exactly when its conditions hold.
                    prop_assert_eq!(ran, met, "{}: ran {} met {}", name(i), ran, met);
                    prop_assert_eq!(e.status == XS::Skipped, !met);
                    if let Some(last) = e.attempts.last() {
                        prop_assert_eq!(e.status, last.status);
                    }
                }
            }
            let any_failed = view.values().any(|e| e.status == XS::Failed);
            let expected = if cancelled {
                RunStatus::Cancelled
            } else if any_failed {
                RunStatus::Failed
            } else {
                RunStatus::Successful
            };
            prop_assert_eq!(b.run.run.status, expected);
        }
    }
}
