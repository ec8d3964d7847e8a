//! Safe deployments end to end (docs/pipelines.md#safe-deployments): the real binary serving, the
//! real CLI deploying with a strategy, real containers running each version. A canary that
//! succeeds is promoted after its bake, a failing one is rolled back, runs an extension starts
//! are split too, a canary survives SIGKILL with its counters, and a failing smoke run leaves
//! the live version alone.

use crate::common::{gofer, run, unique, unused_addr};
use crate::extensions::{Cleanup, start_reachable, terminate};
use crate::recovery::{Server, call, start, wait_for};
use reqwest::Method;
use serde_json::{Value, json};

/// A pipeline on a real server: version 1 (live) runs `v1`, version 2 runs `v2`.
struct Pipeline {
    http: reqwest::Client,
    port: u16,
    id: String,
    base: String,
}

impl Pipeline {
    async fn new(port: u16, prefix: &str, v1: &str, v2: &str) -> Pipeline {
        let docker = gofer_server::testing::require_docker()
            .await
            .expect("this test needs Docker: run .ci/ensure-docker");
        let image = gofer_server::testing::busybox_image(&docker)
            .await
            .expect("busybox image");
        let http = crate::common::http();
        let health = format!("http://127.0.0.1:{port}/api/health");
        wait_for("the server", async || {
            let (status, _) = call(&http, Method::GET, health.clone(), None).await;
            (status == 200).then_some(Value::Null)
        })
        .await;
        let id = unique(prefix);
        let base = format!("http://127.0.0.1:{port}/api/namespaces/default/pipelines/{id}");
        let p = Pipeline {
            http,
            port,
            id,
            base,
        };
        for script in [v1, v2] {
            let config = json!({"config": {"id": p.id, "name": prefix, "tasks": [
                {"id": "job", "image": image, "command": ["sh", "-c", script]}]}});
            let (status, body) = p.post("configs", Some(config)).await;
            assert_eq!(status, 201, "{body}");
        }
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

    async fn deployment(&self, id: u64) -> Value {
        self.get(&format!("deployments/{id}")).await["deployment"].clone()
    }

    async fn live_version(&self) -> u64 {
        let configs = self.get("configs").await;
        configs["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["state"] == "live")
            .map(|c| c["version"].as_u64().unwrap())
            .expect("a live version")
    }

    async fn wait_run(&self, run_id: u64) -> Value {
        let path = format!("runs/{run_id}");
        wait_for("the run to complete", async || {
            let run = self.get(&path).await["run"].clone();
            (run["state"] == "complete").then_some(run)
        })
        .await
    }

    /// Starts one run through the API and waits until it completes.
    async fn run_one(&self) -> Value {
        let (status, body) = self.post("runs", Some(json!({}))).await;
        assert_eq!(status, 201, "{body}");
        self.wait_run(body["run"]["run_id"].as_u64().unwrap()).await
    }

    /// Runs one at a time until deployment `id` concludes; returns the runs made.
    async fn run_until_concluded(&self, id: u64) -> Vec<Value> {
        let mut runs = Vec::new();
        while self.deployment(id).await["state"] == "Running" {
            assert!(
                runs.len() < 60,
                "the deployment did not conclude in 60 runs"
            );
            runs.push(self.run_one().await);
        }
        runs
    }
}

/// The server's `/metrics` text.
async fn metrics(addr: std::net::SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn version(run: &Value) -> u64 {
    run["pipeline_config_version"].as_u64().unwrap()
}

fn seed(deployment: &Value) -> u64 {
    deployment["canary"]["seed"].as_u64().unwrap()
}

fn kinds(deployment: &Value) -> Vec<String> {
    deployment["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["kind"]
                .as_object()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .clone()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_succeeding_canary_is_promoted_after_its_bake_and_later_runs_use_it() {
    let dir = tempfile::tempdir().unwrap();
    let addr = unused_addr();
    let _server = start(&addr.to_string(), dir.path());
    let p = Pipeline::new(addr.port(), "cok", "echo one", "echo two").await;
    let out = p
        .cli(&[
            "pipeline", "config", "deploy", &p.id, "2", "--canary", "50", "--bake", "6",
        ])
        .expect(0);
    assert!(
        out.stdout.contains("canary deployment 2") && out.stdout.contains("gets 50% of new runs"),
        "{}",
        out.stdout
    );
    let started = p.deployment(2).await;
    assert_eq!(started["state"], "Running");
    assert_eq!(
        p.live_version().await,
        1,
        "nothing changes for live runs yet"
    );

    let mut canary_done = 0;
    let mut baseline = 0;
    for run in p.run_until_concluded(2).await {
        // The split is the deployment's seed and the run id, nothing else.
        let on_new =
            gofer_core::canary::picks_new(seed(&started), run["run_id"].as_u64().unwrap(), 50);
        assert_eq!(version(&run), if on_new { 2 } else { 1 }, "{run}");
        assert_eq!(run["deployment_id"], 2, "{run}");
        assert_eq!(run["status"], "successful", "{run}");
        if on_new {
            canary_done += 1;
        } else {
            baseline += 1;
        }
    }
    assert_eq!(canary_done, 6, "promoted right after the 6th canary run");
    // The split is a hash, so a short canary may send every run to the new version; the
    // record counts what it did.
    assert_eq!(p.deployment(2).await["canary"]["baseline"], baseline);
    let done = p.deployment(2).await;
    assert_eq!(done["status"], "Successful", "{done}");
    assert_eq!(done["status_reason"]["reason"], "canary_baked", "{done}");
    assert_eq!(done["canary"]["tally"]["successful"], 6);
    let kinds = kinds(&done);
    assert_eq!(
        kinds.iter().filter(|k| *k == "canary_run_started").count(),
        6
    );
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["deployment_promoted", "completed_deployment"]
    );
    assert_eq!(p.live_version().await, 2);
    for _ in 0..3 {
        let run = p.run_one().await;
        assert_eq!(version(&run), 2, "{run}");
        assert!(run.get("deployment_id").is_none(), "{run}");
    }
    // The CLI shows how it ended; the per-version figures count both versions.
    let shown = p
        .cli(&["pipeline", "deployment", "get", &p.id, "2"])
        .expect(0);
    assert!(shown.stdout.contains("canary_baked"), "{}", shown.stdout);
    assert!(
        shown.stdout.contains("6 of 6 canary runs"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("canary_run_started ×6"),
        "{}",
        shown.stdout
    );
    let listed = p.cli(&["pipeline", "deployment", "list", &p.id]).expect(0);
    assert!(listed.stdout.contains("canary"), "{}", listed.stdout);
    let metrics = metrics(addr).await;
    assert!(
        metrics.contains("gofer_deployments_total{strategy=\"canary\",status=\"successful\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gofer_canary_runs_in_flight 0"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_canary_is_rolled_back_and_the_old_version_stays_live() {
    let dir = tempfile::tempdir().unwrap();
    let addr = unused_addr();
    let _server = start(&addr.to_string(), dir.path());
    let p = Pipeline::new(addr.port(), "cbad", "echo one", "echo broken; exit 1").await;
    p.cli(&[
        "pipeline", "config", "deploy", &p.id, "2", "--canary", "50", "--bake", "6",
    ])
    .expect(0);
    let runs = p.run_until_concluded(2).await;
    let failed: Vec<&Value> = runs.iter().filter(|r| version(r) == 2).collect();
    assert!(failed.iter().all(|r| r["status"] == "failed"));
    assert_eq!(
        failed.len(),
        3,
        "rolled back at the default sample of 3 canary runs"
    );
    let done = p.deployment(2).await;
    assert_eq!(done["status"], "Failed", "{done}");
    assert_eq!(
        done["status_reason"]["reason"], "canary_failure_rate",
        "{done}"
    );
    assert!(kinds(&done).contains(&"deployment_rolled_back".to_string()));
    assert_eq!(p.live_version().await, 1);
    for _ in 0..3 {
        let run = p.run_one().await;
        assert_eq!(
            (version(&run), run["status"].as_str()),
            (1, Some("successful"))
        );
    }
    // Following a failed deployment is exit 8 with the reason.
    let out = p
        .cli(&["pipeline", "deployment", "get", &p.id, "2", "--wait"])
        .expect(8);
    assert!(out.stderr.contains("canary_failure_rate"), "{}", out.stderr);
    let metrics = metrics(addr).await;
    assert!(
        metrics.contains("gofer_deployments_total{strategy=\"canary\",status=\"failed\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_smoke_run_leaves_the_old_version_live_and_a_passing_one_deploys() {
    let dir = tempfile::tempdir().unwrap();
    let addr = unused_addr();
    let _server = start(&addr.to_string(), dir.path());
    let p = Pipeline::new(
        addr.port(),
        "smk",
        "echo one",
        "echo mode=$MODE; test \"$MODE\" = safe",
    )
    .await;
    let out = p
        .cli(&[
            "pipeline",
            "config",
            "deploy",
            &p.id,
            "2",
            "--smoke",
            "--smoke-var",
            "MODE=risky",
            "--wait",
        ])
        .expect(8);
    assert!(out.stderr.contains("smoke_run_failed"), "{}", out.stderr);
    let failed = p.deployment(2).await;
    let smoke_run = failed["smoke"]["run_id"].as_u64().unwrap();
    assert!(
        failed["status_reason"]["description"]
            .as_str()
            .unwrap()
            .contains(&format!("smoke run {smoke_run}")),
        "{failed}"
    );
    let run = p.get(&format!("runs/{smoke_run}")).await["run"].clone();
    assert_eq!((version(&run), run["status"].as_str()), (2, Some("failed")));
    assert!(run["variables"].to_string().contains("risky"), "{run}");
    assert_eq!(
        p.live_version().await,
        1,
        "a failed smoke run changes nothing"
    );
    let run = p.run_one().await;
    assert_eq!(version(&run), 1);
    // The same version with the right variable passes and goes live.
    p.cli(&[
        "pipeline",
        "config",
        "deploy",
        &p.id,
        "2",
        "--smoke",
        "--smoke-var",
        "MODE=safe",
        "--wait",
    ])
    .expect(0);
    assert_eq!(p.live_version().await, 2);
    assert_eq!(
        p.deployment(3).await["status_reason"]["reason"],
        "smoke_run_succeeded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_canary_resumes_with_its_counters() {
    let dir = tempfile::tempdir().unwrap();
    let addr = unused_addr();
    let mut server = start(&addr.to_string(), dir.path());
    let p = Pipeline::new(addr.port(), "ckill", "echo one", "sleep 1; echo two").await;
    p.cli(&[
        "pipeline", "config", "deploy", &p.id, "2", "--canary", "50", "--bake", "4",
    ])
    .expect(0);
    // Two canary runs complete, then one more run is left in flight when the server dies.
    while p.deployment(2).await["canary"]["tally"]["successful"] != 2 {
        p.run_one().await;
    }
    let (status, body) = p.post("runs", Some(json!({}))).await;
    assert_eq!(status, 201, "{body}");
    let in_flight = body["run"]["run_id"].as_u64().unwrap();
    let before = p.deployment(2).await;
    server.0.kill().expect("SIGKILL");
    server.0.wait().expect("reap");

    let _server: Server = start(&addr.to_string(), dir.path());
    wait_for("the server", async || {
        let (status, _) = call(
            &p.http,
            Method::GET,
            format!("http://{addr}/api/health"),
            None,
        )
        .await;
        (status == 200).then_some(Value::Null)
    })
    .await;
    let after = p.deployment(2).await;
    assert_eq!(after["state"], "Running");
    assert_eq!(
        after["canary"], before["canary"],
        "counters intact after SIGKILL"
    );
    // The run that was in flight completes after recovery and counts if it was a canary run.
    let recovered = p.wait_run(in_flight).await;
    assert_eq!(recovered["status"], "successful", "{recovered}");
    let expected = 2 + u64::from(version(&recovered) == 2);
    let now = p.deployment(2).await;
    assert_eq!(now["canary"]["tally"]["successful"], expected, "{now}");
    p.run_until_concluded(2).await;
    let done = p.deployment(2).await;
    assert_eq!(done["status"], "Successful", "{done}");
    assert_eq!(done["canary"]["tally"]["successful"], 4);
    assert_eq!(p.live_version().await, 2);
}

/// Runs the interval extension starts are split like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_an_extension_starts_during_a_canary_are_split_too() {
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let port = unused_addr().port();
    let server = start_reachable(&http, port, dir.path(), &[]).await;
    let p = Pipeline::new(port, "cext", "echo one", "echo two").await;
    let ext = unique("civl");
    let _cleanup = Cleanup(vec![ext.clone()]);
    p.cli(&[
        "extension",
        "install",
        &ext,
        "gofer.local/extension-interval",
        "-s",
        "MIN_INTERVAL=1s",
    ])
    .expect(0);
    // A bake the test does not reach: the canary splits the extension's runs until both
    // versions have some; then it is promoted by hand.
    p.cli(&[
        "pipeline", "config", "deploy", &p.id, "2", "--canary", "50", "--bake", "1000",
    ])
    .expect(0);
    p.cli(&[
        "pipeline",
        "subscribe",
        &p.id,
        &ext,
        "tick",
        "-s",
        "every=1s",
    ])
    .expect(0);
    wait_for("extension runs on both versions", async || {
        let d = p.deployment(2).await;
        let c = &d["canary"];
        (c["started"].as_u64() >= Some(1) && c["baseline"].as_u64() >= Some(1)).then_some(d)
    })
    .await;
    p.cli(&["pipeline", "unsubscribe", &p.id, &ext, "tick"])
        .expect(0);
    let running = p.deployment(2).await;
    assert_eq!(running["state"], "Running", "{running}");
    let runs = p.get("runs?limit=100").await["runs"]
        .as_array()
        .unwrap()
        .clone();
    let split: Vec<&Value> = runs.iter().filter(|r| r["deployment_id"] == 2).collect();
    assert!(
        split.iter().all(|r| r["initiator"]["kind"] == "extension"),
        "every run came from the extension"
    );
    for v in [1, 2] {
        assert!(
            split.iter().any(|r| version(r) == v),
            "extension runs reached version {v}: {split:?}"
        );
    }
    for r in &split {
        assert_eq!(
            version(r) == 2,
            gofer_core::canary::picks_new(seed(&running), r["run_id"].as_u64().unwrap(), 50)
        );
    }
    // Let in-flight runs finish before the server stops, then end the canary by hand.
    for r in runs.iter().filter(|r| r["state"] != "complete") {
        p.wait_run(r["run_id"].as_u64().unwrap()).await;
    }
    p.cli(&["pipeline", "deployment", "promote", &p.id, "2"])
        .expect(0);
    assert_eq!(p.live_version().await, 2);
    p.cli(&["extension", "uninstall", &ext]).expect(0);
    terminate(server);
}

/// Bad strategies are refused with the field (API) or flag (CLI) named, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_strategies_and_conflicts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let addr = unused_addr();
    let _server = start(&addr.to_string(), dir.path());
    let p = Pipeline::new(addr.port(), "cbadin", "echo one", "echo two").await;
    for (body, message) in [
        (
            json!({"canary": {"percent": 0}}),
            "canary.percent: must be 1-100",
        ),
        (
            json!({"canary": {"percent": 50, "bake_runs": 2, "bake_seconds": 9}}),
            "canary.bake_runs, canary.bake_seconds",
        ),
        (
            json!({"canary": {"percent": 50, "max_failure_rate": 2}}),
            "canary.max_failure_rate",
        ),
        (
            json!({"canary": {"percent": 50}, "smoke": {}}),
            "canary, smoke",
        ),
        (json!({"canary": {"percent": 50, "bake": 3}}), "bake"),
        (
            json!({"smoke": {"variables": {"a b": "x"}}}),
            "smoke.variables.a b: keys must not contain whitespace",
        ),
    ] {
        let (status, answer) = p.post("configs/2", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(message),
            "{body}: {answer}"
        );
    }
    assert!(
        p.get("deployments").await["deployments"]
            .as_array()
            .unwrap()
            .len()
            == 1
    );
    for (args, message) in [
        (vec!["--canary", "0"], "--canary: must be 1-100"),
        (vec!["--canary", "10", "--bake", "soon"], "--bake: 'soon'"),
        (
            vec!["--canary", "10", "--max-failure-rate", "lots"],
            "--max-failure-rate",
        ),
    ] {
        let mut all = vec!["pipeline", "config", "deploy", &p.id, "2"];
        all.extend(args);
        let out = p.cli(&all).expect(7);
        assert!(out.stderr.contains(message), "{all:?}: {}", out.stderr);
    }
    // A canary in progress: a second deploy is 409, its version cannot be deleted, and it
    // ends by hand.
    let (status, started) = p
        .post(
            "configs/2",
            Some(json!({"canary": {"percent": 10, "bake_seconds": 3600}})),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    assert_eq!(started["deployment"]["state"], "Running");
    let (status, answer) = p.post("configs/1", None).await;
    assert_eq!(status, 409, "{answer}");
    let (status, answer) = call(
        &p.http,
        Method::DELETE,
        format!("{}/configs/2", p.base),
        None,
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(p.post("deployments/99/promote", None).await.0, 404);
    let aborted = p
        .cli(&["pipeline", "deployment", "abort", &p.id, "2"])
        .expect(0);
    assert!(aborted.stdout.contains("aborted"), "{}", aborted.stdout);
    let (status, answer) = p.post("deployments/2/promote", None).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(p.live_version().await, 1);
    // Promote by hand makes it live at once.
    p.post("configs/2", Some(json!({"canary": {"percent": 10}})))
        .await;
    let promoted = p
        .cli(&["pipeline", "deployment", "promote", &p.id, "3"])
        .expect(0);
    assert!(
        promoted.stdout.contains("promoted_by_hand"),
        "{}",
        promoted.stdout
    );
    assert_eq!(p.live_version().await, 2);
}
