//! `gofer secret global|pipeline …` (docs/cli.md, docs/objects-and-secrets.md#secrets). Values come from an argument or from
//! stdin (`@` or `-`); they are printed only by `get --include-secret`.

use super::Ctx;
use crate::failure::Failure;
use crate::output::{Table, details};
use clap::Subcommand;
use gofer_core::api::{
    GetSecretResponse, PutGlobalSecretRequest, PutPipelineSecretRequest, Secret, SecretResponse,
    SecretsResponse,
};
use gofer_sdk::SecretScope;
use std::io::Read;

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Global secrets, usable by the namespaces their regexes match (admin only)
    #[command(subcommand)]
    Global(GlobalSecretCommand),
    /// Secrets of one pipeline
    #[command(subcommand)]
    Pipeline(PipelineSecretCommand),
}

#[derive(Debug, Subcommand)]
pub enum GlobalSecretCommand {
    /// List global secrets (keys and namespace regexes, never values)
    List,
    /// Show a global secret's metadata, and its value with -i
    Get {
        /// Secret key
        key: String,
        /// Print the value too
        #[arg(short, long)]
        include_secret: bool,
    },
    /// Store a global secret
    Put {
        /// Secret key: 1-128 characters of [a-zA-Z0-9._-]
        key: String,
        /// The value, or @ or - to read it from stdin (one trailing newline is dropped)
        #[arg(value_name = "VALUE|@")]
        value: String,
        /// Namespaces (regexes, matched whole) that may use it; repeatable
        #[arg(long = "namespaces", value_name = "REGEX", default_value = ".*")]
        namespaces: Vec<String>,
        /// Replace the secret if the key exists
        #[arg(short, long)]
        force: bool,
    },
    /// Delete a global secret
    Delete {
        /// Secret key
        key: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PipelineSecretCommand {
    /// List a pipeline's secrets (keys, never values)
    List {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
    },
    /// Show a pipeline secret's metadata, and its value with -i
    Get {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Secret key
        key: String,
        /// Print the value too
        #[arg(short, long)]
        include_secret: bool,
    },
    /// Store a pipeline secret
    Put {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Secret key: 1-128 characters of [a-zA-Z0-9._-]
        key: String,
        /// The value, or @ or - to read it from stdin (one trailing newline is dropped)
        #[arg(value_name = "VALUE|@")]
        value: String,
        /// Replace the secret if the key exists
        #[arg(short, long)]
        force: bool,
    },
    /// Delete a pipeline secret
    Delete {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Secret key
        key: String,
    },
}

pub async fn run(ctx: &Ctx, command: SecretCommand) -> anyhow::Result<()> {
    let ns = ctx.namespace();
    match command {
        SecretCommand::Global(command) => match command {
            GlobalSecretCommand::List => list(ctx, SecretScope::Global).await,
            GlobalSecretCommand::Get {
                key,
                include_secret,
            } => get(ctx, SecretScope::Global, &key, include_secret).await,
            GlobalSecretCommand::Put {
                key,
                value,
                namespaces,
                force,
            } => {
                let request = PutGlobalSecretRequest {
                    key,
                    content: read_value(&value)?,
                    namespaces,
                    force,
                };
                let secret = ctx.client.put_global_secret(&request).await?;
                stored(ctx, secret);
                Ok(())
            }
            GlobalSecretCommand::Delete { key } => delete(ctx, SecretScope::Global, &key).await,
        },
        SecretCommand::Pipeline(command) => match command {
            PipelineSecretCommand::List { pipeline } => {
                list(ctx, SecretScope::Pipeline(ns, &pipeline)).await
            }
            PipelineSecretCommand::Get {
                pipeline,
                key,
                include_secret,
            } => {
                get(
                    ctx,
                    SecretScope::Pipeline(ns, &pipeline),
                    &key,
                    include_secret,
                )
                .await
            }
            PipelineSecretCommand::Put {
                pipeline,
                key,
                value,
                force,
            } => {
                let request = PutPipelineSecretRequest {
                    key,
                    content: read_value(&value)?,
                    force,
                };
                let secret = ctx
                    .client
                    .put_pipeline_secret(ns, &pipeline, &request)
                    .await?;
                stored(ctx, secret);
                Ok(())
            }
            PipelineSecretCommand::Delete { pipeline, key } => {
                delete(ctx, SecretScope::Pipeline(ns, &pipeline), &key).await
            }
        },
    }
}

/// The value argument, or stdin for `@`/`-` without one trailing newline (so `echo v | …`
/// stores `v`).
fn read_value(value: &str) -> Result<String, Failure> {
    if value != "@" && value != "-" {
        return Ok(value.to_string());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Failure::invalid(format!("cannot read the secret from stdin: {e}")))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

fn stored(ctx: &Ctx, secret: Secret) {
    if ctx.json() {
        ctx.print(&SecretResponse { secret }, String::new);
    } else {
        crate::output::println(format_args!("secret '{}' stored", secret.key));
    }
}

async fn list(ctx: &Ctx, scope: SecretScope<'_>) -> anyhow::Result<()> {
    let secrets = ctx.client.list_secrets(scope, None).await?;
    let body = SecretsResponse { secrets };
    ctx.print(&body, || {
        let mut table = Table::new(&["key", "namespaces", "created"]);
        for s in &body.secrets {
            table.row(vec![
                s.key.clone(),
                s.namespaces.join(","),
                ctx.time(s.created),
            ]);
        }
        table.render()
    });
    Ok(())
}

async fn get(
    ctx: &Ctx,
    scope: SecretScope<'_>,
    key: &str,
    include_secret: bool,
) -> anyhow::Result<()> {
    let body: GetSecretResponse = ctx.client.get_secret(scope, key, include_secret).await?;
    ctx.print(&body, || {
        let mut pairs = vec![
            ("key", body.metadata.key.clone()),
            ("namespaces", body.metadata.namespaces.join(",")),
            ("created", ctx.time(body.metadata.created)),
        ];
        if let Some(value) = &body.secret {
            pairs.push(("secret", value.clone()));
        }
        details(&pairs)
    });
    Ok(())
}

async fn delete(ctx: &Ctx, scope: SecretScope<'_>, key: &str) -> anyhow::Result<()> {
    ctx.client.delete_secret(scope, key).await?;
    ctx.done(format!("secret '{key}' deleted"));
    Ok(())
}
