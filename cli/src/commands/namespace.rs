//! `gofer namespace …` (docs/cli.md, docs/api.md#namespaces-and-pipelines).

use super::Ctx;
use crate::output::{Table, details, or_dash};
use clap::{ArgGroup, Subcommand};
use gofer_core::api::{
    CreateNamespaceRequest, Namespace, NamespaceResponse, NamespacesResponse,
    UpdateNamespaceRequest,
};

#[derive(Debug, Subcommand)]
pub enum NamespaceCommand {
    /// List namespaces
    List,
    /// Show one namespace
    Get {
        /// Namespace id
        #[arg(add = crate::complete::namespaces())]
        id: String,
    },
    /// Create a namespace
    Create {
        /// Namespace id: 3-32 characters of [a-zA-Z0-9_-]
        id: String,
        /// Human-readable name [default: the id]
        #[arg(long)]
        name: Option<String>,
        /// What the namespace is for
        #[arg(long)]
        description: Option<String>,
    },
    /// Change a namespace's name or description
    #[command(group(ArgGroup::new("fields").args(["name", "description"]).required(true).multiple(true)))]
    Update {
        /// Namespace id
        #[arg(add = crate::complete::namespaces())]
        id: String,
        /// New name
        #[arg(long)]
        name: Option<String>,
        /// New description
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a namespace and all of its pipelines
    Delete {
        /// Namespace id
        #[arg(add = crate::complete::namespaces())]
        id: String,
    },
}

pub async fn run(ctx: &Ctx, command: NamespaceCommand) -> anyhow::Result<()> {
    match command {
        NamespaceCommand::List => {
            let namespaces = ctx.client.list_namespaces(None).await?;
            let body = NamespacesResponse { namespaces };
            ctx.print(&body, || {
                let mut table = Table::new(&["id", "name", "description", "created", "modified"]);
                for ns in &body.namespaces {
                    table.row(vec![
                        ns.id.clone(),
                        ns.name.clone(),
                        or_dash(&ns.description),
                        ctx.time(ns.created),
                        ctx.time(ns.modified),
                    ]);
                }
                table.render()
            });
        }
        NamespaceCommand::Get { id } => {
            let namespace = ctx.client.get_namespace(&id).await?;
            let body = NamespaceResponse { namespace };
            ctx.print(&body, || describe(ctx, &body.namespace));
        }
        NamespaceCommand::Create {
            id,
            name,
            description,
        } => {
            let request = CreateNamespaceRequest {
                name: Some(name.unwrap_or_else(|| id.clone())),
                id,
                description,
            };
            let namespace = ctx.client.create_namespace(&request).await?;
            let body = NamespaceResponse { namespace };
            ctx.print(&body, || {
                format!("namespace '{}' created\n", body.namespace.id)
            });
        }
        NamespaceCommand::Update {
            id,
            name,
            description,
        } => {
            let request = UpdateNamespaceRequest { name, description };
            let namespace = ctx.client.update_namespace(&id, &request).await?;
            let body = NamespaceResponse { namespace };
            ctx.print(&body, || {
                format!("namespace '{}' updated\n", body.namespace.id)
            });
        }
        NamespaceCommand::Delete { id } => {
            ctx.client.delete_namespace(&id).await?;
            ctx.done(format!("namespace '{id}' deleted"));
        }
    }
    Ok(())
}

fn describe(ctx: &Ctx, ns: &Namespace) -> String {
    details(&[
        ("id", ns.id.clone()),
        ("name", ns.name.clone()),
        ("description", or_dash(&ns.description)),
        ("created", ctx.time(ns.created)),
        ("modified", ctx.time(ns.modified)),
    ])
}
