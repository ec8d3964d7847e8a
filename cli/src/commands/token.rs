//! `gofer token …` (docs/cli.md, docs/auth.md#tokens, docs/api.md#roles-global-secrets-system-tokens).

use super::Ctx;
use crate::output::{Table, details, or_dash};
use clap::Subcommand;
use gofer_core::api::{
    CreateTokenRequest, CreatedToken, Token, TokenResponse, TokensResponse, UpdateTokenRequest,
};
use std::collections::BTreeMap;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// List tokens (admin)
    List,
    /// Show one token (admin, or your own token)
    Get {
        /// Token id
        id: String,
    },
    /// Create a token and print its secret, which is shown only this once (admin)
    Create {
        /// Who the token is for (free text, shown in run initiators)
        user: String,
        /// A role to give the token; repeatable
        #[arg(short = 'r', long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// When the token expires: seconds from now (0 = never), a duration (30d, 12h) or an
        /// RFC 3339 time with offset (2027-01-01T00:00:00+01:00)
        #[arg(short = 'e', long = "expiry", value_name = "WHEN", default_value = "0",
              value_parser = expiry_seconds)]
        expiry: u64,
        /// Metadata to attach; repeatable
        #[arg(short = 'm', long = "metadata", value_name = "K=V", value_parser = key_value)]
        metadata: Vec<(String, String)>,
    },
    /// Create the bootstrap (first admin) token; works once per server
    Bootstrap,
    /// Show the token this CLI authenticates with
    Whoami,
    /// Enable a disabled token (admin)
    Enable {
        /// Token id
        id: String,
    },
    /// Disable a token: requests made with it fail until it is enabled again (admin)
    Disable {
        /// Token id
        id: String,
    },
    /// Delete a token for good (admin)
    Delete {
        /// Token id
        id: String,
    },
}

/// `K=V` → `(K, V)`.
fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) => Ok((key.to_string(), value.to_string())),
        None => Err(format!("expected K=V, got '{text}'")),
    }
}

pub async fn run(ctx: &Ctx, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::List => {
            let tokens = ctx.client.list_tokens(None).await?;
            let body = TokensResponse { tokens };
            ctx.print(&body, || {
                let mut table = Table::new(&["id", "user", "roles", "state", "created", "expires"]);
                for t in &body.tokens {
                    table.row(vec![
                        t.id.clone(),
                        t.user.clone(),
                        or_dash(&t.roles.join(",")),
                        state(ctx, t),
                        ctx.time(t.created),
                        expires(ctx, t),
                    ]);
                }
                table.render()
            });
        }
        TokenCommand::Get { id } => {
            let token = ctx.client.get_token(&id).await?;
            let body = TokenResponse { token };
            ctx.print(&body, || describe(ctx, &body.token));
        }
        TokenCommand::Whoami => {
            let token = ctx.client.whoami().await?;
            let body = TokenResponse { token };
            ctx.print(&body, || describe(ctx, &body.token));
        }
        TokenCommand::Create {
            user,
            roles,
            expiry,
            metadata,
        } => {
            let request = CreateTokenRequest {
                user,
                roles,
                expires: expiry,
                metadata: (!metadata.is_empty())
                    .then(|| metadata.into_iter().collect::<BTreeMap<_, _>>()),
            };
            let created = ctx.client.create_token(&request).await?;
            ctx.print(&created, || created_text(ctx, &created));
        }
        TokenCommand::Bootstrap => {
            let created = ctx.client.bootstrap_token().await?;
            ctx.print(&created, || created_text(ctx, &created));
        }
        TokenCommand::Enable { id } => {
            let request = UpdateTokenRequest {
                disabled: Some(false),
            };
            ctx.client.update_token(&id, &request).await?;
            ctx.done(format!("token '{id}' enabled"));
        }
        TokenCommand::Disable { id } => {
            let request = UpdateTokenRequest {
                disabled: Some(true),
            };
            ctx.client.update_token(&id, &request).await?;
            ctx.done(format!("token '{id}' disabled"));
        }
        TokenCommand::Delete { id } => {
            ctx.client.delete_token(&id).await?;
            ctx.done(format!("token '{id}' deleted"));
        }
    }
    Ok(())
}

fn state(ctx: &Ctx, t: &Token) -> String {
    if t.disabled {
        "disabled".into()
    } else if t.expired_at(ctx.times.now_ms) {
        "expired".into()
    } else {
        "active".into()
    }
}

/// `--expiry` as seconds from now (see [`crate::time::seconds_until`]).
fn expiry_seconds(text: &str) -> Result<u64, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    crate::time::seconds_until(text, now)
}

fn expires(ctx: &Ctx, t: &Token) -> String {
    if t.expires == 0 {
        "never".into()
    } else {
        ctx.time(t.expires)
    }
}

fn describe(ctx: &Ctx, t: &Token) -> String {
    let metadata: Vec<String> = t.metadata.iter().map(|(k, v)| format!("{k}={v}")).collect();
    details(&[
        ("id", t.id.clone()),
        ("user", t.user.clone()),
        ("roles", or_dash(&t.roles.join(", "))),
        ("state", state(ctx, t)),
        ("created", ctx.time(t.created)),
        ("expires", expires(ctx, t)),
        ("metadata", or_dash(&metadata.join(", "))),
    ])
}

fn created_text(ctx: &Ctx, created: &CreatedToken) -> String {
    format!(
        "{}\nsecret: {}\n\nThe secret is shown only now; store it safely. Use it with \
         --token, GOFER_TOKEN or the CLI config file's `token` key.\n",
        describe(ctx, &created.token_details).trim_end(),
        created.secret
    )
}
