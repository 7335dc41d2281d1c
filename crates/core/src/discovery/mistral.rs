//! Mistral: `GET {base}/models`, Bearer, one page. Every alias is its own
//! record (kept as is; `aliases` is not expanded).

use super::{bearer, chat, embedding, first_limit, lower, plain_id, same_base, single_page, Spec, Verdict};
use serde_json::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    default_base: "https://api.mistral.ai/v1",
    host: "api.mistral.ai",
    query: &[],
    auth: bearer,
    adjust_base: same_base,
    list_field: "data",
    id: plain_id,
    next: single_page,
    record,
};

/// The OpenAPI schema default of `max_context_length`.
const DEFAULT_CONTEXT: u64 = 32_768;

fn record(record: &Map<String, Value>, id: &str) -> Verdict {
    let context = first_limit(record, &["max_context_length"]).unwrap_or(DEFAULT_CONTEXT);
    if lower(id).contains("embed") {
        return embedding(context);
    }
    // Only an explicit `false` skips: no capabilities (or no flag) means chat.
    let chat_flag = record.get("capabilities").and_then(|c| c.get("completion_chat"));
    if chat_flag == Some(&Value::Bool(false)) {
        return Err("capabilities.completion_chat is false");
    }
    // No separate output cap is published; prompt + completion share the context.
    chat(context, context)
}

#[cfg(test)]
mod tests {
    use crate::discovery::{normalize, Kind, Usage};
    use serde_json::json;

    #[test]
    fn rules() {
        let page = json!({"data": [
            {"id": "no-caps"},
            {"id": "no-flag", "capabilities": {"vision": true}, "max_context_length": "65536"},
            {"id": "flag-null", "capabilities": {"completion_chat": null}, "max_context_length": 0},
            {"id": "caps-not-object", "capabilities": true, "max_context_length": 1000},
            {"id": "mistral-ocr-2505", "capabilities": {"completion_chat": false, "ocr": true}},
            {"id": "codestral-embed", "capabilities": {"completion_chat": false}},
            {"id": "ft:open-mistral-7b:abc", "type": "fine-tuned", "job": "j", "archived": false,
             "capabilities": {"completion_chat": true}, "max_context_length": 32768.5},
        ]});
        let d = normalize(Kind::Mistral, "mistral", &[page]);
        let got = super::super::test_rows(&d);
        assert_eq!(
            got,
            [
                ("no-caps", Usage::Chat, 32768, 32768),
                ("no-flag", Usage::Chat, 65536, 65536),
                ("flag-null", Usage::Chat, 32768, 32768),
                ("caps-not-object", Usage::Chat, 1000, 1000),
                ("codestral-embed", Usage::Embedding, 32768, 0),
                ("ft:open-mistral-7b:abc", Usage::Chat, 32768, 32768),
            ]
        );
        assert_eq!(d.skipped.len(), 1);
        assert_eq!(d.skipped[0].id, "mistral-ocr-2505");
    }
}
