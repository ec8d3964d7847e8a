//! Websocket plumbing for the streaming routes (docs/logs-and-events.md#the-stream events, docs/api.md#runs-and-task-executions attach): the handshake
//! with the client's headers, and the mapping of a refused upgrade to [`Error::Api`].

use crate::client::CONNECT_TIMEOUT;
use crate::error::broken;
use crate::{Client, Error};
use bytes::Bytes;
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use gofer_core::api::{API_VERSION, API_VERSION_HEADER, ErrorBody};
use reqwest::Url;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{WebSocketStream, tungstenite};

/// An open websocket to the server.
pub(crate) type Socket = WebSocketStream<Transport>;

/// The connection under a websocket: plain TCP, or TLS for `https` servers.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Client {
    /// The TCP connection, and the TLS session over it for `https` servers (checked as the
    /// client's HTTP requests are).
    async fn transport(&self, url: &Url) -> Result<Transport, String> {
        let host = url.host_str().ok_or("the URL has no host")?.to_string();
        let port = url.port_or_known_default().ok_or("the URL has no port")?;
        let tcp = TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        if url.scheme() != "https" {
            return Ok(Transport::Plain(tcp));
        }
        let name = rustls::pki_types::ServerName::try_from(
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
        )
        .map_err(|e| e.to_string())?;
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Transport::Tls(Box::new(tls)))
    }
}

impl Client {
    /// Opens a websocket to `url` (an `http://` URL from [`Client::url`] with its query set),
    /// sending the version and authorization headers. A non-101 answer (the server checks before
    /// it upgrades) becomes [`Error::Api`]; no answer at all [`Error::Unreachable`].
    pub(crate) async fn websocket(&self, mut url: Url) -> Result<Socket, Error> {
        let what = format!("GET {}", url.path());
        let http_url = url.clone();
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .expect("http URLs can always become ws URLs");
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| Error::InvalidUrl {
                url: self.base_url().to_string(),
                message: e.to_string(),
            })?;
        let headers = request.headers_mut();
        headers.insert(API_VERSION_HEADER, HeaderValue::from_static(API_VERSION));
        if let Some(token) = &self.token {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                Error::InvalidUrl {
                    url: self.base_url().to_string(),
                    message: "the token contains characters not allowed in a header".into(),
                }
            })?;
            headers.insert("authorization", value);
        }
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, async {
            let transport =
                self.transport(&http_url)
                    .await
                    .map_err(|message| Error::Unreachable {
                        url: self.base_url().to_string(),
                        message,
                    })?;
            Ok::<_, Error>(tokio_tungstenite::client_async(request, transport).await)
        })
        .await;
        let result = match connected {
            Ok(result) => result?,
            Err(_) => {
                return Err(Error::Unreachable {
                    url: self.base_url().to_string(),
                    message: format!("timed out opening a websocket for {what}"),
                });
            }
        };
        match result {
            Ok((socket, _)) => {
                tracing::debug!(request = %what, "websocket open");
                Ok(socket)
            }
            Err(tungstenite::Error::Http(response)) => {
                tracing::debug!(request = %what, status = response.status().as_u16(), "websocket refused");
                Err(refused(&response))
            }
            Err(error) => {
                tracing::debug!(request = %what, %error, "websocket failed");
                Err(Error::Unreachable {
                    url: self.base_url().to_string(),
                    message: error.to_string(),
                })
            }
        }
    }
}

/// The [`Error::Api`] for an upgrade the server answered with an error status.
fn refused(response: &tungstenite::http::Response<Option<Vec<u8>>>) -> Error {
    let status = response.status().as_u16();
    let body = response.body().as_deref().unwrap_or_default();
    if let Ok(body) = serde_json::from_slice::<ErrorBody>(body) {
        return Error::Api {
            status,
            message: body.message,
            request_id: body.request_id,
        };
    }
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let message = if text.is_empty() {
        format!("http {status}: websocket upgrade refused")
    } else {
        format!(
            "http {status}: {}",
            text.chars().take(200).collect::<String>()
        )
    };
    Error::Api {
        status,
        message,
        request_id,
    }
}

/// The payloads of a websocket's text and binary frames, as bytes. Pings and pongs are skipped
/// (the transport answers pings itself); a close frame or a closed connection ends the stream; a
/// transport failure is the last item, as [`Error::Stream`].
pub(crate) fn payloads<S>(frames: S, request: String) -> BoxStream<'static, Result<Bytes, Error>>
where
    S: Stream<Item = Result<Message, tungstenite::Error>> + Send + Unpin + 'static,
{
    stream::unfold(Some((frames, request)), |state| async move {
        let (mut frames, request) = state?;
        loop {
            match frames.next().await? {
                Ok(Message::Text(text)) => return Some((Ok(text.into()), Some((frames, request)))),
                Ok(Message::Binary(bytes)) => return Some((Ok(bytes), Some((frames, request)))),
                Ok(Message::Close(_)) => return None,
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return None;
                }
                Err(error) => return Some((Err(broken(&request, error)), None)),
            }
        }
    })
    .boxed()
}
