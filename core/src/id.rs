//! Identifier rules (docs/pipelines.md#identifiers). Every id that reaches a path, a file name or a container name is
//! checked here first.

use std::fmt;

/// Which identifier rule a value must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// namespace, pipeline, role, subscription and extension ids: `^[a-zA-Z0-9_-]{3,32}$`.
    Entity,
    /// task ids: `^[a-zA-Z0-9_-]{1,64}$`.
    Task,
    /// object and secret keys: `^[a-zA-Z0-9._-]{1,128}$`, and not `.` or `..`.
    Key,
}

impl IdKind {
    /// The rule as a person reads it, used after the field name in error messages.
    pub fn rule(self) -> &'static str {
        match self {
            IdKind::Entity => "must be 3-32 characters of [a-zA-Z0-9_-]",
            IdKind::Task => "must be 1-64 characters of [a-zA-Z0-9_-]",
            IdKind::Key => "must be 1-128 characters of [a-zA-Z0-9._-] and not '.' or '..'",
        }
    }

    /// Whether `value` satisfies this rule.
    pub fn accepts(self, value: &str) -> bool {
        let (min, max, dot) = match self {
            IdKind::Entity => (3, 32, false),
            IdKind::Task => (1, 64, false),
            IdKind::Key => (1, 128, true),
        };
        let len = value.len();
        if len < min || len > max {
            return false;
        }
        if dot && (value == "." || value == "..") {
            return false;
        }
        value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (dot && b == b'.'))
    }
}

/// A value that broke an identifier rule; displays as `<field>: <rule>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {}", kind.rule())]
pub struct IdError {
    pub field: String,
    pub kind: IdKind,
}

/// Checks `value` against `kind`, naming `field` in the error.
pub fn check(field: &str, kind: IdKind, value: &str) -> Result<(), IdError> {
    if kind.accepts(value) {
        Ok(())
    } else {
        Err(IdError {
            field: field.to_string(),
            kind,
        })
    }
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates `value`; `field` names it in the error.
            pub fn parse(field: &str, value: &str) -> Result<Self, IdError> {
                check(field, $kind, value).map(|()| Self(value.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_newtype!(
    /// A validated namespace id.
    NamespaceId,
    IdKind::Entity
);
id_newtype!(
    /// A validated pipeline id.
    PipelineId,
    IdKind::Entity
);
id_newtype!(
    /// A validated task id.
    TaskId,
    IdKind::Task
);

/// Variable keys (docs/pipelines.md#identifiers): 1–256 bytes, no `=`, no NUL, no whitespace. Returns the problem.
pub fn variable_key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() || key.len() > 256 {
        Some("keys must be 1-256 bytes")
    } else if key.contains('=') {
        Some("keys must not contain '='")
    } else if key.contains('\0') {
        Some("keys must not contain NUL")
    } else if key.chars().any(char::is_whitespace) {
        Some("keys must not contain whitespace")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_ids() {
        for ok in ["abc", "a_b-c", "ABC123", &"x".repeat(32)] {
            assert!(IdKind::Entity.accepts(ok), "{ok}");
        }
        for bad in [
            "ab",
            "",
            "a.b",
            "a b",
            "ümlaut",
            &"x".repeat(33),
            "a/b",
            "../x",
        ] {
            assert!(!IdKind::Entity.accepts(bad), "{bad}");
        }
    }

    #[test]
    fn task_ids_and_keys() {
        assert!(IdKind::Task.accepts("a"));
        assert!(!IdKind::Task.accepts(&"a".repeat(65)));
        assert!(IdKind::Key.accepts("file.tar.gz"));
        assert!(!IdKind::Key.accepts(".."));
        assert!(!IdKind::Key.accepts("."));
        assert!(!IdKind::Key.accepts("a/b"));
        assert!(!IdKind::Key.accepts("a\0b"));
    }

    #[test]
    fn error_names_field_and_rule() {
        let err = NamespaceId::parse("id", "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "id: must be 3-32 characters of [a-zA-Z0-9_-]"
        );
    }

    #[test]
    fn variable_keys() {
        assert_eq!(
            variable_key_problem("MY KEY"),
            Some("keys must not contain whitespace")
        );
        assert_eq!(
            variable_key_problem("A=B"),
            Some("keys must not contain '='")
        );
        assert_eq!(variable_key_problem(""), Some("keys must be 1-256 bytes"));
        assert_eq!(variable_key_problem("GOAL"), None);
    }
}
