//! The smallest pipeline: one task that says hello.
//!
//! `gofer up examples/simple` registers and deploys it; `gofer pipeline exec examples/simple`
//! runs it once without a server. The image is `busybox:latest` unless `GOFER_EXAMPLE_IMAGE`
//! names another one with `/bin/sh` (the tests use a locally built image).

use gofer_sdk::{Pipeline, Task};

fn main() {
    let image = std::env::var("GOFER_EXAMPLE_IMAGE").unwrap_or_else(|_| "busybox:latest".into());
    Pipeline::new("simple", "Simple pipeline")
        .description("One task that greets the world")
        .task(
            Task::new("greet", image)
                .description("Say hello")
                .script("echo \"hello from run $GOFER_RUN_ID\"")
                .variable("GREETING", "hello"),
        )
        .finish();
}
