//! Keymap and theme (docs/cli.md#console): data-driven, defaults shipped in
//! `assets/console.toml`, overridable entry by entry.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use std::collections::HashMap;
use std::str::FromStr;

/// The shipped defaults (the file itself, so the docs and the binary cannot disagree).
pub const DEFAULTS: &str = include_str!("../../assets/console.toml");

/// What a key press asks for. Which one a key means is the keymap's business; what it does in
/// the current view is `App::update`'s (in `app.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Up,
    Down,
    Left,
    Right,
    Top,
    Bottom,
    PageDown,
    PageUp,
    Open,
    Back,
    Quit,
    ForceQuit,
    Command,
    Filter,
    LogFilter,
    NextMatch,
    PrevMatch,
    Help,
    Follow,
    Pause,
    Wrap,
    Timeline,
    Tab,
    Start,
    Cancel,
    Enable,
    Disable,
    Logs,
    Refresh,
    Details,
    Promote,
    Abort,
    Extensions,
    Diagnose,
    Retry,
}

impl Action {
    /// Every action with its config name, in help order.
    pub const ALL: [(Action, &'static str); 35] = [
        (Action::Up, "up"),
        (Action::Down, "down"),
        (Action::Left, "left"),
        (Action::Right, "right"),
        (Action::Top, "top"),
        (Action::Bottom, "bottom"),
        (Action::PageDown, "page_down"),
        (Action::PageUp, "page_up"),
        (Action::Open, "open"),
        (Action::Back, "back"),
        (Action::Quit, "quit"),
        (Action::ForceQuit, "force_quit"),
        (Action::Command, "command"),
        (Action::Filter, "filter"),
        (Action::LogFilter, "log_filter"),
        (Action::NextMatch, "next_match"),
        (Action::PrevMatch, "prev_match"),
        (Action::Help, "help"),
        (Action::Follow, "follow"),
        (Action::Pause, "pause"),
        (Action::Wrap, "wrap"),
        (Action::Timeline, "timeline"),
        (Action::Tab, "tab"),
        (Action::Start, "start"),
        (Action::Cancel, "cancel"),
        (Action::Enable, "enable"),
        (Action::Disable, "disable"),
        (Action::Logs, "logs"),
        (Action::Refresh, "refresh"),
        (Action::Details, "details"),
        (Action::Promote, "promote"),
        (Action::Abort, "abort"),
        (Action::Extensions, "extensions"),
        (Action::Diagnose, "diagnose"),
        (Action::Retry, "retry"),
    ];

    /// The config name (`page_down`).
    pub fn name(self) -> &'static str {
        Action::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .map(|(_, n)| *n)
            .expect("every action is listed in ALL")
    }

    fn from_name(name: &str) -> Option<Action> {
        Action::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(a, _)| *a)
    }
}

/// A key as the keymap knows it: the code plus ctrl/alt (shift is part of the character).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    /// The keymap's view of a terminal key event.
    pub fn from_event(event: &KeyEvent) -> Key {
        let code = match event.code {
            // Some terminals report shift+tab as BackTab; others as Tab + SHIFT.
            KeyCode::BackTab => KeyCode::Tab,
            other => other,
        };
        Key {
            code,
            ctrl: event.modifiers.contains(KeyModifiers::CONTROL),
            alt: event.modifiers.contains(KeyModifiers::ALT),
        }
    }

    /// Parses `j`, `G`, `ctrl-d`, `alt-x`, `enter`, `pagedown`, `f5`…
    pub fn parse(text: &str) -> Result<Key, String> {
        let mut rest = text;
        let (mut ctrl, mut alt) = (false, false);
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-").filter(|r| !r.is_empty()) {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-").filter(|r| !r.is_empty()) {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "backspace" => KeyCode::Backspace,
                "tab" => KeyCode::Tab,
                "space" => KeyCode::Char(' '),
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" => KeyCode::PageUp,
                "pagedown" => KeyCode::PageDown,
                "delete" => KeyCode::Delete,
                f if f.starts_with('f')
                    && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
                {
                    KeyCode::F(f[1..].parse().expect("checked"))
                }
                _ => return Err(format!("unknown key '{text}'")),
            },
        };
        Ok(Key { code, ctrl, alt })
    }

    /// How help shows the key: `ctrl-d`, `enter`, `G`.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "enter".into(),
            KeyCode::Esc => "esc".into(),
            KeyCode::Backspace => "backspace".into(),
            KeyCode::Tab => "tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Home => "home".into(),
            KeyCode::End => "end".into(),
            KeyCode::PageUp => "pageup".into(),
            KeyCode::PageDown => "pagedown".into(),
            KeyCode::Delete => "delete".into(),
            KeyCode::F(n) => format!("f{n}"),
            other => format!("{other:?}").to_lowercase(),
        };
        let mut label = String::new();
        if self.ctrl {
            label.push_str("ctrl-");
        }
        if self.alt {
            label.push_str("alt-");
        }
        label.push_str(&base);
        label
    }
}

