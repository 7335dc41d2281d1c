//! The admin commands (`ai-proxy vault …`, `ai-proxy users …`) run as a user
//! would: the built binary, in a temp dir, with the token in the environment.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const TOKEN_VAR: &str = "AI_JSON_CRYPTOKEN";
const TOKEN: &str = "correct horse battery staple 42";
const OTHER_TOKEN: &str = "a completely different token";
const PROVIDER_KEY: &str = "gsk_PROVIDER_SECRET_0001";

const AI_JSON: &str = r#"{
  "version": 1,
  "providers": {
    "groq": {
      "protocol": "openai",
      "endpoint": "https://api.groq.com/openai/v1",
      "keys": [
        {"key": "gsk_PROVIDER_SECRET_0001", "owner": "me"},
        {"key": "gsk_PROVIDER_SECRET_0002", "type": "expired"}
      ],
      "models": [{"id": "llama-3.3-70b-versatile"}, {"id": "whisper"}]
    },
    "mistral": {
      "keys": [{"key": "mistral_PROVIDER_SECRET_3"}],
      "models": [{"id": "mistral-embed", "usage": "embedding"}]
    }
  }
}
"#;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// The binary in the temp dir (so `.spin` is the temp dir's), with
    /// `token` (if any) in AI_JSON_CRYPTOKEN and stdin not a terminal.
    fn cmd(&self, token: Option<&str>, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ai-proxy"));
        c.current_dir(self.dir.path())
            .args(args)
            .env_remove(TOKEN_VAR)
            .stdin(Stdio::null());
        if let Some(t) = token {
            c.env(TOKEN_VAR, t);
        }
        c
    }

    fn run(&self, token: Option<&str>, args: &[&str]) -> Run {
        Run::from(self.cmd(token, args).output().unwrap())
    }

    fn run_stdin(&self, token: Option<&str>, args: &[&str], stdin: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .cmd(token, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        Run::from(child.wait_with_output().unwrap())
    }

    /// `ai-proxy kv get KEY` (None when absent).
    fn kv_get(&self, key: &str) -> Option<String> {
        let r = self.run(None, &["kv", "get", key]);
        r.ok().then_some(r.stdout)
    }

    fn encrypt(&self, json_name: &str, out: &str, token: &str) {
        self.run(Some(token), &["vault", "encrypt", "--in", json_name, "--out", out])
            .expect_ok();
    }
}

#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }

    fn expect_ok(&self) -> &Run {
        assert!(self.ok(), "expected success: {self:#?}");
        self
    }

    fn expect_fail(&self) -> &Run {
        assert!(!self.ok() && self.code.is_some(), "expected a failure: {self:#?}");
        self
    }

    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// No token and no provider key in anything printed.
    fn assert_no_secret(&self) {
        let all = self.all();
        for secret in [TOKEN, OTHER_TOKEN, "PROVIDER_SECRET"] {
            assert!(!all.contains(secret), "{secret:?} printed: {self:#?}");
        }
    }
}

fn has_openssl() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

// ----------------------------------------------------------------- vault --

#[test]
fn encrypt_then_decrypt_round_trips_and_never_prints_secrets() {
    let env = Env::new();
    env.write("ai.json", AI_JSON);
    let r = env.run(
        Some(TOKEN),
        &["vault", "encrypt", "--in", "ai.json", "--out", "ai.json.enc"],
    );
    r.expect_ok().assert_no_secret();
    assert!(r.stdout.is_empty(), "{r:#?}");
    let enc = env.read("ai.json.enc");
    assert!(enc.starts_with("U2FsdGVkX1"), "{enc}");
    assert!(enc.lines().all(|l| l.len() <= 64), "{enc}");
    assert!(!enc.contains(PROVIDER_KEY) && !enc.contains("PROVIDER_SECRET"));

    let r = env.run(
        Some(TOKEN),
        &["vault", "decrypt", "--in", "ai.json.enc", "--out", "plain.json"],
    );
    r.expect_ok().assert_no_secret();
    assert_eq!(env.read("plain.json"), AI_JSON);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.path("plain.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "decrypted file must be private");
    }

    // stdin / stdout with '-'.
    let r = env.run_stdin(Some(TOKEN), &["vault", "decrypt", "--in", "-", "--out", "-"], &enc);
    r.expect_ok();
    assert_eq!(r.stdout, AI_JSON);
    let r = env.run_stdin(Some(TOKEN), &["vault", "encrypt", "--in", "-", "--out", "-"], AI_JSON);
    r.expect_ok();
    assert!(r.stdout.starts_with("U2FsdGVkX1"));
    assert_ne!(r.stdout, enc, "a fresh salt every time");

    // The wrong token fails cleanly and writes nothing.
    let r = env.run(
        Some(OTHER_TOKEN),
        &["vault", "decrypt", "--in", "ai.json.enc", "--out", "wrong.json"],
    );
    r.expect_fail().assert_no_secret();
    assert!(r.stderr.starts_with("error: "), "{r:#?}");
    assert!(r.stderr.contains("wrong token"), "{r:#?}");
    assert!(!env.path("wrong.json").exists());
}

