//! A Lagoon-style "advanced task" (docs/runs.md#results-and-payload): the run's JSON payload goes in, a JSON result
//! comes out, and a dependent task reads that result.
//!
//! ```text
//! echo '{"environment": "staging"}' | gofer run start payload-result --payload - --watch
//! ```
//!
//! `plan` decodes `GOFER_RUN_PAYLOAD` (base64 of the payload) and records its result with a
//! `POST …/tasks/plan/result` using its run token (inside an image that has the `gofer` binary,
//! `gofer task result set -` does the same); `apply` receives it as `PLAN` through
//! `task_result{{plan}}`.

use gofer_sdk::{Pipeline, Requires, Task, task_result};

const PLAN: &str = r#"payload=$(echo "$GOFER_RUN_PAYLOAD" | base64 -d)
echo "payload: $payload"
wget -q -O- \
  --header "Authorization: Bearer $GOFER_API_TOKEN" \
  --header "gofer-api-version: v0" \
  --header "Content-Type: application/json" \
  --post-data "{\"planned\": $payload}" \
  "$GOFER_API_BASE_URL/api/namespaces/$GOFER_NAMESPACE_ID/pipelines/$GOFER_PIPELINE_ID/runs/$GOFER_RUN_ID/tasks/$GOFER_TASK_ID/result""#;

fn main() {
    let image = std::env::var("GOFER_EXAMPLE_IMAGE").unwrap_or_else(|_| "busybox:latest".into());
    Pipeline::new("payload-result", "Payload and result")
        .description("Reads the run payload, records a result, hands it to a child")
        .tasks([
            Task::new("plan", &image)
                .script(PLAN)
                .inject_api_token(true),
            Task::new("apply", &image)
                .script("echo \"applying $PLAN\"")
                .variable("PLAN", task_result("plan"))
                .depends_on("plan", Requires::Success),
        ])
        .finish();
}
