//! Gofer's shared vocabulary: the API wire types, identifier rules, pipeline validation and
//! DAG logic, and the configuration schemas. This crate does no I/O (see ARCHITECTURE.md).

pub mod api;
pub mod canary;
pub mod config;
pub mod cron;
pub mod dag;
pub mod diagnosis;
pub mod diff;
pub mod duration;
pub mod enums;
pub mod id;
pub mod layered;
pub mod paths;
pub mod resources;
pub mod runstate;
pub mod stats;
pub mod suggest;
pub mod validate;

/// Current time as Unix epoch milliseconds (docs/pipelines.md#words). The only clock read in core; kept
/// here so every crate stamps times the same way.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// An error and its causes on one line, `: `-separated. HTTP clients' own messages hide the
/// cause ("client error (Connect)", "error sending request"), which is the part a person needs:
/// a refused connection, an untrusted certificate.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[derive(Debug)]
    struct Failed(&'static str, Option<Box<Failed>>);
    impl std::fmt::Display for Failed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Failed {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    /// Every cause is on the line, outermost first.
    #[test]
    fn error_chain_lists_every_cause() {
        let refused = Failed("connection refused", None);
        let connect = Failed("tcp connect error", Some(Box::new(refused)));
        let request = Failed("error sending request", Some(Box::new(connect)));
        assert_eq!(
            super::error_chain(&request),
            "error sending request: tcp connect error: connection refused"
        );
        assert_eq!(super::error_chain(&Failed("alone", None)), "alone");
    }
}
