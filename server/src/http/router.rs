//! The route table. Every API route is one [`Route`] row: method, path template, the access it
//! requires (docs/auth.md#route-requirements) and its handler. One matcher finds the row, one function checks access,
//! so authorization lives in exactly one place of the request pipeline, metrics and logs get the
//! path template, and tests can enumerate every route.

use super::Cx;
use super::reply::ApiError;
use futures_util::future::BoxFuture;
use gofer_core::enums::Action;
use warp::http::Method;
use warp::reply::Response;

/// A kind of resource in a permission (docs/auth.md#roles-and-permissions). `Namespace`, `Pipeline` and `Extension` take
/// their target from the path parameter `{ns}`, `{p}` or `{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Res {
    Namespaces,
    Namespace,
    Pipelines,
    Pipeline,
    Configs,
    Deployments,
    Events,
    Extensions,
    Extension,
    Objects,
    Permissions,
    Runs,
    Secrets,
    Subscriptions,
    System,
    TaskExecutions,
    Tokens,
}

/// What a route requires of its caller (docs/auth.md#route-requirements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No auth and no version check (health, metrics).
    Open,
    /// No auth, but the version header is checked (system metadata, bootstrap).
    Public,
    /// Any authenticated caller.
    Authenticated,
    /// Admin or bootstrap tokens only.
    Admin,
    /// Admin tokens, or the token named by the path parameter `{id}` itself (token get).
    AdminOrOwnToken,
    /// Like `Perm` (never anonymous), and also the run token of the run named by the path
    /// (`{ns}`, `{p}`, `{run}`): a task records its own result with its injected token
    /// (docs/runs.md#results-and-payload), although the run role of docs/auth.md#run-tokens only reads task executions.
    PermOrOwnRun {
        action: Action,
        resources: &'static [Res],
    },
    /// An action on every listed resource; `anonymous` routes accept callers without a token.
    Perm {
        action: Action,
        resources: &'static [Res],
        anonymous: bool,
    },
}

/// Handlers are plain async functions taking the request context.
pub type Handler = fn(Cx) -> BoxFuture<'static, Result<Response, ApiError>>;

/// One API route.
pub struct Route {
    pub method: Method,
    /// `/api/namespaces/{ns}/pipelines/{p}`; `{name}` segments are parameters.
    pub template: &'static str,
    pub access: Access,
    pub handler: Handler,
    /// Its entry in the OpenAPI document (docs/api.md#the-openapi-document).
    pub doc: super::apidoc::Doc,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.template)
    }
}

/// Path parameters of a matched route, percent-decoded.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The outcome of matching a request path.
pub enum Match<'a> {
    Found(&'a Route, Params),
    /// The path exists for these other methods (405, with them in `Allow`).
    WrongMethod(Vec<Method>),
    NotFound,
}

/// Finds the route for `method` and `path`.
pub fn find<'a>(routes: &'a [Route], method: &Method, path: &str) -> Match<'a> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    // A path a template names literally (`/api/tokens/whoami`) belongs to that template alone,
    // not also to a parameter in its place (`/api/tokens/{id}`): only the most literal matches
    // count, so `DELETE /api/tokens/whoami` is 405, not a delete of a token named `whoami`.
    // One pass: a more literal match replaces what was found so far.
    let mut best = 0;
    let mut found: Option<(&Route, Params)> = None;
    let mut allowed: Vec<Method> = Vec::new();
    for route in routes {
        let Some(params) = match_template(route.template, &segments) else {
            continue;
        };
        let literal = literal_segments(route.template);
        if literal < best {
            continue;
        }
        if literal > best {
            best = literal;
            found = None;
            allowed.clear();
        }
        if route.method == *method {
            found = found.or(Some((route, params)));
        } else if !allowed.contains(&route.method) {
            allowed.push(route.method.clone());
        }
    }
    match found {
        Some((route, params)) => Match::Found(route, params),
        None if !allowed.is_empty() => Match::WrongMethod(allowed),
        None => Match::NotFound,
    }
}

fn literal_segments(template: &str) -> usize {
    template
        .split('/')
        .filter(|part| !part.starts_with('{'))
        .count()
}

fn match_template(template: &'static str, segments: &[&str]) -> Option<Params> {
    let mut params = Vec::new();
    let mut parts = template.split('/').skip(1);
    let mut i = 0;
    for part in parts.by_ref() {
        let seg = segments.get(i)?;
        i += 1;
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            params.push((name, percent_decode(seg)?));
        } else if part != *seg {
            return None;
        }
    }
    (i == segments.len()).then_some(Params(params))
}

/// Decodes `%XX` escapes; `None` for malformed escapes or invalid UTF-8 (the route then does not
/// match, so the caller gets 404).
pub fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(_: Cx) -> BoxFuture<'static, Result<Response, ApiError>> {
        unreachable!("matching tests never call handlers")
    }

    #[test]
    fn matches_templates_and_methods() {
        let routes = [
            Route {
                method: Method::GET,
                template: "/api/namespaces/{ns}",
                access: Access::Open,
                handler: h,
                doc: super::super::apidoc::doc("test", "test"),
            },
            Route {
                method: Method::GET,
                template: "/api/namespaces",
                access: Access::Open,
                handler: h,
                doc: super::super::apidoc::doc("test", "test"),
            },
        ];
        match find(&routes, &Method::GET, "/api/namespaces/team%2Da") {
            Match::Found(r, p) => {
                assert_eq!(r.template, "/api/namespaces/{ns}");
                assert_eq!(p.get("ns"), Some("team-a"));
            }
            _ => panic!("expected a match"),
        }
        assert!(matches!(
            find(&routes, &Method::GET, "/api/namespaces/"),
            Match::Found(..)
        ));
        assert!(matches!(
            find(&routes, &Method::POST, "/api/namespaces/x"),
            Match::WrongMethod(_)
        ));
        assert!(matches!(
            find(&routes, &Method::GET, "/api/namespaces/x/y"),
            Match::NotFound
        ));
        assert!(matches!(
            find(&routes, &Method::GET, "/api/namespaces/%zz"),
            Match::NotFound
        ));
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("%2e%2e").as_deref(), Some(".."));
        assert_eq!(percent_decode("a%00b").as_deref(), Some("a\0b"));
        assert_eq!(percent_decode("%e2%82"), None);
    }
}
