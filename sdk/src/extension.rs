//! Serving an extension (feature `extension`): the extension REST API the Gofer server calls —
//! bearer auth with `GOFER_EXTENSION_SYSTEM_SECRET` on every route but health, `{message,
//! request_id}` error bodies, `GET /api/info` and `/api/debug`, `POST`/`DELETE /api/subscribe`,
//! `POST /api/external-event`, and a graceful `POST /api/shutdown` (or SIGTERM). An extension
//! written in Rust implements [`Extension`] and calls [`serve`] with the [`SystemEnv`] the server
//! passed to its container; it starts runs with a [`crate::Client`] on
//! [`SystemEnv::api_base_url`] and the secret as its token. Gofer's built-in extensions
//! (interval, cron, github) are written this way.

// An extension container's stdout is its log (`gofer extension logs`).
#![allow(clippy::print_stdout)]

use gofer_core::api::{
    ExtensionDebugResponse, ExtensionDocumentation, ExtensionInfoResponse,
    ExtensionSubscribeRequest, ExtensionUnsubscribeRequest,
};
use std::net::SocketAddr;
use std::sync::Arc;
use warp::Filter;
use warp::http::StatusCode;

/// Which subscription a request is about: the subscribing pipeline and the subscription's id.
/// The key an extension keeps its subscriptions under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriptionKey {
    pub namespace: String,
    pub pipeline: String,
    pub subscription: String,
}

impl SubscriptionKey {
    /// The subscription a subscribe request delivers.
    pub fn of(request: &ExtensionSubscribeRequest) -> SubscriptionKey {
        SubscriptionKey {
            namespace: request.namespace_id.clone(),
            pipeline: request.pipeline_id.clone(),
            subscription: request.pipeline_subscription_id.clone(),
        }
    }

    /// The subscription an unsubscribe request ends.
    pub fn of_unsubscribe(request: &ExtensionUnsubscribeRequest) -> SubscriptionKey {
        SubscriptionKey {
            namespace: request.namespace_id.clone(),
            pipeline: request.pipeline_id.clone(),
            subscription: request.pipeline_subscription_id.clone(),
        }
    }
}

impl std::fmt::Display for SubscriptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.namespace, self.pipeline, self.subscription
        )
    }
}

/// How long in-flight requests get to finish once the extension is told to stop.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// What the server passes to every extension container (docs/extensions.md#launch).
#[derive(Debug, Clone)]
pub struct SystemEnv {
    pub id: String,
    pub secret: String,
    /// `host:port` of the Gofer API, no scheme.
    pub gofer_host: String,
    pub bind_address: SocketAddr,
    /// Whether the extension serves HTTPS (`GOFER_EXTENSION_SYSTEM_USE_TLS`), with this
    /// certificate chain and key (PEM text of `…_TLS_CERT` and `…_TLS_KEY`).
    pub use_tls: bool,
    pub tls_cert: String,
    pub tls_key: String,
    /// Whether the Gofer API serves HTTPS (`GOFER_EXTENSION_SYSTEM_GOFER_USE_TLS`), and the
    /// PEM text whose first certificate is the one it presents (`…_GOFER_CERT`; empty: check
    /// it against the system's CAs).
    pub gofer_use_tls: bool,
    pub gofer_cert: String,
}

