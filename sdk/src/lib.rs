//! Typed async HTTP client for the Gofer API (SPEC §14).
//!
//! Every method sends the `gofer-api-version: v0` header and, when the client has a token,
//! `Authorization: Bearer <token>` (SPEC §11.1, §15.1). Request and response bodies are the wire
//! types of [`gofer_core::api`], used unchanged (STYLE rule 4).
//!
//! ```no_run
//! # async fn demo() -> Result<(), gofer_sdk::Error> {
//! let client = gofer_sdk::Client::new("http://127.0.0.1:8080", None)?;
//! for namespace in client.list_namespaces(None).await? {
//!     println!("{}", namespace.id);
//! }
//! # Ok(())
//! # }
//! ```

mod auth;
#[cfg(test)]
mod canned;
mod client;
mod error;
mod events;
mod namespaces;
mod pipelines;
mod runs;
mod stores;
mod system;
mod ws;

pub use client::Client;
pub use error::Error;
pub use events::{EventFilter, EventStream};
/// The page type every list method accepts (SPEC §14.1): `limit` 0 means the route's default.
pub use gofer_core::api::Page;
pub use runs::{AttachInput, ByteStream};
pub use stores::{ObjectScope, SecretScope};
