//! The encrypted vault `vault:ai.json.enc`: the OpenSSL text format
//! ([`openssl`]) and the per-instance cache of its unlocked content ([`cache`]).

pub mod cache;
mod kdf;
pub mod openssl;

pub use cache::{etag_of, Unlocked, VaultCache};
pub use openssl::{
    decrypt, decrypt_to_string, decrypt_with, derivation_count, derive, encrypt, encrypt_with, encrypt_with_salt,
    parse_envelope, DerivedKey, Envelope,
};

use crate::config::{ConfigError, ValidationIssue};
use std::fmt;

/// Why a vault could not be read or written. One variant per failure; no
/// message ever contains the password or any decrypted content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VaultError {
    /// The text is empty or only whitespace.
    Empty,
    /// The text is not base64.
    InvalidBase64,
    /// The decoded bytes do not start with `Salted__`.
    MissingSaltHeader,
    /// No salt, no ciphertext, or a ciphertext that is not whole AES blocks.
    Truncated,
    /// PKCS#7 padding check failed: nearly always a wrong token.
    BadPadding,
    /// Padding was valid by chance but the plaintext is not UTF-8.
    NotUtf8,
    /// The plaintext is UTF-8 but not JSON (serde_json's syntax message).
    NotJson(String),
    /// The plaintext is JSON but does not fit the ai.json model.
    InvalidConfig(ValidationIssue),
    /// The host gave no random bytes (encryption only).
    Random,
}

impl VaultError {
    /// A stable machine-readable code, e.g. for an API error's `code` field.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::Empty => "vault_empty",
            VaultError::InvalidBase64 => "vault_invalid_base64",
            VaultError::MissingSaltHeader => "vault_missing_salt_header",
            VaultError::Truncated => "vault_truncated",
            VaultError::BadPadding => "vault_bad_padding",
            VaultError::NotUtf8 => "vault_not_utf8",
            VaultError::NotJson(_) => "vault_not_json",
            VaultError::InvalidConfig(_) => "vault_invalid_config",
            VaultError::Random => "vault_random_unavailable",
        }
    }

    /// True when the text is a well-formed vault that did not decrypt to
    /// JSON: the token is wrong (or the ciphertext was altered).
    pub fn is_wrong_token(&self) -> bool {
        matches!(
            self,
            VaultError::BadPadding | VaultError::NotUtf8 | VaultError::NotJson(_)
        )
    }
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultError::Empty => f.write_str("vault is empty"),
            VaultError::InvalidBase64 => f.write_str("vault is not valid base64"),
            VaultError::MissingSaltHeader => f.write_str("vault is not an OpenSSL salted file (no Salted__ header)"),
            VaultError::Truncated => {
                f.write_str("vault is truncated (no salt, or ciphertext empty or not a multiple of 16 bytes)")
            }
            VaultError::BadPadding => f.write_str("wrong token or corrupted vault (bad padding)"),
            VaultError::NotUtf8 => f.write_str("wrong token or corrupted vault (decrypted data is not UTF-8)"),
            VaultError::NotJson(m) => {
                write!(f, "wrong token or corrupted vault (decrypted data is not JSON: {m})")
            }
            VaultError::InvalidConfig(issue) => {
                write!(f, "vault decrypts but is not a valid ai.json: {issue}")
            }
            VaultError::Random => f.write_str("no random bytes available to make a salt"),
        }
    }
}

impl std::error::Error for VaultError {}

impl From<ConfigError> for VaultError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::NotJson(m) => VaultError::NotJson(m),
            ConfigError::Invalid(issue) => VaultError::InvalidConfig(issue),
        }
    }
}

/// Decrypts and parses a vault in one go (no cache): what `PUT /ai.json.enc`
/// needs to check a new vault before storing it.
pub fn open(text: &str, password: &str) -> Result<(crate::config::AiConfig, String), VaultError> {
    let json = decrypt_to_string(text, password)?;
    let config = crate::config::parse(&json)?;
    Ok((config, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_own_message_and_code() {
        let all = [
            VaultError::Empty,
            VaultError::InvalidBase64,
            VaultError::MissingSaltHeader,
            VaultError::Truncated,
            VaultError::BadPadding,
            VaultError::NotUtf8,
            VaultError::NotJson("expected value at line 1 column 1".into()),
            VaultError::InvalidConfig(ValidationIssue::new("providers", "must be an object")),
            VaultError::Random,
        ];
        let messages: std::collections::HashSet<String> = all.iter().map(ToString::to_string).collect();
        let codes: std::collections::HashSet<&str> = all.iter().map(VaultError::code).collect();
        assert_eq!(messages.len(), all.len());
        assert_eq!(codes.len(), all.len());
        let wrong: Vec<bool> = all.iter().map(VaultError::is_wrong_token).collect();
        assert_eq!(wrong, [false, false, false, false, true, true, true, false, false]);
    }

    #[test]
    fn open_distinguishes_not_json_from_invalid_config_and_never_leaks() {
        let password = "hunter2-the-password";
        let salt = [9u8; 8];
        let not_json = encrypt_with_salt(b"{\"key\": \"sk-secret-in-plaintext", password, salt);
        let err = open(&not_json, password).unwrap_err();
        assert!(matches!(err, VaultError::NotJson(_)), "{err:?}");
        let shape = encrypt_with_salt(
            br#"{"providers":{"g":{"keys":[{"key":7}],"x":"sk-secret"}}}"#,
            password,
            salt,
        );
        let err2 = open(&shape, password).unwrap_err();
        assert_eq!(
            err2,
            VaultError::InvalidConfig(ValidationIssue::new("providers.g.keys[0].key", "must be a string"))
        );
        for e in [err, err2, open(&not_json, "wrong").unwrap_err()] {
            let text = format!("{e} {e:?}");
            assert!(!text.contains(password) && !text.contains("sk-secret"), "{text}");
        }
        let (config, json) = open(&encrypt_with_salt(br#"{"providers":{}}"#, password, salt), password).unwrap();
        assert_eq!(json, r#"{"providers":{}}"#);
        assert_eq!(config.providers.len(), 0);
    }
}
