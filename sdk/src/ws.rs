//! Websocket plumbing for the streaming routes (docs/logs-and-events.md#the-stream events, docs/api.md#runs-and-task-executions attach): the handshake
//! with the client's headers, and the mapping of a refused upgrade to [`Error::Api`].

use crate::client::CONNECT_TIMEOUT;
use crate::error::broken;
use crate::{Client, Error};
use bytes::Bytes;
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use gofer_core::api::{API_VERSION, API_VERSION_HEADER, ErrorBody};
use reqwest::Url;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite};

/// An open websocket to the server.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

impl Client {
    /// Opens a websocket to `url` (an `http://` URL from [`Client::url`] with its query set),
    /// sending the version and authorization headers. A non-101 answer (the server checks before
    /// it upgrades) becomes [`Error::Api`]; no answer at all [`Error::Unreachable`].
    pub(crate) async fn websocket(&self, mut url: Url) -> Result<Socket, Error> {
        let what = format!("GET {}", url.path());
        url.set_scheme("ws")
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
        let connected =
            tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(request)).await;
        let result = match connected {
            Ok(result) => result,
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
