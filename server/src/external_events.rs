//! The external events listener (docs/extensions.md#webhooks-external-events): a second listener, without Gofer auth, that hands
//! webhooks to the extension they are addressed to (`POST /api/external/{id}` or
//! `POST /events/{id}`). The extension authenticates the payload itself (e.g. an HMAC).

use crate::extensions::Extensions;
use crate::http::reply::ApiError;
use futures_util::StreamExt;
use gofer_core::id::IdKind;
use warp::Filter;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

/// The listener's routes; `max_body_bytes` bounds a webhook body (413 beyond).
pub fn filter(
    extensions: Extensions,
    max_body_bytes: u64,
    body_read_timeout: std::time::Duration,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    let api = warp::path!("api" / "external" / String);
    let short = warp::path!("events" / String);
    warp::post()
        .and(api.or(short).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .and(warp::any().map(move || extensions.clone()))
        .then(
            move |id: String, headers: HeaderMap, body, extensions: Extensions| async move {
                let request_id = uuid::Uuid::now_v7().hyphenated().to_string();
                let handled = tokio::time::timeout(
                    body_read_timeout,
                    handle(&extensions, &id, &headers, body, max_body_bytes),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        format!(
                            "body: not received within {} s (external_events.body_read_timeout)",
                            body_read_timeout.as_secs()
                        ),
                    ))
                });
                match handled {
                    Ok(()) => StatusCode::NO_CONTENT.into_response(),
                    Err(e) => e.into_response(&request_id),
                }
            },
        )
        .or(warp::any().map(|| {
            let request_id = uuid::Uuid::now_v7().hyphenated().to_string();
            ApiError::not_found(
                "not an external events route; POST /api/external/<extension id> or \
                 /events/<extension id>",
            )
            .into_response(&request_id)
        }))
        .unify()
}

use warp::Reply;

async fn handle(
    extensions: &Extensions,
    id: &str,
    headers: &HeaderMap,
    mut body: impl futures_util::Stream<Item = Result<impl bytes::Buf, warp::Error>> + Unpin,
    max_body_bytes: u64,
) -> Result<(), ApiError> {
    if !IdKind::Entity.accepts(id) {
        return Err(ApiError::not_found(format!(
            "extension '{}' not found",
            id.escape_debug()
        )));
    }
    // Refuse before reading the body when nobody would receive it.
    let endpoint = extensions.reachable(id).await.map_err(ApiError::from)?;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| ApiError::invalid(format!("body: {e}")))?;
        while bytes::Buf::has_remaining(&chunk) {
            let part = bytes::Buf::chunk(&chunk);
            bytes.extend_from_slice(part);
            let n = part.len();
            bytes::Buf::advance(&mut chunk, n);
        }
        if max_body_bytes > 0 && bytes.len() as u64 > max_body_bytes {
            return Err(ApiError::too_large(format!(
                "body: larger than {max_body_bytes} bytes (external_events.max_body_bytes)"
            )));
        }
    }
    extensions
        .external_event(id, &endpoint, forwarded_headers(headers), bytes)
        .await
        .map_err(ApiError::from)
}

/// Header names lower-cased, repeated headers joined with `, `, non-UTF-8 values dropped
/// (docs/extensions.md#webhooks-external-events), in the order first seen.
fn forwarded_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let Ok(value) = value.to_str() else {
            continue;
        };
        let name = name.as_str().to_ascii_lowercase();
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, joined)) => {
                joined.push_str(", ");
                joined.push_str(value);
            }
            None => out.push((name, value.to_owned())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    #[test]
    fn headers_are_lowercased_joined_and_non_utf8_dropped() {
        let mut headers = HeaderMap::new();
        headers.append("X-Hub-Signature-256", HeaderValue::from_static("sha256=ab"));
        headers.append("Accept", HeaderValue::from_static("a"));
        headers.append("accept", HeaderValue::from_static("b"));
        headers.append("x-bin", HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        assert_eq!(
            forwarded_headers(&headers),
            [
                ("x-hub-signature-256".to_owned(), "sha256=ab".to_owned()),
                ("accept".to_owned(), "a, b".to_owned()),
            ]
        );
    }
}
