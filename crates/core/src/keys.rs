//! The key pool: round-robin over a provider's usable keys, fair under
//! concurrency, with keys that were refused (401/403) or throttled (429)
//! resting for a while in instance memory.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

/// How long a key rests after an authentication failure.
pub const AUTH_REST_MS: u64 = 5 * 60 * 1000;
/// How long a throttled key rests when upstream gives no `Retry-After`.
pub const THROTTLE_REST_MS: u64 = 30 * 1000;
/// Longest rest `Retry-After` can impose.
pub const MAX_REST_MS: u64 = 15 * 60 * 1000;

#[derive(Default)]
pub struct KeyPool {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next: HashMap<String, usize>,
    /// (provider, key fingerprint) → rest until (ms since epoch).
    resting: HashMap<(String, u64), u64>,
}

/// In-memory identity of a key; the key itself is never stored here.
fn fingerprint(key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

impl KeyPool {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The order in which to try `keys` (indexes into it) for one request:
    /// starts at the provider's round-robin cursor (advanced by one per
    /// request), rested keys last.
    pub fn order(&self, provider: &str, keys: &[&str], now_ms: u64) -> Vec<usize> {
        let n = keys.len();
        if n == 0 {
            return Vec::new();
        }
        let mut st = self.lock();
        let cursor = st.next.entry(provider.to_owned()).or_insert(0);
        let start = *cursor % n;
        *cursor = cursor.wrapping_add(1);
        st.resting.retain(|_, until| *until > now_ms);
        let (mut fresh, mut rested) = (Vec::with_capacity(n), Vec::new());
        for i in (0..n).map(|j| (start + j) % n) {
            if st.resting.contains_key(&(provider.to_owned(), fingerprint(keys[i]))) {
                rested.push(i);
            } else {
                fresh.push(i);
            }
        }
        fresh.extend(rested);
        fresh
    }

    pub fn rest(&self, provider: &str, key: &str, until_ms: u64) {
        self.lock()
            .resting
            .insert((provider.to_owned(), fingerprint(key)), until_ms);
    }
}

/// Whether an upstream status means "try the next key".
pub fn is_failover_status(status: u16) -> bool {
    matches!(status, 401 | 403 | 429 | 500 | 502 | 503 | 504)
}

/// How long a key rests after `status`, given the `Retry-After` header.
pub fn rest_for(status: u16, retry_after: Option<&str>) -> Option<u64> {
    match status {
        401 | 403 => Some(AUTH_REST_MS),
        429 => Some(
            retry_after
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| ((s * 1000.0) as u64).min(MAX_REST_MS))
                .unwrap_or(THROTTLE_REST_MS),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_rotates_the_starting_key() {
        let pool = KeyPool::new();
        let keys = ["a", "b", "c"];
        let firsts: Vec<usize> = (0..6).map(|_| pool.order("p", &keys, 0)[0]).collect();
        assert_eq!(firsts, vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(pool.order("p", &keys, 0), vec![0, 1, 2]);
        assert_eq!(pool.order("other", &keys, 0)[0], 0, "providers rotate independently");
    }

    #[test]
    fn rested_keys_go_last_until_their_rest_ends() {
        let pool = KeyPool::new();
        let keys = ["a", "b", "c"];
        pool.rest("p", "a", 1000);
        assert_eq!(pool.order("p", &keys, 10), vec![1, 2, 0]);
        assert_eq!(
            pool.order("p", &keys, 2000),
            vec![1, 2, 0],
            "cursor moved on, rest is over"
        );
        assert_eq!(pool.order("p", &keys, 2000), vec![2, 0, 1]);
    }

    #[test]
    fn failover_statuses_and_rest_times() {
        for s in [401, 403, 429, 500, 502, 503, 504] {
            assert!(is_failover_status(s));
        }
        for s in [200, 400, 404, 422] {
            assert!(!is_failover_status(s));
        }
        assert_eq!(rest_for(429, Some("2")), Some(2000));
        assert_eq!(rest_for(429, Some("soon")), Some(THROTTLE_REST_MS));
        assert_eq!(rest_for(429, Some("999999")), Some(MAX_REST_MS));
        assert_eq!(rest_for(401, None), Some(AUTH_REST_MS));
        assert_eq!(rest_for(500, None), None);
    }

    #[test]
    fn empty_pool_gives_no_order() {
        assert!(KeyPool::new().order("p", &[], 0).is_empty());
    }
}
