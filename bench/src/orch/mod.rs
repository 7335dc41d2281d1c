//! The orchestrator: starts the mock and the ai-proxy host, seeds the
//! proxy, runs every scenario on both paths, and collects one `Outcome`.

pub mod children;
pub mod lifecycle;
pub mod machine;
pub mod report;
pub mod scenarios;
pub mod seed;

use anyhow::{ensure, Context, Result};
use children::{Memory, Proc};
use lifecycle::Lifecycle;
use machine::Machine;
use scenarios::{ScenarioResult, Settings, Targets};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::Command;

#[derive(Clone, Debug, Serialize)]
pub struct Config {
    pub root: PathBuf,
    pub host_bin: PathBuf,
    pub mock_bin: PathBuf,
    pub manifest: PathBuf,
    pub component: PathBuf,
    pub out_dir: PathBuf,
    pub log_dir: PathBuf,
    pub rounds: usize,
    pub duration_ms: u64,
    pub warmup_ms: u64,
    pub chunks: u32,
    pub chunk_delay_ms: u64,
    pub vault_changes: usize,
    pub restarts: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Resources {
    pub component_bytes: Option<u64>,
    pub host_bin_bytes: Option<u64>,
    /// Host right after it printed its URL, before any request.
    pub idle_first_start: Memory,
    pub after_first_request: Memory,
    pub after_load: Memory,
    pub idle_after_restart: Vec<Memory>,
    pub mock_after_load: Memory,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub started_unix: u64,
    pub wall_s: f64,
    pub machine: Machine,
    pub config: Config,
    pub scenarios: Vec<ScenarioResult>,
    pub lifecycle: Lifecycle,
    pub resources: Resources,
    /// The mock's counters at the end (requests per route and upstream key).
    pub mock_stats: serde_json::Value,
}

/// How long the host may take to print its URL / answer after a start.
const HOST_START_LIMIT: Duration = Duration::from_secs(120);

pub async fn run(cfg: &Config) -> Result<Outcome> {
    let wall = Instant::now();
    for (what, p) in [
        ("host binary", &cfg.host_bin),
        ("manifest", &cfg.manifest),
        ("component", &cfg.component),
        ("mock binary", &cfg.mock_bin),
    ] {
        ensure!(p.exists(), "{what} not found: {}", p.display());
    }
    std::fs::create_dir_all(&cfg.log_dir)?;
    let state = tempfile::Builder::new().prefix("ai-proxy-bench-").tempdir()?;
    let machine = Machine::describe(&cfg.root);
    let mut res = Resources {
        component_bytes: file_size(&cfg.component),
        host_bin_bytes: file_size(&cfg.host_bin),
        ..Default::default()
    };
    let mut life = Lifecycle::default();

    eprintln!("bench: starting mock");
    let mock = start_mock(cfg).await?;
    eprintln!("bench: mock at {}; seeding users", mock.url);
    seed::put_users(&cfg.host_bin, state.path())?;
    let token = seed::fresh_token();
    let plain = seed::ai_json(&mock.url);

    eprintln!("bench: starting ai-proxy (empty state dir)");
    let mut host = start_host(cfg, state.path(), &token, "host-first").await?;
    life.first_start_url_ms = stats_ms(host.url_after);
    life.first_start_ready_ms = lifecycle::reported_ready_ms(host.log());
    res.idle_first_start = host.memory()?;
    let vault = seed::encrypt_vault(&plain, &token)?;
    life.first_vault_put_ms = stats_ms(seed::upload_vault(&host.url, &token, &vault).await?);
    life.first_request_ms = life.timed_chat(&host.url, "first request on fresh host").await?;
    res.after_first_request = host.memory()?;
    eprintln!("bench: ai-proxy at {}; running scenarios", host.url);

    let targets = Targets {
        mock_url: mock.url.clone(),
        proxy_url: host.url.clone(),
        mock_pid: mock.pid,
        proxy_pid: host.pid,
    };
    let settings = Settings {
        rounds: cfg.rounds,
        duration: Duration::from_millis(cfg.duration_ms),
        warmup: Duration::from_millis(cfg.warmup_ms),
    };
    // Before the steady-state rounds: a fresh host's instances each unlock
    // the vault on first use, so the first burst is measured on its own.
    eprintln!("bench: cold burst (chat, c=64) on the fresh host");
    life.cold_burst = Some(scenarios::cold_burst(&targets, Duration::from_millis(cfg.duration_ms)).await?);
    host.check_alive()?;
    let scenario_results = scenarios::run_all(&scenarios::all(), &targets, settings, || host.check_alive()).await?;
    res.after_load = host.memory()?;
    res.mock_after_load = mock.memory()?;

    eprintln!("bench: warm single requests, then vault changes");
    life.warm_ms = life.samples(&host.url, lifecycle::WARM_SAMPLES, "warm request").await?;
    for i in 0..cfg.vault_changes {
        let vault = seed::encrypt_vault(&plain, &token)?;
        life.vault_put_ms
            .push(stats_ms(seed::upload_vault(&host.url, &token, &vault).await?));
        life.after_change(&host.url, i + 1).await?;
    }
    host.stop().await?;

    eprintln!("bench: restarts");
    for i in 0..cfg.restarts {
        let mut host = start_host(cfg, state.path(), &token, &format!("host-restart-{}", i + 1)).await?;
        life.restart_url_ms.push(stats_ms(host.url_after));
        life.restart_ready_ms.extend(lifecycle::reported_ready_ms(host.log()));
        res.idle_after_restart.push(host.memory()?);
        if let Some(d) = life.first_answer(&host.url, host.spawned, HOST_START_LIMIT).await? {
            life.restart_spawn_to_answer_ms.push(stats_ms(d));
            life.restart_url_to_answer_ms
                .push(stats_ms(d.saturating_sub(host.url_after)));
        }
        host.check_alive()?;
        host.stop().await?;
    }

    let mock_stats = scenarios::mock_stats(&mock.url).await.unwrap_or_default();
    mock.stop().await?;
    Ok(Outcome {
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .saturating_sub(wall.elapsed().as_secs()),
        wall_s: wall.elapsed().as_secs_f64(),
        machine,
        config: cfg.clone(),
        scenarios: scenario_results,
        lifecycle: life,
        resources: res,
        mock_stats,
    })
}

async fn start_mock(cfg: &Config) -> Result<Proc> {
    let mut cmd = Command::new(&cfg.mock_bin);
    cmd.args(["--listen", "127.0.0.1:0", "--threads", "1"])
        .arg(format!("--chunks={}", cfg.chunks))
        .arg(format!("--delay-ms={}", cfg.chunk_delay_ms));
    children::spawn("mock", cmd, &cfg.log_dir.join("mock.log"), Duration::from_secs(10)).await
}

/// `ai-proxy up` per the host contract; its log goes to `log_dir/NAME.log`.
async fn start_host(cfg: &Config, state: &Path, token: &str, name: &str) -> Result<Proc> {
    let mut cmd = Command::new(&cfg.host_bin);
    cmd.arg("up")
        .arg("--from")
        .arg(&cfg.manifest)
        .args(["--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .args(["--allow-outbound", "http://127.0.0.1:*"])
        .env("SPIN_VARIABLE_AI_JSON_CRYPTOKEN", token)
        .current_dir(&cfg.root);
    let log = cfg.log_dir.join(format!("{name}.log"));
    children::spawn("ai-proxy", cmd, &log, HOST_START_LIMIT)
        .await
        .with_context(|| format!("start ai-proxy (log: {})", log.display()))
}

fn file_size(p: &Path) -> Option<u64> {
    std::fs::metadata(p).ok().map(|m| m.len())
}

fn stats_ms(d: Duration) -> f64 {
    crate::stats::ms(d)
}
