//! CPU and memory of a task (docs/pipelines.md#task-resources): the stored form, parsing of
//! what users write ("512Mi", 0.5), and the server's defaults and maxima.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// CPU cores in thousandths of a core (0.5 core = 500). Shown and accepted as a fractional
/// number of cores; finer than a thousandth is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cpus(pub u64);

impl Cpus {
    /// Whole cores as a float, as shown.
    pub fn cores(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// The engine's unit: billionths of a core.
    pub fn nano_cpus(self) -> i64 {
        i64::try_from(self.0.saturating_mul(1_000_000)).unwrap_or(i64::MAX)
    }

    /// Parses a number of cores; `None` with the problem when it is not a positive number.
    pub fn from_cores(cores: f64) -> Result<Cpus, String> {
        if !cores.is_finite() || cores <= 0.0 {
            return Err(format!("must be a positive number of cores, not {cores}"));
        }
        if cores > 1_000_000.0 {
            return Err(format!("{cores} cores is more than any machine has"));
        }
        let milli = (cores * 1000.0).round() as u64;
        if milli == 0 {
            return Err(format!("{cores} is less than a thousandth of a core"));
        }
        Ok(Cpus(milli))
    }
}

impl std::fmt::Display for Cpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.cores())
    }
}

impl Serialize for Cpus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.cores())
    }
}

impl schemars::JsonSchema for Cpus {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Cpus".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "CPU cores, fractions allowed (0.5); at least a thousandth of a core."
        })
    }
}

impl<'de> Deserialize<'de> for Cpus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Cpus::from_cores(f64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A task's limits as stored: both optional; a missing one falls back to the server's default
/// when the task runs (and to no limit when there is none).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct TaskResources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cpus>,
    /// Bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
}

impl TaskResources {
    pub fn is_empty(&self) -> bool {
        self.cpus.is_none() && self.memory.is_none()
    }

    /// The limits a container gets: the task's own, else the server's defaults.
    pub fn effective(&self, defaults: &TaskResources) -> TaskResources {
        TaskResources {
            cpus: self.cpus.or(defaults.cpus),
            memory: self.memory.or(defaults.memory),
        }
    }

    /// Words for a person: "0.5 CPU, 32Mi memory".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = self.cpus {
            parts.push(format!("{c} CPU"));
        }
        if let Some(m) = self.memory {
            parts.push(format!("{} memory", format_bytes(m)));
        }
        parts.join(", ")
    }
}

/// Smallest memory limit the engines accept (Docker refuses less than 6 MiB).
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// Parses a memory amount: a whole number of bytes, or a number with one of the suffixes
/// `Ki Mi Gi Ti` (powers of 1024) or `k K M G T` (powers of 1000), optionally followed by `B`.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let t = t.strip_suffix('B').unwrap_or(t);
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let multiplier: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "'{text}' is not an amount of memory (a number of bytes, or with a suffix such as 512Mi or 2Gi)"
            ));
        }
    };
    let value: f64 = number.parse().map_err(|_| {
        format!("'{text}' is not an amount of memory (a number of bytes, or with a suffix such as 512Mi or 2Gi)")
    })?;
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("'{text}' is too large"));
    }
    Ok(bytes.round() as u64)
}

/// Memory as a JSON value: a number of bytes or a string such as "512Mi".
pub fn memory_from_json(value: &serde_json::Value) -> Result<u64, String> {
    let bytes = match value {
        serde_json::Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{n} is not a whole, non-negative number of bytes"))?,
        serde_json::Value::String(s) => parse_memory(s)?,
        other => {
            return Err(format!(
                "must be a number of bytes or a string such as \"512Mi\", not {other}"
            ));
        }
    };
    if bytes < MIN_MEMORY {
        return Err(format!(
            "{} is less than the smallest limit a container can have ({})",
            format_bytes(bytes),
            format_bytes(MIN_MEMORY)
        ));
    }
    Ok(bytes)
}

