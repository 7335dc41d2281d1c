//! Direct-vs-proxied load scenarios, run in alternating rounds so that
//! drift on a shared machine hits both paths alike.

use super::children::{cpu_seconds, machine_busy_seconds};
use super::seed::{BAD_USER_KEY, USER_KEY};
use crate::client::{self, RequestSpec};
use crate::load::{self, LoadResult, LoadSpec, Stop};
use crate::payloads::Kind;
use anyhow::{Context, Result};
use hyper::Method;
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Metric {
    P50,
    P99,
    P999,
    Rps,
    TtfcP50,
    TtfcP99,
}

impl Metric {
    pub fn label(self, streaming: bool) -> &'static str {
        match (self, streaming) {
            (Metric::P50, false) => "p50",
            (Metric::P99, false) => "p99",
            (Metric::P999, false) => "p99.9",
            (Metric::P50, true) => "total p50",
            (Metric::P99, true) => "total p99",
            (Metric::P999, true) => "total p99.9",
            (Metric::Rps, _) => "req/s",
            (Metric::TtfcP50, _) => "first chunk p50",
            (Metric::TtfcP99, _) => "first chunk p99",
        }
    }

    pub fn is_rate(self) -> bool {
        self == Metric::Rps
    }

    /// Milliseconds, or requests per second for `Rps`.
    pub fn value(self, r: &LoadResult) -> Option<f64> {
        let ms = |us: u64| us as f64 / 1e3;
        let t = r.ttfc.as_ref();
        if r.ok == 0 {
            return None;
        }
        Some(match self {
            Metric::P50 => ms(r.latency.p50_us),
            Metric::P99 => ms(r.latency.p99_us),
            Metric::P999 => ms(r.latency.p999_us),
            Metric::Rps => r.rps,
            Metric::TtfcP50 => ms(t?.p50_us),
            Metric::TtfcP99 => ms(t?.p99_us),
        })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    pub id: &'static str,
    pub title: &'static str,
    pub kind: Kind,
    pub concurrency: usize,
    pub metrics: &'static [Metric],
    /// The proxied side sends a wrong user key and must answer 403; the
    /// direct side is the plain chat request (the cheapest round trip).
    pub rejected: bool,
}

pub fn all() -> Vec<Scenario> {
    use Metric::*;
    let s = |id, title, kind, concurrency, metrics| Scenario {
        id,
        title,
        kind,
        concurrency,
        metrics,
        rejected: false,
    };
    vec![
        s("chat_c1", "chat, c=1", Kind::Chat, 1, &[P50, P99, P999, Rps]),
        s("chat_c16", "chat, c=16", Kind::Chat, 16, &[Rps, P50, P99]),
        s("chat_c64", "chat, c=64", Kind::Chat, 64, &[Rps, P50, P99]),
        s(
            "stream_c1",
            "chat stream (SSE), c=1",
            Kind::Stream,
            1,
            &[TtfcP50, TtfcP99, P50, P99],
        ),
        s(
            "embeddings_c1",
            "embeddings, c=1",
            Kind::Embeddings,
            1,
            &[P50, P99, Rps],
        ),
        s("models_c1", "GET models, c=1", Kind::Models, 1, &[P50, P99, Rps]),
        Scenario {
            rejected: true,
            ..s("rejected_c1", "bad user key → 403, c=1", Kind::Chat, 1, &[P50, P99])
        },
    ]
}

#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub rounds: usize,
    pub duration: Duration,
    pub warmup: Duration,
}

/// Where to send and whose CPU time to sample.
#[derive(Clone, Debug)]
pub struct Targets {
    pub mock_url: String,
    pub proxy_url: String,
    pub mock_pid: u32,
    pub proxy_pid: u32,
}

/// Average CPU cores used during a run (1.0 = one core fully busy).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Cpu {
    pub loadgen: f64,
    pub mock: f64,
    pub proxy: f64,
    /// Everything else on the machine (e.g. concurrent builds).
    pub other: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub round: usize,
    pub result: LoadResult,
    pub cpu: Cpu,
    /// Requests the mock received during the run (warm-up included).
    pub upstream_calls: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    pub scenario: Scenario,
    pub direct: Vec<Run>,
    pub proxied: Vec<Run>,
}

/// Upstream calls per request sent (warm-up included on both sides).
pub fn upstream_per_request(runs: &[Run]) -> Option<f64> {
    let sent: u64 = runs.iter().map(|r| r.result.sent_total).sum();
    let calls: u64 = runs.iter().map(|r| r.upstream_calls).sum();
    (sent > 0).then(|| calls as f64 / sent as f64)
}