#[test]
fn our_vault_opens_with_openssl_and_openssl_vault_opens_with_us() {
    if !has_openssl() {
        eprintln!("skipped: no openssl CLI");
        return;
    }
    let env = Env::new();
    env.write("ai.json", AI_JSON);
    env.encrypt("ai.json", "ai.json.enc", TOKEN);
    let out = Command::new("openssl")
        .args([
            "enc",
            "-d",
            "-aes-256-cbc",
            "-a",
            "-pbkdf2",
            "-iter",
            "100000",
            "-pass",
            "env:X",
        ])
        .arg("-in")
        .arg(env.path("ai.json.enc"))
        .env("X", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), AI_JSON);

    let out = Command::new("openssl")
        .args([
            "enc",
            "-aes-256-cbc",
            "-a",
            "-salt",
            "-pbkdf2",
            "-iter",
            "100000",
            "-pass",
            "env:X",
        ])
        .arg("-in")
        .arg(env.path("ai.json"))
        .arg("-out")
        .arg(env.path("by-openssl.enc"))
        .env("X", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    env.run(
        Some(TOKEN),
        &["vault", "decrypt", "--in", "by-openssl.enc", "--out", "back.json"],
    )
    .expect_ok();
    assert_eq!(env.read("back.json"), AI_JSON);
}

#[test]
fn encrypt_refuses_an_invalid_ai_json_with_every_issue() {
    let env = Env::new();
    env.write(
        "bad.json",
        r#"{"version": 0, "providers": {"Groq": {"keys": [{"key": 7}, {"key": "gsk_PROVIDER_SECRET_9"}], "models": [{}]}}}"#,
    );
    let r = env.run(
        Some(TOKEN),
        &["vault", "encrypt", "--in", "bad.json", "--out", "bad.enc"],
    );
    r.expect_fail().assert_no_secret();
    for path in [
        "version: ",
        "providers.Groq: ",
        "providers.Groq.keys[0].key: ",
        "providers.Groq.models[0].id: ",
    ] {
        assert!(r.stderr.contains(path), "{path} missing: {r:#?}");
    }
    assert!(r.stderr.contains("nothing written"), "{r:#?}");
    assert!(!env.path("bad.enc").exists());

    env.write("notjson.json", "{\"providers\": ");
    let r = env.run(
        Some(TOKEN),
        &["vault", "encrypt", "--in", "notjson.json", "--out", "x.enc"],
    );
    r.expect_fail();
    assert!(r.stderr.contains("is not JSON"), "{r:#?}");
}

