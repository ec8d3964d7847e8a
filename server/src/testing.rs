//! Fixtures for test suites (feature `test-support`): the store of a server running in-process
//! ([`running_store`]), the image for tests that run real containers, and [`FakeScheduler`],
//! a scheduler without a container engine for tests of the run engine.
//!
//! No registry can be reached where these tests run, so the one image they use,
//! [`BUSYBOX_IMAGE`], is built locally `FROM scratch` around the host's static busybox
//! (`.ci/ensure-docker` installs it). Tests that need Docker start with
//! [`require_docker`]: it fails with instructions when no engine answers, or skips the test
//! loudly when `GOFER_TEST_SKIP_DOCKER=1`.
//!
//! ```no_run
//! # async fn a_test() {
//! let Some(docker) = gofer_server::testing::require_docker().await else { return };
//! let image = gofer_server::testing::busybox_image(&docker).await.unwrap();
//! # let _ = image;
//! # }
//! ```

mod fake;
pub use fake::{Behaviour, FakeScheduler, env_of};

use crate::scheduler::{DockerScheduler, SchedulerError, SchedulerResult};
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::TryStreamExt;
use tokio::sync::OnceCell;

/// The test image: `/bin/busybox`, `/bin/sh` and the applets in [`BUSYBOX_APPLETS`].
pub const BUSYBOX_IMAGE: &str = "gofer-test/busybox:latest";

/// Set to `1` to skip every test that needs a Docker engine, explicitly.
pub const SKIP_DOCKER_ENV: &str = "GOFER_TEST_SKIP_DOCKER";

/// Where the static busybox is read from; `/bin/busybox` when unset.
pub const BUSYBOX_PATH_ENV: &str = "GOFER_TEST_BUSYBOX";

/// Links to busybox in the test image's `/bin`.
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "echo", "sleep", "cat", "wget", "printf", "env", "seq", "true", "false", "kill", "ls",
    "head", "test",
];

/// Bumped whenever the image's layout changes, so a stale cached image is rebuilt.
const IMAGE_VERSION: &str = "1";
const VERSION_LABEL: &str = "gofer.test.image_version";

/// Connects to the local Docker engine for a test (request timeout 60 s).
///
/// Returns `None`, after printing that the test is skipped, when `GOFER_TEST_SKIP_DOCKER=1`.
/// Panics with instructions when no engine answers: a test that needs Docker never passes
/// silently without one.
pub async fn require_docker() -> Option<DockerScheduler> {
    require_docker_with_timeout(60).await
}

/// [`require_docker`] with another request timeout, for tests about timeouts.
pub async fn require_docker_with_timeout(timeout_secs: u64) -> Option<DockerScheduler> {
    if std::env::var(SKIP_DOCKER_ENV).is_ok_and(|v| v == "1") {
        eprintln!(
            "SKIPPED: {SKIP_DOCKER_ENV}=1, so this test, which needs a Docker engine, did not run"
        );
        return None;
    }
    match DockerScheduler::connect("", timeout_secs).await {
        Ok(docker) => Some(docker),
        Err(e) => panic!(
            "this test needs a Docker engine and none answered.\n  {e}\n  \
             Run .ci/ensure-docker to start one, or set {SKIP_DOCKER_ENV}=1 to skip the \
             Docker tests explicitly."
        ),
    }
}

/// Makes sure [`BUSYBOX_IMAGE`] exists on the engine and returns its name. Built once per
/// engine (cached by tag and layout version) through the image-build API from an in-memory
/// context; concurrent callers in one process share one build.
pub async fn busybox_image(docker: &DockerScheduler) -> SchedulerResult<String> {
    static BUILT: OnceCell<String> = OnceCell::const_new();
    BUILT
        .get_or_try_init(|| build_busybox_image(docker))
        .await
        .cloned()
}

async fn build_busybox_image(docker: &DockerScheduler) -> SchedulerResult<String> {
    let fail = |message: String| SchedulerError::Engine {
        op: "build test image",
        name: BUSYBOX_IMAGE.to_owned(),
        message,
    };
    if let Ok(image) = docker.client().inspect_image(BUSYBOX_IMAGE).await {
        let version = image
            .config
            .and_then(|c| c.labels)
            .and_then(|mut labels| labels.remove(VERSION_LABEL));
        if version.as_deref() == Some(IMAGE_VERSION) {
            return Ok(BUSYBOX_IMAGE.to_owned());
        }
    }
    let path = std::env::var(BUSYBOX_PATH_ENV).unwrap_or_else(|_| "/bin/busybox".to_owned());
    let busybox = tokio::fs::read(&path).await.map_err(|e| {
        fail(format!(
            "read the static busybox at {path}: {e} (.ci/ensure-docker installs it, or \
             set {BUSYBOX_PATH_ENV})"
        ))
    })?;
    let context =
        busybox_context(&busybox).map_err(|e| fail(format!("write the build context: {e}")))?;
    let options = BuildImageOptionsBuilder::new()
        .t(BUSYBOX_IMAGE)
        .rm(true)
        .forcerm(true)
        .build();
    docker
        .client()
        .build_image(options, None, Some(bollard::body_full(context.into())))
        .try_for_each(|_| futures_util::future::ready(Ok(())))
        .await
        .map_err(|e| fail(e.to_string()))?;
    Ok(BUSYBOX_IMAGE.to_owned())
}

