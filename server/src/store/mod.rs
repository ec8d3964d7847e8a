//! Storage behind a small domain trait. One write transaction per logical
//! operation; every event an operation emits is written in that same transaction (docs/logs-and-events.md#what-an-event-promises).
//! Implementations are synchronous; [`StoreHandle`] moves every call off the async threads with
//! `spawn_blocking`. Only the server process opens the database file.

use gofer_core::api::{
    Config, Deployment, Event, EventKind, Initiator, Metadata, Namespace, Object, Page, Pipeline,
    Role, Run, Secret, System, TaskExecution, Token, Variable,
};
use gofer_core::enums::PipelineState;
use gofer_core::validate::ValidConfig;
use std::sync::Arc;

mod page_cache;
mod redb_store;
mod tables;

pub use page_cache::{PageCache, PageKey};
pub use redb_store::RedbStore;

/// Errors at the storage boundary. Every redb error becomes `Internal` inside the adapter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The named entity does not exist; the message reads as a sentence fragment, e.g.
    /// `namespace 'team-a' not found`.
    #[error("{0}")]
    NotFound(String),
    /// The operation conflicts with stored state, e.g. `namespace 'team-a' already exists`.
    #[error("{0}")]
    Conflict(String),
    /// A start refused because a run is in progress and the pipeline's overlap policy is
    /// `skip` (docs/runs.md#overlapping-runs) → 409, like any conflict; told apart so that a
    /// backfill can report the instant as skipped and go on.
    #[error("{0}")]
    Skipped(String),
    /// The database file is held by another process.
    #[error("{0}")]
    Locked(String),
    /// The request is refused for now (docs/runs.md#queue: run ingress paused, pipeline disabled) → 503.
    #[error("{0}")]
    Unavailable(String),
    /// The request itself is invalid in a way only stored state can tell (e.g. `only` naming a
    /// task the live config does not have) → 400; the message starts with the field.
    #[error("{0}")]
    Invalid(String),
    /// The operation is never allowed, whoever asks (editing a system role, docs/auth.md#roles-and-permissions) → 403.
    #[error("{0}")]
    Forbidden(String),
    /// A stored record that does not decode (written by an older, laxer version, or damaged).
    /// Lists and background readers skip such records; reading one directly is this error
    /// (500), whose message names the record and `gofer service doctor`.
    #[error("storage: {0}")]
    Unreadable(String),
    /// The disk holding the database is full: the write was not made (→ 507). The store
    /// reopens the database by itself once space is back (`Store::recover`).
    #[error("storage: {0}")]
    Full(String),
    /// The database cannot read or write its file (an I/O error, or the database is being
    /// reopened after one) → 503 until `Store::recover` succeeds.
    #[error("storage: {0}")]
    Io(String),
    /// Anything else: corruption, a bug.
    #[error("storage: {0}")]
    Internal(String),
}

