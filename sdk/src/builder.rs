//! The pipeline builder: write a pipeline as a small Rust program whose `main` ends in
//! [`Pipeline::finish`], which prints the config JSON that `gofer up` registers (docs/pipelines.md#writing-a-pipeline-config,
//! docs/cli.md#pipelines-as-code).
//!
//! The builder validates with [`gofer_core::validate::validate_config`], the very function the
//! server's registration route calls (docs/pipelines.md#writing-a-pipeline-config), so a config that `finish()` accepts is one the
//! server accepts, and a rejected one fails with the message the server would give.
//!
//! ```
//! use gofer_sdk::{Pipeline, Requires, Task};
//!
//! Pipeline::new("hello", "Hello pipeline")
//!     .description("Says hello, then goodbye")
//!     .tasks([
//!         Task::new("hello", "busybox:latest").script("echo hello"),
//!         Task::new("goodbye", "busybox:latest")
//!             .script("echo goodbye")
//!             .depends_on("hello", Requires::Success),
//!     ])
//!     .finish();
//! ```

use gofer_core::api::{PipelineConfigInput, RegistryAuth, RetriesInput, TaskInput};
use gofer_core::enums::NotifyOn;
use gofer_core::validate::{ValidConfig, ValidationError, validate_config};
use std::time::Duration;

/// A pipeline config under construction (docs/pipelines.md#writing-a-pipeline-config).
///
/// ```
/// use gofer_sdk::{Pipeline, Task};
///
/// let pipeline = Pipeline::new("simple", "Simple pipeline")
///     .task(Task::new("greet", "busybox:latest").script("echo hi"));
/// assert_eq!(pipeline.validate().unwrap().tasks.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    config: PipelineConfigInput,
}

impl Pipeline {
    /// A pipeline with an id (3–32 characters of `[a-zA-Z0-9_-]`, docs/pipelines.md#identifiers) and a display name
    /// (1–128 characters). It has no tasks yet.
    ///
    /// ```
    /// let pipeline = gofer_sdk::Pipeline::new("nightly", "Nightly build");
    /// assert_eq!(pipeline.config().id, "nightly");
    /// ```
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Pipeline {
        Pipeline {
            config: PipelineConfigInput {
                id: id.into(),
                name: name.into(),
                ..PipelineConfigInput::default()
            },
        }
    }

    /// A longer description (up to 4096 characters).
    ///
    /// ```
    /// let p = gofer_sdk::Pipeline::new("nightly", "Nightly").description("Builds main every night");
    /// assert_eq!(p.config().description, "Builds main every night");
    /// ```
    pub fn description(mut self, description: impl Into<String>) -> Pipeline {
        self.config.description = description.into();
        self
    }

    /// How many runs of this pipeline may execute at once; 0 (the default) means no limit of
    /// its own (docs/runs.md#queue).
    ///
    /// ```
    /// let p = gofer_sdk::Pipeline::new("deploy", "Deploy").parallelism(1);
    /// assert_eq!(p.config().parallelism, 1);
    /// ```
    pub fn parallelism(mut self, runs: u64) -> Pipeline {
        self.config.parallelism = runs;
        self
    }

    /// What a start does while another run of the pipeline is pending or running: `allow`
    /// (the default), `skip`, `queue` or `cancel_previous` (docs/runs.md#overlapping-runs).
    ///
    /// ```
    /// use gofer_sdk::{OverlapPolicy, Pipeline};
    /// let p = Pipeline::new("nightly", "Nightly").overlap(OverlapPolicy::Skip);
    /// assert_eq!(p.config().overlap.as_deref(), Some("skip"));
    /// ```
    pub fn overlap(mut self, policy: gofer_core::enums::OverlapPolicy) -> Pipeline {
        self.config.overlap = Some(policy.as_str().to_string());
        self
    }

    /// Posts a JSON notification to `target` — a webhook URL or a secret reference such as
    /// `pipeline_secret("hook")` — when any of `on` happens (docs/notifications.md).
    ///
    /// ```
    /// use gofer_sdk::{NotifyOn, Pipeline, pipeline_secret};
    /// let p = Pipeline::new("nightly", "Nightly")
    ///     .notify(&[NotifyOn::Failure, NotifyOn::Recovery], pipeline_secret("hook"));
    /// assert_eq!(p.config().notifications[0].on, ["failure", "recovery"]);
    /// ```
    pub fn notify(self, on: &[NotifyOn], target: impl Into<String>) -> Pipeline {
        self.notification(on, target, None, None)
    }

