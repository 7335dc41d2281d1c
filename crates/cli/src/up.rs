//! `ai-proxy up`: load spin.toml, build if needed, resolve variables, open
//! the state, and serve.

use crate::kv::KvDb;
use crate::manifest::Manifest;
use crate::outbound::{Allowlist, Outbound};
use crate::server::{self, ReusePolicy};
use crate::spin_iface::SpinCtx;
use crate::{builder, variables};
use anyhow::{Context, Result};
use clap::Args;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args)]
pub struct UpArgs {
    /// The Spin manifest.
    #[arg(long = "from", short = 'f', default_value = "spin.toml")]
    from: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Directory for the key-value database (default: .spin next to spin.toml).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Build the component before starting, even if it looks up to date.
    #[arg(long)]
    build: bool,
    /// Also allow outbound requests to this origin (e.g. http://127.0.0.1:*).
    #[arg(long = "allow-outbound")]
    allow_outbound: Vec<String>,
    /// Requests one instance serves concurrently before another is started.
    #[arg(long, default_value_t = 128)]
    instance_concurrency: usize,
}

pub fn run(args: UpArgs) -> Result<()> {
    let manifest = Manifest::load(&args.from)?;
    let env: HashMap<String, String> = std::env::vars().collect();
    // Fail on missing variables before spending time on a build.
    let app_vars = variables::resolve_app(&manifest, &env)?;
    let component_vars = variables::resolve_component(&manifest, &app_vars)?;

    if args.build || builder::is_stale(&manifest) {
        builder::build(&manifest)?;
    }

    let state_dir = args.state_dir.clone().unwrap_or_else(|| manifest.dir.join(".spin"));
    let kv = Arc::new(KvDb::open(&state_dir)?);
    import_users_json(&manifest, &kv)?;

    let mut allowed: Vec<String> = manifest
        .allowed_outbound_hosts
        .iter()
        .map(|h| variables::expand(h, &app_vars))
        .collect::<Result<_>>()?;
    allowed.extend(args.allow_outbound.iter().cloned());
    let outbound = Outbound::new(Allowlist::parse(allowed.iter().map(String::as_str))?)?;

    let spin = Arc::new(SpinCtx {
        kv,
        stores: manifest.key_value_stores.iter().cloned().collect(),
        variables: component_vars,
    });
    let policy = ReusePolicy {
        concurrent: args.instance_concurrency.max(1),
        ..ReusePolicy::default()
    };

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let started = std::time::Instant::now();
        let prepared = server::prepare(&manifest.source, &state_dir, spin, outbound, policy)?;
        let compile_ms = started.elapsed().as_millis();
        server::serve(args.listen, prepared, |addr| {
            eprintln!(
                "ai-proxy: component {} ready in {compile_ms} ms",
                manifest.source.display()
            );
            eprintln!("ai-proxy: state in {}", state_dir.join(crate::kv::DB_FILE).display());
            eprintln!("ai-proxy: variables: {}", describe_variables(&manifest, &app_vars));
            // stdout carries only the URL, so scripts can read it.
            println!("Serving http://{addr}");
        })
        .await
    })
}

/// `name=value` for plain variables, `name=(secret)` for secret ones, so the
/// start-up log shows the configuration without leaking a credential.
fn describe_variables(manifest: &Manifest, values: &std::collections::BTreeMap<String, String>) -> String {
    values
        .iter()
        .map(|(name, value)| {
            let secret = manifest.app_variables.get(name).is_some_and(|d| d.secret);
            if secret {
                format!("{name}=(secret)")
            } else {
                format!("{name}={value:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Local development: seed `users` from users.json next to spin.toml when
/// the store has none, as the original Worker read users.json when KV was empty.
fn import_users_json(manifest: &Manifest, kv: &KvDb) -> Result<()> {
    let path = manifest.dir.join("users.json");
    if !path.exists() || kv.get("default", "users")?.is_some() {
        return Ok(());
    }
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid JSON", path.display()))?;
    let count = value
        .as_object()
        .map(|o| o.len())
        .context("users.json must be a JSON object")?;
    kv.set("default", "users", &bytes)?;
    eprintln!(
        "ai-proxy: imported {count} user(s) from {} into the key-value store",
        path.display()
    );
    Ok(())
}
