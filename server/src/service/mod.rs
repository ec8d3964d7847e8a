//! The rules behind the routes. A route parses the request, authorizes it and formats the
//! answer; what a request *means* — validation beyond the wire format, what else changes with it,
//! in which order — lives here, written once, so the API and any other caller (the CLI's
//! `pipeline exec`, tests) get the same behaviour.
//!
//! - `runs.rs`: starting a run (variables, payload, `only`, an extension's rights).
//! - `subscriptions.rs`: creating a subscription (settings checked against what the extension
//!   documents, delivered to a running extension before it is stored).
//! - `deployments.rs`: deploying a version with a strategy (canary, smoke run), and promoting
//!   or aborting a deployment by hand.
//! - `deletes.rs`: deleting a namespace or a pipeline with everything that goes with it.
//! - `extensions.rs`: installing an extension (settings, references and roles checked first).

pub mod deletes;
pub mod deployments;
pub mod extensions;
pub mod runs;
pub mod subscriptions;

use crate::extensions::CallError;
use crate::store::StoreError;

/// Why a service refused or failed; `http/reply.rs` maps it to a status.
#[derive(Debug)]
pub enum ServiceError {
    /// Bad input (400), naming the field.
    Invalid(String),
    /// An input over its size limit (413).
    TooLarge(String),
    /// Not allowed for this caller (403).
    Forbidden(String),
    /// Something it names does not exist (404).
    NotFound(String),
    /// In the way of something that exists or a state that forbids it (409).
    Conflict(String),
    Store(StoreError),
    Extension(CallError),
    /// A fault of ours (500); the detail goes to the server's log, never to the caller.
    Internal(String),
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::Invalid(m)
            | ServiceError::TooLarge(m)
            | ServiceError::Forbidden(m)
            | ServiceError::NotFound(m)
            | ServiceError::Conflict(m)
            | ServiceError::Internal(m) => f.write_str(m),
            ServiceError::Store(e) => write!(f, "{e}"),
            ServiceError::Extension(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServiceError {}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::Store(e)
    }
}

impl From<CallError> for ServiceError {
    fn from(e: CallError) -> Self {
        ServiceError::Extension(e)
    }
}

impl From<gofer_core::validate::ValidationError> for ServiceError {
    fn from(e: gofer_core::validate::ValidationError) -> Self {
        ServiceError::Invalid(e.0)
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