impl SystemEnv {
    /// Reads the `GOFER_EXTENSION_SYSTEM_*` variables; the error names the variable.
    pub fn from_env() -> Result<SystemEnv, String> {
        let var = |key: &str| std::env::var(format!("GOFER_EXTENSION_SYSTEM_{key}")).ok();
        let required = |key: &str| {
            var(key)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("GOFER_EXTENSION_SYSTEM_{key} is not set (the Gofer server sets it when it starts an extension)"))
        };
        let flag = |key: &str| var(key).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let use_tls = flag("USE_TLS");
        let (tls_cert, tls_key) = if use_tls {
            (required("TLS_CERT")?, required("TLS_KEY")?)
        } else {
            (String::new(), String::new())
        };
        let gofer_use_tls = flag("GOFER_USE_TLS");
        let bind = var("BIND_ADDRESS")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "0.0.0.0:8082".to_owned());
        Ok(SystemEnv {
            id: required("ID")?,
            secret: required("SECRET")?,
            gofer_host: required("GOFER_HOST")?,
            bind_address: bind.parse().map_err(|e| {
                format!("GOFER_EXTENSION_SYSTEM_BIND_ADDRESS: '{bind}' is not host:port ({e})")
            })?,
            use_tls,
            tls_cert,
            tls_key,
            gofer_use_tls,
            gofer_cert: if gofer_use_tls {
                var("GOFER_CERT").unwrap_or_default()
            } else {
                String::new()
            },
        })
    }

    /// The Gofer API base URL the extension calls.
    pub fn api_base_url(&self) -> String {
        let scheme = if self.gofer_use_tls { "https" } else { "http" };
        format!("{scheme}://{}", self.gofer_host)
    }

    /// A client of the Gofer API acting as this extension (its secret is the token), checking
    /// an HTTPS API's certificate as the server asked.
    pub fn client(&self) -> Result<crate::Client, String> {
        let tls = crate::TlsOptions {
            pinned_cert: (!self.gofer_cert.is_empty()).then(|| self.gofer_cert.clone()),
            ..crate::TlsOptions::default()
        };
        crate::Client::with_tls(&self.api_base_url(), Some(self.secret.clone()), &tls).map_err(
            |e| {
                format!("GOFER_EXTENSION_SYSTEM_GOFER_HOST, GOFER_EXTENSION_SYSTEM_GOFER_CERT: {e}")
            },
        )
    }

    /// The TLS acceptor of the extension's listener, when it serves HTTPS.
    fn acceptor(&self) -> Result<Option<tokio_rustls::TlsAcceptor>, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        if !self.use_tls {
            return Ok(None);
        }
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.tls_cert.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("GOFER_EXTENSION_SYSTEM_TLS_CERT: not PEM text: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(self.tls_key.as_bytes())
            .map_err(|e| format!("GOFER_EXTENSION_SYSTEM_TLS_KEY: no PEM private key: {e}"))?;
        let mut config = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| {
                format!("GOFER_EXTENSION_SYSTEM_TLS_CERT, GOFER_EXTENSION_SYSTEM_TLS_KEY: {e}")
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }
}

/// A setting of the extension: `GOFER_EXTENSION_CONFIG_<KEY>`, then `<KEY>` (docs/extensions.md#the-built-in-extensions).
pub fn setting(key: &str) -> Option<String> {
    std::env::var(format!("GOFER_EXTENSION_CONFIG_{}", key.to_uppercase()))
        .ok()
        .or_else(|| std::env::var(key).ok())
        .filter(|v| !v.is_empty())
}

/// The behaviour of one extension; [`serve`] supplies the HTTP side.
pub trait Extension: Send + Sync + 'static {
    fn documentation(&self) -> ExtensionDocumentation;
    /// `GET /api/debug`: a JSON (or plain) text for operators.
    fn debug(&self) -> String;
    /// `POST /api/subscribe`: replaces any subscription with the same key. `Err` is a 400 whose
    /// message names the parameter.
    fn subscribe(&self, request: ExtensionSubscribeRequest) -> Result<(), String>;
    /// `DELETE /api/subscribe`: an unknown subscription is not an error.
    fn unsubscribe(&self, request: ExtensionUnsubscribeRequest);
    /// `POST /api/schedule`: the instants the subscription is scheduled for in a range, for a
    /// backfill (docs/extensions.md#backfilling-a-schedule). `Err((status, message))` is
    /// answered as is; an extension without a schedule answers 404.
    fn schedule(
        &self,
        _request: gofer_core::api::ExtensionScheduleRequest,
    ) -> Result<Vec<gofer_core::api::ScheduledInstant>, (u16, String)> {
        Err((404, "this extension has no schedule to backfill".to_owned()))
    }
    /// `POST /api/external-event`: `Err((status, message))` is answered as is.
    fn external_event(
        &self,
        _headers: Vec<(String, String)>,
        _body: Vec<u8>,
    ) -> Result<(), (u16, String)> {
        Err((400, "this extension takes no external events".to_owned()))
    }
}

#[derive(serde::Serialize)]
struct ErrorBody {
    message: String,
    request_id: String,
}

