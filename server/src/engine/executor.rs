//! One attempt of one task: start (or reattach to) its container, copy its output to the task's
//! log file, enforce the task timeout, obey stop requests, and report to the dispatcher. Waiting
//! uses the engine's wait API, not a poll (docs/runs.md#attempts).

pub use super::book::{Outcome, Stop};
use super::substitute::Masker;
use super::{Command, RunKey};
use crate::scheduler::{ContainerState, Output, Scheduler, StartRequest};
use futures_util::StreamExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};

/// Everything an attempt needs.
pub struct AttemptSpec {
    pub key: RunKey,
    pub task: String,
    pub attempt: u64,
    pub request: StartRequest,
    pub log_path: PathBuf,
    /// Task timeout in seconds, 0 = none.
    pub timeout_secs: u64,
    /// For a reattached attempt: when its container started (ms), so the timeout keeps its
    /// original start (docs/runs.md#restart-recovery). `None` = start the container now.
    pub reattach_started: Option<u64>,
    /// Byte offset where this attempt's output starts in the log file.
    pub log_offset: u64,
    /// Grace for timeout stops.
    pub stop_timeout: u64,
    /// Secret values to mask in the log (docs/runs.md#variables).
    pub masks: Vec<String>,
}

/// Runs one attempt to its end and reports `AttemptStarted`/`AttemptEnded`.
pub async fn execute(
    spec: AttemptSpec,
    scheduler: Arc<dyn Scheduler>,
    tx: mpsc::UnboundedSender<Command>,
    mut stop: watch::Receiver<Option<Stop>>,
) {
    let name = spec.request.name.clone();
    let (started_at, output) = match spec.reattach_started {
        Some(at) => {
            // Recovery: the log is re-copied from the engine's complete log of this container.
            // Without one (log driver `none`) what was written stays and output is followed
            // from now on: what the task wrote while the server was down is lost
            // (docs/schedulers.md#log-drivers).
            if scheduler.engine_log_readable(&name).await {
                if let Err(e) = truncate(&spec.log_path, spec.log_offset).await {
                    tracing::error!(container = %name, error = %e, "could not truncate the log for reattach");
                }
            } else {
                tracing::warn!(container = %name,
                    "the task's container keeps no engine log (log driver none): its output while the server was down is lost");
            }
            let at = if at == 0 {
                let now = gofer_core::now_millis();
                report_started(&tx, &spec, now);
                now
            } else {
                at
            };
            let output = Output {
                stream: scheduler.logs(&name, true),
                attached: false,
            };
            (at, output)
        }
        None => match scheduler.start_attached(&spec.request).await {
            Ok((_, output)) => {
                let now = gofer_core::now_millis();
                report_started(&tx, &spec, now);
                (now, output)
            }
            Err(e) => {
                report_ended(&tx, &spec, Outcome::StartFailed(e.to_string()));
                return;
            }
        },
    };

    let collector = tokio::spawn(collect_logs(
        scheduler.clone(),
        name.clone(),
        spec.log_path.clone(),
        output,
        Masker::new(&spec.masks),
    ));

    let timeout = async {
        if spec.timeout_secs == 0 {
            std::future::pending::<()>().await;
        }
        let deadline = started_at.saturating_add(spec.timeout_secs.saturating_mul(1000));
        let left = deadline.saturating_sub(gofer_core::now_millis());
        tokio::time::sleep(Duration::from_millis(left)).await;
    };
    let outcome = tokio::select! {
        state = wait_through_outages(scheduler.as_ref(), &name) => Outcome::Finished(state),
        () = timeout => {
            let state = stop_and_wait(scheduler.as_ref(), &name, spec.stop_timeout).await;
            Outcome::TimedOut { timeout_secs: spec.timeout_secs, state }
        }
        request = async { stop.wait_for(Option::is_some).await.ok().and_then(|r| *r) } => {
            let Some(request) = request else {
                // The dispatcher is gone: the server is stopping. The container is left running
                // (never killed for that), and the next start reattaches to it.
                collector.abort();
                return;
            };
            let state = stop_escalating(scheduler.as_ref(), &name, request.grace_secs, &mut stop).await;
            Outcome::Stopped { kind: request.kind, state }
        }
    };

    // The followed log stream ends when the container stops; give it a bounded time to drain.
    match tokio::time::timeout(Duration::from_secs(30), collector).await {
        Ok(Ok(Ok(bytes))) => tracing::debug!(container = %name, bytes, "log collected"),
        Ok(Ok(Err(e))) => {
            tracing::error!(container = %name, error = %e, "writing the task log failed")
        }
        Ok(Err(e)) => tracing::error!(container = %name, error = %e, "log collector failed"),
        Err(_) => {
            tracing::warn!(container = %name, "log stream did not end 30 s after the container stopped")
        }
    }
    report_ended(&tx, &spec, outcome);
}

