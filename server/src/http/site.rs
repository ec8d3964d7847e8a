//! Which web pages may drive the API (docs/security.md, "Browsers"). A browser on the
//! developer's machine is a loopback peer, so without these checks any page it visits could use
//! the development auth bypass: post configs and start containers (CSRF), read answers after
//! pointing its own host name at 127.0.0.1 (DNS rebinding), or open the event websocket.
//!
//! * A request from another site (`Origin` not this server and not in
//!   `server.allowed_origins`, or `Sec-Fetch-Site: cross-site` without an allowed origin) is
//!   refused with 403, websocket upgrades included.
//! * With `development.bypass_auth` on, a loopback peer must also name a loopback host
//!   (`localhost`, `127.0.0.1`, `[::1]`, any port) in `Host`.
//!
//! The checks cost nothing and hold with auth on too. Clients that are not browsers (the CLI,
//! the SDK, curl, tasks, extensions) send neither header and are unaffected.

use super::reply::ApiError;
use gofer_core::config::ServerConfig;
use std::net::SocketAddr;
use warp::http::{HeaderMap, header};

/// Refuses cross-site requests and, under the auth bypass, foreign host names.
pub fn check(
    config: &ServerConfig,
    headers: &HeaderMap,
    remote: Option<SocketAddr>,
) -> Result<(), ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if config.development.bypass_auth
        && remote.is_some_and(|a| a.ip().is_loopback())
        && let Some(host) = host
        && !is_loopback_host(host)
    {
        return Err(ApiError::forbidden(format!(
            "host: '{}' is not a loopback name; while development.bypass_auth is on, only \
             localhost, 127.0.0.1 and [::1] are served",
            host.escape_debug()
        )));
    }
    let allowed = |origin: &str| {
        config
            .server
            .allowed_origins
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    };
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("?"));
    if let Some(origin) = origin {
        let same_origin = origin
            .split_once("://")
            .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
            .is_some_and(|(_, authority)| host.is_some_and(|h| h.eq_ignore_ascii_case(authority)));
        if !same_origin && !allowed(origin) {
            return Err(refused(origin));
        }
        return Ok(());
    }
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    if cross_site {
        return Err(refused("another site"));
    }
    Ok(())
}

fn refused(origin: &str) -> ApiError {
    ApiError::forbidden(format!(
        "origin: requests from web pages at '{}' are refused; add the origin to \
         server.allowed_origins to allow them",
        origin.escape_debug()
    ))
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, port)) if port.is_empty() || port.starts_with(':') => inside,
            _ => return false,
        }
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn loopback() -> Option<SocketAddr> {
        Some(SocketAddr::from(([127, 0, 0, 1], 5000)))
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "127.1.2.3",
            "[::1]:8080",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "rebind.attacker.example:8080",
            "10.0.0.1",
            "[::2]:1",
            "localhost.evil:1",
            "[::1]x",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn cross_site_requests_are_refused_same_origin_and_allowed_ones_pass() {
        let mut config = ServerConfig::default();
        let ok = |c: &ServerConfig, h: &[(&'static str, &'static str)]| {
            check(c, &headers(h), loopback())
        };
        assert!(ok(&config, &[("host", "127.0.0.1:8080")]).is_ok());
        assert!(
            ok(
                &config,
                &[
                    ("host", "127.0.0.1:8080"),
                    ("origin", "http://127.0.0.1:8080")
                ]
            )
            .is_ok()
        );
        let e = ok(
            &config,
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://evil.example"),
            ],
        )
        .unwrap_err();
        assert_eq!(e.status, 403);
        assert!(e.message.starts_with("origin: "), "{}", e.message);
        assert!(ok(&config, &[("host", "localhost:8080"), ("origin", "null")]).is_err());
        assert!(
            ok(
                &config,
                &[("host", "localhost:8080"), ("sec-fetch-site", "cross-site")]
            )
            .is_err()
        );
        assert!(
            ok(
                &config,
                &[
                    ("host", "localhost:8080"),
                    ("sec-fetch-site", "same-origin")
                ]
            )
            .is_ok()
        );
        let e = ok(&config, &[("host", "rebind.attacker.example:8080")]).unwrap_err();
        assert!(e.message.starts_with("host: "), "{}", e.message);
        config.server.allowed_origins = vec!["https://ops.example.com".into()];
        assert!(
            ok(
                &config,
                &[
                    ("host", "localhost:8080"),
                    ("origin", "https://ops.example.com"),
                    ("sec-fetch-site", "cross-site")
                ]
            )
            .is_ok()
        );
        // Without the bypass any host name is served; the origin rule still holds.
        config.development.bypass_auth = false;
        assert!(ok(&config, &[("host", "gofer.example.com")]).is_ok());
        assert!(
            ok(
                &config,
                &[
                    ("host", "gofer.example.com"),
                    ("origin", "http://evil.example")
                ]
            )
            .is_err()
        );
    }
}
