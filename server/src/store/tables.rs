//! Every redb table of the store, in one place.
//!
//! Values are always bytes: one version-tag byte ([`VALUE_VERSION`]) followed by the JSON of a
//! core wire type or of a private stored struct; the index tables at the end are
//! the exception: their value is `()`, the key being the whole fact. Keys are tuples whose
//! leading components are the parents, so that everything beneath a parent is one contiguous
//! range: listing a pipeline's configs or deleting a namespace's pipelines is a range scan.
//!
//! Changing a key layout or a value's meaning is a format change: bump [`VALUE_VERSION`] (and
//! teach the decoder the old one) rather than reinterpreting stored bytes.

use redb::TableDefinition;

/// The version tag written before every stored value.
pub(crate) const VALUE_VERSION: u8 = 1;

/// Bytes stored under a key: the version tag, then JSON.
pub(crate) type Bytes = &'static [u8];

/// Singletons, keyed by the `META_*` names below.
pub(crate) const META: TableDefinition<&str, Bytes> = TableDefinition::new("meta");

/// `META` key of the server instance id (a UUID v4 string, created at first open).
pub(crate) const META_INSTANCE_ID: &str = "instance_id";
/// `META` key of the newest event id ever issued and its `emitted` time (`LastEvent`), kept
/// even when that event is deleted, so ids and times never go backwards (docs/logs-and-events.md#what-an-event-promises).
pub(crate) const META_LAST_EVENT: &str = "last_event";
/// `META` key of the persisted [`gofer_core::api::System`] flags (docs/api.md#roles-global-secrets-system-tokens).
pub(crate) const META_SYSTEM: &str = "system";

/// `namespace id` → `Namespace`.
pub(crate) const NAMESPACES: TableDefinition<&str, Bytes> = TableDefinition::new("namespaces");

/// `(namespace id, pipeline id)` → `Metadata`.
pub(crate) const PIPELINES: TableDefinition<(&str, &str), Bytes> =
    TableDefinition::new("pipelines");

/// `(namespace id, pipeline id)` → `PipelineCounters` (highest version, deployment id and run
/// id ever issued, and the live version). Lives exactly as long as the pipeline row.
pub(crate) const PIPELINE_COUNTERS: TableDefinition<(&str, &str), Bytes> =
    TableDefinition::new("pipeline_counters");

/// `(namespace id, pipeline id, version)` → `Config`.
pub(crate) const CONFIGS: TableDefinition<(&str, &str, u64), Bytes> =
    TableDefinition::new("configs");

/// `(namespace id, pipeline id, deployment id)` → `Deployment`.
pub(crate) const DEPLOYMENTS: TableDefinition<(&str, &str, u64), Bytes> =
    TableDefinition::new("deployments");

/// `event id` (canonical lowercase hyphenated UUIDv7, which sorts in id order as a string) →
/// `Event`.
pub(crate) const EVENTS: TableDefinition<&str, Bytes> = TableDefinition::new("events");

/// `(namespace id, pipeline id, run id)` → `StoredRun` (the API `Run` plus the engine's durable
/// control state).
pub(crate) const RUNS: TableDefinition<(&str, &str, u64), Bytes> = TableDefinition::new("runs");

/// `(namespace id, pipeline id, run id, task id)` → `StoredExecution`.
pub(crate) const EXECUTIONS: TableDefinition<(&str, &str, u64, &str), Bytes> =
    TableDefinition::new("executions");

// Index tables below hold no value (`()`): the key is the whole fact. Each is kept in step with
// the `RUNS`/`EXECUTIONS` rows in the transaction that writes them.

/// The durable run queue (docs/runs.md#queue): `(namespace id, pipeline id, run id)` of exactly the runs
/// whose state is `pending`. Key order is FIFO order within a pipeline.
pub(crate) const RUN_QUEUE: TableDefinition<(&str, &str, u64), ()> =
    TableDefinition::new("run_queue");

/// `(namespace id, pipeline id, run id)` of exactly the runs that left the queue and are not
/// `complete` (state `running`), so boot recovery and the delete checks never scan every run.
pub(crate) const RUNNING_RUNS: TableDefinition<(&str, &str, u64), ()> =
    TableDefinition::new("running_runs");

/// `(namespace id, pipeline id, run id)` of exactly the runs with at least one execution whose
/// `logs_removed` is false, so the retention sweep (docs/logs-and-events.md#deleting-and-retention) never scans every run.
pub(crate) const RUNS_WITH_LOGS: TableDefinition<(&str, &str, u64), ()> =
    TableDefinition::new("runs_with_logs");

