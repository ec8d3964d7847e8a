//! Durations as written in extension settings and debug-image variables (docs/extensions.md#the-built-in-extensions): one or more
//! groups of an integer and a unit, `s`, `m`, `h` or `d`, e.g. `90s`, `1h30m`.

use std::time::Duration;

/// Parses `text` (`90s`, `1h30m`, `0s`). The error says what is wrong, for a message that names
/// the setting.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; write e.g. 90s or 1h30m".to_owned());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            other => {
                return Err(format!(
                    "'{text}': unknown unit '{other}' (use s, m, h or d, e.g. 1h30m)"
                ));
            }
        };
        if digits.is_empty() {
            return Err(format!("'{text}': a number must come before '{c}'"));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("'{text}': {digits} is too large"))?;
        total = n
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(|| format!("'{text}' is too long"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!(
            "'{text}': {digits} has no unit (use s, m, h or d, e.g. {digits}s)"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// Whole seconds in the same syntax, shortest form: `45s`, `5m`, `1h30m`, `2h`, `1m30s`.
pub fn format_secs(s: u64) -> String {
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn seconds_print_in_the_shortest_form() {
        for (s, text) in [
            (0, "0s"),
            (45, "45s"),
            (90, "1m30s"),
            (300, "5m"),
            (5400, "1h30m"),
            (7200, "2h"),
        ] {
            assert_eq!(super::format_secs(s), text);
            assert_eq!(super::parse(text).unwrap().as_secs(), s);
        }
    }

    use super::*;

    #[test]
    fn groups_of_numbers_and_units_add_up() {
        assert_eq!(parse("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("1d2h3m4s").unwrap(), Duration::from_secs(93_784));
        assert_eq!(parse("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse(" 2m ").unwrap(), Duration::from_secs(120));
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("10").unwrap_err().contains("no unit"));
        assert!(
            parse("5ms")
                .unwrap_err()
                .contains("a number must come before 's'")
        );
        assert!(parse("1w").unwrap_err().contains("unknown unit 'w'"));
        assert!(
            parse("s")
                .unwrap_err()
                .contains("a number must come before")
        );
        assert!(parse("-1s").unwrap_err().contains("unknown unit '-'"));
        assert!(
            parse("99999999999999999999s")
                .unwrap_err()
                .contains("too large")
        );
        assert!(parse("999999999999999d").unwrap_err().contains("too long"));
    }
}
