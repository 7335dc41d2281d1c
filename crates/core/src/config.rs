//! The ai.json model (the decrypted vault).
//!
//! Every object keeps its unknown fields (`extra`) and its original key order
//! (`key_order`), so decrypt → parse → edit → serialize changes only what was
//! edited. The (de)serialisation is written by hand on top of
//! `serde_json::Map` for that reason, and so that a shape error names a JSON
//! path instead of quoting a value (values may be secrets).
//! [`validate`] works on the raw JSON and reports every problem at once.

use serde_json::{Map, Value};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

// ---------------------------------------------------------------- errors --

/// One problem found in a JSON document, at a JSON path such as
/// `providers.groq.keys[1].key`. The message never quotes a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationIssue {
    pub path: String,
    pub message: String,
}

impl ValidationIssue {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationIssue {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The path used for the document itself.
pub const ROOT: &str = "(root)";

/// Why ai.json text could not be turned into an [`AiConfig`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Not JSON at all (serde_json's syntax message, with line and column).
    NotJson(String),
    /// JSON whose shape does not fit the model (first problem found).
    Invalid(ValidationIssue),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NotJson(m) => write!(f, "not JSON: {m}"),
            ConfigError::Invalid(issue) => write!(f, "does not fit the ai.json model: {issue}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A serde_json error as text safe to show: syntax errors carry no input
/// content, data errors may quote values, so those are reduced to a position.
pub(crate) fn json_error_message(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Data => {
            format!("unexpected data at line {} column {}", e.line(), e.column())
        }
        _ => e.to_string(),
    }
}

// ----------------------------------------------------------------- paths --

/// `parent.name`, or `parent["name"]` when the name is not a plain word.
pub(crate) fn child(parent: &str, name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@'));
    if !plain {
        let quoted = Value::from(name);
        return if parent.is_empty() || parent == ROOT {
            format!("[{quoted}]")
        } else {
            format!("{parent}[{quoted}]")
        };
    }
    if parent.is_empty() || parent == ROOT {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

pub(crate) fn item(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

// ------------------------------------------------- object (de)serialising --

/// A JSON object being taken apart field by field; what is left is `extra`.
pub(crate) struct Fields {
    map: Map<String, Value>,
    path: String,
    order: Vec<String>,
}

impl Fields {
    pub(crate) fn new(value: Value, path: &str) -> Result<Self, ValidationIssue> {
        match value {
            Value::Object(map) => {
                let order = map.keys().cloned().collect();
                Ok(Fields {
                    map,
                    path: path.to_string(),
                    order,
                })
            }
            _ => Err(ValidationIssue::new(path, "must be an object")),
        }
    }

    fn issue(&self, name: &str, message: &str) -> ValidationIssue {
        ValidationIssue::new(child(&self.path, name), message)
    }

    /// Removes a field, keeping the order of the others. `null` counts as
    /// absent and stays in `extra`, so it is written back as it was (a value
    /// set later in the typed field takes precedence when serialising).
    pub(crate) fn take(&mut self, name: &str) -> Option<Value> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(_) => self.map.shift_remove(name),
        }
    }

    pub(crate) fn string(&mut self, name: &str) -> Result<String, ValidationIssue> {
        match self.take(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(self.issue(name, "must be a string")),
            None => Err(self.issue(name, "missing")),
        }
    }

    pub(crate) fn opt_string(&mut self, name: &str) -> Result<Option<String>, ValidationIssue> {
        match self.take(name) {
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.issue(name, "must be a string")),
            None => Ok(None),
        }
    }

    fn opt_u64(&mut self, name: &str) -> Result<Option<u64>, ValidationIssue> {
        match self.take(name) {
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.issue(name, "must be a non-negative integer")),
            None => Ok(None),
        }
    }

    fn opt_i64(&mut self, name: &str) -> Result<Option<i64>, ValidationIssue> {
        match self.take(name) {
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.issue(name, "must be an integer")),
            None => Ok(None),
        }
    }

    /// Absent → `None`, `null` → `Some(None)`, integer → `Some(Some(n))`.
    fn nullable_u64(&mut self, name: &str) -> Result<Option<Option<u64>>, ValidationIssue> {
        match self.map.shift_remove(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(v) => v
                .as_u64()
                .map(|n| Some(Some(n)))
                .ok_or_else(|| self.issue(name, "must be null or a non-negative integer")),
        }
    }

    fn opt_strings(&mut self, name: &str) -> Result<Option<Vec<String>>, ValidationIssue> {
        let Some(v) = self.take(name) else {
            return Ok(None);
        };
        let Value::Array(items) = v else {
            return Err(self.issue(name, "must be an array of strings"));
        };
        let path = child(&self.path, name);
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.into_iter().enumerate() {
            match v {
                Value::String(s) => out.push(s),
                _ => return Err(ValidationIssue::new(item(&path, i), "must be a string")),
            }
        }
        Ok(Some(out))
    }

