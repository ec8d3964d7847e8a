//! `gofer role …` (docs/cli.md, docs/auth.md#roles-and-permissions, docs/api.md#roles-global-secrets-system-tokens).

use super::Ctx;
use crate::failure::Failure;
use crate::output::{Table, details, or_dash};
use clap::{ArgGroup, Subcommand};
use gofer_core::api::{
    CreateRoleRequest, Permission, Role, RoleResponse, RolesResponse, UpdateRoleRequest,
};
use gofer_core::enums::Action;
use std::io::{BufRead, Write};

/// The `--permission` syntax, for help texts and errors.
const PERMISSION_SYNTAX: &str = "<resource>[,<resource>…]=<action>[,<action>…]";

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// List roles
    List,
    /// Show one role with its permissions
    Get {
        /// Role id
        id: String,
    },
    /// Create a role (admin)
    Create {
        /// Role id: 3-32 characters of [a-zA-Z0-9_-]
        id: String,
        /// What the role is for
        #[arg(long)]
        description: Option<String>,
        /// A permission, e.g. "namespaces:team-.*,pipelines:.*,runs=read,write"; repeatable.
        /// Resources: all, configs, deployments, events, extensions[:regex],
        /// namespaces[:regex], objects, permissions, pipelines[:regex], runs, secrets,
        /// subscriptions, system, task_executions, tokens. Actions: read, write, delete
        #[arg(long = "permission", value_name = "PERMISSION", value_parser = parse_permission)]
        permissions: Vec<Permission>,
        /// Ask for the permissions on the terminal, one per line
        #[arg(long)]
        interactive: bool,
    },
    /// Change a role's description or replace its permissions (admin; not system roles)
    #[command(group(ArgGroup::new("fields").args(["description", "permissions"]).required(true).multiple(true)))]
    Update {
        /// Role id
        id: String,
        /// New description
        #[arg(long)]
        description: Option<String>,
        /// The new permissions (replace all of them); repeatable, syntax as for create
        #[arg(long = "permission", value_name = "PERMISSION", value_parser = parse_permission)]
        permissions: Vec<Permission>,
    },
    /// Delete a role; tokens holding it simply lose it (admin; not system roles)
    Delete {
        /// Role id
        id: String,
    },
}

/// `res1,res2=act1,act2` → a permission. The last `=` separates resources from actions, so
/// target regexes may contain `=`; resources are split on `,`. The server checks resource kinds
/// and regexes (400, exit 7).
pub fn parse_permission(text: &str) -> Result<Permission, String> {
    let (resources, actions) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("expected {PERMISSION_SYNTAX}, got '{text}'"))?;
    let resources: Vec<String> = resources
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from)
        .collect();
    if resources.is_empty() {
        return Err(format!(
            "'{text}' names no resource; expected {PERMISSION_SYNTAX}"
        ));
    }
    let actions = actions
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            Action::parse(a).ok_or_else(|| {
                format!(
                    "unknown action '{a}' in '{text}'; expected {}",
                    Action::expected()
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if actions.is_empty() {
        return Err(format!(
            "'{text}' names no action; expected {PERMISSION_SYNTAX}"
        ));
    }
    Ok(Permission { resources, actions })
}

/// Reads permissions from stdin, one per line, until an empty line or end of input.
fn ask_permissions() -> anyhow::Result<Vec<Permission>> {
    let mut out = Vec::new();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        eprint!("permission ({PERMISSION_SYNTAX}; empty line to finish): ");
        std::io::stderr().flush().ok();
        let Some(line) = lines.next() else {
            break;
        };
        let line = line?;
        if line.trim().is_empty() {
            break;
        }
        match parse_permission(line.trim()) {
            Ok(p) => out.push(p),
            Err(e) => eprintln!("{e}"),
        }
    }
    Ok(out)
}

pub async fn run(ctx: &Ctx, command: RoleCommand) -> anyhow::Result<()> {
    match command {
        RoleCommand::List => {
            let roles = ctx.client.list_roles(None).await?;
            let body = RolesResponse { roles };
            ctx.print(&body, || {
                let mut table = Table::new(&["id", "system", "permissions", "description"]);
                for r in &body.roles {
                    table.row(vec![
                        r.id.clone(),
                        if r.system_role { "yes" } else { "no" }.into(),
                        r.permissions.len().to_string(),
                        or_dash(&r.description),
                    ]);
                }
                table.render()
            });
        }
        RoleCommand::Get { id } => {
            let role = ctx.client.get_role(&id).await?;
            let body = RoleResponse { role };
            ctx.print(&body, || describe(&body.role));
        }
        RoleCommand::Create {
            id,
            description,
            mut permissions,
            interactive,
        } => {
            if interactive {
                permissions.extend(ask_permissions()?);
            }
            if permissions.is_empty() {
                return Err(Failure::invalid(format!(
                    "a role needs at least one --permission \"{PERMISSION_SYNTAX}\" (or --interactive)"
                ))
                .into());
            }
            let request = CreateRoleRequest {
                id,
                description: description.unwrap_or_default(),
                permissions,
            };
            let role = ctx.client.create_role(&request).await?;
            let body = RoleResponse { role };
            ctx.print(&body, || format!("role '{}' created\n", body.role.id));
        }
        RoleCommand::Update {
            id,
            description,
            permissions,
        } => {
            let request = UpdateRoleRequest {
                description,
                permissions: (!permissions.is_empty()).then_some(permissions),
            };
            let role = ctx.client.update_role(&id, &request).await?;
            let body = RoleResponse { role };
            ctx.print(&body, || format!("role '{}' updated\n", body.role.id));
        }
        RoleCommand::Delete { id } => {
            ctx.client.delete_role(&id).await?;
            ctx.done(format!("role '{id}' deleted"));
        }
    }
    Ok(())
}

fn describe(role: &Role) -> String {
    let permissions: Vec<String> = role
        .permissions
        .iter()
        .map(|p| {
            let actions: Vec<&str> = p.actions.iter().map(|a| a.as_str()).collect();
            format!("{}={}", p.resources.join(","), actions.join(","))
        })
        .collect();
    details(&[
        ("id", role.id.clone()),
        ("description", or_dash(&role.description)),
        (
            "system role",
            if role.system_role { "yes" } else { "no" }.into(),
        ),
        ("permissions", or_dash(&permissions.join("\n"))),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_from_the_flag_syntax() {
        let p = parse_permission("namespaces:team-.*,pipelines:.*,runs=read,write").unwrap();
        assert_eq!(p.resources, ["namespaces:team-.*", "pipelines:.*", "runs"]);
        assert_eq!(p.actions, [Action::Read, Action::Write]);
        // The last '=' splits, so a target may contain '='.
        let p = parse_permission("pipelines:a=b=DELETE").unwrap();
        assert_eq!(p.resources, ["pipelines:a=b"]);
        assert_eq!(p.actions, [Action::Delete]);
        assert!(parse_permission("runs").unwrap_err().contains("expected"));
        assert!(
            parse_permission("runs=fly")
                .unwrap_err()
                .contains("unknown action 'fly'")
        );
        assert!(
            parse_permission("=read")
                .unwrap_err()
                .contains("no resource")
        );
        assert!(parse_permission("runs=").unwrap_err().contains("no action"));
    }
}
