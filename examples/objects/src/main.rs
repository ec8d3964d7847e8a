//! A parent task writes a run object through the API, a child reads it as a variable
//! (docs/runs.md#variables `run_object{{key}}`, docs/objects-and-secrets.md#objects). The parent gets a run-scoped token with
//! `inject_api_token` and calls the API with busybox `wget`.

use gofer_sdk::{Pipeline, Requires, Task, run_object};

const WRITE: &str = r#"wget -q -O- \
  --header "Authorization: Bearer $GOFER_API_TOKEN" \
  --header "gofer-api-version: v0" \
  --post-data "built at $(date)" \
  "$GOFER_API_BASE_URL/api/namespaces/$GOFER_NAMESPACE_ID/pipelines/$GOFER_PIPELINE_ID/runs/$GOFER_RUN_ID/objects/artifact""#;

fn main() {
    let image = std::env::var("GOFER_EXAMPLE_IMAGE").unwrap_or_else(|_| "busybox:latest".into());
    Pipeline::new("objects", "Objects pipeline")
        .description("Hand data from a parent task to its child with a run object")
        .tasks([
            Task::new("write", &image)
                .script(WRITE)
                .inject_api_token(true),
            Task::new("read", &image)
                .script("echo \"the parent wrote: $ARTIFACT\"")
                .variable("ARTIFACT", run_object("artifact"))
                .depends_on("write", Requires::Success),
        ])
        .finish();
}
