//! The per-instance cache of the unlocked vault, so no request pays PBKDF2
//! while the vault text and the token stay the same.
//!
//! It holds one entry (the latest success) and remembers the latest failure,
//! so a failing (text, token) pair retried back to back does not re-derive.
//! Decryption is deterministic, so a remembered failure can never hide a
//! success. The lock is not held while deriving.

use super::{open, VaultError};
use crate::config::AiConfig;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex, MutexGuard};
use subtle::ConstantTimeEq;

/// A decrypted, parsed vault.
#[derive(Debug)]
pub struct Unlocked {
    pub config: AiConfig,
    /// The decrypted JSON exactly as stored (for `GET /ai.json`).
    pub raw_json: String,
    /// [`etag_of`] the vault text.
    pub etag: String,
}

/// The ETag of a vault text: `"` + first 32 hex digits of its SHA-256 + `"`.
pub fn etag_of(vault_text: &str) -> String {
    let digest = Sha256::digest(vault_text.as_bytes());
    let mut out = String::with_capacity(34);
    out.push('"');
    for b in &digest[..16] {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out.push('"');
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Cache of the latest unlocked vault; lives in a `static` of the instance.
#[derive(Default)]
pub struct VaultCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    ok: Option<Entry<Arc<Unlocked>>>,
    failed: Option<Entry<VaultError>>,
}

/// What a result was computed from. The vault text is public, so it is kept
/// and compared as is (cheaper than hashing it per request); the token is
/// kept only as a SHA-256 digest and compared in constant time.
struct Entry<T> {
    vault_text: String,
    token_digest: [u8; 32],
    value: T,
}

impl<T> Entry<T> {
    fn matches(&self, vault_text: &str, token_digest: &[u8; 32]) -> bool {
        let same_token: bool = self.token_digest.ct_eq(token_digest).into();
        self.vault_text == vault_text && same_token
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VaultCache {
    pub const fn new() -> Self {
        VaultCache {
            state: Mutex::new(State { ok: None, failed: None }),
        }
    }

    /// A poisoned lock only means another thread panicked mid-update; the
    /// state is still a valid cache, so keep using it.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The unlocked vault for this text and token: cached when both are
    /// unchanged, else derived, decrypted, parsed and cached.
    pub fn unlock(&self, vault_text: &str, token: &str) -> Result<Arc<Unlocked>, VaultError> {
        let token_digest = digest(token);
        {
            let state = self.lock();
            if let Some(entry) = state.ok.as_ref().filter(|e| e.matches(vault_text, &token_digest)) {
                return Ok(Arc::clone(&entry.value));
            }
            if let Some(entry) = state.failed.as_ref().filter(|e| e.matches(vault_text, &token_digest)) {
                return Err(entry.value.clone());
            }
        }
        let result = open(vault_text, token).map(|(config, raw_json)| {
            Arc::new(Unlocked {
                config,
                raw_json,
                etag: etag_of(vault_text),
            })
        });
        let mut state = self.lock();
        let vault_text = vault_text.to_string();
        match &result {
            Ok(unlocked) => {
                state.ok = Some(Entry {
                    vault_text,
                    token_digest,
                    value: Arc::clone(unlocked),
                });
                state.failed = None;
            }
            Err(e) => {
                state.failed = Some(Entry {
                    vault_text,
                    token_digest,
                    value: e.clone(),
                })
            }
        }
        result
    }

    /// Caches a vault the caller has already decrypted and parsed (a PUT
    /// opens it to validate it), so the next request does not derive again.
    pub fn remember(&self, vault_text: &str, token: &str, config: AiConfig, raw_json: String) -> Arc<Unlocked> {
        let unlocked = Arc::new(Unlocked {
            config,
            raw_json,
            etag: etag_of(vault_text),
        });
        let mut state = self.lock();
        state.ok = Some(Entry {
            vault_text: vault_text.to_string(),
            token_digest: digest(token),
            value: Arc::clone(&unlocked),
        });
        state.failed = None;
        unlocked
    }

    /// The latest unlocked vault, whatever text it came from.
    pub fn current(&self) -> Option<Arc<Unlocked>> {
        self.lock().ok.as_ref().map(|e| Arc::clone(&e.value))
    }

    /// Forgets everything (e.g. after the token changed).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.ok = None;
        state.failed = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::openssl::{encrypt_with_salt, thread_derivation_count};

    const TOKEN: &str = "crypto-token";
    const JSON: &str = r#"{"version":1,"providers":{"groq":{"keys":[{"key":"gsk_1"}],"models":[]}}}"#;

    fn vault(json: &str, salt: u8) -> String {
        encrypt_with_salt(json.as_bytes(), TOKEN, [salt; 8])
    }

    #[test]
    fn second_unlock_does_not_derive_again() {
        let cache = VaultCache::new();
        let text = vault(JSON, 1);
        let start = thread_derivation_count();
        let first = cache.unlock(&text, TOKEN).unwrap();
        assert_eq!(thread_derivation_count(), start + 1);
        let second = cache.unlock(&text, TOKEN).unwrap();
        assert_eq!(thread_derivation_count(), start + 1, "a hit must not run PBKDF2");
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(first.raw_json, JSON);
        assert!(first.config.provider("groq").is_some());
        assert!(Arc::ptr_eq(&cache.current().unwrap(), &first));
    }

    #[test]
    fn changed_text_or_token_derives_again() {
        let cache = VaultCache::new();
        let one = vault(JSON, 1);
        let two = vault(JSON, 2);
        let start = thread_derivation_count();
        let a = cache.unlock(&one, TOKEN).unwrap();
        let b = cache.unlock(&two, TOKEN).unwrap();
        assert_eq!(thread_derivation_count(), start + 2);
        assert_ne!(a.etag, b.etag);
        // Only the latest success is kept.
        cache.unlock(&one, TOKEN).unwrap();
        assert_eq!(thread_derivation_count(), start + 3);

        // Same text, another token (here a wrong one): derives, fails, keeps the good entry.
        assert_eq!(cache.unlock(&one, "other-token").unwrap_err(), VaultError::BadPadding);
        assert_eq!(thread_derivation_count(), start + 4);
        cache.unlock(&one, TOKEN).unwrap();
        assert_eq!(thread_derivation_count(), start + 4);
    }

    #[test]
    fn same_failure_back_to_back_is_not_rederived() {
        let cache = VaultCache::new();
        let text = vault(JSON, 3);
        let start = thread_derivation_count();
        let e1 = cache.unlock(&text, "wrong").unwrap_err();
        let e2 = cache.unlock(&text, "wrong").unwrap_err();
        assert_eq!(e1, e2);
        assert_eq!(thread_derivation_count(), start + 1);
        // Another failing pair replaces it.
        let _ = cache.unlock(&text, "wrong-2");
        let _ = cache.unlock(&text, "wrong");
        assert_eq!(thread_derivation_count(), start + 3);
        cache.clear();
        assert!(cache.current().is_none());
    }

    #[test]
    fn decrypted_but_invalid_content_is_reported() {
        let cache = VaultCache::new();
        let not_json = cache.unlock(&vault("hello", 4), TOKEN).unwrap_err();
        assert!(matches!(not_json, VaultError::NotJson(_)), "{not_json:?}");
        assert!(not_json.is_wrong_token());
        let bad_shape = cache
            .unlock(&vault(r#"{"providers":{"g":{"keys":"SECRET"}}}"#, 5), TOKEN)
            .unwrap_err();
        assert_eq!(bad_shape.code(), "vault_invalid_config");
        assert_eq!(
            bad_shape.to_string(),
            "vault decrypts but is not a valid ai.json: providers.g.keys: must be an array"
        );
        assert_eq!(cache.unlock("", TOKEN).unwrap_err(), VaultError::Empty);
    }

    #[test]
    fn etag_is_quoted_hex_of_the_text() {
        let text = vault(JSON, 1);
        let etag = etag_of(&text);
        assert_eq!(etag.len(), 34);
        assert!(etag.starts_with('"') && etag.ends_with('"'));
        assert!(etag[1..33]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(VaultCache::new().unlock(&text, TOKEN).unwrap().etag, etag);
        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223...
        assert_eq!(etag_of("abc"), "\"ba7816bf8f01cfea414140de5dae2223\"");
    }

    #[test]
    fn works_from_a_static() {
        static CACHE: VaultCache = VaultCache::new();
        assert!(CACHE.unlock(&vault(JSON, 6), TOKEN).is_ok());
    }

    #[test]
    fn a_remembered_vault_is_served_without_deriving() {
        let cache = VaultCache::new();
        let text = vault(JSON, 7);
        let config = crate::config::parse(JSON).unwrap();
        cache.remember(&text, TOKEN, config, JSON.to_string());
        let before = thread_derivation_count();
        let unlocked = cache.unlock(&text, TOKEN).unwrap();
        assert_eq!(thread_derivation_count(), before);
        assert_eq!(unlocked.raw_json, JSON);
        assert_eq!(unlocked.etag, etag_of(&text));
        // Another token is not served from the remembered entry.
        assert!(cache.unlock(&text, "other-token").is_err());
    }
}
