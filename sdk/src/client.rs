//! The client and its request plumbing; the endpoint methods live in one module per resource.

use crate::Error;
use crate::TlsOptions;
use gofer_core::api::{API_VERSION, API_VERSION_HEADER, ErrorBody, Page};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long to wait for a TCP connection before reporting the server unreachable.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A Gofer API client. Cheap to clone; clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    pub(crate) token: Option<String>,
    /// For the websockets of `https` servers, which do not go through reqwest.
    pub(crate) tls: Arc<rustls::ClientConfig>,
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8080`, or `https://…`
    /// checked against the system's CA certificates; a path prefix is kept). With a `token`,
    /// every request carries `Authorization: Bearer <token>`.
    pub fn new(base_url: &str, token: Option<String>) -> Result<Client, Error> {
        Client::with_tls(base_url, token, &TlsOptions::default())
    }

    /// [`Client::new`] with TLS options: a CA file to trust, or no certificate check at all.
    pub fn with_tls(
        base_url: &str,
        token: Option<String>,
        tls: &TlsOptions,
    ) -> Result<Client, Error> {
        let invalid = |message: String| Error::InvalidUrl {
            url: base_url.to_string(),
            message,
        };
        let base = Url::parse(base_url).map_err(|e| invalid(e.to_string()))?;
        match base.scheme() {
            "http" | "https" => {}
            other => {
                return Err(invalid(format!(
                    "unsupported scheme '{other}'; use http or https"
                )));
            }
        }
        if base.cannot_be_a_base() || base.host().is_none() {
            return Err(invalid(
                "expected http://host:port or https://host:port".into(),
            ));
        }
        // The system's CA certificates are read only for an https server (a few ms of file I/O).
        let tls_config = Arc::new(match base.scheme() {
            "https" => crate::tls::client_config(tls)?,
            _ => crate::tls::unused_config()?,
        });
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .tls_backend_preconfigured((*tls_config).clone())
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Client {
            http,
            base,
            token,
            tls: tls_config,
        })
    }

    /// The server base URL, as given to [`Client::new`] (normalised).
    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The URL of `segments` below the base; each segment is percent-encoded, so an id that
    /// contains `/` or spaces cannot change the route.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("checked in Client::new: the base URL can be a base");
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    /// A request with the version and authorization headers set.
    pub(crate) fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let mut builder = self
            .http
            .request(method, self.url(segments))
            .header(API_VERSION_HEADER, API_VERSION);
        if let Some(token) = &self.token {
            builder = builder.bearer_auth(token);
        }
        builder
    }

    /// Sends `builder` and turns transport failures and non-2xx answers into [`Error`]s.
    pub(crate) async fn send(&self, builder: RequestBuilder) -> Result<Response, Error> {
        let response = self.send_any(builder).await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(api_error(response).await)
        }
    }

    /// Sends `builder`; any HTTP answer is returned, only transport failures are errors.
    pub(crate) async fn send_any(&self, builder: RequestBuilder) -> Result<Response, Error> {
        let request = builder.build().map_err(|e| Error::InvalidUrl {
            url: self.base_url().to_string(),
            message: e.to_string(),
        })?;
        let (method, path) = (request.method().clone(), request.url().path().to_string());
        let started = Instant::now();
        let result = self.http.execute(request).await;
        match &result {
            Ok(response) => tracing::debug!(
                %method, %path, status = response.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64, "request"
            ),
            Err(error) => tracing::debug!(%method, %path, %error, "request failed"),
        }
        result.map_err(|e| Error::Unreachable {
            url: self.base_url().to_string(),
            message: transport_message(&e),
        })
    }

    /// Sends `builder` and decodes a 2xx JSON body as `T`.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        builder: RequestBuilder,
    ) -> Result<T, Error> {
        let what = describe(&builder);
        let response = self.send(builder).await?;
        decode(response, what).await
    }

    /// Sends `builder` and discards the 2xx body (204 routes).
    /// Sends and answers the body as a stream of chunks, never buffered whole. Errors the server
    /// reports before the body are this call's `Err`; a connection that breaks later is the
    /// stream's last item.
    pub(crate) async fn byte_stream(
        &self,
        builder: RequestBuilder,
    ) -> Result<crate::error::ByteStream, Error> {
        use futures_util::{StreamExt, TryStreamExt};
        let what = describe(&builder);
        let response = self.send(builder).await?;
        Ok(response
            .bytes_stream()
            .map_err(move |e| crate::error::broken(&what, e))
            .boxed())
    }

    pub(crate) async fn empty(&self, builder: RequestBuilder) -> Result<(), Error> {
        self.send(builder).await.map(drop)
    }
}

/// Adds `limit`, `offset` and `reverse` query parameters when a page is given (docs/api.md#common-rules).
pub(crate) fn paged(builder: RequestBuilder, page: Option<Page>) -> RequestBuilder {
    match page {
        None => builder,
        Some(page) => builder.query(&[
            ("limit", page.limit.to_string()),
            ("offset", page.offset.to_string()),
            ("reverse", page.reverse.to_string()),
        ]),
    }
}

/// Decodes a JSON body; failures name the request.
pub(crate) async fn decode<T: DeserializeOwned>(
    response: Response,
    request: String,
) -> Result<T, Error> {
    let bytes = response.bytes().await.map_err(|e| Error::Decode {
        request: request.clone(),
        message: format!("reading the body: {e}"),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
        request,
        message: e.to_string(),
    })
}

/// `GET /api/namespaces`, for messages.
pub(crate) fn describe(builder: &RequestBuilder) -> String {
    match builder.try_clone().and_then(|b| b.build().ok()) {
        Some(request) => format!("{} {}", request.method(), request.url().path()),
        None => "the request".to_string(),
    }
}

