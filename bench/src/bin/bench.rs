//! Orchestrator: runs every scenario on the direct and the proxied path in
//! one go and writes bench/RESULTS.md and bench/results.json.

use ai_proxy_bench::orch::{self, report, Config};
use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "ai-proxy loopback benchmark: direct vs proxied")]
struct Args {
    /// Workspace root (holds spin.toml and target/).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/.."))]
    root: PathBuf,
    /// ai-proxy host binary [default: ROOT/target/release/ai-proxy].
    #[arg(long)]
    host_bin: Option<PathBuf>,
    /// Where RESULTS.md and results.json go [default: ROOT/bench].
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Rounds per scenario (each round runs direct and proxied).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Measured milliseconds per run.
    #[arg(long, default_value_t = 2000)]
    duration_ms: u64,
    /// Unrecorded warm-up milliseconds before each run.
    #[arg(long, default_value_t = 300)]
    warmup_ms: u64,
    /// SSE chunks per streamed completion.
    #[arg(long, default_value_t = 20)]
    chunks: u32,
    /// Milliseconds between SSE chunks.
    #[arg(long, default_value_t = 2)]
    chunk_delay_ms: u64,
    /// Vault changes timed (PUT, then the next request).
    #[arg(long, default_value_t = 5)]
    vault_changes: usize,
    /// Host restarts timed.
    #[arg(long, default_value_t = 3)]
    restarts: usize,
}

fn main() {
    let args = Args::parse();
    let code = match config(args) {
        Ok(cfg) => run(cfg),
        Err(e) => {
            eprintln!("bench: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

fn config(a: Args) -> Result<Config> {
    let root = a.root.canonicalize().context("workspace root")?;
    let exe = std::env::current_exe()?;
    let bin_dir = exe.parent().context("binary directory")?;
    Ok(Config {
        host_bin: a.host_bin.unwrap_or_else(|| root.join("target/release/ai-proxy")),
        mock_bin: bin_dir.join("mock"),
        manifest: root.join("spin.toml"),
        component: root.join("target/wasm32-wasip2/release/ai_proxy.wasm"),
        out_dir: a.out_dir.unwrap_or_else(|| root.join("bench")),
        log_dir: root.join("target/bench-logs"),
        rounds: a.rounds.max(1),
        duration_ms: a.duration_ms,
        warmup_ms: a.warmup_ms,
        chunks: a.chunks,
        chunk_delay_ms: a.chunk_delay_ms,
        vault_changes: a.vault_changes,
        restarts: a.restarts,
        root,
    })
}

/// Runs the benchmark; children die with the orchestrator's future, which
/// Ctrl-C / SIGTERM drop (kill_on_drop), and with the process (PDEATHSIG).
fn run(cfg: Config) -> i32 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(async {
        tokio::select! {
            r = orch::run(&cfg) => match r.and_then(|o| Ok((report::write(&o, &cfg.out_dir)?, o))) {
                Ok((md, o)) => {
                    println!("{md}");
                    eprintln!("bench: wrote {}/RESULTS.md and results.json (logs in {})",
                        cfg.out_dir.display(), cfg.log_dir.display());
                    if report::errors(&o).is_empty() { 0 } else {
                        eprintln!("bench: ⚠ the run had errors (see the top of RESULTS.md)");
                        3
                    }
                }
                Err(e) => {
                    eprintln!("bench: failed: {e:#}");
                    1
                }
            },
            _ = shutdown_signal() => {
                eprintln!("bench: interrupted; stopping children");
                130
            }
        }
    });
    // Dropping the runtime drops every task and so every child handle.
    drop(rt);
    code
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
