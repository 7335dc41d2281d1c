//! The vault format against the real `openssl` CLI, both ways.
//!
//! These tests need `openssl` (Debian package `openssl`); without it they
//! fail with a clear message rather than skipping, since byte compatibility
//! with the CLI is a contract (`openssl enc -aes-256-cbc -a -pbkdf2 -iter 100000`).

use ai_proxy_core::vault;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const PASSWORD_VAR: &str = "AI_PROXY_INTEROP_PASSWORD";

fn openssl_binary() -> PathBuf {
    let candidates = [PathBuf::from("/usr/bin/openssl"), PathBuf::from("openssl")];
    for candidate in candidates {
        if Command::new(&candidate)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return candidate;
        }
    }
    panic!(
        "the `openssl` CLI is required by these interop tests but was not found \
         (looked for /usr/bin/openssl and `openssl` on PATH); install it, e.g. `apt-get install openssl`"
    );
}

/// A unique scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ai-proxy-interop-{}-{n}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `openssl enc` with the password passed through the environment (not argv).
fn openssl_enc(args: &[&str], input: &Path, password: &str) -> Output {
    let output = Command::new(openssl_binary())
        .args(["enc", "-aes-256-cbc", "-pbkdf2", "-iter", "100000"])
        .args(args)
        .arg("-in")
        .arg(input)
        .args(["-pass", &format!("env:{PASSWORD_VAR}")])
        .env(PASSWORD_VAR, password)
        .output()
        .expect("run openssl");
    output
}

