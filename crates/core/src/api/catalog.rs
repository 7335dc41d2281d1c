//! `GET /v1/providers` and `GET /:provider/v1/models[/:id]`, OpenAI-shaped,
//! in vault order.

use super::{auth, Gateway};
use crate::config::{Model, Provider};
use crate::error::ApiError;
use crate::host::Host;
use crate::http::{Request, Response};
use serde_json::{json, Value};

pub async fn providers<H: Host>(gw: &Gateway, host: &H) -> Result<Response<H::Body>, ApiError> {
    let unlocked = super::unlocked(gw, host).await?;
    let now = host.now_ms();
    let data: Vec<Value> = unlocked
        .config
        .providers()
        .filter(|(_, p)| !p.usable_keys(now).is_empty())
        .map(|(name, p)| json!({"id": name, "object": "provider", "protocol": p.protocol.as_deref().unwrap_or("openai")}))
        .collect();
    Ok(Response::json(200, &json!({"object": "list", "data": data})))
}

fn model_json(provider: &str, m: &Model) -> Value {
    let ctx = m.context_window.unwrap_or(0);
    json!({
        "id": m.id,
        "object": "model",
        "created": 0,
        "owned_by": provider,
        "context_window": ctx,
        "context_length": ctx,
        "max_completion_tokens": m.max_output_tokens.unwrap_or(0),
    })
}

pub(crate) fn lookup<'a>(config: &'a crate::config::AiConfig, name: &str) -> Result<&'a Provider, ApiError> {
    config
        .provider(name)
        .ok_or_else(|| ApiError::not_found("provider_not_found", format!("provider {name:?} is not configured")))
}

pub async fn models<H: Host>(
    gw: &Gateway,
    host: &H,
    req: &Request,
    provider: &str,
    id: Option<&str>,
) -> Result<Response<H::Body>, ApiError> {
    let user = auth::user(gw, host, req).await?;
    auth::rate_limit(gw, host, &user).await?;
    let unlocked = super::unlocked(gw, host).await?;
    let p = lookup(&unlocked.config, provider)?;
    match id {
        None => {
            let data: Vec<Value> = p.models.iter().map(|m| model_json(provider, m)).collect();
            Ok(Response::json(200, &json!({"object": "list", "data": data})))
        }
        Some(id) => {
            let m = p.model(id).ok_or_else(|| {
                ApiError::not_found(
                    "model_not_found",
                    format!("model {id:?} is not listed for provider {provider}"),
                )
            })?;
            Ok(Response::json(200, &model_json(provider, m)))
        }
    }
}
