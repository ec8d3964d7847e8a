//! The rules of a canary deployment, as pure functions: which version a new run gets, and what
//! the runs so far decide — promote, roll back, or keep baking. The server keeps the counters
//! and calls these; nothing here reads a clock or a store.
//!
//! - **The split** is reproducible: a run's version is a function of the deployment and the run
//!   id alone (a SplitMix64 hash), so a run never changes version after a restart, and over many
//!   runs the share on the new version converges to the percentage.
//! - **Cancelled runs never count.** A run that failed for a scheduler error (the container could
//!   not be created or started) counts as a failure — an image that does not exist is the new
//!   version's fault — and is also counted on its own so an operator can see it.
//! - **Roll back** as soon as the failure rate is above the threshold with at least
//!   `min_sample` runs counted; **promote** when the bake is over (enough canary runs, or the
//!   time elapsed with at least one canary run) and the rate is at or below the threshold.

use serde::{Deserialize, Serialize};

/// How long a canary bakes before it can be promoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bake {
    /// This many canary runs completed (cancelled ones excluded).
    Runs(u64),
    /// This many seconds since the deployment started, with at least one canary run completed.
    Seconds(u64),
}

/// What a canary deployment was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CanaryPolicy {
    /// Share of new runs on the new version, 1–99.
    pub percent: u8,
    pub bake: Bake,
    /// The highest failure rate (0.0–1.0) at which the canary may be promoted.
    pub max_failure_rate: f64,
    /// Counted runs needed before a failure rate can roll the canary back.
    pub min_sample: u64,
}

/// The canary runs so far. Cancelled runs are kept only to be shown.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct CanaryTally {
    pub successful: u64,
    /// Failed runs, scheduler errors included.
    pub failed: u64,
    /// Of `failed`, those that failed because a container could not be created or started.
    pub scheduler_errors: u64,
    pub cancelled: u64,
}

impl CanaryTally {
    /// Runs that count: complete and not cancelled.
    pub fn counted(&self) -> u64 {
        self.successful + self.failed
    }

    /// Failed ÷ counted, 0 when nothing counts yet.
    pub fn failure_rate(&self) -> f64 {
        match self.counted() {
            0 => 0.0,
            n => self.failed as f64 / n as f64,
        }
    }
}

/// What the runs so far say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    KeepBaking,
    Promote,
    RollBack { failure_rate: f64 },
}

/// SplitMix64: a fast, well-mixed 64-bit hash step.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether run `run_id`, started while canary `seed` (e.g. the deployment's id and start time
/// mixed) is running, gets the new version.
pub fn picks_new(seed: u64, run_id: u64, percent: u8) -> bool {
    mix(mix(seed) ^ run_id) % 100 < u64::from(percent.min(100))
}

