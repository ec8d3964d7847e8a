//! SDK methods the CLI commands of this issue do not call yet, against the real server
//! (docs/api.md#events, docs/api.md#roles-global-secrets-system-tokens, docs/api.md#operations).

use crate::common::TestServer;
use gofer_core::api::{PipelineConfigInput, TaskInput, UpdateSystemRequest};

#[test]
fn health_system_and_events() {
    let server = TestServer::start();
    let client = server.client();

    let health = server.block_on(client.health()).unwrap();
    assert!(health.checks.contains_key("storage"), "{health:?}");

    let metadata = server.block_on(client.system_metadata()).unwrap();
    assert!(!metadata.semver.is_empty(), "{metadata:?}");

    let system = server.block_on(client.system()).unwrap();
    assert!(!system.ignore_pipeline_run_events);
    let request = UpdateSystemRequest {
        ignore_pipeline_run_events: Some(true),
    };
    let updated = server.block_on(client.update_system(&request)).unwrap();
    assert!(updated.ignore_pipeline_run_events);
    assert!(
        server
            .block_on(client.system())
            .unwrap()
            .ignore_pipeline_run_events
    );

    // A deployment's logs are its events; each can be read and deleted by id.
    let config = PipelineConfigInput {
        id: "events".into(),
        name: "Events".into(),
        tasks: vec![TaskInput {
            id: "only".into(),
            image: "alpine:3".into(),
            ..TaskInput::default()
        }],
        ..PipelineConfigInput::default()
    };
    server
        .block_on(client.register_config("default", "events", &config))
        .unwrap();
    let deployment = server
        .block_on(client.deploy_config("default", "events", 1))
        .unwrap();
    assert_eq!(deployment.logs.len(), 2, "{deployment:?}");
    let event = &deployment.logs[0];
    assert_eq!(event.kind.name(), "started_deployment");
    assert_eq!(
        &server.block_on(client.get_event(&event.id)).unwrap(),
        event
    );
    server.block_on(client.delete_event(&event.id)).unwrap();
    let err = server.block_on(client.get_event(&event.id)).unwrap_err();
    assert_eq!(err.status(), Some(404), "{err:?}");
}
