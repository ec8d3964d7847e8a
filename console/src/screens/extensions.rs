//! The extensions screens: the list (state, the supervisor's restarts and next retry, status),
//! and one extension's tabs — its container log (the log view's state and drawing, reused), its
//! debug info, its subscriptions across namespaces, and its documented settings.

use crate::config::Theme;
use crate::draw::{ago, duration, placeholder, table};
use crate::model::{App, DebugInfo, Effect, ExtTab, Load, LogView, Screen, load};
use gofer_core::api::{Extension, Subscription};
use gofer_core::enums::{ExtensionState, ExtensionStatus, SubscriptionStatus};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Wrap};

impl App {
    pub fn visible_extensions(&self) -> Vec<&Extension> {
        let filter = &self.frame().filter;
        self.extensions.ready().map_or(Vec::new(), |all| {
            all.iter()
                .filter(|e| {
                    Self::matches(
                        filter,
                        &format!(
                            "{} {} {} {}",
                            e.registration.extension_id,
                            e.registration.image,
                            e.state,
                            e.registration.status
                        ),
                    )
                })
                .collect()
        })
    }

    /// The subscriptions tab's rows, filtered by `/`.
    pub fn visible_subscriptions(&self) -> Vec<&Subscription> {
        let filter = &self.frame().filter;
        self.ext_subscriptions.ready().map_or(Vec::new(), |all| {
            all.iter()
                .filter(|s| {
                    Self::matches(
                        filter,
                        &format!(
                            "{} {} {} {}",
                            s.namespace_id, s.pipeline_id, s.subscription_id, s.status
                        ),
                    )
                })
                .collect()
        })
    }

    /// Whether the visible screen is a log (a task's, or an extension's logs tab): the log keys
    /// apply.
    pub fn showing_logs(&self) -> bool {
        match self.screen() {
            Screen::Logs { .. } => true,
            Screen::Extension { .. } => self.ext_tab == ExtTab::Logs,
            _ => false,
        }
    }

    /// The effects that fill the extension view's current tab.
    pub(crate) fn ext_tab_effects(&mut self) -> Vec<crate::model::Effect> {
        let Screen::Extension { id } = self.screen().clone() else {
            return Vec::new();
        };
        match self.ext_tab {
            ExtTab::Logs => {
                self.logs = LogView::new(self.settings.log_capacity);
                self.logs.generation = self.next_generation();
                self.logs.state = crate::model::LogState::Streaming;
                vec![Effect::OpenExtensionLogs {
                    id,
                    generation: self.logs.generation,
                }]
            }
            ExtTab::Debug => vec![Effect::LoadExtensionDebug { id }],
            ExtTab::Subscriptions => vec![Effect::LoadExtensionSubscriptions { id }],
            // The documentation and settings come with the extension itself.
            ExtTab::Settings => vec![Effect::LoadExtensions],
        }
    }

    /// `tab` on the extension view: the next tab (leaving the logs stops their stream).
    pub(crate) fn next_ext_tab(&mut self) -> Vec<Effect> {
        let leaving_logs = self.ext_tab == ExtTab::Logs;
        self.ext_tab = self.ext_tab.next();
        self.frame_mut().selected = 0;
        let mut effects = Vec::new();
        if leaving_logs {
            self.logs.generation += 1;
            effects.push(Effect::StopLogs);
        }
        effects.extend(self.ext_tab_effects());
        effects
    }

    pub(crate) fn on_extension_debug(&mut self, id: String, result: Result<String, String>) {
        if matches!(self.screen(), Screen::Extension { id: shown } if *shown == id) {
            self.ext_debug = Load::Ready(DebugInfo {
                result,
                fetched: self.now_ms,
            });
        }
    }

    pub(crate) fn on_extension_subscriptions(
        &mut self,
        id: String,
        result: Result<Vec<Subscription>, String>,
    ) {
        if matches!(self.screen(), Screen::Extension { id: shown } if *shown == id) {
            self.ext_subscriptions = load(result);
            self.clamp_selection();
        }
    }

    /// The extension shown by the extension view, when the list has it.
    pub fn shown_extension(&self) -> Option<&Extension> {
        let Screen::Extension { id } = self.screen() else {
            return None;
        };
        self.extensions
            .ready()?
            .iter()
            .find(|e| e.registration.extension_id == *id)
    }
}

