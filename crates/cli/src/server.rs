//! `ai-proxy up`: serves the component over HTTP/1.1 on a loopback or public
//! address, reusing instances across requests (so the component's in-memory
//! caches work) and logging one line per request.

use crate::host_state::StoreData;
use crate::outbound::Outbound;
use crate::spin_iface::{self, SpinCtx};
use anyhow::{Context as _, Result};
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use wasmtime::component::{GuestTaskId, Linker};
use wasmtime::{Engine, Store, StoreContextMut};
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyHandler, ProxyPre, ShouldAccept, WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::io::TokioIo;

/// How instances are reused.
#[derive(Clone, Copy, Debug)]
pub struct ReusePolicy {
    /// Requests one instance may serve at the same time.
    pub concurrent: usize,
    /// An instance idle this long is dropped.
    pub idle: Duration,
    /// Longest time one request may take to produce its response head.
    pub request_timeout: Duration,
    pub memory_limit: usize,
}

impl Default for ReusePolicy {
    fn default() -> Self {
        ReusePolicy {
            concurrent: 128,
            idle: Duration::from_secs(600),
            request_timeout: Duration::from_secs(600),
            memory_limit: 256 << 20,
        }
    }
}

pub struct Prepared {
    pre: ProxyPre<StoreData>,
    engine: Engine,
    spin: Arc<SpinCtx>,
    outbound: Arc<Outbound>,
    policy: ReusePolicy,
}

pub fn engine() -> Result<Engine> {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.wasm_component_model_async(true);
    Ok(Engine::new(&config)?)
}

/// Compiles the component (reusing a cached compilation in `cache_dir`) and
/// links WASI p2 + p3, wasi:http and the Spin interfaces.
pub fn prepare(
    wasm_path: &Path,
    cache_dir: &Path,
    spin: Arc<SpinCtx>,
    outbound: Arc<Outbound>,
    policy: ReusePolicy,
) -> Result<Prepared> {
    let engine = engine()?;
    let component = crate::compile_cache::load(&engine, wasm_path, cache_dir)?;
    let mut linker: Linker<StoreData> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    spin_iface::add_to_linker(&mut linker, StoreData::spin_view)?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(anyhow::Error::from)
        .context("linking the component")?;
    let pre = wasmtime_wasi_http::p3::bindings::ServicePre::new(pre)
        .map_err(anyhow::Error::from)
        .context("the component does not export wasi:http/handler@0.3.0")?;
    Ok(Prepared {
        pre: ProxyPre::P3(pre),
        engine,
        spin,
        outbound,
        policy,
    })
}

pub struct Expiration {
    idle: Duration,
    request: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl WorkerExpiration for Expiration {
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>, status: WorkerStatus, start: Instant) -> Poll<()> {
        let limit = match status {
            WorkerStatus::Idle => self.idle,
            WorkerStatus::Requests | WorkerStatus::PostReturn => self.request,
        };
        let Some(deadline) = start.checked_add(limit) else {
            return Poll::Pending;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        if self.sleep.deadline() != deadline {
            self.sleep.as_mut().reset(deadline);
        }
        self.sleep.as_mut().poll(cx)
    }
}

pub struct Worker {
    concurrent: usize,
    request_timeout: Duration,
}

impl WorkerState for Worker {
    type StoreData = StoreData;
    type RequestData = ();

    fn should_accept_request(&self, concurrent: usize, _total: usize) -> ShouldAccept {
        if concurrent >= self.concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        _store: StoreContextMut<'_, StoreData>,
        _data: (),
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        Box::pin(tokio::time::sleep(self.request_timeout))
    }

    fn drop(&self, store: Store<StoreData>, result: wasmtime::Result<()>) {
        // Workers cancelled by shutdown are not failures worth reporting.
        if SHUTTING_DOWN.load(Ordering::Relaxed) {
            return;
        }
        if let Err(e) = result {
            eprintln!("ai-proxy: instance stopped: {e:#}");
        }
        drop(store);
    }
}

struct Handler {
    prepared: Prepared,
    pub instances: AtomicU64,
}

impl HandlerState for Handler {
    type StoreData = StoreData;
    type WorkerExpiration = Expiration;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<StoreData, Expiration, Worker>> {
        let p = &self.prepared;
        let mut store = Store::new(
            &p.engine,
            StoreData::new(p.spin.clone(), p.outbound.clone(), p.policy.memory_limit),
        );
        store.limiter(|d| &mut d.limits);
        let proxy = p.pre.instantiate_async(&mut store).await?;
        self.instances.fetch_add(1, Ordering::Relaxed);
        Ok(Instance {
            store,
            proxy,
            view: wasmtime_wasi_http::WasiHttpView::http,
            expiration: Expiration {
                idle: p.policy.idle,
                request: p.policy.request_timeout,
                sleep: Box::pin(tokio::time::sleep(Duration::MAX / 4)),
            },
            state: Worker {
                concurrent: p.policy.concurrent,
                request_timeout: p.policy.request_timeout,
            },
        })
    }
}

fn error_response(status: u16, message: &str) -> hyper::Response<wasmtime_wasi_http::WasiBody> {
    let body = serde_json::json!({"error": {"message": message, "type": "server_error", "code": "host_error"}});
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(
            http_body_util::Full::new(bytes::Bytes::from(body.to_string()))
                .map_err(|never: Infallible| match never {})
                .boxed_unsync(),
        )
        .unwrap_or_default()
}

/// Serves until Ctrl-C or SIGTERM. `on_ready` gets the bound address.
pub async fn serve(listen: SocketAddr, prepared: Prepared, on_ready: impl FnOnce(SocketAddr)) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    on_ready(listener.local_addr()?);
    let handler = ProxyHandler::new(Handler {
        prepared,
        instances: AtomicU64::new(0),
    });
    // Live connections hold a clone; `stop` tells them to finish the request
    // in flight and close instead of waiting for the client's next one.
    let conns = Arc::new(());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let (stream, _) = tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("ai-proxy: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let guard = conns.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handle(&handler, req).await) }
            });
            let conn = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(guard);
        });
    }
    eprintln!("ai-proxy: shutting down");
    SHUTTING_DOWN.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    // Give in-flight connections a moment to finish, without hanging forever.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Arc::strong_count(&conns) > 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

static SHUTTING_DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

async fn handle(
    handler: &ProxyHandler<Handler>,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<wasmtime_wasi_http::WasiBody> {
    let start = Instant::now();
    let method = req.method().clone();
    // Path only: a query string may carry a credential.
    let path = req.uri().path().to_owned();
    let req = req.map(|b| b.map_err(wasmtime_wasi_http::Error::from).boxed_unsync());
    let resp = match handler.handle((), req).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ai-proxy: request failed in the component: {e:#}");
            error_response(500, "the component failed to handle the request")
        }
    };
    eprintln!(
        "{method} {path} {} {:.2}ms",
        resp.status().as_u16(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    resp
}