/// A stored record that does not decode, as found by a reader or by a scan of the database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnreadableRecord {
    /// The table, e.g. `runs`.
    pub table: String,
    /// The record's key as text, e.g. `("default", "victim", 3)`.
    pub key: String,
    /// Why it does not decode.
    pub error: String,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The domain operations (docs/pipelines.md#the-records, docs/pipelines.md#writing-a-pipeline-config, docs/runs.md, docs/objects-and-secrets.md, docs/pipelines.md#versions-and-deployments). Token operations are added by the issue
/// that introduces them.
///
/// Ordering: lists honour [`Page`] (`offset`, `limit`, `reverse`) applied to the default order
/// stated on each method. Missing parents are `NotFound` naming the parent.
///
/// Times: the `now` arguments stamp the entities (`created`, `modified`, `registered`,
/// `deprecated`, a deployment's `started`/`ended`). An event's `emitted` comes from the store's own
/// clock under the write lock, because it must never decrease in id order (docs/logs-and-events.md#what-an-event-promises).
pub trait Store: Send + Sync + 'static {
    // ---- system --------------------------------------------------------------------------
    /// The server instance id (a UUID created at first open and stored, docs/schedulers.md#what-every-scheduler-does).
    fn instance_id(&self) -> StoreResult<String>;
    /// A counter that grows after every committed write. Read it before a read transaction:
    /// if it is unchanged later, nothing was written since, so a result computed from that read
    /// is still current (how [`PageCache`] knows a cached page is fresh).
    fn generation(&self) -> u64;
    /// The unreadable records readers have skipped since the store was opened (see
    /// [`StoreError::Unreadable`]); read from memory, so cheap enough for every health check.
    fn unreadable(&self) -> Vec<UnreadableRecord>;
    /// Why the store cannot write now (a full disk, an I/O error), until [`Store::recover`]
    /// reopens the database; `None` when it is fine. Read from memory.
    fn failure(&self) -> Option<String>;
    /// After a [`Store::failure`]: reopens the database. `Ok(true)` when it was reopened,
    /// `Ok(false)` when there was nothing to do, `Err` (the reason) when it cannot be yet.
    fn recover(&self) -> Result<bool, String>;
    fn system(&self) -> StoreResult<System>;
    /// Sets `ignore_pipeline_run_events` when `Some`; returns the new state.
    fn update_system(&self, ignore_pipeline_run_events: Option<bool>) -> StoreResult<System>;

    // ---- namespaces ----------------------------------------------------------------------
    /// Ordered by id ascending.
    fn list_namespaces(&self, page: Page) -> StoreResult<Vec<Namespace>>;
    fn get_namespace(&self, id: &str) -> StoreResult<Namespace>;
    /// Stores a new namespace and emits `created_namespace`. `Conflict` when the id exists.
    fn create_namespace(&self, namespace: Namespace) -> StoreResult<Namespace>;
    /// Updates name and/or description, sets `modified = now`.
    fn update_namespace(
        &self,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        now: u64,
    ) -> StoreResult<Namespace>;
    /// Deletes the namespace and everything beneath it (docs/pipelines.md#what-a-delete-takes-with-it), emitting `deleted_pipeline`
    /// for each pipeline, then `deleted_namespace`. `Conflict` when any of its pipelines has a
    /// pending or running run (nothing is deleted then).
    fn delete_namespace(&self, id: &str) -> StoreResult<()>;

    // ---- pipelines -----------------------------------------------------------------------
    /// Ordered by pipeline id ascending. `NotFound` when the namespace is missing.
    fn list_pipelines(&self, namespace: &str, page: Page) -> StoreResult<Vec<Metadata>>;
    fn get_pipeline(&self, namespace: &str, pipeline: &str) -> StoreResult<Metadata>;
    /// Sets the state and `modified = now`; emits `enabled_pipeline`/`disabled_pipeline` only when
    /// the state changes.
    fn set_pipeline_state(
        &self,
        namespace: &str,
        pipeline: &str,
        state: PipelineState,
        now: u64,
    ) -> StoreResult<Metadata>;
    /// Deletes the pipeline with its configs, deployments, counters, runs, task executions and
    /// queue entries; emits `deleted_pipeline`. `Conflict("pipeline '<p>' has pending or running
    /// runs; cancel them first")` when it has a pending or running run.
    /// A pipeline registered later under the same id is a new pipeline: versions and deployment
    /// ids start again at 1.
    fn delete_pipeline(&self, namespace: &str, pipeline: &str) -> StoreResult<()>;

    // ---- configs and deployments ---------------------------------------------------------
    /// Stores `config` as the next version (1 + highest ever registered, never reused) with state
    /// `unreleased`; creates the pipeline metadata (state `active`) and emits `created_pipeline` on
    /// the first registration. `NotFound` when the namespace is missing. Concurrent calls get
    /// distinct consecutive versions.
    fn register_config(
        &self,
        namespace: &str,
        config: ValidConfig,
        now: u64,
    ) -> StoreResult<Pipeline>;
    /// Ordered by version descending.
    fn list_configs(&self, namespace: &str, pipeline: &str, page: Page)
    -> StoreResult<Vec<Config>>;
    /// `version == 0` means the highest registered version that still exists (`NotFound` when
    /// every version was deleted).
    fn get_config(&self, namespace: &str, pipeline: &str, version: u64) -> StoreResult<Config>;
    /// The live config, if any.
    fn live_config(&self, namespace: &str, pipeline: &str) -> StoreResult<Option<Config>>;
    /// `Conflict` (`cannot delete the live version`) when it is live; `Conflict` naming a run when
    /// a pending or running run is pinned to it (docs/pipelines.md#versions-and-deployments). Emits no event.
    fn delete_config(&self, namespace: &str, pipeline: &str, version: u64) -> StoreResult<()>;
    /// Makes `version` live in one transaction (docs/pipelines.md#versions-and-deployments): deployment record, `started_deployment`,
    /// states and `deprecated` times, `completed_deployment`; returns the final deployment.
    /// `Conflict` (`version <n> is already live`) when it already is; `NotFound` for a missing
    /// version. A refused deploy changes nothing and consumes no deployment id.
    fn deploy(
        &self,
        namespace: &str,
        pipeline: &str,
        version: u64,
        now: u64,
    ) -> StoreResult<Deployment>;
    /// Starts a deployment with a strategy (docs/pipelines.md#safe-deployments). `Instant` is
    /// [`Store::deploy`]; a canary or smoke deployment stays `running` and is concluded by its
    /// runs, the clock ([`Store::advance_deployments`]) or by hand. A smoke deployment needs
    /// `smoke_run`, created in the same transaction on the new version and returned. Besides
    /// `deploy`'s errors: `Conflict` while another deployment of the pipeline is in progress;
    /// `Invalid` (naming `canary`) for a canary with no live version to compare with.
    fn start_deployment(
        &self,
        namespace: &str,
        pipeline: &str,
        version: u64,
        plan: gofer_core::api::DeployPlan,
        smoke_run: Option<NewRun>,
        now: u64,
    ) -> StoreResult<(Deployment, Option<Run>)>;
    /// Promotes (`promote`) or aborts a running deployment by hand; `Conflict` when it is
    /// already complete, `NotFound` when missing.
    fn finish_deployment(
        &self,
        namespace: &str,
        pipeline: &str,
        id: u64,
        promote: bool,
        now: u64,
    ) -> StoreResult<Deployment>;
    /// Concludes the canaries whose time bake decides them at `now`; returns those concluded.
    fn advance_deployments(&self, now: u64) -> StoreResult<Vec<Deployment>>;
    /// Every deployment in progress, across pipelines.
    fn active_deployments(&self) -> StoreResult<Vec<Deployment>>;
    /// Ordered by deployment id ascending.
    fn list_deployments(
        &self,
        namespace: &str,
        pipeline: &str,
        page: Page,
    ) -> StoreResult<Vec<Deployment>>;
    fn get_deployment(&self, namespace: &str, pipeline: &str, id: u64) -> StoreResult<Deployment>;

    // ---- events --------------------------------------------------------------------------
    /// Events with id strictly greater than `after` (all when `None`), oldest first, at most `limit`.
    fn events_after(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Event>>;
    /// Events with id strictly less than `before` (from the newest when `None`), newest first.
    fn events_before(&self, before: Option<&str>, limit: usize) -> StoreResult<Vec<Event>>;
    /// The id of the newest stored event (deleted and pruned events are not considered; ids
    /// issued later are still greater than theirs).
    fn last_event_id(&self) -> StoreResult<Option<String>>;
    fn get_event(&self, id: &str) -> StoreResult<Event>;
    /// Appends an event that goes with no other change (a notification's delivery,
    /// docs/logs-and-events.md#kinds).
    fn record_event(&self, kind: EventKind) -> StoreResult<Event>;
    /// Writes a consistent copy of the whole database, as of one commit, to a new file at
    /// `path`; returns the rows copied (docs/deploy.md#backup-and-restore).
    fn backup_database(&self, path: &std::path::Path) -> StoreResult<u64>;
    fn delete_event(&self, id: &str) -> StoreResult<()>;
    /// Deletes, in id order, every event emitted before `cutoff` (ms, exclusive); returns how many.
    fn prune_events(&self, cutoff: u64) -> StoreResult<u64>;

    // ---- runs and task executions (docs/runs.md) ------------------------------------------------
    // After `create_run`, only the engine's dispatcher changes runs and executions, always
    // through `commit`, so there is a single writer of run state.

    /// Creates a run (docs/runs.md#queue steps 2–6 and the transaction after them): `NotFound` for a
    /// missing namespace or pipeline; `Unavailable("run ingress is paused")` when
    /// `ignore_pipeline_run_events` is set; `Unavailable("pipeline '<p>' is disabled")`;
    /// `Conflict("pipeline '<p>' has no live config version; deploy one first (gofer pipeline
    /// config deploy <p> <version>, or gofer up)")`; `Invalid("only: unknown task '<t>'")` when
    /// `new.only` names a task the live config lacks. Then, in one write transaction: run id =
    /// 1 + highest ever used by the pipeline; pins the live version; state `pending`, status
    /// `unknown`, `queued = now`; adds the run to the durable queue; emits `queued_run` and stores
    /// its id in `event_id`. Returns the stored run.
    fn create_run(
        &self,
        namespace: &str,
        pipeline: &str,
        new: NewRun,
        now: u64,
    ) -> StoreResult<Run>;
    fn get_run(&self, namespace: &str, pipeline: &str, run_id: u64) -> StoreResult<Run>;
    /// Ordered by run id ascending. `NotFound` when the pipeline is missing.
    fn list_runs(&self, namespace: &str, pipeline: &str, page: Page) -> StoreResult<Vec<Run>>;
    /// The runs made with config `version`, ordered like [`Store::list_runs`]; the page applies
    /// to those runs. `NotFound` when the pipeline is missing.
    fn list_runs_of_version(
        &self,
        namespace: &str,
        pipeline: &str,
        version: u64,
        page: Page,
    ) -> StoreResult<Vec<Run>>;
    /// `NotFound` naming the run or the task.
    fn get_task_execution(
        &self,
        namespace: &str,
        pipeline: &str,
        run_id: u64,
        task_id: &str,
    ) -> StoreResult<TaskExecution>;
    /// Ordered by task id. `NotFound` when the run is missing.
    fn list_task_executions(
        &self,
        namespace: &str,
        pipeline: &str,
        run_id: u64,
        page: Page,
    ) -> StoreResult<Vec<TaskExecution>>;
    /// Every run that is not `complete`, with engine state and executions: pending runs in queue
    /// order (per pipeline by run id), then running runs. Used by the dispatcher at boot.
    fn unfinished_runs(&self) -> StoreResult<Vec<StoredRunState>>;
    /// How many runs wait in the queue and how many are running (`GET /metrics`).
    fn active_run_counts(&self) -> StoreResult<(u64, u64)>;
    /// The queue: pending runs of every pipeline, oldest first per pipeline, as stored.
    fn pending_runs(&self) -> StoreResult<Vec<StoredRun>>;
    /// Runs of a pipeline that are `complete`, have `run_id <= max_run_id` and still have logs
    /// (some execution with `logs_removed = false`), with their executions (docs/logs-and-events.md#deleting-and-retention).
    fn runs_with_logs(
        &self,
        namespace: &str,
        pipeline: &str,
        max_run_id: u64,
    ) -> StoreResult<Vec<StoredRunState>>;
    /// Writes every changed run and execution and emits every event, in one write transaction,
    /// in the order given; a run listed in `dequeued` leaves the queue. Returns the stored events.
    /// Writing a run or execution of a pipeline that no longer exists is `NotFound` and changes
    /// nothing.
    ///
    /// The queue always follows the stored run state (it holds exactly the `pending` runs), so
    /// only runs that `create_run` made can be written (`NotFound` naming the run otherwise), and
    /// a run in `dequeued` must leave `pending` in the same commit
    /// (`Invalid("dequeued: run <n> of pipeline '<p>' is still pending")` otherwise); either
    /// refusal also changes nothing.
    fn commit(&self, changes: RunChanges) -> StoreResult<Vec<Event>>;

    // ---- tokens and roles (docs/auth.md) -------------------------------------------------------
    // Tokens are stored with the SHA-256 of their secret (lowercase hex), never the secret, and
    // are found by that hash. Every write below (and `create_run` with a run token, and the
    // deletions that revoke run tokens) changes `auth_generation`, which the HTTP layer uses to
    // know when its cache of tokens and compiled roles is stale.

    /// A number that changes after every committed write of a token or a role.
    fn auth_generation(&self) -> u64;
    /// Creates each of `roles` that does not exist yet (system roles at boot, docs/auth.md#roles-that-always-exist),
    /// emitting `created_role` for each; existing roles are left as they are.
    fn ensure_roles(&self, roles: Vec<Role>) -> StoreResult<()>;
    /// Stores the bootstrap token and sets `system.bootstrap_token_created`, once:
    /// `Conflict("bootstrap token already exists")` afterwards (docs/auth.md#tokens).
    fn bootstrap_token(&self, token: Token, hash: String) -> StoreResult<Token>;
    /// Stores a token. Every role must exist: `Invalid("roles: unknown role '<id>'")`.
    fn create_token(&self, token: Token, hash: String) -> StoreResult<Token>;
    fn get_token(&self, id: &str) -> StoreResult<Token>;
    /// The token whose secret hashes to `hash`, if any.
    fn token_by_hash(&self, hash: &str) -> StoreResult<Option<Token>>;
    /// Ordered by id (UUIDv7, so creation order) ascending.
    fn list_tokens(&self, page: Page) -> StoreResult<Vec<Token>>;
    fn set_token_disabled(&self, id: &str, disabled: bool) -> StoreResult<Token>;
    fn delete_token(&self, id: &str) -> StoreResult<()>;
    /// Ordered by id ascending.
    fn list_roles(&self, page: Page) -> StoreResult<Vec<Role>>;
    fn get_role(&self, id: &str) -> StoreResult<Role>;
    /// Every role (the authorization cache loads them all; there are few).
    fn all_roles(&self) -> StoreResult<Vec<Role>>;
    /// `Conflict("role '<id>' already exists")`; emits `created_role`.
    fn create_role(&self, role: Role) -> StoreResult<Role>;
    /// `Forbidden` for a system role; `NotFound`.
    fn update_role(
        &self,
        id: &str,
        description: Option<String>,
        permissions: Option<Vec<gofer_core::api::Permission>>,
    ) -> StoreResult<Role>;
    /// `Forbidden` for a system role; `NotFound`. Emits `deleted_role`.
    fn delete_role(&self, id: &str) -> StoreResult<()>;
    /// Revokes the API token of a run (docs/auth.md#run-tokens): deletes the token and its role
    /// `run:<ns>:<p>:<run>` and emits `deleted_role`. Returns whether the run had one; a run
    /// without a token (or already revoked) is `Ok(false)`. Also done inside the pipeline and
    /// namespace deletions for all their runs, and inside `expire_run_objects`.
    fn revoke_run_token(&self, namespace: &str, pipeline: &str, run_id: u64) -> StoreResult<bool>;

    // ---- secrets (docs/objects-and-secrets.md#secrets) ---------------------------------------------------------------
    // The store only ever sees ciphertext: encryption happens above it (in `secrets.rs`).

    /// The encrypted check value of docs/objects-and-secrets.md#secrets: stores `candidate` when none is stored yet and
    /// returns what is stored (the caller then proves it can decrypt it).
    fn secret_check(&self, candidate: Vec<u8>) -> StoreResult<Vec<u8>>;
    /// Stores a secret. `NotFound` for a missing namespace/pipeline; `Conflict("secret '<k>'
    /// already exists; use force to replace it")` when the key exists and `force` is false.
    /// With `force`, the value is replaced and `created` set to the given metadata's.
    fn put_secret(
        &self,
        scope: &SecretScope,
        secret: Secret,
        ciphertext: Vec<u8>,
        force: bool,
    ) -> StoreResult<Secret>;
    /// Metadata and ciphertext. `NotFound` naming the secret (or its missing parent).
    fn get_secret(&self, scope: &SecretScope, key: &str) -> StoreResult<(Secret, Vec<u8>)>;
    /// Metadata only, by `created` ascending (then key).
    fn list_secrets(&self, scope: &SecretScope, page: Page) -> StoreResult<Vec<Secret>>;
    fn delete_secret(&self, scope: &SecretScope, key: &str) -> StoreResult<()>;

    // ---- objects (docs/objects-and-secrets.md#objects) ---------------------------------------------------------------
    // The store holds the index `{key, created}`; the bytes are files (in `objects.rs`).

    /// Indexes an object whose bytes are ready to be moved into place. `NotFound` for a missing
    /// parent; `Conflict("object '<k>' already exists; use force to replace it")` without
    /// `force`; `Conflict("objects for run <n> have expired")` for an expired run. For a
    /// pipeline scope with `limit > 0`, evicts the oldest objects (by `created`, then key) until
    /// a new key fits, returning their keys so the caller removes their files.
    fn put_object(
        &self,
        scope: &ObjectScope,
        key: &str,
        now: u64,
        force: bool,
        limit: u64,
    ) -> StoreResult<PutObject>;
    /// `NotFound` naming the object (or its missing parent). Objects of an expired run are gone.
    fn get_object(&self, scope: &ObjectScope, key: &str) -> StoreResult<Object>;
    /// By `created` ascending (then key). Empty for an expired run.
    fn list_objects(&self, scope: &ObjectScope, page: Page) -> StoreResult<Vec<Object>>;
    fn delete_object(&self, scope: &ObjectScope, key: &str) -> StoreResult<()>;

    // ---- extensions (docs/extensions.md) -------------------------------------------------------------

    /// Stores a new extension (`Conflict` naming it when the id exists; `Invalid` for an unknown
    /// additional role), creates its role `extension:<id>` and emits `created_role` and
    /// `installed_extension`.
    fn install_extension(&self, extension: &gofer_core::api::Extension) -> StoreResult<()>;
    /// `NotFound` naming the extension.
    fn get_extension(&self, id: &str) -> StoreResult<StoredExtension>;
    /// By id.
    fn list_extensions(&self, page: Page) -> StoreResult<Vec<StoredExtension>>;
    /// Sets the runtime fields (`url`, `started`, `state`, `documentation`, and the supervisor's
    /// `restarts`, `retry_at`, `last_error`) of an extension.
    fn set_extension_runtime(
        &self,
        id: &str,
        runtime: &gofer_core::api::Extension,
    ) -> StoreResult<()>;
    /// Enables or disables an extension (docs/extensions.md#install-enable-disable-uninstall): on a change sets `modified`, emits
    /// `enabled_extension`/`disabled_extension` and disables the token when disabling. Returns
    /// whether the status changed.
    fn set_extension_status(&self, id: &str, enabled: bool, now: u64) -> StoreResult<bool>;
    /// Replaces the extension's token with `token` (docs/extensions.md#launch): the previous one is deleted.
    fn replace_extension_token(
        &self,
        id: &str,
        token: &gofer_core::api::Token,
        hash: &str,
    ) -> StoreResult<()>;
    /// Deletes an extension with its object rows, token and role (emitting `deleted_role`),
    /// then emits `uninstalled_extension` (docs/extensions.md#install-enable-disable-uninstall). The caller removes the object files.
    fn uninstall_extension(&self, id: &str) -> StoreResult<StoredExtension>;

    // ---- subscriptions (docs/extensions.md#subscriptions) ----------------------------------------------------------

    /// Stores a new subscription and emits `pipeline_extension_subscription_registered`.
    /// `NotFound` for a missing pipeline or extension, `Conflict` when it exists.
    fn create_subscription(&self, subscription: &gofer_core::api::Subscription) -> StoreResult<()>;
    /// `NotFound` naming the subscription (or its missing pipeline).
    fn get_subscription(&self, key: &SubscriptionKey)
    -> StoreResult<gofer_core::api::Subscription>;
    /// A pipeline's subscriptions, by extension id then subscription id.
    fn list_subscriptions(
        &self,
        namespace: &str,
        pipeline: &str,
        page: Page,
    ) -> StoreResult<Vec<gofer_core::api::Subscription>>;
    /// An extension's subscriptions, by namespace, pipeline and subscription id.
    fn list_extension_subscriptions(
        &self,
        extension: &str,
        page: Page,
    ) -> StoreResult<Vec<gofer_core::api::Subscription>>;
    /// Sets status and reason; `NotFound` when it is gone.
    fn set_subscription_status(
        &self,
        key: &SubscriptionKey,
        status: gofer_core::enums::SubscriptionStatus,
        reason: Option<
            gofer_core::api::StatusReason<gofer_core::enums::SubscriptionStatusReasonKind>,
        >,
    ) -> StoreResult<()>;
    /// Records how the extension's last attempt to start a run went: `last_fired`,
    /// `last_error`, and on an active subscription the status reason (`failed`, saying why,
    /// while it fails; none once it works). `Ok(false)` when nothing changed or the
    /// subscription is gone.
    fn record_subscription_fire(
        &self,
        key: &SubscriptionKey,
        last_fired: u64,
        last_error: Option<String>,
    ) -> StoreResult<bool>;
    /// Deletes it and emits `pipeline_extension_subscription_unregistered`.
    fn delete_subscription(&self, key: &SubscriptionKey) -> StoreResult<()>;
    /// Whether the pipeline has an `active` subscription to the extension (docs/extensions.md#the-api-every-extension-serves).
    fn has_active_subscription(
        &self,
        namespace: &str,
        pipeline: &str,
        extension: &str,
    ) -> StoreResult<bool>;

    /// Run object expiry (docs/objects-and-secrets.md#objects): every `complete` run of the pipeline with `run_id <=
    /// max_run_id` whose objects have not expired gets its object rows deleted and
    /// `store_objects_expired = true`, and its run token revoked (docs/auth.md#run-tokens), in one
    /// transaction. Returns those run ids (the caller removes their files).
    fn expire_run_objects(
        &self,
        namespace: &str,
        pipeline: &str,
        max_run_id: u64,
    ) -> StoreResult<Vec<u64>>;
}

/// The run token `create_run` stores when the pinned config has a task with
/// `inject_api_token` (docs/auth.md#run-tokens). The caller derives the secret, so the store only ever sees
/// its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTokenSeed {
    /// The token id (UUIDv7).
    pub id: String,
    /// SHA-256 of the secret, lowercase hex.
    pub hash: String,
    /// Unix ms; `now + api.run_token_expiry`.
    pub expires: u64,
}

