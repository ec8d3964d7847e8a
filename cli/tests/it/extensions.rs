//! Extensions through the real binary and a real extension (docs/extensions.md#install-enable-disable-uninstall, docs/extensions.md#the-api-every-extension-serves, docs/extensions.md#logs-and-debug, docs/objects-and-secrets.md#objects
//! extension objects, docs/auth.md#roles-that-always-exist the extension role): install the built-in interval extension with
//! `gofer extension install`, use its token, disable, enable, restart the server, uninstall.

use crate::common::{gofer, run, unique, unused_addr};
use crate::recovery::{Server, call, start_with_env, try_wait_for, wait_for};
use reqwest::Method;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

/// The extension container's environment (`KEY=VALUE` lines), empty when there is none.
pub(crate) fn container_env(id: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{range .Config.Env}}{{println .}}{{end}}",
        ])
        .arg(format!("gofer.extension.{id}"))
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn container_running(id: &str) -> bool {
    let out = Command::new("docker")
        .args(["ps", "-q", "--filter"])
        .arg(format!("name=^gofer.extension.{id}$"))
        .output()
        .expect("docker ps");
    !String::from_utf8_lossy(&out.stdout).trim().is_empty()
}

pub(crate) struct Cleanup(pub(crate) Vec<String>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        for id in &self.0 {
            let _ = Command::new("docker")
                .args(["rm", "-f", &format!("gofer.extension.{id}")])
                .output();
        }
    }
}

/// Stops the server the way an operator does (SIGTERM: graceful, extensions shut down).
pub(crate) fn terminate(mut server: Server) {
    let pid = server.0.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let _ = server.0.wait();
}

/// Starts the real binary on every interface (extension containers reach it through the docker0
/// gateway, `172.17.0.1:<port>`) with `extra` settings, and waits until it answers.
pub(crate) async fn start_reachable(
    http: &reqwest::Client,
    port: u16,
    data: &std::path::Path,
    extra: &[(&str, &str)],
) -> Server {
    let gofer_host = format!("172.17.0.1:{port}");
    let mut env = vec![("GOFER_WEB_SERVER__EXTENSION_ADDRESS", gofer_host.as_str())];
    env.extend_from_slice(extra);
    let server = start_with_env(&format!("0.0.0.0:{port}"), data, &env);
    let health = format!("http://127.0.0.1:{port}/api/health");
    wait_for("the server", async || {
        let (status, _) = call(http, Method::GET, health.clone(), None).await;
        (status == 200).then_some(Value::Null)
    })
    .await;
    server
}

/// `gofer <args>` against the server on `port`.
fn cli_on(port: u16, args: &[&str]) -> crate::common::Run {
    run(gofer()
        .env("GOFER_API_BASE_URL", format!("http://127.0.0.1:{port}"))
        .args(args))
}

/// [`start_reachable`] with the external events listener on; returns the server and the
/// listener's address.
async fn start_with_events(
    http: &reqwest::Client,
    port: u16,
    data: &std::path::Path,
) -> (Server, String) {
    let events_address = unused_addr().to_string();
    let server = start_reachable(
        http,
        port,
        data,
        &[
            ("GOFER_WEB_EXTERNAL_EVENTS__ENABLE", "true"),
            (
                "GOFER_WEB_EXTERNAL_EVENTS__BIND_ADDRESS",
                events_address.as_str(),
            ),
        ],
    )
    .await;
    (server, events_address)
}

