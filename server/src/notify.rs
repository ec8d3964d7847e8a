//! Pipeline notifications (docs/notifications.md): follows the event log, decides which of a
//! completed run's notifications apply (failure, recovery, success) or a running run's
//! (long_running), and posts them to their webhooks with bounded retries. Everything runs on
//! tasks of its own, so a slow or dead receiver never holds up the engine or the API; every
//! attempt is recorded as a `notification_sent` or `notification_failed` event.

use crate::engine::substitute::{Resolver, resolve_one};
use crate::events::EventFeed;
use crate::store::{RunKey, StoreHandle};
use gofer_core::api::{EventKind, Notification, Page, Run, TaskExecution};
use gofer_core::enums::{NotificationFormat, NotifyOn, RunState, RunStatus, TaskExecutionStatus};
use gofer_core::validate::parse_reference;
use std::sync::Arc;
use std::time::Duration;

/// Attempts per notification (the first and its retries), and the waits between them.
pub const ATTEMPTS: u64 = 4;
const BACKOFF: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Notifier {
    store: StoreHandle,
    resolver: Resolver,
    http: reqwest::Client,
    /// Where a run's link points (the API as tasks reach it).
    api_base_url: String,
}

impl Notifier {
    pub fn new(store: StoreHandle, resolver: Resolver, api_base_url: String) -> Notifier {
        let http = crate::tls::http_client_builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("gofer/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Notifier {
            store,
            resolver,
            http,
            api_base_url,
        }
    }