    /// An array of objects converted one by one; absent → empty.
    fn objects<T>(
        &mut self,
        name: &str,
        convert: impl Fn(Value, &str) -> Result<T, ValidationIssue>,
    ) -> Result<Vec<T>, ValidationIssue> {
        let Some(v) = self.take(name) else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = v else {
            return Err(self.issue(name, "must be an array"));
        };
        let path = child(&self.path, name);
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| convert(v, &item(&path, i)))
            .collect()
    }

    /// What was not taken, and the original key order.
    pub(crate) fn finish(self) -> (Map<String, Value>, Vec<String>) {
        (self.map, self.order)
    }
}

/// Builds an object: keys in their original order first, then known fields
/// set since (in canonical order), then any other extra field.
pub(crate) fn ordered(
    known: Vec<(&'static str, Value)>,
    extra: &Map<String, Value>,
    key_order: &[String],
) -> Map<String, Value> {
    let mut out = Map::new();
    for name in key_order {
        if let Some((_, v)) = known.iter().find(|(k, _)| *k == name.as_str()) {
            out.insert(name.clone(), v.clone());
        } else if let Some(v) = extra.get(name) {
            out.insert(name.clone(), v.clone());
        }
    }
    for (k, v) in known {
        if !out.contains_key(k) {
            out.insert(k.to_string(), v);
        }
    }
    for (k, v) in extra {
        if !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// Pushes `(name, value)` when the value is present.
pub(crate) fn put<T: Into<Value> + Clone>(
    known: &mut Vec<(&'static str, Value)>,
    name: &'static str,
    value: &Option<T>,
) {
    if let Some(v) = value {
        known.push((name, v.clone().into()));
    }
}

/// A model type read from and written to a JSON object by hand.
pub(crate) trait JsonObject: Sized {
    fn from_json(value: Value, path: &str) -> Result<Self, ValidationIssue>;
    fn to_map(&self) -> Map<String, Value>;
}

/// serde impls for a [`JsonObject`], so the types also work with plain serde.
macro_rules! json_object_serde {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                serde::Serialize::serialize(&$crate::config::JsonObject::to_map(self), s)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
                <$t as $crate::config::JsonObject>::from_json(v, $crate::config::ROOT).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use json_object_serde;

// ----------------------------------------------------------------- model --

/// The whole ai.json document.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AiConfig {
    /// Usually `1`; `Null` when absent.
    pub version: Value,
    /// Providers in file order.
    pub providers: Vec<(String, Provider)>,
    /// Unknown top-level fields.
    pub extra: Map<String, Value>,
    /// Key order of the source object (empty for a new value).
    pub key_order: Vec<String>,
}

/// One provider: where to send requests and with which keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Provider {
    pub protocol: Option<String>,
    pub endpoint: Option<String>,
    /// JSON `gatewayEndpoint`, may contain `{account}`.
    pub gateway_endpoint: Option<String>,
    /// JSON `gatewayModelPrefix`.
    pub gateway_model_prefix: Option<String>,
    /// JSON `gatewayKey`.
    pub gateway_key: Option<String>,
    pub keys: Vec<ProviderKey>,
    pub models: Vec<Model>,
    pub extra: Map<String, Value>,
    pub key_order: Vec<String>,
}

/// One upstream API key of a provider.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProviderKey {
    pub key: String,
    pub owner: Option<String>,
    /// JSON `type`, e.g. "paid", "free", "expired".
    pub r#type: Option<String>,
    /// JSON `expiresAt`, RFC 3339.
    pub expires_at: Option<String>,
    pub extra: Map<String, Value>,
    pub key_order: Vec<String>,
}

/// One model a provider offers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    pub id: String,
    /// "chat" or "embedding".
    pub usage: Option<String>,
    /// JSON `contextWindow`.
    pub context_window: Option<u64>,
    /// JSON `maxOutputTokens`.
    pub max_output_tokens: Option<u64>,
    /// JSON `tpmLimit`: `None` absent, `Some(None)` explicit `null`.
    pub tpm_limit: Option<Option<u64>>,
    /// Lower is preferred.
    pub priority: Option<i64>,
    pub tags: Option<Vec<String>>,
    /// JSON `gatewayPrefix`.
    pub gateway_prefix: Option<String>,
    pub extra: Map<String, Value>,
    pub key_order: Vec<String>,
}

/// Parses ai.json text (a leading BOM is tolerated).
pub fn parse(json: &str) -> Result<AiConfig, ConfigError> {
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    let value: Value = serde_json::from_str(json).map_err(|e| ConfigError::NotJson(json_error_message(&e)))?;
    AiConfig::from_json(value, ROOT).map_err(ConfigError::Invalid)
}

impl AiConfig {
    /// The provider called `name`.
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    pub fn provider_mut(&mut self, name: &str) -> Option<&mut Provider> {
        self.providers.iter_mut().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    /// Providers in file order.
    pub fn providers(&self) -> impl Iterator<Item = (&str, &Provider)> {
        self.providers.iter().map(|(n, p)| (n.as_str(), p))
    }

    pub fn to_value(&self) -> Value {
        Value::Object(self.to_map())
    }

    /// Pretty JSON, as written back into the vault.
    pub fn to_json_pretty(&self) -> String {
        // Serialising a Value to a String cannot fail.
        serde_json::to_string_pretty(&self.to_value()).unwrap_or_default()
    }
}

impl JsonObject for AiConfig {
    fn from_json(value: Value, path: &str) -> Result<Self, ValidationIssue> {
        let mut f = Fields::new(value, path)?;
        let version = f.map.shift_remove("version").unwrap_or(Value::Null);
        let providers = match f.take("providers") {
            None => Vec::new(),
            Some(Value::Object(map)) => {
                let base = child(path, "providers");
                map.into_iter()
                    .map(|(name, v)| {
                        let p = Provider::from_json(v, &child(&base, &name))?;
                        Ok((name, p))
                    })
                    .collect::<Result<_, ValidationIssue>>()?
            }
            Some(_) => return Err(f.issue("providers", "must be an object")),
        };
        let (extra, key_order) = f.finish();
        Ok(AiConfig {
            version,
            providers,
            extra,
            key_order,
        })
    }

    fn to_map(&self) -> Map<String, Value> {
        let had = |k: &str| self.key_order.iter().any(|o| o == k) && !self.extra.contains_key(k);
        let mut known = Vec::new();
        if !self.version.is_null() || had("version") {
            known.push(("version", self.version.clone()));
        }
        if !self.providers.is_empty() || had("providers") {
            let providers: Map<String, Value> = self
                .providers
                .iter()
                .map(|(n, p)| (n.clone(), Value::Object(p.to_map())))
                .collect();
            known.push(("providers", Value::Object(providers)));
        }
        ordered(known, &self.extra, &self.key_order)
    }
}

impl Provider {
    /// The model with this exact id.
    pub fn model(&self, id: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.id == id)
    }

    /// Keys usable at `now_ms` (Unix ms), with their index in `keys`.
    pub fn usable_keys(&self, now_ms: u64) -> Vec<(usize, &ProviderKey)> {
        self.keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.usable_at(now_ms))
            .collect()
    }
}

