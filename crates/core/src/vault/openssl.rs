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

#[cfg(test)]
thread_local! {
    // Tests run in parallel; a per-thread count lets a test see only its own work.
    static THREAD_DERIVATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Derivations run by the current thread (tests only).
#[cfg(test)]
pub(crate) fn thread_derivation_count() -> u64 {
    THREAD_DERIVATIONS.with(|c| c.get())
}

/// How many PBKDF2 derivations this process (or wasm instance) has run.
/// Tests and debug output use it to prove the hot path does not re-derive.
pub fn derivation_count() -> u64 {
    DERIVATIONS.load(Ordering::Relaxed)
}

/// AES key and IV derived from a password and a salt. Never printed.
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
        f.debug_struct("DerivedKey")
            .field("salt", &self.salt)
            .finish_non_exhaustive()
    }
}

/// Runs PBKDF2-HMAC-SHA256 (the expensive step) and counts it.
pub fn derive(password: &str, salt: [u8; SALT_LEN]) -> DerivedKey {
    DERIVATIONS.fetch_add(1, Ordering::Relaxed);
    #[cfg(test)]
    THREAD_DERIVATIONS.with(|c| c.set(c.get() + 1));
    let mut out = [0u8; 48];
    super::kdf::pbkdf2_hmac_sha256(password.as_bytes(), &salt, ITERATIONS, &mut out);
    let mut key = [0u8; 32];
    let mut iv = [0u8; 16];
    key.copy_from_slice(&out[..32]);
    iv.copy_from_slice(&out[32..]);
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
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(BLOCK) {
        return Err(VaultError::Truncated);
    }
    Ok(Envelope {
        salt: *salt,
        ciphertext: ciphertext.to_vec(),
    })
}

