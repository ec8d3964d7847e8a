//! Store conformance suite: every case takes `&dyn Store` and runs against every
//! implementation — `RedbStore` on a file and `RedbStore` in memory. Cases that need the file
//! itself (persistence, locking, the value encoding) or a pinned clock follow the suite.

use gofer_core::api::DeployPlan;
use gofer_core::api::{
    Config, Deployment, Event, EventKind, Extension, ExtensionRegistration, Initiator,
    InitiatorKind, Metadata, Namespace, Page, PipelineConfigInput, Run, Secret, TaskExecution,
    Token, Variable,
};
use gofer_core::enums::{
    ConfigState, DeploymentState, DeploymentStatus, DeploymentStatusReasonKind, DeploymentStrategy,
    PipelineState, RunState, RunStatus, RunStatusReasonKind, TaskExecutionState,
    TaskExecutionStatus, VariableSource,
};
use gofer_core::validate::{ValidConfig, validate_config};
use gofer_server::store::{
    CancelRequest, NewRun, ObjectScope, RedbStore, RunChanges, RunTokenSeed, SecretScope, Store,
    StoreError, StoredExecution, StoredRun, StoredRunState, SubscriptionKey, TaskCancel,
};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

// ---- the suite ---------------------------------------------------------------------------------

/// Declares every conformance case once per implementation: `store::file::<case>` and
/// `store::memory::<case>`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod file {
            $(
                #[test]
                fn $case() {
                    let (_dir, store) = super::file_store();
                    super::$case(&store);
                }
            )*
        }
        mod memory {
            $(
                #[test]
                fn $case() {
                    let store = super::RedbStore::in_memory().expect("in-memory store opens");
                    super::$case(&store);
                }
            )*
        }
    };
}

conformance!(
    backup_database_is_a_complete_readable_copy,
    overlap_skip_refuses_while_a_run_is_pending_and_records_it,
    record_event_appends_after_the_newest,
    canary_splits_new_runs_and_promotes_when_baked,
    canary_rolls_back_on_failures_and_ignores_cancelled_runs,
    smoke_deployment_runs_once_then_decides,
    deployments_in_progress_refuse_a_second_and_finish_by_hand,
    runs_filter_by_config_version,
    system_flags_and_instance_id,
    namespace_create_get_update_delete,
    namespace_list_pages,
    register_config_creates_pipeline_once,
    versions_are_never_reused,
    get_config_latest_and_missing,
    list_configs_pages_newest_first,
    deploy_switches_live_and_records_deployment,
    rollback_makes_an_older_version_live_again,
    failed_deploys_change_nothing,
    delete_config_rules,
    deployments_list_pages_and_get,
    pipelines_list_pages_within_namespace,
    set_pipeline_state_emits_only_on_change,
    delete_pipeline_cascades,
    delete_namespace_cascades,
    events_ordered_in_commit_order,
    events_get_and_delete,
    prune_events_deletes_only_older,
    concurrent_registrations_get_consecutive_versions,
    create_run_stores_a_pending_queued_run,
    create_run_checks_in_order,
    create_run_refusals_change_nothing,
    run_ids_are_consecutive_per_pipeline_and_never_reused,
    concurrent_create_run_gets_consecutive_ids,
    queue_is_fifo_per_pipeline,
    unfinished_runs_are_pending_in_queue_order_then_running,
    commit_writes_rows_and_events_in_order,
    task_executions_get_list_and_not_found,
    commit_with_a_deleted_pipeline_writes_nothing,
    commit_refusals_write_nothing,
    delete_pipeline_refuses_unfinished_runs_then_cascades,
    delete_namespace_refuses_unfinished_runs_then_cascades,
    delete_config_refuses_versions_pinned_by_unfinished_runs,
    runs_with_logs_filters,
    list_runs_pages,
    list_runs_first_and_last_page_of_5000_runs,
    roles_ensure_create_update_delete,
    tokens_bootstrap_create_lookup_disable_delete,
    run_tokens_only_when_asked_and_revoked,
    secrets_put_get_list_delete,
    pipeline_objects_put_evict_list_delete,
    run_objects_expire_only_for_complete_runs,
    run_object_expiry_revokes_the_run_token,
    delete_pipeline_removes_objects_and_secrets,
    extensions_install_objects_status_token_uninstall,
    subscriptions_create_status_list_cascade,
);

fn file_store() -> (tempfile::TempDir, RedbStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = RedbStore::open(&db_path(dir.path())).expect("file store opens");
    (dir, store)
}

fn db_path(dir: &Path) -> PathBuf {
    dir.join("gofer.redb")
}

// ---- helpers -----------------------------------------------------------------------------------

const ALL: Page = Page {
    limit: 1000,
    offset: 0,
    reverse: false,
};

fn page(limit: u64, offset: u64, reverse: bool) -> Page {
    Page {
        limit,
        offset,
        reverse,
    }
}

fn namespace(id: &str) -> Namespace {
    Namespace {
        id: id.to_string(),
        name: format!("Namespace {id}"),
        description: format!("about {id}"),
        created: 1_000,
        modified: 0,
    }
}

/// A valid two-task config for pipeline `p`, named `name` so versions can be told apart.
fn config(p: &str, name: &str) -> ValidConfig {
    let input: PipelineConfigInput = serde_json::from_value(json!({
        "id": p,
        "name": name,
        "description": "a test pipeline",
        "parallelism": 2,
        "timeout": 60,
        "tasks": [
            {"id": "build", "image": "ubuntu:latest", "variables": {"GOAL": "release"}},
            {"id": "test", "image": "ubuntu:latest", "depends_on": {"build": "Success"}}
        ]
    }))
    .expect("config input parses");
    validate_config(p, &input).expect("config is valid")
}

fn not_found(message: &str) -> StoreError {
    StoreError::NotFound(message.to_string())
}

fn conflict(message: &str) -> StoreError {
    StoreError::Conflict(message.to_string())
}

fn all_events(store: &dyn Store) -> Vec<Event> {
    store.events_after(None, usize::MAX).unwrap()
}

/// The kinds of the events committed after `mark` (a `last_event_id` taken earlier).
fn kinds_after(store: &dyn Store, mark: &Option<String>) -> Vec<EventKind> {
    store
        .events_after(mark.as_deref(), usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

fn created_pipeline(ns: &str, p: &str) -> EventKind {
    EventKind::CreatedPipeline {
        namespace_id: ns.into(),
        pipeline_id: p.into(),
    }
}

fn deleted_pipeline(ns: &str, p: &str) -> EventKind {
    EventKind::DeletedPipeline {
        namespace_id: ns.into(),
        pipeline_id: p.into(),
    }
}

fn ids(namespaces: &[Namespace]) -> Vec<&str> {
    namespaces.iter().map(|n| n.id.as_str()).collect()
}

fn pipeline_ids(pipelines: &[Metadata]) -> Vec<&str> {
    pipelines.iter().map(|m| m.pipeline_id.as_str()).collect()
}

fn versions(configs: &[Config]) -> Vec<u64> {
    configs.iter().map(|c| c.version).collect()
}

fn deployment_ids(deployments: &[Deployment]) -> Vec<u64> {
    deployments.iter().map(|d| d.deployment_id).collect()
}

/// Ids strictly increase and `emitted` never decreases (docs/logs-and-events.md#what-an-event-promises).
fn assert_ordered(events: &[Event]) {
    for pair in events.windows(2) {
        assert!(
            pair[0].id < pair[1].id,
            "ids increase: {} then {}",
            pair[0].id,
            pair[1].id
        );
        assert!(
            pair[0].emitted <= pair[1].emitted,
            "emitted never decreases: {pair:?}"
        );
    }
    for event in events {
        let uuid = uuid::Uuid::parse_str(&event.id).expect("event ids are UUIDs");
        assert_eq!(
            uuid.get_version_num(),
            7,
            "event ids are UUIDv7: {}",
            event.id
        );
        assert_eq!(
            event.id,
            uuid.hyphenated().to_string(),
            "canonical lowercase form"
        );
    }
}

/// A namespace `ns` holding pipeline `p` with `n` registered versions.
fn pipeline_with_versions(store: &dyn Store, ns: &str, p: &str, n: u64) {
    if store.get_namespace(ns).is_err() {
        store.create_namespace(namespace(ns)).unwrap();
    }
    for i in 1..=n {
        store
            .register_config(ns, config(p, &format!("v{i}")), 10 * i)
            .unwrap();
    }
}

// ---- cases -------------------------------------------------------------------------------------

fn system_flags_and_instance_id(store: &dyn Store) {
    let id = store.instance_id().unwrap();
    let uuid = uuid::Uuid::parse_str(&id).expect("instance id is a UUID");
    assert_eq!(uuid.get_version_num(), 4);
    assert_eq!(store.instance_id().unwrap(), id, "stable within a handle");

    let system = store.system().unwrap();
    assert!(!system.bootstrap_token_created);
    assert!(!system.ignore_pipeline_run_events);

    let updated = store.update_system(Some(true)).unwrap();
    assert!(updated.ignore_pipeline_run_events);
    assert_eq!(store.system().unwrap(), updated);
    let unchanged = store.update_system(None).unwrap();
    assert_eq!(unchanged, updated, "None leaves the flag alone");
    assert!(
        !store
            .update_system(Some(false))
            .unwrap()
            .ignore_pipeline_run_events
    );
    assert!(!store.system().unwrap().ignore_pipeline_run_events);
}

fn namespace_create_get_update_delete(store: &dyn Store) {
    let before = store.last_event_id().unwrap();
    let created = store.create_namespace(namespace("team-a")).unwrap();
    assert_eq!(created, namespace("team-a"));
    assert_eq!(store.get_namespace("team-a").unwrap(), namespace("team-a"));
    assert_eq!(
        kinds_after(store, &before),
        vec![EventKind::CreatedNamespace {
            namespace_id: "team-a".into()
        }]
    );

    let mark = store.last_event_id().unwrap();
    let mut other = namespace("team-a");
    other.name = "Someone else".into();
    assert_eq!(
        store.create_namespace(other).unwrap_err(),
        conflict("namespace 'team-a' already exists")
    );
    assert_eq!(
        store.get_namespace("team-a").unwrap().name,
        "Namespace team-a",
        "not overwritten"
    );
    assert_eq!(
        kinds_after(store, &mark),
        vec![],
        "a refused create emits nothing"
    );

    assert_eq!(
        store.get_namespace("nope").unwrap_err(),
        not_found("namespace 'nope' not found")
    );

    let renamed = store
        .update_namespace("team-a", Some("Team A".into()), None, 5_000)
        .unwrap();
    assert_eq!(renamed.name, "Team A");
    assert_eq!(renamed.description, "about team-a", "description kept");
    assert_eq!(renamed.modified, 5_000);
    assert_eq!(renamed.created, 1_000);
    let described = store
        .update_namespace("team-a", None, Some("new words".into()), 6_000)
        .unwrap();
    assert_eq!(described.name, "Team A", "name kept");
    assert_eq!(described.description, "new words");
    assert_eq!(described.modified, 6_000);
    assert_eq!(store.get_namespace("team-a").unwrap(), described);
    assert_eq!(
        store
            .update_namespace("nope", Some("x".into()), None, 1)
            .unwrap_err(),
        not_found("namespace 'nope' not found")
    );

    let mark = store.last_event_id().unwrap();
    store.delete_namespace("team-a").unwrap();
    assert_eq!(
        store.get_namespace("team-a").unwrap_err(),
        not_found("namespace 'team-a' not found")
    );
    assert_eq!(
        kinds_after(store, &mark),
        vec![EventKind::DeletedNamespace {
            namespace_id: "team-a".into()
        }]
    );
    assert_eq!(
        store.delete_namespace("team-a").unwrap_err(),
        not_found("namespace 'team-a' not found")
    );
    assert!(store.list_namespaces(ALL).unwrap().is_empty());
}

fn namespace_list_pages(store: &dyn Store) {
    assert!(store.list_namespaces(ALL).unwrap().is_empty());
    for id in ["delta", "alpha", "echo", "charlie", "bravo"] {
        store.create_namespace(namespace(id)).unwrap();
    }
    let list = |p| store.list_namespaces(p).unwrap();
    assert_eq!(
        ids(&list(ALL)),
        ["alpha", "bravo", "charlie", "delta", "echo"]
    );
    assert_eq!(ids(&list(page(2, 0, false))), ["alpha", "bravo"]);
    assert_eq!(ids(&list(page(2, 2, false))), ["charlie", "delta"]);
    assert_eq!(ids(&list(page(2, 4, false))), ["echo"]);
    assert!(list(page(2, 5, false)).is_empty());
    assert_eq!(
        ids(&list(page(1000, 0, true))),
        ["echo", "delta", "charlie", "bravo", "alpha"]
    );
    assert_eq!(ids(&list(page(2, 1, true))), ["delta", "charlie"]);
    assert_eq!(list(ALL)[0], namespace("alpha"), "listed values are whole");
}

fn register_config_creates_pipeline_once(store: &dyn Store) {
    assert_eq!(
        store
            .register_config("ghost", config("build", "x"), 1)
            .unwrap_err(),
        not_found("namespace 'ghost' not found")
    );
    store.create_namespace(namespace("team")).unwrap();

    let mark = store.last_event_id().unwrap();
    let first = store
        .register_config("team", config("build", "first"), 100)
        .unwrap();
    let expected_metadata = Metadata {
        namespace_id: "team".into(),
        pipeline_id: "build".into(),
        created: 100,
        modified: 0,
        state: PipelineState::Active,
    };
    assert_eq!(first.metadata, expected_metadata);
    assert_eq!(
        first.config,
        config("build", "first").into_config("team", 1, 100)
    );
    assert_eq!(first.config.state, ConfigState::Unreleased);
    assert_eq!(first.config.registered, 100);
    assert_eq!(first.config.deprecated, 0);
    assert_eq!(
        kinds_after(store, &mark),
        vec![created_pipeline("team", "build")]
    );

    let mark = store.last_event_id().unwrap();
    let second = store
        .register_config("team", config("build", "second"), 200)
        .unwrap();
    assert_eq!(
        second.metadata, expected_metadata,
        "metadata is not recreated"
    );
    assert_eq!(second.config.version, 2);
    assert_eq!(second.config.name, "second");
    assert_eq!(second.config.registered, 200);
    assert_eq!(
        kinds_after(store, &mark),
        vec![],
        "created_pipeline only on the first registration"
    );

    assert_eq!(
        store.get_pipeline("team", "build").unwrap(),
        expected_metadata
    );
    assert_eq!(store.get_config("team", "build", 1).unwrap(), first.config);
    assert_eq!(store.get_config("team", "build", 2).unwrap(), second.config);
    assert_eq!(
        store.live_config("team", "build").unwrap(),
        None,
        "registration does not deploy"
    );
}

fn versions_are_never_reused(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 3);
    store.delete_config("team", "build", 2).unwrap();
    let v4 = store
        .register_config("team", config("build", "v4"), 40)
        .unwrap();
    assert_eq!(v4.config.version, 4);
    // Deleting the highest version does not free its number either (docs/pipelines.md#writing-a-pipeline-config).
    store.delete_config("team", "build", 4).unwrap();
    store.delete_config("team", "build", 3).unwrap();
    let v5 = store
        .register_config("team", config("build", "v5"), 50)
        .unwrap();
    assert_eq!(v5.config.version, 5);
    assert_eq!(
        versions(&store.list_configs("team", "build", ALL).unwrap()),
        [5, 1]
    );
}

fn get_config_latest_and_missing(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 3);
    assert_eq!(store.get_config("team", "build", 0).unwrap().version, 3);
    assert_eq!(store.get_config("team", "build", 0).unwrap().name, "v3");
    store.delete_config("team", "build", 3).unwrap();
    assert_eq!(store.get_config("team", "build", 0).unwrap().version, 2);

    assert_eq!(
        store.get_config("team", "build", 3).unwrap_err(),
        not_found("config version 3 of pipeline 'build' not found")
    );
    assert_eq!(
        store.get_config("team", "build", 99).unwrap_err(),
        not_found("config version 99 of pipeline 'build' not found")
    );
    assert_eq!(
        store.get_config("team", "nope", 1).unwrap_err(),
        not_found("pipeline 'nope' not found")
    );
    assert_eq!(
        store.get_config("ghost", "build", 1).unwrap_err(),
        not_found("namespace 'ghost' not found")
    );

    store.delete_config("team", "build", 1).unwrap();
    store.delete_config("team", "build", 2).unwrap();
    assert!(matches!(
        store.get_config("team", "build", 0).unwrap_err(),
        StoreError::NotFound(_)
    ));
    assert!(store.list_configs("team", "build", ALL).unwrap().is_empty());
    assert_eq!(store.live_config("team", "build").unwrap(), None);
    assert_eq!(
        store.live_config("team", "nope").unwrap_err(),
        not_found("pipeline 'nope' not found")
    );
}

fn list_configs_pages_newest_first(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 5);
    // A neighbour whose key range touches ours must not leak into the list.
    pipeline_with_versions(store, "team", "build-2", 2);
    pipeline_with_versions(store, "team-2", "build", 2);
    let list = |p| versions(&store.list_configs("team", "build", p).unwrap());
    assert_eq!(list(ALL), [5, 4, 3, 2, 1]);
    assert_eq!(list(page(2, 0, false)), [5, 4]);
    assert_eq!(list(page(2, 2, false)), [3, 2]);
    assert_eq!(list(page(2, 4, false)), [1]);
    assert_eq!(list(page(1000, 0, true)), [1, 2, 3, 4, 5]);
    assert_eq!(list(page(3, 1, true)), [2, 3, 4]);
    assert!(list(page(10, 5, false)).is_empty());
    assert_eq!(
        store.list_configs("team", "build", ALL).unwrap()[0].name,
        "v5"
    );
    assert_eq!(
        store.list_configs("team", "nope", ALL).unwrap_err(),
        not_found("pipeline 'nope' not found")
    );
    assert_eq!(
        store.list_configs("ghost", "build", ALL).unwrap_err(),
        not_found("namespace 'ghost' not found")
    );
}

