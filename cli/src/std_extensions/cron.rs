//! The `cron` extension (docs/decisions.md "cron"): per subscription, starts a run at every
//! minute its `expression` matches in its `timezone`, with `GOFER_EXTENSION_CRON_SCHEDULED_TIME`
//! set to the scheduled minute. The last scheduled minute fired is kept in the extension's object
//! store, so an instant is never fired twice across restarts, and `catch_up = latest` can start
//! one run for the latest minute missed while the extension was down.

use super::{Extension, SystemEnv};
use futures_util::StreamExt;
use gofer_core::api::{
    ExtensionDocumentation, ExtensionParameter, ExtensionSubscribeRequest,
    ExtensionUnsubscribeRequest, StartRunRequest,
};
use gofer_core::cron::{Schedule, time_zone};
use gofer_sdk::ObjectScope;
use gofer_sdk::extension::SubscriptionKey;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The run variable naming the scheduled minute.
pub const SCHEDULED_TIME_VARIABLE: &str = "GOFER_EXTENSION_CRON_SCHEDULED_TIME";

/// What a subscription asked for, validated.
#[derive(Debug, Clone)]
struct Params {
    expression: String,
    schedule: Schedule,
    timezone: String,
    tz: TimeZone,
    catch_up: bool,
}

/// How the last scheduled minute went, for the debug info (and the server's firing reports).
#[derive(Debug, Clone, Default)]
struct Last {
    /// The scheduled minute last fired (or recovered from the object store).
    scheduled: Option<Timestamp>,
    /// When a run was last asked for (Unix ms) and why that failed.
    fired_ms: u64,
    error: Option<String>,
}

struct Subscription {
    params: Params,
    last: Arc<Mutex<Last>>,
    task: tokio::task::JoinHandle<()>,
}

pub struct Cron {
    id: String,
    client: gofer_sdk::Client,
    subscriptions: Mutex<BTreeMap<SubscriptionKey, Subscription>>,
}

