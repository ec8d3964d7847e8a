//! Auth against a real server (docs/auth.md, docs/api.md#roles-global-secrets-system-tokens, docs/auth.md#run-tokens): the permission matrix over every route,
//! tokens, roles, the loopback bypass and run tokens.

use crate::support::{TestServer, assert_error, busybox, config_for};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// A server with `development.bypass_auth = false`, and its bootstrap secret.
pub(crate) async fn strict_server() -> (TestServer, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    config.development.bypass_auth = false;
    let s = TestServer::start_with(config).await;
    let (status, body) = s.call("POST", "/api/tokens/bootstrap", None).await;
    assert_eq!(status, 201, "{body}");
    let secret = body["secret"].as_str().unwrap().to_string();
    (s, dir, format!("Bearer {secret}"))
}

/// Creates a token as `admin` and returns `Bearer <secret>` and the token's id.
pub(crate) async fn token(s: &TestServer, admin: &str, body: Value) -> (String, String) {
    let (status, created) = s
        .call_as(Some(admin), "POST", "/api/tokens", Some(body))
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 40, "{created}");
    (
        format!("Bearer {secret}"),
        created["token_details"]["id"].as_str().unwrap().to_string(),
    )
}

/// Polls until `check` holds (deadline 10 s).
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Who passes a route (admins always do; tokens that fail authentication never do).
#[derive(Clone, Copy)]
struct Who {
    /// Callers without a token (the `anonymous` role).
    anonymous: bool,
    /// A token with the system `user` role (namespace `default`).
    user: bool,
    /// A token whose role grants everything, but only in namespace `elsewhere`.
    other_ns: bool,
}

const ADMIN_ONLY: Who = Who {
    anonymous: false,
    user: false,
    other_ns: false,
};
const NS_SCOPED: Who = Who {
    anonymous: false,
    user: true,
    other_ns: false,
};
const ANON_READ: Who = Who {
    anonymous: true,
    user: true,
    other_ns: false,
};
const ANY_TOKEN: Who = Who {
    anonymous: false,
    user: true,
    other_ns: true,
};
/// Write/delete on extensions: the `user` role only reads them (docs/auth.md#roles-that-always-exist); the other-namespace
/// role holds `extensions:.*`.
const EXTENSION_WRITERS: Who = Who {
    anonymous: false,
    user: false,
    other_ns: true,
};

/// One row: a concrete request for a route and the status it gets once access is granted.
struct Row {
    method: &'static str,
    template: &'static str,
    path: String,
    body: Option<Value>,
    /// The answer for callers that pass (chosen so the request changes nothing).
    pass: u16,
    /// `Some(..)` for routes that check access; `None` for routes without auth (docs/auth.md#order-of-checks:
    /// health, metrics, system metadata, bootstrap), which give `pass` to everyone.
    who: Option<Who>,
}

fn row(
    method: &'static str,
    template: &'static str,
    body: Option<Value>,
    pass: u16,
    who: Option<Who>,
    user_token_id: &str,
) -> Row {
    let path = template
        .replace("{ns}", "default")
        .replace("{p}", "matrix")
        .replace("{run}", "999")
        .replace("{task}", "first")
        .replace("{version}", "999")
        .replace("{other}", "998")
        .replace("{deployment_id}", "999")
        .replace("{event_id}", "0190f0f0-0000-7000-8000-000000000000")
        .replace("{key}", "no-such-key")
        .replace("{ext}", "no-such-ext")
        .replace("{sub}", "no-such-sub");
    let path = match template {
        // Admin routes get a target that does not exist, so passing changes nothing.
        "/api/namespaces/{ns}" if method != "GET" => path.replace("default", "no-such-ns"),
        "/api/namespaces/{ns}/pipelines/{p}" if method == "DELETE" => {
            path.replace("matrix", "no-such-p")
        }
        "/api/roles/{id}" if method == "GET" => path.replace("{id}", "admin"),
        "/api/roles/{id}" => path.replace("{id}", "no-such-role"),
        // A pipeline object put that passes must not create one: an invalid key is refused.
        "/api/namespaces/{ns}/pipelines/{p}/objects/{key}" if method == "POST" => {
            path.replace("no-such-key", "bad%00key")
        }
        t if t.starts_with("/api/extensions/") => path.replace("{id}", "no-such-ext"),
        // Own-token access: the user token reads itself.
        "/api/tokens/{id}" if method == "GET" => path.replace("{id}", user_token_id),
        "/api/tokens/{id}" => path.replace("{id}", "0190f0f0-0000-7000-8000-000000000001"),
        _ => path,
    };
    Row {
        method,
        template,
        path,
        body,
        pass,
        who,
    }
}

