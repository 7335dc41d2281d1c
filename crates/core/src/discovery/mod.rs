//! Server-side model discovery, sans-IO.
//!
//! The caller performs the HTTP calls; this module says what to ask for and
//! how to read the answers:
//!
//! 1. [`first_request`] builds the first list-models `GET`;
//! 2. after each page, [`next_request`] says whether (and how) to fetch
//!    another one (the caller also caps the number of pages);
//! 3. [`normalize`] turns all pages into `{id, usage, contextWindow,
//!    maxOutputTokens}` records.
//!
//! The rules are those of `tests/fixtures/providers/README.md`. Shared rules
//! (number reading, ids, duplicates, order, top-level shape) live here; each
//! provider file holds its request shape, pagination and per-record rules.

mod anthropic;
mod gemini;
mod groq;
mod mistral;
mod morph;
mod openai;
mod openrouter;
mod sambanova;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt;

/// What a discovered model is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Usage {
    Chat,
    Embedding,
}

/// One usable model, normalized.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredModel {
    pub id: String,
    pub usage: Usage,
    /// Total context (for embedding models: the maximum input).
    pub context_window: u64,
    /// Generation cap; always 0 for embedding models.
    pub max_output_tokens: u64,
}

/// A listed model that was left out, and why (informative only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub id: String,
    pub reason: String,
}

/// The outcome of normalizing every page of one provider's list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    pub provider: String,
    pub models: Vec<DiscoveredModel>,
    pub skipped: Vec<Skipped>,
}

/// The providers whose list-models API we understand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Groq,
    SambaNova,
    Anthropic,
    OpenAi,
    Gemini,
    Mistral,
    OpenRouter,
    Morph,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Groq,
        Kind::SambaNova,
        Kind::Anthropic,
        Kind::OpenAi,
        Kind::Gemini,
        Kind::Mistral,
        Kind::OpenRouter,
        Kind::Morph,
    ];

    /// Recognize a provider by its configured name (case-insensitive), else
    /// by the host of its configured endpoint.
    pub fn from_provider(name: &str, endpoint: Option<&str>) -> Option<Kind> {
        let by_name = match name.trim().to_ascii_lowercase().as_str() {
            "groq" => Some(Kind::Groq),
            "sambanova" => Some(Kind::SambaNova),
            "anthropic" => Some(Kind::Anthropic),
            "openai" => Some(Kind::OpenAi),
            // "google-ai-studio" is Cloudflare AI Gateway's slug for Gemini.
            "gemini" | "google" | "google-ai-studio" => Some(Kind::Gemini),
            "mistral" => Some(Kind::Mistral),
            "openrouter" => Some(Kind::OpenRouter),
            "morph" => Some(Kind::Morph),
            _ => None,
        };
        by_name.or_else(|| {
            let host = host_of(endpoint?)?;
            Kind::ALL.into_iter().find(|kind| {
                let known = kind.spec().host;
                // Exact host, or a subdomain of it (regional endpoints).
                host == known || host.strip_suffix(known).is_some_and(|rest| rest.ends_with('.'))
            })
        })
    }

    /// The canonical provider name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Groq => "groq",
            Kind::SambaNova => "sambanova",
            Kind::Anthropic => "anthropic",
            Kind::OpenAi => "openai",
            Kind::Gemini => "gemini",
            Kind::Mistral => "mistral",
            Kind::OpenRouter => "openrouter",
            Kind::Morph => "morph",
        }
    }

    /// The provider's well-known OpenAI-style API base (no trailing `/`).
    pub fn default_base(self) -> &'static str {
        self.spec().default_base
    }

    /// The provider's API host, as clients put it in `X-Host-Final`.
    pub fn api_host(self) -> &'static str {
        self.spec().host
    }

    fn spec(self) -> &'static Spec {
        match self {
            Kind::Groq => &groq::SPEC,
            Kind::SambaNova => &sambanova::SPEC,
            Kind::Anthropic => &anthropic::SPEC,
            Kind::OpenAi => &openai::SPEC,
            Kind::Gemini => &gemini::SPEC,
            Kind::Mistral => &mistral::SPEC,
            Kind::OpenRouter => &openrouter::SPEC,
            Kind::Morph => &morph::SPEC,
        }
    }
}

