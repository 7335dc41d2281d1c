//! Minimal HTTP/1.1 client: one keep-alive TCP connection per `Conn`
//! (hyper 1 low-level API, so each load worker owns exactly one socket).

use anyhow::{bail, Context, Result};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// `http://127.0.0.1:PORT` → socket address. Anything not on loopback is
/// refused: this benchmark must never send traffic off the machine.
pub fn loopback_addr(base_url: &str) -> Result<SocketAddr> {
    let rest = base_url
        .strip_prefix("http://")
        .with_context(|| format!("only http:// URLs are supported: {base_url}"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority.replace("localhost", "127.0.0.1");
    let addr: SocketAddr = authority
        .parse()
        .with_context(|| format!("expected http://IP:PORT, got {base_url}"))?;
    let loopback = match addr.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback(),
    };
    if !loopback {
        bail!("refusing non-loopback target {addr}");
    }
    Ok(addr)
}

/// Splits `http://127.0.0.1:PORT/some/path` into address and path.
pub fn split_url(url: &str) -> Result<(SocketAddr, String)> {
    let addr = loopback_addr(url)?;
    let after_scheme = &url["http://".len()..];
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]).to_string();
    Ok((addr, path))
}

/// Everything needed to build one request again and again.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub addr: SocketAddr,
    pub method: Method,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl RequestSpec {
    pub fn new(url: &str, method: Method) -> Result<Self> {
        let (addr, path) = split_url(url)?;
        Ok(Self {
            addr,
            method,
            path,
            headers: Vec::new(),
            body: Bytes::new(),
        })
    }

    pub fn bearer(mut self, token: &str) -> Result<Self> {
        let v = HeaderValue::from_str(&format!("Bearer {token}"))?;
        self.headers.push((AUTHORIZATION, v));
        Ok(self)
    }

    pub fn json(mut self, body: Bytes) -> Self {
        self.headers
            .push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        self.body = body;
        self
    }

    pub fn text(mut self, body: impl Into<Bytes>) -> Self {
        self.headers
            .push((CONTENT_TYPE, HeaderValue::from_static("text/plain")));
        self.body = body.into();
        self
    }

    pub fn build(&self) -> Request<Full<Bytes>> {
        let mut req = Request::builder()
            .method(self.method.clone())
            .uri(&self.path)
            .body(Full::new(self.body.clone()))
            .expect("method and path were validated");
        let h = req.headers_mut();
        // The low-level hyper client does not add Host by itself.
        h.insert(
            HOST,
            HeaderValue::from_str(&self.addr.to_string()).expect("socket address is ASCII"),
        );
        for (k, v) in &self.headers {
            h.insert(k.clone(), v.clone());
        }
        req
    }
}

/// One keep-alive connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        // Small request/response pairs: Nagle would add 40 ms stalls.
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self { sender })
    }

    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Sends one request and reads the whole body, noting when the first
    /// non-empty data frame arrived (time to first chunk for SSE).
    pub async fn exchange(&mut self, spec: &RequestSpec) -> Result<Exchange> {
        self.sender.ready().await?;
        let start = Instant::now();
        let resp = self.sender.send_request(spec.build()).await?;
        let status = resp.status();
        let mut body = resp.into_body();
        let mut first_chunk = None;
        let mut buf = BytesMut::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                if !data.is_empty() && first_chunk.is_none() {
                    first_chunk = Some(start.elapsed());
                }
                buf.extend_from_slice(&data);
            }
        }
        let total = start.elapsed();
        Ok(Exchange {
            status,
            body: buf.freeze(),
            first_chunk: first_chunk.unwrap_or(total),
            total,
        })
    }
}

/// The outcome of one request.
#[derive(Debug)]
pub struct Exchange {
    pub status: StatusCode,
    pub body: Bytes,
    pub first_chunk: Duration,
    pub total: Duration,
}

/// One request on a fresh connection (what a new client pays), timing
/// connect + request + full body; bounded by `ONCE_TIMEOUT`.
pub async fn once(spec: &RequestSpec) -> Result<(Exchange, Duration)> {
    let start = Instant::now();
    let work = async {
        let mut conn = Conn::connect(spec.addr).await?;
        conn.exchange(spec).await
    };
    let ex = tokio::time::timeout(ONCE_TIMEOUT, work)
        .await
        .with_context(|| format!("{} {} timed out", spec.method, spec.path))??;
    Ok((ex, start.elapsed()))
}

pub const ONCE_TIMEOUT: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_refuse() {
        let (a, p) = split_url("http://127.0.0.1:8080/groq/v1/models").unwrap();
        assert_eq!(a.port(), 8080);
        assert_eq!(p, "/groq/v1/models");
        let (_, p) = split_url("http://localhost:1").unwrap();
        assert_eq!(p, "/");
        assert!(split_url("http://10.0.0.1:80/").is_err());
        assert!(split_url("https://127.0.0.1:80/").is_err());
    }
}
