//! Reading logs (docs/logs-and-events.md#reading): a task's log file as a stream of byte chunks, optionally followed
//! until its execution is `complete`, and the two transports every log route shares — a plain
//! chunked body of the raw bytes, or a websocket sending one text frame per line.
//!
//! The reading side never holds a whole log in memory: files are read in [`CHUNK`]-sized pieces
//! by a spawned task that hands them over through a small channel, so a slow client slows the
//! reader down instead of growing a buffer. Dropping a [`LogStream`] stops its reader.
//!
//! Extension logs (docs/logs-and-events.md#reading, last paragraph) reuse the transports: wrap the container's log
//! chunks in [`LogStream::channel`] and pass the stream to [`plain_response`] or [`send_lines`].

use crate::store::StoreHandle;
use bytes::Bytes;
use futures_util::{SinkExt, Stream, StreamExt};
use gofer_core::enums::TaskExecutionState;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use warp::http::HeaderValue;
use warp::reply::{Reply, Response};
use warp::ws::{Message, WebSocket};

/// Largest piece read from a file at once.
pub const CHUNK: usize = 64 * 1024;
/// How often a follower re-reads the file when nothing woke it: appended bytes must reach the
/// client within 1 second (docs/logs-and-events.md#reading).
pub const POLL: Duration = Duration::from_millis(250);
/// Longest text frame: a longer line is sent in pieces of at most this size (cut at a UTF-8
/// character boundary), so one endless line cannot exhaust memory.
pub const MAX_LINE: usize = 1024 * 1024;
/// The close reason of websocket streams ended by server shutdown.
pub const SHUTTING_DOWN: &str = "server shutting down";
/// Chunks buffered between a reader and its client.
const CHANNEL: usize = 4;

/// Which task execution a log belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskKey {
    pub namespace: String,
    pub pipeline: String,
    pub run_id: u64,
    pub task_id: String,
}

/// A log as a stream of byte chunks, in file order. An `Err` item ends the stream.
pub struct LogStream {
    rx: mpsc::Receiver<io::Result<Bytes>>,
}

impl LogStream {
    /// A stream fed by whoever holds the sender; it ends when every sender is dropped.
    pub fn channel() -> (mpsc::Sender<io::Result<Bytes>>, LogStream) {
        let (tx, rx) = mpsc::channel(CHANNEL);
        (tx, LogStream { rx })
    }
}

impl Stream for LogStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// Reads the log of `key` at `path` (docs/logs-and-events.md#reading). Without `follow`: the current content, then the
/// end (a missing file is an empty log). With `follow`: the current content, then bytes as they
/// are appended, ending once the execution is `complete` (or gone, or its logs removed) and every
/// byte written before that has been sent. A file that does not exist yet is waited for.
///
/// The end is decided by the store, not the file: the collector flushes a log before the engine
/// marks its execution complete (docs/logs-and-events.md#where-they-live), so after seeing `complete` one more read to the end of
/// the file yields everything.
pub fn task_log(store: StoreHandle, path: PathBuf, key: TaskKey, follow: bool) -> LogStream {
    let (tx, stream) = LogStream::channel();
    tokio::spawn(async move {
        if let Err(e) = read_task_log(&store, path, &key, follow, &tx).await {
            tracing::warn!(error = %e, run_id = key.run_id, task_id = %key.task_id, "reading a log failed");
            let _ = tx.send(Err(e)).await;
        }
    });
    stream
}

/// Why a reader stopped early: the client went away, or reading failed.
enum Stop {
    Gone,
    Failed(io::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Stop::Failed(e)
    }
}

async fn read_task_log(
    store: &StoreHandle,
    path: PathBuf,
    key: &TaskKey,
    follow: bool,
    tx: &mpsc::Sender<io::Result<Bytes>>,
) -> io::Result<()> {
    let mut file = None;
    let mut changed = store.subscribe();
    let result = async {
        if !follow {
            return drain(&path, &mut file, tx).await;
        }
        loop {
            // Mark the wake-up signal seen before looking at the store, so a write that lands
            // after the look is not missed.
            changed.borrow_and_update();
            drain(&path, &mut file, tx).await?;
            if finished(store, key).await? {
                // Everything the collector wrote is in the file now.
                return drain(&path, &mut file, tx).await;
            }
            tokio::select! {
                woke = changed.changed() => {
                    if woke.is_err() {
                        tokio::time::sleep(POLL).await;
                    }
                }
                () = tokio::time::sleep(POLL) => {}
                () = tx.closed() => return Err(Stop::Gone),
            }
        }
    }
    .await;
    match result {
        Ok(()) | Err(Stop::Gone) => Ok(()),
        Err(Stop::Failed(e)) => Err(e),
    }
}

/// Whether a followed log has ended: its execution is `complete`, its logs were removed, or the
/// execution no longer exists (its pipeline was deleted).
async fn finished(store: &StoreHandle, key: &TaskKey) -> Result<bool, Stop> {
    let k = key.clone();
    let found = store
        .read(move |s| s.get_task_execution(&k.namespace, &k.pipeline, k.run_id, &k.task_id))
        .await;
    match found {
        Ok(execution) => {
            Ok(execution.state == TaskExecutionState::Complete || execution.logs_removed)
        }
        Err(crate::store::StoreError::NotFound(_)) => Ok(true),
        Err(e) => Err(Stop::Failed(io::Error::other(e))),
    }
}