/// Where a secret lives (docs/objects-and-secrets.md#secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretScope {
    Pipeline { namespace: String, pipeline: String },
    Global,
}

impl SecretScope {
    /// The associated data of the secret's ciphertext (docs/objects-and-secrets.md#secrets), so that a ciphertext copied
    /// to another entry does not decrypt.
    pub fn associated_data(&self, key: &str) -> String {
        match self {
            SecretScope::Pipeline {
                namespace,
                pipeline,
            } => format!("pipeline/{namespace}/{pipeline}/{key}"),
            SecretScope::Global => format!("global/{key}"),
        }
    }
}

/// Where an object lives (docs/objects-and-secrets.md#objects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectScope {
    Extension {
        extension: String,
    },
    Pipeline {
        namespace: String,
        pipeline: String,
    },
    Run {
        namespace: String,
        pipeline: String,
        run_id: u64,
    },
}

impl ObjectScope {
    /// The directory holding this scope's object files.
    pub fn dir(&self, data_dir: &std::path::Path) -> std::path::PathBuf {
        match self {
            ObjectScope::Extension { extension } => {
                gofer_core::paths::extension_objects(data_dir, extension)
            }
            ObjectScope::Pipeline {
                namespace,
                pipeline,
            } => gofer_core::paths::pipeline_objects(data_dir, namespace, pipeline),
            ObjectScope::Run {
                namespace,
                pipeline,
                run_id,
            } => gofer_core::paths::run_objects(data_dir, namespace, pipeline, *run_id),
        }
    }
}

