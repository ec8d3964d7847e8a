//! The OpenAPI 3.1 document of the API (docs/api.md#the-openapi-document), built from the route
//! table: paths from the templates, each operation from the row's [`Doc`](super::apidoc::Doc), schemas derived from
//! the `gofer-core` types with schemars, and what every route shares (auth, the version header,
//! the error body) from the row's [`Access`]. `assets/openapi.json` is this output, committed; a
//! test keeps the two equal.

use super::apidoc::{Body, EVENT_ID, Query, QueryKind};
use super::router::{Access, Route};
use schemars::SchemaGenerator;
use schemars::generate::{Contract, SchemaSettings};
use serde_json::{Map, Value, json};

/// The document's name for a path parameter of `template` (Gofer 0.9's names, so generated
/// clients keep their argument names; the route table uses short ones).
pub fn param_name(template: &str, name: &str) -> String {
    match name {
        "ns" => "namespace_id",
        "p" => "pipeline_id",
        "run" => "run_id",
        "task" => "task_id",
        "ext" => "extension_id",
        "sub" => "subscription_id",
        "id" if template.starts_with("/api/extensions/") => "extension_id",
        "id" if template.starts_with("/api/roles/") => "role_id",
        "id" if template.starts_with("/api/external/") || template.starts_with("/events/") => {
            "extension_id"
        }
        other => other,
    }
    .to_string()
}

/// `template` with the document's parameter names.
pub fn document_path(template: &str) -> String {
    template
        .split('/')
        .map(|part| match param(part) {
            Some(name) => format!("{{{}}}", param_name(template, name)),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `name` of a `{name}` path segment.
fn param(part: &str) -> Option<&str> {
    part.strip_prefix('{').and_then(|p| p.strip_suffix('}'))
}

/// Namespace, pipeline, role, subscription and extension ids (gofer_core::id::IdKind::Entity).
const ENTITY: &str = "^[a-zA-Z0-9_-]{3,32}$";

fn path_param(template: &str, name: &str) -> Value {
    let doc_name = param_name(template, name);
    let entity = json!({"type": "string", "pattern": ENTITY});
    let (schema, description) = match name {
        "ns" => (entity, "The namespace's id."),
        "p" => (entity, "The pipeline's id."),
        "run" => (
            json!({"type": "integer", "format": "uint64", "minimum": 1, "maximum": u64::MAX}),
            "The run's id.",
        ),
        "task" => (
            json!({"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"}),
            "The task's id.",
        ),
        "ext" => (entity, "The extension's id."),
        "sub" => (entity, "The subscription's id."),
        "key" => (
            json!({"type": "string", "pattern": "^[a-zA-Z0-9._-]{1,128}$", "not": {"enum": [".", ".."]}}),
            "The object's or secret's key.",
        ),
        "version" | "other" => (
            json!({"type": "integer", "format": "uint64", "minimum": 0, "maximum": u64::MAX}),
            "A config version; 0 means the latest.",
        ),
        "deployment_id" => (
            json!({"type": "integer", "format": "uint64", "minimum": 1, "maximum": u64::MAX}),
            "The deployment's id.",
        ),
        "event_id" => (
            json!({"type": "string", "pattern": EVENT_ID}),
            "The event's id.",
        ),
        "id" if doc_name == "extension_id" => (entity, "The extension's id."),
        "id" if doc_name == "role_id" => (entity, "The role's id."),
        "id" if template.starts_with("/api/tokens/") => {
            (json!({"type": "string"}), "The token's id.")
        }
        _ => (json!({"type": "string"}), "An id."),
    };
    json!({
        "name": doc_name,
        "in": "path",
        "required": true,
        "description": description,
        "schema": schema,
    })
}

fn query_param(q: &Query) -> Value {
    let schema = match q.kind {
        QueryKind::Bool => json!({"type": "boolean"}),
        QueryKind::Int { min, max } => json!({
            "type": "integer",
            "format": "uint64",
            "minimum": min,
            "maximum": max.unwrap_or(u64::MAX),
        }),
        QueryKind::Str => json!({"type": "string"}),
        QueryKind::Pattern(pattern) => json!({"type": "string", "pattern": pattern}),
        QueryKind::List(names) => {
            let one = format!("({})", names.join("|"));
            json!({"type": "string", "pattern": format!("^{one}(,{one})*$")})
        }
    };
    json!({
        "name": q.name,
        "in": "query",
        "required": false,
        "description": q.description,
        "schema": schema,
    })
}

/// The name of an error status's entry in `components.responses`.
fn error_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        408 => "RequestTimeout",
        409 => "Conflict",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        500 => "InternalError",
        502 => "BadGateway",
        503 => "Unavailable",
        507 => "InsufficientStorage",
        _ => "Error",
    }
}

/// Every error status an operation may list.
const ERROR_STATUSES: &[u16] = &[
    400, 401, 403, 404, 405, 408, 409, 413, 415, 500, 502, 503, 507,
];

fn error_description(status: u16) -> &'static str {
    match status {
        400 => "The request is invalid; the message names the field.",
        401 => "No valid token.",
        403 => "The token may not do this.",
        404 => "Something the path names does not exist.",
        405 => "The path exists for other methods.",
        408 => "The body did not arrive in time.",
        409 => "The request conflicts with the current state.",
        413 => "The body is too large.",
        415 => "The body is not declared as JSON (`Content-Type: application/json`).",
        500 => "An internal fault; details are in the server's log.",
        502 => "An extension failed to answer.",
        503 => {
            "Not available now (run ingress paused, pipeline disabled, extension not running, or storage failing)."
        }
        507 => "The server's storage is full.",
        _ => "An error.",
    }
}

