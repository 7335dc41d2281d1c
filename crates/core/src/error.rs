//! OpenAI-shaped errors: `{"error":{"message","type","code"}}`.

use crate::http::Response;
use serde_json::json;

/// An error answer. `message` must never contain a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub kind: &'static str,
    pub code: &'static str,
    /// Extra top-level fields of `error` (e.g. validation `issues`).
    pub details: Option<Box<serde_json::Value>>,
    /// Sent as `Retry-After` (seconds).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, kind: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind,
            code,
            details: None,
            retry_after: None,
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "authentication_error", "missing_api_key", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "authentication_error", "invalid_api_key", message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(404, "invalid_request_error", code, message)
    }
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            405,
            "invalid_request_error",
            "method_not_allowed",
            format!("method {method} is not allowed on {path}"),
        )
    }
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            413,
            "invalid_request_error",
            "payload_too_large",
            format!("request body is larger than {limit} bytes"),
        )
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "server_error", "internal_error", message)
    }
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(502, "upstream_error", "upstream_unreachable", message)
    }
    pub fn gateway_timeout(message: impl Into<String>) -> Self {
        Self::new(504, "upstream_error", "upstream_timeout", message)
    }

    /// Adds `issues: [{path, message}]` (or any extra field) to the error object.
    pub fn with_detail(mut self, name: &str, value: serde_json::Value) -> Self {
        let mut d = self.details.take().unwrap_or_else(|| Box::new(json!({})));
        d[name] = value;
        self.details = Some(d);
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn body(&self) -> serde_json::Value {
        let mut b = json!({"error": {"message": self.message, "type": self.kind, "code": self.code}});
        if let Some(serde_json::Value::Object(d)) = self.details.as_deref() {
            for (k, v) in d {
                b["error"][k] = v.clone();
            }
        }
        b
    }

    pub fn into_response<B>(self) -> Response<B> {
        let mut r = Response::json(self.status, &self.body());
        if let Some(s) = self.retry_after {
            r.set_header("retry-after", s.to_string());
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_is_openai_shaped() {
        let e = ApiError::not_found("not_found", "no route");
        let b = e.body();
        assert_eq!(b["error"]["message"], "no route");
        assert_eq!(b["error"]["type"], "invalid_request_error");
        assert_eq!(b["error"]["code"], "not_found");
    }
}