fn deploy_switches_live_and_records_deployment(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 2);

    let mark = store.last_event_id().unwrap();
    let first = store.deploy("team", "build", 1, 1_000).unwrap();
    let started = EventKind::StartedDeployment {
        namespace_id: "team".into(),
        pipeline_id: "build".into(),
        start_version: 0,
        end_version: 1,
    };
    let completed = EventKind::CompletedDeployment {
        namespace_id: "team".into(),
        pipeline_id: "build".into(),
        start_version: 0,
        end_version: 1,
        deployment_id: 1,
        strategy: gofer_core::enums::DeploymentStrategy::Instant,
        status: DeploymentStatus::Successful,
    };
    assert_eq!(first.namespace_id, "team");
    assert_eq!(first.pipeline_id, "build");
    assert_eq!(first.deployment_id, 1);
    assert_eq!(first.start_version, 0, "nothing was live before");
    assert_eq!(first.end_version, 1);
    assert_eq!((first.started, first.ended), (1_000, 1_000));
    assert_eq!(first.state, DeploymentState::Complete);
    assert_eq!(first.status, DeploymentStatus::Successful);
    assert_eq!(first.status_reason, None);
    let log_kinds: Vec<_> = first.logs.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(log_kinds, [started.clone(), completed.clone()]);
    // The logs are the stored events themselves, and nothing else was emitted.
    let emitted = store.events_after(mark.as_deref(), 100).unwrap();
    assert_eq!(emitted, first.logs);
    for event in &first.logs {
        assert_eq!(&store.get_event(&event.id).unwrap(), event);
    }
    assert_eq!(store.get_deployment("team", "build", 1).unwrap(), first);

    let v1 = store.get_config("team", "build", 1).unwrap();
    assert_eq!((v1.state, v1.deprecated), (ConfigState::Live, 0));
    assert_eq!(
        store.get_config("team", "build", 2).unwrap().state,
        ConfigState::Unreleased
    );
    assert_eq!(store.live_config("team", "build").unwrap(), Some(v1));

    let second = store.deploy("team", "build", 2, 2_000).unwrap();
    assert_eq!(second.deployment_id, 2);
    assert_eq!((second.start_version, second.end_version), (1, 2));
    assert_eq!((second.started, second.ended), (2_000, 2_000));
    assert_eq!(
        second.logs[0].kind,
        EventKind::StartedDeployment {
            namespace_id: "team".into(),
            pipeline_id: "build".into(),
            start_version: 1,
            end_version: 2,
        }
    );
    let v1 = store.get_config("team", "build", 1).unwrap();
    assert_eq!((v1.state, v1.deprecated), (ConfigState::Deprecated, 2_000));
    let v2 = store.get_config("team", "build", 2).unwrap();
    assert_eq!((v2.state, v2.deprecated), (ConfigState::Live, 0));
    assert_eq!(store.live_config("team", "build").unwrap(), Some(v2));
    let live: Vec<_> = store
        .list_configs("team", "build", ALL)
        .unwrap()
        .into_iter()
        .filter(|c| c.state == ConfigState::Live)
        .collect();
    assert_eq!(live.len(), 1, "at most one version is live");
}

fn rollback_makes_an_older_version_live_again(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 2);
    store.deploy("team", "build", 1, 1_000).unwrap();
    store.deploy("team", "build", 2, 2_000).unwrap();
    let rollback = store.deploy("team", "build", 1, 3_000).unwrap();
    assert_eq!(rollback.deployment_id, 3);
    assert_eq!((rollback.start_version, rollback.end_version), (2, 1));
    let v1 = store.get_config("team", "build", 1).unwrap();
    assert_eq!(
        (v1.state, v1.deprecated),
        (ConfigState::Live, 0),
        "live again, deprecated reset"
    );
    let v2 = store.get_config("team", "build", 2).unwrap();
    assert_eq!((v2.state, v2.deprecated), (ConfigState::Deprecated, 3_000));
    assert_eq!(
        store.live_config("team", "build").unwrap().unwrap().version,
        1
    );
    // A version registered after the rollback is unreleased and deployable.
    let v3 = store
        .register_config("team", config("build", "v3"), 4_000)
        .unwrap();
    assert_eq!(v3.config.version, 3);
    assert_eq!(
        store
            .deploy("team", "build", 3, 5_000)
            .unwrap()
            .start_version,
        1
    );
}

fn failed_deploys_change_nothing(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 2);
    store.deploy("team", "build", 1, 1_000).unwrap();
    let mark = store.last_event_id().unwrap();
    let configs_before = store.list_configs("team", "build", ALL).unwrap();

    assert_eq!(
        store.deploy("team", "build", 1, 2_000).unwrap_err(),
        conflict("version 1 is already live")
    );
    assert_eq!(
        store.deploy("team", "build", 7, 2_000).unwrap_err(),
        not_found("config version 7 of pipeline 'build' not found")
    );
    assert_eq!(
        store.deploy("team", "build", 0, 2_000).unwrap_err(),
        not_found("config version 0 of pipeline 'build' not found")
    );
    assert_eq!(
        store.deploy("team", "nope", 1, 2_000).unwrap_err(),
        not_found("pipeline 'nope' not found")
    );
    assert_eq!(
        store.deploy("ghost", "build", 1, 2_000).unwrap_err(),
        not_found("namespace 'ghost' not found")
    );

    assert_eq!(store.last_event_id().unwrap(), mark, "no events");
    assert_eq!(
        store.list_configs("team", "build", ALL).unwrap(),
        configs_before
    );
    assert_eq!(
        deployment_ids(&store.list_deployments("team", "build", ALL).unwrap()),
        [1]
    );
    // The next successful deployment takes the next id: refused ones consumed none.
    assert_eq!(
        store
            .deploy("team", "build", 2, 3_000)
            .unwrap()
            .deployment_id,
        2
    );
}

fn delete_config_rules(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 3);
    store.deploy("team", "build", 1, 1_000).unwrap();
    store.deploy("team", "build", 2, 2_000).unwrap();
    let mark = store.last_event_id().unwrap();

    assert_eq!(
        store.delete_config("team", "build", 2).unwrap_err(),
        conflict("cannot delete the live version")
    );
    assert_eq!(
        store.get_config("team", "build", 2).unwrap().state,
        ConfigState::Live
    );
    assert_eq!(
        store.delete_config("team", "build", 9).unwrap_err(),
        not_found("config version 9 of pipeline 'build' not found")
    );
    assert_eq!(
        store.delete_config("team", "nope", 1).unwrap_err(),
        not_found("pipeline 'nope' not found")
    );
    assert_eq!(
        store.delete_config("ghost", "build", 1).unwrap_err(),
        not_found("namespace 'ghost' not found")
    );

    store.delete_config("team", "build", 1).unwrap(); // deprecated
    store.delete_config("team", "build", 3).unwrap(); // unreleased
    assert_eq!(
        store.get_config("team", "build", 1).unwrap_err(),
        not_found("config version 1 of pipeline 'build' not found")
    );
    assert_eq!(
        store.delete_config("team", "build", 1).unwrap_err(),
        not_found("config version 1 of pipeline 'build' not found")
    );
    assert_eq!(
        versions(&store.list_configs("team", "build", ALL).unwrap()),
        [2]
    );
    assert_eq!(
        store.live_config("team", "build").unwrap().unwrap().version,
        2
    );
    assert_eq!(
        store.last_event_id().unwrap(),
        mark,
        "config deletion emits no event"
    );
    // Deployments that reference deleted versions stay readable.
    assert_eq!(
        store
            .get_deployment("team", "build", 1)
            .unwrap()
            .end_version,
        1
    );
}

fn deployments_list_pages_and_get(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 2);
    pipeline_with_versions(store, "team", "build-2", 2);
    store.deploy("team", "build-2", 1, 1).unwrap();
    assert!(
        store
            .list_deployments("team", "build", ALL)
            .unwrap()
            .is_empty()
    );
    for (i, version) in [1, 2, 1, 2, 1].into_iter().enumerate() {
        let d = store
            .deploy("team", "build", version, 100 + i as u64)
            .unwrap();
        assert_eq!(d.deployment_id, i as u64 + 1);
    }
    let list = |p| deployment_ids(&store.list_deployments("team", "build", p).unwrap());
    assert_eq!(list(ALL), [1, 2, 3, 4, 5], "oldest first");
    assert_eq!(list(page(2, 0, false)), [1, 2]);
    assert_eq!(list(page(2, 3, false)), [4, 5]);
    assert_eq!(list(page(1000, 0, true)), [5, 4, 3, 2, 1]);
    assert_eq!(list(page(2, 1, true)), [4, 3]);
    assert!(list(page(2, 5, false)).is_empty());
    let all = store.list_deployments("team", "build", ALL).unwrap();
    assert_eq!(store.get_deployment("team", "build", 3).unwrap(), all[2]);
    assert_eq!(all[2].started, 102);

    assert_eq!(
        store.get_deployment("team", "build", 9).unwrap_err(),
        not_found("deployment 9 of pipeline 'build' not found")
    );
    assert_eq!(
        store.get_deployment("team", "nope", 1).unwrap_err(),
        not_found("pipeline 'nope' not found")
    );
    assert_eq!(
        store.list_deployments("team", "nope", ALL).unwrap_err(),
        not_found("pipeline 'nope' not found")
    );
    assert_eq!(
        store.list_deployments("ghost", "build", ALL).unwrap_err(),
        not_found("namespace 'ghost' not found")
    );
}

fn pipelines_list_pages_within_namespace(store: &dyn Store) {
    store.create_namespace(namespace("team")).unwrap();
    assert!(store.list_pipelines("team", ALL).unwrap().is_empty());
    for p in ["delta", "alpha", "charlie", "bravo"] {
        store.register_config("team", config(p, p), 7).unwrap();
    }
    // Namespaces whose ids extend "team" sort right after it; none of theirs may show up.
    for ns in ["team-b", "team_", "teamz", "tea"] {
        store.create_namespace(namespace(ns)).unwrap();
        store
            .register_config(ns, config("aaa", "other"), 7)
            .unwrap();
    }
    let list = |p| store.list_pipelines("team", p).unwrap();
    assert_eq!(
        pipeline_ids(&list(ALL)),
        ["alpha", "bravo", "charlie", "delta"]
    );
    assert_eq!(pipeline_ids(&list(page(2, 1, false))), ["bravo", "charlie"]);
    assert_eq!(
        pipeline_ids(&list(page(1000, 0, true))),
        ["delta", "charlie", "bravo", "alpha"]
    );
    assert_eq!(pipeline_ids(&list(page(1, 3, true))), ["alpha"]);
    assert!(list(page(5, 4, false)).is_empty());
    assert_eq!(list(ALL)[0], store.get_pipeline("team", "alpha").unwrap());
    assert_eq!(
        pipeline_ids(&store.list_pipelines("team-b", ALL).unwrap()),
        ["aaa"]
    );

    assert_eq!(
        store.list_pipelines("ghost", ALL).unwrap_err(),
        not_found("namespace 'ghost' not found")
    );
    assert_eq!(
        store.get_pipeline("team", "nope").unwrap_err(),
        not_found("pipeline 'nope' not found")
    );
    assert_eq!(
        store.get_pipeline("ghost", "alpha").unwrap_err(),
        not_found("namespace 'ghost' not found")
    );
}

fn set_pipeline_state_emits_only_on_change(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 1);
    let (ns, p) = ("team", "build");

    let mark = store.last_event_id().unwrap();
    let disabled = store
        .set_pipeline_state(ns, p, PipelineState::Disabled, 500)
        .unwrap();
    assert_eq!(disabled.state, PipelineState::Disabled);
    assert_eq!(disabled.modified, 500);
    assert_eq!(disabled.created, 10, "created kept");
    assert_eq!(store.get_pipeline(ns, p).unwrap(), disabled);
    assert_eq!(
        kinds_after(store, &mark),
        [EventKind::DisabledPipeline {
            namespace_id: ns.into(),
            pipeline_id: p.into()
        }]
    );

    let mark = store.last_event_id().unwrap();
    let again = store
        .set_pipeline_state(ns, p, PipelineState::Disabled, 600)
        .unwrap();
    assert_eq!(again.state, PipelineState::Disabled);
    assert_eq!(kinds_after(store, &mark), [], "no change, no event");

    let mark = store.last_event_id().unwrap();
    let enabled = store
        .set_pipeline_state(ns, p, PipelineState::Active, 700)
        .unwrap();
    assert_eq!(
        (enabled.state, enabled.modified),
        (PipelineState::Active, 700)
    );
    assert_eq!(store.get_pipeline(ns, p).unwrap(), enabled);
    assert_eq!(
        kinds_after(store, &mark),
        [EventKind::EnabledPipeline {
            namespace_id: ns.into(),
            pipeline_id: p.into()
        }]
    );

    assert_eq!(
        store
            .set_pipeline_state(ns, "nope", PipelineState::Active, 1)
            .unwrap_err(),
        not_found("pipeline 'nope' not found")
    );
    assert_eq!(
        store
            .set_pipeline_state("ghost", p, PipelineState::Active, 1)
            .unwrap_err(),
        not_found("namespace 'ghost' not found")
    );
}

fn delete_pipeline_cascades(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 3);
    pipeline_with_versions(store, "team", "build-2", 2);
    store.deploy("team", "build", 1, 1).unwrap();
    store.deploy("team", "build", 2, 2).unwrap();
    store.deploy("team", "build-2", 2, 3).unwrap();
    let neighbour_configs = store.list_configs("team", "build-2", ALL).unwrap();
    let neighbour_deployments = store.list_deployments("team", "build-2", ALL).unwrap();

    let mark = store.last_event_id().unwrap();
    store.delete_pipeline("team", "build").unwrap();
    assert_eq!(
        kinds_after(store, &mark),
        [deleted_pipeline("team", "build")]
    );
    assert_eq!(
        store.get_pipeline("team", "build").unwrap_err(),
        not_found("pipeline 'build' not found")
    );
    assert_eq!(
        pipeline_ids(&store.list_pipelines("team", ALL).unwrap()),
        ["build-2"]
    );
    assert!(store.list_configs("team", "build", ALL).is_err());
    assert!(store.list_deployments("team", "build", ALL).is_err());
    assert_eq!(
        store.delete_pipeline("team", "build").unwrap_err(),
        not_found("pipeline 'build' not found")
    );
    assert_eq!(
        store.delete_pipeline("ghost", "build").unwrap_err(),
        not_found("namespace 'ghost' not found")
    );

    // The neighbour is untouched.
    assert_eq!(
        store.list_configs("team", "build-2", ALL).unwrap(),
        neighbour_configs
    );
    assert_eq!(
        store.list_deployments("team", "build-2", ALL).unwrap(),
        neighbour_deployments
    );

    // Nothing was left behind: a pipeline registered under the same id starts from scratch, with
    // versions, deployments and counters of its own.
    let mark = store.last_event_id().unwrap();
    let again = store
        .register_config("team", config("build", "reborn"), 99)
        .unwrap();
    assert_eq!(
        kinds_after(store, &mark),
        [created_pipeline("team", "build")]
    );
    assert_eq!(again.metadata.created, 99);
    assert_eq!(again.config.version, 1);
    assert_eq!(
        versions(&store.list_configs("team", "build", ALL).unwrap()),
        [1]
    );
    assert!(
        store
            .list_deployments("team", "build", ALL)
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.live_config("team", "build").unwrap(), None);
    assert_eq!(
        store.deploy("team", "build", 1, 100).unwrap().deployment_id,
        1
    );
}

fn delete_namespace_cascades(store: &dyn Store) {
    for p in ["one", "two"] {
        pipeline_with_versions(store, "team", p, 2);
        store.deploy("team", p, 1, 1).unwrap();
        store.deploy("team", p, 2, 2).unwrap();
    }
    // A namespace whose id extends the deleted one must survive it.
    pipeline_with_versions(store, "team-2", "one", 2);
    store.deploy("team-2", "one", 1, 1).unwrap();

    let mark = store.last_event_id().unwrap();
    store.delete_namespace("team").unwrap();
    assert_eq!(
        kinds_after(store, &mark),
        [
            deleted_pipeline("team", "one"),
            deleted_pipeline("team", "two"),
            EventKind::DeletedNamespace {
                namespace_id: "team".into()
            },
        ]
    );
    assert_eq!(ids(&store.list_namespaces(ALL).unwrap()), ["team-2"]);
    assert_eq!(
        store.list_pipelines("team", ALL).unwrap_err(),
        not_found("namespace 'team' not found")
    );
    for p in ["one", "two"] {
        assert_eq!(
            store.get_pipeline("team", p).unwrap_err(),
            not_found("namespace 'team' not found")
        );
        assert!(store.get_config("team", p, 1).is_err());
        assert!(store.get_deployment("team", p, 1).is_err());
    }

    assert_eq!(
        pipeline_ids(&store.list_pipelines("team-2", ALL).unwrap()),
        ["one"]
    );
    assert_eq!(
        versions(&store.list_configs("team-2", "one", ALL).unwrap()),
        [2, 1]
    );
    assert_eq!(
        deployment_ids(&store.list_deployments("team-2", "one", ALL).unwrap()),
        [1]
    );

    // Recreated, the namespace is empty and its pipelines start from scratch.
    store.create_namespace(namespace("team")).unwrap();
    assert!(store.list_pipelines("team", ALL).unwrap().is_empty());
    let again = store
        .register_config("team", config("one", "again"), 5)
        .unwrap();
    assert_eq!(again.config.version, 1);
    assert_eq!(
        versions(&store.list_configs("team", "one", ALL).unwrap()),
        [1]
    );
    assert!(
        store
            .list_deployments("team", "one", ALL)
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.live_config("team", "one").unwrap(), None);
}