/// The generators: answers are described as the server writes them, request bodies as it reads
/// them (a field with a default may be left out), so a type used both ways can have two schemas.
struct Generators {
    answers: SchemaGenerator,
    requests: SchemaGenerator,
}

fn generator(contract: Contract) -> SchemaGenerator {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    settings.contract = contract;
    settings.into_generator()
}

fn body_content(body: Body, generator: &mut SchemaGenerator) -> Option<Value> {
    match body {
        Body::Empty => None,
        Body::Json(f) => Some(json!({"application/json": {"schema": f(generator).to_value()}})),
        Body::Bytes(media) => {
            Some(json!({media: {"schema": {"type": "string", "format": "binary"}}}))
        }
    }
}

fn security(access: Access) -> Value {
    match access {
        Access::Open | Access::Public => json!([]),
        Access::Perm {
            anonymous: true, ..
        } => json!([{"bearer": []}, {}]),
        _ => json!([{"bearer": []}]),
    }
}

fn access_description(access: Access) -> String {
    use gofer_core::enums::Action;
    let action = |a: Action| match a {
        Action::Read => "read",
        Action::Write => "write",
        Action::Delete => "delete",
    };
    let resources = |r: &[super::router::Res]| {
        r.iter()
            .map(|r| format!("{r:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match access {
        Access::Open => "Open: no token, no version header check.".into(),
        Access::Public => "Public: no token.".into(),
        Access::Authenticated => "Any valid token.".into(),
        Access::Admin => "An admin or bootstrap token.".into(),
        Access::AdminOrOwnToken => "An admin token, or the token the path names.".into(),
        Access::PermOrOwnRun {
            action: a,
            resources: r,
        } => format!(
            "Permission: {} on {}; or the run's own token.",
            action(a),
            resources(r)
        ),
        Access::Perm {
            action: a,
            resources: r,
            anonymous,
        } => format!(
            "Permission: {} on {}{}.",
            action(a),
            resources(r),
            if anonymous {
                " (anonymous callers too when the pipeline allows it)"
            } else {
                ""
            }
        ),
    }
}

fn operation(route: &Route, generators: &mut Generators) -> Value {
    let d = &route.doc;
    let template = route.template;
    let mut parameters: Vec<Value> = template
        .split('/')
        .filter_map(param)
        .map(|name| json!({"$ref": format!("#/components/parameters/{}", param_name(template, name))}))
        .collect();
    parameters.extend(d.query.iter().map(query_param));
    if route.access != Access::Open {
        parameters.push(json!({"$ref": "#/components/parameters/ApiVersion"}));
    }

    let mut responses = Map::new();
    let success = match (d.websocket, body_content(d.answer, &mut generators.answers)) {
        (true, _) => json!({"description": "Switching to the websocket protocol."}),
        (false, Some(content)) => json!({"description": "Success.", "content": content}),
        (false, None) => json!({"description": "Success."}),
    };
    responses.insert(
        if d.websocket {
            "101".into()
        } else {
            d.status.to_string()
        },
        success,
    );
    if let Some(plain) = d.plain
        && let Some(content) = body_content(plain, &mut generators.answers)
    {
        responses.insert(
            "200".into(),
            json!({"description": "Without the upgrade: the same lines as a plain stream.", "content": content}),
        );
    }
    if let Some(status) = d.also
        && let Some(content) = body_content(d.answer, &mut generators.answers)
    {
        responses.insert(
            status.to_string(),
            json!({"description": error_description(status), "content": content}),
        );
    }
    let mut errors: Vec<u16> = d.errors.to_vec();
    if route.access != Access::Open {
        errors.push(400);
    }
    match route.access {
        Access::Open | Access::Public => {}
        Access::Authenticated => errors.push(401),
        _ => errors.extend([401, 403]),
    }
    if template.contains('{') {
        errors.extend([400, 404]);
    }
    match d.request {
        Body::Empty => {}
        Body::Json(_) => errors.extend([400, 413, 415]),
        Body::Bytes(_) => errors.extend([400, 413]),
    }
    errors.push(500);
    errors.sort_unstable();
    errors.dedup();
    for status in errors {
        if responses.contains_key(&status.to_string()) {
            continue;
        }
        responses.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/{}", error_name(status))}),
        );
    }
    // Like Gofer 0.9's document: any other error status carries the same body.
    responses.insert(
        "4XX".into(),
        json!({"$ref": "#/components/responses/Error"}),
    );
    responses.insert(
        "5XX".into(),
        json!({"$ref": "#/components/responses/Error"}),
    );

    let mut op = json!({
        "operationId": d.id,
        "summary": d.summary,
        "description": access_description(route.access),
        "tags": [tag(template)],
        "security": security(route.access),
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(content) = body_content(d.request, &mut generators.requests) {
        op["requestBody"] = json!({"required": !d.request_optional, "content": content});
    }
    if d.websocket {
        op["x-websocket"] = json!(true);
    }
    op
}

/// The group an operation is listed under (the sections of docs/api.md).
pub fn tag(template: &str) -> &'static str {
    let rest = template.strip_prefix("/api/").unwrap_or(template);
    let first = rest.split('/').next().unwrap_or("");
    if first == "namespaces" {
        let parts: Vec<&str> = rest.split('/').collect();
        return match parts.get(4).copied() {
            None => {
                if parts.len() > 2 {
                    "Pipelines"
                } else {
                    "Namespaces"
                }
            }
            Some("configs" | "deployments") => "Configs and deployments",
            Some("objects") => "Objects",
            Some("secrets") => "Secrets",
            Some("subscriptions") => "Subscriptions",
            Some("runs") => match parts.get(6).copied() {
                Some("objects") => "Objects",
                Some("tasks") => "Task executions",
                _ => "Runs",
            },
            Some(_) => "Pipelines",
        };
    }
    match first {
        "events" => "Events",
        "extensions" => "Extensions",
        "roles" => "Roles",
        "runs" => "Runs",
        "secrets" => "Secrets",
        "system" => "System",
        "tokens" => "Tokens",
        _ => "Operations",
    }
}

/// The routes of the external events listener (docs/extensions.md#webhooks-external-events),
/// a second listener: `POST` on these templates, with their operation ids. A test checks that
/// `external_events::filter` serves each and nothing else.
pub const EXTERNAL_EVENTS: &[(&str, &str)] = &[
    ("/api/external/{id}", "deliver_external_event"),
    ("/events/{id}", "deliver_external_event_short"),
];

fn external_event_operation(id: &str) -> Value {
    json!({
        "post": {
            "operationId": id,
            "summary": "Hand a webhook to an extension (external events listener).",
            "description": "Served by the external events listener (`external_events.bind_address`), not the API listener. No Gofer token: the extension checks the payload itself (for example an HMAC signature). Headers and body are passed on as received.",
            "tags": ["External events"],
            "servers": [{"url": "http://localhost:8081", "description": "The external events listener."}],
            "security": [],
            "parameters": [{"$ref": "#/components/parameters/extension_id"}],
            "requestBody": {"required": false, "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {
                "204": {"description": "The extension accepted the webhook."},
                "404": {"$ref": "#/components/responses/NotFound"},
                "408": {"$ref": "#/components/responses/RequestTimeout"},
                "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                "502": {"$ref": "#/components/responses/BadGateway"},
                "503": {"$ref": "#/components/responses/Unavailable"},
                "4XX": {"$ref": "#/components/responses/Error"},
                "5XX": {"$ref": "#/components/responses/Error"},
            },
        }
    })
}

/// The whole document for `routes` (the API's route table).
pub fn document(routes: &[Route]) -> Value {
    let mut generators = Generators {
        answers: generator(Contract::Serialize),
        requests: generator(Contract::Deserialize),
    };
    let mut paths = Map::new();
    for route in routes {
        let op = operation(route, &mut generators);
        let path = document_path(route.template);
        let entry = paths
            .entry(path)
            .or_insert_with(|| Value::Object(Map::new()));
        entry[route.method.as_str().to_lowercase()] = op;
    }
    for (template, id) in EXTERNAL_EVENTS {
        paths.insert(document_path(template), external_event_operation(id));
    }
    // The error body is part of every operation.
    generators
        .answers
        .subschema_for::<gofer_core::api::ErrorBody>();
    let mut schemas = merge_definitions(
        generators.answers.take_definitions(true),
        generators.requests.take_definitions(true),
        &mut paths,
    );
    for schema in schemas.values_mut() {
        drop_required_defaults(schema);
        any_value_as_object(schema);
    }
    for item in paths.values_mut() {
        any_value_as_object(item);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Gofer API",
            "version": crate::SEMVER,
            "description": "The HTTP API of the Gofer server. Every request may send `gofer-api-version: v0`; every answer carries `x-request-id`; errors answer `{request_id, message}`. Lists take `limit`, `offset` and `reverse`. See docs/api.md in the repository for the rules in prose and the reference generated from this document.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "http://localhost:8080", "description": "A local server (`server.bind_address`)."}],
        "tags": TAGS.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A Gofer token: `Authorization: Bearer <secret>`."},
            },
            "parameters": parameters(routes),
            "responses": error_responses(),
        },
    })
}