/// CPUs as a JSON value: a positive number of cores (a string such as "0.5" is accepted too).
pub fn cpus_from_json(value: &serde_json::Value) -> Result<Cpus, String> {
    match value {
        serde_json::Value::Number(n) => Cpus::from_cores(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => match s.trim().parse::<f64>() {
            Ok(c) => Cpus::from_cores(c),
            Err(_) => Err(format!("'{s}' is not a number of cores")),
        },
        other => Err(format!(
            "must be a number of cores such as 0.5 or 2, not {other}"
        )),
    }
}

/// Bytes the way they were most likely written: "32Mi", "1.5Gi", or plain bytes.
pub fn format_bytes(bytes: u64) -> String {
    for (suffix, unit) in [
        ("Ti", 1u64 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ] {
        if bytes >= unit {
            if bytes.is_multiple_of(unit) {
                return format!("{}{suffix}", bytes / unit);
            }
            let value = bytes as f64 / unit as f64;
            return format!("{}{suffix}", (value * 10.0).round() / 10.0);
        }
    }
    format!("{bytes}B")
}

/// The server's defaults and maxima (`[scheduler.resources]`, docs/configuration.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourcePolicy {
    pub defaults: TaskResources,
    pub maxima: TaskResources,
}

impl ResourcePolicy {
    /// The problem with a task's request, naming the field, when it exceeds a maximum.
    pub fn check(&self, task_id: &str, requested: &TaskResources) -> Result<(), String> {
        if let (Some(want), Some(max)) = (requested.cpus, self.maxima.cpus)
            && want > max
        {
            return Err(format!(
                "task '{task_id}': resources.cpus: {want} is more than this server allows a task ({max})"
            ));
        }
        if let (Some(want), Some(max)) = (requested.memory, self.maxima.memory)
            && want > max
        {
            return Err(format!(
                "task '{task_id}': resources.memory: {} is more than this server allows a task ({})",
                format_bytes(want),
                format_bytes(max)
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_suffixes() {
        assert_eq!(parse_memory("512Mi").unwrap(), 512 << 20);
        assert_eq!(parse_memory("2Gi").unwrap(), 2 << 30);
        assert_eq!(parse_memory("1.5Gi").unwrap(), 3 << 29);
        assert_eq!(parse_memory("100M").unwrap(), 100_000_000);
        assert_eq!(parse_memory("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_memory("1048576").unwrap(), 1 << 20);
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("5Xi").is_err());
        assert!(parse_memory("").is_err());
        assert!(memory_from_json(&serde_json::json!("1Mi")).is_err());
        assert!(memory_from_json(&serde_json::json!(-5)).is_err());
        assert_eq!(
            memory_from_json(&serde_json::json!(33554432)).unwrap(),
            32 << 20
        );
    }

    #[test]
    fn cpus_round_trip_as_fractional_cores() {
        let c = cpus_from_json(&serde_json::json!(0.5)).unwrap();
        assert_eq!(c, Cpus(500));
        assert_eq!(c.nano_cpus(), 500_000_000);
        assert_eq!(serde_json::to_string(&c).unwrap(), "0.5");
        assert_eq!(serde_json::from_str::<Cpus>("0.5").unwrap(), c);
        assert!(cpus_from_json(&serde_json::json!(0)).is_err());
        assert!(cpus_from_json(&serde_json::json!(-1)).is_err());
        assert!(cpus_from_json(&serde_json::json!("x")).is_err());
        assert!(cpus_from_json(&serde_json::json!(0.0001)).is_err());
    }

    #[test]
    fn formats_and_limits() {
        assert_eq!(format_bytes(32 << 20), "32Mi");
        assert_eq!(format_bytes(3 << 29), "1.5Gi");
        let policy = ResourcePolicy {
            defaults: TaskResources::default(),
            maxima: TaskResources {
                cpus: Some(Cpus(2000)),
                memory: Some(1 << 30),
            },
        };
        let over = TaskResources {
            cpus: None,
            memory: Some(2 << 30),
        };
        assert_eq!(
            policy.check("big", &over).unwrap_err(),
            "task 'big': resources.memory: 2Gi is more than this server allows a task (1Gi)"
        );
        assert!(
            policy
                .check(
                    "ok",
                    &TaskResources {
                        cpus: Some(Cpus(2000)),
                        memory: None
                    }
                )
                .is_ok()
        );
    }
}
