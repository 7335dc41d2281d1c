//! Who is calling: user keys (for the API) and the vault token (for admin).

use super::{server_token, Gateway, USERS_KEY};
use crate::error::ApiError;
use crate::host::Host;
use crate::http::Request;
use crate::ratelimit::{self, Decision};
use crate::users::{self, AuthOutcome, RateLimit, Users};
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub struct AuthedUser {
    pub name: String,
    pub rate_limit: Option<RateLimit>,
}

fn bearer(req: &Request) -> Result<&str, ApiError> {
    users::bearer(req.header("authorization"))
        .map_err(|_| ApiError::unauthorized("missing or malformed Authorization header: expected `Bearer <key>`"))
}

/// Users from KV, parsed once per distinct stored value.
pub async fn load_users<H: Host>(gw: &Gateway, host: &H) -> Result<Option<Arc<Users>>, ApiError> {
    let bytes = match host.kv_get(USERS_KEY).await {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(None),
        Err(e) => return Err(ApiError::new(503, "server_error", "kv_unavailable", e.to_string())),
    };
    let mut cache = gw.users.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((raw, parsed)) = cache.as_ref() {
        if *raw == bytes {
            return Ok(Some(parsed.clone()));
        }
    }
    let parsed = Arc::new(
        users::parse(&bytes).map_err(|e| ApiError::internal(format!("the stored users value is invalid: {e}")))?,
    );
    *cache = Some((bytes, parsed.clone()));
    Ok(Some(parsed))
}

/// Authenticates an API caller by user key. 401 without a usable header,
/// 403 for an unknown or expired key; the key is never echoed.
pub async fn user<H: Host>(gw: &Gateway, host: &H, req: &Request) -> Result<AuthedUser, ApiError> {
    let presented = bearer(req)?;
    let Some(users) = load_users(gw, host).await? else {
        return Err(ApiError::forbidden("invalid API key"));
    };
    match users.authenticate(presented) {
        AuthOutcome::Ok { name, user } => Ok(AuthedUser {
            name,
            rate_limit: user.rate_limit(),
        }),
        AuthOutcome::Unknown => Err(ApiError::forbidden("invalid API key")),
        AuthOutcome::Expired => Err(ApiError::new(
            403,
            "authentication_error",
            "expired_api_key",
            "this API key has expired",
        )),
    }
}

/// Applies the user's rate limit, or the vault's default, if any.
pub async fn rate_limit<H: Host>(gw: &Gateway, host: &H, user: &AuthedUser) -> Result<(), ApiError> {
    let limit = match user.rate_limit {
        Some(rl) => Some(rl),
        None => match super::unlocked(gw, host).await {
            Ok(u) => ratelimit::from_config(&u.config.extra),
            Err(_) => None,
        },
    };
    let Some(limit) = limit else { return Ok(()) };
    match ratelimit::check(host, &user.name, limit).await {
        Decision::Allowed { .. } => Ok(()),
        Decision::Limited { limit, retry_after } => Err(ApiError::new(
            429,
            "rate_limit_error",
            "rate_limited",
            format!("rate limit of {limit} requests per window reached; retry in {retry_after} s"),
        )
        .with_retry_after(retry_after)),
    }
}

/// Authenticates an admin call: the bearer must be the vault token
/// (compared in constant time). 401 without a header, 403 when wrong.
pub async fn admin<H: Host>(host: &H, req: &Request) -> Result<(), ApiError> {
    let presented = bearer(req)?;
    let token = server_token(host).await?;
    let same: bool = sha(presented).ct_eq(&sha(&token)).into();
    if same {
        Ok(())
    } else {
        Err(ApiError::forbidden("the bearer token does not open the vault"))
    }
}

fn sha(s: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes()).into()
}