/// State of an extension in words: `running`, or `exited · restarted 3× · retry in 8s`.
pub fn state_text(e: &Extension, now_ms: u64) -> String {
    let mut text = e.state.to_string();
    if e.registration.status == ExtensionStatus::Disabled {
        return "disabled".into();
    }
    if e.restarts > 0 {
        text.push_str(&format!(" · restarted {}×", e.restarts));
    }
    if e.retry_at > 0 && e.state != ExtensionState::Running {
        text.push_str(&format!(
            " · retry in {}",
            duration(e.retry_at.saturating_sub(now_ms))
        ));
    }
    text
}

fn state_colour(e: &Extension, theme: &Theme) -> Color {
    match (e.registration.status, e.state) {
        (ExtensionStatus::Disabled, _) => theme.skipped,
        (_, ExtensionState::Running) if e.restarts == 0 => theme.successful,
        (_, ExtensionState::Running) => theme.waiting,
        (_, ExtensionState::Processing) => theme.waiting,
        _ => theme.failed,
    }
}

pub(crate) fn render_extensions(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let rows = app.visible_extensions();
    let empty = if app.frame().filter.is_empty() {
        "no extensions installed: gofer extension install <id> <image>"
    } else {
        "no extensions match the filter (esc clears it)"
    };
    if placeholder(
        frame,
        area,
        &app.extensions,
        rows.is_empty(),
        "extensions",
        empty,
        theme,
    ) {
        return;
    }
    // Below the list: the selected extension in full (its last error does not fit a column).
    let [list, detail] = Layout::vertical([Constraint::Fill(1), Constraint::Length(3)]).areas(area);
    if let Some(e) = rows.get(app.frame().selected) {
        let mut lines = vec![Line::from(vec![
            Span::styled(
                format!("{} ", e.registration.extension_id),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                state_text(e, app.now_ms),
                Style::new().fg(state_colour(e, theme)),
            ),
            Span::styled(
                if e.url.is_empty() {
                    String::new()
                } else {
                    format!(" · {}", e.url)
                },
                Style::new().fg(Color::Gray),
            ),
        ])];
        if !e.last_error.is_empty() {
            lines.push(Line::from(Span::styled(
                format!("last error: {}", e.last_error),
                Style::new().fg(if e.state == ExtensionState::Running {
                    Color::Gray
                } else {
                    theme.error
                }),
            )));
        }
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(Block::new().borders(Borders::TOP)),
            detail,
        );
    }
    let area = list;
    let rows = rows
        .into_iter()
        .map(|e| {
            let state = vec![Span::styled(
                state_text(e, app.now_ms),
                Style::new().fg(state_colour(e, theme)),
            )];
            Row::new(vec![
                Line::from(e.registration.extension_id.clone()),
                Line::from(e.registration.image.clone()),
                Line::from(state),
                Line::from(e.registration.status.to_string()),
                Line::from(ago(app, e.registration.created)),
                Line::from(ago(app, e.started)),
            ])
        })
        .collect();
    table(
        app,
        frame,
        area,
        vec!["ID", "IMAGE", "STATE", "STATUS", "INSTALLED", "STARTED"],
        vec![
            Constraint::Length(22),
            Constraint::Fill(1),
            Constraint::Length(36),
            Constraint::Length(9),
            Constraint::Length(11),
            Constraint::Length(11),
        ],
        rows,
    );
}

pub(crate) fn render_extension(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let Screen::Extension { id } = app.screen() else {
        return;
    };
    let [head, body] = Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]).areas(area);
    let mut spans = vec![Span::styled(
        format!(" {id} "),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if let Some(e) = app.shown_extension() {
        spans.push(Span::styled(
            format!("{} ", state_text(e, app.now_ms)),
            Style::new().fg(state_colour(e, theme)),
        ));
    }
    for tab in ExtTab::ALL {
        let style = if tab == app.ext_tab {
            Style::new().bg(theme.selected).add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(Color::Gray)
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(format!(" {} ", tab.name()), style));
    }
    spans.push(Span::styled(
        "  (tab: next)",
        Style::new().fg(Color::DarkGray),
    ));
    frame.render_widget(Line::from(spans), head);
    match app.ext_tab {
        ExtTab::Logs => crate::screens::logs::render_logs(app, frame, body),
        ExtTab::Debug => render_debug(app, frame, body),
        ExtTab::Subscriptions => render_subscriptions(app, frame, body),
        ExtTab::Settings => render_settings(app, frame, body),
    }
}

fn render_debug(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let (title, text, style) = match &app.ext_debug {
        Load::Loading => (
            " debug ".to_string(),
            "asking the extension…".to_string(),
            Style::new().fg(Color::Gray),
        ),
        Load::Failed(e) | Load::Ready(DebugInfo { result: Err(e), .. }) => (
            " debug · r asks again ".to_string(),
            format!("the extension's debug info is unavailable: {e}"),
            Style::new().fg(theme.error),
        ),
        Load::Ready(DebugInfo {
            result: Ok(text),
            fetched,
        }) => (
            format!(" debug · fetched {} · r refreshes ", ago(app, *fetched)),
            text.clone(),
            Style::new(),
        ),
    };
    frame.render_widget(
        Paragraph::new(text)
            .style(style)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::TOP).title(title)),
        area,
    );
}

