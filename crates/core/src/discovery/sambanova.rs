//! SambaNova (SambaCloud): `GET {base}/models`, Bearer, one page.

use super::{bearer, chat, embedding, first_limit, lower, plain_id, single_page, Spec, Verdict};
use serde_json::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    default_base: "https://api.sambanova.ai/v1",
    host: "api.sambanova.ai",
    query: &[],
    auth: bearer,
    adjust_base,
    list_field: "data",
    id: plain_id,
    next: single_page,
    record,
};

/// Endpoints in the wild are `…/api/chat/completions` as well as
/// `…/v1/chat/completions`, but the list lives only under `/v1`: a base whose
/// last path segment is `/api` is read as `/v1` (this also covers a mock base
/// like `http://127.0.0.1:4567/sambanova/api`).
fn adjust_base(base: String) -> String {
    match base.strip_suffix("/api") {
        Some(prefix) if !prefix.ends_with(':') && !prefix.ends_with('/') => format!("{prefix}/v1"),
        _ => base,
    }
}

fn record(record: &Map<String, Value>, id: &str) -> Verdict {
    let id = lower(id);
    if id.contains("whisper") {
        return Err("audio model (speech-to-text)");
    }
    let Some(context) = first_limit(record, &["context_length", "context_window"]) else {
        return Err("no context length");
    };
    // The embedding model is `E5-Mistral-7B-Instruct`: its id does not say "embed".
    if id.contains("embed") || id.starts_with("e5-") {
        return embedding(context);
    }
    chat(
        context,
        first_limit(record, &["max_completion_tokens"]).unwrap_or(context),
    )
}

#[cfg(test)]
mod tests {
    use crate::discovery::{normalize, Kind, Usage};
    use serde_json::json;

    #[test]
    fn rules() {
        let page = json!({"data": [
            {"id": "Whisper-Large-v3", "context_length": 4096},
            {"id": "E5-Mistral-7B-Instruct", "context_length": 4096, "max_completion_tokens": 4096, "sn_metadata": {}},
            {"id": "some-embedding", "context_window": "512"},
            {"id": "gpt-oss-120b", "context_length": 131072, "pricing": {"prompt": 0.1, "completion": "0.2"}},
            {"id": "no-limits", "max_completion_tokens": 100},
        ]});
        let d = normalize(Kind::SambaNova, "sambanova", &[page]);
        let got = super::super::test_rows(&d);
        assert_eq!(
            got,
            [
                ("E5-Mistral-7B-Instruct", Usage::Embedding, 4096, 0),
                ("some-embedding", Usage::Embedding, 512, 0),
                ("gpt-oss-120b", Usage::Chat, 131072, 131072),
            ]
        );
        let skipped = super::super::test_skipped_ids(&d);
        assert_eq!(skipped, ["Whisper-Large-v3", "no-limits"]);
    }
}
