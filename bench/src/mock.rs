//! Mock OpenAI-compatible upstream. Bodies are built once at start-up so
//! that per-request work is tiny and the mock is never the bottleneck.

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::Sleep;

type RespBody = BoxBody<Bytes, Infallible>;

#[derive(Clone, Copy, Debug)]
pub struct MockConfig {
    /// SSE chunks per streamed completion (the last one carries `[DONE]`).
    pub chunks: u32,
    /// Pause between SSE chunks.
    pub delay: Duration,
    pub embedding_dims: usize,
}

/// Request counters, served at `GET /_mock/stats` so the orchestrator can
/// see how many upstream calls each proxied request caused.
#[derive(Default)]
pub struct MockStats {
    chat: AtomicU64,
    stream: AtomicU64,
    embeddings: AtomicU64,
    models: AtomicU64,
    other: AtomicU64,
    /// Requests per Authorization value (shows upstream key rotation).
    auth: Mutex<BTreeMap<String, u64>>,
}

impl MockStats {
    fn to_json(&self) -> serde_json::Value {
        let auth = self.auth.lock().expect("stats lock").clone();
        serde_json::json!({
            "chat": self.chat.load(Ordering::Relaxed),
            "stream": self.stream.load(Ordering::Relaxed),
            "embeddings": self.embeddings.load(Ordering::Relaxed),
            "models": self.models.load(Ordering::Relaxed),
            "other": self.other.load(Ordering::Relaxed),
            "auth": auth,
        })
    }

    fn note_auth(&self, req: &Request<Incoming>) {
        let v = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)");
        let key: String = v.chars().take(40).collect();
        let mut map = self.auth.lock().expect("stats lock");
        // Bounded: a handful of distinct keys is all we want to see.
        if map.len() < 16 || map.contains_key(&key) {
            *map.entry(key).or_default() += 1;
        }
    }
}

struct Canned {
    chat: Bytes,
    embeddings: Bytes,
    models: Bytes,
    sse: Arc<[Bytes]>,
}

impl Canned {
    fn new(cfg: &MockConfig) -> Self {
        Self {
            chat: chat_completion().into(),
            embeddings: embeddings(cfg.embedding_dims).into(),
            models: models().into(),
            sse: sse_chunks(cfg.chunks).into(),
        }
    }
}

struct State {
    cfg: MockConfig,
    canned: Canned,
    stats: MockStats,
}

/// Serves until the process ends. One task per connection, keep-alive on.
pub async fn serve(listener: TcpListener, cfg: MockConfig) -> std::io::Result<()> {
    let state = Arc::new(State {
        canned: Canned::new(&cfg),
        cfg,
        stats: MockStats::default(),
    });
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(req, state.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    stream: bool,
}

async fn handle(req: Request<Incoming>, st: Arc<State>) -> Result<Response<RespBody>, Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if path == "/_mock/stats" {
        return Ok(json(StatusCode::OK, st.stats.to_json().to_string().into()));
    }
    st.stats.note_auth(&req);
    let resp = if method == Method::GET && path.ends_with("/models") {
        st.stats.models.fetch_add(1, Ordering::Relaxed);
        json(StatusCode::OK, st.canned.models.clone())
    } else if method == Method::POST && path.ends_with("/chat/completions") {
        let chunks = header_num(&req, "x-mock-chunks").map(|n| n as u32);
        let delay = header_num(&req, "x-mock-delay-ms").map(Duration::from_millis);
        let body = read_body(req).await;
        let stream = serde_json::from_slice::<Probe>(&body).is_ok_and(|p| p.stream);
        if stream {
            st.stats.stream.fetch_add(1, Ordering::Relaxed);
            let frames = match chunks {
                Some(n) if n != st.cfg.chunks => sse_chunks(n).into(),
                _ => st.canned.sse.clone(),
            };
            sse(frames, delay.unwrap_or(st.cfg.delay))
        } else {
            st.stats.chat.fetch_add(1, Ordering::Relaxed);
            json(StatusCode::OK, st.canned.chat.clone())
        }
    } else if method == Method::POST && path.ends_with("/embeddings") {
        read_body(req).await;
        st.stats.embeddings.fetch_add(1, Ordering::Relaxed);
        json(StatusCode::OK, st.canned.embeddings.clone())
    } else {
        st.stats.other.fetch_add(1, Ordering::Relaxed);
        let msg = r#"{"error":{"message":"mock: no such route","type":"invalid_request_error"}}"#;
        json(StatusCode::NOT_FOUND, Bytes::from_static(msg.as_bytes()))
    };
    Ok(resp)
}

