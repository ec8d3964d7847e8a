//! What the API accepts, the store reads back (docs/security.md): random JSON values and text
//! through the routes that store user data, over real HTTP into a real redb file.

use crate::support::{TestServer, config_for};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

/// Scalars, with the awkward numbers and any Unicode (control characters included).
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinities", |f| f.is_finite())
            .prop_map(Value::from),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(1e308)),
        Just(json!(5e-324)),
        Just(json!(-0.0)),
        any::<String>().prop_map(Value::from),
        Just(json!("\u{0}\u{1b}[2J\u{202e}\u{feff}\u{10ffff}🦀")),
    ]
}

/// Nested, wide and deep values.
fn value() -> impl Strategy<Value = Value> {
    let nested = scalar().prop_recursive(8, 256, 12, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..12).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..12)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let deep = (1usize..140, scalar()).prop_map(|(depth, leaf)| {
        (0..depth).fold(leaf, |v, i| {
            if i % 2 == 0 {
                json!([v])
            } else {
                json!({"k": v})
            }
        })
    });
    let wide = prop::collection::vec(scalar(), 0..3000).prop_map(Value::Array);
    prop_oneof![4 => nested, 2 => deep, 1 => wide]
}

fn depth(v: &Value) -> usize {
    gofer_core::validate::json_depth(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatever_the_api_accepts_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    // One run holds the only slot, so every later run stays pending with its payload.
    config.api.global_run_concurrency_limit = 1;
    let s = TestServer::start_with(config).await;
    let docker = gofer_server::testing::require_docker()
        .await
        .expect("docker");
    let image = gofer_server::testing::busybox_image(&docker)
        .await
        .expect("image");
    let p = "/api/namespaces/default/pipelines/fuzz";
    let cfg = json!({"config": {"id": "fuzz", "name": "Fuzz", "tasks": [
        {"id": "t", "image": image, "command": ["sleep", "600"]}]}});
    assert_eq!(
        s.call("POST", &format!("{p}/configs"), Some(cfg)).await.0,
        201
    );
    assert_eq!(s.call("POST", &format!("{p}/configs/1"), None).await.0, 201);
    let (status, first) = s.call("POST", &format!("{p}/runs"), Some(json!({}))).await;
    assert_eq!(status, 201, "{first}");

    let mut runner = TestRunner::deterministic();
    let mut accepted = 0;
    for case in 0..60 {
        let payload = value().new_tree(&mut runner).unwrap().current();
        let (status, answer) = s
            .call(
                "POST",
                &format!("{p}/runs"),
                Some(json!({"payload": payload})),
            )
            .await;
        match status {
            201 => {
                accepted += 1;
                let id = answer["run"]["run_id"].as_u64().unwrap();
                let (status, got) = s.call("GET", &format!("{p}/runs/{id}"), None).await;
                assert_eq!(status, 200, "case {case}: {got}");
                assert!(
                    got["run"]["payload"] == payload,
                    "case {case}: the payload read back differs: sent {:.2000}, got {:.2000}",
                    payload.to_string(),
                    got["run"]["payload"].to_string()
                );
            }
            400 => assert!(
                depth(&payload) > gofer_core::validate::MAX_JSON_DEPTH,
                "case {case}: refused {answer} although {} levels deep",
                depth(&payload)
            ),
            413 => assert!(
                serde_json::to_vec(&payload).unwrap().len() > 65536,
                "case {case}"
            ),
            other => panic!("case {case}: {other} {answer}"),
        }
        // Text fields: refused only for control characters or length, else read back.
        let text = any::<String>().new_tree(&mut runner).unwrap().current();
        let ns = format!("fz{case}");
        let (status, answer) = s
            .call(
                "POST",
                "/api/namespaces",
                Some(json!({"id": ns, "name": "n", "description": text})),
            )
            .await;
        if status == 201 {
            let (_, got) = s.call("GET", &format!("/api/namespaces/{ns}"), None).await;
            assert_eq!(
                got["namespace"]["description"],
                text.as_str(),
                "case {case}"
            );
        } else {
            assert_eq!(status, 400, "case {case}: {answer}");
            assert!(
                answer["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("description: "),
                "{answer}"
            );
        }
    }
    assert!(accepted > 10, "only {accepted} payloads were accepted");
    // Every list still reads.
    let (status, runs) = s.call("GET", &format!("{p}/runs?limit=200"), None).await;
    assert_eq!(status, 200, "{runs}");
    assert_eq!(runs["runs"].as_array().unwrap().len(), accepted + 1);
    assert_eq!(
        s.call("GET", "/api/namespaces?limit=200", None).await.0,
        200
    );
    assert!(s.store().blocking().unreadable().is_empty());
    // Cancel everything so no container outlives the test.
    for run in runs["runs"].as_array().unwrap() {
        let id = run["run_id"].as_u64().unwrap();
        s.call("DELETE", &format!("{p}/runs/{id}"), None).await;
    }
    // Every run ends, the one holding the slot included; one the dispatcher was starting while
    // it was cancelled must not keep a container running.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, r) = s.call("GET", &format!("{p}/runs?limit=200"), None).await;
        let open: Vec<u64> = r["runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|run| run["state"] != "complete")
            .map(|run| run["run_id"].as_u64().unwrap())
            .collect();
        if open.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "runs {open:?} did not end after they were cancelled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let running = s.running_containers().await;
    s.remove_containers().await;
    assert!(
        running.is_empty(),
        "still running after their runs ended: {running:?}"
    );
}
