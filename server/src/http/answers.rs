//! Test builds (feature `test-support`) check every JSON answer of the server against the
//! OpenAPI document (docs/api.md#the-openapi-document): the schema of its route and status.
//! Violations are kept per data dir for `testing::answer_violations`.

/// Answers of the servers running in this process that did not match the OpenAPI document, by
/// data dir (see [`answer_violations`]).
static VIOLATIONS: std::sync::Mutex<Vec<(std::path::PathBuf, String)>> =
    std::sync::Mutex::new(Vec::new());

/// The answers of the server on `data_dir` that did not match the OpenAPI document
/// (docs/api.md#the-openapi-document), taken: each is said once. Every JSON answer of an in-process
/// server is checked against the schema of its route and status before it is sent.
pub fn answer_violations(data_dir: &std::path::Path) -> Vec<String> {
    let mut all = VIOLATIONS.lock().unwrap_or_else(|e| e.into_inner());
    let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|(dir, _)| dir == data_dir);
    *all = rest;
    mine.into_iter().map(|(_, v)| v).collect()
}

/// The compiled schema of each (method, template, status), built on first use from the
/// document of the route table.
type Validators =
    std::collections::HashMap<(String, String, u16), Option<std::sync::Arc<jsonschema::Validator>>>;
static VALIDATORS: std::sync::Mutex<Option<(serde_json::Value, Validators)>> =
    std::sync::Mutex::new(None);

/// Checks one answer of `method template` against the document; answers it unchanged.
pub(crate) async fn check_answer(
    state: &super::AppState,
    method: &warp::http::Method,
    template: &'static str,
    response: warp::reply::Response,
) -> warp::reply::Response {
    use http_body_util::BodyExt;
    let json = response
        .headers()
        .get(warp::http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    let status = response.status().as_u16();
    if !json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            record(
                state,
                format!("{method} {template} → {status}: body unreadable: {e}"),
            );
            bytes::Bytes::new()
        }
    };
    if let Err(problem) = answer_problem(&state.routes, method, template, status, &bytes) {
        record(state, format!("{method} {template} → {status}: {problem}"));
    }
    warp::reply::Response::from_parts(parts, bytes.into())
}

fn record(state: &super::AppState, violation: String) {
    eprintln!("ANSWER DOES NOT MATCH THE OPENAPI DOCUMENT: {violation}");
    let mut all = VIOLATIONS.lock().unwrap_or_else(|e| e.into_inner());
    all.push((state.data_dir.clone(), violation));
}

/// Whether `bytes`, answered with `status` by `method template`, matches the document of
/// `routes`: `Err` says how it does not.
pub fn answer_problem(
    routes: &[super::router::Route],
    method: &warp::http::Method,
    template: &'static str,
    status: u16,
    bytes: &[u8],
) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let validator = {
        let mut cache = VALIDATORS.lock().unwrap_or_else(|e| e.into_inner());
        let (document, validators) =
            cache.get_or_insert_with(|| (super::openapi::document(routes), Validators::new()));
        let key = (method.to_string(), template.to_string(), status);
        if !validators.contains_key(&key) {
            let compiled = answer_schema(document, method, template, status)?
                .map(|schema| compile(document, schema).map(std::sync::Arc::new))
                .transpose()?;
            validators.insert(key.clone(), compiled);
        }
        validators.get(&key).cloned().flatten()
    };
    let Some(validator) = validator else {
        return Err("the document gives this status no JSON body".into());
    };
    let problems: Vec<String> = validator
        .iter_errors(&value)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}; body: {}",
            problems.join("; "),
            truncate(&value)
        ))
    }
}

fn truncate(value: &serde_json::Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(600) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// Every `default` the document gives a schema, checked against that schema (references
/// resolved in the document): a default the schema refuses is a contradiction that validators
/// and generated clients trip over. Returns one line per default that does not validate.
pub fn default_violations(document: &serde_json::Value) -> Vec<String> {
    fn walk(
        value: &serde_json::Value,
        pointer: String,
        found: &mut Vec<(String, serde_json::Value)>,
    ) {
        match value {
            serde_json::Value::Object(map) => {
                let schema_like = ["type", "$ref", "anyOf", "oneOf", "allOf", "enum", "const"]
                    .iter()
                    .any(|k| map.contains_key(*k));
                if schema_like && let Some(default) = map.get("default") {
                    found.push((pointer.clone(), default.clone()));
                }
                for (k, v) in map {
                    let escaped = k.replace('~', "~0").replace('/', "~1");
                    walk(v, format!("{pointer}/{escaped}"), found);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, format!("{pointer}/{i}"), found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(document, String::new(), &mut found);
    let mut problems = Vec::new();
    for (pointer, default) in found {
        let schema = document
            .pointer(&pointer)
            .unwrap_or(&serde_json::Value::Null);
        let validator = match compile(document, schema) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{pointer}: {e}"));
                continue;
            }
        };
        if let Some(e) = validator.iter_errors(&default).next() {
            problems.push(format!("{pointer}: default {default} is refused: {e}"));
        }
    }
    problems
}

/// Why the document's request schema for `method path` (a path as the document writes it, e.g.
/// `/api/namespaces`) refuses `body`, or `None` when it accepts it. Panics when the operation
/// has no JSON request body: a test asking about one has the wrong operation.
pub fn request_problem(
    document: &serde_json::Value,
    method: &str,
    path: &str,
    body: &serde_json::Value,
) -> Option<String> {
    let schema = &document["paths"][path][method.to_lowercase()]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert!(
        !schema.is_null(),
        "the document has no JSON request body for {method} {path}"
    );
    let validator = compile(document, schema)
        .unwrap_or_else(|e| panic!("the request schema of {method} {path}: {e}"));
    validator.iter_errors(body).next().map(|e| e.to_string())
}

/// A validator of `schema`, one of the document's schemas, with the document's components
/// beside it for its references to point into.
fn compile(
    document: &serde_json::Value,
    schema: &serde_json::Value,
) -> Result<jsonschema::Validator, String> {
    let mut root = match schema {
        serde_json::Value::Object(map) => map.clone(),
        serde_json::Value::Bool(true) => serde_json::Map::new(),
        other => return Err(format!("unexpected schema {other}")),
    };
    root.insert("components".into(), document["components"].clone());
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&serde_json::Value::Object(root))
        .map_err(|e| format!("the document's schema does not compile: {e}"))
}

/// The JSON schema the document gives `status` of `method template`; `None` when that status has
/// no JSON body.
fn answer_schema<'d>(
    document: &'d serde_json::Value,
    method: &warp::http::Method,
    template: &'static str,
    status: u16,
) -> Result<Option<&'d serde_json::Value>, String> {
    let path = super::openapi::document_path(template);
    let op = &document["paths"][&path][method.as_str().to_lowercase()];
    if op.is_null() {
        return Err(format!("the document has no operation {method} {path}"));
    }
    let responses = &op["responses"];
    let range = format!("{}XX", status / 100);
    let mut response = [status.to_string(), range]
        .iter()
        .map(|k| &responses[k])
        .find(|r| !r.is_null())
        .ok_or_else(|| format!("status {status} is not documented"))?;
    if let Some(name) = response["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/responses/"))
    {
        response = &document["components"]["responses"][name];
    }
    let schema = &response["content"]["application/json"]["schema"];
    Ok((!schema.is_null()).then_some(schema))
}
