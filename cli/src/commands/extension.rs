//! `gofer extension …` (docs/cli.md, docs/extensions.md, docs/api.md#extensions).

use super::Ctx;
use crate::args::key_value;
use crate::failure::Failure;
use crate::output::{Table, details, or_dash};
use clap::Subcommand;
use futures_util::StreamExt;
use gofer_core::api::{
    CreateSubscriptionRequest, Extension, ExtensionDocumentation, ExtensionResponse,
    ExtensionsResponse, InstallExtensionRequest, OrderedMap, RegistryAuth, Subscription,
    SubscriptionResponse, SubscriptionsResponse,
};
use std::io::Write;

#[derive(Debug, Subcommand)]
pub enum ExtensionCommand {
    /// List installed extensions, enabled or not
    List,
    /// Show one extension: registration, state and documentation
    Get {
        /// Extension id
        #[arg(add = crate::complete::extensions())]
        id: String,
    },
    /// Install an extension from an image and start it (admin)
    Install {
        /// Extension id: 3-32 characters of [a-zA-Z0-9_-]
        id: String,
        /// Container image, e.g. gofer.local/extension-interval
        image: String,
        /// A setting passed to the extension (repeatable); secret-looking keys are stored
        /// encrypted
        #[arg(short = 's', long = "setting", value_name = "K=V", value_parser = key_value)]
        settings: Vec<(String, String)>,
        /// A role the extension's token gets besides extension:<id> (repeatable)
        #[arg(short = 'a', long = "additional-role", value_name = "ROLE")]
        additional_roles: Vec<String>,
        /// Registry user for a private image
        #[arg(long, requires = "registry_pass")]
        registry_user: Option<String>,
        /// Registry password for a private image
        #[arg(long, requires = "registry_user")]
        registry_pass: Option<String>,
        /// Ask for each setting the extension documents (built-in gofer.local/extension-*
        /// images); secret-looking ones are read without echo
        #[arg(long)]
        interactive: bool,
    },
    /// Stop and delete an extension with its objects, token and role (admin)
    Uninstall {
        /// Extension id
        #[arg(add = crate::complete::extensions())]
        id: String,
    },
    /// Start a disabled extension again (admin)
    Enable {
        /// Extension id
        #[arg(add = crate::complete::extensions())]
        id: String,
    },
    /// Stop an extension and disable its token; its subscriptions are kept (admin)
    Disable {
        /// Extension id
        #[arg(add = crate::complete::extensions())]
        id: String,
    },
    /// Print the extension container's log
    Logs {
        /// Extension id
        #[arg(add = crate::complete::extensions())]
        id: String,
        /// Keep following new output
        #[arg(short, long)]
        follow: bool,
    },
    /// Print the extension's own debug information (admin)
    Debug {
        /// Extension id
        #[arg(add = crate::complete::extensions())]
        id: String,
    },
}

pub async fn run(ctx: &Ctx, command: ExtensionCommand) -> anyhow::Result<()> {
    match command {
        ExtensionCommand::List => {
            let extensions = ctx.client.list_extensions(None).await?;
            let body = ExtensionsResponse { extensions };
            ctx.print(&body, || {
                let mut table = Table::new(&["id", "image", "status", "state", "started"]);
                for e in &body.extensions {
                    table.row(vec![
                        e.registration.extension_id.clone(),
                        e.registration.image.clone(),
                        e.registration.status.to_string(),
                        e.state.to_string(),
                        started(ctx, e),
                    ]);
                }
                table.render()
            });
        }
        ExtensionCommand::Get { id } => {
            let extension = ctx.client.get_extension(&id).await?;
            let body = ExtensionResponse { extension };
            ctx.print(&body, || describe(ctx, &body.extension));
        }
        ExtensionCommand::Install {
            id,
            image,
            settings,
            additional_roles,
            registry_user,
            registry_pass,
            interactive,
        } => {
            let settings = if interactive {
                let docs = match crate::std_extensions::documentation_for_image(&image) {
                    Some(docs) => Some(docs),
                    None => installed_documentation(ctx, &image).await,
                };
                ask_settings(docs, settings)?
            } else {
                settings
            };
            let request = InstallExtensionRequest {
                id,
                image,
                settings: settings.into_iter().collect::<OrderedMap>(),
                registry_auth: registry_user.map(|user| RegistryAuth {
                    user,
                    pass: registry_pass.unwrap_or_default(),
                }),
                additional_roles,
            };
            let extension = ctx.client.install_extension(&request).await?;
            let body = ExtensionResponse { extension };
            ctx.print(&body, || describe(ctx, &body.extension));
        }
        ExtensionCommand::Uninstall { id } => {
            ctx.client.uninstall_extension(&id).await?;
            ctx.done(format!("extension '{id}' uninstalled"));
        }
        ExtensionCommand::Enable { id } => {
            ctx.client.set_extension_enabled(&id, true).await?;
            ctx.done(format!("extension '{id}' enabled"));
        }
        ExtensionCommand::Disable { id } => {
            ctx.client.set_extension_enabled(&id, false).await?;
            ctx.done(format!("extension '{id}' disabled"));
        }
        ExtensionCommand::Logs { id, follow } => {
            let mut logs = ctx.client.extension_logs(&id, follow).await?;
            let mut stdout = std::io::stdout().lock();
            while let Some(chunk) = logs.next().await {
                stdout.write_all(&chunk?)?;
                stdout.flush()?;
            }
        }
        ExtensionCommand::Debug { id } => {
            let info = ctx.client.extension_debug(&id).await?;
            let body = serde_json::json!({ "info": info });
            ctx.print(&body, || format!("{info}\n"));
        }
    }
    Ok(())
}