/// Decrypts a ciphertext with an already derived key (the cheap step).
pub fn decrypt_with(key: &DerivedKey, ciphertext: &[u8]) -> Result<Vec<u8>, VaultError> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(BLOCK) {
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
    let ciphertext =
        cbc::Encryptor::<Aes256>::new(&key.key.into(), &key.iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Made once with:
    //   PW='correct horse battery staple' openssl enc -aes-256-cbc -a -pbkdf2 \
    //     -iter 100000 -salt -in kv.json -pass env:PW
    const VECTOR_TEXT: &str = "U2FsdGVkX18bzjAZj6q+Xedz+loqNJbCKpV6SFChH59wDBvQLYn8prV99lFxeEdR\n\
1wZ60Zg6CSIndRk7wH7MqtBvOl7PLQFS7jjpe06Kb44p0fkK5lOMxi7c8vIUgOkd\n";
    const VECTOR_PASSWORD: &str = "correct horse battery staple";
    const VECTOR_PLAIN: &str =
        "{\"version\":1,\"providers\":{\"groq\":{\"keys\":[{\"key\":\"gsk_test\"}],\"models\":[]}}}\n";
    const SALT: [u8; 8] = *b"\x01\x02\x03\x04\x05\x06\x07\x08";

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn known_openssl_vector_decrypts() {
        assert_eq!(decrypt_to_string(VECTOR_TEXT, VECTOR_PASSWORD).unwrap(), VECTOR_PLAIN);
    }

    #[test]
    fn encrypt_with_salt_reproduces_the_openssl_vector_byte_for_byte() {
        let salt = parse_envelope(VECTOR_TEXT).unwrap().salt;
        assert_eq!(
            encrypt_with_salt(VECTOR_PLAIN.as_bytes(), VECTOR_PASSWORD, salt),
            VECTOR_TEXT
        );
    }

    #[test]
    fn encrypt_then_decrypt_round_trips_with_fresh_salts() {
        let plain = "{\"a\":\"héllo\"}".repeat(40);
        let one = encrypt(plain.as_bytes(), "pw").unwrap();
        let two = encrypt(plain.as_bytes(), "pw").unwrap();
        assert_ne!(one, two, "each encryption must use a fresh salt");
        assert_eq!(decrypt_to_string(&one, "pw").unwrap(), plain);
        assert!(one.lines().all(|l| l.len() <= 64));
        assert!(one.lines().rev().skip(1).all(|l| l.len() == 64));
        assert!(one.ends_with('\n') && !one.ends_with("\n\n"));
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let text = encrypt_with_salt(b"", "pw", SALT);
        assert_eq!(parse_envelope(&text).unwrap().ciphertext.len(), 16);
        assert_eq!(decrypt(&text, "pw").unwrap(), b"");
    }

    #[test]
    fn tolerates_wraps_crlf_and_surrounding_whitespace() {
        let one_line: String = VECTOR_TEXT.lines().collect();
        let crlf = VECTOR_TEXT.replace('\n', "\r\n");
        let spaced = format!("  \n\t{VECTOR_TEXT}\n\n  ");
        let no_newline = VECTOR_TEXT.trim_end().to_string();
        let bom = format!("\u{feff}{VECTOR_TEXT}");
        for text in [one_line, crlf, spaced, no_newline, bom] {
            assert_eq!(parse_envelope(&text).unwrap(), parse_envelope(VECTOR_TEXT).unwrap());
        }
        let unpadded = b64(&[MAGIC.as_slice(), &SALT, &[7u8; 16]].concat()).replace('=', "");
        assert_eq!(parse_envelope(&unpadded).unwrap().salt, SALT);
    }

    #[test]
    fn wrong_token_is_bad_padding() {
        let err = decrypt(VECTOR_TEXT, "not the token").unwrap_err();
        assert_eq!(err, VaultError::BadPadding);
        assert_eq!(err.to_string(), "wrong token or corrupted vault (bad padding)");
        assert!(err.is_wrong_token());
    }

    #[test]
    fn each_envelope_failure_is_distinct() {
        assert_eq!(parse_envelope(""), Err(VaultError::Empty));
        assert_eq!(parse_envelope(" \r\n\t"), Err(VaultError::Empty));
        assert_eq!(parse_envelope("not base64 !!!"), Err(VaultError::InvalidBase64));
        assert_eq!(parse_envelope("QUJD*"), Err(VaultError::InvalidBase64));
        let no_header = b64(b"Hello, this has no salt header at all.");
        assert_eq!(parse_envelope(&no_header), Err(VaultError::MissingSaltHeader));
        assert_eq!(parse_envelope(&b64(b"Salt")), Err(VaultError::MissingSaltHeader));
        let short_salt = b64(b"Salted__1234");
        assert_eq!(parse_envelope(&short_salt), Err(VaultError::Truncated));
        let no_ciphertext = b64(&[MAGIC.as_slice(), &SALT].concat());
        assert_eq!(parse_envelope(&no_ciphertext), Err(VaultError::Truncated));
        let partial_block = b64(&[MAGIC.as_slice(), &SALT, &[0u8; 15]].concat());
        assert_eq!(parse_envelope(&partial_block), Err(VaultError::Truncated));
        let cut = &VECTOR_TEXT[..VECTOR_TEXT.len() - 10];
        assert!(matches!(
            decrypt(cut, VECTOR_PASSWORD),
            Err(VaultError::Truncated | VaultError::InvalidBase64)
        ));
    }

    #[test]
    fn decrypt_with_rejects_partial_blocks_without_panicking() {
        let key = derive("pw", SALT);
        assert_eq!(decrypt_with(&key, &[]), Err(VaultError::Truncated));
        assert_eq!(decrypt_with(&key, &[1u8; 17]), Err(VaultError::Truncated));
    }

    #[test]
    fn invalid_padding_is_bad_padding() {
        // A block whose plaintext ends in 0x00 can never carry valid PKCS#7 padding.
        let key = derive("pw", SALT);
        let block = cbc::Encryptor::<Aes256>::new(&key.key.into(), &key.iv.into())
            .encrypt_padded_vec_mut::<cbc::cipher::block_padding::NoPadding>(&[0u8; 16]);
        assert_eq!(decrypt_with(&key, &block), Err(VaultError::BadPadding));
    }

    #[test]
    fn valid_padding_with_garbage_is_caught_by_the_utf8_check() {
        let text = encrypt_with_salt(&[0xff, 0xfe, 0x80, 0x00], "pw", SALT);
        assert_eq!(decrypt(&text, "pw").unwrap(), [0xff, 0xfe, 0x80, 0x00]);
        let err = decrypt_to_string(&text, "pw").unwrap_err();
        assert_eq!(err, VaultError::NotUtf8);
        assert!(err.is_wrong_token());
    }

    #[test]
    fn derivation_is_counted() {
        let before = thread_derivation_count();
        let global = derivation_count();
        let _ = derive("pw", SALT);
        assert_eq!(thread_derivation_count(), before + 1);
        assert!(derivation_count() > global);
        assert!(!format!("{:?}", derive("pw", SALT)).contains("key:"));
    }

    proptest! {
        #[test]
        fn decrypt_never_panics_on_any_string(text in any::<String>(), pw in any::<String>()) {
            // Random text almost never reaches PBKDF2, so this stays fast.
            let _ = decrypt(&text, &pw);
        }

        #[test]
        fn decrypt_never_panics_on_base64_of_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decrypt(&b64(&bytes), "pw");
        }

        #[test]
        fn decrypt_with_never_panics_on_any_ciphertext(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            static KEY: std::sync::OnceLock<DerivedKey> = std::sync::OnceLock::new();
            let key = KEY.get_or_init(|| derive("pw", SALT));
            let _ = decrypt_with(key, &bytes);
        }
    }

    proptest! {
        // These run PBKDF2 each time: few cases.
        #![proptest_config(ProptestConfig::with_cases(8))]
        #[test]
        fn decrypt_never_panics_on_well_formed_random_vaults(
            salt in any::<[u8; 8]>(),
            blocks in proptest::collection::vec(any::<[u8; 16]>(), 1..6),
        ) {
            let raw = [MAGIC.as_slice(), &salt, &blocks.concat()].concat();
            let _ = decrypt_to_string(&b64(&raw), "pw");
        }
    }
}
