//! The redb implementation of [`Store`] (STYLE rule 13).
//!
//! * One write transaction per logical operation; the events an operation emits are written in
//!   that transaction (SPEC §8.1), so a reader that sees an event can read the new state.
//! * Event ids are UUIDv7 strings issued under the write lock: a fresh id from the current
//!   millisecond when the clock has advanced past the previous event, else the previous id + 1
//!   (as a `u128`), with `emitted` held at the previous value. Ids therefore strictly increase in
//!   commit order and `emitted` never decreases, whatever the clock does.
//! * Every value is `VALUE_VERSION` followed by JSON (see [`super::tables`]); every redb error
//!   becomes [`StoreError::Internal`] here and nowhere else.

mod doctor;

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
    ConfigState, DeploymentState, DeploymentStatus, PipelineState, RunState, RunStatus,
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
    /// Highest config version ever registered (versions are never reused, SPEC §3.4).
    last_version: u64,
    /// Highest deployment id ever issued.
    last_deployment: u64,
    /// The live version, 0 when none; kept in step with the configs' `state` by `deploy`.
    live_version: u64,
    /// Highest run id ever issued (run ids are never reused within the pipeline's life, SPEC
    /// §5.1). Absent in rows written before runs existed, hence the default.
    #[serde(default)]
    last_run: u64,
}

/// A secret row: metadata and the ciphertext (nonce ‖ ciphertext ‖ tag, SPEC §9.2) as hex.
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

// ---- error and value boundary ------------------------------------------------------------------

/// Converts every redb error (and I/O error) into [`StoreError::Internal`].
trait OrInternal<T> {
    fn or_internal(self) -> StoreResult<T>;
}

impl<T, E: Into<redb::Error>> OrInternal<T> for Result<T, E> {
    fn or_internal(self) -> StoreResult<T> {
        self.map_err(|e| storage_error(e.into()))
    }
}

/// A redb error as ours: a full disk and I/O failures are told apart from everything else,
/// because the store recovers from them by reopening the database (`RedbStore::recover`).
fn storage_error(e: redb::Error) -> StoreError {
    match e {
        redb::Error::Io(io) if is_disk_full(&io) => StoreError::Full(format!(
            "the disk holding the database is full ({io}); nothing was written. Free some space: \
             writes resume by themselves"
        )),
        redb::Error::Io(io) => StoreError::Io(format!(
            "the database cannot use its file ({io}); it is reopened as soon as it can be"
        )),
        redb::Error::PreviousIo | redb::Error::DatabaseClosed => StoreError::Io(
            "the database had a write error and is being reopened; try again shortly".into(),
        ),
        e => StoreError::Internal(format!("redb: {e}")),
    }
}

/// ENOSPC or EDQUOT.
fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
        || e.kind() == std::io::ErrorKind::QuotaExceeded
        || matches!(e.raw_os_error(), Some(28 | 122))
}

fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    let mut bytes = vec![VALUE_VERSION];
    serde_json::to_writer(&mut bytes, value)
        .map_err(|e| StoreError::Internal(format!("cannot encode a stored value: {e}")))?;
    // What is written must read back: the decoder refuses deeper documents (STYLE rule 11a).
    // The API refuses deep values first with the field's name; this guards every other path.
    let depth = gofer_core::validate::json_text_depth(&bytes[1..]);
    if depth > gofer_core::validate::MAX_STORED_JSON_DEPTH {
        return Err(StoreError::Invalid(format!(
            "body: nests {depth} levels deep, more than can be stored ({})",
            gofer_core::validate::MAX_STORED_JSON_DEPTH
        )));
    }
    Ok(bytes)
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> StoreResult<T> {
    match bytes.split_first() {
        Some((&VALUE_VERSION, json)) => serde_json::from_slice(json)
            .map_err(|e| StoreError::Unreadable(format!("cannot decode stored {what}: {e}"))),
        Some((tag, _)) => Err(StoreError::Unreadable(format!(
            "cannot decode stored {what}: unknown value version {tag}"
        ))),
        None => Err(StoreError::Unreadable(format!(
            "cannot decode stored {what}: empty value"
        ))),
    }
}

// ---- unreadable records ------------------------------------------------------------------------
//
// A record that does not decode must not take the server down (STYLE rule 11a): readers of many
// records skip it, and every reader notes it here once, with its table and key, so health,
// metrics and the log can tell. `gofer service doctor` finds them all and quarantines them.

/// The unreadable records seen since the store was opened, by (table, key).
type UnreadableSeen = std::sync::Mutex<std::collections::BTreeMap<(String, String), String>>;

thread_local! {
    /// The registry of the store whose transaction runs on this thread (set by `read`/`write`,
    /// which run synchronously on one thread), so the free helpers below can note records.
    static SEEN: std::cell::RefCell<Option<Arc<UnreadableSeen>>> =
        const { std::cell::RefCell::new(None) };
}

/// Makes `seen` the current registry until dropped.
struct SeenScope(Option<Arc<UnreadableSeen>>);

impl SeenScope {
    fn enter(seen: &Arc<UnreadableSeen>) -> SeenScope {
        SeenScope(SEEN.with(|s| s.replace(Some(seen.clone()))))
    }
}

impl Drop for SeenScope {
    fn drop(&mut self) {
        SEEN.with(|s| *s.borrow_mut() = self.0.take());
    }
}

/// Records an unreadable record; logs it the first time it is seen.
fn note_unreadable(table: &str, key: String, error: &str) {
    let first = SEEN.with(|s| match &*s.borrow() {
        Some(seen) => seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((table.to_string(), key.clone()), error.to_string())
            .is_none(),
        None => true,
    });
    if first {
        tracing::error!(
            table,
            key = %key,
            error,
            "skipping an unreadable stored record; `gofer service doctor` lists and quarantines it"
        );
    }
}

/// Adds the record's key to an [`StoreError::Unreadable`] and notes the record.
fn with_key<T>(result: StoreResult<T>, table: &str, key: impl std::fmt::Debug) -> StoreResult<T> {
    match result {
        Err(StoreError::Unreadable(e)) => {
            let key = format!("{key:?}");
            note_unreadable(table, key.clone(), &e);
            Err(StoreError::Unreadable(format!(
                "{e} (record {key}); `gofer service doctor` lists and quarantines unreadable records"
            )))
        }
        other => other,
    }
}

/// `Ok(None)` for an unreadable record (already noted), so a reader of many records skips it.
fn skip_unreadable<T>(result: StoreResult<T>) -> StoreResult<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(StoreError::Unreadable(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Looks a key up and decodes its value.
fn get<'k, K, T>(
    table: &impl ReadableTable<K, Bytes>,
    key: impl Borrow<K::SelfType<'k>>,
    what: &str,
) -> StoreResult<Option<T>>
where
    K: Key + 'static,
    T: DeserializeOwned,
{
    let key = key.borrow();
    match table.get(key).or_internal()? {
        Some(guard) => with_key(decode(what, guard.value()).map(Some), what, key),
        None => Ok(None),
    }
}

type Entry<'a, K> = Result<(AccessGuard<'a, K>, AccessGuard<'a, Bytes>), StorageError>;

/// Applies `page` to a range whose natural (key) order is ascending. `descending` says whether the
/// list's default order is the reverse of key order.
fn page_of<'a, K, T>(
    range: redb::Range<'a, K, Bytes>,
    page: Page,
    descending: bool,
    what: &str,
) -> StoreResult<Vec<T>>
where
    K: Key + 'static,
    T: DeserializeOwned,
{
    fn collect<'a, K: Key + 'static, T: DeserializeOwned>(
        entries: impl Iterator<Item = Entry<'a, K>>,
        page: Page,
        what: &str,
    ) -> StoreResult<Vec<T>> {
        let offset = usize::try_from(page.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        for entry in entries.skip(offset).take(limit) {
            let (key, value) = entry.or_internal()?;
            let decoded = with_key(decode(what, value.value()), what, key.value());
            out.extend(skip_unreadable(decoded)?);
        }
        Ok(out)
    }
    if page.reverse != descending {
        collect(range.rev(), page, what)
    } else {
        collect(range, page, what)
    }
}

// ---- messages ----------------------------------------------------------------------------------

fn namespace_not_found(ns: &str) -> StoreError {
    StoreError::NotFound(format!("namespace '{ns}' not found"))
}

fn config_not_found(p: &str, version: u64) -> StoreError {
    StoreError::NotFound(format!(
        "config version {version} of pipeline '{p}' not found"
    ))
}

/// The NotFound for a missing pipeline names the missing parent when it is the namespace that is
/// missing (trait contract: "missing parents are NotFound naming the parent").
fn pipeline_not_found(
    namespaces: &impl ReadableTable<&'static str, Bytes>,
    ns: &str,
    p: &str,
) -> StoreError {
    match namespaces.get(ns) {
        Ok(Some(_)) => StoreError::NotFound(format!("pipeline '{p}' not found")),
        Ok(None) => namespace_not_found(ns),
        Err(e) => StoreError::Internal(format!("redb: {}", redb::Error::from(e))),
    }
}

fn run_not_found(p: &str, run_id: u64) -> StoreError {
    StoreError::NotFound(format!("run {run_id} of pipeline '{p}' not found"))
}

fn execution_not_found(run_id: u64, task: &str) -> StoreError {
    StoreError::NotFound(format!("task execution '{task}' of run {run_id} not found"))
}

/// The key of a run in `RUNS` and the run index tables.
type RunKey<'a> = (&'a str, &'a str, u64);

fn run_key(run: &Run) -> RunKey<'_> {
    (
        run.namespace_id.as_str(),
        run.pipeline_id.as_str(),
        run.run_id,
    )
}

/// Every run key of one pipeline.
fn pipeline_runs<'a>(ns: &'a str, p: &'a str) -> std::ops::RangeInclusive<RunKey<'a>> {
    (ns, p, 0)..=(ns, p, u64::MAX)
}

type ExecutionKey<'a> = (&'a str, &'a str, u64, &'a str);

/// Every execution key of one run. `p_upper` is `upper(p)`, needed only for run id `u64::MAX`.
fn run_executions<'a>(
    ns: &'a str,
    p: &'a str,
    p_upper: &'a str,
    run_id: u64,
) -> (Bound<ExecutionKey<'a>>, Bound<ExecutionKey<'a>>) {
    let end = match run_id.checked_add(1) {
        Some(next) => (ns, p, next, ""),
        None => (ns, p_upper, 0, ""),
    };
    (Bound::Included((ns, p, run_id, "")), Bound::Excluded(end))
}

/// Reads the executions of one run, in task id order, optionally paged.
fn executions_of(
    executions: &impl ReadableTable<ExecutionKey<'static>, Bytes>,
    ns: &str,
    p: &str,
    run_id: u64,
    page: Page,
) -> StoreResult<Vec<StoredExecution>> {
    let p_upper = upper(p);
    let range = executions
        .range(run_executions(ns, p, &p_upper, run_id))
        .or_internal()?;
    page_of(range, page, false, "task execution")
}

/// Every execution of a run, unpaged.
const WHOLE: Page = Page::ALL;

/// The smallest string greater than `s`, so `(s, "")..(upper(s), "")` covers exactly the tuple
/// keys whose first component is `s`.
fn upper(s: &str) -> String {
    format!("{s}\0")
}

// ---- event ids ---------------------------------------------------------------------------------