fn started(ctx: &Ctx, e: &Extension) -> String {
    if e.started == 0 {
        "-".to_owned()
    } else {
        ctx.time(e.started)
    }
}

fn describe(ctx: &Ctx, e: &Extension) -> String {
    let r = &e.registration;
    let settings = r
        .settings
        .iter()
        .map(|s| format!("{}={}", s.key, s.value))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = details(&[
        ("id", r.extension_id.clone()),
        ("image", r.image.clone()),
        ("status", r.status.to_string()),
        ("state", e.state.to_string()),
        ("url", or_dash(&e.url)),
        ("started", started(ctx, e)),
        ("created", ctx.time(r.created)),
        ("settings", or_dash(&settings)),
        ("additional roles", or_dash(&r.additional_roles.join(", "))),
    ]);
    let docs = &e.documentation;
    for (title, list) in [
        ("Settings it reads (-s at install)", &docs.config_params),
        (
            "Subscription parameters (-s at pipeline subscribe)",
            &docs.pipeline_subscription_params,
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{title}:\n"));
        for p in list {
            let required = if p.required { " (required)" } else { "" };
            out.push_str(&format!("  {}{required}", p.key));
            if !p.documentation.is_empty() {
                out.push_str(&format!(": {}", p.documentation));
            }
            out.push('\n');
        }
    }
    if docs.config_params.is_empty() && docs.pipeline_subscription_params.is_empty() {
        out.push_str(
            "\nNo documentation yet: the extension describes its settings once it has started.\n",
        );
    }
    if !docs.body.is_empty() {
        out.push('\n');
        out.push_str(&docs.body);
        out.push('\n');
    }
    out
}

/// `gofer pipeline subscription …`.
#[derive(Debug, Subcommand)]
pub enum SubscriptionCommand {
    /// List a pipeline's subscriptions
    List {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
    },
    /// Show one subscription
    Get {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Extension id
        #[arg(add = crate::complete::extensions())]
        extension: String,
        /// Subscription id
        subscription: String,
    },
    /// Deliver a disabled subscription to its extension again
    Enable {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Extension id
        #[arg(add = crate::complete::extensions())]
        extension: String,
        /// Subscription id
        subscription: String,
    },
    /// Keep a subscription but stop its extension acting on it
    Disable {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Extension id
        #[arg(add = crate::complete::extensions())]
        extension: String,
        /// Subscription id
        subscription: String,
    },
    /// Start one run for each time a schedule (cron) would have fired in a past range, in order
    Backfill {
        /// Pipeline id
        #[arg(add = crate::complete::pipelines())]
        pipeline: String,
        /// Extension id (cron)
        #[arg(add = crate::complete::extensions())]
        extension: String,
        /// Subscription id
        subscription: String,
        /// Start of the range, included (RFC 3339, e.g. 2026-12-01T00:00:00Z)
        #[arg(long, value_name = "TIME")]
        from: String,
        /// End of the range, included (RFC 3339)
        #[arg(long, value_name = "TIME")]
        to: String,
        /// Refuse a range holding more instants than this
        #[arg(long, default_value_t = 100)]
        max: u64,
        /// Only list the instants; start nothing
        #[arg(long)]
        dry_run: bool,
    },
}

/// `gofer pipeline subscribe`.
pub async fn subscribe(
    ctx: &Ctx,
    ns: &str,
    pipeline: &str,
    extension_id: String,
    subscription_id: String,
    settings: Vec<(String, String)>,
) -> anyhow::Result<()> {
    let request = CreateSubscriptionRequest {
        extension_id,
        subscription_id,
        settings: settings.into_iter().collect::<OrderedMap>(),
    };
    let subscription = ctx
        .client
        .create_subscription(ns, pipeline, &request)
        .await?;
    let body = SubscriptionResponse { subscription };
    ctx.print(&body, || describe_subscription(ctx, &body.subscription));
    Ok(())
}

/// `gofer pipeline subscription …`.
pub async fn subscription(ctx: &Ctx, ns: &str, command: SubscriptionCommand) -> anyhow::Result<()> {
    match command {
        SubscriptionCommand::List { pipeline } => {
            let subscriptions = ctx.client.list_subscriptions(ns, &pipeline, None).await?;
            let body = SubscriptionsResponse { subscriptions };
            ctx.print(&body, || {
                let mut table = Table::new(&["extension", "subscription", "status", "settings"]);
                for s in &body.subscriptions {
                    table.row(vec![
                        s.extension_id.clone(),
                        s.subscription_id.clone(),
                        status_of(s),
                        settings_of(s),
                    ]);
                }
                table.render()
            });
        }
        SubscriptionCommand::Get {
            pipeline,
            extension,
            subscription,
        } => {
            let subscription = ctx
                .client
                .get_subscription(ns, &pipeline, &extension, &subscription)
                .await?;
            let body = SubscriptionResponse { subscription };
            ctx.print(&body, || describe_subscription(ctx, &body.subscription));
        }
        SubscriptionCommand::Enable {
            pipeline,
            extension,
            subscription,
        } => {
            ctx.client
                .set_subscription_active(ns, &pipeline, &extension, &subscription, true)
                .await?;
            let now = ctx
                .client
                .get_subscription(ns, &pipeline, &extension, &subscription)
                .await?;
            ctx.done(format!(
                "subscription '{subscription}' is {}",
                status_of(&now)
            ));
        }
        SubscriptionCommand::Disable {
            pipeline,
            extension,
            subscription,
        } => {
            ctx.client
                .set_subscription_active(ns, &pipeline, &extension, &subscription, false)
                .await?;
            ctx.done(format!("subscription '{subscription}' disabled"));
        }
        SubscriptionCommand::Backfill {
            pipeline,
            extension,
            subscription,
            from,
            to,
            max,
            dry_run,
        } => {
            let request = gofer_core::api::BackfillRequest {
                from,
                to,
                max: Some(max),
                dry_run,
            };
            let answer = ctx
                .client
                .backfill_subscription(ns, &pipeline, &extension, &subscription, &request)
                .await?;
            ctx.print(&answer, || backfill_text(&pipeline, &answer));
        }
    }
    Ok(())
}

/// `subscription backfill`'s plain output: one line per instant, then a summary.
fn backfill_text(pipeline: &str, answer: &gofer_core::api::BackfillResponse) -> String {
    let mut out = String::new();
    let mut started = 0;
    for i in &answer.instants {
        match (&i.run_id, &i.skipped) {
            (Some(run), _) => {
                started += 1;
                out.push_str(&format!("{}  run {run}\n", i.at));
            }
            (None, Some(why)) => out.push_str(&format!("{}  skipped: {why}\n", i.at)),
            (None, None) => out.push_str(&format!("{}\n", i.at)),
        }
    }
    let n = answer.instants.len();
    if answer.dry_run {
        out.push_str(&format!(
            "{n} scheduled instant(s) in the range; nothing was started (dry run)\n"
        ));
    } else {
        out.push_str(&format!(
            "started {started} run(s) of '{pipeline}' for {n} scheduled instant(s)\n"
        ));
    }
    out
}

fn status_of(s: &Subscription) -> String {
    match &s.status_reason {
        Some(reason) if !reason.description.is_empty() => {
            format!("{} ({})", s.status, reason.description)
        }
        _ => s.status.to_string(),
    }
}

fn settings_of(s: &Subscription) -> String {
    or_dash(
        &s.settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn describe_subscription(ctx: &Ctx, s: &Subscription) -> String {
    details(&[
        ("pipeline", format!("{}/{}", s.namespace_id, s.pipeline_id)),
        ("extension", s.extension_id.clone()),
        ("subscription", s.subscription_id.clone()),
        ("status", status_of(s)),
        ("settings", settings_of(s)),
        (
            "last fired",
            if s.last_fired == 0 {
                "never".to_string()
            } else {
                ctx.time(s.last_fired)
            },
        ),
        (
            "last error",
            s.last_error.clone().unwrap_or_else(|| "-".to_string()),
        ),
    ])
}

/// The settings documentation of `image` as the server learned it from an extension already
/// installed from that image (extensions document themselves when they start).
async fn installed_documentation(ctx: &Ctx, image: &str) -> Option<ExtensionDocumentation> {
    let extensions = ctx.client.list_extensions(None).await.ok()?;
    extensions
        .into_iter()
        .find(|e| e.registration.image == image && !e.documentation.config_params.is_empty())
        .map(|e| e.documentation)
}

/// `extension install --interactive`: with the image's documentation (`docs`), asks for each
/// documented setting that `given` does not already hold; without it (an image no extension has
/// been installed from yet), asks for key/value pairs until an empty key, as Gofer 0.9 did.
/// Questions go to stderr, answers come from stdin; values of secret-looking keys are not echoed
/// when stdin is a terminal. An empty answer (or the end of input) leaves an optional setting out.
fn ask_settings(
    docs: Option<ExtensionDocumentation>,
    mut given: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, Failure> {
    let mut input = std::io::stdin().lock();
    let Some(docs) = docs else {
        eprintln!(
            "This image's settings are not known yet (no extension installed from it has \
             described them). Enter each setting as a key, then its value; an empty key ends."
        );
        loop {
            eprint!("key> ");
            let key = read_answer(&mut input, false)
                .map_err(|e| Failure::invalid(format!("reading a key: {e}")))?
                .unwrap_or_default();
            let key = key.trim().to_owned();
            if key.is_empty() {
                return Ok(given);
            }
            let secret = gofer_core::api::secret_looking_setting(&key);
            eprint!("{key}{}> ", if secret { " (not echoed)" } else { "" });
            let value = read_answer(&mut input, secret)
                .map_err(|e| Failure::invalid(format!("reading {key}: {e}")))?
                .ok_or_else(|| Failure::invalid(format!("{key}: no value (stdin ended)")))?;
            given.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
            given.push((key, value));
        }
    };
    for param in docs.config_params {
        if given
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(&param.key))
        {
            continue;
        }
        let secret = gofer_core::api::secret_looking_setting(&param.key);
        loop {
            eprintln!(
                "{} ({}{}): {}",
                param.key,
                if param.required {
                    "required"
                } else {
                    "optional, enter skips"
                },
                if secret { ", not echoed" } else { "" },
                param.documentation
            );
            eprint!("> ");
            let answer = read_answer(&mut input, secret)
                .map_err(|e| Failure::invalid(format!("reading {}: {e}", param.key)))?;
            match answer {
                // The end of input skips what is optional.
                None if !param.required => break,
                None => {
                    return Err(Failure::invalid(format!(
                        "{}: no answer (stdin ended)",
                        param.key
                    )));
                }
                Some(value) if value.is_empty() && param.required => {
                    eprintln!("{} is required", param.key);
                }
                Some(value) if value.is_empty() => break,
                Some(value) => {
                    given.push((param.key.clone(), value));
                    break;
                }
            }
        }
    }
    Ok(given)
}

/// One line of `input` without its line ending; `None` at the end of input. With `hidden` and
/// a terminal, the typed characters are not shown.
fn read_answer(input: &mut impl std::io::BufRead, hidden: bool) -> std::io::Result<Option<String>> {
    let _echo_off = if hidden { EchoOff::new() } else { None };
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    if hidden {
        eprintln!();
    }
    Ok(Some(line.trim_end_matches(['\n', '\r']).to_owned()))
}

/// Turns the terminal's echo off until dropped (nothing when stdin is not a terminal).
struct EchoOff(rustix::termios::Termios);

impl EchoOff {
    fn new() -> Option<EchoOff> {
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet).ok()?;
        Some(EchoOff(saved))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.0,
        );
    }
}
