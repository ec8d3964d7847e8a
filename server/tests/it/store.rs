//! Store conformance suite (STYLE rule 13): every case takes `&dyn Store` and runs against every
//! implementation — `RedbStore` on a file and `RedbStore` in memory. Cases that need the file
//! itself (persistence, locking, the value encoding) or a pinned clock follow the suite.

use gofer_core::api::{
    Config, Deployment, Event, EventKind, Metadata, Namespace, Page, PipelineConfigInput,
};
use gofer_core::enums::{ConfigState, DeploymentState, DeploymentStatus, PipelineState};
use gofer_core::validate::{ValidConfig, validate_config};
use gofer_server::store::{RedbStore, Store, StoreError};
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

/// Ids strictly increase and `emitted` never decreases (SPEC §8.1).
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
    // Deleting the highest version does not free its number either (SPEC §3.4).
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

/// Stored values are one version-tag byte (1) then JSON of the wire type (STYLE rule 5), and a
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
        Err(StoreError::Internal(message)) => {
            assert!(message.contains("unknown value version 2"), "{message}")
        }
        other => panic!("expected Internal, got {other:?}"),
    }
}

/// With the clock stalled or going backwards, ids still strictly increase (previous id + 1) and
/// `emitted` holds; when it advances, both move on (SPEC §8.1). Retention cuts by `emitted`.
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
