//! The HTTP API. One warp filter takes every request, finds its row in the route table
//! ([`routes::all`]), runs the request pipeline of docs/auth.md#order-of-checks in order — version header,
//! authentication, authorization — and calls the handler. Handlers only parse, call the store and
//! reply.

#[cfg(feature = "test-support")]
pub mod answers;
pub mod apidoc;
pub mod auth;
pub mod listen;
pub mod openapi;
pub mod reply;
pub mod router;
pub mod routes;
pub mod site;

use crate::store::StoreHandle;
use bytes::{Buf, Bytes};
use futures_util::stream::{BoxStream, StreamExt};
use gofer_core::api::{API_VERSION, API_VERSION_HEADER, Page};
use gofer_core::config::ServerConfig;
use gofer_core::id::IdKind;
use reply::ApiError;
use router::{Access, Match, Params, Route};
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument as _;
use warp::Filter;
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;

/// Everything a handler may need, shared by all requests.
pub struct AppState {
    /// The extension manager (docs/extensions.md).
    pub extensions: crate::extensions::Extensions,
    /// `GET /metrics` counters (docs/api.md#operations).
    pub metrics: Arc<crate::metrics::Metrics>,
    pub store: StoreHandle,
    /// The secret store: encryption in front of the store's secret rows (docs/objects-and-secrets.md#secrets).
    pub secrets: crate::secrets::Secrets,
    pub engine: crate::engine::Engine,
    /// The container engine (attach runs commands in task containers).
    pub scheduler: Arc<dyn crate::scheduler::Scheduler>,
    /// The data directory (logs and objects live beneath it, `gofer_core::paths`).
    pub data_dir: std::path::PathBuf,
    pub config: Arc<ServerConfig>,
    pub routes: Vec<Route>,
    /// Token and role cache for [`authorize`].
    pub auth: auth::Authenticator,
    /// Turns `true` when the server begins shutting down; long-lived streams (websockets) end on
    /// it with close 1000 (docs/logs-and-events.md#the-stream).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// Who is calling (see [`authorize`]).
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub user: String,
    /// The presented token; `None` for anonymous and dev-bypass callers.
    pub token: Option<Arc<gofer_core::api::Token>>,
    /// What the caller may do (for handlers that filter lists, docs/auth.md#how-a-request-is-matched).
    pub grants: auth::Grants,
}

/// A request body as a stream of chunks; an error says why the body could not be read (e.g. the
/// client stalled for longer than `server.body_read_timeout`).
pub type BodyStream = BoxStream<'static, Result<Bytes, String>>;

/// The request context handed to a handler.
pub struct Cx {
    pub state: Arc<AppState>,
    pub params: Params,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Option<BodyStream>,
    pub ws: Option<warp::ws::Ws>,
    pub caller: Caller,
    pub remote: Option<SocketAddr>,
    pub request_id: String,
}

