//! The run engine against a real server and the real Docker engine (docs/runs.md#variables, docs/logs-and-events.md#where-they-live).
//! Images are built FROM scratch from the static busybox; nothing is pulled.

use crate::support::{TestServer, busybox, config_for};
use serde_json::{Value, json};

fn sh(id: &str, image: &str, script: &str) -> Value {
    json!({"id": id, "image": image, "command": ["sh", "-c", script]})
}

fn pipeline(id: &str, tasks: Vec<Value>) -> Value {
    json!({"id": id, "name": id, "tasks": tasks})
}

/// A server, its data dir, the busybox image and a namespace of its own: container names include
/// the namespace, so containers left by earlier test runs (another server instance, which Gofer
/// must not touch) can never clash with this test's.
async fn server() -> (TestServer, tempfile::TempDir, String, String) {
    let image = busybox().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    config.api.task_execution_stop_timeout = 2;
    let s = TestServer::start_with(config).await;
    let ns = s.unique_namespace().await;
    (s, dir, image, ns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_failure_exit_codes_and_logs() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    s.deploy(
        ns,
        pipeline(
            "basic",
            vec![
                sh(
                    "ok",
                    &img,
                    "printf 'out line\\n'; printf 'err line\\n' >&2; printf 'no newline'",
                ),
                sh("three", &img, "echo failing; exit 3"),
            ],
        ),
    )
    .await;
    let run = s.start_run(ns, "basic", json!({})).await;
    let done = s.wait_run(ns, "basic", run).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["status_reason"]["reason"], "abnormal_exit");
    assert_eq!(
        done["status_reason"]["description"],
        "task 'three' failed: exited with code 3"
    );
    assert!(done["started"].as_u64().unwrap() >= done["queued"].as_u64().unwrap());
    assert!(done["ended"].as_u64().unwrap() >= done["started"].as_u64().unwrap());

    let ok = s.wait_task(ns, "basic", run, "ok", |_| true).await;
    assert_eq!(
        (
            ok["state"].as_str(),
            ok["status"].as_str(),
            ok["exit_code"].as_i64()
        ),
        (Some("complete"), Some("successful"), Some(0))
    );
    assert_eq!(ok["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(ok["attempts"][0]["status"], "successful");
    assert!(ok["started"].as_u64().unwrap() > 0);

    let three = s.wait_task(ns, "basic", run, "three", |_| true).await;
    assert_eq!(three["status"], "failed");
    assert_eq!(three["exit_code"], 3);
    assert_eq!(three["status_reason"]["reason"], "abnormal_exit");
    assert_eq!(three["status_reason"]["description"], "exited with code 3");

    // stdout and stderr are both stored, byte for byte (their relative order across the two
    // streams is not fixed by Docker, so compare each line's presence and the total).
    let log = s.logs(ns, "basic", run, "ok").await;
    let text = String::from_utf8(log.clone()).unwrap();
    assert_eq!(
        log.len(),
        "out line\nerr line\nno newline".len(),
        "{text:?}"
    );
    assert!(
        text.contains("out line\n") && text.contains("err line\n") && text.contains("no newline"),
        "{text:?}"
    );
    assert_eq!(s.logs(ns, "basic", run, "three").await, b"failing\n");

    // System variables reach the container (docs/runs.md#variables) and the execution stores the merged set.
    let vars: Vec<String> = ok["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap().to_string())
        .collect();
    for key in [
        "GOFER_NAMESPACE_ID",
        "GOFER_PIPELINE_ID",
        "GOFER_RUN_ID",
        "GOFER_TASK_ID",
        "GOFER_TASK_IMAGE",
        "GOFER_API_BASE_URL",
    ] {
        assert!(
            vars.contains(&key.to_string()),
            "{key} missing from {vars:?}"
        );
    }
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_precedence_reach_the_container() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    let mut task = sh(
        "env",
        &img,
        "echo \"A=$A B=$B RUN=$GOFER_RUN_ID TASK=$GOFER_TASK_ID ATTEMPT=$GOFER_TASK_ATTEMPT\"",
    );
    task["variables"] = json!({"A": "from-config"});
    s.deploy(ns, pipeline("vars", vec![task])).await;
    let run = s
        .start_run(
            ns,
            "vars",
            json!({"variables": {"A": "from-run", "B": "run-only"}}),
        )
        .await;
    let done = s.wait_run(ns, "vars", run).await;
    assert_eq!(done["status"], "successful", "{done}");
    assert_eq!(done["variables"][0]["source"], "run_options");
    let log = String::from_utf8(s.logs(ns, "vars", run, "env").await).unwrap();
    assert_eq!(
        log,
        format!("A=from-config B=run-only RUN={run} TASK=env ATTEMPT=1\n")
    );
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dag_conditions_and_skip_cascade() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    let with = |mut t: Value, deps: Value| {
        t["depends_on"] = deps;
        t
    };
    s.deploy(
        ns,
        pipeline(
            "dag",
            vec![
                sh("good", &img, "true"),
                sh("bad", &img, "exit 1"),
                with(sh("on_success", &img, "true"), json!({"good": "Success"})),
                with(sh("on_failure", &img, "true"), json!({"bad": "failure"})),
                with(sh("needs_bad_ok", &img, "true"), json!({"bad": "success"})),
                with(
                    sh("after_skip_success", &img, "true"),
                    json!({"needs_bad_ok": "success"}),
                ),
                with(
                    sh("after_skip_any", &img, "true"),
                    json!({"needs_bad_ok": "any"}),
                ),
                with(sh("any_of_bad", &img, "true"), json!({"bad": "any"})),
            ],
        ),
    )
    .await;
    let run = s.start_run(ns, "dag", json!({})).await;
    let done = s.wait_run(ns, "dag", run).await;
    assert_eq!(done["status"], "failed");
    let expect = [
        ("good", "successful"),
        ("bad", "failed"),
        ("on_success", "successful"),
        ("on_failure", "successful"),
        ("needs_bad_ok", "skipped"),
        ("after_skip_success", "skipped"),
        ("after_skip_any", "successful"),
        ("any_of_bad", "successful"),
    ];
    for (task, status) in expect {
        let t = s.wait_task(ns, "dag", run, task, |_| true).await;
        assert_eq!(t["status"], status, "{task}: {t}");
        if status == "skipped" {
            assert_eq!(t["status_reason"]["reason"], "failed_precondition");
            assert!(
                t["attempts"].as_array().unwrap().is_empty(),
                "a skipped task never runs"
            );
        }
    }
    let skipped = s.wait_task(ns, "dag", run, "needs_bad_ok", |_| true).await;
    assert_eq!(
        skipped["status_reason"]["description"],
        "parent 'bad' finished 'failed' but 'success' was required"
    );
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_and_fan_in_of_twenty() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    let mut tasks = vec![sh("start", &img, "true")];
    let mut deps = serde_json::Map::new();
    for i in 0..20 {
        let id = format!("leaf{i:02}");
        let mut t = sh(&id, &img, "echo leaf");
        t["depends_on"] = json!({"start": "success"});
        tasks.push(t);
        deps.insert(id, json!("success"));
    }
    let mut join = sh("join", &img, "echo joined");
    join["depends_on"] = Value::Object(deps);
    tasks.push(join);
    s.deploy(ns, pipeline("fan", tasks)).await;
    let run = s.start_run(ns, "fan", json!({})).await;
    let done = s.wait_run(ns, "fan", run).await;
    assert_eq!(done["status"], "successful", "{done}");
    let join = s.wait_task(ns, "fan", run, "join", |_| true).await;
    let join_started = join["started"].as_u64().unwrap();
    for i in 0..20 {
        let leaf = s
            .wait_task(ns, "fan", run, &format!("leaf{i:02}"), |_| true)
            .await;
        assert!(
            leaf["ended"].as_u64().unwrap() <= join_started,
            "join started before leaf{i:02} ended"
        );
    }
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallelism_limits_and_fifo_order() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    let mut config = pipeline("limited", vec![sh("work", &img, "sleep 1")]);
    config["parallelism"] = json!(2);
    s.deploy(ns, config).await;
    let mut runs = Vec::new();
    for _ in 0..5 {
        runs.push(s.start_run(ns, "limited", json!({})).await);
    }
    let mut spans = Vec::new();
    for run in &runs {
        let done = s.wait_run(ns, "limited", *run).await;
        assert_eq!(done["status"], "successful");
        spans.push((
            done["started"].as_u64().unwrap(),
            done["ended"].as_u64().unwrap(),
        ));
    }
    // Queued runs leave the queue in order.
    for pair in spans.windows(2) {
        assert!(
            pair[0].0 <= pair[1].0,
            "runs started out of order: {spans:?}"
        );
    }
    // Never more than two running at once: at every start, count the runs in flight.
    for (start, _) in &spans {
        let in_flight = spans
            .iter()
            .filter(|(s0, e0)| s0 <= start && start < e0)
            .count();
        assert!(
            in_flight <= 2,
            "{in_flight} runs in flight at {start}: {spans:?}"
        );
    }
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_a_running_run() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    let mut after = sh("after", &img, "true");
    after["depends_on"] = json!({"sleeper": "any"});
    s.deploy(
        ns,
        pipeline(
            "cancel",
            vec![sh("sleeper", &img, "echo started; sleep 300"), after],
        ),
    )
    .await;
    let run = s.start_run(ns, "cancel", json!({})).await;
    s.wait_task(ns, "cancel", run, "sleeper", |t| t["state"] == "running")
        .await;
    let asked = std::time::Instant::now();
    s.sdk.cancel_run(ns, "cancel", run).await.expect("cancel");
    let done = s.wait_run(ns, "cancel", run).await;
    // sh ignores SIGTERM as PID 1, so the stop timeout (2 s here) then SIGKILL applies.
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(15),
        "took {:?}",
        asked.elapsed()
    );
    assert_eq!(done["status"], "cancelled");
    assert_eq!(done["status_reason"]["reason"], "admin_cancelled");
    let sleeper = s.wait_task(ns, "cancel", run, "sleeper", |_| true).await;
    assert_eq!(sleeper["status"], "cancelled");
    assert_eq!(sleeper["status_reason"]["reason"], "cancelled");
    let after = s.wait_task(ns, "cancel", run, "after", |_| true).await;
    assert_eq!(after["status"], "cancelled");
    assert!(after["attempts"].as_array().unwrap().is_empty());
    // Cancelling a complete run is a no-op; a missing one is 404.
    s.sdk
        .cancel_run(ns, "cancel", run)
        .await
        .expect("cancel a complete run");
    let missing = s.sdk.cancel_run(ns, "cancel", 99).await;
    assert_eq!(missing.err().and_then(|e| e.status()), Some(404));
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_one_task_and_a_pending_run() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    let mut config = pipeline(
        "onetask",
        vec![sh("slow", &img, "sleep 300"), sh("quick", &img, "true")],
    );
    config["parallelism"] = json!(1);
    s.deploy(ns, config).await;
    let first = s.start_run(ns, "onetask", json!({})).await;
    let second = s.start_run(ns, "onetask", json!({})).await;
    s.wait_task(ns, "onetask", first, "slow", |t| t["state"] == "running")
        .await;
    // The second run waits in the queue; cancelling it completes it with no executions.
    s.sdk
        .cancel_run(ns, "onetask", second)
        .await
        .expect("cancel the queued run");
    let pending = s.wait_run(ns, "onetask", second).await;
    assert_eq!(pending["status"], "cancelled");
    assert_eq!(pending["started"], 0);
    let tasks = s
        .sdk
        .list_task_executions(ns, "onetask", second, None)
        .await
        .expect("list task executions");
    assert!(tasks.is_empty(), "{tasks:?}");
    // Cancel one task with wait_for=0 (kill at once).
    s.sdk
        .cancel_task_execution(ns, "onetask", first, "slow", Some(0))
        .await
        .expect("cancel the task");
    let done = s.wait_run(ns, "onetask", first).await;
    assert_eq!(done["status"], "cancelled");
    let quick = s.wait_task(ns, "onetask", first, "quick", |_| true).await;
    assert_eq!(quick["status"], "successful");
    let missing = s
        .sdk
        .cancel_task_execution(ns, "onetask", first, "nope", None)
        .await;
    assert_eq!(missing.err().and_then(|e| e.status()), Some(404));
    // A malformed grace is a wire-format question: raw HTTP.
    let bad =
        format!("/api/namespaces/{ns}/pipelines/onetask/runs/{first}/tasks/slow?wait_for=soon");
    assert_eq!(s.call("DELETE", &bad, None).await.0, 400);
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_timeout_retries_and_missing_image() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    let mut timeout = sh("slow", &img, "sleep 300");
    timeout["timeout"] = json!(1);
    let mut flaky = sh(
        "flaky",
        &img,
        "echo attempt $GOFER_TASK_ATTEMPT; test $GOFER_TASK_ATTEMPT -ge 3",
    );
    flaky["retries"] = json!({"count": 3, "backoff": 0});
    let missing =
        json!({"id": "missing", "image": "gofer-test/does-not-exist:latest", "command": ["true"]});
    s.deploy(ns, pipeline("edges", vec![timeout, flaky, missing]))
        .await;
    let run = s.start_run(ns, "edges", json!({})).await;
    let done = s.wait_run(ns, "edges", run).await;
    assert_eq!(done["status"], "failed");

    let slow = s.wait_task(ns, "edges", run, "slow", |_| true).await;
    assert_eq!(slow["status"], "failed");
    assert_eq!(slow["status_reason"]["reason"], "timeout");
    assert_eq!(
        slow["status_reason"]["description"],
        "exceeded task timeout of 1s"
    );

    let flaky = s.wait_task(ns, "edges", run, "flaky", |_| true).await;
    assert_eq!(flaky["status"], "successful", "{flaky}");
    let attempts = flaky["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    assert_eq!(
        (
            attempts[0]["status"].as_str(),
            attempts[0]["exit_code"].as_i64()
        ),
        (Some("failed"), Some(1))
    );
    assert_eq!(attempts[2]["status"], "successful");
    let offsets: Vec<u64> = attempts
        .iter()
        .map(|a| a["log_offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [0, 10, 20], "each attempt appends to the same log");
    assert_eq!(
        s.logs(ns, "edges", run, "flaky").await,
        b"attempt 1\nattempt 2\nattempt 3\n"
    );

    let missing = s.wait_task(ns, "edges", run, "missing", |_| true).await;
    assert_eq!(missing["status"], "failed");
    assert_eq!(missing["status_reason"]["reason"], "scheduler_error");
    assert!(
        missing["status_reason"]["description"]
            .as_str()
            .unwrap()
            .contains("gofer-test/does-not-exist:latest"),
        "{missing}"
    );
    assert_eq!(missing["exit_code"], Value::Null);
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_run_checks() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    let runs = |p: &str| format!("/api/namespaces/{ns}/pipelines/{p}/runs");
    assert_eq!(
        s.call("POST", &runs("nothing"), Some(json!({}))).await.0,
        404
    );
    // Registered but never deployed: 409 with a hint.
    let (status, body) = s
        .call(
            "POST",
            &format!("/api/namespaces/{ns}/pipelines/undeployed/configs"),
            Some(json!({"config": pipeline("undeployed", vec![sh("t", &img, "true")])})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s.call("POST", &runs("undeployed"), Some(json!({}))).await;
    assert_eq!(status, 409);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("has no live config version; deploy one first"),
        "{body}"
    );

    s.deploy(ns, pipeline("checks", vec![sh("t", &img, "true")]))
        .await;
    let (status, body) = s
        .call(
            "POST",
            &runs("checks"),
            Some(json!({"variables": {"BAD KEY": "x"}})),
        )
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            400,
            Some("variables.BAD KEY: keys must not contain whitespace")
        )
    );
    let big = "x".repeat(70_000);
    let (status, body) = s
        .call(
            "POST",
            &runs("checks"),
            Some(json!({"payload": {"big": big}})),
        )
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (413, Some("payload: larger than 65536 bytes"))
    );
    let (status, _) = s
        .call("POST", &runs("checks"), Some(json!({"only": ["nope"]})))
        .await;
    assert_eq!(status, 400);
    let (status, _) = s
        .call(
            "POST",
            &runs("checks"),
            Some(json!({"command_override": ["true"]})),
        )
        .await;
    assert_eq!(status, 400);

    // Disabled pipeline and paused ingress: 503.
    assert_eq!(
        s.call(
            "PATCH",
            &format!("/api/namespaces/{ns}/pipelines/checks"),
            Some(json!({"state": "disabled"}))
        )
        .await
        .0,
        204
    );
    let (status, body) = s.call("POST", &runs("checks"), None).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (503, Some("pipeline 'checks' is disabled"))
    );
    assert_eq!(
        s.call(
            "PATCH",
            "/api/system",
            Some(json!({"ignore_pipeline_run_events": true}))
        )
        .await
        .0,
        200
    );
    let (status, body) = s.call("POST", &runs("checks"), None).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (503, Some("run ingress is paused"))
    );
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_off_run_with_command_override() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    let mut second = sh("second", &img, "echo original");
    second["depends_on"] = json!({"first": "success"});
    s.deploy(
        ns,
        pipeline("oneoff", vec![sh("first", &img, "exit 1"), second]),
    )
    .await;
    let run = s
        .start_run(ns, "oneoff", json!({"only": ["second"], "command_override": ["echo", "replaced"], "payload": {"k": "v"}}))
        .await;
    let done = s.wait_run(ns, "oneoff", run).await;
    assert_eq!(done["status"], "successful", "{done}");
    assert_eq!(done["initiator"]["kind"], "one_off");
    assert_eq!(done["payload"], json!({"k": "v"}));
    let (_, tasks) = s
        .call(
            "GET",
            &format!("/api/namespaces/{ns}/pipelines/oneoff/runs/{run}/tasks"),
            None,
        )
        .await;
    assert_eq!(tasks["task_executions"].as_array().unwrap().len(), 1);
    assert_eq!(s.logs(ns, "oneoff", run, "second").await, b"replaced\n");
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_removes_only_our_finished_containers() {
    let img = busybox().await;
    let docker = gofer_server::testing::require_docker().await.unwrap();
    // A container that looks like Gofer's but belongs to another instance must survive.
    let foreign = format!("gofer-test-foreign-{}", std::process::id());
    let mut labels =
        gofer_server::scheduler::task_labels("another-instance", "elsewhere", "pruned", 1, "t", 1);
    labels.insert("test".into(), "pruning".into());
    use gofer_server::scheduler::Scheduler;
    docker
        .start(&gofer_server::scheduler::StartRequest {
            name: foreign.clone(),
            image: img.clone(),
            command: Some(vec!["true".into()]),
            labels,
            ..Default::default()
        })
        .await
        .unwrap();
    docker.wait(&foreign).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    config.scheduler.docker.prune_interval = 1;
    let s = TestServer::start_with(config).await;
    let ns = s.unique_namespace().await;
    let ns = ns.as_str();
    s.deploy(ns, pipeline("pruned", vec![sh("t", &img, "true")]))
        .await;
    let run = s.start_run(ns, "pruned", json!({})).await;
    assert_eq!(s.wait_run(ns, "pruned", run).await["status"], "successful");
    let ours = format!("gofer.{ns}.pruned.{run}.t.1");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while docker.state(&ours).await.unwrap() != gofer_server::scheduler::ContainerState::NotFound {
        assert!(
            std::time::Instant::now() < deadline,
            "our finished container was never pruned"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(matches!(
        docker.state(&foreign).await.unwrap(),
        gofer_server::scheduler::ContainerState::Exited { .. }
    ));
    docker.remove(&foreign).await.unwrap();
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_logs_of_a_running_task_then_the_event_history() {
    use crate::support::{Frame, next_frame, ws_connect};
    use futures_util::StreamExt;
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    s.deploy(
        ns,
        pipeline(
            "follow",
            vec![sh(
                "ticker",
                &img,
                "for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 0.2; done",
            )],
        ),
    )
    .await;
    let run = s.start_run(ns, "follow", json!({})).await;
    s.wait_task(ns, "follow", run, "ticker", |t| t["state"] == "running")
        .await;

    // Plain transport with follow=true: lines arrive while the task still runs.
    let url = s.url(&format!(
        "/api/namespaces/{ns}/pipelines/follow/runs/{run}/tasks/ticker/logs?follow=true"
    ));
    let res = s.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let mut got = Vec::new();
    let mut seen_while_running = false;
    while let Some(chunk) = crate::support::within("log chunk", body.next()).await {
        got.extend_from_slice(&chunk.unwrap());
        if !seen_while_running && got.starts_with(b"tick 1\n") {
            let (_, t) = s
                .call(
                    "GET",
                    &format!("/api/namespaces/{ns}/pipelines/follow/runs/{run}/tasks/ticker"),
                    None,
                )
                .await;
            seen_while_running = t["task_execution"]["state"] == "running";
        }
    }
    assert!(
        seen_while_running,
        "the first line arrived only after the task had finished"
    );
    let expected: String = (1..=10).map(|i| format!("tick {i}\n")).collect();
    assert_eq!(
        String::from_utf8(got).unwrap(),
        expected,
        "the stream ends at completion with every line"
    );
    let done = s.wait_run(ns, "follow", run).await;
    assert_eq!(done["status"], "successful");

    // The event history replays this run's events in order.
    let mut ws = ws_connect(
        &s,
        &format!("/api/events?history=true&namespace_id={ns}&pipeline_id=follow"),
    )
    .await;
    let mut kinds = Vec::new();
    loop {
        match next_frame(&mut ws).await {
            Frame::Text(t) => {
                let e: gofer_core::api::Event = serde_json::from_str(&t).unwrap();
                kinds.push(e.kind.name());
                if kinds.last() == Some(&"completed_run") {
                    break;
                }
            }
            other => panic!("unexpected frame {other:?} after {kinds:?}"),
        }
    }
    assert_eq!(
        kinds,
        [
            "created_pipeline",
            "started_deployment",
            "completed_deployment",
            "queued_run",
            "started_run",
            "created_task_execution",
            "started_task_execution",
            "completed_task_execution",
            "completed_run"
        ]
    );
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_timeout_fails_the_run() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    let mut later = sh("later", &img, "true");
    later["depends_on"] = json!({"slow": "any"});
    let mut config = pipeline("deadline", vec![sh("slow", &img, "sleep 300"), later]);
    config["timeout"] = json!(1);
    s.deploy(ns, config).await;
    let run = s.start_run(ns, "deadline", json!({})).await;
    let done = s.wait_run(ns, "deadline", run).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["status_reason"]["reason"], "timeout");
    let slow = s.wait_task(ns, "deadline", run, "slow", |_| true).await;
    assert_eq!(
        (
            slow["status"].as_str(),
            slow["status_reason"]["reason"].as_str()
        ),
        (Some("failed"), Some("timeout"))
    );
    let later = s.wait_task(ns, "deadline", run, "later", |_| true).await;
    assert_eq!(
        (
            later["status"].as_str(),
            later["status_reason"]["reason"].as_str()
        ),
        (Some("skipped"), Some("timeout"))
    );
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_retention_keeps_only_the_newest_runs() {
    let img = busybox().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    config.api.task_execution_log_retention = 1;
    let s = TestServer::start_with(config).await;
    let ns = s.unique_namespace().await;
    let ns = ns.as_str();
    s.deploy(ns, pipeline("kept", vec![sh("t", &img, "echo output")]))
        .await;
    let first = s.start_run(ns, "kept", json!({})).await;
    s.wait_run(ns, "kept", first).await;
    assert_eq!(s.logs(ns, "kept", first, "t").await, b"output\n");
    let second = s.start_run(ns, "kept", json!({})).await;
    s.wait_run(ns, "kept", second).await;
    // The older run's logs expire once the newer one completes (retention 1).
    let old = s
        .wait_task(ns, "kept", first, "t", |t| t["logs_expired"] == true)
        .await;
    assert_eq!(old["logs_removed"], true);
    let path = format!("/api/namespaces/{ns}/pipelines/kept/runs/{first}/tasks/t/logs");
    let (status, body) = s.call("GET", &path, None).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("logs for task 't' have been removed"))
    );
    assert!(!gofer_core::paths::task_log(dir.path(), ns, "kept", first, "t").exists());
    assert_eq!(s.logs(ns, "kept", second, "t").await, b"output\n");
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_runs_a_command_in_the_running_task() {
    use crate::support::{ws_connect, ws_refused};
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    s.deploy(ns, pipeline("attach", vec![sh("box", &img, "sleep 300")]))
        .await;
    let run = s.start_run(ns, "attach", json!({})).await;
    let path = format!("/api/namespaces/{ns}/pipelines/attach/runs/{run}/tasks/box/attach");
    // Before the task runs there is nothing to attach to: an ordinary 409, no upgrade.
    let (status, _) = ws_refused(
        &s,
        &format!("/api/namespaces/{ns}/pipelines/attach/runs/{run}/tasks/nope/attach"),
    )
    .await;
    assert_eq!(status, 404);
    s.wait_task(ns, "attach", run, "box", |t| t["state"] == "running")
        .await;

    let mut ws = ws_connect(&s, &format!("{path}?command=/bin/sh")).await;
    ws.send(Message::text("echo attached-$((40+2)); exit 0"))
        .await
        .unwrap();
    let mut output = Vec::new();
    let closed = crate::support::within("attach output", async {
        while let Some(frame) = ws.next().await {
            match frame.unwrap() {
                Message::Binary(b) => output.extend_from_slice(&b),
                Message::Close(frame) => return frame.map(|f| u16::from(f.code)),
                _ => {}
            }
        }
        None
    })
    .await;
    let text = String::from_utf8_lossy(&output);
    assert!(text.contains("attached-42"), "{text:?}");
    assert_eq!(closed, Some(1000));

    // Cancel the run; attaching to a task that is not running is 409.
    assert_eq!(
        s.call(
            "DELETE",
            &format!("/api/namespaces/{ns}/pipelines/attach/runs/{run}"),
            None
        )
        .await
        .0,
        204
    );
    s.wait_run(ns, "attach", run).await;
    let (status, body) = ws_refused(&s, &path).await;
    assert_eq!(status, 409, "{body}");
    s.remove_containers().await;
}

/// `GET /metrics` (docs/api.md#operations) counts a real run: runs, task executions and their duration,
/// events and HTTP requests by route template, without namespace or pipeline identifiers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_real_run() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    s.deploy(ns, pipeline("metered", vec![sh("t", &img, "echo hi")]))
        .await;
    let run = s.start_run(ns, "metered", json!({})).await;
    s.wait_run(ns, "metered", run).await;

    let scrape = || async {
        let res = s.http.get(s.url("/metrics")).send().await.expect("scrape");
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        res.text().await.expect("body")
    };
    // Run metrics come from following the event log, just behind the run itself.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let text = loop {
        let text = scrape().await;
        if text.contains("gofer_runs_total{status=\"successful\"} 1") {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no run counted:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    for line in [
        "gofer_task_executions_total{status=\"successful\"} 1",
        "gofer_task_execution_duration_seconds_count 1",
        "gofer_events_total{kind=\"completed_run\"} 1",
        "gofer_events_total{kind=\"started_task_execution\"} 1",
        "gofer_runs{state=\"pending\"} 0",
        "gofer_runs{state=\"running\"} 0",
        "gofer_http_requests_total{method=\"POST\",route=\"/api/namespaces/{ns}/pipelines/{p}/runs\",status=\"201\"} 1",
        "gofer_http_request_duration_seconds_count{method=\"POST\",route=\"/api/namespaces/{ns}/pipelines/{p}/runs\"} 1",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    assert!(text.contains(&format!(
        "gofer_build_info{{semver=\"{}\",commit=\"{}\"}} 1",
        gofer_server::SEMVER,
        gofer_server::COMMIT
    )));
    assert!(
        !text.contains(ns) && !text.contains("metered"),
        "metrics must not name namespaces or pipelines:\n{text}"
    );
    s.remove_containers().await;
}

/// docs/pipelines.md#task-resources, end to end: a task over its memory limit ends `failed` /
/// `out_of_memory` saying the limit, the run says which task; the server's maxima refuse a
/// registration naming the task and field; bad values are refused naming the field; a task
/// without limits gets the server's defaults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_resources_limits_defaults_maxima_and_out_of_memory() {
    let image = busybox().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    config.scheduler.resources.default_memory = "64Mi".into();
    config.scheduler.resources.max_memory = "1Gi".into();
    config.scheduler.resources.max_cpus = 1.0;
    let s = TestServer::start_with(config).await;
    let ns = s.unique_namespace().await;
    let ns = ns.as_str();

    // The allocation starts a second in: a kill in a container's first milliseconds can escape
    // the engine's out-of-memory notice on cgroup v1 (docs/pipelines.md#task-resources).
    let mut hungry = sh(
        "hungry",
        &image,
        "sleep 1; dd if=/dev/zero of=/dev/null bs=200M count=1",
    );
    hungry["resources"] = json!({"memory": "32Mi", "cpus": 0.5});
    let defaulted = sh(
        "defaulted",
        &image,
        "sleep 1; dd if=/dev/zero of=/dev/null bs=100M count=1",
    );
    s.deploy(ns, pipeline("mem", vec![hungry, defaulted])).await;
    let (status, body) = s
        .call(
            "GET",
            &format!("/api/namespaces/{ns}/pipelines/mem/configs/0"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["config"]["tasks"]["hungry"]["resources"],
        json!({"cpus": 0.5, "memory": 33554432})
    );
    assert!(
        body["config"]["tasks"]["defaulted"]
            .get("resources")
            .is_none()
    );

    let run = s.start_run(ns, "mem", json!({})).await;
    let done = s.wait_run(ns, "mem", run).await;
    assert_eq!(done["status"], "failed", "{done}");
    for (task, limit) in [("hungry", "32Mi"), ("defaulted", "64Mi")] {
        let t = s
            .wait_task(ns, "mem", run, task, |t| t["state"] == "complete")
            .await;
        assert_eq!(t["status"], "failed", "{t}");
        assert_eq!(t["status_reason"]["reason"], "out_of_memory", "{t}");
        assert_eq!(
            t["status_reason"]["description"],
            format!("killed for exceeding its memory limit of {limit} (exit code 137)")
        );
        assert_eq!(t["exit_code"], 137);
    }

    // Over the server's maxima, and values that are not amounts: 400 naming task and field.
    let path = format!("/api/namespaces/{ns}/pipelines/big/configs");
    for (resources, message) in [
        (
            json!({"memory": "2Gi"}),
            "task 'big': resources.memory: 2Gi is more than this server allows a task (1Gi)",
        ),
        (
            json!({"cpus": 4}),
            "task 'big': resources.cpus: 4 is more than this server allows a task (1)",
        ),
        (
            json!({"memory": "lots"}),
            "task 'big': resources.memory: 'lots' is not an amount of memory",
        ),
        (
            json!({"cpus": -1}),
            "task 'big': resources.cpus: must be a positive number of cores",
        ),
        (json!({"gpus": 1}), "gpus"),
    ] {
        let mut task = sh("big", &image, "true");
        task["resources"] = resources.clone();
        let (status, body) = s
            .call(
                "POST",
                &path,
                Some(json!({"config": pipeline("big", vec![task])})),
            )
            .await;
        assert_eq!(status, 400, "{resources}: {body}");
        let got = body["message"].as_str().unwrap_or_default();
        assert!(got.contains(message), "{resources}: {got}");
    }
    let (status, _) = s
        .call("GET", &format!("/api/namespaces/{ns}/pipelines/big"), None)
        .await;
    assert_eq!(status, 404, "nothing was registered");
}

/// A webhook receiver for notification tests: answers the statuses in `script` in turn (then
/// 200) and hands over each request's path and JSON body.
async fn receiver(
    script: Vec<u16>,
) -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(String, serde_json::Value)>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut script = script.into_iter();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then as many body bytes as Content-Length says.
            let (head, body_start) = loop {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break (String::new(), 0);
                }
                request.extend_from_slice(&buf[..n]);
                if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    break (
                        String::from_utf8_lossy(&request[..end]).to_string(),
                        end + 4,
                    );
                }
            };
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())
                        .flatten()
                })
                .unwrap_or(0);
            while request.len() < body_start + length {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let path = head
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let body = serde_json::from_slice(&request[body_start..]).unwrap_or_default();
            let status = script.next().unwrap_or(200);
            let _ = tx.send((path, body));
            let answer =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    (address, rx)
}

