//! The redb implementation of [`Store`].
//!
//! * One write transaction per logical operation; the events an operation emits are written in
//!   that transaction (docs/logs-and-events.md#what-an-event-promises), so a reader that sees an event can read the new state.
//! * Event ids are UUIDv7 strings issued under the write lock: a fresh id from the current
//!   millisecond when the clock has advanced past the previous event, else the previous id + 1
//!   (as a `u128`), with `emitted` held at the previous value. Ids therefore strictly increase in
//!   commit order and `emitted` never decreases, whatever the clock does.
//! * Every value is `VALUE_VERSION` followed by JSON (see [`super::tables`]); every redb error
//!   becomes [`StoreError::Internal`] here and nowhere else.

mod auth;
mod backup;
mod codec;
mod deployments;
mod doctor;
mod events;
mod extensions;
mod namespaces;
mod objects;
mod pipelines;
mod runs;
mod secrets;
mod system;
mod tx;
mod tx_access;

use codec::*;
use tx::Tx;

use super::tables::*;
use super::{
    NewRun, ObjectScope, PutObject, RunChanges, RunTokenSeed, SecretScope, Store, StoreError,
    StoreResult, StoredExecution, StoredExtension, StoredRun, StoredRunState, SubscriptionKey,
};
use gofer_core::api::{
    Config, Deployment, Event, EventKind, Extension, Metadata, Namespace, Object, Page, Permission,
    Pipeline, Role, Run, Secret, System, TaskExecution, Token,
};
use gofer_core::enums::{
    ConfigState, DeploymentState, DeploymentStatus, OverlapPolicy, PipelineState, RunState,
    RunStatus,
};
use gofer_core::validate::ValidConfig;
use redb::backends::InMemoryBackend;
use redb::{
    AccessGuard, Database, DatabaseError, Key, ReadTransaction, ReadableDatabase, ReadableTable,
    StorageError, WriteTransaction,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use uuid::Uuid;

/// Source of "now" (Unix ms) for event timestamps. Replaceable so tests can pin the clock.
type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The Gofer store on a redb database: a file (`<data_dir>/gofer.redb`) or memory.
pub struct RedbStore {
    /// `None` while the database is being reopened after an I/O failure (see `recover`).
    db: std::sync::RwLock<Option<Arc<Database>>>,
    /// The database file; `None` in memory (which cannot be reopened).
    path: Option<std::path::PathBuf>,
    /// Why writes fail now, until `recover` reopens the database.
    failure: std::sync::Mutex<Option<String>>,
    instance_id: String,
    clock: Clock,
    /// Bumped after every committed write transaction (see [`Store::generation`]).
    generation: std::sync::atomic::AtomicU64,
    /// Bumped after every committed write of tokens or roles (see `Store::auth_generation`).
    auth_generation: AtomicU64,
    /// Unreadable records readers have met (see `note_unreadable`).
    unreadable: Arc<UnreadableSeen>,
}

/// A token as stored: the API view plus the SHA-256 hex of its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredToken {
    token: Token,
    hash: String,
}

/// Per-pipeline counters, stored next to the pipeline row and deleted with it.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct PipelineCounters {
    /// Highest config version ever registered (versions are never reused, docs/pipelines.md#writing-a-pipeline-config).
    last_version: u64,
    /// Highest deployment id ever issued.
    last_deployment: u64,
    /// The live version, 0 when none; kept in step with the configs' `state` by `deploy`.
    live_version: u64,
    /// Highest run id ever issued (run ids are never reused within the pipeline's life,
    /// docs/runs.md#queue). Absent in rows written before runs existed, hence the default.
    #[serde(default)]
    last_run: u64,
    /// The deployment in progress (a canary or smoke run), 0 when none
    /// (docs/pipelines.md#safe-deployments).
    #[serde(default)]
    active_deployment: u64,
}

/// A secret row: metadata and the ciphertext (nonce ‖ ciphertext ‖ tag, docs/objects-and-secrets.md#secrets) as hex.
/// Never a plaintext value.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSecret {
    secret: Secret,
    ciphertext: String,
}

/// The newest event id ever issued and its `emitted`; survives deletion of that event.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LastEvent {
    id: String,
    emitted: u64,
}

/// redb's page cache. Its default (1 GiB) lets the server's memory grow with the database; 64 MiB
/// keeps a small footprint while the working set of a busy server (recent runs, live configs)
/// still fits, and pages beyond it come from the operating system's file cache.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

