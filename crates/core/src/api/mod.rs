//! Request handling: the router, shared helpers, and what every response
//! carries (CORS headers, `x-request-id`).

mod auth;
mod catalog;
mod discover;
mod forward;
mod users_admin;
mod vault_admin;

use crate::cors::Cors;
use crate::error::ApiError;
use crate::host::Host;
use crate::http::{Request, Response};
use crate::keys::KeyPool;
use crate::users::Users;
use crate::vault::{self, Unlocked, VaultCache};
use serde_json::json;
use std::sync::{Arc, Mutex};

/// KV key of the vault text (same as the original Worker).
pub const VAULT_KEY: &str = "vault:ai.json.enc";
/// KV key of the vault that a PUT replaced.
pub const VAULT_PREVIOUS_KEY: &str = "vault:ai.json.enc.previous";
/// KV key of the users (same as the original Worker).
pub const USERS_KEY: &str = "users";
/// KV key of the users value that a PUT replaced.
pub const USERS_PREVIOUS_KEY: &str = "users.previous";
/// Variable holding the vault token.
pub const TOKEN_VAR: &str = "ai_json_cryptoken";

/// Per-instance state kept between requests: the unlocked vault, parsed
/// users and the key pool. Hosts keep one in a `static`.
#[derive(Default)]
pub struct Gateway {
    vault: VaultCache,
    pool: KeyPool,
    users: Mutex<Option<(Vec<u8>, Arc<Users>)>>,
}

impl Gateway {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Handles one request. Never panics on bad input; every error is OpenAI-shaped.
pub async fn handle<H: Host>(gw: &Gateway, host: &H, req: Request) -> Response<H::Body> {
    let request_id = new_request_id(host);
    let cors = Cors::from_setting(host.variable("cors_allowed_origins").await.as_deref());
    let origin = req.header("origin").map(str::to_owned);
    let mut resp = if req.method == "OPTIONS" {
        cors.preflight(origin.as_deref(), req.header("access-control-request-headers"))
    } else {
        match dispatch(gw, host, &req, &request_id).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        }
    };
    cors.decorate(&mut resp, origin.as_deref());
    if resp.header("x-request-id").is_none() {
        resp.set_header("x-request-id", request_id);
    }
    if req.method == "HEAD" {
        resp.body = crate::http::Body::Empty;
    }
    resp
}

fn new_request_id<H: Host>(host: &H) -> String {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        b = host.now_ms().to_le_bytes();
    }
    format!("req_{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

fn require_method(req: &Request, allowed: &[&str]) -> Result<(), ApiError> {
    let m = req.method.as_str();
    if allowed.contains(&m) || (m == "HEAD" && allowed.contains(&"GET")) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(m, &req.path))
    }
}

async fn dispatch<H: Host>(
    gw: &Gateway,
    host: &H,
    req: &Request,
    request_id: &str,
) -> Result<Response<H::Body>, ApiError> {
    let path = req.path.as_str();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        [""] => {
            require_method(req, &["GET"])?;
            health(host).await
        }
        ["ai.json.enc"] => {
            require_method(req, &["GET", "PUT"])?;
            if req.method == "PUT" {
                vault_admin::put_vault(gw, host, req).await
            } else {
                vault_admin::get_vault_text(host, req).await
            }
        }
        ["ai.json"] => {
            require_method(req, &["GET"])?;
            vault_admin::get_json(gw, host, req).await
        }
        ["admin", "users"] => {
            require_method(req, &["GET", "PUT"])?;
            if req.method == "PUT" {
                users_admin::put(gw, host, req).await
            } else {
                users_admin::get(host, req).await
            }
        }
        ["admin", "providers", name, "discover"] => {
            require_method(req, &["POST"])?;
            discover::discover(gw, host, req, name).await
        }
        ["ui"] => {
            require_method(req, &["GET"])?;
            let mut r = Response::bytes(301, "text/plain", b"moved to /ui/".to_vec());
            r.set_header("location", "/ui/");
            Ok(r)
        }
        ["ui", rest @ ..] => {
            require_method(req, &["GET"])?;
            ui(&rest.join("/"))
        }
        ["v1", "providers"] => {
            require_method(req, &["GET"])?;
            let user = auth::user(gw, host, req).await?;
            auth::rate_limit(gw, host, &user).await?;
            catalog::providers(gw, host).await
        }
        ["v1", "chat", "completions"] => {
            require_method(req, &["POST"])?;
            forward::legacy(gw, host, req, request_id, None).await
        }
        [provider, "v1", "chat", "completions"] => {
            require_method(req, &["POST"])?;
            forward::legacy(gw, host, req, request_id, Some(provider)).await
        }
        [provider, "v1", "embeddings"] => {
            require_method(req, &["POST"])?;
            forward::by_path(
                gw,
                host,
                req,
                request_id,
                provider,
                crate::request_body::Kind::Embeddings,
            )
            .await
        }
        [provider, "v1", "models"] => {
            require_method(req, &["GET"])?;
            catalog::models(gw, host, req, provider, None).await
        }
        [provider, "v1", "models", id @ ..] if !id.is_empty() && id.iter().all(|s| !s.is_empty()) => {
            require_method(req, &["GET"])?;
            catalog::models(gw, host, req, provider, Some(&percent_decode(&id.join("/")))).await
        }
        _ => Err(ApiError::not_found("not_found", format!("no route for {path}"))),
    }
}