    /// Follows the event log from its current end until `shutdown`; also watches the runs
    /// already running for `long_running`.
    pub async fn follow(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let start = match self.store.read(|s| s.last_event_id()).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(error = %e, "notifications: reading the event log failed; notifications are off");
                return;
            }
        };
        if let Ok(running) = self.store.read(|s| s.unfinished_runs()).await {
            for state in running {
                let run = state.run.run;
                if run.state == RunState::Running {
                    self.clone().watch_long(run);
                }
            }
        }
        let mut feed = EventFeed::after(self.store.clone(), start);
        while let Some(events) = feed
            .next_until_shutdown(&mut shutdown, "notifications")
            .await
        {
            for event in events {
                match event.kind {
                    EventKind::CompletedRun {
                        namespace_id,
                        pipeline_id,
                        run_id,
                        ..
                    } => {
                        let this = self.clone();
                        let key = RunKey::new(namespace_id, pipeline_id, run_id);
                        tokio::spawn(async move { this.completed(key).await });
                    }
                    EventKind::StartedRun {
                        namespace_id,
                        pipeline_id,
                        run_id,
                    } => {
                        let this = self.clone();
                        let key = RunKey::new(namespace_id, pipeline_id, run_id);
                        tokio::spawn(async move {
                            let RunKey {
                                namespace: ns,
                                pipeline: p,
                                run,
                            } = key;
                            if let Ok(run) = this.store.read(move |s| s.get_run(&ns, &p, run)).await
                            {
                                this.watch_long(run);
                            }
                        });
                    }
                    _ => {}
                }
            }
        }
    }

    /// The notifications of the config version `run` ran with.
    async fn notifications_of(&self, run: &Run) -> Vec<Notification> {
        let (ns, p, v) = (
            run.namespace_id.clone(),
            run.pipeline_id.clone(),
            run.pipeline_config_version,
        );
        self.store
            .read(move |s| s.get_config(&ns, &p, v))
            .await
            .map(|c| c.notifications)
            .unwrap_or_default()
    }

    /// Arms the `long_running` notifications of a running run: each fires once, if the run is
    /// still running when its time has passed.
    fn watch_long(self: Arc<Self>, run: Run) {
        tokio::spawn(async move {
            let notifications = self.notifications_of(&run).await;
            for n in notifications {
                if !n.on.contains(&NotifyOn::LongRunning) || n.long_running_after == 0 {
                    continue;
                }
                let this = self.clone();
                let run = run.clone();
                tokio::spawn(async move {
                    let due = run
                        .started
                        .saturating_add(n.long_running_after.saturating_mul(1000));
                    let wait = due.saturating_sub(gofer_core::now_millis());
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    let (ns, p, id) = (
                        run.namespace_id.clone(),
                        run.pipeline_id.clone(),
                        run.run_id,
                    );
                    let Ok(now) = this.store.read(move |s| s.get_run(&ns, &p, id)).await else {
                        return;
                    };
                    if now.state != RunState::Complete {
                        this.deliver(&n, NotifyOn::LongRunning, &now, &[]).await;
                    }
                });
            }
        });
    }

    /// A run completed: which of failure, recovery and success apply (docs/notifications.md).
    async fn completed(&self, key: RunKey) {
        let RunKey {
            namespace: ns,
            pipeline: p,
            run: id,
        } = key;
        let Ok(run) = self.store.read(move |s| s.get_run(&ns, &p, id)).await else {
            return;
        };
        // Most pipelines notify no one: nothing more is read for them.
        let notifications = self.notifications_of(&run).await;
        if notifications.is_empty() {
            return;
        }
        let (ns, p) = (run.namespace_id.clone(), run.pipeline_id.clone());
        let Ok(tasks) = self
            .store
            .read(move |s| s.list_task_executions(&ns, &p, id, Page::ALL))
            .await
        else {
            return;
        };
        let previous = self.previous_outcome(&run).await;
        let mut triggers = Vec::new();
        match run.status {
            // Once per failing streak: a failure after a failure says nothing new.
            RunStatus::Failed if previous != Some(RunStatus::Failed) => {
                triggers.push(NotifyOn::Failure);
            }
            RunStatus::Successful => {
                triggers.push(NotifyOn::Success);
                if previous == Some(RunStatus::Failed) {
                    triggers.push(NotifyOn::Recovery);
                }
            }
            _ => {}
        }
        for trigger in triggers {
            for n in notifications.iter().filter(|n| n.on.contains(&trigger)) {
                self.deliver(n, trigger, &run, &tasks).await;
            }
        }
    }

    /// How the pipeline's previous finished run ended (successful or failed; cancelled runs
    /// are passed over), or `None` when there is none.
    async fn previous_outcome(&self, run: &Run) -> Option<RunStatus> {
        let (ns, p, id) = (
            run.namespace_id.clone(),
            run.pipeline_id.clone(),
            run.run_id,
        );
        let runs = self
            .store
            .read(move |s| {
                s.list_runs(
                    &ns,
                    &p,
                    Page {
                        limit: 200,
                        offset: 0,
                        reverse: true,
                    },
                )
            })
            .await
            .ok()?;
        runs.into_iter()
            .filter(|r| r.run_id < id && r.state == RunState::Complete)
            .find(|r| matches!(r.status, RunStatus::Failed | RunStatus::Successful))
            .map(|r| r.status)
    }

    /// Posts one notification, retrying with backoff; records every attempt.
    async fn deliver(
        &self,
        n: &Notification,
        trigger: NotifyOn,
        run: &Run,
        tasks: &[TaskExecution],
    ) {
        let shown = gofer_core::api::shown_notification_target(&n.target);
        let key = RunKey::new(run.namespace_id.clone(), run.pipeline_id.clone(), 0);
        let url = match parse_reference(&n.target) {
            Some(reference) => match resolve_one(&self.resolver, &key, &reference).await {
                Ok((value, _)) => value,
                Err(problem) => {
                    self.record(run, trigger, &shown, 1, 0, problem, false)
                        .await;
                    return;
                }
            },
            None => n.target.clone(),
        };
        let body = body(n.format, trigger, run, tasks, &self.api_base_url);
        for attempt in 1..=ATTEMPTS {
            let answer = self.http.post(&url).json(&body).send().await;
            let retrying = attempt < ATTEMPTS;
            match answer {
                Ok(response) if response.status().is_success() => {
                    let status = response.status().as_u16();
                    let _ = self
                        .store
                        .write({
                            let kind = EventKind::NotificationSent {
                                namespace_id: run.namespace_id.clone(),
                                pipeline_id: run.pipeline_id.clone(),
                                run_id: run.run_id,
                                trigger: trigger.to_string(),
                                target: shown.clone(),
                                attempt,
                                status,
                            };
                            move |s| s.record_event(kind)
                        })
                        .await;
                    return;
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let error = format!("the target answered {}", response.status());
                    self.record(run, trigger, &shown, attempt, status, error, retrying)
                        .await;
                }
                Err(e) => {
                    // Never the URL itself in the message: its path may be the secret.
                    let error = if e.is_timeout() {
                        format!("no answer within {}s", ATTEMPT_TIMEOUT.as_secs())
                    } else if e.is_connect() {
                        "could not connect".to_string()
                    } else {
                        "the request failed".to_string()
                    };
                    self.record(run, trigger, &shown, attempt, 0, error, retrying)
                        .await;
                }
            }
            if let Some(wait) = BACKOFF.get(usize::try_from(attempt - 1).unwrap_or(0))
                && retrying
            {
                tokio::time::sleep(*wait).await;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        run: &Run,
        trigger: NotifyOn,
        shown: &str,
        attempt: u64,
        status: u16,
        error: String,
        retrying: bool,
    ) {
        tracing::warn!(
            pipeline = %run.pipeline_id,
            run = run.run_id,
            %trigger,
            target = %shown,
            attempt,
            status,
            %error,
            retrying,
            "a notification was not delivered"
        );
        let kind = EventKind::NotificationFailed {
            namespace_id: run.namespace_id.clone(),
            pipeline_id: run.pipeline_id.clone(),
            run_id: run.run_id,
            trigger: trigger.to_string(),
            target: shown.to_string(),
            attempt,
            status,
            error,
            retrying,
        };
        let _ = self.store.write(move |s| s.record_event(kind)).await;
    }
}

/// The JSON a notification posts (docs/notifications.md#what-is-sent).
pub fn body(
    format: NotificationFormat,
    trigger: NotifyOn,
    run: &Run,
    tasks: &[TaskExecution],
    api_base_url: &str,
) -> serde_json::Value {
    let link = format!(
        "{api_base_url}/api/namespaces/{}/pipelines/{}/runs/{}",
        run.namespace_id, run.pipeline_id, run.run_id
    );
    let now = gofer_core::now_millis();
    let duration_ms = if run.started == 0 {
        0
    } else if run.ended > 0 {
        run.ended.saturating_sub(run.started)
    } else {
        now.saturating_sub(run.started)
    };
    let failed: Vec<serde_json::Value> = tasks
        .iter()
        .filter(|t| t.status == TaskExecutionStatus::Failed)
        .map(|t| {
            serde_json::json!({
                "task_id": t.task_id,
                "reason": t.status_reason.as_ref().map(|r| r.reason.to_string()),
                "description": t.status_reason.as_ref().map(|r| r.description.clone()),
                "exit_code": t.exit_code,
            })
        })
        .collect();
    let text = text(trigger, run, tasks, duration_ms, &link);
    match format {
        NotificationFormat::Slack => serde_json::json!({ "text": text }),
        NotificationFormat::Json => serde_json::json!({
            "trigger": trigger.to_string(),
            "namespace_id": run.namespace_id,
            "pipeline_id": run.pipeline_id,
            "run_id": run.run_id,
            "status": run.status.to_string(),
            "state": run.state.to_string(),
            "config_version": run.pipeline_config_version,
            "started": run.started,
            "ended": run.ended,
            "duration_ms": duration_ms,
            "initiator": run.initiator.describe(),
            "failed_tasks": failed,
            "link": link,
            "text": text,
        }),
    }
}

/// One line for a person (also Slack's `text`).
fn text(
    trigger: NotifyOn,
    run: &Run,
    tasks: &[TaskExecution],
    duration_ms: u64,
    link: &str,
) -> String {
    let what = format!(
        "{}/{} run {}",
        run.namespace_id, run.pipeline_id, run.run_id
    );
    let took = human(duration_ms);
    let failed: Vec<String> = tasks
        .iter()
        .filter(|t| t.status == TaskExecutionStatus::Failed)
        .map(|t| match &t.status_reason {
            Some(r) if !r.description.is_empty() => format!("{} ({})", t.task_id, r.description),
            _ => t.task_id.clone(),
        })
        .collect();
    match trigger {
        NotifyOn::Failure => format!(
            "Gofer: {what} failed after {took}; failed tasks: {}. {link}",
            if failed.is_empty() {
                "none (see the run)".to_string()
            } else {
                failed.join(", ")
            }
        ),
        NotifyOn::Recovery => {
            format!("Gofer: {what} succeeded after {took}: the pipeline has recovered. {link}")
        }
        NotifyOn::Success => format!("Gofer: {what} succeeded after {took}. {link}"),
        NotifyOn::LongRunning => format!("Gofer: {what} has been running for {took}. {link}"),
    }
}

/// `2m 5s`, `1h 3m`, `800ms`.
fn human(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => format!("{ms}ms"),
        1..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_shown_without_their_secrets() {
        let shown_target = gofer_core::api::shown_notification_target;
        assert_eq!(
            shown_target("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com"
        );
        assert_eq!(
            shown_target("http://user:pw@example.com:8080/x?token=1"),
            "http://example.com:8080"
        );
        assert_eq!(
            shown_target("pipeline_secret{{slack}}"),
            "pipeline_secret{{slack}}"
        );
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human(800), "800ms");
        assert_eq!(human(42_000), "42s");
        assert_eq!(human(125_000), "2m 5s");
        assert_eq!(human(3_780_000), "1h 3m");
    }
}
