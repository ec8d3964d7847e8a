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

pub use crate::http::answers::{
    answer_problem, answer_violations, default_violations, request_problem,
};
