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
        .expect("this test needs Docker: run .ci/ensure-docker");
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
    let http = crate::common::http();
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

// ---- listeners, browsers and limits --------------------------------------------------------

use crate::recovery::start_with_env;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request` as written and returns the whole answer (until the server closes or 10 s
/// pass; requests here say `Connection: close`).
async fn raw(addr: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of a raw answer.
fn status(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

/// A request with a JSON-ish body and the given extra header lines.
fn post(path: &str, host: &str, extra: &str, content_type: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The real binary on a fresh data dir with extra `GOFER_WEB_*` settings, once it answers:
/// the server, its data dir and its address.
async fn serve(env: &[(&str, &str)]) -> (Server, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let addr = crate::common::unused_addr().to_string();
    let server = start_with_env(&addr, dir.path(), env);
    healthy(&crate::common::http(), &addr).await;
    (server, dir, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_pages_cannot_drive_the_development_server() {
    let (_server, _dir, addr) = serve(&[]).await;
    let config = r#"{"config":{"id":"csrfp","name":"x","tasks":[{"id":"t","image":"busybox"}]}}"#;
    let path = "/api/namespaces/default/pipelines/csrfp/configs";

    // CSRF: a form-like body from a foreign page.
    let evil = "Origin: http://evil.example\r\n";
    let answer = raw(&addr, &post(path, &addr, evil, "text/plain", config)).await;
    assert_eq!(status(&answer), 403, "{answer}");
    assert!(answer.contains("origin: "), "{answer}");
    let fetch = "Sec-Fetch-Site: cross-site\r\n";
    let answer = raw(&addr, &post(path, &addr, fetch, "application/json", config)).await;
    assert_eq!(status(&answer), 403, "{answer}");
    // Not JSON, even without an Origin: 415.
    let answer = raw(&addr, &post(path, &addr, "", "text/plain", config)).await;
    assert_eq!(status(&answer), 415, "{answer}");
    assert!(
        answer.contains("content-type: must be application/json"),
        "{answer}"
    );
    // DNS rebinding: the browser names the attacker's host.
    let rebound = format!(
        "rebind.attacker.example:{}",
        addr.rsplit(':').next().unwrap()
    );
    let answer = raw(&addr, &post(path, &rebound, "", "application/json", config)).await;
    assert_eq!(status(&answer), 403, "{answer}");
    assert!(answer.contains("host: "), "{answer}");
    // A cross-site websocket upgrade is refused before the upgrade.
    let upgrade = format!(
        "GET /api/events?history=true HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://evil.example\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let answer = raw(&addr, &upgrade).await;
    assert_eq!(status(&answer), 403, "{answer}");
    // Nothing was stored by any of them.
    let answer = raw(
        &addr,
        &format!("GET /api/namespaces/default/pipelines/csrfp HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(status(&answer), 404, "{answer}");
    // The same page on this server's own origin, and plain clients, are served.
    let own = format!("Origin: http://{addr}\r\n");
    let answer = raw(
        &addr,
        &post(path, &addr, &own, "application/json; charset=utf-8", config),
    )
    .await;
    assert_eq!(status(&answer), 201, "{answer}");
    let answer = raw(
        &addr,
        &post(path, "localhost", "", "application/json", config),
    )
    .await;
    assert_eq!(status(&answer), 201, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_connections_are_capped() {
    let hooks = crate::common::unused_addr().to_string();
    let (_server, _dir, addr) = serve(&[
        ("GOFER_WEB_SERVER__HEADER_READ_TIMEOUT", "2"),
        ("GOFER_WEB_SERVER__BODY_READ_TIMEOUT", "2"),
        ("GOFER_WEB_EXTERNAL_EVENTS__ENABLE", "true"),
        ("GOFER_WEB_EXTERNAL_EVENTS__BIND_ADDRESS", &hooks),
        ("GOFER_WEB_EXTERNAL_EVENTS__HEADER_READ_TIMEOUT", "2"),
        ("GOFER_WEB_EXTERNAL_EVENTS__MAX_CONNECTIONS", "3"),
    ])
    .await;

    // Headers one byte at a time (slower than the deadline allows) are cut off, on both ports.
    for target in [&addr, &hooks] {
        let mut stream = TcpStream::connect(target.as_str()).await.unwrap();
        let started = Instant::now();
        let mut closed = false;
        for byte in b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa" {
            if stream.write_all(&[*byte]).await.is_err() {
                closed = true;
                break;
            }
            let mut buf = [0u8; 64];
            if let Ok(Ok(0) | Err(_)) =
                tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await
            {
                closed = true;
                break;
            }
        }
        assert!(
            closed,
            "{target}: a slow-header client was still connected after {:?}",
            started.elapsed()
        );
    }
    // A body that trickles in is answered 408.
    let mut stream = TcpStream::connect(addr.as_str()).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /api/namespaces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
                 Content-Length: 100\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let trickle = async {
        for _ in 0..40 {
            if stream.write_all(b" ").await.is_err() {
                break;
            }
            let mut buf = [0u8; 512];
            match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
            if !answer.is_empty() {
                break;
            }
        }
    };
    trickle.await;
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status(&answer), 408, "{answer}");
    assert!(answer.contains("server.body_read_timeout"), "{answer}");

    // At the cap, a fourth client waits; the API is not affected; idle ones are closed.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(hooks.as_str()).await.unwrap());
    }
    // Let the server accept all three before the fourth arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fourth = TcpStream::connect(hooks.as_str()).await.unwrap();
    fourth
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), fourth.read(&mut buf))
            .await
            .is_err(),
        "the fourth connection was served past max_connections = 3"
    );
    let health = healthy(&crate::common::http(), &addr).await;
    assert_eq!(health["status"], "ok");
    // The idle three time out (header_read_timeout), which lets the fourth in.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), fourth.read_to_end(&mut rest))
        .await
        .expect("the fourth client is served once the idle ones are closed")
        .unwrap();
    assert_eq!(status(&String::from_utf8_lossy(&rest)), 404);
    for mut stream in idle {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an idle connection is closed by the server");
        assert!(matches!(n, Ok(0) | Err(_)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_bounded_and_refused_before_they_are_read() {
    let hooks = crate::common::unused_addr().to_string();
    let (_server, _dir, addr) = serve(&[
        ("GOFER_WEB_EXTERNAL_EVENTS__ENABLE", "true"),
        ("GOFER_WEB_EXTERNAL_EVENTS__BIND_ADDRESS", &hooks),
    ])
    .await;
    let http = crate::common::http();
    // Over the JSON limit (1 MiB by default): 413 naming the setting.
    let big = json!({"id": "big", "description": "x".repeat(1_100_000)});
    let res = http
        .post(format!("http://{addr}/api/namespaces"))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("server.max_json_body_bytes")
    );
    // A missing pipeline or extension is refused from the headers alone: the answer arrives
    // although not one byte of the announced 450 MB body was sent.
    for (target, path) in [
        (&addr, "/api/namespaces/default/pipelines/nope/runs"),
        (&hooks, "/api/external/nope"),
    ] {
        let mut stream = TcpStream::connect(target.as_str()).await.unwrap();
        stream
            .write_all(
                format!(
                    "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                     Content-Length: 450000000\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let mut buf = vec![0u8; 2048];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("answered before the body")
            .unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert_eq!(status(&answer), 404, "{target}{path}: {answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_allowed_object_key_stores_and_reads_back() {
    let (_server, dir, addr) = serve(&[]).await;
    let http = crate::common::http();
    let base = format!("http://{addr}/api/namespaces/default/pipelines/keys");
    let config = json!({"config": {"id": "keys", "name": "Keys", "tasks": [{"id": "t", "image": "busybox"}]}});
    assert_eq!(
        call(
            &http,
            reqwest::Method::POST,
            format!("{base}/configs"),
            Some(config)
        )
        .await
        .0,
        201
    );
    let body: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    // The longest key (its hex would make a 256-byte file name), and the longest hex-named one.
    for (key, encoded) in [
        ("a".repeat(128), "a".repeat(128)),
        ("b.c_".repeat(31) + "d-e", "b.c_".repeat(31) + "d-e"),
    ] {
        let res = http
            .post(format!("{base}/objects/{encoded}"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let got = http
            .get(format!("{base}/objects/{encoded}"))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200);
        assert!(
            got.bytes().await.unwrap() == body,
            "object '{key}' reads back"
        );
    }
    let (_, list) = call(&http, reqwest::Method::GET, format!("{base}/objects"), None).await;
    assert_eq!(list["objects"].as_array().unwrap().len(), 2, "{list}");
    // No upload is left behind in the objects directory.
    let leftovers: Vec<_> = walk(&dir.path().join("objects"))
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".upload-")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_that_could_never_work_are_refused_naming_the_field() {
    let (_server, _dir, addr) = serve(&[]).await;
    let http = crate::common::http();
    let api = |path: &str| format!("http://{addr}/api{path}");
    let huge = "x".repeat(200_000);
    let cases = [
        (
            "/namespaces/default/pipelines/big/configs",
            json!({"config": {"id": "big", "name": "Big", "tasks": [
                {"id": "t", "image": "busybox", "variables": {"BIG": huge}}]}}),
            "task 't': variables.BIG: longer than 65536 bytes",
        ),
        (
            "/extensions",
            json!({"id": "bigext", "image": "busybox", "settings": {"big": huge}}),
            "settings.big: longer than 65536 bytes",
        ),
        (
            "/extensions",
            json!({"id": "privext", "image": "--privileged"}),
            "image: must start with a letter or digit",
        ),
        (
            "/namespaces/default/pipelines/img/configs",
            json!({"config": {"id": "img", "name": "Img", "tasks": [{"id": "t", "image": "-v/:/host"}]}}),
            "task 't': image must start with a letter or digit",
        ),
        (
            "/tokens",
            json!({"user": "\u{1b}[2Jowned", "roles": []}),
            "user: must not contain control characters",
        ),
        (
            "/tokens",
            json!({"user": "a\nb", "roles": []}),
            "user: must not contain control characters",
        ),
        (
            "/namespaces",
            json!({"id": "ctl", "name": "\u{1b}[31mred"}),
            "name: must not contain control characters",
        ),
    ];
    for (path, body, message) in cases {
        let (status, answer) = call(&http, reqwest::Method::POST, api(path), Some(body)).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().starts_with(message),
            "{path}: {answer}"
        );
    }
    let config = json!({"config": {"id": "vars", "name": "Vars", "tasks": [{"id": "t", "image": "busybox"}]}});
    let registered = call(
        &http,
        reqwest::Method::POST,
        api("/namespaces/default/pipelines/vars/configs"),
        Some(config),
    )
    .await;
    assert_eq!(registered.0, 201, "{}", registered.1);
    let (status, answer) = call(
        &http,
        reqwest::Method::POST,
        api("/namespaces/default/pipelines/vars/runs"),
        Some(json!({"variables": {"BIG": huge}})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .starts_with("variables.BIG: longer than 65536 bytes"),
        "{answer}"
    );
}