async fn stop_and_wait(scheduler: &dyn Scheduler, name: &str, grace_secs: u64) -> ContainerState {
    let mut backoff = Backoff::default();
    loop {
        match scheduler.stop(name, grace_secs).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(container = %name, error = %e, "stopping the container failed; retrying");
                // Retried until the engine answers: a container that ended meanwhile needs no
                // stop, one that still runs must not outlive its cancel or timeout.
                backoff.sleep().await;
                if let Ok(state) = scheduler.state(name).await
                    && state.is_finished()
                {
                    return state;
                }
            }
        }
    }
    wait_through_outages(scheduler, name).await
}

/// [`stop_and_wait`] with `grace_secs`, killing at once when a later request (a forced cancel)
/// asks for no grace.
async fn stop_escalating(
    scheduler: &dyn Scheduler,
    name: &str,
    grace_secs: u64,
    requests: &mut watch::Receiver<Option<Stop>>,
) -> ContainerState {
    let stopping = stop_and_wait(scheduler, name, grace_secs);
    tokio::pin!(stopping);
    let mut listening = grace_secs > 0;
    loop {
        tokio::select! {
            state = &mut stopping => return state,
            changed = requests.changed(), if listening => {
                let kill = changed.is_ok() && requests.borrow().is_some_and(|s| s.grace_secs == 0);
                if changed.is_err() || kill {
                    listening = false;
                }
                if kill && let Err(e) = scheduler.stop(name, 0).await {
                    tracing::warn!(container = %name, error = %e, "killing the container failed");
                }
            }
        }
    }
}

/// Waits for the container to end. A broken engine connection is not a container exit (the
/// container keeps running without us): the wait is retried with backoff and the container
/// re-observed once the engine answers, and only the engine's word that it exited, died or is
/// gone ends the attempt.
async fn wait_through_outages(scheduler: &dyn Scheduler, name: &str) -> ContainerState {
    let mut backoff = Backoff::default();
    loop {
        match scheduler.wait(name).await {
            Ok(state) => return state,
            Err(e) => {
                tracing::warn!(container = %name, error = %e,
                    "lost the container engine while waiting for a container; reconnecting");
            }
        }
        loop {
            backoff.sleep().await;
            match scheduler.state(name).await {
                Ok(state) if state.is_finished() => return state,
                Ok(_) => {
                    tracing::info!(container = %name, "the container engine answers again; still waiting");
                    break;
                }
                Err(_) => {}
            }
        }
    }
}

/// Exponential backoff from 250 ms to 10 s between attempts to reach the engine.
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(Duration::from_millis(250))
    }
}

impl Backoff {
    async fn sleep(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(10));
    }
}

fn report_started(tx: &mpsc::UnboundedSender<Command>, spec: &AttemptSpec, at: u64) {
    let _ = tx.send(Command::AttemptStarted {
        key: spec.key.clone(),
        task: spec.task.clone(),
        attempt: spec.attempt,
        at,
    });
}

fn report_ended(tx: &mpsc::UnboundedSender<Command>, spec: &AttemptSpec, outcome: Outcome) {
    let _ = tx.send(Command::AttemptEnded {
        key: spec.key.clone(),
        task: spec.task.clone(),
        attempt: spec.attempt,
        outcome,
    });
}

async fn truncate(path: &std::path::Path, len: u64) -> std::io::Result<()> {
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .await?;
    file.set_len(len).await
}