// ---- tokens and roles (docs/auth.md) ----------------------------------------------------------------

/// `token id` (UUIDv7) → `StoredToken` (the API `Token` plus the SHA-256 hex of its secret; the
/// secret itself is never stored).
pub(crate) const TOKENS: TableDefinition<&str, Bytes> = TableDefinition::new("tokens");

/// `SHA-256 hex of a secret` → `token id`: how a presented secret finds its token.
pub(crate) const TOKEN_HASHES: TableDefinition<&str, &str> = TableDefinition::new("token_hashes");

/// `role id` → `Role`.
pub(crate) const ROLES: TableDefinition<&str, Bytes> = TableDefinition::new("roles");

/// `(namespace id, pipeline id, run id)` → `token id` of runs holding an API token (docs/auth.md#run-tokens),
/// so deleting a pipeline revokes its run tokens with a range scan rather than reading every run.
pub(crate) const RUN_TOKENS: TableDefinition<(&str, &str, u64), &str> =
    TableDefinition::new("run_tokens");
/// `(namespace id, pipeline id, run id)` of exactly the complete runs whose
/// `store_objects_expired` is false: the runs run object expiry (docs/objects-and-secrets.md#objects) may expire, so it
/// never scans every run, nor the queued and running ones (a backlog of 100,000 queued runs made
/// every new run scan them all). Databases written before may also list unfinished runs; expiry
/// skips those.
pub(crate) const RUNS_WITH_OBJECTS: TableDefinition<(&str, &str, u64), ()> =
    TableDefinition::new("runs_with_objects");

// Objects and secrets (docs/objects-and-secrets.md). Object bytes live in files under the data dir; these rows are
// the index. Secret rows hold ciphertext only (`StoredSecret`), never a plaintext value.

/// `(namespace id, pipeline id, key)` → `Object`.
pub(crate) const PIPELINE_OBJECTS: TableDefinition<(&str, &str, &str), Bytes> =
    TableDefinition::new("pipeline_objects");

/// `(namespace id, pipeline id, run id, key)` → `Object`.
pub(crate) const RUN_OBJECTS: TableDefinition<(&str, &str, u64, &str), Bytes> =
    TableDefinition::new("run_objects");

/// `(extension id, key)` → `Object`.
pub(crate) const EXTENSION_OBJECTS: TableDefinition<(&str, &str), Bytes> =
    TableDefinition::new("extension_objects");

// Extensions (docs/extensions.md). Secret-looking settings and registry passwords are stored sealed.

/// `extension id` → `StoredExtension`.
pub(crate) const EXTENSIONS: TableDefinition<&str, Bytes> = TableDefinition::new("extensions");

/// `(namespace id, pipeline id, extension id, subscription id)` → `Subscription` (docs/extensions.md#subscriptions).
pub(crate) const SUBSCRIPTIONS: TableDefinition<(&str, &str, &str, &str), Bytes> =
    TableDefinition::new("subscriptions");

/// `(extension id, namespace id, pipeline id, subscription id)`: the subscriptions of an
/// extension, so delivery at its start and uninstall never scan every pipeline's.
pub(crate) const EXTENSION_SUBSCRIPTIONS: TableDefinition<(&str, &str, &str, &str), ()> =
    TableDefinition::new("extension_subscriptions");

/// `(namespace id, pipeline id, key)` → `StoredSecret`.
pub(crate) const PIPELINE_SECRETS: TableDefinition<(&str, &str, &str), Bytes> =
    TableDefinition::new("pipeline_secrets");

/// `key` → `StoredSecret`.
pub(crate) const GLOBAL_SECRETS: TableDefinition<&str, Bytes> =
    TableDefinition::new("global_secrets");

/// `META` key of the encrypted check value that proves the configured key is the one the
/// stored secrets were encrypted with (docs/objects-and-secrets.md#secrets); a hex string.
pub(crate) const META_SECRET_CHECK: &str = "secret_check";

/// Unreadable records moved aside by `gofer service doctor --quarantine`, keyed
/// `<table>/<hex of the key bytes>`; the value is the JSON of `doctor::Quarantined` (the original
/// bytes as hex, so it is always shallow and always reads back). Nothing else reads it.
pub(crate) const QUARANTINE: TableDefinition<&str, Bytes> = TableDefinition::new("quarantine");
