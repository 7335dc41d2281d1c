//! Which provider a request goes to, and the exact upstream URL and model id
//! (Cloudflare AI Gateway or direct).

use crate::config::{AiConfig, Provider};
use crate::discovery::Kind;
use crate::error::ApiError;
use crate::request_body::Kind as Op;

/// Host part of a URL (`https://api.groq.com/openai/v1` → `api.groq.com`).
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The provider named by `X-Host-Final`: a configured provider whose
/// `endpoint` host matches, else the provider of a known API host. The
/// header is only ever used to *select* a configured provider.
pub fn provider_for_host(config: &AiConfig, header: &str) -> Result<String, ApiError> {
    let host = url_host(header.trim()).ok_or_else(|| ApiError::bad_request("invalid_host", "X-Host-Final is empty"))?;
    for (name, p) in config.providers() {
        if p.endpoint.as_deref().and_then(url_host).as_deref() == Some(host.as_str()) {
            return Ok(name.to_owned());
        }
    }
    for kind in Kind::ALL {
        if kind.api_host() == host {
            return Ok(kind.as_str().to_owned());
        }
    }
    Err(ApiError::bad_request(
        "unknown_host",
        format!("X-Host-Final {host:?} is not a known provider host"),
    ))
}

/// The provider's kind, by name or by endpoint host.
pub fn kind_of(name: &str, provider: &Provider) -> Option<Kind> {
    Kind::from_provider(name, provider.endpoint.as_deref())
}

/// Where one request goes.
#[derive(Debug, PartialEq, Eq)]
pub struct Upstream {
    pub url: String,
    pub model: String,
    pub via_gateway: bool,
}

/// Adds `prefix/` unless the model already carries it.
pub fn prefixed_model(prefix: Option<&str>, model: &str) -> String {
    match prefix.map(|p| p.trim().trim_end_matches('/')).filter(|p| !p.is_empty()) {
        Some(p) if !model.starts_with(&format!("{p}/")) => format!("{p}/{model}"),
        _ => model.to_owned(),
    }
}

fn strip_suffixes(url: &str) -> &str {
    let url = url.trim().trim_end_matches('/');
    for suffix in ["/chat/completions", "/embeddings"] {
        if let Some(base) = url.strip_suffix(suffix) {
            return base;
        }
    }
    url
}

fn op_path(op: Op) -> &'static str {
    match op {
        Op::Chat => "/chat/completions",
        Op::Embeddings => "/embeddings",
    }
}

/// Cloudflare's provider-specific route for embeddings, per provider kind:
/// `(gateway provider slug, that provider's own embeddings path)`.
fn gateway_embeddings_route(kind: Option<Kind>) -> Option<(&'static str, &'static str)> {
    match kind? {
        Kind::OpenAi => Some(("openai", "/embeddings")),
        Kind::Mistral => Some(("mistral", "/v1/embeddings")),
        Kind::Gemini => Some(("google-ai-studio", "/v1beta/openai/embeddings")),
        Kind::OpenRouter => Some(("openrouter", "/v1/embeddings")),
        // No OpenAI-style embeddings API.
        Kind::Groq | Kind::Anthropic => None,
        // Not native gateway providers: reached as `custom-*` (below).
        Kind::SambaNova | Kind::Morph => None,
    }
}

