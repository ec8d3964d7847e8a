//! A service's output: its logs (read or followed) and attach (only for a task on the manager node).

use super::*;

impl SwarmScheduler {
    pub(super) fn read_logs(
        &self,
        name: &str,
        follow: bool,
        tail: Option<u64>,
    ) -> BoxStream<'static, SchedulerResult<Bytes>> {
        let stream = self
            .docker
            .client()
            .service_logs(name, Some(log_options(follow, tail)));
        self.docker
            .output_stream(name, "read logs of service", stream)
    }

    /// A followed log that ends when the task has finished: the live stream until then, then
    /// whatever the complete log holds beyond the bytes already delivered.
    pub(super) fn followed_logs(&self, name: &str) -> BoxStream<'static, SchedulerResult<Bytes>> {
        enum Phase {
            Live {
                live: BoxStream<'static, SchedulerResult<Bytes>>,
                done: BoxFuture<'static, ()>,
                sent: usize,
            },
            Rest {
                rest: BoxStream<'static, SchedulerResult<Bytes>>,
                skip: usize,
            },
            End,
        }
        let this = self.clone();
        let owned = name.to_owned();
        let done = {
            let this = this.clone();
            let owned = owned.clone();
            async move {
                let _ = this.wait_impl(&owned).await;
            }
            .boxed()
        };
        let start = Phase::Live {
            live: self.read_logs(name, true, None),
            done,
            sent: 0,
        };
        futures_util::stream::unfold(start, move |mut phase| {
            let this = this.clone();
            let owned = owned.clone();
            async move {
                loop {
                    phase = match phase {
                        Phase::Live {
                            mut live,
                            mut done,
                            sent,
                        } => {
                            tokio::select! {
                                biased;
                                item = live.next() => match item {
                                    Some(Ok(bytes)) => {
                                        let sent = sent + bytes.len();
                                        return Some((Ok(bytes), Phase::Live { live, done, sent }));
                                    }
                                    Some(Err(e)) => return Some((Err(e), Phase::End)),
                                    None => Phase::Rest { rest: this.read_logs(&owned, false, None), skip: sent },
                                },
                                () = &mut done => Phase::Rest { rest: this.read_logs(&owned, false, None), skip: sent },
                            }
                        }
                        Phase::Rest { mut rest, skip } => match rest.next().await {
                            Some(Ok(bytes)) if bytes.len() <= skip => Phase::Rest {
                                rest,
                                skip: skip - bytes.len(),
                            },
                            Some(Ok(bytes)) => {
                                let tail = bytes.slice(skip..);
                                return Some((Ok(tail), Phase::Rest { rest, skip: 0 }));
                            }
                            // The service is gone (removed by a stop): nothing more to read.
                            Some(Err(SchedulerError::NotFound { .. })) | None => return None,
                            Some(Err(e)) => return Some((Err(e), Phase::End)),
                        },
                        Phase::End => return None,
                    };
                }
            }
        })
        .boxed()
    }

    pub(super) async fn attach_impl(
        &self,
        name: &str,
        command: Vec<String>,
    ) -> SchedulerResult<AttachSession> {
        let task = self.task(name).await?.ok_or_else(|| {
            SchedulerError::Unsupported(format!(
                "attach to service '{name}': its task has not been scheduled yet"
            ))
        })?;
        let node = task.node_id.clone().unwrap_or_default();
        if node != self.node_id {
            return Err(SchedulerError::Unsupported(format!(
                "attach to service '{name}': its task runs on swarm node {node}, and attach works \
                 only for tasks on the manager node the server talks to ({})",
                self.node_id
            )));
        }
        let container = task
            .status
            .and_then(|s| s.container_status)
            .and_then(|c| c.container_id)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| SchedulerError::NotFound {
                op: "attach to",
                name: name.to_owned(),
            })?;
        self.docker.attach_impl(&container, command).await
    }
}
