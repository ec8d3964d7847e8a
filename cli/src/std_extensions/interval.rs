//! The `interval` extension (docs/extensions.md#the-built-in-extensions): per subscription, starts a run every `every`, with an
//! optional random `jitter`. Subscriptions live in memory; the server re-delivers them when the
//! extension starts.

use super::{Extension, SystemEnv};
use gofer_core::api::{
    ExtensionDocumentation, ExtensionParameter, ExtensionSubscribeRequest,
    ExtensionUnsubscribeRequest, StartRunRequest,
};
use gofer_sdk::extension::SubscriptionKey;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The smallest `every` unless `MIN_INTERVAL` says otherwise.
const DEFAULT_MIN_INTERVAL: &str = "1m";

struct Subscription {
    every: String,
    jitter: String,
    /// When the next run starts (Unix ms), for the debug view.
    next_ms: Arc<Mutex<u64>>,
    /// The last attempt to start a run: when (Unix ms, 0 = none yet) and why it failed.
    last: Arc<Mutex<(u64, Option<String>)>>,
    task: tokio::task::JoinHandle<()>,
}

pub struct Interval {
    min: Duration,
    min_text: String,
    client: gofer_sdk::Client,
    subscriptions: Mutex<BTreeMap<SubscriptionKey, Subscription>>,
}

