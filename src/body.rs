//! Body plumbing: bounded reads of incoming bodies, and core responses turned
//! into wasi:http responses (upstream bodies passed through as streams).

use ai_proxy_core::api::stream_error_event;
use ai_proxy_core::http::{Body, Response};
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame};
use http_body_util::BodyExt;
use spin_sdk::wasip3::http::types::{ErrorCode, Fields, Response as WasiResponse};
use spin_sdk::wasip3::http_compat::{http_into_wasi_response, IncomingResponseBody};
use spin_sdk::wasip3::wit_future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Reads a body up to `limit` bytes; returns what was read and whether the
/// body was longer (the rest is not read).
pub async fn read_limited<B>(body: B, limit: usize) -> (Vec<u8>, bool)
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    read_limited_result(body, limit).await.unwrap_or_default()
}

pub async fn read_limited_result<B>(mut body: B, limit: usize) -> Result<(Vec<u8>, bool), B::Error>
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if out.len() + data.len() > limit {
                return Ok((out, true));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok((out, false))
}

fn fields(headers: &[(String, String)]) -> Result<Fields, ErrorCode> {
    let list = headers
        .iter()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect::<Vec<_>>();
    Fields::from_list(&list).map_err(|e| ErrorCode::InternalError(Some(format!("bad header: {e:?}"))))
}

/// Converts a core response into a wasi:http response.
pub fn into_wasi(resp: Response<WasiResponse>) -> Result<WasiResponse, ErrorCode> {
    match resp.body {
        Body::Upstream(upstream) => {
            // Hand the upstream byte stream to the host as our own body: no copy
            // through guest memory, no buffering.
            let (_tx, result) = wit_future::new(|| Ok(()));
            let (stream, trailers) = WasiResponse::consume_body(upstream, result);
            let (out, _) = WasiResponse::new(fields(&resp.headers)?, Some(stream), trailers);
            let _ = out.set_status_code(resp.status);
            Ok(out)
        }
        Body::UpstreamSse(upstream) => {
            let incoming = IncomingResponseBody::new(upstream)?;
            build(resp.status, &resp.headers, SseBody { inner: Some(incoming) })
        }
        Body::Bytes(b) => build(resp.status, &resp.headers, http_body_util::Full::new(Bytes::from(b))),
        Body::Empty => build(resp.status, &resp.headers, http_body_util::Empty::<Bytes>::new()),
    }
}

fn build<B>(status: u16, headers: &[(String, String)], body: B) -> Result<WasiResponse, ErrorCode>
where
    B: HttpBody + std::any::Any,
    B::Data: Into<Vec<u8>>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    let mut builder = http::Response::builder().status(status);
    for (k, v) in headers {
        builder = builder.header(k, v);
    }
    let resp = builder
        .body(body)
        .map_err(|e| ErrorCode::InternalError(Some(e.to_string())))?;
    http_into_wasi_response(resp)
}

/// An upstream SSE body passed on frame by frame; if upstream fails part way,
/// one `data: {"error":...}` event is sent and the stream ends, so clients
/// never mistake a truncated stream for a complete one.
struct SseBody {
    inner: Option<IncomingResponseBody>,
}

impl HttpBody for SseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                self.inner = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                // Upstream trailers are dropped: SSE clients do not use them.
                Err(_) => Poll::Ready(Some(Ok(Frame::data(Bytes::new())))),
            },
            Poll::Ready(Some(Err(e))) => {
                self.inner = None;
                let msg = format!("upstream stream failed: {e:?}");
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(stream_error_event(&msg))))))
            }
        }
    }
}