    /// [`Pipeline::notify`] with a Slack-compatible body (`{"text": …}`) for Slack's incoming
    /// webhooks and the chat tools that read the same format.
    pub fn notify_slack(self, on: &[NotifyOn], target: impl Into<String>) -> Pipeline {
        self.notification(on, target, Some("slack"), None)
    }

    /// Tells `target` once when a run has been running longer than `after` (whole seconds).
    pub fn notify_long_running(self, after: Duration, target: impl Into<String>) -> Pipeline {
        self.notification(
            &[NotifyOn::LongRunning],
            target,
            None,
            Some(after.as_secs()),
        )
    }

    fn notification(
        mut self,
        on: &[NotifyOn],
        target: impl Into<String>,
        format: Option<&str>,
        long_running_after: Option<u64>,
    ) -> Pipeline {
        self.config
            .notifications
            .push(gofer_core::api::NotificationInput {
                on: on.iter().map(|o| o.as_str().to_string()).collect(),
                target: target.into(),
                format: format.map(str::to_string),
                long_running_after,
            });
        self
    }

    /// The longest a whole run may take, in whole seconds; zero (the default) means no limit
    /// (docs/runs.md#timeouts). Sub-second parts are dropped.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = gofer_sdk::Pipeline::new("deploy", "Deploy").timeout(Duration::from_secs(3600));
    /// assert_eq!(p.config().timeout, 3600);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Pipeline {
        self.config.timeout = timeout.as_secs();
        self
    }

    /// Adds one task.
    ///
    /// ```
    /// use gofer_sdk::{Pipeline, Task};
    /// let p = Pipeline::new("simple", "Simple").task(Task::new("a", "busybox:latest"));
    /// assert_eq!(p.config().tasks[0].id, "a");
    /// ```
    pub fn task(mut self, task: Task) -> Pipeline {
        self.config.tasks.push(task.input);
        self
    }

    /// Adds several tasks, in order.
    ///
    /// ```
    /// use gofer_sdk::{Pipeline, Task};
    /// let p = Pipeline::new("simple", "Simple")
    ///     .tasks([Task::new("a", "busybox:latest"), Task::new("b", "busybox:latest")]);
    /// assert_eq!(p.config().tasks.len(), 2);
    /// ```
    pub fn tasks(mut self, tasks: impl IntoIterator<Item = Task>) -> Pipeline {
        self.config.tasks.extend(tasks.into_iter().map(|t| t.input));
        self
    }

    /// The config as it will be sent (`PipelineConfigInput`, the body of docs/pipelines.md#writing-a-pipeline-config).
    ///
    /// ```
    /// let p = gofer_sdk::Pipeline::new("simple", "Simple");
    /// assert_eq!(p.config().name, "Simple");
    /// ```
    pub fn config(&self) -> &PipelineConfigInput {
        &self.config
    }

    /// Checks the config with the server's own rules (docs/pipelines.md#writing-a-pipeline-config) and returns it normalised, or
    /// the first problem, worded exactly as the server would word it.
    ///
    /// ```
    /// use gofer_sdk::{Pipeline, Requires, Task};
    /// let err = Pipeline::new("simple", "Simple")
    ///     .task(Task::new("b", "busybox:latest").depends_on("a", Requires::Success))
    ///     .validate()
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "task 'b': depends_on references unknown task 'a'");
    /// ```
    pub fn validate(&self) -> Result<ValidConfig, ValidationError> {
        validate_config(&self.config.id, &self.config)
    }

    /// The config as pretty JSON (the bare config, `{id, name, …}`), after validation.
    ///
    /// ```
    /// use gofer_sdk::{Pipeline, Task};
    /// let json = Pipeline::new("simple", "Simple")
    ///     .task(Task::new("a", "busybox:latest"))
    ///     .to_json()
    ///     .unwrap();
    /// assert!(json.contains(r#""id": "simple""#));
    /// ```
    pub fn to_json(&self) -> Result<String, ValidationError> {
        self.validate()?;
        Ok(serde_json::to_string_pretty(&self.config).expect("config serialises to JSON"))
    }

    /// Ends a pipeline program: prints the config JSON on stdout and returns; or, when the
    /// config is invalid, prints `error: <problem>` on stderr and exits with status 1, so that
    /// `gofer up` reports the problem (docs/cli.md#pipelines-as-code).
    ///
    /// ```
    /// use gofer_sdk::{Pipeline, Task};
    /// fn main() {
    ///     Pipeline::new("simple", "Simple")
    ///         .task(Task::new("greet", "busybox:latest").script("echo hi"))
    ///         .finish();
    /// }
    /// ```
    // A pipeline program's stdout is its output: the config JSON that `gofer up` reads.
    #[allow(clippy::print_stdout)]
    pub fn finish(self) {
        match self.to_json() {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: invalid pipeline '{}': {e}", self.config.id);
                std::process::exit(1);
            }
        }
    }
}

