//! Deleting a namespace or a pipeline with everything that goes with it: the store removes the
//! rows (runs, executions, configs, secrets, subscriptions, object index) in one transaction;
//! then the object files go, and running extensions are told about the subscriptions that went.

use super::ServiceResult;
use crate::extensions::Extensions;
use crate::store::{StoreHandle, SubscriptionKey};
use gofer_core::api::{Page, Subscription};
use std::path::Path;

/// Deletes namespace `namespace` and its pipelines.
pub async fn namespace(
    store: &StoreHandle,
    extensions: &Extensions,
    data_dir: &Path,
    namespace: &str,
) -> ServiceResult<()> {
    let ns = namespace.to_owned();
    let subscriptions = store
        .read(move |s| {
            let mut all = Vec::new();
            for p in s.list_pipelines(&ns, Page::ALL)? {
                all.extend(s.list_subscriptions(&ns, &p.pipeline_id, Page::ALL)?);
            }
            Ok(all)
        })
        .await
        .unwrap_or_default();
    let ns = namespace.to_owned();
    store.write(move |s| s.delete_namespace(&ns)).await?;
    let objects = gofer_core::paths::objects(data_dir);
    remove_files(
        extensions,
        &[
            objects.join("pipelines").join(namespace),
            objects.join("runs").join(namespace),
        ],
        &subscriptions,
    )
    .await;
    Ok(())
}

/// Deletes pipeline `pipeline` of `namespace`.
pub async fn pipeline(
    store: &StoreHandle,
    extensions: &Extensions,
    data_dir: &Path,
    namespace: &str,
    pipeline: &str,
) -> ServiceResult<()> {
    let (ns, p) = (namespace.to_owned(), pipeline.to_owned());
    let subscriptions = store
        .read(move |s| s.list_subscriptions(&ns, &p, Page::ALL))
        .await
        .unwrap_or_default();
    let (ns, p) = (namespace.to_owned(), pipeline.to_owned());
    store.write(move |s| s.delete_pipeline(&ns, &p)).await?;
    remove_files(
        extensions,
        &[
            gofer_core::paths::pipeline_objects(data_dir, namespace, pipeline),
            gofer_core::paths::pipeline_run_objects(data_dir, namespace, pipeline),
        ],
        &subscriptions,
    )
    .await;
    Ok(())
}

/// After the rows are gone: the object directories, then the extensions of the subscriptions
/// that went with them (a stopped extension simply never hears of them again).
async fn remove_files(
    extensions: &Extensions,
    directories: &[std::path::PathBuf],
    subscriptions: &[Subscription],
) {
    for dir in directories {
        crate::objects::remove_dir(dir).await;
    }
    for sub in subscriptions {
        extensions.unsubscribe(&SubscriptionKey::of(sub)).await;
    }
}
