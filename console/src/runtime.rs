//! The I/O layer: terminal input, SDK calls, the event stream and the log
//! stream all feed [`Msg`]s into one channel; the loop applies them with [`App::update`],
//! performs the returned [`Effect`]s in background tasks and redraws at most every
//! [`FRAME`] — at once after a key, so typing never waits for the frame cap.

use crate::app::{App, Connection, Effect, Msg, Mutation, PipelineData, PipelineRow, RunData};
use crate::view;
use futures_util::StreamExt;
use futures_util::future::join_all;
use gofer_core::api::{Page, StartRunRequest};
use gofer_core::enums::{ConfigState, PipelineState};
use gofer_sdk::{Client, EventFilter};
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event as TermEvent};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

/// Minimum time between two redraws that no key asked for (≈ 30 frames/s).
pub const FRAME: Duration = Duration::from_millis(33);
/// At most this long is spent applying queued messages before a redraw is considered.
const BATCH: Duration = Duration::from_millis(20);
/// Event history shown when the events view opens.
const HISTORY: usize = 200;
/// Reconnection backoff of the event stream.
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Runs the console on `terminal` until the user quits.
pub async fn run_app(
    mut app: App,
    client: Client,
    terminal: &mut DefaultTerminal,
    started: Instant,
) -> std::io::Result<()> {
    let (tx, mut rx) = unbounded_channel::<Msg>();
    // When the oldest key not yet drawn was read from the terminal (µs since `base`, 0 = none):
    // the key-to-redraw figure in the trace then includes the time a key waits in the queue.
    let base = Instant::now();
    let key_read = Arc::new(AtomicU64::new(0));
    spawn_input(tx.clone(), base, key_read.clone());
    tokio::spawn(event_stream(client.clone(), tx.clone()));
    tokio::spawn(ticker(tx.clone()));
    let mut io = Io {
        client,
        tx: tx.clone(),
        logs: None,
    };
    for effect in app.initial_effects() {
        io.perform(effect);
    }
    terminal.draw(|f| view::render(&app, f))?;
    tracing::info!(
        first_frame_ms = started.elapsed().as_secs_f64() * 1000.0,
        "first frame"
    );
    let mut last_draw = Instant::now();
    let mut dirty = false;
    // When the runs-in-progress list arrived and is not drawn yet (for the trace).
    let mut running_at: Option<Instant> = None;
    loop {
        // Wait for a message, or for the frame deadline when a redraw is pending.
        let first = if dirty {
            let deadline = last_draw + FRAME;
            tokio::time::timeout_at(deadline.into(), rx.recv())
                .await
                .unwrap_or_default()
        } else {
            rx.recv().await
        };
        let mut key_at: Option<Instant> = None;
        if let Some(msg) = first {
            let batch_start = Instant::now();
            let mut next = Some(msg);
            while let Some(msg) = next {
                if matches!(msg, Msg::Key(_)) {
                    key_at.get_or_insert_with(Instant::now);
                }
                if matches!(msg, Msg::Running(_)) {
                    running_at.get_or_insert_with(Instant::now);
                }
                for effect in app.update(msg) {
                    io.perform(effect);
                }
                dirty = true;
                if app.quit || batch_start.elapsed() > BATCH {
                    break;
                }
                next = rx.try_recv().ok();
            }
        }
        if app.quit {
            break;
        }
        if dirty && (key_at.is_some() || last_draw.elapsed() >= FRAME) {
            terminal.draw(|f| view::render(&app, f))?;
            last_draw = Instant::now();
            dirty = false;
            if let Some(at) = running_at.take() {
                tracing::info!(
                    data_to_frame_ms = at.elapsed().as_secs_f64() * 1000.0,
                    "running view drawn"
                );
            }
            if let Some(at) = key_at {
                let read_us = key_read.swap(0, Ordering::Relaxed);
                let read = base + Duration::from_micros(read_us.max(1));
                tracing::debug!(
                    key_to_draw_ms = at.elapsed().as_secs_f64() * 1000.0,
                    key_read_to_draw_ms = read.elapsed().as_secs_f64() * 1000.0,
                    "key redraw"
                );
            }
        }
    }
    io.stop_logs();
    Ok(())
}

