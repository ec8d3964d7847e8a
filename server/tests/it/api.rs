//! The foundation API through real HTTP against a real server and redb file (docs/api.md#namespaces-and-pipelines, docs/api.md#configs-and-deployments,
//! docs/api.md#roles-global-secrets-system-tokens, docs/api.md#operations, docs/pipelines.md#versions-and-deployments, docs/auth.md#order-of-checks step 1, docs/pipelines.md#identifiers).

use crate::support::{TestServer, assert_error, config_for, simple_config};
use gofer_core::api::*;
use gofer_core::enums::{
    ConfigState, DeploymentState, DeploymentStatus, PipelineState, RequiredParentStatus,
};
use serde_json::{Value, json};

fn decode<T: serde::de::DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"))
}

const P: &str = "/api/namespaces/default/pipelines";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metadata_and_unknown_routes() {
    let (s, _dir) = TestServer::start().await;
    let (status, body) = s.call("GET", "/api/health", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "ok", "checks": {"storage": "ok", "scheduler": "ok"}})
    );

    let (status, body) = s.call("GET", "/api/system/metadata", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["semver"], env!("CARGO_PKG_VERSION"));
    assert!(body["commit"].as_str().is_some_and(|c| !c.is_empty()));

    assert_error(
        &s.call("GET", "/api/nope", None).await,
        404,
        "no route for GET /api/nope",
    );
    assert_error(
        &s.call("PUT", "/api/namespaces", None).await,
        405,
        "not allowed",
    );

    // Every response carries x-request-id, errors repeat it in the body.
    let res = s
        .http
        .get(s.url("/api/namespaces/nope"))
        .send()
        .await
        .unwrap();
    let header = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(body.request_id, header);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_version_header() {
    let (s, _dir) = TestServer::start().await;
    let send = |v: &'static str, path: &'static str| {
        s.http
            .get(s.url(path))
            .header("gofer-api-version", v)
            .send()
    };
    assert_eq!(send("v0", "/api/namespaces").await.unwrap().status(), 200);
    let res = send("v1", "/api/namespaces").await.unwrap();
    assert_eq!(res.status(), 400);
    let body: ErrorBody = res.json().await.unwrap();
    assert_eq!(
        body.message,
        "gofer-api-version: unsupported version 'v1'; supported: v0"
    );
    // Health skips the version check (docs/auth.md#order-of-checks).
    assert_eq!(send("v9", "/api/health").await.unwrap().status(), 200);
    // The version check comes before anything else, also on unknown entities.
    assert_eq!(
        send("v1", "/api/namespaces/missing")
            .await
            .unwrap()
            .status(),
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_crud_and_validation() {
    let (s, _dir) = TestServer::start().await;
    // `default` exists after first boot.
    let (status, body) = s.call("GET", "/api/namespaces/default", None).await;
    assert_eq!(status, 200);
    let ns: NamespaceResponse = decode(&body);
    assert_eq!(ns.namespace.name, "Default");
    assert_eq!(
        ns.namespace.description,
        "Default namespace created by Gofer."
    );

    let (status, body) = s
        .call(
            "POST",
            "/api/namespaces",
            Some(json!({"id": "team_a-1", "name": "Team A"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let created: NamespaceResponse = decode(&body);
    assert_eq!(created.namespace.id, "team_a-1");
    assert_eq!(created.namespace.description, "");
    assert_eq!(created.namespace.modified, 0);
    assert!(created.namespace.created > 0);

    // Name defaults to the id.
    let (status, body) = s
        .call("POST", "/api/namespaces", Some(json!({"id": "nameless"})))
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["namespace"]["name"], "nameless");

    assert_error(
        &s.call(
            "POST",
            "/api/namespaces",
            Some(json!({"id": "team_a-1", "name": "x"})),
        )
        .await,
        409,
        "already exists",
    );
    for bad in ["ab", "a.b", "has space", "slash/y", &"x".repeat(33), ""] {
        assert_error(
            &s.call(
                "POST",
                "/api/namespaces",
                Some(json!({"id": bad, "name": "x"})),
            )
            .await,
            400,
            "id: must be 3-32 characters of [a-zA-Z0-9_-]",
        );
    }
    assert_error(
        &s.call(
            "POST",
            "/api/namespaces",
            Some(json!({"id": "okid", "name": ""})),
        )
        .await,
        400,
        "name: must be 1-128 characters",
    );
    assert_error(
        &s.call("POST", "/api/namespaces", Some(json!({"id": 5})))
            .await,
        400,
        "id: invalid type",
    );
    assert_error(
        &s.call_raw("POST", "/api/namespaces", "{nope").await,
        400,
        "body: ",
    );

    // Update.
    let (status, body) = s
        .call(
            "PATCH",
            "/api/namespaces/team_a-1",
            Some(json!({"description": "the A team"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let updated: NamespaceResponse = decode(&body);
    assert_eq!(updated.namespace.description, "the A team");
    assert_eq!(updated.namespace.name, "Team A");
    assert!(updated.namespace.modified >= updated.namespace.created);
    assert_error(
        &s.call("PATCH", "/api/namespaces/team_a-1", Some(json!({})))
            .await,
        400,
        "at least one",
    );
    assert_error(
        &s.call(
            "PATCH",
            "/api/namespaces/missing",
            Some(json!({"name": "x"})),
        )
        .await,
        404,
        "namespace 'missing' not found",
    );

    // Missing and invalid ids are 404 on reads.
    assert_error(
        &s.call("GET", "/api/namespaces/missing", None).await,
        404,
        "not found",
    );
    assert_error(
        &s.call("GET", "/api/namespaces/x.y", None).await,
        404,
        "not found",
    );

    // List: ordered by id, paginated.
    let (status, body) = s.call("GET", "/api/namespaces", None).await;
    assert_eq!(status, 200);
    let list: NamespacesResponse = decode(&body);
    let ids: Vec<_> = list.namespaces.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["default", "nameless", "team_a-1"]);
    let (_, body) = s
        .call("GET", "/api/namespaces?limit=1&offset=1", None)
        .await;
    assert_eq!(body["namespaces"][0]["id"], "nameless");
    assert_eq!(body["namespaces"].as_array().unwrap().len(), 1);
    let (_, body) = s
        .call("GET", "/api/namespaces?reverse=true&limit=1", None)
        .await;
    assert_eq!(body["namespaces"][0]["id"], "team_a-1");
    assert_error(
        &s.call("GET", "/api/namespaces?limit=1001", None).await,
        400,
        "limit: must be an integer between 0 and 1000",
    );
    assert_error(
        &s.call("GET", "/api/namespaces?offset=-1", None).await,
        400,
        "offset",
    );
    assert_error(
        &s.call("GET", "/api/namespaces?reverse=maybe", None).await,
        400,
        "reverse",
    );

    // Delete.
    let (status, _) = s.call("DELETE", "/api/namespaces/nameless", None).await;
    assert_eq!(status, 204);
    assert_error(
        &s.call("DELETE", "/api/namespaces/nameless", None).await,
        404,
        "not found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_registration_validation() {
    let (s, _dir) = TestServer::start().await;
    let s = &s;
    let register = |p: &str, body: Value| {
        let path = format!("{P}/{p}/configs");
        async move { s.call("POST", &path, Some(body)).await }
    };
    let task = |id: &str, deps: Value| json!({"id": id, "image": "busybox", "depends_on": deps});
    let config =
        |id: &str, tasks: Value| json!({"config": {"id": id, "name": "N", "tasks": tasks}});

    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "ab",
            config("ab", json!([task("a", json!({}))])),
            "config.id: must be 3-32 characters",
        ),
        (
            "bad.id",
            config("bad.id", json!([task("a", json!({}))])),
            "config.id: must be 3-32",
        ),
        (
            "x".repeat(33).leak(),
            config(&"x".repeat(33), json!([task("a", json!({}))])),
            "config.id",
        ),
        (
            "build",
            config("other", json!([task("a", json!({}))])),
            "config.id: must equal the pipeline id in the path ('build')",
        ),
        (
            "build",
            json!({"config": {"id": "build", "name": "", "tasks": [task("a", json!({}))]}}),
            "config.name",
        ),
        (
            "build",
            json!({"config": {"id": "build", "name": "n", "parallelism": -1, "tasks": [task("a", json!({}))]}}),
            "config.parallelism",
        ),
        (
            "build",
            json!({"config": {"id": "build", "name": "n", "timeout": 1.5, "tasks": [task("a", json!({}))]}}),
            "config.timeout",
        ),
        (
            "build",
            config("build", json!([])),
            "config.tasks: must contain at least one task",
        ),
        (
            "build",
            config("build", json!([task("bad id", json!({}))])),
            "task 'bad id': invalid id",
        ),
        (
            "build",
            config("build", json!([task(&"t".repeat(65), json!({}))])),
            "invalid id",
        ),
        (
            "build",
            config("build", json!([task("a", json!({})), task("a", json!({}))])),
            "task 'a': duplicate task id",
        ),
        (
            "build",
            config("build", json!([{"id": "a", "image": ""}])),
            "task 'a': image must not be empty",
        ),
        (
            "build",
            config("build", json!([{"id": "a"}])),
            "task 'a': image must not be empty",
        ),
        (
            "build",
            config("build", json!([task("a", json!({"tests": "success"}))])),
            "task 'a': depends_on references unknown task 'tests'",
        ),
        (
            "build",
            config("build", json!([task("a", json!({"a": "any"}))])),
            "task 'a': cannot depend on itself",
        ),
        (
            "build",
            config(
                "build",
                json!([task("a", json!({})), task("b", json!({"a": "Unknown"}))]),
            ),
            "task 'b': depends_on 'a' has invalid condition 'Unknown'",
        ),
        (
            "build",
            config(
                "build",
                json!([
                    task("a", json!({"c": "any"})),
                    task("b", json!({"a": "any"})),
                    task("c", json!({"b": "any"}))
                ]),
            ),
            "task 'a': dependency cycle a -> c -> b -> a",
        ),
        (
            "build",
            config(
                "build",
                json!([{"id": "a", "image": "i", "variables": {"MY KEY": "v"}}]),
            ),
            "task 'a': variables.MY KEY: keys must not contain whitespace",
        ),
        (
            "build",
            config(
                "build",
                json!([{"id": "a", "image": "i", "retries": {"count": 11}}]),
            ),
            "task 'a': retries.count",
        ),
        (
            "build",
            config(
                "build",
                json!([{"id": "a", "image": "i", "variables": {"K": 1}}]),
            ),
            "config.tasks[0].variables",
        ),
        ("build", json!({"nope": 1}), "nope: unknown field"),
        ("build", json!({}), "body: missing field `config`"),
    ];
    for (p, body, needle) in cases {
        assert_error(&register(p, body.clone()).await, 400, needle);
    }
    // Nothing was stored by any of them.
    let (_, body) = s.call("GET", P, None).await;
    assert_eq!(body, json!({"pipelines": []}));
    // A missing namespace is 404.
    assert_error(
        &s.call(
            "POST",
            "/api/namespaces/nowhere/pipelines/build/configs",
            Some(simple_config("build")),
        )
        .await,
        404,
        "namespace 'nowhere' not found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_deploy_and_rollback() {
    let (s, _dir) = TestServer::start().await;
    let mut body = simple_config("simple");
    body["config"]["tasks"][0]["registry_auth"] = json!({"user": "u", "pass": "hunter2"});
    body["config"]["tasks"][1]["depends_on"] = json!({"first": "Success"});
    body["config"]["tasks"][0]["variables"] = json!({"Z": "1", "A": "2"});
    let (status, resp) = s
        .call("POST", &format!("{P}/simple/configs"), Some(body.clone()))
        .await;
    assert_eq!(status, 201, "{resp}");
    let reg: RegisterConfigResponse = decode(&resp);
    assert_eq!(reg.pipeline.metadata.state, PipelineState::Active);
    assert_eq!(reg.pipeline.metadata.modified, 0);
    let c = &reg.pipeline.config;
    assert_eq!(
        (c.version, c.state, c.deprecated),
        (1, ConfigState::Unreleased, 0)
    );
    assert_eq!(c.description, "");
    assert_eq!(
        c.tasks["second"].depends_on["first"],
        RequiredParentStatus::Success
    );
    assert_eq!(
        resp["pipeline"]["config"]["tasks"]["second"]["depends_on"]["first"],
        "success"
    );
    assert_eq!(
        c.tasks["first"].registry_auth.as_ref().unwrap().pass,
        "********"
    );
    // Variables keep input order (serde_json's json! would sort keys, so send raw text).
    let raw = r#"{"config": {"id": "ordered", "name": "O", "tasks": [
        {"id": "t", "image": "busybox", "variables": {"Z": "1", "A": "2", "M": "3"}}]}}"#;
    let (status, ordered) = s
        .call_raw("POST", &format!("{P}/ordered/configs"), raw)
        .await;
    assert_eq!(status, 201, "{ordered}");
    let keys: Vec<_> = ordered["pipeline"]["config"]["tasks"]["t"]["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["Z", "A", "M"], "variables keep input order");
    assert_eq!(
        resp["pipeline"]["config"]["tasks"]["first"]["variables"][0]["source"],
        "pipeline_config"
    );

    // Lowercase conditions are accepted too; version 2.
    body["config"]["tasks"][1]["depends_on"] = json!({"first": "any"});
    let (status, resp) = s
        .call("POST", &format!("{P}/simple/configs"), Some(body.clone()))
        .await;
    assert_eq!(status, 201);
    assert_eq!(resp["pipeline"]["config"]["version"], 2);

    // get version 0 = latest; list newest first.
    let (_, resp) = s.call("GET", &format!("{P}/simple/configs/0"), None).await;
    assert_eq!(resp["config"]["version"], 2);
    let (_, resp) = s.call("GET", &format!("{P}/simple/configs"), None).await;
    let versions: Vec<_> = resp["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);
    let (_, resp) = s
        .call("GET", &format!("{P}/simple/configs?reverse=true"), None)
        .await;
    assert_eq!(resp["configs"][0]["version"], 1);
    assert_error(
        &s.call("GET", &format!("{P}/simple/configs/9"), None).await,
        404,
        "not found",
    );
    assert_error(
        &s.call("GET", &format!("{P}/simple/configs/x"), None).await,
        404,
        "not found",
    );

    // Deploy v1, then v2: v1 becomes deprecated.
    let (status, resp) = s.call("POST", &format!("{P}/simple/configs/1"), None).await;
    assert_eq!(status, 201, "{resp}");
    let d1: DeploymentResponse = decode(&resp);
    let d = &d1.deployment;
    assert_eq!((d.deployment_id, d.start_version, d.end_version), (1, 0, 1));
    assert_eq!(
        (d.state, d.status),
        (DeploymentState::Complete, DeploymentStatus::Successful)
    );
    assert!(d.ended >= d.started && d.started > 0);
    let kinds: Vec<_> = d.logs.iter().map(|e| e.kind.name()).collect();
    assert_eq!(kinds, ["started_deployment", "completed_deployment"]);

    let (status, resp) = s.call("POST", &format!("{P}/simple/configs/2"), None).await;
    assert_eq!(status, 201);
    assert_eq!(
        (
            resp["deployment"]["start_version"].as_u64(),
            resp["deployment"]["end_version"].as_u64()
        ),
        (Some(1), Some(2))
    );
    let (_, v1) = s.call("GET", &format!("{P}/simple/configs/1"), None).await;
    assert_eq!(v1["config"]["state"], "deprecated");
    assert!(v1["config"]["deprecated"].as_u64().unwrap() > 0);
    let (_, v2) = s.call("GET", &format!("{P}/simple/configs/2"), None).await;
    assert_eq!(v2["config"]["state"], "live");

    // Deploying the live version again is refused; a missing version is 404.
    assert_error(
        &s.call("POST", &format!("{P}/simple/configs/2"), None).await,
        409,
        "version 2 is already live",
    );
    assert_error(
        &s.call("POST", &format!("{P}/simple/configs/7"), None).await,
        404,
        "not found",
    );
    assert_error(
        &s.call("POST", &format!("{P}/missing/configs/1"), None)
            .await,
        404,
        "not found",
    );
    // The live version cannot be deleted.
    assert_error(
        &s.call("DELETE", &format!("{P}/simple/configs/2"), None)
            .await,
        409,
        "cannot delete the live version",
    );

    // Rollback to v1.
    let (status, resp) = s.call("POST", &format!("{P}/simple/configs/1"), None).await;
    assert_eq!(status, 201);
    assert_eq!(resp["deployment"]["deployment_id"], 3);
    let (_, v1) = s.call("GET", &format!("{P}/simple/configs/1"), None).await;
    assert_eq!(
        (
            v1["config"]["state"].as_str(),
            v1["config"]["deprecated"].as_u64()
        ),
        (Some("live"), Some(0))
    );

    // Delete v2 (no longer live); versions are never reused.
    assert_eq!(
        s.call("DELETE", &format!("{P}/simple/configs/2"), None)
            .await
            .0,
        204
    );
    assert_error(
        &s.call("DELETE", &format!("{P}/simple/configs/2"), None)
            .await,
        404,
        "not found",
    );
    let (_, resp) = s
        .call("POST", &format!("{P}/simple/configs"), Some(body))
        .await;
    assert_eq!(resp["pipeline"]["config"]["version"], 3);

    // Deployments: oldest first, get, 404.
    let (_, resp) = s
        .call("GET", &format!("{P}/simple/deployments"), None)
        .await;
    let list: DeploymentsResponse = decode(&resp);
    assert_eq!(
        list.deployments
            .iter()
            .map(|d| d.deployment_id)
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let (status, resp) = s
        .call("GET", &format!("{P}/simple/deployments/2"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(resp["deployment"]["end_version"], 2);
    assert_error(
        &s.call("GET", &format!("{P}/simple/deployments/9"), None)
            .await,
        404,
        "not found",
    );

    // The deployment events are stored and can be read and deleted.
    let event_id = d1.deployment.logs[0].id.clone();
    let (status, resp) = s
        .call("GET", &format!("/api/events/{event_id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        resp["event"]["kind"]["started_deployment"]["end_version"],
        1
    );
    assert_eq!(
        s.call("DELETE", &format!("/api/events/{event_id}"), None)
            .await
            .0,
        204
    );
    assert_error(
        &s.call("GET", &format!("/api/events/{event_id}"), None)
            .await,
        404,
        "not found",
    );
    assert_error(
        &s.call("GET", "/api/events/not-a-uuid", None).await,
        404,
        "not found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_state_list_and_cascading_deletes() {
    let (s, _dir) = TestServer::start().await;
    for p in ["alpha", "beta", "gamma"] {
        assert_eq!(
            s.call("POST", &format!("{P}/{p}/configs"), Some(simple_config(p)))
                .await
                .0,
            201
        );
    }
    let (_, resp) = s.call("GET", &format!("{P}?limit=2&offset=1"), None).await;
    let list: PipelinesResponse = decode(&resp);
    assert_eq!(
        list.pipelines
            .iter()
            .map(|m| m.pipeline_id.as_str())
            .collect::<Vec<_>>(),
        ["beta", "gamma"]
    );
    assert_error(
        &s.call("GET", "/api/namespaces/missing/pipelines", None)
            .await,
        404,
        "not found",
    );

    assert_eq!(
        s.call(
            "PATCH",
            &format!("{P}/alpha"),
            Some(json!({"state": "Disabled"}))
        )
        .await
        .0,
        204
    );
    let (_, resp) = s.call("GET", &format!("{P}/alpha"), None).await;
    let got: PipelineResponse = decode(&resp);
    assert_eq!(got.pipeline.state, PipelineState::Disabled);
    assert!(got.pipeline.modified > 0);
    assert_error(
        &s.call(
            "PATCH",
            &format!("{P}/alpha"),
            Some(json!({"state": "unknown"})),
        )
        .await,
        400,
        "state: must be active or disabled",
    );
    assert_error(
        &s.call(
            "PATCH",
            &format!("{P}/alpha"),
            Some(json!({"state": "sleepy"})),
        )
        .await,
        400,
        "state: unknown value 'sleepy'",
    );
    assert_error(
        &s.call(
            "PATCH",
            &format!("{P}/nope"),
            Some(json!({"state": "active"})),
        )
        .await,
        404,
        "not found",
    );

    // Deleting a pipeline removes its configs and deployments.
    assert_eq!(
        s.call("POST", &format!("{P}/beta/configs/1"), None).await.0,
        201
    );
    assert_eq!(s.call("DELETE", &format!("{P}/beta"), None).await.0, 204);
    assert_error(
        &s.call("GET", &format!("{P}/beta"), None).await,
        404,
        "not found",
    );
    assert_error(
        &s.call("GET", &format!("{P}/beta/configs"), None).await,
        404,
        "not found",
    );
    assert_error(
        &s.call("GET", &format!("{P}/beta/deployments/1"), None)
            .await,
        404,
        "not found",
    );
    // Re-registering starts a new pipeline.
    let (_, resp) = s
        .call(
            "POST",
            &format!("{P}/beta/configs"),
            Some(simple_config("beta")),
        )
        .await;
    assert_eq!(resp["pipeline"]["config"]["version"], 1);

    // Deleting a namespace removes everything beneath it.
    assert_eq!(
        s.call("POST", "/api/namespaces", Some(json!({"id": "doomed"})))
            .await
            .0,
        201
    );
    let (status, _) = s
        .call(
            "POST",
            "/api/namespaces/doomed/pipelines/inner/configs",
            Some(simple_config("inner")),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        s.call("DELETE", "/api/namespaces/doomed", None).await.0,
        204
    );
    assert_eq!(
        s.call("POST", "/api/namespaces", Some(json!({"id": "doomed"})))
            .await
            .0,
        201
    );
    let (_, resp) = s
        .call("GET", "/api/namespaces/doomed/pipelines", None)
        .await;
    assert_eq!(resp, json!({"pipelines": []}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_get_and_patch() {
    let (s, _dir) = TestServer::start().await;
    let (status, body) = s.call("GET", "/api/system", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"bootstrap_token_created": false, "ignore_pipeline_run_events": false})
    );
    let (status, body) = s
        .call(
            "PATCH",
            "/api/system",
            Some(json!({"ignore_pipeline_run_events": true})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["ignore_pipeline_run_events"], true);
    assert_error(
        &s.call("PATCH", "/api/system", Some(json!({}))).await,
        400,
        "at least one field",
    );
    assert_error(
        &s.call_raw("PATCH", "/api/system", "").await,
        400,
        "at least one field",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    config.server.max_request_body_bytes = 1024;
    let s = TestServer::start_with(config).await;
    let mut body = simple_config("big");
    body["config"]["description"] = json!("x".repeat(2000));
    assert_error(
        &s.call("POST", &format!("{P}/big/configs"), Some(body))
            .await,
        413,
        "larger than 1024 bytes",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_everything_and_a_second_server_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(config_for(dir.path())).await;
    assert_eq!(
        s.call("POST", "/api/namespaces", Some(json!({"id": "kept"})))
            .await
            .0,
        201
    );
    assert_eq!(
        s.call(
            "POST",
            &format!("{P}/persist/configs"),
            Some(simple_config("persist"))
        )
        .await
        .0,
        201
    );
    assert_eq!(
        s.call("POST", &format!("{P}/persist/configs/1"), None)
            .await
            .0,
        201
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

    // A second server on the same data dir fails fast with a clear message.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = gofer_server::serve(config_for(dir.path()), listener, std::future::pending())
        .await
        .expect_err("second server must not start");
    let message = err.to_string();
    assert!(
        message.contains("in use by another Gofer server"),
        "{message}"
    );
    // The first one is unharmed.
    assert_eq!(s.call("GET", "/api/namespaces/kept", None).await.0, 200);
    s.stop().await;

    let s = TestServer::start_with(config_for(dir.path())).await;
    assert_eq!(s.call("GET", "/api/namespaces/kept", None).await.0, 200);
    let (_, v) = s.call("GET", &format!("{P}/persist/configs/1"), None).await;
    assert_eq!(v["config"]["state"], "live");
    let (_, d) = s
        .call("GET", &format!("{P}/persist/deployments/1"), None)
        .await;
    assert_eq!(d["deployment"]["status"], "Successful");
    let (_, sys) = s.call("GET", "/api/system", None).await;
    assert_eq!(sys["ignore_pipeline_run_events"], true);
    // The default namespace is not duplicated, and the next version continues.
    let (_, list) = s.call("GET", "/api/namespaces", None).await;
    assert_eq!(list["namespaces"].as_array().unwrap().len(), 2);
    let (_, resp) = s
        .call(
            "POST",
            &format!("{P}/persist/configs"),
            Some(simple_config("persist")),
        )
        .await;
    assert_eq!(resp["pipeline"]["config"]["version"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_get_distinct_consecutive_versions() {
    let (s, _dir) = TestServer::start().await;
    let path = format!("{P}/racy/configs");
    let requests = (0..16).map(|_| s.call("POST", &path, Some(simple_config("racy"))));
    let results = futures_util::future::join_all(requests).await;
    let mut versions: Vec<u64> = results
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 201, "{body}");
            body["pipeline"]["config"]["version"].as_u64().unwrap()
        })
        .collect();
    versions.sort();
    assert_eq!(versions, (1..=16).collect::<Vec<_>>());
    // The metadata was created once: exactly one created_pipeline event for this pipeline.
    let path = "/api/events?history=true&reverse=true&kinds=created_pipeline&pipeline_id=racy";
    let mut ws = crate::support::ws_connect(&s, path).await;
    let (frames, close) = crate::support::frames_until_close(&mut ws).await;
    assert_eq!(close.0, 1000);
    assert_eq!(frames.len(), 1, "{frames:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_events_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    config.api.event_log_retention = 1;
    config.api.event_prune_interval = 1;
    let s = TestServer::start_with(config).await;
    let (status, body) = s
        .call(
            "POST",
            &format!("{P}/short/configs"),
            Some(simple_config("short")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, d) = s.call("POST", &format!("{P}/short/configs/1"), None).await;
    let id = d["deployment"]["logs"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        s.call("GET", &format!("/api/events/{id}"), None).await.0,
        200
    );
    // Older than one second, it goes at the next prune (every second).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.call("GET", &format!("/api/events/{id}"), None).await.0 != 404 {
        assert!(
            std::time::Instant::now() < deadline,
            "event {id} was never pruned"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_diff_between_versions() {
    let (s, _dir) = TestServer::start().await;
    let mut first = simple_config("differ")["config"].clone();
    first["tasks"][0]["variables"] = json!({"TOKEN": "pipeline_secret{{token}}"});
    first["tasks"][0]["registry_auth"] = json!({"user": "ci", "pass": "hunter2-literal"});
    let mut second = first.clone();
    second["timeout"] = json!(60);
    second["tasks"][0]["image"] = json!("busybox:2");
    second["tasks"][0]["variables"] = json!({"TOKEN": "pipeline_secret{{other}}"});
    second["tasks"][0]["registry_auth"] = json!({"user": "ci", "pass": "changed-literal"});
    for config in [&first, &second] {
        let input: PipelineConfigInput = serde_json::from_value(config.clone()).unwrap();
        s.sdk
            .register_config("default", "differ", &input)
            .await
            .unwrap();
    }
    let d = s.sdk.config_diff("default", "differ", 1, 2).await.unwrap();
    assert_eq!((d.from_version, d.to_version), (1, 2));
    assert_eq!(
        d.pipeline,
        vec![FieldChange {
            field: "timeout".into(),
            from: json!(0),
            to: json!(60)
        }]
    );
    let first_task = d.tasks_changed[0].task.clone();
    let fields: Vec<&str> = d.tasks_changed[0]
        .changes
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    // A literal registry password never shows, so changing one is not visible either; secret
    // references show as written.
    assert_eq!(fields, ["image", "variables.TOKEN"], "{first_task}: {d:?}");
    let text = serde_json::to_string(&d).unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("changed-literal"),
        "{text}"
    );
    assert!(text.contains("pipeline_secret{{other}}"), "{text}");
    // Latest against latest: nothing.
    assert!(
        s.sdk
            .config_diff("default", "differ", 0, 2)
            .await
            .unwrap()
            .is_empty()
    );

    // A missing version is 404, and so is one that is not a number (a path id that breaks its
    // rule names nothing).
    let path = "/api/namespaces/default/pipelines/differ/configs";
    assert_error(
        &s.call("GET", &format!("{path}/1/diff/7"), None).await,
        404,
        "7",
    );
    assert_error(
        &s.call("GET", &format!("{path}/1/diff/two"), None).await,
        404,
        "config version 'two' not found",
    );
    s.stop().await;
}
