//! One-off costs: first request on a fresh host, first request after a
//! vault change (PBKDF2), and host restarts. Every request here uses a
//! fresh connection, like a new client would.

use super::seed::USER_KEY;
use crate::client::{self, RequestSpec};
use crate::payloads::Kind;
use crate::stats::ms;
use anyhow::Result;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Requests timed on the warm host before any vault change (the baseline).
pub const WARM_SAMPLES: usize = 20;
/// Requests timed after each vault change: the vault cache is per
/// instance, so several of them may pay the key derivation again.
pub const AFTER_CHANGE_SAMPLES: usize = 10;
/// A request after a change counts as slow above this × the warm median.
pub const SLOW_FACTOR: f64 = 10.0;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Lifecycle {
    /// Empty state dir: spawn → URL printed.
    pub first_start_url_ms: f64,
    /// The very first vault upload.
    pub first_vault_put_ms: f64,
    /// First chat request on the fresh host, right after that upload.
    pub first_request_ms: Option<f64>,
    /// Proxied chat at c=64 for one run length, without warm-up, right
    /// after the first request on the fresh host.
    pub cold_burst: Option<super::scenarios::Run>,
    /// Single requests on the warm host (after the load scenarios, before
    /// any vault change): the baseline for the one-off costs.
    pub warm_ms: Vec<f64>,
    /// Each vault change: the PUT, the request right after it, and the
    /// following ones (2nd..), all on fresh connections.
    pub vault_put_ms: Vec<f64>,
    pub after_vault_put_ms: Vec<f64>,
    pub later_after_put_ms: Vec<f64>,
    /// Per change: how many of the requests after it were slow
    /// (> SLOW_FACTOR × warm median), i.e. re-derived the vault key.
    pub slow_after_put: Vec<usize>,
    /// Each restart of the host on its populated state dir.
    pub restart_url_ms: Vec<f64>,
    pub restart_url_to_answer_ms: Vec<f64>,
    pub restart_spawn_to_answer_ms: Vec<f64>,
    /// What the host itself logged as its component preparation time
    /// ("… ready in N ms"), when it says so: first start (compiles) and
    /// restarts (may load a cached compilation).
    pub first_start_ready_ms: Option<f64>,
    pub restart_ready_ms: Vec<f64>,
    /// Failed one-off requests (status and body start).
    pub errors: Vec<String>,
}

/// Parses the host's "ready in N ms" log line, if it printed one.
pub fn reported_ready_ms(log: &std::path::Path) -> Option<f64> {
    let text = std::fs::read_to_string(log).ok()?;
    let rest = &text[text.find("ready in ")? + "ready in ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    rest[digits.len()..].starts_with(" ms").then(|| digits.parse().ok())?
}

pub fn chat_spec(proxy_url: &str) -> Result<RequestSpec> {
    Ok(
        RequestSpec::new(&format!("{proxy_url}/groq/v1/chat/completions"), Kind::Chat.method())?
            .bearer(USER_KEY)?
            .json(Kind::Chat.body().expect("chat has a body")),
    )
}

impl Lifecycle {
    /// One chat request; `Some(ms)` on 2xx, else the failure is recorded.
    pub async fn timed_chat(&mut self, proxy_url: &str, what: &str) -> Result<Option<f64>> {
        let (ex, took) = client::once(&chat_spec(proxy_url)?).await?;
        if ex.status.is_success() {
            return Ok(Some(ms(took)));
        }
        let body: String = String::from_utf8_lossy(&ex.body).chars().take(200).collect();
        self.errors.push(format!("{what}: {} {body}", ex.status));
        Ok(None)
    }

    /// Back-to-back single requests; failures are recorded and skipped.
    pub async fn samples(&mut self, proxy_url: &str, n: usize, what: &str) -> Result<Vec<f64>> {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            if let Some(t) = self.timed_chat(proxy_url, what).await? {
                v.push(t);
            }
        }
        Ok(v)
    }

    /// Times the requests following a vault change.
    pub async fn after_change(&mut self, proxy_url: &str, change: usize) -> Result<()> {
        let what = format!("request after vault change {change}");
        let v = self.samples(proxy_url, AFTER_CHANGE_SAMPLES, &what).await?;
        let warm = crate::stats::Spread::of(&self.warm_ms).map_or(f64::INFINITY, |s| s.median);
        self.slow_after_put
            .push(v.iter().filter(|&&t| t > SLOW_FACTOR * warm).count());
        if let Some((first, rest)) = v.split_first() {
            self.after_vault_put_ms.push(*first);
            self.later_after_put_ms.extend_from_slice(rest);
        }
        Ok(())
    }

    /// Retries while the port refuses connections (the host may print its
    /// URL before it accepts), up to `limit` after `since`.
    pub async fn first_answer(&mut self, proxy_url: &str, since: Instant, limit: Duration) -> Result<Option<Duration>> {
        let spec = chat_spec(proxy_url)?;
        loop {
            match client::once(&spec).await {
                Ok((ex, _)) if ex.status.is_success() => return Ok(Some(since.elapsed())),
                Ok((ex, _)) => {
                    let body: String = String::from_utf8_lossy(&ex.body).chars().take(200).collect();
                    self.errors
                        .push(format!("first request after restart: {} {body}", ex.status));
                    return Ok(None);
                }
                Err(e) if since.elapsed() > limit => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line() {
        let dir = std::env::temp_dir().join(format!("bench-ready-{}", std::process::id()));
        std::fs::write(&dir, "x\nai-proxy: component a.wasm ready in 1234 ms\n").unwrap();
        assert_eq!(reported_ready_ms(&dir), Some(1234.0));
        std::fs::write(&dir, "nothing here\n").unwrap();
        assert_eq!(reported_ready_ms(&dir), None);
        let _ = std::fs::remove_file(&dir);
    }
}
