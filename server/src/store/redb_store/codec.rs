//! The value boundary of the redb store: encoding and decoding, the one mapping of redb errors,
//! unreadable records, key ranges, lookups shared by the tables, messages and event ids.

use super::*;

// ---- error and value boundary ------------------------------------------------------------------

/// Converts every redb error (and I/O error) into [`StoreError::Internal`].
pub(super) trait OrInternal<T> {
    fn or_internal(self) -> StoreResult<T>;
}

impl<T, E: Into<redb::Error>> OrInternal<T> for Result<T, E> {
    fn or_internal(self) -> StoreResult<T> {
        self.map_err(|e| storage_error(e.into()))
    }
}

/// A redb error as ours: a full disk and I/O failures are told apart from everything else,
/// because the store recovers from them by reopening the database (`RedbStore::recover`).
pub(super) fn storage_error(e: redb::Error) -> StoreError {
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
pub(super) fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
        || e.kind() == std::io::ErrorKind::QuotaExceeded
        || matches!(e.raw_os_error(), Some(28 | 122))
}

pub(super) fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    let mut bytes = vec![VALUE_VERSION];
    serde_json::to_writer(&mut bytes, value)
        .map_err(|e| StoreError::Internal(format!("cannot encode a stored value: {e}")))?;
    // What is written must read back: the decoder refuses deeper documents.
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