/// Terminal events come from a blocking read on their own thread.
fn spawn_input(tx: UnboundedSender<Msg>, base: Instant, key_read: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        loop {
            let msg = match event::read() {
                Ok(TermEvent::Key(key)) => {
                    let now = base.elapsed().as_micros() as u64;
                    let _ = key_read.compare_exchange(
                        0,
                        now.max(1),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                    Msg::Key(key)
                }
                Ok(TermEvent::Resize(w, h)) => Msg::Resize(w, h),
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "reading the terminal failed");
                    return;
                }
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
}

async fn ticker(tx: UnboundedSender<Msg>) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    loop {
        interval.tick().await;
        if tx.send(Msg::Tick(gofer_core::now_millis())).is_err() {
            return;
        }
    }
}

/// The live event stream (docs/logs-and-events.md#the-stream), reconnecting with exponential backoff. After a
/// disconnection it resumes `after` the last event it saw, so nothing is missed.
async fn event_stream(client: Client, tx: UnboundedSender<Msg>) {
    let mut last_id: Option<String> = None;
    let mut attempt: u32 = 0;
    loop {
        let filter = EventFilter {
            after: last_id.clone(),
            ..EventFilter::default()
        };
        let error = match client.events(&filter).await {
            Ok(mut stream) => {
                attempt = 0;
                if tx.send(Msg::Connection(Connection::Live)).is_err() {
                    return;
                }
                let mut error = "the server closed the event stream".to_string();
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(event) => {
                            last_id = Some(event.id.clone());
                            if tx.send(Msg::Event(event)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            error = e.to_string();
                            break;
                        }
                    }
                }
                error
            }
            Err(e) => e.to_string(),
        };
        attempt += 1;
        let delay = BACKOFF_START
            .saturating_mul(2u32.saturating_pow(attempt.min(16) - 1))
            .min(BACKOFF_MAX);
        tracing::warn!(%error, attempt, retry_in_ms = delay.as_millis() as u64, "event stream down");
        let msg = Msg::Connection(Connection::Reconnecting {
            attempt,
            retry_in_ms: delay.as_millis() as u64,
            error,
        });
        if tx.send(msg).is_err() {
            return;
        }
        tokio::time::sleep(delay).await;
    }
}

/// Performs effects; owns the one log stream task.
struct Io {
    client: Client,
    tx: UnboundedSender<Msg>,
    logs: Option<JoinHandle<()>>,
}

impl Io {
    fn stop_logs(&mut self) {
        if let Some(task) = self.logs.take() {
            task.abort();
        }
    }