/// Key → action, plus the reverse for help.
#[derive(Debug, Clone)]
pub struct Keymap {
    map: HashMap<Key, Action>,
    keys: HashMap<Action, Vec<Key>>,
}

impl Keymap {
    /// The action bound to `key`, if any.
    pub fn action(&self, key: &Key) -> Option<Action> {
        self.map.get(key).copied()
    }

    /// `k/↑` for help and hints; `—` when unbound.
    pub fn label(&self, action: Action) -> String {
        match self.keys.get(&action) {
            Some(keys) if !keys.is_empty() => {
                keys.iter().map(Key::label).collect::<Vec<_>>().join("/")
            }
            _ => "—".to_string(),
        }
    }
}

/// The colours of every state (and a few UI roles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub successful: Color,
    pub failed: Color,
    pub running: Color,
    pub waiting: Color,
    pub skipped: Color,
    pub cancelled: Color,
    pub unknown: Color,
    pub accent: Color,
    pub selected: Color,
    pub error: Color,
    pub matched: Color,
}

/// The effective console configuration.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    pub keymap: Keymap,
    pub theme: Theme,
}

/// A layer of overrides: `[keys]` and `[theme]` tables, and where they came from (for errors).
pub struct Layer<'a> {
    pub origin: String,
    pub keys: Option<&'a toml::Table>,
    pub theme: Option<&'a toml::Table>,
}

