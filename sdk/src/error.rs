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
    /// No HTTP answer at all: connection refused, DNS failure, timeout, reset, or a server
    /// certificate the client does not trust (then the message says how to trust it, see
    /// [`Error::is_untrusted_certificate`]).
    #[error("{}", unreachable_text(url, message))]
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

/// The text of [`Error::Unreachable`]. Every client (the CLI, the console, SDK users) shows it as
/// is, so an untrusted certificate names the settings that fix it.
fn unreachable_text(url: &str, message: &str) -> String {
    if message_is_about_certificate(message) {
        format!(
            "the TLS certificate of the Gofer server at {url} is not trusted ({message}); trust \
             its CA with --tls-ca-cert <file> (or GOFER_TLS_CA_CERT, or tls_ca_cert in the CLI \
             config; TlsOptions::ca_cert in the SDK), or, for a test server only, \
             --insecure-skip-tls-verify"
        )
    } else {
        format!("cannot reach the Gofer server at {url}: {message}")
    }
}

fn message_is_about_certificate(message: &str) -> bool {
    message.to_lowercase().contains("certificate")
}

impl Error {
    /// Whether this is an [`Error::Unreachable`] because the server's TLS certificate is not
    /// trusted (unknown issuer, wrong name, expired): the server did answer.
    pub fn is_untrusted_certificate(&self) -> bool {
        matches!(self, Error::Unreachable { message, .. } if message_is_about_certificate(message))
    }

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

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn an_untrusted_certificate_names_the_settings_that_trust_it() {
        let untrusted = Error::Unreachable {
            url: "https://gofer.internal:8080".into(),
            message: "invalid peer certificate: UnknownIssuer".into(),
        };
        assert!(untrusted.is_untrusted_certificate());
        let text = untrusted.to_string();
        for part in [
            "https://gofer.internal:8080",
            "is not trusted",
            "UnknownIssuer",
            "--tls-ca-cert",
            "GOFER_TLS_CA_CERT",
            "--insecure-skip-tls-verify",
        ] {
            assert!(text.contains(part), "{part:?} missing from {text:?}");
        }

        let refused = Error::Unreachable {
            url: "http://127.0.0.1:8080".into(),
            message: "connection refused".into(),
        };
        assert!(!refused.is_untrusted_certificate());
        assert_eq!(
            refused.to_string(),
            "cannot reach the Gofer server at http://127.0.0.1:8080: connection refused"
        );
    }
}
