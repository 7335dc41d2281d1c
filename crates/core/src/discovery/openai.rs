//! OpenAI: `GET {base}/models`, Bearer, one page. The list has no limits and
//! no type, so both come from the id.

use super::{bearer, chat, contains_any, embedding, lower, plain_id, same_base, single_page, Spec, Verdict};
use serde_json::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    default_base: "https://api.openai.com/v1",
    host: "api.openai.com",
    query: &[],
    auth: bearer,
    adjust_base: same_base,
    list_field: "data",
    id: plain_id,
    next: single_page,
    record,
};

/// Speech, realtime, image/video generation, moderation and the legacy
/// completions-only `…-instruct` models: not usable for chat.
const NOT_CHAT: &[&str] = &[
    "whisper",
    "tts",
    "transcribe",
    "realtime",
    "audio",
    "image",
    "dall-e",
    "sora",
    "moderation",
    "instruct",
];

/// Documented family limits by id prefix; first match wins, so the more
/// specific prefixes come first (`gpt-5-chat` before `gpt-5`, `gpt-4.1` /
/// `gpt-4o` / `gpt-4-turbo` before `gpt-4`).
const FAMILIES: &[(&str, u64, u64)] = &[
    ("gpt-5-chat", 128_000, 16_384),
    ("gpt-5", 400_000, 128_000),
    ("gpt-4.1", 1_047_576, 32_768),
    ("gpt-4o", 128_000, 16_384),
    ("gpt-4-turbo", 128_000, 4096),
    ("gpt-4", 8192, 8192),
    ("gpt-3.5-turbo", 16_385, 4096),
    ("o1", 200_000, 100_000),
    ("o3", 200_000, 100_000),
    ("o4", 200_000, 100_000),
];

fn record(_: &Map<String, Value>, id: &str) -> Verdict {
    let id = lower(id);
    // The embeddings API accepts at most 8192 input tokens.
    if id.contains("embedding") {
        return embedding(8192);
    }
    if contains_any(&id, NOT_CHAT) {
        return Err("not a chat/embedding model (id marker)");
    }
    match FAMILIES.iter().find(|(prefix, _, _)| id.starts_with(prefix)) {
        Some(&(_, context, output)) => chat(context, output),
        None => Err("unrecognized family"),
    }
}

#[cfg(test)]
mod tests {
    use crate::discovery::{normalize, Kind, Usage};
    use serde_json::json;

    #[test]
    fn rules() {
        let ids = [
            "gpt-5-chat-latest",
            "gpt-5.1",
            "gpt-5-nano-2025-08-07",
            "gpt-4.1-nano",
            "gpt-4o-2024-05-13",
            "gpt-4o-search-preview",
            "gpt-4-turbo-2024-04-09",
            "gpt-4-0613",
            "gpt-3.5-turbo-16k",
            "o1-mini",
            "o3-pro",
            "o4-mini",
            "text-embedding-ada-002",
            "gpt-3.5-turbo-instruct",
            "gpt-4o-realtime-preview",
            "gpt-4o-mini-tts",
            "gpt-4o-transcribe",
            "gpt-image-1",
            "gpt-audio",
            "sora-2",
            "davinci-002",
            "chatgpt-4o-latest",
            "ft:gpt-4o-mini:org::abc",
            "GPT-4O",
        ];
        let data: Vec<_> = ids.iter().map(|id| json!({"id": id, "context_window": 1})).collect();
        let d = normalize(Kind::OpenAi, "openai", &[json!({"data": data})]);
        let got = super::super::test_rows(&d);
        assert_eq!(
            got,
            [
                ("gpt-5-chat-latest", Usage::Chat, 128000, 16384),
                ("gpt-5.1", Usage::Chat, 400000, 128000),
                ("gpt-5-nano-2025-08-07", Usage::Chat, 400000, 128000),
                ("gpt-4.1-nano", Usage::Chat, 1047576, 32768),
                ("gpt-4o-2024-05-13", Usage::Chat, 128000, 16384),
                ("gpt-4o-search-preview", Usage::Chat, 128000, 16384),
                ("gpt-4-turbo-2024-04-09", Usage::Chat, 128000, 4096),
                ("gpt-4-0613", Usage::Chat, 8192, 8192),
                ("gpt-3.5-turbo-16k", Usage::Chat, 16385, 4096),
                ("o1-mini", Usage::Chat, 200000, 100000),
                ("o3-pro", Usage::Chat, 200000, 100000),
                ("o4-mini", Usage::Chat, 200000, 100000),
                ("text-embedding-ada-002", Usage::Embedding, 8192, 0),
                ("GPT-4O", Usage::Chat, 128000, 16384),
            ]
        );
        assert_eq!(d.skipped.len(), ids.len() - d.models.len());
    }
}
