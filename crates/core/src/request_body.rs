//! Reads just what the gateway needs from an OpenAI-style JSON body and
//! rewrites only the `model` value, splicing bytes: every other byte of the
//! client's body (unknown fields, tools, images) goes upstream unchanged.

use crate::error::ApiError;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    messages: Option<&'a RawValue>,
    #[serde(borrow)]
    input: Option<&'a RawValue>,
    #[serde(borrow)]
    stream: Option<&'a RawValue>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Chat,
    Embeddings,
}

/// A validated request body.
pub struct Body<'a> {
    raw: &'a [u8],
    pub model: String,
    /// Byte range of the `model` value (with its quotes) in `raw`.
    model_span: (usize, usize),
    pub stream: bool,
}

impl<'a> Body<'a> {
    pub fn parse(raw: &'a [u8], kind: Kind) -> Result<Body<'a>, ApiError> {
        let text = std::str::from_utf8(raw)
            .map_err(|_| ApiError::bad_request("invalid_json", "request body is not UTF-8 JSON"))?;
        if !text.trim_start().starts_with('{') {
            return Err(ApiError::bad_request(
                "invalid_json",
                "request body must be a JSON object",
            ));
        }
        let fields: Fields = serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request("invalid_json", format!("request body is not valid JSON: {e}")))?;
        let model_raw = fields
            .model
            .ok_or_else(|| ApiError::bad_request("missing_model", "`model` is required"))?;
        let model: String = serde_json::from_str(model_raw.get())
            .map_err(|_| ApiError::bad_request("invalid_model", "`model` must be a string"))?;
        if model.trim().is_empty() {
            return Err(ApiError::bad_request("missing_model", "`model` must not be empty"));
        }
        match kind {
            Kind::Chat if !fields.messages.is_some_and(|m| m.get().starts_with('[')) => {
                return Err(ApiError::bad_request("invalid_messages", "`messages` must be an array"));
            }
            Kind::Embeddings if fields.input.is_none_or(|i| i.get() == "null") => {
                return Err(ApiError::bad_request("missing_input", "`input` is required"));
            }
            _ => {}
        }
        let stream = fields.stream.is_some_and(|s| s.get() == "true");
        // RawValue borrows from `text`, so its offset locates the value.
        let start = model_raw.get().as_ptr() as usize - text.as_ptr() as usize;
        Ok(Body {
            raw,
            model,
            model_span: (start, start + model_raw.get().len()),
            stream,
        })
    }

    /// The body with `model` replaced (or the original bytes when unchanged).
    pub fn with_model(&self, model: &str) -> Vec<u8> {
        if model == self.model {
            return self.raw.to_vec();
        }
        let quoted = serde_json::to_string(model).unwrap_or_else(|_| format!("{model:?}"));
        let (s, e) = self.model_span;
        let mut out = Vec::with_capacity(self.raw.len() + quoted.len());
        out.extend_from_slice(&self.raw[..s]);
        out.extend_from_slice(quoted.as_bytes());
        out.extend_from_slice(&self.raw[e..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_model_value_changes() {
        let raw = br#"{ "messages":[{"role":"user","content":"hi"}], "model" : "llama", "x":{"y":[1,2]}, "tools":[] }"#;
        let b = Body::parse(raw, Kind::Chat).unwrap();
        assert_eq!(b.model, "llama");
        let out = b.with_model("groq/llama");
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{ "messages":[{"role":"user","content":"hi"}], "model" : "groq/llama", "x":{"y":[1,2]}, "tools":[] }"#
        );
    }

    #[test]
    fn escaped_model_names_are_read_and_written_as_json() {
        let raw = br#"{"model":"a\"b\u00e9","input":"x"}"#;
        let b = Body::parse(raw, Kind::Embeddings).unwrap();
        assert_eq!(b.model, "a\"b\u{e9}");
        let out = b.with_model("p/a\"b");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "p/a\"b");
    }

    #[test]
    fn invalid_bodies_are_400_with_distinct_codes() {
        let code = |raw: &[u8], k| Body::parse(raw, k).err().map(|e| (e.status, e.code));
        assert_eq!(code(b"not json", Kind::Chat), Some((400, "invalid_json")));
        assert_eq!(code(b"[1]", Kind::Chat), Some((400, "invalid_json")));
        assert_eq!(code(br#"{"messages":[]}"#, Kind::Chat), Some((400, "missing_model")));
        assert_eq!(
            code(br#"{"model":1,"messages":[]}"#, Kind::Chat),
            Some((400, "invalid_model"))
        );
        assert_eq!(code(br#"{"model":"m"}"#, Kind::Chat), Some((400, "invalid_messages")));
        assert_eq!(
            code(br#"{"model":"m","messages":"hi"}"#, Kind::Chat),
            Some((400, "invalid_messages"))
        );
        assert_eq!(
            code(br#"{"model":"m"}"#, Kind::Embeddings),
            Some((400, "missing_input"))
        );
        assert_eq!(code(b"\xff", Kind::Chat), Some((400, "invalid_json")));
    }

    #[test]
    fn stream_flag_is_read() {
        let b = Body::parse(br#"{"model":"m","messages":[],"stream":true}"#, Kind::Chat).unwrap();
        assert!(b.stream);
        let b = Body::parse(br#"{"model":"m","messages":[],"stream":false}"#, Kind::Chat).unwrap();
        assert!(!b.stream);
    }
}