fn events_ordered_in_commit_order(store: &dyn Store) {
    assert_eq!(store.last_event_id().unwrap(), None);
    assert!(all_events(store).is_empty());
    assert!(store.events_before(None, 10).unwrap().is_empty());

    store.create_namespace(namespace("team")).unwrap();
    store
        .register_config("team", config("build", "v1"), 1)
        .unwrap();
    store
        .register_config("team", config("build", "v2"), 2)
        .unwrap();
    store.deploy("team", "build", 1, 3).unwrap();
    store
        .set_pipeline_state("team", "build", PipelineState::Disabled, 4)
        .unwrap();
    store.deploy("team", "build", 2, 5).unwrap();
    store.delete_pipeline("team", "build").unwrap();
    store.delete_namespace("team").unwrap();

    let events = all_events(store);
    let names: Vec<_> = events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        names,
        [
            "created_namespace",
            "created_pipeline",
            "started_deployment",
            "completed_deployment",
            "disabled_pipeline",
            "started_deployment",
            "completed_deployment",
            "deleted_pipeline",
            "deleted_namespace",
        ]
    );
    assert_ordered(&events);
    assert_eq!(
        store.last_event_id().unwrap().as_deref(),
        Some(events[8].id.as_str())
    );

    // events_after: strictly greater, oldest first, at most `limit`.
    assert_eq!(store.events_after(None, 3).unwrap(), events[..3]);
    assert_eq!(
        store.events_after(Some(&events[2].id), 3).unwrap(),
        events[3..6]
    );
    assert_eq!(
        store.events_after(Some(&events[6].id), 100).unwrap(),
        events[7..]
    );
    assert!(
        store
            .events_after(Some(&events[8].id), 100)
            .unwrap()
            .is_empty()
    );
    assert!(store.events_after(None, 0).unwrap().is_empty());

    // events_before: strictly less, newest first, at most `limit`.
    let mut newest_first = events.clone();
    newest_first.reverse();
    assert_eq!(store.events_before(None, 100).unwrap(), newest_first);
    assert_eq!(store.events_before(None, 2).unwrap(), newest_first[..2]);
    assert_eq!(
        store.events_before(Some(&events[4].id), 100).unwrap(),
        newest_first[5..]
    );
    assert_eq!(
        store.events_before(Some(&events[4].id), 2).unwrap(),
        newest_first[5..7]
    );
    assert!(
        store
            .events_before(Some(&events[0].id), 100)
            .unwrap()
            .is_empty()
    );

    // Ids keep increasing after more operations.
    store.create_namespace(namespace("later")).unwrap();
    let later = store.events_after(Some(&events[8].id), 100).unwrap();
    assert_eq!(later.len(), 1);
    assert_ordered(&all_events(store));
}

fn events_get_and_delete(store: &dyn Store) {
    store.create_namespace(namespace("one")).unwrap();
    store.create_namespace(namespace("two")).unwrap();
    store.create_namespace(namespace("three")).unwrap();
    let events = all_events(store);
    assert_eq!(events.len(), 3);
    assert_eq!(store.get_event(&events[1].id).unwrap(), events[1]);

    let missing = "00000000-0000-7000-8000-000000000000";
    assert_eq!(
        store.get_event(missing).unwrap_err(),
        not_found(&format!("event '{missing}' not found"))
    );
    assert_eq!(
        store.get_event("not-a-uuid").unwrap_err(),
        not_found("event 'not-a-uuid' not found")
    );

    store.delete_event(&events[1].id).unwrap();
    assert_eq!(
        store.get_event(&events[1].id).unwrap_err(),
        not_found(&format!("event '{}' not found", events[1].id))
    );
    assert_eq!(
        store.delete_event(&events[1].id).unwrap_err(),
        not_found(&format!("event '{}' not found", events[1].id))
    );
    assert_eq!(all_events(store), [events[0].clone(), events[2].clone()]);
    assert_eq!(
        store.events_after(Some(&events[0].id), 10).unwrap(),
        [events[2].clone()]
    );

    // Deleting the newest event does not let the next id go backwards.
    store.delete_event(&events[2].id).unwrap();
    assert_eq!(store.last_event_id().unwrap(), Some(events[0].id.clone()));
    store.create_namespace(namespace("four")).unwrap();
    let next = store.last_event_id().unwrap().unwrap();
    assert!(next > events[2].id, "{next} after deleted {}", events[2].id);
    assert!(store.get_event(&next).unwrap().emitted >= events[2].emitted);
}

fn prune_events_deletes_only_older(store: &dyn Store) {
    for i in 0..12 {
        store
            .create_namespace(namespace(&format!("ns-{i:02}")))
            .unwrap();
    }
    let events = all_events(store);
    assert_eq!(events.len(), 12);
    assert_eq!(store.prune_events(0).unwrap(), 0);
    assert_eq!(
        store.prune_events(events[0].emitted).unwrap(),
        0,
        "cutoff is exclusive"
    );
    assert_eq!(all_events(store), events);

    // Cut at the middle event's time: exactly the events emitted strictly earlier go.
    let cutoff = events[6].emitted;
    let older = events.iter().filter(|e| e.emitted < cutoff).count();
    assert_eq!(store.prune_events(cutoff).unwrap(), older as u64);
    let kept = all_events(store);
    assert_eq!(kept, events[older..]);
    assert!(kept.iter().all(|e| e.emitted >= cutoff));

    assert_eq!(store.prune_events(u64::MAX).unwrap(), kept.len() as u64);
    assert!(all_events(store).is_empty());
    assert_eq!(store.last_event_id().unwrap(), None);
    // State is not touched by pruning.
    assert_eq!(store.list_namespaces(ALL).unwrap().len(), 12);
}

fn concurrent_registrations_get_consecutive_versions(store: &dyn Store) {
    const THREADS: u64 = 4;
    const EACH: u64 = 8;
    store.create_namespace(namespace("team")).unwrap();
    let mark = store.last_event_id().unwrap();
    let mut got: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let name = format!("t{t}-{i}");
                            store
                                .register_config("team", config("build", &name), 1)
                                .unwrap()
                                .config
                                .version
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    got.sort_unstable();
    let expected: Vec<u64> = (1..=THREADS * EACH).collect();
    assert_eq!(got, expected, "distinct and consecutive");
    assert_eq!(
        kinds_after(store, &mark),
        [created_pipeline("team", "build")],
        "exactly one registration created the pipeline"
    );
    let names: BTreeSet<String> = store
        .list_configs("team", "build", ALL)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        names.len() as u64,
        THREADS * EACH,
        "no registration overwrote another"
    );
}

/// docs/runs.md#overlapping-runs: under `skip`, a start while a run is pending is refused with
/// `Conflict` naming the run, the refusal is recorded as `skipped_run` (it commits), and no run
/// id is used; other policies create the run.
fn overlap_skip_refuses_while_a_run_is_pending_and_records_it(store: &dyn Store) {
    store.create_namespace(namespace("ops")).unwrap();
    let mut input: PipelineConfigInput = serde_json::from_value(json!({
        "id": "nightly", "name": "nightly", "overlap": "skip",
        "tasks": [{"id": "t", "image": "busybox"}]
    }))
    .unwrap();
    store
        .register_config("ops", validate_config("nightly", &input).unwrap(), 1)
        .unwrap();
    store.deploy("ops", "nightly", 1, 2).unwrap();
    let first = create(store, "ops", "nightly");
    let mark = store.last_event_id().unwrap();
    let refused = store
        .create_run("ops", "nightly", new_run(), 200)
        .unwrap_err();
    assert_eq!(
        refused,
        StoreError::Skipped(
            "pipeline 'nightly' skips a start while a run is in progress (overlap policy \
             skip): run 1 has not finished"
                .into()
        )
    );
    let events = store.events_after(mark.as_deref(), 10).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    match &events[0].kind {
        EventKind::SkippedRun {
            namespace_id,
            pipeline_id,
            active_run_id,
            initiator,
        } => {
            assert_eq!(
                (namespace_id.as_str(), pipeline_id.as_str(), *active_run_id),
                ("ops", "nightly", first.run_id)
            );
            assert_eq!(initiator.user, "alice");
        }
        other => panic!("expected skipped_run, got {other:?}"),
    }
    assert_eq!(store.pending_runs().unwrap().len(), 1);
    // `queue` (a new version made live) lets the start through.
    input.overlap = Some("queue".into());
    store
        .register_config("ops", validate_config("nightly", &input).unwrap(), 3)
        .unwrap();
    store.deploy("ops", "nightly", 2, 4).unwrap();
    assert_eq!(
        create(store, "ops", "nightly").run_id,
        2,
        "no id was used by the skip"
    );
}

/// docs/deploy.md#backup-and-restore: the copy opens as a store and holds the same records,
/// and the original goes on unchanged.
fn backup_database_is_a_complete_readable_copy(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    let run = create(store, "team", "build");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.redb");
    let rows = store.backup_database(&path).unwrap();
    assert!(rows > 5, "{rows} rows");
    let copy = RedbStore::open(&path).expect("the copy opens");
    assert_eq!(copy.instance_id().unwrap(), store.instance_id().unwrap());
    assert_eq!(
        copy.get_namespace("team").unwrap(),
        store.get_namespace("team").unwrap()
    );
    assert_eq!(
        copy.get_run("team", "build", run.run_id).unwrap(),
        store.get_run("team", "build", run.run_id).unwrap()
    );
    assert_eq!(
        copy.pending_runs().unwrap().len(),
        1,
        "the queue is copied too"
    );
    assert_eq!(all_events(&copy), all_events(store));
    // Writing to the original afterwards does not touch the copy.
    create(store, "team", "build");
    assert_eq!(copy.pending_runs().unwrap().len(), 1);
}

/// `record_event` appends after every event so far and is read back like any other.
fn record_event_appends_after_the_newest(store: &dyn Store) {
    store.create_namespace(namespace("one")).unwrap();
    let mark = store.last_event_id().unwrap();
    let kind = EventKind::DeletedRole {
        role_id: "ghost".into(),
    };
    let recorded = store.record_event(kind.clone()).unwrap();
    assert_eq!(recorded.kind, kind);
    assert_eq!(store.last_event_id().unwrap(), Some(recorded.id.clone()));
    assert_eq!(store.get_event(&recorded.id).unwrap(), recorded);
    assert_eq!(store.events_after(mark.as_deref(), 10).unwrap(), [recorded]);
}

// ---- runs: helpers -----------------------------------------------------------------------------

fn new_run() -> NewRun {
    NewRun {
        variables: vec![Variable {
            key: "GREETING".into(),
            value: "hello".into(),
            source: VariableSource::RunOptions,
        }],
        initiator: Initiator {
            id: "7".into(),
            user: "alice".into(),
            kind: InitiatorKind::Api,
            subscription_id: None,
        },
        payload: None,
        only: None,
        command_override: None,
        run_token: None,
        retry: None,
    }
}

/// A namespace `ns` (created when missing) holding a new pipeline `p` whose version 1 is live.
fn live_pipeline(store: &dyn Store, ns: &str, p: &str) {
    pipeline_with_versions(store, ns, p, 1);
    store.deploy(ns, p, 1, 5).unwrap();
}

fn create(store: &dyn Store, ns: &str, p: &str) -> Run {
    store.create_run(ns, p, new_run(), 100).unwrap()
}

fn unavailable(message: &str) -> StoreError {
    StoreError::Unavailable(message.to_string())
}

fn run_ids(runs: &[Run]) -> Vec<u64> {
    runs.iter().map(|r| r.run_id).collect()
}

fn queue_keys(runs: &[StoredRun]) -> Vec<gofer_server::store::RunKey> {
    runs.iter()
        .map(|s| gofer_server::store::RunKey::of(&s.run))
        .collect()
}

fn state_keys(states: &[StoredRunState]) -> Vec<gofer_server::store::RunKey> {
    states
        .iter()
        .map(|s| gofer_server::store::RunKey::of(&s.run.run))
        .collect()
}

fn key(ns: &str, p: &str, run_id: u64) -> gofer_server::store::RunKey {
    gofer_server::store::RunKey::new(ns, p, run_id)
}

fn no_live_version(p: &str) -> StoreError {
    conflict(&format!(
        "pipeline '{p}' has no live config version; deploy one first (gofer pipeline config \
         deploy {p} <version>, or gofer up)"
    ))
}

/// What the dispatcher commits when a run leaves the queue (docs/runs.md#queue): the run `running`, one
/// `waiting` execution per task of its pinned version, `started_run`, then
/// `created_task_execution` per task in task id order.
fn start_changes(store: &dyn Store, run: &Run, now: u64) -> RunChanges {
    let (ns, p) = (run.namespace_id.as_str(), run.pipeline_id.as_str());
    let config = store
        .get_config(ns, p, run.pipeline_config_version)
        .unwrap();
    let mut started = run.clone();
    started.state = RunState::Running;
    started.started = now;
    let executions: Vec<StoredExecution> = config
        .tasks
        .values()
        .map(|task| StoredExecution {
            execution: TaskExecution {
                namespace_id: ns.into(),
                pipeline_id: p.into(),
                run_id: run.run_id,
                task_id: task.id.clone(),
                created: now,
                started: 0,
                ended: 0,
                exit_code: None,
                logs_expired: false,
                logs_removed: false,
                state: TaskExecutionState::Waiting,
                status: TaskExecutionStatus::Unknown,
                status_reason: None,
                variables: task.variables.clone(),
                task: task.clone(),
                attempts: vec![],
                result: None,
            },
            retry_at: 0,
            cancel: None,
        })
        .collect();
    let mut events = vec![EventKind::StartedRun {
        namespace_id: ns.into(),
        pipeline_id: p.into(),
        run_id: run.run_id,
    }];
    events.extend(
        config
            .tasks
            .keys()
            .map(|t| EventKind::CreatedTaskExecution {
                namespace_id: ns.into(),
                pipeline_id: p.into(),
                run_id: run.run_id,
                task_execution_id: t.clone(),
            }),
    );
    RunChanges {
        runs: vec![StoredRun {
            run: started,
            cancel: None,
            deadline: now + config.timeout * 1000,
        }],
        executions,
        dequeued: vec![key(ns, p, run.run_id)],
        events,
    }
}

/// Takes the run out of the queue; returns what was stored.
fn start(store: &dyn Store, ns: &str, p: &str, run_id: u64) -> StoredRunState {
    let run = store.get_run(ns, p, run_id).unwrap();
    let changes = start_changes(store, &run, 200);
    store.commit(changes.clone()).unwrap();
    StoredRunState {
        run: changes.runs[0].clone(),
        executions: changes.executions,
    }
}

/// Completes a started run: every execution `successful` (logs kept), the run `successful`.
fn finish(store: &dyn Store, started: &StoredRunState) -> StoredRunState {
    let mut run = started.run.clone();
    run.run.state = RunState::Complete;
    run.run.status = RunStatus::Successful;
    run.run.ended = 300;
    let executions: Vec<StoredExecution> = started
        .executions
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.execution.state = TaskExecutionState::Complete;
            e.execution.status = TaskExecutionStatus::Successful;
            e.execution.ended = 300;
            e.execution.exit_code = Some(0);
            e
        })
        .collect();
    let r = &run.run;
    let mut events: Vec<EventKind> = executions
        .iter()
        .map(|e| EventKind::CompletedTaskExecution {
            namespace_id: r.namespace_id.clone(),
            pipeline_id: r.pipeline_id.clone(),
            run_id: r.run_id,
            task_execution_id: e.execution.task_id.clone(),
            status: TaskExecutionStatus::Successful,
            result: None,
        })
        .collect();
    events.push(EventKind::CompletedRun {
        namespace_id: r.namespace_id.clone(),
        pipeline_id: r.pipeline_id.clone(),
        run_id: r.run_id,
        status: RunStatus::Successful,
    });
    store
        .commit(RunChanges {
            runs: vec![run.clone()],
            executions: executions.clone(),
            dequeued: vec![],
            events,
        })
        .unwrap();
    StoredRunState { run, executions }
}

/// Runs `run_id` of `ns/p` from the queue to `complete`.
fn run_to_completion(store: &dyn Store, ns: &str, p: &str, run_id: u64) -> StoredRunState {
    let started = start(store, ns, p, run_id);
    finish(store, &started)
}

// ---- runs: cases -------------------------------------------------------------------------------

fn create_run_stores_a_pending_queued_run(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    store
        .register_config("team", config("build", "v2"), 6)
        .unwrap();
    let mark = store.last_event_id().unwrap();

    let mut request = new_run();
    request.payload = Some(json!({"ticket": 42}));
    request.only = Some(vec!["test".into()]);
    request.command_override = Some(vec!["make".into(), "check".into()]);
    request.initiator.kind = InitiatorKind::OneOff;
    let run = store
        .create_run("team", "build", request.clone(), 1_234)
        .unwrap();

    let events = store.events_after(mark.as_deref(), usize::MAX).unwrap();
    assert_eq!(events.len(), 1, "exactly one event: {events:?}");
    assert_eq!(
        events[0].kind,
        EventKind::QueuedRun {
            namespace_id: "team".into(),
            pipeline_id: "build".into(),
            run_id: 1,
        }
    );
    let expected = Run {
        namespace_id: "team".into(),
        pipeline_id: "build".into(),
        pipeline_config_version: 1, // the live one, not the newest
        run_id: 1,
        queued: 1_234,
        started: 0,
        ended: 0,
        state: RunState::Pending,
        status: RunStatus::Unknown,
        status_reason: None,
        initiator: request.initiator,
        variables: request.variables,
        token_id: None,
        store_objects_expired: false,
        event_id: Some(events[0].id.clone()),
        payload: request.payload,
        only: request.only,
        command_override: request.command_override,
        cancellation: None,
        deployment_id: None,
        retry: None,
    };
    assert_eq!(run, expected);
    assert_eq!(store.get_run("team", "build", 1).unwrap(), expected);
    assert_eq!(
        store.list_runs("team", "build", ALL).unwrap(),
        std::slice::from_ref(&expected)
    );
    let queued = StoredRun {
        run: expected.clone(),
        cancel: None,
        deadline: 0,
    };
    assert_eq!(store.pending_runs().unwrap(), std::slice::from_ref(&queued));
    assert_eq!(
        store.unfinished_runs().unwrap(),
        [StoredRunState {
            run: queued,
            executions: vec![]
        }]
    );
    assert!(
        store
            .list_task_executions("team", "build", 1, ALL)
            .unwrap()
            .is_empty(),
        "executions are created when the run leaves the queue"
    );

    // A new live version pins later runs; the first keeps its version.
    store.deploy("team", "build", 2, 7).unwrap();
    assert_eq!(create(store, "team", "build").pipeline_config_version, 2);
    assert_eq!(
        store
            .get_run("team", "build", 1)
            .unwrap()
            .pipeline_config_version,
        1
    );

    assert_eq!(
        store.get_run("team", "build", 3).unwrap_err(),
        not_found("run 3 of pipeline 'build' not found")
    );
    assert_eq!(
        store.get_run("team", "nope", 1).unwrap_err(),
        not_found("pipeline 'nope' not found")
    );
    assert_eq!(
        store.get_run("ghost", "build", 1).unwrap_err(),
        not_found("namespace 'ghost' not found")
    );
}

