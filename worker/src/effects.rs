//! Host effects for the core on Workers: the `KV_AI_PROXY` namespace,
//! secrets and vars, the global `fetch` and the console.
//!
//! Core variable names map to Worker bindings by upper-casing them
//! (`ai_json_cryptoken` → secret `AI_JSON_CRYPTOKEN`, `debug` → var `DEBUG`,
//! `cors_allowed_origins` → `CORS_ALLOWED_ORIGINS`, ...). An unset binding
//! takes the default that spin.toml gives the same variable.

use ai_proxy_core::host::{Host, KvError, OutboundRequest, SendError, UpstreamResponse};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use js_sys::futures::JsFuture;
use js_sys::Uint8Array;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use worker::{Delay, Env, KvStore};

/// The KV namespace binding (same name as the original Worker).
pub const KV_BINDING: &str = "KV_AI_PROXY";

/// spin.toml's defaults, for bindings the deployment does not set.
const DEFAULTS: &[(&str, &str)] = &[
    ("cloudflare_account_id", ""),
    ("cloudflare_aig_token", ""),
    ("debug", "false"),
    ("cors_allowed_origins", "*"),
    ("max_body_bytes", "10485760"),
    ("upstream_connect_timeout_ms", "10000"),
    ("upstream_first_byte_timeout_ms", "120000"),
    ("upstream_idle_timeout_ms", "60000"),
];

/// An upstream response body with the idle timeout that applies while it
/// streams (Workers' fetch has no such option; the SSE pass-through applies it).
pub struct UpstreamBody {
    pub response: web_sys::Response,
    pub between_bytes_ms: u64,
}

pub struct WorkerHost {
    env: Env,
    // Variables are read at most once per request.
    vars: RefCell<HashMap<String, Option<String>>>,
}

impl WorkerHost {
    pub fn new(env: Env) -> Self {
        WorkerHost {
            env,
            vars: RefCell::new(HashMap::new()),
        }
    }

    fn kv(&self) -> Result<KvStore, KvError> {
        self.env
            .kv(KV_BINDING)
            .map_err(|e| KvError(format!("binding {KV_BINDING}: {e}")))
    }

    fn binding(&self, name: &str) -> Option<String> {
        let upper = name.to_ascii_uppercase();
        // Secrets and plain-text vars are both strings on `env`.
        let value = js_sys::Reflect::get(&self.env, &JsValue::from_str(&upper)).ok()?;
        value.as_string()
    }
}

fn js_error_text(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.to_string());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

impl Host for WorkerHost {
    type Body = UpstreamBody;

    async fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.kv()?.get(key).bytes().await.map_err(|e| KvError(e.to_string()))
    }

    async fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.kv()?
            .put_bytes(key, value)
            .map_err(|e| KvError(e.to_string()))?
            .execute()
            .await
            .map_err(|e| KvError(e.to_string()))
    }

    async fn kv_delete(&self, key: &str) -> Result<(), KvError> {
        self.kv()?.delete(key).await.map_err(|e| KvError(e.to_string()))
    }

    async fn variable(&self, name: &str) -> Option<String> {
        if let Some(v) = self.vars.borrow().get(name) {
            return v.clone();
        }
        let value = self
            .binding(name)
            .or_else(|| DEFAULTS.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
            .filter(|v| !v.is_empty());
        self.vars.borrow_mut().insert(name.to_owned(), value.clone());
        value
    }

    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    async fn send(&self, req: OutboundRequest) -> Result<UpstreamResponse<UpstreamBody>, SendError> {
        let headers = web_sys::Headers::new().map_err(|e| SendError::Other(js_error_text(&e)))?;
        for (k, v) in &req.headers {
            headers
                .append(k, v)
                .map_err(|e| SendError::Other(format!("invalid request header {k}: {}", js_error_text(&e))))?;
        }
        let init = web_sys::RequestInit::new();
        init.set_method(req.method);
        init.set_headers(&headers);
        // Like wasi:http: redirects are answered, not followed.
        init.set_redirect(web_sys::RequestRedirect::Manual);
        if !req.body.is_empty() {
            // A known length (no chunked upload), as the Spin adapter does.
            init.set_body(&Uint8Array::from(req.body.as_slice()));
        }
        let abort = web_sys::AbortController::new().map_err(|e| SendError::Other(js_error_text(&e)))?;
        init.set_signal(Some(&abort.signal()));
        let request = web_sys::Request::new_with_str_and_init(&req.url, &init)
            .map_err(|e| SendError::Other(format!("invalid request: {}", js_error_text(&e))))?;
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let fetch = JsFuture::from(global.fetch_with_request(&request));

        // Workers' fetch has no connect or first-byte timeout: race the
        // response head against a timer covering both, and abort on expiry.
        let limit = req.timeouts.connect_ms.saturating_add(req.timeouts.first_byte_ms);
        let timer = Delay::from(Duration::from_millis(limit));
        let resp = match select(fetch, timer).await {
            Either::Left((Ok(v), _)) => v,
            // A rejected fetch is, in practice, a connection that could not
            // be made or was lost before the response head.
            Either::Left((Err(e), _)) => return Err(SendError::Connect(js_error_text(&e))),
            Either::Right(((), _)) => {
                abort.abort();
                return Err(SendError::Timeout(format!("no response head within {limit} ms")));
            }
        };
        let response: web_sys::Response = resp
            .dyn_into()
            .map_err(|_| SendError::Other("fetch did not return a Response".into()))?;
        let mut headers = Vec::new();
        if let Ok(Some(iter)) = js_sys::try_iter(&response.headers()) {
            for entry in iter.flatten() {
                let pair: js_sys::Array = entry.unchecked_into();
                if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                    headers.push((k.to_ascii_lowercase(), v));
                }
            }
        }
        Ok(UpstreamResponse {
            status: response.status(),
            headers,
            body: UpstreamBody {
                response,
                between_bytes_ms: req.timeouts.between_bytes_ms,
            },
        })
    }

    async fn read_body(&self, body: UpstreamBody, limit: usize) -> Result<Vec<u8>, SendError> {
        let Some(stream) = body.response.body() else {
            return Ok(Vec::new());
        };
        let mut chunks = wasm_streams::ReadableStream::from_raw(stream).into_stream();
        let mut out = Vec::new();
        loop {
            let timer = Delay::from(Duration::from_millis(body.between_bytes_ms));
            let chunk = match select(chunks.next(), timer).await {
                Either::Left((None, _)) => return Ok(out),
                Either::Left((Some(Ok(chunk)), _)) => chunk,
                Either::Left((Some(Err(e)), _)) => {
                    return Err(SendError::Other(format!("upstream body failed: {}", js_error_text(&e))))
                }
                Either::Right(((), _)) => {
                    return Err(SendError::Timeout(format!(
                        "no body bytes for {} ms",
                        body.between_bytes_ms
                    )))
                }
            };
            let bytes: Uint8Array = chunk.unchecked_into();
            if out.len() + bytes.length() as usize > limit {
                return Err(SendError::Other(format!("upstream body larger than {limit} bytes")));
            }
            let start = out.len();
            out.resize(start + bytes.length() as usize, 0);
            bytes.copy_to(&mut out[start..]);
        }
    }

    fn log(&self, line: &str) {
        worker::console_log!("{line}");
    }
}
