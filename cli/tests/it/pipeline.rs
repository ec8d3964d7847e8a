//! `gofer pipeline …`, `pipeline config …` and `pipeline deployment …` against the real server
//! (docs/pipelines.md#versions-and-deployments, docs/api.md#namespaces-and-pipelines, docs/api.md#configs-and-deployments, docs/cli.md). Configs are registered through the SDK, as `gofer up` will.

use crate::common::{TestServer, run};
use gofer_core::api::{
    ConfigResponse, ConfigsResponse, DeploymentResponse, DeploymentsResponse, PipelineConfigInput,
    PipelineResponse, PipelinesResponse, TaskInput,
};
use gofer_core::enums::{ConfigState, DeploymentState, DeploymentStatus, PipelineState};

fn simple(name: &str) -> PipelineConfigInput {
    PipelineConfigInput {
        id: "simple".into(),
        name: name.into(),
        description: "builds and tests".into(),
        tasks: vec![
            TaskInput {
                id: "build".into(),
                image: "ubuntu:latest".into(),
                command: Some(vec!["make".into()]),
                ..TaskInput::default()
            },
            TaskInput {
                id: "test".into(),
                image: "alpine:3".into(),
                depends_on: [("build", "Success")].into_iter().collect(),
                ..TaskInput::default()
            },
        ],
        ..PipelineConfigInput::default()
    }
}

#[test]
fn register_deploy_and_inspect() {
    let server = TestServer::start();
    let client = server.client();
    let registered = server
        .block_on(client.register_config("default", "simple", &simple("Simple")))
        .unwrap();
    assert_eq!(registered.config.version, 1);

    let list: PipelinesResponse = server
        .run(&["pipeline", "list", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(list.pipelines.len(), 1);
    assert_eq!(list.pipelines[0].pipeline_id, "simple");
    let r = server.run(&["pipeline", "list"]).expect(0);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("simple") && l.contains("active")),
        "{}",
        r.stdout
    );

    // Not deployed yet.
    let r = server.run(&["pipeline", "get", "simple"]).expect(0);
    assert!(r.stdout.contains("live version:  none"), "{}", r.stdout);

    let r = server
        .run(&["pipeline", "config", "deploy", "simple", "1"])
        .expect(0);
    assert!(
        r.stdout
            .starts_with("deployed version 1 of pipeline 'simple' (deployment 1"),
        "{}",
        r.stdout
    );

    // `pipeline get` and `pipeline config list` show the live version.
    let r = server.run(&["pipeline", "get", "simple"]).expect(0);
    let live = r
        .stdout
        .lines()
        .find(|l| l.starts_with("live version:"))
        .unwrap();
    assert!(live.ends_with(" 1"), "{}", r.stdout);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("build") && l.contains("ubuntu:latest")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("test") && l.contains("build:success")),
        "{}",
        r.stdout
    );
    let got: PipelineResponse = server
        .run(&["pipeline", "get", "simple", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(got.pipeline.state, PipelineState::Active);

    let configs: ConfigsResponse = server
        .run(&["pipeline", "config", "list", "simple", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(configs.configs.len(), 1);
    assert_eq!(configs.configs[0].state, ConfigState::Live);
    let r = server
        .run(&["pipeline", "config", "list", "simple"])
        .expect(0);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("1 ") && l.contains("live")),
        "{}",
        r.stdout
    );

    // Deploying the live version again conflicts (docs/pipelines.md#versions-and-deployments).
    let r = server
        .run(&["pipeline", "config", "deploy", "simple", "1"])
        .expect(5);
    assert!(r.stderr.contains("already live"), "{}", r.stderr);
    // Unknown version → 404.
    server
        .run(&["pipeline", "config", "deploy", "simple", "9"])
        .expect(3);

    // Roll forward to version 2; the JSON answer is the final deployment.
    server
        .block_on(client.register_config("default", "simple", &simple("Simple v2")))
        .unwrap();
    let deployed: DeploymentResponse = server
        .run(&[
            "--output", "json", "pipeline", "config", "deploy", "simple", "2",
        ])
        .expect(0)
        .json();
    let d = deployed.deployment;
    assert_eq!((d.deployment_id, d.start_version, d.end_version), (2, 1, 2));
    assert_eq!(
        (d.state, d.status),
        (DeploymentState::Complete, DeploymentStatus::Successful)
    );

    let latest: ConfigResponse = server
        .run(&[
            "pipeline", "config", "get", "simple", "0", "--output", "json",
        ])
        .expect(0)
        .json();
    assert_eq!(
        (latest.config.version, latest.config.state),
        (2, ConfigState::Live)
    );
    let r = server
        .run(&["pipeline", "config", "get", "simple", "1"])
        .expect(0);
    assert!(r.stdout.contains("deprecated"), "{}", r.stdout);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("name:") && l.ends_with("Simple")),
        "{}",
        r.stdout
    );

    let deployments: DeploymentsResponse = server
        .run(&[
            "pipeline",
            "deployment",
            "list",
            "simple",
            "--output",
            "json",
        ])
        .expect(0)
        .json();
    let ids: Vec<u64> = deployments
        .deployments
        .iter()
        .map(|d| d.deployment_id)
        .collect();
    assert_eq!(ids, vec![1, 2], "oldest first");
    let r = server
        .run(&["pipeline", "deployment", "get", "simple", "1"])
        .expect(0);
    assert!(r.stdout.contains("successful"), "{}", r.stdout);
    server
        .run(&["pipeline", "deployment", "get", "simple", "7"])
        .expect(3);

    // The live version cannot be deleted; an old one can.
    server
        .run(&["pipeline", "config", "delete", "simple", "2"])
        .expect(5);
    let r = server
        .run(&["pipeline", "config", "delete", "simple", "1"])
        .expect(0);
    assert_eq!(r.stdout, "config version 1 of pipeline 'simple' deleted\n");
    server
        .run(&["pipeline", "config", "get", "simple", "1"])
        .expect(3);
}

