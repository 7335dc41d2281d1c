//! Seeding the proxy per the host contract: users via `ai-proxy kv put`
//! before start, the vault (openssl-encrypted ai.json) via `PUT /ai.json.enc`.

use crate::client::{self, RequestSpec};
use anyhow::{bail, Context, Result};
use hyper::Method;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub const USER_KEY: &str = "sk-bench-user-key-0123456789";
pub const BAD_USER_KEY: &str = "sk-bench-WRONG-key-0000000000";
pub const UPSTREAM_KEYS: [&str; 2] = ["gsk_bench_1", "gsk_bench_2"];

/// The vault plaintext: one provider, `groq`, pointing at the mock in
/// direct mode (no gatewayEndpoint).
pub fn ai_json(mock_url: &str) -> String {
    serde_json::json!({
        "version": 1,
        "providers": {
            "groq": {
                "protocol": "openai",
                "endpoint": format!("{mock_url}/openai/v1"),
                "keys": UPSTREAM_KEYS.iter().map(|k| serde_json::json!({"key": k})).collect::<Vec<_>>(),
                "models": [
                    {"id": crate::payloads::CHAT_MODEL, "usage": "chat", "contextWindow": 131072,
                     "maxOutputTokens": 32768, "tpmLimit": null, "priority": 0},
                    {"id": crate::payloads::EMBED_MODEL, "usage": "embedding", "contextWindow": 8192,
                     "maxOutputTokens": 0, "tpmLimit": null, "priority": 10}
                ]
            }
        }
    })
    .to_string()
}

/// `openssl enc -aes-256-cbc -a -pbkdf2 -iter 100000 -salt`; a fresh salt
/// each call, so every vault is a new ciphertext.
pub fn encrypt_vault(plain: &str, token: &str) -> Result<String> {
    let mut child = Command::new("openssl")
        .args(["enc", "-aes-256-cbc", "-a", "-pbkdf2", "-iter", "100000", "-salt"])
        .args(["-pass", "env:BENCH_VAULT_PASS"])
        .env("BENCH_VAULT_PASS", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("run openssl (is it installed?)")?;
    child
        .stdin
        .take()
        .context("openssl stdin")?
        .write_all(plain.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("openssl failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Registers the bench user before the host starts.
pub fn put_users(host_bin: &Path, state_dir: &Path) -> Result<()> {
    let users = serde_json::json!({"bench": {"key": USER_KEY}}).to_string();
    let out = Command::new(host_bin)
        .args(["kv", "put", "--state-dir"])
        .arg(state_dir)
        .args(["users", &users])
        .output()
        .with_context(|| format!("run {} kv put", host_bin.display()))?;
    if !out.status.success() {
        bail!(
            "`ai-proxy kv put users` failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Uploads the vault; returns the PUT's response time (fresh connection).
pub async fn upload_vault(proxy_url: &str, token: &str, vault: &str) -> Result<Duration> {
    let spec = RequestSpec::new(&format!("{proxy_url}/ai.json.enc"), Method::PUT)?
        .bearer(token)?
        .text(vault.to_string());
    let (ex, took) = client::once(&spec).await?;
    if !ex.status.is_success() {
        bail!(
            "PUT /ai.json.enc → {}: {}",
            ex.status,
            String::from_utf8_lossy(&ex.body)
        );
    }
    Ok(took)
}

/// A per-run secret so no run ever reuses another's token.
pub fn fresh_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("bench-token-{}-{nanos:x}", std::process::id())
}
