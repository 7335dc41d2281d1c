//! A scripted HTTP/1.1 upstream on 127.0.0.1 (hyper on its own tokio thread)
//! that records every request and answers from a per-path script: fixed
//! responses, one-shot queues, SSE streams with delays, streams that die
//! mid-body, slow heads, dropped connections.

use bytes::Bytes;
use http_body_util::{channel::Channel, combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One request as the mock received it (body read in full).
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, e.g. `/openai/v1/chat/completions?x=1`.
    pub path: String,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("request body is not JSON ({e}): {}", self.text()))
    }
}

/// How the body of a scripted response is produced.
#[derive(Clone, Debug)]
pub enum MockBody {
    /// Sent at once with a content-length.
    Full(Vec<u8>),
    /// Sent chunked: each `(delay, bytes)` waits `delay` then sends `bytes`.
    /// With `fail` the connection is cut after the last chunk, without the
    /// terminating zero-length chunk.
    Chunks {
        chunks: Vec<(Duration, Vec<u8>)>,
        fail: bool,
    },
    /// No response at all: the connection is closed after the head delay.
    DropConnection,
}

/// A scripted response.
#[derive(Clone, Debug)]
pub struct MockResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Wait this long before sending the response head.
    pub head_delay: Duration,
    pub body: MockBody,
}

impl MockResponse {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> MockResponse {
        MockResponse {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            head_delay: Duration::ZERO,
            body: MockBody::Full(body.into()),
        }
    }

    pub fn json(status: u16, value: &Value) -> MockResponse {
        MockResponse::new(status, "application/json", value.to_string())
    }

    pub fn text(status: u16, body: &str) -> MockResponse {
        MockResponse::new(status, "text/plain", body)
    }

