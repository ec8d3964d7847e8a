//! TLS on the listeners (docs/deploy.md#tls), through the real binary: a certificate generated
//! here for 127.0.0.1, signed by a CA of our own; the CLI with and without that CA, or with the
//! insecure flag; websockets (events, log follow) over TLS; the external events listener over
//! TLS; `--dev` staying plain; and boot refusing a bad pair with the setting to fix.

use crate::common::{gofer, gofer_process, run, unused_addr};
use crate::recovery::{Server, spawn_server};
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A CA, and a server certificate it signed for `127.0.0.1` and `localhost`, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "gofer test CA");
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let ca = ca_params.self_signed(&ca_key).expect("ca cert");
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("server params");
        let key = rcgen::KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &ca, &ca_key).expect("server cert");
        let other_key = rcgen::KeyPair::generate().expect("another key");
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.pem", ca.pem());
        // The chain as operators deploy it: the server's certificate, then the CA.
        write("server.pem", format!("{}{}", cert.pem(), ca.pem()));
        write("server.key", key.serialize_pem());
        write("other.key", other_key.serialize_pem());
        write("garbage.pem", "this is not a certificate\n".into());
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// The real server on `addr` with TLS on its API listener (and `extra` settings).
fn start_tls(pki: &Pki, addr: &str, data: &Path, extra: &[(&str, &str)]) -> Server {
    let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
    let mut env = vec![
        ("GOFER_WEB_SERVER__USE_TLS", "true"),
        ("GOFER_WEB_SERVER__TLS_CERT_PATH", cert.as_str()),
        ("GOFER_WEB_SERVER__TLS_KEY_PATH", key.as_str()),
        // Tokens are required here: the test checks what a remote client sees.
        ("GOFER_WEB_DEVELOPMENT__BYPASS_AUTH", "false"),
    ];
    env.extend_from_slice(extra);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_server(addr, data, &env, Stdio::null())
}

/// A client of the TLS server that trusts our CA.
fn sdk(pki: &Pki, base: &str, token: Option<String>) -> gofer_sdk::Client {
    let tls = gofer_sdk::TlsOptions {
        ca_cert: Some(PathBuf::from(pki.path("ca.pem"))),
        insecure_skip_verify: false,
        pinned_cert: None,
    };
    gofer_sdk::Client::with_tls(base, token, &tls).expect("client")
}

