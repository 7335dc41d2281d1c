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
}

impl ApiError {
    pub fn new(status: u16, kind: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), kind, code }
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
        Self::new(405, "invalid_request_error", "method_not_allowed", format!("method {method} is not allowed on {path}"))
    }
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(413, "invalid_request_error", "payload_too_large", format!("request body is larger than {limit} bytes"))
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

    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.message, "type": self.kind, "code": self.code}})
    }

    pub fn into_response<B>(self) -> Response<B> {
        Response::json(self.status, &self.body())
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
