//! Morph: `GET {base}/models`, Bearer, one page, plain OpenAI shape. Limits
//! are not published in the list; returned fields win, else project defaults.

use super::{bearer, chat, embedding, first_limit, lower, plain_id, same_base, single_page, Spec, Verdict};
use serde_json::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    default_base: "https://api.morphllm.com/v1",
    host: "api.morphllm.com",
    query: &[],
    auth: bearer,
    adjust_base: same_base,
    list_field: "data",
    id: plain_id,
    next: single_page,
    record,
};

const CONTEXT_FIELDS: &[&str] = &["context_window", "context_length", "max_context_length"];
const OUTPUT_FIELDS: &[&str] = &["max_completion_tokens", "max_output_tokens"];

/// Placeholders chosen for this project (see the fixtures README), except
/// `dsv4flash`'s 393k context, which Morph publishes.
const EMBEDDING_CONTEXT: u64 = 8192;
const DSV4FLASH_CONTEXT: u64 = 393_000;
const CHAT_CONTEXT: u64 = 50_000;
const CHAT_OUTPUT: u64 = 12_000;

fn record(record: &Map<String, Value>, id: &str) -> Verdict {
    let id = lower(id);
    if id.contains("rerank") {
        return Err("rerank model");
    }
    let context = first_limit(record, CONTEXT_FIELDS);
    if id.contains("embed") {
        return embedding(context.unwrap_or(EMBEDDING_CONTEXT));
    }
    let default_context = if id.contains("dsv4flash") {
        DSV4FLASH_CONTEXT
    } else {
        CHAT_CONTEXT
    };
    chat(
        context.unwrap_or(default_context),
        first_limit(record, OUTPUT_FIELDS).unwrap_or(CHAT_OUTPUT),
    )
}

#[cfg(test)]
mod tests {
    use crate::discovery::{normalize, Kind, Usage};
    use serde_json::json;

    #[test]
    fn rules() {
        let page = json!({"data": [
            {"id": "morph-v3-fast"},
            {"id": "morph-dsv4flash", "max_output_tokens": "20000"},
            {"id": "morph-x", "context_length": 0, "max_context_length": 82000, "max_completion_tokens": 16000},
            {"id": "morph-embedding-v5", "context_window": 32768},
            {"id": "morph-embedding-v4", "max_completion_tokens": 100},
            {"id": "morph-rerank-v4"},
        ]});
        let d = normalize(Kind::Morph, "morph", &[page]);
        let got = super::super::test_rows(&d);
        assert_eq!(
            got,
            [
                ("morph-v3-fast", Usage::Chat, 50000, 12000),
                ("morph-dsv4flash", Usage::Chat, 393000, 20000),
                ("morph-x", Usage::Chat, 82000, 16000),
                ("morph-embedding-v5", Usage::Embedding, 32768, 0),
                ("morph-embedding-v4", Usage::Embedding, 8192, 0),
            ]
        );
        assert_eq!(d.skipped.len(), 1);
    }
}