impl Cron {
    pub fn new(env: &SystemEnv) -> Result<Cron, String> {
        let client = env.client()?;
        Ok(Cron {
            id: env.id.clone(),
            client,
            subscriptions: Mutex::new(BTreeMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<SubscriptionKey, Subscription>> {
        self.subscriptions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `expression`, `timezone` and `catch_up`, validated (messages name the parameter).
fn parse_params(params: &gofer_core::api::OrderedMap) -> Result<Params, String> {
    let (mut expression, mut timezone, mut catch_up) = (None, None, None);
    for (key, value) in params.iter() {
        match key {
            "expression" => expression = Some(value.to_owned()),
            "timezone" => timezone = Some(value.to_owned()),
            "catch_up" => catch_up = Some(value.to_owned()),
            other => {
                return Err(format!(
                    "{other}: unknown parameter; the cron extension takes expression, timezone \
                     and catch_up"
                ));
            }
        }
    }
    let expression = expression
        .ok_or("expression: missing; set it to a cron expression such as '0 6 * * 1-5'")?;
    let schedule = Schedule::parse(&expression).map_err(|e| format!("expression: {e}"))?;
    let timezone = timezone.unwrap_or_else(|| "UTC".to_owned());
    let tz = time_zone(&timezone).map_err(|e| format!("timezone: {e}"))?;
    let catch_up = match catch_up.as_deref().unwrap_or("none") {
        "none" => false,
        "latest" => true,
        other => return Err(format!("catch_up: '{other}' is not one of none, latest")),
    };
    Ok(Params {
        expression,
        schedule,
        timezone,
        tz,
        catch_up,
    })
}

/// The object holding a subscription's last scheduled minute.
fn last_fire_key(key: &SubscriptionKey) -> String {
    let SubscriptionKey {
        namespace: ns,
        pipeline: p,
        subscription: id,
    } = key;
    format!("last-fire.{ns}.{p}.{id}")
}

fn now_ms() -> u64 {
    u64::try_from(Timestamp::now().as_millisecond()).unwrap_or(0)
}

/// Reads the stored last scheduled minute (none when never fired or unreadable).
async fn stored_last(
    client: &gofer_sdk::Client,
    ext: &str,
    key: &SubscriptionKey,
) -> Option<Timestamp> {
    let mut stream = client
        .get_object(ObjectScope::Extension(ext), &last_fire_key(key))
        .await
        .ok()?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.ok()?);
    }
    String::from_utf8(bytes).ok()?.trim().parse().ok()
}

/// Starts one run for the scheduled minute `at`, then records it (object store first, so a
/// restart never fires it again).
async fn fire(
    client: &gofer_sdk::Client,
    ext: &str,
    key: &SubscriptionKey,
    at: Timestamp,
    last: &Mutex<Last>,
) {
    let SubscriptionKey {
        namespace: ns,
        pipeline: p,
        subscription: id,
    } = key;
    let stored = client
        .put_object(
            ObjectScope::Extension(ext),
            &last_fire_key(key),
            futures_util::stream::once(async move {
                Ok::<_, std::io::Error>(bytes::Bytes::from(at.to_string()))
            }),
            true,
        )
        .await;
    if let Err(e) = stored {
        eprintln!("subscription {id}: could not record the fire time of {at}: {e}");
    }
    let request = StartRunRequest {
        variables: [(SCHEDULED_TIME_VARIABLE, at.to_string().as_str())]
            .into_iter()
            .collect(),
        subscription_id: Some(id.to_string()),
        ..StartRunRequest::default()
    };
    let error = match client.start_run(ns, p, &request).await {
        Ok(run) => {
            println!(
                "subscription {id}: started run {} of {ns}/{p} for {at}",
                run.run_id
            );
            None
        }
        Err(e) => {
            eprintln!("subscription {id}: could not start a run of {ns}/{p} for {at}: {e}");
            Some(e.to_string())
        }
    };
    let mut last = last
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    last.scheduled = Some(at);
    last.fired_ms = now_ms();
    last.error = error;
}

/// Sleeps until `at` (wall clock), waking early only to re-check; precise to the millisecond.
async fn sleep_until(at: Timestamp) {
    loop {
        let left = at.as_millisecond() - Timestamp::now().as_millisecond();
        if left <= 0 {
            return;
        }
        // Sleep in slices of at most a minute, so a clock change is noticed.
        let slice = left.min(60_000);
        tokio::time::sleep(std::time::Duration::from_millis(
            u64::try_from(slice).unwrap_or(0),
        ))
        .await;
    }
}

/// One subscription's life: recover the last fire, catch up if asked, then fire each matching
/// minute on time.
async fn run_subscription(
    client: gofer_sdk::Client,
    ext: String,
    key: SubscriptionKey,
    params: Params,
    last: Arc<Mutex<Last>>,
) {
    let recovered = stored_last(&client, &ext, &key).await;
    if let Some(at) = recovered {
        last.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .scheduled = Some(at);
    }
    let now = Timestamp::now();
    if params.catch_up
        && let Some(from) = recovered
    {
        // The latest scheduled minute missed since the last fire, if any.
        let mut missed = None;
        let mut t = from;
        while let Some(next) = params.schedule.next_after(t, &params.tz) {
            if next > now {
                break;
            }
            missed = Some(next);
            t = next;
        }
        if let Some(at) = missed {
            fire(&client, &ext, &key, at, &last).await;
        }
    }
    loop {
        let after = {
            let last = last
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match last.scheduled {
                Some(scheduled) if scheduled > Timestamp::now() => scheduled,
                _ => Timestamp::now(),
            }
        };
        let Some(next) = params.schedule.next_after(after, &params.tz) else {
            println!(
                "subscription {}: the expression matches no more minutes",
                key.subscription
            );
            return;
        };
        sleep_until(next).await;
        fire(&client, &ext, &key, next, &last).await;
    }
}

/// What the extension documents: its settings and subscription parameters (also what
/// `gofer extension install --interactive` asks for).
pub fn documentation() -> ExtensionDocumentation {
    ExtensionDocumentation {
        config_params: Vec::new(),
        pipeline_subscription_params: vec![
            ExtensionParameter {
                key: "expression".to_owned(),
                required: true,
                documentation: "When to start a run: 5 fields (minute hour day-of-month \
                                month day-of-week) or 6 with a year, e.g. '0 6 * * 1-5'."
                    .to_owned(),
            },
            ExtensionParameter {
                key: "timezone".to_owned(),
                required: false,
                documentation: "The IANA time zone the expression is read in, e.g. \
                                Europe/Berlin (default UTC)."
                    .to_owned(),
            },
            ExtensionParameter {
                key: "catch_up".to_owned(),
                required: false,
                documentation: "none (default) or latest: after downtime that missed \
                                scheduled minutes, start one run for the latest of them."
                    .to_owned(),
            },
        ],
        body: format!(
            "Starts a run of the subscribed pipeline at every minute its expression matches, \
             with {SCHEDULED_TIME_VARIABLE} set to the scheduled minute (RFC 3339, UTC)."
        ),
    }
}

impl Extension for Cron {
    fn documentation(&self) -> ExtensionDocumentation {
        documentation()
    }

    /// The minutes the subscription's expression matches in the range, in its time zone
    /// (docs/extensions.md#backfilling-a-schedule), each with the scheduled-time variable a
    /// run for it gets.
    fn schedule(
        &self,
        request: gofer_core::api::ExtensionScheduleRequest,
    ) -> Result<Vec<gofer_core::api::ScheduledInstant>, (u16, String)> {
        let key = SubscriptionKey {
            namespace: request.namespace_id.clone(),
            pipeline: request.pipeline_id.clone(),
            subscription: request.pipeline_subscription_id.clone(),
        };
        let params = self
            .lock()
            .get(&key)
            .map(|s| s.params.clone())
            .ok_or_else(|| {
                (
                    404,
                    format!(
                        "no subscription '{}' of {}/{} here",
                        key.subscription, key.namespace, key.pipeline
                    ),
                )
            })?;
        let from = gofer_core::cron::parse_instant("from", &request.from).map_err(|e| (400, e))?;
        let to = gofer_core::cron::parse_instant("to", &request.to).map_err(|e| (400, e))?;
        let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
        Ok(params
            .schedule
            .between(from, to, &params.tz, limit)
            .into_iter()
            .map(|at| gofer_core::api::ScheduledInstant {
                at: at.to_string(),
                variables: [(SCHEDULED_TIME_VARIABLE, at.to_string().as_str())]
                    .into_iter()
                    .collect(),
            })
            .collect())
    }

    fn debug(&self) -> String {
        let now = Timestamp::now();
        let list: Vec<serde_json::Value> = self
            .lock()
            .iter()
            .map(
                |(
                    SubscriptionKey {
                        namespace: ns,
                        pipeline: p,
                        subscription: id,
                    },
                    s,
                )| {
                    let last = s
                        .last
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .clone();
                    let next: Vec<String> = s
                        .params
                        .schedule
                        .upcoming(now, &s.params.tz, 5)
                        .into_iter()
                        .map(|t| t.to_zoned(s.params.tz.clone()).to_string())
                        .collect();
                    // `last_fired` and `last_error` are what the server records on the
                    // subscription (gofer_core::api::ExtensionFireReports).
                    serde_json::json!({
                        "namespace_id": ns,
                        "pipeline_id": p,
                        "subscription_id": id,
                        "expression": s.params.expression,
                        "timezone": s.params.timezone,
                        "catch_up": if s.params.catch_up { "latest" } else { "none" },
                        "last_scheduled": last.scheduled.map(|t| t.to_string()),
                        "last_fired": last.fired_ms,
                        "last_error": last.error,
                        "next": next,
                    })
                },
            )
            .collect();
        serde_json::json!({"subscriptions": list}).to_string()
    }

    fn subscribe(&self, request: ExtensionSubscribeRequest) -> Result<(), String> {
        let params = parse_params(&request.pipeline_subscription_params)?;
        let key = SubscriptionKey::of(&request);
        let last = Arc::new(Mutex::new(Last::default()));
        let task = tokio::spawn(run_subscription(
            self.client.clone(),
            self.id.clone(),
            key.clone(),
            params.clone(),
            last.clone(),
        ));
        let replaced = self.lock().insert(key, Subscription { params, last, task });
        if let Some(old) = replaced {
            old.task.abort();
        }
        Ok(())
    }

    fn unsubscribe(&self, request: ExtensionUnsubscribeRequest) {
        let key = SubscriptionKey::of_unsubscribe(&request);
        if let Some(old) = self.lock().remove(&key) {
            old.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> gofer_core::api::OrderedMap {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn bad_params_name_the_parameter() {
        let e = |pairs: &[(&str, &str)]| parse_params(&params(pairs)).unwrap_err();
        assert!(e(&[]).starts_with("expression: missing"));
        assert_eq!(
            e(&[("expression", "0 24 * * *")]),
            "expression: field 2 (hour): 24 is out of range 0-23"
        );
        assert!(
            e(&[("expression", "* * * * *"), ("timezone", "Mars/Olympus")])
                .starts_with("timezone: 'Mars/Olympus' is not an IANA time zone name")
        );
        assert_eq!(
            e(&[("expression", "* * * * *"), ("catch_up", "all")]),
            "catch_up: 'all' is not one of none, latest"
        );
        assert!(e(&[("expression", "* * * * *"), ("tz", "UTC")]).starts_with("tz: unknown"));
        let ok = parse_params(&params(&[
            ("expression", "0 6 * * 1-5"),
            ("timezone", "Europe/Berlin"),
            ("catch_up", "latest"),
        ]))
        .unwrap();
        assert!(ok.catch_up);
        assert_eq!(ok.timezone, "Europe/Berlin");
    }
}
