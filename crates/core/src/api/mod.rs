//! Request handling: the router and the shape of every answer.

use crate::error::ApiError;
use crate::host::Host;
use crate::http::{Request, Response};
use serde_json::json;

/// Per-instance state kept between requests (caches, key pool).
#[derive(Default)]
pub struct Gateway {}

impl Gateway {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Handles one request. Never panics on bad input; every error is OpenAI-shaped.
pub async fn handle<H: Host>(_gw: &Gateway, _host: &H, req: Request) -> Response<H::Body> {
    match route(&req) {
        Ok(Route::Health) => Response::json(
            200,
            &json!({"status": "ok", "service": "ai-proxy", "version": crate::VERSION}),
        ),
        Err(e) => e.into_response(),
    }
}

enum Route {
    Health,
}

fn route(req: &Request) -> Result<Route, ApiError> {
    let allowed: &[&str] = match req.path.as_str() {
        "/" => &["GET", "HEAD"],
        _ => return Err(ApiError::not_found("not_found", format!("no route for {}", req.path))),
    };
    if !allowed.contains(&req.method.as_str()) {
        return Err(ApiError::method_not_allowed(&req.method, &req.path));
    }
    Ok(Route::Health)
}

/// The SSE event sent when an upstream stream fails part way.
pub fn stream_error_event(message: &str) -> Vec<u8> {
    let body = json!({"error": {"message": message, "type": "upstream_error", "code": "stream_interrupted"}});
    format!("data: {body}\n\n").into_bytes()
}

/// Largest request body the host should read (variable `max_body_bytes`).
pub async fn body_limit<H: Host>(host: &H) -> usize {
    host.variable("max_body_bytes")
        .await
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_BODY)
}

pub const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;