pub async fn run_all(
    scenarios: &[Scenario],
    t: &Targets,
    set: Settings,
    mut check_proxy: impl FnMut() -> Result<()>,
) -> Result<Vec<ScenarioResult>> {
    let mut out: Vec<ScenarioResult> = scenarios
        .iter()
        .map(|s| ScenarioResult {
            scenario: s.clone(),
            direct: Vec::new(),
            proxied: Vec::new(),
        })
        .collect();
    for round in 0..set.rounds {
        for res in &mut out {
            let s = &res.scenario;
            eprintln!("  round {}/{}: {}", round + 1, set.rounds, s.title);
            // Alternate which path goes first, round by round.
            for proxied in [round % 2 == 1, round % 2 == 0] {
                let spec = load_spec(s, t, proxied, set)?;
                let run = measure(spec, t, round).await?;
                if proxied {
                    check_proxy()?;
                    res.proxied.push(run);
                } else {
                    res.direct.push(run);
                }
            }
        }
    }
    Ok(out)
}

/// Proxied chat at c=64 with no warm-up, for a fresh host.
pub async fn cold_burst(t: &Targets, duration: Duration) -> Result<Run> {
    let s = all()
        .into_iter()
        .find(|s| s.id == "chat_c64")
        .expect("chat_c64 is defined");
    let set = Settings {
        rounds: 1,
        duration,
        warmup: Duration::ZERO,
    };
    measure(load_spec(&s, t, true, set)?, t, 0).await
}

fn load_spec(s: &Scenario, t: &Targets, proxied: bool, set: Settings) -> Result<LoadSpec> {
    let url = if proxied {
        format!("{}/groq/v1{}", t.proxy_url, s.kind.suffix())
    } else {
        format!("{}/openai/v1{}", t.mock_url, s.kind.suffix())
    };
    let key = if proxied && s.rejected { BAD_USER_KEY } else { USER_KEY };
    let mut request = RequestSpec::new(&url, s.kind.method())?.bearer(key)?;
    if let Some(body) = s.kind.body() {
        request = request.json(body);
    }
    Ok(LoadSpec {
        request,
        concurrency: s.concurrency,
        stop: Stop::After(set.duration),
        warmup: set.warmup,
        expect_status: (proxied && s.rejected).then_some(403),
        streaming: s.kind.streaming() && !(proxied && s.rejected),
        timeout: load::REQUEST_TIMEOUT,
    })
}

async fn measure(spec: LoadSpec, t: &Targets, round: usize) -> Result<Run> {
    let calls_before = upstream_calls(&t.mock_url).await?;
    let pids = [std::process::id(), t.mock_pid, t.proxy_pid];
    let busy_before = machine_busy_seconds().unwrap_or(0.0);
    let cpu_before = pids.map(|p| cpu_seconds(p).unwrap_or(0.0));
    let start = Instant::now();
    let result = load::run(spec).await;
    let wall = start.elapsed().as_secs_f64().max(1e-9);
    let cpu_after = pids.map(|p| cpu_seconds(p).unwrap_or(0.0));
    let busy = (machine_busy_seconds().unwrap_or(0.0) - busy_before) / wall;
    let used = |i: usize| (cpu_after[i] - cpu_before[i]) / wall;
    let calls_after = upstream_calls(&t.mock_url).await?;
    Ok(Run {
        round,
        result,
        cpu: Cpu {
            loadgen: used(0),
            mock: used(1),
            proxy: used(2),
            other: (busy - used(0) - used(1) - used(2)).max(0.0),
        },
        upstream_calls: calls_after.saturating_sub(calls_before),
    })
}

/// The mock's counters (requests per route and per upstream key).
pub async fn mock_stats(mock_url: &str) -> Result<serde_json::Value> {
    let spec = RequestSpec::new(&format!("{mock_url}/_mock/stats"), Method::GET)?;
    let (ex, _) = client::once(&spec).await?;
    serde_json::from_slice(&ex.body).context("mock stats JSON")
}

/// Total requests the mock has answered.
pub async fn upstream_calls(mock_url: &str) -> Result<u64> {
    let v = mock_stats(mock_url).await?;
    Ok(["chat", "stream", "embeddings", "models", "other"]
        .iter()
        .filter_map(|k| v[k].as_u64())
        .sum())
}
