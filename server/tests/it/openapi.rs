//! The OpenAPI document (docs/api.md#the-openapi-document): generated from the route table, committed
//! as `assets/openapi.json`, served at `GET /api/openapi.json`, and equal to the routes both ways.
//! Every other test checks its answers against it (`TestServer::assert_answers_documented`).

use crate::support::TestServer;
use gofer_server::http::openapi::{self, document_path};
use gofer_server::http::router::{self, Match};
use gofer_server::http::routes;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets/openapi.json")
}

fn committed() -> Value {
    let text = std::fs::read_to_string(committed_path()).expect("assets/openapi.json");
    serde_json::from_str(&text).expect("assets/openapi.json is JSON")
}

/// Set `GOFER_UPDATE_OPENAPI=1` to rewrite `assets/openapi.json` (and docs/api-reference.md)
/// after changing a route or an API type.
#[test]
fn the_committed_document_is_what_the_code_generates() {
    let generated = openapi::render(&routes::all());
    if std::env::var("GOFER_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(committed_path(), &generated).expect("write assets/openapi.json");
    }
    let on_disk = std::fs::read_to_string(committed_path()).unwrap_or_default();
    assert!(
        on_disk == generated,
        "assets/openapi.json is stale: run `GOFER_UPDATE_OPENAPI=1 cargo test -p gofer-server --test it openapi` and commit the result"
    );
}