fn create_run_checks_in_order(store: &dyn Store) {
    // 2. namespace, then pipeline missing.
    assert_eq!(
        store
            .create_run("ghost", "build", new_run(), 1)
            .unwrap_err(),
        not_found("namespace 'ghost' not found")
    );
    pipeline_with_versions(store, "team", "build", 2); // nothing live yet
    assert_eq!(
        store.create_run("team", "nope", new_run(), 1).unwrap_err(),
        not_found("pipeline 'nope' not found")
    );

    // Every later check fails at once: each answer is the earliest failing one.
    store
        .set_pipeline_state("team", "build", PipelineState::Disabled, 2)
        .unwrap();
    store.update_system(Some(true)).unwrap();
    let mut only_unknown = new_run();
    only_unknown.only = Some(vec!["build".into(), "deploy".into(), "lint".into()]);
    let attempt = || store.create_run("team", "build", only_unknown.clone(), 3);

    // 3. ingress paused wins over disabled, no live version and unknown tasks.
    assert_eq!(attempt().unwrap_err(), unavailable("run ingress is paused"));
    // 4. then disabled.
    store.update_system(Some(false)).unwrap();
    assert_eq!(
        attempt().unwrap_err(),
        unavailable("pipeline 'build' is disabled")
    );
    // 6. then no live version.
    store
        .set_pipeline_state("team", "build", PipelineState::Active, 4)
        .unwrap();
    assert_eq!(attempt().unwrap_err(), no_live_version("build"));
    // A version that stopped being live is not live.
    store.deploy("team", "build", 1, 5).unwrap();
    store.deploy("team", "build", 2, 6).unwrap();
    store.delete_config("team", "build", 1).unwrap();
    // `only` is checked against the live config (the first unknown id is named).
    assert_eq!(
        attempt().unwrap_err(),
        StoreError::Invalid("only: unknown task 'deploy'".into())
    );

    let mut only_known = new_run();
    only_known.only = Some(vec!["test".into()]);
    let run = store.create_run("team", "build", only_known, 7).unwrap();
    assert_eq!((run.run_id, run.pipeline_config_version), (1, 2));
    assert_eq!(run.only, Some(vec!["test".to_string()]));
}

fn create_run_refusals_change_nothing(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    create(store, "team", "build");
    let mark = store.last_event_id().unwrap();
    let before = (
        store.list_runs("team", "build", ALL).unwrap(),
        store.pending_runs().unwrap(),
    );

    store.update_system(Some(true)).unwrap();
    assert!(store.create_run("team", "build", new_run(), 1).is_err());
    store.update_system(Some(false)).unwrap();
    store
        .set_pipeline_state("team", "build", PipelineState::Disabled, 2)
        .unwrap();
    assert!(store.create_run("team", "build", new_run(), 1).is_err());
    store
        .set_pipeline_state("team", "build", PipelineState::Active, 3)
        .unwrap();
    let mut unknown = new_run();
    unknown.only = Some(vec!["nope".into()]);
    assert!(store.create_run("team", "build", unknown, 1).is_err());

    assert_eq!(
        (
            store.list_runs("team", "build", ALL).unwrap(),
            store.pending_runs().unwrap()
        ),
        before,
        "refused runs are neither stored nor queued"
    );
    assert!(
        kinds_after(store, &mark)
            .iter()
            .all(|k| k.name() != "queued_run"),
        "refused runs emit nothing"
    );
    assert_eq!(
        create(store, "team", "build").run_id,
        2,
        "refusals consume no run id"
    );
}

fn runs_filter_by_config_version(store: &dyn Store) {
    // Runs 1-3 on version 1, 4-6 on version 2, 7 on version 1 again (a rollback).
    live_pipeline(store, "team", "build");
    for _ in 0..3 {
        create(store, "team", "build");
    }
    store
        .register_config("team", config("build", "v2"), 8)
        .unwrap();
    store.deploy("team", "build", 2, 9).unwrap();
    for _ in 0..3 {
        create(store, "team", "build");
    }
    store.deploy("team", "build", 1, 10).unwrap();
    create(store, "team", "build");
    let of = |version, page| {
        run_ids(
            &store
                .list_runs_of_version("team", "build", version, page)
                .unwrap(),
        )
    };
    assert_eq!(of(1, ALL), [1, 2, 3, 7]);
    assert_eq!(of(2, ALL), [4, 5, 6]);
    assert_eq!(of(3, ALL), Vec::<u64>::new(), "a version without runs");
    // The page applies to the matching runs, from either end.
    assert_eq!(of(1, page(2, 1, false)), [2, 3]);
    assert_eq!(of(1, page(2, 0, true)), [7, 3]);
    assert_eq!(of(2, page(1, 2, true)), [4]);
    assert!(matches!(
        store.list_runs_of_version("team", "nope", 1, ALL),
        Err(StoreError::NotFound(_))
    ));
}

fn run_ids_are_consecutive_per_pipeline_and_never_reused(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    live_pipeline(store, "team", "test");
    live_pipeline(store, "other", "build");
    for expected in 1..=3 {
        assert_eq!(create(store, "team", "build").run_id, expected);
    }
    assert_eq!(create(store, "team", "test").run_id, 1, "per pipeline");
    assert_eq!(
        create(store, "other", "build").run_id,
        1,
        "per namespace too"
    );

    // Completing runs and changing the live version never frees an id.
    for run_id in 1..=3 {
        run_to_completion(store, "team", "build", run_id);
    }
    store
        .register_config("team", config("build", "v2"), 8)
        .unwrap();
    store.deploy("team", "build", 2, 9).unwrap();
    store.delete_config("team", "build", 1).unwrap();
    assert_eq!(create(store, "team", "build").run_id, 4);
    assert_eq!(
        run_ids(&store.list_runs("team", "build", ALL).unwrap()),
        [1, 2, 3, 4]
    );

    // A pipeline deleted and registered again is a new pipeline: ids start again at 1, and
    // nothing of the old runs shows through.
    run_to_completion(store, "team", "build", 4);
    store.delete_pipeline("team", "build").unwrap();
    live_pipeline(store, "team", "build");
    let fresh = create(store, "team", "build");
    assert_eq!((fresh.run_id, fresh.pipeline_config_version), (1, 1));
    assert_eq!(store.list_runs("team", "build", ALL).unwrap(), [fresh]);
    assert!(
        store
            .list_task_executions("team", "build", 1, ALL)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.get_run("team", "build", 2).unwrap_err(),
        not_found("run 2 of pipeline 'build' not found")
    );
}

fn concurrent_create_run_gets_consecutive_ids(store: &dyn Store) {
    const THREADS: u64 = 4;
    const EACH: u64 = 8;
    live_pipeline(store, "team", "build");
    let mark = store.last_event_id().unwrap();
    let mut got: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(move || {
                    (0..EACH)
                        .map(|_| create(store, "team", "build").run_id)
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    got.sort_unstable();
    let expected: Vec<u64> = (1..=THREADS * EACH).collect();
    assert_eq!(got, expected, "distinct and consecutive");
    assert_eq!(
        run_ids(&store.list_runs("team", "build", ALL).unwrap()),
        expected
    );
    // One queued_run per run, in run id order (ids are allocated under the write lock).
    let queued: Vec<u64> = kinds_after(store, &mark)
        .into_iter()
        .map(|k| match k {
            EventKind::QueuedRun { run_id, .. } => run_id,
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(queued, expected);
    assert_eq!(store.pending_runs().unwrap().len() as u64, THREADS * EACH);
}

fn queue_is_fifo_per_pipeline(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    live_pipeline(store, "team", "test");
    live_pipeline(store, "alpha", "build");
    // Interleaved creation across pipelines.
    for (ns, p) in [
        ("team", "test"),
        ("team", "build"),
        ("alpha", "build"),
        ("team", "build"),
        ("team", "test"),
        ("team", "build"),
    ] {
        create(store, ns, p);
    }
    let expected = vec![
        key("alpha", "build", 1),
        key("team", "build", 1),
        key("team", "build", 2),
        key("team", "build", 3),
        key("team", "test", 1),
        key("team", "test", 2),
    ];
    assert_eq!(queue_keys(&store.pending_runs().unwrap()), expected);

    // The head of one pipeline leaves the queue; the others keep their order.
    start(store, "team", "build", 1);
    assert_eq!(queue_keys(&store.pending_runs().unwrap()), {
        let mut e = expected.clone();
        e.remove(1);
        e
    });
    // Runs can leave out of order (e.g. cancelled while queued): the rest keep theirs.
    let mut cancelled = StoredRun {
        run: store.get_run("team", "test", 1).unwrap(),
        cancel: Some(CancelRequest { by_admin: true }),
        deadline: 0,
    };
    cancelled.run.state = RunState::Complete;
    cancelled.run.status = RunStatus::Cancelled;
    store
        .commit(RunChanges {
            runs: vec![cancelled.clone()],
            executions: vec![],
            dequeued: vec![key("team", "test", 1)],
            events: vec![EventKind::CompletedRun {
                namespace_id: "team".into(),
                pipeline_id: "test".into(),
                run_id: 1,
                status: RunStatus::Cancelled,
            }],
        })
        .unwrap();
    let pending = store.pending_runs().unwrap();
    assert_eq!(
        queue_keys(&pending),
        [
            key("alpha", "build", 1),
            key("team", "build", 2),
            key("team", "build", 3),
            key("team", "test", 2),
        ]
    );
    assert!(pending.iter().all(|s| s.run.state == RunState::Pending));
    assert_eq!(
        store.get_run("team", "test", 1).unwrap(),
        cancelled.run,
        "the cancelled run is stored"
    );
    // Later runs join the end of their pipeline's queue.
    create(store, "team", "build");
    let keys = queue_keys(&store.pending_runs().unwrap());
    assert_eq!(keys[3], key("team", "build", 4));
}

fn unfinished_runs_are_pending_in_queue_order_then_running(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    live_pipeline(store, "alpha", "build");
    for _ in 0..4 {
        create(store, "team", "build");
    }
    create(store, "alpha", "build");
    let started_2 = start(store, "team", "build", 2);
    let started_1 = start(store, "team", "build", 1);
    run_to_completion(store, "team", "build", 3);

    let unfinished = store.unfinished_runs().unwrap();
    assert_eq!(
        state_keys(&unfinished),
        [
            key("alpha", "build", 1),
            key("team", "build", 4),
            key("team", "build", 1),
            key("team", "build", 2),
        ],
        "pending (queue order), then running; complete runs are not there"
    );
    assert_eq!(unfinished[2], started_1, "with engine state and executions");
    assert_eq!(unfinished[3], started_2);
    assert_eq!(unfinished[3].run.deadline, 200 + 60 * 1000);
    assert_eq!(
        unfinished[2]
            .executions
            .iter()
            .map(|e| e.execution.task_id.as_str())
            .collect::<Vec<_>>(),
        ["build", "test"],
        "executions in task id order"
    );
    assert!(unfinished[0].executions.is_empty());

    // Engine control state round-trips.
    let mut cancelling = started_1.clone();
    cancelling.run.cancel = Some(CancelRequest { by_admin: false });
    cancelling.executions[1].cancel = Some(TaskCancel {
        grace_secs: 10,
        by_admin: false,
    });
    cancelling.executions[0].retry_at = 9_999;
    store
        .commit(RunChanges {
            runs: vec![cancelling.run.clone()],
            executions: cancelling.executions.clone(),
            dequeued: vec![],
            events: vec![],
        })
        .unwrap();
    assert_eq!(store.unfinished_runs().unwrap()[2], cancelling);
}

fn commit_writes_rows_and_events_in_order(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    let run = create(store, "team", "build");
    let mark = store.last_event_id().unwrap();

    let changes = start_changes(store, &run, 200);
    let events = store.commit(changes.clone()).unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        changes.events,
        "events in the order given"
    );
    assert_ordered(&events);
    assert!(events[0].id.as_str() > mark.as_deref().unwrap());
    assert_eq!(
        store.events_after(mark.as_deref(), usize::MAX).unwrap(),
        events,
        "the returned events are the stored ones"
    );
    assert_eq!(
        store.get_run("team", "build", 1).unwrap(),
        changes.runs[0].run
    );
    assert!(store.pending_runs().unwrap().is_empty(), "dequeued");
    assert_eq!(
        store.list_task_executions("team", "build", 1, ALL).unwrap(),
        changes
            .executions
            .iter()
            .map(|e| e.execution.clone())
            .collect::<Vec<_>>()
    );

    // A later commit updates rows in place, the last write of a row in one commit winning.
    let mut execution = changes.executions[0].clone();
    execution.execution.state = TaskExecutionState::Running;
    execution.execution.started = 250;
    let mut later = execution.clone();
    later.execution.attempts.push(gofer_core::api::TaskAttempt {
        attempt: 1,
        started: 250,
        ended: 0,
        exit_code: None,
        status: TaskExecutionStatus::Unknown,
        status_reason: None,
        log_offset: 0,
    });
    let events = store
        .commit(RunChanges {
            runs: vec![],
            executions: vec![execution, later.clone()],
            dequeued: vec![],
            events: vec![EventKind::StartedTaskExecution {
                namespace_id: "team".into(),
                pipeline_id: "build".into(),
                run_id: 1,
                task_execution_id: "build".into(),
                attempt: 1,
            }],
        })
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        store
            .get_task_execution("team", "build", 1, "build")
            .unwrap(),
        later.execution
    );

    // An empty commit writes nothing.
    let mark = store.last_event_id().unwrap();
    assert!(store.commit(RunChanges::default()).unwrap().is_empty());
    assert_eq!(store.last_event_id().unwrap(), mark);
    assert_ordered(&all_events(store));
}

fn task_executions_get_list_and_not_found(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 1);
    // A version with more tasks, to page through.
    let input: PipelineConfigInput = serde_json::from_value(json!({
        "id": "build",
        "name": "wide",
        "tasks": [
            {"id": "d", "image": "ubuntu:latest"},
            {"id": "a", "image": "ubuntu:latest"},
            {"id": "c", "image": "ubuntu:latest"},
            {"id": "b", "image": "ubuntu:latest"},
            {"id": "e", "image": "ubuntu:latest"}
        ]
    }))
    .unwrap();
    store
        .register_config("team", validate_config("build", &input).unwrap(), 2)
        .unwrap();
    store.deploy("team", "build", 2, 3).unwrap();
    create(store, "team", "build");
    create(store, "team", "build");
    start(store, "team", "build", 1);
    start(store, "team", "build", 2);

    let list = |p| -> Vec<String> {
        store
            .list_task_executions("team", "build", 1, p)
            .unwrap()
            .into_iter()
            .map(|e| e.task_id)
            .collect()
    };
    assert_eq!(list(ALL), ["a", "b", "c", "d", "e"], "by task id");
    assert_eq!(list(page(2, 1, false)), ["b", "c"]);
    assert_eq!(list(page(2, 0, true)), ["e", "d"]);
    assert!(list(page(2, 5, false)).is_empty());
    assert!(
        store
            .list_task_executions("team", "build", 2, ALL)
            .unwrap()
            .iter()
            .all(|e| e.run_id == 2),
        "only that run's executions"
    );
    let c = store.get_task_execution("team", "build", 1, "c").unwrap();
    assert_eq!((c.run_id, c.task_id.as_str()), (1, "c"));
    assert_eq!(c.task.id, "c");
    assert_eq!(c.state, TaskExecutionState::Waiting);

    assert_eq!(
        store
            .get_task_execution("team", "build", 1, "z")
            .unwrap_err(),
        not_found("task execution 'z' of run 1 not found")
    );
    assert_eq!(
        store
            .get_task_execution("team", "build", 9, "a")
            .unwrap_err(),
        not_found("run 9 of pipeline 'build' not found")
    );
    assert_eq!(
        store
            .list_task_executions("team", "build", 9, ALL)
            .unwrap_err(),
        not_found("run 9 of pipeline 'build' not found")
    );
    assert_eq!(
        store
            .list_task_executions("team", "nope", 1, ALL)
            .unwrap_err(),
        not_found("pipeline 'nope' not found")
    );
    assert_eq!(
        store
            .get_task_execution("ghost", "build", 1, "a")
            .unwrap_err(),
        not_found("namespace 'ghost' not found")
    );
    // The largest run id is handled at the edge of the key space.
    assert_eq!(
        store
            .list_task_executions("team", "build", u64::MAX, ALL)
            .unwrap_err(),
        not_found(&format!("run {} of pipeline 'build' not found", u64::MAX))
    );
}

fn commit_with_a_deleted_pipeline_writes_nothing(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    live_pipeline(store, "team", "gone");
    create(store, "team", "build");
    create(store, "team", "gone");
    let gone = run_to_completion(store, "team", "gone", 1);
    store.delete_pipeline("team", "gone").unwrap();

    let before = (
        store.list_runs("team", "build", ALL).unwrap(),
        store.pending_runs().unwrap(),
        store.unfinished_runs().unwrap(),
        all_events(store),
    );
    let run = store.get_run("team", "build", 1).unwrap();
    let mut changes = start_changes(store, &run, 200);
    // The dispatcher still holds a row of the deleted pipeline.
    changes.runs.push(gone.run.clone());
    changes.events.push(EventKind::CompletedRun {
        namespace_id: "team".into(),
        pipeline_id: "gone".into(),
        run_id: 1,
        status: RunStatus::Successful,
    });
    assert_eq!(
        store.commit(changes.clone()).unwrap_err(),
        not_found("pipeline 'gone' not found")
    );
    // Only an execution of it: the same.
    let mut only_execution = start_changes(store, &run, 200);
    only_execution.executions.push(gone.executions[0].clone());
    assert_eq!(
        store.commit(only_execution).unwrap_err(),
        not_found("pipeline 'gone' not found")
    );
    // Only a dequeue of it: the same.
    let mut only_dequeue = start_changes(store, &run, 200);
    only_dequeue.dequeued.push(key("team", "gone", 1));
    assert_eq!(
        store.commit(only_dequeue).unwrap_err(),
        not_found("pipeline 'gone' not found")
    );
    let after = (
        store.list_runs("team", "build", ALL).unwrap(),
        store.pending_runs().unwrap(),
        store.unfinished_runs().unwrap(),
        all_events(store),
    );
    assert_eq!(after, before, "no row, queue entry or event was written");
    assert!(
        store
            .list_task_executions("team", "build", 1, ALL)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.get_run("team", "gone", 1).unwrap_err(),
        not_found("pipeline 'gone' not found"),
        "the deleted pipeline's run was not written back"
    );

    // Without the stale row the same commit goes through.
    changes.runs.pop();
    changes.events.pop();
    assert_eq!(store.commit(changes).unwrap().len(), 3);
}

fn commit_refusals_write_nothing(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    let run = create(store, "team", "build");
    let mark = store.last_event_id().unwrap();
    let before = (
        store.list_runs("team", "build", ALL).unwrap(),
        store.pending_runs().unwrap(),
    );

    // A run that was never created (runs come from create_run only).
    let mut invented = start_changes(store, &run, 200);
    invented.runs[0].run.run_id = 2;
    assert_eq!(
        store.commit(invented).unwrap_err(),
        not_found("run 2 of pipeline 'build' not found")
    );
    // An execution of a run that does not exist.
    let mut orphan = start_changes(store, &run, 200);
    orphan.executions[1].execution.run_id = 5;
    assert_eq!(
        store.commit(orphan).unwrap_err(),
        not_found("run 5 of pipeline 'build' not found")
    );
    // Leaving the queue while staying pending would break "the queue is the pending runs".
    let mut still_pending = start_changes(store, &run, 200);
    still_pending.runs.clear();
    assert_eq!(
        store.commit(still_pending).unwrap_err(),
        StoreError::Invalid("dequeued: run 1 of pipeline 'build' is still pending".into())
    );

    assert_eq!(store.last_event_id().unwrap(), mark, "no events");
    assert_eq!(
        (
            store.list_runs("team", "build", ALL).unwrap(),
            store.pending_runs().unwrap()
        ),
        before
    );
    assert!(
        store
            .list_task_executions("team", "build", 1, ALL)
            .unwrap()
            .is_empty()
    );
    assert_eq!(create(store, "team", "build").run_id, 2);
}

/// Everything the store can list about runs of `ns/p`, for "nothing left behind" checks.
fn run_leftovers(store: &dyn Store, ns: &str, p: &str) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(
        store
            .pending_runs()
            .unwrap()
            .into_iter()
            .filter(|s| s.run.namespace_id == ns && s.run.pipeline_id == p)
            .map(|s| format!("queued {:?}", s.run.run_id)),
    );
    out.extend(
        store
            .unfinished_runs()
            .unwrap()
            .into_iter()
            .filter(|s| s.run.run.namespace_id == ns && s.run.run.pipeline_id == p)
            .map(|s| format!("unfinished {:?}", s.run.run.run_id)),
    );
    if store.get_pipeline(ns, p).is_ok() {
        out.extend(
            store
                .list_runs(ns, p, ALL)
                .unwrap()
                .into_iter()
                .map(|r| format!("run {}", r.run_id)),
        );
        out.extend(
            store
                .runs_with_logs(ns, p, u64::MAX)
                .unwrap()
                .into_iter()
                .map(|s| format!("logs {}", s.run.run.run_id)),
        );
        for run_id in 1..=10 {
            if let Ok(executions) = store.list_task_executions(ns, p, run_id, ALL) {
                out.extend(
                    executions
                        .into_iter()
                        .map(|e| format!("execution {run_id}/{}", e.task_id)),
                );
            }
        }
    }
    out
}

