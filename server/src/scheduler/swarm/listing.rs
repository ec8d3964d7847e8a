//! Listing, removing and pruning Gofer's services.

use super::*;

impl SwarmScheduler {
    pub(super) async fn list_impl(
        &self,
        label_filter: &Labels,
    ) -> SchedulerResult<Vec<ListedContainer>> {
        let mut listed: Vec<ListedContainer> = self
            .services(label_filter)
            .await?
            .into_iter()
            .map(|(_, listed)| listed)
            .collect();
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listed)
    }

    /// The services carrying `label_filter`: service name and listing (named per docs/schedulers.md#what-every-scheduler-does).
    pub(super) async fn services(
        &self,
        label_filter: &Labels,
    ) -> SchedulerResult<Vec<(String, ListedContainer)>> {
        let labels: Vec<String> = label_filter
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut builder = ListServicesOptionsBuilder::new();
        if !labels.is_empty() {
            builder = builder.filters(&HashMap::from([("label", labels)]));
        }
        let services = self
            .docker
            .client()
            .list_services(Some(builder.build()))
            .await
            .map_err(|e| self.err("list services", "labelled", &e))?;
        let mut listed = Vec::with_capacity(services.len());
        for service in services {
            let Some(spec) = service.spec else { continue };
            let Some(svc) = spec.name else { continue };
            let state = self.state_impl(&svc).await?;
            let labels: Labels = spec.labels.unwrap_or_default().into_iter().collect();
            let name = labels
                .get(LABEL_NAME)
                .cloned()
                .unwrap_or_else(|| svc.clone());
            listed.push((
                svc,
                ListedContainer {
                    name,
                    state,
                    labels,
                },
            ));
        }
        Ok(listed)
    }

    pub(super) async fn remove_impl(&self, name: &str) -> SchedulerResult<()> {
        match self.state_impl(name).await? {
            ContainerState::NotFound => Ok(()),
            state if state.is_finished() => self.delete(name).await,
            state => Err(SchedulerError::Engine {
                op: "remove service",
                name: name.to_owned(),
                message: format!("its task is still {state}; stop it first"),
            }),
        }
    }

    pub(super) async fn prune_impl(
        &self,
        instance_id: &str,
        is_complete: &(dyn Fn(&Labels) -> bool + Sync),
    ) -> SchedulerResult<Vec<String>> {
        let filter = Labels::from([
            (
                crate::scheduler::LABEL_MANAGED.to_owned(),
                "true".to_owned(),
            ),
            (LABEL_INSTANCE.to_owned(), instance_id.to_owned()),
        ]);
        let mut removed = Vec::new();
        for (svc, service) in self.services(&filter).await? {
            if matches!(
                service.state,
                ContainerState::Exited { .. }
                    | ContainerState::OutOfMemory { .. }
                    | ContainerState::Dead { .. }
            ) && is_complete(&service.labels)
            {
                self.delete(&svc).await?;
                removed.push(service.name);
            }
        }
        Ok(removed)
    }
}
