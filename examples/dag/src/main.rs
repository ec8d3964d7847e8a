//! A DAG that uses all three `depends_on` conditions (docs/runs.md#conditions):
//!
//! ```text
//! check ──success──► build ──failure──► on_failure ──any──► notify
//!                      └──────any─────► report
//! ```
//!
//! `build` succeeds, so `on_failure` is skipped; `notify` still runs (a skipped parent satisfies
//! `any`), and the run ends `successful` (skipped tasks do not fail a run).

use gofer_sdk::{Pipeline, Requires, Task};

fn main() {
    let image = std::env::var("GOFER_EXAMPLE_IMAGE").unwrap_or_else(|_| "busybox:latest".into());
    Pipeline::new("dag", "DAG pipeline")
        .description("success, failure and any dependencies")
        .parallelism(1)
        .tasks([
            Task::new("check", &image).script("echo checking"),
            Task::new("build", &image)
                .script("echo building")
                .depends_on("check", Requires::Success),
            Task::new("on_failure", &image)
                .script("echo the build failed")
                .depends_on("build", Requires::Failure),
            Task::new("report", &image)
                .script("echo build finished")
                .depends_on("build", Requires::Any),
            Task::new("notify", &image)
                .script("echo notified")
                .depends_on("on_failure", Requires::Any),
        ])
        .finish();
}