fn error_responses() -> Map<String, Value> {
    let body = json!({"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}});
    let mut responses = Map::new();
    responses.insert(
        "Error".into(),
        json!({"description": "An error.", "content": body}),
    );
    for status in ERROR_STATUSES {
        responses.insert(
            error_name(*status).into(),
            json!({"description": error_description(*status), "content": body}),
        );
    }
    responses
}

/// The path parameters of every route, by their document name, and the version header.
fn parameters(routes: &[Route]) -> Map<String, Value> {
    let mut parameters = Map::new();
    for route in routes {
        for name in route.template.split('/').filter_map(param) {
            parameters.insert(
                param_name(route.template, name),
                path_param(route.template, name),
            );
        }
    }
    for (template, _) in EXTERNAL_EVENTS {
        for name in template.split('/').filter_map(param) {
            parameters.insert(param_name(template, name), path_param(template, name));
        }
    }
    parameters.insert(
        "ApiVersion".into(),
        json!({
            "name": "gofer-api-version",
            "in": "header",
            "required": false,
            "description": "The API version the client speaks; absent means v0.",
            "schema": {"type": "string", "enum": [gofer_core::api::API_VERSION]},
        }),
    );
    parameters
}

/// The order tags are listed in (the sections of docs/api.md).
pub const TAGS: &[&str] = &[
    "Namespaces",
    "Pipelines",
    "Configs and deployments",
    "Runs",
    "Task executions",
    "Objects",
    "Secrets",
    "Subscriptions",
    "Events",
    "Extensions",
    "External events",
    "Roles",
    "Tokens",
    "System",
    "Operations",
];

/// One `components.schemas` from both generators. A request schema equal to the answer schema of
/// the same name is shared; one that differs (fields with defaults are optional in requests) is
/// kept as `<Name>Input`, and the request bodies' references are rewritten to it.
fn merge_definitions(
    answers: Map<String, Value>,
    requests: Map<String, Value>,
    paths: &mut Map<String, Value>,
) -> Map<String, Value> {
    let mut renamed: Vec<(String, String)> = Vec::new();
    for (name, schema) in &requests {
        if answers.get(name).is_some_and(|a| a != schema) {
            renamed.push((name.clone(), format!("{name}Input")));
        }
    }
    let rename = |value: &mut Value| rewrite_refs(value, &renamed);
    let mut schemas = answers;
    for (name, mut schema) in requests {
        rename(&mut schema);
        let target = renamed
            .iter()
            .find(|(from, _)| *from == name)
            .map(|(_, to)| to.clone())
            .unwrap_or(name);
        schemas.entry(target).or_insert(schema);
    }
    for item in paths.values_mut() {
        if let Some(ops) = item.as_object_mut() {
            for op in ops.values_mut() {
                if let Some(body) = op.get_mut("requestBody") {
                    rename(body);
                }
            }
        }
    }
    schemas
}

/// A property a request must send has no default: `#[serde(default)]` on a field the server
/// refuses when it is missing or empty (an id) would otherwise document `"default": ""`, a value
/// its own schema refuses, which validators of the document report.
fn drop_required_defaults(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let required: Vec<String> = map
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                for name in &required {
                    if let Some(Value::Object(property)) = properties.get_mut(name) {
                        property.remove("default");
                    }
                }
            }
            map.values_mut().for_each(drop_required_defaults);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_required_defaults),
        _ => {}
    }
}