/// An extension as stored: settings whose key looks secret and the registry password hold
/// sealed values (hex of the ciphertext, see `secrets.rs`), which the API masks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredExtension {
    pub extension: gofer_core::api::Extension,
    /// The id of the extension's current token (replaced at every start, docs/extensions.md#launch).
    #[serde(default)]
    pub token_id: Option<String>,
}

/// `(namespace id, pipeline id, extension id, subscription id)` of a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionKey {
    pub namespace: String,
    pub pipeline: String,
    pub extension: String,
    pub subscription: String,
}

impl SubscriptionKey {
    pub fn of(s: &gofer_core::api::Subscription) -> SubscriptionKey {
        SubscriptionKey {
            namespace: s.namespace_id.clone(),
            pipeline: s.pipeline_id.clone(),
            extension: s.extension_id.clone(),
            subscription: s.subscription_id.clone(),
        }
    }
}

/// What [`Store::put_object`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutObject {
    pub object: Object,
    /// Keys evicted to make room (pipeline object limit).
    pub evicted: Vec<String>,
}

/// What `create_run` needs besides the ids (docs/runs.md#queue, docs/runs.md#results-and-payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    /// Run variables (source already set: `run_options` or `extension`).
    pub variables: Vec<Variable>,
    pub initiator: Initiator,
    pub payload: Option<serde_json::Value>,
    pub only: Option<Vec<String>>,
    pub command_override: Option<Vec<String>>,
    /// The run's API token, used only when some task of the pinned config has
    /// `inject_api_token` (docs/auth.md#run-tokens).
    pub run_token: Option<RunTokenSeed>,
    /// The run this one retries (docs/runs.md#retrying-a-run).
    pub retry: Option<gofer_core::api::RetryOf>,
}

