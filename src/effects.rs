//! Host effects for the core, on Spin's key-value, variables and outbound HTTP.

use ai_proxy_core::host::{Host, KvError, OutboundRequest, SendError, UpstreamResponse};
use spin_sdk::key_value::Store;
use spin_sdk::wasip3::http::types::{ErrorCode, RequestOptions, Response as WasiResponse};
use spin_sdk::wasip3::http_compat::{http_into_wasi_request, RequestOptionsExtension};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

thread_local! {
    // Opened once per instance; the handle stays valid while the instance lives.
    static STORE: RefCell<Option<Rc<Store>>> = const { RefCell::new(None) };
    // Variables are fixed for the life of an instance (Spin resolves them
    // when the app starts), so each is read from the host once per instance
    // instead of several host calls per request.
    static VARS: RefCell<HashMap<String, Option<String>>> = RefCell::new(HashMap::new());
}

pub struct SpinHost;

impl SpinHost {
    pub fn new() -> Self {
        SpinHost
    }

    async fn store(&self) -> Result<Rc<Store>, KvError> {
        if let Some(s) = STORE.with(|s| s.borrow().clone()) {
            return Ok(s);
        }
        let store = Rc::new(Store::open_default().await.map_err(|e| KvError(format!("{e:?}")))?);
        STORE.with(|s| *s.borrow_mut() = Some(store.clone()));
        Ok(store)
    }
}

fn map_error(e: ErrorCode) -> SendError {
    let text = format!("{e:?}");
    match e {
        ErrorCode::HttpRequestDenied => SendError::NotAllowed(text),
        ErrorCode::DnsTimeout | ErrorCode::ConnectionTimeout => SendError::Timeout(text),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => SendError::Timeout(text),
        ErrorCode::DnsError(_)
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated
        | ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => SendError::Connect(text),
        _ => SendError::Other(text),
    }
}

impl Host for SpinHost {
    type Body = WasiResponse;

    async fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.store()
            .await?
            .get(key)
            .await
            .map_err(|e| KvError(format!("{e:?}")))
    }

    async fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.store()
            .await?
            .set(key, value)
            .await
            .map_err(|e| KvError(format!("{e:?}")))
    }

    async fn kv_delete(&self, key: &str) -> Result<(), KvError> {
        self.store()
            .await?
            .delete(key)
            .await
            .map_err(|e| KvError(format!("{e:?}")))
    }

    async fn variable(&self, name: &str) -> Option<String> {
        if let Some(v) = VARS.with(|vars| vars.borrow().get(name).cloned()) {
            return v;
        }
        let value = spin_sdk::variables::get(name).await.ok().filter(|v| !v.is_empty());
        VARS.with(|vars| vars.borrow_mut().insert(name.to_owned(), value.clone()));
        value
    }

    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    async fn send(&self, req: OutboundRequest) -> Result<UpstreamResponse<WasiResponse>, SendError> {
        let mut builder = http::Request::builder().method(req.method).uri(&req.url);
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        // A known length instead of chunked encoding: some upstreams (and
        // simple servers) do not accept chunked request bodies.
        if !req.body.is_empty() {
            builder = builder.header("content-length", req.body.len());
        }
        let options = RequestOptions::new();
        let ms = Duration::from_millis;
        // Hosts that do not support an option reject it; timeouts then fall
        // back to the host's own defaults.
        let _ = options.set_connect_timeout(Some(ms(req.timeouts.connect_ms).as_nanos() as u64));
        let _ = options.set_first_byte_timeout(Some(ms(req.timeouts.first_byte_ms).as_nanos() as u64));
        let _ = options.set_between_bytes_timeout(Some(ms(req.timeouts.between_bytes_ms).as_nanos() as u64));
        let http_req = builder
            .extension(RequestOptionsExtension(options))
            .body(http_body_util::Full::new(bytes::Bytes::from(req.body)))
            .map_err(|e| SendError::Other(format!("invalid request: {e}")))?;
        let wasi_req = http_into_wasi_request(http_req).map_err(map_error)?;
        let resp = spin_sdk::wasip3::http::client::send(wasi_req)
            .await
            .map_err(map_error)?;
        let headers = resp
            .get_headers()
            .copy_all()
            .into_iter()
            .filter_map(|(k, v)| Some((k, String::from_utf8(v).ok()?)))
            .collect();
        Ok(UpstreamResponse {
            status: resp.get_status_code(),
            headers,
            body: resp,
        })
    }

    async fn read_body(&self, body: WasiResponse, limit: usize) -> Result<Vec<u8>, SendError> {
        let incoming = spin_sdk::wasip3::http_compat::IncomingResponseBody::new(body).map_err(map_error)?;
        let (bytes, too_large) = crate::body::read_limited_result(incoming, limit)
            .await
            .map_err(map_error)?;
        if too_large {
            return Err(SendError::Other(format!("upstream body larger than {limit} bytes")));
        }
        Ok(bytes)
    }

    fn log(&self, line: &str) {
        eprintln!("{line}");
    }
}