/// Builds [`Error::Api`] from a non-2xx answer, falling back gracefully when the body is not the
/// standard `{request_id, message}` JSON.
async fn api_error(response: Response) -> Error {
    let status = response.status();
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => Error::Api {
            status: status.as_u16(),
            message: body.message,
            request_id: body.request_id,
        },
        Err(_) => Error::Api {
            status: status.as_u16(),
            message: fallback_message(status, &text),
            request_id: header_id,
        },
    }
}

fn fallback_message(status: StatusCode, text: &str) -> String {
    let reason = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase();
    let text = text.trim();
    if text.is_empty() {
        format!("http {}: {reason}", status.as_u16())
    } else {
        let short: String = text.chars().take(200).collect();
        format!("http {}: {short}", status.as_u16())
    }
}

/// The innermost cause is usually the useful part ("connection refused").
fn transport_message(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    let message = source.to_string();
    if error.is_timeout() {
        format!("timed out ({message})")
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_prefix_and_encode_segments() {
        let c = Client::new("http://127.0.0.1:8080", None).unwrap();
        assert_eq!(
            c.url(&["api", "namespaces"]).as_str(),
            "http://127.0.0.1:8080/api/namespaces"
        );
        assert_eq!(
            c.url(&["api", "namespaces", "a/b c"]).path(),
            "/api/namespaces/a%2Fb%20c"
        );
        let c = Client::new("http://host:1/prefix/", None).unwrap();
        assert_eq!(
            c.url(&["api", "health"]).as_str(),
            "http://host:1/prefix/api/health"
        );
        assert_eq!(c.base_url(), "http://host:1/prefix");
    }

    #[test]
    fn rejects_unusable_urls() {
        for url in ["not a url", "ftp://host", "mailto:x@y"] {
            assert!(
                matches!(Client::new(url, None), Err(Error::InvalidUrl { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn fallback_messages() {
        assert_eq!(
            fallback_message(StatusCode::BAD_GATEWAY, ""),
            "http 502: bad gateway"
        );
        assert_eq!(
            fallback_message(StatusCode::NOT_FOUND, " nope\n"),
            "http 404: nope"
        );
    }
}

/// Requests against a canned HTTP responder: what the client sends and how it reads answers.
#[cfg(test)]
mod wire_tests {
    use super::*;
    use crate::canned::{respond_once, runtime};
    use std::net::TcpListener;

    #[test]
    fn sends_version_and_bearer_headers_and_page_query() {
        let (url, head) = respond_once(
            "200 OK",
            "content-type: application/json\r\n",
            r#"{"namespaces":[]}"#,
        );
        let client = Client::new(&url, Some("s3cret".into())).unwrap();
        let page = Page {
            limit: 5,
            offset: 10,
            reverse: true,
        };
        let namespaces = runtime()
            .block_on(client.list_namespaces(Some(page)))
            .unwrap();
        assert!(namespaces.is_empty());
        let head = head.recv().unwrap().to_ascii_lowercase();
        assert!(
            head.starts_with("get /api/namespaces?limit=5&offset=10&reverse=true http/1.1"),
            "{head}"
        );
        assert!(head.contains("gofer-api-version: v0\r\n"), "{head}");
        assert!(head.contains("authorization: bearer s3cret\r\n"), "{head}");
    }

    #[test]
    fn no_token_no_authorization_header() {
        let (url, head) = respond_once("204 No Content", "", "");
        let client = Client::new(&url, None).unwrap();
        runtime()
            .block_on(client.delete_namespace("team-a"))
            .unwrap();
        let head = head.recv().unwrap().to_ascii_lowercase();
        assert!(head.starts_with("delete /api/namespaces/team-a "), "{head}");
        assert!(!head.contains("authorization"), "{head}");
    }

    #[test]
    fn error_bodies_decode_and_fall_back() {
        let (url, _) = respond_once(
            "404 Not Found",
            "content-type: application/json\r\n",
            r#"{"request_id":"r-1","message":"namespace 'x' not found"}"#,
        );
        let client = Client::new(&url, None).unwrap();
        let err = runtime().block_on(client.get_namespace("x")).unwrap_err();
        assert!(
            matches!(&err, Error::Api { status: 404, message, request_id } if message == "namespace 'x' not found" && request_id == "r-1"),
            "{err:?}"
        );

        let (url, _) = respond_once(
            "502 Bad Gateway",
            "x-request-id: r-2\r\n",
            "<html></html>\n",
        );
        let client = Client::new(&url, None).unwrap();
        let err = runtime().block_on(client.system()).unwrap_err();
        assert!(
            matches!(&err, Error::Api { status: 502, message, request_id } if message == "http 502: <html></html>" && request_id == "r-2"),
            "{err:?}"
        );
    }

    #[test]
    fn bad_success_bodies_are_decode_errors_and_refused_connections_unreachable() {
        let (url, _) = respond_once("200 OK", "", "[]");
        let client = Client::new(&url, None).unwrap();
        let err = runtime().block_on(client.system_metadata()).unwrap_err();
        assert!(
            matches!(&err, Error::Decode { request, .. } if request == "GET /api/system/metadata"),
            "{err:?}"
        );

        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let url = format!("http://{addr}");
        let client = Client::new(&url, None).unwrap();
        let err = runtime().block_on(client.health()).unwrap_err();
        assert!(
            matches!(&err, Error::Unreachable { url: u, .. } if *u == url),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("cannot reach the Gofer server at {url}: ")),
            "{err}"
        );
    }
}