fn delete_pipeline_refuses_unfinished_runs_then_cascades(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    live_pipeline(store, "team", "keep");
    create(store, "team", "build"); // 1
    create(store, "team", "build"); // 2
    create(store, "team", "keep");
    start(store, "team", "keep", 1);
    let busy = conflict("pipeline 'build' has pending or running runs; cancel them first");
    let mark = store.last_event_id().unwrap();

    assert_eq!(store.delete_pipeline("team", "build").unwrap_err(), busy);
    let first = run_to_completion(store, "team", "build", 1);
    start(store, "team", "build", 2);
    let mark_running = store.last_event_id().unwrap();
    assert_eq!(
        store.delete_pipeline("team", "build").unwrap_err(),
        busy,
        "a running run blocks too"
    );
    assert_eq!(store.last_event_id().unwrap(), mark_running, "no event");
    assert_eq!(
        run_ids(&store.list_runs("team", "build", ALL).unwrap()),
        [1, 2],
        "nothing deleted"
    );
    assert_eq!(
        store.list_configs("team", "build", ALL).unwrap().len(),
        1,
        "configs kept"
    );
    assert_ne!(mark, mark_running);
    run_to_completion(store, "team", "build", 2);
    assert_eq!(
        run_leftovers(store, "team", "build"),
        [
            "run 1",
            "run 2",
            "logs 1",
            "logs 2",
            "execution 1/build",
            "execution 1/test",
            "execution 2/build",
            "execution 2/test"
        ]
    );
    let keep_before = run_leftovers(store, "team", "keep");

    let mark = store.last_event_id().unwrap();
    store.delete_pipeline("team", "build").unwrap();
    assert_eq!(
        kinds_after(store, &mark),
        [deleted_pipeline("team", "build")]
    );
    assert!(run_leftovers(store, "team", "build").is_empty());
    assert_eq!(
        store.get_run("team", "build", 1).unwrap_err(),
        not_found("pipeline 'build' not found")
    );
    assert_eq!(
        store.runs_with_logs("team", "build", 10).unwrap_err(),
        not_found("pipeline 'build' not found")
    );
    assert_eq!(
        store.commit(RunChanges {
            runs: vec![first.run],
            ..RunChanges::default()
        }),
        Err(not_found("pipeline 'build' not found"))
    );
    // Registered again: a new, empty pipeline.
    live_pipeline(store, "team", "build");
    assert!(run_leftovers(store, "team", "build").is_empty());
    assert_eq!(
        store
            .get_task_execution("team", "build", 1, "build")
            .unwrap_err(),
        not_found("run 1 of pipeline 'build' not found")
    );
    // The other pipeline is untouched.
    assert_eq!(run_leftovers(store, "team", "keep"), keep_before);
    assert_eq!(
        keep_before,
        [
            "unfinished 1",
            "run 1",
            "execution 1/build",
            "execution 1/test"
        ],
        "running, so not yet a retention candidate"
    );
}

fn delete_namespace_refuses_unfinished_runs_then_cascades(store: &dyn Store) {
    live_pipeline(store, "team", "a-idle");
    live_pipeline(store, "team", "b-busy");
    live_pipeline(store, "other", "b-busy");
    create(store, "team", "a-idle");
    run_to_completion(store, "team", "a-idle", 1);
    create(store, "team", "b-busy");
    create(store, "other", "b-busy");
    let mark = store.last_event_id().unwrap();

    assert_eq!(
        store.delete_namespace("team").unwrap_err(),
        conflict("pipeline 'b-busy' has pending or running runs; cancel them first")
    );
    assert_eq!(store.last_event_id().unwrap(), mark, "no event");
    assert_eq!(
        pipeline_ids(&store.list_pipelines("team", ALL).unwrap()),
        ["a-idle", "b-busy"],
        "nothing deleted, not even the idle pipeline"
    );
    assert_eq!(
        run_leftovers(store, "team", "a-idle"),
        ["run 1", "logs 1", "execution 1/build", "execution 1/test"]
    );

    start(store, "team", "b-busy", 1);
    assert!(matches!(
        store.delete_namespace("team"),
        Err(StoreError::Conflict(_))
    ));
    run_to_completion_from_running(store, "team", "b-busy", 1);
    let other_before = run_leftovers(store, "other", "b-busy");

    let mark = store.last_event_id().unwrap();
    store.delete_namespace("team").unwrap();
    assert_eq!(
        kinds_after(store, &mark),
        [
            deleted_pipeline("team", "a-idle"),
            deleted_pipeline("team", "b-busy"),
            EventKind::DeletedNamespace {
                namespace_id: "team".into()
            }
        ]
    );
    assert!(run_leftovers(store, "team", "a-idle").is_empty());
    assert!(run_leftovers(store, "team", "b-busy").is_empty());
    assert_eq!(
        store.list_runs("team", "b-busy", ALL).unwrap_err(),
        not_found("namespace 'team' not found")
    );
    // Same pipeline id in another namespace: untouched, still queued.
    assert_eq!(run_leftovers(store, "other", "b-busy"), other_before);
    assert_eq!(
        queue_keys(&store.pending_runs().unwrap()),
        [key("other", "b-busy", 1)]
    );
    // Recreated: empty, ids from 1.
    live_pipeline(store, "team", "b-busy");
    assert!(run_leftovers(store, "team", "b-busy").is_empty());
    assert_eq!(create(store, "team", "b-busy").run_id, 1);
}

/// Completes a run that is already running.
fn run_to_completion_from_running(store: &dyn Store, ns: &str, p: &str, run_id: u64) {
    let state = store
        .unfinished_runs()
        .unwrap()
        .into_iter()
        .find(|s| {
            s.run.run.namespace_id == ns && s.run.run.pipeline_id == p && s.run.run.run_id == run_id
        })
        .expect("the run is unfinished");
    assert_eq!(state.run.run.state, RunState::Running);
    finish(store, &state);
}

fn delete_config_refuses_versions_pinned_by_unfinished_runs(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 3);
    store.deploy("team", "build", 1, 1).unwrap();
    create(store, "team", "build"); // pinned to 1
    store.deploy("team", "build", 2, 2).unwrap();
    create(store, "team", "build"); // pinned to 2
    store.deploy("team", "build", 3, 3).unwrap();

    assert_eq!(
        store.delete_config("team", "build", 1).unwrap_err(),
        conflict("version 1 is pinned by run 1 (pending); cancel it or wait for it to complete")
    );
    start(store, "team", "build", 1);
    assert_eq!(
        store.delete_config("team", "build", 1).unwrap_err(),
        conflict("version 1 is pinned by run 1 (running); cancel it or wait for it to complete")
    );
    assert_eq!(
        store.delete_config("team", "build", 2).unwrap_err(),
        conflict("version 2 is pinned by run 2 (pending); cancel it or wait for it to complete")
    );
    // The live check still comes first.
    assert_eq!(
        store.delete_config("team", "build", 3).unwrap_err(),
        conflict("cannot delete the live version")
    );
    assert_eq!(
        versions(&store.list_configs("team", "build", ALL).unwrap()),
        [3, 2, 1]
    );

    run_to_completion_from_running(store, "team", "build", 1);
    store.delete_config("team", "build", 1).unwrap();
    // The completed run stays readable, with its pinned version and task snapshots.
    let run = store.get_run("team", "build", 1).unwrap();
    assert_eq!(run.pipeline_config_version, 1);
    assert_eq!(
        store
            .get_task_execution("team", "build", 1, "test")
            .unwrap()
            .task
            .id,
        "test"
    );
    assert_eq!(
        store.delete_config("team", "build", 2).unwrap_err(),
        conflict("version 2 is pinned by run 2 (pending); cancel it or wait for it to complete"),
        "a pending run pinned to a version that is no longer live"
    );
}

fn runs_with_logs_filters(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    live_pipeline(store, "team", "other");
    for _ in 0..6 {
        create(store, "team", "build");
    }
    create(store, "team", "other");
    let r1 = run_to_completion(store, "team", "build", 1);
    let r2 = run_to_completion(store, "team", "build", 2);
    run_to_completion(store, "team", "build", 3);
    start(store, "team", "build", 4); // running, has executions with logs
    run_to_completion(store, "team", "build", 5);
    // 6 stays pending; other/1 complete with logs.
    run_to_completion(store, "team", "other", 1);

    let ids = |max| -> Vec<u64> {
        store
            .runs_with_logs("team", "build", max)
            .unwrap()
            .into_iter()
            .map(|s| s.run.run.run_id)
            .collect()
    };
    assert_eq!(ids(u64::MAX), [1, 2, 3, 5], "complete runs only");
    assert_eq!(ids(3), [1, 2, 3], "run_id <= max");
    assert!(ids(0).is_empty());

    // Run 1: one execution's logs removed by the API: it still has logs.
    let mut one_removed = r1.executions[0].clone();
    one_removed.execution.logs_removed = true;
    store
        .commit(RunChanges {
            executions: vec![one_removed.clone()],
            ..RunChanges::default()
        })
        .unwrap();
    // Run 2: expired by retention: every execution.
    let expired: Vec<StoredExecution> = r2
        .executions
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.execution.logs_expired = true;
            e.execution.logs_removed = true;
            e
        })
        .collect();
    store
        .commit(RunChanges {
            executions: expired,
            ..RunChanges::default()
        })
        .unwrap();
    assert_eq!(ids(u64::MAX), [1, 3, 5]);
    let with_logs = store.runs_with_logs("team", "build", 1).unwrap();
    assert_eq!(
        with_logs,
        [StoredRunState {
            run: r1.run.clone(),
            executions: vec![one_removed, r1.executions[1].clone()],
        }],
        "with the run's executions as stored"
    );

    // Run 4 completes: now it shows.
    run_to_completion_from_running(store, "team", "build", 4);
    assert_eq!(ids(u64::MAX), [1, 3, 4, 5]);
    assert_eq!(
        store
            .runs_with_logs("team", "other", u64::MAX)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.runs_with_logs("team", "nope", 1).unwrap_err(),
        not_found("pipeline 'nope' not found")
    );
}

fn list_runs_pages(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    live_pipeline(store, "team", "build-2");
    live_pipeline(store, "team2", "build");
    for _ in 0..10 {
        create(store, "team", "build");
    }
    create(store, "team", "build-2");
    create(store, "team2", "build");

    let list = |p| run_ids(&store.list_runs("team", "build", p).unwrap());
    assert_eq!(list(ALL), (1..=10).collect::<Vec<_>>(), "run id ascending");
    assert_eq!(list(page(3, 0, false)), [1, 2, 3]);
    assert_eq!(list(page(3, 8, false)), [9, 10]);
    assert_eq!(list(page(3, 0, true)), [10, 9, 8]);
    assert_eq!(list(page(3, 8, true)), [2, 1]);
    assert!(list(page(3, 10, false)).is_empty());
    assert!(list(page(3, 10, true)).is_empty());
    assert!(list(page(0, 0, false)).is_empty());
    assert_eq!(list(page(1000, 9, false)), [10]);
    assert_eq!(
        run_ids(&store.list_runs("team", "build-2", ALL).unwrap()),
        [1],
        "neighbouring pipeline ids do not leak into the range"
    );
    assert_eq!(
        store.list_runs("team", "nope", ALL).unwrap_err(),
        not_found("pipeline 'nope' not found")
    );
    assert_eq!(
        store.list_runs("ghost", "build", ALL).unwrap_err(),
        not_found("namespace 'ghost' not found")
    );
    live_pipeline(store, "team", "empty");
    assert!(store.list_runs("team", "empty", ALL).unwrap().is_empty());
}

fn list_runs_first_and_last_page_of_5000_runs(store: &dyn Store) {
    const RUNS: u64 = 5_000;
    live_pipeline(store, "team", "build");
    live_pipeline(store, "team", "next");
    for _ in 0..RUNS {
        create(store, "team", "build");
    }
    create(store, "team", "next");
    let list = |p| run_ids(&store.list_runs("team", "build", p).unwrap());
    assert_eq!(list(page(50, 0, false)), (1..=50).collect::<Vec<_>>());
    assert_eq!(
        list(page(50, RUNS - 50, false)),
        (RUNS - 49..=RUNS).collect::<Vec<_>>(),
        "last page by offset"
    );
    assert_eq!(
        list(page(50, 0, true)),
        (RUNS - 49..=RUNS).rev().collect::<Vec<_>>(),
        "newest first"
    );
    assert_eq!(
        list(page(50, RUNS - 20, true)),
        (1..=20).rev().collect::<Vec<_>>(),
        "a short last page, reversed"
    );
    assert_eq!(list(page(3, 2_500, false)), [2_501, 2_502, 2_503]);
    let last = store.list_runs("team", "build", page(1, 0, true)).unwrap();
    assert_eq!(last[0], store.get_run("team", "build", RUNS).unwrap());
    assert_eq!(store.pending_runs().unwrap().len() as u64, RUNS + 1);
}

