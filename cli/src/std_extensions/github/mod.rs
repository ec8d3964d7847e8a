//! The `github` extension (docs/decisions.md "github"): GitHub webhooks arrive on the server's
//! external events listener and are forwarded here; each signed `push`, `pull_request` or
//! `release` event starts a run of every subscribed pipeline whose repository and filter match,
//! with the event's details as `GOFER_EXTENSION_GITHUB_*` variables.
//!
//! A `pull_request_with_check` subscription also reports each run as a GitHub check run on the
//! pull request's head commit (`checks.rs`; `app.rs` talks to GitHub): created `in_progress` when the run
//! starts, completed with the run's outcome when it ends. Check runs being followed are kept in
//! the extension's object store, so a restarted extension finishes them.

mod app;
mod checks;

use super::{Extension, SystemEnv};
use checks::{CheckRecord, Checks};
use gofer_core::api::{
    ExtensionDocumentation, ExtensionParameter, ExtensionSubscribeRequest,
    ExtensionUnsubscribeRequest, OrderedMap, StartRunRequest,
};
use gofer_sdk::extension::SubscriptionKey;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The events a subscription may filter on.
const EVENTS: [&str; 4] = ["push", "pull_request", "pull_request_with_check", "release"];

/// What a subscription listens for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Filter {
    repository: String,
    event: String,
    /// Lower-cased; empty = any action.
    actions: Vec<String>,
}

impl Filter {
    fn matches(&self, repository: &str, event: &str, action: &str) -> bool {
        let event_ok = self.event == event
            || (self.event == "pull_request_with_check" && event == "pull_request");
        self.repository == repository
            && event_ok
            && (self.actions.is_empty() || self.actions.iter().any(|a| a == action))
    }
}

/// How the last run start went per subscription (for debug info and the server's reports).
type LastFires = Arc<Mutex<BTreeMap<SubscriptionKey, (u64, Option<String>)>>>;

pub struct Github {
    client: gofer_sdk::Client,
    webhook_secret: Vec<u8>,
    subscriptions: Mutex<BTreeMap<SubscriptionKey, Filter>>,
    last: LastFires,
    checks: Arc<Checks>,
}

