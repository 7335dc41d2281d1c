//! Outbound HTTP for guests: the `allowed_outbound_hosts` allowlist and a
//! pooled keep-alive client (HTTP/1.1, TLS via rustls) shared by every
//! instance, so a proxied request does not pay a TCP/TLS handshake.

use anyhow::{bail, Result};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// One `allowed_outbound_hosts` entry: `scheme://host[:port]`, where scheme,
/// host, a leading `*.` of the host, and port may be `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: String,
    host: String,
    port: Option<String>,
}

impl AllowedHost {
    pub fn parse(entry: &str) -> Result<AllowedHost> {
        let Some((scheme, rest)) = entry.split_once("://") else {
            bail!("allowed outbound host {entry:?} needs a scheme, e.g. https://{entry}");
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            bail!("allowed outbound host {entry:?} must not contain a path");
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => (h.to_owned(), Some(p.to_owned())),
            _ => (rest.to_owned(), None),
        };
        if host.is_empty() {
            bail!("allowed outbound host {entry:?} has no host");
        }
        Ok(AllowedHost {
            scheme: scheme.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    fn default_port(scheme: &str) -> Option<&'static str> {
        match scheme {
            "http" => Some("80"),
            "https" => Some("443"),
            _ => None,
        }
    }

    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        let host = host.to_ascii_lowercase();
        if self.scheme != "*" && self.scheme != scheme {
            return false;
        }
        let host_ok = self.host == "*"
            || self.host == host
            || self
                .host
                .strip_prefix("*.")
                .is_some_and(|suffix| host.ends_with(&format!(".{suffix}")));
        if !host_ok {
            return false;
        }
        let actual = port
            .map(|p| p.to_string())
            .or_else(|| Self::default_port(&scheme).map(str::to_owned));
        match &self.port {
            Some(p) if p == "*" => true,
            Some(p) => actual.as_deref() == Some(p.as_str()),
            None => actual.as_deref() == Self::default_port(&self.scheme).or(Self::default_port(&scheme)),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Allowlist(Vec<AllowedHost>);

impl Allowlist {
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Allowlist> {
        Ok(Allowlist(
            entries.into_iter().map(AllowedHost::parse).collect::<Result<_>>()?,
        ))
    }

    pub fn allows(&self, uri: &http::Uri) -> bool {
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.0.iter().any(|a| a.allows(scheme, host, uri.port_u16()))
    }
}

type Pool = Client<hyper_rustls::HttpsConnector<HttpConnector>, WasiBody>;

/// Shared by every store: the allowlist and the connection pool.
pub struct Outbound {
    allow: Allowlist,
    client: Pool,
}

impl Outbound {
    pub fn new(allow: Allowlist) -> Result<Arc<Outbound>> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        http.set_keepalive(Some(Duration::from_secs(60)));
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .build(https);
        Ok(Arc::new(Outbound { allow, client }))
    }

    async fn send(
        self: Arc<Self>,
        mut req: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        if !self.allow.allows(req.uri()) {
            return Err(HttpError::HttpRequestDenied);
        }
        // The guest's Host header is rebuilt by hyper from the URI.
        req.headers_mut().remove(http::header::HOST);
        let first_byte = options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(Duration::from_secs(600));
        let between = options
            .and_then(|o| o.between_bytes_timeout)
            .unwrap_or(Duration::from_secs(600));
        let connect = options.and_then(|o| o.connect_timeout);
        let fut = self.client.request(req);
        let resp = match tokio::time::timeout(first_byte, fut).await {
            Err(_) => {
                return Err(if connect.is_some_and(|c| c < first_byte) {
                    HttpError::ConnectionReadTimeout
                } else {
                    HttpError::ConnectionTimeout
                })
            }
            Ok(Err(e)) => return Err(map_client_error(&e)),
            Ok(Ok(r)) => r,
        };
        Ok(resp.map(|body| IdleTimeout::new(body, between).boxed_unsync()))
    }
}

fn map_client_error(e: &hyper_util::client::legacy::Error) -> HttpError {
    if e.is_connect() {
        let text = format!("{e:?}");
        if text.contains("timed out") || text.contains("TimedOut") {
            HttpError::ConnectionTimeout
        } else if text.contains("ConnectionRefused") || text.contains("Connection refused") {
            HttpError::ConnectionRefused
        } else if text.contains("dns") || text.contains("lookup") {
            HttpError::DnsError {
                rcode: Some("lookup failed".into()),
                info_code: None,
            }
        } else {
            HttpError::ConnectionRefused
        }
    } else {
        HttpError::HttpProtocolError
    }
}

/// Fails a response body that stays silent for longer than `limit`
/// between frames (the guest's `between-bytes-timeout`).
struct IdleTimeout {
    inner: hyper::body::Incoming,
    limit: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl IdleTimeout {
    fn new(inner: hyper::body::Incoming, limit: Duration) -> Self {
        IdleTimeout {
            inner,
            limit,
            sleep: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

impl http_body::Body for IdleTimeout {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let deadline = tokio::time::Instant::now() + self.limit;
                self.sleep.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(HttpError::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

/// Per-store hooks handing guest requests to the shared [`Outbound`].
pub struct Hooks(pub Arc<Outbound>);

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                    ),
                    HttpError,
                >,
            > + Send,
    > {
        let outbound = self.0.clone();
        Box::new(async move {
            let resp = outbound.send(request, options).await?;
            Ok((resp, Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entry: &str, url: &str) -> bool {
        Allowlist::parse([entry]).unwrap().allows(&url.parse().unwrap())
    }

    #[test]
    fn exact_hosts_match_scheme_host_and_default_port() {
        assert!(allows("https://api.groq.com", "https://api.groq.com/openai/v1/models"));
        assert!(allows("https://api.groq.com", "https://api.groq.com:443/x"));
        assert!(!allows("https://api.groq.com", "http://api.groq.com/x"));
        assert!(!allows("https://api.groq.com", "https://api.groq.com:8443/x"));
        assert!(!allows("https://api.groq.com", "https://api.groq.com.evil.test/x"));
        assert!(!allows("https://api.groq.com", "https://evil.test/x"));
    }

    #[test]
    fn wildcards_cover_ports_subdomains_and_schemes() {
        assert!(allows("http://127.0.0.1:*", "http://127.0.0.1:41234/v1"));
        assert!(!allows("http://127.0.0.1:*", "http://127.0.0.2:41234/v1"));
        assert!(allows("https://*.example.com", "https://a.example.com/"));
        assert!(!allows("https://*.example.com", "https://example.com.evil/"));
        assert!(allows("*://*:*", "http://anything:1/"));
    }

    #[test]
    fn entries_without_scheme_are_rejected() {
        assert!(Allowlist::parse(["api.groq.com"]).is_err());
        assert!(Allowlist::parse(["https://api.groq.com/path"]).is_err());
    }
}
