//! ai-proxy-core: every rule of the gateway, free of host types.
//!
//! A host adapter (Spin component, Cloudflare Worker) turns its request into
//! [`http::Request`], implements [`host::Host`] for its effects, calls
//! [`api::handle`] and turns the [`http::Response`] back into its own type.

pub mod api;
pub mod config;
pub mod cors;
pub mod discovery;
pub mod embedded;
pub mod error;
pub mod host;
pub mod http;
pub mod keys;
pub mod ratelimit;
pub mod request_body;
pub mod routing;
pub mod users;
pub mod vault;

/// The crate version, reported by the health endpoint.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
