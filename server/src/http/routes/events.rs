use crate::http::Cx;
use crate::http::reply::{ApiError, no_content, ok};
use gofer_core::api::EventResponse;
use warp::reply::Response;

/// Event ids are canonical lowercase hyphenated UUIDs; anything else cannot exist (404).
fn event_id(cx: &Cx) -> Result<String, ApiError> {
    let id = cx.param("event_id");
    match uuid::Uuid::parse_str(id) {
        Ok(u) if u.hyphenated().to_string() == id => Ok(id.to_string()),
        _ => Err(ApiError::not_found(format!("event '{id}' not found"))),
    }
}

pub async fn get(cx: Cx) -> Result<Response, ApiError> {
    let id = event_id(&cx)?;
    let event = cx.state.store.read(move |s| s.get_event(&id)).await?;
    Ok(ok(&EventResponse { event }))
}

pub async fn delete(cx: Cx) -> Result<Response, ApiError> {
    let id = event_id(&cx)?;
    cx.state.store.write(move |s| s.delete_event(&id)).await?;
    Ok(no_content())
}
