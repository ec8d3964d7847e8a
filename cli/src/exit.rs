//! Process exit codes (docs/cli.md#exit-codes). Only `main` calls `process::exit`; everything
//! else returns an error that `failure::exit_code` maps to one of these.

/// Success.
pub const EXIT_OK: i32 = 0;
/// Unexpected error, HTTP 500/502 (and any other status without its own code).
pub const EXIT_ERROR: i32 = 1;
/// Invalid arguments or flags (clap's own usage errors exit with this code too).
pub const EXIT_USAGE: i32 = 2;
/// HTTP 404.
pub const EXIT_NOT_FOUND: i32 = 3;
/// HTTP 401/403.
pub const EXIT_AUTH: i32 = 4;
/// HTTP 409, or a local file that would be overwritten.
pub const EXIT_CONFLICT: i32 = 5;
/// Connection failure or HTTP 503.
pub const EXIT_UNAVAILABLE: i32 = 6;
/// HTTP 400/413, or invalid local input (unreadable or missing file, invalid config or JSON).
pub const EXIT_INVALID: i32 = 7;
/// A watched run ended `failed` or `cancelled`.
pub const EXIT_RUN_FAILED: i32 = 8;
/// `gofer up`: the pipeline program failed.
pub const EXIT_BUILD_FAILED: i32 = 9;

/// The exit code for an HTTP status.
pub fn for_status(status: u16) -> i32 {
    match status {
        400 | 413 => EXIT_INVALID,
        401 | 403 => EXIT_AUTH,
        404 => EXIT_NOT_FOUND,
        409 => EXIT_CONFLICT,
        503 => EXIT_UNAVAILABLE,
        _ => EXIT_ERROR,
    }
}

/// The exit code for an SDK error.
pub fn for_sdk(error: &gofer_sdk::Error) -> i32 {
    match error {
        gofer_sdk::Error::Api { status, .. } => for_status(*status),
        gofer_sdk::Error::Unreachable { .. } | gofer_sdk::Error::Stream { .. } => EXIT_UNAVAILABLE,
        gofer_sdk::Error::Decode { .. } => EXIT_ERROR,
        gofer_sdk::Error::InvalidUrl { .. } | gofer_sdk::Error::Tls { .. } => EXIT_INVALID,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_per_spec() {
        let table = [
            (400, 7),
            (401, 4),
            (403, 4),
            (404, 3),
            (405, 1),
            (409, 5),
            (413, 7),
            (500, 1),
            (502, 1),
            (503, 6),
        ];
        for (status, code) in table {
            assert_eq!(for_status(status), code, "{status}");
        }
        let unreachable = gofer_sdk::Error::Unreachable {
            url: "u".into(),
            message: "m".into(),
        };
        assert_eq!(for_sdk(&unreachable), EXIT_UNAVAILABLE);
    }
}
