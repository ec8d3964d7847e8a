//! `GET /metrics` (docs/api.md#operations): Prometheus text format 0.0.4.
//!
//! HTTP counters are recorded by the request pipeline; run, task and event counters come from
//! following the event log from the moment the server started (counters restart at zero with
//! the process, as Prometheus expects); the pending/running gauges are read from the store at
//! scrape time. No label carries a namespace, pipeline or token identifier.

use crate::events::EventFeed;
use crate::store::StoreHandle;
use gofer_core::api::EventKind;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the HTTP request duration histogram.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Upper bounds (seconds) of the task execution duration histogram.
const TASK_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 10800.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Per bucket of the histogram's bounds (not cumulative; summed when rendered).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.len() != bounds.len() {
            self.counts = vec![0; bounds.len()];
        }
        if let Some(i) = bounds.iter().position(|b| value <= *b) {
            self.counts[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, bound) in bounds.iter().enumerate() {
            cumulative += self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Default)]
struct Counters {
    /// `(method, route template, status)` → requests.
    http: BTreeMap<(String, &'static str, u16), u64>,
    http_duration: BTreeMap<(String, &'static str), Histogram>,
    runs: BTreeMap<String, u64>,
    tasks: BTreeMap<String, u64>,
    task_duration: Histogram,
    events: BTreeMap<&'static str, u64>,
    /// `(strategy, status)` → concluded deployments.
    deployments: BTreeMap<(String, String), u64>,
}

/// The server's metrics.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

impl Metrics {
    /// Records one answered request. `route` is the matched path template (`""` = no route).
    pub fn http(&self, method: &str, route: &'static str, status: u16, elapsed: Duration) {
        let Ok(mut c) = self.counters.lock() else {
            return;
        };
        let route = if route.is_empty() { "unmatched" } else { route };
        *c.http
            .entry((method.to_owned(), route, status))
            .or_default() += 1;
        c.http_duration
            .entry((method.to_owned(), route))
            .or_default()
            .observe(HTTP_BUCKETS, elapsed.as_secs_f64());
    }

    /// Counts an event, and a completed run or task execution by status; `task_secs` is the
    /// execution's duration when it ran.
    fn event(&self, kind: &EventKind, task_secs: Option<f64>) {
        let Ok(mut c) = self.counters.lock() else {
            return;
        };
        *c.events.entry(kind.name()).or_default() += 1;
        match kind {
            EventKind::CompletedDeployment {
                strategy, status, ..
            } => {
                *c.deployments
                    .entry((strategy.to_string(), status.to_string()))
                    .or_default() += 1;
            }
            EventKind::CompletedRun { status, .. } => {
                *c.runs.entry(status.to_string()).or_default() += 1;
            }
            EventKind::CompletedTaskExecution { status, .. } => {
                *c.tasks.entry(status.to_string()).or_default() += 1;
                if let Some(secs) = task_secs {
                    c.task_duration.observe(TASK_BUCKETS, secs);
                }
            }
            _ => {}
        }
    }

    /// The exposition text. `pending`/`running` are the current run counts, `extensions` the
    /// installed extensions by state.
    pub fn render(
        &self,
        pending: u64,
        running: u64,
        extensions: &std::collections::BTreeMap<gofer_core::enums::ExtensionState, u64>,
        unreadable_records: u64,
        canaries_in_flight: u64,
    ) -> String {
        let mut out = String::with_capacity(4096);
        let _ = writeln!(
            out,
            "# HELP gofer_build_info The running Gofer version.\n# TYPE gofer_build_info gauge\n\
             gofer_build_info{{semver=\"{}\",commit=\"{}\"}} 1",
            crate::SEMVER,
            crate::COMMIT
        );
        let _ = writeln!(
            out,
            "# HELP gofer_runs Runs by state.\n# TYPE gofer_runs gauge\n\
             gofer_runs{{state=\"pending\"}} {pending}\ngofer_runs{{state=\"running\"}} {running}"
        );
        let _ = writeln!(
            out,
            "# HELP gofer_extensions Extensions by state.\n# TYPE gofer_extensions gauge"
        );
        for state in [
            gofer_core::enums::ExtensionState::Processing,
            gofer_core::enums::ExtensionState::Running,
            gofer_core::enums::ExtensionState::Exited,
        ] {
            let n = extensions.get(&state).copied().unwrap_or(0);
            let _ = writeln!(out, "gofer_extensions{{state=\"{state}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP gofer_storage_unreadable_records Stored records that do not decode; readers \
             skip them (gofer service doctor).\n# TYPE gofer_storage_unreadable_records gauge\n\
             gofer_storage_unreadable_records {unreadable_records}"
        );
        let _ = writeln!(
            out,
            "# HELP gofer_canary_runs_in_flight Runs on a canary's new version that have not \
             completed yet.\n# TYPE gofer_canary_runs_in_flight gauge\n\
             gofer_canary_runs_in_flight {canaries_in_flight}"
        );
        let Ok(c) = self.counters.lock() else {
            return out;
        };
        let _ = writeln!(
            out,
            "# HELP gofer_deployments_total Concluded deployments by strategy and final status.\n\
             # TYPE gofer_deployments_total counter"
        );
        for ((strategy, status), n) in &c.deployments {
            let _ = writeln!(
                out,
                "gofer_deployments_total{{strategy=\"{strategy}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP gofer_runs_total Completed runs by final status.\n# TYPE gofer_runs_total counter"
        );
        for (status, n) in &c.runs {
            let _ = writeln!(out, "gofer_runs_total{{status=\"{status}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP gofer_task_executions_total Completed task executions by status.\n\
             # TYPE gofer_task_executions_total counter"
        );
        for (status, n) in &c.tasks {
            let _ = writeln!(
                out,
                "gofer_task_executions_total{{status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP gofer_task_execution_duration_seconds Time from a task's start to its end.\n\
             # TYPE gofer_task_execution_duration_seconds histogram"
        );
        c.task_duration.render(
            &mut out,
            "gofer_task_execution_duration_seconds",
            "",
            TASK_BUCKETS,
        );
        let _ = writeln!(
            out,
            "# HELP gofer_events_total Events published, by kind.\n# TYPE gofer_events_total counter"
        );
        for (kind, n) in &c.events {
            let _ = writeln!(out, "gofer_events_total{{kind=\"{kind}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP gofer_http_requests_total HTTP requests by method, route template and status.\n\
             # TYPE gofer_http_requests_total counter"
        );
        for ((method, route, status), n) in &c.http {
            let _ = writeln!(
                out,
                "gofer_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP gofer_http_request_duration_seconds Time to answer HTTP requests.\n\
             # TYPE gofer_http_request_duration_seconds histogram"
        );
        for ((method, route), h) in &c.http_duration {
            h.render(
                &mut out,
                "gofer_http_request_duration_seconds",
                &format!("method=\"{method}\",route=\"{route}\""),
                HTTP_BUCKETS,
            );
        }
        out
    }

    /// Follows the event log from its current end and counts what happens, until `shutdown`.
    pub async fn follow_events(
        self: std::sync::Arc<Self>,
        store: StoreHandle,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let start = match store.read(|s| s.last_event_id()).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: reading the event log failed; event metrics are off");
                return;
            }
        };
        let mut feed = EventFeed::after(store.clone(), start);
        while let Some(events) = feed.next_until_shutdown(&mut shutdown, "metrics").await {
            for event in events {
                let task_secs = match &event.kind {
                    EventKind::CompletedTaskExecution {
                        namespace_id,
                        pipeline_id,
                        run_id,
                        task_execution_id,
                        ..
                    } => {
                        let (ns, p, run, task) = (
                            namespace_id.clone(),
                            pipeline_id.clone(),
                            *run_id,
                            task_execution_id.clone(),
                        );
                        store
                            .read(move |s| s.get_task_execution(&ns, &p, run, &task))
                            .await
                            .ok()
                            .filter(|e| e.started > 0 && e.ended >= e.started)
                            .map(|e| (e.ended - e.started) as f64 / 1000.0)
                    }
                    _ => None,
                };
                self.event(&event.kind, task_secs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_with_an_infinite_bucket() {
        let mut h = Histogram::default();
        h.observe(&[1.0, 2.0], 0.5);
        h.observe(&[1.0, 2.0], 1.5);
        h.observe(&[1.0, 2.0], 9.0);
        let mut out = String::new();
        h.render(&mut out, "x", "a=\"b\"", &[1.0, 2.0]);
        assert_eq!(
            out,
            "x_bucket{a=\"b\",le=\"1\"} 1\nx_bucket{a=\"b\",le=\"2\"} 2\n\
             x_bucket{a=\"b\",le=\"+Inf\"} 3\nx_sum{a=\"b\"} 11\nx_count{a=\"b\"} 3\n"
        );
    }

    #[test]
    fn http_requests_are_counted_by_template_not_path() {
        let m = Metrics::default();
        m.http("GET", "/api/namespaces/{ns}", 200, Duration::from_millis(2));
        m.http("GET", "/api/namespaces/{ns}", 200, Duration::from_millis(3));
        m.http("GET", "", 404, Duration::from_millis(1));
        let extensions = [(gofer_core::enums::ExtensionState::Running, 2)].into();
        let text = m.render(0, 0, &extensions, 0, 0);
        assert!(text.contains("gofer_extensions{state=\"running\"} 2\n"));
        assert!(text.contains("gofer_extensions{state=\"exited\"} 0\n"));
        assert!(text.contains(
            "gofer_http_requests_total{method=\"GET\",route=\"/api/namespaces/{ns}\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "gofer_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1"
        ));
        assert!(text.contains("gofer_build_info{semver="));
    }
}
