//! The run engine without Docker: the real engine and a real redb store, with
//! `gofer_server::testing::FakeScheduler` standing in for the container engine, so DAG
//! conditions, skips, retries, timeouts, cancellation, parallelism and restart recovery are
//! checked in milliseconds — by example, and by a property test over random DAGs.

use gofer_core::api::InitiatorKind;
use gofer_core::api::{
    Initiator, Namespace, Page, PipelineConfigInput, Run, RunCancellation, TaskExecution,
};
use gofer_core::enums::{RunState, RunStatus, TaskExecutionStatus as XS};
use gofer_server::engine::{Engine, EngineConfig, RunKey};
use gofer_server::store::{NewRun, RedbStore, StoreHandle};
use gofer_server::testing::{Behaviour, FakeScheduler};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "0123456789abcdef0123456789abcdef";
const NS: &str = "team";

/// An engine on a temporary store and a fake scheduler; it can be stopped and started again
/// on the same store and fake, as a server restart would.
struct Harness {
    dir: tempfile::TempDir,
    store: StoreHandle,
    fake: FakeScheduler,
    engine: Engine,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

async fn engine_on(
    store: &StoreHandle,
    fake: &FakeScheduler,
    dir: &std::path::Path,
) -> (
    Engine,
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let instance_id = store.read(|s| s.instance_id()).await.unwrap();
    let config = EngineConfig {
        data_dir: dir.to_path_buf(),
        instance_id,
        api_base_url: "http://127.0.0.1:1".to_owned(),
        stop_timeout: 1,
        run_parallelism_limit: 0,
        global_run_limit: 0,
        log_retention: 0,
        run_object_expiry: 0,
        cipher: Arc::new(gofer_server::secrets::Cipher::new(KEY.as_bytes()).unwrap()),
        prune: false,
        prune_interval: 60,
        run_token_key: KEY.as_bytes().to_vec(),
        resource_defaults: Default::default(),
        log_driver: None,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (engine, task) = Engine::start(store.clone(), Arc::new(fake.clone()), config, stopped)
        .await
        .unwrap();
    (engine, stop, task)
}

impl Harness {
    async fn new(fake: FakeScheduler) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreHandle::new(Arc::new(
            RedbStore::open(&dir.path().join("gofer.db")).unwrap(),
        ));
        store
            .write(|s| {
                s.create_namespace(Namespace {
                    id: NS.to_owned(),
                    name: NS.to_owned(),
                    description: String::new(),
                    created: 1,
                    modified: 0,
                })
            })
            .await
            .unwrap();
        let (engine, stop, task) = engine_on(&store, &fake, dir.path()).await;
        Harness {
            dir,
            store,
            fake,
            engine,
            stop,
            task,
        }
    }

    /// Stops the engine (containers keep running) and starts a new one on the same store.
    async fn restart(&mut self) {
        let _ = self.stop.send(true);
        (&mut self.task).await.unwrap();
        let (engine, stop, task) = engine_on(&self.store, &self.fake, self.dir.path()).await;
        self.engine = engine;
        self.stop = stop;
        self.task = task;
    }

    /// Registers and deploys pipeline `p` (`parallelism`, `tasks` as the API takes them).
    async fn deploy(&self, p: &str, parallelism: u64, tasks: Value) {
        let input: PipelineConfigInput = serde_json::from_value(json!({
            "id": p, "name": p, "parallelism": parallelism, "tasks": tasks
        }))
        .unwrap();
        let config = gofer_core::validate::validate_config(p, &input).unwrap();
        let p = p.to_owned();
        self.store
            .write(move |s| {
                s.register_config(NS, config, 10)?;
                s.deploy(NS, &p, 1, 20)
            })
            .await
            .unwrap();
    }

    async fn start(&self, p: &str) -> u64 {
        let new = NewRun {
            variables: Vec::new(),
            initiator: Initiator {
                id: "1".to_owned(),
                user: "tester".to_owned(),
                kind: InitiatorKind::Api,
                subscription_id: None,
            },
            payload: None,
            only: None,
            command_override: None,
            run_token: None,
            retry: None,
        };
        self.engine.start_run(NS, p, new).await.unwrap().run_id
    }

    async fn run(&self, p: &str, id: u64) -> Run {
        let p = p.to_owned();
        self.store
            .read(move |s| s.get_run(NS, &p, id))
            .await
            .unwrap()
    }

    /// Waits (on the store, not a timer) until the run is complete.
    async fn finished(&self, p: &str, id: u64) -> Run {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let run = self.run(p, id).await;
            if run.state == RunState::Complete {
                return run;
            }
            if std::time::Instant::now() >= deadline {
                let executions: Vec<String> = self
                    .executions(p, id)
                    .await
                    .values()
                    .map(|e| {
                        format!(
                            "{} {:?} {:?} {:?}",
                            e.task_id, e.state, e.status, e.attempts
                        )
                    })
                    .collect();
                let mut states = Vec::new();
                for name in self.fake.starts() {
                    use gofer_server::scheduler::Scheduler as _;
                    let state = self.fake.state(&name).await;
                    states.push(format!("{name}: {state:?}"));
                }
                panic!(
                    "run {id} of {p} did not finish: {run:?}\nexecutions:\n{}\ncontainers: {:?}",
                    executions.join("\n"),
                    states
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn executions(&self, p: &str, id: u64) -> BTreeMap<String, TaskExecution> {
        let p = p.to_owned();
        self.store
            .read(move |s| s.list_task_executions(NS, &p, id, Page::ALL))
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.task_id.clone(), e))
            .collect()
    }

    /// Waits until some container has started.
    async fn started(&self, count: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while self.fake.starts().len() < count {
            assert!(std::time::Instant::now() < deadline, "nothing started");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// `(task, attempt)` of a task container's name, `gofer.<ns>.<p>.<run>.<task>.<attempt>`.
fn task_and_attempt(name: &str) -> (String, u64) {
    let parts: Vec<&str> = name.split('.').collect();
    (
        parts[parts.len() - 2].to_owned(),
        parts[parts.len() - 1].parse().unwrap(),
    )
}

fn statuses(executions: &BTreeMap<String, TaskExecution>) -> BTreeMap<&str, XS> {
    executions
        .iter()
        .map(|(k, e)| (k.as_str(), e.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_decide_what_runs_and_skips_propagate() {
    let fake = FakeScheduler::new(|request| {
        let (task, _) = task_and_attempt(&request.name);
        Behaviour {
            exit_code: if task == "a" { 1 } else { 0 },
            ..Behaviour::default()
        }
    });
    let h = Harness::new(fake).await;
    h.deploy(
        "dag",
        0,
        json!([
            {"id": "a", "image": "x"},
            {"id": "b", "image": "x", "depends_on": {"a": "success"}},
            {"id": "c", "image": "x", "depends_on": {"a": "failure"}},
            {"id": "d", "image": "x", "depends_on": {"b": "any"}},
            {"id": "e", "image": "x", "depends_on": {"b": "success"}}
        ]),
    )
    .await;
    let id = h.start("dag").await;
    let run = h.finished("dag", id).await;
    let executions = h.executions("dag", id).await;
    assert_eq!(
        statuses(&executions),
        BTreeMap::from([
            ("a", XS::Failed),
            ("b", XS::Skipped),
            ("c", XS::Successful),
            ("d", XS::Successful),
            ("e", XS::Skipped),
        ])
    );
    assert_eq!(run.status, RunStatus::Failed);
    let started: Vec<String> = h
        .fake
        .starts()
        .iter()
        .map(|n| task_and_attempt(n).0)
        .collect();
    assert!(!started.contains(&"b".to_owned()) && !started.contains(&"e".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_is_retried_until_one_succeeds() {
    let fake = FakeScheduler::new(|request| {
        let (_, attempt) = task_and_attempt(&request.name);
        Behaviour {
            exit_code: if attempt < 3 { 1 } else { 0 },
            ..Behaviour::default()
        }
    });
    let h = Harness::new(fake).await;
    h.deploy(
        "retry",
        0,
        json!([{"id": "r", "image": "x", "retries": {"count": 3, "backoff": 0}}]),
    )
    .await;
    let id = h.start("retry").await;
    let run = h.finished("retry", id).await;
    let executions = h.executions("retry", id).await;
    let r = &executions["r"];
    assert_eq!(r.status, XS::Successful);
    assert_eq!(r.attempts.len(), 3, "{r:?}");
    assert_eq!(run.status, RunStatus::Successful);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_over_its_timeout_is_stopped_and_fails() {
    let fake = FakeScheduler::new(|_| Behaviour {
        runs_for: Duration::from_secs(60),
        ..Behaviour::default()
    });
    let h = Harness::new(fake).await;
    h.deploy("slow", 0, json!([{"id": "t", "image": "x", "timeout": 1}]))
        .await;
    let id = h.start("slow").await;
    let run = h.finished("slow", id).await;
    let t = &h.executions("slow", id).await["t"];
    assert_eq!(t.status, XS::Failed);
    assert_eq!(
        t.status_reason.as_ref().map(|r| r.reason.to_string()),
        Some("timeout".to_owned())
    );
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(h.fake.stops().len(), 1, "{:?}", h.fake.stops());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_run_stops_what_runs_and_cancels_the_rest() {
    let fake = FakeScheduler::new(|_| Behaviour {
        runs_for: Duration::from_secs(60),
        ..Behaviour::default()
    });
    let h = Harness::new(fake).await;
    h.deploy(
        "cancel",
        0,
        json!([
            {"id": "a", "image": "x"},
            {"id": "b", "image": "x", "depends_on": {"a": "any"}}
        ]),
    )
    .await;
    let id = h.start("cancel").await;
    h.started(1).await;
    h.engine
        .cancel_run(
            RunKey::new(NS, "cancel", id),
            false,
            RunCancellation {
                requested: 1,
                by: "tester".to_owned(),
                force: false,
                reason: None,
            },
        )
        .await
        .unwrap();
    let run = h.finished("cancel", id).await;
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(
        statuses(&h.executions("cancel", id).await),
        BTreeMap::from([("a", XS::Cancelled), ("b", XS::Cancelled)])
    );
    assert_eq!(h.fake.stops().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_parallelism_caps_the_runs_at_once() {
    let fake = FakeScheduler::new(|_| Behaviour {
        runs_for: Duration::from_millis(60),
        ..Behaviour::default()
    });
    let h = Harness::new(fake).await;
    h.deploy("par", 2, json!([{"id": "only", "image": "x"}]))
        .await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(h.start("par").await);
    }
    for id in &ids {
        assert_eq!(h.finished("par", *id).await.status, RunStatus::Successful);
    }
    assert_eq!(h.fake.peak_running(), 2);
    assert_eq!(h.fake.starts().len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_engine_finishes_a_running_task_without_starting_it_again() {
    let fake = FakeScheduler::new(|_| Behaviour {
        runs_for: Duration::from_millis(400),
        ..Behaviour::default()
    });
    let mut h = Harness::new(fake).await;
    h.deploy(
        "recover",
        0,
        json!([
            {"id": "a", "image": "x"},
            {"id": "b", "image": "x", "depends_on": {"a": "success"}}
        ]),
    )
    .await;
    let id = h.start("recover").await;
    h.started(1).await;
    h.restart().await;
    let run = h.finished("recover", id).await;
    assert_eq!(run.status, RunStatus::Successful);
    let starts = h.fake.starts();
    assert_eq!(starts.len(), 2, "a once, then b: {starts:?}");
    // Stopping the engine never stops a container: the next engine reattaches to it.
    assert!(h.fake.stops().is_empty(), "{:?}", h.fake.stops());
}

// ---- property: random DAGs ---------------------------------------------------------------------

#[derive(Debug, Clone)]
struct TaskPlan {
    /// (parent index, condition)
    parents: Vec<(usize, &'static str)>,
    /// Exit code of each attempt (attempts past the end exit 0).
    exits: Vec<i64>,
    retries: u64,
    runs_for_ms: u64,
}

#[derive(Debug, Clone)]
enum Disruption {
    None,
    CancelAfter(u64),
    RestartAfter(u64),
}

fn plans() -> impl Strategy<Value = (Vec<TaskPlan>, Disruption, u64)> {
    let task = |i: usize| {
        (
            proptest::collection::vec(
                (
                    0..i.max(1),
                    prop_oneof![Just("any"), Just("success"), Just("failure")],
                ),
                0..=i.min(3),
            ),
            proptest::collection::vec(prop_oneof![3 => Just(0i64), 1 => Just(1i64)], 1..3),
            0u64..2,
            1u64..6,
        )
            .prop_map(move |(parents, exits, retries, runs_for_ms)| TaskPlan {
                // One condition per parent (`depends_on` is a map).
                parents: if i == 0 {
                    Vec::new()
                } else {
                    let mut one: BTreeMap<usize, &'static str> = BTreeMap::new();
                    one.extend(parents);
                    one.into_iter().collect()
                },
                exits,
                retries,
                runs_for_ms,
            })
    };
    (1usize..=30)
        .prop_flat_map(move |n| (0..n).map(task).collect::<Vec<_>>())
        .prop_flat_map(|tasks| {
            (
                Just(tasks),
                prop_oneof![
                    2 => Just(Disruption::None),
                    1 => (0u64..20).prop_map(Disruption::CancelAfter),
                    1 => (0u64..20).prop_map(Disruption::RestartAfter),
                ],
                1u64..3,
            )
        })
}

/// What the conditions (docs/runs.md#conditions) say a task's status is, from its parents' (when no cancel applies).
fn expected_status(plan: &TaskPlan, parents: &[XS]) -> XS {
    let satisfied = plan
        .parents
        .iter()
        .zip(parents)
        .all(|((_, cond), st)| match *cond {
            "any" => matches!(st, XS::Successful | XS::Failed | XS::Skipped),
            "success" => *st == XS::Successful,
            _ => *st == XS::Failed,
        });
    if !satisfied {
        return XS::Skipped;
    }
    let allowed = (plan.retries + 1) as usize;
    let succeeded = (0..allowed).any(|a| plan.exits.get(a).copied().unwrap_or(0) == 0);
    if succeeded {
        XS::Successful
    } else {
        XS::Failed
    }
}

async fn check(tasks: Vec<TaskPlan>, disruption: Disruption, parallelism: u64) {
    let by_task: BTreeMap<String, TaskPlan> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("t{i}"), t.clone()))
        .collect();
    let plan_for = by_task.clone();
    let fake = FakeScheduler::new(move |request| {
        let (task, attempt) = task_and_attempt(&request.name);
        let plan = &plan_for[&task];
        Behaviour {
            exit_code: plan.exits.get(attempt as usize - 1).copied().unwrap_or(0),
            runs_for: Duration::from_millis(plan.runs_for_ms),
            ..Behaviour::default()
        }
    });
    let mut h = Harness::new(fake).await;
    let config: Vec<Value> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let depends: serde_json::Map<String, Value> = t
                .parents
                .iter()
                .map(|(p, c)| (format!("t{p}"), json!(c)))
                .collect();
            json!({"id": format!("t{i}"), "image": "x", "depends_on": depends,
                   "retries": {"count": t.retries, "backoff": 0}})
        })
        .collect();
    h.deploy("prop", parallelism, json!(config)).await;
    let ids = [h.start("prop").await, h.start("prop").await];
    match &disruption {
        Disruption::None => {}
        Disruption::CancelAfter(ms) => {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            h.engine
                .cancel_run(
                    RunKey::new(NS, "prop", ids[0]),
                    true,
                    RunCancellation {
                        requested: 1,
                        by: "admin".to_owned(),
                        force: false,
                        reason: None,
                    },
                )
                .await
                .unwrap();
        }
        Disruption::RestartAfter(ms) => {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            h.restart().await;
        }
    }
    let mut runs = Vec::new();
    for id in ids {
        runs.push(h.finished("prop", id).await);
    }
    // Never two runs at once beyond the pipeline's parallelism (two runs here).
    if parallelism == 1 {
        assert!(
            runs[1].started >= runs[0].ended,
            "run 2 started {} before run 1 ended {}",
            runs[1].started,
            runs[0].ended
        );
    }
    // No container was ever started twice (recovery included).
    let starts = h.fake.starts();
    let mut unique = starts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        starts.len(),
        "a container started twice: {starts:?}"
    );
    for run in &runs {
        let executions = h.executions("prop", run.run_id).await;
        let cancelled = run.cancellation.is_some();
        if cancelled && executions.is_empty() {
            // Cancelled while still queued: it never got executions.
            assert_eq!(run.status, RunStatus::Cancelled);
            continue;
        }
        assert_eq!(executions.len(), tasks.len());
        for e in executions.values() {
            assert_eq!(
                e.state,
                gofer_core::enums::TaskExecutionState::Complete,
                "{e:?}"
            );
        }
        if !cancelled {
            // Walk in index order: parents always have lower indexes.
            let mut got: Vec<XS> = Vec::new();
            for (i, plan) in tasks.iter().enumerate() {
                let parents: Vec<XS> = plan.parents.iter().map(|(p, _)| got[*p]).collect();
                let execution = &executions[&format!("t{i}")];
                let status = execution.status;
                // An attempt recorded but whose container was never created when the engine
                // stopped is `orphaned` at recovery, never retried (restart recovery rules).
                let orphaned = execution
                    .status_reason
                    .as_ref()
                    .is_some_and(|r| r.reason.to_string() == "orphaned");
                if orphaned {
                    assert!(matches!(disruption, Disruption::RestartAfter(_)));
                    got.push(status);
                    continue;
                }
                let want = expected_status(plan, &parents);
                assert_eq!(
                    status, want,
                    "task t{i} ({execution:?}) of run {} with {disruption:?}, {tasks:?}",
                    run.run_id
                );
                got.push(status);
            }
            let want = if got.contains(&XS::Failed) {
                RunStatus::Failed
            } else {
                RunStatus::Successful
            };
            assert_eq!(run.status, want);
        } else {
            assert!(
                matches!(
                    run.status,
                    RunStatus::Cancelled | RunStatus::Failed | RunStatus::Successful
                ),
                "{run:?}"
            );
            if executions.values().any(|e| e.status == XS::Cancelled) {
                assert_eq!(run.status, RunStatus::Cancelled);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    /// Random DAGs (up to 30 tasks, random conditions, exit codes and retries), two runs of
    /// the pipeline with parallelism 1 or 2, and a random cancel or engine restart: every task
    /// ends complete, no container is started twice, statuses follow the conditions and the
    /// run's status follows its tasks.
    #[test]
    fn random_dags_end_as_their_conditions_say((tasks, disruption, parallelism) in plans()) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(check(tasks, disruption, parallelism));
    }
}