    fn perform(&mut self, effect: Effect) {
        let client = self.client.clone();
        let tx = self.tx.clone();
        match effect {
            Effect::LoadNamespaces => {
                tokio::spawn(async move {
                    let result = client
                        .list_namespaces(None)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Namespaces(result));
                });
            }
            Effect::LoadPipelines { namespace } => {
                tokio::spawn(async move {
                    let result = load_pipelines(&client, &namespace).await;
                    let _ = tx.send(Msg::Pipelines { namespace, result });
                });
            }
            Effect::LoadRuns {
                namespace,
                pipeline,
            } => {
                tokio::spawn(async move {
                    let page = Page {
                        limit: 200,
                        offset: 0,
                        reverse: true,
                    };
                    let result = client
                        .list_runs(&namespace, &pipeline, Some(page))
                        .await
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Runs {
                        namespace,
                        pipeline,
                        result,
                    });
                });
            }
            Effect::LoadPipeline {
                namespace,
                pipeline,
            } => {
                tokio::spawn(async move {
                    let result = load_pipeline(&client, &namespace, &pipeline).await;
                    let _ = tx.send(Msg::Pipeline {
                        namespace,
                        pipeline,
                        result,
                    });
                });
            }
            Effect::LoadRun {
                namespace,
                pipeline,
                run_id,
            } => {
                tokio::spawn(async move {
                    let (run, tasks) = tokio::join!(
                        client.get_run(&namespace, &pipeline, run_id),
                        client.list_task_executions(&namespace, &pipeline, run_id, None)
                    );
                    let result = match (run, tasks) {
                        (Ok(run), Ok(tasks)) => Ok(RunData { run, tasks }),
                        (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
                    };
                    let _ = tx.send(Msg::Run {
                        namespace,
                        pipeline,
                        run_id,
                        result,
                    });
                });
            }
            Effect::LoadEventHistory => {
                tokio::spawn(async move {
                    let filter = EventFilter {
                        history: true,
                        reverse: true,
                        ..EventFilter::default()
                    };
                    let result = match client.events(&filter).await {
                        Ok(stream) => {
                            let events: Vec<_> = stream.take(HISTORY).collect().await;
                            events
                                .into_iter()
                                .collect::<Result<Vec<_>, _>>()
                                .map_err(|e| e.to_string())
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    let _ = tx.send(Msg::EventHistory(result));
                });
            }
            Effect::OpenLogs {
                namespace,
                pipeline,
                run_id,
                task,
                generation,
            } => {
                self.stop_logs();
                tokio::spawn(async move {
                    let result = client
                        .get_task_execution(&namespace, &pipeline, run_id, &task)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::LogTask { generation, result });
                });
            }
            Effect::FollowLogs {
                namespace,
                pipeline,
                run_id,
                task,
                generation,
            } => {
                self.stop_logs();
                self.logs = Some(tokio::spawn(async move {
                    let stream = client
                        .task_logs(&namespace, &pipeline, run_id, &task, true)
                        .await;
                    let result = pump(stream, &tx, generation).await;
                    let _ = tx.send(Msg::LogEnd { generation, result });
                }));
            }
            Effect::OpenExtensionLogs { id, generation } => {
                self.stop_logs();
                self.logs = Some(tokio::spawn(async move {
                    let stream = client.extension_logs(&id, true).await;
                    let result = pump(stream, &tx, generation).await;
                    let _ = tx.send(Msg::LogEnd { generation, result });
                }));
            }
            Effect::LoadDiagnosisLogs {
                namespace,
                pipeline,
                run_id,
                tasks,
            } => {
                tokio::spawn(async move {
                    let mut logs = std::collections::BTreeMap::new();
                    for task in tasks {
                        // A task that never started has no log: it is left out.
                        if let Ok(tail) = client
                            .task_log_tail(&namespace, &pipeline, run_id, &task, 20)
                            .await
                        {
                            logs.insert(task, tail);
                        }
                    }
                    let _ = tx.send(Msg::DiagnosisLogs {
                        run_id,
                        result: Ok(logs),
                    });
                });
            }
            Effect::LoadPulse => {
                tokio::spawn(async move {
                    let (health, metrics) = tokio::join!(client.health(), client.metrics());
                    let result = match (health, metrics) {
                        (Ok(h), Ok(text)) => Ok(crate::model::PulseSample::from_metrics(
                            h.status,
                            h.checks.into_iter().collect(),
                            &text,
                        )),
                        (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
                    };
                    let _ = tx.send(Msg::Pulse(result));
                });
            }
            Effect::LoadRunning => {
                tokio::spawn(async move {
                    let result = client.active_runs().await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Running(result));
                });
            }
            Effect::LoadExtensions => {
                tokio::spawn(async move {
                    let result = client
                        .list_extensions(None)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Extensions(result));
                });
            }
            Effect::LoadExtensionDebug { id } => {
                tokio::spawn(async move {
                    let result = client
                        .extension_debug(&id)
                        .await
                        .map(|text| pretty(&text))
                        .map_err(|e| match e.status() {
                            // 502/503 say whether the extension answered at all.
                            Some(status) => format!("{status} {e}"),
                            None => e.to_string(),
                        });
                    let _ = tx.send(Msg::ExtensionDebug { id, result });
                });
            }
            Effect::LoadExtensionSubscriptions { id } => {
                tokio::spawn(async move {
                    let result = client
                        .list_extension_subscriptions(&id, None)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::ExtensionSubscriptions { id, result });
                });
            }
            Effect::StopLogs => self.stop_logs(),
            Effect::Mutate {
                namespace,
                mutation,
            } => {
                tokio::spawn(async move {
                    let result = mutate(&client, &namespace, &mutation).await;
                    let _ = tx.send(Msg::Done { mutation, result });
                });
            }
            Effect::SaveLogs { path, text } => {
                tokio::spawn(async move {
                    let lines = text.lines().count();
                    let result = tokio::fs::write(&path, text)
                        .await
                        .map(|()| format!("saved {lines} lines to {path}"))
                        .map_err(|e| format!("cannot save the log to {path}: {e}"));
                    let _ = tx.send(Msg::Saved(result));
                });
            }
        }
    }
}

