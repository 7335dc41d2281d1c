//! Model discovery against the provider fixtures in `tests/fixtures/providers`
//! (see its README for the rules), driven the way a host drives it: first
//! request, then `next_request` after every page, then `normalize`.

use ai_proxy_core::discovery::{first_request, next_request, normalize, Discovery, Kind, PageRequest};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::path::PathBuf;

const PROVIDERS: [&str; 8] = [
    "groq",
    "sambanova",
    "anthropic",
    "openai",
    "gemini",
    "mistral",
    "openrouter",
    "morph",
];

/// The caller's page cap.
const MAX_PAGES: usize = 50;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/providers")
}

fn read_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A mock upstream that answers the n-th call with the n-th page (an empty
/// object once it runs out), like the fixture README's harness.
fn discover(kind: Kind, endpoint: Option<&str>, pages: &[Value]) -> (Vec<PageRequest>, Discovery) {
    let mut request = first_request(kind, endpoint, "test-key");
    let mut requests = Vec::new();
    let mut fetched = Vec::new();
    loop {
        requests.push(request.clone());
        let page = pages.get(fetched.len()).cloned().unwrap_or_else(|| json!({}));
        let next = next_request(kind, &request, &page);
        fetched.push(page);
        match next {
            Some(next) if fetched.len() < MAX_PAGES => request = next,
            _ => break,
        }
    }
    (requests, normalize(kind, kind.as_str(), &fetched))
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn every_fixture_normalizes_to_its_expected_models() {
    for provider in PROVIDERS {
        let expected = read_json(fixtures_dir().join(format!("expected/{provider}.normalized.json")));
        assert_eq!(expected["provider"], provider);
        let files: Vec<&str> = expected["fixtures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        let pages: Vec<Value> = files.iter().map(|file| read_json(fixtures_dir().join(file))).collect();
        let kind = Kind::from_provider(provider, None).unwrap();

        let (requests, discovery) = discover(kind, Some(&format!("http://127.0.0.1:4567/{provider}/v1")), &pages);
        assert_eq!(requests.len(), pages.len(), "{provider}: one request per fixture page");
        assert!(requests[0]
            .url
            .starts_with(&format!("http://127.0.0.1:4567/{provider}/v1/models")));

        let got = serde_json::to_value(&discovery).unwrap();
        assert_eq!(got["provider"], provider);
        assert_eq!(got["models"], expected["models"], "{provider}: models");
        // Reasons are informative; the skipped ids should still agree.
        assert_eq!(
            ids(&got["skipped"]),
            ids(&expected["skipped"]),
            "{provider}: skipped ids"
        );
    }
}

#[test]
fn anthropic_pages_are_followed_and_the_first_record_wins() {
    let mut page1 = read_json(fixtures_dir().join("anthropic.models.json"));
    page1["has_more"] = json!(true);
    page1["last_id"] = json!("claude-3-5-sonnet-20241022");
    let page2 = json!({
        "data": [
            // Already seen on page 1 with other limits: ignored.
            {"id": "claude-opus-4-6", "type": "model", "max_input_tokens": 1, "max_tokens": 1},
            // Retired on page 1: stays skipped.
            {"id": "claude-3-5-sonnet-20241022", "type": "model", "lifecycle": "active"},
            // Older shape, no limits: family table.
            {"id": "claude-3-opus-20240229", "type": "model", "display_name": "Claude 3 Opus"},
            {"id": "claude-3-5-haiku-20241022", "type": "model", "max_input_tokens": "200000", "max_tokens": 0},
            "junk",
        ],
        "first_id": "claude-opus-4-6",
        "has_more": true,
        "last_id": "claude-3/5+haiku=",
    });
    let page3 = json!({"data": [{"id": "claude-2.1", "type": "model"}], "has_more": false, "last_id": "claude-2.1"});

    let endpoint = "http://127.0.0.1:4567/anthropic/v1/";
    let (requests, discovery) = discover(Kind::Anthropic, Some(endpoint), &[page1, page2, page3]);
    let urls: Vec<&str> = requests.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "http://127.0.0.1:4567/anthropic/v1/models?limit=1000",
            "http://127.0.0.1:4567/anthropic/v1/models?limit=1000&after_id=claude-3-5-sonnet-20241022",
            "http://127.0.0.1:4567/anthropic/v1/models?limit=1000&after_id=claude-3%2F5%2Bhaiku%3D",
        ]
    );
    for request in &requests {
        assert!(request.headers.contains(&("x-api-key".into(), "test-key".into())));
        assert!(request
            .headers
            .contains(&("anthropic-version".into(), "2023-06-01".into())));
    }

    let expected = read_json(fixtures_dir().join("expected/anthropic.normalized.json"));
    let mut want = expected["models"].as_array().unwrap().clone();
    want.push(
        json!({"id": "claude-3-opus-20240229", "usage": "chat", "contextWindow": 200000, "maxOutputTokens": 4096}),
    );
    want.push(
        json!({"id": "claude-3-5-haiku-20241022", "usage": "chat", "contextWindow": 200000, "maxOutputTokens": 8192}),
    );
    want.push(json!({"id": "claude-2.1", "usage": "chat", "contextWindow": 200000, "maxOutputTokens": 8192}));
    assert_eq!(serde_json::to_value(&discovery.models).unwrap(), Value::Array(want));
    let skipped: Vec<&str> = discovery.skipped.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(skipped, ["claude-3-5-sonnet-20241022"]);
}

#[test]
fn gemini_pages_are_followed_and_the_first_record_wins() {
    let mut page1 = read_json(fixtures_dir().join("gemini.models.json"));
    page1["nextPageToken"] = json!("CiBtb2RlbHMv+Z2VtaW5p/LTI=");
    let page2 = json!({
        "models": [
            // Same id as page 1 (`models/` removed): ignored.
            {"name": "models/gemini-2.5-pro", "inputTokenLimit": 1, "outputTokenLimit": 1,
             "supportedGenerationMethods": ["generateContent"]},
            {"name": "models/gemini-2.5-flash-preview-tts", "inputTokenLimit": 8192, "outputTokenLimit": 16384,
             "supportedGenerationMethods": ["countTokens", "generateContent"]},
            {"name": "models/embedding-001", "inputTokenLimit": "2048", "outputTokenLimit": 1,
             "supportedGenerationMethods": ["embedContent", "batchEmbedContents"]},
            {"name": "models/gemini-live-2.5-flash", "inputTokenLimit": 131072,
             "supportedGenerationMethods": ["bidiGenerateContent"]},
        ],
        "nextPageToken": "",
    });

    let (requests, discovery) = discover(Kind::Gemini, None, &[page1, page2]);
    let urls: Vec<&str> = requests.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000",
            "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000&pageToken=CiBtb2RlbHMv%2BZ2VtaW5p%2FLTI%3D",
        ]
    );
    for request in &requests {
        assert_eq!(
            request.headers,
            [("x-goog-api-key".to_string(), "test-key".to_string())]
        );
        assert!(!request.url.contains("test-key"));
    }

    let expected = read_json(fixtures_dir().join("expected/gemini.normalized.json"));
    let mut want = expected["models"].as_array().unwrap().clone();
    want.push(json!({"id": "embedding-001", "usage": "embedding", "contextWindow": 2048, "maxOutputTokens": 0}));
    assert_eq!(serde_json::to_value(&discovery.models).unwrap(), Value::Array(want));
    let skipped: Vec<&str> = discovery.skipped.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        skipped,
        [
            "imagen-4.0-generate-001",
            "veo-3.0-generate-001",
            "aqa",
            "gemini-2.5-flash-preview-tts",
            "gemini-live-2.5-flash"
        ]
    );
}