impl RedbStore {
    /// Creates or opens the database file at `path` (the server passes `<data_dir>/gofer.redb`).
    /// `Locked` when another process or another handle in this process holds the file.
    pub fn open(path: &Path) -> StoreResult<RedbStore> {
        match Database::builder().set_cache_size(CACHE_BYTES).create(path) {
            Ok(db) => Self::init(db).map(|store| RedbStore {
                path: Some(path.to_path_buf()),
                ..store
            }),
            Err(DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch) => {
                let dir = match path.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => dir.display().to_string(),
                    _ => ".".to_string(),
                };
                Err(StoreError::Locked(format!(
                    "the data directory '{dir}' is in use by another Gofer server ({} is locked); \
                     stop that server or set server.data_dir to another directory",
                    path.display()
                )))
            }
            Err(e) => Err(StoreError::Internal(format!(
                "cannot open the database {}: {e}",
                path.display()
            ))),
        }
    }

    /// A database that lives in memory only (tests, and the conformance suite's second backend).
    pub fn in_memory() -> StoreResult<RedbStore> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(InMemoryBackend::new())
            .or_internal()?;
        Self::init(db)
    }

    /// Replaces the clock used for event timestamps (Unix ms). For tests of id and `emitted`
    /// ordering under a clock that stalls or goes backwards, and of retention.
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> RedbStore {
        self.clock = Arc::new(clock);
        self
    }

    /// Creates every table and the instance id on first open; reads the instance id.
    fn init(db: Database) -> StoreResult<RedbStore> {
        let txn = db.begin_write().or_internal()?;
        let instance_id = {
            txn.open_table(NAMESPACES).or_internal()?;
            txn.open_table(PIPELINES).or_internal()?;
            txn.open_table(PIPELINE_COUNTERS).or_internal()?;
            txn.open_table(CONFIGS).or_internal()?;
            txn.open_table(DEPLOYMENTS).or_internal()?;
            txn.open_table(EVENTS).or_internal()?;
            txn.open_table(RUNS).or_internal()?;
            txn.open_table(EXECUTIONS).or_internal()?;
            txn.open_table(RUN_QUEUE).or_internal()?;
            txn.open_table(RUNNING_RUNS).or_internal()?;
            txn.open_table(RUNS_WITH_LOGS).or_internal()?;
            txn.open_table(TOKENS).or_internal()?;
            txn.open_table(TOKEN_HASHES).or_internal()?;
            txn.open_table(ROLES).or_internal()?;
            txn.open_table(RUN_TOKENS).or_internal()?;
            txn.open_table(RUNS_WITH_OBJECTS).or_internal()?;
            txn.open_table(PIPELINE_OBJECTS).or_internal()?;
            txn.open_table(RUN_OBJECTS).or_internal()?;
            txn.open_table(PIPELINE_SECRETS).or_internal()?;
            txn.open_table(GLOBAL_SECRETS).or_internal()?;
            txn.open_table(EXTENSIONS).or_internal()?;
            txn.open_table(EXTENSION_OBJECTS).or_internal()?;
            txn.open_table(SUBSCRIPTIONS).or_internal()?;
            txn.open_table(EXTENSION_SUBSCRIPTIONS).or_internal()?;
            let mut meta = txn.open_table(META).or_internal()?;
            match get::<_, String>(&meta, META_INSTANCE_ID, "instance id")? {
                Some(id) => id,
                None => {
                    let id = Uuid::new_v4().hyphenated().to_string();
                    meta.insert(META_INSTANCE_ID, encode(&id)?.as_slice())
                        .or_internal()?;
                    id
                }
            }
        };
        txn.commit().or_internal()?;
        Ok(RedbStore {
            db: std::sync::RwLock::new(Some(Arc::new(db))),
            path: None,
            failure: std::sync::Mutex::default(),
            instance_id,
            clock: Arc::new(gofer_core::now_millis),
            generation: std::sync::atomic::AtomicU64::new(0),
            auth_generation: AtomicU64::new(0),
            unreadable: Arc::default(),
        })
    }

    /// Runs `op` in one write transaction: committed when it succeeds, aborted when it fails.
    fn write<T>(&self, op: impl FnOnce(&Tx<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let result = self.write_inner(op);
        if let Err(e) = &result {
            self.note_failure(e);
        }
        result
    }

    /// The open database, or the reason it is not open.
    fn db(&self) -> StoreResult<Arc<Database>> {
        match self
            .db
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            Some(db) => Ok(db.clone()),
            None => Err(StoreError::Io(self.failure().unwrap_or_else(|| {
                "the database is being reopened; try again shortly".into()
            }))),
        }
    }

    /// Remembers an I/O failure (health reports it; `recover` reopens the database).
    fn note_failure(&self, e: &StoreError) {
        if let StoreError::Full(m) | StoreError::Io(m) = e {
            let mut failure = self
                .failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if failure.is_none() {
                tracing::error!(error = %m, "storage failed; the database will be reopened");
            }
            // A full disk is the more useful reason; later "previous I/O error"s do not hide it.
            if failure.is_none() || matches!(e, StoreError::Full(_)) {
                *failure = Some(m.clone());
            }
        }
    }

    fn write_inner<T>(&self, op: impl FnOnce(&Tx<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let _seen = SeenScope::enter(&self.unreadable);
        let txn = self.db()?.begin_write().or_internal()?;
        let result = op(&Tx {
            txn: &txn,
            clock: &self.clock,
        });
        match result {
            Ok(value) => {
                txn.commit().or_internal()?;
                self.generation
                    .fetch_add(1, std::sync::atomic::Ordering::Release);
                Ok(value)
            }
            Err(e) => {
                if let Err(abort) = txn.abort() {
                    tracing::warn!(error = %abort, "aborting a failed write transaction failed");
                }
                Err(e)
            }
        }
    }

    /// [`RedbStore::write`] for operations that may change tokens or roles: bumps the auth
    /// generation after the transaction ends (committed or not, which is merely conservative).
    fn write_auth<T>(&self, op: impl FnOnce(&Tx<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let result = self.write(op);
        self.auth_generation.fetch_add(1, Ordering::Release);
        result
    }

    /// Runs `op` in one read transaction (a consistent snapshot).
    fn read<T>(&self, op: impl FnOnce(&ReadTransaction) -> StoreResult<T>) -> StoreResult<T> {
        let _seen = SeenScope::enter(&self.unreadable);
        let result = self
            .db()
            .and_then(|db| db.begin_read().or_internal())
            .and_then(|txn| op(&txn));
        if let Err(e) = &result {
            self.note_failure(e);
        }
        result
    }
}

/// The `Store` contract, one line per operation: each is implemented in the file named above its
/// group (one file per table family), so this block is also the store's table of contents.
impl Store for RedbStore {
    // system.rs
    fn instance_id(&self) -> StoreResult<String> {
        RedbStore::instance_id(self)
    }
    fn generation(&self) -> u64 {
        RedbStore::generation(self)
    }
    fn unreadable(&self) -> Vec<crate::store::UnreadableRecord> {
        RedbStore::unreadable(self)
    }
    fn failure(&self) -> Option<String> {
        RedbStore::failure(self)
    }
    fn recover(&self) -> Result<bool, String> {
        RedbStore::recover(self)
    }
    fn system(&self) -> StoreResult<System> {
        RedbStore::system(self)
    }
    fn update_system(&self, ignore_pipeline_run_events: Option<bool>) -> StoreResult<System> {
        RedbStore::update_system(self, ignore_pipeline_run_events)
    }
    // namespaces.rs
    fn list_namespaces(&self, page: Page) -> StoreResult<Vec<Namespace>> {
        RedbStore::list_namespaces(self, page)
    }
    fn get_namespace(&self, id: &str) -> StoreResult<Namespace> {
        RedbStore::get_namespace(self, id)
    }
    fn create_namespace(&self, namespace: Namespace) -> StoreResult<Namespace> {
        RedbStore::create_namespace(self, namespace)
    }
    fn update_namespace(
        &self,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        now: u64,
    ) -> StoreResult<Namespace> {
        RedbStore::update_namespace(self, id, name, description, now)
    }
    fn delete_namespace(&self, id: &str) -> StoreResult<()> {
        RedbStore::delete_namespace(self, id)
    }
    // pipelines.rs
    fn list_pipelines(&self, namespace: &str, page: Page) -> StoreResult<Vec<Metadata>> {
        RedbStore::list_pipelines(self, namespace, page)
    }
    fn get_pipeline(&self, namespace: &str, pipeline: &str) -> StoreResult<Metadata> {
        RedbStore::get_pipeline(self, namespace, pipeline)
    }
    fn set_pipeline_state(
        &self,
        namespace: &str,
        pipeline: &str,
        state: PipelineState,
        now: u64,
    ) -> StoreResult<Metadata> {
        RedbStore::set_pipeline_state(self, namespace, pipeline, state, now)
    }
    fn delete_pipeline(&self, namespace: &str, pipeline: &str) -> StoreResult<()> {
        RedbStore::delete_pipeline(self, namespace, pipeline)
    }
    fn register_config(
        &self,
        namespace: &str,
        config: ValidConfig,
        now: u64,
    ) -> StoreResult<Pipeline> {
        RedbStore::register_config(self, namespace, config, now)
    }
    fn list_configs(
        &self,
        namespace: &str,
        pipeline: &str,
        page: Page,
    ) -> StoreResult<Vec<Config>> {
        RedbStore::list_configs(self, namespace, pipeline, page)
    }
    fn get_config(&self, namespace: &str, pipeline: &str, version: u64) -> StoreResult<Config> {
        RedbStore::get_config(self, namespace, pipeline, version)
    }
    fn live_config(&self, namespace: &str, pipeline: &str) -> StoreResult<Option<Config>> {
        RedbStore::live_config(self, namespace, pipeline)
    }
    fn delete_config(&self, namespace: &str, pipeline: &str, version: u64) -> StoreResult<()> {
        RedbStore::delete_config(self, namespace, pipeline, version)
    }
    // deployments.rs
    fn deploy(
        &self,
        namespace: &str,
        pipeline: &str,
        version: u64,
        now: u64,
    ) -> StoreResult<Deployment> {
        RedbStore::deploy(self, namespace, pipeline, version, now)
    }
    fn start_deployment(
        &self,
        namespace: &str,
        pipeline: &str,
        version: u64,
        plan: gofer_core::api::DeployPlan,
        smoke_run: Option<NewRun>,
        now: u64,
    ) -> StoreResult<(Deployment, Option<Run>)> {
        RedbStore::start_deployment(self, namespace, pipeline, version, plan, smoke_run, now)
    }
    fn finish_deployment(
        &self,
        namespace: &str,
        pipeline: &str,
        id: u64,
        promote: bool,
        now: u64,
    ) -> StoreResult<Deployment> {
        RedbStore::finish_deployment(self, namespace, pipeline, id, promote, now)
    }
    fn advance_deployments(&self, now: u64) -> StoreResult<Vec<Deployment>> {
        RedbStore::advance_deployments(self, now)
    }
    fn active_deployments(&self) -> StoreResult<Vec<Deployment>> {
        RedbStore::active_deployments(self)
    }
    fn list_deployments(
        &self,
        namespace: &str,
        pipeline: &str,
        page: Page,
    ) -> StoreResult<Vec<Deployment>> {
        RedbStore::list_deployments(self, namespace, pipeline, page)
    }
    fn get_deployment(&self, namespace: &str, pipeline: &str, id: u64) -> StoreResult<Deployment> {
        RedbStore::get_deployment(self, namespace, pipeline, id)
    }
    // events.rs
    fn events_after(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Event>> {
        RedbStore::events_after(self, after, limit)
    }
    fn events_before(&self, before: Option<&str>, limit: usize) -> StoreResult<Vec<Event>> {
        RedbStore::events_before(self, before, limit)
    }
    fn last_event_id(&self) -> StoreResult<Option<String>> {
        RedbStore::last_event_id(self)
    }
    fn record_event(&self, kind: EventKind) -> StoreResult<Event> {
        RedbStore::record_event(self, kind)
    }
    // backup.rs
    fn backup_database(&self, path: &std::path::Path) -> StoreResult<u64> {
        RedbStore::backup_database(self, path)
    }
    fn get_event(&self, id: &str) -> StoreResult<Event> {
        RedbStore::get_event(self, id)
    }
    fn delete_event(&self, id: &str) -> StoreResult<()> {
        RedbStore::delete_event(self, id)
    }
    fn prune_events(&self, cutoff: u64) -> StoreResult<u64> {
        RedbStore::prune_events(self, cutoff)
    }
    // runs.rs
    fn create_run(
        &self,
        namespace: &str,
        pipeline: &str,
        new: NewRun,
        now: u64,
    ) -> StoreResult<Run> {
        RedbStore::create_run(self, namespace, pipeline, new, now)
    }
    fn get_run(&self, namespace: &str, pipeline: &str, run_id: u64) -> StoreResult<Run> {
        RedbStore::get_run(self, namespace, pipeline, run_id)
    }
    fn list_runs(&self, namespace: &str, pipeline: &str, page: Page) -> StoreResult<Vec<Run>> {
        RedbStore::list_runs(self, namespace, pipeline, page)
    }
    fn list_runs_of_version(
        &self,
        namespace: &str,
        pipeline: &str,
        version: u64,
        page: Page,
    ) -> StoreResult<Vec<Run>> {
        RedbStore::list_runs_of_version(self, namespace, pipeline, version, page)
    }
    fn get_task_execution(
        &self,
        namespace: &str,
        pipeline: &str,
        run_id: u64,
        task_id: &str,
    ) -> StoreResult<TaskExecution> {
        RedbStore::get_task_execution(self, namespace, pipeline, run_id, task_id)
    }
    fn list_task_executions(
        &self,
        namespace: &str,
        pipeline: &str,
        run_id: u64,
        page: Page,
    ) -> StoreResult<Vec<TaskExecution>> {
        RedbStore::list_task_executions(self, namespace, pipeline, run_id, page)
    }
    fn active_run_counts(&self) -> StoreResult<(u64, u64)> {
        RedbStore::active_run_counts(self)
    }
    fn unfinished_runs(&self) -> StoreResult<Vec<StoredRunState>> {
        RedbStore::unfinished_runs(self)
    }
    fn pending_runs(&self) -> StoreResult<Vec<StoredRun>> {
        RedbStore::pending_runs(self)
    }
    fn runs_with_logs(
        &self,
        namespace: &str,
        pipeline: &str,
        max_run_id: u64,
    ) -> StoreResult<Vec<StoredRunState>> {
        RedbStore::runs_with_logs(self, namespace, pipeline, max_run_id)
    }
    // auth.rs
    fn auth_generation(&self) -> u64 {
        RedbStore::auth_generation(self)
    }
    fn ensure_roles(&self, roles: Vec<Role>) -> StoreResult<()> {
        RedbStore::ensure_roles(self, roles)
    }
    fn bootstrap_token(&self, token: Token, hash: String) -> StoreResult<Token> {
        RedbStore::bootstrap_token(self, token, hash)
    }
    fn create_token(&self, token: Token, hash: String) -> StoreResult<Token> {
        RedbStore::create_token(self, token, hash)
    }
    fn get_token(&self, id: &str) -> StoreResult<Token> {
        RedbStore::get_token(self, id)
    }
    fn token_by_hash(&self, hash: &str) -> StoreResult<Option<Token>> {
        RedbStore::token_by_hash(self, hash)
    }
    fn list_tokens(&self, page: Page) -> StoreResult<Vec<Token>> {
        RedbStore::list_tokens(self, page)
    }
    fn set_token_disabled(&self, id: &str, disabled: bool) -> StoreResult<Token> {
        RedbStore::set_token_disabled(self, id, disabled)
    }
    fn delete_token(&self, id: &str) -> StoreResult<()> {
        RedbStore::delete_token(self, id)
    }
    fn list_roles(&self, page: Page) -> StoreResult<Vec<Role>> {
        RedbStore::list_roles(self, page)
    }
    fn get_role(&self, id: &str) -> StoreResult<Role> {
        RedbStore::get_role(self, id)
    }
    fn all_roles(&self) -> StoreResult<Vec<Role>> {
        RedbStore::all_roles(self)
    }
    fn create_role(&self, role: Role) -> StoreResult<Role> {
        RedbStore::create_role(self, role)
    }
    fn update_role(
        &self,
        id: &str,
        description: Option<String>,
        permissions: Option<Vec<Permission>>,
    ) -> StoreResult<Role> {
        RedbStore::update_role(self, id, description, permissions)
    }
    fn delete_role(&self, id: &str) -> StoreResult<()> {
        RedbStore::delete_role(self, id)
    }
    // runs.rs
    fn revoke_run_token(&self, namespace: &str, pipeline: &str, run_id: u64) -> StoreResult<bool> {
        RedbStore::revoke_run_token(self, namespace, pipeline, run_id)
    }
    fn commit(&self, changes: RunChanges) -> StoreResult<Vec<Event>> {
        RedbStore::commit(self, changes)
    }
    // secrets.rs
    fn secret_check(&self, candidate: Vec<u8>) -> StoreResult<Vec<u8>> {
        RedbStore::secret_check(self, candidate)
    }
    fn put_secret(
        &self,
        scope: &SecretScope,
        secret: Secret,
        ciphertext: Vec<u8>,
        force: bool,
    ) -> StoreResult<Secret> {
        RedbStore::put_secret(self, scope, secret, ciphertext, force)
    }
    fn get_secret(&self, scope: &SecretScope, key: &str) -> StoreResult<(Secret, Vec<u8>)> {
        RedbStore::get_secret(self, scope, key)
    }
    fn list_secrets(&self, scope: &SecretScope, page: Page) -> StoreResult<Vec<Secret>> {
        RedbStore::list_secrets(self, scope, page)
    }
    fn delete_secret(&self, scope: &SecretScope, key: &str) -> StoreResult<()> {
        RedbStore::delete_secret(self, scope, key)
    }
    // objects.rs
    fn put_object(
        &self,
        scope: &ObjectScope,
        key: &str,
        now: u64,
        force: bool,
        limit: u64,
    ) -> StoreResult<PutObject> {
        RedbStore::put_object(self, scope, key, now, force, limit)
    }
    fn get_object(&self, scope: &ObjectScope, key: &str) -> StoreResult<Object> {
        RedbStore::get_object(self, scope, key)
    }
    fn list_objects(&self, scope: &ObjectScope, page: Page) -> StoreResult<Vec<Object>> {
        RedbStore::list_objects(self, scope, page)
    }
    fn delete_object(&self, scope: &ObjectScope, key: &str) -> StoreResult<()> {
        RedbStore::delete_object(self, scope, key)
    }
    // extensions.rs
    fn install_extension(&self, extension: &Extension) -> StoreResult<()> {
        RedbStore::install_extension(self, extension)
    }
    fn get_extension(&self, id: &str) -> StoreResult<StoredExtension> {
        RedbStore::get_extension(self, id)
    }
    fn list_extensions(&self, page: Page) -> StoreResult<Vec<StoredExtension>> {
        RedbStore::list_extensions(self, page)
    }
    fn set_extension_runtime(&self, id: &str, runtime: &Extension) -> StoreResult<()> {
        RedbStore::set_extension_runtime(self, id, runtime)
    }
    fn set_extension_status(&self, id: &str, enabled: bool, now: u64) -> StoreResult<bool> {
        RedbStore::set_extension_status(self, id, enabled, now)
    }
    fn replace_extension_token(&self, id: &str, token: &Token, hash: &str) -> StoreResult<()> {
        RedbStore::replace_extension_token(self, id, token, hash)
    }
    fn uninstall_extension(&self, id: &str) -> StoreResult<StoredExtension> {
        RedbStore::uninstall_extension(self, id)
    }
    fn create_subscription(&self, sub: &gofer_core::api::Subscription) -> StoreResult<()> {
        RedbStore::create_subscription(self, sub)
    }
    fn get_subscription(&self, k: &SubscriptionKey) -> StoreResult<gofer_core::api::Subscription> {
        RedbStore::get_subscription(self, k)
    }
    fn list_subscriptions(
        &self,
        namespace: &str,
        pipeline: &str,
        page: Page,
    ) -> StoreResult<Vec<gofer_core::api::Subscription>> {
        RedbStore::list_subscriptions(self, namespace, pipeline, page)
    }
    fn list_extension_subscriptions(
        &self,
        extension: &str,
        page: Page,
    ) -> StoreResult<Vec<gofer_core::api::Subscription>> {
        RedbStore::list_extension_subscriptions(self, extension, page)
    }
    fn set_subscription_status(
        &self,
        k: &SubscriptionKey,
        status: gofer_core::enums::SubscriptionStatus,
        reason: Option<
            gofer_core::api::StatusReason<gofer_core::enums::SubscriptionStatusReasonKind>,
        >,
    ) -> StoreResult<()> {
        RedbStore::set_subscription_status(self, k, status, reason)
    }
    fn record_subscription_fire(
        &self,
        k: &SubscriptionKey,
        last_fired: u64,
        last_error: Option<String>,
    ) -> StoreResult<bool> {
        RedbStore::record_subscription_fire(self, k, last_fired, last_error)
    }
    fn delete_subscription(&self, k: &SubscriptionKey) -> StoreResult<()> {
        RedbStore::delete_subscription(self, k)
    }
    fn has_active_subscription(
        &self,
        namespace: &str,
        pipeline: &str,
        extension: &str,
    ) -> StoreResult<bool> {
        RedbStore::has_active_subscription(self, namespace, pipeline, extension)
    }
    // objects.rs
    fn expire_run_objects(
        &self,
        namespace: &str,
        pipeline: &str,
        max_run_id: u64,
    ) -> StoreResult<Vec<u64>> {
        RedbStore::expire_run_objects(self, namespace, pipeline, max_run_id)
    }
}