/// One list call: `GET url` with these headers, no body.
#[derive(Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub url: String,
    /// `(lower-case name, value)` pairs.
    pub headers: Vec<(String, String)>,
}

/// Hides credentials, so a debug log of a request never leaks a key.
impl fmt::Debug for PageRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = if is_secret_header(name) {
                    "<redacted>"
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("PageRequest")
            .field("url", &self.url)
            .field("headers", &headers)
            .finish()
    }
}

/// First list call. `endpoint` is the provider's configured endpoint (may be
/// `None`, then the provider's well-known base is used).
///
/// Base derivation: drop any query/fragment, strip trailing `/`, then a
/// trailing `/chat/completions`, `/embeddings`, `/messages` or `/models`
/// (so a chat URL, an Anthropic messages URL or a list URL all work), then
/// apply the provider's own fix (SambaNova `/api` → `/v1`, Gemini drops the
/// OpenAI-compatible `/openai` suffix). An endpoint with no path at all gets
/// the well-known base path (`https://api.openai.com` → `…/v1`). The host is
/// never replaced, so a test mock base such as `http://127.0.0.1:4567/groq/v1`
/// works.
pub fn first_request(kind: Kind, endpoint: Option<&str>, api_key: &str) -> PageRequest {
    let spec = kind.spec();
    let mut url = format!("{}/models", base_url(spec, endpoint));
    for (i, (key, value)) in spec.query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&format!("{}={}", encode(key), encode(value)));
    }
    let api_key = api_key.trim();
    let headers = if api_key.is_empty() {
        // No key: send no auth header rather than an empty one (OpenRouter's
        // list is public). Non-secret headers are still needed.
        (spec.auth)("")
            .into_iter()
            .filter(|(name, _)| !is_secret_header(name))
            .collect()
    } else {
        (spec.auth)(api_key)
    };
    PageRequest { url, headers }
}

/// After a page was fetched and parsed: the next page request, if the
/// provider paginates and the page says there is more. Returns `None` when
/// the cursor equals the previous one (a loop); the caller also caps pages.
pub fn next_request(kind: Kind, previous: &PageRequest, page: &Value) -> Option<PageRequest> {
    (kind.spec().next)(previous, page)
}

