//! Layered TOML configuration (docs/cli.md#global-flags and docs/configuration.md#where-settings-come-from): compiled-in defaults, then a
//! file, then environment variables, then flags. Pure functions over `toml::Table`; reading files
//! and the environment is the caller's job.

use toml::{Table, Value};

/// Merges `overlay` into `base`; tables merge key by key, anything else replaces.
pub fn merge(base: &mut Table, overlay: Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Parses an environment value as a TOML value when it is one (`true`, `42`, `["a","b"]`),
/// otherwise takes it as a string.
pub fn parse_env_value(raw: &str) -> Value {
    match format!("v = {raw}").parse::<Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| Value::String(raw.to_string())),
        Err(_) => Value::String(raw.to_string()),
    }
}

/// Builds an overlay from variables named `<prefix><SECTION>__<KEY>[__<KEY>…]`; path segments are
/// lower-cased.
pub fn env_overlay<'a>(prefix: &str, vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Table {
    let mut out = Table::new();
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            continue;
        }
        let mut table = &mut out;
        for segment in &path[..path.len() - 1] {
            let entry = table
                .entry(segment.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            if !entry.is_table() {
                *entry = Value::Table(Table::new());
            }
            table = entry.as_table_mut().expect("just made a table");
        }
        table.insert(path[path.len() - 1].clone(), parse_env_value(raw));
    }
    out
}

/// Dotted paths present in `actual` but not in `known` (unknown keys are reported, then ignored).
pub fn unknown_keys(known: &Table, actual: &Table) -> Vec<String> {
    let mut out = Vec::new();
    walk(known, actual, "", &mut out);
    out
}

fn walk(known: &Table, actual: &Table, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in actual {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (known.get(key), value) {
            (None, _) => out.push(path),
            (Some(Value::Table(k)), Value::Table(a)) => walk(k, a, &path, out),
            _ => {}
        }
    }
}

/// Every dotted key path of `known` that holds a value (not a table).
pub fn key_paths(known: &Table) -> Vec<String> {
    fn collect(table: &Table, prefix: &str, out: &mut Vec<String>) {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                Value::Table(t) => collect(t, &path, out),
                _ => out.push(path),
            }
        }
    }
    let mut out = Vec::new();
    collect(known, "", &mut out);
    out
}

/// Checks that every value in `actual` has the same TOML type as the value at the same path in
/// `known`, and that integers are not negative where the known value is not (every integer
/// setting is a count or a number of seconds or bytes); the error names the first key that does
/// not, e.g. `api.timeout: expected integer, got string`.
pub fn check_types(known: &Table, actual: &Table, prefix: &str) -> Result<(), String> {
    for (key, value) in actual {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (known.get(key), value) {
            (Some(Value::Table(k)), Value::Table(a)) => check_types(k, a, &path)?,
            // A whole number where a fraction is allowed (`max_cpus = 2`).
            (Some(Value::Float(_)), Value::Integer(a)) if *a >= 0 => {}
            (Some(k), a) if k.type_str() != a.type_str() => {
                return Err(format!(
                    "{path}: expected {}, got {}",
                    k.type_str(),
                    a.type_str()
                ));
            }
            (Some(Value::Integer(k)), Value::Integer(a)) if *k >= 0 && *a < 0 => {
                return Err(format!(
                    "{path}: must be a whole number of 0 or more (got {a})"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Removes unknown keys from `actual` so that deserialising it cannot fail on them.
pub fn retain_known(known: &Table, actual: &mut Table) {
    actual.retain(|key, value| match (known.get(key), value) {
        (None, _) => false,
        (Some(Value::Table(k)), Value::Table(a)) => {
            retain_known(k, a);
            true
        }
        _ => true,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layering() {
        let mut base: Table = "[a]\nx = 1\ny = \"s\"\n[b.c]\nz = true".parse().unwrap();
        let file: Table = "[a]\nx = 2\nbogus = 1".parse().unwrap();
        let known = base.clone();
        assert_eq!(unknown_keys(&known, &file), vec!["a.bogus".to_string()]);
        merge(&mut base, file);
        let env = env_overlay(
            "GOFER_WEB_",
            [
                ("GOFER_WEB_B__C__Z", "false"),
                ("GOFER_WEB_A__Y", "plain text"),
                ("OTHER", "1"),
            ],
        );
        merge(&mut base, env);
        retain_known(&known, &mut base);
        assert_eq!(base["a"]["x"].as_integer(), Some(2));
        assert_eq!(base["a"]["y"].as_str(), Some("plain text"));
        assert_eq!(base["b"]["c"]["z"].as_bool(), Some(false));
        assert!(base["a"].get("bogus").is_none());
    }

    #[test]
    fn env_values() {
        assert_eq!(parse_env_value("42").as_integer(), Some(42));
        assert_eq!(
            parse_env_value("[\"a\",\"b\"]").as_array().unwrap().len(),
            2
        );
        assert_eq!(
            parse_env_value("0.0.0.0:8080").as_str(),
            Some("0.0.0.0:8080")
        );
    }
}
