//! Human times for plain output: relative ("3 minutes ago") by default, RFC 3339 with `--detail`
//! (docs/cli.md#global-flags). Timestamps are Unix epoch milliseconds; `0` means "not set" and prints as `-`.

/// Formats timestamps relative to a fixed `now`, so one command prints consistent times.
#[derive(Debug, Clone, Copy)]
pub struct TimeFormat {
    pub now_ms: u64,
    pub absolute: bool,
}

impl TimeFormat {
    /// Formats `ms` (epoch milliseconds).
    pub fn format(&self, ms: u64) -> String {
        if ms == 0 {
            "-".to_string()
        } else if self.absolute {
            rfc3339(ms)
        } else {
            relative(ms, self.now_ms)
        }
    }
}

/// `2024-05-01T12:03:04Z` (UTC, second precision).
pub fn rfc3339(ms: u64) -> String {
    let seconds = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{ms} ms after 1970"))
}

/// `2024-05-01T12:03:04.250Z` (UTC, millisecond precision).
pub fn rfc3339_ms(ms: u64) -> String {
    let millis = i64::try_from(ms).unwrap_or(i64::MAX);
    jiff::Timestamp::from_millisecond(millis)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_else(|_| format!("{ms} ms after 1970"))
}

/// When something should end, as the CLI takes it (`token create --expiry`): whole seconds from
/// now (`3600`; `0` = never), a duration (`30d`, `12h`, `1h30m`), or an RFC 3339 time with its
/// offset (`2027-01-01T00:00:00+01:00`, `2027-01-01T00:00:00Z`), which must be in the future.
/// Returns seconds from `now_ms`.
pub fn seconds_until(text: &str, now_ms: u64) -> Result<u64, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    if text.contains('T') || text.contains('t') {
        let at: jiff::Timestamp = text.parse().map_err(|e| {
            format!(
                "'{text}' is not an RFC 3339 time with an offset such as \
                 2027-01-01T00:00:00+01:00 ({e})"
            )
        })?;
        let now = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
        return u64::try_from(at.as_second() - now)
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| format!("'{text}' is in the past"));
    }
    gofer_core::duration::parse(text)
        .map(|d| d.as_secs())
        .map_err(|e| {
            format!("{e}; or give seconds (3600) or an RFC 3339 time (2027-01-01T00:00:00Z)")
        })
}

/// "just now", "3 minutes ago", "in 2 hours".
pub fn relative(ms: u64, now_ms: u64) -> String {
    let (delta, future) = if ms <= now_ms {
        ((now_ms - ms) / 1000, false)
    } else {
        ((ms - now_ms) / 1000, true)
    };
    if delta < 5 {
        return "just now".to_string();
    }
    let (n, unit) = match delta {
        d if d < 60 => (d, "second"),
        d if d < 3600 => (d / 60, "minute"),
        d if d < 86_400 => (d / 3600, "hour"),
        d if d < 30 * 86_400 => (d / 86_400, "day"),
        d if d < 365 * 86_400 => (d / (30 * 86_400), "month"),
        d => (d / (365 * 86_400), "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if future {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// How long something took (`end` 0 = still going, measured to `now_ms`): `850ms`, `12s`,
/// `3m 05s`, `2h 01m`; `-` when it has not started.
pub fn duration(start: u64, end: u64, now_ms: u64) -> String {
    if start == 0 {
        return "-".to_string();
    }
    let end = if end == 0 { now_ms } else { end };
    let ms = end.saturating_sub(start);
    let secs = ms / 1000;
    match secs {
        0 => format!("{ms}ms"),
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(1), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_714_564_984_000), "2024-05-01T12:03:04Z");
        assert_eq!(rfc3339(4_107_542_399_000), "2100-02-28T23:59:59Z");
        assert_eq!(rfc3339(1_709_251_199_999), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339_ms(1_714_564_984_250), "2024-05-01T12:03:04.250Z");
    }

    #[test]
    fn relative_units() {
        let now = 1_000_000_000_000;
        assert_eq!(relative(now, now), "just now");
        assert_eq!(relative(now - 30_000, now), "30 seconds ago");
        assert_eq!(relative(now - 60_000, now), "1 minute ago");
        assert_eq!(relative(now - 3 * 60_000 - 5_000, now), "3 minutes ago");
        assert_eq!(relative(now - 2 * 3_600_000, now), "2 hours ago");
        assert_eq!(relative(now - 3 * 86_400_000, now), "3 days ago");
        assert_eq!(relative(now - 400 * 86_400_000, now), "1 year ago");
        assert_eq!(relative(now + 7_200_000, now), "in 2 hours");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0, 5, 9), "-");
        assert_eq!(duration(1_000, 1_850, 0), "850ms");
        assert_eq!(duration(1_000, 13_999, 0), "12s");
        assert_eq!(duration(1_000, 0, 186_000), "3m 05s");
        assert_eq!(duration(1, 7_260_001, 0), "2h 01m");
        assert_eq!(
            duration(5_000, 1_000, 0),
            "0ms",
            "clock skew never underflows"
        );
    }

    #[test]
    fn zero_is_unset() {
        let f = TimeFormat {
            now_ms: 5,
            absolute: true,
        };
        assert_eq!(f.format(0), "-");
    }

    #[test]
    fn ends_are_seconds_durations_or_rfc3339_times() {
        // 2026-12-06T00:00:00Z
        let now = 1_796_515_200_000;
        assert_eq!(seconds_until("3600", now), Ok(3600));
        assert_eq!(seconds_until("0", now), Ok(0));
        assert_eq!(seconds_until("30d", now), Ok(30 * 86_400));
        assert_eq!(seconds_until("1h30m", now), Ok(5_400));
        assert_eq!(seconds_until("2026-12-06T01:00:00Z", now), Ok(3_600));
        assert_eq!(seconds_until("2026-12-06T02:00:00+01:00", now), Ok(3_600));
        assert!(
            seconds_until("2026-12-05T00:00:00Z", now)
                .unwrap_err()
                .contains("in the past")
        );
        assert!(
            seconds_until("2026-12-06T02:00:00", now)
                .unwrap_err()
                .contains("RFC 3339 time with an offset")
        );
        assert!(seconds_until("soon", now).unwrap_err().contains("RFC 3339"));
    }
}
