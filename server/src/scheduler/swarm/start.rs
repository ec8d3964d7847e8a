//! Starting an attempt as a one-shot service: its spec (environment, command, labels, grace, network, placement) and the create call.

use super::*;

impl SwarmScheduler {
    pub(super) fn spec(&self, request: &StartRequest) -> ServiceSpec {
        let mut labels: HashMap<String, String> = request.labels.clone().into_iter().collect();
        labels.insert(LABEL_NAME.to_owned(), request.name.clone());
        let mut constraints = self.constraints.clone();
        if request.image.starts_with(LOCAL_IMAGE_PREFIX) {
            constraints.push(format!("node.id=={}", self.node_id));
        }
        let networks = (!self.network.is_empty()).then(|| {
            vec![NetworkAttachmentConfig {
                target: Some(self.network.clone()),
                ..Default::default()
            }]
        });
        ServiceSpec {
            name: Some(service_name(&request.name)),
            labels: Some(labels.clone()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(request.image.clone()),
                    labels: Some(labels),
                    // Swarm's `Command` is the entrypoint, `Args` the command.
                    command: request.entrypoint.clone(),
                    args: request.command.clone(),
                    env: Some(
                        request
                            .env
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect(),
                    ),
                    stop_grace_period: Some(nanos(self.stop_grace_secs)),
                    // An init process as PID 1 forwards SIGTERM to the program, so a stop
                    // takes effect at once instead of after the whole grace.
                    init: Some(true),
                    ..Default::default()
                }),
                restart_policy: Some(TaskSpecRestartPolicy {
                    condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
                    ..Default::default()
                }),
                placement: (!constraints.is_empty()).then(|| TaskSpecPlacement {
                    constraints: Some(constraints),
                    ..Default::default()
                }),
                networks,
                resources: resources(&request.resources),
                log_driver: request.log_driver.as_ref().map(|name| TaskSpecLogDriver {
                    name: Some(name.clone()),
                    options: None,
                }),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated_job: Some(ServiceSpecModeReplicatedJob {
                    max_concurrent: Some(1),
                    total_completions: Some(1),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    pub(super) async fn start_impl(&self, request: &StartRequest) -> SchedulerResult<Started> {
        if request.publish_port.is_some() {
            return Err(SchedulerError::Unsupported(format!(
                "start service '{}': publishing a port is for extensions, which always run on \
                 the local engine (docs/extensions.md#launch)",
                request.name
            )));
        }
        let credentials =
            request
                .registry_auth
                .as_ref()
                .map(|(username, password)| DockerCredentials {
                    username: Some(username.clone()),
                    password: Some(password.clone()),
                    serveraddress: registry_of(&request.image).map(str::to_owned),
                    ..Default::default()
                });
        let client = self.docker.client();
        match client.create_service(self.spec(request), credentials).await {
            Ok(created) => Ok(Started {
                id: created.id.unwrap_or_default(),
                address: None,
            }),
            // The name exists: ours (a start repeated after a crash) is adopted, never started a
            // second time; anyone else's is refused (docs/schedulers.md#what-every-scheduler-does).
            Err(e) if status_of(&e) == Some(409) => {
                let service = client
                    .inspect_service(&service_name(&request.name), None)
                    .await
                    .map_err(|e| self.err("inspect service", &request.name, &e))?;
                let labels = service.spec.and_then(|s| s.labels).unwrap_or_default();
                let theirs = labels.get(LABEL_INSTANCE);
                if theirs.is_some() && theirs == request.labels.get(LABEL_INSTANCE) {
                    Ok(Started {
                        id: service.id.unwrap_or_default(),
                        address: None,
                    })
                } else {
                    Err(SchedulerError::NameConflict {
                        name: request.name.clone(),
                        owner: theirs.map_or_else(
                            || "something other than Gofer".to_owned(),
                            |i| format!("Gofer instance {i}"),
                        ),
                    })
                }
            }
            Err(e) => Err(self.err("create service", &request.name, &e)),
        }
    }
}

pub(super) fn nanos(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX)
}

/// A task's limits as the service's: the limit is also reserved, so swarm places the task only
/// where it fits; no swap beyond the memory limit (docs/pipelines.md#task-resources).
fn resources(r: &gofer_core::resources::TaskResources) -> Option<TaskSpecResources> {
    if r.is_empty() {
        return None;
    }
    let nano_cpus = r.cpus.map(|c| c.nano_cpus());
    let memory_bytes = r.memory.map(|m| i64::try_from(m).unwrap_or(i64::MAX));
    Some(TaskSpecResources {
        limits: Some(Limit {
            nano_cpus,
            memory_bytes,
            pids: None,
        }),
        reservations: Some(ResourceObject {
            nano_cpus,
            memory_bytes,
            generic_resources: None,
        }),
        swap_bytes: memory_bytes.map(|_| 0),
        ..Default::default()
    })
}