/// The condition a task requires of a parent (docs/runs.md#conditions).
///
/// ```
/// use gofer_sdk::{Requires, Task};
/// let t = Task::new("cleanup", "busybox:latest").depends_on("build", Requires::Any);
/// assert_eq!(t.input().depends_on.0[0].1, "any");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requires {
    /// Run only when the parent ended `successful`.
    Success,
    /// Run only when the parent ended `failed`.
    Failure,
    /// Run whatever the parent's final status.
    Any,
}

impl Requires {
    /// The wire form (`success`, `failure`, `any`).
    ///
    /// ```
    /// assert_eq!(gofer_sdk::Requires::Failure.as_str(), "failure");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Requires::Success => "success",
            Requires::Failure => "failure",
            Requires::Any => "any",
        }
    }
}

/// One task: a container image and what to run in it (docs/pipelines.md#writing-a-pipeline-config).
///
/// ```
/// use gofer_sdk::Task;
/// let t = Task::new("build", "rust:1")
///     .description("Compile")
///     .command(["cargo", "build", "--release"])
///     .variable("CARGO_TERM_COLOR", "never");
/// assert_eq!(t.input().command.as_ref().unwrap()[0], "cargo");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    input: TaskInput,
}

impl Task {
    /// A task with an id (1–64 characters of `[a-zA-Z0-9_-]`) and an image reference. It runs
    /// the image's own entrypoint and command unless told otherwise.
    ///
    /// ```
    /// let t = gofer_sdk::Task::new("lint", "busybox:latest");
    /// assert_eq!(t.input().image, "busybox:latest");
    /// ```
    pub fn new(id: impl Into<String>, image: impl Into<String>) -> Task {
        Task {
            input: TaskInput {
                id: id.into(),
                image: image.into(),
                ..TaskInput::default()
            },
        }
    }

    /// The task as it will be sent.
    ///
    /// ```
    /// let t = gofer_sdk::Task::new("lint", "busybox:latest");
    /// assert_eq!(t.input().id, "lint");
    /// ```
    pub fn input(&self) -> &TaskInput {
        &self.input
    }

    /// A description shown by `gofer pipeline get`.
    ///
    /// ```
    /// let t = gofer_sdk::Task::new("lint", "busybox:latest").description("Static checks");
    /// assert_eq!(t.input().description, "Static checks");
    /// ```
    pub fn description(mut self, description: impl Into<String>) -> Task {
        self.input.description = description.into();
        self
    }

    /// The container command (replaces the image's `CMD`).
    ///
    /// ```
    /// let t = gofer_sdk::Task::new("t", "busybox:latest").command(["echo", "hi"]);
    /// assert_eq!(t.input().command, Some(vec!["echo".to_string(), "hi".to_string()]));
    /// ```
    pub fn command<S: Into<String>>(mut self, words: impl IntoIterator<Item = S>) -> Task {
        self.input.command = Some(words.into_iter().map(Into::into).collect());
        self
    }

    /// The container entrypoint (replaces the image's `ENTRYPOINT`).
    ///
    /// ```
    /// let t = gofer_sdk::Task::new("t", "busybox:latest").entrypoint(["/bin/sh"]);
    /// assert_eq!(t.input().entrypoint, Some(vec!["/bin/sh".to_string()]));
    /// ```
    pub fn entrypoint<S: Into<String>>(mut self, words: impl IntoIterator<Item = S>) -> Task {
        self.input.entrypoint = Some(words.into_iter().map(Into::into).collect());
        self
    }

    /// Runs `script` with `sh -c` (the image must have `/bin/sh` on its `PATH`): shorthand for
    /// `.command(["sh", "-c", script])`.
    ///
    /// ```
    /// let t = gofer_sdk::Task::new("t", "busybox:latest").script("echo $GOFER_RUN_ID");
    /// assert_eq!(t.input().command.as_ref().unwrap()[..2], ["sh".to_string(), "-c".to_string()]);
    /// ```
    pub fn script(self, script: impl Into<String>) -> Task {
        self.command(["sh".to_string(), "-c".to_string(), script.into()])
    }

