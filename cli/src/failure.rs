//! A local failure that carries its exit code (bad input, a file in the way, …).

use crate::exit::{
    EXIT_CONFLICT, EXIT_ERROR, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_RUN_FAILED, EXIT_UNAVAILABLE,
};
use std::fmt;

/// An error message plus the exit code it should produce (SPEC §15.2).
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    /// Invalid local input: exit 7.
    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_INVALID,
            message: message.into(),
        }
    }

    /// Something named does not exist (e.g. a data directory without a database): exit 3.
    pub fn not_found(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_NOT_FOUND,
            message: message.into(),
        }
    }

    /// Something is in the way (e.g. a file that exists): exit 5.
    pub fn conflict(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_CONFLICT,
            message: message.into(),
        }
    }

    /// The server went away (e.g. a stream ended early): exit 6.
    pub fn unavailable(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_UNAVAILABLE,
            message: message.into(),
        }
    }

    /// A watched run ended `failed` or `cancelled`: exit 8.
    pub fn run_failed(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_RUN_FAILED,
            message: message.into(),
        }
    }

    /// Anything else that went wrong: exit 1.
    pub fn error(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_ERROR,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}