/// `X-Hub-Signature-256` of `body` under `secret`, as GitHub computes it.
pub(crate) fn github_signature(secret: &str, body: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extensions_install_run_hold_objects_and_uninstall() {
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let port = unused_addr().port();
    let gofer_host = format!("172.17.0.1:{port}");
    let mut server = start_reachable(&http, port, dir.path(), &[]).await;
    let api = format!("http://127.0.0.1:{port}/api");
    let (ext, other) = (unique("ivl"), unique("oth"));
    let _cleanup = Cleanup(vec![ext.clone(), other.clone()]);
    let cli = |args: &[&str]| cli_on(port, args);

    // Install: 201 once running; the secret-looking setting is masked everywhere it is shown.
    let out = cli(&[
        "extension",
        "install",
        &ext,
        "gofer.local/extension-interval",
        "-s",
        "MIN_INTERVAL=1s",
        "-s",
        "API_KEY=hush-hush-value",
        "--output",
        "json",
    ])
    .expect(0);
    let installed: Value = out.json();
    let e = &installed["extension"];
    assert_eq!(e["state"], "running", "{installed}");
    assert_eq!(e["registration"]["status"], "enabled");
    assert_eq!(
        e["registration"]["settings"][1],
        json!({"key": "API_KEY", "value": "********", "source": "system"})
    );
    assert_eq!(
        e["documentation"]["pipeline_subscription_params"][0]["key"],
        "every"
    );
    assert!(e["url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    let metrics = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gofer_extensions{state=\"running\"} 1\n"),
        "{metrics}"
    );
    let shown = cli(&["extension", "get", &ext]).expect(0).stdout;
    assert!(
        shown.contains("API_KEY=********")
            && shown.contains("Subscription parameters (-s at pipeline subscribe):")
            && shown.contains("  every (required): How often to start a run")
            && shown.contains("  MIN_INTERVAL: The shortest"),
        "{shown}"
    );
    assert!(!shown.contains("hush-hush-value"));
    // The container gets every setting twice, and its system variables.
    let vars = container_env(&ext);
    for expected in [
        "API_KEY=hush-hush-value".to_owned(),
        "GOFER_EXTENSION_CONFIG_API_KEY=hush-hush-value".to_owned(),
        "GOFER_EXTENSION_CONFIG_MIN_INTERVAL=1s".to_owned(),
        format!("GOFER_EXTENSION_SYSTEM_ID={ext}"),
        format!("GOFER_EXTENSION_SYSTEM_GOFER_HOST={gofer_host}"),
        "GOFER_EXTENSION_SYSTEM_BIND_ADDRESS=0.0.0.0:8082".to_owned(),
    ] {
        assert!(vars.contains(&expected), "{expected} missing from {vars:?}");
    }
    let secret = vars
        .iter()
        .find_map(|v| v.strip_prefix("GOFER_EXTENSION_SYSTEM_SECRET="))
        .unwrap()
        .to_owned();
    let db = std::fs::read(dir.path().join("gofer.redb")).unwrap();
    assert!(
        !db.windows(15).any(|w| w == b"hush-hush-value"),
        "the setting is stored encrypted"
    );
    assert!(
        !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "only the token's hash is stored"
    );

    // Bad input is refused with the field named; nothing is stored.
    for (args, code, message) in [
        (
            vec!["extension", "install", "x", "img"],
            7,
            "id: must be 3-32 characters",
        ),
        (
            vec!["extension", "install", &other, "bad image"],
            7,
            "image: must be 1-512 characters",
        ),
        (
            vec![
                "extension",
                "install",
                &other,
                "img",
                "-s",
                "GOFER_EXTENSION_SYSTEM_ID=x",
            ],
            7,
            "settings.GOFER_EXTENSION_SYSTEM_ID: reserved",
        ),
        (
            vec!["extension", "install", &other, "img", "-s", "A KEY=x"],
            7,
            "settings.A KEY: keys must not contain whitespace",
        ),
        (
            vec![
                "extension",
                "install",
                &other,
                "img",
                "-s",
                "k=1",
                "-s",
                "K=2",
            ],
            7,
            "settings.K: given twice",
        ),
        (
            vec!["extension", "install", &other, "img", "-a", "bootstrap"],
            4,
            "additional_roles",
        ),
        (
            vec!["extension", "install", &other, "img", "-a", "no-such-role"],
            7,
            "additional_roles: unknown role 'no-such-role'",
        ),
        (
            vec!["extension", "install", &ext, "img"],
            5,
            "already installed",
        ),
    ] {
        let out = cli(&args).expect(code);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    cli(&["extension", "get", &other]).expect(3);

    // The extension's token: its own objects, nobody else's (docs/auth.md#roles-that-always-exist).
    cli(&[
        "extension",
        "install",
        &other,
        "gofer.local/extension-interval",
        "-s",
        "MIN_INTERVAL=1s",
    ])
    .expect(0);
    let bearer = format!("Bearer {secret}");
    let as_ext = |method: Method, path: String, body: &'static str| {
        http.request(method, format!("{api}{path}"))
            .header("authorization", bearer.clone())
            .body(body)
    };
    let res = as_ext(
        Method::POST,
        format!("/extensions/{ext}/objects/last_fire"),
        "12:00",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let res = as_ext(
        Method::GET,
        format!("/extensions/{ext}/objects/last_fire"),
        "",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.text().await.unwrap(), "12:00");
    let res = as_ext(Method::POST, format!("/extensions/{other}/objects/k"), "x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        403,
        "another extension's objects are off limits"
    );
    let res = as_ext(Method::GET, "/tokens/whoami".into(), "")
        .send()
        .await
        .unwrap();
    let whoami: Value = res.json().await.unwrap();
    assert_eq!(whoami["token"]["user"], format!("{ext} (extension)"));
    assert_eq!(
        whoami["token"]["roles"],
        json!([format!("extension:{ext}")])
    );

    // Debug and logs come from the extension itself.
    let debug = cli(&["extension", "debug", &ext]).expect(0).stdout;
    assert!(debug.contains("\"min_interval\":\"1s\""), "{debug}");
    let logs = cli(&["extension", "logs", &ext]).expect(0).stdout;
    assert!(
        logs.contains(&format!("extension {ext} listening on 0.0.0.0:8082")),
        "{logs}"
    );

    // Disable: container gone, token refused; enable: running again with a new token.
    cli(&["extension", "disable", &ext]).expect(0);
    assert!(!container_running(&ext));
    let res = as_ext(Method::GET, "/tokens/whoami".into(), "")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let e: Value = cli(&["extension", "get", &ext, "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(e["extension"]["state"], "exited");
    assert_eq!(e["extension"]["registration"]["status"], "disabled");
    cli(&["extension", "debug", &ext]).expect(6);
    cli(&["extension", "enable", &ext]).expect(0);
    wait_for("the enabled extension to run", async || {
        let (_, e) = call(&http, Method::GET, format!("{api}/extensions/{ext}"), None).await;
        (e["extension"]["state"] == "running").then_some(e)
    })
    .await;
    assert!(container_running(&ext));

    // A graceful server stop shuts extensions down; the next boot starts the enabled ones.
    terminate(server);
    assert!(!container_running(&ext) && !container_running(&other));
    server = start_reachable(&http, port, dir.path(), &[]).await;
    wait_for("the extension to run after a restart", async || {
        let (_, e) = call(&http, Method::GET, format!("{api}/extensions/{ext}"), None).await;
        (e["extension"]["state"] == "running").then_some(e)
    })
    .await;
    assert!(container_running(&ext));
    let new_secret = container_env(&ext)
        .iter()
        .find_map(|v| {
            v.strip_prefix("GOFER_EXTENSION_SYSTEM_SECRET=")
                .map(str::to_owned)
        })
        .unwrap();
    assert_ne!(new_secret, secret, "a new token at every start");

    // Uninstall: container, objects, token and role are gone.
    cli(&["extension", "uninstall", &ext]).expect(0);
    cli(&["extension", "get", &ext]).expect(3);
    assert!(!container_running(&ext));
    assert!(!dir.path().join("objects/extensions").join(&ext).exists());
    let (status, _) = call(
        &http,
        Method::GET,
        format!("{api}/roles/extension:{ext}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let res = http
        .get(format!("{api}/tokens/whoami"))
        .header("authorization", format!("Bearer {new_secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let listed: Value = cli(&["extension", "list", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(listed["extensions"].as_array().unwrap().len(), 1);
    cli(&["extension", "uninstall", &other]).expect(0);
    let events = cli(&[
        "event",
        "list",
        "--kinds",
        "installed_extension,uninstalled_extension",
        "--output",
        "json",
    ])
    .expect(0)
    .stdout;
    assert_eq!(
        events.matches("uninstalled_extension").count(),
        2,
        "{events}"
    );
    terminate(server);
}

/// Subscriptions (docs/extensions.md#subscriptions, docs/extensions.md#the-api-every-extension-serves): a pipeline subscribed to the interval extension gets runs
/// started by the extension; disabling, enabling, re-delivery at start, unsubscribing and the
/// cascade of an uninstall.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribed_pipeline_is_run_by_its_extension() {
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let port = unused_addr().port();
    let server = start_reachable(&http, port, dir.path(), &[]).await;
    let api = format!("http://127.0.0.1:{port}/api");
    let (ext, pipeline, lonely) = (unique("ivl"), unique("sub"), unique("lon"));
    let _cleanup = Cleanup(vec![ext.clone()]);
    let cli = |args: &[&str]| cli_on(port, args);
    cli(&[
        "extension",
        "install",
        &ext,
        "gofer.local/extension-interval",
        "-s",
        "MIN_INTERVAL=1s",
    ])
    .expect(0);
    for p in [&pipeline, &lonely] {
        let base = format!("{api}/namespaces/default/pipelines/{p}");
        let config = json!({"config": {"id": p, "name": "ticks", "tasks": [
            {"id": "envs", "image": "gofer.local/debug-envs"}]}});
        assert_eq!(
            call(&http, Method::POST, format!("{base}/configs"), Some(config))
                .await
                .0,
            201
        );
        assert_eq!(
            call(&http, Method::POST, format!("{base}/configs/1"), None)
                .await
                .0,
            201
        );
    }
    let debug = || {
        let out = cli(&["extension", "debug", &ext]).expect(0).stdout;
        serde_json::from_str::<Value>(&out).unwrap()["subscriptions"].clone()
    };

    // Refusals name the setting; nothing is stored.
    for (args, code, message) in [
        (vec![], 7, "settings.every: required by extension"),
        (
            vec!["-s", "evry=30s"],
            7,
            "settings.evry: unknown setting (did you mean every?); extension",
        ),
        (
            vec!["-s", "every=0s"],
            7,
            "extension rejected subscription: every: must be longer than 0s",
        ),
        (
            vec!["-s", "every=run_object{{x}}"],
            7,
            "settings.every: run_object references are not allowed",
        ),
        (
            vec!["-s", "every=pipeline_secret{{nope}}"],
            7,
            "settings.every: pipeline_secret{{nope}}",
        ),
    ] {
        let mut all = vec!["pipeline", "subscribe", &pipeline, &ext, "tick"];
        all.extend(args.iter().copied());
        let out = cli(&all).expect(code);
        assert!(out.stderr.contains(message), "{all:?}: {}", out.stderr);
    }
    cli(&[
        "pipeline",
        "subscribe",
        &pipeline,
        "no-such-ext",
        "tick",
        "-s",
        "every=1s",
    ])
    .expect(3);
    cli(&[
        "pipeline",
        "subscribe",
        &pipeline,
        &ext,
        "x",
        "-s",
        "every=1s",
    ])
    .expect(7);
    let listed: Value = cli(&[
        "pipeline",
        "subscription",
        "list",
        &pipeline,
        "--output",
        "json",
    ])
    .expect(0)
    .json();
    assert_eq!(listed["subscriptions"], json!([]));

    // Subscribed: the extension starts runs, as itself.
    let out = cli(&[
        "pipeline",
        "subscribe",
        &pipeline,
        &ext,
        "tick",
        "-s",
        "every=1s",
    ])
    .expect(0);
    assert!(out.stdout.contains("active"), "{}", out.stdout);
    cli(&[
        "pipeline",
        "subscribe",
        &pipeline,
        &ext,
        "tick",
        "-s",
        "every=1s",
    ])
    .expect(5);
    let runs = wait_for("two runs started by the extension", async || {
        let (_, r) = call(
            &http,
            Method::GET,
            format!("{api}/namespaces/default/pipelines/{pipeline}/runs"),
            None,
        )
        .await;
        r["runs"]
            .as_array()
            .is_some_and(|runs| runs.len() >= 2)
            .then_some(r)
    })
    .await;
    for run in runs["runs"].as_array().unwrap() {
        assert_eq!(run["initiator"]["kind"], "extension", "{run}");
        assert_eq!(
            run["initiator"]["user"],
            format!("{ext} (extension)"),
            "{run}"
        );
        // The run says which subscription fired it.
        assert_eq!(run["initiator"]["subscription_id"], "tick", "{run}");
    }
    assert_eq!(debug()[0]["subscription_id"], "tick");
    // Only an extension's token names a subscription: from anyone else it is not recorded.
    let (status, by_hand) = call(
        &http,
        Method::POST,
        format!("{api}/namespaces/default/pipelines/{pipeline}/runs"),
        Some(json!({"subscription_id": "tick"})),
    )
    .await;
    assert_eq!(status, 201, "{by_hand}");
    assert!(
        by_hand["run"]["initiator"].get("subscription_id").is_none(),
        "{by_hand}"
    );
    let (_, subs) = call(
        &http,
        Method::GET,
        format!("{api}/extensions/{ext}/subscriptions"),
        None,
    )
    .await;
    assert_eq!(subs["subscriptions"][0]["pipeline_id"], pipeline.as_str());

    // The extension's token cannot run a pipeline that is not subscribed (docs/extensions.md#the-api-every-extension-serves).
    let secret = container_env(&ext)
        .iter()
        .find_map(|v| {
            v.strip_prefix("GOFER_EXTENSION_SYSTEM_SECRET=")
                .map(str::to_owned)
        })
        .unwrap();
    let start_as_extension = async |p: &str| {
        let res = http
            .post(format!("{api}/namespaces/default/pipelines/{p}/runs"))
            .header("authorization", format!("Bearer {secret}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (status, body) = start_as_extension(&lonely).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["message"],
        format!("extension '{ext}' has no active subscription for pipeline '{lonely}'")
    );

    // Disabled: the extension forgets it and may not start runs for it; enabled: delivered again.
    cli(&[
        "pipeline",
        "subscription",
        "disable",
        &pipeline,
        &ext,
        "tick",
    ])
    .expect(0);
    assert_eq!(debug(), json!([]));
    assert_eq!(start_as_extension(&pipeline).await.0, 403);
    let got: Value = cli(&[
        "pipeline",
        "subscription",
        "get",
        &pipeline,
        &ext,
        "tick",
        "--output",
        "json",
    ])
    .expect(0)
    .json();
    assert_eq!(got["subscription"]["status"], "disabled");
    cli(&[
        "pipeline",
        "subscription",
        "enable",
        &pipeline,
        &ext,
        "tick",
    ])
    .expect(0);
    assert_eq!(debug()[0]["subscription_id"], "tick");

    // An extension that starts again gets its subscriptions again (docs/extensions.md#launch step 5).
    cli(&["extension", "disable", &ext]).expect(0);
    cli(&["extension", "enable", &ext]).expect(0);
    wait_for("the extension to run again", async || {
        let (_, e) = call(&http, Method::GET, format!("{api}/extensions/{ext}"), None).await;
        (e["extension"]["state"] == "running").then_some(e)
    })
    .await;
    assert_eq!(
        debug()[0]["subscription_id"],
        "tick",
        "re-delivered at start"
    );

    // Unsubscribe; then an uninstall takes remaining subscriptions with it.
    cli(&["pipeline", "unsubscribe", &pipeline, &ext, "tick"]).expect(0);
    assert_eq!(debug(), json!([]));
    cli(&["pipeline", "unsubscribe", &pipeline, &ext, "tick"]).expect(3);
    cli(&[
        "pipeline",
        "subscribe",
        &lonely,
        &ext,
        "again",
        "-s",
        "every=1h",
    ])
    .expect(0);
    // Deleting a pipeline tells the extension its subscriptions are gone (docs/pipelines.md#what-a-delete-takes-with-it).
    cli(&[
        "pipeline",
        "subscribe",
        &pipeline,
        &ext,
        "tock",
        "-s",
        "every=1h",
    ])
    .expect(0);
    assert_eq!(debug().as_array().unwrap().len(), 2);
    wait_for("the pipeline's runs to finish", async || {
        let (status, _) = call(
            &http,
            Method::DELETE,
            format!("{api}/namespaces/default/pipelines/{pipeline}"),
            None,
        )
        .await;
        (status == 204).then_some(Value::Null)
    })
    .await;
    assert_eq!(
        debug()[0]["subscription_id"],
        "again",
        "only lonely's is left"
    );
    assert_eq!(debug().as_array().unwrap().len(), 1);
    cli(&["extension", "uninstall", &ext]).expect(0);
    cli(&["pipeline", "subscription", "get", &lonely, &ext, "again"]).expect(3);
    let events = cli(&[
        "event",
        "list",
        "--kinds",
        "pipeline_extension_subscription_unregistered",
        "--output",
        "json",
    ])
    .expect(0)
    .stdout;
    assert_eq!(
        events
            .matches("pipeline_extension_subscription_unregistered")
            .count(),
        3,
        "{events}"
    );

    drop(server);
    for p in [&pipeline, &lonely] {
        crate::common::remove_pipeline_containers(p);
    }
}

/// With `extensions.install_std_extensions` (the default) the server registers `interval` at
/// boot and starts it (docs/extensions.md#install-enable-disable-uninstall); a second boot registers nothing new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_extensions_are_installed_at_boot() {
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    // The std extensions' container names are fixed, and a container of that name owned by
    // another Gofer instance is never touched: ours would fail to start naming it. A running one
    // belongs to a live server (stop it first); a stopped one is a leftover of a server that is
    // gone (a machine reused between runs keeps its containers), which is removed here.
    for id in ["interval", "cron"] {
        assert!(
            !container_running(id),
            "a gofer.extension.{id} container of another server is running; stop it first"
        );
    }
    drop(Cleanup(vec!["interval".to_owned(), "cron".to_owned()]));
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let port = unused_addr().port();
    let _cleanup = Cleanup(vec!["interval".to_owned(), "cron".to_owned()]);
    let api = format!("http://127.0.0.1:{port}/api");
    let std_on = [("GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS", "true")];
    for boot in 0..2 {
        let server = start_reachable(&http, port, dir.path(), &std_on).await;
        for id in ["interval", "cron"] {
            let mut last = Value::Null;
            let e = try_wait_for(async || {
                let (_, e) = call(&http, Method::GET, format!("{api}/extensions/{id}"), None).await;
                last = e.clone();
                (e["extension"]["state"] == "running").then_some(e)
            })
            .await
            .unwrap_or_else(|| {
                panic!("boot {boot}: the standard extension {id} never ran: {last}")
            });
            assert_eq!(
                e["extension"]["registration"]["image"],
                format!("gofer.local/extension-{id}:latest")
            );
        }
        let listed: Value = cli_on(port, &["extension", "list", "--output", "json"])
            .expect(0)
            .json();
        assert_eq!(
            listed["extensions"].as_array().unwrap().len(),
            2,
            "boot {boot}"
        );
        terminate(server);
    }
    let events = {
        let server = start_reachable(&http, port, dir.path(), &[]).await;
        let out = cli_on(
            port,
            &[
                "event",
                "list",
                "--kinds",
                "installed_extension",
                "--output",
                "json",
            ],
        )
        .expect(0)
        .stdout;
        cli_on(port, &["extension", "uninstall", "interval"]).expect(0);
        cli_on(port, &["extension", "uninstall", "cron"]).expect(0);
        terminate(server);
        out
    };
    assert_eq!(events.matches("installed_extension").count(), 2, "{events}");
}

/// External events (docs/extensions.md#webhooks-external-events): the second listener forwards a webhook to its extension and
/// answers with the extension's verdict; unknown extension 404, stopped 503, too large 413.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_events_reach_their_extension() {
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let port = unused_addr().port();
    let events_addr = unused_addr().to_string();
    let env = [
        ("GOFER_WEB_EXTERNAL_EVENTS__ENABLE", "true"),
        (
            "GOFER_WEB_EXTERNAL_EVENTS__BIND_ADDRESS",
            events_addr.as_str(),
        ),
        ("GOFER_WEB_EXTERNAL_EVENTS__MAX_BODY_BYTES", "64"),
    ];
    let server = start_reachable(&http, port, dir.path(), &env).await;
    let ext = unique("ivl");
    let _cleanup = Cleanup(vec![ext.clone()]);
    cli_on(
        port,
        &[
            "extension",
            "install",
            &ext,
            "gofer.local/extension-interval",
            "-s",
            "MIN_INTERVAL=1s",
        ],
    )
    .expect(0);

    let post = async |path: String, body: &'static str| {
        let res = http
            .post(format!("http://{events_addr}{path}"))
            .header("X-GitHub-Event", "push")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json::<Value>().await.unwrap_or(Value::Null))
    };
    // Both paths reach the extension, whose own answer comes back (interval takes no webhooks).
    for path in [format!("/api/external/{ext}"), format!("/events/{ext}")] {
        let (status, body) = post(path, "{\"ref\":\"main\"}").await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["message"], "this extension takes no external events");
        assert!(body["request_id"].is_string());
    }
    let (status, body) = post("/events/no-such-ext".into(), "{}").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = post(
        format!("/events/{ext}"),
        "this body is longer than sixty-four bytes, which the server refuses",
    )
    .await;
    assert_eq!(status, 413, "{body}");
    cli_on(port, &["extension", "disable", &ext]).expect(0);
    let (status, body) = post(format!("/events/{ext}"), "{}").await;
    assert_eq!(status, 503, "{body}");
    cli_on(port, &["extension", "uninstall", &ext]).expect(0);
    terminate(server);
}

/// An extension whose container dies is marked `exited` and started again, with a new token
/// (docs/extensions.md#launch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_extension_is_restarted() {
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let port = unused_addr().port();
    let fast = [("GOFER_WEB_EXTENSIONS__HEALTH_CHECK_INTERVAL", "1")];
    let server = start_reachable(&http, port, dir.path(), &fast).await;
    let api = format!("http://127.0.0.1:{port}/api");
    let ext = unique("ivl");
    let _cleanup = Cleanup(vec![ext.clone()]);
    cli_on(
        port,
        &[
            "extension",
            "install",
            &ext,
            "gofer.local/extension-interval",
        ],
    )
    .expect(0);
    let container_id = |id: &str| {
        let out = Command::new("docker")
            .args(["inspect", "--format", "{{.Id}}"])
            .arg(format!("gofer.extension.{id}"))
            .output()
            .expect("docker inspect");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let first = container_id(&ext);
    let first_started = {
        let (_, e) = call(&http, Method::GET, format!("{api}/extensions/{ext}"), None).await;
        e["extension"]["started"].as_u64().unwrap()
    };
    let killed = Command::new("docker")
        .args(["kill", &format!("gofer.extension.{ext}")])
        .output()
        .unwrap();
    assert!(killed.status.success());
    let again = wait_for("the extension to be started again", async || {
        let (_, e) = call(&http, Method::GET, format!("{api}/extensions/{ext}"), None).await;
        let restarted = e["extension"]["state"] == "running"
            && e["extension"]["started"].as_u64() > Some(first_started);
        restarted.then_some(e)
    })
    .await;
    assert!(container_running(&ext), "{again}");
    assert_ne!(container_id(&ext), first, "a new container");
    // The restart is on the record: how many, and why; no retry pending while it runs.
    assert_eq!(again["extension"]["restarts"], 1, "{again}");
    assert_eq!(again["extension"]["retry_at"], 0, "{again}");
    assert!(
        again["extension"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("exited")),
        "{again}"
    );
    let debug = cli_on(port, &["extension", "debug", &ext]).expect(0).stdout;
    assert!(debug.contains("min_interval"), "it answers again: {debug}");
    terminate(server);
}

/// One task printing its environment (the debug image built at boot).
pub(crate) fn envs_task() -> Value {
    json!([{"id": "envs", "image": "gofer.local/debug-envs"}])
}

/// The runs of `pipeline` (oldest first) with their scheduled-time variable.
async fn cron_runs(http: &reqwest::Client, api: &str, pipeline: &str) -> Vec<(u64, String, u64)> {
    let (_, body) = call(
        http,
        Method::GET,
        format!("{api}/namespaces/default/pipelines/{pipeline}/runs"),
        None,
    )
    .await;
    let mut runs: Vec<(u64, String, u64)> = body["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let scheduled = r["variables"]
                .as_array()
                .and_then(|vs| {
                    vs.iter()
                        .find(|v| v["key"] == "GOFER_EXTENSION_CRON_SCHEDULED_TIME")
                })
                .and_then(|v| v["value"].as_str())
                .unwrap_or_default()
                .to_owned();
            (
                r["run_id"].as_u64().unwrap(),
                scheduled,
                r["queued"].as_u64().unwrap(),
            )
        })
        .collect();
    runs.sort();
    runs
}

/// Waits (on the clock) until `ms` has passed.
async fn until_ms(ms: u64) {
    while gofer_core::now_millis() < ms {
        let left = ms - gofer_core::now_millis();
        tokio::time::sleep(Duration::from_millis(left.min(1_000))).await;
    }
}

/// The cron extension: bad parameters are refused naming them; `* * * * *` starts a run at the
/// next minute boundary with the scheduled minute as a variable; with `catch_up = latest`, an
/// extension that was disabled across scheduled minutes starts exactly one run for the latest
/// of them when enabled again, and never fires a minute twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_fires_each_minute_once_and_catches_up() {
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let port = unused_addr().port();
    let _server = start_reachable(&http, port, dir.path(), &[]).await;
    let api = format!("http://127.0.0.1:{port}/api");
    let (ext, pipeline) = (unique("crn"), unique("cron"));
    let _cleanup = Cleanup(vec![ext.clone()]);
    let cli = |args: &[&str]| cli_on(port, args);
    cli(&["extension", "install", &ext, "gofer.local/extension-cron"]).expect(0);
    crate::defects::deploy(
        &http,
        &format!("http://127.0.0.1:{port}"),
        &pipeline,
        envs_task(),
    )
    .await;
    for (setting, message) in [
        (
            "expression=0 24 * * *",
            "expression: field 2 (hour): 24 is out of range 0-23",
        ),
        (
            "timezone=Mars/Olympus",
            "timezone: 'Mars/Olympus' is not an IANA time zone name",
        ),
        ("catch_up=all", "catch_up: 'all' is not one of none, latest"),
    ] {
        let mut args = vec!["pipeline", "subscribe", &pipeline, &ext, "bad"];
        if !setting.starts_with("expression") {
            args.extend(["-s", "expression=* * * * *"]);
        }
        args.extend(["-s", setting]);
        let out = cli(&args).expect(7);
        assert!(out.stderr.contains(message), "{setting}: {}", out.stderr);
    }

    cli(&[
        "pipeline",
        "subscribe",
        &pipeline,
        &ext,
        "minutely",
        "-s",
        "expression=* * * * *",
        "-s",
        "catch_up=latest",
    ])
    .expect(0);
    let subscribed = gofer_core::now_millis();
    let first = wait_for_runs(&http, &api, &pipeline, 1, Duration::from_secs(75)).await;
    let (_, scheduled, queued) = &first[0];
    let at = scheduled
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("'{scheduled}' is not RFC 3339: {e}"));
    let at_ms = u64::try_from(at.as_millisecond()).unwrap();
    assert_eq!(at_ms % 60_000, 0, "a minute boundary: {scheduled}");
    assert!(at_ms > subscribed, "{scheduled} after subscribing");
    assert!(
        *queued >= at_ms && *queued - at_ms < 5_000,
        "queued {queued} for {at_ms}"
    );

    // Down across at least one scheduled minute, then back: one catch-up run, for the latest.
    cli(&["extension", "disable", &ext]).expect(0);
    let before: Vec<_> = cron_runs(&http, &api, &pipeline).await;
    let missed_from = gofer_core::now_millis();
    until_ms(missed_from - missed_from % 60_000 + 60_000 + 2_000).await;
    let enabled = gofer_core::now_millis();
    cli(&["extension", "enable", &ext]).expect(0);
    let after = wait_for_runs(
        &http,
        &api,
        &pipeline,
        before.len() + 1,
        Duration::from_secs(30),
    )
    .await;
    let caught_up = &after[before.len()];
    let caught_ms = u64::try_from(
        caught_up
            .1
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_millisecond(),
    )
    .unwrap();
    assert_eq!(
        caught_ms,
        enabled - enabled % 60_000,
        "the latest missed minute: {after:?}"
    );
    // The next run is the following minute's, not another catch-up.
    let later = wait_for_runs(
        &http,
        &api,
        &pipeline,
        before.len() + 2,
        Duration::from_secs(75),
    )
    .await;
    let scheduled: Vec<&String> = later.iter().map(|r| &r.1).collect();
    let mut unique_minutes = scheduled.clone();
    unique_minutes.dedup();
    assert_eq!(
        scheduled, unique_minutes,
        "no minute fired twice: {later:?}"
    );
    assert!(later[before.len() + 1].1 > caught_up.1, "{later:?}");
}

/// Waits until `pipeline` has at least `n` runs, within `limit`.
async fn wait_for_runs(
    http: &reqwest::Client,
    api: &str,
    pipeline: &str,
    n: usize,
    limit: Duration,
) -> Vec<(u64, String, u64)> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let runs = cron_runs(http, api, pipeline).await;
        if runs.len() >= n {
            return runs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{pipeline} has {} of {n} runs: {runs:?}",
            runs.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A `global_secret{{k}}` install setting reaches the extension's container resolved and is
/// stored and shown only as the reference (never in the API, the database file or the log);
/// other references, and references to missing secrets, are refused naming the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_references_in_install_settings_are_resolved_at_launch() {
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let port = unused_addr().port();
    let server = crate::defects::start_logged(&format!("0.0.0.0:{port}"), &data, &[], &log);
    crate::defects::healthy(&http, &format!("127.0.0.1:{port}")).await;
    let api = format!("http://127.0.0.1:{port}/api");
    let cli = |args: &[&str]| cli_on(port, args);
    let secret = "s3cr3t-for-the-extension-4711";
    cli(&["secret", "global", "put", "ext-token", secret]).expect(0);
    let ext = unique("sec");
    let _cleanup = Cleanup(vec![ext.clone()]);

    let out = cli(&[
        "extension",
        "install",
        &ext,
        "gofer.local/extension-interval",
        "-s",
        "MY_VALUE=pipeline_secret{{x}}",
    ])
    .expect(7);
    assert!(
        out.stderr
            .contains("settings.MY_VALUE: pipeline_secret references are not allowed"),
        "{}",
        out.stderr
    );
    let out = cli(&[
        "extension",
        "install",
        &ext,
        "gofer.local/extension-interval",
        "-s",
        "MY_VALUE=global_secret{{missing}}",
    ])
    .expect(7);
    assert!(
        out.stderr
            .contains("settings.MY_VALUE: global secret 'missing' does not exist"),
        "{}",
        out.stderr
    );

    cli(&[
        "extension",
        "install",
        &ext,
        "gofer.local/extension-interval",
        "-s",
        "MY_VALUE=global_secret{{ext-token}}",
        "-s",
        "API_TOKEN=global_secret{{ext-token}}",
    ])
    .expect(0);
    let env = container_env(&ext);
    for key in [
        "MY_VALUE",
        "GOFER_EXTENSION_CONFIG_MY_VALUE",
        "API_TOKEN",
        "GOFER_EXTENSION_CONFIG_API_TOKEN",
    ] {
        assert!(
            env.contains(&format!("{key}={secret}")),
            "{key} resolved in the container: {env:?}"
        );
    }
    let (status, body) = call(&http, Method::GET, format!("{api}/extensions/{ext}"), None).await;
    assert_eq!(status, 200, "{body}");
    let text = body.to_string();
    assert!(!text.contains(secret), "{text}");
    assert!(text.contains("global_secret{{ext-token}}"), "{text}");

    // Stopped, so the database file is complete.
    terminate(server);
    let db = std::fs::read(data.join("gofer.redb")).unwrap();
    assert!(
        !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the secret is in the database file"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains(secret), "the secret is in the log");
}

/// A push payload as GitHub documents it (trimmed to the fields Gofer reads and a few more).
pub(crate) fn push_payload(repository: &str) -> String {
    json!({
        "ref": "refs/heads/main",
        "before": "0000000000000000000000000000000000000000",
        "after": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "repository": {"id": 1296269, "name": "web", "full_name": repository,
                       "private": false, "default_branch": "main"},
        "pusher": {"name": "octocat", "email": "octocat@github.com"},
        "head_commit": {
            "id": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            "message": "Update README",
            "timestamp": "2026-12-06T05:00:00Z",
            "author": {"name": "Mona Lisa", "email": "mona@github.com", "username": "mona"},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"}
        }
    })
    .to_string()
}

/// The github extension: a signed push webhook on the external events port starts a run of
/// the subscribed pipeline with the push's variables; a bad or missing signature is 401 and
/// starts nothing; `ping` and other event types are accepted and ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_push_webhooks_start_runs() {
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let port = unused_addr().port();
    let (_server, events_address) = start_with_events(&http, port, dir.path()).await;
    let api = format!("http://127.0.0.1:{port}/api");
    let (ext, pipeline) = (unique("gh"), unique("push"));
    let _cleanup = Cleanup(vec![ext.clone()]);
    let cli = |args: &[&str]| cli_on(port, args);
    let secret = "webhook-secret-123";
    cli(&[
        "extension",
        "install",
        &ext,
        "gofer.local/extension-github",
        "-s",
        &format!("APP_WEBHOOK_SECRET={secret}"),
    ])
    .expect(0);
    let base = format!("{api}/namespaces/default/pipelines/{pipeline}");
    crate::defects::deploy(
        &http,
        &format!("http://127.0.0.1:{port}"),
        &pipeline,
        envs_task(),
    )
    .await;
    let out = cli(&[
        "pipeline",
        "subscribe",
        &pipeline,
        &ext,
        "bad",
        "-s",
        "repository=acme/web",
        "-s",
        "event_filter=issues",
    ])
    .expect(7);
    assert!(
        out.stderr
            .contains("event_filter: 'issues' is not one of push, pull_request"),
        "{}",
        out.stderr
    );
    cli(&[
        "pipeline",
        "subscribe",
        &pipeline,
        &ext,
        "pushes",
        "-s",
        "repository=acme/web",
        "-s",
        "event_filter=push",
    ])
    .expect(0);

    let url = format!("http://{events_address}/events/{ext}");
    let send = async |event: &str, body: &str, signature: Option<String>| {
        let mut req = http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .body(body.to_owned());
        if let Some(signature) = signature {
            req = req.header("x-hub-signature-256", signature);
        }
        req.send().await.unwrap().status().as_u16()
    };
    let sign = |body: &str| github_signature(secret, body);
    let body = push_payload("acme/web");
    assert_eq!(send("push", &body, None).await, 401);
    assert_eq!(send("push", &body, Some(sign("something else"))).await, 401);
    assert_eq!(
        send("ping", r#"{"zen": "hi"}"#, Some(sign(r#"{"zen": "hi"}"#))).await / 100,
        2
    );
    let other = push_payload("acme/other");
    assert_eq!(send("push", &other, Some(sign(&other))).await / 100, 2);
    assert_eq!(send("push", &body, Some(sign(&body))).await / 100, 2);

    let run = wait_for("the push's run", async || {
        let (_, body) = call(&http, Method::GET, format!("{base}/runs"), None).await;
        body["runs"]
            .as_array()
            .filter(|r| !r.is_empty())
            .map(|r| r[0].clone())
    })
    .await;
    let vars: std::collections::BTreeMap<String, String> = run["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["key"].as_str().unwrap().to_owned(),
                v["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (key, value) in [
        ("EVENT", "push"),
        ("ACTION", ""),
        ("REPOSITORY", "acme/web"),
        ("REF", "refs/heads/main"),
        ("HEAD_COMMIT_ID", "6113728f27ae82c7b1a177c8d03f9e96e0adf246"),
        ("HEAD_COMMIT_AUTHOR_USERNAME", "mona"),
        ("HEAD_COMMIT_COMMITTER_EMAIL", "noreply@github.com"),
    ] {
        assert_eq!(
            vars.get(&format!("GOFER_EXTENSION_GITHUB_{key}"))
                .map(String::as_str),
            Some(value),
            "{key}: {vars:?}"
        );
    }
    // Exactly one run: the bad signatures, the ping and the other repository started none.
    let (_, runs) = call(&http, Method::GET, format!("{base}/runs"), None).await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1, "{runs}");
}

/// `extension install --interactive` asks for each setting a built-in image documents (a
/// required one until answered) and installs with the answers; for another image it asks for
/// key/value pairs until it knows the image's documentation from an installed extension.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_install_asks_for_documented_settings() {
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let port = unused_addr().port();
    let _server = start_reachable(&http, port, dir.path(), &[]).await;
    let ext = unique("gha");
    let _cleanup = Cleanup(vec![ext.clone()]);
    let out = run(gofer()
        .env("GOFER_API_BASE_URL", format!("http://127.0.0.1:{port}"))
        .args([
            "extension",
            "install",
            &ext,
            "gofer.local/extension-github",
            "--interactive",
        ])
        // An empty answer to a required setting asks again.
        .write_stdin("\nhook-secret-from-prompt\n"))
    .expect(0);
    assert!(
        out.stderr
            .contains("APP_WEBHOOK_SECRET (required, not echoed)")
            && out.stderr.contains("APP_WEBHOOK_SECRET is required"),
        "{}",
        out.stderr
    );
    assert!(
        container_env(&ext).contains(&"APP_WEBHOOK_SECRET=hook-secret-from-prompt".to_owned()),
        "{:?}",
        container_env(&ext)
    );
    // An image that is not built in and not installed yet: key/value pairs until an empty key,
    // as Gofer 0.9 asked.
    let image = format!("localtest/ticker:{}", unique("t"));
    let tagged = Command::new("docker")
        .args(["tag", "gofer.local/extension-interval:latest", &image])
        .status()
        .unwrap();
    assert!(tagged.success());
    struct Untag(String);
    impl Drop for Untag {
        fn drop(&mut self) {
            let _ = Command::new("docker").args(["rmi", &self.0]).output();
        }
    }
    let (first, second) = (unique("tk"), unique("tk"));
    let _cleanup_more = Cleanup(vec![first.clone(), second.clone()]);
    let _untag = Untag(image.clone());
    let install = |id: &str, answers: &str| {
        run(gofer()
            .env("GOFER_API_BASE_URL", format!("http://127.0.0.1:{port}"))
            .args(["extension", "install", id, &image, "--interactive"])
            .write_stdin(answers.to_owned()))
    };
    let out = install(&first, "MIN_INTERVAL\n2m\n\n").expect(0);
    assert!(out.stderr.contains("not known yet"), "{}", out.stderr);
    assert!(
        container_env(&first).contains(&"MIN_INTERVAL=2m".to_owned()),
        "{:?}",
        container_env(&first)
    );
    // Once an extension from the image has described itself, its documented settings are asked.
    wait_for("the extension's documentation", async || {
        let (_, body) = call(
            &http,
            Method::GET,
            format!("http://127.0.0.1:{port}/api/extensions/{first}"),
            None,
        )
        .await;
        body["extension"]["documentation"]["config_params"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
            .then_some(body)
    })
    .await;
    let out = install(&second, "3m\n").expect(0);
    assert!(
        out.stderr.contains("MIN_INTERVAL (optional, enter skips)"),
        "{}",
        out.stderr
    );
    assert!(
        container_env(&second).contains(&"MIN_INTERVAL=3m".to_owned()),
        "{:?}",
        container_env(&second)
    );
}

/// A `pull_request` webhook (action `opened`), shaped as GitHub documents the event.
fn pull_request_payload(repository: &str, head_sha: &str) -> String {
    json!({
        "action": "opened",
        "number": 12,
        "pull_request": {
            "id": 279147437,
            "number": 12,
            "state": "open",
            "title": "Run the pipeline",
            "user": {"login": "octocat", "id": 1, "type": "User"},
            "head": {"label": "octocat:feature", "ref": "feature", "sha": head_sha,
                     "repo": {"full_name": repository}},
            "base": {"label": "octocat:main", "ref": "main",
                     "sha": "0000000000000000000000000000000000000001",
                     "repo": {"full_name": repository}}
        },
        "repository": {"id": 1296269, "name": "web", "full_name": repository,
                       "private": false, "default_branch": "main"},
        "sender": {"login": "octocat", "id": 1, "type": "User"},
        "installation": {"id": 7}
    })
    .to_string()
}

/// What the GitHub stand-in was asked: method, path and JSON body of each call, in order.
type GithubCalls = std::sync::Arc<std::sync::Mutex<Vec<(String, String, Value)>>>;

/// A local stand-in for the GitHub API on `0.0.0.0:<port>`: it verifies the app's JWT (RS256
/// with the public half of `key`, issuer `app_id`) before handing out an installation token,
/// checks that token on the check-run calls, and records every call.
async fn github_stand_in(key: &ring::signature::RsaKeyPair, app_id: &str) -> (GithubCalls, u16) {
    use base64::Engine as _;
    use warp::Filter as _;
    let calls = GithubCalls::default();
    let public = key.public().as_ref().to_vec();
    let app_id = app_id.to_owned();
    let record = calls.clone();
    let routes = warp::method()
        .and(warp::path::full())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::bytes())
        .map(
            move |method: warp::http::Method,
                  path: warp::path::FullPath,
                  auth: Option<String>,
                  body: bytes::Bytes| {
                let path = path.as_str().to_owned();
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let reply = |status: u16, value: Value| {
                    warp::http::Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(value.to_string())
                        .unwrap()
                };
                let bearer = auth
                    .as_deref()
                    .and_then(|a| a.strip_prefix("Bearer "))
                    .unwrap_or_default()
                    .to_owned();
                record
                    .lock()
                    .unwrap()
                    .push((method.to_string(), path.clone(), body.clone()));
                if path == "/app/installations/7/access_tokens" {
                    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                    let parts: Vec<&str> = bearer.split('.').collect();
                    let verified = parts.len() == 3
                        && b64.decode(parts[2]).is_ok_and(|signature| {
                            ring::signature::UnparsedPublicKey::new(
                                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                                &public,
                            )
                            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
                            .is_ok()
                        });
                    let claims: Value = parts
                        .get(1)
                        .and_then(|c| b64.decode(c).ok())
                        .and_then(|c| serde_json::from_slice(&c).ok())
                        .unwrap_or(Value::Null);
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs() as i64;
                    if !verified
                        || claims["iss"] != app_id.as_str()
                        || claims["exp"].as_i64().is_none_or(|exp| exp <= now)
                    {
                        return reply(
                            401,
                            json!({"message": "A JSON web token could not be decoded"}),
                        );
                    }
                    return reply(
                        201,
                        json!({"token": "ghs_standin", "expires_at": "2099-01-01T00:00:00Z"}),
                    );
                }
                if bearer != "ghs_standin" {
                    return reply(401, json!({"message": "Bad credentials"}));
                }
                match method.as_str() {
                    "POST" if path == "/repos/acme/web/check-runs" => {
                        let n = record.lock().unwrap().len();
                        reply(201, json!({"id": 1000 + n, "status": "in_progress"}))
                    }
                    "PATCH" if path.starts_with("/repos/acme/web/check-runs/") => {
                        reply(200, json!({"status": "completed"}))
                    }
                    _ => reply(404, json!({"message": "Not Found"})),
                }
            },
        );
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    (calls, port)
}

/// `pull_request_with_check`: a signed pull_request webhook starts the subscribed pipelines and
/// the extension reports each run as a check run on a GitHub stand-in (the app's JWT verified
/// there): created `in_progress` on the head commit with a details URL to the run, completed
/// `success` for the passing pipeline and `failure` for the failing one. The app key reaches the
/// extension through a global secret reference. Without the app settings such a subscription is
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_pull_request_checks_report_run_outcomes() {
    use base64::Engine as _;
    gofer_server::testing::require_docker()
        .await
        .expect("this test needs Docker: run .ci/ensure-docker");
    let pem = include_str!("../fixtures/github-app-test-key.pem");
    let der: Vec<u8> = base64::engine::general_purpose::STANDARD
        .decode(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let key = ring::signature::RsaKeyPair::from_der(&der).unwrap();
    let (calls, github_port) = github_stand_in(&key, "42").await;

    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let port = unused_addr().port();
    let (_server, events_address) = start_with_events(&http, port, dir.path()).await;
    let root = format!("http://127.0.0.1:{port}");
    let (ext, plain, ok, bad) = (unique("ghc"), unique("ghp"), unique("pass"), unique("fail"));
    let slow = unique("slow");
    let _cleanup = Cleanup(vec![ext.clone(), plain.clone()]);
    let cli = |args: &[&str]| cli_on(port, args);
    let secret = "pr-webhook-secret";
    let encoded_key = base64::engine::general_purpose::STANDARD.encode(pem);
    cli(&["secret", "global", "put", "github_app_key", &encoded_key]).expect(0);
    cli(&[
        "extension",
        "install",
        &ext,
        "gofer.local/extension-github",
        "-s",
        &format!("APP_WEBHOOK_SECRET={secret}"),
        "-s",
        "APP_ID=42",
        "-s",
        "APP_INSTALLATION=7",
        "-s",
        "APP_KEY=global_secret{{github_app_key}}",
        "-s",
        &format!("APP_API_URL=http://172.17.0.1:{github_port}"),
    ])
    .expect(0);
    cli(&[
        "extension",
        "install",
        &plain,
        "gofer.local/extension-github",
        "-s",
        "APP_WEBHOOK_SECRET=x",
    ])
    .expect(0);
    crate::defects::deploy(&http, &root, &ok, envs_task()).await;
    crate::defects::deploy(
        &http,
        &root,
        &bad,
        json!([{"id": "fails", "image": "gofer.local/debug-fail"}]),
    )
    .await;
    crate::defects::deploy(
        &http,
        &root,
        &slow,
        json!([{"id": "wait", "image": "gofer.local/debug-wait",
                "variables": {"WAIT_DURATION": "25s"}}]),
    )
    .await;
    let out = cli(&[
        "pipeline",
        "subscribe",
        &ok,
        &plain,
        "nocheck",
        "-s",
        "repository=acme/web",
        "-s",
        "event_filter=pull_request_with_check",
    ])
    .expect(7);
    assert!(
        out.stderr
            .contains("event_filter: pull_request_with_check needs the GitHub App settings"),
        "{}",
        out.stderr
    );
    for pipeline in [&ok, &bad, &slow] {
        cli(&[
            "pipeline",
            "subscribe",
            pipeline,
            &ext,
            "checks",
            "-s",
            "repository=acme/web",
            "-s",
            "event_filter=pull_request_with_check/opened,synchronize",
        ])
        .expect(0);
    }

    let sha = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
    let body = pull_request_payload("acme/web", sha);
    let status = http
        .post(format!("http://{events_address}/events/{ext}"))
        .header("content-type", "application/json")
        .header("x-github-event", "pull_request")
        .header("x-hub-signature-256", github_signature(secret, &body))
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");

    let completed = async |count: usize| {
        wait_for("check runs completed", async || {
            let calls = calls.lock().unwrap().clone();
            let done: Vec<(String, String, Value)> = calls
                .into_iter()
                .filter(|(method, _, _)| method == "PATCH")
                .collect();
            (done.len() == count).then(|| json!(done))
        })
        .await
    };
    let first_two = completed(2).await;
    // The extension restarts while the slow run goes on: the new process finds the check run
    // in its object store and completes it (without creating another).
    cli(&["extension", "disable", &ext]).expect(0);
    cli(&["extension", "enable", &ext]).expect(0);
    let all = completed(3).await;
    let logs = cli(&["extension", "logs", &ext]).expect(0).stdout;
    assert!(
        logs.contains("following run 1 again for check run"),
        "the restarted extension took the check run up: {logs}"
    );
    let last = &all[2];
    assert_eq!(last[2]["conclusion"], "success", "{last}");
    assert!(
        last[2]["details_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/pipelines/{slow}/runs/1")),
        "{last}"
    );
    let calls = calls.lock().unwrap().clone();
    let created: Vec<&Value> = calls
        .iter()
        .filter(|(method, path, _)| method == "POST" && path == "/repos/acme/web/check-runs")
        .map(|(_, _, body)| body)
        .collect();
    assert_eq!(created.len(), 3, "{calls:?}");
    for body in &created {
        assert_eq!(body["name"], "checks", "{body}");
        assert_eq!(body["head_sha"], sha, "{body}");
        assert_eq!(body["status"], "in_progress", "{body}");
    }
    let mut outcomes: Vec<(String, String)> = first_two
        .as_array()
        .unwrap()
        .iter()
        .map(|call| {
            let body = &call[2];
            assert_eq!(body["status"], "completed", "{body}");
            (
                body["details_url"].as_str().unwrap().to_owned(),
                body["conclusion"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    outcomes.sort_by_key(|(_, conclusion)| conclusion.clone());
    assert_eq!(
        outcomes,
        [
            (
                format!("http://172.17.0.1:{port}/api/namespaces/default/pipelines/{bad}/runs/1"),
                "failure".to_owned()
            ),
            (
                format!("http://172.17.0.1:{port}/api/namespaces/default/pipelines/{ok}/runs/1"),
                "success".to_owned()
            ),
        ]
    );
    // The debug info shows them; the key never appears in the API.
    let debug = cli(&["extension", "debug", &plain]).expect(0).stdout;
    assert!(debug.contains("not configured"), "{debug}");
    let debug = cli(&["extension", "debug", &ext]).expect(0).stdout;
    assert!(
        debug.contains(&format!("\"pipeline_id\":\"{slow}\""))
            && debug.contains("\"conclusion\":\"success\""),
        "{debug}"
    );
    let shown = cli(&["extension", "get", &ext, "--output", "json"])
        .expect(0)
        .stdout;
    assert!(!shown.contains(&encoded_key[..40]), "{shown}");

    // GitHub out of reach: the run goes on regardless, the failure shows in debug info.
    let down = unique("ghd");
    let _cleanup_down = Cleanup(vec![down.clone()]);
    cli(&[
        "extension",
        "install",
        &down,
        "gofer.local/extension-github",
        "-s",
        &format!("APP_WEBHOOK_SECRET={secret}"),
        "-s",
        "APP_ID=42",
        "-s",
        "APP_INSTALLATION=7",
        "-s",
        &format!("APP_KEY={encoded_key}"),
        "-s",
        "APP_API_URL=http://172.17.0.1:1",
    ])
    .expect(0);
    cli(&[
        "pipeline",
        "subscribe",
        &ok,
        &down,
        "unreachable",
        "-s",
        "repository=acme/web",
        "-s",
        "event_filter=pull_request_with_check",
    ])
    .expect(0);
    let body = pull_request_payload("acme/web", sha);
    http.post(format!("http://{events_address}/events/{down}"))
        .header("x-github-event", "pull_request")
        .header("x-hub-signature-256", github_signature(secret, &body))
        .body(body)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let run = format!("{root}/api/namespaces/default/pipelines/{ok}/runs/2");
    wait_for("the run despite GitHub being down", async || {
        let (_, body) = call(&http, Method::GET, run.clone(), None).await;
        (body["run"]["state"] == "complete").then_some(body)
    })
    .await;
    let debug = wait_for("the failure in debug info", async || {
        let debug = cli(&["extension", "debug", &down]).expect(0).stdout;
        debug
            .contains("not_created")
            .then_some(Value::String(debug))
    })
    .await;
    assert!(debug.to_string().contains("172.17.0.1:1"), "{debug}");
    let (_, finished) = call(&http, Method::GET, run, None).await;
    assert_eq!(finished["run"]["status"], "successful", "{finished}");
}
