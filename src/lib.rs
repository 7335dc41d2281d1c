//! The Spin component: a thin adapter from spin-sdk / wasi:http@0.3 types to
//! `ai-proxy-core`. Every rule lives in the core; this file only converts
//! requests, responses and host effects.
#![cfg(target_arch = "wasm32")]

mod body;
mod effects;

use ai_proxy_core::api::{self, Gateway};
use ai_proxy_core::http::Request as CoreRequest;
use spin_sdk::http::Request;
use spin_sdk::wasip3::http::types::{ErrorCode, Response as WasiResponse};
use std::sync::LazyLock;

/// Instance-wide state (vault cache, key pool). Spin and `ai-proxy up` reuse
/// instances, so this survives between requests.
static GATEWAY: LazyLock<Gateway> = LazyLock::new(Gateway::new);

#[spin_sdk::http_service]
async fn handle(req: Request) -> Result<WasiResponse, ErrorCode> {
    let host = effects::SpinHost::new();
    let limit = api::body_limit(&host).await;
    let (parts, body) = req.into_parts();
    let (bytes, too_large) = body::read_limited(body, limit).await;
    let core_req = CoreRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: bytes,
        body_too_large: too_large,
    };
    let resp = api::handle(&GATEWAY, &host, core_req).await;
    body::into_wasi(resp)
}
