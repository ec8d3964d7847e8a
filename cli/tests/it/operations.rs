//! Operating pipelines day to day, end to end against the real binary and Docker: overlap
//! policies (docs/runs.md#overlapping-runs) with runs started by hand and by the interval
//! extension.

use crate::common::{gofer, run, unique, unused_addr};
use crate::extensions::{Cleanup, start_reachable, terminate};
use crate::recovery::Server;
use crate::recovery::{call, wait_for};
use gofer_core::api::Event;
use reqwest::Method;
use serde_json::{Value, json};

/// The test image (busybox, built locally).
async fn image() -> String {
    let docker = gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    gofer_server::testing::busybox_image(&docker)
        .await
        .expect("busybox image")
}

/// The real binary on a free port, reachable from containers, with a data dir of its own.
async fn serve() -> (Server, tempfile::TempDir, u16) {
    let dir = tempfile::tempdir().unwrap();
    let port = unused_addr().port();
    let server = start_reachable(&crate::common::http(), port, dir.path(), &[]).await;
    (server, dir, port)
}

/// A pipeline on a real server, live at version 1, with one task running `script`.
struct Live {
    http: reqwest::Client,
    port: u16,
    id: String,
    base: String,
}

impl Live {
    async fn new(port: u16, prefix: &str, overlap: &str, script: &str) -> Live {
        let image = image().await;
        let id = unique(prefix);
        let config = json!({"config": {"id": id, "name": prefix, "overlap": overlap, "tasks": [
            {"id": "job", "image": image, "command": ["sh", "-c", script]}]}});
        Live::deployed(port, id, config).await
    }

    /// Pipeline `id` registered with `config` and its version 1 deployed.
    async fn deployed(port: u16, id: String, config: Value) -> Live {
        let p = Live {
            http: crate::common::http(),
            port,
            base: format!("http://127.0.0.1:{port}/api/namespaces/default/pipelines/{id}"),
            id,
        };
        let (status, body) = p.post("configs", Some(config)).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(p.post("configs/1", None).await.0, 201);
        p
    }

    async fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        call(
            &self.http,
            Method::POST,
            format!("{}/{path}", self.base),
            body,
        )
        .await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = call(
            &self.http,
            Method::GET,
            format!("{}/{path}", self.base),
            None,
        )
        .await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    fn cli(&self, args: &[&str]) -> crate::common::Run {
        run(gofer()
            .env(
                "GOFER_API_BASE_URL",
                format!("http://127.0.0.1:{}", self.port),
            )
            .args(args))
    }

    async fn start(&self) -> u64 {
        let (status, body) = self.post("runs", Some(json!({}))).await;
        assert_eq!(status, 201, "{body}");
        body["run"]["run_id"].as_u64().unwrap()
    }

    async fn run(&self, id: u64) -> Value {
        self.get(&format!("runs/{id}")).await["run"].clone()
    }

    async fn wait_state(&self, id: u64, state: &str) -> Value {
        wait_for(&format!("run {id} to be {state}"), async || {
            let run = self.run(id).await;
            (run["state"] == state).then_some(run)
        })
        .await
    }