/// Normalize all fetched pages, in request order.
pub fn normalize(kind: Kind, provider_name: &str, pages: &[Value]) -> Discovery {
    let spec = kind.spec();
    let mut discovery = Discovery {
        provider: provider_name.to_string(),
        ..Discovery::default()
    };
    // Rule 1.4: the first record with an id decides, kept or skipped, across pages.
    let mut seen = HashSet::new();
    for page in pages {
        // Rule 1.8: a missing or non-array list is empty; non-objects are ignored.
        let records = page
            .get(spec.list_field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for record in records.filter_map(Value::as_object) {
            // Rule 1.3: missing, non-string or empty ids are ignored.
            let Some(id) = (spec.id)(record).filter(|id| !id.is_empty()) else {
                continue;
            };
            if !seen.insert(id.to_string()) {
                continue;
            }
            match (spec.record)(record, id) {
                Ok(entry) => discovery.models.push(DiscoveredModel {
                    id: id.to_string(),
                    usage: entry.usage,
                    context_window: entry.context_window,
                    max_output_tokens: entry.max_output_tokens,
                }),
                Err(reason) => discovery.skipped.push(Skipped {
                    id: id.to_string(),
                    reason: reason.to_string(),
                }),
            }
        }
    }
    discovery
}

// ---------------------------------------------------------------------------
// What each provider file supplies.

/// A provider's request shape, pagination and record rules.
struct Spec {
    /// Base used when no endpoint is configured; `/models` is appended.
    default_base: &'static str,
    /// Host used to recognize the provider from an endpoint.
    host: &'static str,
    /// Query of the first list call (unencoded).
    query: &'static [(&'static str, &'static str)],
    /// Headers for a key.
    auth: fn(&str) -> Vec<(String, String)>,
    /// Provider-specific fix of the derived base URL.
    adjust_base: fn(String) -> String,
    /// Top-level field holding the records (rule 1.8).
    list_field: &'static str,
    /// The record's id, before the empty check.
    id: fn(&Map<String, Value>) -> Option<&str>,
    next: fn(&PageRequest, &Value) -> Option<PageRequest>,
    /// Keep (with usage and limits) or skip (with a reason) one record.
    record: fn(&Map<String, Value>, &str) -> Verdict,
}

/// Usage and limits of a kept record.
struct Entry {
    usage: Usage,
    context_window: u64,
    max_output_tokens: u64,
}

/// `Err` holds the reason a record is skipped.
type Verdict = Result<Entry, &'static str>;

fn chat(context_window: u64, max_output_tokens: u64) -> Verdict {
    Ok(Entry {
        usage: Usage::Chat,
        context_window,
        max_output_tokens,
    })
}

/// Embedding models never generate: output cap 0 (rule 1.1).
fn embedding(context_window: u64) -> Verdict {
    Ok(Entry {
        usage: Usage::Embedding,
        context_window,
        max_output_tokens: 0,
    })
}

fn bearer(api_key: &str) -> Vec<(String, String)> {
    vec![("authorization".to_string(), format!("Bearer {api_key}"))]
}

fn is_secret_header(name: &str) -> bool {
    matches!(name, "authorization" | "x-api-key" | "x-goog-api-key")
}

fn same_base(base: String) -> String {
    base
}

/// The common `id` field.
fn plain_id(record: &Map<String, Value>) -> Option<&str> {
    record.get("id")?.as_str()
}

/// For providers that do not paginate.
fn single_page(_: &PageRequest, _: &Value) -> Option<PageRequest> {
    None
}

/// Lower-cased id, for the substring/prefix rules (ids themselves are kept as is).
fn lower(id: &str) -> String {
    id.to_ascii_lowercase()
}

fn contains_any(haystack: &str, needles: &[&str]) -> bool {
    needles.iter().any(|needle| haystack.contains(needle))
}

// ---------------------------------------------------------------------------
// Rule 1.2: reading limits.

/// A limit is present only as a JSON number or numeric string that is finite
/// and > 0; fractions are truncated toward zero. Everything else (null, 0,
/// negatives, booleans, other strings) is missing. A positive fraction below
/// 1 truncates to 0, which also means "unknown", so it is missing too.
fn limit(value: Option<&Value>) -> Option<u64> {
    let number = match value? {
        Value::Number(n) => match n.as_u64() {
            // Exact for integers beyond 2^53.
            Some(int) => return (int > 0).then_some(int),
            None => n.as_f64()?,
        },
        Value::String(s) => {
            let s = s.trim();
            match s.parse::<u64>() {
                Ok(int) => return (int > 0).then_some(int),
                Err(_) => s.parse::<f64>().ok()?,
            }
        }
        _ => return None,
    };
    let truncated = number.trunc();
    // `as` saturates, so huge values cannot wrap.
    (truncated.is_finite() && truncated >= 1.0).then_some(truncated as u64)
}

/// The first present limit among `keys` of `record`.
fn first_limit(record: &Map<String, Value>, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|key| limit(record.get(*key)))
}

// ---------------------------------------------------------------------------
// URLs.

fn base_url(spec: &Spec, endpoint: Option<&str>) -> String {
    let Some(endpoint) = endpoint.map(str::trim).filter(|e| !e.is_empty()) else {
        return spec.default_base.to_string();
    };
    // A chat endpoint's query (e.g. an api-version) does not belong on the list call.
    let endpoint = endpoint.split(['?', '#']).next().unwrap_or_default();
    let mut base = endpoint.trim_end_matches('/');
    for suffix in ["/chat/completions", "/embeddings", "/messages", "/models"] {
        if let Some(stripped) = strip_suffix_ignore_case(base, suffix) {
            base = stripped.trim_end_matches('/');
            break;
        }
    }
    let base = (spec.adjust_base)(base.to_string());
    if path_of(&base).is_empty() {
        // Only a scheme and host were configured: use the usual version path.
        return format!("{base}{}", path_of(spec.default_base));
    }
    base
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &s[..cut])
}