    /// `text/event-stream` sending `events` as chunks, waiting `gap` before each.
    pub fn sse<S: AsRef<str>>(events: &[S], gap: Duration) -> MockResponse {
        MockResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), "text/event-stream".into()),
                ("cache-control".into(), "no-cache".into()),
            ],
            head_delay: Duration::ZERO,
            body: MockBody::Chunks {
                chunks: events.iter().map(|e| (gap, e.as_ref().as_bytes().to_vec())).collect(),
                fail: false,
            },
        }
    }

    /// An OpenAI chat completion answering `content`.
    pub fn chat_completion(model: &str, content: &str) -> MockResponse {
        MockResponse::json(
            200,
            &json!({
                "id": "chatcmpl-mock",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
            }),
        )
    }

    /// An OpenAI chat completion stream: one `data:` event per piece, then
    /// a finish event and `data: [DONE]`, `gap` before each event.
    pub fn chat_stream(model: &str, pieces: &[&str], gap: Duration) -> MockResponse {
        let chunk = |delta: Value, finish: Value| {
            let v = json!({
                "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
            });
            format!("data: {v}\n\n")
        };
        let mut events: Vec<String> = pieces
            .iter()
            .map(|p| chunk(json!({"role": "assistant", "content": p}), Value::Null))
            .collect();
        events.push(chunk(json!({}), json!("stop")));
        events.push("data: [DONE]\n\n".into());
        MockResponse::sse(&events, gap)
    }

    /// The connection is closed without any response.
    pub fn drop_connection() -> MockResponse {
        MockResponse {
            status: 0,
            headers: Vec::new(),
            head_delay: Duration::ZERO,
            body: MockBody::DropConnection,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> MockResponse {
        self.headers.push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    pub fn delay_head(mut self, d: Duration) -> MockResponse {
        self.head_delay = d;
        self
    }

    /// Cuts the connection after the last chunk instead of ending the body
    /// (a `Full` body becomes one chunk).
    pub fn fail_mid_stream(mut self) -> MockResponse {
        self.body = match self.body {
            MockBody::Full(b) => MockBody::Chunks {
                chunks: vec![(Duration::ZERO, b)],
                fail: true,
            },
            MockBody::Chunks { chunks, .. } => MockBody::Chunks { chunks, fail: true },
            MockBody::DropConnection => MockBody::DropConnection,
        };
        self
    }
}

#[derive(Default)]
struct Script {
    fixed: HashMap<String, MockResponse>,
    queued: HashMap<String, VecDeque<MockResponse>>,
    fallback: Option<MockResponse>,
}

impl Script {
    /// Queue first, then fixed; exact path+query before bare path; then fallback.
    fn pick(&mut self, path_and_query: &str) -> Option<MockResponse> {
        let path = path_and_query.split('?').next().unwrap_or("");
        for key in [path_and_query, path] {
            if let Some(r) = self.queued.get_mut(key).and_then(VecDeque::pop_front) {
                return Some(r);
            }
        }
        for key in [path_and_query, path] {
            if let Some(r) = self.fixed.get(key) {
                return Some(r.clone());
            }
        }
        self.fallback.clone()
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    arrived: Condvar,
    script: Mutex<Script>,
}

/// The mock server; stops when dropped.
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type MockBodyStream = BoxBody<Bytes, std::io::Error>;

impl MockUpstream {
    pub fn start() -> MockUpstream {
        let shared = Arc::new(Shared::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind mock upstream");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let addr = listener.local_addr().expect("mock address");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("mock-upstream-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("mock runtime");
                rt.block_on(serve(listener, s, stop_rx));
            })
            .expect("spawn mock thread");
        MockUpstream {
            addr,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Always answer `path` (or `path?query`, matched first) with `resp`.
    pub fn on(&self, path: &str, resp: MockResponse) {
        self.shared.script.lock().unwrap().fixed.insert(path.to_owned(), resp);
    }

    /// Answer the next request to `path` with `resp` (FIFO, before `on`).
    pub fn enqueue(&self, path: &str, resp: MockResponse) {
        self.shared
            .script
            .lock()
            .unwrap()
            .queued
            .entry(path.to_owned())
            .or_default()
            .push_back(resp);
    }

    /// Answer for any path nothing else matches (default: 404 JSON error).
    pub fn fallback(&self, resp: MockResponse) {
        self.shared.script.lock().unwrap().fallback = Some(resp);
    }

    /// Forgets every scripted response.
    pub fn reset_script(&self) {
        *self.shared.script.lock().unwrap() = Script::default();
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Forgets the recorded requests (the script is kept).
    pub fn clear(&self) {
        self.shared.requests.lock().unwrap().clear();
    }

    /// Waits until at least `n` requests were recorded; panics after `timeout`.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        let mut reqs = self.shared.requests.lock().unwrap();
        while reqs.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "mock upstream got {} request(s), wanted {n} within {timeout:?}",
                reqs.len()
            );
            reqs = self.shared.arrived.wait_timeout(reqs, left).unwrap().0;
        }
        reqs.clone()
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(listener: std::net::TcpListener, shared: Arc<Shared>, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((s, _)) => s,
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| answer(shared.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn answer(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<MockBodyStream>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let body = body.collect().await.map(|c| c.to_bytes().to_vec()).unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.as_str().to_owned(),
        path: path.clone(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        at: Instant::now(),
    };
    let method = recorded.method.clone();
    shared.requests.lock().unwrap().push(recorded);
    shared.arrived.notify_all();

    let scripted = shared.script.lock().unwrap().pick(&path);
    let resp = scripted.unwrap_or_else(|| {
        MockResponse::json(
            404,
            &json!({"error": {"message": format!("mock upstream: nothing scripted for {method} {path}"), "type": "mock", "code": "unscripted"}}),
        )
    });
    tokio::time::sleep(resp.head_delay).await;

    let body: MockBodyStream = match resp.body {
        MockBody::DropConnection => {
            // An error from the service makes hyper close the connection.
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "scripted drop",
            ));
        }
        MockBody::Full(b) => Full::new(Bytes::from(b)).map_err(|never| match never {}).boxed(),
        MockBody::Chunks { chunks, fail } => {
            let (mut tx, rx) = Channel::<Bytes, std::io::Error>::new(1);
            tokio::spawn(async move {
                for (delay, bytes) in chunks {
                    tokio::time::sleep(delay).await;
                    if tx.send_data(Bytes::from(bytes)).await.is_err() {
                        return; // the client went away
                    }
                }
                if fail {
                    // Let hyper flush the last chunk, then make it drop the
                    // connection without the terminating chunk.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    tx.abort(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "scripted failure",
                    ));
                }
            });
            rx.boxed()
        }
    };
    let mut builder = hyper::Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    Ok(builder.body(body).expect("valid scripted response"))
}
