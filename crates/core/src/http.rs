//! Host-neutral request and response types.

/// An incoming request, body already read (bounded by the host adapter).
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    /// Path without the query string, e.g. `/groq/v1/models`.
    pub path: String,
    pub query: Option<String>,
    /// `(lower-case name, value)` pairs.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The host stopped reading because the body passed its limit.
    pub body_too_large: bool,
}

impl Request {
    /// First value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a response carries.
pub enum Body<B> {
    Empty,
    Bytes(Vec<u8>),
    /// The upstream body, passed through as is.
    Upstream(B),
    /// An upstream SSE stream: passed through chunk by chunk; if it fails
    /// part way, the host appends [`crate::api::stream_error_event`] and closes.
    UpstreamSse(B),
}

/// An outgoing response. Headers are `(lower-case name, value)`.
pub struct Response<B> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body<B>,
}

impl<B> Response<B> {
    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: Body::Bytes(body),
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::bytes(status, "application/json", value.to_string().into_bytes())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sets a header, replacing any value it had.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_ascii_lowercase(), value.into()));
    }
}