/// A run with the engine's durable control state (not part of the API).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredRun {
    pub run: Run,
    /// Set when a cancel was accepted; `by_admin` decides `admin_cancelled` vs `user_cancelled`.
    #[serde(default)]
    pub cancel: Option<CancelRequest>,
    /// Absolute run deadline in ms (`started + timeout`), 0 = none (docs/runs.md#queue).
    #[serde(default)]
    pub deadline: u64,
}

/// Who asked to cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CancelRequest {
    pub by_admin: bool,
}

/// A task execution with the engine's durable control state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredExecution {
    pub execution: TaskExecution,
    /// When the pending retry may start (ms), 0 = none (docs/runs.md#retries: survives restarts).
    #[serde(default)]
    pub retry_at: u64,
    /// A cancel of this execution was accepted, with its grace in seconds.
    #[serde(default)]
    pub cancel: Option<TaskCancel>,
}

/// A task cancellation request (docs/runs.md#cancellation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskCancel {
    pub grace_secs: u64,
    pub by_admin: bool,
}

/// A run with all its executions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRunState {
    pub run: StoredRun,
    pub executions: Vec<StoredExecution>,
}

/// Which run: its namespace, pipeline and number. How the engine, the store's run changes and
/// the run routes name a run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunKey {
    pub namespace: String,
    pub pipeline: String,
    pub run: u64,
}

