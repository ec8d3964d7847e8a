//! Check runs for `pull_request_with_check` subscriptions: each run is reported on the pull
//! request's head commit, created `in_progress` and completed with the run's outcome; records of
//! runs being followed are kept in the extension's object store, so a restarted extension
//! finishes them. GitHub failures never touch the run.

use super::app;
use futures_util::StreamExt as _;
use gofer_sdk::ObjectScope;
use gofer_sdk::extension::SubscriptionKey;
use std::sync::{Arc, Mutex};

/// Check runs: the GitHub App (when configured) and what happened to recent check runs.
pub(super) struct Checks {
    pub(super) app: Option<app::App>,
    pub(super) extension_id: String,
    /// `http://<GOFER_HOST>`: the base of each check run's details URL.
    pub(super) api_base: String,
    /// Newest last; at most [`CHECK_HISTORY`] entries. Runs being followed are also here.
    pub(super) recent: Mutex<Vec<CheckRecord>>,
}

/// How many check runs the debug info shows.
const CHECK_HISTORY: usize = 50;
/// The longest wait between two looks at a run being followed.
const CHECK_POLL_MAX: std::time::Duration = std::time::Duration::from_secs(30);

/// One check run, as kept in the object store while its run goes on and shown in debug info.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct CheckRecord {
    pub(super) namespace_id: String,
    pub(super) pipeline_id: String,
    pub(super) subscription_id: String,
    pub(super) run_id: u64,
    pub(super) repository: String,
    pub(super) head_sha: String,
    /// GitHub's id of the check run; `None` until created.
    pub(super) check_run_id: Option<u64>,
    /// `in_progress`, `completed` or `not_created`.
    pub(super) state: String,
    #[serde(default)]
    pub(super) conclusion: Option<String>,
    /// The last failure talking to GitHub or Gofer about this check run.
    #[serde(default)]
    pub(super) error: Option<String>,
}

impl CheckRecord {
    pub(super) fn object_key(&self) -> String {
        format!(
            "check.{}.{}.{}",
            self.namespace_id, self.pipeline_id, self.run_id
        )
    }
}

impl Checks {
    /// Adds or replaces (same run) a record in the recent list.
    pub(super) fn remember(&self, record: &CheckRecord) {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        recent.retain(|r| {
            (&r.namespace_id, &r.pipeline_id, r.run_id)
                != (&record.namespace_id, &record.pipeline_id, record.run_id)
        });
        recent.push(record.clone());
        let excess = recent.len().saturating_sub(CHECK_HISTORY);
        recent.drain(..excess);
    }

    /// Whether this run's check is already being followed by this process.
    pub(super) fn following(&self, namespace: &str, pipeline: &str, run: u64) -> bool {
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .any(|r| {
                r.namespace_id == namespace
                    && r.pipeline_id == pipeline
                    && r.run_id == run
                    && r.state == "in_progress"
            })
    }

    pub(super) fn details_url(&self, record: &CheckRecord) -> String {
        format!(
            "{}/api/namespaces/{}/pipelines/{}/runs/{}",
            self.api_base, record.namespace_id, record.pipeline_id, record.run_id
        )
    }

    /// Notes a failure in the record (shown in debug info) and in the extension's log.
    pub(super) fn failed(&self, record: &mut CheckRecord, error: String) {
        eprintln!(
            "subscription {}: check run for run {} of {}/{}: {error}",
            record.subscription_id, record.run_id, record.namespace_id, record.pipeline_id
        );
        record.error = Some(error);
        self.remember(record);
    }

    /// Creates the check run for a run just started, then follows the run to its end. Failures
    /// are logged and kept in debug info; the run itself is never affected.
    pub(super) async fn start(self: Arc<Self>, client: gofer_sdk::Client, mut record: CheckRecord) {
        let Some(app) = &self.app else { return };
        self.remember(&record);
        let details = self.details_url(&record);
        let mut attempt = 0;
        let created = loop {
            attempt += 1;
            match app
                .create_check(
                    &record.repository,
                    &record.subscription_id,
                    &record.head_sha,
                    &details,
                    &record.run_id.to_string(),
                )
                .await
            {
                Ok(id) => break Some(id),
                Err(e) if attempt < 3 => {
                    self.failed(&mut record, e);
                    tokio::time::sleep(std::time::Duration::from_secs(2 << attempt)).await;
                }
                Err(e) => {
                    self.failed(&mut record, e);
                    break None;
                }
            }
        };
        let Some(id) = created else {
            record.state = "not_created".to_owned();
            self.remember(&record);
            return;
        };
        record.check_run_id = Some(id);
        record.error = None;
        self.remember(&record);
        println!(
            "subscription {}: check run {id} in progress for run {} of {}/{}",
            record.subscription_id, record.run_id, record.namespace_id, record.pipeline_id
        );
        self.store(&client, &record).await;
        self.follow(client, record).await;
    }

