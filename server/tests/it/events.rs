//! The event stream `GET /api/events` (docs/logs-and-events.md#the-stream): history, live delivery, filters, reverse
//! replay, errors before the upgrade, slow subscribers and shutdown.

use crate::support::{
    Frame, TestServer, assert_error, frames_until_close, next_frame, within, ws_connect, ws_refused,
};
use gofer_core::api::{Event, EventKind};
use serde_json::json;

/// Every stored event, oldest first, read through the running server's store.
async fn stored(s: &TestServer) -> Vec<Event> {
    s.store()
        .read(|st| st.events_after(None, 100_000))
        .await
        .expect("events")
}

async fn create_namespace(s: &TestServer, id: &str) {
    let (status, body) = s
        .call("POST", "/api/namespaces", Some(json!({"id": id})))
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn register(s: &TestServer, ns: &str, p: &str) {
    let (status, body) = s
        .call(
            "POST",
            &format!("/api/namespaces/{ns}/pipelines/{p}/configs"),
            Some(crate::support::simple_config(p)),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

fn event(frame: Frame) -> Event {
    match frame {
        Frame::Text(t) => serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}: {t}")),
        other => panic!("expected an event frame, got {other:?}"),
    }
}

async fn next_event(ws: &mut crate::support::Ws) -> Event {
    event(next_frame(ws).await)
}

fn namespace_of(e: &Event) -> &str {
    e.kind.scope().0.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_then_live() {
    let (s, _dir) = TestServer::start().await;
    for ns in ["ns-one", "ns-two", "ns-three"] {
        create_namespace(&s, ns).await;
    }
    register(&s, "ns-one", "pipe").await;
    let history = stored(&s).await;
    assert!(history.len() >= 5, "{history:?}");

    let mut ws = ws_connect(&s, "/api/events?history=true").await;
    for want in &history {
        assert_eq!(&next_event(&mut ws).await, want);
    }
    // Then live: the next event is the next one committed.
    create_namespace(&s, "ns-live").await;
    let live = next_event(&mut ws).await;
    assert_eq!(
        live.kind,
        EventKind::CreatedNamespace {
            namespace_id: "ns-live".into()
        }
    );
    assert!(live.id > history.last().unwrap().id);

    // Without history the stream starts after the last event committed before connecting.
    let mut fresh = ws_connect(&s, "/api/events").await;
    create_namespace(&s, "ns-after").await;
    assert_eq!(namespace_of(&next_event(&mut fresh).await), "ns-after");
    assert_eq!(namespace_of(&next_event(&mut ws).await), "ns-after");

    // `after` replays strictly later events, then continues live.
    let all = stored(&s).await;
    let mark = &all[2];
    let mut after = ws_connect(&s, &format!("/api/events?after={}", mark.id)).await;
    for want in &all[3..] {
        assert_eq!(&next_event(&mut after).await, want);
    }
    create_namespace(&s, "ns-end").await;
    assert_eq!(namespace_of(&next_event(&mut after).await), "ns-end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverse_replay_and_filters() {
    let (s, _dir) = TestServer::start().await;
    for ns in ["team-a", "team-b"] {
        create_namespace(&s, ns).await;
        register(&s, ns, "build").await;
        register(&s, ns, "deploy").await;
    }
    let all = stored(&s).await;

    // Reverse: newest first, then close with `end of history`.
    let mut ws = ws_connect(&s, "/api/events?history=true&reverse=true").await;
    let (frames, close) = frames_until_close(&mut ws).await;
    let got: Vec<Event> = frames
        .iter()
        .map(|f| event(Frame::Text(f.clone())))
        .collect();
    let mut want = all.clone();
    want.reverse();
    assert_eq!(got, want);
    assert_eq!(close, (1000, "end of history".to_string()));

    // Filters, checked through finite reverse replays.
    let replay = async |query: &str| -> Vec<Event> {
        let mut ws = ws_connect(
            &s,
            &format!("/api/events?history=true&reverse=true&{query}"),
        )
        .await;
        let (frames, close) = frames_until_close(&mut ws).await;
        assert_eq!(close.1, "end of history");
        let mut events: Vec<Event> = frames
            .iter()
            .map(|f| event(Frame::Text(f.clone())))
            .collect();
        events.reverse();
        events
    };
    let expect = |keep: &dyn Fn(&Event) -> bool| -> Vec<Event> {
        all.iter().filter(|e| keep(e)).cloned().collect()
    };
    let by_kind = replay("kinds=created_pipeline,created_namespace").await;
    assert_eq!(
        by_kind,
        expect(&|e| matches!(
            e.kind,
            EventKind::CreatedPipeline { .. } | EventKind::CreatedNamespace { .. }
        ))
    );
    assert_eq!(
        by_kind.len(),
        2 + 4 + 1,
        "default, team-a, team-b and 4 pipelines"
    );
    let by_ns = replay("namespace_id=team-a").await;
    assert_eq!(by_ns, expect(&|e| e.kind.scope().0 == Some("team-a")));
    assert_eq!(by_ns.len(), 3);
    let by_p = replay("pipeline_id=deploy&kinds=created_pipeline").await;
    assert_eq!(
        by_p.iter().map(namespace_of).collect::<Vec<_>>(),
        ["team-a", "team-b"]
    );
    let both = replay("namespace_id=team-b&pipeline_id=build").await;
    assert_eq!(both.len(), 1);
    assert!(replay("namespace_id=nobody").await.is_empty());

    // Filters apply to the live part too.
    let mut live = ws_connect(&s, "/api/events?namespace_id=team-c").await;
    create_namespace(&s, "team-z").await;
    create_namespace(&s, "team-c").await;
    assert_eq!(namespace_of(&next_event(&mut live).await), "team-c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_errors_come_before_the_upgrade() {
    let (s, _dir) = TestServer::start().await;
    let id = stored(&s).await[0].id.clone();
    for (query, needle) in [
        ("reverse=true", "reverse: requires history=true"),
        (
            "reverse=true&history=false",
            "reverse: requires history=true",
        ),
        (
            &format!("reverse=true&history=true&after={id}"),
            "reverse: cannot be combined with after",
        ),
        (
            "kinds=created_role,exploded_pipeline",
            "kinds: unknown event kind 'exploded_pipeline'",
        ),
        ("kinds=", "kinds: must name at least one event kind"),
        ("history=yes", "history: must be true or false"),
        ("after=42", "after: '42' is not an event id"),
    ] {
        let path = format!("/api/events?{query}");
        assert_error(&ws_refused(&s, &path).await, 400, needle);
        assert_error(&s.call("GET", &path, None).await, 400, needle);
    }
    assert_error(
        &s.call("GET", "/api/events", None).await,
        400,
        "websocket upgrade required",
    );
    assert_error(
        &s.call("GET", "/api/events?history=true", None).await,
        400,
        "websocket upgrade required",
    );
}

/// A subscriber that reads one frame and then stalls while 200 events are committed still gets
/// every one of them, in order, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscriber_misses_nothing() {
    let (s, _dir) = TestServer::start().await;
    let mut ws = ws_connect(&s, "/api/events?kinds=created_namespace").await;
    create_namespace(&s, "burst-000").await;
    let first = next_event(&mut ws).await;
    assert_eq!(namespace_of(&first), "burst-000");

    // The burst, concurrently, while the subscriber reads nothing.
    let names: Vec<String> = (1..200).map(|i| format!("burst-{i:03}")).collect();
    futures_util::future::join_all(names.iter().map(|n| create_namespace(&s, n))).await;

    let mut got = vec![first];
    while got.len() < 200 {
        got.push(next_event(&mut ws).await);
    }
    assert!(
        got.windows(2).all(|w| w[0].id < w[1].id),
        "events out of order or repeated"
    );
    let mut seen: Vec<&str> = got.iter().map(namespace_of).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 200, "every namespace once");
    let want: Vec<Event> = stored(&s)
        .await
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::CreatedNamespace { .. }))
        .skip(1) // `default`, created at boot
        .collect();
    assert_eq!(got, want, "exactly the stored events, in id order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_streams_normally() {
    let (s, _dir) = TestServer::start().await;
    let mut ws = ws_connect(&s, "/api/events").await;
    within("the server to stop", s.stop()).await;
    assert_eq!(
        next_frame(&mut ws).await,
        Frame::Close(1000, "server shutting down".into())
    );
}