    async fn runs(&self) -> Vec<Value> {
        self.get("runs?limit=200").await["runs"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Cancels every run still in progress and waits for all to complete.
    async fn finish(&self) {
        for r in self.runs().await {
            if r["state"] != "complete" {
                let id = r["run_id"].as_u64().unwrap();
                let (status, _) = call(
                    &self.http,
                    Method::DELETE,
                    format!("{}/runs/{id}?force=true", self.base),
                    None,
                )
                .await;
                assert!(status == 204 || status == 200, "cancel run {id}: {status}");
            }
        }
        for r in self.runs().await {
            self.wait_state(r["run_id"].as_u64().unwrap(), "complete")
                .await;
        }
    }

    fn events(&self, kind: &str) -> Vec<Event> {
        let out = self
            .cli(&[
                "event",
                "list",
                "--kinds",
                kind,
                "--pipeline",
                &self.id,
                "--output",
                "json",
            ])
            .expect(0)
            .stdout;
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn install_interval(&self, ext: &str) {
        self.cli(&[
            "extension",
            "install",
            ext,
            "gofer.local/extension-interval",
            "-s",
            "MIN_INTERVAL=1s",
        ])
        .expect(0);
    }

    /// Installs the cron extension as `ext` and subscribes the pipeline to it as `hourly`, on
    /// the hour.
    fn subscribe_hourly_cron(&self, ext: &str) {
        self.cli(&["extension", "install", ext, "gofer.local/extension-cron"])
            .expect(0);
        self.cli(&[
            "pipeline",
            "subscribe",
            &self.id,
            ext,
            "hourly",
            "-s",
            "expression=0 * * * *",
        ])
        .expect(0);
    }

    fn subscribe(&self, ext: &str) {
        self.cli(&[
            "pipeline",
            "subscribe",
            &self.id,
            ext,
            "tick",
            "-s",
            "every=1s",
        ])
        .expect(0);
    }

    fn unsubscribe(&self, ext: &str) {
        self.cli(&["pipeline", "unsubscribe", &self.id, ext, "tick"])
            .expect(0);
    }
}

/// `skip`: while run 1 runs, a start by hand is refused with 409 (exit 5 from the CLI) naming
/// run 1, and so are the interval extension's; each refusal is a `skipped_run` event saying who
/// asked. Once run 1 has ended, a start succeeds again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlap_skip_refuses_starts_while_a_run_is_in_progress() {
    let (server, _dir, port) = serve().await;
    let p = Live::new(port, "ovskip", "skip", "sleep 300").await;
    let ext = unique("ovskipx");
    let _cleanup = Cleanup(vec![ext.clone()]);
    p.install_interval(&ext);

    let first = p.start().await;
    assert_eq!(first, 1);
    let (status, body) = p.post("runs", Some(json!({}))).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("overlap policy skip): run 1 has not finished"),
        "{body}"
    );
    let r = p.cli(&["pipeline", "run", &p.id]).expect(5);
    assert!(r.stderr.contains("run 1 has not finished"), "{}", r.stderr);
    // A run in progress cannot be retried (docs/runs.md#retrying-a-run).
    let r = p.cli(&["run", "retry", &p.id, "1"]).expect(5);
    assert!(
        r.stderr.contains("run 1 is still in progress"),
        "{}",
        r.stderr
    );

    p.subscribe(&ext);
    let skipped = wait_for("the extension's start to be skipped", async || {
        let events = p.events("skipped_run");
        events
            .iter()
            .any(|e| {
                matches!(&e.kind, gofer_core::api::EventKind::SkippedRun { initiator, .. }
                    if initiator.kind == gofer_core::api::InitiatorKind::Extension)
            })
            .then(|| serde_json::to_value(&events).unwrap())
    })
    .await;
    p.unsubscribe(&ext);
    let skipped: Vec<Event> = serde_json::from_value(skipped).unwrap();
    // Two by hand (API and CLI), then the extension's.
    let kinds: Vec<String> = skipped
        .iter()
        .map(|e| match &e.kind {
            gofer_core::api::EventKind::SkippedRun {
                active_run_id,
                initiator,
                ..
            } => {
                assert_eq!(*active_run_id, 1);
                initiator.kind.to_string()
            }
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(kinds[..2], ["api", "api"], "{kinds:?}");
    assert!(kinds[2..].iter().all(|k| k == "extension"), "{kinds:?}");
    // Nothing was created for the skipped starts: run 1 is the only run.
    assert_eq!(p.runs().await.len(), 1);

    p.finish().await;
    let second = p.start().await;
    assert_eq!(second, 2, "run ids were not used by skipped starts");
    p.finish().await;
    p.cli(&["extension", "uninstall", &ext]).expect(0);
    terminate(server);
}

/// `queue`: runs started together — by hand and by the interval extension — run one at a time,
/// in the order they were created; all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlap_queue_runs_one_at_a_time_in_order() {
    let (server, _dir, port) = serve().await;
    let p = Live::new(port, "ovqueue", "queue", "sleep 1").await;
    let ext = unique("ovqueuex");
    let _cleanup = Cleanup(vec![ext.clone()]);
    p.install_interval(&ext);
    let ids = [p.start().await, p.start().await];
    let second = p.run(ids[1]).await;
    assert_eq!(second["state"], "pending", "{second}");
    p.subscribe(&ext);
    wait_for("an extension run queued behind", async || {
        p.runs()
            .await
            .iter()
            .any(|r| r["initiator"]["kind"] == "extension")
            .then_some(Value::Null)
    })
    .await;
    p.unsubscribe(&ext);
    let mut runs = p.runs().await;
    runs.sort_by_key(|r| r["run_id"].as_u64());
    let mut previous_end = 0;
    for r in &runs {
        let id = r["run_id"].as_u64().unwrap();
        let done = p.wait_state(id, "complete").await;
        assert_eq!(done["status"], "successful", "{done}");
        let started = done["started"].as_u64().unwrap();
        assert!(
            started >= previous_end,
            "run {id} started at {started}, before the previous run ended at {previous_end}"
        );
        previous_end = done["ended"].as_u64().unwrap();
    }
    assert!(
        runs.iter().any(|r| r["initiator"]["kind"] == "extension"),
        "an extension's run was queued too"
    );
    let r = p.cli(&["pipeline", "get", &p.id]).expect(0);
    assert!(r.stdout.contains("queue"), "{}", r.stdout);
    p.cli(&["extension", "uninstall", &ext]).expect(0);
    terminate(server);
}

/// `allow` (the default): a second start while a run is in progress runs beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlap_allow_runs_overlapping_starts_side_by_side() {
    let (server, _dir, port) = serve().await;
    let p = Live::new(port, "ovallow", "allow", "sleep 2").await;
    let first = p.start().await;
    p.wait_state(first, "running").await;
    let second = p.start().await;
    let running = p.wait_state(second, "running").await;
    let first_now = p.run(first).await;
    assert_eq!(
        first_now["state"], "running",
        "both run at once: {first_now}"
    );
    assert!(running["started"].as_u64() > Some(0));
    for id in [first, second] {
        assert_eq!(p.wait_state(id, "complete").await["status"], "successful");
    }
    terminate(server);
}

/// `cancel_previous`: a run started by the interval extension cancels the run started by hand,
/// saying which run replaced it, and starts only once the cancelled run has ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlap_cancel_previous_replaces_the_run_in_progress() {
    let (server, _dir, port) = serve().await;
    let p = Live::new(port, "ovcancel", "cancel_previous", "sleep 300").await;
    let ext = unique("ovcancelx");
    let _cleanup = Cleanup(vec![ext.clone()]);
    p.install_interval(&ext);

