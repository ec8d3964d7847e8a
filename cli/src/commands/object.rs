//! `gofer pipeline object …` and `gofer run object …` (docs/cli.md, docs/objects-and-secrets.md#objects). Bytes stream between
//! files (or stdin/stdout) and the server in chunks; no object is held in memory whole.

use super::Ctx;
use crate::failure::Failure;
use crate::output::Table;
use bytes::{Bytes, BytesMut};
use clap::Subcommand;
use futures_util::{Stream, StreamExt};
use gofer_core::api::{ObjectResponse, ObjectsResponse};
use gofer_sdk::ObjectScope;
use std::path::PathBuf;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Largest object `--stringify` prints (docs/cli.md: it refuses objects of 1 KiB or more).
const STRINGIFY_MAX: usize = 1024;
/// Upload chunk size.
const CHUNK: usize = 256 * 1024;

#[derive(Debug, Subcommand)]
pub enum PipelineObjectCommand {
    /// List a pipeline's objects, oldest first
    List {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
    },
    /// Write an object's bytes to stdout (or to a file with -o)
    Get {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        #[command(flatten)]
        get: GetArgs,
    },
    /// Store an object from a file, or from stdin with @ or -
    Put {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        #[command(flatten)]
        put: PutArgs,
    },
    /// Delete an object
    Delete {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Object key
        key: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunObjectCommand {
    /// List a run's objects, oldest first
    List {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
    },
    /// Write an object's bytes to stdout (or to a file with -o)
    Get {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
        #[command(flatten)]
        get: GetArgs,
    },
    /// Store an object from a file, or from stdin with @ or -
    Put {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
        #[command(flatten)]
        put: PutArgs,
    },
    /// Delete an object
    Delete {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Run id
        run: u64,
        /// Object key
        key: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// Object key
    key: String,
    /// Print the object as UTF-8 text (refuses objects of 1 KiB or more)
    #[arg(long, conflicts_with = "output_file")]
    stringify: bool,
    /// Write the bytes to FILE instead of stdout
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    output_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PutArgs {
    /// Object key: 1-128 characters of [a-zA-Z0-9._-]
    key: String,
    /// A file to upload, or @ or - for stdin
    #[arg(value_name = "FILE|@")]
    source: String,
    /// Replace the object if the key exists
    #[arg(long)]
    force: bool,
}

pub async fn run_pipeline(ctx: &Ctx, command: PipelineObjectCommand) -> anyhow::Result<()> {
    let ns = ctx.namespace();
    match command {
        PipelineObjectCommand::List { pipeline } => {
            list(ctx, ObjectScope::Pipeline(ns, &pipeline)).await
        }
        PipelineObjectCommand::Get {
            pipeline,
            get: args,
        } => get(ctx, ObjectScope::Pipeline(ns, &pipeline), args).await,
        PipelineObjectCommand::Put {
            pipeline,
            put: args,
        } => put(ctx, ObjectScope::Pipeline(ns, &pipeline), args).await,
        PipelineObjectCommand::Delete { pipeline, key } => {
            delete(ctx, ObjectScope::Pipeline(ns, &pipeline), &key).await
        }
    }
}

pub async fn run_run(ctx: &Ctx, command: RunObjectCommand) -> anyhow::Result<()> {
    let ns = ctx.namespace();
    match command {
        RunObjectCommand::List { pipeline, run } => {
            list(ctx, ObjectScope::Run(ns, &pipeline, run)).await
        }
        RunObjectCommand::Get {
            pipeline,
            run,
            get: args,
        } => get(ctx, ObjectScope::Run(ns, &pipeline, run), args).await,
        RunObjectCommand::Put {
            pipeline,
            run,
            put: args,
        } => put(ctx, ObjectScope::Run(ns, &pipeline, run), args).await,
        RunObjectCommand::Delete { pipeline, run, key } => {
            delete(ctx, ObjectScope::Run(ns, &pipeline, run), &key).await
        }
    }
}

async fn list(ctx: &Ctx, scope: ObjectScope<'_>) -> anyhow::Result<()> {
    let objects = ctx.client.list_objects(scope, None).await?;
    let body = ObjectsResponse { objects };
    ctx.print(&body, || {
        let mut table = Table::new(&["key", "created"]);
        for o in &body.objects {
            table.row(vec![o.key.clone(), ctx.time(o.created)]);
        }
        table.render()
    });
    Ok(())
}

async fn get(ctx: &Ctx, scope: ObjectScope<'_>, args: GetArgs) -> anyhow::Result<()> {
    let mut stream = ctx.client.get_object(scope, &args.key).await?;
    if args.stringify {
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk?);
            if buf.len() >= STRINGIFY_MAX {
                return Err(Failure::invalid(format!(
                    "object '{}' is 1 KiB or larger; --stringify prints only small text objects \
                     (omit it to get the raw bytes, or use -o FILE)",
                    args.key
                ))
                .into());
            }
        }
        let text = String::from_utf8(buf).map_err(|_| {
            Failure::invalid(format!(
                "object '{}' is not UTF-8 text; omit --stringify to get the raw bytes",
                args.key
            ))
        })?;
        crate::output::println(format_args!("{text}"));
        return Ok(());
    }
    let mut out: Box<dyn tokio::io::AsyncWrite + Unpin> =
        match &args.output_file {
            Some(path) => Box::new(tokio::fs::File::create(path).await.map_err(|e| {
                Failure::invalid(format!("cannot create '{}': {e}", path.display()))
            })?),
            None => Box::new(tokio::io::stdout()),
        };
    while let Some(chunk) = stream.next().await {
        out.write_all(&chunk?).await?;
    }
    out.flush().await?;
    Ok(())
}

async fn put(ctx: &Ctx, scope: ObjectScope<'_>, args: PutArgs) -> anyhow::Result<()> {
    let object = if args.source == "@" || args.source == "-" {
        let body = chunks(tokio::io::stdin());
        ctx.client
            .put_object(scope, &args.key, body, args.force)
            .await?
    } else {
        let file = tokio::fs::File::open(&args.source)
            .await
            .map_err(|e| Failure::invalid(format!("cannot read '{}': {e}", args.source)))?;
        ctx.client
            .put_object(scope, &args.key, chunks(file), args.force)
            .await?
    };
    if ctx.json() {
        ctx.print(&ObjectResponse { object }, String::new);
    } else {
        crate::output::println(format_args!("object '{}' stored", object.key));
    }
    Ok(())
}

async fn delete(ctx: &Ctx, scope: ObjectScope<'_>, key: &str) -> anyhow::Result<()> {
    ctx.client.delete_object(scope, key).await?;
    ctx.done(format!("object '{key}' deleted"));
    Ok(())
}

/// A reader as a stream of chunks of at most [`CHUNK`] bytes.
fn chunks<R>(reader: R) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static
where
    R: AsyncRead + Unpin + Send + 'static,
{
    futures_util::stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        let mut buf = BytesMut::with_capacity(CHUNK);
        match reader.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(buf.freeze()), Some(reader))),
            Err(e) => Some((Err(e), None)),
        }
    })
}