// ---- the file itself ---------------------------------------------------------------------------

/// Everything a reader can see, for before/after comparisons.
fn snapshot(store: &dyn Store) -> String {
    let mut out = Vec::new();
    out.push(format!("{:?}", store.instance_id().unwrap()));
    out.push(format!("{:?}", store.system().unwrap()));
    for ns in store.list_namespaces(ALL).unwrap() {
        out.push(format!("{ns:?}"));
        for p in store.list_pipelines(&ns.id, ALL).unwrap() {
            out.push(format!("{p:?}"));
            out.push(format!(
                "{:?}",
                store.list_configs(&ns.id, &p.pipeline_id, ALL).unwrap()
            ));
            out.push(format!(
                "{:?}",
                store.list_deployments(&ns.id, &p.pipeline_id, ALL).unwrap()
            ));
            out.push(format!(
                "{:?}",
                store.live_config(&ns.id, &p.pipeline_id).unwrap()
            ));
        }
    }
    out.push(format!("{:?}", all_events(store)));
    out.join("\n")
}

fn populate(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 3);
    pipeline_with_versions(store, "team", "test", 1);
    pipeline_with_versions(store, "other", "build", 2);
    store.deploy("team", "build", 1, 1).unwrap();
    store.deploy("team", "build", 3, 2).unwrap();
    store.delete_config("team", "build", 2).unwrap();
    store
        .set_pipeline_state("team", "test", PipelineState::Disabled, 3)
        .unwrap();
    store.update_system(Some(true)).unwrap();
}

#[test]
fn file_store_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    let before = {
        let store = RedbStore::open(&path).unwrap();
        populate(&store);
        snapshot(&store)
    };
    assert!(before.contains("\"team\""), "snapshot is not empty");

    let store = RedbStore::open(&path).unwrap();
    assert_eq!(
        snapshot(&store),
        before,
        "everything is still there, instance id included"
    );
    // Counters survived too: the next version and deployment continue where they stopped.
    assert_eq!(
        store
            .register_config("team", config("build", "v4"), 9)
            .unwrap()
            .config
            .version,
        4
    );
    assert_eq!(
        store.deploy("team", "build", 4, 10).unwrap().deployment_id,
        3
    );
    let events = all_events(&store);
    assert_ordered(&events);
    assert_eq!(events.last().unwrap().kind.name(), "completed_deployment");
}

#[test]
fn instance_ids_differ_between_databases() {
    let (_a_dir, a) = file_store();
    let (_b_dir, b) = file_store();
    let memory = RedbStore::in_memory().unwrap();
    let ids: BTreeSet<String> = [&a, &b, &memory]
        .iter()
        .map(|s| s.instance_id().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
}

#[test]
fn second_open_of_a_held_file_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    let first = RedbStore::open(&path).unwrap();
    populate(&first);
    let before = snapshot(&first);

    let Err(err) = RedbStore::open(&path) else {
        panic!("a second handle on a held file must not open");
    };
    let StoreError::Locked(message) = &err else {
        panic!("expected Locked, got {err:?}");
    };
    assert_eq!(
        message,
        &format!(
            "the data directory '{}' is in use by another Gofer server ({} is locked); \
             stop that server or set server.data_dir to another directory",
            dir.path().display(),
            path.display()
        )
    );

    // What redb itself reports for a held file (the case `open` turns into `Locked`).
    assert!(matches!(
        redb::Database::create(&path),
        Err(redb::DatabaseError::DatabaseAlreadyOpen)
    ));

    // The first handle is unaffected and can still read and write.
    assert_eq!(snapshot(&first), before);
    first.create_namespace(namespace("after")).unwrap();
    assert_eq!(first.get_namespace("after").unwrap(), namespace("after"));
    let after = snapshot(&first);
    drop(first);

    // Once the holder is gone the file opens again, intact.
    let reopened = RedbStore::open(&path).unwrap();
    assert_eq!(snapshot(&reopened), after);
}

const HOLDER_ENV: &str = "GOFER_TEST_STORE_LOCK_HOLDER";

/// Another process holding the file: the test runs itself as a child that opens the store, says
/// `holding`, and keeps it open until its stdin closes.
#[test]
fn another_process_holding_the_file_is_locked() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    if let Some(path) = std::env::var_os(HOLDER_ENV) {
        let store = RedbStore::open(Path::new(&path)).expect("the child opens the file first");
        store.create_namespace(namespace("child")).unwrap();
        println!("holding");
        let mut rest = Vec::new();
        std::io::stdin().read_to_end(&mut rest).unwrap();
        assert_eq!(store.get_namespace("child").unwrap(), namespace("child"));
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::another_process_holding_the_file_is_locked",
            "--nocapture",
        ])
        .env(HOLDER_ENV, &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = stdout.lines();
    let ready = lines
        .by_ref()
        .map(|l| l.unwrap())
        .any(|l| l.trim() == "holding");
    assert!(ready, "the child never reported holding the file");

    match RedbStore::open(&path) {
        Err(StoreError::Locked(message)) => {
            assert!(
                message.contains("is in use by another Gofer server"),
                "{message}"
            )
        }
        Err(other) => panic!("expected Locked, got {other:?}"),
        Ok(_) => panic!("opened a file another process holds"),
    }

    drop(child.stdin.take()); // lets the child finish
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "child failed: {rest:?}");

    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.get_namespace("child").unwrap(), namespace("child"));
}

#[test]
fn open_in_a_missing_directory_is_internal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("gofer.redb");
    match RedbStore::open(&path) {
        Err(StoreError::Internal(message)) => {
            assert!(message.contains(&path.display().to_string()), "{message}");
        }
        Err(other) => panic!("expected Internal, got {other:?}"),
        Ok(_) => panic!("opened a file in a directory that does not exist"),
    }
}

/// Stored values are one version-tag byte (1) then JSON of the wire type, and a
/// value with an unknown tag is refused rather than misread.
#[test]
fn stored_values_are_version_tagged_json() {
    use redb::{ReadableDatabase, TableDefinition};
    const NAMESPACES: TableDefinition<&str, &[u8]> = TableDefinition::new("namespaces");

    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    {
        let store = RedbStore::open(&path).unwrap();
        store.create_namespace(namespace("team")).unwrap();
    }
    {
        let db = redb::Database::open(&path).unwrap();
        let bytes = {
            let txn = db.begin_read().unwrap();
            let table = txn.open_table(NAMESPACES).unwrap();
            table.get("team").unwrap().unwrap().value().to_vec()
        };
        assert_eq!(bytes[0], 1, "version tag");
        let decoded: Namespace = serde_json::from_slice(&bytes[1..]).unwrap();
        assert_eq!(decoded, namespace("team"));

        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(NAMESPACES).unwrap();
            let mut future = bytes.clone();
            future[0] = 2;
            table.insert("team", future.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let store = RedbStore::open(&path).unwrap();
    match store.get_namespace("team") {
        Err(StoreError::Unreadable(message)) => {
            assert!(message.contains("unknown value version 2"), "{message}");
            assert!(message.contains("gofer service doctor"), "{message}");
        }
        other => panic!("expected Unreadable, got {other:?}"),
    }
    // Lists skip it and the store counts it; the doctor finds it by table and key.
    assert!(store.list_namespaces(Page::ALL).unwrap().is_empty());
    assert_eq!(store.unreadable().len(), 1);
    let found = store.scan_unreadable().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].table.as_str(), found[0].key.as_str()),
        ("namespaces", "\"team\"")
    );
    assert_eq!(store.quarantine_unreadable().unwrap().len(), 1);
    assert!(store.scan_unreadable().unwrap().is_empty());
    assert!(matches!(
        store.get_namespace("team"),
        Err(StoreError::NotFound(_))
    ));
}

/// With the clock stalled or going backwards, ids still strictly increase (previous id + 1) and
/// `emitted` holds; when it advances, both move on (docs/logs-and-events.md#what-an-event-promises). Retention cuts by `emitted`.
#[test]
fn event_ids_follow_the_rule_under_a_pinned_clock() {
    let now = Arc::new(AtomicU64::new(1_000));
    let clock = now.clone();
    let store = RedbStore::in_memory()
        .unwrap()
        .with_clock(move || clock.load(Ordering::SeqCst));
    let last = |store: &RedbStore| {
        store
            .get_event(&store.last_event_id().unwrap().unwrap())
            .unwrap()
    };
    let as_u128 = |e: &Event| uuid::Uuid::parse_str(&e.id).unwrap().as_u128();

    store.create_namespace(namespace("ns-a")).unwrap();
    let a = last(&store);
    assert_eq!(a.emitted, 1_000);
    let a_uuid = uuid::Uuid::parse_str(&a.id).unwrap();
    let (secs, nanos) = a_uuid.get_timestamp().unwrap().to_unix();
    assert_eq!(
        secs * 1000 + u64::from(nanos) / 1_000_000,
        1_000,
        "the id carries the time"
    );

    store.create_namespace(namespace("ns-b")).unwrap(); // same millisecond
    let b = last(&store);
    assert_eq!(as_u128(&b), as_u128(&a) + 1);
    assert_eq!(b.emitted, 1_000);

    now.store(400, Ordering::SeqCst); // the clock went backwards
    store.create_namespace(namespace("ns-c")).unwrap();
    let c = last(&store);
    assert_eq!(as_u128(&c), as_u128(&b) + 1);
    assert_eq!(c.emitted, 1_000, "emitted never decreases");

    now.store(2_000, Ordering::SeqCst);
    store.create_namespace(namespace("ns-d")).unwrap();
    let d = last(&store);
    assert_eq!(d.emitted, 2_000);
    assert!(d.id > c.id);
    assert_eq!(uuid::Uuid::parse_str(&d.id).unwrap().get_version_num(), 7);

    // A deployment's two events share a millisecond and still order.
    pipeline_with_versions(&store, "ns-d", "build", 1);
    let deployment = store.deploy("ns-d", "build", 1, 2_000).unwrap();
    assert_eq!(
        as_u128(&deployment.logs[1]),
        as_u128(&deployment.logs[0]) + 1
    );

    now.store(3_000, Ordering::SeqCst);
    store.create_namespace(namespace("ns-e")).unwrap();
    let all = all_events(&store);
    assert_ordered(&all);
    assert_eq!(
        store.prune_events(1_500).unwrap(),
        3,
        "the three events at 1000"
    );
    assert_eq!(
        store.prune_events(2_500).unwrap(),
        all.len() as u64 - 4,
        "those at 2000"
    );
    assert_eq!(all_events(&store), [all.last().unwrap().clone()]);
}

/// The queue and running runs are durable (docs/runs.md#queue, docs/runs.md#restart-recovery): after a reopen of the file,
/// `unfinished_runs` and `pending_runs` return exactly what they did, in the same order, and run
/// ids continue where they stopped.
#[test]
fn unfinished_runs_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    let (unfinished, pending, listed) = {
        let store = RedbStore::open(&path).unwrap();
        live_pipeline(&store, "team", "build");
        live_pipeline(&store, "alpha", "build");
        for _ in 0..4 {
            create(&store, "team", "build");
        }
        create(&store, "alpha", "build");
        run_to_completion(&store, "team", "build", 1);
        start(&store, "team", "build", 3);
        (
            store.unfinished_runs().unwrap(),
            store.pending_runs().unwrap(),
            store.list_runs("team", "build", ALL).unwrap(),
        )
    };
    assert_eq!(
        state_keys(&unfinished),
        [
            key("alpha", "build", 1),
            key("team", "build", 2),
            key("team", "build", 4),
            key("team", "build", 3),
        ]
    );

    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.unfinished_runs().unwrap(), unfinished);
    assert_eq!(store.pending_runs().unwrap(), pending);
    assert_eq!(store.list_runs("team", "build", ALL).unwrap(), listed);
    assert_eq!(
        store.list_task_executions("team", "build", 3, ALL).unwrap(),
        unfinished[3]
            .executions
            .iter()
            .map(|e| e.execution.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        store
            .runs_with_logs("team", "build", u64::MAX)
            .unwrap()
            .len(),
        1
    );
    // The reopened queue keeps working: the head leaves, new runs join the end.
    start(&store, "team", "build", 2);
    assert_eq!(create(&store, "team", "build").run_id, 5);
    assert_eq!(
        queue_keys(&store.pending_runs().unwrap()),
        [
            key("alpha", "build", 1),
            key("team", "build", 4),
            key("team", "build", 5)
        ]
    );
    assert_ordered(&all_events(&store));
}

// ---- tokens and roles (docs/auth.md#run-tokens) ---------------------------------------------------------

fn token(id: &str, roles: &[&str]) -> gofer_core::api::Token {
    gofer_core::api::Token {
        id: id.to_string(),
        created: 1,
        metadata: Default::default(),
        expires: 0,
        disabled: false,
        user: format!("user of {id}"),
        roles: roles.iter().map(|r| r.to_string()).collect(),
    }
}

fn roles_ensure_create_update_delete(store: &dyn Store) {
    let mark = store.last_event_id().unwrap();
    let before = store.auth_generation();
    store.ensure_roles(gofer_core::api::system_roles()).unwrap();
    assert_ne!(
        store.auth_generation(),
        before,
        "role writes move the generation"
    );
    // Idempotent: a second boot creates nothing and emits nothing.
    store.ensure_roles(gofer_core::api::system_roles()).unwrap();
    let created: Vec<EventKind> = kinds_after(store, &mark);
    assert_eq!(created.len(), 4, "{created:?}");
    let ids: Vec<String> = store
        .list_roles(page(100, 0, false))
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["admin", "anonymous", "bootstrap", "user"]);
    let custom = gofer_core::api::Role {
        id: "team".into(),
        description: "d".into(),
        permissions: vec![],
        system_role: false,
    };
    store.create_role(custom.clone()).unwrap();
    assert_eq!(
        store.create_role(custom.clone()),
        Err(conflict("role 'team' already exists"))
    );
    let updated = store.update_role("team", Some("new".into()), None).unwrap();
    assert_eq!(updated.description, "new");
    assert_eq!(store.get_role("team").unwrap(), updated);
    assert!(matches!(
        store.update_role("admin", Some("x".into()), None),
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        store.delete_role("user"),
        Err(StoreError::Forbidden(_))
    ));
    assert_eq!(
        store.update_role("nope", None, None),
        Err(not_found("role 'nope' not found"))
    );
    let mark = store.last_event_id().unwrap();
    store.delete_role("team").unwrap();
    assert_eq!(
        kinds_after(store, &mark),
        [EventKind::DeletedRole {
            role_id: "team".into()
        }]
    );
    assert_eq!(
        store.delete_role("team"),
        Err(not_found("role 'team' not found"))
    );
    assert_eq!(store.all_roles().unwrap().len(), 4);
}

fn tokens_bootstrap_create_lookup_disable_delete(store: &dyn Store) {
    store.ensure_roles(gofer_core::api::system_roles()).unwrap();
    let boot = token("00000000-0000-7000-8000-000000000001", &["bootstrap"]);
    store.bootstrap_token(boot.clone(), "h1".into()).unwrap();
    assert!(store.system().unwrap().bootstrap_token_created);
    assert_eq!(
        store.bootstrap_token(
            token("00000000-0000-7000-8000-000000000009", &["bootstrap"]),
            "h9".into()
        ),
        Err(conflict("bootstrap token already exists"))
    );
    assert_eq!(store.token_by_hash("h9").unwrap(), None);
    assert_eq!(
        store.create_token(
            token("00000000-0000-7000-8000-000000000002", &["user", "ghost"]),
            "h2".into()
        ),
        Err(StoreError::Invalid("roles: unknown role 'ghost'".into()))
    );
    let t = token("00000000-0000-7000-8000-000000000002", &["user"]);
    store.create_token(t.clone(), "h2".into()).unwrap();
    assert_eq!(store.token_by_hash("h2").unwrap(), Some(t.clone()));
    assert_eq!(store.token_by_hash("h1").unwrap(), Some(boot.clone()));
    assert_eq!(store.get_token(&t.id).unwrap(), t);
    let listed = store.list_tokens(page(100, 0, false)).unwrap();
    assert_eq!(listed, [boot.clone(), t.clone()]);
    let reversed = store.list_tokens(page(1, 0, true)).unwrap();
    assert_eq!(reversed.len(), 1);
    assert_eq!(reversed[0], t);
    let generation = store.auth_generation();
    let disabled = store.set_token_disabled(&t.id, true).unwrap();
    assert!(disabled.disabled);
    assert_ne!(store.auth_generation(), generation);
    assert!(store.token_by_hash("h2").unwrap().unwrap().disabled);
    store.delete_token(&t.id).unwrap();
    assert_eq!(store.token_by_hash("h2").unwrap(), None);
    let missing = format!("token '{}' not found", t.id);
    assert_eq!(store.get_token(&t.id), Err(not_found(&missing)));
    assert_eq!(store.delete_token(&t.id), Err(not_found(&missing)));
    assert_eq!(
        store.set_token_disabled(&t.id, false),
        Err(not_found(&missing))
    );
}

/// A pipeline whose live config has a task with `inject_api_token` when `inject`.
fn live_pipeline_injecting(store: &dyn Store, ns: &str, p: &str, inject: bool) {
    if store.get_namespace(ns).is_err() {
        store.create_namespace(namespace(ns)).unwrap();
    }
    let input: PipelineConfigInput = serde_json::from_value(json!({
        "id": p, "name": p,
        "tasks": [{"id": "a", "image": "busybox", "inject_api_token": inject}]
    }))
    .unwrap();
    store
        .register_config(ns, validate_config(p, &input).unwrap(), 1)
        .unwrap();
    store.deploy(ns, p, 1, 2).unwrap();
}

