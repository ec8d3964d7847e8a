//! Hostile input through the real binary (docs/security.md): what the API accepts reads back,
//! and one unreadable stored record never stops the server.

use crate::common::gofer_process;
use crate::recovery::{Server, call, start, wait_for};
use futures_util::StreamExt;
use redb::ReadableTable;
use serde_json::{Value, json};
use std::path::Path;

/// `[[[…]]]`, `depth` levels deep.
fn nested(depth: usize) -> Value {
    serde_json::from_str(&("[".repeat(depth) + &"]".repeat(depth))).unwrap()
}

/// Rewrites the stored run `default/{pipeline}/{run}` so that its payload nests 126 levels (as
/// versions before the depth limit stored it), queues it again, and makes the oldest stored
/// event unreadable too. The server must be stopped.
fn poison(data: &Path, pipeline: &str, run: u64) {
    const RUNS: redb::TableDefinition<(&str, &str, u64), &[u8]> =
        redb::TableDefinition::new("runs");
    const RUN_QUEUE: redb::TableDefinition<(&str, &str, u64), ()> =
        redb::TableDefinition::new("run_queue");
    const EVENTS: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("events");
    let db = redb::Database::open(data.join("gofer.redb")).expect("open the database");
    let txn = db.begin_write().unwrap();
    {
        let mut runs = txn.open_table(RUNS).unwrap();
        let bytes = runs
            .get(("default", pipeline, run))
            .unwrap()
            .unwrap()
            .value()
            .to_vec();
        let mut stored: Value = serde_json::from_slice(&bytes[1..]).unwrap();
        stored["run"]["payload"] = json!({"deep": nested(126)});
        stored["run"]["state"] = json!("pending");
        let mut poisoned = vec![bytes[0]];
        poisoned.extend(serde_json::to_vec(&stored).unwrap());
        runs.insert(("default", pipeline, run), poisoned.as_slice())
            .unwrap();
        txn.open_table(RUN_QUEUE)
            .unwrap()
            .insert(("default", pipeline, run), ())
            .unwrap();
        let mut events = txn.open_table(EVENTS).unwrap();
        let first = events.first().unwrap().unwrap().0.value().to_string();
        let mut bad = vec![1u8];
        bad.extend(serde_json::to_vec(&json!({"kind": nested(127)})).unwrap());
        events.insert(first.as_str(), bad.as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

/// `gofer service doctor [args]` on `data`: (exit code, stdout, stderr).
fn doctor(data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = gofer_process()
        .args(["service", "doctor"])
        .args(args)
        .env("GOFER_WEB_SERVER__DATA_DIR", data)
        .output()
        .expect("gofer runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn healthy(http: &reqwest::Client, addr: &str) -> Value {
    let url = format!("http://{addr}/api/health");
    wait_for("the server", async || {
        let (status, body) = call(http, reqwest::Method::GET, url.clone(), None).await;
        (status == 200).then_some(body)
    })
    .await
}

async fn run_to_completion(http: &reqwest::Client, base: &str, body: Value) -> u64 {
    let (status, run) = call(
        http,
        reqwest::Method::POST,
        format!("{base}/runs"),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{run}");
    let id = run["run"]["run_id"].as_u64().unwrap();
    let url = format!("{base}/runs/{id}");
    let done = wait_for("the run to complete", async || {
        let (_, r) = call(http, reqwest::Method::GET, url.clone(), None).await;
        (r["run"]["state"] == "complete").then_some(r)
    })
    .await;
    assert_eq!(done["run"]["status"], "successful", "{done}");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_json_is_refused_and_an_unreadable_record_never_stops_the_server() {
    let docker = gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run ../shared/ci/ensure-docker");
    let image = gofer_server::testing::busybox_image(&docker)
        .await
        .expect("busybox image");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let pipeline = format!("victim{}x{nanos}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let addr = crate::common::unused_addr().to_string();
    let base = format!("http://{addr}/api/namespaces/default/pipelines/{pipeline}");
    let http = reqwest::Client::new();
    let post = |url: String, body| call(&http, reqwest::Method::POST, url, body);

    let server = start(&addr, dir.path());
    healthy(&http, &addr).await;
    let task = json!({"id": "t", "image": image, "command": ["true"]});
    let config = json!({"config": {"id": pipeline, "name": "Victim", "tasks": [task]}});
    assert_eq!(post(format!("{base}/configs"), Some(config)).await.0, 201);
    assert_eq!(post(format!("{base}/configs/1"), None).await.0, 201);

    // First line: the API refuses what the store could not read back, naming the field.
    let (status, body) = post(
        format!("{base}/runs"),
        Some(json!({"payload": nested(126)})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "payload: nests deeper than 64 levels");
    let (status, body) = post(format!("{base}/runs/1/tasks/t/result"), Some(nested(126))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "result: nests deeper than 64 levels");
    let run = run_to_completion(&http, &base, json!({"payload": {"deep": nested(60)}})).await;
    let (status, got) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/runs/{run}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(got["run"]["payload"], json!({"deep": nested(60)}));
    drop(server);

    // Second line: a record written by an older version that cannot be read back.
    poison(dir.path(), &pipeline, run);
    let server = start(&addr, dir.path());
    let health = healthy(&http, &addr).await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        health["checks"]["storage"]
            .as_str()
            .unwrap()
            .starts_with("degraded: "),
        "{health}"
    );
    // Lists skip it; reading it directly says what it is and what to do.
    let (status, list) = call(&http, reqwest::Method::GET, format!("{base}/runs"), None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["runs"].as_array().unwrap().len(), 0, "{list}");
    let (status, body) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/runs/{run}"),
        None,
    )
    .await;
    assert_eq!(status, 500);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("gofer service doctor"),
        "{body}"
    );
    // The queue goes on past it.
    run_to_completion(&http, &base, json!({})).await;
    // Event replay skips the unreadable event and ends normally.
    let client = gofer_sdk::Client::new(&format!("http://{addr}"), None).unwrap();
    let filter = gofer_sdk::EventFilter {
        history: true,
        reverse: true,
        ..Default::default()
    };
    let mut events = client.events(&filter).await.expect("event stream");
    let mut replayed = 0;
    while let Some(event) = events.next().await {
        event.expect("every replayed event decodes");
        replayed += 1;
    }
    assert!(replayed > 3, "only {replayed} events replayed");
    let metrics = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gofer_storage_unreadable_records 2"),
        "{metrics}"
    );
    // The poisoned run is still queued, so its pipeline cannot be deleted yet.
    let (status, _) = call(&http, reqwest::Method::DELETE, base.clone(), None).await;
    assert_eq!(status, 409);

    // The doctor needs the server stopped, lists the records, and quarantines them.
    let (code, _, stderr) = doctor(dir.path(), &[]);
    assert_eq!(code, 5, "the server holds the database: {stderr}");
    assert!(stderr.contains("needs the server stopped"), "{stderr}");
    drop(server);
    let (code, stdout, stderr) = doctor(dir.path(), &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("2 record(s) unreadable"), "{stdout}");
    assert!(
        stdout.contains("runs") && stdout.contains(&pipeline),
        "{stdout}"
    );
    assert!(stdout.contains("events"), "{stdout}");
    assert!(stderr.contains("--quarantine"), "{stderr}");
    let (code, stdout, stderr) = doctor(dir.path(), &["--quarantine"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("2 record(s) quarantined"), "{stdout}");
    let (code, stdout, _) = doctor(dir.path(), &[]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("every stored record reads back"),
        "{stdout}"
    );

    let server: Server = start(&addr, dir.path());
    let health = healthy(&http, &addr).await;
    assert_eq!(health["status"], "ok", "{health}");
    let (status, body) = call(&http, reqwest::Method::DELETE, base.clone(), None).await;
    assert_eq!(status, 204, "{body}");
    drop(server);
}