fn error(status: StatusCode, message: impl Into<String>) -> warp::reply::Response {
    use rand::Rng;
    let request_id = format!("{:032x}", rand::rng().random::<u128>());
    let body = ErrorBody {
        message: message.into(),
        request_id,
    };
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

use warp::Reply;

fn no_content() -> warp::reply::Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Serves the extension REST API on `env.bind_address` until `POST /api/shutdown` or SIGTERM.
pub async fn serve(env: SystemEnv, extension: Arc<dyn Extension>) -> Result<(), String> {
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let expected = format!("Bearer {}", env.secret);
    let authorized = warp::header::optional::<String>("authorization").and_then(
        move |header: Option<String>| {
            let ok = header.as_deref() == Some(expected.as_str());
            async move {
                if ok {
                    Ok(())
                } else {
                    Err(warp::reject::custom(Unauthorized))
                }
            }
        },
    );
    let authorized = authorized.untuple_one();
    let ext = warp::any().map(move || extension.clone());

    let health = warp::path!("api" / "health")
        .and(warp::get())
        .map(no_content);
    let info_id = env.id.clone();
    let info = warp::path!("api" / "info")
        .and(warp::get())
        .and(authorized.clone())
        .and(ext.clone())
        .map(move |e: Arc<dyn Extension>| {
            warp::reply::json(&ExtensionInfoResponse {
                extension_id: info_id.clone(),
                documentation: e.documentation(),
            })
            .into_response()
        });
    let debug = warp::path!("api" / "debug")
        .and(warp::get())
        .and(authorized.clone())
        .and(ext.clone())
        .map(|e: Arc<dyn Extension>| {
            warp::reply::json(&ExtensionDebugResponse { info: e.debug() }).into_response()
        });
    let subscribe = warp::path!("api" / "subscribe")
        .and(warp::post())
        .and(authorized.clone())
        .and(ext.clone())
        .and(warp::body::bytes())
        .map(|e: Arc<dyn Extension>, body: bytes::Bytes| {
            match serde_json::from_slice::<ExtensionSubscribeRequest>(&body) {
                Ok(request) => match e.subscribe(request) {
                    Ok(()) => no_content(),
                    Err(message) => error(StatusCode::BAD_REQUEST, message),
                },
                Err(e) => error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid subscription: {e}"),
                ),
            }
        });
    let unsubscribe = warp::path!("api" / "subscribe")
        .and(warp::delete())
        .and(authorized.clone())
        .and(ext.clone())
        .and(warp::body::bytes())
        .map(|e: Arc<dyn Extension>, body: bytes::Bytes| {
            match serde_json::from_slice::<ExtensionUnsubscribeRequest>(&body) {
                Ok(request) => {
                    e.unsubscribe(request);
                    no_content()
                }
                Err(e) => error(StatusCode::BAD_REQUEST, format!("invalid request: {e}")),
            }
        });
    let external = warp::path!("api" / "external-event")
        .and(warp::post())
        .and(authorized.clone())
        .and(ext.clone())
        .and(warp::body::bytes())
        .map(|e: Arc<dyn Extension>, body: bytes::Bytes| {
            match serde_json::from_slice::<gofer_core::api::ExtensionExternalEventRequest>(&body) {
                Ok(request) => {
                    let headers = request.headers.0;
                    match e.external_event(headers, request.body) {
                        Ok(()) => no_content(),
                        Err((status, message)) => error(
                            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                            message,
                        ),
                    }
                }
                Err(e) => error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid external event: {e}"),
                ),
            }
        });
    let schedule = warp::path!("api" / "schedule")
        .and(warp::post())
        .and(authorized.clone())
        .and(ext.clone())
        .and(warp::body::bytes())
        .map(|e: Arc<dyn Extension>, body: bytes::Bytes| {
            match serde_json::from_slice::<gofer_core::api::ExtensionScheduleRequest>(&body) {
                Ok(request) => match e.schedule(request) {
                    Ok(instants) => {
                        warp::reply::json(&gofer_core::api::ExtensionScheduleResponse { instants })
                            .into_response()
                    }
                    Err((status, message)) => error(
                        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                        message,
                    ),
                },
                Err(e) => error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid schedule request: {e}"),
                ),
            }
        });
    let shutdown = warp::path!("api" / "shutdown")
        .and(warp::post())
        .and(authorized)
        .map(move || {
            let _ = stop_tx.send(true);
            no_content()
        });
    let routes = health
        .or(info)
        .unify()
        .or(debug)
        .unify()
        .or(subscribe)
        .unify()
        .or(unsubscribe)
        .unify()
        .or(external)
        .unify()
        .or(schedule)
        .unify()
        .or(shutdown)
        .unify()
        .recover(recover);

    let tls = env.acceptor()?;
    let listener = tokio::net::TcpListener::bind(env.bind_address)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", env.bind_address))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!(
        "extension {} listening on {} ({scheme})",
        env.id, env.bind_address
    );
    // Shutdown: on `POST /api/shutdown`, SIGTERM or ctrl-c. In-flight requests get
    // `SHUTDOWN_GRACE` to finish; idle keep-alive connections (the server's client pools them)
    // must not hold the process open until they time out.
    let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
    // Registered before serving: as PID 1 of its container the extension ignores SIGTERM
    // until it has a handler.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let stop_signal = async move {
        tokio::select! {
            _ = stop_rx.wait_for(|stop| *stop) => {}
            _ = async {
                match term.as_mut() {
                    Some(t) => { t.recv().await; }
                    None => std::future::pending().await,
                }
            } => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        println!("extension shutting down");
        let _ = stopping_tx.send(true);
    };
    let server = accept_loop(listener, warp::service(routes), tls, stop_signal);
    tokio::select! {
        () = server => {}
        () = async {
            let _ = stopping_rx.wait_for(|s| *s).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {}
    }
    Ok(())
}