impl Interval {
    /// Reads `MIN_INTERVAL` (an unparsable value stops the extension at startup, docs/extensions.md#the-built-in-extensions).
    pub fn new(env: &SystemEnv) -> Result<Interval, String> {
        let min_text =
            super::setting("MIN_INTERVAL").unwrap_or_else(|| DEFAULT_MIN_INTERVAL.to_owned());
        let min =
            gofer_core::duration::parse(&min_text).map_err(|e| format!("MIN_INTERVAL: {e}"))?;
        let client = env.client()?;
        Ok(Interval {
            min,
            min_text,
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

/// `every` and `jitter` of a subscription, validated (messages name the parameter).
fn parse_params(
    params: &gofer_core::api::OrderedMap,
    min: Duration,
    min_text: &str,
) -> Result<(Duration, String, Duration, String), String> {
    let mut every = None;
    let mut jitter = None;
    for (key, value) in params.iter() {
        match key {
            "every" => every = Some(value.to_owned()),
            "jitter" => jitter = Some(value.to_owned()),
            other => {
                return Err(format!(
                    "{other}: unknown parameter; the interval extension takes every and jitter"
                ));
            }
        }
    }
    let every_text = every.ok_or("every: missing; set it to a duration such as 5m or 1h30m")?;
    let every = gofer_core::duration::parse(&every_text).map_err(|e| format!("every: {e}"))?;
    if every.is_zero() {
        return Err("every: must be longer than 0s".to_owned());
    }
    if every < min {
        return Err(format!("every: must be at least {min_text}"));
    }
    let jitter_text = jitter.unwrap_or_else(|| "0s".to_owned());
    let jitter = gofer_core::duration::parse(&jitter_text).map_err(|e| format!("jitter: {e}"))?;
    Ok((every, every_text, jitter, jitter_text))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A fresh random delay in `[0, jitter]`.
fn random_delay(jitter: Duration) -> Duration {
    use rand::Rng;
    if jitter.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_millis(
        rand::rng().random_range(0..=u64::try_from(jitter.as_millis()).unwrap_or(u64::MAX)),
    )
}

/// What the extension documents: its settings and subscription parameters (also what
/// `gofer extension install --interactive` asks for).
pub fn documentation() -> ExtensionDocumentation {
    ExtensionDocumentation {
        config_params: vec![ExtensionParameter {
            key: "MIN_INTERVAL".to_owned(),
            required: false,
            documentation: "The shortest `every` a subscription may ask for (default 1m)."
                .to_owned(),
        }],
        pipeline_subscription_params: vec![
            ExtensionParameter {
                key: "every".to_owned(),
                required: true,
                documentation: "How often to start a run, e.g. 5m, 1h30m (at least MIN_INTERVAL)."
                    .to_owned(),
            },
            ExtensionParameter {
                key: "jitter".to_owned(),
                required: false,
                documentation:
                    "A random delay of up to this much added to each run, e.g. 30s (default 0s)."
                        .to_owned(),
            },
        ],
        body: "Starts a run of the subscribed pipeline every `every`, counted from the time of \
               subscribing, each delayed by a fresh random amount up to `jitter`. Runs carry no \
               variables."
            .to_owned(),
    }
}

impl Extension for Interval {
    fn documentation(&self) -> ExtensionDocumentation {
        documentation()
    }

    fn debug(&self) -> String {
        let subs = self.lock();
        let list: Vec<serde_json::Value> = subs
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
                    let next = *s
                        .next_ms
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let (last_fired, last_error) = s
                        .last
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .clone();
                    // `last_fired` and `last_error` are what the server records on the
                    // subscription (gofer_core::api::ExtensionFireReports).
                    serde_json::json!({
                        "namespace_id": ns,
                        "pipeline_id": p,
                        "subscription_id": id,
                        "every": s.every,
                        "jitter": s.jitter,
                        "next_run": crate::time::rfc3339(next),
                        "last_fired": last_fired,
                        "last_error": last_error,
                    })
                },
            )
            .collect();
        serde_json::json!({"min_interval": self.min_text, "subscriptions": list}).to_string()
    }

    fn subscribe(&self, request: ExtensionSubscribeRequest) -> Result<(), String> {
        let (every, every_text, jitter, jitter_text) = parse_params(
            &request.pipeline_subscription_params,
            self.min,
            &self.min_text,
        )?;
        let key = SubscriptionKey::of(&request);
        let next_ms = Arc::new(Mutex::new(0));
        let last = Arc::new(Mutex::new((0, None)));
        let client = self.client.clone();
        let next = next_ms.clone();
        let fired = last.clone();
        let SubscriptionKey {
            namespace: ns,
            pipeline: p,
            subscription: id,
        } = key.clone();
        let task = tokio::spawn(async move {
            let t0 = tokio::time::Instant::now();
            let t0_ms = now_ms();
            for k in 1u32.. {
                let Some(offset) = every.checked_mul(k) else {
                    break;
                };
                let at = offset + random_delay(jitter);
                *next
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    t0_ms + u64::try_from(at.as_millis()).unwrap_or(u64::MAX);
                tokio::time::sleep_until(t0 + at).await;
                let scheduled = crate::time::rfc3339_ms(
                    t0_ms + u64::try_from(at.as_millis()).unwrap_or(u64::MAX),
                );
                let request = StartRunRequest {
                    subscription_id: Some(id.to_string()),
                    ..StartRunRequest::default()
                };
                let outcome = match client.start_run(&ns, &p, &request).await {
                    Ok(run) => {
                        println!(
                            "subscription {id}: started run {} of {ns}/{p} scheduled for {scheduled}",
                            run.run_id
                        );
                        None
                    }
                    Err(e) => {
                        eprintln!("subscription {id}: could not start a run of {ns}/{p}: {e}");
                        Some(e.to_string())
                    }
                };
                *fired
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = (now_ms(), outcome);
            }
        });
        let replaced = self.lock().insert(
            key,
            Subscription {
                every: every_text,
                jitter: jitter_text,
                next_ms,
                last,
                task,
            },
        );
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
    fn every_and_jitter_are_validated_naming_the_parameter() {
        let min = Duration::from_secs(60);
        let ok =
            parse_params(&params(&[("every", "1h30m"), ("jitter", "30s")]), min, "1m").unwrap();
        assert_eq!(ok.0, Duration::from_secs(5400));
        assert_eq!(ok.2, Duration::from_secs(30));
        let no_jitter = parse_params(&params(&[("every", "1m")]), min, "1m").unwrap();
        assert_eq!(no_jitter.2, Duration::ZERO);
        let err = |pairs: &[(&str, &str)]| parse_params(&params(pairs), min, "1m").unwrap_err();
        assert!(err(&[]).starts_with("every: missing"));
        assert!(err(&[("every", "soon")]).starts_with("every: "));
        assert_eq!(err(&[("every", "30s")]), "every: must be at least 1m");
        assert!(err(&[("every", "5m"), ("jitter", "x")]).starts_with("jitter: "));
        assert!(
            err(&[("every", "5m"), ("cron", "* * * * *")]).starts_with("cron: unknown parameter")
        );
        // A zero minimum still refuses a zero interval.
        assert_eq!(
            parse_params(&params(&[("every", "0s")]), Duration::ZERO, "0s").unwrap_err(),
            "every: must be longer than 0s"
        );
    }

    #[test]
    fn delays_stay_within_the_jitter() {
        assert_eq!(random_delay(Duration::ZERO), Duration::ZERO);
        for _ in 0..200 {
            assert!(random_delay(Duration::from_secs(2)) <= Duration::from_secs(2));
        }
    }
}
