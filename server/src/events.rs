//! Following the event log (docs/logs-and-events.md#what-an-event-promises): every reader keeps its own cursor and reads stored events
//! after it, in batches; [`StoreHandle::subscribe`] only wakes it. A slow reader therefore falls
//! behind but never misses an event and never sees one twice. Used by the websocket stream
//! `GET /api/events`, and meant for anything else that reacts to events.

use crate::store::{StoreHandle, StoreResult};
use gofer_core::api::Event;

/// Events read from the store per batch.
pub const BATCH: usize = 100;

/// A cursor over the event log.
pub struct EventFeed {
    store: StoreHandle,
    cursor: Option<String>,
    changed: tokio::sync::watch::Receiver<u64>,
}

impl EventFeed {
    /// A feed of the events with ids strictly greater than `cursor` (all stored events when
    /// `None`), including every event committed later.
    pub fn after(store: StoreHandle, cursor: Option<String>) -> EventFeed {
        let changed = store.subscribe();
        EventFeed {
            store,
            cursor,
            changed,
        }
    }

    /// The id of the last event returned (or the starting cursor).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// The next events after the cursor, oldest first, at most [`BATCH`]; waits until there is at
    /// least one. Cancel-safe: the cursor only moves when a batch is returned.
    pub async fn next(&mut self) -> StoreResult<Vec<Event>> {
        loop {
            // Seen before reading, so a commit after the read wakes the wait below.
            self.changed.borrow_and_update();
            let after = self.cursor.clone();
            let batch = self
                .store
                .read(move |s| s.events_after(after.as_deref(), BATCH))
                .await?;
            if let Some(last) = batch.last() {
                self.cursor = Some(last.id.clone());
                return Ok(batch);
            }
            // The handle we hold keeps the sender alive, so this only returns on a change.
            let _ = self.changed.changed().await;
        }
    }

    /// [`EventFeed::next`] for a background consumer (metrics, notifications): a failed read is
    /// logged under `consumer` and retried a second later; `None` once the server shuts down.
    pub async fn next_until_shutdown(
        &mut self,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
        consumer: &'static str,
    ) -> Option<Vec<Event>> {
        loop {
            let batch = tokio::select! {
                batch = self.next() => batch,
                true = crate::shutting_down(shutdown) => return None,
            };
            match batch {
                Ok(events) => return Some(events),
                Err(e) => {
                    tracing::warn!(error = %e, consumer, "reading events failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }
}