/// Appends the container's output (`stream`: attached before start, or the engine's followed
/// log after a reattach) to the task log in arrival order, unprefixed (docs/runs.md#attempts), with secret
/// values masked (docs/runs.md#variables). `total` counts the bytes received.
async fn collect_logs(
    scheduler: Arc<dyn Scheduler>,
    name: String,
    path: PathBuf,
    output: Output,
    mut masker: Masker,
) -> std::io::Result<u64> {
    let (mut stream, mut attached) = (output.stream, output.attached);
    // An attached stream that ends cleanly has delivered everything; nothing to reconcile.
    let mut complete = false;
    let file = tokio::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .await?;
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut total = 0u64;
    // The last bytes written, to reconcile with the engine's tail at the end.
    let mut recent = RecentBytes::default();
    // Buffered bytes are flushed at FLUSH_BYTES or FLUSH_AFTER after the first unflushed byte,
    // so followers see output well within a second (docs/runs.md#attempts) and bursts cost few
    // writes. One timer, armed when the buffer turns non-empty (not one per chunk: at tens of
    // MB/s the per-chunk timer was a measurable share of the server's CPU).
    let flush_timer = tokio::time::sleep(FLUSH_AFTER);
    tokio::pin!(flush_timer);
    loop {
        let next = if out.buffer().is_empty() {
            stream.next().await
        } else {
            tokio::select! {
                biased;
                next = stream.next() => next,
                () = &mut flush_timer => {
                    out.flush().await?;
                    continue;
                }
            }
        };
        match next {
            Some(Ok(bytes)) => {
                total += bytes.len() as u64;
                recent.push(&bytes);
                if out.buffer().is_empty() {
                    flush_timer
                        .as_mut()
                        .reset(tokio::time::Instant::now() + FLUSH_AFTER);
                }
                out.write_all(&masker.push(&bytes)).await?;
                if out.buffer().len() >= FLUSH_BYTES {
                    out.flush().await?;
                }
            }
            Some(Err(e))
                if !scheduler.engine_log_readable(&name).await
                    && matches!(scheduler.state(&name).await, Ok(state) if state.is_finished()) =>
            {
                // No engine log to replay and the container has stopped: nothing more will
                // come, and reading again would fail the same way.
                tracing::warn!(container = %name, error = %e, "reading the output of a stopped container failed");
                break;
            }
            Some(Err(e)) => {
                // Usually the engine connection broke while the container runs on: follow the
                // engine's log again once it answers, skipping what was already written.
                tracing::warn!(container = %name, error = %e,
                    "log stream broke; following the container's log again once the engine answers");
                match resume_logs(scheduler.as_ref(), &name, total).await {
                    Some(resumed) => {
                        stream = resumed;
                        attached = false;
                        continue;
                    }
                    None => break,
                }
            }
            None if attached && !stream_was_cut(scheduler.as_ref(), &name).await => {
                complete = true;
                break;
            }
            None if attached => {
                // The connection closed under a running container (an engine restart or a
                // dropped socket): follow its log again, skipping what was written.
                tracing::warn!(container = %name,
                    "output stream closed while the container runs; following its log again");
                match resume_logs(scheduler.as_ref(), &name, total).await {
                    Some(resumed) => {
                        stream = resumed;
                        attached = false;
                        continue;
                    }
                    None => break,
                }
            }
            None => break,
        }
    }
    if complete {
        out.write_all(&masker.finish()).await?;
        out.flush().await?;
        out.into_inner().sync_data().await?;
        return Ok(total);
    }
    // Docker can end a followed stream at the container's exit before its logger has delivered
    // the final partial line. Compare the engine's last lines with what was written and append
    // what is missing.
    let mut tail = Vec::new();
    let mut tail_stream = scheduler.logs_tail(&name, TAIL_LINES);
    while let Some(Ok(bytes)) = tail_stream.next().await {
        tail.extend_from_slice(&bytes);
    }
    // `recent` holds the raw (unmasked) output, so it compares with the engine's raw tail; what
    // is missing goes through the masker like everything else.
    let missing = recent.missing_from(&tail);
    if !missing.is_empty() {
        total += missing.len() as u64;
        out.write_all(&masker.push(missing)).await?;
    }
    out.write_all(&masker.finish()).await?;
    out.flush().await?;
    out.into_inner().sync_data().await?;
    Ok(total)
}

