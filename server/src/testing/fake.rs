//! [`FakeScheduler`]: a [`Scheduler`] with no container engine behind it, for tests of the run
//! engine that run in milliseconds. The test decides, per start request, how the "container"
//! behaves (exit code, how long it runs, its output, or a failure to start); the fake records
//! every start, stop and the peak number of containers running at once. Containers outlive an
//! engine that stops, as real ones do, so a test can stop the engine and start a new one on
//! the same store and fake to exercise restart recovery.

use crate::scheduler::{
    AttachSession, ContainerState, Labels, ListedContainer, Output, Scheduler, SchedulerError,
    SchedulerResult, StartRequest, Started,
};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How one started container behaves.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The exit code when it ends by itself.
    pub exit_code: i64,
    /// How long it runs before it exits by itself.
    pub runs_for: Duration,
    /// What it writes (all at once, when it starts).
    pub output: String,
    /// `Some(message)`: the start fails (as a failed pull or create would).
    pub start_error: Option<String>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            exit_code: 0,
            runs_for: Duration::from_millis(10),
            output: String::new(),
            start_error: None,
        }
    }
}

type Decide = dyn Fn(&StartRequest) -> Behaviour + Send + Sync;

struct Container {
    labels: Labels,
    state: ContainerState,
    output: String,
    /// `Some(state)` once it has stopped running.
    ended: watch::Sender<Option<ContainerState>>,
}

#[derive(Default)]
struct State {
    containers: BTreeMap<String, Container>,
    /// Every successful start, by container name, in order.
    starts: Vec<String>,
    /// Every stop request: (container name, grace seconds).
    stops: Vec<(String, u64)>,
    running: usize,
    peak_running: usize,
}

/// See the module documentation. Cheap to clone; clones share their containers.
#[derive(Clone)]
pub struct FakeScheduler {
    state: Arc<Mutex<State>>,
    decide: Arc<Decide>,
}

/// The value of `key` in a start request's environment (the last one wins, as in a container).
pub fn env_of<'a>(request: &'a StartRequest, key: &str) -> Option<&'a str> {
    request
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

impl FakeScheduler {
    /// A fake whose containers behave as `decide` says for their start request (its name, labels
    /// and environment — `GOFER_TASK_ID` and `GOFER_TASK_ATTEMPT` among them).
    pub fn new(decide: impl Fn(&StartRequest) -> Behaviour + Send + Sync + 'static) -> Self {
        FakeScheduler {
            state: Arc::new(Mutex::new(State::default())),
            decide: Arc::new(decide),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The names of the containers started, in order (a name twice means a double start).
    pub fn starts(&self) -> Vec<String> {
        self.lock().starts.clone()
    }

    /// The stop requests: container name and grace seconds.
    pub fn stops(&self) -> Vec<(String, u64)> {
        self.lock().stops.clone()
    }

    /// The most containers that were running at the same time.
    pub fn peak_running(&self) -> usize {
        self.lock().peak_running
    }

    /// Ends container `name` with `state` unless it has ended already.
    fn end(&self, name: &str, state: ContainerState) {
        let mut s = self.lock();
        let Some(c) = s.containers.get_mut(name) else {
            return;
        };
        if c.state != ContainerState::Running {
            return;
        }
        c.state = state.clone();
        // `send_replace`: the value must change even when nobody is waiting yet.
        c.ended.send_replace(Some(state));
        s.running = s.running.saturating_sub(1);
    }

    /// Resolves when `name` has stopped running (at once when it is missing or not running).
    async fn ended(&self, name: &str) -> ContainerState {
        let mut rx = {
            let s = self.lock();
            match s.containers.get(name) {
                None => return ContainerState::NotFound,
                Some(c) => c.ended.subscribe(),
            }
        };
        match rx.wait_for(Option::is_some).await {
            Ok(state) => state.clone().unwrap_or(ContainerState::NotFound),
            Err(_) => ContainerState::NotFound,
        }
    }

    fn output_stream(
        &self,
        name: &str,
        follow: bool,
    ) -> BoxStream<'static, SchedulerResult<Bytes>> {
        let text = self
            .lock()
            .containers
            .get(name)
            .map(|c| c.output.clone())
            .unwrap_or_default();
        let first = futures_util::stream::iter((!text.is_empty()).then(|| Ok(Bytes::from(text))));
        if !follow {
            return first.boxed();
        }
        let this = self.clone();
        let name = name.to_owned();
        let rest = futures_util::stream::once(async move {
            this.ended(&name).await;
        })
        .filter_map(|()| async { None });
        first.chain(rest).boxed()
    }
}

impl Scheduler for FakeScheduler {
    fn start<'a>(&'a self, request: &'a StartRequest) -> BoxFuture<'a, SchedulerResult<Started>> {
        Box::pin(async move {
            let behaviour = (self.decide)(request);
            if let Some(message) = behaviour.start_error {
                return Err(SchedulerError::Engine {
                    op: "start",
                    name: request.name.clone(),
                    message,
                });
            }
            {
                let mut s = self.lock();
                if s.containers.contains_key(&request.name) {
                    return Err(SchedulerError::Engine {
                        op: "start",
                        name: request.name.clone(),
                        message: "a container with this name exists".to_owned(),
                    });
                }
                let (ended, _) = watch::channel(None);
                s.containers.insert(
                    request.name.clone(),
                    Container {
                        labels: request.labels.clone(),
                        state: ContainerState::Running,
                        output: behaviour.output.clone(),
                        ended,
                    },
                );
                s.starts.push(request.name.clone());
                s.running += 1;
                s.peak_running = s.peak_running.max(s.running);
            }
            let this = self.clone();
            let name = request.name.clone();
            tokio::spawn(async move {
                tokio::time::sleep(behaviour.runs_for).await;
                this.end(
                    &name,
                    ContainerState::Exited {
                        exit_code: behaviour.exit_code,
                    },
                );
            });
            Ok(Started {
                id: format!("fake-{}", request.name),
                address: None,
            })
        })
    }