    let first = p.start().await;
    assert_eq!(first, 1);
    p.wait_state(first, "running").await;
    p.subscribe(&ext);
    wait_for("the extension to start a run", async || {
        (p.runs().await.len() >= 2).then_some(Value::Null)
    })
    .await;
    p.unsubscribe(&ext);

    // The extension may have fired more than once before the unsubscribe: each run was
    // replaced by the next, and the newest one runs.
    let newest = p.runs().await.len() as u64;
    let mut previous: Option<Value> = None;
    for id in 1..=newest {
        let run = if id == newest {
            p.wait_state(id, "running").await
        } else {
            p.wait_state(id, "complete").await
        };
        if id == 1 {
            assert_eq!(run["initiator"]["kind"], "api", "{run}");
        } else {
            assert_eq!(run["initiator"]["kind"], "extension", "{run}");
        }
        if id < newest {
            assert_eq!(run["status"], "cancelled", "{run}");
            assert_eq!(
                run["status_reason"]["description"],
                format!(
                    "cancelled by run {}: the pipeline's overlap policy is cancel_previous",
                    id + 1
                )
            );
            assert_eq!(run["cancellation"]["by"], format!("run {}", id + 1));
        }
        if let Some(before) = &previous
            && run["started"].as_u64().unwrap_or(0) > 0
        {
            assert!(
                run["started"].as_u64() >= before["ended"].as_u64(),
                "run {id} started before the run it replaced ended"
            );
        }
        previous = Some(run);
    }
    assert!(newest >= 2);
    // The first run was running: its cancellation is in the events.
    assert!(
        p.events("started_run_cancellation")
            .iter()
            .any(|e| matches!(
                &e.kind,
                gofer_core::api::EventKind::StartedRunCancellation { run_id: 1, .. }
            )),
        "a cancellation event for run 1"
    );
    p.finish().await;
    p.cli(&["extension", "uninstall", &ext]).expect(0);
    terminate(server);
}

