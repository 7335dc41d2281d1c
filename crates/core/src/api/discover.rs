//! `POST /admin/providers/:provider/discover`: the provider's model list,
//! fetched server-side (no browser CORS failures) and normalized.

use super::{auth, catalog, Gateway};
use crate::config::Provider;
use crate::discovery::{self, Kind};
use crate::error::ApiError;
use crate::host::{Host, OutboundRequest, SendError, Timeouts};
use crate::http::{Request, Response};
use serde_json::Value;

const MAX_PAGES: usize = 50;
const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

pub async fn discover<H: Host>(
    gw: &Gateway,
    host: &H,
    req: &Request,
    name: &str,
) -> Result<Response<H::Body>, ApiError> {
    auth::admin(host, req).await?;
    // The UI may send its unsaved draft of the provider; otherwise use the
    // saved vault's.
    let draft: Option<Provider> = if req.body.iter().any(|b| !b.is_ascii_whitespace()) {
        let v: Value = serde_json::from_slice(&req.body)
            .map_err(|e| ApiError::bad_request("invalid_json", format!("body is not valid JSON: {e}")))?;
        match v.get("provider") {
            Some(p) if !p.is_null() => Some(serde_json::from_value(p.clone()).map_err(|e| {
                ApiError::bad_request("invalid_provider", format!("`provider` is not a provider object: {e}"))
            })?),
            _ => None,
        }
    } else {
        None
    };
    let unlocked;
    let provider = match &draft {
        Some(p) => p,
        None => {
            unlocked = super::unlocked(gw, host).await?;
            catalog::lookup(&unlocked.config, name)?
        }
    };
    let kind = Kind::from_provider(name, provider.endpoint.as_deref()).ok_or_else(|| {
        ApiError::bad_request(
            "unknown_provider_kind",
            format!(
                "cannot tell which provider API {name:?} speaks: name it after a known provider or set its endpoint"
            ),
        )
    })?;
    let usable = provider.usable_keys(host.now_ms());
    let key = usable.first().map(|(_, k)| k.key.as_str()).ok_or_else(|| {
        ApiError::bad_request(
            "no_usable_key",
            format!("provider {name} has no usable key to list its models"),
        )
    })?;

    let mut page_req = discovery::first_request(kind, provider.endpoint.as_deref(), key);
    let mut pages = Vec::new();
    for _ in 0..MAX_PAGES {
        let out = OutboundRequest {
            method: "GET",
            url: page_req.url.clone(),
            headers: page_req.headers.clone(),
            body: Vec::new(),
            timeouts: Timeouts {
                connect_ms: 10_000,
                first_byte_ms: 30_000,
                between_bytes_ms: 30_000,
            },
        };
        let resp = host.send(out).await.map_err(|e| match e {
            SendError::Timeout(_) => ApiError::gateway_timeout(format!("{name} model list timed out")),
            other => ApiError::bad_gateway(format!("{name} model list unreachable: {}", describe(&other))),
        })?;
        let status = resp.status;
        let body = host
            .read_body(resp.body, MAX_PAGE_BYTES)
            .await
            .map_err(|e| ApiError::bad_gateway(format!("{name} model list: {}", describe(&e))))?;
        if !(200..300).contains(&status) {
            let detail = upstream_message(&body, key);
            return Err(ApiError::new(
                502,
                "upstream_error",
                "discovery_failed",
                format!("{name} answered {status} to the model list request{detail}"),
            ));
        }
        let page: Value = serde_json::from_slice(&body)
            .map_err(|_| ApiError::bad_gateway(format!("{name} model list is not JSON")))?;
        let next = discovery::next_request(kind, &page_req, &page);
        pages.push(page);
        match next {
            Some(n) => page_req = n,
            None => break,
        }
    }
    let result = discovery::normalize(kind, name, &pages);
    let value = serde_json::to_value(&result).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Response::json(200, &value))
}

fn describe(e: &SendError) -> String {
    match e {
        SendError::NotAllowed(_) => "its host is not in allowed_outbound_hosts".into(),
        SendError::Connect(_) => "connection failed".into(),
        SendError::Timeout(_) => "timed out".into(),
        SendError::Other(m) => m.clone(),
    }
}

/// A short upstream error message, if the body has one (never echoes headers).
fn upstream_message(body: &[u8], key: &str) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let msg = v["error"]["message"]
        .as_str()
        .or_else(|| v["error"].as_str())
        .or_else(|| v["message"].as_str());
    match msg {
        // Providers sometimes quote the key they refused.
        Some(m) => format!(": {}", m.replace(key, "***").chars().take(300).collect::<String>()),
        None => String::new(),
    }
}