/// Sends everything from the current position to the end of the file; opens the file first if
/// it exists by now.
async fn drain(
    path: &PathBuf,
    file: &mut Option<tokio::fs::File>,
    tx: &mpsc::Sender<io::Result<Bytes>>,
) -> Result<(), Stop> {
    if file.is_none() {
        match tokio::fs::File::open(path).await {
            Ok(f) => *file = Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    let Some(f) = file.as_mut() else {
        return Ok(());
    };
    loop {
        let mut buf = bytes::BytesMut::with_capacity(CHUNK);
        if f.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
        tx.send(Ok(buf.freeze())).await.map_err(|_| Stop::Gone)?;
    }
}

/// The plain transport: `200`, `text/plain; charset=utf-8`, the raw bytes in chunked transfer.
/// A read error aborts the body, so the client sees a truncated transfer rather than a short log.
pub fn plain_response(stream: LogStream) -> Response {
    let mut res = warp::reply::stream(stream).into_response();
    res.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// The websocket transport: one text frame per line including its newline (invalid UTF-8
/// replaced with U+FFFD), the final partial line when the log ends, then close 1000 with reason
/// `end of logs`. A read error closes with 1011; server shutdown (`shutdown` turning true) with
/// 1000 `server shutting down`. Stops quietly when the client goes away.
pub async fn send_lines(
    ws: WebSocket,
    mut stream: LogStream,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let (mut tx, mut rx) = ws.split();
    let mut lines = Lines::default();
    let close = loop {
        let chunk = tokio::select! {
            chunk = stream.next() => chunk,
            incoming = rx.next() => match incoming {
                Some(Ok(m)) if !m.is_close() => continue,
                _ => return,
            },
            true = crate::shutting_down(&mut shutdown) => {
                break Message::close_with(1000u16, SHUTTING_DOWN);
            }
        };
        let frames = match chunk {
            Some(Ok(bytes)) => lines.push(&bytes),
            Some(Err(_)) => break Message::close_with(1011u16, "internal error"),
            None => {
                if let Some(last) = lines.finish()
                    && tx.send(Message::text(last)).await.is_err()
                {
                    return;
                }
                break Message::close_with(1000u16, "end of logs");
            }
        };
        for frame in frames {
            if tx.send(Message::text(frame)).await.is_err() {
                return;
            }
        }
    };
    let _ = tx.send(close).await;
    let _ = tx.close().await;
}

/// Splits a byte stream into lines for websocket frames.
#[derive(Debug, Default)]
pub struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// Adds bytes; returns every line completed by them, each with its `\n`.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|b| *b == b'\n') {
            self.pending.extend_from_slice(&rest[..=at]);
            out.push(String::from_utf8_lossy(&self.pending).into_owned());
            self.pending.clear();
            rest = &rest[at + 1..];
        }
        self.pending.extend_from_slice(rest);
        while self.pending.len() > MAX_LINE {
            let cut = char_boundary(&self.pending, MAX_LINE);
            let piece: Vec<u8> = self.pending.drain(..cut).collect();
            out.push(String::from_utf8_lossy(&piece).into_owned());
        }
        out
    }

    /// The final partial line, if any.
    pub fn finish(&mut self) -> Option<String> {
        if self.pending.is_empty() {
            return None;
        }
        let last = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        Some(last)
    }
}

/// A cut position at or just before `at` that does not split a UTF-8 sequence (continuation
/// bytes are `0b10xx_xxxx`); invalid input is cut at `at`.
fn char_boundary(bytes: &[u8], at: usize) -> usize {
    (at.saturating_sub(3)..=at)
        .rev()
        .find(|&i| bytes.get(i).is_none_or(|b| b & 0xC0 != 0x80))
        .filter(|&i| i > 0)
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_newlines_and_join_across_chunks() {
        let mut l = Lines::default();
        assert_eq!(l.push(b"ab"), Vec::<String>::new());
        assert_eq!(l.push(b"c\nd\n\ne"), vec!["abc\n", "d\n", "\n"]);
        assert_eq!(l.push(b"f"), Vec::<String>::new());
        assert_eq!(l.finish().as_deref(), Some("ef"));
        assert_eq!(l.finish(), None);
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let mut l = Lines::default();
        // A multi-byte character split across chunks stays whole.
        assert_eq!(l.push(b"\xe2\x82"), Vec::<String>::new());
        assert_eq!(l.push(b"\xac \xff\n"), vec!["€ \u{fffd}\n"]);
    }

    #[test]
    fn endless_lines_are_cut_at_character_boundaries() {
        let mut l = Lines::default();
        let mut long = vec![b'a'; MAX_LINE - 1];
        long.extend_from_slice("€€".as_bytes());
        let frames = l.push(&long);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].len(), MAX_LINE - 1);
        assert!(!frames[0].contains('\u{fffd}'));
        assert_eq!(l.finish().as_deref(), Some("€€"));
    }
}
