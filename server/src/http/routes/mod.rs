//! The route table (docs/api.md) with each route's access requirement (docs/auth.md#route-requirements). Later issues add
//! their rows here; tests enumerate [`all`] so no route can miss a permission-matrix row.

mod attach;
mod configs;
mod events;
mod extensions;
mod logs;
mod namespaces;
mod objects;
mod pipelines;
mod roles;
mod run_control;
mod runs;
mod secrets;
mod subscriptions;
mod system;
mod tasks;
mod tokens;

use super::apidoc::{Body, PAGE, Query, QueryKind, doc, schema as s};
use super::router::{Access, Res, Route};
use gofer_core::api::*;
use gofer_core::enums::Action;
use warp::http::Method;

/// Builds a [`Route`] from an async handler function and its entry in the OpenAPI document.
macro_rules! route {
    ($method:ident $template:literal, $access:expr, $handler:path, $doc:expr) => {
        Route {
            method: Method::$method,
            template: $template,
            access: $access,
            handler: |cx| Box::pin($handler(cx)),
            doc: $doc,
        }
    };
}

const fn perm(action: Action, resources: &'static [Res]) -> Access {
    Access::Perm {
        action,
        resources,
        anonymous: false,
    }
}

const fn anonymous_read(resources: &'static [Res]) -> Access {
    Access::Perm {
        action: Action::Read,
        resources,
        anonymous: true,
    }
}

use Action::{Delete, Read, Write};
use Res::*;

const NS_P: &[Res] = &[Namespace, Pipeline];
const NS_P_CONFIGS: &[Res] = &[Namespace, Pipeline, Configs];
const NS_P_DEPLOYMENTS: &[Res] = &[Namespace, Pipeline, Deployments];
const NS_P_RUNS: &[Res] = &[Namespace, Pipeline, Runs];
const NS_P_RUNS_TASKS: &[Res] = &[Namespace, Pipeline, Runs, TaskExecutions];
const NS_P_OBJECTS: &[Res] = &[Namespace, Pipeline, Objects];
const NS_P_RUNS_OBJECTS: &[Res] = &[Namespace, Pipeline, Runs, Objects];
const NS_P_SECRETS: &[Res] = &[Namespace, Pipeline, Secrets];
const EXT_OBJECTS: &[Res] = &[Extension, Objects];
const NS_P_SUBS: &[Res] = &[Namespace, Pipeline, Subscriptions];

/// Task results: write on the task executions, or the run's own token (docs/runs.md#results-and-payload).
const OWN_RUN_TASKS_WRITE: Access = Access::PermOrOwnRun {
    action: Write,
    resources: NS_P_RUNS_TASKS,
};

const FOLLOW: &[Query] = &[Query {
    name: "follow",
    kind: QueryKind::Bool,
    description: "Keep the stream open and send new lines as they are written (default: true on a websocket, false otherwise).",
}];
const FORCE: &[Query] = &[Query {
    name: "force",
    kind: QueryKind::Bool,
    description: "Replace an existing object or secret of this key.",
}];
const INCLUDE_SECRET: &[Query] = &[Query {
    name: "include_secret",
    kind: QueryKind::Bool,
    description: "Also answer the secret's value.",
}];
const RUNS_QUERY: &[Query] = &[
    PAGE[0],
    PAGE[1],
    PAGE[2],
    Query {
        name: "version",
        kind: QueryKind::Int { min: 1, max: None },
        description: "Only the runs made with this config version.",
    },
];
const CANCEL_RUN: &[Query] = &[Query {
    name: "force",
    kind: QueryKind::Bool,
    description: "Kill the tasks at once instead of giving them `api.task_execution_stop_timeout`.",
}];
const CANCEL_TASK: &[Query] = &[Query {
    name: "wait_for",
    kind: QueryKind::Int { min: 0, max: None },
    description: "Seconds the container gets to stop before it is killed.",
}];
const ATTACH: &[Query] = &[Query {
    name: "command",
    kind: QueryKind::Str,
    description: "The command to run in the task's container, split on whitespace (default `/bin/sh`).",
}];
const EVENTS: &[Query] = &[
    Query {
        name: "history",
        kind: QueryKind::Bool,
        description: "Send the stored events first, then continue live.",
    },
    Query {
        name: "reverse",
        kind: QueryKind::Bool,
        description: "With `history`: newest first, then the stream closes.",
    },
    Query {
        name: "after",
        kind: QueryKind::Pattern(super::apidoc::EVENT_ID),
        description: "Send the events after this event id, then continue live.",
    },
    Query {
        name: "kinds",
        kind: QueryKind::List(gofer_core::api::EVENT_KIND_NAMES),
        description: "Only these event kinds, comma-separated (e.g. `started_run,completed_run`).",
    },
    Query {
        name: "namespace_id",
        kind: QueryKind::Str,
        description: "Only events about this namespace.",
    },
    Query {
        name: "pipeline_id",
        kind: QueryKind::Str,
        description: "Only events about this pipeline (with `namespace_id`).",
    },
];