impl JsonObject for Provider {
    fn from_json(value: Value, path: &str) -> Result<Self, ValidationIssue> {
        let mut f = Fields::new(value, path)?;
        let protocol = f.opt_string("protocol")?;
        let endpoint = f.opt_string("endpoint")?;
        let gateway_endpoint = f.opt_string("gatewayEndpoint")?;
        let gateway_model_prefix = f.opt_string("gatewayModelPrefix")?;
        let gateway_key = f.opt_string("gatewayKey")?;
        let keys = f.objects("keys", ProviderKey::from_json)?;
        let models = f.objects("models", Model::from_json)?;
        let (extra, key_order) = f.finish();
        Ok(Provider {
            protocol,
            endpoint,
            gateway_endpoint,
            gateway_model_prefix,
            gateway_key,
            keys,
            models,
            extra,
            key_order,
        })
    }

    fn to_map(&self) -> Map<String, Value> {
        // A list the source had (and not as `null`, which `extra` keeps).
        let had = |k: &str| self.key_order.iter().any(|o| o == k) && !self.extra.contains_key(k);
        let mut known = Vec::new();
        put(&mut known, "protocol", &self.protocol);
        put(&mut known, "endpoint", &self.endpoint);
        put(&mut known, "gatewayEndpoint", &self.gateway_endpoint);
        put(&mut known, "gatewayModelPrefix", &self.gateway_model_prefix);
        put(&mut known, "gatewayKey", &self.gateway_key);
        // Lists are written when non-empty or when the source had them.
        if !self.keys.is_empty() || had("keys") {
            let keys = self.keys.iter().map(|k| Value::Object(k.to_map())).collect();
            known.push(("keys", Value::Array(keys)));
        }
        if !self.models.is_empty() || had("models") {
            let models = self.models.iter().map(|m| Value::Object(m.to_map())).collect();
            known.push(("models", Value::Array(models)));
        }
        ordered(known, &self.extra, &self.key_order)
    }
}

impl ProviderKey {
    /// False when `type` is "expired" (any case), or `expiresAt` is not in
    /// the future of `now_ms` (Unix ms) or cannot be parsed, or the key is blank.
    pub fn usable_at(&self, now_ms: u64) -> bool {
        if self.key.trim().is_empty() {
            return false;
        }
        if self
            .r#type
            .as_deref()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("expired"))
        {
            return false;
        }
        match &self.expires_at {
            None => true,
            Some(s) => expires_at_ms(s).is_some_and(|exp| exp > i128::from(now_ms)),
        }
    }
}

/// An RFC 3339 date-time as Unix milliseconds.
pub fn expires_at_ms(s: &str) -> Option<i128> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp_nanos() / 1_000_000)
}

