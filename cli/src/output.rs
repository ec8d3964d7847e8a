//! Plain and JSON output (docs/cli.md#global-flags): aligned tables and `key: value` blocks for people, the API
//! wire types unchanged for `--output json`.

use serde::Serialize;

/// Column-aligned rows under an upper-case header; columns are separated by two spaces and the
/// last column is not padded.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_ascii_uppercase()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty, extra cells are ignored. Control characters in
    /// cells are shown escaped (see [`sanitize`]).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| sanitize(c)).collect());
    }

    /// The rendered table, ending in a newline.
    pub fn render(&self) -> String {
        let cell =
            |row: &Vec<String>, i: usize| row.get(i).map(String::as_str).unwrap_or("").to_string();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, width) in widths.iter_mut().enumerate() {
                *width = (*width).max(cell(row, i).chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let text = cell(row, i);
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(&text);
                line.extend(std::iter::repeat_n(' ', width - text.chars().count()));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key: value` lines with the values aligned.
pub fn details(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    let mut out = String::new();
    for (key, value) in pairs {
        let label = format!("{key}:");
        let value = sanitize(value);
        out.push_str(format!("{label:<width$}  {value}").trim_end());
        out.push('\n');
    }
    out
}

/// Pretty JSON of a wire type, with a trailing newline.
pub fn json<T: Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("wire types always serialise");
    text.push('\n');
    text
}

/// Stored text as it may be printed to a terminal: control characters (escape sequences, line
/// breaks, C1 codes) are shown escaped, e.g. `\u{1b}[2J`, so stored data can never move the
/// cursor, clear the screen or forge lines of output.
pub fn sanitize(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `""` shown as `-` so that empty cells stay visible.
pub fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_string()
    } else {
        text.to_string()
    }
}

/// Whether to colour stdout: a terminal, and `NO_COLOR` unset.
pub fn colour() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none()
}

/// The changes of a config diff, one line each: `+ task` added, `- task` removed, `~` a changed
/// pipeline field or task with its fields below as `field: old → new` (green, red and yellow
/// when `colour`).
pub fn config_diff_lines(d: &gofer_core::api::ConfigDiff, colour: bool) -> String {
    use gofer_core::diff::LineKind;
    let mut out = String::new();
    for (kind, text) in gofer_core::diff::lines(d) {
        let code = match kind {
            LineKind::Added => Some("32"),
            LineKind::Removed => Some("31"),
            LineKind::Changed => Some("33"),
            LineKind::Detail => None,
        };
        match code {
            Some(code) if colour => out.push_str(&format!("\x1b[{code}m{text}\x1b[0m")),
            _ => out.push_str(&text),
        }
        out.push('\n');
    }
    out
}

/// An event as one line of JSON (the wire type unchanged).
pub fn json_line(event: &gofer_core::api::Event) -> String {
    serde_json::to_string(event).expect("wire types always serialise")
}

/// Writes `text` to stdout. Every result the CLI prints goes through here or [`println`]
/// (the workspace's `print_stdout` lint keeps it that way), so stdout carries only results and
/// everything else (progress, questions, warnings) goes to stderr.
#[allow(clippy::print_stdout)]
pub fn print(text: impl std::fmt::Display) {
    print!("{text}");
}

/// [`print`] and a newline.
#[allow(clippy::print_stdout)]
pub fn println(text: impl std::fmt::Display) {
    println!("{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(&["id", "name"]);
        t.row(vec!["default".into(), "Default".into()]);
        t.row(vec!["a".into(), "Ä longer name".into()]);
        assert_eq!(
            t.render(),
            "ID       NAME\ndefault  Default\na        Ä longer name\n"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(sanitize("plain Ä"), "plain Ä");
        assert_eq!(sanitize("\u{1b}[2Ja\nb\u{9b}"), "\\u{1b}[2Ja\\nb\\u{9b}");
        let mut t = Table::new(&["user"]);
        t.row(vec!["\u{1b}[2J".into()]);
        assert_eq!(t.render(), "USER\n\\u{1b}[2J\n");
        assert_eq!(details(&[("user", "a\nb".into())]), "user:  a\\nb\n");
    }

    #[test]
    fn details_align_values() {
        assert_eq!(
            details(&[("id", "x".into()), ("created", "".into())]),
            "id:       x\ncreated:\n"
        );
    }
}
