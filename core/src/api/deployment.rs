//! Deployment strategies (docs/pipelines.md#safe-deployments): the optional body of a deploy,
//! its validation into a plan, and the progress a running deployment carries.

use crate::api::OrderedMap;
use crate::canary::{Bake, CanaryPolicy, CanaryTally};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `POST P/configs/{version}` body. No body, or `{}`, is an instant switch; at most one of
/// `canary` and `smoke`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("not" = {
    "required": ["canary", "smoke"],
    "properties": {"canary": {"type": "object"}, "smoke": {"type": "object"}}
}))]
pub struct DeployRequest {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::objects::optional_object"
    )]
    pub canary: Option<CanaryRequest>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::objects::optional_object"
    )]
    pub smoke: Option<SmokeRequest>,
}

/// A canary as asked for. Exactly one of `bake_runs` / `bake_seconds`, or neither for the
/// default bake of 10 runs (`DEFAULT_BAKE_RUNS`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("not" = {
    "required": ["bake_runs", "bake_seconds"],
    "properties": {"bake_runs": {"type": "integer"}, "bake_seconds": {"type": "integer"}}
}))]
pub struct CanaryRequest {
    /// Share of new runs on the new version, 1–100.
    #[schemars(range(min = 1, max = 100))]
    pub percent: u64,
    /// Runs on the new version before it is promoted (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub bake_runs: Option<u64>,
    /// Seconds before the new version is promoted (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub bake_seconds: Option<u64>,
    /// 0.0–1.0; default 0 (any failure counts against the canary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_failure_rate: Option<f64>,
    /// Counted canary runs needed before a failure rate can roll back; default 3
    /// (`DEFAULT_MIN_SAMPLE`), or the bake's run count when that is smaller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_sample: Option<u64>,
}

/// A blue/green deploy: the new version runs once on its own first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmokeRequest {
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    #[schemars(schema_with = "crate::api::variables_schema")]
    pub variables: OrderedMap,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

/// The bake when none is given.
pub const DEFAULT_BAKE_RUNS: u64 = 10;
/// The minimum sample when none is given.
pub const DEFAULT_MIN_SAMPLE: u64 = 3;
// The doc comments of `CanaryRequest`, which the OpenAPI document shows, state both values.
const _: () = assert!(DEFAULT_BAKE_RUNS == 10 && DEFAULT_MIN_SAMPLE == 3);

/// A validated deploy request.
#[derive(Debug, Clone, PartialEq)]
pub enum DeployPlan {
    Instant,
    Canary(CanaryPolicy),
    Smoke(SmokeRequest),
}

impl DeployRequest {
    /// Checks the request; the error names the field.
    pub fn plan(&self) -> Result<DeployPlan, String> {
        match (&self.canary, &self.smoke) {
            (None, None) => Ok(DeployPlan::Instant),
            (Some(_), Some(_)) => Err(
                "canary, smoke: choose one strategy; a deploy is either a canary or a smoke run"
                    .into(),
            ),
            (None, Some(smoke)) => Ok(DeployPlan::Smoke(smoke.clone())),
            (Some(c), None) => {
                if !(1..=100).contains(&c.percent) {
                    return Err(format!(
                        "canary.percent: must be 1-100 (the share of new runs on the new version), got {}",
                        c.percent
                    ));
                }
                let bake = match (c.bake_runs, c.bake_seconds) {
                    (Some(_), Some(_)) => {
                        return Err(
                            "canary.bake_runs, canary.bake_seconds: give one or the other".into(),
                        );
                    }
                    (Some(0), None) => return Err("canary.bake_runs: must be at least 1".into()),
                    (None, Some(0)) => return Err("canary.bake_seconds: must be at least 1".into()),
                    (Some(n), None) => Bake::Runs(n),
                    (None, Some(s)) => Bake::Seconds(s),
                    (None, None) => Bake::Runs(DEFAULT_BAKE_RUNS),
                };
                let rate = c.max_failure_rate.unwrap_or(0.0);
                if !(0.0..=1.0).contains(&rate) {
                    return Err(format!(
                        "canary.max_failure_rate: must be between 0 and 1 (0.2 = 20%), got {rate}"
                    ));
                }
                let min_sample = match c.min_sample {
                    Some(0) => return Err("canary.min_sample: must be at least 1".into()),
                    Some(n) => n,
                    None => match bake {
                        Bake::Runs(n) => DEFAULT_MIN_SAMPLE.min(n),
                        Bake::Seconds(_) => DEFAULT_MIN_SAMPLE,
                    },
                };
                Ok(DeployPlan::Canary(CanaryPolicy {
                    percent: c.percent as u8,
                    bake,
                    max_failure_rate: rate,
                    min_sample,
                }))
            }
        }
    }
}