#[test]
fn enable_disable_delete_in_another_namespace() {
    let server = TestServer::start();
    server.run(&["namespace", "create", "team-b"]).expect(0);
    let client = server.client();
    server
        .block_on(client.register_config("team-b", "simple", &simple("Simple")))
        .unwrap();

    // The default namespace does not have it; --namespace and GOFER_NAMESPACE select team-b.
    server.run(&["pipeline", "get", "simple"]).expect(3);
    let r = server
        .run(&["--namespace", "team-b", "pipeline", "disable", "simple"])
        .expect(0);
    assert_eq!(r.stdout, "pipeline 'simple' disabled\n");
    let got: PipelineResponse = run(server
        .gofer()
        .env("GOFER_NAMESPACE", "team-b")
        .args(["pipeline", "get", "simple", "--output", "json"]))
    .expect(0)
    .json();
    assert_eq!(got.pipeline.state, PipelineState::Disabled);

    let r = server
        .run(&["pipeline", "enable", "simple", "--namespace", "team-b"])
        .expect(0);
    assert_eq!(r.stdout, "pipeline 'simple' enabled\n");
    let got: PipelineResponse = server
        .run(&[
            "pipeline",
            "get",
            "simple",
            "--namespace",
            "team-b",
            "--output",
            "json",
        ])
        .expect(0)
        .json();
    assert_eq!(got.pipeline.state, PipelineState::Active);
    assert!(got.pipeline.modified > 0);

    // 204 routes print nothing with --output json.
    let r = server
        .run(&[
            "pipeline",
            "delete",
            "simple",
            "--namespace",
            "team-b",
            "--output",
            "json",
        ])
        .expect(0);
    assert_eq!(r.stdout, "");
    server
        .run(&["pipeline", "get", "simple", "--namespace", "team-b"])
        .expect(3);
}

