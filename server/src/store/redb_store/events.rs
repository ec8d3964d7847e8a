//! The event log: reading, deleting and pruning (events are written by the operations that emit
//! them, in their transaction; `record_event` is for facts that change no other record, such as
//! a notification's delivery).

use super::*;

impl RedbStore {
    pub(super) fn record_event(&self, kind: EventKind) -> StoreResult<Event> {
        self.write(|tx| tx.emit(kind))
    }

    pub(super) fn events_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Event>> {
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

    pub(super) fn events_before(
        &self,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Event>> {
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

    pub(super) fn last_event_id(&self) -> StoreResult<Option<String>> {
        self.read(|txn| {
            let events = txn.open_table(EVENTS).or_internal()?;
            let last = events.last().or_internal()?;
            Ok(last.map(|(key, _)| key.value().to_string()))
        })
    }

    pub(super) fn get_event(&self, id: &str) -> StoreResult<Event> {
        self.read(|txn| {
            let events = txn.open_table(EVENTS).or_internal()?;
            get(&events, id, "event")?
                .ok_or_else(|| StoreError::NotFound(format!("event '{id}' not found")))
        })
    }

    pub(super) fn delete_event(&self, id: &str) -> StoreResult<()> {
        self.write(|tx| {
            let mut events = tx.txn.open_table(EVENTS).or_internal()?;
            match events.remove(id).or_internal()? {
                Some(_) => Ok(()),
                None => Err(StoreError::NotFound(format!("event '{id}' not found"))),
            }
        })
    }

    pub(super) fn prune_events(&self, cutoff: u64) -> StoreResult<u64> {
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
}