impl RunKey {
    pub fn new(namespace: impl Into<String>, pipeline: impl Into<String>, run: u64) -> RunKey {
        RunKey {
            namespace: namespace.into(),
            pipeline: pipeline.into(),
            run,
        }
    }

    /// The key of a stored run.
    pub fn of(run: &gofer_core::api::Run) -> RunKey {
        RunKey::new(
            run.namespace_id.clone(),
            run.pipeline_id.clone(),
            run.run_id,
        )
    }
}

impl std::fmt::Display for RunKey {
    /// `namespace/pipeline run N`, for log lines and messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} run {}", self.namespace, self.pipeline, self.run)
    }
}

/// One atomic change of run state (see [`Store::commit`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunChanges {
    pub runs: Vec<StoredRun>,
    pub executions: Vec<StoredExecution>,
    /// Runs leaving the queue.
    pub dequeued: Vec<RunKey>,
    pub events: Vec<EventKind>,
}

/// Async front of a [`Store`]: runs each call on the blocking pool and wakes event subscribers
/// after writes.
#[derive(Clone)]
pub struct StoreHandle {
    inner: Arc<dyn Store>,
    changed: Arc<tokio::sync::watch::Sender<u64>>,
    /// Serialised list pages, valid until the next write.
    pub pages: Arc<PageCache>,
}

impl StoreHandle {
    pub fn new(store: Arc<dyn Store>) -> Self {
        StoreHandle {
            inner: store,
            changed: Arc::new(tokio::sync::watch::channel(0).0),
            pages: Arc::default(),
        }
    }

    /// Runs a read on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
    {
        let store = self.inner.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| StoreError::Internal(format!("store task failed: {e}")))?
    }

    /// Runs a write on the blocking pool, then wakes everyone waiting for new events.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
    {
        let result = self.read(f).await;
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        result
    }

    /// The store's write generation (see [`Store::generation`]).
    pub fn generation(&self) -> u64 {
        self.inner.generation()
    }

    /// A receiver that changes after every write (a wake-up signal only; readers read the store).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The store itself, for synchronous use at boot.
    pub fn blocking(&self) -> &dyn Store {
        self.inner.as_ref()
    }
}