#[test]
fn config_diff_shows_exactly_what_changed() {
    let server = TestServer::start();
    let client = server.client();
    let first = simple("Simple");
    server
        .block_on(client.register_config("default", "simple", &first))
        .unwrap();
    // Version 2 differs in one task's image and one dependency, nothing else.
    let mut second = first.clone();
    second.tasks[0].image = "ubuntu:24.04".into();
    second.tasks[1].depends_on = [("build", "Any")].into_iter().collect();
    server
        .block_on(client.register_config("default", "simple", &second))
        .unwrap();

    // Not a terminal here: no colour codes.
    let r = server
        .run(&["pipeline", "config", "diff", "simple", "1", "2"])
        .expect(0);
    assert_eq!(
        r.stdout,
        "pipeline 'simple': version 1 → version 2\n\
         ~ task build\n    image: \"ubuntu:latest\" → \"ubuntu:24.04\"\n\
         ~ task test\n    depends_on.build: \"success\" → \"any\"\n"
    );

    let json: gofer_core::api::ConfigDiffResponse = server
        .run(&[
            "--output", "json", "pipeline", "config", "diff", "simple", "1", "2",
        ])
        .expect(0)
        .json();
    let d = json.diff;
    assert_eq!((d.from_version, d.to_version), (1, 2));
    assert!(d.pipeline.is_empty() && d.tasks_added.is_empty() && d.tasks_removed.is_empty());
    let changed: Vec<(String, String)> = d
        .tasks_changed
        .iter()
        .flat_map(|t| t.changes.iter().map(|c| (t.task.clone(), c.field.clone())))
        .collect();
    assert_eq!(
        changed,
        [
            ("build".to_string(), "image".to_string()),
            ("test".to_string(), "depends_on.build".to_string())
        ]
    );

    // 0 is the newest version; a version against itself has no changes.
    let r = server
        .run(&["pipeline", "config", "diff", "simple", "2", "0"])
        .expect(0);
    assert!(r.stdout.ends_with("no changes\n"), "{}", r.stdout);

    // A missing version is the API's 404 (exit code 3: docs/cli.md#exit-codes).
    let r = server
        .run(&["pipeline", "config", "diff", "simple", "1", "9"])
        .expect(3);
    assert!(r.stderr.contains("9"), "{}", r.stderr);
}

#[test]
fn run_list_filters_by_config_version() {
    let server = TestServer::start();
    let client = server.client();
    server
        .block_on(client.register_config("default", "simple", &simple("Simple")))
        .unwrap();
    server
        .run(&["pipeline", "config", "deploy", "simple", "1"])
        .expect(0);
    let start = || {
        server
            .block_on(client.start_run(
                "default",
                "simple",
                &gofer_core::api::StartRunRequest::default(),
            ))
            .unwrap()
    };
    start();
    start();
    server
        .block_on(client.register_config("default", "simple", &simple("Simple v2")))
        .unwrap();
    server
        .run(&["pipeline", "config", "deploy", "simple", "2"])
        .expect(0);
    start();

    let of = |version: &str| -> Vec<(u64, u64)> {
        let list: gofer_core::api::RunsResponse = server
            .run(&[
                "--output",
                "json",
                "run",
                "list",
                "simple",
                "--version",
                version,
            ])
            .expect(0)
            .json();
        list.runs
            .iter()
            .map(|r| (r.run_id, r.pipeline_config_version))
            .collect()
    };
    // Newest first, as `run list` shows them.
    assert_eq!(of("1"), [(2, 1), (1, 1)]);
    assert_eq!(of("2"), [(3, 2)]);
    // `pipeline get` sums the newest runs up per version, newest version first.
    let r = server.run(&["pipeline", "get", "simple"]).expect(0);
    let section = r
        .stdout
        .split_once("runs per version (the newest 3 runs; cancelled runs do not count):\n")
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_else(|| panic!("{}", r.stdout));
    let rows: Vec<Vec<&str>> = section
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().take(2).collect())
        .collect();
    assert_eq!(rows, [vec!["2", "1"], vec!["1", "2"]], "{section}");

    // Version 0 is not a version: the API's 400, exit code 7 (docs/cli.md#exit-codes).
    let r = server
        .run(&["run", "list", "simple", "--version", "0"])
        .expect(7);
    assert!(r.stderr.contains("version"), "{}", r.stderr);
}