    /// Keeps the record in the object store, so a restarted extension completes the check.
    pub(super) async fn store(&self, client: &gofer_sdk::Client, record: &CheckRecord) {
        let body = bytes::Bytes::from(serde_json::to_vec(record).unwrap_or_default());
        let stored = client
            .put_object(
                ObjectScope::Extension(&self.extension_id),
                &record.object_key(),
                futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) }),
                true,
            )
            .await;
        if let Err(e) = stored {
            eprintln!(
                "subscription {}: could not keep check run {:?} in the object store (it will \
                 not be completed if the extension restarts first): {e}",
                record.subscription_id, record.check_run_id
            );
        }
    }

    /// Looks at the run (1 s after it started, then twice as long each time, at most every
    /// 30 s) until it is complete, then completes the check run with its outcome.
    pub(super) async fn follow(&self, client: gofer_sdk::Client, mut record: CheckRecord) {
        let (Some(app), Some(check)) = (&self.app, record.check_run_id) else {
            return;
        };
        record.state = "in_progress".to_owned();
        self.remember(&record);
        let mut wait = std::time::Duration::from_secs(1);
        let conclusion = loop {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(CHECK_POLL_MAX);
            match client
                .get_run(&record.namespace_id, &record.pipeline_id, record.run_id)
                .await
            {
                Ok(run) if run.state == gofer_core::enums::RunState::Complete => {
                    break app::conclusion(run.status);
                }
                Ok(_) => {}
                // The run is gone (its pipeline was deleted): nothing to report but that.
                Err(e) if e.status() == Some(404) => break "neutral",
                Err(e) => self.failed(&mut record, format!("reading the run: {e}")),
            }
        };
        let details = self.details_url(&record);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match app
                .complete_check(&record.repository, check, conclusion, &details)
                .await
            {
                Ok(()) => {
                    record.error = None;
                    break;
                }
                Err(e) if attempt < 5 => {
                    self.failed(&mut record, e);
                    tokio::time::sleep(std::time::Duration::from_secs(2 << attempt)).await;
                }
                Err(e) => {
                    self.failed(
                        &mut record,
                        format!("gave up completing the check run: {e}"),
                    );
                    break;
                }
            }
        }
        record.state = "completed".to_owned();
        record.conclusion = Some(conclusion.to_owned());
        self.remember(&record);
        println!(
            "subscription {}: check run {check} completed: {conclusion}",
            record.subscription_id
        );
        let _ = client
            .delete_object(
                ObjectScope::Extension(&self.extension_id),
                &record.object_key(),
            )
            .await;
    }

    /// Takes up the check runs a previous process of this extension left in progress for one
    /// subscription (the server subscribes again whenever the extension starts).
    pub(super) async fn resume(self: Arc<Self>, client: gofer_sdk::Client, key: SubscriptionKey) {
        let scope = ObjectScope::Extension(&self.extension_id);
        let Ok(objects) = client.list_objects(scope, None).await else {
            return;
        };
        let prefix = format!("check.{}.{}.", key.namespace, key.pipeline);
        for object in objects.into_iter().filter(|o| o.key.starts_with(&prefix)) {
            let Ok(mut stream) = client.get_object(scope, &object.key).await else {
                continue;
            };
            let mut bytes = Vec::new();
            while let Some(Ok(chunk)) = stream.next().await {
                bytes.extend_from_slice(&chunk);
            }
            let Ok(record) = serde_json::from_slice::<CheckRecord>(&bytes) else {
                continue;
            };
            if record.subscription_id != key.subscription
                || self.following(&record.namespace_id, &record.pipeline_id, record.run_id)
            {
                continue;
            }
            println!(
                "subscription {}: following run {} again for check run {:?}",
                record.subscription_id, record.run_id, record.check_run_id
            );
            let (checks, client) = (self.clone(), client.clone());
            tokio::spawn(async move { checks.follow(client, record).await });
        }
    }
}
