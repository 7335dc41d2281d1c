//! Body plumbing: the incoming request read up to the body limit, and core
//! responses turned into `Response` objects (upstream bodies passed through
//! as streams, never buffered).

use crate::effects::UpstreamBody;
use ai_proxy_core::api::stream_error_event;
use ai_proxy_core::error::ApiError;
use ai_proxy_core::http::{Body, Request as CoreRequest, Response};
use futures_util::future::{select, Either};
use futures_util::stream::{self, Stream, StreamExt};
use js_sys::Uint8Array;
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use worker::Delay;

/// Turns the incoming request into the core's, reading at most `limit`
/// body bytes (the rest is left unread and `body_too_large` set).
pub async fn into_core(req: &web_sys::Request, limit: usize) -> CoreRequest {
    let (path, query) = split_url(&req.url());
    let mut headers = Vec::new();
    if let Ok(Some(iter)) = js_sys::try_iter(&req.headers()) {
        for entry in iter.flatten() {
            let pair: js_sys::Array = entry.unchecked_into();
            if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                headers.push((k.to_ascii_lowercase(), v));
            }
        }
    }
    let declared = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    let (body, body_too_large) = match req.body() {
        None => (Vec::new(), false),
        Some(_) if declared.is_some_and(|n| n > limit) => (Vec::new(), true),
        Some(stream) => read_limited(stream, limit).await,
    };
    CoreRequest {
        method: req.method(),
        path,
        query,
        headers,
        body,
        body_too_large,
    }
}

/// `https://host/a/b?x=1#f` → (`/a/b`, `Some("x=1")`). The runtime has
/// already normalised the URL.
fn split_url(url: &str) -> (String, Option<String>) {
    let url = url.split('#').next().unwrap_or("");
    let after_scheme = url.find("://").map_or(url, |i| &url[i + 3..]);
    let path_and_query = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    match path_and_query.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (path_and_query.to_owned(), None),
    }
}

async fn read_limited(body: web_sys::ReadableStream, limit: usize) -> (Vec<u8>, bool) {
    let mut chunks = wasm_streams::ReadableStream::from_raw(body).into_stream();
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let Ok(chunk) = chunk else { break };
        let bytes: Uint8Array = chunk.unchecked_into();
        let n = bytes.length() as usize;
        if out.len() + n > limit {
            return (out, true);
        }
        let start = out.len();
        out.resize(start + n, 0);
        bytes.copy_to(&mut out[start..]);
    }
    (out, false)
}

/// Statuses whose responses must not have a body (the Response constructor
/// throws otherwise).
fn null_body_status(status: u16) -> bool {
    matches!(status, 101 | 204 | 205 | 304)
}

/// Converts a core response into a `Response`.
pub fn into_web(resp: Response<UpstreamBody>) -> web_sys::Response {
    match build(resp) {
        Ok(r) => r,
        Err(e) => {
            // Only a header the runtime rejects gets here.
            let msg = format!("the response could not be built: {}", text(&e));
            worker::console_error!("ai-proxy: {msg}");
            build(ApiError::internal(msg).into_response()).expect("a plain JSON response always builds")
        }
    }
}

fn build(resp: Response<UpstreamBody>) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (k, v) in &resp.headers {
        headers.append(k, v)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(resp.status);
    init.set_headers(&headers);
    let status = resp.status;
    let body: Option<JsValue> = match resp.body {
        _ if null_body_status(status) => None,
        Body::Empty => None,
        Body::Bytes(b) => Some(Uint8Array::from(b.as_slice()).into()),
        // The upstream stream itself: the runtime pipes it to the client.
        Body::Upstream(up) => up.response.body().map(Into::into),
        Body::UpstreamSse(up) => match up.response.body() {
            Some(stream) => {
                let out = wasm_streams::ReadableStream::from_stream(sse(stream, up.between_bytes_ms));
                Some(out.into_raw().into())
            }
            None => None,
        },
    };
    match body {
        None => web_sys::Response::new_with_opt_str_and_init(None, &init),
        Some(b) => match b.dyn_into::<web_sys::ReadableStream>() {
            Ok(stream) => web_sys::Response::new_with_opt_readable_stream_and_init(Some(&stream), &init),
            Err(b) => web_sys::Response::new_with_opt_buffer_source_and_init(Some(&b.unchecked_into()), &init),
        },
    }
}

fn text(e: &JsValue) -> String {
    match e.dyn_ref::<js_sys::Error>() {
        Some(err) => String::from(err.to_string()),
        None => e.as_string().unwrap_or_else(|| format!("{e:?}")),
    }
}

/// An upstream SSE body passed on chunk by chunk (the chunks themselves, no
/// copy); if upstream fails or stays silent for `idle_ms` part way, one
/// `data: {"error":...}` event is sent and the stream ends, so clients never
/// mistake a truncated stream for a complete one.
fn sse(body: web_sys::ReadableStream, idle_ms: u64) -> impl Stream<Item = Result<JsValue, JsValue>> {
    let chunks = wasm_streams::ReadableStream::from_raw(body).into_stream();
    stream::unfold(Some(chunks), move |state| async move {
        let mut chunks = state?;
        let timer = Delay::from(Duration::from_millis(idle_ms));
        let failure = match select(chunks.next(), timer).await {
            Either::Left((Some(Ok(chunk)), _)) => return Some((Ok(chunk), Some(chunks))),
            Either::Left((None, _)) => return None,
            Either::Left((Some(Err(e)), _)) => format!("upstream stream failed: {}", text(&e)),
            Either::Right(((), _)) => format!("upstream stream failed: no data for {idle_ms} ms"),
        };
        let event = Uint8Array::from(stream_error_event(&failure).as_slice());
        Some((Ok(event.into()), None))
    })
}
