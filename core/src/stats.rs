//! Figures over a pipeline's runs that the CLI and the console both show: per config version,
//! how many runs, how many succeeded (cancelled runs do not count) and the median duration —
//! what an operator looks at before promoting or rolling back a version
//! (docs/pipelines.md#versions-and-deployments).

/// One config version's share of the newest runs.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionStats {
    pub version: u64,
    /// Runs made with it, in whatever state.
    pub runs: usize,
    /// Complete runs that count: cancelled ones do not.
    pub counted: usize,
    pub successful: usize,
    /// Median time from leaving the queue to completing, of its counted runs.
    pub median_ms: Option<u64>,
}

/// The newest runs grouped by config version, newest version first.
pub fn version_stats(runs: &[crate::api::Run]) -> Vec<VersionStats> {
    use crate::enums::{RunState, RunStatus};
    let mut by_version: std::collections::BTreeMap<u64, Vec<&crate::api::Run>> =
        std::collections::BTreeMap::new();
    for run in runs {
        by_version
            .entry(run.pipeline_config_version)
            .or_default()
            .push(run);
    }
    by_version
        .into_iter()
        .rev()
        .map(|(version, runs)| {
            let complete: Vec<_> = runs
                .iter()
                .filter(|r| r.state == RunState::Complete)
                .collect();
            let counted = complete
                .iter()
                .filter(|r| r.status != RunStatus::Cancelled)
                .count();
            let successful = complete
                .iter()
                .filter(|r| r.status == RunStatus::Successful)
                .count();
            let mut durations: Vec<u64> = complete
                .iter()
                .filter(|r| r.started > 0 && r.status != RunStatus::Cancelled)
                .map(|r| r.ended.saturating_sub(r.started))
                .collect();
            durations.sort_unstable();
            let median_ms = match durations.len() {
                0 => None,
                n if n % 2 == 1 => Some(durations[n / 2]),
                n => Some((durations[n / 2 - 1] + durations[n / 2]) / 2),
            };
            VersionStats {
                version,
                runs: runs.len(),
                counted,
                successful,
                median_ms,
            }
        })
        .collect()
}

impl VersionStats {
    /// `50% (1 of 2)`, or `-` when no run counts yet.
    pub fn success_text(&self) -> String {
        match (self.successful * 100).checked_div(self.counted) {
            Some(percent) => format!("{percent}% ({} of {})", self.successful, self.counted),
            None => "-".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Run;

    fn run(id: u64, version: u64, status: &str, took_ms: u64) -> Run {
        serde_json::from_value(serde_json::json!({
            "namespace_id": "n", "pipeline_id": "p", "pipeline_config_version": version,
            "run_id": id, "queued": 1, "started": 10, "ended": 10 + took_ms,
            "state": if status == "unknown" { "running" } else { "complete" },
            "status": status, "initiator": {"id": "t", "user": "u", "kind": "api"},
        }))
        .expect("run")
    }

    #[test]
    fn versions_sum_up_success_and_median_without_cancelled_runs() {
        let runs = [
            run(6, 2, "unknown", 0),
            run(5, 2, "failed", 400),
            run(4, 2, "successful", 200),
            run(3, 2, "cancelled", 9_000),
            run(2, 1, "successful", 100),
            run(1, 1, "successful", 300),
        ];
        assert_eq!(
            version_stats(&runs),
            [
                VersionStats {
                    version: 2,
                    runs: 4,
                    counted: 2,
                    successful: 1,
                    median_ms: Some(300),
                },
                VersionStats {
                    version: 1,
                    runs: 2,
                    counted: 2,
                    successful: 2,
                    median_ms: Some(200),
                },
            ]
        );
        assert_eq!(version_stats(&runs)[0].success_text(), "50% (1 of 2)");
    }
}