fn render_subscriptions(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let rows = app.visible_subscriptions();
    if placeholder(
        frame,
        area,
        &app.ext_subscriptions,
        rows.is_empty(),
        "subscriptions",
        "no pipeline subscribes to this extension: gofer pipeline subscribe <p> <extension> <id> -s KEY=VALUE",
        theme,
    ) {
        return;
    }
    // Below the list: the selected subscription's settings and reason in full.
    let [list, detail] = Layout::vertical([Constraint::Fill(1), Constraint::Length(4)]).areas(area);
    if let Some(s) = rows.get(app.frame().selected) {
        let settings = s
            .settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut lines = vec![Line::from(format!(
            "{}/{} {}: {}",
            s.namespace_id,
            s.pipeline_id,
            s.subscription_id,
            if settings.is_empty() {
                "no settings"
            } else {
                &settings
            }
        ))];
        if let Some(r) = &s.status_reason {
            lines.push(Line::from(Span::styled(
                format!("{}: {}", r.reason, r.description),
                Style::new().fg(theme.error),
            )));
        }
        if let Some(e) = &s.last_error {
            lines.push(Line::from(Span::styled(
                format!("last firing failed: {e}"),
                Style::new().fg(theme.error),
            )));
        }
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(Block::new().borders(Borders::TOP)),
            detail,
        );
    }
    let area = list;
    let rows = rows
        .into_iter()
        .map(|s| {
            let colour = match s.status {
                SubscriptionStatus::Active => theme.successful,
                SubscriptionStatus::Disabled => theme.skipped,
                _ => theme.failed,
            };
            let settings = s
                .settings
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            let why = match (&s.status_reason, &s.last_error) {
                (Some(r), _) => format!("{}: {}", r.reason, r.description),
                (None, Some(e)) => format!("last firing failed: {e}"),
                (None, None) if s.last_fired > 0 => format!("fired {}", ago(app, s.last_fired)),
                _ => "—".into(),
            };
            Row::new(vec![
                Line::from(format!("{}/{}", s.namespace_id, s.pipeline_id)),
                Line::from(s.subscription_id.clone()),
                Line::from(settings),
                Line::from(Span::styled(s.status.to_string(), Style::new().fg(colour))),
                Line::from(why),
            ])
        })
        .collect();
    table(
        app,
        frame,
        area,
        vec![
            "PIPELINE",
            "SUBSCRIPTION",
            "SETTINGS",
            "STATUS",
            "WHY / LAST FIRED",
        ],
        vec![
            Constraint::Length(32),
            Constraint::Length(14),
            Constraint::Fill(1),
            Constraint::Length(9),
            Constraint::Fill(1),
        ],
        rows,
    );
}

fn render_settings(app: &App, frame: &mut Frame, area: Rect) {
    let Some(e) = app.shown_extension() else {
        placeholder(
            frame,
            area,
            &app.extensions,
            true,
            "the extension",
            "the extension is not installed any more",
            &app.settings.config.theme,
        );
        return;
    };
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let gray = Style::new().fg(Color::Gray);
    let mut lines = vec![Line::from(Span::styled(
        "configured (install settings)",
        bold,
    ))];
    if e.registration.settings.is_empty() {
        lines.push(Line::from(Span::styled("  none", gray)));
    }
    for v in &e.registration.settings {
        // The API masks secret-looking values; references stay as written.
        lines.push(Line::from(format!("  {} = {}", v.key, v.value)));
    }
    let doc = &e.documentation;
    for (title, params) in [
        ("settings it documents", &doc.config_params),
        (
            "subscription parameters it documents",
            &doc.pipeline_subscription_params,
        ),
    ] {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(title, bold)));
        if params.is_empty() {
            lines.push(Line::from(Span::styled("  none documented", gray)));
        }
        for p in params {
            lines.push(Line::from(vec![
                Span::raw(format!("  {}", p.key)),
                Span::styled(
                    if p.required { " (required)" } else { "" },
                    Style::new().fg(app.settings.config.theme.waiting),
                ),
                Span::styled(format!(" — {}", p.documentation), gray),
            ]));
        }
    }
    if !doc.body.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled("about", bold)));
        lines.push(Line::from(doc.body.clone()));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::TOP).title(" settings ")),
        area,
    );
}