impl Cx {
    /// A path parameter by template name.
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).unwrap_or_default()
    }

    /// A path id that must satisfy `kind`. A path id that breaks its rule can never name an
    /// existing entity, so it is 404 (docs/pipelines.md#identifiers), worded like any other miss.
    pub fn id(&self, name: &str, kind: IdKind, what: &str) -> Result<String, ApiError> {
        let value = self.param(name);
        if kind.accepts(value) {
            Ok(value.to_string())
        } else {
            Err(ApiError::not_found(format!("{what} '{value}' not found")))
        }
    }

    /// `{ns}`, validated.
    pub fn ns(&self) -> Result<String, ApiError> {
        self.id("ns", IdKind::Entity, "namespace")
    }

    /// `{p}`, validated.
    pub fn pipeline(&self) -> Result<String, ApiError> {
        self.id("p", IdKind::Entity, "pipeline")
    }

    /// `{id}` of an extension route, validated.
    pub fn extension(&self) -> Result<String, ApiError> {
        self.id("id", IdKind::Entity, "extension")
    }

    /// `{run}`, a run id (from 1).
    pub fn run(&self) -> Result<u64, ApiError> {
        self.number("run", 1, "run")
    }

    /// `{task}`, validated.
    pub fn task(&self) -> Result<String, ApiError> {
        self.id("task", IdKind::Task, "task")
    }

    /// A numeric path id (run id, version, deployment id): a decimal u64; `min` is the smallest
    /// accepted value. Anything else is 404.
    pub fn number(&self, name: &str, min: u64, what: &str) -> Result<u64, ApiError> {
        let value = self.param(name);
        value
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= min && !value.starts_with('+'))
            .ok_or_else(|| ApiError::not_found(format!("{what} '{value}' not found")))
    }

    /// Decoded query pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse_query(&self.query)
    }

    /// Pagination parameters (docs/api.md#common-rules).
    pub fn page(&self, default_limit: u64) -> Result<Page, ApiError> {
        let pairs = self.query_pairs();
        Page::from_query(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            default_limit,
        )
        .map_err(ApiError::invalid)
    }

    /// Reads the whole (JSON) body, refusing more than `server.max_json_body_bytes` with 413
    /// and a body not sent within `server.body_read_timeout` with 408.
    pub async fn body_bytes(&mut self) -> Result<Bytes, ApiError> {
        let server = &self.state.config.server;
        let limit = server
            .max_json_body_bytes
            .min(server.max_request_body_bytes);
        let deadline = std::time::Duration::from_secs(server.body_read_timeout);
        let Some(body) = self.body.take() else {
            return Ok(Bytes::new());
        };
        match tokio::time::timeout(deadline, read_limited(body, limit)).await {
            Ok(read) => read,
            Err(_) => Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "body: not received within {} s (server.body_read_timeout)",
                    deadline.as_secs()
                ),
            )),
        }
    }

    /// Parses a JSON body; errors name the field (docs/pipelines.md#validation-errors), e.g.
    /// `config.tasks[0].image: invalid type: integer, expected a string`. The body must be
    /// declared `application/json` (415 otherwise): a web page cannot send that cross-site
    /// without the browser asking first (docs/security.md).
    pub async fn json<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        let bytes = self.body_bytes().await?;
        require_json(&self.headers, &bytes)?;
        require_object(&bytes)?;
        parse_json(&bytes)
    }

    /// Like [`Cx::json`], but an empty body is `T::default()`.
    pub async fn json_or_default<T: DeserializeOwned + Default>(&mut self) -> Result<T, ApiError> {
        let bytes = self.body_bytes().await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        require_json(&self.headers, &bytes)?;
        require_object(&bytes)?;
        parse_json(&bytes)
    }
}

/// Reads `body` whole, refusing more than `limit` bytes with 413.
async fn read_limited(mut body: BodyStream, limit: u64) -> Result<Bytes, ApiError> {
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("body: {e}")))?;
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(ApiError::too_large(format!(
                "body: larger than {limit} bytes (server.max_json_body_bytes)"
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// A non-empty JSON body must say `Content-Type: application/json` (or `…+json`).
pub fn require_json(headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let declared = headers
        .get(warp::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        return Ok(());
    }
    let declared = if declared.is_empty() {
        "none".to_string()
    } else {
        format!("'{}'", declared.escape_debug())
    };
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("content-type: must be application/json (was {declared})"),
    ))
}

impl Cx {}

/// Decodes JSON with the path of a failure in the message.
///
/// A whole number written with a fraction or an exponent (`60.0`, `1e3`) is read as that integer
/// where an integer is expected, as JSON Schema counts it an integer (docs/api.md#common-rules):
/// Python's `json.dumps(60.0)` writes one. The fast path decodes directly; only a body refused for
/// a float is decoded again with such numbers made integers.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(de) {
        Ok(value) => Ok(value),
        Err(e)
            if e.inner()
                .to_string()
                .contains("invalid type: floating point") =>
        {
            let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
                return Err(json_error(e));
            };
            if !whole_floats_to_integers(&mut value) {
                return Err(json_error(e));
            }
            serde_path_to_error::deserialize(value).map_err(json_error)
        }
        Err(e) => Err(json_error(e)),
    }
}

