//! A bounded buffer of log lines: bytes in, sanitised lines out, oldest lines
//! dropped past the cap. Lines keep a stable absolute number so scroll positions and search
//! cursors survive the front of the buffer being dropped.

use std::collections::VecDeque;

/// Default number of lines kept (configurable with `console.log_buffer_lines`).
pub const DEFAULT_CAPACITY: usize = 100_000;

#[derive(Debug, Clone)]
pub struct LogBuf {
    lines: VecDeque<String>,
    /// Absolute number of `lines[0]`.
    first: u64,
    /// Bytes after the last newline (shown as the last line until completed).
    partial: Vec<u8>,
    capacity: usize,
}

impl LogBuf {
    pub fn new(capacity: usize) -> LogBuf {
        LogBuf {
            lines: VecDeque::new(),
            first: 0,
            partial: Vec::new(),
            capacity: capacity.max(1),
        }
    }

    /// Appends raw log bytes (docs/logs-and-events.md#reading plain transport: any chunking).
    pub fn push(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
            let line = if self.partial.is_empty() {
                sanitize(&rest[..newline])
            } else {
                self.partial.extend_from_slice(&rest[..newline]);
                let line = sanitize(&self.partial);
                self.partial.clear();
                line
            };
            self.push_line(line);
            rest = &rest[newline + 1..];
        }
        self.partial.extend_from_slice(rest);
    }

    /// The log ended: a final partial line becomes a line.
    pub fn finish(&mut self) {
        if !self.partial.is_empty() {
            let line = sanitize(&self.partial);
            self.partial.clear();
            self.push_line(line);
        }
    }

    fn push_line(&mut self, line: String) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
            self.first += 1;
        }
        self.lines.push_back(line);
    }

    /// Absolute number of the oldest line still kept.
    pub fn start(&self) -> u64 {
        self.first
    }

    /// One past the absolute number of the newest line (the partial line counts).
    pub fn end(&self) -> u64 {
        self.first + self.lines.len() as u64 + u64::from(!self.partial.is_empty())
    }

    /// Whether nothing was ever received (or everything kept is empty).
    pub fn is_empty(&self) -> bool {
        self.start() == self.end()
    }

    /// Lines dropped from the front because of the cap.
    pub fn dropped(&self) -> u64 {
        self.first
    }

    /// Line `abs`, if still kept.
    pub fn line(&self, abs: u64) -> Option<std::borrow::Cow<'_, str>> {
        let index = abs.checked_sub(self.first)? as usize;
        if let Some(line) = self.lines.get(index) {
            Some(std::borrow::Cow::Borrowed(line))
        } else if index == self.lines.len() && !self.partial.is_empty() {
            Some(std::borrow::Cow::Owned(sanitize(&self.partial)))
        } else {
            None
        }
    }

    /// The whole kept text, one `\n` after each line (for `:save`).
    pub fn text(&self) -> String {
        let mut text = String::new();
        for abs in self.start()..self.end() {
            if let Some(line) = self.line(abs) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        text
    }
}

/// Makes a log line safe to draw: escape sequences (colours, cursor moves) are removed, tabs
/// become spaces, a trailing `\r` is dropped and other control characters become `�`, so a task's
/// output can never move the cursor or change the terminal. Invalid UTF-8 becomes `�` (as the
/// websocket transport does, docs/logs-and-events.md#reading).
pub fn sanitize(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: ESC [ params final(0x40..=0x7e); OSC: ESC ] … BEL or ESC \; else ESC + one char.
                match chars.peek() {
                    Some('[') => {
                        chars.next();
                        for c in chars.by_ref() {
                            if ('\u{40}'..='\u{7e}').contains(&c) {
                                break;
                            }
                        }
                    }
                    Some(']') => {
                        chars.next();
                        while let Some(c) = chars.next() {
                            if c == '\u{7}' {
                                break;
                            }
                            if c == '\u{1b}' {
                                chars.next();
                                break;
                            }
                        }
                    }
                    Some(_) => {
                        chars.next();
                    }
                    None => {}
                }
            }
            '\t' => out.push_str("    "),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_and_cap_drops_oldest() {
        let mut buf = LogBuf::new(3);
        buf.push(b"one\ntw");
        assert_eq!((buf.start(), buf.end()), (0, 2));
        assert_eq!(buf.line(1).as_deref(), Some("tw"));
        buf.push(b"o\nthree\nfour\nfive");
        assert_eq!(buf.dropped(), 1);
        assert_eq!(buf.line(0), None);
        assert_eq!(buf.line(1).as_deref(), Some("two"));
        assert_eq!(buf.line(4).as_deref(), Some("five"));
        buf.finish();
        assert_eq!(buf.dropped(), 2);
        assert_eq!(buf.text(), "three\nfour\nfive\n");
    }

    #[test]
    fn sanitize_strips_escapes_and_controls() {
        assert_eq!(sanitize(b"\x1b[31mred\x1b[0m ok\r"), "red ok");
        assert_eq!(sanitize(b"a\tb\x07c"), "a    b\u{fffd}c");
        assert_eq!(sanitize(b"\x1b]0;title\x07x"), "x");
        assert_eq!(sanitize(b"\xffz"), "\u{fffd}z");
    }
}

/// Case-insensitive substring test without allocating for ASCII patterns (the common case; the
/// `&` filter runs it over the whole buffer on every frame). `needle` must be lowercase.
pub fn contains_ci(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        h.len() >= n.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    } else {
        haystack.to_lowercase().contains(needle)
    }
}

#[cfg(test)]
mod contains_tests {
    use super::contains_ci;

    #[test]
    fn case_insensitive() {
        assert!(contains_ci("Compiling Gofer", "gofer"));
        assert!(contains_ci("ÉTÉ chaud", "été"));
        assert!(!contains_ci("abc", "abcd"));
        assert!(contains_ci("x", ""));
    }
}
