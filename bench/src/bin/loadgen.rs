//! Stand-alone load generator (the orchestrator uses the same library).

use ai_proxy_bench::client::RequestSpec;
use ai_proxy_bench::load::{self, LoadSpec, Stop};
use ai_proxy_bench::payloads::Kind;
use anyhow::Result;
use bytes::Bytes;
use clap::Parser;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Keep-alive HTTP load generator with latency histograms")]
struct Args {
    /// Full URL, e.g. http://127.0.0.1:8080/groq/v1/chat/completions
    /// (loopback only). Without a path, the kind's OpenAI path is used.
    #[arg(long)]
    url: String,
    #[arg(long, value_enum, default_value = "chat")]
    kind: Kind,
    /// Bearer token sent as Authorization.
    #[arg(long, default_value = "sk-bench-user-key-0123456789")]
    key: String,
    /// Raw request body overriding the kind's default.
    #[arg(long)]
    body: Option<String>,
    #[arg(short, long, default_value_t = 1)]
    concurrency: usize,
    /// Measured duration in ms (ignored when --requests is given).
    #[arg(long, default_value_t = 3000)]
    duration_ms: u64,
    /// Stop after this many recorded requests instead of a duration.
    #[arg(long)]
    requests: Option<u64>,
    #[arg(long, default_value_t = 300)]
    warmup_ms: u64,
    /// Count only this status as success (default: any 2xx).
    #[arg(long)]
    expect_status: Option<u16>,
    /// Print the result as JSON instead of text.
    #[arg(long)]
    json: bool,
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let url = if a.url.trim_end_matches('/').matches('/').count() <= 2 {
        format!("{}/openai/v1{}", a.url.trim_end_matches('/'), a.kind.suffix())
    } else {
        a.url.clone()
    };
    let mut request = RequestSpec::new(&url, a.kind.method())?.bearer(&a.key)?;
    if let Some(body) = a.body.map(Bytes::from).or(a.kind.body()) {
        request = request.json(body);
    }
    let spec = LoadSpec {
        request,
        concurrency: a.concurrency,
        stop: a
            .requests
            .map_or(Stop::After(Duration::from_millis(a.duration_ms)), Stop::Requests),
        warmup: Duration::from_millis(a.warmup_ms),
        expect_status: a.expect_status,
        streaming: a.kind.streaming(),
        timeout: load::REQUEST_TIMEOUT,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads.max(1))
        .enable_all()
        .build()?;
    let r = rt.block_on(load::run(spec));
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        let l = &r.latency;
        println!("{url}  c={}  {:.1}s", r.concurrency, r.elapsed_s);
        println!(
            "  requests {}  ok {}  errors {}  {:.0} req/s",
            r.requests, r.ok, r.errors, r.rps
        );
        println!(
            "  latency ms: p50 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
            l.p50_us as f64 / 1e3,
            l.p99_us as f64 / 1e3,
            l.p999_us as f64 / 1e3,
            l.max_us as f64 / 1e3
        );
        if let Some(t) = &r.ttfc {
            println!(
                "  first chunk ms: p50 {:.3}  p99 {:.3}  max {:.3}",
                t.p50_us as f64 / 1e3,
                t.p99_us as f64 / 1e3,
                t.max_us as f64 / 1e3
            );
        }
        if r.errors > 0 {
            println!("  !! ERRORS: {:?}", r.error_kinds);
        }
    }
    if r.errors > 0 {
        std::process::exit(2);
    }
    Ok(())
}
