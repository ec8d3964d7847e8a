use crate::events::EventFeed;
use crate::http::Cx;
use crate::http::auth::Grants;
use crate::http::reply::{ApiError, no_content, ok};
use crate::store::StoreHandle;
use futures_util::{SinkExt, StreamExt};
use gofer_core::api::ResourceKind;
use gofer_core::api::{Event, EventResponse, EventStreamQuery};
use gofer_core::enums::Action;
use std::time::Duration;
use warp::Reply;
use warp::reply::Response;
use warp::ws::{Message, WebSocket};

/// Event ids are canonical lowercase hyphenated UUIDs; anything else cannot exist (404).
fn event_id(cx: &Cx) -> Result<String, ApiError> {
    let id = cx.param("event_id");
    match uuid::Uuid::parse_str(id) {
        Ok(u) if u.hyphenated().to_string() == id => Ok(id.to_string()),
        _ => Err(ApiError::not_found(format!("event '{id}' not found"))),
    }
}

/// Whether `grants` may see `event` (docs/security.md): read on its namespace, and on its
/// pipeline where it names one. Events that name no namespace (roles, tokens, extensions, the
/// system) are for admins only.
pub fn visible(grants: &Grants, event: &Event) -> bool {
    if grants.is_admin() {
        return true;
    }
    match event.kind.scope() {
        (None, _) => false,
        (Some(namespace), pipeline) => {
            let mut required = vec![(ResourceKind::Namespaces, Some(namespace))];
            if let Some(pipeline) = pipeline {
                required.push((ResourceKind::Pipelines, Some(pipeline)));
            }
            grants.allows(Action::Read, &required)
        }
    }
}

pub async fn get(cx: Cx) -> Result<Response, ApiError> {
    let id = event_id(&cx)?;
    let shown = id.clone();
    let event = cx.state.store.read(move |s| s.get_event(&id)).await?;
    if !visible(&cx.caller.grants, &event) {
        return Err(ApiError::not_found(format!("event '{shown}' not found")));
    }
    Ok(ok(&EventResponse { event }))
}

pub async fn delete(cx: Cx) -> Result<Response, ApiError> {
    let id = event_id(&cx)?;
    cx.state.store.write(move |s| s.delete_event(&id)).await?;
    Ok(no_content())
}

/// Websocket pings keep idle streams alive through proxies (docs/logs-and-events.md#the-stream).
const PING: Duration = Duration::from_secs(30);

/// (WS) `GET /api/events` (docs/logs-and-events.md#the-stream). Every check happens before the upgrade.
pub async fn stream(cx: Cx) -> Result<Response, ApiError> {
    let pairs = cx.query_pairs();
    let query = EventStreamQuery::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(ApiError::invalid)?;
    let Some(ws) = cx.ws else {
        return Err(ApiError::invalid("websocket upgrade required"));
    };
    let store = cx.state.store.clone();
    let shutdown = cx.state.shutdown.clone();
    let grants = cx.caller.grants.clone();
    // Without history the stream starts at the last event committed before the connection was
    // accepted: that is now, before the upgrade.
    let start = match (&query.after, query.history) {
        (Some(after), _) => Some(after.clone()),
        (None, true) => None,
        (None, false) => store.read(|s| s.last_event_id()).await?,
    };
    Ok(ws
        .on_upgrade(move |socket| send_events(socket, store, query, grants, start, shutdown))
        .into_response())
}

/// How a stream ended, as the close frame to send (`None`: the client is gone).
type Close = Option<Message>;

async fn send_events(
    socket: WebSocket,
    store: StoreHandle,
    query: EventStreamQuery,
    grants: Grants,
    start: Option<String>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let (mut tx, mut rx) = socket.split();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING, PING);
    let mut feed = EventFeed::after(store.clone(), start);
    let mut reverse_cursor: Option<String> = None;
    let close: Close = loop {
        let batch = tokio::select! {
            batch = next_batch(&store, &query, &mut feed, &mut reverse_cursor) => batch,
            _ = ping.tick() => {
                if tx.send(Message::ping(Vec::new())).await.is_err() {
                    break None;
                }
                continue;
            }
            incoming = rx.next() => match incoming {
                Some(Ok(m)) if !m.is_close() => continue,
                _ => break None,
            },
            true = crate::shutting_down(&mut shutdown) => {
                break Some(Message::close_with(1000u16, crate::logs::SHUTTING_DOWN));
            }
        };
        let events = match batch {
            Ok(Some(events)) => events,
            Ok(None) => break Some(Message::close_with(1000u16, "end of history")),
            Err(e) => {
                tracing::error!(error = %e, "event stream: reading events failed");
                break Some(Message::close_with(1011u16, "internal error"));
            }
        };
        if send_all(&mut tx, &query, &grants, events).await.is_err() {
            break None;
        }
    };
    if let Some(close) = close {
        let _ = tx.send(close).await;
        let _ = tx.close().await;
    }
}

/// The next batch: forward from the feed (waiting for new events), or, for a reverse replay,
/// the next older batch (`None` once the history is exhausted).
async fn next_batch(
    store: &StoreHandle,
    query: &EventStreamQuery,
    feed: &mut EventFeed,
    reverse_cursor: &mut Option<String>,
) -> crate::store::StoreResult<Option<Vec<Event>>> {
    if !query.reverse {
        return feed.next().await.map(Some);
    }
    let before = reverse_cursor.clone();
    let batch = store
        .read(move |s| s.events_before(before.as_deref(), crate::events::BATCH))
        .await?;
    match batch.last() {
        None => Ok(None),
        Some(last) => {
            *reverse_cursor = Some(last.id.clone());
            Ok(Some(batch))
        }
    }
}

async fn send_all(
    tx: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    query: &EventStreamQuery,
    grants: &Grants,
    events: Vec<Event>,
) -> Result<(), ()> {
    for event in events
        .iter()
        .filter(|e| query.matches(e) && visible(grants, e))
    {
        let text = serde_json::to_string(event).map_err(|_| ())?;
        tx.send(Message::text(text)).await.map_err(|_| ())?;
    }
    Ok(())
}