    fn start_attached<'a>(
        &'a self,
        request: &'a StartRequest,
    ) -> BoxFuture<'a, SchedulerResult<(Started, Output)>> {
        Box::pin(async move {
            let started = self.start(request).await?;
            let stream = self.output_stream(&request.name, true);
            Ok((
                started,
                Output {
                    stream,
                    attached: true,
                },
            ))
        })
    }

    fn stop<'a>(&'a self, name: &'a str, grace_secs: u64) -> BoxFuture<'a, SchedulerResult<()>> {
        Box::pin(async move {
            self.lock().stops.push((name.to_owned(), grace_secs));
            // SIGTERM ends a shell with 143; SIGKILL with 137.
            let code = if grace_secs > 0 { 143 } else { 137 };
            self.end(name, ContainerState::Exited { exit_code: code });
            Ok(())
        })
    }

    fn state<'a>(&'a self, name: &'a str) -> BoxFuture<'a, SchedulerResult<ContainerState>> {
        Box::pin(async move {
            Ok(self
                .lock()
                .containers
                .get(name)
                .map_or(ContainerState::NotFound, |c| c.state.clone()))
        })
    }

    fn wait<'a>(&'a self, name: &'a str) -> BoxFuture<'a, SchedulerResult<ContainerState>> {
        Box::pin(async move { Ok(self.ended(name).await) })
    }

    fn logs(&self, name: &str, follow: bool) -> BoxStream<'static, SchedulerResult<Bytes>> {
        self.output_stream(name, follow)
    }

    fn logs_tail(&self, _name: &str, _lines: u64) -> BoxStream<'static, SchedulerResult<Bytes>> {
        futures_util::stream::empty().boxed()
    }

    fn attach<'a>(
        &'a self,
        name: &'a str,
        _command: Vec<String>,
    ) -> BoxFuture<'a, SchedulerResult<AttachSession>> {
        Box::pin(async move {
            Err(SchedulerError::Engine {
                op: "attach",
                name: name.to_owned(),
                message: "the fake scheduler runs no processes".to_owned(),
            })
        })
    }

    fn list<'a>(
        &'a self,
        label_filter: &'a Labels,
    ) -> BoxFuture<'a, SchedulerResult<Vec<ListedContainer>>> {
        Box::pin(async move {
            Ok(self
                .lock()
                .containers
                .iter()
                .filter(|(_, c)| label_filter.iter().all(|(k, v)| c.labels.get(k) == Some(v)))
                .map(|(name, c)| ListedContainer {
                    name: name.clone(),
                    state: c.state.clone(),
                    labels: c.labels.clone(),
                })
                .collect())
        })
    }

    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, SchedulerResult<()>> {
        Box::pin(async move {
            let mut s = self.lock();
            if s.containers
                .get(name)
                .is_some_and(|c| c.state != ContainerState::Running)
            {
                s.containers.remove(name);
            }
            Ok(())
        })
    }

    fn prune<'a>(
        &'a self,
        instance_id: &'a str,
        is_complete: &'a (dyn Fn(&Labels) -> bool + Sync),
    ) -> BoxFuture<'a, SchedulerResult<Vec<String>>> {
        Box::pin(async move {
            let mut s = self.lock();
            let names: Vec<String> = s
                .containers
                .iter()
                .filter(|(_, c)| {
                    c.state != ContainerState::Running
                        && c.labels
                            .get(crate::scheduler::LABEL_INSTANCE)
                            .map(String::as_str)
                            == Some(instance_id)
                        && is_complete(&c.labels)
                })
                .map(|(n, _)| n.clone())
                .collect();
            for n in &names {
                s.containers.remove(n);
            }
            Ok(names)
        })
    }
}
