//! Cron schedules for the `cron` standard extension (docs/decisions.md): five fields
//! `minute hour day-of-month month day-of-week`, or six with a trailing `year`. Each field is
//! `*`, a number, a range `a-b`, a step `*/n` or `a-b/n` (or `a/n`, from `a` to the end), or a
//! comma-separated list of those. Day-of-week 0 and 7 are both Sunday. When both day fields are
//! restricted (neither starts with `*`), a day matches when either does, as in Vixie cron.
//!
//! Fire times are computed in an IANA time zone (bundled data, see `jiff`), and daylight-saving
//! transitions behave as people expect: a wall-clock minute that does not exist (spring forward)
//! is not fired and not moved; a wall-clock minute that happens twice (fall back) fires once, the
//! first time.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, ToSpan};

/// The years a year field may name.
const MIN_YEAR: i16 = 1970;
const MAX_YEAR: i16 = 2100;

/// Each field's name and bounds, in order.
const FIELDS: [(&str, u16, u16); 6] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
    ("year", MIN_YEAR as u16, MAX_YEAR as u16),
];

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    /// 0 = Sunday … 6 = Saturday.
    weekdays: Vec<bool>,
    /// Index = year - [`MIN_YEAR`]; `None` when the field is absent (every year).
    years: Option<Vec<bool>>,
    /// Both day fields are restricted: either one matching is enough.
    either_day: bool,
}

