//! Drawing a run's task graph and its narrow-terminal tree.

use crate::dag::{BOX_H, BOX_W, GAP_X, Layout, tree};
use crate::draw::{duration, span_ms, task_glyph, task_word};
use crate::model::App;
use gofer_core::api::TaskExecution;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

/// Draws `text` at virtual `(x, y)` shifted by `offset`, clipped to `area`.
pub(crate) fn put(
    buf: &mut Buffer,
    area: Rect,
    offset: (u16, u16),
    x: u16,
    y: u16,
    text: &str,
    style: Style,
) {
    if y < offset.1 || x < offset.0 {
        // Partially left of the view: draw the visible suffix.
        if y < offset.1 {
            return;
        }
        let skip = usize::from(offset.0 - x);
        let visible: String = text.chars().skip(skip).collect();
        if !visible.is_empty() {
            put(buf, area, offset, offset.0, y, &visible, style);
        }
        return;
    }
    let (sx, sy) = (area.x + (x - offset.0), area.y + (y - offset.1));
    if sy >= area.bottom() || sx >= area.right() {
        return;
    }
    let max = usize::from(area.right() - sx);
    buf.set_stringn(sx, sy, text, max, style);
}

/// Draws a DAG pane: boxes in columns by depth with box-drawing edges.
/// Scrolls so the selected box is always visible.
pub fn render_dag(
    app: &App,
    tasks: &[TaskExecution],
    layout: &Layout,
    selected: Option<&str>,
    buf: &mut Buffer,
    area: Rect,
) {
    let theme = &app.settings.config.theme;
    if area.width == 0 || area.height == 0 {
        return;
    }
    let (w, h) = layout.size();
    // Scroll to keep the selected box in view, centred when it is not.
    let offset = match selected.and_then(|s| layout.origin(s)) {
        Some((x, y)) => {
            let ox = if x + BOX_W <= area.width {
                0
            } else {
                (x + BOX_W)
                    .saturating_sub(area.width)
                    .min(w.saturating_sub(area.width))
            };
            let oy = if y + BOX_H <= area.height {
                0
            } else {
                (y + BOX_H + 1)
                    .saturating_sub(area.height)
                    .min(h.saturating_sub(area.height))
            };
            (ox, oy)
        }
        None => (0, 0),
    };
    // Edges first, as a grid of line directions merged into box-drawing characters.
    const UP: u8 = 1;
    const DOWN: u8 = 2;
    const LEFT: u8 = 4;
    const RIGHT: u8 = 8;
    let mut grid: std::collections::HashMap<(u16, u16), u8> = std::collections::HashMap::new();
    let mut mark = |x: u16, y: u16, bits: u8| *grid.entry((x, y)).or_default() |= bits;
    for (parent, child) in &layout.edges {
        let (Some((px, py)), Some((cx, cy))) = (layout.origin(parent), layout.origin(child)) else {
            continue;
        };
        let (y1, y2) = (py + BOX_H / 2, cy + BOX_H / 2);
        let x1 = px + BOX_W; // first cell right of the parent box
        let xm = cx - GAP_X / 2; // the bend, in the gap before the child's column
        let x2 = cx - 1; // last cell before the child box
        for x in x1..xm {
            mark(x, y1, LEFT | RIGHT);
        }
        if y1 == y2 {
            mark(xm, y1, LEFT | RIGHT);
        } else {
            let (top, bottom) = (y1.min(y2), y1.max(y2));
            mark(xm, y1, LEFT | if y2 > y1 { DOWN } else { UP });
            mark(xm, y2, RIGHT | if y2 > y1 { UP } else { DOWN });
            for y in top + 1..bottom {
                mark(xm, y, UP | DOWN);
            }
        }
        for x in xm + 1..=x2 {
            mark(x, y2, LEFT | RIGHT);
        }
    }
    let edge_style = Style::new().fg(Color::DarkGray);
    for ((x, y), bits) in &grid {
        let c = match *bits {
            b if b == LEFT | RIGHT => "─",
            b if b == UP | DOWN => "│",
            b if b == LEFT | DOWN => "┐",
            b if b == LEFT | UP => "┘",
            b if b == RIGHT | DOWN => "┌",
            b if b == RIGHT | UP => "└",
            b if b == LEFT | RIGHT | DOWN => "┬",
            b if b == LEFT | RIGHT | UP => "┴",
            b if b == UP | DOWN | RIGHT => "├",
            b if b == UP | DOWN | LEFT => "┤",
            b if b == UP | DOWN | LEFT | RIGHT => "┼",
            b if b & (LEFT | RIGHT) != 0 => "─",
            _ => "│",
        };
        put(buf, area, offset, *x, *y, c, edge_style);
    }
    // Each child's incoming line ends in an arrowhead coloured by what it waits for: green when
    // it runs on its parents' success, red on their failure, gray on either (yellow when its
    // parents' conditions differ).
    for task in tasks {
        let parents: Vec<&String> = layout
            .edges
            .iter()
            .filter(|(_, child)| *child == task.task_id)
            .map(|(parent, _)| parent)
            .collect();
        let (Some(first), Some((cx, cy))) = (parents.first(), layout.origin(&task.task_id)) else {
            continue;
        };
        let condition = |p: &String| task.task.depends_on.get(p).copied();
        let colour = if parents.iter().all(|p| condition(p) == condition(first)) {
            match condition(first) {
                Some(gofer_core::enums::RequiredParentStatus::Success) => theme.successful,
                Some(gofer_core::enums::RequiredParentStatus::Failure) => theme.failed,
                _ => Color::Gray,
            }
        } else {
            theme.waiting
        };
        let y = cy + BOX_H / 2;
        let style = Style::new().fg(colour);
        for x in cx - GAP_X / 2 + 1..cx - 1 {
            put(buf, area, offset, x, y, "─", style);
        }
        put(buf, area, offset, cx - 1, y, "▸", style);
    }
    // Boxes over the edges (an edge that skips a column runs behind the boxes it passes).
    for task in tasks {
        let Some((x, y)) = layout.origin(&task.task_id) else {
            continue;
        };
        let (glyph, colour) = task_glyph(task, theme);
        let is_selected = selected == Some(task.task_id.as_str());
        let border = if is_selected {
            Style::new().fg(colour).add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(colour)
        };
        let fill = if is_selected {
            Style::new().bg(theme.selected)
        } else {
            Style::new()
        };
        let inner = usize::from(BOX_W - 2);
        let (tl, tr, bl, br, hz, vt) = if is_selected {
            ("┏", "┓", "┗", "┛", "━", "┃")
        } else {
            ("╭", "╮", "╰", "╯", "─", "│")
        };
        put(
            buf,
            area,
            offset,
            x,
            y,
            &format!("{tl}{}{tr}", hz.repeat(inner)),
            border,
        );
        put(
            buf,
            area,
            offset,
            x,
            y + BOX_H - 1,
            &format!("{bl}{}{br}", hz.repeat(inner)),
            border,
        );
        for row in 1..BOX_H - 1 {
            put(buf, area, offset, x, y + row, vt, border);
            put(buf, area, offset, x + BOX_W - 1, y + row, vt, border);
            put(buf, area, offset, x + 1, y + row, &" ".repeat(inner), fill);
        }
        // Some glyphs (⏳) are two cells wide: the id starts after the glyph's real width.
        let glyph_w = Span::raw(glyph).width() as u16;
        let id = truncate(&task.task_id, inner - 2 - usize::from(glyph_w));
        put(buf, area, offset, x + 2, y + 1, glyph, fill.fg(colour));
        put(
            buf,
            area,
            offset,
            x + 3 + glyph_w,
            y + 1,
            &id,
            fill.add_modifier(Modifier::BOLD),
        );
        let mut second = task_word(task);
        if let Some(ms) = span_ms(app, task.started, task.ended) {
            second.push_str(&format!(" {}", duration(ms)));
        }
        let total = task.task.retries.count + 1;
        if total > 1 {
            second.push_str(&format!(" {}/{total}", task.attempts.len().max(1)));
        }
        put(
            buf,
            area,
            offset,
            x + 2,
            y + 2,
            &truncate(&second, inner - 2),
            fill.fg(Color::Gray),
        );
    }
    // Where the canvas continues beyond the pane.
    if offset.0 > 0 || offset.1 > 0 || w > area.width + offset.0 || h > area.height + offset.1 {
        let more = format!(" {}/{} ", app.selected_index() + 1, tasks.len());
        let x = area.right().saturating_sub(more.chars().count() as u16);
        buf.set_string(x, area.y, more, Style::new().fg(Color::Gray));
    }
}

pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The narrow-terminal fallback: an indented tree (`├─ ✔ build 12s`).
pub fn render_tree(
    app: &App,
    tasks: &[TaskExecution],
    layout: &Layout,
    selected: Option<&str>,
    buf: &mut Buffer,
    area: Rect,
) {
    let theme = &app.settings.config.theme;
    let lines = tree(tasks, layout);
    let index = selected
        .and_then(|s| lines.iter().position(|l| l.id == s))
        .unwrap_or(0);
    let height = usize::from(area.height);
    let first = (index + 1).saturating_sub(height);
    for (row, line) in lines.iter().skip(first).take(height).enumerate() {
        let Some(task) = tasks.iter().find(|t| t.task_id == line.id) else {
            continue;
        };
        let (glyph, colour) = task_glyph(task, theme);
        let mut prefix = String::new();
        for guide in &line.guides {
            prefix.push_str(if *guide { "│  " } else { "   " });
        }
        prefix.push_str(if line.last { "└─ " } else { "├─ " });
        let mut spans = vec![
            Span::styled(prefix, Style::new().fg(Color::DarkGray)),
            Span::styled(format!("{glyph} "), Style::new().fg(colour)),
            Span::styled(line.id.clone(), Style::new().add_modifier(Modifier::BOLD)),
        ];
        let mut rest = String::new();
        if let Some(ms) = span_ms(app, task.started, task.ended) {
            rest.push_str(&format!(" {}", duration(ms)));
        } else {
            rest.push_str(&format!(" {}", task_word(task)));
        }
        if !line.also_after.is_empty() {
            rest.push_str(&format!("  (also after {})", line.also_after.join(", ")));
        }
        spans.push(Span::styled(rest, Style::new().fg(Color::Gray)));
        let mut l = Line::from(spans);
        if selected == Some(line.id.as_str()) {
            l = l.style(Style::new().bg(theme.selected));
        }
        let y = area.y + row as u16;
        Widget::render(l, Rect::new(area.x, y, area.width, 1), buf);
    }
}
