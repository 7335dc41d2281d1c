//! The OpenSSL `enc -aes-256-cbc -a -pbkdf2 -iter 100000 -salt` text format.
//!
//! Layout: base64( `Salted__` ‖ salt[8] ‖ AES-256-CBC/PKCS#7 ciphertext ),
//! with key ‖ iv = PBKDF2-HMAC-SHA256(password, salt, 100000, 48 bytes).
//! Byte-compatible with the `openssl` CLI in both directions.
//!
//! Derivation is split from decryption so [`super::cache`] can tell the
//! expensive step (PBKDF2) from the cheap one (AES) and count it.

use super::VaultError;
use aes::Aes256;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};

/// PBKDF2 iteration count used by the vault (`-iter 100000`).
pub const ITERATIONS: u32 = 100_000;
/// Length of the OpenSSL salt.
pub const SALT_LEN: usize = 8;
/// The header OpenSSL writes before the salt.
pub const MAGIC: &[u8; 8] = b"Salted__";
/// OpenSSL's `-a` output wraps base64 at this many characters.
const LINE_WIDTH: usize = 64;
const BLOCK: usize = 16;

/// Standard alphabet; padding optional and trailing bits tolerated so that
/// anything the `openssl` CLI accepts is accepted here too.
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

static DERIVATIONS: AtomicU64 = AtomicU64::new(0);

/// How many PBKDF2 derivations this process (or wasm instance) has run.
/// Tests and debug output use it to prove the hot path does not re-derive.
pub fn derivation_count() -> u64 {
    DERIVATIONS.load(Ordering::Relaxed)
}

/// AES key and IV derived from a password and a salt. Wiped on drop.
pub struct DerivedKey {
    key: [u8; 32],
    iv: [u8; 16],
    salt: [u8; SALT_LEN],
}

impl DerivedKey {
    /// The salt this key was derived with.
    pub fn salt(&self) -> [u8; SALT_LEN] {
        self.salt
    }
}

impl std::fmt::Debug for DerivedKey {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DerivedKey").field("salt", &self.salt).finish_non_exhaustive()
    }
}

impl Drop for DerivedKey {
    fn drop(&mut self) {
        for b in self.key.iter_mut().chain(self.iv.iter_mut()) {
            // Volatile so the wipe is not optimised away.
            // SAFETY: `b` is a valid, exclusive reference to a byte.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// Runs PBKDF2-HMAC-SHA256 (the expensive step) and counts it.
pub fn derive(password: &str, salt: [u8; SALT_LEN]) -> DerivedKey {
    DERIVATIONS.fetch_add(1, Ordering::Relaxed);
    let mut out = [0u8; 48];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, ITERATIONS, &mut out);
    let mut key = [0u8; 32];
    let mut iv = [0u8; 16];
    key.copy_from_slice(&out[..32]);
    iv.copy_from_slice(&out[32..]);
    for b in out.iter_mut() {
        // SAFETY: `b` is a valid, exclusive reference to a byte.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    DerivedKey { key, iv, salt }
}

/// A decoded vault: its salt and ciphertext, checked for shape but not decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub salt: [u8; SALT_LEN],
    pub ciphertext: Vec<u8>,
}

/// Decodes the base64 text and checks the `Salted__` header and block shape.
/// Accepts line wraps, CRLF, a trailing newline, surrounding whitespace and a BOM.
pub fn parse_envelope(text: &str) -> Result<Envelope, VaultError> {
    let compact: Vec<u8> = text
        .trim_start_matches('\u{feff}')
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err(VaultError::Empty);
    }
    let raw = LENIENT_B64.decode(&compact).map_err(|_| VaultError::InvalidBase64)?;
    let Some(rest) = raw.strip_prefix(MAGIC.as_slice()) else {
        return Err(VaultError::MissingSaltHeader);
    };
    let Some((salt, ciphertext)) = rest.split_first_chunk::<SALT_LEN>() else {
        return Err(VaultError::Truncated);
    };
    if ciphertext.is_empty() || ciphertext.len() % BLOCK != 0 {
        return Err(VaultError::Truncated);
    }
    Ok(Envelope { salt: *salt, ciphertext: ciphertext.to_vec() })
}

/// Decrypts a ciphertext with an already derived key (the cheap step).
pub fn decrypt_with(key: &DerivedKey, ciphertext: &[u8]) -> Result<Vec<u8>, VaultError> {
    if ciphertext.is_empty() || ciphertext.len() % BLOCK != 0 {
        return Err(VaultError::Truncated);
    }
    cbc::Decryptor::<Aes256>::new(&key.key.into(), &key.iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .map_err(|_| VaultError::BadPadding)
}

/// Decrypts OpenSSL vault text with a password.
pub fn decrypt(text: &str, password: &str) -> Result<Vec<u8>, VaultError> {
    let envelope = parse_envelope(text)?;
    let key = derive(password, envelope.salt);
    decrypt_with(&key, &envelope.ciphertext)
}

/// Like [`decrypt`], and checks the plaintext is UTF-8.
pub fn decrypt_to_string(text: &str, password: &str) -> Result<String, VaultError> {
    String::from_utf8(decrypt(text, password)?).map_err(|_| VaultError::NotUtf8)
}

/// Encrypts with a fresh random salt, as `openssl enc -aes-256-cbc -a -pbkdf2
/// -iter 100000 -salt` would.
pub fn encrypt(plain: &[u8], password: &str) -> Result<String, VaultError> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|_| VaultError::Random)?;
    Ok(encrypt_with_salt(plain, password, salt))
}

/// Deterministic encryption with a given salt (tests, known vectors).
pub fn encrypt_with_salt(plain: &[u8], password: &str, salt: [u8; SALT_LEN]) -> String {
    encrypt_with(&derive(password, salt), plain)
}

/// Encrypts with an already derived key; the output embeds the key's salt.
pub fn encrypt_with(key: &DerivedKey, plain: &[u8]) -> String {
    let ciphertext = cbc::Encryptor::<Aes256>::new(&key.key.into(), &key.iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plain);
    let mut raw = Vec::with_capacity(MAGIC.len() + SALT_LEN + ciphertext.len());
    raw.extend_from_slice(MAGIC);
    raw.extend_from_slice(&key.salt);
    raw.extend_from_slice(&ciphertext);
    wrap_lines(&base64::engine::general_purpose::STANDARD.encode(raw))
}

/// OpenSSL-style wrapping: 64 characters a line, every line ending in `\n`.
fn wrap_lines(b64: &str) -> String {
    let mut out = String::with_capacity(b64.len() + b64.len() / LINE_WIDTH + 1);
    // base64 output is ASCII, so byte chunks are valid char boundaries.
    for line in b64.as_bytes().chunks(LINE_WIDTH) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out
}
