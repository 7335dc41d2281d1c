//! OpenRouter: `GET {base}/models?output_modalities=all` (the default `text`
//! filter hides embedding models), Bearer, normally one page; a non-null
//! `links.next` is followed, on the same origin only.

use super::{
    bearer, chat, embedding, first_limit, lower, origin_of, path_of, plain_id, same_base, PageRequest, Spec, Verdict,
};
use serde_json::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    default_base: "https://openrouter.ai/api/v1",
    host: "openrouter.ai",
    query: &[("output_modalities", "all")],
    auth: bearer,
    adjust_base: same_base,
    list_field: "data",
    id: plain_id,
    next,
    record,
};

/// `links.next` may be absolute or relative; the key must not be sent to
/// another origin, so anything else is not followed.
fn next(previous: &PageRequest, page: &Value) -> Option<PageRequest> {
    let next = page.get("links")?.get("next")?.as_str()?.trim();
    let origin = origin_of(&previous.url);
    let url = if next.is_empty() || next.starts_with("//") {
        return None;
    } else if next.starts_with('/') {
        format!("{origin}{next}")
    } else if next.starts_with('?') {
        format!("{origin}{}{next}", path_of(&previous.url))
    } else if next.contains("://") && origin_of(next).eq_ignore_ascii_case(origin) {
        next.to_string()
    } else {
        return None;
    };
    // The same URL again would loop.
    (url != previous.url).then(|| PageRequest {
        url,
        headers: previous.headers.clone(),
    })
}

/// Output modalities, lower-cased: `architecture.output_modalities`, else the
/// part after `->` of `architecture.modality`; `None` when neither says.
fn outputs(record: &Map<String, Value>) -> Option<Vec<String>> {
    let architecture = record.get("architecture")?;
    let listed: Vec<String> = architecture
        .get("output_modalities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|m| lower(m.trim()))
        .collect();
    if !listed.is_empty() {
        return Some(listed);
    }
    let (_, after) = architecture.get("modality")?.as_str()?.split_once("->")?;
    let parsed: Vec<String> = after
        .split('+')
        .map(|m| lower(m.trim()))
        .filter(|m| !m.is_empty())
        .collect();
    (!parsed.is_empty()).then_some(parsed)
}

fn record(record: &Map<String, Value>, id: &str) -> Verdict {
    let (is_embedding, is_text) = match outputs(record) {
        Some(outputs) => (
            outputs.iter().any(|m| m.contains("embed")),
            outputs.iter().any(|m| m == "text"),
        ),
        // Nothing says: decide from the id.
        None => (lower(id).contains("embed"), true),
    };
    if !is_embedding && !is_text {
        return Err("no text or embeddings output modality");
    }
    let top = record.get("top_provider").and_then(Value::as_object);
    let top_limit = |key: &str| top.and_then(|top| first_limit(top, &[key]));
    let Some(context) = top_limit("context_length").or_else(|| first_limit(record, &["context_length"])) else {
        return Err("no context length");
    };
    if is_embedding {
        return embedding(context);
    }
    let output = top_limit("max_completion_tokens").or_else(|| first_limit(record, &["max_completion_tokens"]));
    chat(context, output.unwrap_or(context))
}

#[cfg(test)]
mod tests {
    use crate::discovery::{first_request, next_request, normalize, Kind, PageRequest, Usage};
    use serde_json::json;

    #[test]
    fn rules() {
        let page = json!({"data": [
            {"id": "a/old-shape", "context_length": 4096, "architecture": {"modality": "text+image->text"}},
            {"id": "a/old-image", "context_length": 4096, "architecture": {"modality": "text->image"}},
            {"id": "a/old-embed", "context_length": 4096, "architecture": {"modality": "text->embeddings"}},
            {"id": "a/no-arch-embed", "context_length": 512},
            {"id": "a/no-arch", "context_length": 512, "max_completion_tokens": "256"},
            {"id": "a/audio-and-text", "context_length": 1000, "architecture": {"output_modalities": ["audio", "Text"]},
             "top_provider": {"context_length": null, "max_completion_tokens": 0}},
            {"id": "a/top-wins", "context_length": 1000, "top_provider": {"context_length": 800, "max_completion_tokens": 100},
             "max_completion_tokens": 50},
            {"id": "a/no-context", "context_length": null, "top_provider": {"context_length": 0}},
            {"id": "a/top-not-object", "context_length": 300, "top_provider": "x"},
            {"id": "a/audio-only", "context_length": 300, "architecture": {"output_modalities": ["audio"], "modality": "text->text"}},
        ]});
        let d = normalize(Kind::OpenRouter, "openrouter", &[page]);
        let got = super::super::test_rows(&d);
        assert_eq!(
            got,
            [
                ("a/old-shape", Usage::Chat, 4096, 4096),
                ("a/old-embed", Usage::Embedding, 4096, 0),
                ("a/no-arch-embed", Usage::Embedding, 512, 0),
                ("a/no-arch", Usage::Chat, 512, 256),
                ("a/audio-and-text", Usage::Chat, 1000, 1000),
                ("a/top-wins", Usage::Chat, 800, 100),
                ("a/top-not-object", Usage::Chat, 300, 300),
            ]
        );
        let skipped = super::super::test_skipped_ids(&d);
        assert_eq!(skipped, ["a/old-image", "a/no-context", "a/audio-only"]);
    }

    #[test]
    fn links_next() {
        let first = first_request(Kind::OpenRouter, Some("http://127.0.0.1:4567/openrouter/api/v1"), "k");
        assert_eq!(
            first.url,
            "http://127.0.0.1:4567/openrouter/api/v1/models?output_modalities=all"
        );
        let follow =
            |next: serde_json::Value| next_request(Kind::OpenRouter, &first, &json!({"links": {"next": next}}));
        assert_eq!(
            follow(json!("/openrouter/api/v1/models?page=2")).map(|r| r.url),
            Some("http://127.0.0.1:4567/openrouter/api/v1/models?page=2".to_string())
        );
        assert_eq!(
            follow(json!("?output_modalities=all&page=2")).map(|r| r.url),
            Some("http://127.0.0.1:4567/openrouter/api/v1/models?output_modalities=all&page=2".to_string())
        );
        assert_eq!(
            follow(json!("http://127.0.0.1:4567/x?p=2")).map(|r| r.headers),
            Some(first.headers.clone())
        );
        // Another origin (would leak the key), the same URL (loop), or nothing: stop.
        for stop in [
            json!("https://evil.example/models"),
            json!("http://127.0.0.1:9999/x"),
            json!("//evil.example/x"),
            json!("models?page=2"),
            json!(first.url),
            json!(null),
            json!(""),
            json!(3),
        ] {
            assert_eq!(follow(stop.clone()), None, "{stop}");
        }
        assert_eq!(next_request(Kind::OpenRouter, &first, &json!({"data": []})), None);
        let prev = PageRequest {
            url: "https://openrouter.ai/api/v1/models".into(),
            headers: vec![],
        };
        let next = next_request(
            Kind::OpenRouter,
            &prev,
            &json!({"links": {"next": "HTTPS://openrouter.ai/api/v1/models?p=2"}}),
        );
        assert!(next.is_some());
    }
}
