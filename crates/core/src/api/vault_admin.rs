//! `GET /ai.json.enc`, `PUT /ai.json.enc`, `GET /ai.json`: the vault, made
//! safe — a PUT that does not decrypt and validate stores nothing, the
//! replaced vault is kept, and `If-Match` stops lost updates.

use super::{auth, server_token, vault_text, Gateway, VAULT_KEY, VAULT_PREVIOUS_KEY};
use crate::config;
use crate::error::ApiError;
use crate::host::Host;
use crate::http::{Request, Response};
use crate::vault::{self, etag_of};
use serde_json::json;

/// Largest vault accepted (Spin's key-value values are limited to 1 MiB).
pub const MAX_VAULT_BYTES: usize = 1024 * 1024;

fn kv_error(e: crate::host::KvError) -> ApiError {
    ApiError::new(503, "server_error", "kv_unavailable", e.to_string())
}

pub async fn get_vault_text<H: Host>(host: &H, req: &Request) -> Result<Response<H::Body>, ApiError> {
    let text = vault_text(host)
        .await?
        .ok_or_else(|| ApiError::not_found("no_vault", "no vault is stored yet: upload one with PUT /ai.json.enc"))?;
    let etag = etag_of(&text);
    if req
        .header("if-none-match")
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        let mut r = Response {
            status: 304,
            headers: Vec::new(),
            body: crate::http::Body::Empty,
        };
        r.set_header("etag", etag);
        return Ok(r);
    }
    let mut r = Response::bytes(200, "text/plain; charset=utf-8", text.into_bytes());
    r.set_header("etag", etag);
    r.set_header("cache-control", "no-cache");
    Ok(r)
}

/// `If-Match` / `If-None-Match: *` against the current ETag (None = no vault).
pub(crate) fn check_preconditions(req: &Request, current: Option<&str>) -> Result<(), ApiError> {
    let conflict = |m: &str| ApiError::new(412, "invalid_request_error", "precondition_failed", m.to_owned());
    if let Some(im) = req.header("if-match") {
        let ok = match current {
            Some(etag) => im.split(',').map(str::trim).any(|t| t == "*" || t == etag),
            None => false,
        };
        if !ok {
            return Err(conflict(
                "the stored value changed since you read it (If-Match does not match): reload and retry",
            ));
        }
    }
    if req.header("if-none-match").is_some_and(|v| v.trim() == "*") && current.is_some() {
        return Err(conflict("a value already exists (If-None-Match: *)"));
    }
    Ok(())
}

pub async fn put_vault<H: Host>(gw: &Gateway, host: &H, req: &Request) -> Result<Response<H::Body>, ApiError> {
    auth::admin(host, req).await?;
    if req.body_too_large || req.body.len() > MAX_VAULT_BYTES {
        return Err(ApiError::payload_too_large(MAX_VAULT_BYTES));
    }
    let text = std::str::from_utf8(&req.body)
        .map_err(|_| ApiError::bad_request("vault_not_text", "the vault must be the base64 text openssl produces"))?;
    let current = host.kv_get(VAULT_KEY).await.map_err(kv_error)?;
    let current_text = current.as_deref().map(String::from_utf8_lossy);
    check_preconditions(req, current_text.as_deref().map(etag_of).as_deref())?;

    let token = server_token(host).await?;
    let plain = vault::decrypt_to_string(text, &token).map_err(|e| {
        ApiError::bad_request(
            e.code(),
            format!("the vault does not decrypt with the server's token: {e}"),
        )
    })?;
    let value: serde_json::Value = serde_json::from_str(&plain)
        .map_err(|e| ApiError::bad_request("vault_not_json", format!("the decrypted vault is not JSON: {e}")))?;
    let issues = config::validate(&value);
    if !issues.is_empty() {
        let list: Vec<_> = issues
            .iter()
            .map(|i| json!({"path": i.path, "message": i.message}))
            .collect();
        let summary: Vec<String> = issues.iter().take(5).map(|i| i.to_string()).collect();
        return Err(ApiError::new(
            422,
            "invalid_request_error",
            "invalid_vault",
            format!("the vault has {} problem(s): {}", issues.len(), summary.join("; ")),
        )
        .with_detail("issues", json!(list)));
    }
    let parsed = config::parse(&plain)
        .map_err(|e| ApiError::new(422, "invalid_request_error", "invalid_vault", e.to_string()))?;

    if let Some(prev) = &current {
        host.kv_set(VAULT_PREVIOUS_KEY, prev).await.map_err(kv_error)?;
    }
    host.kv_set(VAULT_KEY, text.as_bytes()).await.map_err(kv_error)?;
    // Warm this instance's cache; other instances see the new text on
    // their next request (the cache is keyed by the text).
    gw.vault.remember(text, &token, parsed, plain);
    let etag = etag_of(text);
    let mut r = Response::json(
        if current.is_some() { 200 } else { 201 },
        &json!({"ok": true, "etag": etag}),
    );
    r.set_header("etag", etag);
    Ok(r)
}

pub async fn get_json<H: Host>(gw: &Gateway, host: &H, req: &Request) -> Result<Response<H::Body>, ApiError> {
    // Only the server's token opens the stored vault (PUT guarantees it), so
    // comparing tokens first avoids a PBKDF2 run per wrong guess.
    auth::admin(host, req).await?;
    let unlocked = super::unlocked(gw, host).await?;
    let mut r = Response::bytes(200, "application/json", unlocked.raw_json.clone().into_bytes());
    r.set_header("etag", unlocked.etag.clone());
    r.set_header("cache-control", "no-store");
    Ok(r)
}
