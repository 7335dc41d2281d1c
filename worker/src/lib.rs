//! The Cloudflare Worker: a thin adapter from Workers types (workers-rs,
//! web-sys) to `ai-proxy-core`. Every rule lives in the core; this crate only
//! converts requests, responses and host effects.
//!
//! Bindings are those of the original ai-proxy Worker: KV namespace
//! `KV_AI_PROXY`, secrets `AI_JSON_CRYPTOKEN`, `CLOUDFLARE_ACCOUNT_ID`,
//! `CLOUDFLARE_AIG_TOKEN`, var `DEBUG` (see wrangler.toml).
#![cfg(target_arch = "wasm32")]

mod body;
mod effects;

use ai_proxy_core::api::{self, Gateway};
use std::sync::LazyLock;
use worker::{event, Context, Env};

/// Isolate-wide state (unlocked-vault cache keyed by the vault's hash, key
/// pool, parsed users). An isolate serves many requests, so this survives
/// between them; a vault PUT through any isolate changes the stored text and
/// so the hash every isolate checks on its next request.
static GATEWAY: LazyLock<Gateway> = LazyLock::new(Gateway::new);

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, _ctx: Context) -> worker::Result<web_sys::Response> {
    let host = effects::WorkerHost::new(env);
    let limit = api::body_limit(&host).await;
    let core_req = body::into_core(req.inner(), limit).await;
    let resp = api::handle(&GATEWAY, &host, core_req).await;
    Ok(body::into_web(resp))
}