fn header_num(req: &Request<Incoming>, name: &str) -> Option<u64> {
    req.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

async fn read_body(req: Request<Incoming>) -> Bytes {
    match req.into_body().collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => Bytes::new(),
    }
}

fn json(status: StatusCode, body: Bytes) -> Response<RespBody> {
    let mut r = Response::new(Full::new(body).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn sse(frames: Arc<[Bytes]>, delay: Duration) -> Response<RespBody> {
    let body = SseBody {
        frames,
        next: 0,
        delay,
        sleep: None,
    };
    let mut r = Response::new(body.boxed());
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// Yields pre-built SSE frames with `delay` between them (none before the
/// first, so time to first chunk is the upstream's best case).
struct SseBody {
    frames: Arc<[Bytes]>,
    next: usize,
    delay: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let Some(frame) = this.frames.get(this.next) else {
            return Poll::Ready(None);
        };
        if this.next > 0 && !this.delay.is_zero() {
            let delay = this.delay;
            let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            ready!(sleep.as_mut().poll(cx));
            this.sleep = None;
        }
        this.next += 1;
        Poll::Ready(Some(Ok(Frame::data(frame.clone()))))
    }
}

const CREATED: u64 = 1_700_000_000;

fn chat_completion() -> String {
    serde_json::json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": CREATED,
        "model": crate::payloads::CHAT_MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there, nice to meet you."},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 24, "completion_tokens": 8, "total_tokens": 32}
    })
    .to_string()
}

/// `n` SSE events; the last has `finish_reason` + usage and is followed by
/// `data: [DONE]` in the same frame.
pub fn sse_chunks(n: u32) -> Vec<Bytes> {
    let n = n.max(1);
    (0..n)
        .map(|i| {
            let last = i + 1 == n;
            let chunk = serde_json::json!({
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": crate::payloads::CHAT_MODEL,
                "choices": [{
                    "index": 0,
                    "delta": if i == 0 {
                        serde_json::json!({"role": "assistant", "content": "tok0 "})
                    } else {
                        serde_json::json!({"content": format!("tok{i} ")})
                    },
                    "finish_reason": if last { serde_json::json!("stop") } else { serde_json::Value::Null }
                }],
                "usage": if last {
                    serde_json::json!({"prompt_tokens": 24, "completion_tokens": n, "total_tokens": 24 + n})
                } else {
                    serde_json::Value::Null
                }
            });
            let mut s = format!("data: {chunk}\n\n");
            if last {
                s.push_str("data: [DONE]\n\n");
            }
            Bytes::from(s)
        })
        .collect()
}

fn embeddings(dims: usize) -> String {
    // Deterministic, realistic-looking floats: the body size is what matters.
    let v: Vec<f64> = (0..dims)
        .map(|i| ((i as f64 * 0.37).sin() * 1e4).round() / 1e5)
        .collect();
    serde_json::json!({
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": v}],
        "model": crate::payloads::EMBED_MODEL,
        "usage": {"prompt_tokens": 10, "total_tokens": 10}
    })
    .to_string()
}

fn models() -> String {
    serde_json::json!({
        "object": "list",
        "data": [
            {"id": crate::payloads::CHAT_MODEL, "object": "model", "created": CREATED, "owned_by": "mock"},
            {"id": crate::payloads::EMBED_MODEL, "object": "model", "created": CREATED, "owned_by": "mock"}
        ]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_ends_with_done() {
        let frames = sse_chunks(3);
        assert_eq!(frames.len(), 3);
        let all: Vec<u8> = frames.iter().flat_map(|b| b.to_vec()).collect();
        assert!(crate::load::ends_with_done(&all));
        assert_eq!(String::from_utf8(all).unwrap().matches("data: ").count(), 4);
    }
}