impl ConsoleConfig {
    /// The defaults, with `layers` applied in order. Unknown actions, keys, theme roles or
    /// colours are errors naming the file and the entry (a typo must not silently unbind a key).
    pub fn load(layers: &[Layer<'_>]) -> Result<ConsoleConfig, String> {
        let defaults: toml::Table = DEFAULTS.parse().expect("assets/console.toml is valid TOML");
        let mut keys: Vec<(Action, Vec<Key>)> = Vec::new();
        let mut colours: Vec<(String, Color)> = Vec::new();
        let base = Layer {
            origin: "assets/console.toml".into(),
            keys: defaults.get("keys").and_then(|v| v.as_table()),
            theme: defaults.get("theme").and_then(|v| v.as_table()),
        };
        for layer in std::iter::once(&base).chain(layers) {
            let origin = &layer.origin;
            for (name, value) in layer.keys.into_iter().flatten() {
                let action = Action::from_name(name)
                    .ok_or_else(|| format!("{origin}: keys.{name}: unknown action"))?;
                let list = value.as_array().ok_or_else(|| {
                    format!(
                        "{origin}: keys.{name}: expected a list of keys, e.g. [\"j\", \"down\"]"
                    )
                })?;
                let mut parsed = Vec::new();
                for item in list {
                    let text = item
                        .as_str()
                        .ok_or_else(|| format!("{origin}: keys.{name}: expected strings"))?;
                    parsed
                        .push(Key::parse(text).map_err(|e| format!("{origin}: keys.{name}: {e}"))?);
                }
                keys.retain(|(a, _)| *a != action);
                keys.push((action, parsed));
            }
            for (name, value) in layer.theme.into_iter().flatten() {
                let text = value
                    .as_str()
                    .ok_or_else(|| format!("{origin}: theme.{name}: expected a colour name"))?;
                let colour = Color::from_str(text)
                    .map_err(|_| format!("{origin}: theme.{name}: unknown colour '{text}'"))?;
                colours.retain(|(n, _)| n != name);
                colours.push((name.clone(), colour));
            }
        }
        // A key bound twice by the user goes to the later binding: drop it from the earlier one.
        let mut map = HashMap::new();
        let mut by_action: HashMap<Action, Vec<Key>> = HashMap::new();
        for (action, list) in &keys {
            for key in list {
                if let Some(previous) = map.insert(*key, *action)
                    && let Some(v) = by_action.get_mut(&previous)
                {
                    v.retain(|k| k != key);
                }
                by_action.entry(*action).or_default().push(*key);
            }
        }
        let colour = |role: &str| -> Result<Color, String> {
            colours
                .iter()
                .find(|(n, _)| n == role)
                .map(|(_, c)| *c)
                .ok_or_else(|| format!("theme.{role}: missing"))
        };
        let known = [
            "successful",
            "failed",
            "running",
            "waiting",
            "skipped",
            "cancelled",
            "unknown",
            "accent",
            "selected",
            "error",
            "match",
        ];
        if let Some((name, _)) = colours.iter().find(|(n, _)| !known.contains(&n.as_str())) {
            return Err(format!(
                "theme.{name}: unknown theme entry (known: {})",
                known.join(", ")
            ));
        }
        Ok(ConsoleConfig {
            keymap: Keymap {
                map,
                keys: by_action,
            },
            theme: Theme {
                successful: colour("successful")?,
                failed: colour("failed")?,
                running: colour("running")?,
                waiting: colour("waiting")?,
                skipped: colour("skipped")?,
                cancelled: colour("cancelled")?,
                unknown: colour("unknown")?,
                accent: colour("accent")?,
                selected: colour("selected")?,
                error: colour("error")?,
                matched: colour("match")?,
            },
        })
    }

    /// The defaults alone.
    pub fn defaults() -> ConsoleConfig {
        ConsoleConfig::load(&[]).expect("the shipped defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_bind_every_action() {
        let config = ConsoleConfig::defaults();
        for (action, name) in Action::ALL {
            assert_ne!(config.keymap.label(action), "—", "{name} is unbound");
        }
        let j = Key::parse("j").unwrap();
        assert_eq!(config.keymap.action(&j), Some(Action::Down));
        let ctrl_d = Key::parse("ctrl-d").unwrap();
        assert_eq!(config.keymap.action(&ctrl_d), Some(Action::PageDown));
        assert_eq!(config.keymap.label(Action::Up), "k/↑");
    }

    #[test]
    fn overrides_rebind_and_errors_name_the_entry() {
        let keys: toml::Table = "down = [\"x\"]\nup = [\"j\"]".parse().unwrap();
        let config = ConsoleConfig::load(&[Layer {
            origin: "keymap.toml".into(),
            keys: Some(&keys),
            theme: None,
        }])
        .unwrap();
        assert_eq!(
            config.keymap.action(&Key::parse("j").unwrap()),
            Some(Action::Up)
        );
        assert_eq!(config.keymap.label(Action::Down), "x");

        let bad: toml::Table = "jump = [\"x\"]".parse().unwrap();
        let err = ConsoleConfig::load(&[Layer {
            origin: "keymap.toml".into(),
            keys: Some(&bad),
            theme: None,
        }])
        .unwrap_err();
        assert_eq!(err, "keymap.toml: keys.jump: unknown action");
        let bad: toml::Table = "up = [\"ctrl-\"]".parse().unwrap();
        let err = ConsoleConfig::load(&[Layer {
            origin: "f".into(),
            keys: Some(&bad),
            theme: None,
        }])
        .unwrap_err();
        assert_eq!(err, "f: keys.up: unknown key 'ctrl-'");
        let theme: toml::Table = "failed = \"blurple\"".parse().unwrap();
        let err = ConsoleConfig::load(&[Layer {
            origin: "f".into(),
            keys: None,
            theme: Some(&theme),
        }])
        .unwrap_err();
        assert_eq!(err, "f: theme.failed: unknown colour 'blurple'");
    }
}