/// Rewrites every float in `value` that is a whole number exactly representable (|x| ≤ 2^53) as
/// an integer; whether any was.
fn whole_floats_to_integers(value: &mut serde_json::Value) -> bool {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            let Some(x) = n.as_f64() else { return false };
            if x.fract() != 0.0 || x.abs() > EXACT {
                return false;
            }
            // Exact: a whole number within ±2^53 converts without loss.
            #[allow(clippy::cast_possible_truncation)]
            let whole = x as i64;
            *value = serde_json::Value::from(whole);
            true
        }
        // Every element is rewritten, not only up to the first whole float.
        serde_json::Value::Array(items) => {
            let mut any = false;
            for v in items {
                any |= whole_floats_to_integers(v);
            }
            any
        }
        serde_json::Value::Object(map) => {
            let mut any = false;
            for v in map.values_mut() {
                any |= whole_floats_to_integers(v);
            }
            any
        }
        _ => false,
    }
}

/// A decoding failure as a 400 naming the field.
fn json_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.inner();
    let mut message = inner.to_string();
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    if let Some((field, hint)) = unknown_field(&message) {
        // A typo must never be dropped silently (docs/pipelines.md#validation-errors): name it and the likely intent.
        let full = if path == "." || path.is_empty() || path == field {
            field.to_string()
        } else if path.ends_with(&format!(".{field}")) {
            path.clone()
        } else {
            format!("{path}.{field}")
        };
        return ApiError::invalid(format!("{full}: unknown field{hint}"));
    }
    if inner.is_syntax() || inner.is_eof() || path == "." || path.is_empty() {
        ApiError::invalid(format!("body: {message}"))
    } else {
        ApiError::invalid(format!("{path}: {message}"))
    }
}

/// Request bodies are JSON objects: a derived struct would also accept an array (`[]` as "no
/// fields"), which is never what a client meant.
fn require_object(bytes: &[u8]) -> Result<(), ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => Ok(()),
        Some(_) => Err(ApiError::invalid("body: must be a JSON object ({...})")),
    }
}

/// From serde's "unknown field `x`, expected one of `a`, `b`": the field and a
/// " (did you mean a?)" hint.
fn unknown_field(message: &str) -> Option<(&str, String)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    Some((
        field,
        gofer_core::suggest::did_you_mean(field, candidates.iter().copied()),
    ))
}

/// `application/x-www-form-urlencoded` query decoding.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                let s = s.replace('+', " ");
                router::percent_decode(&s).unwrap_or(s)
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// The single filter that serves the API.
pub fn filter(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let ws = warp::ws().map(Some).or(warp::any().map(|| None)).unify();
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let idle = std::time::Duration::from_secs(state.config.server.body_read_timeout);
    warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(
            warp::ext::optional::<listen::PeerAddr>()
                .map(|p: Option<listen::PeerAddr>| p.map(|p| p.0)),
        )
        .and(ws)
        .and(warp::body::stream().map(move |body| box_body(body, idle)))
        .then(
            move |method: Method,
                  path: warp::path::FullPath,
                  query: String,
                  headers: HeaderMap,
                  remote: Option<SocketAddr>,
                  ws: Option<warp::ws::Ws>,
                  body: BodyStream| {
                dispatch(
                    state.clone(),
                    method,
                    path,
                    query,
                    headers,
                    remote,
                    ws,
                    body,
                )
            },
        )
        .recover(|_rejection: warp::Rejection| async {
            // Nothing above rejects; this keeps the error body uniform should that change.
            Ok::<_, Infallible>(
                ApiError::new(StatusCode::BAD_REQUEST, "request could not be read")
                    .into_response(""),
            )
        })
        .unify()
}

