//! Google Gemini (Generative Language API): `GET {base}/models?pageSize=1000`,
//! key in `x-goog-api-key` (never in the URL, so it stays out of logs), token
//! pages (`nextPageToken` → `pageToken`), records under `models`.

use super::{chat, embedding, first_limit, follow_cursor, lower, PageRequest, Spec, Verdict};
use serde_json::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    default_base: "https://generativelanguage.googleapis.com/v1beta",
    host: "generativelanguage.googleapis.com",
    query: &[("pageSize", "1000")],
    auth,
    adjust_base,
    list_field: "models",
    id,
    next,
    record,
};

fn auth(api_key: &str) -> Vec<(String, String)> {
    vec![("x-goog-api-key".to_string(), api_key.to_string())]
}

/// The OpenAI-compatible endpoint (`…/v1beta/openai/chat/completions`) has
/// its own `/models` in OpenAI shape, without limits; the native list is one
/// level up.
fn adjust_base(base: String) -> String {
    match base.strip_suffix("/openai") {
        Some(native) if !native.ends_with(':') && !native.ends_with('/') => native.to_string(),
        _ => base,
    }
}

/// `name` is `models/{id}`; requests use the part after `models/`.
fn id(record: &Map<String, Value>) -> Option<&str> {
    let name = record.get("name")?.as_str()?;
    Some(name.strip_prefix("models/").unwrap_or(name))
}

fn next(previous: &PageRequest, page: &Value) -> Option<PageRequest> {
    follow_cursor(previous, "pageToken", page.get("nextPageToken")?.as_str())
}

fn record(record: &Map<String, Value>, id: &str) -> Verdict {
    let methods: Vec<&str> = record
        .get("supportedGenerationMethods")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    // embedContent, batchEmbedContents, asyncBatchEmbedContent, legacy embedText.
    let embeds = methods.iter().any(|m| lower(m).contains("embed"));
    if !embeds {
        if !methods.iter().any(|m| m.trim().eq_ignore_ascii_case("generateContent")) {
            // Imagen (predict), Veo (predictLongRunning), AQA, Live-only models.
            return Err("no generateContent / embed method");
        }
        // TTS previews answer generateContent with audio.
        if lower(id).contains("tts") {
            return Err("text-to-speech model");
        }
    }
    let Some(context) = first_limit(record, &["inputTokenLimit"]) else {
        return Err("no inputTokenLimit");
    };
    if embeds {
        // Embedding models report outputTokenLimit 1; the output cap is 0 by rule.
        return embedding(context);
    }
    chat(context, first_limit(record, &["outputTokenLimit"]).unwrap_or(context))
}

#[cfg(test)]
mod tests {
    use crate::discovery::{first_request, next_request, normalize, Kind, Usage};
    use serde_json::json;

    #[test]
    fn rules() {
        let page = json!({"models": [
            {"name": "models/gemini-x", "inputTokenLimit": "1048576", "outputTokenLimit": null,
             "supportedGenerationMethods": ["generateContent", 5, null]},
            {"name": "models/gemini-2.5-flash-preview-tts", "inputTokenLimit": 8192, "outputTokenLimit": 16384,
             "supportedGenerationMethods": ["generateContent"]},
            {"name": "models/embedding-001", "inputTokenLimit": 2048, "outputTokenLimit": 1,
             "supportedGenerationMethods": ["EmbedText"]},
            {"name": "models/batch-embed", "inputTokenLimit": 2048, "supportedGenerationMethods": ["batchEmbedContents"]},
            {"name": "models/live-only", "inputTokenLimit": 1000, "supportedGenerationMethods": ["bidiGenerateContent"]},
            {"name": "models/no-methods", "inputTokenLimit": 1000},
            {"name": "models/no-limit", "supportedGenerationMethods": ["generateContent"]},
            {"name": "tunedModels/mine", "inputTokenLimit": 100, "outputTokenLimit": 10,
             "supportedGenerationMethods": ["generateContent"]},
            {"name": "models/"},
            {"name": "models/gemini-x", "inputTokenLimit": 5, "supportedGenerationMethods": ["generateContent"]},
            {"id": "gemini-y", "inputTokenLimit": 5, "supportedGenerationMethods": ["generateContent"]},
        ]});
        let d = normalize(Kind::Gemini, "google", &[page]);
        let got = super::super::test_rows(&d);
        assert_eq!(
            got,
            [
                ("gemini-x", Usage::Chat, 1048576, 1048576),
                ("embedding-001", Usage::Embedding, 2048, 0),
                ("batch-embed", Usage::Embedding, 2048, 0),
                ("tunedModels/mine", Usage::Chat, 100, 10),
            ]
        );
        let skipped = super::super::test_skipped_ids(&d);
        assert_eq!(
            skipped,
            ["gemini-2.5-flash-preview-tts", "live-only", "no-methods", "no-limit"]
        );
    }

    #[test]
    fn request_and_pagination() {
        let base = "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000";
        assert_eq!(first_request(Kind::Gemini, None, "k").url, base);
        let compat = "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions";
        assert_eq!(first_request(Kind::Gemini, Some(compat), "k").url, base);
        assert_eq!(
            first_request(Kind::Gemini, Some("https://generativelanguage.googleapis.com"), "k").url,
            base
        );

        let first = first_request(Kind::Gemini, Some("http://127.0.0.1:4567/gemini/v1beta/"), "k");
        assert_eq!(first.url, "http://127.0.0.1:4567/gemini/v1beta/models?pageSize=1000");
        let page = json!({"models": [], "nextPageToken": "Ch0=/+tok"});
        let second = next_request(Kind::Gemini, &first, &page).unwrap();
        assert_eq!(
            second.url,
            "http://127.0.0.1:4567/gemini/v1beta/models?pageSize=1000&pageToken=Ch0%3D%2F%2Btok"
        );
        assert_eq!(second.headers, first.headers);
        assert_eq!(next_request(Kind::Gemini, &second, &page), None, "same token: loop");
        let third = next_request(Kind::Gemini, &second, &json!({"nextPageToken": "t3"})).unwrap();
        assert!(third.url.ends_with("?pageSize=1000&pageToken=t3"), "{}", third.url);
        for done in [
            json!({"models": []}),
            json!({"nextPageToken": ""}),
            json!({"nextPageToken": null}),
            json!(1),
        ] {
            assert_eq!(next_request(Kind::Gemini, &third, &done), None, "{done}");
        }
    }
}
