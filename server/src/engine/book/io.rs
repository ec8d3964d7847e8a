//! The core's vocabulary: what the dispatcher tells it ([`Input`], with what executors observed
//! and what preparing an attempt gave) and what it answers ([`Step`]).

use crate::scheduler::ContainerState;
use crate::store::RunChanges;
use gofer_core::api::RunCancellation;

/// Why the engine asks an attempt to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// Run or task cancellation.
    Cancel,
    /// The run deadline passed (docs/runs.md#timeouts): failed/timeout, never retried.
    Deadline,
}

/// A stop request: kind and grace seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    pub kind: StopKind,
    pub grace_secs: u64,
}

/// How an attempt ended (what its executor observed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The container could not be started (pull or start failure).
    StartFailed(String),
    /// The container ended by itself.
    Finished(ContainerState),
    /// The task timeout expired and the container was stopped.
    TimedOut {
        timeout_secs: u64,
        state: ContainerState,
    },
    /// The engine asked it to stop.
    Stopped {
        kind: StopKind,
        state: ContainerState,
    },
}

/// How preparing an attempt went (substitution, then the task log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// Ready to launch; the attempt's output starts at this offset of the task log.
    Ready { log_offset: u64 },
    /// A reference cannot be resolved: the task fails with `failed_precondition` (the message
    /// names the variable and the reference, never a value).
    Unresolvable(String),
    /// The task log could not be created: the task waits and is tried again a second later.
    NotNow,
}

/// What the dispatcher tells the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Look again: the deadline, readiness and skips, and whether the run is done.
    Evaluate,
    /// The results of a [`Step::Prepare`].
    Prepared(Vec<(String, Prepared)>),
    AttemptStarted {
        task: String,
        attempt: u64,
        at: u64,
    },
    AttemptEnded {
        task: String,
        attempt: u64,
        outcome: Outcome,
    },
    CancelRun {
        by_admin: bool,
        request: RunCancellation,
    },
    /// The caller checked that the task exists.
    CancelTask {
        task: String,
        grace_secs: u64,
        by_admin: bool,
    },
    /// At boot: the container state of each attempt [`RunBook::unfinished_attempts`] named
    /// (`None` when the scheduler has no such container).
    Recovered(Vec<(String, Option<ContainerState>)>),
}

/// What the dispatcher does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write these rows and events atomically, then call [`RunBook::record`]; if it fails, drop
    /// the steps after it.
    Commit(RunChanges),
    /// Resolve these tasks' references and create their logs, and answer with
    /// [`Input::Prepared`].
    Prepare(Vec<String>),
    /// Start an executor for a recorded attempt, then call [`RunBook::launched`].
    Launch {
        task: String,
        attempt: u64,
        /// A container found at boot: reattach to it instead of creating one.
        recovered: Option<Recovered>,
    },
    /// Ask the task's executor to stop its container.
    Stop { task: String, stop: Stop },
    /// The run is complete (its final row is in the commit before): forget it.
    Finished,
}

/// A container found at boot for an attempt that was recorded but not finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovered {
    /// Created but never started: start it.
    Created,
    /// Running or exited: follow it; the attempt started at this time.
    Started(u64),
}