/// The body as [`BodyStream`]; a client that sends nothing for `idle` is cut off.
fn box_body<S, B>(body: S, idle: std::time::Duration) -> BodyStream
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: Buf,
{
    listen::timed_body(
        body.map(|r| {
            r.map(|mut b| b.copy_to_bytes(b.remaining()))
                .map_err(|e| e.to_string())
        }),
        idle,
    )
}

#[expect(
    clippy::too_many_arguments,
    reason = "the parts of one request, handed over once"
)]
async fn dispatch(
    state: Arc<AppState>,
    method: Method,
    path: warp::path::FullPath,
    query: String,
    headers: HeaderMap,
    remote: Option<SocketAddr>,
    ws: Option<warp::ws::Ws>,
    body: BodyStream,
) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let refused = site::check(&state.config, &headers, remote);
    let found = match refused {
        Err(e) => Err(e),
        Ok(()) => Ok(router::find(&state.routes, &method, path.as_str())),
    };
    let (template, mut response) = match found {
        Err(e) => ("", e.into_response(&request_id)),
        Ok(found) => match found {
            Match::NotFound => (
                "",
                ApiError::not_found(format!("no route for {method} {}", path.as_str()))
                    .into_response(&request_id),
            ),
            Match::WrongMethod(allowed) => {
                let allowed: Vec<&str> = allowed.iter().map(Method::as_str).collect();
                let mut response = ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!(
                        "method {method} is not allowed on {}; allowed: {}",
                        path.as_str(),
                        allowed.join(", ")
                    ),
                )
                .into_response(&request_id);
                if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                    response.headers_mut().insert(warp::http::header::ALLOW, v);
                }
                ("", response)
            }
            Match::Found(route, params) => {
                // Every log line of the request (a 500's cause included) carries its ids.
                let span = tracing::info_span!(
                    "request",
                    method = %method,
                    route = route.template,
                    request_id = %request_id
                );
                let handled = async {
                    check_version(route.access, &headers)?;
                    let caller = authorize(&state, route, &params, &headers, remote).await?;
                    parents_exist(&state, route, &params).await?;
                    let cx = Cx {
                        state: state.clone(),
                        params,
                        query,
                        headers,
                        body: Some(body),
                        ws,
                        caller,
                        remote,
                        request_id: request_id.clone(),
                    };
                    (route.handler)(cx).await
                }
                .instrument(span)
                .await;
                let response = handled.unwrap_or_else(|e| e.into_response(&request_id));
                (route.template, response)
            }
        },
    };
    // Test builds check every JSON answer against the OpenAPI document
    // (docs/api.md#the-openapi-document).
    #[cfg(feature = "test-support")]
    if !template.is_empty() {
        response = answers::check_answer(&state, &method, template, response).await;
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    state.metrics.http(
        method.as_str(),
        template,
        response.status().as_u16(),
        started.elapsed(),
    );
    tracing::debug!(
        method = %method,
        route = template,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        request_id = %request_id,
        "request"
    );
    response
}

/// Before a body is read: the namespace and pipeline a write names must exist, so a request to
/// a missing one costs no body read (404 at once). Registering a config creates its pipeline,
/// so there only the namespace must exist.
async fn parents_exist(state: &AppState, route: &Route, params: &Params) -> Result<(), ApiError> {
    // POST and PUT carry the large bodies (objects, configs, runs); PATCH bodies are a few
    // fields and keep their own order of checks.
    if !matches!(route.method, Method::POST | Method::PUT) {
        return Ok(());
    }
    let creates_pipeline = route.template == "/api/namespaces/{ns}/pipelines/{p}/configs";
    let (Some(ns), p) = (params.get("ns"), params.get("p")) else {
        return Ok(());
    };
    if !IdKind::Entity.accepts(ns) {
        return Err(ApiError::not_found(format!("namespace '{ns}' not found")));
    }
    let ns = ns.to_string();
    match p.filter(|_| !creates_pipeline) {
        Some(p) => {
            if !IdKind::Entity.accepts(p) {
                return Err(ApiError::not_found(format!("pipeline '{p}' not found")));
            }
            let p = p.to_string();
            state.store.read(move |s| s.get_pipeline(&ns, &p)).await?;
        }
        None => {
            state.store.read(move |s| s.get_namespace(&ns)).await?;
        }
    }
    Ok(())
}