pub(super) fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> StoreResult<T> {
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
// A record that does not decode must not take the server down: readers of many
// records skip it, and every reader notes it here once, with its table and key, so health,
// metrics and the log can tell. `gofer service doctor` finds them all and quarantines them.

/// The unreadable records seen since the store was opened, by (table, key).
pub(super) type UnreadableSeen =
    std::sync::Mutex<std::collections::BTreeMap<(String, String), String>>;

thread_local! {
    /// The registry of the store whose transaction runs on this thread (set by `read`/`write`,
    /// which run synchronously on one thread), so the free helpers below can note records.
    static SEEN: std::cell::RefCell<Option<Arc<UnreadableSeen>>> =
        const { std::cell::RefCell::new(None) };
}

/// Makes `seen` the current registry until dropped.
pub(super) struct SeenScope(Option<Arc<UnreadableSeen>>);

impl SeenScope {
    pub(super) fn enter(seen: &Arc<UnreadableSeen>) -> SeenScope {
        SeenScope(SEEN.with(|s| s.replace(Some(seen.clone()))))
    }
}

impl Drop for SeenScope {
    fn drop(&mut self) {
        SEEN.with(|s| *s.borrow_mut() = self.0.take());
    }
}

/// Records an unreadable record; logs it the first time it is seen.
pub(super) fn note_unreadable(table: &str, key: String, error: &str) {
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
pub(super) fn with_key<T>(
    result: StoreResult<T>,
    table: &str,
    key: impl std::fmt::Debug,
) -> StoreResult<T> {
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
pub(super) fn skip_unreadable<T>(result: StoreResult<T>) -> StoreResult<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(StoreError::Unreadable(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Looks a key up and decodes its value.
pub(super) fn get<'k, K, T>(
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

pub(super) type Entry<'a, K> = Result<(AccessGuard<'a, K>, AccessGuard<'a, Bytes>), StorageError>;

/// Applies `page` to a range whose natural (key) order is ascending. `descending` says whether the
/// list's default order is the reverse of key order.
pub(super) fn page_of<'a, K, T>(
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

/// [`page_of`] over only the records `keep` accepts: every record is decoded (to be judged), and
/// `offset` and `limit` count accepted ones.
pub(super) fn page_of_where<'a, K, T>(
    range: redb::Range<'a, K, Bytes>,
    page: Page,
    descending: bool,
    what: &str,
    keep: impl Fn(&T) -> bool,
) -> StoreResult<Vec<T>>
where
    K: Key + 'static,
    T: DeserializeOwned,
{
    fn collect<'a, K: Key + 'static, T: DeserializeOwned>(
        entries: impl Iterator<Item = Entry<'a, K>>,
        page: Page,
        what: &str,
        keep: impl Fn(&T) -> bool,
    ) -> StoreResult<Vec<T>> {
        let offset = usize::try_from(page.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut skipped = 0;
        for entry in entries {
            if out.len() >= limit {
                break;
            }
            let (key, value) = entry.or_internal()?;
            let decoded = with_key(decode(what, value.value()), what, key.value());
            let Some(record) = skip_unreadable(decoded)?.filter(|r| keep(r)) else {
                continue;
            };
            if skipped < offset {
                skipped += 1;
            } else {
                out.push(record);
            }
        }
        Ok(out)
    }
    if page.reverse != descending {
        collect(range.rev(), page, what, keep)
    } else {
        collect(range, page, what, keep)
    }
}

// ---- messages ----------------------------------------------------------------------------------

pub(super) fn namespace_not_found(ns: &str) -> StoreError {
    StoreError::NotFound(format!("namespace '{ns}' not found"))
}

pub(super) fn config_not_found(p: &str, version: u64) -> StoreError {
    StoreError::NotFound(format!(
        "config version {version} of pipeline '{p}' not found"
    ))
}

/// The NotFound for a missing pipeline names the missing parent when it is the namespace that is
/// missing (trait contract: "missing parents are NotFound naming the parent").
pub(super) fn pipeline_not_found(
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

pub(super) fn run_not_found(p: &str, run_id: u64) -> StoreError {
    StoreError::NotFound(format!("run {run_id} of pipeline '{p}' not found"))
}

pub(super) fn execution_not_found(run_id: u64, task: &str) -> StoreError {
    StoreError::NotFound(format!("task execution '{task}' of run {run_id} not found"))
}

/// The key of a run in `RUNS` and the run index tables.
pub(super) type RunKey<'a> = (&'a str, &'a str, u64);

pub(super) fn run_key(run: &Run) -> RunKey<'_> {
    (
        run.namespace_id.as_str(),
        run.pipeline_id.as_str(),
        run.run_id,
    )
}

/// Every run key of one pipeline.
pub(super) fn pipeline_runs<'a>(ns: &'a str, p: &'a str) -> std::ops::RangeInclusive<RunKey<'a>> {
    (ns, p, 0)..=(ns, p, u64::MAX)
}

pub(super) type ExecutionKey<'a> = (&'a str, &'a str, u64, &'a str);

/// Every execution key of one run. `p_upper` is `upper(p)`, needed only for run id `u64::MAX`.
pub(super) fn run_executions<'a>(
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
pub(super) fn executions_of(
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
pub(super) const WHOLE: Page = Page::ALL;

/// The smallest string greater than `s`, so `(s, "")..(upper(s), "")` covers exactly the tuple
/// keys whose first component is `s`.
pub(super) fn upper(s: &str) -> String {
    format!("{s}\0")
}

// ---- event ids ---------------------------------------------------------------------------------

/// The id and `emitted` of the next event, given the previous one and the clock (docs/logs-and-events.md#what-an-event-promises).
pub(super) fn next_event_id(last: Option<&LastEvent>, now: u64) -> StoreResult<(String, u64)> {
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

/// The subscription keys of a range over a 4-string key; `order` maps the table's key to
/// `(namespace, pipeline, extension, subscription)`.
pub(super) fn subscription_keys<'a, V: redb::Value + 'static>(
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

pub(super) fn read_extension(txn: &ReadTransaction, id: &str) -> StoreResult<StoredExtension> {
    let table = txn.open_table(EXTENSIONS).or_internal()?;
    get(&table, id, "extension")?.ok_or_else(|| extension_not_found(id))
}

/// Read-side lookups shared by several read operations.
pub(super) fn read_pipeline(txn: &ReadTransaction, ns: &str, p: &str) -> StoreResult<Metadata> {
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
pub(super) fn read_run(
    txn: &ReadTransaction,
    ns: &str,
    p: &str,
    run_id: u64,
) -> StoreResult<StoredRun> {
    read_pipeline(txn, ns, p)?;
    let runs = txn.open_table(RUNS).or_internal()?;
    get(&runs, (ns, p, run_id), "run")?.ok_or_else(|| run_not_found(p, run_id))
}

/// The row of a run an index names; a missing row means the file is inconsistent.
pub(super) fn indexed_run(
    runs: &impl ReadableTable<RunKey<'static>, Bytes>,
    ns: &str,
    p: &str,
    run_id: u64,
) -> StoreResult<StoredRun> {
    get(runs, (ns, p, run_id), "run")?
        .ok_or_else(|| StoreError::Internal(format!("indexed run {ns}/{p}/{run_id} has no row")))
}

/// The `SUBSCRIPTIONS` key of a subscription.
pub(super) fn subscription_row(k: &SubscriptionKey) -> (&str, &str, &str, &str) {
    (&k.namespace, &k.pipeline, &k.extension, &k.subscription)
}

/// The `EXTENSION_SUBSCRIPTIONS` key of a subscription.
pub(super) fn subscription_index_row(k: &SubscriptionKey) -> (&str, &str, &str, &str) {
    (&k.extension, &k.namespace, &k.pipeline, &k.subscription)
}

pub(super) fn subscription_not_found(k: &SubscriptionKey) -> StoreError {
    StoreError::NotFound(format!(
        "subscription '{}' of pipeline '{}' to extension '{}' not found",
        k.subscription, k.pipeline, k.extension
    ))
}

pub(super) fn extension_not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("extension '{id}' not found"))
}

pub(super) fn secret_not_found(key: &str) -> StoreError {
    StoreError::NotFound(format!("secret '{key}' not found"))
}

pub(super) fn object_exists(key: &str) -> StoreError {
    StoreError::Conflict(format!(
        "object '{key}' already exists; use force to replace it"
    ))
}

pub(super) fn unhex(what: &str, value: &str) -> StoreResult<Vec<u8>> {
    hex::decode(value)
        .map_err(|e| StoreError::Internal(format!("cannot decode stored {what}: {e}")))
}

/// Applies `page` to a list already in its default order.
pub(super) fn page_vec<T>(mut items: Vec<T>, page: Page) -> Vec<T> {
    if page.reverse {
        items.reverse();
    }
    let offset = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    items.into_iter().skip(offset).take(limit).collect()
}
