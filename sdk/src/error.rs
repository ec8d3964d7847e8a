//! The one error type of the SDK.

/// Why a request failed. Messages are lowercase fragments.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-2xx status. `message` and `request_id` come from the error
    /// body `{request_id, message}` (docs/api.md#common-rules); when the body is not that JSON, `message` is the
    /// body text (or the status reason when empty) and `request_id` the `x-request-id` header, if any.
    #[error("{message}")]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The server's explanation.
        message: String,
        /// The id the server logged the request under (`""` when unknown).
        request_id: String,
    },
    /// No HTTP answer at all: connection refused, DNS failure, timeout, reset.
    #[error("cannot reach the Gofer server at {url}: {message}")]
    Unreachable {
        /// The server base URL the client was built with.
        url: String,
        /// What the transport reported.
        message: String,
    },
    /// The server answered 2xx but the body is not what the API promises.
    #[error("invalid response to {request}: {message}")]
    Decode {
        /// Method and path of the request, e.g. `GET /api/namespaces`.
        request: String,
        /// What did not decode.
        message: String,
    },
    /// A streaming response (logs, events, attach) broke off after it had started.
    #[error("the stream of {request} broke off: {message}")]
    Stream {
        /// Method and path of the request.
        request: String,
        /// What the transport reported.
        message: String,
    },
    /// The TLS settings cannot be used (an unreadable or invalid CA file).
    #[error("tls: {message}")]
    Tls {
        /// What is wrong, starting with the setting (`tls_ca_cert: ...`).
        message: String,
    },
    /// The base URL given to [`crate::Client::new`] cannot be used.
    #[error("invalid server url '{url}': {message}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it cannot be used.
        message: String,
    },
}

impl Error {
    /// The HTTP status of an [`Error::Api`], `None` for the other variants.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A stream of raw bytes: log output or the output of an attached process.
pub type ByteStream = futures_util::stream::BoxStream<'static, Result<bytes::Bytes, Error>>;

/// A transport failure in the middle of a stream.
pub(crate) fn broken(request: &str, error: impl std::fmt::Display) -> Error {
    Error::Stream {
        request: request.to_string(),
        message: error.to_string(),
    }
}