#[test]
fn a_provider_repeating_its_cursor_does_not_loop() {
    let stuck = json!({"data": [{"id": "claude-x"}], "has_more": true, "last_id": "claude-x"});
    let (requests, discovery) = discover(Kind::Anthropic, None, &[stuck.clone(), stuck.clone(), stuck]);
    assert_eq!(requests.len(), 2, "the repeated cursor stops after the second page");
    assert_eq!(discovery.models.len(), 1);

    let stuck = json!({"models": [], "nextPageToken": "same"});
    let (requests, _) = discover(Kind::Gemini, None, &[stuck.clone(), stuck.clone(), stuck]);
    assert_eq!(requests.len(), 2);
}

#[test]
fn rule_1_2_numbers_through_normalize() {
    let page = json!({"data": [
        {"id": "string", "context_window": "8192", "max_completion_tokens": "1024"},
        {"id": "fraction", "context_window": 8192.7, "max_completion_tokens": 1024.99},
        {"id": "zero-output", "context_window": 8192, "max_completion_tokens": 0},
        {"id": "negative-output", "context_window": 8192, "max_completion_tokens": -1},
        {"id": "bool-output", "context_window": 8192, "max_completion_tokens": true},
        {"id": "null-output", "context_window": 8192, "max_completion_tokens": null},
        {"id": "text-output", "context_window": 8192, "max_completion_tokens": "lots"},
        {"id": "zero-context", "context_window": 0},
        {"id": "bool-context", "context_window": true},
    ]});
    let discovery = normalize(Kind::Groq, "groq", &[page]);
    let got: Vec<(&str, u64, u64)> = discovery
        .models
        .iter()
        .map(|m| (m.id.as_str(), m.context_window, m.max_output_tokens))
        .collect();
    assert_eq!(
        got,
        [
            ("string", 8192, 1024),
            ("fraction", 8192, 1024),
            ("zero-output", 8192, 8192),
            ("negative-output", 8192, 8192),
            ("bool-output", 8192, 8192),
            ("null-output", 8192, 8192),
            ("text-output", 8192, 8192),
        ]
    );
    let skipped: Vec<&str> = discovery.skipped.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(skipped, ["zero-context", "bool-context"]);
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "id",
        "name",
        "data",
        "models",
        "active",
        "lifecycle",
        "capabilities",
        "completion_chat",
        "architecture",
        "output_modalities",
        "modality",
        "top_provider",
        "context_length",
        "context_window",
        "max_context_length",
        "max_completion_tokens",
        "max_input_tokens",
        "max_tokens",
        "inputTokenLimit",
        "outputTokenLimit",
        "supportedGenerationMethods",
        "has_more",
        "last_id",
        "nextPageToken",
        "links",
        "next",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z0-9/:=+%?.-]{0,12}".prop_map(Value::String),
        Just(json!("models/x")),
        Just(json!("generateContent")),
        Just(json!("/next?p=2")),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    /// No JSON input makes discovery panic, and outputs keep their invariants.
    #[test]
    fn never_panics_on_any_json(page in arbitrary_json(), wrapped in arbitrary_json()) {
        for kind in Kind::ALL {
            let pages = [page.clone(), json!({"data": [wrapped.clone()], "models": [wrapped.clone()]})];
            let discovery = normalize(kind, "p", &pages);
            for model in &discovery.models {
                prop_assert!(!model.id.is_empty());
                prop_assert!(model.context_window > 0);
                if model.usage == ai_proxy_core::discovery::Usage::Embedding {
                    prop_assert_eq!(model.max_output_tokens, 0);
                } else {
                    prop_assert!(model.max_output_tokens > 0);
                }
            }
            let first = first_request(kind, Some("http://127.0.0.1:4567/p/v1"), "k");
            if let Some(next) = next_request(kind, &first, &page) {
                prop_assert_ne!(&next.url, &first.url);
                let _ = next_request(kind, &next, &page);
            }
        }
    }
}