/// Step 1 of docs/auth.md#order-of-checks: `gofer-api-version` absent or `v0`.
fn check_version(access: Access, headers: &HeaderMap) -> Result<(), ApiError> {
    if access == Access::Open {
        return Ok(());
    }
    match headers.get(API_VERSION_HEADER) {
        None => Ok(()),
        Some(v) if v.as_bytes() == API_VERSION.as_bytes() => Ok(()),
        Some(v) => Err(ApiError::invalid(format!(
            "{API_VERSION_HEADER}: unsupported version '{}'; supported: {API_VERSION}",
            String::from_utf8_lossy(v.as_bytes())
        ))),
    }
}

/// Steps 2 and 3 of docs/auth.md#order-of-checks: authentication and authorization against the route's declared
/// [`Access`]. This is the one place they happen; handlers never check permissions.
///
/// * Open and public routes need nothing.
/// * No `Authorization` header: the dev-mode bypass for loopback peers (docs/auth.md#without-a-token), else the
///   `anonymous` role on routes that allow it (docs/auth.md#without-a-token), else 401.
/// * A header: it must be `Bearer <secret>` of a known, enabled, unexpired token (docs/auth.md#tokens), else
///   401; then the route's access decides (docs/auth.md#how-a-request-is-matched), else 403.
pub(crate) async fn authorize(
    state: &AppState,
    route: &Route,
    params: &Params,
    headers: &HeaderMap,
    remote: Option<SocketAddr>,
) -> Result<Caller, ApiError> {
    if matches!(route.access, Access::Open | Access::Public) {
        return Ok(Caller::anonymous());
    }
    let Some(header) = headers.get(warp::http::header::AUTHORIZATION) else {
        let loopback = remote.is_some_and(|a| a.ip().is_loopback());
        if loopback && state.config.development.bypass_auth {
            return Ok(Caller::dev_bypass());
        }
        if let Access::Perm {
            action,
            resources,
            anonymous: true,
        } = route.access
        {
            let (_, roles) = state.auth.resolve(&state.store, None).await?;
            let grants = auth::Grants::of(&["anonymous".to_string()], &roles);
            if grants.allows(action, &auth::required(resources, params)) {
                return Ok(Caller {
                    grants,
                    ..Caller::anonymous()
                });
            }
        }
        return Err(ApiError::unauthorized("authorization header missing"));
    };
    let secret = header
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::unauthorized("malformed authorization header"))?;
    let hash = crate::tokens::hash_secret(secret);
    let (token, roles) = state.auth.resolve(&state.store, Some(&hash)).await?;
    let token = token.ok_or_else(|| ApiError::unauthorized("invalid token"))?;
    if token.disabled {
        return Err(ApiError::unauthorized("token disabled"));
    }
    if token.expired_at(gofer_core::now_millis()) {
        return Err(ApiError::unauthorized("token expired"));
    }
    let grants = auth::Grants::of(&token.roles, &roles);
    let caller = Caller {
        token_id: token.id.clone(),
        user: token.user.clone(),
        token: Some(token),
        grants,
    };
    let allowed = match route.access {
        Access::Open | Access::Public | Access::Authenticated => true,
        Access::Admin => caller.is_admin(),
        Access::AdminOrOwnToken => {
            caller.is_admin() || params.get("id") == Some(caller.token_id.as_str())
        }
        Access::Perm {
            action, resources, ..
        } => {
            let required = auth::required(resources, params);
            if !caller.grants.allows(action, &required) {
                return Err(auth::denied(action, &required));
            }
            true
        }
        Access::PermOrOwnRun { action, resources } => {
            let own_run = format!(
                "run:{}:{}:{}",
                params.get("ns").unwrap_or_default(),
                params.get("p").unwrap_or_default(),
                params.get("run").unwrap_or_default()
            );
            let is_own_run = caller
                .token
                .as_ref()
                .is_some_and(|t| t.roles.contains(&own_run));
            let required = auth::required(resources, params);
            if !is_own_run && !caller.grants.allows(action, &required) {
                return Err(auth::denied(action, &required));
            }
            true
        }
    };
    if allowed {
        Ok(caller)
    } else {
        Err(ApiError::forbidden("route requires an admin token"))
    }
}

