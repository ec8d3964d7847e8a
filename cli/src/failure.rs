//! A local failure that carries its exit code (bad input, a file in the way, …).

use crate::exit::{
    EXIT_CONFLICT, EXIT_ERROR, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_RUN_FAILED, EXIT_UNAVAILABLE,
};
use std::fmt;

/// An error message plus the exit code it should produce (docs/cli.md#exit-codes).
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

/// The exit code for any error a command returned: the first SDK error or [`Failure`] in the
/// chain decides, anything else is [`EXIT_ERROR`].
pub fn exit_code(error: &anyhow::Error) -> i32 {
    for cause in error.chain() {
        if let Some(sdk) = cause.downcast_ref::<gofer_sdk::Error>() {
            return crate::exit::for_sdk(sdk);
        }
        if let Some(failure) = cause.downcast_ref::<Failure>() {
            return failure.code;
        }
    }
    EXIT_ERROR
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::EXIT_ERROR;

    #[test]
    fn the_first_sdk_error_or_failure_in_the_chain_decides() {
        let unreachable = gofer_sdk::Error::Unreachable {
            url: "u".into(),
            message: "m".into(),
        };
        assert_eq!(
            exit_code(&anyhow::Error::new(unreachable).context("while listing")),
            EXIT_UNAVAILABLE
        );
        assert_eq!(exit_code(&anyhow::anyhow!("boom")), EXIT_ERROR);
        assert_eq!(exit_code(&Failure::invalid("bad").into()), EXIT_INVALID);
    }
}