/// `scheme://authority` of a URL (or the authority alone when there is no scheme).
fn origin_of(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    &url[..end]
}

/// The path of a URL, without query or fragment (may be empty).
fn path_of(url: &str) -> &str {
    let rest = &url[origin_of(url).len()..];
    rest.split(['?', '#']).next().unwrap_or_default()
}

/// Lower-case host of a URL, without user info, port or trailing dot.
fn host_of(url: &str) -> Option<String> {
    let origin = origin_of(url.trim());
    let authority = origin.find("://").map_or(origin, |i| &origin[i + 3..]);
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// Percent-encode a query key or value (everything but RFC 3986 unreserved).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-decode (`+` is a space, as in forms); malformed escapes stay as they are.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The decoded value of a query parameter of `url`.
fn query_param(url: &str, key: &str) -> Option<String> {
    let query = url.split('#').next()?.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == key).then(|| decode(v))
    })
}

/// `url` with `key` set to `value` (replacing any earlier value, keeping the rest).
fn with_query_param(url: &str, key: &str, value: &str) -> String {
    let url = url.split('#').next().unwrap_or_default();
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| decode(pair.split_once('=').map_or(*pair, |(k, _)| k)) != key)
        .map(str::to_string)
        .collect();
    pairs.push(format!("{}={}", encode(key), encode(value)));
    format!("{path}?{}", pairs.join("&"))
}

/// Cursor pagination shared by Anthropic and Gemini: the previous request
/// with `param` set to `cursor`; `None` when the cursor is empty or did not
/// change (the provider would send the same page again).
fn follow_cursor(previous: &PageRequest, param: &str, cursor: Option<&str>) -> Option<PageRequest> {
    let cursor = cursor.filter(|c| !c.is_empty())?;
    if query_param(&previous.url, param).as_deref() == Some(cursor) {
        return None;
    }
    Some(PageRequest {
        url: with_query_param(&previous.url, param, cursor),
        headers: previous.headers.clone(),
    })
}

/// Test helper: models as `(id, usage, context, output)` rows.
#[cfg(test)]
fn test_rows(d: &Discovery) -> Vec<(&str, Usage, u64, u64)> {
    d.models
        .iter()
        .map(|m| (m.id.as_str(), m.usage, m.context_window, m.max_output_tokens))
        .collect()
}