    /// Sets an environment variable of the container. The value may be a reference made with
    /// [`pipeline_secret`], [`global_secret`], [`pipeline_object`], [`run_object`] or
    /// [`task_result`], resolved when the task starts (docs/runs.md#variables). Setting a key again replaces
    /// its value.
    ///
    /// ```
    /// use gofer_sdk::{Task, pipeline_secret};
    /// let t = Task::new("t", "busybox:latest")
    ///     .variable("MODE", "release")
    ///     .variable("TOKEN", pipeline_secret("deploy_token"));
    /// assert_eq!(t.input().variables.0[1].1, "pipeline_secret{{deploy_token}}");
    /// ```
    pub fn variable(mut self, key: impl Into<String>, value: impl Into<String>) -> Task {
        let (key, value) = (key.into(), value.into());
        match self.input.variables.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.input.variables.0.push((key, value)),
        }
        self
    }

    /// Sets several variables (see [`Task::variable`]).
    ///
    /// ```
    /// let t = gofer_sdk::Task::new("t", "busybox:latest").variables([("A", "1"), ("B", "2")]);
    /// assert_eq!(t.input().variables.0.len(), 2);
    /// ```
    pub fn variables<K: Into<String>, V: Into<String>>(
        self,
        variables: impl IntoIterator<Item = (K, V)>,
    ) -> Task {
        variables
            .into_iter()
            .fold(self, |task, (k, v)| task.variable(k, v))
    }

    /// Runs this task only after `parent` ended with the status `requires` asks for (docs/runs.md#conditions).
    ///
    /// ```
    /// use gofer_sdk::{Requires, Task};
    /// let t = Task::new("deploy", "busybox:latest").depends_on("test", Requires::Success);
    /// assert_eq!(t.input().depends_on.0[0], ("test".to_string(), "success".to_string()));
    /// ```
    pub fn depends_on(mut self, parent: impl Into<String>, requires: Requires) -> Task {
        let parent = parent.into();
        let condition = requires.as_str().to_string();
        match self
            .input
            .depends_on
            .0
            .iter_mut()
            .find(|(k, _)| *k == parent)
        {
            Some(entry) => entry.1 = condition,
            None => self.input.depends_on.0.push((parent, condition)),
        }
        self
    }

    /// Gives the container `GOFER_API_TOKEN`, a token scoped to this run, so it can call the
    /// API (for example `gofer task result set -`; docs/auth.md#run-tokens).
    ///
    /// ```
    /// let t = gofer_sdk::Task::new("t", "busybox:latest").inject_api_token(true);
    /// assert!(t.input().inject_api_token);
    /// ```
    pub fn inject_api_token(mut self, inject: bool) -> Task {
        self.input.inject_api_token = inject;
        self
    }

    /// Pulls the image before every attempt, even when it is present locally.
    ///
    /// ```
    /// let t = gofer_sdk::Task::new("t", "busybox:latest").always_pull_newest_image(true);
    /// assert!(t.input().always_pull_newest_image);
    /// ```
    pub fn always_pull_newest_image(mut self, always: bool) -> Task {
        self.input.always_pull_newest_image = always;
        self
    }

    /// Credentials for a private registry. Pass the password as a [`pipeline_secret`] or
    /// [`global_secret`] reference so that it is never stored in the config.
    ///
    /// ```
    /// use gofer_sdk::{Task, pipeline_secret};
    /// let t = Task::new("t", "registry.example.com/tool:1")
    ///     .registry_auth("ci", pipeline_secret("registry_pass"));
    /// assert_eq!(t.input().registry_auth.as_ref().unwrap().user, "ci");
    /// ```
    pub fn registry_auth(mut self, user: impl Into<String>, pass: impl Into<String>) -> Task {
        self.input.registry_auth = Some(RegistryAuth {
            user: user.into(),
            pass: pass.into(),
        });
        self
    }

    /// The longest one attempt may run, in whole seconds; zero (the default) means no limit
    /// (docs/runs.md#timeouts).
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = gofer_sdk::Task::new("t", "busybox:latest").timeout(Duration::from_secs(600));
    /// assert_eq!(t.input().timeout, 600);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Task {
        self.input.timeout = timeout.as_secs();
        self
    }

    /// Retries a failed attempt up to `count` more times (at most 10), waiting `backoff`
    /// (whole seconds) between attempts (docs/runs.md#retries).
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = gofer_sdk::Task::new("t", "busybox:latest").retries(2, Duration::from_secs(5));
    /// assert_eq!(t.input().retries.unwrap().count, 2);
    /// ```
    pub fn retries(mut self, count: u64, backoff: Duration) -> Task {
        self.input.retries = Some(RetriesInput {
            count,
            backoff: Some(backoff.as_secs()),
        });
        self
    }

    /// Limits the task to `cores` CPU cores, fractions allowed (docs/pipelines.md#task-resources).
    ///
    /// ```
    /// let t = gofer_sdk::Task::new("t", "busybox:latest").cpus(0.5);
    /// assert_eq!(t.input().resources.as_ref().unwrap().cpus, Some(serde_json::json!(0.5)));
    /// ```
    pub fn cpus(mut self, cores: f64) -> Task {
        self.input
            .resources
            .get_or_insert_with(Default::default)
            .cpus = Some(serde_json::json!(cores));
        self
    }

    /// Limits the task's memory: bytes written as `"512Mi"`, `"2Gi"` or a plain number. A task
    /// that goes over is stopped and ends `out_of_memory` (docs/pipelines.md#task-resources).
    ///
    /// ```
    /// let t = gofer_sdk::Task::new("t", "busybox:latest").memory("512Mi");
    /// assert_eq!(t.input().resources.as_ref().unwrap().memory, Some(serde_json::json!("512Mi")));
    /// ```
    pub fn memory(mut self, amount: impl Into<String>) -> Task {
        self.input
            .resources
            .get_or_insert_with(Default::default)
            .memory = Some(serde_json::Value::String(amount.into()));
        self
    }
}