/// `openssl enc -aes-256-cbc -a -pbkdf2 -iter 100000 -salt` of `plain`.
fn openssl_encrypt(scratch: &Scratch, plain: &[u8], password: &str, extra: &[&str]) -> String {
    let input = scratch.file("plain.json");
    std::fs::write(&input, plain).expect("write plaintext");
    let mut args = vec!["-a", "-salt"];
    args.extend_from_slice(extra);
    let out = openssl_enc(&args, &input, password);
    assert!(
        out.status.success(),
        "openssl encrypt failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("openssl writes ASCII base64")
}

/// `openssl enc -d -aes-256-cbc -a -pbkdf2 -iter 100000` of `text`.
fn openssl_decrypt(scratch: &Scratch, text: &str, password: &str) -> Vec<u8> {
    let input = scratch.file("vault.enc");
    std::fs::write(&input, text).expect("write vault");
    let out = openssl_enc(&["-d", "-a"], &input, password);
    assert!(
        out.status.success(),
        "openssl decrypt failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A realistic vault: 8 providers, several keys and models each, unknown fields.
fn big_config() -> String {
    let providers = [
        "groq",
        "sambanova",
        "anthropic",
        "openai",
        "gemini",
        "mistral",
        "openrouter",
        "morph",
    ];
    let mut map = serde_json::Map::new();
    for (p, name) in providers.iter().enumerate() {
        let keys: Vec<serde_json::Value> = (0..3)
            .map(|k| {
                serde_json::json!({
                    "key": format!("sk-{name}-{k}-{}", "x".repeat(40)),
                    "owner": format!("owner{k}"),
                    "type": if k == 2 { "expired" } else { "paid" },
                    "expiresAt": "2030-01-01T00:00:00Z"
                })
            })
            .collect();
        let models: Vec<serde_json::Value> = (0..6)
            .map(|m| {
                serde_json::json!({
                    "id": format!("{name}/model-{m}-instruct"),
                    "usage": if m == 5 { "embedding" } else { "chat" },
                    "contextWindow": 8192 * (m + 1),
                    "maxOutputTokens": if m == 5 { 0 } else { 2048 },
                    "tpmLimit": null,
                    "priority": m * 10,
                    "tags": ["fast", "é-unicode ✓"]
                })
            })
            .collect();
        map.insert(
            name.to_string(),
            serde_json::json!({
                "protocol": if p == 2 { "anthropic" } else { "openai" },
                "endpoint": format!("https://api.{name}.example/v1"),
                "gatewayEndpoint": "https://gateway.ai.cloudflare.com/v1/{account}/default/compat",
                "gatewayModelPrefix": name,
                "x-unknown": {"kept": true},
                "keys": keys,
                "models": models
            }),
        );
    }
    let doc = serde_json::json!({"version": 1, "providers": map, "x-top": "kept"});
    serde_json::to_string_pretty(&doc).expect("serialise") + "\n"
}

#[test]
fn openssl_made_vault_decrypts_and_parses() {
    let scratch = Scratch::new("ossl-to-us");
    let json = big_config();
    assert!(
        json.len() > 8 * 1024,
        "vault should be real-sized, got {} bytes",
        json.len()
    );
    let password = "p@ss w0rd with spaces ✓";
    let text = openssl_encrypt(&scratch, json.as_bytes(), password, &[]);
    assert!(text.lines().count() > 100, "openssl output should be line-wrapped");
    assert_eq!(vault::decrypt_to_string(&text, password).unwrap(), json);

    let (config, raw) = vault::open(&text, password).unwrap();
    assert_eq!(raw, json);
    let names: Vec<&str> = config.providers().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "groq",
            "sambanova",
            "anthropic",
            "openai",
            "gemini",
            "mistral",
            "openrouter",
            "morph"
        ]
    );
    assert_eq!(
        config.to_json_pretty() + "\n",
        json,
        "parse → serialise must not change the document"
    );

    let err = vault::decrypt(&text, "not the password").unwrap_err();
    assert!(err.is_wrong_token(), "{err:?}");
}

#[test]
fn our_vault_decrypts_with_openssl() {
    let scratch = Scratch::new("us-to-ossl");
    let json = big_config();
    let password = "another secret ✓";
    let text = vault::encrypt(json.as_bytes(), password).unwrap();
    assert_eq!(openssl_decrypt(&scratch, &text, password), json.as_bytes());
}

#[test]
fn our_output_is_byte_identical_to_openssl_for_the_same_salt() {
    let scratch = Scratch::new("identical");
    let json = big_config();
    let password = "same-salt";
    let theirs = openssl_encrypt(&scratch, json.as_bytes(), password, &[]);
    let salt = vault::parse_envelope(&theirs).unwrap().salt;
    assert_eq!(vault::encrypt_with_salt(json.as_bytes(), password, salt), theirs);
}

#[test]
fn layout_variants_from_openssl_decrypt() {
    let scratch = Scratch::new("layouts");
    let plain = br#"{"version":1,"providers":{}}"#;
    let password = "layout";
    // -A: one line without wraps.
    let single = openssl_encrypt(&scratch, plain, password, &["-A"]);
    assert_eq!(single.trim_end().lines().count(), 1);
    let wrapped = openssl_encrypt(&scratch, &big_config().into_bytes(), password, &[]);
    let variants = [
        single.clone(),
        single.trim_end().to_string(),
        wrapped.replace('\n', "\r\n"),
        wrapped.trim_end().to_string(),
        format!("\n  {wrapped}\n\n"),
        wrapped.lines().collect::<String>(),
    ];
    for (i, text) in variants.iter().enumerate() {
        let got = vault::decrypt(text, password).unwrap_or_else(|e| panic!("variant {i}: {e}"));
        let expected: &[u8] = if i < 2 { plain } else { &got };
        assert_eq!(got, expected, "variant {i}");
    }
    assert_eq!(vault::decrypt_to_string(&variants[2], password).unwrap(), big_config());
}

#[test]
fn our_single_block_and_empty_vaults_decrypt_with_openssl() {
    let scratch = Scratch::new("small");
    for plain in [&b""[..], b"{}", b"exactly sixteen!", &[0u8, 255, 10, 13][..]] {
        let text = vault::encrypt(plain, "pw").unwrap();
        assert_eq!(openssl_decrypt(&scratch, &text, "pw"), plain);
        let theirs = openssl_encrypt(&scratch, plain, "pw", &[]);
        assert_eq!(vault::decrypt(&theirs, "pw").unwrap(), plain);
    }
}
