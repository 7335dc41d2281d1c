//! Closed-loop load generator: N workers, each with its own keep-alive
//! connection, sending the same request back to back for a duration or
//! until a shared request budget is spent.

use crate::client::{Conn, RequestSpec};
use crate::stats::{self, Summary};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub enum Stop {
    After(Duration),
    Requests(u64),
}

#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub request: RequestSpec,
    pub concurrency: usize,
    pub stop: Stop,
    /// Requests started during the warm-up are sent but not recorded.
    pub warmup: Duration,
    /// `None`: any 2xx is a success. `Some(s)`: only `s` is.
    pub expect_status: Option<u16>,
    /// SSE: a body without the final `data: [DONE]` counts as an error.
    pub streaming: bool,
    /// A request not finished by then is dropped and counted as "timeout",
    /// so a stuck server cannot stretch a run past its bound.
    pub timeout: Duration,
}

/// Default per-request limit.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadResult {
    pub concurrency: usize,
    /// Recorded (post-warm-up) requests, successes and errors.
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    /// Error kinds: HTTP status codes, "connect", "io", "timeout", "truncated".
    pub error_kinds: BTreeMap<String, u64>,
    /// Every request sent, warm-up included (to relate to upstream counts).
    pub sent_total: u64,
    pub elapsed_s: f64,
    /// Successful requests per second over the recorded window.
    pub rps: f64,
    /// Full response time (request sent → last body byte) of successes.
    pub latency: Summary,
    /// Time to first non-empty body chunk; streaming runs only.
    pub ttfc: Option<Summary>,
}

struct WorkerOut {
    total: Histogram<u64>,
    first: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
    sent: u64,
    last_end: Option<Instant>,
}

pub async fn run(spec: LoadSpec) -> LoadResult {
    let spec = Arc::new(spec);
    let begin = Instant::now();
    let window_start = begin + spec.warmup;
    let budget = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..spec.concurrency.max(1))
        .map(|_| tokio::spawn(worker(spec.clone(), window_start, budget.clone())))
        .collect();

    let mut total = stats::new_histogram();
    let mut first = stats::new_histogram();
    let mut res = LoadResult {
        concurrency: spec.concurrency,
        ..Default::default()
    };
    let mut last_end = window_start;
    for w in workers {
        let out = w.await.expect("load worker panicked");
        total.add(&out.total).expect("same histogram bounds");
        first.add(&out.first).expect("same histogram bounds");
        res.ok += out.ok;
        res.sent_total += out.sent;
        for (k, n) in out.errors {
            *res.error_kinds.entry(k).or_default() += n;
        }
        last_end = last_end.max(out.last_end.unwrap_or(window_start));
    }
    res.errors = res.error_kinds.values().sum();
    res.requests = res.ok + res.errors;
    res.elapsed_s = last_end.saturating_duration_since(window_start).as_secs_f64();
    res.rps = if res.elapsed_s > 0.0 {
        res.ok as f64 / res.elapsed_s
    } else {
        0.0
    };
    res.latency = Summary::of(&total);
    res.ttfc = spec.streaming.then(|| Summary::of(&first));
    res
}

async fn worker(spec: Arc<LoadSpec>, window_start: Instant, budget: Arc<AtomicU64>) -> WorkerOut {
    let mut out = WorkerOut {
        total: stats::new_histogram(),
        first: stats::new_histogram(),
        ok: 0,
        errors: BTreeMap::new(),
        sent: 0,
        last_end: None,
    };
    let mut conn: Option<Conn> = None;
    loop {
        let now = Instant::now();
        let recording = now >= window_start;
        match spec.stop {
            Stop::After(d) if now >= window_start + d => break,
            Stop::Requests(n) if recording && budget.fetch_add(1, Ordering::Relaxed) >= n => break,
            _ => {}
        }
        if conn.as_ref().is_none_or(Conn::is_closed) {
            match Conn::connect(spec.request.addr).await {
                Ok(c) => conn = Some(c),
                Err(_) => {
                    if recording {
                        *out.errors.entry("connect".into()).or_default() += 1;
                    }
                    // Avoid a hot loop against a dead port; bounded by Stop.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connected above");
        out.sent += 1;
        let result = tokio::time::timeout(spec.timeout, c.exchange(&spec.request)).await;
        if result.as_ref().map_or(true, |r| r.is_err()) {
            // The connection is in an unknown state: start a new one.
            conn = None;
        }
        if !recording {
            continue;
        }
        out.last_end = Some(Instant::now());
        let kind = match result {
            Err(_) => Some("timeout".to_string()),
            Ok(Err(_)) => Some("io".to_string()),
            Ok(Ok(ex)) => {
                let code = ex.status.as_u16();
                let status_ok = match spec.expect_status {
                    Some(want) => code == want,
                    None => ex.status.is_success(),
                };
                if !status_ok {
                    Some(code.to_string())
                } else if spec.streaming && !ends_with_done(&ex.body) {
                    Some("truncated".to_string())
                } else {
                    stats::record(&mut out.total, ex.total);
                    stats::record(&mut out.first, ex.first_chunk);
                    None
                }
            }
        };
        match kind {
            Some(k) => *out.errors.entry(k).or_default() += 1,
            None => out.ok += 1,
        }
    }
    out
}

/// True when an SSE body finished with the OpenAI terminator.
pub fn ends_with_done(body: &[u8]) -> bool {
    let trimmed = body.trim_ascii_end();
    trimmed.ends_with(b"data: [DONE]") || trimmed.ends_with(b"data:[DONE]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_detection() {
        assert!(ends_with_done(b"data: {}\n\ndata: [DONE]\n\n"));
        assert!(ends_with_done(b"data:[DONE]\r\n\r\n"));
        assert!(!ends_with_done(b"data: {}\n\n"));
    }
}