fn seeded_run(store: &dyn Store, ns: &str, p: &str, token_id: &str) -> Run {
    let new = NewRun {
        run_token: Some(RunTokenSeed {
            id: token_id.to_string(),
            hash: format!("hash-{token_id}"),
            expires: 5_000,
        }),
        ..new_run()
    };
    store.create_run(ns, p, new, 100).unwrap()
}

fn run_tokens_only_when_asked_and_revoked(store: &dyn Store) {
    live_pipeline_injecting(store, "ns1", "plain", false);
    live_pipeline_injecting(store, "ns1", "inject", true);
    live_pipeline_injecting(store, "ns2", "inject", true);
    // No task asks: no token, no role.
    let run = seeded_run(
        store,
        "ns1",
        "plain",
        "00000000-0000-7000-8000-0000000000a1",
    );
    assert_eq!(run.token_id, None);
    assert_eq!(
        store
            .token_by_hash("hash-00000000-0000-7000-8000-0000000000a1")
            .unwrap(),
        None
    );
    // A task asks: token and role in the run's transaction, `created_role` emitted.
    let mark = store.last_event_id().unwrap();
    let id = "00000000-0000-7000-8000-0000000000b1";
    let run = seeded_run(store, "ns1", "inject", id);
    assert_eq!(run.token_id.as_deref(), Some(id));
    assert_eq!(
        store
            .get_run("ns1", "inject", 1)
            .unwrap()
            .token_id
            .as_deref(),
        Some(id)
    );
    let kinds = kinds_after(store, &mark);
    assert!(
        kinds.contains(&EventKind::CreatedRole {
            role_id: "run:ns1:inject:1".into()
        }),
        "{kinds:?}"
    );
    let t = store.token_by_hash(&format!("hash-{id}")).unwrap().unwrap();
    assert_eq!(t.user, "system_generated_run_token");
    assert_eq!(t.roles, ["run:ns1:inject:1"]);
    assert_eq!(t.expires, 5_000);
    assert_eq!(t.metadata["run"], "1");
    let role = store.get_role("run:ns1:inject:1").unwrap();
    assert!(role.system_role);
    assert_eq!(role, gofer_core::api::run_role("ns1", "inject", 1));
    // Revocation deletes token and role once; a second call finds nothing.
    let mark = store.last_event_id().unwrap();
    assert!(store.revoke_run_token("ns1", "inject", 1).unwrap());
    assert_eq!(
        kinds_after(store, &mark),
        [EventKind::DeletedRole {
            role_id: "run:ns1:inject:1".into()
        }]
    );
    assert!(!store.revoke_run_token("ns1", "inject", 1).unwrap());
    assert!(!store.revoke_run_token("ns1", "no-such", 7).unwrap());
    assert_eq!(store.token_by_hash(&format!("hash-{id}")).unwrap(), None);
    assert!(store.get_role("run:ns1:inject:1").is_err());
    // Deleting a pipeline or a namespace revokes its runs' tokens, and only theirs.
    let complete = |ns: &str, p: &str, run_id: u64| {
        let mut stored = StoredRun {
            run: store.get_run(ns, p, run_id).unwrap(),
            cancel: None,
            deadline: 0,
        };
        stored.run.state = RunState::Complete;
        stored.run.status = RunStatus::Successful;
        store
            .commit(RunChanges {
                runs: vec![stored],
                dequeued: vec![key(ns, p, run_id)],
                ..RunChanges::default()
            })
            .unwrap();
    };
    let a = "00000000-0000-7000-8000-0000000000c1";
    let b = "00000000-0000-7000-8000-0000000000c2";
    seeded_run(store, "ns1", "inject", a);
    seeded_run(store, "ns2", "inject", b);
    complete("ns1", "inject", 1);
    complete("ns1", "inject", 2);
    complete("ns2", "inject", 1);
    complete("ns1", "plain", 1);
    store.delete_pipeline("ns1", "inject").unwrap();
    assert_eq!(store.token_by_hash(&format!("hash-{a}")).unwrap(), None);
    assert!(store.get_role("run:ns1:inject:2").is_err());
    assert!(store.token_by_hash(&format!("hash-{b}")).unwrap().is_some());
    store.delete_namespace("ns2").unwrap();
    assert_eq!(store.token_by_hash(&format!("hash-{b}")).unwrap(), None);
    assert!(store.get_role("run:ns2:inject:1").is_err());
}

// ---- secrets and objects (docs/objects-and-secrets.md) -------------------------------------------------------------

fn pipeline_secrets(ns: &str, p: &str) -> SecretScope {
    SecretScope::Pipeline {
        namespace: ns.into(),
        pipeline: p.into(),
    }
}

fn pipeline_objects(ns: &str, p: &str) -> ObjectScope {
    ObjectScope::Pipeline {
        namespace: ns.into(),
        pipeline: p.into(),
    }
}

fn secret(key: &str, namespaces: &[&str], created: u64) -> Secret {
    Secret {
        key: key.into(),
        namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
        created,
    }
}

fn secrets_put_get_list_delete(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    let scope = pipeline_secrets("team", "build");
    let stored = store
        .put_secret(&scope, secret("b", &["team"], 2), vec![1, 2, 3], false)
        .unwrap();
    assert_eq!(stored, secret("b", &["team"], 2));
    store
        .put_secret(&scope, secret("a", &["team"], 3), vec![4], false)
        .unwrap();
    assert!(matches!(
        store.put_secret(&scope, secret("b", &["team"], 9), vec![9], false),
        Err(StoreError::Conflict(m)) if m == "secret 'b' already exists; use force to replace it"
    ));
    assert_eq!(store.get_secret(&scope, "b").unwrap().1, vec![1, 2, 3]);
    store
        .put_secret(&scope, secret("b", &["team"], 4), vec![7], true)
        .unwrap();
    assert_eq!(
        store.get_secret(&scope, "b").unwrap(),
        (secret("b", &["team"], 4), vec![7])
    );
    // By created ascending; paged.
    let keys = |page| -> Vec<String> {
        store
            .list_secrets(&scope, page)
            .unwrap()
            .into_iter()
            .map(|s| s.key)
            .collect()
    };
    assert_eq!(keys(ALL), ["a", "b"]);
    assert_eq!(keys(page(1, 0, true)), ["b"]);
    // Global secrets are another scope.
    store
        .put_secret(
            &SecretScope::Global,
            secret("a", &["t.*"], 5),
            vec![5],
            false,
        )
        .unwrap();
    assert_eq!(
        store.list_secrets(&SecretScope::Global, ALL).unwrap().len(),
        1
    );
    store.delete_secret(&scope, "a").unwrap();
    assert!(matches!(
        store.delete_secret(&scope, "a"),
        Err(StoreError::NotFound(m)) if m == "secret 'a' not found"
    ));
    assert!(matches!(
        store.get_secret(&SecretScope::Global, "b"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.list_secrets(&pipeline_secrets("team", "nope"), ALL),
        Err(StoreError::NotFound(_))
    ));
    // The check value is stored once.
    assert_eq!(store.secret_check(vec![1]).unwrap(), vec![1]);
    assert_eq!(store.secret_check(vec![2]).unwrap(), vec![1]);
}

fn pipeline_objects_put_evict_list_delete(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    let scope = pipeline_objects("team", "build");
    assert!(
        store
            .put_object(&scope, "a", 10, false, 2)
            .unwrap()
            .evicted
            .is_empty()
    );
    assert!(
        store
            .put_object(&scope, "b", 11, false, 2)
            .unwrap()
            .evicted
            .is_empty()
    );
    assert!(matches!(
        store.put_object(&scope, "a", 12, false, 2),
        Err(StoreError::Conflict(m)) if m == "object 'a' already exists; use force to replace it"
    ));
    // Replacing never evicts; `a` becomes the newest.
    assert!(
        store
            .put_object(&scope, "a", 13, true, 2)
            .unwrap()
            .evicted
            .is_empty()
    );
    let put = store.put_object(&scope, "c", 14, false, 2).unwrap();
    assert_eq!(put.evicted, ["b"]);
    let keys: Vec<String> = store
        .list_objects(&scope, ALL)
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, ["a", "c"]);
    assert_eq!(store.get_object(&scope, "a").unwrap().created, 13);
    // Limit 0 = unlimited.
    for (i, key) in ["d", "e", "f"].iter().enumerate() {
        assert!(
            store
                .put_object(&scope, key, 20 + i as u64, false, 0)
                .unwrap()
                .evicted
                .is_empty()
        );
    }
    assert_eq!(store.list_objects(&scope, ALL).unwrap().len(), 5);
    store.delete_object(&scope, "a").unwrap();
    assert!(matches!(
        store.get_object(&scope, "a"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_object(&scope, "a"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.put_object(&pipeline_objects("team", "nope"), "a", 1, false, 0),
        Err(StoreError::NotFound(_))
    ));
}

/// Completes a pending run in the store (as the dispatcher would).
fn complete_run(store: &dyn Store, ns: &str, p: &str, run_id: u64) {
    let mut stored = store
        .pending_runs()
        .unwrap()
        .into_iter()
        .find(|r| r.run.run_id == run_id && r.run.pipeline_id == p)
        .expect("pending run");
    stored.run.state = RunState::Complete;
    stored.run.status = RunStatus::Successful;
    store
        .commit(RunChanges {
            runs: vec![stored],
            dequeued: vec![key(ns, p, run_id)],
            ..RunChanges::default()
        })
        .unwrap();
}

fn run_objects_expire_only_for_complete_runs(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    let run_scope = |run_id| ObjectScope::Run {
        namespace: "team".into(),
        pipeline: "build".into(),
        run_id,
    };
    for _ in 0..3 {
        store.create_run("team", "build", new_run(), 5).unwrap();
    }
    for run_id in 1..=3 {
        store
            .put_object(&run_scope(run_id), "k", 6, false, 0)
            .unwrap();
    }
    assert!(matches!(
        store.put_object(&run_scope(9), "k", 6, false, 0),
        Err(StoreError::NotFound(_))
    ));
    complete_run(store, "team", "build", 1);
    // Run 2 is still pending: not expired even though it is old enough.
    assert_eq!(store.expire_run_objects("team", "build", 2).unwrap(), [1]);
    assert!(
        store
            .get_run("team", "build", 1)
            .unwrap()
            .store_objects_expired
    );
    assert!(
        !store
            .get_run("team", "build", 2)
            .unwrap()
            .store_objects_expired
    );
    assert!(store.list_objects(&run_scope(1), ALL).unwrap().is_empty());
    assert!(matches!(
        store.get_object(&run_scope(1), "k"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.put_object(&run_scope(1), "k2", 7, false, 0),
        Err(StoreError::Conflict(m)) if m == "objects for run 1 have expired"
    ));
    assert_eq!(store.list_objects(&run_scope(2), ALL).unwrap().len(), 1);
    // Already expired runs are not reported again; run 2 expires once complete.
    complete_run(store, "team", "build", 2);
    assert_eq!(store.expire_run_objects("team", "build", 2).unwrap(), [2]);
    // Nothing due: no transaction is committed (this runs for every new run).
    let generation = store.generation();
    assert!(
        store
            .expire_run_objects("team", "build", 2)
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.generation(), generation);
    // Pending run 3 is not a candidate even with a cutoff above it; nothing is committed.
    assert!(
        store
            .expire_run_objects("team", "build", 9)
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.generation(), generation);
    assert_eq!(store.list_objects(&run_scope(3), ALL).unwrap().len(), 1);
}

fn run_object_expiry_revokes_the_run_token(store: &dyn Store) {
    live_pipeline_injecting(store, "ns1", "inject", true);
    let (old, new) = (
        "00000000-0000-7000-8000-0000000000c1",
        "00000000-0000-7000-8000-0000000000c2",
    );
    seeded_run(store, "ns1", "inject", old);
    seeded_run(store, "ns1", "inject", new);
    complete_run(store, "ns1", "inject", 1);
    let generation = store.auth_generation();
    // One transaction: the objects expire and the token and role go with them (docs/auth.md#run-tokens).
    assert_eq!(store.expire_run_objects("ns1", "inject", 1).unwrap(), [1]);
    assert_ne!(
        store.auth_generation(),
        generation,
        "the auth cache must reload"
    );
    assert_eq!(store.token_by_hash(&format!("hash-{old}")).unwrap(), None);
    assert!(matches!(
        store.get_role("run:ns1:inject:1"),
        Err(StoreError::NotFound(_))
    ));
    // The newer run keeps its token.
    assert!(
        store
            .token_by_hash(&format!("hash-{new}"))
            .unwrap()
            .is_some()
    );
    assert!(store.get_role("run:ns1:inject:2").is_ok());
}

fn delete_pipeline_removes_objects_and_secrets(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    live_pipeline(store, "team", "build2");
    store.create_run("team", "build", new_run(), 5).unwrap();
    complete_run(store, "team", "build", 1);
    for p in ["build", "build2"] {
        store
            .put_secret(
                &pipeline_secrets("team", p),
                secret("s", &["team"], 1),
                vec![1],
                false,
            )
            .unwrap();
        store
            .put_object(&pipeline_objects("team", p), "o", 1, false, 0)
            .unwrap();
    }
    let run1 = ObjectScope::Run {
        namespace: "team".into(),
        pipeline: "build".into(),
        run_id: 1,
    };
    store.put_object(&run1, "r", 1, false, 0).unwrap();
    store.delete_pipeline("team", "build").unwrap();
    // A new pipeline under the same id starts empty; the neighbour keeps its entries.
    live_pipeline(store, "team", "build");
    assert!(
        store
            .list_objects(&pipeline_objects("team", "build"), ALL)
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_secrets(&pipeline_secrets("team", "build"), ALL)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .list_objects(&pipeline_objects("team", "build2"), ALL)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .list_secrets(&pipeline_secrets("team", "build2"), ALL)
            .unwrap()
            .len(),
        1
    );
    store.create_run("team", "build", new_run(), 5).unwrap();
    assert!(store.list_objects(&run1, ALL).unwrap().is_empty());
}

fn extension(id: &str, additional_roles: Vec<String>) -> Extension {
    Extension {
        registration: ExtensionRegistration {
            extension_id: id.into(),
            image: "gofer.local/extension-interval".into(),
            registry_auth: None,
            settings: vec![],
            created: 5,
            modified: 0,
            status: gofer_core::enums::ExtensionStatus::Enabled,
            additional_roles,
        },
        url: String::new(),
        started: 0,
        state: gofer_core::enums::ExtensionState::Processing,
        documentation: Default::default(),
        restarts: 0,
        retry_at: 0,
        last_error: String::new(),
    }
}

fn extensions_install_objects_status_token_uninstall(store: &dyn Store) {
    let before = all_events(store).len();
    store
        .install_extension(&extension("interval", vec![]))
        .unwrap();
    assert!(matches!(
        store.install_extension(&extension("interval", vec![])),
        Err(StoreError::Conflict(m)) if m == "extension 'interval' is already installed"
    ));
    assert!(matches!(
        store.install_extension(&extension("cron", vec!["no-such-role".into()])),
        Err(StoreError::Invalid(m)) if m == "additional_roles: unknown role 'no-such-role'"
    ));
    assert!(matches!(
        store.get_extension("cron"),
        Err(StoreError::NotFound(_))
    ));
    let role = store.get_role("extension:interval").unwrap();
    assert!(role.system_role);
    let kinds: Vec<EventKind> = all_events(store)[before..]
        .iter()
        .map(|e| e.kind.clone())
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::CreatedRole {
                role_id: "extension:interval".into()
            },
            EventKind::InstalledExtension {
                id: "interval".into(),
                image: "gofer.local/extension-interval".into()
            },
        ]
    );

    // Objects live under an existing extension only.
    let scope = ObjectScope::Extension {
        extension: "interval".into(),
    };
    store.put_object(&scope, "last", 6, false, 0).unwrap();
    assert!(matches!(
        store.put_object(&scope, "last", 7, false, 0),
        Err(StoreError::Conflict(_))
    ));
    store.put_object(&scope, "last", 8, true, 0).unwrap();
    assert_eq!(store.get_object(&scope, "last").unwrap().created, 8);
    assert_eq!(store.list_objects(&scope, ALL).unwrap().len(), 1);
    let missing = ObjectScope::Extension {
        extension: "cron".into(),
    };
    assert!(matches!(
        store.put_object(&missing, "k", 6, false, 0),
        Err(StoreError::NotFound(m)) if m == "extension 'cron' not found"
    ));
    assert!(matches!(
        store.list_objects(&missing, ALL),
        Err(StoreError::NotFound(_))
    ));

    // A replaced token is gone; disabling disables the current one.
    let token = |id: &str| Token {
        id: id.into(),
        created: 1,
        metadata: Default::default(),
        expires: 0,
        disabled: false,
        user: "interval (extension)".into(),
        roles: vec!["extension:interval".into()],
    };
    store
        .replace_extension_token("interval", &token("t1"), "hash1")
        .unwrap();
    store
        .replace_extension_token("interval", &token("t2"), "hash2")
        .unwrap();
    assert_eq!(store.token_by_hash("hash1").unwrap(), None);
    assert!(!store.token_by_hash("hash2").unwrap().unwrap().disabled);
    assert!(store.set_extension_status("interval", false, 9).unwrap());
    assert!(!store.set_extension_status("interval", false, 10).unwrap());
    assert!(store.token_by_hash("hash2").unwrap().unwrap().disabled);
    let stored = store.get_extension("interval").unwrap();
    assert_eq!(stored.extension.registration.modified, 9);
    assert_eq!(
        stored.extension.registration.status,
        gofer_core::enums::ExtensionStatus::Disabled
    );

    // Uninstall removes objects, token, role and registration.
    store.uninstall_extension("interval").unwrap();
    assert!(matches!(
        store.get_extension("interval"),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.token_by_hash("hash2").unwrap(), None);
    assert!(matches!(
        store.get_role("extension:interval"),
        Err(StoreError::NotFound(_))
    ));
    store
        .install_extension(&extension("interval", vec![]))
        .unwrap();
    assert!(
        store.list_objects(&scope, ALL).unwrap().is_empty(),
        "objects went with it"
    );
    assert!(matches!(
        store.uninstall_extension("cron"),
        Err(StoreError::NotFound(_))
    ));
}

fn subscriptions_create_status_list_cascade(store: &dyn Store) {
    use gofer_core::api::Subscription;
    use gofer_core::enums::SubscriptionStatus;
    live_pipeline(store, "team", "build");
    live_pipeline(store, "team", "test");
    store
        .install_extension(&extension("interval", vec![]))
        .unwrap();
    let sub = |p: &str, id: &str| Subscription {
        namespace_id: "team".into(),
        pipeline_id: p.into(),
        extension_id: "interval".into(),
        subscription_id: id.into(),
        settings: [("every", "5m")].into_iter().collect(),
        status: SubscriptionStatus::Active,
        status_reason: None,
        last_fired: 0,
        last_error: None,
    };
    store.create_subscription(&sub("build", "a")).unwrap();
    store.create_subscription(&sub("build", "b")).unwrap();
    store.create_subscription(&sub("test", "a")).unwrap();
    assert!(matches!(
        store.create_subscription(&sub("build", "a")),
        Err(StoreError::Conflict(_))
    ));
    let mut missing = sub("build", "c");
    missing.extension_id = "cron".into();
    assert!(matches!(
        store.create_subscription(&missing),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.create_subscription(&sub("nope", "a")),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store
            .list_subscriptions("team", "build", ALL)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .list_extension_subscriptions("interval", ALL)
            .unwrap()
            .len(),
        3
    );
    assert!(
        store
            .has_active_subscription("team", "build", "interval")
            .unwrap()
    );
    let key = |p: &str, id: &str| SubscriptionKey::of(&sub(p, id));
    // A failing trigger is recorded with its reason, and cleared when it works again; the
    // status stays active (runs the extension starts need it).
    assert!(
        store
            .record_subscription_fire(&key("test", "a"), 1_000, Some("cannot reach".into()))
            .unwrap()
    );
    let failing = store.get_subscription(&key("test", "a")).unwrap();
    assert_eq!(
        (
            failing.status,
            failing.last_fired,
            failing.last_error.as_deref()
        ),
        (SubscriptionStatus::Active, 1_000, Some("cannot reach"))
    );
    assert!(
        failing
            .status_reason
            .unwrap()
            .description
            .ends_with("cannot reach"),
    );
    assert!(
        !store
            .record_subscription_fire(&key("test", "a"), 1_000, Some("cannot reach".into()))
            .unwrap(),
        "nothing changed"
    );
    store
        .record_subscription_fire(&key("test", "a"), 2_000, None)
        .unwrap();
    let working = store.get_subscription(&key("test", "a")).unwrap();
    assert_eq!(
        (
            working.last_fired,
            working.last_error,
            working.status_reason
        ),
        (2_000, None, None)
    );
    assert!(
        !store
            .record_subscription_fire(&key("nope", "zz"), 1, None)
            .unwrap()
    );
    for id in ["a", "b"] {
        store
            .set_subscription_status(&key("build", id), SubscriptionStatus::Disabled, None)
            .unwrap();
    }
    assert!(
        !store
            .has_active_subscription("team", "build", "interval")
            .unwrap()
    );
    assert_eq!(
        store.get_subscription(&key("build", "a")).unwrap().status,
        SubscriptionStatus::Disabled
    );
    // Deleting a pipeline takes its subscriptions, and only its.
    store.delete_pipeline("team", "build").unwrap();
    assert_eq!(
        store
            .list_extension_subscriptions("interval", ALL)
            .unwrap()
            .len(),
        1
    );
    store.delete_subscription(&key("test", "a")).unwrap();
    assert!(matches!(
        store.delete_subscription(&key("test", "a")),
        Err(StoreError::NotFound(_))
    ));
    let unregistered = all_events(store)
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::PipelineExtensionSubscriptionUnregistered { .. }
            )
        })
        .count();
    assert_eq!(unregistered, 3);
}