/// The id and `emitted` of the next event, given the previous one and the clock (SPEC §8.1).
fn next_event_id(last: Option<&LastEvent>, now: u64) -> StoreResult<(String, u64)> {
    if let Some(last) = last.filter(|last| now <= last.emitted) {
        let previous = Uuid::parse_str(&last.id).map_err(|e| {
            StoreError::Internal(format!("stored last event id '{}': {e}", last.id))
        })?;
        let next = previous
            .as_u128()
            .checked_add(1)
            .ok_or_else(|| StoreError::Internal("event id space exhausted".into()))?;
        return Ok((Uuid::from_u128(next).hyphenated().to_string(), last.emitted));
    }
    let random = Uuid::new_v4().into_bytes();
    let mut counter_random = [0u8; 10];
    counter_random.copy_from_slice(&random[..10]);
    // Clear the top bit after the variant so that `+ 1` within one millisecond has 2^61 steps
    // of headroom before it could carry into the variant or timestamp bits.
    counter_random[2] &= !0x20;
    let id = uuid::Builder::from_unix_timestamp_millis(now, &counter_random).into_uuid();
    Ok((id.hyphenated().to_string(), now))
}

// ---- transactions ------------------------------------------------------------------------------

/// A write transaction plus what emitting events needs.
struct Tx<'a> {
    txn: &'a WriteTransaction,
    clock: &'a Clock,
}

impl Tx<'_> {
    /// Writes an event in this transaction. Callers must not hold `META` or `EVENTS` open.
    fn emit(&self, kind: EventKind) -> StoreResult<Event> {
        let mut meta = self.txn.open_table(META).or_internal()?;
        let last: Option<LastEvent> = get(&meta, META_LAST_EVENT, "last event")?;
        let (id, emitted) = next_event_id(last.as_ref(), (self.clock)())?;
        let event = Event { id, kind, emitted };
        let last = LastEvent {
            id: event.id.clone(),
            emitted,
        };
        meta.insert(META_LAST_EVENT, encode(&last)?.as_slice())
            .or_internal()?;
        drop(meta);
        let mut events = self.txn.open_table(EVENTS).or_internal()?;
        events
            .insert(event.id.as_str(), encode(&event)?.as_slice())
            .or_internal()?;
        Ok(event)
    }

    fn require_namespace(&self, ns: &str) -> StoreResult<Namespace> {
        let namespaces = self.txn.open_table(NAMESPACES).or_internal()?;
        get(&namespaces, ns, "namespace")?.ok_or_else(|| namespace_not_found(ns))
    }

    fn require_pipeline(&self, ns: &str, p: &str) -> StoreResult<Metadata> {
        let pipelines = self.txn.open_table(PIPELINES).or_internal()?;
        match get(&pipelines, (ns, p), "pipeline")? {
            Some(metadata) => Ok(metadata),
            None => Err(pipeline_not_found(
                &self.txn.open_table(NAMESPACES).or_internal()?,
                ns,
                p,
            )),
        }
    }

    /// The counters of an existing pipeline; a missing row means the file is inconsistent.
    fn counters(&self, ns: &str, p: &str) -> StoreResult<PipelineCounters> {
        let counters = self.txn.open_table(PIPELINE_COUNTERS).or_internal()?;
        get(&counters, (ns, p), "pipeline counters")?
            .ok_or_else(|| StoreError::Internal(format!("pipeline '{ns}/{p}' has no counters row")))
    }

    fn put_counters(&self, ns: &str, p: &str, counters: &PipelineCounters) -> StoreResult<()> {
        let mut table = self.txn.open_table(PIPELINE_COUNTERS).or_internal()?;
        table
            .insert((ns, p), encode(counters)?.as_slice())
            .or_internal()?;
        Ok(())
    }

    fn put_config(&self, config: &Config) -> StoreResult<()> {
        let mut configs = self.txn.open_table(CONFIGS).or_internal()?;
        let key = (
            config.namespace_id.as_str(),
            config.pipeline_id.as_str(),
            config.version,
        );
        configs
            .insert(key, encode(config)?.as_slice())
            .or_internal()?;
        Ok(())
    }

    /// The stored run of an existing pipeline (`NotFound` naming the namespace, pipeline or run).
    fn require_run(&self, ns: &str, p: &str, run_id: u64) -> StoreResult<StoredRun> {
        self.require_pipeline(ns, p)?;
        let runs = self.txn.open_table(RUNS).or_internal()?;
        get(&runs, (ns, p, run_id), "run")?.ok_or_else(|| run_not_found(p, run_id))
    }

    /// Writes a run row and keeps the run indexes in step with its state: the queue holds exactly
    /// the `pending` runs, `RUNNING_RUNS` exactly those neither pending nor complete.
    fn put_run(&self, stored: &StoredRun) -> StoreResult<()> {
        let key = run_key(&stored.run);
        self.txn
            .open_table(RUNS)
            .or_internal()?
            .insert(key, encode(stored)?.as_slice())
            .or_internal()?;
        let mut queue = self.txn.open_table(RUN_QUEUE).or_internal()?;
        let mut running = self.txn.open_table(RUNNING_RUNS).or_internal()?;
        match stored.run.state {
            RunState::Pending => {
                queue.insert(key, ()).or_internal()?;
                running.remove(key).or_internal()?;
            }
            RunState::Complete => {
                queue.remove(key).or_internal()?;
                running.remove(key).or_internal()?;
            }
            RunState::Running | RunState::Unknown => {
                queue.remove(key).or_internal()?;
                running.insert(key, ()).or_internal()?;
            }
        }
        let mut with_objects = self.txn.open_table(RUNS_WITH_OBJECTS).or_internal()?;
        if stored.run.state == RunState::Complete && !stored.run.store_objects_expired {
            with_objects.insert(key, ()).or_internal()?;
        } else {
            with_objects.remove(key).or_internal()?;
        }
        Ok(())
    }

    /// Writes an execution row of an existing run.
    fn put_execution(&self, stored: &StoredExecution) -> StoreResult<()> {
        let e = &stored.execution;
        let key = (
            e.namespace_id.as_str(),
            e.pipeline_id.as_str(),
            e.run_id,
            e.task_id.as_str(),
        );
        self.txn
            .open_table(EXECUTIONS)
            .or_internal()?
            .insert(key, encode(stored)?.as_slice())
            .or_internal()?;
        Ok(())
    }

    /// Puts the run in `RUNS_WITH_LOGS` exactly when one of its executions still has logs.
    fn sync_logs_index(&self, ns: &str, p: &str, run_id: u64) -> StoreResult<()> {
        let executions = self.txn.open_table(EXECUTIONS).or_internal()?;
        let has_logs = executions_of(&executions, ns, p, run_id, WHOLE)?
            .iter()
            .any(|e| !e.execution.logs_removed);
        let mut index = self.txn.open_table(RUNS_WITH_LOGS).or_internal()?;
        if has_logs {
            index.insert((ns, p, run_id), ()).or_internal()?;
        } else {
            index.remove((ns, p, run_id)).or_internal()?;
        }
        Ok(())
    }

    /// The pending and running runs of a pipeline, by run id.
    fn unfinished_of(&self, ns: &str, p: &str) -> StoreResult<Vec<StoredRun>> {
        let mut keys = Vec::new();
        for table in [RUN_QUEUE, RUNNING_RUNS] {
            let index = self.txn.open_table(table).or_internal()?;
            for entry in index.range(pipeline_runs(ns, p)).or_internal()? {
                keys.push(entry.or_internal()?.0.value().2);
            }
        }
        keys.sort_unstable();
        let runs = self.txn.open_table(RUNS).or_internal()?;
        let mut out = Vec::new();
        for id in keys {
            out.extend(skip_unreadable(indexed_run(&runs, ns, p, id))?);
        }
        Ok(out)
    }

    /// Removes a pipeline and everything beneath it (SPEC §3.16, for what exists so far: configs,
    /// deployments, counters, runs, executions, object index rows, pipeline secrets and their
    /// index entries; the caller removes the object files) and emits
    /// `deleted_pipeline`. `Conflict` when it has a pending or running run; the caller's
    /// transaction then aborts, so nothing is deleted (for a namespace: no pipeline at all).
    fn delete_pipeline_rows(&self, ns: &str, p: &str) -> StoreResult<()> {
        for index in [RUN_QUEUE, RUNNING_RUNS] {
            let index = self.txn.open_table(index).or_internal()?;
            if index
                .range(pipeline_runs(ns, p))
                .or_internal()?
                .next()
                .is_some()
            {
                return Err(StoreError::Conflict(format!(
                    "pipeline '{p}' has pending or running runs; cancel them first"
                )));
            }
        }
        let with_tokens: Vec<u64> = {
            let run_tokens = self.txn.open_table(RUN_TOKENS).or_internal()?;
            run_tokens
                .range(pipeline_runs(ns, p))
                .or_internal()?
                .map(|entry| Ok(entry.or_internal()?.0.value().2))
                .collect::<StoreResult<_>>()?
        };
        for run_id in with_tokens {
            self.revoke_run_token(ns, p, run_id)?;
        }
        let p_upper = upper(p);
        self.txn
            .open_table(EXECUTIONS)
            .or_internal()?
            .retain_in((ns, p, 0, "")..(ns, p_upper.as_str(), 0, ""), |_, _| false)
            .or_internal()?;
        for index in [RUN_QUEUE, RUNNING_RUNS, RUNS_WITH_LOGS, RUNS_WITH_OBJECTS] {
            self.txn
                .open_table(index)
                .or_internal()?
                .retain_in(pipeline_runs(ns, p), |_, _| false)
                .or_internal()?;
        }
        self.txn
            .open_table(RUNS)
            .or_internal()?
            .retain_in(pipeline_runs(ns, p), |_, _| false)
            .or_internal()?;
        self.txn
            .open_table(RUN_OBJECTS)
            .or_internal()?
            .retain_in((ns, p, 0, "")..(ns, p_upper.as_str(), 0, ""), |_, _| false)
            .or_internal()?;
        for table in [PIPELINE_OBJECTS, PIPELINE_SECRETS] {
            self.txn
                .open_table(table)
                .or_internal()?
                .retain_in((ns, p, "")..(ns, p_upper.as_str(), ""), |_, _| false)
                .or_internal()?;
        }
        for key in self.pipeline_subscription_keys(ns, p)? {
            self.remove_subscription(&key)?;
        }
        let all = (ns, p, 0)..=(ns, p, u64::MAX);
        self.txn
            .open_table(CONFIGS)
            .or_internal()?
            .retain_in(all.clone(), |_, _| false)
            .or_internal()?;
        self.txn
            .open_table(DEPLOYMENTS)
            .or_internal()?
            .retain_in(all, |_, _| false)
            .or_internal()?;
        self.txn
            .open_table(PIPELINE_COUNTERS)
            .or_internal()?
            .remove((ns, p))
            .or_internal()?;
        self.txn
            .open_table(PIPELINES)
            .or_internal()?
            .remove((ns, p))
            .or_internal()?;
        self.emit(EventKind::DeletedPipeline {
            namespace_id: ns.to_string(),
            pipeline_id: p.to_string(),
        })?;
        Ok(())
    }
}

