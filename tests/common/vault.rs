//! Test data: the vault (made with the real `openssl` CLI, so tests prove
//! byte-compatibility with the format operators use) and users.

use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

/// The crypto token every proxy gets unless a test says otherwise.
pub const TOKEN: &str = "test-cryptoken-5f2a9c71";
/// Alice's proxy key in [`users`].
pub const USER_KEY: &str = "sk-test-alice-0d9e8f7a6b5c";
/// The provider key in [`ai_json`].
pub const PROVIDER_KEY: &str = "gsk_1";
/// The model in [`ai_json`].
pub const MODEL: &str = "llama-3.3-70b-versatile";

/// `{"alice": {"key": USER_KEY, "type": "paid"}}`.
pub fn users() -> Value {
    json!({"alice": {"key": USER_KEY, "type": "paid"}})
}

/// An ai.json with one OpenAI-protocol provider `groq` whose endpoint is
/// `<base>/openai/v1` (pass a `MockUpstream::url()`).
pub fn ai_json(base: &str) -> Value {
    json!({
        "version": 1,
        "providers": {
            "groq": {
                "protocol": "openai",
                "endpoint": format!("{base}/openai/v1"),
                "keys": [{"key": PROVIDER_KEY}],
                "models": [{
                    "id": MODEL, "usage": "chat", "contextWindow": 131072,
                    "maxOutputTokens": 32768, "tpmLimit": null, "priority": 0
                }]
            }
        }
    })
}

fn openssl(args: &[&str], input: &[u8], token: &str) -> std::process::Output {
    let mut child = Command::new("openssl")
        .args(["enc", "-aes-256-cbc", "-a", "-pbkdf2", "-iter", "100000"])
        .args(args)
        .args(["-pass", "env:AIP_TOK"])
        .env("AIP_TOK", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the `openssl` CLI is needed to make test vaults");
    // Feed stdin from a thread so a large output cannot deadlock the pipes.
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("openssl output");
    writer.join().unwrap().expect("write to openssl");
    out
}

/// `openssl enc -aes-256-cbc -a -pbkdf2 -iter 100000 -salt` of `plaintext`.
pub fn encrypt_vault(plaintext: &str, token: &str) -> String {
    let out = openssl(&["-salt"], plaintext.as_bytes(), token);
    assert!(
        out.status.success(),
        "openssl enc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("base64 text")
}

/// Decrypts vault text with the `openssl` CLI; `None` if it does not decrypt.
pub fn decrypt_vault(text: &str, token: &str) -> Option<String> {
    // openssl's base64 reader wants lines of at most 64 characters.
    let b64: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let mut input = Vec::new();
    for line in b64.chunks(64) {
        input.extend_from_slice(line);
        input.push(b'\n');
    }
    let out = openssl(&["-d"], &input, token);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The vault of [`ai_json`]`(base)` under [`TOKEN`].
pub fn vault_for(base: &str) -> String {
    encrypt_vault(&ai_json(base).to_string(), TOKEN)
}
