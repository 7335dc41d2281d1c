//! Anthropic: `GET {base}/models?limit=1000`, `x-api-key`, cursor pages
//! (`has_more` + `last_id` → `after_id`).

use super::{chat, first_limit, follow_cursor, lower, plain_id, same_base, PageRequest, Spec, Verdict};
use serde_json::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    default_base: "https://api.anthropic.com/v1",
    host: "api.anthropic.com",
    query: &[("limit", "1000")],
    auth,
    adjust_base: same_base,
    list_field: "data",
    id: plain_id,
    next,
    record,
};

fn auth(api_key: &str) -> Vec<(String, String)> {
    vec![
        ("x-api-key".to_string(), api_key.to_string()),
        ("anthropic-version".to_string(), "2023-06-01".to_string()),
    ]
}

fn next(previous: &PageRequest, page: &Value) -> Option<PageRequest> {
    if page.get("has_more")?.as_bool() != Some(true) {
        return None;
    }
    follow_cursor(previous, "after_id", page.get("last_id")?.as_str())
}

/// Documented limits by id prefix, used when the API omits them. First match
/// wins, so longer prefixes come first (`claude-opus-4-6` before `claude-opus-4`).
const FAMILIES: &[(&str, u64, u64)] = &[
    ("claude-opus-4-6", 200_000, 128_000),
    ("claude-sonnet-4-6", 200_000, 64_000),
    ("claude-opus-4-5", 200_000, 64_000),
    ("claude-sonnet-4-5", 200_000, 64_000),
    ("claude-haiku-4-5", 200_000, 64_000),
    ("claude-opus-4-1", 200_000, 32_000),
    ("claude-opus-4", 200_000, 32_000),
    ("claude-sonnet-4", 200_000, 64_000),
    ("claude-3-7-sonnet", 200_000, 64_000),
    ("claude-3-5-sonnet", 200_000, 8192),
    ("claude-3-5-haiku", 200_000, 8192),
    ("claude-3-opus", 200_000, 4096),
    ("claude-3-haiku", 200_000, 4096),
];
const OTHER_FAMILY: (u64, u64) = (200_000, 8192);

fn record(record: &Map<String, Value>, id: &str) -> Verdict {
    // `retired` models stay listed but inference fails; `deprecated` still works.
    let lifecycle = record.get("lifecycle").and_then(Value::as_str).unwrap_or_default();
    if lifecycle.trim().eq_ignore_ascii_case("retired") {
        return Err("lifecycle: retired");
    }
    let id = lower(id);
    let (family_context, family_output) = FAMILIES
        .iter()
        .find(|(prefix, _, _)| id.starts_with(prefix))
        .map_or(OTHER_FAMILY, |&(_, context, output)| (context, output));
    // Returned numbers always win (0 = "unknown" counts as missing).
    let context = first_limit(record, &["max_input_tokens"]).unwrap_or(family_context);
    let output = first_limit(record, &["max_tokens"]).unwrap_or(family_output);
    chat(context, output)
}

#[cfg(test)]
mod tests {
    use crate::discovery::{first_request, next_request, normalize, Kind, PageRequest};
    use serde_json::json;

    #[test]
    fn family_table_when_limits_are_missing() {
        let page = json!({"data": [
            {"id": "claude-opus-4-6"},
            {"id": "claude-opus-4-5-20251101", "max_input_tokens": 0, "max_tokens": 0},
            {"id": "claude-opus-4-1-20250805", "max_input_tokens": null},
            {"id": "claude-opus-4-20250514"},
            {"id": "claude-sonnet-4-5-20250929"},
            {"id": "claude-sonnet-4-20250514"},
            {"id": "claude-3-7-sonnet-20250219"},
            {"id": "claude-3-5-haiku-20241022"},
            {"id": "claude-3-opus-20240229", "lifecycle": "deprecated"},
            {"id": "claude-2.1"},
            {"id": "claude-sonnet-4-6", "max_input_tokens": 1000000, "max_tokens": "128000"},
            {"id": "claude-3-5-sonnet-20241022", "lifecycle": "retired"},
        ]});
        let d = normalize(Kind::Anthropic, "anthropic", &[page]);
        let got: Vec<_> = d
            .models
            .iter()
            .map(|m| (m.id.as_str(), m.context_window, m.max_output_tokens))
            .collect();
        assert_eq!(
            got,
            [
                ("claude-opus-4-6", 200000, 128000),
                ("claude-opus-4-5-20251101", 200000, 64000),
                ("claude-opus-4-1-20250805", 200000, 32000),
                ("claude-opus-4-20250514", 200000, 32000),
                ("claude-sonnet-4-5-20250929", 200000, 64000),
                ("claude-sonnet-4-20250514", 200000, 64000),
                ("claude-3-7-sonnet-20250219", 200000, 64000),
                ("claude-3-5-haiku-20241022", 200000, 8192),
                ("claude-3-opus-20240229", 200000, 4096),
                ("claude-2.1", 200000, 8192),
                ("claude-sonnet-4-6", 1000000, 128000),
            ]
        );
        assert_eq!(d.skipped.len(), 1);
        assert_eq!(d.skipped[0].reason, "lifecycle: retired");
    }

    #[test]
    fn pagination() {
        let first = first_request(Kind::Anthropic, Some("http://127.0.0.1:4567/anthropic/v1"), "k");
        let more = json!({"data": [], "has_more": true, "last_id": "claude-3+x/y="});
        let second = next_request(Kind::Anthropic, &first, &more).expect("has_more");
        assert_eq!(
            second.url,
            "http://127.0.0.1:4567/anthropic/v1/models?limit=1000&after_id=claude-3%2Bx%2Fy%3D"
        );
        assert_eq!(second.headers, first.headers);
        // Same cursor again: a loop.
        assert_eq!(next_request(Kind::Anthropic, &second, &more), None);
        let third = next_request(Kind::Anthropic, &second, &json!({"has_more": true, "last_id": "z"})).unwrap();
        assert_eq!(
            third.url,
            "http://127.0.0.1:4567/anthropic/v1/models?limit=1000&after_id=z"
        );
        for done in [
            json!({"has_more": false, "last_id": "z2"}),
            json!({"has_more": "true", "last_id": "z2"}),
            json!({"has_more": true}),
            json!({"has_more": true, "last_id": ""}),
            json!({"has_more": true, "last_id": 5}),
            json!({"last_id": "z2"}),
            json!([]),
        ] {
            assert_eq!(next_request(Kind::Anthropic, &third, &done), None, "{done}");
        }
        let bare = PageRequest {
            url: "http://h/models".into(),
            headers: vec![],
        };
        let next = next_request(Kind::Anthropic, &bare, &json!({"has_more": true, "last_id": "a"})).unwrap();
        assert_eq!(next.url, "http://h/models?after_id=a");
    }
}
