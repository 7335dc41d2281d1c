//! Forwarding chat completions and embeddings: provider choice, request
//! validation, key pool with failover, streaming pass-through, one log line.

use super::{auth, catalog, Gateway};
use crate::error::ApiError;
use crate::host::{Host, OutboundRequest, SendError, Timeouts, UpstreamResponse};
use crate::http::{Body, Request, Response};
use crate::keys;
use crate::request_body::{self, Kind as Op};
use crate::routing;

/// A refused attempt: status, headers and (small) body of the upstream answer.
type FailedAttempt = (u16, Vec<(String, String)>, Vec<u8>);

/// Upstream headers worth passing to the client.
fn keep_header(name: &str) -> bool {
    matches!(
        name,
        "content-type"
            | "x-request-id"
            | "openai-processing-ms"
            | "openai-model"
            | "openai-version"
            | "retry-after"
            | "cache-control"
    ) || name.starts_with("x-ratelimit-")
        || name.starts_with("anthropic-ratelimit-")
}

async fn timeouts<H: Host>(host: &H) -> Timeouts {
    async fn ms<H: Host>(host: &H, name: &str, default: u64) -> u64 {
        host.variable(name)
            .await
            .and_then(|v| v.trim().parse().ok())
            .filter(|v| *v > 0)
            .unwrap_or(default)
    }
    Timeouts {
        connect_ms: ms(host, "upstream_connect_timeout_ms", 10_000).await,
        first_byte_ms: ms(host, "upstream_first_byte_timeout_ms", 120_000).await,
        between_bytes_ms: ms(host, "upstream_idle_timeout_ms", 60_000).await,
    }
}

/// `POST /v1/chat/completions` and `POST /:provider/v1/chat/completions`:
/// `X-Host-Final` picks the provider on the legacy routes (`/v1/...` and
/// `/openai/v1/...`), the path prefix everywhere else.
pub async fn legacy<H: Host>(
    gw: &Gateway,
    host: &H,
    req: &Request,
    request_id: &str,
    path_provider: Option<&str>,
) -> Result<Response<H::Body>, ApiError> {
    let header = req.header("x-host-final").map(str::to_owned);
    let header_decides = matches!(path_provider, None | Some("openai")) && header.is_some();
    if !header_decides {
        let Some(p) = path_provider else {
            return Err(ApiError::bad_request(
                "provider_required",
                "cannot tell the provider: use /<provider>/v1/chat/completions or send X-Host-Final",
            ));
        };
        return by_path(gw, host, req, request_id, p, Op::Chat).await;
    }
    let user = auth::user(gw, host, req).await?;
    let unlocked = super::unlocked(gw, host).await?;
    let name = routing::provider_for_host(&unlocked.config, header.as_deref().unwrap_or(""))?;
    auth::rate_limit(gw, host, &user).await?;
    forward(gw, host, req, request_id, &name, Op::Chat, unlocked).await
}

pub async fn by_path<H: Host>(
    gw: &Gateway,
    host: &H,
    req: &Request,
    request_id: &str,
    provider: &str,
    op: Op,
) -> Result<Response<H::Body>, ApiError> {
    let user = auth::user(gw, host, req).await?;
    let unlocked = super::unlocked(gw, host).await?;
    auth::rate_limit(gw, host, &user).await?;
    forward(gw, host, req, request_id, provider, op, unlocked).await
}