impl Tx<'_> {
    /// Stores a token and its hash index entry.
    fn put_token(&self, token: &Token, hash: &str) -> StoreResult<()> {
        let stored = StoredToken {
            token: token.clone(),
            hash: hash.to_string(),
        };
        self.txn
            .open_table(TOKENS)
            .or_internal()?
            .insert(token.id.as_str(), encode(&stored)?.as_slice())
            .or_internal()?;
        self.txn
            .open_table(TOKEN_HASHES)
            .or_internal()?
            .insert(hash, token.id.as_str())
            .or_internal()?;
        Ok(())
    }

    /// Deletes a token and its hash index entry; `false` when it did not exist.
    fn remove_token(&self, id: &str) -> StoreResult<bool> {
        let stored: Option<StoredToken> = {
            let mut tokens = self.txn.open_table(TOKENS).or_internal()?;
            let removed = tokens.remove(id).or_internal()?;
            match removed {
                Some(guard) => Some(decode("token", guard.value())?),
                None => None,
            }
        };
        let Some(stored) = stored else {
            return Ok(false);
        };
        self.txn
            .open_table(TOKEN_HASHES)
            .or_internal()?
            .remove(stored.hash.as_str())
            .or_internal()?;
        Ok(true)
    }

    fn put_role(&self, role: &Role) -> StoreResult<()> {
        self.txn
            .open_table(ROLES)
            .or_internal()?
            .insert(role.id.as_str(), encode(role)?.as_slice())
            .or_internal()?;
        Ok(())
    }

    /// Deletes a role and emits `deleted_role`; `false` when it did not exist.
    /// Deletes a role and takes it off every token that lists it, so that a role created later
    /// under the same id gives old tokens nothing.
    fn remove_role(&self, id: &str) -> StoreResult<bool> {
        let existed = self
            .txn
            .open_table(ROLES)
            .or_internal()?
            .remove(id)
            .or_internal()?
            .is_some();
        let mut tokens = self.txn.open_table(TOKENS).or_internal()?;
        let mut holders = Vec::new();
        for row in tokens.iter().or_internal()? {
            let (key, value) = row.or_internal()?;
            // An unreadable token cannot authenticate anyone; the doctor deals with it.
            if let Ok(stored) = decode::<StoredToken>("token", value.value())
                && stored.token.roles.iter().any(|r| r == id)
            {
                holders.push((key.value().to_string(), stored));
            }
        }
        for (key, mut stored) in holders {
            stored.token.roles.retain(|r| r != id);
            tokens
                .insert(key.as_str(), encode(&stored)?.as_slice())
                .or_internal()?;
        }
        if existed {
            self.emit(EventKind::DeletedRole {
                role_id: id.to_string(),
            })?;
        }
        Ok(existed)
    }

    /// Deletes a subscription row and its index entry and emits
    /// `pipeline_extension_subscription_unregistered`; `false` when it did not exist.
    fn remove_subscription(&self, k: &SubscriptionKey) -> StoreResult<bool> {
        let existed = self
            .txn
            .open_table(SUBSCRIPTIONS)
            .or_internal()?
            .remove(subscription_row(k))
            .or_internal()?
            .is_some();
        self.txn
            .open_table(EXTENSION_SUBSCRIPTIONS)
            .or_internal()?
            .remove(subscription_index_row(k))
            .or_internal()?;
        if existed {
            self.emit(EventKind::PipelineExtensionSubscriptionUnregistered {
                namespace_id: k.namespace.clone(),
                pipeline_id: k.pipeline.clone(),
                extension_id: k.extension.clone(),
                subscription_id: k.subscription.clone(),
            })?;
        }
        Ok(existed)
    }

    /// The keys of a pipeline's subscriptions.
    fn pipeline_subscription_keys(&self, ns: &str, p: &str) -> StoreResult<Vec<SubscriptionKey>> {
        let table = self.txn.open_table(SUBSCRIPTIONS).or_internal()?;
        let p_upper = upper(p);
        let range = table
            .range((ns, p, "", "")..(ns, p_upper.as_str(), "", ""))
            .or_internal()?;
        subscription_keys(range, |(ns, p, ext, sub)| (ns, p, ext, sub))
    }

    /// The keys of an extension's subscriptions.
    fn extension_subscription_keys(&self, ext: &str) -> StoreResult<Vec<SubscriptionKey>> {
        let table = self.txn.open_table(EXTENSION_SUBSCRIPTIONS).or_internal()?;
        let ext_upper = upper(ext);
        let range = table
            .range((ext, "", "", "")..(ext_upper.as_str(), "", "", ""))
            .or_internal()?;
        subscription_keys(range, |(ext, ns, p, sub)| (ns, p, ext, sub))
    }

    /// An existing extension, or `NotFound` naming it.
    fn require_extension(&self, id: &str) -> StoreResult<StoredExtension> {
        let table = self.txn.open_table(EXTENSIONS).or_internal()?;
        get(&table, id, "extension")?.ok_or_else(|| extension_not_found(id))
    }

    fn put_extension(&self, stored: &StoredExtension) -> StoreResult<()> {
        self.txn
            .open_table(EXTENSIONS)
            .or_internal()?
            .insert(
                stored.extension.registration.extension_id.as_str(),
                encode(stored)?.as_slice(),
            )
            .or_internal()?;
        Ok(())
    }

    /// Every role id in `roles` must exist.
    fn require_roles(&self, roles: &[String]) -> StoreResult<()> {
        let table = self.txn.open_table(ROLES).or_internal()?;
        for id in roles {
            if table.get(id.as_str()).or_internal()?.is_none() {
                return Err(StoreError::Invalid(format!("roles: unknown role '{id}'")));
            }
        }
        Ok(())
    }

    /// See `Store::revoke_run_token`.
    fn revoke_run_token(&self, ns: &str, p: &str, run_id: u64) -> StoreResult<bool> {
        let token_id = {
            let mut run_tokens = self.txn.open_table(RUN_TOKENS).or_internal()?;
            let removed = run_tokens.remove((ns, p, run_id)).or_internal()?;
            removed.map(|g| g.value().to_string())
        };
        let Some(token_id) = token_id else {
            return Ok(false);
        };
        self.remove_token(&token_id)?;
        self.remove_role(&gofer_core::api::run_role_id(ns, p, run_id))?;
        Ok(true)
    }

    /// Creates the run's role and token (SPEC §6.5) and emits `created_role`.
    fn create_run_token(&self, run: &Run, seed: &RunTokenSeed, now: u64) -> StoreResult<()> {
        let (ns, p, run_id) = (&run.namespace_id, &run.pipeline_id, run.run_id);
        let role = gofer_core::api::run_role(ns, p, run_id);
        self.put_role(&role)?;
        self.emit(EventKind::CreatedRole {
            role_id: role.id.clone(),
        })?;
        let token = Token {
            id: seed.id.clone(),
            created: now,
            metadata: [
                ("system_generated_run_token", "true".to_string()),
                ("namespace", ns.clone()),
                ("pipeline", p.clone()),
                ("run", run_id.to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            expires: seed.expires,
            disabled: false,
            user: "system_generated_run_token".into(),
            roles: vec![role.id],
        };
        self.put_token(&token, &seed.hash)?;
        self.txn
            .open_table(RUN_TOKENS)
            .or_internal()?
            .insert((ns.as_str(), p.as_str(), run_id), seed.id.as_str())
            .or_internal()?;
        Ok(())
    }
}

/// The subscription keys of a range over a 4-string key; `order` maps the table's key to
/// `(namespace, pipeline, extension, subscription)`.
fn subscription_keys<'a, V: redb::Value + 'static>(
    range: redb::Range<'a, (&'static str, &'static str, &'static str, &'static str), V>,
    order: impl for<'k> Fn((&'k str, &'k str, &'k str, &'k str)) -> (&'k str, &'k str, &'k str, &'k str),
) -> StoreResult<Vec<SubscriptionKey>> {
    range
        .map(|entry| {
            let (k, _) = entry.or_internal()?;
            let (ns, p, ext, sub) = order(k.value());
            Ok(SubscriptionKey {
                namespace: ns.to_string(),
                pipeline: p.to_string(),
                extension: ext.to_string(),
                subscription: sub.to_string(),
            })
        })
        .collect()
}

fn read_extension(txn: &ReadTransaction, id: &str) -> StoreResult<StoredExtension> {
    let table = txn.open_table(EXTENSIONS).or_internal()?;
    get(&table, id, "extension")?.ok_or_else(|| extension_not_found(id))
}

/// Read-side lookups shared by several read operations.
fn read_pipeline(txn: &ReadTransaction, ns: &str, p: &str) -> StoreResult<Metadata> {
    let pipelines = txn.open_table(PIPELINES).or_internal()?;
    match get(&pipelines, (ns, p), "pipeline")? {
        Some(metadata) => Ok(metadata),
        None => Err(pipeline_not_found(
            &txn.open_table(NAMESPACES).or_internal()?,
            ns,
            p,
        )),
    }
}

/// A run, `NotFound` naming the namespace, pipeline or run.
fn read_run(txn: &ReadTransaction, ns: &str, p: &str, run_id: u64) -> StoreResult<StoredRun> {
    read_pipeline(txn, ns, p)?;
    let runs = txn.open_table(RUNS).or_internal()?;
    get(&runs, (ns, p, run_id), "run")?.ok_or_else(|| run_not_found(p, run_id))
}

/// The row of a run an index names; a missing row means the file is inconsistent.
fn indexed_run(
    runs: &impl ReadableTable<RunKey<'static>, Bytes>,
    ns: &str,
    p: &str,
    run_id: u64,
) -> StoreResult<StoredRun> {
    get(runs, (ns, p, run_id), "run")?
        .ok_or_else(|| StoreError::Internal(format!("indexed run {ns}/{p}/{run_id} has no row")))
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

impl Store for RedbStore {
    // ---- system ----------------------------------------------------------------------------

    fn instance_id(&self) -> StoreResult<String> {
        Ok(self.instance_id.clone())
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn unreadable(&self) -> Vec<super::UnreadableRecord> {
        self.unreadable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|((table, key), error)| super::UnreadableRecord {
                table: table.clone(),
                key: key.clone(),
                error: error.clone(),
            })
            .collect()
    }

    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn recover(&self) -> Result<bool, String> {
        let Some(reason) = self.failure() else {
            return Ok(false);
        };
        let Some(path) = &self.path else {
            return Err(format!(
                "{reason} (an in-memory database cannot be reopened)"
            ));
        };
        let mut slot = self
            .db
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The failed instance refuses every operation from now on; it must be closed (its
        // last transaction dropped) before the file can be opened again.
        if let Some(old) = slot.take()
            && let Err(still_used) = Arc::try_unwrap(old)
        {
            *slot = Some(still_used);
            return Err(format!("{reason} (waiting for open transactions to end)"));
        }
        match Database::builder().set_cache_size(CACHE_BYTES).create(path) {
            Ok(db) => {
                *slot = Some(Arc::new(db));
                *self
                    .failure
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                self.generation.fetch_add(1, Ordering::Release);
                self.auth_generation.fetch_add(1, Ordering::Release);
                tracing::info!("storage recovered: the database was reopened");
                Ok(true)
            }
            Err(e) => Err(format!("{reason} (reopening failed: {e})")),
        }
    }

    fn system(&self) -> StoreResult<System> {
        self.read(|txn| {
            let meta = txn.open_table(META).or_internal()?;
            Ok(get(&meta, META_SYSTEM, "system")?.unwrap_or_default())
        })
    }

    fn update_system(&self, ignore_pipeline_run_events: Option<bool>) -> StoreResult<System> {
        self.write(|tx| {
            let mut meta = tx.txn.open_table(META).or_internal()?;
            let mut system: System = get(&meta, META_SYSTEM, "system")?.unwrap_or_default();
            if let Some(ignore) = ignore_pipeline_run_events {
                system.ignore_pipeline_run_events = ignore;
            }
            meta.insert(META_SYSTEM, encode(&system)?.as_slice())
                .or_internal()?;
            Ok(system)
        })
    }

    // ---- namespaces ------------------------------------------------------------------------

    fn list_namespaces(&self, page: Page) -> StoreResult<Vec<Namespace>> {
        self.read(|txn| {
            let namespaces = txn.open_table(NAMESPACES).or_internal()?;
            page_of(namespaces.iter().or_internal()?, page, false, "namespace")
        })
    }

    fn get_namespace(&self, id: &str) -> StoreResult<Namespace> {
        self.read(|txn| {
            let namespaces = txn.open_table(NAMESPACES).or_internal()?;
            get(&namespaces, id, "namespace")?.ok_or_else(|| namespace_not_found(id))
        })
    }

    fn create_namespace(&self, namespace: Namespace) -> StoreResult<Namespace> {
        self.write(|tx| {
            {
                let mut namespaces = tx.txn.open_table(NAMESPACES).or_internal()?;
                if namespaces
                    .get(namespace.id.as_str())
                    .or_internal()?
                    .is_some()
                {
                    return Err(StoreError::Conflict(format!(
                        "namespace '{}' already exists",
                        namespace.id
                    )));
                }
                namespaces
                    .insert(namespace.id.as_str(), encode(&namespace)?.as_slice())
                    .or_internal()?;
            }
            tx.emit(EventKind::CreatedNamespace {
                namespace_id: namespace.id.clone(),
            })?;
            Ok(namespace)
        })
    }

    fn update_namespace(
        &self,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        now: u64,
    ) -> StoreResult<Namespace> {
        self.write(|tx| {
            let mut namespace = tx.require_namespace(id)?;
            if let Some(name) = name {
                namespace.name = name;
            }
            if let Some(description) = description {
                namespace.description = description;
            }
            namespace.modified = now;
            let mut namespaces = tx.txn.open_table(NAMESPACES).or_internal()?;
            namespaces
                .insert(id, encode(&namespace)?.as_slice())
                .or_internal()?;
            Ok(namespace)
        })
    }

    fn delete_namespace(&self, id: &str) -> StoreResult<()> {
        self.write_auth(|tx| {
            tx.require_namespace(id)?;
            let pipeline_ids = {
                let pipelines = tx.txn.open_table(PIPELINES).or_internal()?;
                let end = upper(id);
                let range = pipelines
                    .range((id, "")..(end.as_str(), ""))
                    .or_internal()?;
                range
                    .map(|entry| {
                        let (key, _) = entry.or_internal()?;
                        Ok(key.value().1.to_string())
                    })
                    .collect::<StoreResult<Vec<String>>>()?
            };
            for p in &pipeline_ids {
                tx.delete_pipeline_rows(id, p)?;
            }
            tx.txn
                .open_table(NAMESPACES)
                .or_internal()?
                .remove(id)
                .or_internal()?;
            tx.emit(EventKind::DeletedNamespace {
                namespace_id: id.to_string(),
            })?;
            Ok(())
        })
    }

    // ---- pipelines -------------------------------------------------------------------------

    fn list_pipelines(&self, namespace: &str, page: Page) -> StoreResult<Vec<Metadata>> {
        self.read(|txn| {
            let namespaces = txn.open_table(NAMESPACES).or_internal()?;
            if namespaces.get(namespace).or_internal()?.is_none() {
                return Err(namespace_not_found(namespace));
            }
            let pipelines = txn.open_table(PIPELINES).or_internal()?;
            let end = upper(namespace);
            let range = pipelines
                .range((namespace, "")..(end.as_str(), ""))
                .or_internal()?;
            page_of(range, page, false, "pipeline")
        })
    }

    fn get_pipeline(&self, namespace: &str, pipeline: &str) -> StoreResult<Metadata> {
        // One read transaction, one lookup on the hit path; the miss path looks at the
        // namespace only to name what is missing.
        self.read(|txn| read_pipeline(txn, namespace, pipeline))
    }

    fn set_pipeline_state(
        &self,
        namespace: &str,
        pipeline: &str,
        state: PipelineState,
        now: u64,
    ) -> StoreResult<Metadata> {
        self.write(|tx| {
            let mut metadata = tx.require_pipeline(namespace, pipeline)?;
            let changed = metadata.state != state;
            metadata.state = state;
            metadata.modified = now;
            tx.txn
                .open_table(PIPELINES)
                .or_internal()?
                .insert((namespace, pipeline), encode(&metadata)?.as_slice())
                .or_internal()?;
            let (namespace_id, pipeline_id) = (namespace.to_string(), pipeline.to_string());
            match state {
                _ if !changed => {}
                PipelineState::Active => {
                    tx.emit(EventKind::EnabledPipeline {
                        namespace_id,
                        pipeline_id,
                    })?;
                }
                PipelineState::Disabled => {
                    tx.emit(EventKind::DisabledPipeline {
                        namespace_id,
                        pipeline_id,
                    })?;
                }
                PipelineState::Unknown => {}
            }
            Ok(metadata)
        })
    }

    fn delete_pipeline(&self, namespace: &str, pipeline: &str) -> StoreResult<()> {
        self.write_auth(|tx| {
            tx.require_pipeline(namespace, pipeline)?;
            tx.delete_pipeline_rows(namespace, pipeline)
        })
    }

    // ---- configs and deployments -----------------------------------------------------------

    fn register_config(
        &self,
        namespace: &str,
        config: ValidConfig,
        now: u64,
    ) -> StoreResult<Pipeline> {
        self.write(|tx| {
            tx.require_namespace(namespace)?;
            let p = config.id.clone();
            let existing: Option<Metadata> = {
                let pipelines = tx.txn.open_table(PIPELINES).or_internal()?;
                get(&pipelines, (namespace, p.as_str()), "pipeline")?
            };
            let (metadata, mut counters, created) = match existing {
                Some(metadata) => (metadata, tx.counters(namespace, &p)?, false),
                None => {
                    let metadata = Metadata {
                        namespace_id: namespace.to_string(),
                        pipeline_id: p.clone(),
                        created: now,
                        modified: 0,
                        state: PipelineState::Active,
                    };
                    tx.txn
                        .open_table(PIPELINES)
                        .or_internal()?
                        .insert((namespace, p.as_str()), encode(&metadata)?.as_slice())
                        .or_internal()?;
                    (metadata, PipelineCounters::default(), true)
                }
            };
            counters.last_version += 1;
            tx.put_counters(namespace, &p, &counters)?;
            let config = config.into_config(namespace, counters.last_version, now);
            tx.put_config(&config)?;
            if created {
                tx.emit(EventKind::CreatedPipeline {
                    namespace_id: namespace.to_string(),
                    pipeline_id: p,
                })?;
            }
            Ok(Pipeline { metadata, config })
        })
    }

    fn list_configs(
        &self,
        namespace: &str,
        pipeline: &str,
        page: Page,
    ) -> StoreResult<Vec<Config>> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let configs = txn.open_table(CONFIGS).or_internal()?;
            let range = configs
                .range((namespace, pipeline, 0)..=(namespace, pipeline, u64::MAX))
                .or_internal()?;
            page_of(range, page, true, "config")
        })
    }

    fn get_config(&self, namespace: &str, pipeline: &str, version: u64) -> StoreResult<Config> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let configs = txn.open_table(CONFIGS).or_internal()?;
            if version != 0 {
                return get(&configs, (namespace, pipeline, version), "config")?
                    .ok_or_else(|| config_not_found(pipeline, version));
            }
            let latest = configs
                .range((namespace, pipeline, 1)..=(namespace, pipeline, u64::MAX))
                .or_internal()?
                .next_back()
                .transpose()
                .or_internal()?;
            match latest {
                Some((_, value)) => decode("config", value.value()),
                None => Err(StoreError::NotFound(format!(
                    "pipeline '{pipeline}' has no config versions"
                ))),
            }
        })
    }

    fn live_config(&self, namespace: &str, pipeline: &str) -> StoreResult<Option<Config>> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let counters = txn.open_table(PIPELINE_COUNTERS).or_internal()?;
            let counters: PipelineCounters =
                get(&counters, (namespace, pipeline), "pipeline counters")?.unwrap_or_default();
            if counters.live_version == 0 {
                return Ok(None);
            }
            let configs = txn.open_table(CONFIGS).or_internal()?;
            get(
                &configs,
                (namespace, pipeline, counters.live_version),
                "config",
            )?
            .map(Some)
            .ok_or_else(|| {
                StoreError::Internal(format!(
                    "live version {} of pipeline '{namespace}/{pipeline}' is missing",
                    counters.live_version
                ))
            })
        })
    }

    fn delete_config(&self, namespace: &str, pipeline: &str, version: u64) -> StoreResult<()> {
        self.write(|tx| {
            tx.require_pipeline(namespace, pipeline)?;
            let config: Config = {
                let configs = tx.txn.open_table(CONFIGS).or_internal()?;
                get(&configs, (namespace, pipeline, version), "config")?
                    .ok_or_else(|| config_not_found(pipeline, version))?
            };
            if config.state == ConfigState::Live {
                return Err(StoreError::Conflict(
                    "cannot delete the live version".into(),
                ));
            }
            // SPEC §10: a version pending or running runs are pinned to stays.
            let pinned = tx
                .unfinished_of(namespace, pipeline)?
                .into_iter()
                .find(|stored| stored.run.pipeline_config_version == version);
            if let Some(StoredRun { run, .. }) = pinned {
                return Err(StoreError::Conflict(format!(
                    "version {version} is pinned by run {} ({}); cancel it or wait for it to \
                     complete",
                    run.run_id, run.state
                )));
            }
            tx.txn
                .open_table(CONFIGS)
                .or_internal()?
                .remove((namespace, pipeline, version))
                .or_internal()?;
            Ok(())
        })
    }

    fn deploy(
        &self,
        namespace: &str,
        pipeline: &str,
        version: u64,
        now: u64,
    ) -> StoreResult<Deployment> {
        self.write(|tx| {
            tx.require_pipeline(namespace, pipeline)?;
            let mut target: Config = {
                let configs = tx.txn.open_table(CONFIGS).or_internal()?;
                get(&configs, (namespace, pipeline, version), "config")?
                    .ok_or_else(|| config_not_found(pipeline, version))?
            };
            if target.state == ConfigState::Live {
                return Err(StoreError::Conflict(format!("version {version} is already live")));
            }
            let mut counters = tx.counters(namespace, pipeline)?;
            let start_version = counters.live_version;
            let deployment_id = counters.last_deployment + 1;
            let (namespace_id, pipeline_id) = (namespace.to_string(), pipeline.to_string());

            // SPEC §10, in order, all in this transaction.
            let started = tx.emit(EventKind::StartedDeployment {
                namespace_id: namespace_id.clone(),
                pipeline_id: pipeline_id.clone(),
                start_version,
                end_version: version,
            })?;
            target.state = ConfigState::Live;
            target.deprecated = 0;
            tx.put_config(&target)?;
            if start_version != 0 {
                let mut previous: Config = {
                    let configs = tx.txn.open_table(CONFIGS).or_internal()?;
                    get(&configs, (namespace, pipeline, start_version), "config")?.ok_or_else(|| {
                        StoreError::Internal(format!(
                            "live version {start_version} of pipeline '{namespace}/{pipeline}' is missing"
                        ))
                    })?
                };
                previous.state = ConfigState::Deprecated;
                previous.deprecated = now;
                tx.put_config(&previous)?;
            }
            counters.live_version = version;
            counters.last_deployment = deployment_id;
            tx.put_counters(namespace, pipeline, &counters)?;
            let completed = tx.emit(EventKind::CompletedDeployment {
                namespace_id: namespace_id.clone(),
                pipeline_id: pipeline_id.clone(),
                start_version,
                end_version: version,
            })?;

            let deployment = Deployment {
                namespace_id,
                pipeline_id,
                deployment_id,
                start_version,
                end_version: version,
                started: now,
                ended: now,
                state: DeploymentState::Complete,
                status: DeploymentStatus::Successful,
                status_reason: None,
                logs: vec![started, completed],
            };
            tx.txn
                .open_table(DEPLOYMENTS)
                .or_internal()?
                .insert((namespace, pipeline, deployment_id), encode(&deployment)?.as_slice())
                .or_internal()?;
            Ok(deployment)
        })
    }

    fn list_deployments(
        &self,
        namespace: &str,
        pipeline: &str,
        page: Page,
    ) -> StoreResult<Vec<Deployment>> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let deployments = txn.open_table(DEPLOYMENTS).or_internal()?;
            let range = deployments
                .range((namespace, pipeline, 0)..=(namespace, pipeline, u64::MAX))
                .or_internal()?;
            page_of(range, page, false, "deployment")
        })
    }

    fn get_deployment(&self, namespace: &str, pipeline: &str, id: u64) -> StoreResult<Deployment> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let deployments = txn.open_table(DEPLOYMENTS).or_internal()?;
            get(&deployments, (namespace, pipeline, id), "deployment")?.ok_or_else(|| {
                StoreError::NotFound(format!(
                    "deployment {id} of pipeline '{pipeline}' not found"
                ))
            })
        })
    }

    // ---- events ----------------------------------------------------------------------------

    fn events_after(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Event>> {
        self.read(|txn| {
            let events = txn.open_table(EVENTS).or_internal()?;
            let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
            let range = events
                .range::<&str>((lower, Bound::Unbounded))
                .or_internal()?;
            let page = Page {
                limit: limit as u64,
                offset: 0,
                reverse: false,
            };
            page_of(range, page, false, "event")
        })
    }

    fn events_before(&self, before: Option<&str>, limit: usize) -> StoreResult<Vec<Event>> {
        self.read(|txn| {
            let events = txn.open_table(EVENTS).or_internal()?;
            let upper = before.map_or(Bound::Unbounded, Bound::Excluded);
            let range = events
                .range::<&str>((Bound::Unbounded, upper))
                .or_internal()?;
            let page = Page {
                limit: limit as u64,
                offset: 0,
                reverse: false,
            };
            page_of(range, page, true, "event")
        })
    }

    fn last_event_id(&self) -> StoreResult<Option<String>> {
        self.read(|txn| {
            let events = txn.open_table(EVENTS).or_internal()?;
            let last = events.last().or_internal()?;
            Ok(last.map(|(key, _)| key.value().to_string()))
        })
    }

    fn get_event(&self, id: &str) -> StoreResult<Event> {
        self.read(|txn| {
            let events = txn.open_table(EVENTS).or_internal()?;
            get(&events, id, "event")?
                .ok_or_else(|| StoreError::NotFound(format!("event '{id}' not found")))
        })
    }

    fn delete_event(&self, id: &str) -> StoreResult<()> {
        self.write(|tx| {
            let mut events = tx.txn.open_table(EVENTS).or_internal()?;
            match events.remove(id).or_internal()? {
                Some(_) => Ok(()),
                None => Err(StoreError::NotFound(format!("event '{id}' not found"))),
            }
        })
    }

    fn prune_events(&self, cutoff: u64) -> StoreResult<u64> {
        self.write(|tx| {
            let mut events = tx.txn.open_table(EVENTS).or_internal()?;
            // `emitted` never decreases in id order, so the events to delete are a prefix.
            let mut doomed = Vec::new();
            for entry in events.iter().or_internal()? {
                let (key, value) = entry.or_internal()?;
                let decoded = with_key(decode("event", value.value()), "event", key.value());
                let Some(event) = skip_unreadable::<Event>(decoded)? else {
                    continue;
                };
                if event.emitted >= cutoff {
                    break;
                }
                doomed.push(key.value().to_string());
            }
            for id in &doomed {
                events.remove(id.as_str()).or_internal()?;
            }
            Ok(doomed.len() as u64)
        })
    }

    // ---- runs and task executions ----------------------------------------------------------

    fn create_run(
        &self,
        namespace: &str,
        pipeline: &str,
        new: NewRun,
        now: u64,
    ) -> StoreResult<Run> {
        self.write_auth(|tx| {
            // SPEC §5.1 steps 2-6, in order, inside the transaction that creates the run so no
            // concurrent change slips between a check and its effect.
            let metadata = tx.require_pipeline(namespace, pipeline)?;
            let system: System = {
                let meta = tx.txn.open_table(META).or_internal()?;
                get(&meta, META_SYSTEM, "system")?.unwrap_or_default()
            };
            if system.ignore_pipeline_run_events {
                return Err(StoreError::Unavailable("run ingress is paused".into()));
            }
            if metadata.state == PipelineState::Disabled {
                return Err(StoreError::Unavailable(format!(
                    "pipeline '{pipeline}' is disabled"
                )));
            }
            let mut counters = tx.counters(namespace, pipeline)?;
            if counters.live_version == 0 {
                return Err(StoreError::Conflict(format!(
                    "pipeline '{pipeline}' has no live config version; deploy one first \
                     (gofer pipeline config deploy {pipeline} <version>, or gofer up)"
                )));
            }
            let needs_token = new.run_token.is_some() && {
                let configs = tx.txn.open_table(CONFIGS).or_internal()?;
                let live: Option<Config> = get(
                    &configs,
                    (namespace, pipeline, counters.live_version),
                    "config",
                )?;
                live.is_some_and(|c| c.tasks.values().any(|t| t.inject_api_token))
            };
            if let Some(only) = &new.only {
                let live: Config = {
                    let configs = tx.txn.open_table(CONFIGS).or_internal()?;
                    get(
                        &configs,
                        (namespace, pipeline, counters.live_version),
                        "config",
                    )?
                    .ok_or_else(|| {
                        StoreError::Internal(format!(
                            "live version {} of pipeline '{namespace}/{pipeline}' is missing",
                            counters.live_version
                        ))
                    })?
                };
                if let Some(task) = only.iter().find(|t| !live.tasks.contains_key(t.as_str())) {
                    return Err(StoreError::Invalid(format!("only: unknown task '{task}'")));
                }
            }

            counters.last_run += 1;
            tx.put_counters(namespace, pipeline, &counters)?;
            let queued = tx.emit(EventKind::QueuedRun {
                namespace_id: namespace.to_string(),
                pipeline_id: pipeline.to_string(),
                run_id: counters.last_run,
            })?;
            let run = Run {
                namespace_id: namespace.to_string(),
                pipeline_id: pipeline.to_string(),
                pipeline_config_version: counters.live_version,
                run_id: counters.last_run,
                queued: now,
                started: 0,
                ended: 0,
                state: RunState::Pending,
                status: RunStatus::Unknown,
                status_reason: None,
                initiator: new.initiator,
                variables: new.variables,
                token_id: None,
                store_objects_expired: false,
                event_id: Some(queued.id),
                payload: new.payload,
                only: new.only,
                command_override: new.command_override,
                cancellation: None,
            };
            let mut run = run;
            if let Some(seed) = new.run_token.as_ref().filter(|_| needs_token) {
                tx.create_run_token(&run, seed, now)?;
                run.token_id = Some(seed.id.clone());
            }
            // `put_run` also appends it to the durable queue (state `pending`).
            tx.put_run(&StoredRun {
                run: run.clone(),
                cancel: None,
                deadline: 0,
            })?;
            Ok(run)
        })
    }

    fn get_run(&self, namespace: &str, pipeline: &str, run_id: u64) -> StoreResult<Run> {
        self.read(|txn| Ok(read_run(txn, namespace, pipeline, run_id)?.run))
    }

    fn list_runs(&self, namespace: &str, pipeline: &str, page: Page) -> StoreResult<Vec<Run>> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let runs = txn.open_table(RUNS).or_internal()?;
            // A range scan that skips `offset` keys undecoded and stops after `limit`, from
            // whichever end `reverse` asks for: never loads the pipeline's other runs.
            let range = runs
                .range(pipeline_runs(namespace, pipeline))
                .or_internal()?;
            let stored: Vec<StoredRun> = page_of(range, page, false, "run")?;
            Ok(stored.into_iter().map(|s| s.run).collect())
        })
    }

    fn get_task_execution(
        &self,
        namespace: &str,
        pipeline: &str,
        run_id: u64,
        task_id: &str,
    ) -> StoreResult<TaskExecution> {
        self.read(|txn| {
            read_run(txn, namespace, pipeline, run_id)?;
            let executions = txn.open_table(EXECUTIONS).or_internal()?;
            let stored: StoredExecution = get(
                &executions,
                (namespace, pipeline, run_id, task_id),
                "task execution",
            )?
            .ok_or_else(|| execution_not_found(run_id, task_id))?;
            Ok(stored.execution)
        })
    }

    fn list_task_executions(
        &self,
        namespace: &str,
        pipeline: &str,
        run_id: u64,
        page: Page,
    ) -> StoreResult<Vec<TaskExecution>> {
        self.read(|txn| {
            read_run(txn, namespace, pipeline, run_id)?;
            let executions = txn.open_table(EXECUTIONS).or_internal()?;
            let stored = executions_of(&executions, namespace, pipeline, run_id, page)?;
            Ok(stored.into_iter().map(|s| s.execution).collect())
        })
    }

    fn active_run_counts(&self) -> StoreResult<(u64, u64)> {
        use redb::ReadableTableMetadata;
        self.read(|txn| {
            let pending = txn
                .open_table(RUN_QUEUE)
                .or_internal()?
                .len()
                .or_internal()?;
            let running = txn
                .open_table(RUNNING_RUNS)
                .or_internal()?
                .len()
                .or_internal()?;
            Ok((pending, running))
        })
    }

    fn unfinished_runs(&self) -> StoreResult<Vec<StoredRunState>> {
        self.read(|txn| {
            let runs = txn.open_table(RUNS).or_internal()?;
            let executions = txn.open_table(EXECUTIONS).or_internal()?;
            let mut out = Vec::new();
            // Pending runs in queue order, then running ones; each index is exactly its state.
            for index in [RUN_QUEUE, RUNNING_RUNS] {
                let index = txn.open_table(index).or_internal()?;
                for entry in index.iter().or_internal()? {
                    let (key, _) = entry.or_internal()?;
                    let (ns, p, run_id) = key.value();
                    let Some(run) = skip_unreadable(indexed_run(&runs, ns, p, run_id))? else {
                        continue;
                    };
                    let executions = executions_of(&executions, ns, p, run_id, WHOLE)?;
                    out.push(StoredRunState { run, executions });
                }
            }
            Ok(out)
        })
    }

    fn pending_runs(&self) -> StoreResult<Vec<StoredRun>> {
        self.read(|txn| {
            let runs = txn.open_table(RUNS).or_internal()?;
            let queue = txn.open_table(RUN_QUEUE).or_internal()?;
            let mut out = Vec::new();
            for entry in queue.iter().or_internal()? {
                let (key, _) = entry.or_internal()?;
                let (ns, p, run_id) = key.value();
                out.extend(skip_unreadable(indexed_run(&runs, ns, p, run_id))?);
            }
            Ok(out)
        })
    }

    fn runs_with_logs(
        &self,
        namespace: &str,
        pipeline: &str,
        max_run_id: u64,
    ) -> StoreResult<Vec<StoredRunState>> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let runs = txn.open_table(RUNS).or_internal()?;
            let executions = txn.open_table(EXECUTIONS).or_internal()?;
            let index = txn.open_table(RUNS_WITH_LOGS).or_internal()?;
            let mut out = Vec::new();
            for entry in index
                .range((namespace, pipeline, 0)..=(namespace, pipeline, max_run_id))
                .or_internal()?
            {
                let run_id = entry.or_internal()?.0.value().2;
                let Some(run) = skip_unreadable(indexed_run(&runs, namespace, pipeline, run_id))?
                else {
                    continue;
                };
                if run.run.state != RunState::Complete {
                    continue; // handled when it completes (SPEC §7.4)
                }
                let executions = executions_of(&executions, namespace, pipeline, run_id, WHOLE)?;
                out.push(StoredRunState { run, executions });
            }
            Ok(out)
        })
    }

    // ---- tokens and roles --------------------------------------------------------------------

    fn auth_generation(&self) -> u64 {
        self.auth_generation.load(Ordering::Acquire)
    }

    fn ensure_roles(&self, roles: Vec<Role>) -> StoreResult<()> {
        self.write_auth(|tx| {
            for role in &roles {
                let exists = tx
                    .txn
                    .open_table(ROLES)
                    .or_internal()?
                    .get(role.id.as_str())
                    .or_internal()?
                    .is_some();
                if !exists {
                    tx.put_role(role)?;
                    tx.emit(EventKind::CreatedRole {
                        role_id: role.id.clone(),
                    })?;
                }
            }
            Ok(())
        })
    }

    fn bootstrap_token(&self, token: Token, hash: String) -> StoreResult<Token> {
        self.write_auth(|tx| {
            let mut meta = tx.txn.open_table(META).or_internal()?;
            let mut system: System = get(&meta, META_SYSTEM, "system")?.unwrap_or_default();
            if system.bootstrap_token_created {
                return Err(StoreError::Conflict(
                    "bootstrap token already exists".into(),
                ));
            }
            system.bootstrap_token_created = true;
            meta.insert(META_SYSTEM, encode(&system)?.as_slice())
                .or_internal()?;
            drop(meta);
            tx.put_token(&token, &hash)?;
            Ok(token)
        })
    }

    fn create_token(&self, token: Token, hash: String) -> StoreResult<Token> {
        self.write_auth(|tx| {
            tx.require_roles(&token.roles)?;
            tx.put_token(&token, &hash)?;
            Ok(token)
        })
    }

    fn get_token(&self, id: &str) -> StoreResult<Token> {
        self.read(|txn| {
            let tokens = txn.open_table(TOKENS).or_internal()?;
            get::<_, StoredToken>(&tokens, id, "token")?
                .map(|s| s.token)
                .ok_or_else(|| StoreError::NotFound(format!("token '{id}' not found")))
        })
    }

    fn token_by_hash(&self, hash: &str) -> StoreResult<Option<Token>> {
        self.read(|txn| {
            let hashes = txn.open_table(TOKEN_HASHES).or_internal()?;
            let Some(id) = hashes.get(hash).or_internal()? else {
                return Ok(None);
            };
            let tokens = txn.open_table(TOKENS).or_internal()?;
            Ok(get::<_, StoredToken>(&tokens, id.value(), "token")?.map(|s| s.token))
        })
    }

    fn list_tokens(&self, page: Page) -> StoreResult<Vec<Token>> {
        self.read(|txn| {
            let tokens = txn.open_table(TOKENS).or_internal()?;
            let stored: Vec<StoredToken> =
                page_of(tokens.iter().or_internal()?, page, false, "token")?;
            Ok(stored.into_iter().map(|s| s.token).collect())
        })
    }

    fn set_token_disabled(&self, id: &str, disabled: bool) -> StoreResult<Token> {
        self.write_auth(|tx| {
            let mut tokens = tx.txn.open_table(TOKENS).or_internal()?;
            let mut stored: StoredToken = get(&tokens, id, "token")?
                .ok_or_else(|| StoreError::NotFound(format!("token '{id}' not found")))?;
            stored.token.disabled = disabled;
            tokens
                .insert(id, encode(&stored)?.as_slice())
                .or_internal()?;
            Ok(stored.token)
        })
    }

    fn delete_token(&self, id: &str) -> StoreResult<()> {
        self.write_auth(|tx| {
            if tx.remove_token(id)? {
                Ok(())
            } else {
                Err(StoreError::NotFound(format!("token '{id}' not found")))
            }
        })
    }

    fn list_roles(&self, page: Page) -> StoreResult<Vec<Role>> {
        self.read(|txn| {
            let roles = txn.open_table(ROLES).or_internal()?;
            page_of(roles.iter().or_internal()?, page, false, "role")
        })
    }

    fn get_role(&self, id: &str) -> StoreResult<Role> {
        self.read(|txn| {
            let roles = txn.open_table(ROLES).or_internal()?;
            get(&roles, id, "role")?
                .ok_or_else(|| StoreError::NotFound(format!("role '{id}' not found")))
        })
    }

    fn all_roles(&self) -> StoreResult<Vec<Role>> {
        self.read(|txn| {
            let roles = txn.open_table(ROLES).or_internal()?;
            page_of(roles.iter().or_internal()?, WHOLE, false, "role")
        })
    }

    fn create_role(&self, role: Role) -> StoreResult<Role> {
        self.write_auth(|tx| {
            let exists = tx
                .txn
                .open_table(ROLES)
                .or_internal()?
                .get(role.id.as_str())
                .or_internal()?
                .is_some();
            if exists {
                return Err(StoreError::Conflict(format!(
                    "role '{}' already exists",
                    role.id
                )));
            }
            tx.put_role(&role)?;
            tx.emit(EventKind::CreatedRole {
                role_id: role.id.clone(),
            })?;
            Ok(role)
        })
    }

    fn update_role(
        &self,
        id: &str,
        description: Option<String>,
        permissions: Option<Vec<Permission>>,
    ) -> StoreResult<Role> {
        self.write_auth(|tx| {
            let mut role: Role = {
                let roles = tx.txn.open_table(ROLES).or_internal()?;
                get(&roles, id, "role")?
                    .ok_or_else(|| StoreError::NotFound(format!("role '{id}' not found")))?
            };
            if role.system_role {
                return Err(StoreError::Forbidden(format!(
                    "role '{id}' is a system role and cannot be changed"
                )));
            }
            if let Some(description) = description {
                role.description = description;
            }
            if let Some(permissions) = permissions {
                role.permissions = permissions;
            }
            tx.put_role(&role)?;
            Ok(role)
        })
    }

    fn delete_role(&self, id: &str) -> StoreResult<()> {
        self.write_auth(|tx| {
            let role: Role = {
                let roles = tx.txn.open_table(ROLES).or_internal()?;
                get(&roles, id, "role")?
                    .ok_or_else(|| StoreError::NotFound(format!("role '{id}' not found")))?
            };
            if role.system_role {
                return Err(StoreError::Forbidden(format!(
                    "role '{id}' is a system role and cannot be deleted"
                )));
            }
            tx.remove_role(id)?;
            Ok(())
        })
    }

    fn revoke_run_token(&self, namespace: &str, pipeline: &str, run_id: u64) -> StoreResult<bool> {
        self.write_auth(|tx| tx.revoke_run_token(namespace, pipeline, run_id))
    }

    fn commit(&self, changes: RunChanges) -> StoreResult<Vec<Event>> {
        self.write(|tx| {
            // Only existing runs are changed: new runs come from `create_run` alone, so run ids
            // stay allocated by the pipeline counter.
            for stored in &changes.runs {
                let run = &stored.run;
                tx.require_run(&run.namespace_id, &run.pipeline_id, run.run_id)?;
                tx.put_run(stored)?;
            }
            let mut touched = BTreeSet::new();
            for stored in &changes.executions {
                let e = &stored.execution;
                tx.require_run(&e.namespace_id, &e.pipeline_id, e.run_id)?;
                tx.put_execution(stored)?;
                touched.insert((e.namespace_id.as_str(), e.pipeline_id.as_str(), e.run_id));
            }
            for (ns, p, run_id) in &touched {
                tx.sync_logs_index(ns, p, *run_id)?;
            }
            for crate::store::RunKey {
                namespace: ns,
                pipeline: p,
                run: run_id,
            } in &changes.dequeued
            {
                let stored = tx.require_run(ns, p, *run_id)?;
                if stored.run.state == RunState::Pending {
                    // The queue holds exactly the pending runs: leaving it means changing state
                    // in the same commit.
                    return Err(StoreError::Invalid(format!(
                        "dequeued: run {run_id} of pipeline '{p}' is still pending"
                    )));
                }
                tx.txn
                    .open_table(RUN_QUEUE)
                    .or_internal()?
                    .remove((ns.as_str(), p.as_str(), *run_id))
                    .or_internal()?;
            }
            changes
                .events
                .into_iter()
                .map(|kind| tx.emit(kind))
                .collect()
        })
    }

    // ---- secrets ---------------------------------------------------------------------------

    fn secret_check(&self, candidate: Vec<u8>) -> StoreResult<Vec<u8>> {
        self.write(|tx| {
            let mut meta = tx.txn.open_table(META).or_internal()?;
            if let Some(stored) = get::<_, String>(&meta, META_SECRET_CHECK, "secret check")? {
                return unhex("secret check", &stored);
            }
            meta.insert(
                META_SECRET_CHECK,
                encode(&hex::encode(&candidate))?.as_slice(),
            )
            .or_internal()?;
            Ok(candidate)
        })
    }

    fn put_secret(
        &self,
        scope: &SecretScope,
        secret: Secret,
        ciphertext: Vec<u8>,
        force: bool,
    ) -> StoreResult<Secret> {
        let stored = StoredSecret {
            secret,
            ciphertext: hex::encode(&ciphertext),
        };
        let value = encode(&stored)?;
        let key = stored.secret.key.as_str();
        self.write(|tx| {
            let exists = match scope {
                SecretScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    tx.require_pipeline(namespace, pipeline)?;
                    let mut table = tx.txn.open_table(PIPELINE_SECRETS).or_internal()?;
                    let k = (namespace.as_str(), pipeline.as_str(), key);
                    let exists = table.get(k).or_internal()?.is_some();
                    if !exists || force {
                        table.insert(k, value.as_slice()).or_internal()?;
                    }
                    exists
                }
                SecretScope::Global => {
                    let mut table = tx.txn.open_table(GLOBAL_SECRETS).or_internal()?;
                    let exists = table.get(key).or_internal()?.is_some();
                    if !exists || force {
                        table.insert(key, value.as_slice()).or_internal()?;
                    }
                    exists
                }
            };
            if exists && !force {
                return Err(StoreError::Conflict(format!(
                    "secret '{key}' already exists; use force to replace it"
                )));
            }
            Ok(stored.secret.clone())
        })
    }

    fn get_secret(&self, scope: &SecretScope, key: &str) -> StoreResult<(Secret, Vec<u8>)> {
        self.read(|txn| {
            let stored: Option<StoredSecret> = match scope {
                SecretScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    read_pipeline(txn, namespace, pipeline)?;
                    let table = txn.open_table(PIPELINE_SECRETS).or_internal()?;
                    get(
                        &table,
                        (namespace.as_str(), pipeline.as_str(), key),
                        "secret",
                    )?
                }
                SecretScope::Global => {
                    let table = txn.open_table(GLOBAL_SECRETS).or_internal()?;
                    get(&table, key, "secret")?
                }
            };
            let stored = stored.ok_or_else(|| secret_not_found(key))?;
            let ciphertext = unhex("secret", &stored.ciphertext)?;
            Ok((stored.secret, ciphertext))
        })
    }

    fn list_secrets(&self, scope: &SecretScope, page: Page) -> StoreResult<Vec<Secret>> {
        self.read(|txn| {
            let stored: Vec<StoredSecret> = match scope {
                SecretScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    read_pipeline(txn, namespace, pipeline)?;
                    let table = txn.open_table(PIPELINE_SECRETS).or_internal()?;
                    let (ns, p) = (namespace.as_str(), pipeline.as_str());
                    let p_upper = upper(p);
                    let range = table
                        .range((ns, p, "")..(ns, p_upper.as_str(), ""))
                        .or_internal()?;
                    page_of(range, WHOLE, false, "secret")?
                }
                SecretScope::Global => {
                    let table = txn.open_table(GLOBAL_SECRETS).or_internal()?;
                    page_of(table.iter().or_internal()?, WHOLE, false, "secret")?
                }
            };
            let mut secrets: Vec<Secret> = stored.into_iter().map(|s| s.secret).collect();
            secrets.sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));
            Ok(page_vec(secrets, page))
        })
    }

    fn delete_secret(&self, scope: &SecretScope, key: &str) -> StoreResult<()> {
        self.write(|tx| {
            let removed = match scope {
                SecretScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    tx.require_pipeline(namespace, pipeline)?;
                    let mut table = tx.txn.open_table(PIPELINE_SECRETS).or_internal()?;
                    table
                        .remove((namespace.as_str(), pipeline.as_str(), key))
                        .or_internal()?
                        .is_some()
                }
                SecretScope::Global => {
                    let mut table = tx.txn.open_table(GLOBAL_SECRETS).or_internal()?;
                    table.remove(key).or_internal()?.is_some()
                }
            };
            if removed {
                Ok(())
            } else {
                Err(secret_not_found(key))
            }
        })
    }

    // ---- objects ---------------------------------------------------------------------------

    fn put_object(
        &self,
        scope: &ObjectScope,
        key: &str,
        now: u64,
        force: bool,
        limit: u64,
    ) -> StoreResult<PutObject> {
        let object = Object {
            key: key.to_string(),
            created: now,
        };
        let value = encode(&object)?;
        self.write(|tx| {
            let mut evicted = Vec::new();
            match scope {
                ObjectScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    let (ns, p) = (namespace.as_str(), pipeline.as_str());
                    tx.require_pipeline(ns, p)?;
                    let mut table = tx.txn.open_table(PIPELINE_OBJECTS).or_internal()?;
                    let exists = table.get((ns, p, key)).or_internal()?.is_some();
                    if exists && !force {
                        return Err(object_exists(key));
                    }
                    if !exists && limit > 0 {
                        let p_upper = upper(p);
                        let range = table
                            .range((ns, p, "")..(ns, p_upper.as_str(), ""))
                            .or_internal()?;
                        let mut all: Vec<Object> = page_of(range, WHOLE, false, "object")?;
                        let count = all.len() as u64;
                        if count >= limit {
                            all.sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));
                            let excess = usize::try_from(count - limit + 1).unwrap_or(usize::MAX);
                            for old in all.into_iter().take(excess) {
                                table.remove((ns, p, old.key.as_str())).or_internal()?;
                                evicted.push(old.key);
                            }
                        }
                    }
                    table.insert((ns, p, key), value.as_slice()).or_internal()?;
                }
                ObjectScope::Extension { extension } => {
                    tx.require_extension(extension)?;
                    let mut table = tx.txn.open_table(EXTENSION_OBJECTS).or_internal()?;
                    let exists = table
                        .get((extension.as_str(), key))
                        .or_internal()?
                        .is_some();
                    if exists && !force {
                        return Err(object_exists(key));
                    }
                    table
                        .insert((extension.as_str(), key), value.as_slice())
                        .or_internal()?;
                }
                ObjectScope::Run {
                    namespace,
                    pipeline,
                    run_id,
                } => {
                    let (ns, p) = (namespace.as_str(), pipeline.as_str());
                    let run = tx.require_run(ns, p, *run_id)?;
                    if run.run.store_objects_expired {
                        return Err(StoreError::Conflict(format!(
                            "objects for run {run_id} have expired"
                        )));
                    }
                    let mut table = tx.txn.open_table(RUN_OBJECTS).or_internal()?;
                    let exists = table.get((ns, p, *run_id, key)).or_internal()?.is_some();
                    if exists && !force {
                        return Err(object_exists(key));
                    }
                    table
                        .insert((ns, p, *run_id, key), value.as_slice())
                        .or_internal()?;
                }
            }
            Ok(PutObject {
                object: object.clone(),
                evicted,
            })
        })
    }

    fn get_object(&self, scope: &ObjectScope, key: &str) -> StoreResult<Object> {
        self.read(|txn| {
            let object: Option<Object> = match scope {
                ObjectScope::Extension { extension } => {
                    read_extension(txn, extension)?;
                    let table = txn.open_table(EXTENSION_OBJECTS).or_internal()?;
                    get(&table, (extension.as_str(), key), "object")?
                }
                ObjectScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    read_pipeline(txn, namespace, pipeline)?;
                    let table = txn.open_table(PIPELINE_OBJECTS).or_internal()?;
                    get(
                        &table,
                        (namespace.as_str(), pipeline.as_str(), key),
                        "object",
                    )?
                }
                ObjectScope::Run {
                    namespace,
                    pipeline,
                    run_id,
                } => {
                    read_pipeline(txn, namespace, pipeline)?;
                    read_run(txn, namespace, pipeline, *run_id)?;
                    let table = txn.open_table(RUN_OBJECTS).or_internal()?;
                    get(
                        &table,
                        (namespace.as_str(), pipeline.as_str(), *run_id, key),
                        "object",
                    )?
                }
            };
            object.ok_or_else(|| StoreError::NotFound(format!("object '{key}' not found")))
        })
    }

    fn list_objects(&self, scope: &ObjectScope, page: Page) -> StoreResult<Vec<Object>> {
        self.read(|txn| {
            let mut objects: Vec<Object> = match scope {
                ObjectScope::Extension { extension } => {
                    let id = extension.as_str();
                    read_extension(txn, id)?;
                    let table = txn.open_table(EXTENSION_OBJECTS).or_internal()?;
                    let id_upper = upper(id);
                    let range = table
                        .range((id, "")..(id_upper.as_str(), ""))
                        .or_internal()?;
                    page_of(range, WHOLE, false, "object")?
                }
                ObjectScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    let (ns, p) = (namespace.as_str(), pipeline.as_str());
                    read_pipeline(txn, ns, p)?;
                    let table = txn.open_table(PIPELINE_OBJECTS).or_internal()?;
                    let p_upper = upper(p);
                    let range = table
                        .range((ns, p, "")..(ns, p_upper.as_str(), ""))
                        .or_internal()?;
                    page_of(range, WHOLE, false, "object")?
                }
                ObjectScope::Run {
                    namespace,
                    pipeline,
                    run_id,
                } => {
                    let (ns, p) = (namespace.as_str(), pipeline.as_str());
                    read_pipeline(txn, ns, p)?;
                    read_run(txn, ns, p, *run_id)?;
                    let table = txn.open_table(RUN_OBJECTS).or_internal()?;
                    let p_upper = upper(p);
                    let range = table
                        .range(run_executions(ns, p, &p_upper, *run_id))
                        .or_internal()?;
                    page_of(range, WHOLE, false, "object")?
                }
            };
            objects.sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));
            Ok(page_vec(objects, page))
        })
    }

    fn delete_object(&self, scope: &ObjectScope, key: &str) -> StoreResult<()> {
        self.write(|tx| {
            let removed = match scope {
                ObjectScope::Extension { extension } => {
                    tx.require_extension(extension)?;
                    let mut table = tx.txn.open_table(EXTENSION_OBJECTS).or_internal()?;
                    table
                        .remove((extension.as_str(), key))
                        .or_internal()?
                        .is_some()
                }
                ObjectScope::Pipeline {
                    namespace,
                    pipeline,
                } => {
                    tx.require_pipeline(namespace, pipeline)?;
                    let mut table = tx.txn.open_table(PIPELINE_OBJECTS).or_internal()?;
                    table
                        .remove((namespace.as_str(), pipeline.as_str(), key))
                        .or_internal()?
                        .is_some()
                }
                ObjectScope::Run {
                    namespace,
                    pipeline,
                    run_id,
                } => {
                    tx.require_run(namespace, pipeline, *run_id)?;
                    let mut table = tx.txn.open_table(RUN_OBJECTS).or_internal()?;
                    table
                        .remove((namespace.as_str(), pipeline.as_str(), *run_id, key))
                        .or_internal()?
                        .is_some()
                }
            };
            if removed {
                Ok(())
            } else {
                Err(StoreError::NotFound(format!("object '{key}' not found")))
            }
        })
    }

    fn install_extension(&self, extension: &Extension) -> StoreResult<()> {
        let registration = &extension.registration;
        let id = registration.extension_id.as_str();
        self.write_auth(|tx| {
            let exists = tx
                .txn
                .open_table(EXTENSIONS)
                .or_internal()?
                .get(id)
                .or_internal()?
                .is_some();
            if exists {
                return Err(StoreError::Conflict(format!(
                    "extension '{id}' is already installed"
                )));
            }
            tx.require_roles(&registration.additional_roles)
                .map_err(|e| match e {
                    StoreError::Invalid(m) => {
                        StoreError::Invalid(m.replacen("roles:", "additional_roles:", 1))
                    }
                    other => other,
                })?;
            let role = gofer_core::api::extension_role(id);
            tx.put_role(&role)?;
            tx.emit(EventKind::CreatedRole { role_id: role.id })?;
            tx.put_extension(&StoredExtension {
                extension: extension.clone(),
                token_id: None,
            })?;
            tx.emit(EventKind::InstalledExtension {
                id: id.to_string(),
                image: registration.image.clone(),
            })?;
            Ok(())
        })
    }

    fn get_extension(&self, id: &str) -> StoreResult<StoredExtension> {
        self.read(|txn| read_extension(txn, id))
    }

    fn list_extensions(&self, page: Page) -> StoreResult<Vec<StoredExtension>> {
        self.read(|txn| {
            let table = txn.open_table(EXTENSIONS).or_internal()?;
            let all: Vec<StoredExtension> = page_of(
                table.range::<&str>(..).or_internal()?,
                WHOLE,
                false,
                "extension",
            )?;
            Ok(page_vec(all, page))
        })
    }

    fn set_extension_runtime(&self, id: &str, runtime: &Extension) -> StoreResult<()> {
        self.write(|tx| {
            let mut stored = tx.require_extension(id)?;
            let ext = &mut stored.extension;
            ext.url = runtime.url.clone();
            ext.started = runtime.started;
            ext.state = runtime.state;
            ext.documentation = runtime.documentation.clone();
            tx.put_extension(&stored)
        })
    }

    fn set_extension_status(&self, id: &str, enabled: bool, now: u64) -> StoreResult<bool> {
        use gofer_core::enums::ExtensionStatus;
        self.write_auth(|tx| {
            let mut stored = tx.require_extension(id)?;
            let status = if enabled {
                ExtensionStatus::Enabled
            } else {
                ExtensionStatus::Disabled
            };
            let registration = &mut stored.extension.registration;
            if registration.status == status {
                return Ok(false);
            }
            registration.status = status;
            registration.modified = now;
            let image = registration.image.clone();
            if !enabled && let Some(token_id) = &stored.token_id {
                // A disabled extension's token answers 401 (SPEC §12.1, §12.6).
                let found: Option<StoredToken> = {
                    let tokens = tx.txn.open_table(TOKENS).or_internal()?;
                    get(&tokens, token_id.as_str(), "token")?
                };
                if let Some(mut token) = found {
                    token.token.disabled = true;
                    tx.put_token(&token.token, &token.hash)?;
                }
            }
            tx.put_extension(&stored)?;
            let id = id.to_string();
            tx.emit(if enabled {
                EventKind::EnabledExtension { id, image }
            } else {
                EventKind::DisabledExtension { id, image }
            })?;
            Ok(true)
        })
    }

    fn replace_extension_token(&self, id: &str, token: &Token, hash: &str) -> StoreResult<()> {
        self.write_auth(|tx| {
            let mut stored = tx.require_extension(id)?;
            if let Some(old) = stored.token_id.take() {
                tx.remove_token(&old)?;
            }
            tx.put_token(token, hash)?;
            stored.token_id = Some(token.id.clone());
            tx.put_extension(&stored)
        })
    }

    fn uninstall_extension(&self, id: &str) -> StoreResult<StoredExtension> {
        self.write_auth(|tx| {
            let stored = tx.require_extension(id)?;
            let id_upper = upper(id);
            tx.txn
                .open_table(EXTENSION_OBJECTS)
                .or_internal()?
                .retain_in((id, "")..(id_upper.as_str(), ""), |_, _| false)
                .or_internal()?;
            for key in tx.extension_subscription_keys(id)? {
                tx.remove_subscription(&key)?;
            }
            if let Some(token_id) = &stored.token_id {
                tx.remove_token(token_id)?;
            }
            tx.remove_role(&gofer_core::api::extension_role_id(id))?;
            tx.txn
                .open_table(EXTENSIONS)
                .or_internal()?
                .remove(id)
                .or_internal()?;
            tx.emit(EventKind::UninstalledExtension {
                id: id.to_string(),
                image: stored.extension.registration.image.clone(),
            })?;
            Ok(stored)
        })
    }

    fn create_subscription(&self, sub: &gofer_core::api::Subscription) -> StoreResult<()> {
        let k = SubscriptionKey::of(sub);
        self.write(|tx| {
            tx.require_pipeline(&k.namespace, &k.pipeline)?;
            tx.require_extension(&k.extension)?;
            let key = subscription_row(&k);
            let mut table = tx.txn.open_table(SUBSCRIPTIONS).or_internal()?;
            if table.get(key).or_internal()?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "subscription '{}' of pipeline '{}' to extension '{}' already exists",
                    k.subscription, k.pipeline, k.extension
                )));
            }
            table.insert(key, encode(sub)?.as_slice()).or_internal()?;
            tx.txn
                .open_table(EXTENSION_SUBSCRIPTIONS)
                .or_internal()?
                .insert(subscription_index_row(&k), ())
                .or_internal()?;
            tx.emit(EventKind::PipelineExtensionSubscriptionRegistered {
                namespace_id: k.namespace.clone(),
                pipeline_id: k.pipeline.clone(),
                extension_id: k.extension.clone(),
                subscription_id: k.subscription.clone(),
            })?;
            Ok(())
        })
    }

    fn get_subscription(&self, k: &SubscriptionKey) -> StoreResult<gofer_core::api::Subscription> {
        self.read(|txn| {
            read_pipeline(txn, &k.namespace, &k.pipeline)?;
            let table = txn.open_table(SUBSCRIPTIONS).or_internal()?;
            get(&table, subscription_row(k), "subscription")?
                .ok_or_else(|| subscription_not_found(k))
        })
    }

    fn list_subscriptions(
        &self,
        namespace: &str,
        pipeline: &str,
        page: Page,
    ) -> StoreResult<Vec<gofer_core::api::Subscription>> {
        self.read(|txn| {
            read_pipeline(txn, namespace, pipeline)?;
            let table = txn.open_table(SUBSCRIPTIONS).or_internal()?;
            let p_upper = upper(pipeline);
            let range = table
                .range((namespace, pipeline, "", "")..(namespace, p_upper.as_str(), "", ""))
                .or_internal()?;
            page_of(range, page, page.reverse, "subscription")
        })
    }

    fn list_extension_subscriptions(
        &self,
        extension: &str,
        page: Page,
    ) -> StoreResult<Vec<gofer_core::api::Subscription>> {
        self.read(|txn| {
            read_extension(txn, extension)?;
            let index = txn.open_table(EXTENSION_SUBSCRIPTIONS).or_internal()?;
            let table = txn.open_table(SUBSCRIPTIONS).or_internal()?;
            let ext_upper = upper(extension);
            let mut out = Vec::new();
            for entry in index
                .range((extension, "", "", "")..(ext_upper.as_str(), "", "", ""))
                .or_internal()?
            {
                let (k, _) = entry.or_internal()?;
                let (ext, ns, p, sub) = k.value();
                if let Some(s) = get(&table, (ns, p, ext, sub), "subscription")? {
                    out.push(s);
                }
            }
            Ok(page_vec(out, page))
        })
    }

    fn set_subscription_status(
        &self,
        k: &SubscriptionKey,
        status: gofer_core::enums::SubscriptionStatus,
        reason: Option<
            gofer_core::api::StatusReason<gofer_core::enums::SubscriptionStatusReasonKind>,
        >,
    ) -> StoreResult<()> {
        self.write(|tx| {
            let key = subscription_row(k);
            let mut table = tx.txn.open_table(SUBSCRIPTIONS).or_internal()?;
            let mut sub: gofer_core::api::Subscription =
                get(&table, key, "subscription")?.ok_or_else(|| subscription_not_found(k))?;
            sub.status = status;
            sub.status_reason = reason;
            table.insert(key, encode(&sub)?.as_slice()).or_internal()?;
            Ok(())
        })
    }

    fn record_subscription_fire(
        &self,
        k: &SubscriptionKey,
        last_fired: u64,
        last_error: Option<String>,
    ) -> StoreResult<bool> {
        use gofer_core::enums::{SubscriptionStatus, SubscriptionStatusReasonKind};
        self.write(|tx| {
            let key = subscription_row(k);
            let mut table = tx.txn.open_table(SUBSCRIPTIONS).or_internal()?;
            let Some(mut sub): Option<gofer_core::api::Subscription> =
                get(&table, key, "subscription")?
            else {
                return Ok(false);
            };
            let before = sub.clone();
            sub.last_fired = last_fired;
            sub.last_error = last_error.clone();
            // The status stays `active` (the extension holds the subscription, and runs it
            // starts need an active one); the reason says the trigger is failing.
            if sub.status == SubscriptionStatus::Active {
                sub.status_reason =
                    last_error
                        .as_ref()
                        .map(|error| gofer_core::api::StatusReason {
                            reason: SubscriptionStatusReasonKind::Failed,
                            description: format!("the extension could not start a run: {error}"),
                        });
            }
            if sub == before {
                return Ok(false);
            }
            table.insert(key, encode(&sub)?.as_slice()).or_internal()?;
            Ok(true)
        })
    }

    fn delete_subscription(&self, k: &SubscriptionKey) -> StoreResult<()> {
        self.write(|tx| {
            tx.require_pipeline(&k.namespace, &k.pipeline)?;
            if tx.remove_subscription(k)? {
                Ok(())
            } else {
                Err(subscription_not_found(k))
            }
        })
    }

    fn has_active_subscription(
        &self,
        namespace: &str,
        pipeline: &str,
        extension: &str,
    ) -> StoreResult<bool> {
        self.read(|txn| {
            let table = txn.open_table(SUBSCRIPTIONS).or_internal()?;
            let ext_upper = upper(extension);
            for entry in table
                .range(
                    (namespace, pipeline, extension, "")
                        ..(namespace, pipeline, ext_upper.as_str(), ""),
                )
                .or_internal()?
            {
                let (k, v) = entry.or_internal()?;
                let decoded =
                    with_key(decode("subscription", v.value()), "subscription", k.value());
                let Some(sub) = skip_unreadable::<gofer_core::api::Subscription>(decoded)? else {
                    continue;
                };
                if sub.status == gofer_core::enums::SubscriptionStatus::Active {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }

    fn expire_run_objects(
        &self,
        namespace: &str,
        pipeline: &str,
        max_run_id: u64,
    ) -> StoreResult<Vec<u64>> {
        let (ns, p) = (namespace, pipeline);
        // Called for every new run: commit (and fsync) only when there is something to expire.
        let due = self.read(|txn| {
            let index = txn.open_table(RUNS_WITH_OBJECTS).or_internal()?;
            let mut range = index
                .range((ns, p, 0)..=(ns, p, max_run_id))
                .or_internal()?;
            Ok(range.next().is_some())
        })?;
        if !due {
            return Ok(Vec::new());
        }
        // `write_auth`: the expired runs' API tokens are revoked in the same transaction.
        self.write_auth(|tx| {
            let candidates: Vec<u64> = {
                let index = tx.txn.open_table(RUNS_WITH_OBJECTS).or_internal()?;
                index
                    .range((ns, p, 0)..=(ns, p, max_run_id))
                    .or_internal()?
                    .map(|entry| entry.map(|(k, _)| k.value().2).or_internal())
                    .collect::<StoreResult<_>>()?
            };
            let p_upper = upper(p);
            let mut expired = Vec::new();
            for run_id in candidates {
                let mut stored: StoredRun = {
                    let runs = tx.txn.open_table(RUNS).or_internal()?;
                    get(&runs, (ns, p, run_id), "run")?.ok_or_else(|| run_not_found(p, run_id))?
                };
                if stored.run.state != RunState::Complete {
                    continue;
                }
                stored.run.store_objects_expired = true;
                tx.put_run(&stored)?;
                tx.txn
                    .open_table(RUN_OBJECTS)
                    .or_internal()?
                    .retain_in(run_executions(ns, p, &p_upper, run_id), |_, _| false)
                    .or_internal()?;
                // The run's API token goes with its objects (SPEC §6.5).
                tx.revoke_run_token(ns, p, run_id)?;
                expired.push(run_id);
            }
            Ok(expired)
        })
    }
}

/// The `SUBSCRIPTIONS` key of a subscription.
fn subscription_row(k: &SubscriptionKey) -> (&str, &str, &str, &str) {
    (&k.namespace, &k.pipeline, &k.extension, &k.subscription)
}

/// The `EXTENSION_SUBSCRIPTIONS` key of a subscription.
fn subscription_index_row(k: &SubscriptionKey) -> (&str, &str, &str, &str) {
    (&k.extension, &k.namespace, &k.pipeline, &k.subscription)
}

fn subscription_not_found(k: &SubscriptionKey) -> StoreError {
    StoreError::NotFound(format!(
        "subscription '{}' of pipeline '{}' to extension '{}' not found",
        k.subscription, k.pipeline, k.extension
    ))
}

fn extension_not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("extension '{id}' not found"))
}

fn secret_not_found(key: &str) -> StoreError {
    StoreError::NotFound(format!("secret '{key}' not found"))
}

fn object_exists(key: &str) -> StoreError {
    StoreError::Conflict(format!(
        "object '{key}' already exists; use force to replace it"
    ))
}

fn unhex(what: &str, value: &str) -> StoreResult<Vec<u8>> {
    hex::decode(value)
        .map_err(|e| StoreError::Internal(format!("cannot decode stored {what}: {e}")))
}

/// Applies `page` to a list already in its default order.
fn page_vec<T>(mut items: Vec<T>, page: Page) -> Vec<T> {
    if page.reverse {
        items.reverse();
    }
    let offset = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    items.into_iter().skip(offset).take(limit).collect()
}