/// `pipeline_secret{{key}}`: the value of the pipeline's secret `key` (docs/runs.md#variables).
///
/// ```
/// assert_eq!(gofer_sdk::pipeline_secret("token"), "pipeline_secret{{token}}");
/// ```
pub fn pipeline_secret(key: &str) -> String {
    format!("pipeline_secret{{{{{key}}}}}")
}

/// `global_secret{{key}}`: a global secret the pipeline's namespace may read (docs/runs.md#variables).
///
/// ```
/// assert_eq!(gofer_sdk::global_secret("npm"), "global_secret{{npm}}");
/// ```
pub fn global_secret(key: &str) -> String {
    format!("global_secret{{{{{key}}}}}")
}

/// `pipeline_object{{key}}`: the pipeline object `key`, as UTF-8 text (docs/runs.md#variables).
///
/// ```
/// assert_eq!(gofer_sdk::pipeline_object("cfg"), "pipeline_object{{cfg}}");
/// ```
pub fn pipeline_object(key: &str) -> String {
    format!("pipeline_object{{{{{key}}}}}")
}

/// `run_object{{key}}`: the object `key` of the current run, for example one a parent task
/// wrote (docs/runs.md#variables).
///
/// ```
/// assert_eq!(gofer_sdk::run_object("artifact"), "run_object{{artifact}}");
/// ```
pub fn run_object(key: &str) -> String {
    format!("run_object{{{{{key}}}}}")
}

/// `task_result{{task}}`: the JSON result task `task` of the current run recorded; `task` must
/// be an ancestor of the task using it (docs/runs.md#results-and-payload, docs/runs.md#variables).
///
/// ```
/// assert_eq!(gofer_sdk::task_result("build"), "task_result{{build}}");
/// ```
pub fn task_result(task: &str) -> String {
    format!("task_result{{{{{task}}}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_produce_references_the_core_parser_reads() {
        use gofer_core::validate::{RefKind, parse_reference};
        for (value, kind) in [
            (pipeline_secret("k"), RefKind::PipelineSecret),
            (global_secret("k"), RefKind::GlobalSecret),
            (pipeline_object("k"), RefKind::PipelineObject),
            (run_object("k"), RefKind::RunObject),
            (task_result("k"), RefKind::TaskResult),
        ] {
            let r = parse_reference(&value).unwrap();
            assert_eq!((r.kind, r.key.as_str()), (kind, "k"), "{value}");
        }
    }

    #[test]
    fn json_is_what_the_server_parses_back() {
        let p = Pipeline::new("simple", "Simple")
            .timeout(Duration::from_secs(60))
            .tasks([
                Task::new("a", "busybox:latest")
                    .script("echo a")
                    .retries(1, Duration::from_secs(2)),
                Task::new("b", "busybox:latest")
                    .depends_on("a", Requires::Failure)
                    .variable("R", task_result("a"))
                    .variable("R", task_result("a")),
            ]);
        let json = p.to_json().unwrap();
        let back: PipelineConfigInput = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, p.config());
        assert_eq!(
            back.tasks[1].variables.0.len(),
            1,
            "a repeated key replaces"
        );
    }

    #[test]
    fn invalid_configs_are_refused_with_the_validator_message() {
        let err = Pipeline::new("x", "X")
            .task(Task::new("a", "i"))
            .to_json()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config.id: must be 3-32 characters of [a-zA-Z0-9_-]"
        );
    }
}