/// The matrix: every route × {no token, garbage, expired, disabled, other namespace, user,
/// admin} → the exact status (docs/auth.md#route-requirements). A route without a row fails the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_matrix_covers_every_route() {
    let (s, _dir, bootstrap) = strict_server().await;
    // A live pipeline `default/matrix` for the pipeline-scoped rows.
    let base = "/api/namespaces/default/pipelines/matrix/configs";
    let config = crate::support::simple_config("matrix");
    let (status, body) = s
        .call_as(Some(&bootstrap), "POST", base, Some(config))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s
        .call_as(Some(&bootstrap), "POST", &format!("{base}/1"), None)
        .await;
    assert_eq!(status, 201, "{body}");
    // The identities.
    let (admin, _) = token(&s, &bootstrap, json!({"user": "ada", "roles": ["admin"]})).await;
    let (user, user_id) = token(&s, &bootstrap, json!({"user": "uma", "roles": ["user"]})).await;
    let everything = [
        "namespaces:elsewhere",
        "pipelines:.*",
        "configs",
        "deployments",
        "events",
        "extensions:.*",
        "objects",
        "permissions",
        "runs",
        "secrets",
        "subscriptions",
        "system",
        "task_executions",
        "tokens",
    ];
    let (status, body) = s
        .call_as(
            Some(&bootstrap),
            "POST",
            "/api/roles",
            Some(json!({"id": "elsewhere-all", "description": "all of elsewhere",
                "permissions": [{"resources": everything, "actions": ["read", "write", "delete"]}]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (other, _) = token(
        &s,
        &bootstrap,
        json!({"user": "otto", "roles": ["elsewhere-all"]}),
    )
    .await;
    let (disabled, disabled_id) =
        token(&s, &bootstrap, json!({"user": "dan", "roles": ["admin"]})).await;
    let (status, body) = s
        .call_as(
            Some(&bootstrap),
            "PATCH",
            &format!("/api/tokens/{disabled_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (expired, _) = token(
        &s,
        &bootstrap,
        json!({"user": "eve", "roles": ["admin"], "expires": 1}),
    )
    .await;
    until("the 1-second token never expired", || async {
        s.call_as(Some(&expired), "GET", "/api/tokens/whoami", None)
            .await
            .0
            == 401
    })
    .await;

    let u = &user_id;
    let rows = vec![
        // docs/api.md#extensions extensions (none installed: the target does not exist)
        row("GET", "/api/extensions", None, 200, Some(ANY_TOKEN), u),
        row(
            "POST",
            "/api/extensions",
            Some(json!({})),
            400,
            Some(ADMIN_ONLY),
            u,
        ),
        row("GET", "/api/extensions/{id}", None, 404, Some(ANY_TOKEN), u),
        row(
            "DELETE",
            "/api/extensions/{id}",
            None,
            404,
            Some(ADMIN_ONLY),
            u,
        ),
        row(
            "PATCH",
            "/api/extensions/{id}",
            Some(json!({})),
            400,
            Some(ADMIN_ONLY),
            u,
        ),
        row(
            "GET",
            "/api/extensions/{id}/debug",
            None,
            404,
            Some(ADMIN_ONLY),
            u,
        ),
        row(
            "GET",
            "/api/extensions/{id}/logs",
            None,
            404,
            Some(ANY_TOKEN),
            u,
        ),
        row(
            "GET",
            "/api/extensions/{id}/objects",
            None,
            404,
            Some(ANY_TOKEN),
            u,
        ),
        row(
            "GET",
            "/api/extensions/{id}/objects/{key}",
            None,
            404,
            Some(ANY_TOKEN),
            u,
        ),
        row(
            "POST",
            "/api/extensions/{id}/objects/{key}",
            None,
            404,
            Some(EXTENSION_WRITERS),
            u,
        ),
        row(
            "DELETE",
            "/api/extensions/{id}/objects/{key}",
            None,
            404,
            Some(EXTENSION_WRITERS),
            u,
        ),
        row(
            "GET",
            "/api/extensions/{id}/subscriptions",
            None,
            404,
            Some(ANY_TOKEN),
            u,
        ),
        // docs/api.md#objects pipeline objects
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/objects",
            None,
            200,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/objects/{key}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "POST",
            "/api/namespaces/{ns}/pipelines/{p}/objects/{key}",
            None,
            400,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "DELETE",
            "/api/namespaces/{ns}/pipelines/{p}/objects/{key}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        // docs/api.md#runs-and-task-executions run objects (run 999 does not exist)
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/objects",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/objects/{key}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "POST",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/objects/{key}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "DELETE",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/objects/{key}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        // docs/api.md#secrets-and-subscriptions pipeline secrets
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/secrets",
            None,
            200,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "POST",
            "/api/namespaces/{ns}/pipelines/{p}/secrets",
            Some(json!({})),
            400,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/secrets/{key}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "DELETE",
            "/api/namespaces/{ns}/pipelines/{p}/secrets/{key}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        // docs/api.md#secrets-and-subscriptions subscriptions
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/subscriptions",
            None,
            200,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "POST",
            "/api/namespaces/{ns}/pipelines/{p}/subscriptions",
            Some(json!({})),
            400,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/subscriptions/{ext}/{sub}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "DELETE",
            "/api/namespaces/{ns}/pipelines/{p}/subscriptions/{ext}/{sub}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "PATCH",
            "/api/namespaces/{ns}/pipelines/{p}/subscriptions/{ext}/{sub}",
            Some(json!({})),
            400,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "POST",
            "/api/namespaces/{ns}/pipelines/{p}/subscriptions/{ext}/{sub}/backfill",
            Some(json!({"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T01:00:00Z"})),
            404,
            Some(NS_SCOPED),
            u,
        ),
        // docs/api.md#roles-global-secrets-system-tokens global secrets
        row("GET", "/api/secrets/global", None, 200, Some(ADMIN_ONLY), u),
        row(
            "POST",
            "/api/secrets/global",
            Some(json!({})),
            400,
            Some(ADMIN_ONLY),
            u,
        ),
        row(
            "GET",
            "/api/secrets/global/{key}",
            None,
            404,
            Some(ADMIN_ONLY),
            u,
        ),
        row(
            "DELETE",
            "/api/secrets/global/{key}",
            None,
            404,
            Some(ADMIN_ONLY),
            u,
        ),
        // docs/runs.md#results-and-payload task results (run 999 does not exist)
        row(
            "PUT",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/result",
            Some(json!({"a": 1})),
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "POST",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/result",
            Some(json!({"a": 1})),
            404,
            Some(NS_SCOPED),
            u,
        ),
        // docs/api.md#operations metrics: no auth
        row("GET", "/metrics", None, 200, None, u),
        // docs/api.md#events events
        row("GET", "/api/events", None, 400, Some(ANY_TOKEN), u),
        row(
            "GET",
            "/api/events/{event_id}",
            None,
            404,
            Some(ANY_TOKEN),
            u,
        ),
        row(
            "DELETE",
            "/api/events/{event_id}",
            None,
            404,
            Some(ADMIN_ONLY),
            u,
        ),
        // docs/api.md#namespaces-and-pipelines namespaces and pipelines
        row("GET", "/api/namespaces", None, 200, Some(ANY_TOKEN), u),
        row("GET", "/api/runs", None, 200, Some(ANY_TOKEN), u),
        row(
            "POST",
            "/api/namespaces",
            Some(json!({})),
            400,
            Some(ADMIN_ONLY),
            u,
        ),
        row("GET", "/api/namespaces/{ns}", None, 200, Some(NS_SCOPED), u),
        row(
            "DELETE",
            "/api/namespaces/{ns}",
            None,
            404,
            Some(ADMIN_ONLY),
            u,
        ),
        row(
            "PATCH",
            "/api/namespaces/{ns}",
            None,
            400,
            Some(ADMIN_ONLY),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines",
            None,
            200,
            Some(ANON_READ),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}",
            None,
            200,
            Some(ANON_READ),
            u,
        ),
        row(
            "DELETE",
            "/api/namespaces/{ns}/pipelines/{p}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "PATCH",
            "/api/namespaces/{ns}/pipelines/{p}",
            Some(json!({"state": "unknown"})),
            400,
            Some(NS_SCOPED),
            u,
        ),
        // docs/api.md#configs-and-deployments configs and deployments
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/configs",
            None,
            200,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "POST",
            "/api/namespaces/{ns}/pipelines/{p}/configs",
            Some(json!({})),
            400,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/configs/{version}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/configs/{version}/diff/{other}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "POST",
            "/api/namespaces/{ns}/pipelines/{p}/configs/{version}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "DELETE",
            "/api/namespaces/{ns}/pipelines/{p}/configs/{version}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/deployments",
            None,
            200,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/deployments/{deployment_id}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "POST",
            "/api/namespaces/{ns}/pipelines/{p}/deployments/{deployment_id}/promote",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "POST",
            "/api/namespaces/{ns}/pipelines/{p}/deployments/{deployment_id}/abort",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        // docs/api.md#runs-and-task-executions runs and task executions
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/runs",
            None,
            200,
            Some(ANON_READ),
            u,
        ),
        row(
            "POST",
            "/api/namespaces/{ns}/pipelines/{p}/runs",
            Some(json!({"only": []})),
            400,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}",
            None,
            404,
            Some(ANON_READ),
            u,
        ),
        row(
            "DELETE",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "POST",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/retry",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "DELETE",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/logs",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "DELETE",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/logs",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        row(
            "GET",
            "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/attach",
            None,
            404,
            Some(NS_SCOPED),
            u,
        ),
        // docs/api.md#roles-global-secrets-system-tokens roles
        row("GET", "/api/roles", None, 200, Some(ANY_TOKEN), u),
        row(
            "POST",
            "/api/roles",
            Some(json!({})),
            400,
            Some(ADMIN_ONLY),
            u,
        ),
        row("GET", "/api/roles/{id}", None, 200, Some(ANY_TOKEN), u),
        row("DELETE", "/api/roles/{id}", None, 404, Some(ADMIN_ONLY), u),
        row(
            "PATCH",
            "/api/roles/{id}",
            Some(json!({"description": "x"})),
            404,
            Some(ADMIN_ONLY),
            u,
        ),
        // docs/api.md#roles-global-secrets-system-tokens system
        row("GET", "/api/system", None, 200, Some(ADMIN_ONLY), u),
        row("GET", "/api/system/backup", None, 200, Some(ADMIN_ONLY), u),
        row(
            "PATCH",
            "/api/system",
            Some(json!({})),
            400,
            Some(ADMIN_ONLY),
            u,
        ),
        row("GET", "/api/system/metadata", None, 200, None, u),
        // docs/api.md#roles-global-secrets-system-tokens tokens
        row("GET", "/api/tokens", None, 200, Some(ADMIN_ONLY), u),
        row(
            "POST",
            "/api/tokens",
            Some(json!({"user": ""})),
            400,
            Some(ADMIN_ONLY),
            u,
        ),
        row("POST", "/api/tokens/bootstrap", None, 409, None, u),
        row("GET", "/api/tokens/whoami", None, 200, Some(ANY_TOKEN), u),
        // `user` reads its own token; `elsewhere` may not.
        row("GET", "/api/tokens/{id}", None, 200, Some(NS_SCOPED), u),
        row("DELETE", "/api/tokens/{id}", None, 404, Some(ADMIN_ONLY), u),
        row(
            "PATCH",
            "/api/tokens/{id}",
            Some(json!({"disabled": true})),
            404,
            Some(ADMIN_ONLY),
            u,
        ),
        // docs/api.md#operations operational
        row("GET", "/api/health", None, 200, None, u),
        // docs/api.md#the-openapi-document: no auth
        row("GET", "/api/openapi.json", None, 200, None, u),
    ];

    // No route may be missing from the table, and the table names no route that is gone.
    let table: BTreeSet<(String, &str)> = rows
        .iter()
        .map(|r| (r.method.to_string(), r.template))
        .collect();
    let routes: BTreeSet<(String, &str)> = gofer_server::http::routes::all()
        .iter()
        .map(|r| (r.method.to_string(), r.template))
        .collect();
    let missing: Vec<_> = routes.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "routes without a permission-matrix row (add one to server/tests/it/auth.rs): {missing:?}"
    );
    let stale: Vec<_> = table.difference(&routes).collect();
    assert!(
        stale.is_empty(),
        "matrix rows for routes that do not exist: {stale:?}"
    );

    let garbage = "Bearer 0123456789abcdefghijABCDEFGHIJ0123456789";
    let mut failures = Vec::new();
    let mut checked = 0;
    for r in &rows {
        let identities: [(&str, Option<&str>, u16); 7] = match r.who {
            None => [
                ("no token", None, r.pass),
                ("garbage", Some(garbage), r.pass),
                ("expired", Some(&expired), r.pass),
                ("disabled", Some(&disabled), r.pass),
                ("other namespace", Some(&other), r.pass),
                ("user", Some(&user), r.pass),
                ("admin", Some(&admin), r.pass),
            ],
            Some(who) => [
                ("no token", None, if who.anonymous { r.pass } else { 401 }),
                ("garbage", Some(garbage), 401),
                ("expired", Some(&expired), 401),
                ("disabled", Some(&disabled), 401),
                (
                    "other namespace",
                    Some(&other),
                    if who.other_ns { r.pass } else { 403 },
                ),
                ("user", Some(&user), if who.user { r.pass } else { 403 }),
                ("admin", Some(&admin), r.pass),
            ],
        };
        for (name, auth, expected) in identities {
            let (status, body) = s.call_as(auth, r.method, &r.path, r.body.clone()).await;
            checked += 1;
            if status != expected {
                failures.push(format!(
                    "{} {} as {name}: expected {expected}, got {status} {body}",
                    r.method, r.path
                ));
            }
            // Denials carry the docs/auth.md#tokens messages.
            if expected == 401 && status == 401 {
                let want = match name {
                    "no token" => "authorization header missing",
                    "garbage" => "invalid token",
                    "expired" => "token expired",
                    _ => "token disabled",
                };
                if body["message"] != want {
                    failures.push(format!("{} {} as {name}: message {body}", r.method, r.path));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Nothing above changed the pipeline: it still exists and has no run.
    let (status, body) = s
        .call_as(
            Some(&admin),
            "GET",
            "/api/namespaces/default/pipelines/matrix/runs",
            None,
        )
        .await;
    assert_eq!(
        (status, body["runs"].as_array().map(Vec::len)),
        (200, Some(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_name_what_is_missing() {
    let (s, _dir, bootstrap) = strict_server().await;
    let (user, _) = token(&s, &bootstrap, json!({"user": "uma", "roles": ["user"]})).await;
    let got = s
        .call_as(
            Some(&user),
            "POST",
            "/api/namespaces",
            Some(json!({"id": "abc"})),
        )
        .await;
    assert_error(&got, 403, "route requires an admin token");
    let got = s
        .call_as(Some(&user), "GET", "/api/namespaces/other/pipelines", None)
        .await;
    assert_error(
        &got,
        403,
        "permission denied: this route requires read on namespaces:other, pipelines",
    );
    for (header, message) in [
        ("Basic dXNlcjpwYXNz", "malformed authorization header"),
        ("Bearer", "malformed authorization header"),
        ("Bearer nope", "invalid token"),
    ] {
        let got = s
            .call_as(Some(header), "GET", "/api/tokens/whoami", None)
            .await;
        assert_error(&got, 401, message);
    }
    // The scheme is case-insensitive.
    let lower = user.replacen("Bearer", "bearer", 1);
    let (status, body) = s
        .call_as(Some(&lower), "GET", "/api/tokens/whoami", None)
        .await;
    assert_eq!((status, body["token"]["user"].as_str()), (200, Some("uma")));
    // A request with a bad token is 401 even where anonymous callers may read (docs/auth.md#without-a-token).
    let got = s
        .call_as(
            Some("Bearer nope"),
            "GET",
            "/api/namespaces/default/pipelines",
            None,
        )
        .await;
    assert_error(&got, 401, "invalid token");
    // The namespace list holds only what the caller could read (docs/auth.md#how-a-request-is-matched).
    let (status, _) = s
        .call_as(
            Some(&bootstrap),
            "POST",
            "/api/namespaces",
            Some(json!({"id": "hidden-ns"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = s.call_as(Some(&user), "GET", "/api/namespaces", None).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = body["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["default"]);
    let (_, body) = s
        .call_as(Some(&bootstrap), "GET", "/api/namespaces", None)
        .await;
    assert_eq!(body["namespaces"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_once_and_reserved_roles() {
    let (s, _dir, bootstrap) = strict_server().await;
    let got = s.call("POST", "/api/tokens/bootstrap", None).await;
    assert_error(&got, 409, "bootstrap token already exists");
    let (status, body) = s
        .call_as(Some(&bootstrap), "GET", "/api/system", None)
        .await;
    assert_eq!(
        (status, &body["bootstrap_token_created"]),
        (200, &json!(true))
    );
    let (status, body) = s
        .call_as(Some(&bootstrap), "GET", "/api/tokens/whoami", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["token"]["user"], "bootstrap");
    assert_eq!(body["token"]["roles"], json!(["bootstrap"]));
    assert_eq!(body["token"]["metadata"]["bootstrap_token"], "true");
    assert_eq!(body["token"]["expires"], 0);
    for role in ["bootstrap", "extension:foo", "run:default:p:1"] {
        let got = s
            .call_as(
                Some(&bootstrap),
                "POST",
                "/api/tokens",
                Some(json!({"user": "x", "roles": ["admin", role]})),
            )
            .await;
        assert_error(&got, 403, &format!("role '{role}' cannot be given"));
    }
    let got = s
        .call_as(
            Some(&bootstrap),
            "POST",
            "/api/tokens",
            Some(json!({"user": "x", "roles": ["no-such-role"]})),
        )
        .await;
    assert_error(&got, 400, "roles: unknown role 'no-such-role'");
    let got = s
        .call_as(
            Some(&bootstrap),
            "POST",
            "/api/tokens",
            Some(json!({"user": 5})),
        )
        .await;
    assert_error(&got, 400, "user: invalid type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_roles_exist_and_cannot_change() {
    let (s, _dir, admin) = strict_server().await;
    let (status, body) = s.call_as(Some(&admin), "GET", "/api/roles", None).await;
    assert_eq!(status, 200);
    let ids: BTreeSet<&str> = body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from(["admin", "anonymous", "bootstrap", "user"])
    );
    let (_, body) = s
        .call_as(Some(&admin), "GET", "/api/roles/anonymous", None)
        .await;
    assert_eq!(body["role"]["system_role"], true);
    assert_eq!(
        body["role"]["permissions"][0]["resources"],
        json!(["namespaces:default", "pipelines:.*", "runs"])
    );
    for id in ["admin", "bootstrap", "user", "anonymous"] {
        let got = s
            .call_as(
                Some(&admin),
                "PATCH",
                &format!("/api/roles/{id}"),
                Some(json!({"description": "mine now"})),
            )
            .await;
        assert_error(&got, 403, "system role");
        let got = s
            .call_as(Some(&admin), "DELETE", &format!("/api/roles/{id}"), None)
            .await;
        assert_error(&got, 403, "system role");
        let got = s
            .call_as(
                Some(&admin),
                "POST",
                "/api/roles",
                Some(json!({"id": id, "permissions": []})),
            )
            .await;
        assert_error(&got, 409, "already exists");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_roles_validate_grant_and_revoke() {
    let (s, _dir, admin) = strict_server().await;
    let perm = |resources: Value| json!({"id": "team-reader", "permissions": [{"resources": resources, "actions": ["read"]}]});
    for (resources, needle) in [
        (
            json!(["bogus"]),
            "permissions[0].resources[0]: unknown resource kind 'bogus'",
        ),
        (
            json!(["runs:x"]),
            "permissions[0].resources[0]: resource 'runs:x': kind 'runs' takes no target",
        ),
        (
            json!(["namespaces", "pipelines:("]),
            "permissions[0].resources[1]: resource 'pipelines:(': '(' is not a valid regular expression",
        ),
        (
            json!([]),
            "permissions[0].resources: must name at least one resource",
        ),
    ] {
        let got = s
            .call_as(Some(&admin), "POST", "/api/roles", Some(perm(resources)))
            .await;
        assert_error(&got, 400, needle);
    }
    let got = s
        .call_as(
            Some(&admin),
            "POST",
            "/api/roles",
            Some(json!({"id": "a:b"})),
        )
        .await;
    assert_error(&got, 400, "id: must be 3-32 characters");
    // Kinds are case-insensitive in, lowercase out; targets are kept.
    let (status, body) = s
        .call_as(
            Some(&admin),
            "POST",
            "/api/roles",
            Some(perm(json!(["Namespaces:team-.*", "PIPELINES", "runs"]))),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["role"]["permissions"][0]["resources"],
        json!(["namespaces:team-.*", "pipelines", "runs"])
    );
    assert_eq!(body["role"]["system_role"], false);
    let (reader, _) = token(
        &s,
        &admin,
        json!({"user": "rita", "roles": ["team-reader"]}),
    )
    .await;
    for ns in ["team-a", "xteam-a"] {
        let (status, _) = s
            .call_as(
                Some(&admin),
                "POST",
                "/api/namespaces",
                Some(json!({"id": ns})),
            )
            .await;
        assert_eq!(status, 201);
    }
    // Anchored: `team-.*` matches team-a but not xteam-a.
    let (status, _) = s
        .call_as(
            Some(&reader),
            "GET",
            "/api/namespaces/team-a/pipelines",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .call_as(
            Some(&reader),
            "GET",
            "/api/namespaces/xteam-a/pipelines",
            None,
        )
        .await;
    assert_eq!(status, 403);
    // Editing the role takes effect on the next request (the cache follows role writes).
    let (status, body) = s
        .call_as(
            Some(&admin),
            "PATCH",
            "/api/roles/team-reader",
            Some(json!({"permissions": [{"resources": ["namespaces:xteam-a", "pipelines"], "actions": ["read"]}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = s
        .call_as(
            Some(&reader),
            "GET",
            "/api/namespaces/xteam-a/pipelines",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .call_as(
            Some(&reader),
            "GET",
            "/api/namespaces/team-a/pipelines",
            None,
        )
        .await;
    assert_eq!(status, 403);
    let got = s
        .call_as(Some(&admin), "PATCH", "/api/roles/team-reader", None)
        .await;
    assert_error(&got, 400, "at least one of description, permissions");
    // Deleting the role leaves the token authenticated but without the permission.
    let (status, _) = s
        .call_as(Some(&admin), "DELETE", "/api/roles/team-reader", None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = s
        .call_as(
            Some(&reader),
            "GET",
            "/api/namespaces/xteam-a/pipelines",
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = s
        .call_as(Some(&reader), "GET", "/api/tokens/whoami", None)
        .await;
    // The delete took the role off the token (a role re-created later under this id must not
    // give it anything).
    assert_eq!((status, &body["token"]["roles"]), (200, &json!([])));
    let got = s
        .call_as(Some(&admin), "GET", "/api/roles/team-reader", None)
        .await;
    assert_error(&got, 404, "role 'team-reader' not found");
    let got = s
        .call_as(Some(&admin), "GET", "/api/roles/..%2f..", None)
        .await;
    assert_error(&got, 404, "not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_lifecycle_and_secret_storage() {
    let (s, dir, admin) = strict_server().await;
    let (status, created) = s
        .call_as(
            Some(&admin),
            "POST",
            "/api/tokens",
            Some(json!({"user": "carol", "roles": ["user"], "expires": 3600, "metadata": {"team": "x"}})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.len() == 40 && secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    let carol = format!("Bearer {secret}");
    let id = created["token_details"]["id"].as_str().unwrap().to_string();
    let details = &created["token_details"];
    assert_eq!(details["metadata"]["team"], "x");
    let expires = details["expires"].as_u64().unwrap();
    let created_at = details["created"].as_u64().unwrap();
    assert_eq!(expires - created_at, 3_600_000);
    // No listing or lookup ever shows a secret or a hash.
    let (status, list) = s.call_as(Some(&admin), "GET", "/api/tokens", None).await;
    assert_eq!(status, 200);
    let text = list.to_string();
    assert!(!text.contains(&secret) && !text.contains("hash"), "{text}");
    assert_eq!(list["tokens"].as_array().unwrap().len(), 2);
    // Own token readable; another's not.
    let (status, body) = s
        .call_as(Some(&carol), "GET", &format!("/api/tokens/{id}"), None)
        .await;
    assert_eq!(
        (status, body["token"]["user"].as_str()),
        (200, Some("carol"))
    );
    let (_, me) = s
        .call_as(Some(&admin), "GET", "/api/tokens/whoami", None)
        .await;
    let admin_id = me["token"]["id"].as_str().unwrap();
    let (status, _) = s
        .call_as(
            Some(&carol),
            "GET",
            &format!("/api/tokens/{admin_id}"),
            None,
        )
        .await;
    assert_eq!(status, 403);
    // Changing the caller's own token is refused; a PATCH needs a field.
    let got = s
        .call_as(
            Some(&admin),
            "PATCH",
            &format!("/api/tokens/{admin_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_error(
        &got,
        409,
        "cannot change the token this request is made with",
    );
    let got = s
        .call_as(Some(&admin), "PATCH", &format!("/api/tokens/{id}"), None)
        .await;
    assert_error(&got, 400, "at least one of disabled");
    // Disable, enable, delete: each takes effect on the next request.
    let token_path = format!("/api/tokens/{id}");
    let patch = |disabled: bool| {
        s.call_as(
            Some(&admin),
            "PATCH",
            &token_path,
            Some(json!({"disabled": disabled})),
        )
    };
    assert_eq!(patch(true).await.0, 204);
    let got = s
        .call_as(Some(&carol), "GET", "/api/tokens/whoami", None)
        .await;
    assert_error(&got, 401, "token disabled");
    assert_eq!(patch(false).await.0, 204);
    assert_eq!(
        s.call_as(Some(&carol), "GET", "/api/tokens/whoami", None)
            .await
            .0,
        200
    );
    let (status, _) = s
        .call_as(Some(&admin), "DELETE", &format!("/api/tokens/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let got = s
        .call_as(Some(&carol), "GET", "/api/tokens/whoami", None)
        .await;
    assert_error(&got, 401, "invalid token");
    let got = s
        .call_as(Some(&admin), "DELETE", &format!("/api/tokens/{id}"), None)
        .await;
    assert_error(&got, 404, "not found");
    let got = s
        .call_as(Some(&admin), "GET", "/api/tokens/not-a-uuid", None)
        .await;
    assert_error(&got, 404, "token 'not-a-uuid' not found");

    // The database holds hashes, never secrets.
    let (_, created) = s
        .call_as(
            Some(&admin),
            "POST",
            "/api/tokens",
            Some(json!({"user": "dora", "roles": []})),
        )
        .await;
    let kept = created["secret"].as_str().unwrap().to_string();
    let bootstrap_secret = admin.trim_start_matches("Bearer ").to_string();
    s.stop().await;
    let bytes = std::fs::read(gofer_core::paths::database(dir.path())).unwrap();
    for secret in [&kept, &secret, &bootstrap_secret] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a token secret is stored in the database file"
        );
    }
    let hash = gofer_server::tokens::hash_secret(&kept);
    assert!(
        bytes.windows(hash.len()).any(|w| w == hash.as_bytes()),
        "the token's hash is not in the database file"
    );
}

/// A local address other than loopback, to connect from (the route out of this host).
fn non_loopback_ip() -> std::net::IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    // Connecting a UDP socket sends nothing; it only picks the outgoing interface.
    socket
        .connect("198.51.100.1:9")
        .expect("this test needs a non-loopback network interface with a route");
    let ip = socket.local_addr().unwrap().ip();
    assert!(!ip.is_loopback(), "no non-loopback address found: {ip}");
    ip
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_bypass_only_for_loopback_peers_without_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path());
    assert!(config.development.bypass_auth, "the default is on");
    let s = TestServer::start_on(config, "0.0.0.0:0").await;
    // Loopback without a token: the dev identity, with admin rights.
    let (status, body) = s.call("GET", "/api/tokens/whoami", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token"]["id"], "0");
    assert_eq!(body["token"]["user"], "dev_bypass");
    assert_eq!(body["token"]["roles"], json!(["admin"]));
    assert_eq!(s.call("GET", "/api/system", None).await.0, 200);
    // Loopback with a token: authenticated normally.
    let got = s
        .call_as(Some("Bearer nope"), "GET", "/api/system", None)
        .await;
    assert_error(&got, 401, "invalid token");
    // Another peer: no bypass.
    let ip = non_loopback_ip();
    let url = |path: &str| {
        format!(
            "http://{}{path}",
            std::net::SocketAddr::new(ip, s.addr.port())
        )
    };
    let res = s.http.get(url("/api/system")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "authorization header missing");
    // ... though anonymous reads still work for it (docs/auth.md#without-a-token).
    let res = s
        .http
        .get(url("/api/namespaces/default/pipelines"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Forwarding headers change nothing (docs/auth.md#without-a-token).
    let res = s
        .http
        .get(url("/api/system"))
        .header("x-forwarded-for", "127.0.0.1")
        .header("forwarded", "for=127.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

/// A task with `inject_api_token` calls the API with its run's token from inside its container
/// (docs/auth.md#run-tokens); a task without the flag gets no token; deleting the pipeline revokes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_token_reaches_flagged_tasks_and_is_revoked() {
    let img = busybox().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    config.development.bypass_auth = false;
    // Containers reach the host through the docker0 gateway; listen on every interface.
    let probe = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    config.server.extension_address = format!("172.17.0.1:{port}");
    let s = TestServer::start_on(config.clone(), &format!("0.0.0.0:{port}")).await;
    let (_, body) = s.call("POST", "/api/tokens/bootstrap", None).await;
    let admin = format!("Bearer {}", body["secret"].as_str().unwrap());
    // A namespace of its own: container names include it, so no other test's can clash.
    let ns = format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let (status, body) = s
        .call_as(
            Some(&admin),
            "POST",
            "/api/namespaces",
            Some(json!({"id": ns})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let ns = ns.as_str();
    let p = "tokens".to_string();
    let config_body = json!({"config": {"id": p, "name": p, "tasks": [
        {"id": "caller", "image": img, "inject_api_token": true, "command": ["sh", "-c",
            "wget -q -O - --header \"Authorization: Bearer $GOFER_API_TOKEN\" \
             \"$GOFER_API_BASE_URL/api/namespaces/$GOFER_NAMESPACE_ID/pipelines/$GOFER_PIPELINE_ID/runs/$GOFER_RUN_ID\" \
             && echo && wget -q -O - --header \"Authorization: Bearer $GOFER_API_TOKEN\" \
             \"$GOFER_API_BASE_URL/api/tokens/whoami\""]},
        {"id": "plain", "image": img, "command": ["sh", "-c", "echo token=${GOFER_API_TOKEN:-none}"]}
    ]}});
    let base = format!("/api/namespaces/{ns}/pipelines/{p}");
    let (status, body) = s
        .call_as(
            Some(&admin),
            "POST",
            &format!("{base}/configs"),
            Some(config_body),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s
        .call_as(Some(&admin), "POST", &format!("{base}/configs/1"), None)
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s
        .call_as(
            Some(&admin),
            "POST",
            &format!("{base}/runs"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let token_id = body["run"]["token_id"]
        .as_str()
        .expect("run.token_id")
        .to_string();
    let role_id = format!("run:{ns}:{p}:1");
    let (status, role) = s
        .call_as(Some(&admin), "GET", &format!("/api/roles/{role_id}"), None)
        .await;
    assert_eq!(status, 200, "{role}");
    assert_eq!(role["role"]["system_role"], true);
    let (_, token) = s
        .call_as(
            Some(&admin),
            "GET",
            &format!("/api/tokens/{token_id}"),
            None,
        )
        .await;
    assert_eq!(token["token"]["user"], "system_generated_run_token");
    assert_eq!(token["token"]["roles"], json!([role_id]));
    assert_eq!(token["token"]["metadata"]["run"], "1");

    // Wait for the run (polling as admin).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let run = loop {
        let (_, body) = s
            .call_as(Some(&admin), "GET", &format!("{base}/runs/1"), None)
            .await;
        if body["run"]["state"] == "complete" {
            break body["run"].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run never completed: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let log = |task: &'static str| {
        let url = s.url(&format!("{base}/runs/1/tasks/{task}/logs"));
        let req = s.http.get(url).header("authorization", admin.clone());
        async move {
            String::from_utf8(req.send().await.unwrap().bytes().await.unwrap().to_vec()).unwrap()
        }
    };
    let caller_log = log("caller").await;
    assert_eq!(run["status"], "successful", "caller log: {caller_log}");
    assert!(caller_log.contains("\"run_id\":1"), "{caller_log}");
    assert!(
        caller_log.contains("\"user\":\"system_generated_run_token\""),
        "{caller_log}"
    );
    assert!(log("plain").await.contains("token=none"));

    // The token works against its own pipeline only, until the pipeline is deleted.
    let secret = gofer_server::tokens::run_token_secret(
        config.secret_store.encryption_key.as_bytes(),
        &token_id,
    );
    let bearer = format!("Bearer {secret}");
    assert_eq!(
        s.call_as(Some(&bearer), "GET", &format!("{base}/runs"), None)
            .await
            .0,
        200
    );
    // Another pipeline of its namespace, or its pipeline id in another namespace: 403.
    for other in [
        format!("/api/namespaces/{ns}/pipelines/matrix/runs"),
        format!("/api/namespaces/default/pipelines/{p}/runs"),
    ] {
        let (status, _) = s.call_as(Some(&bearer), "GET", &other, None).await;
        assert_eq!(status, 403, "{other}");
    }
    let (status, _) = s.call_as(Some(&bearer), "DELETE", &base, None).await;
    assert_eq!(status, 403, "a run token cannot delete its pipeline");
    let (status, _) = s.call_as(Some(&admin), "DELETE", &base, None).await;
    assert_eq!(status, 204);
    let got = s
        .call_as(Some(&bearer), "GET", "/api/tokens/whoami", None)
        .await;
    assert_error(&got, 401, "invalid token");
    let (status, _) = s
        .call_as(Some(&admin), "GET", &format!("/api/roles/{role_id}"), None)
        .await;
    assert_eq!(status, 404);
    s.remove_containers().await;
}

/// Issue 4 end to end: task `writer` (inject_api_token) writes a run object and its own result
/// through the API with its injected token (busybox `wget`); `reader` depends on it and reads
/// both through `run_object{{…}}` and `task_result{{…}}`; the token is masked in the writer's
/// log; it cannot set the result of another run; and it is rejected once the run's objects
/// expire (docs/runs.md#results-and-payload, docs/runs.md#variables–docs/auth.md#run-tokens, docs/objects-and-secrets.md#objects).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_token_writes_objects_and_results_that_children_read() {
    let img = busybox().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path());
    config.development.bypass_auth = false;
    // Objects of the newest run only, so the second run expires the first run's objects.
    config.object_store.run_object_expiry = 1;
    let probe = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    config.server.extension_address = format!("172.17.0.1:{port}");
    let s = TestServer::start_on(config.clone(), &format!("0.0.0.0:{port}")).await;
    let (_, body) = s.call("POST", "/api/tokens/bootstrap", None).await;
    let admin = format!("Bearer {}", body["secret"].as_str().unwrap());
    let p = format!("objs{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let base = format!("/api/namespaces/default/pipelines/{p}");
    let api = "$GOFER_API_BASE_URL/api/namespaces/$GOFER_NAMESPACE_ID/pipelines/$GOFER_PIPELINE_ID/runs/$GOFER_RUN_ID";
    let writer = format!(
        "set -e; auth=\"Authorization: Bearer $GOFER_API_TOKEN\"; \
         wget -q -O /dev/null --header \"$auth\" --post-data \"hello from run $GOFER_RUN_ID\" \
           \"{api}/objects/greeting\"; \
         wget -q -O /dev/null --header \"$auth\" --post-data '{{\"answer\": 42}}' \
           \"{api}/tasks/writer/result\"; \
         echo \"my token is $GOFER_API_TOKEN\""
    );
    let config_body = json!({"config": {"id": p, "name": p, "tasks": [
        {"id": "writer", "image": img, "inject_api_token": true, "command": ["sh", "-c", writer]},
        {"id": "reader", "image": img, "depends_on": {"writer": "success"},
         "variables": {"GREETING": "run_object{{greeting}}", "RESULT": "task_result{{writer}}"},
         "command": ["sh", "-c", "echo \"$GREETING / $RESULT\""]}
    ]}});
    let (status, body) = s
        .call_as(
            Some(&admin),
            "POST",
            &format!("{base}/configs"),
            Some(config_body),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s
        .call_as(Some(&admin), "POST", &format!("{base}/configs/1"), None)
        .await;
    assert_eq!(status, 201, "{body}");

    let wait_run = |run: u64| {
        let (s, admin, base) = (&s, admin.clone(), base.clone());
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            loop {
                let (_, body) = s
                    .call_as(Some(&admin), "GET", &format!("{base}/runs/{run}"), None)
                    .await;
                if body["run"]["state"] == "complete" {
                    return body["run"].clone();
                }
                assert!(std::time::Instant::now() < deadline, "run {run}: {body}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    let log = |run: u64, task: &'static str| {
        let url = s.url(&format!("{base}/runs/{run}/tasks/{task}/logs"));
        let req = s.http.get(url).header("authorization", admin.clone());
        async move {
            String::from_utf8(req.send().await.unwrap().bytes().await.unwrap().to_vec()).unwrap()
        }
    };
    let start = || async {
        let (status, body) = s
            .call_as(
                Some(&admin),
                "POST",
                &format!("{base}/runs"),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["run"]["token_id"]
            .as_str()
            .expect("token_id")
            .to_string()
    };

    let token_id = start().await;
    let run = wait_run(1).await;
    let writer_log = log(1, "writer").await;
    assert_eq!(run["status"], "successful", "writer: {writer_log}");
    assert_eq!(
        log(1, "reader").await,
        "hello from run 1 / {\"answer\":42}\n"
    );
    let secret = gofer_server::tokens::run_token_secret(
        config.secret_store.encryption_key.as_bytes(),
        &token_id,
    );
    assert!(
        !writer_log.contains(&secret) && writer_log.contains("my token is ********"),
        "the token must be masked: {writer_log}"
    );
    let (_, writer) = s
        .call_as(
            Some(&admin),
            "GET",
            &format!("{base}/runs/1/tasks/writer"),
            None,
        )
        .await;
    assert_eq!(writer["task_execution"]["result"], json!({"answer": 42}));
    let bearer = format!("Bearer {secret}");
    let whoami = || s.call_as(Some(&bearer), "GET", "/api/tokens/whoami", None);
    assert_eq!(
        whoami().await.0,
        200,
        "the token works while its objects live"
    );

    // A second run expires the first run's objects, and with them its token.
    start().await;
    assert_eq!(wait_run(2).await["status"], "successful");
    until("run 1's token was never revoked", || async {
        whoami().await.0 == 401
    })
    .await;
    let (status, _) = s
        .call_as(
            Some(&admin),
            "GET",
            &format!("{base}/runs/1/objects/greeting"),
            None,
        )
        .await;
    assert_eq!(status, 404, "run 1's objects expired");
    s.remove_containers().await;
}

/// `GET /api/runs`: the runs in progress across namespaces, each caller seeing only the
/// namespaces it may read, with queue positions per pipeline.
#[tokio::test]
async fn runs_in_progress_across_namespaces_are_filtered_by_what_the_caller_reads() {
    let (s, _dir) = TestServer::start().await;
    crate::support::live_pipeline(&s, "aaa").await;
    let (status, body) = s
        .call("POST", "/api/namespaces", Some(json!({"id": "other"})))
        .await;
    assert_eq!(status, 201, "{body}");
    let base = "/api/namespaces/other/pipelines/bbb/configs";
    let (status, body) = s
        .call("POST", base, Some(crate::support::simple_config("bbb")))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(s.call("POST", &format!("{base}/1"), None).await.0, 201);
    // Runs made through the store stay pending: the engine is not told about them.
    crate::support::create_run(&s, "aaa").await;
    crate::support::create_run(&s, "aaa").await;
    let new = gofer_server::store::NewRun {
        variables: Vec::new(),
        initiator: gofer_core::api::Initiator {
            id: "0".into(),
            user: "test".into(),
            kind: gofer_core::api::InitiatorKind::Api,
            subscription_id: None,
        },
        payload: None,
        only: None,
        command_override: None,
        run_token: None,
        retry: None,
    };
    s.store()
        .write(move |st| st.create_run("other", "bbb", new, gofer_core::now_millis()))
        .await
        .unwrap();
    let (status, all) = s.call("GET", "/api/runs", None).await;
    assert_eq!(status, 200, "{all}");
    let seen: Vec<(String, u64, u64)> = all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["run"]["pipeline_id"].as_str().unwrap().to_string(),
                r["run"]["run_id"].as_u64().unwrap(),
                r["queue_position"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("aaa".to_string(), 1, 1),
            ("aaa".to_string(), 2, 2),
            ("bbb".to_string(), 1, 1)
        ]
    );
    // A loopback request without a token acts as admin (the test server's development mode).
    let (status, created) = s
        .call(
            "POST",
            "/api/tokens",
            Some(json!({"user": "uma", "roles": ["user"]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let user = format!("Bearer {}", created["secret"].as_str().unwrap());
    let (status, mine) = s.call_as(Some(&user), "GET", "/api/runs", None).await;
    assert_eq!(status, 200, "{mine}");
    let namespaces: BTreeSet<&str> = mine["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"]["namespace_id"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, BTreeSet::from(["default"]), "{mine}");
}

/// An extension's subscriptions list shows a non-admin caller only the pipelines it may read.
#[tokio::test]
async fn extension_subscriptions_are_filtered_by_what_the_caller_reads() {
    let (s, _dir) = TestServer::start().await;
    crate::support::live_pipeline(&s, "aaa").await;
    let (status, body) = s
        .call("POST", "/api/namespaces", Some(json!({"id": "other"})))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s
        .call(
            "POST",
            "/api/namespaces/other/pipelines/bbb/configs",
            Some(crate::support::simple_config("bbb")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let extension: gofer_core::api::Extension = serde_json::from_value(json!({
        "registration": {"extension_id": "ticker", "image": "gofer.local/extension-interval",
            "registry_auth": null, "settings": [], "created": 1, "modified": 0,
            "status": "enabled", "additional_roles": []},
        "url": "", "started": 0, "state": "exited"
    }))
    .unwrap();
    let subscription = |ns: &str, p: &str| -> gofer_core::api::Subscription {
        serde_json::from_value(json!({
            "namespace_id": ns, "pipeline_id": p, "extension_id": "ticker",
            "subscription_id": "tick", "settings": {"every": "1h"}, "status": "active"
        }))
        .unwrap()
    };
    let (a, b) = (subscription("default", "aaa"), subscription("other", "bbb"));
    s.store()
        .write(move |st| {
            st.install_extension(&extension)?;
            st.create_subscription(&a)?;
            st.create_subscription(&b)
        })
        .await
        .unwrap();
    let (status, all) = s
        .call("GET", "/api/extensions/ticker/subscriptions", None)
        .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["subscriptions"].as_array().unwrap().len(), 2, "{all}");
    let (status, created) = s
        .call(
            "POST",
            "/api/tokens",
            Some(json!({"user": "uma", "roles": ["user"]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let user = format!("Bearer {}", created["secret"].as_str().unwrap());
    let (status, mine) = s
        .call_as(
            Some(&user),
            "GET",
            "/api/extensions/ticker/subscriptions",
            None,
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    let seen: Vec<&str> = mine["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["namespace_id"].as_str().unwrap())
        .collect();
    assert_eq!(seen, ["default"], "{mine}");
}