impl JsonObject for ProviderKey {
    fn from_json(value: Value, path: &str) -> Result<Self, ValidationIssue> {
        let mut f = Fields::new(value, path)?;
        let key = f.string("key")?;
        let owner = f.opt_string("owner")?;
        let r#type = f.opt_string("type")?;
        let expires_at = f.opt_string("expiresAt")?;
        let (extra, key_order) = f.finish();
        Ok(ProviderKey {
            key,
            owner,
            r#type,
            expires_at,
            extra,
            key_order,
        })
    }

    fn to_map(&self) -> Map<String, Value> {
        let mut known = vec![("key", Value::from(self.key.clone()))];
        put(&mut known, "owner", &self.owner);
        put(&mut known, "type", &self.r#type);
        put(&mut known, "expiresAt", &self.expires_at);
        ordered(known, &self.extra, &self.key_order)
    }
}

impl Model {
    /// The tokens-per-minute limit when one is set.
    pub fn tpm_limit(&self) -> Option<u64> {
        self.tpm_limit.flatten()
    }

    /// True for "embedding" models; anything else is treated as chat.
    pub fn is_embedding(&self) -> bool {
        self.usage.as_deref() == Some("embedding")
    }
}

impl JsonObject for Model {
    fn from_json(value: Value, path: &str) -> Result<Self, ValidationIssue> {
        let mut f = Fields::new(value, path)?;
        let id = f.string("id")?;
        let usage = f.opt_string("usage")?;
        let context_window = f.opt_u64("contextWindow")?;
        let max_output_tokens = f.opt_u64("maxOutputTokens")?;
        let tpm_limit = f.nullable_u64("tpmLimit")?;
        let priority = f.opt_i64("priority")?;
        let tags = f.opt_strings("tags")?;
        let gateway_prefix = f.opt_string("gatewayPrefix")?;
        let (extra, key_order) = f.finish();
        Ok(Model {
            id,
            usage,
            context_window,
            max_output_tokens,
            tpm_limit,
            priority,
            tags,
            gateway_prefix,
            extra,
            key_order,
        })
    }

    fn to_map(&self) -> Map<String, Value> {
        let mut known = vec![("id", Value::from(self.id.clone()))];
        put(&mut known, "usage", &self.usage);
        put(&mut known, "contextWindow", &self.context_window);
        put(&mut known, "maxOutputTokens", &self.max_output_tokens);
        if let Some(limit) = self.tpm_limit {
            known.push(("tpmLimit", limit.map_or(Value::Null, Value::from)));
        }
        put(&mut known, "priority", &self.priority);
        put(&mut known, "tags", &self.tags);
        put(&mut known, "gatewayPrefix", &self.gateway_prefix);
        ordered(known, &self.extra, &self.key_order)
    }
}

json_object_serde!(AiConfig);
json_object_serde!(Provider);
json_object_serde!(ProviderKey);
json_object_serde!(Model);

// ------------------------------------------------------------ validation --

/// Every problem of a raw ai.json value, with JSON paths. Strict on types,
/// lenient on absent optional fields (`null` counts as absent, except where
/// a value is required).
pub fn validate(value: &Value) -> Vec<ValidationIssue> {
    let mut out = Vec::new();
    let Some(root) = value.as_object() else {
        out.push(ValidationIssue::new(ROOT, "must be an object"));
        return out;
    };
    if let Some(v) = present(root, "version") {
        if v.as_u64().is_none_or(|n| n == 0) {
            out.push(ValidationIssue::new("version", "must be a positive integer"));
        }
    }
    match root.get("providers") {
        None | Some(Value::Null) => out.push(ValidationIssue::new("providers", "missing")),
        Some(Value::Object(providers)) => {
            for (name, p) in providers {
                let path = child("providers", name);
                if !is_provider_name(name) {
                    out.push(ValidationIssue::new(
                        &path,
                        "provider name must be non-empty and use only a-z, 0-9, '_' and '-'",
                    ));
                }
                validate_provider(p, &path, &mut out);
            }
        }
        Some(_) => out.push(ValidationIssue::new("providers", "must be an object")),
    }
    out
}

/// Provider names become URL path segments.
pub fn is_provider_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The field when present and not null.
pub(crate) fn present<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

pub(crate) fn check_opt_string(obj: &Map<String, Value>, path: &str, name: &str, out: &mut Vec<ValidationIssue>) {
    if present(obj, name).is_some_and(|v| !v.is_string()) {
        out.push(ValidationIssue::new(child(path, name), "must be a string"));
    }
}

/// A required non-empty string; returns it when valid.
pub(crate) fn check_required_string<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    name: &str,
    out: &mut Vec<ValidationIssue>,
) -> Option<&'a str> {
    let issue = match obj.get(name) {
        None | Some(Value::Null) => "missing",
        Some(Value::String(s)) if s.trim().is_empty() => "must not be empty",
        Some(Value::String(s)) => return Some(s),
        Some(_) => "must be a string",
    };
    out.push(ValidationIssue::new(child(path, name), issue));
    None
}

