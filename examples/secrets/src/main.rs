//! Secrets reach a task as variables, never in the config (docs/runs.md#variables, docs/security.md#secrets-in-logs).
//!
//! Before running it, store the secrets it reads:
//!
//! ```text
//! gofer secret pipeline put secrets deploy_token <value>
//! gofer secret global put npm_token <value> --namespaces 'default'
//! ```
//!
//! Their values are masked as `********` in the task's log.

use gofer_sdk::{Pipeline, Task, global_secret, pipeline_secret};

fn main() {
    let image = std::env::var("GOFER_EXAMPLE_IMAGE").unwrap_or_else(|_| "busybox:latest".into());
    Pipeline::new("secrets", "Secrets pipeline")
        .description("Reads a pipeline secret and a global secret")
        .task(
            Task::new("use_secrets", image)
                .script("echo \"deploying with $DEPLOY_TOKEN and $NPM_TOKEN\"")
                .variable("DEPLOY_TOKEN", pipeline_secret("deploy_token"))
                .variable("NPM_TOKEN", global_secret("npm_token")),
        )
        .finish();
}
