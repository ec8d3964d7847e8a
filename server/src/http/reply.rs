//! The one place where errors become HTTP statuses, and the helpers that build
//! every response body `{request_id, message}` (docs/api.md#common-rules).

use crate::store::StoreError;
use gofer_core::api::ErrorBody;
use gofer_core::validate::ValidationError;
use serde::Serialize;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

/// An error answer. Handlers return these; [`ApiError::into_response`] renders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    /// 400: the message starts with the offending field (docs/pipelines.md#validation-errors).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
    /// 500: the details go to the server log, the client sees `internal error`.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    pub fn into_response(self, request_id: &str) -> Response {
        json_response(
            self.status,
            &ErrorBody {
                request_id: request_id.to_string(),
                message: self.message,
            },
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Conflict(m) | StoreError::Skipped(m) => ApiError::conflict(m),
            StoreError::Unavailable(m) => ApiError::unavailable(m),
            StoreError::Invalid(m) => ApiError::invalid(m),
            StoreError::Forbidden(m) => ApiError::forbidden(m),
            StoreError::Locked(m) | StoreError::Internal(m) => ApiError::internal(m),
            StoreError::Full(m) => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, format!("storage: {m}"))
            }
            StoreError::Io(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("storage: {m}"))
            }
            // Says which record and what to do; it names nothing the caller may not read.
            StoreError::Unreadable(m) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("storage: {m}"))
            }
        }
    }
}

/// The one mapping of a failed server→extension call to an API answer (see `CallError::status`).
impl From<crate::extensions::CallError> for ApiError {
    fn from(e: crate::extensions::CallError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY);
        ApiError::new(status, e.to_string())
    }
}

impl From<crate::service::ServiceError> for ApiError {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as S;
        match e {
            S::Invalid(m) => ApiError::invalid(m),
            S::TooLarge(m) => ApiError::too_large(m),
            S::Forbidden(m) => ApiError::forbidden(m),
            S::NotFound(m) => ApiError::not_found(m),
            S::Conflict(m) => ApiError::conflict(m),
            S::Store(e) => e.into(),
            S::Extension(e) => e.into(),
            S::Internal(detail) => ApiError::internal(detail),
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::invalid(e.0)
    }
}

impl From<gofer_core::id::IdError> for ApiError {
    fn from(e: gofer_core::id::IdError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

/// A JSON response with `status`.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let body = match serde_json::to_vec(value) {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "response did not serialise");
            return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
                .into_response("");
        }
    };
    let mut res = body.into_response();
    *res.status_mut() = status;
    res.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// 200 with an already serialised JSON body.
pub fn json_bytes(body: bytes::Bytes) -> Response {
    let mut res = Response::new(body.into());
    res.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// 200 with a JSON body.
pub fn ok<T: Serialize>(value: &T) -> Response {
    json_response(StatusCode::OK, value)
}

/// 201 with a JSON body.
pub fn created<T: Serialize>(value: &T) -> Response {
    json_response(StatusCode::CREATED, value)
}

/// 204 without a body.
pub fn no_content() -> Response {
    let mut res = Vec::<u8>::new().into_response();
    *res.status_mut() = StatusCode::NO_CONTENT;
    res
}