/// Builds the upstream URL and model for one request.
pub fn upstream(
    name: &str,
    provider: &Provider,
    op: Op,
    model: &str,
    account_id: Option<&str>,
) -> Result<Upstream, ApiError> {
    let listed_prefix = provider.model(model).and_then(|m| m.gateway_prefix.as_deref());
    let kind = kind_of(name, provider);
    if let Some(gw) = provider.gateway_endpoint.as_deref().filter(|g| !g.trim().is_empty()) {
        let gw = gw.replace("{account}", account_id.unwrap_or(""));
        if gw.contains("//v1//") || account_id.is_none_or(str::is_empty) && gw.contains("/v1//") {
            return Err(ApiError::new(
                500,
                "server_error",
                "gateway_misconfigured",
                format!("provider {name}: gatewayEndpoint needs cloudflare_account_id to be set"),
            ));
        }
        let prefix = listed_prefix.or(provider.gateway_model_prefix.as_deref());
        return match op {
            Op::Chat => Ok(Upstream {
                url: format!("{}{}", strip_suffixes(&gw), op_path(op)),
                model: prefixed_model(prefix, model),
                via_gateway: true,
            }),
            Op::Embeddings => {
                // The compat endpoint is documented for chat only: use the
                // gateway's provider-specific route, model unprefixed.
                let base = strip_suffixes(&gw);
                let gateway_base = base.strip_suffix("/compat").unwrap_or(base);
                let custom = provider
                    .gateway_model_prefix
                    .as_deref()
                    .filter(|p| p.starts_with("custom-"))
                    .map(|p| (p, "/embeddings"));
                let (slug, path) = gateway_embeddings_route(kind).or(custom).ok_or_else(|| {
                    ApiError::bad_request(
                        "embeddings_unsupported",
                        format!("provider {name} has no OpenAI-style embeddings API reachable through the gateway"),
                    )
                })?;
                let model = match prefix {
                    Some(p) => model.strip_prefix(&format!("{p}/")).unwrap_or(model).to_owned(),
                    None => model.to_owned(),
                };
                Ok(Upstream {
                    url: format!("{gateway_base}/{slug}{path}"),
                    model,
                    via_gateway: true,
                })
            }
        };
    }
    if op == Op::Embeddings && matches!(kind, Some(Kind::Groq | Kind::Anthropic)) && provider.endpoint.is_none() {
        return Err(ApiError::bad_request(
            "embeddings_unsupported",
            format!("provider {name} has no OpenAI-style embeddings API"),
        ));
    }
    let base = match provider.endpoint.as_deref().filter(|e| !e.trim().is_empty()) {
        Some(e) => strip_suffixes(e).to_owned(),
        None => kind.map(|k| k.default_base().to_owned()).ok_or_else(|| {
            ApiError::new(
                500,
                "server_error",
                "provider_misconfigured",
                format!("provider {name} has neither endpoint nor gatewayEndpoint"),
            )
        })?,
    };
    Ok(Upstream {
        url: format!("{base}{}", op_path(op)),
        model: model.to_owned(),
        via_gateway: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn cfg() -> AiConfig {
        config::parse(
            r#"{"version":1,"providers":{
            "groq":{"protocol":"openai","endpoint":"https://api.groq.com/openai/v1",
              "gatewayEndpoint":"https://gateway.ai.cloudflare.com/v1/{account}/default/compat","gatewayModelPrefix":"groq",
              "keys":[{"key":"k1"}],"models":[{"id":"special","usage":"chat","gatewayPrefix":"workers-ai"}]},
            "sambanova":{"endpoint":"https://api.sambanova.ai/api/chat/completions",
              "gatewayEndpoint":"https://gateway.ai.cloudflare.com/v1/{account}/default/compat","gatewayModelPrefix":"custom-sambanova","keys":[]},
            "openai":{"gatewayEndpoint":"https://gateway.ai.cloudflare.com/v1/{account}/gw/compat/chat/completions","gatewayModelPrefix":"openai","keys":[]},
            "mistral":{"endpoint":"http://127.0.0.1:9/mistral/v1/","keys":[]},
            "corp":{"endpoint":"https://llm.corp.example/v1","keys":[]},
            "anthropic":{"keys":[]}
            }}"#,
        )
        .unwrap()
    }

    fn up(name: &str, op: Op, model: &str) -> Result<Upstream, ApiError> {
        let c = cfg();
        upstream(name, c.provider(name).unwrap(), op, model, Some("acc123"))
    }

    #[test]
    fn gateway_chat_prefixes_model_once_and_fills_account() {
        let u = up("groq", Op::Chat, "llama-3.3-70b-versatile").unwrap();
        assert_eq!(
            u.url,
            "https://gateway.ai.cloudflare.com/v1/acc123/default/compat/chat/completions"
        );
        assert_eq!(u.model, "groq/llama-3.3-70b-versatile");
        assert_eq!(up("groq", Op::Chat, "groq/llama").unwrap().model, "groq/llama");
        assert_eq!(
            up("sambanova", Op::Chat, "Meta-Llama").unwrap().model,
            "custom-sambanova/Meta-Llama"
        );
    }

    #[test]
    fn listed_model_gateway_prefix_wins() {
        assert_eq!(up("groq", Op::Chat, "special").unwrap().model, "workers-ai/special");
    }

    #[test]
    fn gateway_endpoint_with_chat_suffix_is_not_doubled() {
        let u = up("openai", Op::Chat, "gpt-4o").unwrap();
        assert_eq!(
            u.url,
            "https://gateway.ai.cloudflare.com/v1/acc123/gw/compat/chat/completions"
        );
    }

    #[test]
    fn gateway_embeddings_use_provider_specific_routes_unprefixed() {
        let u = up("openai", Op::Embeddings, "text-embedding-3-small").unwrap();
        assert_eq!(
            u.url,
            "https://gateway.ai.cloudflare.com/v1/acc123/gw/openai/embeddings"
        );
        assert_eq!(u.model, "text-embedding-3-small");
        let u = up("sambanova", Op::Embeddings, "E5-Mistral-7B-Instruct").unwrap();
        assert_eq!(
            u.url,
            "https://gateway.ai.cloudflare.com/v1/acc123/default/custom-sambanova/embeddings"
        );
        let e = up("groq", Op::Embeddings, "x").unwrap_err();
        assert_eq!((e.status, e.code), (400, "embeddings_unsupported"));
    }

    #[test]
    fn direct_mode_appends_paths_and_keeps_model() {
        let u = up("mistral", Op::Chat, "mistral-small").unwrap();
        assert_eq!(u.url, "http://127.0.0.1:9/mistral/v1/chat/completions");
        assert_eq!(u.model, "mistral-small");
        assert_eq!(
            up("mistral", Op::Embeddings, "e").unwrap().url,
            "http://127.0.0.1:9/mistral/v1/embeddings"
        );
        assert_eq!(
            up("anthropic", Op::Chat, "claude").unwrap().url,
            "https://api.anthropic.com/v1/chat/completions"
        );
        assert_eq!(
            up("corp", Op::Chat, "m").unwrap().url,
            "https://llm.corp.example/v1/chat/completions"
        );
    }

    #[test]
    fn missing_account_id_is_a_clear_configuration_error() {
        let c = cfg();
        let e = upstream("groq", c.provider("groq").unwrap(), Op::Chat, "m", None).unwrap_err();
        assert_eq!(e.code, "gateway_misconfigured");
    }

    #[test]
    fn x_host_final_selects_configured_or_known_providers_only() {
        let c = cfg();
        assert_eq!(provider_for_host(&c, "api.groq.com").unwrap(), "groq");
        assert_eq!(provider_for_host(&c, "https://api.sambanova.ai/").unwrap(), "sambanova");
        assert_eq!(provider_for_host(&c, "llm.corp.example").unwrap(), "corp");
        assert_eq!(provider_for_host(&c, "API.OPENAI.COM").unwrap(), "openai");
        assert_eq!(provider_for_host(&c, "evil.example").unwrap_err().status, 400);
        assert_eq!(provider_for_host(&c, " ").unwrap_err().status, 400);
    }

    #[test]
    fn url_host_handles_ports_userinfo_and_paths() {
        assert_eq!(url_host("http://u:p@127.0.0.1:8080/x").as_deref(), Some("127.0.0.1"));
        assert_eq!(url_host("api.groq.com").as_deref(), Some("api.groq.com"));
    }
}