fn check_opt_u64(obj: &Map<String, Value>, path: &str, name: &str, out: &mut Vec<ValidationIssue>) {
    if present(obj, name).is_some_and(|v| v.as_u64().is_none()) {
        out.push(ValidationIssue::new(
            child(path, name),
            "must be a non-negative integer",
        ));
    }
}

fn check_opt_url(obj: &Map<String, Value>, path: &str, name: &str, out: &mut Vec<ValidationIssue>) {
    if let Some(v) = present(obj, name) {
        if !v.as_str().is_some_and(is_http_url) {
            out.push(ValidationIssue::new(child(path, name), "must be an http(s) URL"));
        }
    }
}

/// `http://` or `https://`, a non-empty host, no whitespace or control characters.
fn is_http_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &s[8..]
    } else if lower.starts_with("http://") {
        &s[7..]
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn validate_provider(value: &Value, path: &str, out: &mut Vec<ValidationIssue>) {
    let Some(p) = value.as_object() else {
        out.push(ValidationIssue::new(path, "must be an object"));
        return;
    };
    if let Some(v) = present(p, "protocol") {
        if v.as_str().is_none_or(|s| s.trim().is_empty()) {
            out.push(ValidationIssue::new(
                child(path, "protocol"),
                "must be a non-empty string",
            ));
        }
    }
    check_opt_url(p, path, "endpoint", out);
    check_opt_url(p, path, "gatewayEndpoint", out);
    check_opt_string(p, path, "gatewayModelPrefix", out);
    check_opt_string(p, path, "gatewayKey", out);

    if let Some(keys) = array_field(p, path, "keys", out) {
        let keys_path = child(path, "keys");
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let kp = item(&keys_path, i);
            if let Some(secret) = validate_key(k, &kp, out) {
                match seen.iter().find(|(s, _)| *s == secret) {
                    // Never quote the key itself.
                    Some((_, first)) => out.push(ValidationIssue::new(
                        child(&kp, "key"),
                        format!("same key as keys[{first}]"),
                    )),
                    None => seen.push((secret, i)),
                }
            }
        }
    }
    if let Some(models) = array_field(p, path, "models", out) {
        let models_path = child(path, "models");
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for (i, m) in models.iter().enumerate() {
            let mp = item(&models_path, i);
            if let Some(id) = validate_model(m, &mp, out) {
                match seen.iter().find(|(s, _)| *s == id) {
                    Some((_, first)) => out.push(ValidationIssue::new(
                        child(&mp, "id"),
                        format!("duplicate model id {} (also models[{first}])", Value::from(id)),
                    )),
                    None => seen.push((id, i)),
                }
            }
        }
    }
}

fn array_field<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    name: &str,
    out: &mut Vec<ValidationIssue>,
) -> Option<&'a Vec<Value>> {
    match present(obj, name) {
        None => None,
        Some(Value::Array(a)) => Some(a),
        Some(_) => {
            out.push(ValidationIssue::new(child(path, name), "must be an array"));
            None
        }
    }
}

/// Checks one provider key; returns the key string when it is valid.
fn validate_key<'a>(value: &'a Value, path: &str, out: &mut Vec<ValidationIssue>) -> Option<&'a str> {
    let Some(k) = value.as_object() else {
        out.push(ValidationIssue::new(path, "must be an object"));
        return None;
    };
    check_opt_string(k, path, "owner", out);
    check_opt_string(k, path, "type", out);
    if let Some(v) = present(k, "expiresAt") {
        match v.as_str() {
            Some(s) if expires_at_ms(s).is_some() => {}
            Some(_) => out.push(ValidationIssue::new(
                child(path, "expiresAt"),
                "not an RFC 3339 date-time",
            )),
            None => out.push(ValidationIssue::new(child(path, "expiresAt"), "must be a string")),
        }
    }
    check_required_string(k, path, "key", out)
}

