//! PBKDF2-HMAC-SHA256, written on SHA-256's compression function.
//!
//! Why not the `pbkdf2` crate: its generic HMAC code is instantiated in this
//! crate, so in debug builds (every `cargo test`) one 100k-iteration
//! derivation took ~0.8 s. Here the HMAC pads are hashed once and each
//! iteration is exactly two calls to `sha2::compress256`, which is compiled
//! (optimised) in `sha2` itself. Tests check it against the `pbkdf2` crate
//! and the RFC 7914 vector; the interop tests check it against `openssl`.

use sha2::digest::generic_array::GenericArray;
use sha2::{compress256, Digest, Sha256};

const BLOCK: usize = 64;
/// SHA-256 initial hash value.
const H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

fn compress(state: &mut [u32; 8], block: &[u8]) {
    // Callers pass exactly one 64-byte block.
    compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
}

fn put_words(out: &mut [u8], words: &[u32; 8]) {
    for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
}

/// Finishes a hash whose state has absorbed `done` bytes, over `tail`.
fn finish(mut state: [u32; 8], done: usize, tail: &[u8]) -> [u32; 8] {
    let mut blocks = tail.chunks_exact(BLOCK);
    for block in &mut blocks {
        compress(&mut state, block);
    }
    let rest = blocks.remainder();
    let bits = ((done + tail.len()) as u64).wrapping_mul(8);
    let mut last = [0u8; 2 * BLOCK];
    last[..rest.len()].copy_from_slice(rest);
    last[rest.len()] = 0x80;
    let end = if rest.len() < BLOCK - 8 { BLOCK } else { 2 * BLOCK };
    last[end - 8..end].copy_from_slice(&bits.to_be_bytes());
    for block in last[..end].chunks_exact(BLOCK) {
        compress(&mut state, block);
    }
    state
}

/// HMAC-SHA256 keyed once: the states after the inner and outer pad blocks.
struct Hmac {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl Hmac {
    fn new(key: &[u8]) -> Self {
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| {
            let padded: Vec<u8> = block.iter().map(|b| b ^ byte).collect();
            let mut state = H0;
            compress(&mut state, &padded);
            state
        };
        Hmac {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }

    /// HMAC of any message.
    fn mac(&self, message: &[u8]) -> [u32; 8] {
        let mut inner = [0u8; 32];
        put_words(&mut inner, &finish(self.inner, BLOCK, message));
        finish(self.outer, BLOCK, &inner)
    }

    /// HMAC of a 32-byte message given as words: two compressions.
    fn mac32(&self, message: &[u32; 8]) -> [u32; 8] {
        // 32 message bytes, 0x80, zeros, then the bit length 8 * (64 + 32) = 768.
        let mut block = [0u8; BLOCK];
        block[32] = 0x80;
        block[62] = 0x03;
        put_words(&mut block[..32], message);
        let mut inner = self.inner;
        compress(&mut inner, &block);
        put_words(&mut block[..32], &inner);
        let mut outer = self.outer;
        compress(&mut outer, &block);
        outer
    }
}

/// Fills `out` with PBKDF2-HMAC-SHA256(password, salt, rounds).
pub(crate) fn pbkdf2_hmac_sha256(password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    let prf = Hmac::new(password);
    for (index, chunk) in out.chunks_mut(32).enumerate() {
        let block_number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let mut u = prf.mac(&[salt, &block_number.to_be_bytes()].concat());
        let mut t = u;
        for _ in 1..rounds {
            u = prf.mac32(&u);
            for (t, u) in t.iter_mut().zip(&u) {
                *t ^= u;
            }
        }
        let mut bytes = [0u8; 32];
        put_words(&mut bytes, &t);
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(password: &[u8], salt: &[u8], rounds: u32, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, rounds, &mut out);
        out
    }

    fn ours(password: &[u8], salt: &[u8], rounds: u32, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        pbkdf2_hmac_sha256(password, salt, rounds, &mut out);
        out
    }

    #[test]
    fn rfc7914_vector() {
        let expected = "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
                        49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783";
        let got: String = ours(b"passwd", b"salt", 1, 64)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn matches_the_pbkdf2_crate_at_vault_settings() {
        let ours = ours(b"correct horse", b"\x01\x02\x03\x04\x05\x06\x07\x08", 100_000, 48);
        assert_eq!(
            ours,
            reference(b"correct horse", b"\x01\x02\x03\x04\x05\x06\x07\x08", 100_000, 48)
        );
    }

    proptest! {
        #[test]
        fn matches_the_pbkdf2_crate(
            password in proptest::collection::vec(any::<u8>(), 0..200),
            salt in proptest::collection::vec(any::<u8>(), 0..150),
            rounds in 1u32..5,
            len in 0usize..100,
        ) {
            prop_assert_eq!(ours(&password, &salt, rounds, len), reference(&password, &salt, rounds, len));
        }
    }
}