/// The decision for `tally` at `elapsed_secs` into the deployment.
pub fn decide(policy: &CanaryPolicy, tally: &CanaryTally, elapsed_secs: u64) -> Decision {
    let rate = tally.failure_rate();
    if tally.counted() >= policy.min_sample.max(1) && rate > policy.max_failure_rate {
        return Decision::RollBack { failure_rate: rate };
    }
    let baked = match policy.bake {
        Bake::Runs(n) => tally.counted() >= n.max(1),
        Bake::Seconds(s) => elapsed_secs >= s && tally.counted() >= 1,
    };
    if baked && rate <= policy.max_failure_rate {
        Decision::Promote
    } else {
        Decision::KeepBaking
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_split_depends_on_the_deployment_and_its_extremes_are_exact() {
        // Two canaries of the same pipeline do not send the same run ids to the new version.
        let of = |seed| {
            (1..200)
                .map(|run| picks_new(seed, run, 30))
                .collect::<Vec<_>>()
        };
        assert_ne!(of(7), of(8));
        assert!((1..500).all(|run| !picks_new(7, run, 0)));
        assert!((1..500).all(|run| picks_new(7, run, 100)));
    }

    #[test]
    fn examples() {
        let policy = CanaryPolicy {
            percent: 50,
            bake: Bake::Runs(6),
            max_failure_rate: 0.2,
            min_sample: 3,
        };
        let tally = |successful, failed| CanaryTally {
            successful,
            failed,
            ..CanaryTally::default()
        };
        assert_eq!(decide(&policy, &tally(5, 0), 0), Decision::KeepBaking);
        assert_eq!(decide(&policy, &tally(6, 0), 0), Decision::Promote);
        // One failure in two is not yet a sample; in three it is.
        assert_eq!(decide(&policy, &tally(1, 1), 0), Decision::KeepBaking);
        assert!(matches!(
            decide(&policy, &tally(2, 1), 0),
            Decision::RollBack { .. }
        ));
        // Cancelled runs change nothing.
        let cancelled = CanaryTally {
            cancelled: 40,
            ..tally(5, 0)
        };
        assert_eq!(decide(&policy, &cancelled, 0), Decision::KeepBaking);
        // A time bake needs one counted run.
        let timed = CanaryPolicy {
            bake: Bake::Seconds(60),
            ..policy
        };
        assert_eq!(decide(&timed, &tally(0, 0), 61), Decision::KeepBaking);
        assert_eq!(decide(&timed, &tally(1, 0), 61), Decision::Promote);
        assert_eq!(decide(&timed, &tally(1, 0), 59), Decision::KeepBaking);
    }

    /// The rules written the slow, obvious way.
    fn reference(policy: &CanaryPolicy, outcomes: &[Option<bool>], elapsed: u64) -> Decision {
        let counted: Vec<bool> = outcomes.iter().filter_map(|o| *o).collect();
        let failed = counted.iter().filter(|ok| !**ok).count() as f64;
        let n = counted.len() as f64;
        let rate = if counted.is_empty() { 0.0 } else { failed / n };
        let enough = counted.len() as u64 >= std::cmp::max(policy.min_sample, 1);
        if enough && rate > policy.max_failure_rate {
            return Decision::RollBack { failure_rate: rate };
        }
        let baked = match policy.bake {
            Bake::Runs(k) => counted.len() as u64 >= std::cmp::max(k, 1),
            Bake::Seconds(s) => elapsed >= s && !counted.is_empty(),
        };
        if baked && rate <= policy.max_failure_rate {
            Decision::Promote
        } else {
            Decision::KeepBaking
        }
    }

    proptest! {
        #[test]
        fn the_share_on_the_new_version_converges(seed in any::<u64>(), percent in 1u8..100) {
            let runs = 20_000u64;
            let new = (1..=runs).filter(|r| picks_new(seed, *r, percent)).count() as f64;
            let share = new / runs as f64 * 100.0;
            prop_assert!((share - f64::from(percent)).abs() < 2.0, "{share} vs {percent}");
        }

        #[test]
        fn decisions_match_the_reference(
            outcomes in proptest::collection::vec(prop_oneof![Just(Some(true)), Just(Some(false)), Just(None)], 0..40),
            bake_runs in 1u64..20,
            bake_secs in prop::option::of(0u64..120),
            elapsed in 0u64..200,
            threshold in 0u32..=100,
            min_sample in 0u64..10,
        ) {
            let policy = CanaryPolicy {
                percent: 50,
                bake: bake_secs.map_or(Bake::Runs(bake_runs), Bake::Seconds),
                max_failure_rate: f64::from(threshold) / 100.0,
                min_sample,
            };
            // Replay the outcomes one by one: the decision after each matches the reference,
            // and a `None` (a cancelled run) never changes it.
            let mut tally = CanaryTally::default();
            for (i, outcome) in outcomes.iter().enumerate() {
                let before = decide(&policy, &tally, elapsed);
                match outcome {
                    Some(true) => tally.successful += 1,
                    Some(false) => tally.failed += 1,
                    None => tally.cancelled += 1,
                }
                let after = decide(&policy, &tally, elapsed);
                prop_assert_eq!(after, reference(&policy, &outcomes[..=i], elapsed));
                if outcome.is_none() {
                    prop_assert_eq!(before, after);
                }
            }
        }
    }
}
