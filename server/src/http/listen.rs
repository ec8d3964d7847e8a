//! The accept loop of both listeners (docs/security.md, "Listeners"): HTTP/1.1 over hyper with
//! a deadline for request headers (which also closes idle keep-alive connections and ones that
//! never send a byte), a cap on open connections (further clients wait in the kernel's backlog,
//! costing no descriptor), and graceful shutdown. Body read deadlines are applied where bodies are read
//! ([`super::Cx::body_bytes`], [`timed_body`]).

use futures_util::stream::{BoxStream, StreamExt};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The peer address of a connection, as a request extension (read with `warp::ext`).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a client may take to send a request's headers, and how long an idle
    /// keep-alive connection stays open.
    pub header_read_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

/// Serves `service` (`warp::service(filter)`) on `listener` until `shutdown` resolves, then
/// waits for open requests. With `tls`, every connection first completes a TLS handshake, within
/// the header deadline (docs/deploy.md#tls).
pub async fn serve<S>(
    listener: tokio::net::TcpListener,
    service: S,
    limits: Limits,
    name: &'static str,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    S: tower_service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = warp::reply::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let max = limits
        .max_connections
        .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
    let permits = Arc::new(tokio::sync::Semaphore::new(max));
    // Tells open connections to finish their current request and close.
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned_full = false;
    loop {
        // Take a permit before accepting: at the cap, new clients wait in the backlog.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        if permits.available_permits() == 0 {
            if !warned_full {
                warned_full = true;
                tracing::warn!(
                    listener = name,
                    max_connections = max,
                    "connection limit reached; new clients wait until a connection closes"
                );
            }
        } else if permits.available_permits() > max / 2 {
            warned_full = false;
        }
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors or similar: log, back off, keep serving.
                    tracing::error!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let inner = service.clone();
        let service = hyper::service::service_fn(move |mut req| {
            req.extensions_mut().insert(PeerAddr(peer));
            let mut inner = inner.clone();
            tower_service::Service::call(&mut inner, req)
        });
        let closing = closing_rx.clone();
        let tls = tls.clone();
        let deadline = limits.header_read_timeout;
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, service, deadline, closing, name).await,
                Some(acceptor) => {
                    // A client that never finishes the handshake is dropped like one that never
                    // sends its headers.
                    match tokio::time::timeout(deadline, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, service, deadline, closing, name).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(listener = name, error = %e, "TLS handshake failed");
                        }
                        Err(_) => {
                            tracing::debug!(listener = name, "TLS handshake timed out");
                        }
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    // Every connection holds a permit until it ends (upgraded websockets end theirs on the
    // server's own shutdown signal).
    let _ = permits
        .acquire_many(u32::try_from(max).unwrap_or(u32::MAX))
        .await;
}

/// Serves one connection (plain or TLS) until it ends or the listener closes.
async fn serve_connection<I, S>(
    io: I,
    service: S,
    header_read_timeout: Duration,
    mut closing: tokio::sync::watch::Receiver<bool>,
    name: &'static str,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = warp::reply::Response,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    // hyper's HTTP/1 connection starts its header deadline at once, so a client that never
    // sends a byte is closed too (a protocol-sniffing builder would wait for one forever).
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let connection = builder
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = async { drop(closing.wait_for(|c| *c).await) } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(listener = name, error = %e, "connection ended with an error");
    }
}

/// A request body whose chunks must each arrive within `idle` (a stalled client is cut off).
pub fn timed_body<B>(body: B, idle: Duration) -> BoxStream<'static, Result<bytes::Bytes, String>>
where
    B: futures_util::Stream<Item = Result<bytes::Bytes, String>> + Send + 'static,
{
    // One timer for the whole body, pushed back after every chunk (not one per chunk).
    let state = (Box::pin(body), Box::pin(tokio::time::sleep(idle)));
    futures_util::stream::unfold(Some(state), move |state| async move {
        let (mut body, mut deadline) = state?;
        tokio::select! {
            item = body.next() => {
                let item = item?;
                deadline.as_mut().reset(tokio::time::Instant::now() + idle);
                Some((item, Some((body, deadline))))
            }
            () = deadline.as_mut() => Some((
                Err(format!("the client sent no data for {} s", idle.as_secs())),
                None,
            )),
        }
    })
    .boxed()
}
