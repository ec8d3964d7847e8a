//! `gofer event …` (docs/cli.md, docs/logs-and-events.md#the-stream, docs/api.md#events): read the event history, follow live events, get
//! and delete single events. Streams print one JSON event per line with `--output json`.

use super::Ctx;
use crate::output::json_line;
use crate::output::{Table, details, or_dash};
use crate::time::rfc3339;
use clap::{Args, Subcommand};
use futures_util::StreamExt;
use gofer_core::api::{Event, EventResponse};
use gofer_sdk::EventFilter;
use std::io::Write;

#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// Show recent events, oldest first
    List {
        /// Newest first
        #[arg(long)]
        reverse: bool,
        #[command(flatten)]
        scope: Scope,
        /// How many of the most recent events to show
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Follow events as they happen, until interrupted
    Watch {
        /// Replay the stored history first
        #[arg(long)]
        history: bool,
        #[command(flatten)]
        scope: Scope,
    },
    /// Show one event
    Get {
        /// Event id
        id: String,
    },
    /// Delete one event (admin)
    Delete {
        /// Event id
        id: String,
    },
}

/// Which events: kinds and pipeline.
#[derive(Debug, Args)]
pub struct Scope {
    /// Only these kinds, comma-separated (e.g. queued_run,completed_run)
    #[arg(long, value_name = "KIND,…", value_delimiter = ',')]
    kinds: Vec<String>,
    /// Only events of this pipeline of --namespace
    #[arg(long, value_name = "PIPELINE")]
    pipeline: Option<String>,
}

impl Scope {
    fn filter(self, ctx: &Ctx) -> EventFilter {
        EventFilter {
            namespace_id: self.pipeline.as_ref().map(|_| ctx.namespace().to_string()),
            pipeline_id: self.pipeline,
            kinds: self.kinds,
            ..EventFilter::default()
        }
    }
}

pub async fn run(ctx: &Ctx, command: EventCommand) -> anyhow::Result<()> {
    match command {
        EventCommand::List {
            reverse,
            scope,
            limit,
        } => {
            // Newest first from the server, so the stream can stop after `limit`.
            let filter = EventFilter {
                history: true,
                reverse: true,
                ..scope.filter(ctx)
            };
            let mut stream = ctx.client.events(&filter).await?;
            let mut events = Vec::new();
            while events.len() < limit {
                match stream.next().await {
                    Some(event) => events.push(event?),
                    None => break,
                }
            }
            drop(stream);
            if !reverse {
                events.reverse();
            }
            if ctx.json() {
                for event in &events {
                    crate::output::println(format_args!("{}", json_line(event)));
                }
            } else {
                let mut table = Table::new(&["id", "kind", "emitted", "details"]);
                for event in &events {
                    table.row(vec![
                        event.id.clone(),
                        event.kind.name().to_string(),
                        ctx.time(event.emitted),
                        or_dash(&payload_summary(event)),
                    ]);
                }
                crate::output::print(format_args!("{}", table.render()));
            }
        }
        EventCommand::Watch { history, scope } => {
            let filter = EventFilter {
                history,
                ..scope.filter(ctx)
            };
            let mut stream = ctx.client.events(&filter).await?;
            let mut stdout = std::io::stdout();
            while let Some(event) = stream.next().await {
                let event = event?;
                let line = if ctx.json() {
                    json_line(&event)
                } else {
                    format!(
                        "{}  {}  {}  {}",
                        rfc3339(event.emitted),
                        event.id,
                        event.kind.name(),
                        payload_summary(&event)
                    )
                };
                writeln!(stdout, "{}", line.trim_end())?;
                stdout.flush()?;
            }
        }
        EventCommand::Get { id } => {
            let event = ctx.client.get_event(&id).await?;
            let body = EventResponse { event };
            ctx.print(&body, || {
                let e = &body.event;
                details(&[
                    ("id", e.id.clone()),
                    ("kind", e.kind.name().to_string()),
                    ("emitted", ctx.time(e.emitted)),
                    ("details", or_dash(&payload_summary(e))),
                ])
            });
        }
        EventCommand::Delete { id } => {
            ctx.client.delete_event(&id).await?;
            ctx.done(format!("event '{id}' deleted"));
        }
    }
    Ok(())
}

/// The payload as `key=value` pairs sorted by key: `namespace_id=default pipeline_id=simple
/// run_id=4 status=successful`.
pub fn payload_summary(event: &Event) -> String {
    let value = serde_json::to_value(&event.kind).expect("wire types always serialise");
    let Some(payload) = value
        .as_object()
        .and_then(|kind| kind.values().next())
        .and_then(|p| p.as_object())
    else {
        return String::new();
    };
    payload
        .iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(s) => format!("{key}={s}"),
            other => format!("{key}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
