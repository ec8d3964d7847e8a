//! Events (docs/logs-and-events.md#the-stream, docs/api.md#events): the websocket stream and single events.

use crate::ws::payloads;
use crate::{Client, Error};
use futures_util::stream::{BoxStream, StreamExt};
use gofer_core::api::{Event, EventResponse};
use reqwest::{Method, Url};

/// A stream of events, in the order the server sends them.
pub type EventStream = BoxStream<'static, Result<Event, Error>>;

/// Which events [`Client::events`] asks for: the query parameters of `GET /api/events`
/// (docs/logs-and-events.md#the-stream). The default is "live events only, every kind, everywhere".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Replay stored events first, then continue live.
    pub history: bool,
    /// With `history`: replay newest → oldest, then the server closes (no live part).
    pub reverse: bool,
    /// Replay events with an id strictly greater than this one, then continue live.
    pub after: Option<String>,
    /// Only these kinds (wire names such as `completed_run`); empty means every kind.
    pub kinds: Vec<String>,
    /// Only events whose payload names this namespace.
    pub namespace_id: Option<String>,
    /// Only events whose payload names this pipeline.
    pub pipeline_id: Option<String>,
}

impl EventFilter {
    /// Sets the query of `url`; parameters at their default are left out.
    fn apply(&self, url: &mut Url) {
        let mut query = url.query_pairs_mut();
        if self.history {
            query.append_pair("history", "true");
        }
        if self.reverse {
            query.append_pair("reverse", "true");
        }
        if let Some(after) = &self.after {
            query.append_pair("after", after);
        }
        if !self.kinds.is_empty() {
            query.append_pair("kinds", &self.kinds.join(","));
        }
        if let Some(ns) = &self.namespace_id {
            query.append_pair("namespace_id", ns);
        }
        if let Some(p) = &self.pipeline_id {
            query.append_pair("pipeline_id", p);
        }
        drop(query);
        if url.query() == Some("") {
            url.set_query(None);
        }
    }
}

impl Client {
    /// `GET /api/events` over a websocket (docs/logs-and-events.md#the-stream): one [`Event`] per text frame. The stream
    /// ends when the server closes it (end of a reverse replay, or shutdown); the live part
    /// otherwise never ends on its own. Invalid filters (unknown kind, `reverse` without
    /// `history`) are refused before the upgrade, as [`Error::Api`] 400.
    pub async fn events(&self, filter: &EventFilter) -> Result<EventStream, Error> {
        let mut url = self.url(&["api", "events"]);
        filter.apply(&mut url);
        let request = format!("GET {}", url.path());
        let socket = self.websocket(url).await?;
        Ok(payloads(socket, request.clone())
            .map(move |frame| {
                let bytes = frame?;
                serde_json::from_slice::<Event>(&bytes).map_err(|e| Error::Decode {
                    request: request.clone(),
                    message: e.to_string(),
                })
            })
            .boxed())
    }

    /// `GET /api/events/{id}`.
    pub async fn get_event(&self, id: &str) -> Result<Event, Error> {
        let response: EventResponse = self
            .json(self.request(Method::GET, &["api", "events", id]))
            .await?;
        Ok(response.event)
    }

    /// `DELETE /api/events/{id}`.
    pub async fn delete_event(&self, id: &str) -> Result<(), Error> {
        self.empty(self.request(Method::DELETE, &["api", "events", id]))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canned::{respond_with, runtime, websocket_once};
    use futures_util::TryStreamExt;
    use gofer_core::api::EventKind;
    use tokio_tungstenite::tungstenite::Message;

    fn event_frame(id: &str, run_id: u64) -> Message {
        Message::text(format!(
            r#"{{"id":"{id}","kind":{{"queued_run":{{"namespace_id":"default","pipeline_id":"simple","run_id":{run_id}}}}},"emitted":1}}"#
        ))
    }

    #[test]
    fn filters_become_the_query() {
        let client = Client::new("http://h:1", None).unwrap();
        let url = |filter: EventFilter| {
            let mut url = client.url(&["api", "events"]);
            filter.apply(&mut url);
            url.to_string()
        };
        assert_eq!(url(EventFilter::default()), "http://h:1/api/events");
        assert_eq!(
            url(EventFilter {
                history: true,
                reverse: true,
                after: Some("e 1".into()),
                kinds: vec!["queued_run".into(), "completed_run".into()],
                namespace_id: Some("default".into()),
                pipeline_id: Some("simple".into()),
            }),
            "http://h:1/api/events?history=true&reverse=true&after=e+1&kinds=queued_run%2Ccompleted_run&namespace_id=default&pipeline_id=simple"
        );
    }

    #[test]
    fn streams_events_until_the_server_closes() {
        let frames = vec![
            event_frame("e-1", 1),
            Message::Ping(Default::default()),
            event_frame("e-2", 2),
        ];
        let (url, head, _) = websocket_once(frames, false, "end of history");
        let client = Client::new(&url, Some("t".into())).unwrap();
        let filter = EventFilter {
            history: true,
            reverse: true,
            kinds: vec!["queued_run".into()],
            ..EventFilter::default()
        };
        let events: Vec<Event> = runtime()
            .block_on(async { client.events(&filter).await?.try_collect().await })
            .unwrap();
        let head = head.recv().unwrap();
        assert!(
            head.starts_with("GET /api/events?history=true&reverse=true&kinds=queued_run\r\n"),
            "{head}"
        );
        assert!(head.contains("gofer-api-version: v0\r\n"), "{head}");
        assert!(head.contains("authorization: Bearer t\r\n"), "{head}");
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].id, "e-2");
        assert!(matches!(
            events[0].kind,
            EventKind::QueuedRun { run_id: 1, .. }
        ));
    }

    #[test]
    fn undecodable_frames_are_decode_errors() {
        let (url, _, _) = websocket_once(vec![Message::text("{}")], false, "");
        let client = Client::new(&url, None).unwrap();
        let first = runtime()
            .block_on(async {
                client
                    .events(&EventFilter::default())
                    .await?
                    .next()
                    .await
                    .unwrap()
            })
            .unwrap_err();
        assert!(
            matches!(&first, Error::Decode { request, .. } if request == "GET /api/events"),
            "{first:?}"
        );
    }

    #[test]
    fn refusals_before_the_upgrade_are_api_errors() {
        let body = r#"{"request_id":"r-1","message":"kinds: unknown event kind 'nope'"}"#;
        let response = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let (url, _) = respond_with(response.into_bytes());
        let client = Client::new(&url, None).unwrap();
        let filter = EventFilter {
            kinds: vec!["nope".into()],
            ..EventFilter::default()
        };
        let err = runtime().block_on(client.events(&filter)).err().unwrap();
        assert!(
            matches!(&err, Error::Api { status: 400, message, request_id }
                if message == "kinds: unknown event kind 'nope'" && request_id == "r-1"),
            "{err:?}"
        );

        // Without a JSON body: the status and the x-request-id header still come through.
        let (url, _) = respond_with(
            b"HTTP/1.1 503 Service Unavailable\r\nx-request-id: r-2\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
        );
        let client = Client::new(&url, None).unwrap();
        let err = runtime()
            .block_on(client.events(&EventFilter::default()))
            .err()
            .unwrap();
        assert!(
            matches!(&err, Error::Api { status: 503, request_id, .. } if request_id == "r-2"),
            "{err:?}"
        );

        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let client = Client::new(&format!("http://{addr}"), None).unwrap();
        let err = runtime()
            .block_on(client.events(&EventFilter::default()))
            .err()
            .unwrap();
        assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    }
}