impl Caller {
    /// The dev-mode identity (docs/auth.md#without-a-token): admin.
    pub fn dev_bypass() -> Caller {
        Caller {
            token_id: "0".into(),
            user: "dev_bypass".into(),
            token: None,
            grants: auth::Grants::admin(),
        }
    }

    /// Whether the caller holds `admin` or `bootstrap` (or is the dev bypass); cancellations
    /// by such callers count as `admin_cancelled` (docs/runs.md#final-status).
    pub fn is_admin(&self) -> bool {
        self.grants.is_admin()
    }

    /// A caller without a token on a route that allows that.
    pub fn anonymous() -> Caller {
        Caller {
            token_id: String::new(),
            user: "anonymous".into(),
            token: None,
            grants: auth::Grants::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_name_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            image: String,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            tasks: Vec<Inner>,
        }
        let e = parse_json::<Outer>(br#"{"tasks":[{"image":1}]}"#).unwrap_err();
        assert_eq!(
            e.message,
            "tasks[0].image: invalid type: integer `1`, expected a string"
        );
        let e = parse_json::<Outer>(b"{not json").unwrap_err();
        assert!(e.message.starts_with("body: "), "{}", e.message);
        let e = parse_json::<Outer>(b"{}").unwrap_err();
        assert_eq!(e.message, "body: missing field `tasks`");
    }

    #[test]
    fn whole_numbers_written_as_floats_are_integers() {
        #[derive(Debug, serde::Deserialize, PartialEq)]
        struct Task {
            timeout: u64,
            rate: f64,
        }
        #[derive(Debug, serde::Deserialize, PartialEq)]
        struct Config {
            parallelism: u64,
            tasks: Vec<Task>,
        }
        let got = parse_json::<Config>(
            br#"{"parallelism": 2.0, "tasks": [{"timeout": 1e3, "rate": 0.5}, {"timeout": 60, "rate": 1.0}]}"#,
        )
        .unwrap();
        assert_eq!(
            got,
            Config {
                parallelism: 2,
                tasks: vec![
                    Task {
                        timeout: 1000,
                        rate: 0.5
                    },
                    Task {
                        timeout: 60,
                        rate: 1.0
                    }
                ]
            }
        );
        // A fraction, a negative and a number beyond 2^53 stay refused, naming the field.
        let e = parse_json::<Config>(br#"{"parallelism": 1.5, "tasks": []}"#).unwrap_err();
        assert_eq!(
            e.message,
            "parallelism: invalid type: floating point `1.5`, expected u64"
        );
        let e = parse_json::<Config>(
            br#"{"parallelism": 1.0, "tasks": [{"timeout": -2.0, "rate": 1}]}"#,
        )
        .unwrap_err();
        assert!(
            e.message
                .starts_with("tasks[0].timeout: invalid value: integer `-2`"),
            "{}",
            e.message
        );
        let e = parse_json::<Config>(br#"{"parallelism": 1e300, "tasks": []}"#).unwrap_err();
        assert!(
            e.message
                .starts_with("parallelism: invalid type: floating point"),
            "{}",
            e.message
        );
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            parse_query("a=1&b=x+y&c=%2e&d"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), ".".into()),
                ("d".into(), "".into())
            ]
        );
    }
}