#[test]
fn push_refuses_a_vault_made_with_another_token_and_keeps_the_stored_one() {
    let env = Env::new();
    env.write("ai.json", AI_JSON);
    env.encrypt("ai.json", "good.enc", TOKEN);
    env.encrypt("ai.json", "other.enc", OTHER_TOKEN);

    env.run(Some(TOKEN), &["vault", "push", "--file", "good.enc"])
        .expect_ok()
        .assert_no_secret();
    let stored = env.kv_get("vault:ai.json.enc").expect("stored");
    assert_eq!(stored, env.read("good.enc"));
    assert_eq!(env.kv_get("vault:ai.json.enc.previous"), None, "nothing was replaced");

    let r = env.run(Some(TOKEN), &["vault", "push", "--file", "other.enc"]);
    r.expect_fail().assert_no_secret();
    assert!(r.stderr.contains("does not open"), "{r:#?}");
    assert!(r.stderr.contains("nothing stored"), "{r:#?}");
    assert_eq!(env.kv_get("vault:ai.json.enc"), Some(stored));
    assert_eq!(env.kv_get("vault:ai.json.enc.previous"), None);

    // Not a vault at all, and an invalid ai.json: refused too.
    env.write("garbage.enc", "hello\n");
    env.run(Some(TOKEN), &["vault", "push", "--file", "garbage.enc"])
        .expect_fail();
    env.write(
        "invalid.enc",
        &encrypt_unchecked(r#"{"providers": {"g": {"keys": [{"key": 1}]}}}"#, TOKEN),
    );
    let r = env.run(Some(TOKEN), &["vault", "push", "--file", "invalid.enc"]);
    r.expect_fail();
    assert!(r.stderr.contains("providers.g.keys[0].key: must be a string"), "{r:#?}");
    assert_eq!(env.kv_get("vault:ai.json.enc"), Some(env.read("good.enc")));
}

/// A vault of any text (the CLI refuses to make invalid ones).
fn encrypt_unchecked(plain: &str, token: &str) -> String {
    ai_proxy_core::vault::encrypt(plain.as_bytes(), token).unwrap()
}

#[test]
fn push_keeps_the_previous_vault_and_pull_gives_both_back() {
    let env = Env::new();
    env.write("ai.json", AI_JSON);
    env.encrypt("ai.json", "v1.enc", TOKEN);
    env.encrypt("ai.json", "v2.enc", TOKEN);
    let (v1, v2) = (env.read("v1.enc"), env.read("v2.enc"));
    assert_ne!(v1, v2);

    env.run(Some(TOKEN), &["vault", "push", "--file", "v1.enc"]).expect_ok();
    let r = env.run(Some(TOKEN), &["vault", "push", "--file", "v2.enc"]);
    r.expect_ok().assert_no_secret();
    assert!(r.stderr.contains("previous kept"), "{r:#?}");
    assert_eq!(env.kv_get("vault:ai.json.enc"), Some(v2.clone()));
    assert_eq!(env.kv_get("vault:ai.json.enc.previous"), Some(v1.clone()));

    // Pushing the same vault again changes nothing (previous stays v1).
    env.run(Some(TOKEN), &["vault", "push", "--file", "v2.enc"]).expect_ok();
    assert_eq!(env.kv_get("vault:ai.json.enc.previous"), Some(v1.clone()));

    // pull needs no token.
    let r = env.run(None, &["vault", "pull"]);
    r.expect_ok();
    assert_eq!(r.stdout, v2);
    env.run(None, &["vault", "pull", "--out", "pulled.enc"]).expect_ok();
    assert_eq!(env.read("pulled.enc"), v2);
    let r = env.run(None, &["vault", "pull", "--previous", "--out", "-"]);
    assert_eq!(r.expect_ok().stdout, v1);

    // --state-dir elsewhere: nothing there, and no directory created.
    let r = env.run(None, &["vault", "pull", "--state-dir", "elsewhere"]);
    r.expect_fail();
    assert!(!env.path("elsewhere").exists());
}

#[test]
fn check_reports_counts_or_every_issue_and_exits_non_zero_on_problems() {
    let env = Env::new();
    env.write("ai.json", AI_JSON);
    env.encrypt("ai.json", "ai.json.enc", TOKEN);

    let r = env.run(Some(TOKEN), &["vault", "check", "--file", "ai.json.enc"]);
    r.expect_ok().assert_no_secret();
    assert!(r.stdout.starts_with("OK ai.json.enc"), "{r:#?}");
    assert!(r.stdout.contains("2 providers, 2 usable keys, 3 models"), "{r:#?}");
    assert!(r.stdout.contains("groq     1 of 2 keys usable, 2 models"), "{r:#?}");
    assert!(
        r.stdout.contains("mistral  1 of 1 keys usable, 1 model (1 embedding)"),
        "{r:#?}"
    );

    // From the KV (the default source).
    let r = env.run(Some(TOKEN), &["vault", "check"]);
    r.expect_fail();
    assert!(r.stderr.contains("no key-value store"), "{r:#?}");
    env.run(Some(TOKEN), &["vault", "push"]).expect_ok();
    let r = env.run(Some(TOKEN), &["vault", "check"]);
    r.expect_ok().assert_no_secret();
    assert!(r.stdout.starts_with("OK vault:ai.json.enc in "), "{r:#?}");

    // Wrong token.
    let r = env.run(Some(OTHER_TOKEN), &["vault", "check", "--file", "ai.json.enc"]);
    r.expect_fail().assert_no_secret();
    assert!(r.stderr.contains("wrong token"), "{r:#?}");

    // Invalid content: every issue with its path, and a failure.
    let text = encrypt_unchecked(
        r#"{"version": "one", "providers": {"g": {"keys": [{"key": 5}], "models": [{"id": "m", "priority": "high"}]}}}"#,
        TOKEN,
    );
    env.write("invalid.enc", &text);
    let r = env.run(Some(TOKEN), &["vault", "check", "--file", "invalid.enc"]);
    r.expect_fail().assert_no_secret();
    assert!(r.stdout.contains("invalid.enc: 3 problems"), "{r:#?}");
    assert!(r.stdout.contains("  version: "), "{r:#?}");
    assert!(
        r.stdout.contains("  providers.g.keys[0].key: must be a string"),
        "{r:#?}"
    );
    assert!(r.stdout.contains("  providers.g.models[0].priority: "), "{r:#?}");
    assert!(r.stderr.starts_with("error: invalid.enc: 3 problems"), "{r:#?}");

    // A vault that decrypts to something other than JSON is the token's fault.
    env.write("text.enc", &encrypt_unchecked("just text", TOKEN));
    let r = env.run(Some(TOKEN), &["vault", "check", "--file", "text.enc"]);
    r.expect_fail();
    assert!(r.stderr.contains("wrong token or corrupted vault"), "{r:#?}");
}

#[test]
fn the_token_is_never_accepted_as_an_argument() {
    let env = Env::new();
    env.write("ai.json", AI_JSON);
    env.encrypt("ai.json", "ai.json.enc", TOKEN);
    for args in [
        &["vault", "decrypt", "--in", "ai.json.enc", "--out", "out.json", TOKEN][..],
        &["vault", "decrypt", TOKEN, "--in", "ai.json.enc", "--out", "out.json"],
        &[
            "vault",
            "decrypt",
            "--in",
            "ai.json.enc",
            "--out",
            "out.json",
            "--token",
            TOKEN,
        ],
        &[
            "vault",
            "decrypt",
            "--in",
            "ai.json.enc",
            "--out",
            "out.json",
            "--password",
            TOKEN,
        ],
        &["vault", "push", "--file", "ai.json.enc", TOKEN],
        &["vault", "check", "--file", "ai.json.enc", TOKEN],
    ] {
        // No token in the environment: only the argument could give it.
        let r = env.run(None, args);
        r.expect_fail().assert_no_secret();
        assert!(r.stderr.contains("never taken as an argument"), "{r:#?}");
        assert!(!env.path("out.json").exists());
    }
    assert_eq!(env.kv_get("vault:ai.json.enc"), None);

    // No token at all and no terminal: a clear error, nothing written.
    let r = env.run(None, &["vault", "decrypt", "--in", "ai.json.enc", "--out", "out.json"]);
    r.expect_fail();
    assert!(r.stderr.contains("AI_JSON_CRYPTOKEN"), "{r:#?}");
    assert!(!env.path("out.json").exists());
    // --token-env names the variable; an empty variable counts as unset.
    let r = env.run(
        Some(""),
        &["vault", "decrypt", "--in", "ai.json.enc", "--out", "out.json"],
    );
    r.expect_fail();
    let mut c = env.cmd(
        None,
        &[
            "vault",
            "decrypt",
            "--in",
            "ai.json.enc",
            "--out",
            "out.json",
            "--token-env",
            "MY_TOK",
        ],
    );
    let r = Run::from(c.env("MY_TOK", TOKEN).output().unwrap());
    r.expect_ok().assert_no_secret();
    assert_eq!(env.read("out.json"), AI_JSON);
    // The token passed where the variable name goes is not echoed.
    let r = env.run(None, &["vault", "check", "--file", "ai.json.enc", "--token-env", TOKEN]);
    r.expect_fail().assert_no_secret();
}

// ----------------------------------------------------------------- users --

#[test]
fn users_add_prints_the_key_once_and_list_never_shows_it() {
    let env = Env::new();
    let r = env.run(None, &["users", "list"]);
    r.expect_fail();
    assert!(!env.path(".spin").exists(), "list must not create state");

    let r = env.run(
        None,
        &["users", "add", "alice", "--type", "paid", "--owner", "Alice A."],
    );
    r.expect_ok();
    let key = r.stdout.trim().to_string();
    assert_eq!(r.stdout, format!("{key}\n"), "stdout is the key alone");
    assert!(key.starts_with("sk-aiproxy-") && key.len() >= 40, "{key}");
    assert!(!r.stderr.contains(&key), "the key is printed once: {r:#?}");

    let r = env.run(None, &["users", "add", "bob"]);
    let bob_key = r.expect_ok().stdout.trim().to_string();
    assert_ne!(key, bob_key);

    let stored = env.kv_get("users").unwrap();
    let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(value["alice"]["key"], key.as_str());
    assert_eq!(value["alice"]["type"], "paid");
    assert_eq!(value["alice"]["owner"], "Alice A.");

    let r = env.run(None, &["users", "list"]);
    r.expect_ok();
    assert!(!r.all().contains(&key) && !r.all().contains(&bob_key), "{r:#?}");
    assert!(r.stdout.contains("alice  paid  Alice A."), "{r:#?}");
    assert!(r.stdout.contains("bob    -     -"), "{r:#?}");
    let r = env.run(None, &["users", "list", "--json"]);
    r.expect_ok();
    assert!(!r.all().contains(&key) && !r.all().contains("\"key\""), "{r:#?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["alice"]["type"], "paid");

    // An existing name is refused and its key is kept and not printed.
    let r = env.run(None, &["users", "add", "alice"]);
    r.expect_fail();
    assert!(r.stderr.contains("already exists") && !r.all().contains(&key), "{r:#?}");
    assert_eq!(env.kv_get("users").unwrap(), stored);
    // A bad name too.
    env.run(None, &["users", "add", "no spaces"]).expect_fail();
}

#[test]
fn users_import_merges_and_remove_removes() {
    let env = Env::new();
    let alice_key = env
        .run(None, &["users", "add", "alice"])
        .expect_ok()
        .stdout
        .trim()
        .to_string();
    env.run(None, &["users", "add", "bob", "--type", "free"]).expect_ok();

    env.write(
        "users.json",
        r#"{"bob": {"key": "IMPORTED-KEY-BOB-0001", "type": "paid", "rateLimit": {"requests": 10, "windowSeconds": 60}},
            "carol": {"key": "IMPORTED-KEY-CAROL-001", "owner": "Carol"}}"#,
    );
    let r = env.run(None, &["users", "import", "users.json"]);
    r.expect_ok();
    assert!(r.stderr.contains("1 added, 1 replaced, 1 kept (3 users)"), "{r:#?}");
    assert!(!r.all().contains("IMPORTED-KEY"), "{r:#?}");
    let v: serde_json::Value = serde_json::from_str(&env.kv_get("users").unwrap()).unwrap();
    let names: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    assert_eq!(v["alice"]["key"], alice_key.as_str());
    assert_eq!(v["bob"]["key"], "IMPORTED-KEY-BOB-0001");
    assert_eq!(v["bob"]["rateLimit"]["requests"], 10);
    assert!(env.kv_get("users.previous").is_some());

    // Invalid imports are refused with paths and change nothing.
    let before = env.kv_get("users").unwrap();
    env.write(
        "bad.json",
        r#"{"dave": {"key": "short"}, "erin": {"owner": 3, "key": "IMPORTED-KEY-ERIN-0001"}}"#,
    );
    let r = env.run(None, &["users", "import", "bad.json"]);
    r.expect_fail();
    assert!(r.stderr.contains("dave.key: must be at least"), "{r:#?}");
    assert!(r.stderr.contains("erin.owner: must be a string"), "{r:#?}");
    assert!(!r.all().contains("IMPORTED-KEY-ERIN"), "{r:#?}");
    // A key already held by a kept user.
    env.write("dup.json", &format!(r#"{{"frank": {{"key": "{alice_key}"}}}}"#));
    let r = env.run(None, &["users", "import", "dup.json"]);
    r.expect_fail();
    assert!(r.stderr.contains("frank.key: same key as user \"alice\""), "{r:#?}");
    assert!(!r.all().contains(&alice_key), "{r:#?}");
    assert_eq!(env.kv_get("users").unwrap(), before);

    // stdin import.
    let r = env.run_stdin(
        None,
        &["users", "import", "-"],
        r#"{"gina": {"key": "IMPORTED-KEY-GINA-0001"}}"#,
    );
    r.expect_ok();

    env.run(None, &["users", "remove", "bob"]).expect_ok();
    let r = env.run(None, &["users", "remove", "bob"]);
    r.expect_fail();
    assert!(r.stderr.contains("no user \"bob\""), "{r:#?}");
    let r = env.run(None, &["users", "list"]);
    let names: Vec<&str> = r
        .expect_ok()
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(names, ["alice", "carol", "gina"]);
}