/// Test helper: the ids of the skipped records.
#[cfg(test)]
fn test_skipped_ids(d: &Discovery) -> Vec<&str> {
    d.skipped.iter().map(|s| s.id.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_follow_rule_1_2() {
        let read = |v: Value| limit(Some(&v));
        assert_eq!(read(json!(8192)), Some(8192));
        assert_eq!(read(json!("8192")), Some(8192));
        assert_eq!(read(json!(" 8192 ")), Some(8192));
        assert_eq!(read(json!(8192.7)), Some(8192));
        assert_eq!(read(json!("8192.7")), Some(8192));
        assert_eq!(read(json!("1e3")), Some(1000));
        assert_eq!(read(json!(u64::MAX)), Some(u64::MAX));
        assert_eq!(read(json!(1e300)), Some(u64::MAX));
        for missing in [
            json!(0),
            json!(0.0),
            json!(0.5),
            json!(-1),
            json!(-8192.5),
            json!("0"),
            json!("-5"),
            json!(""),
            json!("abc"),
            json!("NaN"),
            json!("inf"),
            json!("-inf"),
            json!(true),
            json!(false),
            json!(null),
            json!([8192]),
            json!({"value": 8192}),
        ] {
            assert_eq!(read(missing.clone()), None, "{missing}");
        }
        assert_eq!(limit(None), None);
    }

    #[test]
    fn first_limit_skips_missing_values() {
        let record = json!({"a": null, "b": 0, "c": "4096", "d": 1});
        let record = record.as_object().unwrap();
        assert_eq!(first_limit(record, &["a", "b", "c", "d"]), Some(4096));
        assert_eq!(first_limit(record, &["a", "b", "x"]), None);
    }

    #[test]
    fn top_level_shape_and_ids() {
        let page = json!({"data": [
            "not an object", 42, null, [],
            {"id": ""}, {"id": 7}, {"id": null}, {"name": "no-id"},
            {"id": "gpt-4o", "brand_new_field": {"x": [1, 2]}},
        ]});
        let d = normalize(Kind::OpenAi, "openai", &[page]);
        assert_eq!(d.models.len(), 1);
        assert_eq!(d.models[0].id, "gpt-4o");
        assert!(d.skipped.is_empty());

        for page in [
            json!({}),
            json!({"data": null}),
            json!({"data": {"id": "x"}}),
            json!([]),
            json!("x"),
            json!(null),
        ] {
            let d = normalize(Kind::Groq, "groq", &[page]);
            assert!(d.models.is_empty() && d.skipped.is_empty());
        }
        // Gemini reads `models`, not `data`.
        let d = normalize(Kind::Gemini, "gemini", &[json!({"data": [{"name": "models/x"}]})]);
        assert!(d.models.is_empty() && d.skipped.is_empty());
        assert!(normalize(Kind::Morph, "m", &[]).models.is_empty());
    }

    #[test]
    fn first_record_wins_and_order_is_kept() {
        let page1 = json!({"data": [
            {"id": "b", "context_window": 100},
            {"id": "a", "context_window": 200},
            {"id": "skip-me"},
        ]});
        let page2 = json!({"data": [
            {"id": "a", "context_window": 999},
            {"id": "skip-me", "context_window": 5},
            {"id": "c", "context_window": 300},
        ]});
        let d = normalize(Kind::Groq, "my-groq", &[page1, page2]);
        assert_eq!(d.provider, "my-groq");
        let got: Vec<(&str, u64)> = d.models.iter().map(|m| (m.id.as_str(), m.context_window)).collect();
        assert_eq!(got, [("b", 100), ("a", 200), ("c", 300)]);
        assert_eq!(d.skipped.len(), 1, "a skipped id stays skipped: {:?}", d.skipped);
    }

    #[test]
    fn serializes_camel_case() {
        let model = DiscoveredModel {
            id: "m".into(),
            usage: Usage::Embedding,
            context_window: 8192,
            max_output_tokens: 0,
        };
        assert_eq!(
            serde_json::to_value(&model).unwrap(),
            json!({"id": "m", "usage": "embedding", "contextWindow": 8192, "maxOutputTokens": 0})
        );
        let d = Discovery {
            provider: "p".into(),
            models: vec![],
            skipped: vec![Skipped {
                id: "x".into(),
                reason: "r".into(),
            }],
        };
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"provider": "p", "models": [], "skipped": [{"id": "x", "reason": "r"}]})
        );
        assert_eq!(serde_json::to_value(Usage::Chat).unwrap(), json!("chat"));
    }

    #[test]
    fn from_provider_by_name_then_host() {
        let cases = [
            ("groq", Kind::Groq),
            ("SambaNova", Kind::SambaNova),
            ("anthropic", Kind::Anthropic),
            ("openai", Kind::OpenAi),
            ("gemini", Kind::Gemini),
            ("google", Kind::Gemini),
            ("mistral", Kind::Mistral),
            (" openrouter ", Kind::OpenRouter),
            ("morph", Kind::Morph),
        ];
        for (name, kind) in cases {
            assert_eq!(Kind::from_provider(name, None), Some(kind), "{name}");
            // The name wins over a foreign endpoint (e.g. a test mock).
            assert_eq!(
                Kind::from_provider(name, Some("http://127.0.0.1:4567/x/v1")),
                Some(kind)
            );
        }
        let hosts = [
            ("https://api.groq.com/openai/v1/chat/completions", Kind::Groq),
            ("https://api.sambanova.ai/api/chat/completions", Kind::SambaNova),
            ("https://API.Anthropic.com/v1", Kind::Anthropic),
            ("https://api.openai.com:443/v1/", Kind::OpenAi),
            (
                "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
                Kind::Gemini,
            ),
            ("https://api.mistral.ai/v1", Kind::Mistral),
            ("https://openrouter.ai/api/v1?x=1", Kind::OpenRouter),
            ("https://user:pw@api.morphllm.com/v1", Kind::Morph),
            ("api.groq.com/openai/v1", Kind::Groq),
            ("https://eu.api.mistral.ai/v1", Kind::Mistral),
        ];
        for (endpoint, kind) in hosts {
            assert_eq!(Kind::from_provider("my-llm", Some(endpoint)), Some(kind), "{endpoint}");
        }
        for endpoint in [
            None,
            Some(""),
            Some("https://example.com/v1"),
            Some("https://notapi.openai.com.evil/v1"),
        ] {
            assert_eq!(Kind::from_provider("custom", endpoint), None, "{endpoint:?}");
        }
        assert_eq!(Kind::from_provider("custom", Some("https://xapi.groq.com/v1")), None);
        for kind in Kind::ALL {
            assert_eq!(Kind::from_provider(kind.as_str(), None), Some(kind));
        }
    }

    fn url(kind: Kind, endpoint: Option<&str>) -> String {
        first_request(kind, endpoint, "k").url
    }

    #[test]
    fn well_known_bases_when_no_endpoint() {
        assert_eq!(url(Kind::Groq, None), "https://api.groq.com/openai/v1/models");
        assert_eq!(url(Kind::SambaNova, None), "https://api.sambanova.ai/v1/models");
        assert_eq!(
            url(Kind::Anthropic, None),
            "https://api.anthropic.com/v1/models?limit=1000"
        );
        assert_eq!(url(Kind::OpenAi, None), "https://api.openai.com/v1/models");
        assert_eq!(
            url(Kind::Gemini, None),
            "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000"
        );
        assert_eq!(url(Kind::Mistral, None), "https://api.mistral.ai/v1/models");
        assert_eq!(
            url(Kind::OpenRouter, None),
            "https://openrouter.ai/api/v1/models?output_modalities=all"
        );
        assert_eq!(url(Kind::Morph, None), "https://api.morphllm.com/v1/models");
        assert_eq!(url(Kind::Morph, Some("  ")), "https://api.morphllm.com/v1/models");
    }

    #[test]
    fn base_derived_from_endpoint() {
        let groq = "https://api.groq.com/openai/v1/models";
        assert_eq!(url(Kind::Groq, Some("https://api.groq.com/openai/v1")), groq);
        assert_eq!(url(Kind::Groq, Some("https://api.groq.com/openai/v1/")), groq);
        assert_eq!(
            url(Kind::Groq, Some("https://api.groq.com/openai/v1/chat/completions")),
            groq
        );
        assert_eq!(
            url(Kind::Groq, Some("https://api.groq.com/openai/v1/chat/completions/")),
            groq
        );
        assert_eq!(url(Kind::Groq, Some("https://api.groq.com/openai/v1/embeddings")), groq);
        assert_eq!(url(Kind::Groq, Some("https://api.groq.com/openai/v1/models")), groq);
        assert_eq!(url(Kind::Groq, Some("https://api.groq.com")), groq);
        assert_eq!(url(Kind::Groq, Some("https://api.groq.com/")), groq);
        // A test mock with a port: the host is never replaced.
        assert_eq!(
            url(Kind::Groq, Some("http://127.0.0.1:4567/groq/v1")),
            "http://127.0.0.1:4567/groq/v1/models"
        );
        assert_eq!(
            url(Kind::Anthropic, Some("http://127.0.0.1:4567/anthropic/v1/")),
            "http://127.0.0.1:4567/anthropic/v1/models?limit=1000"
        );
        assert_eq!(
            url(Kind::Anthropic, Some("https://api.anthropic.com/v1/messages")),
            "https://api.anthropic.com/v1/models?limit=1000"
        );
        assert_eq!(
            url(
                Kind::OpenAi,
                Some("https://api.openai.com/v1/chat/completions?api-version=1")
            ),
            "https://api.openai.com/v1/models"
        );
        assert_eq!(
            url(Kind::OpenAi, Some("http://localhost:8080")),
            "http://localhost:8080/v1/models"
        );
    }

    #[test]
    fn sambanova_api_path_becomes_v1() {
        let want = "https://api.sambanova.ai/v1/models";
        assert_eq!(
            url(Kind::SambaNova, Some("https://api.sambanova.ai/api/chat/completions")),
            want
        );
        assert_eq!(
            url(Kind::SambaNova, Some("https://api.sambanova.ai/v1/chat/completions")),
            want
        );
        assert_eq!(url(Kind::SambaNova, Some("https://api.sambanova.ai/api")), want);
        assert_eq!(url(Kind::SambaNova, Some("https://api.sambanova.ai")), want);
        assert_eq!(
            url(
                Kind::SambaNova,
                Some("http://127.0.0.1:4567/sambanova/api/chat/completions")
            ),
            "http://127.0.0.1:4567/sambanova/v1/models"
        );
        // Only SambaNova has this quirk.
        assert_eq!(
            url(Kind::OpenAi, Some("http://127.0.0.1:1/api")),
            "http://127.0.0.1:1/api/models"
        );
    }

    #[test]
    fn auth_headers() {
        let bearer = [("authorization".to_string(), "Bearer sk-1".to_string())];
        for kind in [
            Kind::Groq,
            Kind::SambaNova,
            Kind::OpenAi,
            Kind::Mistral,
            Kind::OpenRouter,
            Kind::Morph,
        ] {
            assert_eq!(first_request(kind, None, "sk-1").headers, bearer, "{kind:?}");
        }
        let anthropic = first_request(Kind::Anthropic, None, "sk-ant");
        assert_eq!(
            anthropic.headers,
            [
                ("x-api-key".to_string(), "sk-ant".to_string()),
                ("anthropic-version".to_string(), "2023-06-01".to_string())
            ]
        );
        let gemini = first_request(Kind::Gemini, None, "AIza");
        assert_eq!(gemini.headers, [("x-goog-api-key".to_string(), "AIza".to_string())]);
        assert!(!gemini.url.contains("AIza"), "the key never goes in the URL");
        // No key: no empty credential header, but the version header stays.
        assert!(first_request(Kind::OpenRouter, None, "").headers.is_empty());
        assert_eq!(
            first_request(Kind::Anthropic, None, " ").headers,
            [("anthropic-version".to_string(), "2023-06-01".to_string())]
        );
        // Debug output never shows the key.
        let shown = format!("{anthropic:?} {gemini:?} {:?}", first_request(Kind::Groq, None, "sk-1"));
        assert!(
            !shown.contains("sk-ant") && !shown.contains("AIza") && !shown.contains("sk-1"),
            "{shown}"
        );
        assert!(shown.contains("2023-06-01"));
    }

    #[test]
    fn query_encoding_round_trips() {
        let tricky = "a=b+c/d e&f%g~é";
        let url = with_query_param("http://h/p?limit=1000", "after_id", tricky);
        assert_eq!(url, "http://h/p?limit=1000&after_id=a%3Db%2Bc%2Fd%20e%26f%25g~%C3%A9");
        assert_eq!(query_param(&url, "after_id").as_deref(), Some(tricky));
        assert_eq!(query_param(&url, "limit").as_deref(), Some("1000"));
        assert_eq!(query_param(&url, "missing"), None);
        // Setting again replaces, keeping other parameters in place.
        let again = with_query_param(&url, "after_id", "x");
        assert_eq!(again, "http://h/p?limit=1000&after_id=x");
        assert_eq!(with_query_param("http://h/p", "k", "v"), "http://h/p?k=v");
        assert_eq!(decode("%zz%+1%4"), "%zz% 1%4");
    }

    #[test]
    fn non_paginating_providers_stop() {
        let page = json!({"has_more": true, "last_id": "x", "nextPageToken": "t", "links": {"next": "/n"}});
        for kind in [Kind::Groq, Kind::SambaNova, Kind::OpenAi, Kind::Mistral, Kind::Morph] {
            assert_eq!(
                next_request(kind, &first_request(kind, None, "k"), &page),
                None,
                "{kind:?}"
            );
        }
    }
}