/// A default the schema itself refuses (`"default": ""` on an id of at least 3 characters) is
/// reported by OpenAPI validators and trips generated clients.
#[test]
fn every_default_in_the_document_is_valid_against_its_schema() {
    let problems = gofer_server::testing::default_violations(&committed());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Descriptions come from doc comments, and readers of the document have no rustdoc: an
/// intra-doc link (``[`Type`]``) or a `crate::` path in one means nothing to them.
#[test]
fn descriptions_carry_no_rustdoc_links() {
    fn walk(value: &Value, pointer: &str, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == "description"
                        && let Some(text) = v.as_str()
                        && (text.contains("[`") || text.contains("crate::"))
                    {
                        found.push(format!("{pointer}: {text}"));
                    }
                    walk(v, &format!("{pointer}/{k}"), found);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{pointer}/{i}"), found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(&committed(), "", &mut found);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// `{name}` segments replaced by a value each parameter accepts.
fn example(path: &str) -> String {
    path.split('/')
        .map(
            |part| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some("run_id" | "version" | "other" | "deployment_id") => "1".to_string(),
                Some(name) => format!("x{}", name.replace('_', "")),
                None => part.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_route_is_documented_and_every_documented_operation_is_routed() {
    let document = committed();
    let table = routes::all();
    let external: BTreeSet<String> = openapi::EXTERNAL_EVENTS
        .iter()
        .map(|(t, _)| document_path(t))
        .collect();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        if external.contains(path) {
            continue;
        }
        for method in item.as_object().expect("path item").keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = table
        .iter()
        .map(|r| (r.method.to_string(), document_path(r.template)))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented operations no route serves: {unrouted:?}"
    );

    // Each documented operation, requested on an example path, reaches the route it documents
    // (no earlier row shadows it, and the parameter names map back).
    for (method, path) in &documented {
        let method = warp::http::Method::from_bytes(method.as_bytes()).expect("method");
        match router::find(&table, &method, &example(path)) {
            Match::Found(route, _) => assert_eq!(
                document_path(route.template),
                *path,
                "{method} {} reaches another route",
                example(path)
            ),
            _ => panic!("{method} {} is not routed", example(path)),
        }
    }

    // Operation ids are unique; every operation says who may call it and what it answers.
    let mut ids = BTreeSet::new();
    for item in document["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{id}: summary"
            );
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{id}: responses"
            );
            assert!(op["security"].is_array(), "{id}: security");
        }
    }
    // Every reference points at a schema the document has.
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    let mut refs = Vec::new();
    collect_refs(&document, &mut refs);
    for r in refs {
        if let Some(name) = r.strip_prefix("#/components/schemas/") {
            assert!(schemas.contains_key(name), "dangling reference {r}");
        }
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref"
                    && let Some(r) = v.as_str()
                {
                    out.push(r.to_string());
                }
                collect_refs(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Where the document states a rule, it states the server's: a body the request schema accepts
/// is accepted, and one it refuses is refused (400), for the edges of the rules it can express
/// (lengths, patterns, required fields, control characters in descriptions).
#[tokio::test]
async fn request_schemas_accept_and_refuse_what_the_server_does() {
    let (s, _dir) = TestServer::start().await;
    let document = committed();
    let long_task = "t".repeat(65);
    let configs = "/api/namespaces/{namespace_id}/pipelines/{pipeline_id}/configs";
    let config = |change: &dyn Fn(&mut Value)| {
        let mut body = crate::support::simple_config("agree");
        change(&mut body["config"]);
        body
    };
    let cases: Vec<(&str, &str, String, Value)> = vec![
        (
            "POST",
            "/api/namespaces",
            "/api/namespaces".into(),
            serde_json::json!({"id": "agree1", "description": "two\nlines\tand a tab"}),
        ),
        (
            "POST",
            "/api/namespaces",
            "/api/namespaces".into(),
            serde_json::json!({"id": "agree2", "description": "a windows\r\nline break"}),
        ),
        (
            "POST",
            "/api/namespaces",
            "/api/namespaces".into(),
            serde_json::json!({"id": "ab"}),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|_| {}),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| {
                c.as_object_mut().unwrap().remove("id");
            }),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| {
                c.as_object_mut().unwrap().remove("name");
            }),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"] = serde_json::json!([])),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["description"] = "carriage\rreturn".into()),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"][1]["image"] = "   ".into()),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| {
                c["tasks"][1].as_object_mut().unwrap().remove("image");
            }),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"][1]["id"] = long_task.clone().into()),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"][1]["description"] = "line\nbreak\tand tab".into()),
        ),
        // null where the server reads it as empty (schemathesis found the schema refusing it).
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| {
                c["description"] = Value::Null;
                c["tasks"][0]["variables"] = Value::Null;
                c["tasks"][0]["depends_on"] = Value::Null;
                c["tasks"][0]["inject_api_token"] = Value::Null;
                c["tasks"][0]["timeout"] = Value::Null;
            }),
        ),
        // ...but not for the tasks or an image, whose empty value is refused.
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"][0]["image"] = Value::Null),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"] = Value::Null),
        ),
        // A record given as an array (serde would read its fields in order).
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"][0]["resources"] = serde_json::json!([null, null])),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"][0]["retries"] = serde_json::json!([3, 10])),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"] = serde_json::json!([["first", "busybox"]])),
        ),
        (
            "POST",
            "/api/roles",
            "/api/roles".into(),
            serde_json::json!({"id": "agree", "permissions": [[["runs"], ["read"]]]}),
        ),
        (
            "POST",
            "/api/roles",
            "/api/roles".into(),
            serde_json::json!({"id": "agree", "permissions": [{"resources": ["runs"], "actions": ["read"]}]}),
        ),
        // Resources: numbers, strings, and what is neither.
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| {
                c["tasks"][0]["resources"] = serde_json::json!({"cpus": 0.5, "memory": "512Mi"})
            }),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"][0]["resources"] = serde_json::json!({"memory": {}})),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"][0]["resources"] = serde_json::json!({"memory": 1024})),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"][0]["resources"] = serde_json::json!({"memory": " 1.5GiB "})),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"][0]["resources"] = serde_json::json!({"memory": ""})),
        ),
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"][0]["resources"] = serde_json::json!({"memory": "12 apples"})),
        ),
        // Permission resources: kinds in any case, targets only where a kind takes one.
        (
            "POST",
            "/api/roles",
            "/api/roles".into(),
            serde_json::json!({"id": "agree-case", "permissions": [{"resources": ["RUNS", " namespaces:team-.*"], "actions": ["read"]}]}),
        ),
        (
            "POST",
            "/api/roles",
            "/api/roles".into(),
            serde_json::json!({"id": "agree-empty", "permissions": [{"resources": [""], "actions": ["read"]}]}),
        ),
        (
            "POST",
            "/api/roles",
            "/api/roles".into(),
            serde_json::json!({"id": "agree-target", "permissions": [{"resources": ["runs:.*"], "actions": ["read"]}]}),
        ),
        (
            "POST",
            "/api/roles",
            "/api/roles".into(),
            serde_json::json!({"id": "agree-notarget", "permissions": [{"resources": ["pipelines:"], "actions": ["read"]}]}),
        ),
        // Deploy strategies: one bake, a percent in range, not both strategies.
        (
            "POST",
            "/api/namespaces/{namespace_id}/pipelines/{pipeline_id}/configs/{version}",
            "/api/namespaces/default/pipelines/agree/configs/1".into(),
            serde_json::json!({"canary": {"percent": 10, "bake_runs": 2, "bake_seconds": 60}}),
        ),
        (
            "POST",
            "/api/namespaces/{namespace_id}/pipelines/{pipeline_id}/configs/{version}",
            "/api/namespaces/default/pipelines/agree/configs/1".into(),
            serde_json::json!({"canary": {"percent": 0}}),
        ),
        (
            "POST",
            "/api/namespaces/{namespace_id}/pipelines/{pipeline_id}/configs/{version}",
            "/api/namespaces/default/pipelines/agree/configs/1".into(),
            serde_json::json!({"canary": {"percent": 10}, "smoke": {}}),
        ),
        // Variable keys: no '=', whitespace or NUL, in a task and in a smoke run.
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["tasks"][0]["variables"] = serde_json::json!({"A=B": "x"})),
        ),
        (
            "POST",
            "/api/namespaces/{namespace_id}/pipelines/{pipeline_id}/configs/{version}",
            "/api/namespaces/default/pipelines/agree/configs/1".into(),
            serde_json::json!({"smoke": {"variables": {"MY KEY": "x"}}}),
        ),
        // JSON Schema counts 60.0 an integer, and so does the server.
        (
            "POST",
            configs,
            "/api/namespaces/default/pipelines/agree/configs".into(),
            config(&|c| c["timeout"] = serde_json::json!(60.0)),
        ),
    ];
    let mut disagreements = Vec::new();
    for (method, template, path, body) in cases {
        let documented = gofer_server::testing::request_problem(&document, method, template, &body);
        let (status, answer) = s.call(method, &path, Some(body.clone())).await;
        let accepted = (200..300).contains(&status);
        if accepted == documented.is_some() || (!accepted && status != 400) {
            disagreements.push(format!(
                "{method} {path} {body}: the server answered {status} {answer}, the document says {}",
                documented.as_deref().unwrap_or("valid")
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    s.assert_answers_documented();
    s.stop().await;
}

#[tokio::test]
async fn the_server_serves_the_document_without_a_token() {
    let (s, _dir) = TestServer::start().await;
    // Not from loopback's development bypass alone: no token and a foreign version header
    // would be refused elsewhere, the document is open.
    let res = s
        .http
        .get(s.url("/api/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("application/json"))
    );
    let served: Value = res.json().await.expect("JSON");
    assert_eq!(served, committed());
    assert_eq!(served["openapi"], "3.1.0");
    s.stop().await;
}

fn reference_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/api-reference.md")
}

/// The `gofer` command that calls an operation, where there is one.
fn cli_equivalent(id: &str) -> Option<&'static str> {
    Some(match id {
        "stream_events" => "gofer event watch",
        "get_event" => "gofer event get <event_id>",
        "delete_event" => "gofer event delete <event_id>",
        "list_extensions" => "gofer extension list",
        "install_extension" => "gofer extension install <id> <image>",
        "get_extension" => "gofer extension get <id>",
        "uninstall_extension" => "gofer extension uninstall <id>",
        "update_extension" => "gofer extension enable|disable <id>",
        "get_extension_debug_info" => "gofer extension debug <id>",
        "get_extension_logs" => "gofer extension logs <id>",
        "list_extension_objects"
        | "get_extension_object"
        | "put_extension_object"
        | "delete_extension_object" => "gofer object extension list|get|put|delete",
        "list_namespaces" => "gofer namespace list",
        "create_namespace" => "gofer namespace create <id>",
        "get_namespace" => "gofer namespace get <id>",
        "delete_namespace" => "gofer namespace delete <id>",
        "update_namespace" => "gofer namespace update <id>",
        "list_pipelines" => "gofer pipeline list",
        "get_pipeline" => "gofer pipeline get <pipeline>",
        "delete_pipeline" => "gofer pipeline delete <pipeline>",
        "update_pipeline" => "gofer pipeline enable|disable <pipeline>",
        "list_configs" => "gofer pipeline config list <pipeline>",
        "register_config" => "gofer up <path>",
        "get_config" => "gofer pipeline config get <pipeline> <version>",
        "diff_configs" => "gofer pipeline config diff <pipeline> <from> <to>",
        "deploy_config" => "gofer pipeline config deploy <pipeline> <version>",
        "delete_config" => "gofer pipeline config delete <pipeline> <version>",
        "list_deployments" => "gofer pipeline deployment list <pipeline>",
        "get_deployment" => "gofer pipeline deployment get <pipeline> <id>",
        "promote_deployment" => "gofer pipeline deployment promote <pipeline> <id>",
        "abort_deployment" => "gofer pipeline deployment abort <pipeline> <id>",
        "list_pipeline_objects"
        | "get_pipeline_object"
        | "put_pipeline_object"
        | "delete_pipeline_object" => "gofer pipeline object list|get|put|delete",
        "list_runs" => "gofer run list <pipeline>",
        "start_run" => "gofer run start <pipeline>",
        "get_run" => "gofer run get <pipeline> <run>",
        "cancel_run" => "gofer run cancel <pipeline> <run>",
        "retry_run" => "gofer run retry <pipeline> <run>",
        "list_run_objects" | "get_run_object" | "put_run_object" | "delete_run_object" => {
            "gofer run object list|get|put|delete"
        }
        "list_task_executions" => "gofer task list <pipeline> <run>",
        "get_task_execution" => "gofer task get <pipeline> <run> <task>",
        "cancel_task_execution" => "gofer task cancel <pipeline> <run> <task>",
        "get_logs" => "gofer task logs <pipeline> <run> <task>",
        "attach_task_execution" => "gofer task attach <pipeline> <run> <task>",
        "set_task_result" | "post_task_result" => "gofer task result <pipeline> <run> <task>",
        "list_roles" => "gofer role list",
        "create_role" => "gofer role create <id>",
        "get_role" => "gofer role get <id>",
        "delete_role" => "gofer role delete <id>",
        "update_role" => "gofer role update <id>",
        "list_pipeline_secrets" => "gofer secret pipeline list <pipeline>",
        "put_pipeline_secret" => "gofer secret pipeline put <pipeline> <key>",
        "get_pipeline_secret" => "gofer secret pipeline get <pipeline> <key>",
        "delete_pipeline_secret" => "gofer secret pipeline delete <pipeline> <key>",
        "list_subscriptions" => "gofer pipeline subscription list <pipeline>",
        "create_subscription" => "gofer pipeline subscribe <pipeline> <extension> <subscription>",
        "get_subscription" => {
            "gofer pipeline subscription get <pipeline> <extension> <subscription>"
        }
        "delete_subscription" => "gofer pipeline unsubscribe <pipeline> <extension> <subscription>",
        "update_subscription" => {
            "gofer pipeline subscription enable|disable <pipeline> <extension> <subscription>"
        }
        "backfill_subscription" => {
            "gofer pipeline subscription backfill <pipeline> <extension> <subscription>"
        }
        "list_global_secrets" => "gofer secret global list",
        "put_global_secret" => "gofer secret global put <key>",
        "get_global_secret" => "gofer secret global get <key>",
        "delete_global_secret" => "gofer secret global delete <key>",
        "update_system_preferences" => "gofer service toggle-event-ingress",
        "backup" => "gofer service backup <file>",
        "list_tokens" => "gofer token list",
        "create_token" => "gofer token create",
        "create_bootstrap_token" => "gofer token bootstrap",
        "whoami" => "gofer token whoami",
        "get_token_by_id" => "gofer token get <id>",
        "delete_token" => "gofer token delete <id>",
        "update_token" => "gofer token enable|disable <id>",
        _ => return None,
    })
}

/// A schema's name for the reference: the component it points at, or its type.
fn schema_label(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("[`{name}`](../assets/openapi.json)");
    }
    match schema["type"].as_str() {
        Some("string") if schema["format"] == "binary" => "raw bytes".into(),
        Some(t) => format!("`{t}`"),
        None if schema == &Value::Bool(true)
            || schema.as_object().is_some_and(|m| m.is_empty()) =>
        {
            "any JSON value".into()
        }
        None => "JSON".into(),
    }
}

fn content_label(content: &Value) -> String {
    content
        .as_object()
        .map(|c| {
            c.iter()
                .map(|(media, v)| format!("{} (`{media}`)", schema_label(&v["schema"])))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Method, path and the operation object.
type Operation = (String, String, Value);

/// docs/api-reference.md, from the document.
fn reference(document: &Value) -> String {
    let mut out = String::new();
    out.push_str("# API reference (generated)\n\n");
    out.push_str(
        "Generated from [assets/openapi.json](../assets/openapi.json), which the server also \
         serves at `GET /api/openapi.json`; do not edit by hand (see \
         [api.md](api.md#the-openapi-document)). The rules every operation shares (errors, \
         pagination, the version header) are in [api.md](api.md#common-rules). Examples assume \
         `GOFER=http://localhost:8080` and a token in `$TOKEN`.\n",
    );
    let mut by_tag: Vec<(String, Vec<Operation>)> = document["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| (t["name"].as_str().expect("tag").to_string(), Vec::new()))
        .collect();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let tag = op["tags"][0].as_str().expect("tag");
            let group = by_tag
                .iter_mut()
                .find(|(t, _)| t == tag)
                .expect("a listed tag");
            group
                .1
                .push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    for (tag, mut ops) in by_tag {
        if ops.is_empty() {
            continue;
        }
        ops.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        out.push_str(&format!("\n## {tag}\n"));
        for (method, path, op) in ops {
            let id = op["operationId"].as_str().expect("id");
            out.push_str(&format!("\n### `{method} {path}`\n\n"));
            out.push_str(&format!(
                "{} Operation `{id}`.{}\n\n",
                op["summary"].as_str().unwrap_or(""),
                if op["x-websocket"] == true {
                    " Websocket."
                } else {
                    ""
                }
            ));
            out.push_str(&format!(
                "- **Who:** {}\n",
                op["description"].as_str().unwrap_or("")
            ));
            let params: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    let p = match p["$ref"].as_str() {
                        Some(r) => &document["components"]["parameters"][r.rsplit('/').next()?],
                        None => p,
                    };
                    (p["in"] != "header").then(|| {
                        format!(
                            "`{}` ({}, {}): {}",
                            p["name"].as_str().unwrap_or(""),
                            p["in"].as_str().unwrap_or(""),
                            p["schema"]["type"].as_str().unwrap_or(""),
                            p["description"].as_str().unwrap_or("")
                        )
                    })
                })
                .collect();
            if !params.is_empty() {
                out.push_str("- **Parameters:**\n");
                for p in params {
                    out.push_str(&format!("  - {p}\n"));
                }
            }
            if let Some(body) = op.get("requestBody") {
                out.push_str(&format!(
                    "- **Body{}:** {}\n",
                    if body["required"] == true {
                        ""
                    } else {
                        " (optional)"
                    },
                    content_label(&body["content"])
                ));
            }
            let responses = op["responses"].as_object().expect("responses");
            let mut answers = Vec::new();
            let mut errors = Vec::new();
            for (status, r) in responses {
                if status.ends_with("XX") {
                    continue;
                }
                if r.get("$ref").is_some() {
                    errors.push(status.clone());
                } else if r.get("content").is_some() {
                    answers.push(format!("{status} {}", content_label(&r["content"])));
                } else {
                    answers.push(format!(
                        "{status} ({})",
                        r["description"].as_str().unwrap_or("")
                    ));
                }
            }
            out.push_str(&format!("- **Answers:** {}\n", answers.join("; ")));
            out.push_str(&format!("- **Errors:** {}\n", errors.join(", ")));
            let url_path = path.replace('{', "<").replace('}', ">");
            let auth = if op["security"].as_array().is_some_and(|s| s.is_empty()) {
                ""
            } else {
                " -H \"Authorization: Bearer $TOKEN\""
            };
            let example = if op["x-websocket"] == true {
                format!("websocat{auth} \"ws://localhost:8080{url_path}\"")
            } else {
                let body = match op.get("requestBody").map(|b| &b["content"]) {
                    Some(c) if c.get("application/json").is_some() => {
                        " -H 'Content-Type: application/json' -d @body.json"
                    }
                    Some(_) => " --data-binary @file",
                    None => "",
                };
                let m = if method == "GET" {
                    String::new()
                } else {
                    format!(" -X {method}")
                };
                format!("curl{m}{auth}{body} \"$GOFER{url_path}\"")
            };
            out.push_str(&format!("- **Example:** `{example}`\n"));
            if let Some(cli) = cli_equivalent(id) {
                out.push_str(&format!("- **CLI:** `{cli}`\n"));
            }
        }
    }
    out
}

#[test]
fn the_api_reference_is_generated_from_the_document() {
    let generated = reference(&committed());
    if std::env::var("GOFER_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(reference_path(), &generated).expect("write docs/api-reference.md");
    }
    let on_disk = std::fs::read_to_string(reference_path()).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/api-reference.md is stale: run `GOFER_UPDATE_OPENAPI=1 cargo test -p gofer-server --test it openapi` and commit the result"
    );
    // Every operation is in it.
    let operations = committed()["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| item.as_object().expect("item").len())
        .sum::<usize>();
    assert_eq!(generated.matches("\n### `").count(), operations);
}

/// The check every test's answers go through catches an answer that breaks the document.
#[test]
fn answers_are_checked_against_the_document() {
    use gofer_server::testing::answer_problem;
    use warp::http::Method;
    let table = routes::all();
    let runs = "/api/namespaces/{ns}/pipelines/{p}/runs";
    let check = |method: Method, template, status, body: &str| {
        answer_problem(&table, &method, template, status, body.as_bytes())
    };
    assert_eq!(check(Method::GET, runs, 200, r#"{"runs": []}"#), Ok(()));
    let wrong = check(Method::GET, runs, 200, r#"{"runs": "none"}"#);
    assert!(
        wrong.as_ref().is_err_and(|e| e.contains("/runs")),
        "{wrong:?}"
    );
    let missing = check(Method::GET, runs, 200, r#"{}"#);
    assert!(
        missing.as_ref().is_err_and(|e| e.contains("runs")),
        "{missing:?}"
    );
    // Errors carry the error body, whatever the status.
    assert_eq!(
        check(
            Method::GET,
            runs,
            404,
            r#"{"request_id": "r", "message": "m"}"#
        ),
        Ok(())
    );
    assert!(check(Method::GET, runs, 404, r#"{"message": "m"}"#).is_err());
    assert!(
        check(
            Method::GET,
            runs,
            418,
            r#"{"request_id": "r", "message": "m"}"#
        )
        .is_ok()
    );
    // A run whose state is not one the document lists.
    let run = r#"{"run": {"namespace_id": "n", "pipeline_id": "p", "pipeline_config_version": 1,
        "run_id": 1, "queued": 0, "started": 0, "ended": 0, "state": "sleeping",
        "status": "unknown", "status_reason": null,
        "initiator": {"id": "i", "user": "u", "kind": "api"}, "variables": [],
        "token_id": null, "store_objects_expired": false, "event_id": null, "payload": null,
        "only": null, "command_override": null}}"#;
    let bad_state = check(
        Method::GET,
        "/api/namespaces/{ns}/pipelines/{p}/runs/{run}",
        200,
        run,
    );
    assert!(
        bad_state.as_ref().is_err_and(|e| e.contains("sleeping")),
        "{bad_state:?}"
    );
    let good = run.replace("sleeping", "running");
    assert_eq!(
        check(
            Method::GET,
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}",
            200,
            &good
        ),
        Ok(())
    );
    // A JSON answer where the document says there is none.
    assert!(check(Method::DELETE, "/api/namespaces/{ns}", 204, "{}").is_err());
}