/// Containers Docker holds for run `run` of pipeline `pipeline`.
fn containers_of(pipeline: &str, run: u64) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .args(["--filter", &format!("label=gofer.pipeline_id={pipeline}")])
        .args(["--filter", &format!("label=gofer.run_id={run}")])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// docs/runs.md#retrying-a-run: a DAG of five tasks where `check` fails; after a version that
/// fixes it is deployed, `run retry --failed-only` runs exactly one container, the four tasks
/// that succeeded are `reused` with their results (read downstream by `check`), the variables
/// and payload are carried over, and the new run records what it retried. A plain retry runs
/// every task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_failed_only_reruns_just_the_failed_task() {
    let (server, _dir, port) = serve().await;
    let image = image().await;
    let id = unique("retry");
    let post_result = "wget -q -O- --header \"Authorization: Bearer $GOFER_API_TOKEN\" \
        --post-data '{\"answer\": 42}' \
        \"$GOFER_API_BASE_URL/api/namespaces/$GOFER_NAMESPACE_ID/pipelines/$GOFER_PIPELINE_ID/runs/$GOFER_RUN_ID/tasks/$GOFER_TASK_ID/result\"";
    let config = |check: &str| {
        json!({"config": {"id": id, "name": "retry", "tasks": [
            {"id": "produce", "image": image, "command": ["sh", "-c", post_result], "inject_api_token": true},
            {"id": "lint", "image": image, "command": ["sh", "-c", "echo lint"]},
            {"id": "unit", "image": image, "command": ["sh", "-c", "echo unit"],
             "depends_on": {"produce": "success"}},
            {"id": "docs", "image": image, "command": ["sh", "-c", "echo docs"]},
            {"id": "check", "image": image, "command": ["sh", "-c", check],
             "depends_on": {"unit": "success", "lint": "success"},
             "variables": {"GOT": "task_result{{produce}}"}}
        ]}})
    };
    let p = Live::deployed(
        port,
        id.clone(),
        config("echo \"got $GOT for $WHO\"; exit 1"),
    )
    .await;
    let (status, body) = p
        .post(
            "runs",
            Some(json!({"variables": {"WHO": "ops"}, "payload": {"ticket": 7}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let failed = p.wait_state(1, "complete").await;
    assert_eq!(failed["status"], "failed", "{failed}");

    // The fix: a new version whose `check` succeeds when it reads the result, variable and
    // payload the old run had.
    let fixed = "echo \"got $GOT for $WHO with $GOFER_RUN_PAYLOAD\"; \
        test \"$GOT\" = '{\"answer\":42}' && test \"$WHO\" = ops";
    let (status, body) = p.post("configs", Some(config(fixed))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(p.post("configs/2", None).await.0, 201);

    let r = p
        .cli(&["run", "retry", &id, "1", "--failed-only"])
        .expect(0);
    assert!(
        r.stdout.contains("run 2 of pipeline")
            && r.stdout
                .contains("retrying run 1; reused (not run again): docs, lint, produce, unit"),
        "{}",
        r.stdout
    );
    let retried = p.wait_state(2, "complete").await;
    assert_eq!(retried["status"], "successful", "{retried}");
    assert_eq!(
        retried["retry"],
        json!({"run_id": 1, "failed_only": true, "reused_tasks": ["docs", "lint", "produce", "unit"]})
    );
    assert_eq!(retried["payload"], json!({"ticket": 7}));
    assert_eq!(retried["variables"][0]["key"], "WHO");
    assert_eq!(retried["pipeline_config_version"], 2);
    assert_eq!(
        containers_of(&id, 2),
        [format!("gofer.default.{id}.2.check.1")],
        "exactly one container ran"
    );
    let tasks = p.get("runs/2/tasks").await["task_executions"]
        .as_array()
        .unwrap()
        .clone();
    for t in &tasks {
        let task = t["task_id"].as_str().unwrap();
        assert_eq!(t["status"], "successful", "{t}");
        if task == "check" {
            assert!(t["status_reason"].is_null(), "{t}");
        } else {
            assert_eq!(t["status_reason"]["reason"], "reused", "{t}");
            assert_eq!(
                t["status_reason"]["description"],
                "reused from run 1, where it succeeded"
            );
            assert_eq!(t["started"], 0, "no container for {task}");
        }
    }
    let produce = tasks.iter().find(|t| t["task_id"] == "produce").unwrap();
    assert_eq!(produce["result"], json!({"answer": 42}));
    let log = p.cli(&["task", "logs", &id, "2", "check"]).expect(0).stdout;
    assert!(
        log.contains("got {\"answer\":42} for ops with"),
        "the reused result reached check: {log}"
    );

    // Without --failed-only every task runs again.
    let r = p
        .cli(&["run", "retry", &id, "2", "--output", "json"])
        .expect(0);
    let again: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        again["run"]["retry"],
        json!({"run_id": 2, "failed_only": false})
    );
    let done = p.wait_state(3, "complete").await;
    assert_eq!(done["status"], "successful", "{done}");
    assert_eq!(containers_of(&id, 3).len(), 5);
    // A run that does not exist.
    p.cli(&["run", "retry", &id, "99"]).expect(3);
    terminate(server);
}

/// docs/extensions.md#backfilling-a-schedule: `0 * * * *` over five hours lists five instants
/// in a dry run and starts nothing; the backfill starts exactly five runs, in order, each with
/// its scheduled time; more instants than `--max` are refused and nothing starts; bad times
/// and an extension without a schedule are refused naming why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_of_an_hourly_cron_starts_one_run_per_hour_in_order() {
    let (server, _dir, port) = serve().await;
    let p = Live::new(
        port,
        "backfill",
        "queue",
        "echo scheduled $GOFER_EXTENSION_CRON_SCHEDULED_TIME",
    )
    .await;
    let cron = unique("bfcron");
    let interval = unique("bfivl");
    let _cleanup = Cleanup(vec![cron.clone(), interval.clone()]);
    p.subscribe_hourly_cron(&cron);
    let range = [
        "--from",
        "2026-01-01T00:30:00Z",
        "--to",
        "2026-01-01T05:30:00Z",
    ];
    let expected: Vec<String> = (1..=5).map(|h| format!("2026-01-01T0{h}:00:00Z")).collect();
    let backfill = |extra: &[&str]| {
        let mut args = vec![
            "pipeline",
            "subscription",
            "backfill",
            &p.id,
            &cron,
            "hourly",
        ];
        args.extend_from_slice(&range);
        args.extend_from_slice(extra);
        p.cli(&args)
    };

    let dry = backfill(&["--dry-run"]).expect(0);
    for at in &expected {
        assert!(dry.stdout.contains(at.as_str()), "{}", dry.stdout);
    }
    assert!(
        dry.stdout
            .contains("5 scheduled instant(s) in the range; nothing was started (dry run)"),
        "{}",
        dry.stdout
    );
    let by_hand = |runs: &[Value]| {
        runs.iter()
            .filter(|r| r["initiator"]["kind"] == "api")
            .count()
    };
    assert_eq!(by_hand(&p.runs().await), 0, "a dry run starts nothing");

    let refused = backfill(&["--max", "4"]).expect(7);
    assert!(
        refused
            .stderr
            .contains("max: the range holds more than 4 scheduled instants"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        by_hand(&p.runs().await),
        0,
        "a refused backfill starts nothing"
    );

    let r = backfill(&["--output", "json"]).expect(0);
    let answer: Value = serde_json::from_str(&r.stdout).unwrap();
    let instants = answer["instants"].as_array().unwrap();
    let ats: Vec<&str> = instants.iter().map(|i| i["at"].as_str().unwrap()).collect();
    assert_eq!(ats, expected);
    let ids: Vec<u64> = instants
        .iter()
        .map(|i| i["run_id"].as_u64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order: {ids:?}");
    for (id, at) in ids.iter().zip(&expected) {
        let run = p.wait_state(*id, "complete").await;
        assert_eq!(run["status"], "successful", "{run}");
        let variable = run["variables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["key"] == "GOFER_EXTENSION_CRON_SCHEDULED_TIME")
            .cloned()
            .unwrap_or_default();
        assert_eq!(variable["value"], at.as_str(), "{run}");
        let log = p
            .cli(&["task", "logs", &p.id, &id.to_string(), "job"])
            .expect(0)
            .stdout;
        assert!(log.contains(&format!("scheduled {at}")), "{log}");
    }
    assert_eq!(by_hand(&p.runs().await), 5, "exactly five runs");

    // Bad input, named.
    let mut args = vec![
        "pipeline",
        "subscription",
        "backfill",
        &p.id,
        &cron,
        "hourly",
    ];
    args.extend_from_slice(&["--from", "yesterday", "--to", "2026-01-01T05:30:00Z"]);
    let r = p.cli(&args).expect(7);
    assert!(
        r.stderr.contains("from: 'yesterday' is not a time"),
        "{}",
        r.stderr
    );
    let mut args = vec![
        "pipeline",
        "subscription",
        "backfill",
        &p.id,
        &cron,
        "hourly",
    ];
    args.extend_from_slice(&[
        "--from",
        "2026-01-02T00:00:00Z",
        "--to",
        "2026-01-01T00:00:00Z",
    ]);
    let r = p.cli(&args).expect(7);
    assert!(r.stderr.contains("to: "), "{}", r.stderr);
    // An extension without a schedule.
    p.install_interval(&interval);
    p.cli(&[
        "pipeline",
        "subscribe",
        &p.id,
        &interval,
        "slow",
        "-s",
        "every=1h",
    ])
    .expect(0);
    let mut args = vec![
        "pipeline",
        "subscription",
        "backfill",
        &p.id,
        &interval,
        "slow",
    ];
    args.extend_from_slice(&range);
    let r = p.cli(&args).expect(7);
    assert!(
        r.stderr.contains("has no schedule to backfill"),
        "{}",
        r.stderr
    );
    p.cli(&["pipeline", "unsubscribe", &p.id, &interval, "slow"])
        .expect(0);
    p.cli(&["pipeline", "unsubscribe", &p.id, &cron, "hourly"])
        .expect(0);
    p.cli(&["extension", "uninstall", &cron]).expect(0);
    p.cli(&["extension", "uninstall", &interval]).expect(0);
    terminate(server);
}

/// docs/extensions.md#backfilling-a-schedule: under the overlap policy `skip`, the instants whose
/// start was skipped (a run still in progress) are reported as skipped, and the backfill goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_reports_the_instants_the_skip_policy_refused() {
    let (server, _dir, port) = serve().await;
    let p = Live::new(port, "bfskip", "skip", "sleep 30").await;
    let cron = unique("bfskipc");
    let _cleanup = Cleanup(vec![cron.clone()]);
    p.subscribe_hourly_cron(&cron);
    let r = p
        .cli(&[
            "pipeline",
            "subscription",
            "backfill",
            &p.id,
            &cron,
            "hourly",
            "--from",
            "2026-01-01T00:30:00Z",
            "--to",
            "2026-01-01T03:30:00Z",
            "--output",
            "json",
        ])
        .expect(0);
    let answer: Value = serde_json::from_str(&r.stdout).unwrap();
    let instants = answer["instants"].as_array().unwrap();
    assert_eq!(instants.len(), 3, "{answer}");
    assert_eq!(instants[0]["run_id"], 1, "{answer}");
    for skipped in &instants[1..] {
        assert!(skipped.get("run_id").is_none(), "{answer}");
        assert!(
            skipped["skipped"]
                .as_str()
                .unwrap()
                .contains("overlap policy skip): run 1 has not finished"),
            "{answer}"
        );
    }
    assert_eq!(p.runs().await.len(), 1);
    assert_eq!(p.events("skipped_run").len(), 2);
    p.finish().await;
    p.cli(&["pipeline", "unsubscribe", &p.id, &cron, "hourly"])
        .expect(0);
    p.cli(&["extension", "uninstall", &cron]).expect(0);
    terminate(server);
}