/// The container's followed engine log without its first `written` bytes, once the engine
/// answers again (within [`RESUME_MAX`]); `None` when it does not or the container is gone.
async fn resume_logs(
    scheduler: &dyn Scheduler,
    name: &str,
    written: u64,
) -> Option<futures_util::stream::BoxStream<'static, crate::scheduler::SchedulerResult<bytes::Bytes>>>
{
    let give_up = tokio::time::Instant::now() + RESUME_MAX;
    let mut backoff = Backoff::default();
    loop {
        match scheduler.state(name).await {
            Ok(crate::scheduler::ContainerState::NotFound) => return None,
            Ok(_) => break,
            Err(_) if tokio::time::Instant::now() >= give_up => return None,
            Err(_) => backoff.sleep().await,
        }
    }
    // A replayed engine log repeats what was written; attached output (no engine log) does not.
    let mut skip = if scheduler.engine_log_readable(name).await {
        written
    } else {
        0
    };
    let stream = scheduler.logs(name, true).filter_map(move |item| {
        let item = match item {
            Ok(mut bytes) => {
                let len = bytes.len() as u64;
                if skip >= len {
                    skip -= len;
                    None
                } else {
                    let rest = bytes.split_off(usize::try_from(skip).unwrap_or(usize::MAX));
                    skip = 0;
                    Some(Ok(rest))
                }
            }
            Err(e) => Some(Err(e)),
        };
        std::future::ready(item)
    });
    Some(stream.boxed())
}

/// Whether an attached output stream that ended cleanly was cut rather than finished: the
/// container still runs (given the engine's ~40 ms of teardown after the process exits) or the
/// engine does not answer.
async fn stream_was_cut(scheduler: &dyn Scheduler, name: &str) -> bool {
    // Usually the container has exited (one inspect); only while it still looks running is it
    // waited for briefly.
    match scheduler.state(name).await {
        Ok(state) if state.is_finished() => false,
        Ok(_) => !matches!(
            tokio::time::timeout(Duration::from_secs(1), scheduler.wait(name)).await,
            Ok(Ok(_))
        ),
        Err(_) => true,
    }
}

/// Task log writes: at most this much output is held before it is written...
const FLUSH_BYTES: usize = 192 * 1024;
/// ...and at most this long.
const FLUSH_AFTER: Duration = Duration::from_millis(100);

/// How long a broken log stream waits for the engine to answer again.
const RESUME_MAX: Duration = Duration::from_secs(600);

/// Lines of the engine's log tail compared after a followed stream ends.
const TAIL_LINES: u64 = 64;
/// How much of the written output is kept for that comparison.
const RECENT_BYTES: usize = 64 * 1024;

/// The last [`RECENT_BYTES`] bytes written to a log.
#[derive(Default)]
struct RecentBytes(Vec<u8>);

impl RecentBytes {
    fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > 2 * RECENT_BYTES {
            self.0.drain(..self.0.len() - RECENT_BYTES);
        }
    }

    /// The part of `tail` (the engine's last lines) that was not written yet: the longest prefix
    /// of `tail` that ends what was written is already there; the rest is missing. With no
    /// overlap at all, nothing is appended (the tail may predate what was kept).
    fn missing_from<'t>(&self, tail: &'t [u8]) -> &'t [u8] {
        let written = &self.0;
        for k in (1..=tail.len().min(written.len())).rev() {
            if written.ends_with(&tail[..k]) {
                return &tail[k..];
            }
        }
        if written.is_empty() { tail } else { &[] }
    }
}

#[cfg(test)]
mod tests {
    use super::RecentBytes;

    fn recent(s: &str) -> RecentBytes {
        let mut r = RecentBytes::default();
        r.push(s.as_bytes());
        r
    }

    #[test]
    fn reconciles_a_missing_final_partial_line() {
        let r = recent("out line\nerr line\n");
        assert_eq!(
            r.missing_from(b"out line\nerr line\nno newline"),
            b"no newline"
        );
        assert_eq!(r.missing_from(b"err line\n"), b"");
        assert_eq!(recent("a\nhal").missing_from(b"a\nhalf"), b"f");
        assert_eq!(recent("").missing_from(b"only\n"), b"only\n");
        assert_eq!(recent("x\n").missing_from(b""), b"");
    }
}