/// How long a client (the Gofer server) may take to complete a TLS handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves HTTP/1.1 (over TLS with `tls`) until `stop` resolves, then lets open connections finish
/// the request they are on.
async fn accept_loop<S>(
    listener: tokio::net::TcpListener,
    service: S,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: impl std::future::Future<Output = ()>,
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
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    println!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let inner = service.clone();
        let service = hyper::service::service_fn(move |request| {
            let mut inner = inner.clone();
            tower_service::Service::call(&mut inner, request)
        });
        let closing = closing_rx.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            match tls {
                None => connection(stream, service, closing).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => connection(stream, service, closing).await,
                        Ok(Err(e)) => println!("TLS handshake failed: {e}"),
                        Err(_) => println!("TLS handshake timed out"),
                    }
                }
            }
        });
        // Reap finished connections as we go.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = closing_tx.send(true);
    while connections.join_next().await.is_some() {}
}

/// One connection, until it ends or the listener closes (then after its current request).
async fn connection<I, S>(io: I, service: S, mut closing: tokio::sync::watch::Receiver<bool>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = warp::reply::Response,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let builder = hyper::server::conn::http1::Builder::new();
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = closing.wait_for(|c| *c) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

#[derive(Debug)]
struct Unauthorized;
impl warp::reject::Reject for Unauthorized {}

async fn recover(
    rejection: warp::Rejection,
) -> Result<warp::reply::Response, std::convert::Infallible> {
    Ok(if rejection.find::<Unauthorized>().is_some() {
        error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (the extension's GOFER_EXTENSION_SYSTEM_SECRET)",
        )
    } else if rejection.is_not_found() {
        error(StatusCode::NOT_FOUND, "no such route")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else {
        error(
            StatusCode::BAD_REQUEST,
            format!("bad request: {rejection:?}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl Extension for Echo {
        fn documentation(&self) -> ExtensionDocumentation {
            ExtensionDocumentation {
                body: "echoes".to_owned(),
                ..ExtensionDocumentation::default()
            }
        }
        fn debug(&self) -> String {
            "all quiet".to_owned()
        }
        fn subscribe(&self, request: ExtensionSubscribeRequest) -> Result<(), String> {
            if request.pipeline_subscription_params.iter().count() == 0 {
                return Err("every: missing".to_owned());
            }
            Ok(())
        }
        fn unsubscribe(&self, _request: ExtensionUnsubscribeRequest) {}
    }

    /// The environment of the `echo` extension on a free loopback port (and that port), serving
    /// HTTPS with `tls` (certificate and key PEM) when given.
    fn echo_env(tls: Option<(String, String)>) -> (SystemEnv, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (tls_cert, tls_key) = tls.clone().unwrap_or_default();
        let env = SystemEnv {
            id: "echo".to_owned(),
            secret: "s3cret".to_owned(),
            gofer_host: "127.0.0.1:1".to_owned(),
            bind_address: format!("127.0.0.1:{port}").parse().unwrap(),
            use_tls: tls.is_some(),
            tls_cert,
            tls_key,
            gofer_use_tls: false,
            gofer_cert: String::new(),
        };
        (env, port)
    }

    /// The status of the extension's health once it answers at `base`.
    async fn first_health(http: &reqwest::Client, base: &str) -> Option<u16> {
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/health")).send().await {
                return Some(r.status().as_u16());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        None
    }

    /// Runs the extension beside the client on this task; the client ends by asking it to shut
    /// down, and it must then stop cleanly.
    async fn beside(
        server: impl std::future::Future<Output = Result<(), String>>,
        client: impl std::future::Future<Output = ()>,
    ) {
        let (served, ()) = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            tokio::join!(server, client)
        })
        .await
        .expect("the extension stops after POST /api/shutdown");
        assert_eq!(served, Ok(()));
    }

    /// The REST API an extension serves: health without auth, everything else behind the bearer
    /// secret, a refused subscription as a 400 with the extension's message, shutdown on request.
    #[tokio::test]
    async fn serves_the_extension_api_behind_the_secret() {
        let (env, port) = echo_env(None);
        let server = serve(env, Arc::new(Echo));
        let client = async {
            crate::install_crypto_provider();
            let http = reqwest::Client::new();
            let base = format!("http://127.0.0.1:{port}/api");
            assert_eq!(first_health(&http, &base).await, Some(204));
            let info = http.get(format!("{base}/info")).send().await.unwrap();
            assert_eq!(info.status().as_u16(), 401);
            let info: serde_json::Value = http
                .get(format!("{base}/info"))
                .bearer_auth("s3cret")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(info["extension_id"], "echo");
            assert_eq!(info["documentation"]["body"], "echoes");
            let refused = http
                .post(format!("{base}/subscribe"))
                .bearer_auth("s3cret")
                .json(&serde_json::json!({
                    "namespace_id": "default", "pipeline_id": "p",
                    "pipeline_subscription_id": "s", "pipeline_subscription_params": {}
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status().as_u16(), 400);
            let body: serde_json::Value = refused.json().await.unwrap();
            assert_eq!(body["message"], "every: missing");
            let stop = http
                .post(format!("{base}/shutdown"))
                .bearer_auth("s3cret")
                .send()
                .await
                .unwrap();
            assert!(stop.status().is_success());
        };
        beside(server, client).await;
    }

    /// With `GOFER_EXTENSION_SYSTEM_USE_TLS`, the extension serves HTTPS with the certificate it
    /// was given (a client trusting its CA gets answers, plain HTTP gets none), and a client
    /// pinned to a certificate accepts exactly that one.
    #[tokio::test]
    async fn serves_https_with_the_given_certificate() {
        crate::install_crypto_provider();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let stranger_key = rcgen::KeyPair::generate().unwrap();
        let stranger = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .self_signed(&stranger_key)
            .unwrap();
        let (env, port) = echo_env(Some((cert.pem(), key.serialize_pem())));
        let server = serve(env, Arc::new(Echo));
        let client = async {
            let dir = std::env::temp_dir().join(format!("gofer-sdk-ca-{port}"));
            std::fs::write(&dir, ca.pem()).unwrap();
            let with = |options: crate::TlsOptions| {
                reqwest::Client::builder()
                    .tls_backend_preconfigured(crate::client_config(&options).unwrap())
                    .build()
                    .unwrap()
            };
            let trusting = with(crate::TlsOptions {
                ca_cert: Some(dir.clone()),
                ..crate::TlsOptions::default()
            });
            let base = format!("https://127.0.0.1:{port}/api");
            let health = first_health(&trusting, &base).await;
            std::fs::remove_file(&dir).unwrap();
            assert_eq!(health, Some(204));
            let plain = reqwest::Client::new()
                .get(format!("http://127.0.0.1:{port}/api/health"))
                .send()
                .await;
            assert!(plain.is_err(), "plain HTTP got an answer: {plain:?}");
            let pinned = with(crate::TlsOptions {
                pinned_cert: Some(cert.pem()),
                ..crate::TlsOptions::default()
            });
            let answer = pinned.get(format!("{base}/health")).send().await.unwrap();
            assert_eq!(answer.status().as_u16(), 204);
            let wrong_pin = with(crate::TlsOptions {
                pinned_cert: Some(stranger.pem()),
                ..crate::TlsOptions::default()
            });
            assert!(
                wrong_pin
                    .get(format!("{base}/health"))
                    .send()
                    .await
                    .is_err()
            );
            let stop = trusting
                .post(format!("{base}/shutdown"))
                .bearer_auth("s3cret")
                .send()
                .await
                .unwrap();
            assert!(stop.status().is_success());
        };
        beside(server, client).await;
    }
}