/// The build context: a Dockerfile, `bin/busybox`, a symlink per applet and a `tmp/`.
fn busybox_context(busybox: &[u8]) -> std::io::Result<Vec<u8>> {
    let dockerfile = format!(
        "FROM scratch\nCOPY bin /bin\nCOPY tmp /tmp\nENV PATH=/bin\nLABEL {VERSION_LABEL}={IMAGE_VERSION}\nCMD [\"/bin/sh\"]\n"
    );
    let mut tar = tar::Builder::new(Vec::new());
    let file = |mode: u32, size: usize| {
        let mut header = tar::Header::new_gnu();
        header.set_mode(mode);
        header.set_size(size as u64);
        header
    };
    tar.append_data(
        &mut file(0o644, dockerfile.len()),
        "Dockerfile",
        dockerfile.as_bytes(),
    )?;
    tar.append_data(&mut file(0o755, busybox.len()), "bin/busybox", busybox)?;
    for applet in BUSYBOX_APPLETS {
        let mut link = file(0o777, 0);
        link.set_entry_type(tar::EntryType::Symlink);
        tar.append_link(&mut link, format!("bin/{applet}"), "busybox")?;
    }
    let mut tmp = file(0o1777, 0);
    tmp.set_entry_type(tar::EntryType::Directory);
    tar.append_data(&mut tmp, "tmp/", std::io::empty())?;
    tar.into_inner()
}

/// Store handles of the servers running in this process, by data dir: tests build state a real
/// server then serves (runs and executions have no HTTP route to create them before the engine
/// exists, and only the server may hold the database file).
static RUNNING: std::sync::Mutex<Vec<(std::path::PathBuf, crate::store::StoreHandle)>> =
    std::sync::Mutex::new(Vec::new());

/// Keeps a server's store reachable through [`running_store`] while alive.
pub struct Registration(std::path::PathBuf);

/// Called by `serve` once the store is open.
pub(crate) fn register(
    data_dir: &std::path::Path,
    store: crate::store::StoreHandle,
) -> Registration {
    let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    running.push((data_dir.to_path_buf(), store));
    Registration(data_dir.to_path_buf())
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|(dir, _)| *dir != self.0);
    }
}

/// The store of the server running in this process on `data_dir`, if any. Writes through it wake
/// the server's event streams like the server's own writes.
pub fn running_store(data_dir: &std::path::Path) -> Option<crate::store::StoreHandle> {
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    running
        .iter()
        .find(|(dir, _)| dir == data_dir)
        .map(|(_, store)| store.clone())
}

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
    state: &crate::http::AppState,
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

fn record(state: &crate::http::AppState, violation: String) {
    eprintln!("ANSWER DOES NOT MATCH THE OPENAPI DOCUMENT: {violation}");
    let mut all = VIOLATIONS.lock().unwrap_or_else(|e| e.into_inner());
    all.push((state.data_dir.clone(), violation));
}

/// Whether `bytes`, answered with `status` by `method template`, matches the document of
/// `routes`: `Err` says how it does not.
pub fn answer_problem(
    routes: &[crate::http::router::Route],
    method: &warp::http::Method,
    template: &'static str,
    status: u16,
    bytes: &[u8],
) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let validator = {
        let mut cache = VALIDATORS.lock().unwrap_or_else(|e| e.into_inner());
        let (document, validators) = cache
            .get_or_insert_with(|| (crate::http::openapi::document(routes), Validators::new()));
        let key = (method.to_string(), template.to_string(), status);
        if !validators.contains_key(&key) {
            let compiled = answer_schema(document, method, template, status)?
                .map(|schema| {
                    jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .build(&schema)
                        .map(std::sync::Arc::new)
                        .map_err(|e| format!("the document's schema does not compile: {e}"))
                })
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

/// The JSON schema the document gives `status` of `method template`, as a root that carries the
/// components its references point into; `None` when that status has no JSON body.
fn answer_schema(
    document: &serde_json::Value,
    method: &warp::http::Method,
    template: &'static str,
    status: u16,
) -> Result<Option<serde_json::Value>, String> {
    let path = crate::http::openapi::document_path(template);
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
    if schema.is_null() {
        return Ok(None);
    }
    let mut root = match schema {
        serde_json::Value::Object(map) => map.clone(),
        serde_json::Value::Bool(true) => serde_json::Map::new(),
        other => return Err(format!("unexpected schema {other}")),
    };
    root.insert("components".into(), document["components"].clone());
    Ok(Some(serde_json::Value::Object(root)))
}
