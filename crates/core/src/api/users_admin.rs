//! `GET /admin/users` (never keys) and `PUT /admin/users` (validated,
//! previous value kept, `If-Match`).

use super::vault_admin::check_preconditions;
use super::{auth, Gateway, USERS_KEY, USERS_PREVIOUS_KEY};
use crate::error::ApiError;
use crate::host::Host;
use crate::http::{Request, Response};
use crate::users::{self, Users};
use crate::vault::etag_of;
use serde_json::json;

fn kv_error(e: crate::host::KvError) -> ApiError {
    ApiError::new(503, "server_error", "kv_unavailable", e.to_string())
}

async fn current<H: Host>(host: &H) -> Result<(Option<Vec<u8>>, Users), ApiError> {
    let raw = host.kv_get(USERS_KEY).await.map_err(kv_error)?;
    let users = match &raw {
        Some(b) => {
            users::parse(b).map_err(|e| ApiError::internal(format!("the stored users value is invalid: {e}")))?
        }
        None => users::parse(b"{}").map_err(|e| ApiError::internal(e.to_string()))?,
    };
    Ok((raw, users))
}

fn etag(raw: &Option<Vec<u8>>) -> String {
    etag_of(&String::from_utf8_lossy(raw.as_deref().unwrap_or(b"{}")))
}

pub async fn get<H: Host>(host: &H, req: &Request) -> Result<Response<H::Body>, ApiError> {
    auth::admin(host, req).await?;
    let (raw, users) = current(host).await?;
    let tag = etag(&raw);
    let mut r = Response::json(200, &json!({"users": users.public_view(), "etag": tag}));
    r.set_header("etag", tag);
    r.set_header("cache-control", "no-store");
    Ok(r)
}

pub async fn put<H: Host>(_gw: &Gateway, host: &H, req: &Request) -> Result<Response<H::Body>, ApiError> {
    auth::admin(host, req).await?;
    if req.body_too_large || req.body.len() > super::vault_admin::MAX_VAULT_BYTES {
        return Err(ApiError::payload_too_large(super::vault_admin::MAX_VAULT_BYTES));
    }
    let (raw, users) = current(host).await?;
    check_preconditions(req, Some(&etag(&raw)))?;
    let update: serde_json::Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("body is not valid JSON: {e}")))?;
    let merged = users::merge_update(&users, &update).map_err(|issues| {
        let list: Vec<_> = issues
            .iter()
            .map(|i| json!({"path": i.path, "message": i.message}))
            .collect();
        ApiError::new(
            422,
            "invalid_request_error",
            "invalid_users",
            format!("the users update has {} problem(s)", issues.len()),
        )
        .with_detail("issues", json!(list))
    })?;
    let text = merged.to_json();
    if let Some(prev) = &raw {
        host.kv_set(USERS_PREVIOUS_KEY, prev).await.map_err(kv_error)?;
    }
    host.kv_set(USERS_KEY, text.as_bytes()).await.map_err(kv_error)?;
    let tag = etag_of(&text);
    let mut r = Response::json(200, &json!({"users": merged.public_view(), "etag": tag}));
    r.set_header("etag", tag);
    Ok(r)
}
