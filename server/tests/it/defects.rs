//! Regression tests for defects found by driving the API from outside: events across
//! namespaces, re-created roles, huge timeouts and expiries, and typos in request bodies.

use crate::auth::{strict_server, token};
use crate::support::{Frame, TestServer, assert_error, next_frame};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The whole event history, newest first, as `authorization` sees it.
async fn history_as(s: &TestServer, authorization: &str) -> Vec<Value> {
    let mut request = s
        .ws_url("/api/events?history=true&reverse=true")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", authorization.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the event stream opens");
    let mut events = Vec::new();
    loop {
        match next_frame(&mut ws).await {
            Frame::Text(text) => events.push(serde_json::from_str(&text).unwrap()),
            Frame::Close(1000, _) => return events,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn namespace_of(event: &Value) -> Option<&str> {
    event["kind"]
        .as_object()
        .and_then(|k| k.values().next())
        .and_then(|payload| payload["namespace_id"].as_str())
        .or_else(|| event["kind"]["namespace_id"].as_str())
}

/// A token limited to one namespace sees that namespace's events only, in the history and by
/// id; events that name no namespace are for admins.
#[tokio::test]
async fn events_reach_only_tokens_that_may_read_their_namespace() {
    let (s, _dir, admin) = strict_server().await;
    for ns in ["ns-a", "ns-b"] {
        let (status, body) = s
            .call_as(
                Some(&admin),
                "POST",
                "/api/namespaces",
                Some(json!({"id": ns, "name": ns})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = s
        .call_as(
            Some(&admin),
            "POST",
            "/api/roles",
            Some(json!({"id": "only-a", "description": "namespace a", "permissions": [
                {"resources": ["namespaces:ns-a", "pipelines:.*", "events"], "actions": ["read"]}
            ]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (limited, _) = token(
        &s,
        &admin,
        json!({"user": "alice", "roles": ["only-a"], "expires": 0}),
    )
    .await;

    let all = history_as(&s, &admin).await;
    let b_event = all
        .iter()
        .find(|e| namespace_of(e) == Some("ns-b"))
        .unwrap_or_else(|| panic!("no ns-b event in {all:?}"))
        .clone();
    assert!(all.iter().any(|e| namespace_of(e).is_none()), "{all:?}");

    let seen = history_as(&s, &limited).await;
    assert!(
        seen.iter().any(|e| namespace_of(e) == Some("ns-a")),
        "{seen:?}"
    );
    for event in &seen {
        assert_eq!(namespace_of(event), Some("ns-a"), "leaked: {event}");
    }
    let id = b_event["id"].as_str().unwrap();
    let got = s
        .call_as(Some(&limited), "GET", &format!("/api/events/{id}"), None)
        .await;
    assert_error(&got, 404, "not found");
    let got = s
        .call_as(Some(&admin), "GET", &format!("/api/events/{id}"), None)
        .await;
    assert_eq!(got.0, 200, "{}", got.1);
}

/// Deleting a role takes it off every token: a role created later under the same id gives
/// the old tokens nothing.
#[tokio::test]
async fn a_recreated_role_gives_old_tokens_nothing() {
    let (s, _dir, admin) = strict_server().await;
    let role = |description: &str| {
        json!({"id": "reader", "description": description, "permissions": [
            {"resources": ["namespaces:.*"], "actions": ["read"]}
        ]})
    };
    let (status, body) = s
        .call_as(Some(&admin), "POST", "/api/roles", Some(role("first")))
        .await;
    assert_eq!(status, 201, "{body}");
    let (old, old_id) = token(
        &s,
        &admin,
        json!({"user": "bob", "roles": ["reader"], "expires": 0}),
    )
    .await;
    let (status, _) = s.call_as(Some(&old), "GET", "/api/namespaces", None).await;
    assert_eq!(status, 200);

    let (status, _) = s
        .call_as(Some(&admin), "DELETE", "/api/roles/reader", None)
        .await;
    assert_eq!(status, 204);
    let (_, body) = s
        .call_as(Some(&admin), "GET", &format!("/api/tokens/{old_id}"), None)
        .await;
    assert_eq!(body["token"]["roles"], json!([]), "{body}");
    let (status, body) = s
        .call_as(Some(&admin), "POST", "/api/roles", Some(role("second")))
        .await;
    assert_eq!(status, 201, "{body}");
    let got = s.call_as(Some(&old), "GET", "/api/namespaces", None).await;
    assert_error(&got, 403, "permission denied");
}

/// Timeouts and retry backoffs above 365 days and token lifetimes above 10 years are refused
/// naming the field; the maximum itself is accepted.
#[tokio::test]
async fn timeouts_and_expiries_above_the_maximum_are_refused() {
    let (s, _dir) = TestServer::start().await;
    let config = |timeout: u64, task_timeout: u64, backoff: u64| {
        json!({"config": {"id": "slow", "name": "Slow", "timeout": timeout, "tasks": [
            {"id": "t", "image": "busybox", "timeout": task_timeout,
             "retries": {"count": 1, "backoff": backoff}}
        ]}})
    };
    let path = "/api/namespaces/default/pipelines/slow/configs";
    let huge = 18_446_744_073_709_552u64;
    let got = s.call("POST", path, Some(config(huge, 0, 1))).await;
    assert_error(
        &got,
        400,
        "config.timeout: must be at most 31536000 seconds",
    );
    let got = s.call("POST", path, Some(config(0, huge, 1))).await;
    assert_error(
        &got,
        400,
        "task 't': timeout: must be at most 31536000 seconds",
    );
    let got = s.call("POST", path, Some(config(0, 0, huge))).await;
    assert_error(&got, 400, "task 't': retries.backoff: must be at most");
    let got = s
        .call(
            "POST",
            path,
            Some(config(31_536_000, 31_536_000, 31_536_000)),
        )
        .await;
    assert_eq!(got.0, 201, "{}", got.1);

    let got = s
        .call(
            "POST",
            "/api/tokens",
            Some(json!({"user": "u", "roles": [], "expires": u64::MAX})),
        )
        .await;
    assert_error(&got, 400, "expires: must be at most 315360000 seconds");
    let got = s
        .call(
            "POST",
            "/api/tokens",
            Some(json!({"user": "u", "roles": [], "expires": 315_360_000u64})),
        )
        .await;
    assert_eq!(got.0, 201, "{}", got.1);
}

/// Unknown fields and wrong shapes answer 400 naming the field; every field a Gofer 0.9 client
/// sends still works; permission regexes keep their 256-character limit.
#[tokio::test]
async fn unknown_fields_and_wrong_shapes_are_refused() {
    let (s, _dir) = TestServer::start().await;
    let path = "/api/namespaces/default/pipelines/typo/configs";
    let got = s
        .call(
            "POST",
            path,
            Some(json!({"config": {"id": "typo", "name": "Typo", "tasks": [
                {"id": "a", "image": "busybox"},
                {"id": "b", "image": "busybox", "dependson": {"a": "success"}}
            ]}})),
        )
        .await;
    assert_error(
        &got,
        400,
        "config.tasks[1].dependson: unknown field (did you mean depends_on?)",
    );
    let got = s
        .call(
            "POST",
            path,
            Some(json!({"config": {"id": "typo", "name": "Typo", "tasks": [
                {"id": "a", "imgae": "busybox"}
            ]}})),
        )
        .await;
    assert_error(
        &got,
        400,
        "config.tasks[0].imgae: unknown field (did you mean image?)",
    );
    // Every problem of a config at once.
    let got = s
        .call(
            "POST",
            path,
            Some(json!({"config": {"id": "typo", "name": "", "tasks": [
                {"id": "a", "image": ""}, {"id": "b", "image": "x", "depends_on": {"zz": "success"}}
            ]}})),
        )
        .await;
    assert_error(
        &got,
        400,
        "config.name: must be 1-128 characters; task 'a': image must not be empty; task 'b': depends_on references unknown task 'zz'",
    );
    let got = s
        .call(
            "POST",
            "/api/namespaces",
            Some(json!({"id": "typo-ns", "nmae": "x"})),
        )
        .await;
    assert_error(&got, 400, "nmae: unknown field (did you mean name?)");

    // What a Gofer 0.9 SDK program prints, every field present.
    let got = s
        .call(
            "POST",
            path,
            Some(
                json!({"config": {"id": "typo", "name": "Typo", "description": null,
                "parallelism": 0, "tasks": [{
                    "id": "a", "description": null, "image": "busybox", "registry_auth": null,
                    "depends_on": {}, "variables": {"K": "v"}, "entrypoint": null,
                    "command": ["echo", "hi"], "inject_api_token": false,
                    "always_pull_newest_image": true
                }]}}),
            ),
        )
        .await;
    assert_eq!(got.0, 201, "{}", got.1);
    let (status, body) = s.call("POST", &format!("{path}/1"), None).await;
    assert_eq!(status, 201, "{body}");

    for body in [json!([]), json!([{}]), json!("run")] {
        let got = s
            .call(
                "POST",
                "/api/namespaces/default/pipelines/typo/runs",
                Some(body.clone()),
            )
            .await;
        assert_error(&got, 400, "body: must be a JSON object");
    }
    let got = s
        .call(
            "POST",
            "/api/namespaces/default/pipelines/typo/runs",
            Some(json!({"variabels": {}})),
        )
        .await;
    assert_error(
        &got,
        400,
        "variabels: unknown field (did you mean variables?)",
    );

    let long = "a".repeat(280);
    let got = s
        .call(
            "POST",
            "/api/roles",
            Some(json!({"id": "long", "description": "", "permissions": [
                {"resources": [format!("namespaces:{long}")], "actions": ["read"]}
            ]})),
        )
        .await;
    assert_error(&got, 400, "at most 256");
    let (status, _) = s.call("GET", "/api/roles/long", None).await;
    assert_eq!(status, 404);
}