// ---- deployments with a strategy (docs/pipelines.md#safe-deployments) -----------------------------

fn canary_plan(percent: u8, bake_runs: u64, rate: f64, min_sample: u64) -> DeployPlan {
    DeployPlan::Canary(gofer_core::canary::CanaryPolicy {
        percent,
        bake: gofer_core::canary::Bake::Runs(bake_runs),
        max_failure_rate: rate,
        min_sample,
    })
}

/// Completes a pending run straight away with `status` (and a reason kind when given).
fn complete_as(store: &dyn Store, run: &Run, status: RunStatus, why: Option<RunStatusReasonKind>) {
    let mut done = run.clone();
    done.state = RunState::Complete;
    done.status = status;
    done.ended = 300;
    done.status_reason = why.map(|reason| gofer_core::api::StatusReason {
        reason,
        description: "test".into(),
    });
    store
        .commit(RunChanges {
            runs: vec![StoredRun {
                run: done,
                cancel: None,
                deadline: 0,
            }],
            dequeued: vec![gofer_server::store::RunKey {
                namespace: run.namespace_id.clone(),
                pipeline: run.pipeline_id.clone(),
                run: run.run_id,
            }],
            ..RunChanges::default()
        })
        .unwrap();
}

fn kinds(d: &Deployment) -> Vec<&'static str> {
    d.logs.iter().map(|e| e.kind.name()).collect()
}

fn canary_splits_new_runs_and_promotes_when_baked(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    store
        .register_config("team", config("build", "v2"), 8)
        .unwrap();
    let (started, none) = store
        .start_deployment("team", "build", 2, canary_plan(50, 3, 0.0, 1), None, 1_000)
        .unwrap();
    assert!(none.is_none());
    assert_eq!(started.state, DeploymentState::Running);
    assert_eq!(started.strategy, DeploymentStrategy::Canary);
    let seed = started.canary.as_ref().unwrap().seed;
    // Every run created while the canary runs is split by its id; the live version stays 1.
    let mut canary_runs = Vec::new();
    let mut baseline = 0;
    while canary_runs.len() < 3 {
        let run = create(store, "team", "build");
        assert_eq!(run.deployment_id, Some(started.deployment_id));
        let on_new = gofer_core::canary::picks_new(seed, run.run_id, 50);
        assert_eq!(run.pipeline_config_version, if on_new { 2 } else { 1 });
        if on_new {
            canary_runs.push(run);
        } else {
            baseline += 1;
        }
        assert!(
            run_count(store) < 60,
            "a 50% split sent no run to the new version"
        );
    }
    assert_eq!(
        store.live_config("team", "build").unwrap().unwrap().version,
        1
    );
    let d = store
        .get_deployment("team", "build", started.deployment_id)
        .unwrap();
    let c = d.canary.as_ref().unwrap();
    assert_eq!((c.started, c.baseline), (3, baseline));
    assert_eq!(c.in_flight(), 3);
    assert_eq!(store.active_deployments().unwrap().len(), 1);
    // Two successes keep it baking; the third promotes it in the commit that completes it.
    complete_as(store, &canary_runs[0], RunStatus::Successful, None);
    complete_as(store, &canary_runs[1], RunStatus::Successful, None);
    let d = store
        .get_deployment("team", "build", started.deployment_id)
        .unwrap();
    assert_eq!(d.state, DeploymentState::Running);
    assert_eq!(d.canary.as_ref().unwrap().tally.successful, 2);
    complete_as(store, &canary_runs[2], RunStatus::Successful, None);
    let d = store
        .get_deployment("team", "build", started.deployment_id)
        .unwrap();
    assert_eq!(d.state, DeploymentState::Complete);
    assert_eq!(d.status, DeploymentStatus::Successful);
    assert_eq!(
        d.status_reason.as_ref().unwrap().reason,
        DeploymentStatusReasonKind::CanaryBaked
    );
    assert_eq!(kinds(&d).first(), Some(&"started_deployment"));
    assert_eq!(
        kinds(&d)
            .iter()
            .filter(|k| **k == "canary_run_started")
            .count(),
        3
    );
    assert_eq!(
        kinds(&d)[kinds(&d).len() - 2..],
        ["deployment_promoted", "completed_deployment"]
    );
    assert_eq!(
        store.live_config("team", "build").unwrap().unwrap().version,
        2
    );
    assert_eq!(
        store.get_config("team", "build", 1).unwrap().state,
        ConfigState::Deprecated
    );
    assert!(store.active_deployments().unwrap().is_empty());
    // Later runs use the new live version and belong to no deployment.
    let later = create(store, "team", "build");
    assert_eq!(
        (later.pipeline_config_version, later.deployment_id),
        (2, None)
    );
}

fn run_count(store: &dyn Store) -> usize {
    store.list_runs("team", "build", Page::ALL).unwrap().len()
}

fn canary_rolls_back_on_failures_and_ignores_cancelled_runs(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    store
        .register_config("team", config("build", "v2"), 8)
        .unwrap();
    // Every new run goes to the canary; two counted runs decide.
    let (d, _) = store
        .start_deployment("team", "build", 2, canary_plan(100, 6, 0.4, 2), None, 1_000)
        .unwrap();
    let runs: Vec<Run> = (0..5).map(|_| create(store, "team", "build")).collect();
    assert!(runs.iter().all(|r| r.pipeline_config_version == 2));
    complete_as(
        store,
        &runs[0],
        RunStatus::Cancelled,
        Some(RunStatusReasonKind::UserCancelled),
    );
    complete_as(
        store,
        &runs[1],
        RunStatus::Cancelled,
        Some(RunStatusReasonKind::UserCancelled),
    );
    complete_as(
        store,
        &runs[2],
        RunStatus::Failed,
        Some(RunStatusReasonKind::SchedulerError),
    );
    let now = store
        .get_deployment("team", "build", d.deployment_id)
        .unwrap();
    let tally = now.canary.as_ref().unwrap().tally;
    assert_eq!(
        (
            tally.cancelled,
            tally.failed,
            tally.scheduler_errors,
            tally.counted()
        ),
        (2, 1, 1, 1),
        "cancelled runs are kept apart and do not count"
    );
    assert_eq!(
        now.state,
        DeploymentState::Running,
        "one counted run is not a sample"
    );
    complete_as(
        store,
        &runs[3],
        RunStatus::Failed,
        Some(RunStatusReasonKind::AbnormalExit),
    );
    let done = store
        .get_deployment("team", "build", d.deployment_id)
        .unwrap();
    assert_eq!(done.status, DeploymentStatus::Failed);
    let why = done.status_reason.as_ref().unwrap();
    assert_eq!(why.reason, DeploymentStatusReasonKind::CanaryFailureRate);
    assert!(why.description.contains("2 failed"), "{}", why.description);
    assert!(
        why.description.contains("1 scheduler errors"),
        "{}",
        why.description
    );
    assert!(kinds(&done).contains(&"deployment_rolled_back"));
    assert_eq!(
        store.live_config("team", "build").unwrap().unwrap().version,
        1
    );
    assert_eq!(
        store.get_config("team", "build", 2).unwrap().state,
        ConfigState::Unreleased
    );
    // A canary run completing after the decision changes nothing.
    complete_as(store, &runs[4], RunStatus::Successful, None);
    assert_eq!(
        store
            .get_deployment("team", "build", d.deployment_id)
            .unwrap(),
        done
    );
    let later = create(store, "team", "build");
    assert_eq!(
        (later.pipeline_config_version, later.deployment_id),
        (1, None)
    );
}

fn smoke_deployment_runs_once_then_decides(store: &dyn Store) {
    live_pipeline(store, "team", "build");
    store
        .register_config("team", config("build", "v2"), 8)
        .unwrap();
    store
        .register_config("team", config("build", "v3"), 9)
        .unwrap();
    let smoke = || DeployPlan::Smoke(gofer_core::api::SmokeRequest::default());
    let (d, run) = store
        .start_deployment("team", "build", 2, smoke(), Some(new_run()), 1_000)
        .unwrap();
    let run = run.expect("a smoke deployment creates its run");
    assert_eq!(
        (run.pipeline_config_version, run.deployment_id),
        (2, Some(d.deployment_id))
    );
    assert_eq!(d.smoke.as_ref().unwrap().run_id, run.run_id);
    // Other runs stay on the live version while the smoke run runs.
    let other = create(store, "team", "build");
    assert_eq!(
        (other.pipeline_config_version, other.deployment_id),
        (1, None)
    );
    complete_as(
        store,
        &run,
        RunStatus::Failed,
        Some(RunStatusReasonKind::AbnormalExit),
    );
    let failed = store
        .get_deployment("team", "build", d.deployment_id)
        .unwrap();
    assert_eq!(failed.status, DeploymentStatus::Failed);
    assert_eq!(
        failed.status_reason.as_ref().unwrap().reason,
        DeploymentStatusReasonKind::SmokeRunFailed
    );
    let rolled_back = failed
        .logs
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::DeploymentRolledBack { smoke_run_id, .. } => *smoke_run_id,
            _ => None,
        })
        .expect("deployment_rolled_back names the smoke run");
    assert_eq!(rolled_back, run.run_id);
    assert_eq!(
        store.live_config("team", "build").unwrap().unwrap().version,
        1
    );
    // A passing smoke run makes its version live.
    let (d3, run3) = store
        .start_deployment("team", "build", 3, smoke(), Some(new_run()), 2_000)
        .unwrap();
    complete_as(store, &run3.unwrap(), RunStatus::Successful, None);
    let passed = store
        .get_deployment("team", "build", d3.deployment_id)
        .unwrap();
    assert_eq!(passed.status, DeploymentStatus::Successful);
    assert_eq!(
        store.live_config("team", "build").unwrap().unwrap().version,
        3
    );
}

fn deployments_in_progress_refuse_a_second_and_finish_by_hand(store: &dyn Store) {
    pipeline_with_versions(store, "team", "build", 3);
    // A canary needs a live version to compare with.
    assert!(matches!(
        store.start_deployment("team", "build", 2, canary_plan(50, 3, 0.0, 1), None, 1),
        Err(StoreError::Invalid(m)) if m.starts_with("canary:")
    ));
    store.deploy("team", "build", 1, 5).unwrap();
    let (d, _) = store
        .start_deployment("team", "build", 2, canary_plan(50, 3, 0.0, 1), None, 10)
        .unwrap();
    let before = store
        .get_deployment("team", "build", d.deployment_id)
        .unwrap();
    for attempt in [
        store.deploy("team", "build", 3, 11),
        store
            .start_deployment("team", "build", 3, canary_plan(5, 3, 0.0, 1), None, 11)
            .map(|(d, _)| d),
    ] {
        assert!(
            matches!(&attempt, Err(StoreError::Conflict(m)) if m.contains("already in progress")),
            "{attempt:?}"
        );
    }
    assert!(matches!(
        store.delete_config("team", "build", 2),
        Err(StoreError::Conflict(m)) if m.contains("being deployed")
    ));
    assert_eq!(
        store
            .get_deployment("team", "build", d.deployment_id)
            .unwrap(),
        before
    );
    // Abort: nothing changes for live traffic.
    let aborted = store
        .finish_deployment("team", "build", d.deployment_id, false, 20)
        .unwrap();
    assert_eq!(aborted.status, DeploymentStatus::Failed);
    assert_eq!(
        aborted.status_reason.as_ref().unwrap().reason,
        DeploymentStatusReasonKind::Aborted
    );
    assert_eq!(
        store.live_config("team", "build").unwrap().unwrap().version,
        1
    );
    assert!(matches!(
        store.finish_deployment("team", "build", d.deployment_id, true, 21),
        Err(StoreError::Conflict(m)) if m.contains("already complete")
    ));
    assert!(matches!(
        store.finish_deployment("team", "build", 99, true, 21),
        Err(StoreError::NotFound(_))
    ));
    // Promote by hand: the new version is live at once.
    let (d2, _) = store
        .start_deployment("team", "build", 3, canary_plan(50, 3, 0.0, 1), None, 30)
        .unwrap();
    let promoted = store
        .finish_deployment("team", "build", d2.deployment_id, true, 40)
        .unwrap();
    assert_eq!(promoted.status, DeploymentStatus::Successful);
    assert_eq!(promoted.ended, 40);
    assert_eq!(
        store.live_config("team", "build").unwrap().unwrap().version,
        3
    );
}

/// A time bake is concluded by `advance_deployments` once it is over and a canary run counts.
#[test]
fn a_time_bake_is_concluded_by_the_clock_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gofer.redb");
    let plan = DeployPlan::Canary(gofer_core::canary::CanaryPolicy {
        percent: 100,
        bake: gofer_core::canary::Bake::Seconds(60),
        max_failure_rate: 0.0,
        min_sample: 1,
    });
    // Run completions are counted at the store's clock: start the bake now.
    let t0 = gofer_core::now_millis();
    let id = {
        let store = RedbStore::open(&path).unwrap();
        live_pipeline(&store, "team", "build");
        store
            .register_config("team", config("build", "v2"), 8)
            .unwrap();
        let (d, _) = store
            .start_deployment("team", "build", 2, plan, None, t0)
            .unwrap();
        let run = create(&store, "team", "build");
        complete_as(&store, &run, RunStatus::Successful, None);
        assert!(
            store.advance_deployments(t0 + 30_000).unwrap().is_empty(),
            "still baking"
        );
        d.deployment_id
    };
    // The counters are on disk: a new process finds them and the clock concludes the canary.
    let store = RedbStore::open(&path).unwrap();
    let d = store.get_deployment("team", "build", id).unwrap();
    assert_eq!(d.canary.as_ref().unwrap().tally.successful, 1);
    assert_eq!(d.canary.as_ref().unwrap().bake_until, t0 + 60_000);
    let done = store.advance_deployments(t0 + 60_000).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].status, DeploymentStatus::Successful);
    assert_eq!(
        store.live_config("team", "build").unwrap().unwrap().version,
        2
    );
}
