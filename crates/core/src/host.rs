//! The effects a host gives the core: key-value store, variables, clock,
//! outbound HTTP and logging. Each host adapter implements [`Host`].

use std::fmt;

/// Timeouts the host applies to one outbound request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect_ms: u64,
    pub first_byte_ms: u64,
    pub between_bytes_ms: u64,
}

/// An outbound HTTP request. Headers are `(lower-case name, value)`.
#[derive(Clone, Debug)]
pub struct OutboundRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeouts: Timeouts,
}

/// The head of an upstream response; the body stays a host type so it can be
/// passed to the client without copying.
pub struct UpstreamResponse<B> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: B,
}

/// Why an outbound request produced no response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The host's outbound allowlist refused the destination.
    NotAllowed(String),
    /// Connecting failed or timed out.
    Connect(String),
    /// No response (or body bytes) within the configured time.
    Timeout(String),
    /// Anything else (protocol error, reset, ...).
    Other(String),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotAllowed(m) => write!(f, "destination not allowed: {m}"),
            SendError::Connect(m) => write!(f, "connect failed: {m}"),
            SendError::Timeout(m) => write!(f, "timed out: {m}"),
            SendError::Other(m) => write!(f, "{m}"),
        }
    }
}

/// A failure of the host's key-value store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvError(pub String);

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key-value store error: {}", self.0)
    }
}

/// Host effects. Futures need not be `Send`: every host runs the core on one
/// thread (a wasm instance or a Worker isolate).
#[allow(async_fn_in_trait)]
pub trait Host {
    /// An upstream response body, passed through to the client untouched.
    type Body;

    async fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    async fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;
    async fn kv_delete(&self, key: &str) -> Result<(), KvError>;
    /// A variable's value (spin.toml variable, Worker secret or var); `None`
    /// when unset or empty.
    async fn variable(&self, name: &str) -> Option<String>;
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    async fn send(&self, req: OutboundRequest) -> Result<UpstreamResponse<Self::Body>, SendError>;
    /// Reads a whole upstream body, failing past `limit` bytes.
    async fn read_body(&self, body: Self::Body, limit: usize) -> Result<Vec<u8>, SendError>;
    /// Writes one log line (never a secret: callers guarantee that).
    fn log(&self, line: &str);
}
