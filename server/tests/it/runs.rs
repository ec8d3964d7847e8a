//! Runs and task executions through HTTP (docs/api.md#runs-and-task-executions rows 36, 38, 44, 45). Runs and executions
//! are created through the server's store, as the engine will.

use crate::support::{
    TestServer, assert_error, create_run, execution, live_pipeline, put_executions,
};
use gofer_core::api::{RunResponse, RunsResponse, TaskExecutionResponse, TaskExecutionsResponse};
use gofer_core::enums::{RunState, TaskExecutionState};
use serde_json::Value;

const P: &str = "/api/namespaces/default/pipelines/simple";

fn decode<T: serde::de::DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"))
}

async fn run_ids(s: &TestServer, query: &str) -> Vec<u64> {
    let (status, body) = s.call("GET", &format!("{P}/runs{query}"), None).await;
    assert_eq!(status, 200, "{body}");
    let runs: RunsResponse = decode(&body);
    runs.runs.iter().map(|r| r.run_id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_list_pages_and_get() {
    let (s, _dir) = TestServer::start().await;
    live_pipeline(&s, "simple").await;
    assert_eq!(run_ids(&s, "").await, Vec::<u64>::new());
    for _ in 0..3 {
        create_run(&s, "simple").await;
    }

    assert_eq!(run_ids(&s, "").await, [1, 2, 3]);
    assert_eq!(run_ids(&s, "?limit=2").await, [1, 2]);
    assert_eq!(run_ids(&s, "?limit=0").await, [1, 2, 3]);
    assert_eq!(run_ids(&s, "?offset=1&limit=1").await, [2]);
    assert_eq!(run_ids(&s, "?reverse=true").await, [3, 2, 1]);
    assert_eq!(run_ids(&s, "?offset=5").await, Vec::<u64>::new());
    assert_error(
        &s.call("GET", &format!("{P}/runs?limit=1001"), None).await,
        400,
        "limit: must be an integer between 0 and 1000",
    );
    assert_error(
        &s.call("GET", &format!("{P}/runs?reverse=1"), None).await,
        400,
        "reverse: must be true or false",
    );

    let (status, body) = s.call("GET", &format!("{P}/runs/2"), None).await;
    assert_eq!(status, 200, "{body}");
    let run: RunResponse = decode(&body);
    assert_eq!(
        (run.run.run_id, run.run.state, run.run.pipeline_id.as_str()),
        (2, RunState::Pending, "simple")
    );
    assert_eq!(run.run.pipeline_config_version, 1);

    for missing in ["4", "0", "-1", "abc", "+2"] {
        assert_error(
            &s.call("GET", &format!("{P}/runs/{missing}"), None).await,
            404,
            "run",
        );
    }
    assert_error(
        &s.call("GET", &format!("{P}/runs/4"), None).await,
        404,
        "run 4 of pipeline 'simple' not found",
    );
    assert_error(
        &s.call("GET", "/api/namespaces/default/pipelines/nope/runs", None)
            .await,
        404,
        "pipeline 'nope'",
    );
    assert_error(
        &s.call("GET", "/api/namespaces/nope/pipelines/simple/runs/1", None)
            .await,
        404,
        "nope",
    );

    // Listed pages are cached until the next write: a write of any kind must show at once.
    assert_eq!(run_ids(&s, "").await, [1, 2, 3]);
    create_run(&s, "simple").await;
    assert_eq!(run_ids(&s, "").await, [1, 2, 3, 4]);
    assert_eq!(run_ids(&s, "?reverse=true&limit=1").await, [4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_executions_list_and_get() {
    let (s, _dir) = TestServer::start().await;
    live_pipeline(&s, "simple").await;
    let run = create_run(&s, "simple").await;
    // Written out of order; listed by task id.
    put_executions(
        &s,
        vec![
            execution(&run, "second", TaskExecutionState::Waiting),
            execution(&run, "first", TaskExecutionState::Complete),
        ],
    )
    .await;

    let (status, body) = s.call("GET", &format!("{P}/runs/1/tasks"), None).await;
    assert_eq!(status, 200, "{body}");
    let list: TaskExecutionsResponse = decode(&body);
    let ids: Vec<&str> = list
        .task_executions
        .iter()
        .map(|t| t.task_id.as_str())
        .collect();
    assert_eq!(ids, ["first", "second"]);
    let (_, body) = s
        .call("GET", &format!("{P}/runs/1/tasks?limit=1&offset=1"), None)
        .await;
    let list: TaskExecutionsResponse = decode(&body);
    assert_eq!(list.task_executions.len(), 1);
    assert_eq!(list.task_executions[0].task_id, "second");

    let (status, body) = s
        .call("GET", &format!("{P}/runs/1/tasks/first"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let got: TaskExecutionResponse = decode(&body);
    assert_eq!(
        got.task_execution,
        execution_of(&list_all(&s).await, "first")
    );
    assert_eq!(got.task_execution.state, TaskExecutionState::Complete);

    assert_error(
        &s.call("GET", &format!("{P}/runs/1/tasks/third"), None)
            .await,
        404,
        "task execution 'third' of run 1 not found",
    );
    assert_error(
        &s.call("GET", &format!("{P}/runs/1/tasks/a.b"), None).await,
        404,
        "task 'a.b' not found",
    );
    assert_error(
        &s.call("GET", &format!("{P}/runs/7/tasks"), None).await,
        404,
        "run 7 of pipeline 'simple' not found",
    );
    assert_error(
        &s.call("GET", &format!("{P}/runs/7/tasks/first"), None)
            .await,
        404,
        "7",
    );
}

async fn list_all(s: &TestServer) -> Vec<gofer_core::api::TaskExecution> {
    let (_, body) = s.call("GET", &format!("{P}/runs/1/tasks"), None).await;
    decode::<TaskExecutionsResponse>(&body).task_executions
}

fn execution_of(
    list: &[gofer_core::api::TaskExecution],
    task: &str,
) -> gofer_core::api::TaskExecution {
    list.iter()
        .find(|t| t.task_id == task)
        .cloned()
        .expect("listed")
}

/// `?version=N` lists only the runs made with config version N, paged like the whole list
/// (docs/api.md#runs-and-task-executions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_list_filters_by_config_version() {
    let (s, _dir) = TestServer::start().await;
    live_pipeline(&s, "simple").await;
    create_run(&s, "simple").await;
    create_run(&s, "simple").await;
    // Version 2 goes live: the next run is made with it.
    let config: gofer_core::api::PipelineConfigInput =
        decode(&crate::support::simple_config("simple")["config"]);
    s.sdk
        .register_config("default", "simple", &config)
        .await
        .unwrap();
    s.sdk.deploy_config("default", "simple", 2).await.unwrap();
    create_run(&s, "simple").await;

    assert_eq!(run_ids(&s, "?version=1").await, [1, 2]);
    assert_eq!(run_ids(&s, "?version=2").await, [3]);
    assert_eq!(run_ids(&s, "?version=1&reverse=true&limit=1").await, [2]);
    assert_eq!(run_ids(&s, "?version=9").await, Vec::<u64>::new());
    let of_two = s
        .sdk
        .list_runs_of_version("default", "simple", 2, None)
        .await
        .unwrap();
    assert_eq!(of_two.len(), 1);
    assert_eq!(of_two[0].pipeline_config_version, 2);
    for bad in ["0", "two", "-1"] {
        assert_error(
            &s.call("GET", &format!("{P}/runs?version={bad}"), None)
                .await,
            400,
            "version: must be a config version",
        );
    }
    s.stop().await;
}
