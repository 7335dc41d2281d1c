//! Groq: `GET {base}/models`, Bearer, one page, OpenAI shape plus limits.

use super::{
    bearer, chat, contains_any, embedding, first_limit, lower, plain_id, same_base, single_page, Spec, Verdict,
};
use serde_json::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    default_base: "https://api.groq.com/openai/v1",
    host: "api.groq.com",
    query: &[],
    auth: bearer,
    adjust_base: same_base,
    list_field: "data",
    id: plain_id,
    next: single_page,
    record,
};

fn record(record: &Map<String, Value>, id: &str) -> Verdict {
    if record.get("active") == Some(&Value::Bool(false)) {
        return Err("inactive (active: false)");
    }
    let id = lower(id);
    // Listed in the same catalogue but not served by chat completions.
    if contains_any(&id, &["whisper", "tts", "orpheus"]) {
        return Err("audio model (speech-to-text / text-to-speech)");
    }
    let Some(context) = first_limit(record, &["context_window", "context_length"]) else {
        return Err("no context window");
    };
    if id.contains("embed") {
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
            {"id": "off", "active": false, "context_window": 1000},
            {"id": "on-string", "active": "false", "context_window": 1000},
            {"id": "Whisper-X", "context_window": 448},
            {"id": "playai-tts", "context_window": 8192},
            {"id": "canopylabs/orpheus-v1", "context_window": 4000},
            {"id": "fallback", "context_length": "4096", "max_completion_tokens": null},
            {"id": "nothing", "context_window": 0, "context_length": null},
            {"id": "nomic-embed-text", "context_window": 8192, "max_completion_tokens": 8192},
            {"id": "guard", "context_window": 131072.9, "max_completion_tokens": "1024"},
        ]});
        let d = normalize(Kind::Groq, "groq", &[page]);
        let got = super::super::test_rows(&d);
        assert_eq!(
            got,
            [
                ("on-string", Usage::Chat, 1000, 1000),
                ("fallback", Usage::Chat, 4096, 4096),
                ("nomic-embed-text", Usage::Embedding, 8192, 0),
                ("guard", Usage::Chat, 131072, 1024),
            ]
        );
        let skipped = super::super::test_skipped_ids(&d);
        assert_eq!(
            skipped,
            ["off", "Whisper-X", "playai-tts", "canopylabs/orpheus-v1", "nothing"]
        );
    }
}