/// A canary deployment's rules and runs so far (stored with the deployment, so a restart
/// resumes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CanaryProgress {
    pub policy: CanaryPolicy,
    /// Seeds the split (with each run id): fixed when the deployment starts.
    pub seed: u64,
    /// Runs created on the new version.
    pub started: u64,
    /// Runs created on the live version while the canary ran.
    pub baseline: u64,
    /// The new version's completed runs.
    pub tally: CanaryTally,
    /// When a time bake ends (Unix ms); 0 for a bake counted in runs.
    #[serde(default)]
    pub bake_until: u64,
}

impl CanaryProgress {
    /// Canary runs created and not yet complete.
    pub fn in_flight(&self) -> u64 {
        self.started
            .saturating_sub(self.tally.counted() + self.tally.cancelled)
    }

    /// One line for people: "4 of 6 canary runs, 1 failed (25.0%, threshold 20.0%)".
    pub fn summary(&self) -> String {
        let t = &self.tally;
        let bake = match self.policy.bake {
            Bake::Runs(n) => format!("{} of {n} canary runs", t.counted()),
            Bake::Seconds(s) => format!(
                "{} canary runs, bake {}",
                t.counted(),
                crate::duration::format_secs(s)
            ),
        };
        let mut line = format!(
            "{bake}, {} failed ({:.1}%, threshold {:.1}%)",
            t.failed,
            t.failure_rate() * 100.0,
            self.policy.max_failure_rate * 100.0
        );
        if t.scheduler_errors > 0 {
            line.push_str(&format!(", {} scheduler errors", t.scheduler_errors));
        }
        if t.cancelled > 0 {
            line.push_str(&format!(", {} cancelled (not counted)", t.cancelled));
        }
        line
    }
}

impl super::Deployment {
    /// Whether the clock alone concludes this deployment at `now` (Unix ms): a canary whose time
    /// bake is over and whose runs so far decide it. A bake counted in runs is concluded by the
    /// commit of its deciding run instead.
    pub fn decided_by_clock(&self, now: u64) -> bool {
        self.state == crate::enums::DeploymentState::Running
            && self.canary.as_ref().is_some_and(|c| {
                c.bake_until != 0
                    && now >= c.bake_until
                    && crate::canary::decide(
                        &c.policy,
                        &c.tally,
                        now.saturating_sub(self.started) / 1000,
                    ) != crate::canary::Decision::KeepBaking
            })
    }
}

/// A smoke deployment's run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SmokeProgress {
    pub run_id: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary(json: &str) -> Result<DeployPlan, String> {
        serde_json::from_str::<DeployRequest>(json).unwrap().plan()
    }

    #[test]
    fn plans_and_their_errors_name_the_field() {
        assert_eq!(canary("{}"), Ok(DeployPlan::Instant));
        let Ok(DeployPlan::Canary(p)) = canary(r#"{"canary":{"percent":50,"bake_runs":6}}"#) else {
            panic!("not a canary")
        };
        assert_eq!((p.percent, p.bake, p.min_sample), (50, Bake::Runs(6), 3));
        let Ok(DeployPlan::Canary(p)) = canary(r#"{"canary":{"percent":5,"bake_runs":2}}"#) else {
            panic!("not a canary")
        };
        assert_eq!(p.min_sample, 2, "the default sample never exceeds the bake");
        for (body, field) in [
            (r#"{"canary":{"percent":0}}"#, "canary.percent"),
            (r#"{"canary":{"percent":101}}"#, "canary.percent"),
            (
                r#"{"canary":{"percent":5,"bake_runs":1,"bake_seconds":3}}"#,
                "canary.bake_runs, canary.bake_seconds",
            ),
            (
                r#"{"canary":{"percent":5,"bake_runs":0}}"#,
                "canary.bake_runs",
            ),
            (
                r#"{"canary":{"percent":5,"max_failure_rate":1.5}}"#,
                "canary.max_failure_rate",
            ),
            (
                r#"{"canary":{"percent":5,"min_sample":0}}"#,
                "canary.min_sample",
            ),
            (r#"{"canary":{"percent":5},"smoke":{}}"#, "canary, smoke"),
        ] {
            let err = canary(body).unwrap_err();
            assert!(err.starts_with(&format!("{field}:")), "{body}: {err}");
        }
        assert!(serde_json::from_str::<DeployRequest>(r#"{"canary":{"pct":5}}"#).is_err());
    }
}
