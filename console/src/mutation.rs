//! Changes the console can make (start, cancel, deploy, …): the question it asks first and the
//! CLI command that does the same.

/// A mutating action (hidden and refused in read-only mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    CancelRun {
        pipeline: String,
        run_id: u64,
    },
    CancelTask {
        pipeline: String,
        run_id: u64,
        task: String,
    },
    StartRun {
        pipeline: String,
        variables: Vec<(String, String)>,
    },
    /// A new run of a finished one, reusing the tasks that succeeded.
    RetryRun {
        pipeline: String,
        run_id: u64,
    },
    SetPipelineState {
        pipeline: String,
        enable: bool,
    },
    Deploy {
        pipeline: String,
        version: u64,
    },
    SetExtensionState {
        id: String,
        enable: bool,
    },
    /// A subscription of any namespace (the extension view lists them all).
    SetSubscriptionState {
        namespace: String,
        pipeline: String,
        extension: String,
        subscription: String,
        enable: bool,
    },
    /// Make a running deployment's version live now.
    Promote {
        pipeline: String,
        deployment: u64,
        version: u64,
    },
    /// End a running deployment; the live version stays.
    Abort {
        pipeline: String,
        deployment: u64,
        version: u64,
    },
}

impl Mutation {
    /// The question asked before it runs.
    pub fn question(&self) -> String {
        match self {
            Mutation::CancelRun { pipeline, run_id } => {
                format!("cancel run {run_id} of pipeline '{pipeline}'? (y/n)")
            }
            Mutation::CancelTask {
                pipeline,
                run_id,
                task,
            } => {
                format!("cancel task '{task}' of run {run_id} of '{pipeline}'? (y/n)")
            }
            Mutation::StartRun { pipeline, .. } => format!("start a run of '{pipeline}'? (y/n)"),
            Mutation::RetryRun { pipeline, run_id } => format!(
                "retry run {run_id} of '{pipeline}', reusing the tasks that succeeded? (y/n)"
            ),
            Mutation::SetPipelineState { pipeline, enable } => format!(
                "{} pipeline '{pipeline}'? (y/n)",
                if *enable { "enable" } else { "disable" }
            ),
            Mutation::Deploy { pipeline, version } => {
                format!("deploy version {version} of '{pipeline}'? (y/n)")
            }
            Mutation::SetExtensionState { id, enable } => format!(
                "{} extension '{id}'? (y/n)",
                if *enable { "enable" } else { "disable" }
            ),
            Mutation::SetSubscriptionState {
                pipeline,
                extension,
                subscription,
                enable,
                ..
            } => format!(
                "{} subscription '{subscription}' of '{pipeline}' to '{extension}'? (y/n)",
                if *enable { "enable" } else { "disable" }
            ),
            Mutation::Promote {
                pipeline,
                deployment,
                version,
            } => format!(
                "promote deployment {deployment} of '{pipeline}': make version {version} live now? (y/n)"
            ),
            Mutation::Abort {
                pipeline,
                deployment,
                version,
            } => format!(
                "abort deployment {deployment} of '{pipeline}': stop sending runs to version {version}? (y/n)"
            ),
        }
    }

    /// The equivalent `gofer …` command, shown after the action.
    pub fn cli(&self, namespace: &str) -> String {
        let ns = if namespace == "default" {
            String::new()
        } else {
            format!(" --namespace {namespace}")
        };
        match self {
            Mutation::CancelRun { pipeline, run_id } => {
                format!("gofer{ns} run cancel {pipeline} {run_id}")
            }
            Mutation::CancelTask {
                pipeline,
                run_id,
                task,
            } => {
                format!("gofer{ns} task cancel {pipeline} {run_id} {task}")
            }
            Mutation::StartRun {
                pipeline,
                variables,
            } => {
                let mut cli = format!("gofer{ns} run start {pipeline}");
                for (k, v) in variables {
                    cli.push_str(&format!(" -v {}", shell_word(&format!("{k}={v}"))));
                }
                cli
            }
            Mutation::RetryRun { pipeline, run_id } => {
                format!("gofer{ns} run retry {pipeline} {run_id} --failed-only")
            }
            Mutation::SetPipelineState { pipeline, enable } => format!(
                "gofer{ns} pipeline {} {pipeline}",
                if *enable { "enable" } else { "disable" }
            ),
            Mutation::Deploy { pipeline, version } => {
                format!("gofer{ns} pipeline config deploy {pipeline} {version}")
            }
            Mutation::SetExtensionState { id, enable } => format!(
                "gofer extension {} {id}",
                if *enable { "enable" } else { "disable" }
            ),
            Mutation::SetSubscriptionState {
                namespace,
                pipeline,
                extension,
                subscription,
                enable,
            } => {
                let ns = if namespace == "default" {
                    String::new()
                } else {
                    format!(" --namespace {namespace}")
                };
                format!(
                    "gofer{ns} pipeline subscription {} {pipeline} {extension} {subscription}",
                    if *enable { "enable" } else { "disable" }
                )
            }
            Mutation::Promote {
                pipeline,
                deployment,
                ..
            } => format!("gofer{ns} pipeline deployment promote {pipeline} {deployment}"),
            Mutation::Abort {
                pipeline,
                deployment,
                ..
            } => format!("gofer{ns} pipeline deployment abort {pipeline} {deployment}"),
        }
    }

    /// What the read-only refusal names.
    pub(crate) fn verb(&self) -> &'static str {
        match self {
            Mutation::CancelRun { .. } | Mutation::CancelTask { .. } => "cancelling",
            Mutation::StartRun { .. } | Mutation::RetryRun { .. } => "starting runs",
            Mutation::SetPipelineState { .. } => "enabling and disabling pipelines",
            Mutation::SetExtensionState { .. } => "enabling and disabling extensions",
            Mutation::SetSubscriptionState { .. } => "enabling and disabling subscriptions",
            Mutation::Deploy { .. } | Mutation::Promote { .. } | Mutation::Abort { .. } => {
                "deploying"
            }
        }
    }
}

pub(crate) fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,@".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