async fn forward<H: Host>(
    gw: &Gateway,
    host: &H,
    req: &Request,
    request_id: &str,
    name: &str,
    op: Op,
    unlocked: std::sync::Arc<crate::vault::Unlocked>,
) -> Result<Response<H::Body>, ApiError> {
    if req.body_too_large {
        return Err(ApiError::payload_too_large(super::body_limit(host).await));
    }
    let provider = catalog::lookup(&unlocked.config, name)?;
    let body = request_body::Body::parse(&req.body, op)?;
    let account = host.variable("cloudflare_account_id").await;
    let target = routing::upstream(name, provider, op, &body.model, account.as_deref())?;
    let payload = body.with_model(&target.model);

    let now = host.now_ms();
    let usable = provider.usable_keys(now);
    if usable.is_empty() {
        return Err(ApiError::new(
            503,
            "server_error",
            "no_usable_key",
            format!("provider {name} has no usable API key"),
        ));
    }
    let key_texts: Vec<&str> = usable.iter().map(|(_, k)| k.key.as_str()).collect();
    let order = gw.pool.order(name, &key_texts, now);

    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if let Some(accept) = req.header("accept") {
        headers.push(("accept".into(), accept.to_owned()));
    }
    if target.via_gateway {
        let gw_token = match provider.gateway_key.as_deref().filter(|k| !k.is_empty()) {
            Some(k) => Some(k.to_owned()),
            None => host.variable("cloudflare_aig_token").await,
        };
        if let Some(t) = gw_token {
            headers.push(("cf-aig-authorization".into(), format!("Bearer {t}")));
        }
    }
    let timeouts = timeouts(host).await;

    let started = host.now_ms();
    let mut attempts = 0usize;
    let mut last: Option<Result<FailedAttempt, SendError>> = None;
    for &i in &order {
        attempts += 1;
        let (key_index, key) = usable[i];
        let mut h = headers.clone();
        h.push(("authorization".into(), format!("Bearer {}", key.key)));
        let out = OutboundRequest {
            method: "POST",
            url: target.url.clone(),
            headers: h,
            body: payload.clone(),
            timeouts,
        };
        match host.send(out).await {
            Ok(resp) if !keys::is_failover_status(resp.status) => {
                log(
                    host,
                    request_id,
                    name,
                    &body.model,
                    key_index,
                    resp.status,
                    started,
                    attempts,
                );
                return Ok(pass_through(resp, body.stream, attempts));
            }
            Ok(resp) => {
                let UpstreamResponse {
                    status,
                    headers: rh,
                    body: rb,
                } = resp;
                let retry_after = rh.iter().find(|(k, _)| k == "retry-after").map(|(_, v)| v.as_str());
                if let Some(ms) = keys::rest_for(status, retry_after) {
                    gw.pool.rest(name, &key.key, host.now_ms() + ms);
                }
                // Read the (small) error body so the connection can be reused
                // and, if every key fails, the client sees the last answer.
                let bytes = host.read_body(rb, 256 * 1024).await.unwrap_or_default();
                log(
                    host,
                    request_id,
                    name,
                    &body.model,
                    key_index,
                    status,
                    started,
                    attempts,
                );
                last = Some(Ok((status, rh, bytes)));
            }
            Err(SendError::Timeout(m)) => {
                log(host, request_id, name, &body.model, key_index, 504, started, attempts);
                let _ = m;
                return Err(with_attempts(
                    ApiError::gateway_timeout(format!("{name} did not answer in time")),
                    attempts,
                ));
            }
            Err(SendError::NotAllowed(_)) => {
                log(host, request_id, name, &body.model, key_index, 502, started, attempts);
                return Err(with_attempts(
                    ApiError::bad_gateway(format!(
                        "the host refused the outbound request to {name}: its host is not in allowed_outbound_hosts"
                    )),
                    attempts,
                ));
            }
            Err(e) => {
                log(host, request_id, name, &body.model, key_index, 502, started, attempts);
                last = Some(Err(e));
            }
        }
    }
    match last {
        Some(Ok((status, rh, bytes))) => {
            let mut r = Response {
                status,
                headers: Vec::new(),
                body: Body::Bytes(bytes),
            };
            for (k, v) in rh.into_iter().filter(|(k, _)| keep_header(k)) {
                r.headers.push((k, v));
            }
            r.set_header("x-ai-proxy-attempts", attempts.to_string());
            Ok(r)
        }
        Some(Err(e)) => Err(with_attempts(
            ApiError::bad_gateway(format!("{name} is unreachable ({})", short(&e))),
            attempts,
        )),
        None => Err(ApiError::internal("no attempt was made")),
    }
}

fn short(e: &SendError) -> &'static str {
    match e {
        SendError::Connect(_) => "connection failed",
        SendError::Timeout(_) => "timed out",
        SendError::NotAllowed(_) => "destination not allowed",
        SendError::Other(_) => "protocol error",
    }
}

fn with_attempts(e: ApiError, attempts: usize) -> ApiError {
    e.with_detail("attempts", serde_json::json!(attempts))
}

fn pass_through<B>(resp: UpstreamResponse<B>, stream: bool, attempts: usize) -> Response<B> {
    let ok = (200..300).contains(&resp.status);
    let is_sse = resp
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("text/event-stream"));
    let headers: Vec<(String, String)> = resp.headers.into_iter().filter(|(k, _)| keep_header(k)).collect();
    let sse = ok && (stream || is_sse);
    let mut r = Response {
        status: resp.status,
        headers,
        body: if sse {
            Body::UpstreamSse(resp.body)
        } else {
            Body::Upstream(resp.body)
        },
    };
    if attempts > 1 {
        r.set_header("x-ai-proxy-attempts", attempts.to_string());
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn log<H: Host>(
    host: &H,
    request_id: &str,
    provider: &str,
    model: &str,
    key_index: usize,
    status: u16,
    started: u64,
    attempt: usize,
) {
    let ms = host.now_ms().saturating_sub(started);
    // The model id comes from the client: keep it printable and short.
    let model: String = model.chars().filter(|c| !c.is_control()).take(120).collect();
    host.log(&format!(
        "ai-proxy: {request_id} provider={provider} model={model:?} key=#{key_index} attempt={attempt} status={status} upstream_ms={ms}"
    ));
}