async fn health<H: Host>(host: &H) -> Result<Response<H::Body>, ApiError> {
    let mut body = json!({"status": "ok", "service": "ai-proxy", "version": crate::VERSION});
    if is_debug(host).await {
        // Lets tests and operators see that cached requests do not re-derive.
        body["vault_derivations"] = json!(vault::derivation_count());
    }
    Ok(Response::json(200, &body))
}

pub(crate) async fn is_debug<H: Host>(host: &H) -> bool {
    host.variable("debug")
        .await
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

fn ui<B>(path: &str) -> Result<Response<B>, ApiError> {
    let (bytes, content_type) = crate::embedded::ui_file(path)
        .ok_or_else(|| ApiError::not_found("not_found", format!("no UI file /ui/{path}")))?;
    let mut r = Response::bytes(200, content_type, bytes.to_vec());
    r.set_header("cache-control", "no-cache");
    r.set_header("x-content-type-options", "nosniff");
    if content_type.starts_with("text/html") {
        // The UI handles secrets: no third-party code, no framing.
        r.set_header(
            "content-security-policy",
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        );
        r.set_header("referrer-policy", "no-referrer");
    }
    Ok(r)
}

/// `%2F` in a model id path segment (clients may encode the `/` of
/// OpenRouter-style ids).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

/// The vault text: from KV, else the one embedded at build time.
pub(crate) async fn vault_text<H: Host>(host: &H) -> Result<Option<String>, ApiError> {
    match host.kv_get(VAULT_KEY).await {
        Ok(Some(bytes)) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| ApiError::internal("the stored vault is not text; upload a new one with PUT /ai.json.enc")),
        Ok(None) => Ok(crate::embedded::EMBEDDED_VAULT.map(str::to_owned)),
        Err(e) => Err(ApiError::new(503, "server_error", "kv_unavailable", e.to_string())),
    }
}

pub(crate) async fn server_token<H: Host>(host: &H) -> Result<String, ApiError> {
    host.variable(TOKEN_VAR).await.ok_or_else(|| {
        ApiError::new(
            500,
            "server_error",
            "not_configured",
            "the server has no ai_json_cryptoken variable set",
        )
    })
}

/// The unlocked vault (cached per instance, keyed by the vault text).
pub(crate) async fn unlocked<H: Host>(gw: &Gateway, host: &H) -> Result<Arc<Unlocked>, ApiError> {
    let token = server_token(host).await?;
    let text = vault_text(host).await?.ok_or_else(|| {
        ApiError::new(
            503,
            "server_error",
            "no_vault",
            "no vault is configured yet: upload one with PUT /ai.json.enc",
        )
    })?;
    gw.vault.unlock(&text, &token).map_err(|e| {
        ApiError::new(
            500,
            "server_error",
            "vault_unreadable",
            format!("the stored vault cannot be opened: {e}"),
        )
    })
}

pub const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;

/// Largest request body the host should read (variable `max_body_bytes`).
pub async fn body_limit<H: Host>(host: &H) -> usize {
    host.variable("max_body_bytes")
        .await
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_BODY)
}

/// The SSE event sent when an upstream stream fails part way.
pub fn stream_error_event(message: &str) -> Vec<u8> {
    let body = json!({"error": {"message": message, "type": "upstream_error", "code": "stream_interrupted"}});
    format!("data: {body}\n\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_of_model_ids() {
        assert_eq!(percent_decode("meta-llama%2Fllama-3"), "meta-llama/llama-3");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