/// docs/notifications.md: fail → fail → succeed tells the failure once (at the first failure of
/// the streak), and the recovery once; the failure's first delivery meets a 500 and is retried;
/// every attempt is an event; a Slack-format success notification posts `text`; the target can
/// come from a pipeline secret and events never show a URL's path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_failure_once_recovery_once_with_retries() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    // The first POST (the failure) gets a 500, then everything 200.
    let (hook, mut received) = receiver(vec![500]).await;
    s.deploy(
        ns,
        json!({"id": "notified", "name": "notified",
        "tasks": [{"id": "check", "image": img, "command": ["sh", "-c", "test \"$OK\" = yes"]}],
        "notifications": [
            {"on": ["failure", "recovery"], "target": "pipeline_secret{{hook}}"},
            {"on": ["success"], "target": format!("{hook}/slack/T0/secret-path"), "format": "slack"}
        ]}),
    )
    .await;
    let (status, body) = s
        .call(
            "POST",
            &format!("/api/namespaces/{ns}/pipelines/notified/secrets"),
            Some(json!({"key": "hook", "content": format!("{hook}/hook")})),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let mut runs = Vec::new();
    for ok in ["no", "no", "yes"] {
        let run = s
            .start_run(ns, "notified", json!({"variables": {"OK": ok}}))
            .await;
        let done = s.wait_run(ns, "notified", run).await;
        assert_eq!(
            done["status"],
            if ok == "yes" { "successful" } else { "failed" }
        );
        runs.push(run);
    }
    // The failure (twice: the 500, then its retry), the recovery, the success: four requests.
    let mut got = Vec::new();
    for _ in 0..4 {
        let next = tokio::time::timeout(std::time::Duration::from_secs(60), received.recv())
            .await
            .expect("a notification arrives")
            .expect("the receiver runs");
        got.push(next);
    }
    let failures: Vec<&(String, serde_json::Value)> = got
        .iter()
        .filter(|(_, b)| b["trigger"] == "failure")
        .collect();
    assert_eq!(failures.len(), 2, "the failure and its retry: {got:?}");
    assert!(
        failures
            .iter()
            .all(|(path, b)| path == "/hook" && b["run_id"] == runs[0])
    );
    let failure = &failures[0].1;
    assert_eq!(failure["status"], "failed");
    assert_eq!(failure["failed_tasks"][0]["task_id"], "check");
    assert_eq!(failure["failed_tasks"][0]["exit_code"], 1);
    assert!(
        failure["link"].as_str().unwrap().ends_with(&format!(
            "/api/namespaces/{ns}/pipelines/notified/runs/{}",
            runs[0]
        )),
        "{failure}"
    );
    let recoveries: Vec<_> = got
        .iter()
        .filter(|(_, b)| b["trigger"] == "recovery")
        .collect();
    assert_eq!(recoveries.len(), 1, "{got:?}");
    assert_eq!(recoveries[0].1["run_id"], runs[2]);
    let slack: Vec<_> = got
        .iter()
        .filter(|(p, _)| p.starts_with("/slack"))
        .collect();
    assert_eq!(slack.len(), 1, "{got:?}");
    let text = slack[0].1["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "Gofer: {ns}/notified run {} succeeded after",
            runs[2]
        )),
        "{text}"
    );
    assert_eq!(
        slack[0].1.as_object().unwrap().len(),
        1,
        "Slack gets text only"
    );
    // Nothing more: the second failure told no one.
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(1500), received.recv())
            .await
            .is_err(),
        "an extra notification"
    );

    // Every attempt is an event; none shows a URL path.
    let events: Vec<Value> = s
        .store()
        .read(|st| st.events_after(None, 100_000))
        .await
        .unwrap()
        .into_iter()
        .map(|e| serde_json::to_value(e.kind).unwrap())
        .filter(|k| k.get("notification_sent").is_some() || k.get("notification_failed").is_some())
        .collect();
    let failed: Vec<&Value> = events
        .iter()
        .filter_map(|k| k.get("notification_failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{events:?}");
    assert_eq!(
        (
            failed[0]["status"].clone(),
            failed[0]["attempt"].clone(),
            failed[0]["retrying"].clone()
        ),
        (json!(500), json!(1), json!(true))
    );
    assert_eq!(failed[0]["target"], "pipeline_secret{{hook}}");
    let sent: Vec<&Value> = events
        .iter()
        .filter_map(|k| k.get("notification_sent"))
        .collect();
    let summary: Vec<(String, u64)> = sent
        .iter()
        .map(|k| {
            (
                k["trigger"].as_str().unwrap().to_string(),
                k["attempt"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(summary.contains(&("failure".into(), 2)), "{summary:?}");
    assert!(summary.contains(&("recovery".into(), 1)), "{summary:?}");
    assert!(summary.contains(&("success".into(), 1)), "{summary:?}");
    assert_eq!(sent.len(), 3, "{summary:?}");
    let slack_event = sent.iter().find(|k| k["trigger"] == "success").unwrap();
    assert_eq!(slack_event["target"], hook.as_str(), "scheme and host only");
    assert!(
        !serde_json::to_string(&events)
            .unwrap()
            .contains("secret-path")
    );
}

/// Notification settings are checked at registration, each problem naming its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_settings_are_refused_naming_the_field() {
    let (s, _dir, img, ns) = server().await;
    let path = format!("/api/namespaces/{ns}/pipelines/bad/configs");
    for (notification, message) in [
        (
            json!({"on": [], "target": "https://example.com/x"}),
            "config.notifications[0].on: name at least one of failure, recovery, success, long_running",
        ),
        (
            json!({"on": ["sometimes"], "target": "https://example.com/x"}),
            "config.notifications[0].on: 'sometimes' is not one of",
        ),
        (
            json!({"on": ["failure"], "target": "ftp://example.com"}),
            "config.notifications[0].target: 'ftp://example.com' is not an http:// or https:// URL",
        ),
        (
            json!({"on": ["failure"], "target": "pipeline_object{{hook}}"}),
            "config.notifications[0].target: a pipeline_object reference cannot hold a webhook URL",
        ),
        (
            json!({"on": ["long_running"], "target": "https://example.com/x"}),
            "config.notifications[0].long_running_after: required with long_running",
        ),
        (
            json!({"on": ["failure"], "target": "https://example.com/x", "format": "teams"}),
            "config.notifications[0].format: 'teams' is not one of json, slack",
        ),
    ] {
        let config = json!({"config": {"id": "bad", "name": "bad",
            "tasks": [sh("t", &img, "true")], "notifications": [notification]}});
        let (status, body) = s.call("POST", &path, Some(config)).await;
        assert_eq!(status, 400, "{notification}: {body}");
        let got = body["message"].as_str().unwrap_or_default();
        assert!(got.contains(message), "{notification}: {got}");
    }
}

/// docs/notifications.md: `long_running` is told once, while the run still runs, once it has
/// run longer than `long_running_after`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_is_told_once_while_it_runs() {
    let (s, _dir, img, ns) = server().await;
    let ns = ns.as_str();
    let (hook, mut received) = receiver(Vec::new()).await;
    s.deploy(
        ns,
        json!({"id": "slow", "name": "slow",
            "tasks": [sh("wait", &img, "sleep 4")],
            "notifications": [{"on": ["long_running"], "target": format!("{hook}/long"), "long_running_after": 1}]}),
    )
    .await;
    let run = s.start_run(ns, "slow", json!({})).await;
    let (path, body) = tokio::time::timeout(std::time::Duration::from_secs(60), received.recv())
        .await
        .expect("a notification arrives")
        .unwrap();
    assert_eq!(path, "/long");
    assert_eq!(body["trigger"], "long_running");
    assert_eq!(body["state"], "running", "told while it runs: {body}");
    assert!(body["duration_ms"].as_u64().unwrap() >= 1000, "{body}");
    let done = s.wait_run(ns, "slow", run).await;
    assert_eq!(done["status"], "successful");
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(1500), received.recv())
            .await
            .is_err(),
        "told once"
    );
}