/// The schema `true` (any value, e.g. a `serde_json::Value` field) written as `{}`, which means the
/// same: JSON Schema 2020-12 allows both, but client generators (openapi-python-client, and
/// those built for OpenAPI 3.0) accept only objects. `value` is a schema or an object holding
/// schemas; only schema positions are rewritten, never a `true` that is data (`default`, `const`,
/// `required`, `x-websocket`).
fn any_value_as_object(value: &mut Value) {
    const SCHEMA: &[&str] = &[
        "schema",
        "items",
        "additionalProperties",
        "unevaluatedProperties",
        "unevaluatedItems",
        "contains",
        "propertyNames",
        "not",
        "if",
        "then",
        "else",
    ];
    const MAPS: &[&str] = &["properties", "patternProperties", "$defs", "content"];
    const LISTS: &[&str] = &["oneOf", "anyOf", "allOf", "prefixItems", "parameters"];
    fn schema(value: &mut Value) {
        if *value == Value::Bool(true) {
            *value = json!({});
        }
        any_value_as_object(value);
    }
    let Value::Object(map) = value else {
        return;
    };
    for (key, child) in map.iter_mut() {
        let key = key.as_str();
        if key == "default" || key == "const" || key == "enum" || key == "examples" {
            continue;
        }
        if SCHEMA.contains(&key) {
            schema(child);
        } else if MAPS.contains(&key) {
            if let Value::Object(children) = child {
                children.values_mut().for_each(schema);
            }
        } else if LISTS.contains(&key) {
            if let Value::Array(children) = child {
                children.iter_mut().for_each(schema);
            }
        } else {
            any_value_as_object(child);
        }
    }
}

fn rewrite_refs(value: &mut Value, renamed: &[(String, String)]) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "$ref"
                    && let Value::String(r) = v
                    && let Some(name) = r.strip_prefix("#/components/schemas/")
                    && let Some((_, to)) = renamed.iter().find(|(from, _)| from == name)
                {
                    *r = format!("#/components/schemas/{to}");
                } else {
                    rewrite_refs(v, renamed);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, renamed)),
        _ => {}
    }
}

/// The document as committed in `assets/openapi.json`: pretty-printed, keys in a stable order,
/// ending with a newline.
pub fn render(routes: &[Route]) -> String {
    let mut text = serde_json::to_string_pretty(&document(routes)).unwrap_or_default();
    text.push('\n');
    text
}
