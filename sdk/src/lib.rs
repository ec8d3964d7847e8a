//! Typed async HTTP client for the Gofer API (docs/api.md), and the pipeline builder.
//!
//! **Pipeline programs** use the builder — [`Pipeline`], [`Task`], [`Requires`] and the
//! reference helpers such as [`pipeline_secret`] — and end with [`Pipeline::finish`]; `gofer up`
//! runs them and registers what they print. They need only the builder, so they depend on this
//! crate with `default-features = false`.
//!
//! **The client** (feature `client`, on by default) is the rest.
//! Every method sends the `gofer-api-version: v0` header and, when the client has a token,
//! `Authorization: Bearer <token>` (docs/auth.md#order-of-checks, docs/cli.md#global-flags). Request and response bodies are the wire
//! types of [`gofer_core::api`], used unchanged.
//!
//! ```no_run
//! # #[cfg(feature = "client")]
//! # async fn demo() -> Result<(), gofer_sdk::Error> {
//! let client = gofer_sdk::Client::new("http://127.0.0.1:8080", None)?;
//! for namespace in client.list_namespaces(None).await? {
//!     println!("{}", namespace.id);
//! }
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "client")]
mod auth;
mod builder;
#[cfg(all(test, feature = "client"))]
mod canned;
#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
mod events;
#[cfg(feature = "extension")]
pub mod extension;
#[cfg(feature = "client")]
mod extensions;
#[cfg(feature = "client")]
mod namespaces;
#[cfg(feature = "client")]
mod pipelines;
#[cfg(feature = "client")]
mod runs;
#[cfg(feature = "client")]
mod stores;
#[cfg(feature = "client")]
mod system;
#[cfg(feature = "client")]
mod tls;
#[cfg(feature = "client")]
mod ws;

pub use builder::{
    Pipeline, Requires, Task, global_secret, pipeline_object, pipeline_secret, run_object,
    task_result,
};
#[cfg(feature = "client")]
pub use client::Client;
#[cfg(feature = "client")]
pub use error::Error;
#[cfg(feature = "client")]
pub use events::{EventFilter, EventStream};
/// The page type every list method accepts (docs/api.md#common-rules): `limit` 0 means the route's default.
#[cfg(feature = "client")]
pub use gofer_core::api::Page;
/// When a notification is sent (docs/notifications.md).
pub use gofer_core::enums::NotifyOn;
/// What a start does while another run is in progress (docs/runs.md#overlapping-runs).
pub use gofer_core::enums::OverlapPolicy;
#[cfg(feature = "client")]
pub use runs::{AttachInput, ByteStream};
#[cfg(feature = "client")]
pub use stores::{ObjectScope, SecretScope};
#[cfg(feature = "client")]
pub use tls::{TlsOptions, client_config, install_crypto_provider};