/// Checks one model; returns its id when the id is valid.
fn validate_model<'a>(value: &'a Value, path: &str, out: &mut Vec<ValidationIssue>) -> Option<&'a str> {
    let Some(m) = value.as_object() else {
        out.push(ValidationIssue::new(path, "must be an object"));
        return None;
    };
    let id = check_required_string(m, path, "id", out);
    if let Some(v) = present(m, "usage") {
        if !matches!(v.as_str(), Some("chat" | "embedding")) {
            out.push(ValidationIssue::new(
                child(path, "usage"),
                "must be \"chat\" or \"embedding\"",
            ));
        }
    }
    check_opt_u64(m, path, "contextWindow", out);
    check_opt_u64(m, path, "maxOutputTokens", out);
    check_opt_u64(m, path, "tpmLimit", out);
    if present(m, "priority").is_some_and(|v| v.as_i64().is_none()) {
        out.push(ValidationIssue::new(child(path, "priority"), "must be an integer"));
    }
    if let Some(tags) = array_field(m, path, "tags", out) {
        let tags_path = child(path, "tags");
        for (i, t) in tags.iter().enumerate() {
            if !t.is_string() {
                out.push(ValidationIssue::new(item(&tags_path, i), "must be a string"));
            }
        }
    }
    check_opt_string(m, path, "gatewayPrefix", out);
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Unknown fields at every level, interleaved with known ones, keys in a
    /// non-canonical order, `tpmLimit: null`, a model without optional fields.
    const RICH: &str = r#"{
  "comment": "top-level unknown",
  "providers": {
    "sambanova": {
      "models": [
        {
          "id": "Meta-Llama-3.3-70B-Instruct",
          "x-model-note": "kept",
          "usage": "chat",
          "tpmLimit": null,
          "contextWindow": 4096
        }
      ],
      "endpoint": "https://api.sambanova.ai/v1",
      "region": "eu",
      "keys": [
        {
          "owner": "ronan",
          "key": "sk-sn-1",
          "note": {
            "nested": [
              1,
              2
            ]
          }
        }
      ]
    },
    "groq": {
      "protocol": "openai",
      "keys": [],
      "models": [
        {
          "id": "llama-3.3-70b-versatile",
          "usage": "chat",
          "contextWindow": 8192,
          "maxOutputTokens": 2048,
          "tpmLimit": 6000,
          "priority": -1,
          "tags": [
            "fast"
          ],
          "gatewayPrefix": "groq"
        },
        {
          "id": "bare"
        }
      ]
    },
    "empty": {}
  },
  "version": 1,
  "trailer": true
}"#;

    #[test]
    fn round_trip_keeps_unknown_fields_order_and_nulls() {
        let config = parse(RICH).unwrap();
        assert_eq!(config.to_json_pretty(), RICH);
        // Through plain serde as well.
        let via_serde: AiConfig = serde_json::from_str(RICH).unwrap();
        assert_eq!(serde_json::to_string_pretty(&via_serde).unwrap(), RICH);
        assert_eq!(via_serde, config);
    }

    #[test]
    fn providers_keep_file_order_and_fields_are_typed() {
        let config = parse(RICH).unwrap();
        let names: Vec<&str> = config.providers().map(|(n, _)| n).collect();
        assert_eq!(names, ["sambanova", "groq", "empty"]);
        assert_eq!(config.version, json!(1));
        assert_eq!(config.extra.get("comment"), Some(&json!("top-level unknown")));

        let sn = config.provider("sambanova").unwrap();
        assert_eq!(sn.endpoint.as_deref(), Some("https://api.sambanova.ai/v1"));
        assert_eq!(sn.extra.get("region"), Some(&json!("eu")));
        assert_eq!(sn.keys[0].key, "sk-sn-1");
        assert_eq!(sn.keys[0].owner.as_deref(), Some("ronan"));
        assert!(sn.keys[0].extra.contains_key("note"));
        let m = sn.model("Meta-Llama-3.3-70B-Instruct").unwrap();
        assert_eq!(m.tpm_limit, Some(None));
        assert_eq!(m.tpm_limit(), None);
        assert_eq!(m.context_window, Some(4096));
        assert_eq!(m.extra.get("x-model-note"), Some(&json!("kept")));

        let groq = config.provider("groq").unwrap();
        let m = groq.model("llama-3.3-70b-versatile").unwrap();
        assert_eq!(m.tpm_limit(), Some(6000));
        assert_eq!(m.priority, Some(-1));
        assert_eq!(m.tags.as_deref(), Some(&["fast".to_string()][..]));
        assert_eq!(m.gateway_prefix.as_deref(), Some("groq"));
        assert_eq!(groq.model("bare").unwrap().usage, None);
        assert!(groq.model("missing").is_none());
        assert!(config.provider("nope").is_none());
    }

    #[test]
    fn edits_change_only_what_was_edited() {
        let mut config = parse(RICH).unwrap();
        let sn = config.provider_mut("sambanova").unwrap();
        sn.models[0].priority = Some(10);
        sn.models[0].tpm_limit = Some(Some(100));
        sn.keys.push(ProviderKey {
            key: "sk-sn-2".into(),
            r#type: Some("free".into()),
            ..Default::default()
        });
        let out = config.to_value();
        let sn = &out["providers"]["sambanova"];
        let model_keys: Vec<&String> = sn["models"][0].as_object().unwrap().keys().collect();
        assert_eq!(
            model_keys,
            ["id", "x-model-note", "usage", "tpmLimit", "contextWindow", "priority"]
        );
        assert_eq!(sn["models"][0]["tpmLimit"], json!(100));
        assert_eq!(sn["keys"][1], json!({"key": "sk-sn-2", "type": "free"}));
        assert_eq!(sn["keys"][0]["note"], json!({"nested": [1, 2]}));
        let top: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(top, ["comment", "providers", "version", "trailer"]);
    }

    #[test]
    fn absent_optional_fields_stay_absent() {
        let text = r#"{"providers":{"p":{"models":[{"id":"m"}]}}}"#;
        let config = parse(text).unwrap();
        assert_eq!(serde_json::to_string(&config.to_value()).unwrap(), text);
        assert_eq!(config.version, Value::Null);
        for text in [
            r#"{"providers":null}"#,
            r#"{"providers":{"p":{"keys":null,"models":[]}}}"#,
        ] {
            assert_eq!(serde_json::to_string(&parse(text).unwrap()).unwrap(), text);
        }
        // `null` in an optional field is read as absent and written back as is,
        // unless the field is set meanwhile.
        let text = r#"{"providers":{"p":{"gatewayKey":null,"models":[{"id":"m","priority":null}]}}}"#;
        let mut config = parse(text).unwrap();
        assert_eq!(config.provider("p").unwrap().gateway_key, None);
        assert_eq!(config.provider("p").unwrap().models[0].priority, None);
        assert_eq!(serde_json::to_string(&config).unwrap(), text);
        config.provider_mut("p").unwrap().gateway_key = Some("g".into());
        assert_eq!(
            serde_json::to_string(&config).unwrap(),
            r#"{"providers":{"p":{"gatewayKey":"g","models":[{"id":"m","priority":null}]}}}"#
        );
    }

    #[test]
    fn new_values_serialise_in_canonical_order() {
        let config = AiConfig {
            version: json!(1),
            providers: vec![(
                "p".into(),
                Provider {
                    protocol: Some("openai".into()),
                    gateway_endpoint: Some("https://g/{account}".into()),
                    keys: vec![ProviderKey {
                        key: "k".into(),
                        ..Default::default()
                    }],
                    models: vec![Model {
                        id: "m".into(),
                        tpm_limit: Some(None),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            )],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&config).unwrap(),
            r#"{"version":1,"providers":{"p":{"protocol":"openai","gatewayEndpoint":"https://g/{account}","keys":[{"key":"k"}],"models":[{"id":"m","tpmLimit":null}]}}}"#
        );
    }

    #[test]
    fn parse_errors_name_a_path_and_never_quote_values() {
        assert!(matches!(parse("not json"), Err(ConfigError::NotJson(_))));
        assert!(matches!(parse(""), Err(ConfigError::NotJson(_))));
        assert_eq!(
            parse("[]"),
            Err(ConfigError::Invalid(ValidationIssue::new(ROOT, "must be an object")))
        );
        assert_eq!(
            parse(r#"{"providers":[]}"#),
            Err(ConfigError::Invalid(ValidationIssue::new(
                "providers",
                "must be an object"
            )))
        );
        let err = parse(r#"{"providers":{"g":{"keys":[{"key":"ok"},{"key":["SECRET-VALUE"]}]}}}"#).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Invalid(ValidationIssue::new("providers.g.keys[1].key", "must be a string"))
        );
        let err = parse(r#"{"providers":{"g":{"keys":"SECRET-VALUE"}}}"#).unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
        let err = serde_json::from_str::<AiConfig>(r#"{"providers":{"g":{"gatewayKey":1}}}"#).unwrap_err();
        assert!(
            err.to_string().contains("providers.g.gatewayKey: must be a string"),
            "{err}"
        );
        let err = parse(r#"{"providers":{"g":{"models":[{"id":"m","contextWindow":-5}]}}}"#);
        assert_eq!(
            err,
            Err(ConfigError::Invalid(ValidationIssue::new(
                "providers.g.models[0].contextWindow",
                "must be a non-negative integer"
            )))
        );
        assert!(parse("\u{feff}{\"providers\":{}}").is_ok());
    }

    #[test]
    fn validate_reports_every_problem_with_paths() {
        let doc = json!({
            "version": 0,
            "providers": {
                "groq": {
                    "protocol": "",
                    "endpoint": "ftp://example.com",
                    "gatewayEndpoint": "https://gateway.ai.cloudflare.com/v1/{account}/default/compat",
                    "gatewayKey": 5,
                    "keys": [
                        {"key": "a", "type": "paid"},
                        {"owner": "x"},
                        {"key": "a"},
                        {"key": "b", "expiresAt": "tomorrow"},
                        "not-an-object"
                    ],
                    "models": [
                        {"id": "m1", "usage": "image", "contextWindow": 1.5, "maxOutputTokens": -1,
                         "tpmLimit": "lots", "priority": "high", "tags": ["ok", 3]},
                        {"id": "m1", "tpmLimit": null},
                        {"usage": "chat"}
                    ]
                },
                "Bad Name": {"keys": {}},
                "x": []
            }
        });
        let got: Vec<String> = validate(&doc).iter().map(ToString::to_string).collect();
        let expected = [
            "version: must be a positive integer",
            "providers.groq.protocol: must be a non-empty string",
            "providers.groq.endpoint: must be an http(s) URL",
            "providers.groq.gatewayKey: must be a string",
            "providers.groq.keys[1].key: missing",
            "providers.groq.keys[2].key: same key as keys[0]",
            "providers.groq.keys[3].expiresAt: not an RFC 3339 date-time",
            "providers.groq.keys[4]: must be an object",
            "providers.groq.models[0].usage: must be \"chat\" or \"embedding\"",
            "providers.groq.models[0].contextWindow: must be a non-negative integer",
            "providers.groq.models[0].maxOutputTokens: must be a non-negative integer",
            "providers.groq.models[0].tpmLimit: must be a non-negative integer",
            "providers.groq.models[0].priority: must be an integer",
            "providers.groq.models[0].tags[1]: must be a string",
            "providers.groq.models[1].id: duplicate model id \"m1\" (also models[0])",
            "providers.groq.models[2].id: missing",
            "providers[\"Bad Name\"]: provider name must be non-empty and use only a-z, 0-9, '_' and '-'",
            "providers[\"Bad Name\"].keys: must be an array",
            "providers.x: must be an object",
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn validate_top_level_shapes() {
        let issues = |v: Value| validate(&v).iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(issues(json!([])), ["(root): must be an object"]);
        assert_eq!(issues(json!({})), ["providers: missing"]);
        assert_eq!(issues(json!({"providers": 3})), ["providers: must be an object"]);
        assert_eq!(issues(json!({"providers": {"": {}}})).len(), 1);
        assert!(issues(json!({"version": 1, "providers": {}})).is_empty());
        assert!(issues(serde_json::from_str(RICH).unwrap()).is_empty());
    }

    #[test]
    fn url_check() {
        for ok in [
            "https://api.groq.com/openai/v1",
            "HTTP://localhost:8080",
            "http://127.0.0.1",
        ] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in [
            "",
            "https://",
            "http:///x",
            "api.groq.com",
            "https://a b",
            "ftp://x",
            "https:/x",
            "é",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }

    #[test]
    fn key_usability_at_a_time() {
        let now_ms = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        let key = |t: Option<&str>, exp: Option<&str>| ProviderKey {
            key: "k".into(),
            r#type: t.map(Into::into),
            expires_at: exp.map(Into::into),
            ..Default::default()
        };
        assert!(key(None, None).usable_at(now_ms));
        assert!(key(Some("paid"), None).usable_at(now_ms));
        assert!(!key(Some("expired"), None).usable_at(now_ms));
        assert!(!key(Some("EXPIRED"), None).usable_at(now_ms));
        assert!(!key(None, Some("2025-12-31T23:59:59Z")).usable_at(now_ms));
        assert!(
            !key(None, Some("2026-01-01T00:00:00Z")).usable_at(now_ms),
            "expiry instant is not usable"
        );
        assert!(key(None, Some("2026-01-01T00:00:00.001Z")).usable_at(now_ms));
        assert!(key(None, Some("2026-01-01T01:30:00+01:00")).usable_at(now_ms));
        assert!(!key(None, Some("2026-01-01T00:30:00+01:00")).usable_at(now_ms));
        assert!(!key(None, Some("next week")).usable_at(now_ms));
        assert!(
            !key(None, Some("2030-01-01")).usable_at(now_ms),
            "a date alone is not RFC 3339"
        );
        assert!(!ProviderKey {
            key: " ".into(),
            ..Default::default()
        }
        .usable_at(now_ms));

        let provider = Provider {
            keys: vec![
                key(Some("expired"), None),
                key(None, Some("2030-01-01T00:00:00Z")),
                key(None, Some("2020-01-01T00:00:00Z")),
                key(Some("free"), None),
            ],
            ..Default::default()
        };
        let usable: Vec<usize> = provider.usable_keys(now_ms).iter().map(|(i, _)| *i).collect();
        assert_eq!(usable, [1, 3]);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        // Keys drawn from the model's own names so generated documents reach deep paths.
        let key = prop::sample::select(vec![
            "version",
            "providers",
            "groq",
            "Bad",
            "keys",
            "models",
            "key",
            "id",
            "usage",
            "tpmLimit",
            "expiresAt",
            "contextWindow",
            "maxOutputTokens",
            "priority",
            "tags",
            "endpoint",
            "type",
            "gatewayPrefix",
            "x",
        ])
        .prop_map(String::from);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-z0-9:-]{0,12}".prop_map(Value::from),
            Just(Value::from("2030-01-01T00:00:00Z")),
            Just(Value::from("chat")),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_any_string(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn validate_and_parse_never_panic_on_any_json(value in arb_json()) {
            let issues = validate(&value);
            let text = value.to_string();
            let parsed = parse(&text);
            prop_assert!(parsed.is_ok() || !issues.is_empty(), "valid but unparseable: {:?}", parsed);
            if let Ok(config) = parsed {
                // A valid document must read back to the same JSON (compared
                // after one parse, as float text may not round-trip exactly).
                if issues.is_empty() {
                    let reread: Value = serde_json::from_str(&text).unwrap_or_default();
                    prop_assert_eq!(config.to_value().to_string(), reread.to_string());
                }
            }
        }
    }
}
