//! Optional per-user rate limiting (off unless configured): a fixed window
//! counter in the key-value store, `ratelimit:<user>:<window start>`.
//!
//! Accuracy: the counter is a read-modify-write on a store without atomic
//! increments, so concurrent requests of one user (on one or several
//! instances) can each read the same count. Under N concurrent requests a
//! user can exceed the limit by at most N-1 per window; sequential traffic is
//! counted exactly. The previous window's key is deleted when a new window
//! starts, so the store holds one counter per active user.

use crate::host::Host;
use crate::users::RateLimit;
use serde_json::Value;

/// The vault's global default: top-level `"rateLimit": {"requests", "windowSeconds"}`.
pub fn from_config(extra: &serde_json::Map<String, Value>) -> Option<RateLimit> {
    let rl = extra.get("rateLimit")?.as_object()?;
    let requests = rl.get("requests")?.as_u64().filter(|n| *n > 0)?;
    let window_seconds = rl.get("windowSeconds")?.as_u64().filter(|n| *n > 0)?;
    Some(RateLimit {
        requests,
        window_seconds,
    })
}

pub enum Decision {
    Allowed {
        limit: u64,
        remaining: u64,
    },
    /// Over the limit; retry after this many seconds.
    Limited {
        limit: u64,
        retry_after: u64,
    },
}

fn key(user: &str, window_start: u64) -> String {
    format!("ratelimit:{user}:{window_start}")
}

/// Counts one request of `user` and decides. Store failures let the request
/// through: rate limiting must not take the gateway down.
pub async fn check<H: Host>(host: &H, user: &str, rl: RateLimit) -> Decision {
    let now_s = host.now_ms() / 1000;
    let window = rl.window_seconds.max(1);
    let start = now_s - now_s % window;
    let k = key(user, start);
    let count = match host.kv_get(&k).await {
        Ok(Some(v)) => std::str::from_utf8(&v)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0),
        Ok(None) => {
            let _ = host.kv_delete(&key(user, start.saturating_sub(window))).await;
            0
        }
        Err(_) => {
            return Decision::Allowed {
                limit: rl.requests,
                remaining: rl.requests,
            }
        }
    };
    if count >= rl.requests {
        return Decision::Limited {
            limit: rl.requests,
            retry_after: (start + window).saturating_sub(now_s).max(1),
        };
    }
    let _ = host.kv_set(&k, (count + 1).to_string().as_bytes()).await;
    Decision::Allowed {
        limit: rl.requests,
        remaining: rl.requests - count - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn global_default_reads_positive_numbers_only() {
        let m = json!({"rateLimit": {"requests": 5, "windowSeconds": 60}});
        let rl = from_config(m.as_object().unwrap()).unwrap();
        assert_eq!((rl.requests, rl.window_seconds), (5, 60));
        let m = json!({"rateLimit": {"requests": 0, "windowSeconds": 60}});
        assert!(from_config(m.as_object().unwrap()).is_none());
        assert!(from_config(json!({}).as_object().unwrap()).is_none());
    }
}