impl Github {
    /// Reads `APP_WEBHOOK_SECRET` (required: the extension does not start without it).
    pub fn new(env: &SystemEnv) -> Result<Github, String> {
        let secret = super::setting("APP_WEBHOOK_SECRET").ok_or(
            "APP_WEBHOOK_SECRET: missing; install the extension with -s APP_WEBHOOK_SECRET=<the \
             secret of the GitHub webhook>",
        )?;
        let client = env.client()?;
        let app = app::App::from_settings()?;
        Ok(Github {
            client,
            webhook_secret: secret.into_bytes(),
            subscriptions: Mutex::new(BTreeMap::new()),
            last: LastFires::default(),
            checks: Arc::new(Checks {
                app,
                extension_id: env.id.clone(),
                api_base: env.api_base_url(),
                recent: Mutex::new(Vec::new()),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<SubscriptionKey, Filter>> {
        self.subscriptions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `repository` and `event_filter`, validated (messages name the parameter). `checks` says
/// whether the GitHub App settings are present (`pull_request_with_check` needs them).
fn parse_params(params: &OrderedMap, checks: bool) -> Result<Filter, String> {
    let (mut repository, mut filter) = (None, None);
    for (key, value) in params.iter() {
        match key {
            "repository" => repository = Some(value.to_owned()),
            "event_filter" => filter = Some(value.to_owned()),
            other => {
                return Err(format!(
                    "{other}: unknown parameter; the github extension takes repository and \
                     event_filter"
                ));
            }
        }
    }
    let repository = repository.ok_or("repository: missing; set it to owner/repo")?;
    let well_formed = repository
        .split_once('/')
        .is_some_and(|(owner, repo)| !owner.is_empty() && !repo.is_empty() && !repo.contains('/'));
    if !well_formed {
        return Err(format!("repository: '{repository}' is not owner/repo"));
    }
    let filter = filter.ok_or(
        "event_filter: missing; set it to push, pull_request, release or \
         <event>/<action>,<action> (e.g. pull_request/opened,synchronize)",
    )?;
    let (event, actions) = match filter.split_once('/') {
        Some((event, actions)) => (
            event.to_owned(),
            actions
                .split(',')
                .map(|a| a.trim().to_lowercase())
                .filter(|a| !a.is_empty())
                .collect(),
        ),
        None => (filter.clone(), Vec::new()),
    };
    if !EVENTS.contains(&event.as_str()) {
        return Err(format!(
            "event_filter: '{event}' is not one of {}",
            EVENTS.join(", ")
        ));
    }
    if event == "pull_request_with_check" && !checks {
        return Err(
            "event_filter: pull_request_with_check needs the GitHub App settings APP_ID, \
             APP_INSTALLATION and APP_KEY; install the extension again with them"
                .to_owned(),
        );
    }
    Ok(Filter {
        repository,
        event,
        actions,
    })
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`, compared
/// in constant time.
fn signature_ok(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex.trim()) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The run variables of an event (`…` = `GOFER_EXTENSION_GITHUB`; absent values are empty).
fn variables(event: &str, action: &str, payload: &serde_json::Value) -> Vec<(String, String)> {
    let text = |pointer: &str| {
        payload
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let mut out = vec![
        ("EVENT", event.to_owned()),
        ("ACTION", action.to_owned()),
        ("REPOSITORY", text("/repository/full_name")),
    ];
    match event {
        "push" => out.extend([
            ("REF", text("/ref")),
            ("HEAD_COMMIT_ID", text("/head_commit/id")),
            ("HEAD_COMMIT_AUTHOR_NAME", text("/head_commit/author/name")),
            (
                "HEAD_COMMIT_AUTHOR_EMAIL",
                text("/head_commit/author/email"),
            ),
            (
                "HEAD_COMMIT_AUTHOR_USERNAME",
                text("/head_commit/author/username"),
            ),
            (
                "HEAD_COMMIT_COMMITTER_NAME",
                text("/head_commit/committer/name"),
            ),
            (
                "HEAD_COMMIT_COMMITTER_EMAIL",
                text("/head_commit/committer/email"),
            ),
            (
                "HEAD_COMMIT_COMMITTER_USERNAME",
                text("/head_commit/committer/username"),
            ),
        ]),
        "pull_request" => out.extend([
            ("PULLREQUEST_HEAD_REF", text("/pull_request/head/ref")),
            ("PULLREQUEST_BRANCH", text("/pull_request/base/ref")),
            ("PULLREQUEST_HEAD_SHA", text("/pull_request/head/sha")),
            (
                "PULLREQUEST_AUTHOR_USERNAME",
                text("/pull_request/user/login"),
            ),
            ("PULLREQUEST_AUTHOR_EMAIL", text("/pull_request/user/email")),
            ("PULLREQUEST_AUTHOR_NAME", text("/pull_request/user/name")),
        ]),
        "release" => out.extend([
            ("RELEASE_TAG_NAME", text("/release/tag_name")),
            (
                "RELEASE_TARGET_COMMITISH",
                text("/release/target_commitish"),
            ),
            ("RELEASE_AUTHOR_LOGIN", text("/release/author/login")),
            ("RELEASE_CREATED_AT", text("/release/created_at")),
            ("RELEASE_PUBLISHED_AT", text("/release/published_at")),
        ]),
        _ => {}
    }
    out.into_iter()
        .map(|(k, v)| (format!("GOFER_EXTENSION_GITHUB_{k}"), v))
        .collect()
}

/// What the extension documents: its settings and subscription parameters (also what
/// `gofer extension install --interactive` asks for).
pub fn documentation() -> ExtensionDocumentation {
    ExtensionDocumentation {
        config_params: vec![
            ExtensionParameter {
                key: "APP_WEBHOOK_SECRET".to_owned(),
                required: true,
                documentation: "The secret of the GitHub webhook: every delivery must be signed \
                                with it (X-Hub-Signature-256)."
                    .to_owned(),
            },
            ExtensionParameter {
                key: "APP_ID".to_owned(),
                required: false,
                documentation: "For check runs only: the GitHub App's id (a number).".to_owned(),
            },
            ExtensionParameter {
                key: "APP_INSTALLATION".to_owned(),
                required: false,
                documentation: "For check runs only: the id of the app's installation on the \
                                repositories (a number)."
                    .to_owned(),
            },
            ExtensionParameter {
                key: "APP_KEY".to_owned(),
                required: false,
                documentation: "For check runs only: the app's private key, the .pem file \
                                GitHub generated, base64-encoded (e.g. global_secret{{github_app_key}})."
                    .to_owned(),
            },
            ExtensionParameter {
                key: "APP_API_URL".to_owned(),
                required: false,
                documentation: "The GitHub API's address; default https://api.github.com \
                                (GitHub Enterprise: https://<host>/api/v3)."
                    .to_owned(),
            },
        ],
        pipeline_subscription_params: vec![
            ExtensionParameter {
                key: "repository".to_owned(),
                required: true,
                documentation: "The repository, as owner/repo.".to_owned(),
            },
            ExtensionParameter {
                key: "event_filter".to_owned(),
                required: true,
                documentation: "push, pull_request, pull_request_with_check (also reports \
                                each run as a check run on the pull request) or release, \
                                optionally with actions: pull_request/opened,synchronize."
                    .to_owned(),
            },
        ],
        body: "Point a GitHub webhook (content type application/json, with the secret) at \
               the server's external events address, path /events/<extension id>. Each \
               matching push, pull request or release starts a run with \
               GOFER_EXTENSION_GITHUB_* variables."
            .to_owned(),
    }
}

impl Extension for Github {
    fn documentation(&self) -> ExtensionDocumentation {
        documentation()
    }

    fn debug(&self) -> String {
        let last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let list: Vec<serde_json::Value> = self
            .lock()
            .iter()
            .map(|(key, f)| {
                let (last_fired, last_error) = last.get(key).cloned().unwrap_or_default();
                serde_json::json!({
                    "namespace_id": key.namespace,
                    "pipeline_id": key.pipeline,
                    "subscription_id": key.subscription,
                    "repository": f.repository,
                    "event": f.event,
                    "actions": f.actions,
                    "last_fired": last_fired,
                    "last_error": last_error,
                })
            })
            .collect();
        let checks = self
            .checks
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        serde_json::json!({
            "check_runs": if self.checks.app.is_some() { "configured" } else {
                "not configured (set APP_ID, APP_INSTALLATION and APP_KEY)" },
            "subscriptions": list,
            "recent_check_runs": checks,
        })
        .to_string()
    }

    fn subscribe(&self, request: ExtensionSubscribeRequest) -> Result<(), String> {
        let filter = parse_params(
            &request.pipeline_subscription_params,
            self.checks.app.is_some(),
        )?;
        let key = SubscriptionKey::of(&request);
        if filter.event == "pull_request_with_check" {
            tokio::spawn(self.checks.clone().resume(self.client.clone(), key.clone()));
        }
        self.lock().insert(key, filter);
        Ok(())
    }

    fn unsubscribe(&self, request: ExtensionUnsubscribeRequest) {
        self.lock()
            .remove(&SubscriptionKey::of_unsubscribe(&request));
    }

    fn external_event(
        &self,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<(), (u16, String)> {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let Some(signature) = header("x-hub-signature-256") else {
            return Err((401, "X-Hub-Signature-256: missing".to_owned()));
        };
        if !signature_ok(&self.webhook_secret, &body, signature) {
            return Err((
                401,
                "X-Hub-Signature-256: does not match the body (is the webhook's secret \
                 APP_WEBHOOK_SECRET?)"
                    .to_owned(),
            ));
        }
        let event = header("x-github-event").unwrap_or_default().to_owned();
        if !matches!(event.as_str(), "push" | "pull_request" | "release") {
            // `ping` and every other event type: accepted and ignored.
            return Ok(());
        }
        let payload: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| (400, format!("body: not a GitHub event payload: {e}")))?;
        let action = payload["action"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        let repository = payload["repository"]["full_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let vars = variables(&event, &action, &payload);
        let matching: Vec<(SubscriptionKey, bool)> = self
            .lock()
            .iter()
            .filter(|(_, f)| f.matches(&repository, &event, &action))
            .map(|(k, f)| (k.clone(), f.event == "pull_request_with_check"))
            .collect();
        let head_sha = payload
            .pointer("/pull_request/head/sha")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        for (key, with_check) in matching {
            let client = self.client.clone();
            let last = self.last.clone();
            let checks = self.checks.clone();
            let (repository, head_sha) = (repository.clone(), head_sha.clone());
            let request = StartRunRequest {
                variables: OrderedMap(vars.clone()),
                subscription_id: Some(key.subscription.clone()),
                ..StartRunRequest::default()
            };
            tokio::spawn(async move {
                let SubscriptionKey {
                    namespace: ns,
                    pipeline: p,
                    subscription: id,
                } = &key;
                let outcome = match client.start_run(ns, p, &request).await {
                    Ok(run) => {
                        println!("subscription {id}: started run {} of {ns}/{p}", run.run_id);
                        if with_check {
                            let record = CheckRecord {
                                namespace_id: ns.clone(),
                                pipeline_id: p.clone(),
                                subscription_id: id.clone(),
                                run_id: run.run_id,
                                repository,
                                head_sha,
                                check_run_id: None,
                                state: "creating".to_owned(),
                                conclusion: None,
                                error: None,
                            };
                            tokio::spawn(checks.start(client.clone(), record));
                        }
                        None
                    }
                    Err(e) => {
                        eprintln!("subscription {id}: could not start a run of {ns}/{p}: {e}");
                        Some(e.to_string())
                    }
                };
                let now = u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0);
                last.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(key, (now, outcome));
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> OrderedMap {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn filters_and_params() {
        let f = parse_params(
            &params(&[
                ("repository", "acme/web"),
                ("event_filter", "pull_request/Opened,synchronize"),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(f.actions, ["opened", "synchronize"]);
        assert!(f.matches("acme/web", "pull_request", "opened"));
        assert!(!f.matches("acme/web", "pull_request", "closed"));
        assert!(!f.matches("acme/api", "pull_request", "opened"));
        let e = |pairs: &[(&str, &str)]| parse_params(&params(pairs), false).unwrap_err();
        assert!(e(&[("event_filter", "push")]).starts_with("repository: missing"));
        assert_eq!(
            e(&[("repository", "acme"), ("event_filter", "push")]),
            "repository: 'acme' is not owner/repo"
        );
        assert_eq!(
            e(&[("repository", "acme/web"), ("event_filter", "issues")]),
            "event_filter: 'issues' is not one of push, pull_request, pull_request_with_check, release"
        );
        let check = [
            ("repository", "acme/web"),
            ("event_filter", "pull_request_with_check/opened"),
        ];
        assert!(e(&check).contains("needs the GitHub App settings APP_ID"));
        let f = parse_params(&params(&check), true).unwrap();
        assert!(f.matches("acme/web", "pull_request", "opened"));
        assert!(!f.matches("acme/web", "pull_request", "closed"));
    }

    #[test]
    fn signatures_are_checked() {
        let body = br#"{"zen": "hi"}"#;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"s3cret").unwrap();
        mac.update(body);
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(signature_ok(b"s3cret", body, &good));
        assert!(!signature_ok(b"other", body, &good));
        assert!(!signature_ok(b"s3cret", b"changed", &good));
        assert!(!signature_ok(b"s3cret", body, "sha1=abc"));
        assert!(!signature_ok(b"s3cret", body, "sha256=zz"));
    }

    #[test]
    fn absent_values_are_empty() {
        let vars = variables("push", "", &serde_json::json!({"ref": "refs/heads/main"}));
        let get = |k: &str| {
            vars.iter()
                .find(|(key, _)| key == &format!("GOFER_EXTENSION_GITHUB_{k}"))
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("REF"), Some("refs/heads/main"));
        assert_eq!(get("HEAD_COMMIT_ID"), Some(""));
        assert_eq!(get("ACTION"), Some(""));
    }
}
