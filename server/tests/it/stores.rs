//! The secret store, the object store, substitution and log masking (docs/runs.md#variables, docs/security.md#secrets-in-logs, docs/objects-and-secrets.md)
//! against a real server, real redb and the real Docker engine.

use crate::support::{TestServer, busybox, config_for};
use serde_json::{Value, json};
use std::path::Path;

fn sh(id: &str, image: &str, script: &str) -> Value {
    json!({"id": id, "image": image, "command": ["sh", "-c", script]})
}

fn pipeline(id: &str, tasks: Vec<Value>) -> Value {
    json!({"id": id, "name": id, "tasks": tasks})
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Sends raw bytes and returns status and JSON body.
async fn put_bytes(s: &TestServer, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let res = s
        .http
        .post(s.url(path))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A POST written by hand on a TCP socket, so that no client normalises the path (`%2e%2e`
/// would otherwise be resolved as `..` before sending).
async fn raw_put(s: &TestServer, path: &str, body: &[u8]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/octet-stream\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        s.addr,
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.expect("write");
    tcp.write_all(body).await.expect("write");
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text[9..12].parse().expect("status");
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b.trim()).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

async fn get_bytes(s: &TestServer, path: &str) -> (u16, Vec<u8>) {
    let res = s.http.get(s.url(path)).send().await.expect("request");
    (
        res.status().as_u16(),
        res.bytes().await.expect("body").to_vec(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_encrypted_masked_and_never_echoed() {
    let img = busybox().await;
    let (s, dir) = TestServer::start().await;
    let ns = s.unique_namespace().await;
    let ns = ns.as_str();
    let value = "gofer-distinctive-7f3a9c-secret";
    let global_value = "global-distinctive-51be02-value";
    let mut task = sh(
        "echo",
        &img,
        "echo \"pipeline=$PS global=$GS\"; printf 'split:%s\\n' \"$PS\" | cut -c1-12; printf '%s' \"$PS\"",
    );
    task["variables"] = json!({"PS": "pipeline_secret{{token}}", "GS": "global_secret{{shared}}"});
    s.deploy(ns, pipeline("sec", vec![task])).await;
    let base = format!("/api/namespaces/{ns}/pipelines/sec/secrets");

    // Put: 201 with metadata only; 409 without force; force replaces.
    let (status, body) = s
        .call(
            "POST",
            &base,
            Some(json!({"key": "token", "content": "first"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["secret"]["key"], "token");
    assert_eq!(body["secret"]["namespaces"], json!([ns]));
    let (status, body) = s
        .call(
            "POST",
            &base,
            Some(json!({"key": "token", "content": value})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("force"),
        "{body}"
    );
    let (status, body) = s
        .call(
            "POST",
            &base,
            Some(json!({"key": "token", "content": value, "force": true})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s
        .call(
            "POST",
            "/api/secrets/global",
            Some(json!({"key": "shared", "content": global_value, "namespaces": ["t-.*"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // Bad input names the field.
    for (req, field) in [
        (json!({"key": "../x", "content": "v"}), "key:"),
        (json!({"key": "ok", "content": ""}), "content:"),
        (
            json!({"key": "ok", "content": "x".repeat(65 * 1024)}),
            "content:",
        ),
    ] {
        let (status, body) = s.call("POST", &base, Some(req)).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["message"].as_str().unwrap().starts_with(field),
            "{body}"
        );
    }
    let (status, body) = s
        .call(
            "POST",
            "/api/secrets/global",
            Some(json!({"key": "g", "content": "v", "namespaces": ["("]})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("namespaces[0]:"),
        "{body}"
    );

    // Get: no value unless asked; list is metadata only.
    let (status, body) = s.call("GET", &format!("{base}/token"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["secret"], Value::Null);
    assert!(!body.to_string().contains(value));
    let (_, body) = s
        .call("GET", &format!("{base}/token?include_secret=true"), None)
        .await;
    assert_eq!(body["secret"], value);
    let (_, body) = s.call("GET", &base, None).await;
    assert_eq!(body["secrets"].as_array().unwrap().len(), 1);
    assert!(!body.to_string().contains(value));
    let (_, body) = s.call("GET", "/api/secrets/global", None).await;
    assert!(!body.to_string().contains(global_value));
    assert_eq!(s.call("GET", &format!("{base}/nope"), None).await.0, 404);

    // A task that prints the secrets has them masked in its stored log, also when the value is
    // cut (a prefix of 12 bytes is no secret) and when it ends the output without a newline.
    let run = s.start_run(ns, "sec", json!({})).await;
    let done = s.wait_run(ns, "sec", run).await;
    assert_eq!(done["status"], "successful", "{done}");
    let log = String::from_utf8(s.logs(ns, "sec", run, "echo").await).unwrap();
    assert_eq!(
        log,
        format!(
            "pipeline=******** global=********\nsplit:{}\n********",
            &value[..6]
        )
    );
    // The execution's stored variables keep the references, never the values.
    let exec = s
        .call(
            "GET",
            &format!("/api/namespaces/{ns}/pipelines/sec/runs/{run}/tasks/echo"),
            None,
        )
        .await
        .1;
    assert!(!exec.to_string().contains(value), "{exec}");

    // Neither the redb file nor any log file holds a copy of either value.
    s.remove_containers().await;
    let (ns_owned, data_dir) = (ns.to_string(), dir.path().to_path_buf());
    s.stop().await;
    let files = files_under(&data_dir);
    assert!(files.iter().any(|f| f.ends_with("gofer.redb")));
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [value, global_value] {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{} holds a plaintext secret",
                file.display()
            );
        }
    }
    let _ = ns_owned;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_fail_the_task_when_missing_or_not_permitted() {
    let img = busybox().await;
    let (s, _dir) = TestServer::start().await;
    let ns = s.unique_namespace().await;
    let ns = ns.as_str();
    let mut missing = sh("missing", &img, "echo never");
    missing["variables"] = json!({"V": "run_object{{absent-key}}"});
    let mut denied = sh("denied", &img, "echo never");
    denied["variables"] = json!({"V": "global_secret{{elsewhere}}"});
    let mut large = sh("large", &img, "echo never");
    large["variables"] = json!({"V": "pipeline_object{{large}}"});
    let mut binary = sh("binary", &img, "echo never");
    binary["variables"] = json!({"V": "Pipeline_Object{{ binary }}"});
    s.deploy(ns, pipeline("refs", vec![missing, denied, large, binary]))
        .await;
    let objects = format!("/api/namespaces/{ns}/pipelines/refs/objects");
    let big = vec![b'a'; 64 * 1024 + 1];
    assert_eq!(put_bytes(&s, &format!("{objects}/large"), big).await.0, 201);
    assert_eq!(
        put_bytes(&s, &format!("{objects}/binary"), vec![0xffu8, 0xfe])
            .await
            .0,
        201
    );
    let (status, body) = s
        .call(
            "POST",
            "/api/secrets/global",
            Some(json!({"key": "elsewhere", "content": "v-elsewhere", "namespaces": ["prod"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let run = s.start_run(ns, "refs", json!({})).await;
    let done = s.wait_run(ns, "refs", run).await;
    assert_eq!(done["status"], "failed", "{done}");
    for (task, needle) in [
        (
            "missing",
            "variable 'V': run_object{{absent-key}}: object 'absent-key' not found",
        ),
        (
            "denied",
            &format!("global secret 'elsewhere' is not permitted in namespace '{ns}'"),
        ),
        (
            "large",
            "pipeline_object{{large}}: the object is larger than 64 KiB",
        ),
        (
            "binary",
            "pipeline_object{{binary}}: the object is not valid UTF-8",
        ),
    ] {
        let t = s
            .wait_task(ns, "refs", run, task, |t| t["state"] == "complete")
            .await;
        assert_eq!(t["status"], "failed", "{t}");
        assert_eq!(t["status_reason"]["reason"], "failed_precondition", "{t}");
        let why = t["status_reason"]["description"].as_str().unwrap();
        assert!(why.contains(needle), "{why}");
    }
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_keys_cannot_escape_the_objects_directory() {
    let (s, dir) = TestServer::start().await;
    let ns = s.unique_namespace().await;
    s.deploy(
        &ns,
        pipeline("objs", vec![json!({"id": "t", "image": "x"})]),
    )
    .await;
    let base = format!("/api/namespaces/{ns}/pipelines/objs/objects");
    let long = "k".repeat(129);
    for key in [
        "..%2Fx",
        "%2Fetc%2Fpasswd",
        "%2e%2e",
        "%2E%2e",
        "a%00b",
        "a%20b",
        long.as_str(),
    ] {
        let (status, body) = raw_put(&s, &format!("{base}/{key}"), b"data").await;
        assert_eq!(status, 400, "{key}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with("key: must be 1-128 characters"),
            "{message}"
        );
        if !key.contains("%2") {
            assert_eq!(
                get_bytes(&s, &format!("{base}/{key}")).await.0,
                404,
                "{key}"
            );
        }
    }
    let objects = dir.path().join("objects");
    let written = files_under(dir.path());
    assert!(
        written.iter().all(|f| !f.starts_with(&objects)),
        "a refused put wrote {written:?}"
    );

    // A good key is stored as the hex of its bytes.
    let (status, body) = put_bytes(&s, &format!("{base}/..a"), "dots").await;
    assert_eq!(status, 201, "{body}");
    assert!(
        gofer_core::paths::pipeline_objects(dir.path(), &ns, "objs")
            .join("2e2e61")
            .exists()
    );
    assert_eq!(
        get_bytes(&s, &format!("{base}/..a")).await,
        (200, b"dots".to_vec())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_objects_evict_the_oldest_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    config.object_store.pipeline_object_limit = 2;
    config.object_store.max_object_bytes = 1024;
    let s = TestServer::start_with(config).await;
    let ns = s.unique_namespace().await;
    s.deploy(
        &ns,
        pipeline("objs", vec![json!({"id": "t", "image": "x"})]),
    )
    .await;
    let base = format!("/api/namespaces/{ns}/pipelines/objs/objects");
    for key in ["a", "b"] {
        assert_eq!(
            put_bytes(&s, &format!("{base}/{key}"), key.to_string())
                .await
                .0,
            201
        );
    }
    // Existing key: 409 without force, replaced with force (no eviction).
    let (status, body) = put_bytes(&s, &format!("{base}/a"), "again").await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = put_bytes(&s, &format!("{base}/a?force=true"), "a2").await;
    assert_eq!(status, 201);
    // Now `b` is the oldest; a third key evicts it.
    assert_eq!(put_bytes(&s, &format!("{base}/c"), "c").await.0, 201);
    let (_, list) = s.call("GET", &base, None).await;
    let keys: Vec<&str> = list["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["a", "c"]);
    assert_eq!(get_bytes(&s, &format!("{base}/b")).await.0, 404);
    assert!(
        !gofer_core::paths::pipeline_objects(dir.path(), &ns, "objs")
            .join("62")
            .exists()
    );
    assert_eq!(
        get_bytes(&s, &format!("{base}/a")).await,
        (200, b"a2".to_vec())
    );

    // Too large: 413, nothing stored, no temporary file left behind.
    let (status, body) = put_bytes(&s, &format!("{base}/big"), vec![0u8; 2048]).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("object_store.max_object_bytes")
    );
    let leftovers = files_under(&gofer_core::paths::pipeline_objects(
        dir.path(),
        &ns,
        "objs",
    ));
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");

    // Missing parents and keys.
    let missing = format!("/api/namespaces/{ns}/pipelines/nope/objects/a");
    assert_eq!(put_bytes(&s, &missing, "x").await.0, 404);
    let (status, _) = s.call("DELETE", &format!("{base}/zz"), None).await;
    assert_eq!(status, 404);
    let (status, _) = s.call("DELETE", &format!("{base}/a"), None).await;
    assert_eq!(status, 204);
    assert_eq!(get_bytes(&s, &format!("{base}/a")).await.0, 404);

    // Deleting the pipeline removes its objects and secrets (docs/pipelines.md#what-a-delete-takes-with-it).
    let (status, _) = s
        .call(
            "POST",
            &format!("/api/namespaces/{ns}/pipelines/objs/secrets"),
            Some(json!({"key": "k", "content": "v"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/api/namespaces/{ns}/pipelines/objs"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert!(!gofer_core::paths::pipeline_objects(dir.path(), &ns, "objs").exists());
    s.deploy(
        &ns,
        pipeline("objs", vec![json!({"id": "t", "image": "x"})]),
    )
    .await;
    let (_, list) = s.call("GET", &base, None).await;
    assert_eq!(list["objects"], json!([]));
    let (_, list) = s
        .call(
            "GET",
            &format!("/api/namespaces/{ns}/pipelines/objs/secrets"),
            None,
        )
        .await;
    assert_eq!(list["secrets"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_read_run_objects_and_run_objects_expire() {
    let img = busybox().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    config.object_store.run_object_expiry = 1;
    let s = TestServer::start_with(config).await;
    let ns = s.unique_namespace().await;
    let ns = ns.as_str();
    // The parent runs long enough for the test to write a run object while it runs; the child
    // reads it through a reference resolved when it starts.
    let parent = sh("parent", &img, "sleep 4");
    let mut child = sh("child", &img, "echo \"got=$FROM_PARENT\"");
    child["depends_on"] = json!({"parent": "success"});
    child["variables"] = json!({"FROM_PARENT": "run_object{{handoff}}"});
    s.deploy(ns, pipeline("handoff", vec![parent, child])).await;
    let run = s.start_run(ns, "handoff", json!({})).await;
    s.wait_task(ns, "handoff", run, "parent", |t| t["state"] == "running")
        .await;
    let objects = format!("/api/namespaces/{ns}/pipelines/handoff/runs/{run}/objects");
    let (status, body) = put_bytes(&s, &format!("{objects}/handoff"), "written-by-parent").await;
    assert_eq!(status, 201, "{body}");
    let parent_state = s
        .call(
            "GET",
            &format!("/api/namespaces/{ns}/pipelines/handoff/runs/{run}/tasks/parent"),
            None,
        )
        .await
        .1;
    assert_eq!(
        parent_state["task_execution"]["state"], "running",
        "the object must be written while the parent still runs"
    );
    let done = s.wait_run(ns, "handoff", run).await;
    assert_eq!(done["status"], "successful", "{done}");
    assert_eq!(
        s.logs(ns, "handoff", run, "child").await,
        b"got=written-by-parent\n"
    );
    assert_eq!(
        get_bytes(&s, &format!("{objects}/handoff")).await,
        (200, b"written-by-parent".to_vec())
    );
    let run_dir = gofer_core::paths::run_objects(dir.path(), ns, "handoff", run);
    assert!(run_dir.exists());

    // With run_object_expiry = 1, the first run's objects expire once the second completes.
    let second = s.start_run(ns, "handoff", json!({})).await;
    s.wait_run(ns, "handoff", second).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, body) = s
            .call(
                "GET",
                &format!("/api/namespaces/{ns}/pipelines/handoff/runs/{run}"),
                None,
            )
            .await;
        if body["run"]["store_objects_expired"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never expired: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(get_bytes(&s, &format!("{objects}/handoff")).await.0, 404);
    let (_, list) = s.call("GET", &objects, None).await;
    assert_eq!(list["objects"], json!([]));
    let (status, body) = put_bytes(&s, &format!("{objects}/again"), "x").await;
    assert_eq!(
        (status, body["message"].as_str()),
        (409, Some(&*format!("objects for run {run} have expired")))
    );
    assert!(!run_dir.exists());
    s.remove_containers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_a_wrong_or_changed_encryption_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    config.secret_store.encryption_key = "31-bytes-long-key-0123456789abc".into();
    let err = gofer_server::prepare(config.clone())
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .contains("secret_store.encryption_key: must be exactly 32 bytes"),
        "{err}"
    );
    // First boot with one key stores the check value; a later boot with another key refuses.
    config.secret_store.encryption_key = "0123456789abcdef0123456789abcdef".into();
    let s = TestServer::start_with(config.clone()).await;
    s.stop().await;
    config.secret_store.encryption_key = "fedcba9876543210fedcba9876543210".into();
    let err = gofer_server::prepare(config).await.err().expect("refused");
    assert!(
        err.to_string()
            .contains("secret_store.encryption_key: differs from the key"),
        "{err}"
    );
}