async fn wait_until_up(client: &gofer_sdk::Client) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.health().await.is_err() {
        assert!(Instant::now() < deadline, "the TLS server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for the TLS server listening on `addr`'s port and claims it, as an operator does:
/// its `https://127.0.0.1:<port>` base URL and the bootstrap token's secret.
async fn claim(pki: &Pki, addr: &str) -> (String, String) {
    let base = format!("https://127.0.0.1:{}", addr.rsplit(':').next().unwrap());
    let anonymous = sdk(pki, &base, None);
    wait_until_up(&anonymous).await;
    let secret = anonymous
        .bootstrap_token()
        .await
        .expect("bootstrap over TLS")
        .secret;
    (base, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_and_websockets_speak_tls_to_a_server_with_its_own_certificate() {
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let addr = unused_addr().to_string();
    let events_addr = unused_addr().to_string();
    let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
    let _server = start_tls(
        &pki,
        &addr,
        data.path(),
        &[
            ("GOFER_WEB_EXTERNAL_EVENTS__ENABLE", "true"),
            (
                "GOFER_WEB_EXTERNAL_EVENTS__BIND_ADDRESS",
                events_addr.as_str(),
            ),
            ("GOFER_WEB_EXTERNAL_EVENTS__USE_TLS", "true"),
            ("GOFER_WEB_EXTERNAL_EVENTS__TLS_CERT_PATH", cert.as_str()),
            ("GOFER_WEB_EXTERNAL_EVENTS__TLS_KEY_PATH", key.as_str()),
        ],
    );
    let (base, secret) = claim(&pki, &addr).await;

    // The CLI with the CA file (flag, then the environment variable) works...
    let cli = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = gofer();
        cmd.env("GOFER_API_BASE_URL", &base)
            .env("GOFER_TOKEN", &secret);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(cmd.args(args))
    };
    let ca = pki.path("ca.pem");
    cli(
        &["namespace", "create", "tls-ns", "--tls-ca-cert", &ca],
        &[],
    )
    .expect(0);
    let listed = cli(
        &["namespace", "list", "--output", "json"],
        &[("GOFER_TLS_CA_CERT", ca.as_str())],
    )
    .expect(0);
    assert!(listed.stdout.contains("tls-ns"), "{}", listed.stdout);
    // ...without it the certificate is refused, saying so...
    let refused = cli(&["namespace", "list"], &[]);
    assert_eq!(refused.code, 6, "unreachable: {refused:?}");
    assert!(
        refused.stderr.contains("is not trusted") && refused.stderr.contains("--tls-ca-cert"),
        "{}",
        refused.stderr
    );
    // ...and the insecure flag connects anyway, with a warning.
    let insecure = cli(&["namespace", "list", "--insecure-skip-tls-verify"], &[]).expect(0);
    assert!(insecure.stdout.contains("tls-ns"), "{}", insecure.stdout);
    assert!(
        insecure
            .stderr
            .contains("warning: TLS certificate verification is off"),
        "{}",
        insecure.stderr
    );
    // A CA file that cannot be read is a usage error naming the setting.
    let missing = cli(
        &["namespace", "list", "--tls-ca-cert", "/nonexistent/ca.pem"],
        &[],
    );
    assert_eq!(missing.code, 7, "{missing:?}");
    assert!(missing.stderr.contains("tls_ca_cert"), "{}", missing.stderr);
    // Plain HTTP to the TLS port gets no API answer.
    let plain = cli(
        &["namespace", "list"],
        &[(
            "GOFER_API_BASE_URL",
            &format!("http://127.0.0.1:{}", addr.rsplit(':').next().unwrap()),
        )],
    );
    assert_ne!(plain.code, 0, "{plain:?}");

    // The events websocket over TLS delivers a namespace created after it opened.
    let client = sdk(&pki, &base, Some(secret.clone()));
    let mut events = client
        .events(&gofer_sdk::EventFilter::default())
        .await
        .expect("events websocket over TLS");
    client
        .create_namespace(&gofer_core::api::CreateNamespaceRequest {
            id: "tls-events".into(),
            name: None,
            description: None,
        })
        .await
        .expect("create namespace");
    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(event) = events.next().await {
            let event = event.expect("event frame");
            if serde_json::to_string(&event)
                .unwrap()
                .contains("tls-events")
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(seen, Ok(true), "no created_namespace event over TLS");

    // A task's log followed over a TLS websocket, from a real run.
    let image = crate::defects::image().await.expect("docker");
    // A fresh pipeline id each time: its container names are new, and removed at the end.
    let p = crate::common::unique("tls");
    let pipeline = gofer_sdk::Pipeline::new(&p, "tls logs").task(
        gofer_sdk::Task::new("say", &image).command([
            "sh",
            "-c",
            "echo over-tls-1; sleep 1; echo over-tls-2",
        ]),
    );
    client
        .register_config("default", &p, pipeline.config())
        .await
        .expect("register");
    client
        .deploy_config("default", &p, 1)
        .await
        .expect("deploy");
    let run = client
        .start_run("default", &p, &Default::default())
        .await
        .expect("start run");
    // A busy engine (the whole suite runs at once) may take a while to start the container.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let task = client
            .get_task_execution("default", &p, run.run_id, "say")
            .await;
        if task.as_ref().is_ok_and(|t| t.started > 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the task did not start: {task:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut log = client
        .task_logs("default", &p, run.run_id, "say", true)
        .await
        .expect("log follow over TLS");
    let mut text = String::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(30), log.next())
        .await
        .expect("log lines")
    {
        text.push_str(&String::from_utf8_lossy(&chunk.expect("log chunk")));
    }
    assert!(
        text.contains("over-tls-1") && text.contains("over-tls-2"),
        "{text}"
    );
    crate::common::remove_pipeline_containers(&p);

    // The external events listener speaks TLS too: a webhook for an extension that does not
    // exist is answered by the listener (404, its JSON error), not refused at the handshake.
    let webhook = trusting(&ca, None);
    let events_port = events_addr.rsplit(':').next().unwrap();
    let res = webhook
        .post(format!(
            "https://127.0.0.1:{events_port}/events/no-such-extension"
        ))
        .body("{}")
        .send()
        .await
        .expect("webhook over TLS");
    assert_eq!(res.status().as_u16(), 404);
    let body: serde_json::Value = res.json().await.expect("JSON error");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("no-such-extension")),
        "{body}"
    );
}

/// Boot refuses a missing key, a key of another certificate and a file that is not PEM, each
/// with the setting to fix; `--dev` ignores `use_tls` and serves plain HTTP.
#[test]
fn boot_refuses_a_bad_certificate_pair_naming_the_setting() {
    let pki = Pki::new();
    let cases = [
        (
            pki.path("server.pem"),
            "/nonexistent/server.key".to_string(),
            "server.tls_key_path",
            "cannot read",
        ),
        (
            pki.path("server.pem"),
            pki.path("other.key"),
            "server.tls_key_path",
            "does not belong to the certificate",
        ),
        (
            pki.path("garbage.pem"),
            pki.path("server.key"),
            "server.tls_cert_path",
            "holds no certificate",
        ),
        (
            pki.path("server.pem"),
            pki.path("garbage.pem"),
            "server.tls_key_path",
            "holds no private key",
        ),
    ];
    for (cert, key, setting, words) in cases {
        let data = tempfile::tempdir().unwrap();
        let out = gofer_process()
            .args(["service", "start"])
            .env("GOFER_WEB_SERVER__BIND_ADDRESS", unused_addr().to_string())
            .env("GOFER_WEB_SERVER__DATA_DIR", data.path())
            .env("GOFER_WEB_EXTERNAL_EVENTS__ENABLE", "false")
            .env("GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS", "false")
            .env("GOFER_WEB_SERVER__USE_TLS", "true")
            .env("GOFER_WEB_SERVER__TLS_CERT_PATH", &cert)
            .env("GOFER_WEB_SERVER__TLS_KEY_PATH", &key)
            .output()
            .expect("gofer runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "booted with {cert} / {key}");
        assert!(
            stderr.contains(setting) && stderr.contains(words),
            "{setting} / {words}: {stderr}"
        );
        // Nothing was written: the data dir is as it was.
        assert_eq!(
            std::fs::read_dir(data.path()).unwrap().count(),
            0,
            "{stderr}"
        );
    }
    // The extensions' own pair is checked the same way, and half a pair is refused.
    for (cert, key, words) in [
        (
            pki.path("server.pem"),
            pki.path("other.key"),
            "extensions.tls_key_path",
        ),
        (
            pki.path("server.pem"),
            String::new(),
            "extensions.tls_cert_path and extensions.tls_key_path: set both",
        ),
    ] {
        let data = tempfile::tempdir().unwrap();
        let out = gofer_process()
            .args(["service", "start"])
            .env("GOFER_WEB_SERVER__BIND_ADDRESS", unused_addr().to_string())
            .env("GOFER_WEB_SERVER__DATA_DIR", data.path())
            .env("GOFER_WEB_EXTENSIONS__USE_TLS", "true")
            .env("GOFER_WEB_EXTENSIONS__TLS_CERT_PATH", &cert)
            .env("GOFER_WEB_EXTENSIONS__TLS_KEY_PATH", &key)
            .output()
            .expect("gofer runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "booted with {cert} / {key}");
        assert!(stderr.contains(words), "{words}: {stderr}");
        assert_eq!(
            std::fs::read_dir(data.path()).unwrap().count(),
            0,
            "{stderr}"
        );
    }
}

/// An HTTP client trusting the CA in `ca` (a PEM file), sending `token` when given.
fn trusting(ca: &str, token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
    }
    reqwest::Client::builder()
        .tls_backend_preconfigured(
            gofer_sdk::client_config(&gofer_sdk::TlsOptions {
                ca_cert: Some(PathBuf::from(ca)),
                ..Default::default()
            })
            .expect("tls config"),
        )
        .default_headers(headers)
        .build()
        .expect("client")
}

/// The real server with TLS on its API and `extensions.use_tls` on (and `extra` settings),
/// reachable by extension containers at the docker0 gateway, which its certificate does not
/// name; with an admin token, and a client trusting our CA that sends it.
struct ExtensionsOverTls {
    _server: Server,
    base: String,
    secret: String,
    http: reqwest::Client,
    ca: String,
}

impl ExtensionsOverTls {
    async fn start(pki: &Pki, data: &Path, extra: &[(&str, &str)]) -> ExtensionsOverTls {
        let port = unused_addr().port();
        let gofer_host = format!("172.17.0.1:{port}");
        let mut env = vec![
            ("GOFER_WEB_SERVER__EXTENSION_ADDRESS", gofer_host.as_str()),
            ("GOFER_WEB_EXTENSIONS__USE_TLS", "true"),
        ];
        env.extend_from_slice(extra);
        let addr = format!("0.0.0.0:{port}");
        let server = start_tls(pki, &addr, data, &env);
        let (base, secret) = claim(pki, &addr).await;
        let ca = pki.path("ca.pem");
        ExtensionsOverTls {
            _server: server,
            http: trusting(&ca, Some(&secret)),
            base,
            secret,
            ca,
        }
    }

    /// `gofer <args>` with the token and the CA.
    fn cli(&self, args: &[&str]) -> crate::common::Run {
        run(gofer()
            .env("GOFER_API_BASE_URL", &self.base)
            .env("GOFER_TOKEN", &self.secret)
            .env("GOFER_TLS_CA_CERT", &self.ca)
            .args(args))
    }

    /// Installs the built-in interval extension as `id`.
    fn install_interval(&self, id: &str) {
        self.cli(&[
            "extension",
            "install",
            id,
            "gofer.local/extension-interval",
            "-s",
            "MIN_INTERVAL=1s",
        ])
        .expect(0);
    }

    /// Deploys `pipeline`, subscribes it to the interval extension `ivl` every second, waits for
    /// a run the extension started, then unsubscribes and removes the run's containers.
    async fn interval_starts_a_run(&self, ivl: &str, pipeline: &str) {
        use crate::recovery::{call, wait_for};
        crate::defects::deploy(
            &self.http,
            &self.base,
            pipeline,
            crate::extensions::envs_task(),
        )
        .await;
        self.cli(&[
            "pipeline",
            "subscribe",
            pipeline,
            ivl,
            "tick",
            "-s",
            "every=1s",
        ])
        .expect(0);
        let runs = format!(
            "{}/api/namespaces/default/pipelines/{pipeline}/runs",
            self.base
        );
        wait_for("a run started by the interval extension", async || {
            let (_, body) = call(&self.http, reqwest::Method::GET, runs.clone(), None).await;
            body["runs"]
                .as_array()
                .filter(|r| !r.is_empty())
                .map(|_| serde_json::Value::Null)
        })
        .await;
        self.cli(&["pipeline", "unsubscribe", pipeline, ivl, "tick"])
            .expect(0);
        crate::common::remove_pipeline_containers(pipeline);
    }
}

/// `extensions.use_tls` with no certificate of its own: the server creates its CA in the data
/// dir and gives each extension a certificate from it; extensions serve HTTPS (checked by the
/// server against that CA), and call the API over HTTPS, accepting only the certificate the API
/// serves even though they reach it at an address that certificate does not name. Through it
/// all, a signed webhook sent over TLS to the external events listener and the interval
/// extension both start runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extensions_speak_tls_both_ways_and_start_runs() {
    use crate::extensions::{Cleanup, container_env, envs_task, github_signature, push_payload};
    use crate::recovery::{call, wait_for};
    use reqwest::Method;
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let events_addr = unused_addr().to_string();
    let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
    let tls = ExtensionsOverTls::start(
        &pki,
        data.path(),
        &[
            ("GOFER_WEB_EXTERNAL_EVENTS__ENABLE", "true"),
            (
                "GOFER_WEB_EXTERNAL_EVENTS__BIND_ADDRESS",
                events_addr.as_str(),
            ),
            ("GOFER_WEB_EXTERNAL_EVENTS__USE_TLS", "true"),
            ("GOFER_WEB_EXTERNAL_EVENTS__TLS_CERT_PATH", cert.as_str()),
            ("GOFER_WEB_EXTERNAL_EVENTS__TLS_KEY_PATH", key.as_str()),
        ],
    )
    .await;
    let (base, http, ca) = (&tls.base, &tls.http, &tls.ca);
    let cli = |args: &[&str]| tls.cli(args);
    let (gh, ivl) = (
        crate::common::unique("tlsgh"),
        crate::common::unique("tlsivl"),
    );
    let (pushed, ticked) = (
        crate::common::unique("tlspush"),
        crate::common::unique("tlstick"),
    );
    let _cleanup = Cleanup(vec![gh.clone(), ivl.clone()]);
    let webhook_secret = "tls-webhook-secret";
    cli(&[
        "extension",
        "install",
        &gh,
        "gofer.local/extension-github",
        "-s",
        &format!("APP_WEBHOOK_SECRET={webhook_secret}"),
    ])
    .expect(0);
    tls.install_interval(&ivl);

    // The server's CA is in the data dir; each extension serves HTTPS with a certificate it
    // issued, and answers nothing over plain HTTP.
    let server_ca = data.path().join("tls/extensions-ca.pem");
    assert!(server_ca.exists(), "no CA in the data dir");
    let (_, got) = call(
        http,
        Method::GET,
        format!("{base}/api/extensions/{gh}"),
        None,
    )
    .await;
    let url = got["extension"]["url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(url.starts_with("https://127.0.0.1:"), "{got}");
    let health = trusting(&server_ca.display().to_string(), None)
        .get(format!("{url}/api/health"))
        .send()
        .await
        .expect("the extension answers HTTPS with a certificate from the server's CA");
    assert_eq!(health.status().as_u16(), 204);
    let plain = crate::common::http()
        .get(format!("{}/api/health", url.replacen("https", "http", 1)))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP got an answer: {plain:?}");
    let env = container_env(&gh);
    for expected in [
        "GOFER_EXTENSION_SYSTEM_USE_TLS=true",
        "GOFER_EXTENSION_SYSTEM_GOFER_USE_TLS=true",
        "GOFER_EXTENSION_SYSTEM_TLS_CERT=-----BEGIN CERTIFICATE-----",
        "GOFER_EXTENSION_SYSTEM_GOFER_CERT=-----BEGIN CERTIFICATE-----",
    ] {
        assert!(
            env.iter().any(|line| line.starts_with(expected)),
            "{expected} not in the container's environment"
        );
    }

    // Subscribing goes server → extension over HTTPS.
    crate::defects::deploy(http, base, &pushed, envs_task()).await;
    cli(&[
        "pipeline",
        "subscribe",
        &pushed,
        &gh,
        "pushes",
        "-s",
        "repository=acme/web",
        "-s",
        "event_filter=push",
    ])
    .expect(0);

    // A signed push over TLS to the external events listener, forwarded to the extension over
    // HTTPS; the extension starts the run over HTTPS.
    let body = push_payload("acme/web");
    let events_port = events_addr.rsplit(':').next().unwrap();
    let sent = trusting(ca, None)
        .post(format!("https://127.0.0.1:{events_port}/events/{gh}"))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header(
            "x-hub-signature-256",
            github_signature(webhook_secret, &body),
        )
        .body(body)
        .send()
        .await
        .expect("webhook over TLS");
    assert_eq!(sent.status().as_u16(), 204);
    let runs_of = |p: &str| format!("{base}/api/namespaces/default/pipelines/{p}/runs");
    let run = wait_for("the push's run", async || {
        let (_, body) = call(http, Method::GET, runs_of(&pushed), None).await;
        body["runs"]
            .as_array()
            .filter(|r| !r.is_empty())
            .map(|r| r[0].clone())
    })
    .await;
    let repository = run["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "GOFER_EXTENSION_GITHUB_REPOSITORY")
        .cloned();
    assert_eq!(
        repository.as_ref().map(|v| (&v["value"], &v["source"])),
        Some((
            &serde_json::json!("acme/web"),
            &serde_json::json!("extension")
        )),
        "{run}"
    );

    // The interval extension starts runs on its own schedule over HTTPS too.
    tls.interval_starts_a_run(&ivl, &ticked).await;
    crate::common::remove_pipeline_containers(&pushed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_serves_plain_http_whatever_use_tls_says() {
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let data = tempfile::tempdir().unwrap();
    let addr = unused_addr().to_string();
    let child = gofer_process()
        .args(["service", "start", "--dev"])
        .env("GOFER_WEB_SERVER__BIND_ADDRESS", &addr)
        .env("GOFER_WEB_SERVER__DATA_DIR", data.path())
        .env("GOFER_WEB_EXTERNAL_EVENTS__ENABLE", "false")
        .env("GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS", "false")
        .env("GOFER_WEB_SERVER__USE_TLS", "true")
        .env("GOFER_WEB_SERVER__TLS_CERT_PATH", "/nonexistent/cert.pem")
        .env("GOFER_WEB_SERVER__TLS_KEY_PATH", "/nonexistent/key.pem")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gofer starts");
    let _server = Server(child);
    let client = gofer_sdk::Client::new(&format!("http://{addr}"), None).expect("client");
    wait_until_up(&client).await;
    // The loopback bypass is on in --dev: no token needed.
    assert!(client.list_namespaces(None).await.is_ok());
}

/// `extensions.use_tls` with a certificate of the operator's (`extensions.tls_cert_path` and
/// `tls_key_path`): every extension is given that pair and serves it, and no CA is created. The
/// server accepts exactly that certificate from its extensions (`verify_certs` off), or checks
/// it against the certificates of its file (`verify_certs` on); either way the interval
/// extension starts runs over HTTPS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extensions_serve_a_configured_certificate() {
    use crate::extensions::Cleanup;
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let pki = Pki::new();
    let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
    for verify in ["false", "true"] {
        let data = tempfile::tempdir().unwrap();
        let tls = ExtensionsOverTls::start(
            &pki,
            data.path(),
            &[
                ("GOFER_WEB_EXTENSIONS__TLS_CERT_PATH", cert.as_str()),
                ("GOFER_WEB_EXTENSIONS__TLS_KEY_PATH", key.as_str()),
                ("GOFER_WEB_EXTENSIONS__VERIFY_CERTS", verify),
            ],
        )
        .await;
        let ivl = crate::common::unique("tlscfg");
        let _cleanup = Cleanup(vec![ivl.clone()]);
        tls.install_interval(&ivl);
        assert!(
            !data.path().join("tls").exists(),
            "a CA was created though a certificate is configured"
        );
        // The environment as JSON: PEM values span lines.
        let out = std::process::Command::new("docker")
            .args(["inspect", "--format", "{{json .Config.Env}}"])
            .arg(format!("gofer.extension.{ivl}"))
            .output()
            .expect("docker inspect");
        let env: Vec<String> = serde_json::from_slice(&out.stdout).expect("the container's env");
        let given = env
            .iter()
            .find_map(|l| l.strip_prefix("GOFER_EXTENSION_SYSTEM_TLS_CERT="));
        assert_eq!(
            given,
            Some(std::fs::read_to_string(&cert).unwrap().as_str()),
            "the extension was not given the configured certificate"
        );
        tls.interval_starts_a_run(&ivl, &crate::common::unique("tlscfgp"))
            .await;
    }
}

/// A self-signed server certificate marked as a CA (what `openssl req -x509` makes by default):
/// the CLI trusts it when it is the CA file itself, as curl does, and refuses it otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_ca_certificate_is_trusted_as_its_own_ca_file() {
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let dir = tempfile::tempdir().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    let (cert_path, key_path) = (dir.path().join("self.pem"), dir.path().join("self.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let addr = unused_addr().to_string();
    let (cert_text, key_text) = (
        cert_path.display().to_string(),
        key_path.display().to_string(),
    );
    let _server = spawn_server(
        &addr,
        data.path(),
        &[
            ("GOFER_WEB_SERVER__USE_TLS", "true"),
            ("GOFER_WEB_SERVER__TLS_CERT_PATH", cert_text.as_str()),
            ("GOFER_WEB_SERVER__TLS_KEY_PATH", key_text.as_str()),
        ],
        Stdio::null(),
    );
    let base = format!("https://127.0.0.1:{}", addr.rsplit(':').next().unwrap());
    let client = gofer_sdk::Client::with_tls(
        &base,
        None,
        &gofer_sdk::TlsOptions {
            ca_cert: Some(cert_path.clone()),
            ..Default::default()
        },
    )
    .expect("client");
    wait_until_up(&client).await;
    let cli = |ca: Option<&str>| {
        let mut cmd = gofer();
        cmd.env("GOFER_API_BASE_URL", &base);
        if let Some(ca) = ca {
            cmd.args(["--tls-ca-cert", ca]);
        }
        run(cmd.args(["namespace", "list"]))
    };
    let trusted = cli(Some(&cert_text)).expect(0);
    assert!(trusted.stdout.contains("default"), "{}", trusted.stdout);
    let refused = cli(None);
    assert_eq!(refused.code, 6, "{refused:?}");
    // Another self-signed certificate in the CA file does not stand in for the server's.
    let other_key = rcgen::KeyPair::generate().expect("key");
    let other = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .self_signed(&other_key)
        .expect("cert");
    let other_path = dir.path().join("other.pem");
    std::fs::write(&other_path, other.pem()).unwrap();
    assert_eq!(cli(Some(&other_path.display().to_string())).code, 6);
}

/// The console against a TLS server, in a real terminal: with the CA it goes live; without it,
/// the screen says the certificate is not trusted and names the setting that trusts it (not
/// only the TLS library's words).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_trusts_the_ca_and_without_it_names_the_setting() {
    use crate::console::Tmux;
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let addr = unused_addr().to_string();
    let _server = start_tls(&pki, &addr, data.path(), &[]);
    let (base, secret) = claim(&pki, &addr).await;
    let state = tempfile::tempdir().unwrap();
    let console = |tls_args: &str| {
        format!(
            "env GOFER_TOKEN={secret} XDG_CONFIG_HOME={} XDG_STATE_HOME={} {} --api-base-url {base}{tls_args} console",
            crate::common::no_config_dir().display(),
            state.path().display(),
            env!("CARGO_BIN_EXE_gofer"),
        )
    };
    // The screen's text with its wrapped lines joined again.
    let joined = |screen: &str| {
        screen
            .lines()
            .map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '│'))
            .collect::<Vec<_>>()
            .join(" ")
    };

    let trusted = Tmux::start(&console(&format!(" --tls-ca-cert {}", pki.path("ca.pem"))));
    trusted.wait_for("the live pipelines view", |s| {
        s.contains("● live") && s.contains("namespace default") && s.contains("no pipelines")
    });
    drop(trusted);

    let untrusted = Tmux::start(&console(""));
    let screen = untrusted.wait_for("why the server is not trusted", |s| {
        let text = joined(s);
        text.contains("is not trusted") && text.contains("--tls-ca-cert")
    });
    assert!(
        joined(&screen).contains("--insecure-skip-tls-verify"),
        "{screen}"
    );
}