impl Schedule {
    /// Parses an expression; the error names the field, e.g.
    /// `field 2 (hour): 24 is out of range 0-23`.
    pub fn parse(expression: &str) -> Result<Schedule, String> {
        let fields: Vec<&str> = expression.split_whitespace().collect();
        if fields.len() != 5 && fields.len() != 6 {
            return Err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a \
                 trailing year, got {}",
                fields.len()
            ));
        }
        let mut sets = Vec::with_capacity(6);
        for (i, text) in fields.iter().enumerate() {
            let (name, min, max) = FIELDS[i];
            let set = parse_field(text, min, max)
                .map_err(|problem| format!("field {} ({name}): {problem}", i + 1))?;
            sets.push(set);
        }
        let offset = |set: &[bool], min: u16| set[usize::from(min)..].to_vec();
        let mut weekdays = sets[4][..7].to_vec();
        if sets[4][7] {
            weekdays[0] = true;
        }
        Ok(Schedule {
            minutes: sets[0][..60].to_vec(),
            hours: sets[1][..24].to_vec(),
            days: sets[2].clone(),
            months: sets[3].clone(),
            weekdays,
            years: sets.get(5).map(|years| offset(years, MIN_YEAR as u16)),
            either_day: !fields[2].starts_with('*') && !fields[4].starts_with('*'),
        })
    }

    fn year_ok(&self, year: i16) -> bool {
        match &self.years {
            None => (MIN_YEAR..=MAX_YEAR).contains(&year),
            Some(years) => usize::try_from(year - MIN_YEAR)
                .ok()
                .and_then(|i| years.get(i))
                .copied()
                .unwrap_or(false),
        }
    }

    fn day_ok(&self, date: Date) -> bool {
        let dom = self.days[usize::try_from(date.day()).unwrap_or(0)];
        let dow =
            self.weekdays[usize::try_from(date.weekday().to_sunday_zero_offset()).unwrap_or(0)];
        if self.either_day {
            dom || dow
        } else {
            dom && dow
        }
    }

    /// Whether the wall-clock minute `at` matches (seconds are ignored).
    pub fn matches(&self, at: DateTime) -> bool {
        self.year_ok(at.year())
            && self.months[usize::try_from(at.month()).unwrap_or(0)]
            && self.day_ok(at.date())
            && self.hours[usize::try_from(at.hour()).unwrap_or(0)]
            && self.minutes[usize::try_from(at.minute()).unwrap_or(0)]
    }

    /// The first fire time strictly after `after`, in `tz`; `None` when there is none before
    /// the end of the year field's range.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = after.to_zoned(tz.clone()).datetime();
        let start = local
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        let mut date = start.date();
        let mut first_day = true;
        loop {
            if date.year() > MAX_YEAR {
                return None;
            }
            if !self.year_ok(date.year()) {
                date = Date::new(date.year().checked_add(1)?, 1, 1).ok()?;
                first_day = false;
                continue;
            }
            if !self.months[usize::try_from(date.month()).unwrap_or(0)] {
                date = date.last_of_month().tomorrow().ok()?;
                first_day = false;
                continue;
            }
            if self.day_ok(date) {
                for hour in 0..24i8 {
                    if !self.hours[hour as usize] || (first_day && hour < start.hour()) {
                        continue;
                    }
                    for minute in 0..60i8 {
                        if !self.minutes[minute as usize]
                            || (first_day && hour == start.hour() && minute < start.minute())
                        {
                            continue;
                        }
                        let at = date.to_datetime(Time::new(hour, minute, 0, 0).ok()?);
                        if let Some(instant) = fire_instant(tz, at)
                            && instant > after
                        {
                            return Some(instant);
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
            first_day = false;
        }
    }

    /// The fire times from `from` to `to`, both included, at most `limit` of them
    /// (docs/extensions.md#backfilling-a-schedule).
    pub fn between(
        &self,
        from: Timestamp,
        to: Timestamp,
        tz: &TimeZone,
        limit: usize,
    ) -> Vec<Timestamp> {
        let mut out = Vec::new();
        let mut after = from.checked_sub(1.nanosecond()).unwrap_or(from);
        while out.len() < limit {
            match self.next_after(after, tz) {
                Some(next) if next <= to => {
                    out.push(next);
                    after = next;
                }
                _ => break,
            }
        }
        out
    }

    /// The next `n` fire times after `after`.
    pub fn upcoming(&self, after: Timestamp, tz: &TimeZone, n: usize) -> Vec<Timestamp> {
        let mut out = Vec::with_capacity(n);
        let mut from = after;
        while out.len() < n {
            match self.next_after(from, tz) {
                Some(next) => {
                    out.push(next);
                    from = next;
                }
                None => break,
            }
        }
        out
    }
}

/// When the wall-clock time `at` happens in `tz`: `None` in a gap (it does not exist), the first
/// of the two instants in a fold.
pub fn fire_instant(tz: &TimeZone, at: DateTime) -> Option<Timestamp> {
    let offset = match tz.to_ambiguous_timestamp(at).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset,
        AmbiguousOffset::Gap { .. } => return None,
        AmbiguousOffset::Fold { before, .. } => before,
    };
    offset.to_timestamp(at).ok()
}

/// An instant as written in a request: RFC 3339 with an offset (`2026-12-01T00:00:00Z`); the
/// error names `field`.
pub fn parse_instant(field: &str, text: &str) -> Result<Timestamp, String> {
    text.trim().parse::<Timestamp>().map_err(|_| {
        format!(
            "{field}: '{text}' is not a time; write it as RFC 3339 with an offset, such as \
             2026-12-01T00:00:00Z"
        )
    })
}

/// A time zone by IANA name (bundled data); the error says what is wrong.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| {
        format!(
            "'{name}' is not an IANA time zone name (e.g. UTC, Europe/Berlin, America/New_York)"
        )
    })
}