const OBJECT_BYTES: &str = "application/octet-stream";
const LOG_TEXT: Body = Body::Bytes("text/plain; charset=utf-8");

/// Every API route, in the order of docs/api.md.
pub fn all() -> Vec<Route> {
    vec![
        // events
        route!(GET "/api/events", perm(Read, &[Events]), events::stream,
            doc("stream_events", "Stream events (websocket): stored ones first with `history`, then live.")
                .query(EVENTS).websocket(None)),
        route!(GET "/api/events/{event_id}", perm(Read, &[Events]), events::get,
            doc("get_event", "Get one event.").ok(s::<EventResponse>)),
        route!(DELETE "/api/events/{event_id}", Access::Admin, events::delete,
            doc("delete_event", "Delete one event.").no_content()),
        // extensions
        route!(GET "/api/extensions", perm(Read, &[Extensions]), extensions::list,
            doc("list_extensions", "List installed extensions.").query(PAGE).ok(s::<ExtensionsResponse>)),
        route!(POST "/api/extensions", Access::Admin, extensions::install,
            doc("install_extension", "Install an extension and start it.")
                .body(s::<InstallExtensionRequest>).created(s::<ExtensionResponse>).errors(&[409])),
        route!(GET "/api/extensions/{id}", perm(Read, &[Extension]), extensions::get,
            doc("get_extension", "Get an extension.").ok(s::<ExtensionResponse>)),
        route!(DELETE "/api/extensions/{id}", Access::Admin, extensions::uninstall,
            doc("uninstall_extension", "Stop and uninstall an extension.").no_content()),
        route!(PATCH "/api/extensions/{id}", Access::Admin, extensions::update,
            doc("update_extension", "Enable or disable an extension.")
                .body(s::<UpdateExtensionRequest>).no_content()),
        route!(GET "/api/extensions/{id}/debug", Access::Admin, extensions::debug,
            doc("get_extension_debug_info", "Ask a running extension for its debug information.")
                .ok(s::<ExtensionDebugResponse>).errors(&[502, 503])),
        route!(GET "/api/extensions/{id}/logs", perm(Read, &[Extension]), extensions::logs,
            doc("get_extension_logs", "An extension's container log (websocket, or plain text without the upgrade).")
                .query(FOLLOW).websocket(Some(LOG_TEXT))),
        route!(GET "/api/extensions/{id}/objects", perm(Read, EXT_OBJECTS), objects::list_extension,
            doc("list_extension_objects", "List an extension's objects.").query(PAGE).ok(s::<ObjectsResponse>)),
        route!(GET "/api/extensions/{id}/objects/{key}", perm(Read, EXT_OBJECTS), objects::get_extension,
            doc("get_extension_object", "Download an extension's object.").bytes_out(OBJECT_BYTES)),
        route!(POST "/api/extensions/{id}/objects/{key}", perm(Write, EXT_OBJECTS), objects::put_extension,
            doc("put_extension_object", "Store an extension's object.")
                .query(FORCE).bytes_in(OBJECT_BYTES).created(s::<ObjectResponse>).errors(&[409, 507])),
        route!(DELETE "/api/extensions/{id}/objects/{key}", perm(Delete, EXT_OBJECTS), objects::delete_extension,
            doc("delete_extension_object", "Delete an extension's object.").no_content()),
        route!(GET "/api/extensions/{id}/subscriptions", perm(Read, &[Extension, Subscriptions]), extensions::subscriptions,
            doc("list_extension_subscriptions", "List the subscriptions to an extension in the pipelines the caller may read.")
                .query(PAGE).ok(s::<SubscriptionsResponse>)),
        // namespaces and pipelines
        route!(GET "/api/namespaces", perm(Read, &[Namespaces]), namespaces::list,
            doc("list_namespaces", "List namespaces.").query(PAGE).ok(s::<NamespacesResponse>)),
        route!(POST "/api/namespaces", Access::Admin, namespaces::create,
            doc("create_namespace", "Create a namespace.")
                .body(s::<CreateNamespaceRequest>).created(s::<NamespaceResponse>).errors(&[409])),
        route!(GET "/api/namespaces/{ns}", perm(Read, &[Namespace]), namespaces::get,
            doc("get_namespace", "Get a namespace.").ok(s::<NamespaceResponse>)),
        route!(DELETE "/api/namespaces/{ns}", Access::Admin, namespaces::delete,
            doc("delete_namespace", "Delete a namespace and everything in it (refused while a run is pending or running).")
                .no_content().errors(&[409])),
        route!(PATCH "/api/namespaces/{ns}", Access::Admin, namespaces::update,
            doc("update_namespace", "Change a namespace's name or description.")
                .body(s::<UpdateNamespaceRequest>).ok(s::<NamespaceResponse>)),
        route!(GET "/api/namespaces/{ns}/pipelines", anonymous_read(&[Namespace, Pipelines]), pipelines::list,
            doc("list_pipelines", "List a namespace's pipelines.").query(PAGE).ok(s::<PipelinesResponse>)),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}", anonymous_read(NS_P), pipelines::get,
            doc("get_pipeline", "Get a pipeline's metadata.").ok(s::<PipelineResponse>)),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}", perm(Delete, NS_P), pipelines::delete,
            doc("delete_pipeline", "Delete a pipeline and its runs, configs, objects and secrets (refused while a run is pending or running).")
                .no_content().errors(&[409])),
        route!(PATCH "/api/namespaces/{ns}/pipelines/{p}", perm(Write, NS_P), pipelines::update,
            doc("update_pipeline", "Enable or disable a pipeline.").body(s::<UpdatePipelineRequest>).no_content()),
        // configs and deployments
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/configs", perm(Read, NS_P_CONFIGS), configs::list,
            doc("list_configs", "List a pipeline's config versions, newest first.").query(PAGE).ok(s::<ConfigsResponse>)),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/configs", perm(Write, NS_P_CONFIGS), configs::register,
            doc("register_config", "Register a new config version (creates the pipeline on first use).")
                .body(s::<RegisterConfigRequest>).created(s::<RegisterConfigResponse>)),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/configs/{version}", perm(Read, NS_P_CONFIGS), configs::get,
            doc("get_config", "Get a config version (0: the latest).").ok(s::<ConfigResponse>)),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/configs/{version}/diff/{other}", perm(Read, NS_P_CONFIGS), configs::diff,
            doc("diff_configs", "What changed between two config versions.").ok(s::<ConfigDiffResponse>)),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/configs/{version}", perm(Write, NS_P_DEPLOYMENTS), configs::deploy,
            doc("deploy_config", "Deploy a config version: at once, as a canary, or after a smoke run.")
                .optional_body(s::<DeployRequest>).created(s::<DeploymentResponse>).errors(&[409])),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/configs/{version}", perm(Delete, NS_P_CONFIGS), configs::delete,
            doc("delete_config", "Delete a config version that is not live.").no_content().errors(&[409])),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/deployments", perm(Read, NS_P_DEPLOYMENTS), configs::list_deployments,
            doc("list_deployments", "List a pipeline's deployments.").query(PAGE).ok(s::<DeploymentsResponse>)),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/deployments/{deployment_id}", perm(Read, NS_P_DEPLOYMENTS), configs::get_deployment,
            doc("get_deployment", "Get a deployment.").ok(s::<DeploymentResponse>)),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/deployments/{deployment_id}/promote", perm(Write, NS_P_DEPLOYMENTS), configs::promote,
            doc("promote_deployment", "Make a running deployment's version live now.")
                .ok(s::<DeploymentResponse>).errors(&[409])),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/deployments/{deployment_id}/abort", perm(Write, NS_P_DEPLOYMENTS), configs::abort,
            doc("abort_deployment", "Stop a running deployment; the previous version stays live.")
                .ok(s::<DeploymentResponse>).errors(&[409])),
        // pipeline objects
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/objects", perm(Read, NS_P_OBJECTS), objects::list_pipeline,
            doc("list_pipeline_objects", "List a pipeline's objects.").query(PAGE).ok(s::<ObjectsResponse>)),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/objects/{key}", perm(Read, NS_P_OBJECTS), objects::get_pipeline,
            doc("get_pipeline_object", "Download a pipeline's object.").bytes_out(OBJECT_BYTES)),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/objects/{key}", perm(Write, NS_P_OBJECTS), objects::put_pipeline,
            doc("put_pipeline_object", "Store a pipeline's object.")
                .query(FORCE).bytes_in(OBJECT_BYTES).created(s::<ObjectResponse>).errors(&[409, 507])),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/objects/{key}", perm(Delete, NS_P_OBJECTS), objects::delete_pipeline,
            doc("delete_pipeline_object", "Delete a pipeline's object.").no_content()),
        // runs and task executions
        route!(GET "/api/runs", perm(Read, &[Runs]), runs::active,
            doc("list_active_runs", "Every pending and running run the caller may read, across pipelines.")
                .ok(s::<ActiveRunsResponse>)),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs", anonymous_read(NS_P_RUNS), runs::list,
            doc("list_runs", "List a pipeline's runs, by id.").query(RUNS_QUERY).ok(s::<RunsResponse>)),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/runs", perm(Write, NS_P_RUNS), run_control::start,
            doc("start_run", "Start a run of the pipeline's live config.")
                .optional_body(s::<StartRunRequest>).created(s::<RunResponse>).errors(&[409, 503])),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}", anonymous_read(NS_P_RUNS), runs::get,
            doc("get_run", "Get a run.").ok(s::<RunResponse>)),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/runs/{run}", perm(Write, NS_P_RUNS), run_control::cancel,
            doc("cancel_run", "Cancel a run: its tasks are stopped.").query(CANCEL_RUN).no_content()),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/retry", perm(Write, NS_P_RUNS), run_control::retry,
            doc("retry_run", "Start a new run with a finished run's inputs, optionally reusing the tasks that succeeded.")
                .optional_body(s::<RetryRunRequest>).created(s::<RunResponse>).errors(&[409, 503])),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/objects", perm(Read, NS_P_RUNS_OBJECTS), objects::list_run,
            doc("list_run_objects", "List a run's objects.").query(PAGE).ok(s::<ObjectsResponse>)),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/objects/{key}", perm(Read, NS_P_RUNS_OBJECTS), objects::get_run,
            doc("get_run_object", "Download a run's object.").bytes_out(OBJECT_BYTES)),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/objects/{key}", perm(Write, NS_P_RUNS_OBJECTS), objects::put_run,
            doc("put_run_object", "Store a run's object.")
                .query(FORCE).bytes_in(OBJECT_BYTES).created(s::<ObjectResponse>).errors(&[409, 507])),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/objects/{key}", perm(Delete, NS_P_RUNS_OBJECTS), objects::delete_run,
            doc("delete_run_object", "Delete a run's object.").no_content()),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks", perm(Read, NS_P_RUNS_TASKS), tasks::list,
            doc("list_task_executions", "List a run's task executions.").query(PAGE).ok(s::<TaskExecutionsResponse>)),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}", perm(Read, NS_P_RUNS_TASKS), tasks::get,
            doc("get_task_execution", "Get a task execution.").ok(s::<TaskExecutionResponse>)),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}", perm(Write, NS_P_RUNS_TASKS), run_control::cancel_task,
            doc("cancel_task_execution", "Cancel one task execution.").query(CANCEL_TASK).no_content()),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/logs", perm(Read, NS_P_RUNS_TASKS), logs::get,
            doc("get_logs", "A task execution's log (websocket, or plain text without the upgrade).")
                .query(FOLLOW).websocket(Some(LOG_TEXT))),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/logs", perm(Delete, NS_P_RUNS_TASKS), logs::delete,
            doc("delete_logs", "Delete a finished task execution's log.").no_content().errors(&[409])),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/attach", perm(Write, NS_P_RUNS_TASKS), attach::attach,
            doc("attach_task_execution", "Run a command in a running task's container, interactively (websocket).")
                .query(ATTACH).websocket(None).errors(&[409])),
        route!(PUT "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/result", OWN_RUN_TASKS_WRITE, tasks::set_result,
            doc("set_task_result", "Record a task's result (any JSON value, at most 64 KiB).")
                .body(s::<serde_json::Value>).no_content().errors(&[409])),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/result", OWN_RUN_TASKS_WRITE, tasks::set_result,
            doc("post_task_result", "Record a task's result (any JSON value, at most 64 KiB); the same as PUT.")
                .body(s::<serde_json::Value>).no_content().errors(&[409])),
        // roles
        route!(GET "/api/roles", perm(Read, &[Permissions]), roles::list,
            doc("list_roles", "List roles.").query(PAGE).ok(s::<RolesResponse>)),
        route!(POST "/api/roles", Access::Admin, roles::create,
            doc("create_role", "Create a role.").body(s::<CreateRoleRequest>).created(s::<RoleResponse>).errors(&[409])),
        route!(GET "/api/roles/{id}", perm(Read, &[Permissions]), roles::get,
            doc("get_role", "Get a role.").ok(s::<RoleResponse>)),
        route!(DELETE "/api/roles/{id}", Access::Admin, roles::delete,
            doc("delete_role", "Delete a role that is not a system role.").no_content()),
        route!(PATCH "/api/roles/{id}", Access::Admin, roles::update,
            doc("update_role", "Change a role's description or permissions.")
                .body(s::<UpdateRoleRequest>).ok(s::<RoleResponse>)),
        // pipeline secrets
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/secrets", perm(Read, NS_P_SECRETS), secrets::list_pipeline,
            doc("list_pipeline_secrets", "List a pipeline's secrets (without values).").query(PAGE).ok(s::<SecretsResponse>)),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/secrets", perm(Write, NS_P_SECRETS), secrets::put_pipeline,
            doc("put_pipeline_secret", "Store a pipeline secret.")
                .body(s::<PutPipelineSecretRequest>).created(s::<SecretResponse>).errors(&[409])),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/secrets/{key}", perm(Read, NS_P_SECRETS), secrets::get_pipeline,
            doc("get_pipeline_secret", "Get a pipeline secret's metadata, and its value with `include_secret`.")
                .query(INCLUDE_SECRET).ok(s::<GetSecretResponse>)),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/secrets/{key}", perm(Delete, NS_P_SECRETS), secrets::delete_pipeline,
            doc("delete_pipeline_secret", "Delete a pipeline secret.").no_content()),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/subscriptions", perm(Read, NS_P_SUBS), subscriptions::list,
            doc("list_subscriptions", "List a pipeline's extension subscriptions.").query(PAGE).ok(s::<SubscriptionsResponse>)),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/subscriptions", perm(Write, NS_P_SUBS), subscriptions::create,
            doc("create_subscription", "Subscribe the pipeline to an extension (the extension is asked first).")
                .body(s::<CreateSubscriptionRequest>).created(s::<SubscriptionResponse>).errors(&[409, 502, 503])),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/subscriptions/{ext}/{sub}", perm(Read, NS_P_SUBS), subscriptions::get,
            doc("get_subscription", "Get a subscription.").ok(s::<SubscriptionResponse>)),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/subscriptions/{ext}/{sub}", perm(Delete, NS_P_SUBS), subscriptions::delete,
            doc("delete_subscription", "Delete a subscription.").no_content()),
        route!(PATCH "/api/namespaces/{ns}/pipelines/{p}/subscriptions/{ext}/{sub}", perm(Write, NS_P_SUBS), subscriptions::update,
            doc("update_subscription", "Enable or disable a subscription.")
                .body(s::<UpdateSubscriptionRequest>).no_content()),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/subscriptions/{ext}/{sub}/backfill", perm(Write, NS_P_RUNS), subscriptions::backfill,
            doc("backfill_subscription", "Start the runs a schedule would have started in a past window.")
                .body(s::<BackfillRequest>).ok(s::<BackfillResponse>).errors(&[409, 502, 503])),
        // global secrets
        route!(GET "/api/secrets/global", Access::Admin, secrets::list_global,
            doc("list_global_secrets", "List global secrets (without values).").query(PAGE).ok(s::<SecretsResponse>)),
        route!(POST "/api/secrets/global", Access::Admin, secrets::put_global,
            doc("put_global_secret", "Store a global secret for the namespaces it names.")
                .body(s::<PutGlobalSecretRequest>).created(s::<SecretResponse>).errors(&[409])),
        route!(GET "/api/secrets/global/{key}", Access::Admin, secrets::get_global,
            doc("get_global_secret", "Get a global secret's metadata, and its value with `include_secret`.")
                .query(INCLUDE_SECRET).ok(s::<GetSecretResponse>)),
        route!(DELETE "/api/secrets/global/{key}", Access::Admin, secrets::delete_global,
            doc("delete_global_secret", "Delete a global secret.").no_content()),
        // system
        route!(GET "/api/system", Access::Admin, system::get,
            doc("get_system_preferences", "The server's system settings.").ok(s::<gofer_core::api::System>)),
        route!(PATCH "/api/system", Access::Admin, system::update,
            doc("update_system_preferences", "Pause or resume run ingress.")
                .body(s::<UpdateSystemRequest>).ok(s::<gofer_core::api::System>)),
        route!(GET "/api/system/metadata", Access::Public, system::metadata,
            doc("get_system_metadata", "The server's version and commit.").ok(s::<SystemMetadata>)),
        route!(GET "/api/system/backup", Access::Admin, system::backup,
            doc("backup", "A consistent copy of the data dir (database, objects, logs) as a tar stream.")
                .bytes_out("application/x-tar")),
        // tokens (whoami and bootstrap before `{id}`: the first matching row wins)
        route!(GET "/api/tokens", Access::Admin, tokens::list,
            doc("list_tokens", "List tokens (without secrets).").query(PAGE).ok(s::<TokensResponse>)),
        route!(POST "/api/tokens", Access::Admin, tokens::create,
            doc("create_token", "Create a token; the secret is answered once.")
                .body(s::<CreateTokenRequest>).created(s::<CreatedToken>)),
        route!(POST "/api/tokens/bootstrap", Access::Public, tokens::bootstrap,
            doc("create_bootstrap_token", "Create the first admin token; works once per server.")
                .created(s::<CreatedToken>).errors(&[409])),
        route!(GET "/api/tokens/whoami", Access::Authenticated, tokens::whoami,
            doc("whoami", "The caller's own token.").ok(s::<TokenResponse>)),
        route!(GET "/api/tokens/{id}", Access::AdminOrOwnToken, tokens::get,
            doc("get_token_by_id", "Get a token (without its secret).").ok(s::<TokenResponse>)),
        route!(DELETE "/api/tokens/{id}", Access::Admin, tokens::delete,
            doc("delete_token", "Delete a token (not the one the request is made with).").no_content().errors(&[409])),
        route!(PATCH "/api/tokens/{id}", Access::Admin, tokens::update,
            doc("update_token", "Enable or disable a token.")
                .body(s::<UpdateTokenRequest>).no_content().errors(&[409])),
        // operational
        route!(GET "/api/health", Access::Open, system::health,
            doc("health", "Whether storage and the container engine answer (503 with the same body when not).")
                .ok(s::<Health>).also(503)),
        route!(GET "/api/openapi.json", Access::Open, system::openapi,
            doc("openapi", "This OpenAPI document.").ok(s::<serde_json::Value>)),
        route!(GET "/metrics", Access::Open, system::metrics,
            doc("metrics", "Prometheus metrics (text format 0.0.4).")
                .bytes_out("text/plain; version=0.0.4; charset=utf-8")),
    ]
}
