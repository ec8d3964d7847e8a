//! The namespaces screen: the list and its drawing.

use crate::draw::{ago, placeholder, table};
use crate::model::App;
use gofer_core::api::Namespace;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::Row;

impl App {
    pub fn visible_namespaces(&self) -> Vec<&Namespace> {
        let filter = &self.frame().filter;
        self.namespaces.ready().map_or(Vec::new(), |all| {
            all.iter()
                .filter(|n| {
                    Self::matches(filter, &format!("{} {} {}", n.id, n.name, n.description))
                })
                .collect()
        })
    }
}

pub(crate) fn render_namespaces(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.settings.config.theme;
    let rows = app.visible_namespaces();
    if placeholder(
        frame,
        area,
        &app.namespaces,
        rows.is_empty(),
        "namespaces",
        "no namespaces match",
        theme,
    ) {
        return;
    }
    let rows = rows
        .into_iter()
        .map(|n| {
            Row::new(vec![
                n.id.clone(),
                n.name.clone(),
                n.description.clone(),
                ago(app, n.created),
            ])
        })
        .collect();
    table(
        app,
        frame,
        area,
        vec!["ID", "NAME", "DESCRIPTION", "CREATED"],
        vec![
            Constraint::Length(20),
            Constraint::Length(20),
            Constraint::Fill(1),
            Constraint::Length(14),
        ],
        rows,
    );
}