/// One field as a set over `0..=max` (indexes below `min` stay false).
fn parse_field(text: &str, min: u16, max: u16) -> Result<Vec<bool>, String> {
    let mut set = vec![false; usize::from(max) + 1];
    if text.is_empty() {
        return Err("empty".to_owned());
    }
    let number = |s: &str| -> Result<u16, String> {
        let n: u16 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
        if n < min || n > max {
            return Err(format!("{n} is out of range {min}-{max}"));
        }
        Ok(n)
    };
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u16 = step
                    .parse()
                    .map_err(|_| format!("step '{step}' is not a number"))?;
                if step == 0 {
                    return Err("a step must be at least 1".to_owned());
                }
                (range, step)
            }
            None => (item, 1),
        };
        let (from, to) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!("range {a}-{b} runs backwards"));
            }
            (a, b)
        } else {
            let a = number(range)?;
            // `a/n` runs from `a` to the end of the field.
            (a, if item.contains('/') { max } else { a })
        };
        let mut n = from;
        while n <= to {
            set[usize::from(n)] = true;
            n += step;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn next(expr: &str, tz: &str, after: &str) -> String {
        let tz = time_zone(tz).unwrap();
        Schedule::parse(expr)
            .unwrap()
            .next_after(ts(after), &tz)
            .map(|t| t.to_zoned(tz).to_string())
            .unwrap_or_default()
    }

    #[test]
    fn errors_name_the_field() {
        let e = |x: &str| Schedule::parse(x).unwrap_err();
        assert_eq!(e("0 24 * * *"), "field 2 (hour): 24 is out of range 0-23");
        assert!(e("* * * *").starts_with("expected 5 fields"));
        assert_eq!(
            e("*/0 * * * *"),
            "field 1 (minute): a step must be at least 1"
        );
        assert_eq!(
            e("* * 0 * *"),
            "field 3 (day-of-month): 0 is out of range 1-31"
        );
        assert_eq!(
            e("* * * * 8"),
            "field 5 (day-of-week): 8 is out of range 0-7"
        );
        assert_eq!(
            e("* * * * * 1969"),
            "field 6 (year): 1969 is out of range 1970-2100"
        );
        assert_eq!(
            e("5-1 * * * *"),
            "field 1 (minute): range 5-1 runs backwards"
        );
        assert_eq!(e("x * * * *"), "field 1 (minute): 'x' is not a number");
        assert!(time_zone("Mars/Olympus").unwrap_err().contains("IANA"));
    }

    #[test]
    fn weekdays_years_and_either_day() {
        // 0 and 7 are Sunday; 2026-12-06 is a Sunday.
        assert_eq!(
            next("0 6 * * 7", "UTC", "2026-12-01T00:00:00Z"),
            "2026-12-06T06:00:00+00:00[UTC]"
        );
        assert_eq!(
            next("0 6 * * 0", "UTC", "2026-12-01T00:00:00Z"),
            "2026-12-06T06:00:00+00:00[UTC]"
        );
        // Either day: the 15th or any Friday (2026-12-04).
        assert_eq!(
            next("0 0 15 * 5", "UTC", "2026-12-01T00:00:00Z"),
            "2026-12-04T00:00:00+00:00[UTC]"
        );
        // A restricted day-of-month with a `*` weekday: both must hold (any weekday).
        assert_eq!(
            next("0 0 15 * *", "UTC", "2026-12-01T00:00:00Z"),
            "2026-12-15T00:00:00+00:00[UTC]"
        );
        assert_eq!(
            next("30 8 1 1 * 2030", "UTC", "2026-12-01T00:00:00Z"),
            "2030-01-01T08:30:00+00:00[UTC]"
        );
        assert_eq!(next("0 0 1 1 * 2020", "UTC", "2026-12-01T00:00:00Z"), "");
        // Weekdays at 06:00 in Berlin.
        assert_eq!(
            next("0 6 * * 1-5", "Europe/Berlin", "2026-12-05T12:00:00Z"),
            "2026-12-07T06:00:00+01:00[Europe/Berlin]"
        );
    }

    #[test]
    fn daylight_saving_gaps_and_folds() {
        // Berlin springs forward at 02:00 on 2026-03-29: 02:30 does not exist that day.
        assert_eq!(
            next("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z"),
            "2026-03-30T02:30:00+02:00[Europe/Berlin]"
        );
        // It falls back at 03:00 on 2026-10-25: 02:30 happens twice and fires once.
        let tz = time_zone("Europe/Berlin").unwrap();
        let s = Schedule::parse("30 2 * * *").unwrap();
        let fires = s.upcoming(ts("2026-10-24T12:00:00Z"), &tz, 2);
        assert_eq!(
            fires
                .iter()
                .map(|t| t.to_zoned(tz.clone()).to_string())
                .collect::<Vec<_>>(),
            [
                "2026-10-25T02:30:00+02:00[Europe/Berlin]",
                "2026-10-26T02:30:00+01:00[Europe/Berlin]"
            ]
        );
        // Every minute through the fold: each wall-clock minute once.
        let every = Schedule::parse("* * * * *").unwrap();
        let after_first_pass = ts("2026-10-25T00:59:00Z"); // 02:59 CEST
        assert_eq!(
            every
                .next_after(after_first_pass, &tz)
                .map(|t| t.to_zoned(tz.clone()).to_string())
                .unwrap(),
            "2026-10-25T03:00:00+01:00[Europe/Berlin]"
        );
    }

    /// The reference: every minute after `after`, in absolute time, up to `days`.
    fn brute_force(s: &Schedule, after: Timestamp, tz: &TimeZone, days: i64) -> Option<Timestamp> {
        let seconds = after.as_second();
        let mut t = Timestamp::from_second(seconds - seconds.rem_euclid(60) + 60).unwrap();
        let end = after
            .checked_add(jiff::SignedDuration::from_hours(24 * days))
            .unwrap();
        while t <= end {
            let local = t.to_zoned(tz.clone()).datetime();
            if s.matches(local) && fire_instant(tz, local) == Some(t) {
                return Some(t);
            }
            t = t.checked_add(jiff::SignedDuration::from_secs(60)).unwrap();
        }
        None
    }

    fn field(min: u16, max: u16) -> impl Strategy<Value = String> {
        prop_oneof![
            Just("*".to_owned()),
            (1..=max.min(20)).prop_map(|n| format!("*/{n}")),
            (min..=max).prop_map(|a| a.to_string()),
            (min..=max, min..=max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
            (min..=max, min..=max, 1u16..5).prop_map(|(a, b, n)| format!(
                "{}-{}/{n}",
                a.min(b),
                a.max(b)
            )),
            (min..=max, min..=max).prop_map(|(a, b)| format!("{a},{b}")),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        /// The calendar walk agrees with a minute-by-minute search, DST transitions included.
        #[test]
        fn next_fire_agrees_with_brute_force(
            minute in field(0, 59),
            hour in field(0, 23),
            dom in prop_oneof![Just("*".to_owned()), field(1, 31)],
            month in prop_oneof![Just("*".to_owned()), Just("*".to_owned()), field(1, 12)],
            dow in prop_oneof![Just("*".to_owned()), field(0, 7)],
            year in prop_oneof![Just(String::new()), Just(" 2026-2027".to_owned()), Just(" 2027".to_owned())],
            tz in prop_oneof![Just("UTC"), Just("Europe/Berlin"), Just("America/New_York"), Just("Australia/Lord_Howe")],
            around in prop_oneof![
                // Near DST transitions of Berlin and New York in 2026, and anywhere.
                Just(1_774_746_000i64), Just(1_792_890_000i64), Just(1_772_950_000i64),
                Just(1_793_512_000i64), 1_767_225_600i64..1_798_761_600i64,
            ],
            jitter in -7_200i64..7_200,
        ) {
            let expression = format!("{minute} {hour} {dom} {month} {dow}{year}");
            let s = Schedule::parse(&expression).unwrap();
            let tz = time_zone(tz).unwrap();
            let after = Timestamp::from_second(around + jitter).unwrap();
            let fast = s.next_after(after, &tz);
            let slow = brute_force(&s, after, &tz, 62);
            match slow {
                Some(slow) => prop_assert_eq!(fast, Some(slow), "{}", expression),
                None => prop_assert!(
                    fast.is_none_or(|f| f > after.checked_add(jiff::SignedDuration::from_hours(24 * 62)).unwrap()),
                    "{} gave {:?}", expression, fast
                ),
            }
        }
    }
}
