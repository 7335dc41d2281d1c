//! OpenAI-style request bodies shared by the load generator and orchestrator.

use bytes::Bytes;
use hyper::Method;

pub const CHAT_MODEL: &str = "llama-3.3-70b-versatile";
pub const EMBED_MODEL: &str = "nomic-embed";

/// The kinds of request the benchmark sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Chat,
    Stream,
    Embeddings,
    Models,
}

impl Kind {
    pub fn method(self) -> Method {
        match self {
            Kind::Models => Method::GET,
            _ => Method::POST,
        }
    }

    /// Path under an OpenAI base such as `/openai/v1` or `/groq/v1`.
    pub fn suffix(self) -> &'static str {
        match self {
            Kind::Chat | Kind::Stream => "/chat/completions",
            Kind::Embeddings => "/embeddings",
            Kind::Models => "/models",
        }
    }

    pub fn body(self) -> Option<Bytes> {
        match self {
            Kind::Chat => Some(chat_body(false)),
            Kind::Stream => Some(chat_body(true)),
            Kind::Embeddings => Some(embeddings_body()),
            Kind::Models => None,
        }
    }

    pub fn streaming(self) -> bool {
        self == Kind::Stream
    }
}

pub fn chat_body(stream: bool) -> Bytes {
    serde_json::json!({
        "model": CHAT_MODEL,
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "Say hello in five words."}
        ],
        "max_tokens": 64,
        "temperature": 0.2,
        "stream": stream
    })
    .to_string()
    .into()
}

pub fn embeddings_body() -> Bytes {
    serde_json::json!({
        "model": EMBED_MODEL,
        "input": ["The quick brown fox jumps over the lazy dog."]
    })
    .to_string()
    .into()
}
