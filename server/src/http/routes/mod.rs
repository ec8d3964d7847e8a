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

use super::router::{Access, Res, Route};
use gofer_core::enums::Action;
use warp::http::Method;

/// Builds a [`Route`] from an async handler function.
macro_rules! route {
    ($method:ident $template:literal, $access:expr, $handler:path) => {
        Route {
            method: Method::$method,
            template: $template,
            access: $access,
            handler: |cx| Box::pin($handler(cx)),
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

/// Every API route, in the order of docs/api.md.
pub fn all() -> Vec<Route> {
    vec![
        // events
        route!(GET "/api/events", perm(Read, &[Events]), events::stream),
        route!(GET "/api/events/{event_id}", perm(Read, &[Events]), events::get),
        route!(DELETE "/api/events/{event_id}", Access::Admin, events::delete),
        // extensions
        route!(GET "/api/extensions", perm(Read, &[Extensions]), extensions::list),
        route!(POST "/api/extensions", Access::Admin, extensions::install),
        route!(GET "/api/extensions/{id}", perm(Read, &[Extension]), extensions::get),
        route!(DELETE "/api/extensions/{id}", Access::Admin, extensions::uninstall),
        route!(PATCH "/api/extensions/{id}", Access::Admin, extensions::update),
        route!(GET "/api/extensions/{id}/debug", Access::Admin, extensions::debug),
        route!(GET "/api/extensions/{id}/logs", perm(Read, &[Extension]), extensions::logs),
        route!(GET "/api/extensions/{id}/objects", perm(Read, EXT_OBJECTS), objects::list_extension),
        route!(GET "/api/extensions/{id}/objects/{key}", perm(Read, EXT_OBJECTS), objects::get_extension),
        route!(POST "/api/extensions/{id}/objects/{key}", perm(Write, EXT_OBJECTS), objects::put_extension),
        route!(DELETE "/api/extensions/{id}/objects/{key}", perm(Delete, EXT_OBJECTS), objects::delete_extension),
        route!(GET "/api/extensions/{id}/subscriptions", perm(Read, &[Extension, Subscriptions]), extensions::subscriptions),
        // namespaces and pipelines
        route!(GET "/api/namespaces", perm(Read, &[Namespaces]), namespaces::list),
        route!(POST "/api/namespaces", Access::Admin, namespaces::create),
        route!(GET "/api/namespaces/{ns}", perm(Read, &[Namespace]), namespaces::get),
        route!(DELETE "/api/namespaces/{ns}", Access::Admin, namespaces::delete),
        route!(PATCH "/api/namespaces/{ns}", Access::Admin, namespaces::update),
        route!(GET "/api/namespaces/{ns}/pipelines", anonymous_read(&[Namespace, Pipelines]), pipelines::list),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}", anonymous_read(NS_P), pipelines::get),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}", perm(Delete, NS_P), pipelines::delete),
        route!(PATCH "/api/namespaces/{ns}/pipelines/{p}", perm(Write, NS_P), pipelines::update),
        // configs and deployments
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/configs", perm(Read, NS_P_CONFIGS), configs::list),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/configs", perm(Write, NS_P_CONFIGS), configs::register),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/configs/{version}", perm(Read, NS_P_CONFIGS), configs::get),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/configs/{version}/diff/{other}", perm(Read, NS_P_CONFIGS), configs::diff),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/configs/{version}", perm(Write, NS_P_DEPLOYMENTS), configs::deploy),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/configs/{version}", perm(Delete, NS_P_CONFIGS), configs::delete),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/deployments", perm(Read, NS_P_DEPLOYMENTS), configs::list_deployments),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/deployments/{deployment_id}", perm(Read, NS_P_DEPLOYMENTS), configs::get_deployment),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/deployments/{deployment_id}/promote", perm(Write, NS_P_DEPLOYMENTS), configs::promote),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/deployments/{deployment_id}/abort", perm(Write, NS_P_DEPLOYMENTS), configs::abort),
        // pipeline objects
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/objects", perm(Read, NS_P_OBJECTS), objects::list_pipeline),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/objects/{key}", perm(Read, NS_P_OBJECTS), objects::get_pipeline),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/objects/{key}", perm(Write, NS_P_OBJECTS), objects::put_pipeline),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/objects/{key}", perm(Delete, NS_P_OBJECTS), objects::delete_pipeline),
        // runs and task executions
        route!(GET "/api/runs", perm(Read, &[Runs]), runs::active),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs", anonymous_read(NS_P_RUNS), runs::list),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/runs", perm(Write, NS_P_RUNS), run_control::start),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}", anonymous_read(NS_P_RUNS), runs::get),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/runs/{run}", perm(Write, NS_P_RUNS), run_control::cancel),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/retry", perm(Write, NS_P_RUNS), run_control::retry),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/objects", perm(Read, NS_P_RUNS_OBJECTS), objects::list_run),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/objects/{key}", perm(Read, NS_P_RUNS_OBJECTS), objects::get_run),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/objects/{key}", perm(Write, NS_P_RUNS_OBJECTS), objects::put_run),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/objects/{key}", perm(Delete, NS_P_RUNS_OBJECTS), objects::delete_run),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks", perm(Read, NS_P_RUNS_TASKS), tasks::list),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}", perm(Read, NS_P_RUNS_TASKS), tasks::get),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}", perm(Write, NS_P_RUNS_TASKS), run_control::cancel_task),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/logs", perm(Read, NS_P_RUNS_TASKS), logs::get),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/logs", perm(Delete, NS_P_RUNS_TASKS), logs::delete),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/attach", perm(Write, NS_P_RUNS_TASKS), attach::attach),
        route!(PUT "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/result", OWN_RUN_TASKS_WRITE, tasks::set_result),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/runs/{run}/tasks/{task}/result", OWN_RUN_TASKS_WRITE, tasks::set_result),
        // roles
        route!(GET "/api/roles", perm(Read, &[Permissions]), roles::list),
        route!(POST "/api/roles", Access::Admin, roles::create),
        route!(GET "/api/roles/{id}", perm(Read, &[Permissions]), roles::get),
        route!(DELETE "/api/roles/{id}", Access::Admin, roles::delete),
        route!(PATCH "/api/roles/{id}", Access::Admin, roles::update),
        // pipeline secrets
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/secrets", perm(Read, NS_P_SECRETS), secrets::list_pipeline),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/secrets", perm(Write, NS_P_SECRETS), secrets::put_pipeline),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/secrets/{key}", perm(Read, NS_P_SECRETS), secrets::get_pipeline),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/secrets/{key}", perm(Delete, NS_P_SECRETS), secrets::delete_pipeline),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/subscriptions", perm(Read, NS_P_SUBS), subscriptions::list),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/subscriptions", perm(Write, NS_P_SUBS), subscriptions::create),
        route!(GET "/api/namespaces/{ns}/pipelines/{p}/subscriptions/{ext}/{sub}", perm(Read, NS_P_SUBS), subscriptions::get),
        route!(DELETE "/api/namespaces/{ns}/pipelines/{p}/subscriptions/{ext}/{sub}", perm(Delete, NS_P_SUBS), subscriptions::delete),
        route!(PATCH "/api/namespaces/{ns}/pipelines/{p}/subscriptions/{ext}/{sub}", perm(Write, NS_P_SUBS), subscriptions::update),
        route!(POST "/api/namespaces/{ns}/pipelines/{p}/subscriptions/{ext}/{sub}/backfill", perm(Write, NS_P_RUNS), subscriptions::backfill),
        // global secrets
        route!(GET "/api/secrets/global", Access::Admin, secrets::list_global),
        route!(POST "/api/secrets/global", Access::Admin, secrets::put_global),
        route!(GET "/api/secrets/global/{key}", Access::Admin, secrets::get_global),
        route!(DELETE "/api/secrets/global/{key}", Access::Admin, secrets::delete_global),
        // system
        route!(GET "/api/system", Access::Admin, system::get),
        route!(PATCH "/api/system", Access::Admin, system::update),
        route!(GET "/api/system/metadata", Access::Public, system::metadata),
        route!(GET "/api/system/backup", Access::Admin, system::backup),
        // tokens (whoami and bootstrap before `{id}`: the first matching row wins)
        route!(GET "/api/tokens", Access::Admin, tokens::list),
        route!(POST "/api/tokens", Access::Admin, tokens::create),
        route!(POST "/api/tokens/bootstrap", Access::Public, tokens::bootstrap),
        route!(GET "/api/tokens/whoami", Access::Authenticated, tokens::whoami),
        route!(GET "/api/tokens/{id}", Access::AdminOrOwnToken, tokens::get),
        route!(DELETE "/api/tokens/{id}", Access::Admin, tokens::delete),
        route!(PATCH "/api/tokens/{id}", Access::Admin, tokens::update),
        // operational
        route!(GET "/api/health", Access::Open, system::health),
        route!(GET "/metrics", Access::Open, system::metrics),
    ]
}
