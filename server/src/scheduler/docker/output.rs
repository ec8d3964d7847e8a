//! A container's output: its log (followed or not, or the last lines) and the interactive shell of `attach`.

use super::*;

impl DockerScheduler {
    pub(super) fn logs_impl(
        &self,
        name: &str,
        follow: bool,
        tail: Option<u64>,
    ) -> BoxStream<'static, SchedulerResult<Bytes>> {
        let stream = self.docker.logs(name, Some(log_options(follow, tail)));
        self.output_stream(name, "read logs of container", stream)
    }

    /// Whether the engine can replay the container's log: every driver but `none` (Docker keeps
    /// a readable copy for the others). A container that cannot be inspected counts as readable,
    /// so the log read reports the real error.
    pub(super) async fn log_readable(&self, name: &str) -> bool {
        match self.docker.inspect_container(name, None).await {
            Ok(info) => info
                .host_config
                .and_then(|h| h.log_config)
                .and_then(|c| c.typ)
                .is_none_or(|driver| driver != "none"),
            Err(_) => true,
        }
    }

    /// The container's output from now on, by attaching to it.
    pub(super) async fn attach_output(
        &self,
        name: &str,
    ) -> BoxStream<'static, SchedulerResult<Bytes>> {
        match self
            .docker
            .attach_container(name, Some(output_attach_options()))
            .await
        {
            Ok(attached) => self.output_stream(name, "read output of container", attached.output),
            Err(e) => {
                let error = if status_of(&e) == Some(404) {
                    SchedulerError::NotFound {
                        op: "read output of",
                        name: name.to_owned(),
                    }
                } else {
                    self.engine_err("read output of container", name, &e)
                };
                futures_util::stream::once(async move { Err(error) }).boxed()
            }
        }
    }

    /// Raw bytes of an engine output stream (logs, service logs, attach); a 404 becomes
    /// [`SchedulerError::NotFound`], other failures name `op` and `name`.
    pub(in crate::scheduler) fn output_stream(
        &self,
        name: &str,
        op: &'static str,
        stream: impl futures_util::Stream<Item = Result<bollard::container::LogOutput, BollardError>>
        + Send
        + 'static,
    ) -> BoxStream<'static, SchedulerResult<Bytes>> {
        let this = self.clone();
        let owned = name.to_owned();
        stream
            .map(move |item| match item {
                Ok(output) => Ok(output.into_bytes()),
                Err(e) if status_of(&e) == Some(404) => Err(SchedulerError::NotFound {
                    op: "read logs of",
                    name: owned.clone(),
                }),
                Err(e) => Err(this.engine_err(op, &owned, &e)),
            })
            .boxed()
    }

    pub(in crate::scheduler) async fn attach_impl(
        &self,
        name: &str,
        command: Vec<String>,
    ) -> SchedulerResult<AttachSession> {
        let config = ExecConfig {
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(true),
            cmd: Some(command),
            ..Default::default()
        };
        let exec = match self.docker.create_exec(name, config).await {
            Ok(exec) => exec,
            Err(e) if status_of(&e) == Some(404) => {
                return Err(SchedulerError::NotFound {
                    op: "attach to",
                    name: name.to_owned(),
                });
            }
            Err(e) => return Err(self.engine_err("attach to container", name, &e)),
        };
        let options = StartExecOptions {
            detach: false,
            tty: true,
            output_capacity: None,
        };
        let started = self
            .docker
            .start_exec(&exec.id, Some(options))
            .await
            .map_err(|e| self.engine_err("attach to container", name, &e))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(SchedulerError::Engine {
                op: "attach to container",
                name: name.to_owned(),
                message: "the engine started the command detached".to_owned(),
            });
        };
        let this = self.clone();
        let owned = name.to_owned();
        let output = output
            .map(move |item| {
                item.map(|o| o.into_bytes())
                    .map_err(|e| this.engine_err("read terminal of container", &owned, &e))
            })
            .boxed();
        let this = self.clone();
        let owned = name.to_owned();
        let exit_code = async move {
            // The exec API has no wait; once the output has ended the command has exited, so
            // this normally answers on the first inspection.
            loop {
                let info = this
                    .docker
                    .inspect_exec(&exec.id)
                    .await
                    .map_err(|e| this.engine_err("inspect command in container", &owned, &e))?;
                if info.running != Some(true) {
                    return Ok(info.exit_code.unwrap_or(-1));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        .boxed();
        Ok(AttachSession {
            stdin: input,
            output,
            exit_code,
        })
    }
}

/// Attaching to a container's stdout and stderr from now on (no replay of its log): before a
/// start, so nothing is missed, or to a running container without an engine log.
pub(super) fn output_attach_options() -> bollard::query_parameters::AttachContainerOptions {
    AttachContainerOptionsBuilder::new()
        .stream(true)
        .stdout(true)
        .stderr(true)
        .logs(false)
        .build()
}