/// JSON pretty-printed; any other text as it came.
fn pretty(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// Sends a log stream's chunks as `LogChunk`s of `generation` (a task's or an extension's log).
async fn pump(
    stream: Result<gofer_sdk::ByteStream, gofer_sdk::Error>,
    tx: &UnboundedSender<Msg>,
    generation: u64,
) -> Result<(), String> {
    let mut stream = stream.map_err(|e| e.to_string())?;
    while let Some(chunk) = stream.next().await {
        let bytes = chunk.map_err(|e| e.to_string())?;
        if tx.send(Msg::LogChunk { generation, bytes }).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Pipelines with their live version and last run, fetched concurrently.
async fn load_pipelines(client: &Client, namespace: &str) -> Result<Vec<PipelineRow>, String> {
    let pipelines = client
        .list_pipelines(namespace, None)
        .await
        .map_err(|e| e.to_string())?;
    let rows = join_all(pipelines.into_iter().map(|metadata| async move {
        let last = Page {
            limit: 1,
            offset: 0,
            reverse: true,
        };
        let (runs, configs, subscriptions) = tokio::join!(
            client.list_runs(namespace, &metadata.pipeline_id, Some(last)),
            client.list_configs(namespace, &metadata.pipeline_id, None),
            client.list_subscriptions(namespace, &metadata.pipeline_id, None)
        );
        let live_version = configs
            .ok()
            .and_then(|cs| cs.into_iter().find(|c| c.state == ConfigState::Live))
            .map(|c| c.version);
        PipelineRow {
            last_run: runs.ok().and_then(|r| r.into_iter().next()),
            live_version,
            subscriptions: subscriptions.unwrap_or_default(),
            metadata,
            next_fire: Default::default(),
        }
    }))
    .await;
    let mut rows = rows;
    // Next fire times from the debug info of each extension the pipelines subscribe to.
    let extensions: std::collections::BTreeSet<String> = rows
        .iter()
        .flat_map(|r| r.subscriptions.iter().map(|s| s.extension_id.clone()))
        .collect();
    for ext in extensions {
        let Some(info) = debug_info(client, &ext).await else {
            continue;
        };
        for entry in info["subscriptions"].as_array().into_iter().flatten() {
            let next = entry["next_run"]
                .as_str()
                .or_else(|| entry["next"].as_str());
            let (Some(next), Some(p), Some(sub)) = (
                next,
                entry["pipeline_id"].as_str(),
                entry["subscription_id"].as_str(),
            ) else {
                continue;
            };
            if entry["namespace_id"].as_str() != Some(namespace) {
                continue;
            }
            if let Some(row) = rows.iter_mut().find(|r| r.metadata.pipeline_id == p) {
                row.next_fire
                    .insert(format!("{ext}/{sub}"), next.to_string());
            }
        }
    }
    Ok(rows)
}

/// How long an extension's debug info is reused for the pipelines view's next fire times: the
/// view reloads on every event of the namespace, and each fetch is a call into the extension.
const DEBUG_INFO_TTL: std::time::Duration = std::time::Duration::from_secs(15);

/// An extension's debug info as JSON, from a short cache; `None` when it does not answer or is
/// not JSON.
async fn debug_info(client: &Client, ext: &str) -> Option<serde_json::Value> {
    type Cache = std::sync::Mutex<
        std::collections::HashMap<String, (std::time::Instant, Option<serde_json::Value>)>,
    >;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Ok(map) = cache.lock()
        && let Some((at, value)) = map.get(ext)
        && at.elapsed() < DEBUG_INFO_TTL
    {
        return value.clone();
    }
    let value = client
        .extension_debug(ext)
        .await
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    if let Ok(mut map) = cache.lock() {
        map.insert(ext.to_owned(), (std::time::Instant::now(), value.clone()));
    }
    value
}

/// The pipeline view's data: every version, the newest deployments, and the newest runs for the
/// per-version figures.
async fn load_pipeline(
    client: &Client,
    namespace: &str,
    pipeline: &str,
) -> Result<PipelineData, String> {
    let newest = |limit| Page {
        limit,
        offset: 0,
        reverse: true,
    };
    let (configs, deployments, runs) = tokio::join!(
        client.list_configs(namespace, pipeline, None),
        client.list_deployments(namespace, pipeline, Some(newest(20))),
        client.list_runs(namespace, pipeline, Some(newest(100)))
    );
    let e = |e: gofer_sdk::Error| e.to_string();
    Ok(PipelineData {
        configs: configs.map_err(e)?,
        deployments: deployments.map_err(e)?,
        runs: runs.map_err(e)?,
    })
}

async fn mutate(client: &Client, namespace: &str, mutation: &Mutation) -> Result<String, String> {
    let e = |e: gofer_sdk::Error| e.to_string();
    match mutation {
        Mutation::CancelRun { pipeline, run_id } => {
            client
                .cancel_run(namespace, pipeline, *run_id)
                .await
                .map_err(e)?;
            Ok(format!("cancelling run {run_id}"))
        }
        Mutation::CancelTask {
            pipeline,
            run_id,
            task,
        } => {
            client
                .cancel_task_execution(namespace, pipeline, *run_id, task, None)
                .await
                .map_err(e)?;
            Ok(format!("cancelling task '{task}'"))
        }
        Mutation::StartRun {
            pipeline,
            variables,
        } => {
            let request = StartRunRequest {
                variables: gofer_core::api::OrderedMap(variables.clone()),
                ..StartRunRequest::default()
            };
            let run = client
                .start_run(namespace, pipeline, &request)
                .await
                .map_err(e)?;
            Ok(format!("started run {} of '{pipeline}'", run.run_id))
        }
        Mutation::RetryRun { pipeline, run_id } => {
            let run = client
                .retry_run(namespace, pipeline, *run_id, true)
                .await
                .map_err(e)?;
            Ok(format!(
                "started run {} of '{pipeline}', retrying run {run_id}",
                run.run_id
            ))
        }
        Mutation::SetPipelineState { pipeline, enable } => {
            let state = if *enable {
                PipelineState::Active
            } else {
                PipelineState::Disabled
            };
            client
                .update_pipeline_state(namespace, pipeline, state)
                .await
                .map_err(e)?;
            Ok(format!(
                "pipeline '{pipeline}' {}",
                if *enable { "enabled" } else { "disabled" }
            ))
        }
        Mutation::Deploy { pipeline, version } => {
            let deployment = client
                .deploy_config(namespace, pipeline, *version)
                .await
                .map_err(e)?;
            Ok(format!(
                "deployment {} of '{pipeline}': version {}",
                deployment.deployment_id, deployment.end_version
            ))
        }
        Mutation::SetExtensionState { id, enable } => {
            client.set_extension_enabled(id, *enable).await.map_err(e)?;
            Ok(format!(
                "extension '{id}' {}",
                if *enable { "enabled" } else { "disabled" }
            ))
        }
        Mutation::SetSubscriptionState {
            namespace,
            pipeline,
            extension,
            subscription,
            enable,
        } => {
            client
                .set_subscription_active(namespace, pipeline, extension, subscription, *enable)
                .await
                .map_err(e)?;
            Ok(format!(
                "subscription '{subscription}' of '{pipeline}' {}",
                if *enable { "enabled" } else { "disabled" }
            ))
        }
        Mutation::Promote {
            pipeline,
            deployment,
            version,
        } => {
            client
                .promote_deployment(namespace, pipeline, *deployment)
                .await
                .map_err(e)?;
            Ok(format!(
                "deployment {deployment} promoted: version {version} of '{pipeline}' is live"
            ))
        }
        Mutation::Abort {
            pipeline,
            deployment,
            ..
        } => {
            let d = client
                .abort_deployment(namespace, pipeline, *deployment)
                .await
                .map_err(e)?;
            Ok(format!(
                "deployment {deployment} aborted: version {} of '{pipeline}' stays live",
                d.start_version
            ))
        }
    }
}
