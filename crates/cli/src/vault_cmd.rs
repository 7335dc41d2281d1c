//! `ai-proxy vault encrypt|decrypt|push|pull|check`: the encrypted ai.json
//! (`vault:ai.json.enc`) on disk and in the local key-value store.
//!
//! The files are the text `openssl enc -aes-256-cbc -a -pbkdf2 -iter 100000`
//! reads and writes. Nothing is stored that does not open with the token and
//! validate, and nothing secret is printed: reports give names, counts and
//! JSON paths, never a token or a provider key.

use crate::kv::{KvDb, DB_FILE};
use crate::token::{self, Confirm, DEFAULT_TOKEN_ENV};
use ai_proxy_core::api::{VAULT_KEY, VAULT_PREVIOUS_KEY};
use ai_proxy_core::config::{self, AiConfig, ConfigError, ValidationIssue};
use ai_proxy_core::vault;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::Value;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Largest vault a Spin key-value store accepts (values are limited to 1 MiB).
pub const MAX_VAULT_BYTES: usize = 1024 * 1024;

#[derive(Args)]
pub struct VaultArgs {
    #[command(subcommand)]
    op: VaultOp,
    /// Directory holding sqlite_key_value.db (push, pull, check).
    #[arg(long, global = true, default_value = ".spin")]
    state_dir: PathBuf,
    /// Key-value store label (push, pull, check).
    #[arg(long, global = true, default_value = "default")]
    store: String,
    /// Name of the environment variable holding the vault token; when it is
    /// unset or empty and stdin is a terminal, the token is prompted for.
    #[arg(long, global = true, value_name = "VAR", default_value = DEFAULT_TOKEN_ENV)]
    token_env: String,
    /// Never accepted: only here to refuse it without echoing the value.
    #[arg(long = "token", global = true, hide = true, aliases = ["password", "pass"], value_name = "NEVER")]
    token_arg: Option<String>,
}

#[derive(Subcommand)]
enum VaultOp {
    /// Validate an ai.json and encrypt it (openssl-compatible text).
    Encrypt {
        /// The ai.json to encrypt ('-' for stdin).
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        /// Where to write the vault text ('-' for stdout).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        stray: Stray,
    },
    /// Decrypt a vault file to JSON (written with mode 0600).
    Decrypt {
        /// The vault text ('-' for stdin).
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        /// Where to write the JSON ('-' for stdout).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        stray: Stray,
    },
    /// Check a vault file opens with the token and validates, then store it
    /// in the local KV (the value it replaces is kept as vault:ai.json.enc.previous).
    Push {
        /// The vault text ('-' for stdin).
        #[arg(long, value_name = "FILE", default_value = "ai.json.enc")]
        file: PathBuf,
        #[command(flatten)]
        stray: Stray,
    },
    /// Write the stored vault text (no token needed).
    Pull {
        /// Where to write it ('-' or absent: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Pull vault:ai.json.enc.previous, the value the last push replaced.
        #[arg(long)]
        previous: bool,
        #[command(flatten)]
        stray: Stray,
    },
    /// Decrypt and validate a vault (a file, or the stored one) and report:
    /// providers, usable keys and models, or every problem with its JSON path.
    Check {
        /// The vault text ('-' for stdin); without it, the one in the local KV.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        #[command(flatten)]
        stray: Stray,
    },
}

/// Positional arguments are caught here so that a token typed as one is
/// refused without clap echoing it back.
#[derive(Args)]
struct Stray {
    #[arg(hide = true)]
    stray: Vec<String>,
}

impl VaultOp {
    fn name_and_stray(&self) -> (&'static str, &Stray) {
        match self {
            VaultOp::Encrypt { stray, .. } => ("encrypt", stray),
            VaultOp::Decrypt { stray, .. } => ("decrypt", stray),
            VaultOp::Push { stray, .. } => ("push", stray),
            VaultOp::Pull { stray, .. } => ("pull", stray),
            VaultOp::Check { stray, .. } => ("check", stray),
        }
    }
}

/// Refuses a token given on the command line, without quoting it.
fn refuse_arguments(args: &VaultArgs) -> Result<()> {
    let (name, stray) = args.op.name_and_stray();
    let how = format!(
        "the token is read from the environment variable named by --token-env \
         (default {DEFAULT_TOKEN_ENV}) or prompted for, never taken as an argument"
    );
    if args.token_arg.is_some() {
        bail!("--token is not accepted: {how}");
    }
    if !stray.stray.is_empty() {
        bail!(
            "`vault {name}` takes no positional argument ({} given): {how}",
            stray.stray.len()
        );
    }
    Ok(())
}

pub fn run(args: VaultArgs) -> Result<()> {
    refuse_arguments(&args)?;
    let token_env = args.token_env.as_str();
    match &args.op {
        VaultOp::Encrypt { input, out, .. } => encrypt(input, out, token_env),
        VaultOp::Decrypt { input, out, .. } => decrypt(input, out, token_env),
        VaultOp::Push { file, .. } => push(file, &args.state_dir, &args.store, token_env),
        VaultOp::Pull { out, previous, .. } => pull(out.as_deref(), *previous, &args.state_dir, &args.store),
        VaultOp::Check { file, .. } => check(file.as_deref(), &args.state_dir, &args.store, token_env),
    }
}

// ------------------------------------------------------------- commands --

fn encrypt(input: &Path, out: &Path, token_env: &str) -> Result<()> {
    let plain = read_input(input)?;
    let name = display(input);
    let text = std::str::from_utf8(strip_bom(&plain)).map_err(|_| anyhow!("{name} is not UTF-8 text"))?;
    let value: Value = serde_json::from_str(text).map_err(|e| anyhow!("{name} is not JSON: {e}"))?;
    let mut issues = config::validate(&value);
    if issues.is_empty() {
        if let Err(ConfigError::Invalid(issue)) = config::parse(text) {
            issues.push(issue);
        }
    }
    if !issues.is_empty() {
        eprint!("{}", render_issues(&name, &issues));
        bail!(
            "{name} is not a valid ai.json ({}); nothing written",
            count(issues.len(), "problem")
        );
    }
    let token = token::read(token_env, Confirm::Twice)?;
    let enc = vault::encrypt(&plain, token.expose()).map_err(|e| anyhow!("encrypting {name}: {e}"))?;
    if enc.len() > MAX_VAULT_BYTES {
        eprintln!(
            "warning: the vault is {} bytes; Spin key-value values are limited to {MAX_VAULT_BYTES}, so it cannot be pushed",
            enc.len()
        );
    }
    write_output(out, enc.as_bytes(), false)?;
    eprintln!(
        "encrypted {name} -> {} ({} bytes, etag {})",
        display(out),
        enc.len(),
        vault::etag_of(&enc)
    );
    Ok(())
}

fn decrypt(input: &Path, out: &Path, token_env: &str) -> Result<()> {
    let name = display(input);
    let text = vault_text_of(read_input(input)?, &name)?;
    vault::parse_envelope(&text).map_err(|e| anyhow!("{name}: {e}"))?;
    let token = token::read(token_env, Confirm::Once)?;
    let plain = open_json(&text, token.expose()).map_err(|e| anyhow!("cannot decrypt {name}: {e}"))?;
    let json = plain.strip_prefix('\u{feff}').unwrap_or(&plain);
    let value: Value = serde_json::from_str(json).unwrap_or(Value::Null);
    let issues = config::validate(&value);
    if !issues.is_empty() {
        eprint!("{}", render_issues(&name, &issues));
        eprintln!(
            "warning: {name} decrypts but is not a valid ai.json ({}); written anyway so it can be fixed",
            count(issues.len(), "problem")
        );
    }
    write_output(out, plain.as_bytes(), true)?;
    eprintln!("decrypted {name} -> {}", display(out));
    Ok(())
}

fn push(file: &Path, state_dir: &Path, store: &str, token_env: &str) -> Result<()> {
    let name = display(file);
    let text = vault_text_of(read_input(file)?, &name)?;
    if text.len() > MAX_VAULT_BYTES {
        bail!(
            "{name} is {} bytes; Spin key-value values are limited to {MAX_VAULT_BYTES}; nothing stored",
            text.len()
        );
    }
    vault::parse_envelope(&text).map_err(|e| anyhow!("{name}: {e}; nothing stored"))?;
    let token = token::read(token_env, Confirm::Once)?;
    let summary = match inspect(&text, token.expose()) {
        Err(e) => bail!("{name} does not open with the token from {token_env}: {e}; nothing stored"),
        Ok(Verdict::Invalid(issues)) => {
            eprint!("{}", render_issues(&name, &issues));
            bail!(
                "{name} is not a valid ai.json ({}); nothing stored",
                count(issues.len(), "problem")
            );
        }
        Ok(Verdict::Ok(summary)) => summary,
    };
    let db = KvDb::open(state_dir)?;
    let current = db.get(store, VAULT_KEY)?;
    let etag = vault::etag_of(&text);
    if current.as_deref() == Some(text.as_bytes()) {
        eprintln!(
            "{VAULT_KEY} in {} is already this vault (etag {etag}); nothing changed",
            db.path().display()
        );
        return Ok(());
    }
    if let Some(old) = &current {
        let opens = std::str::from_utf8(old).is_ok_and(|t| open_json(t, token.expose()).is_ok());
        if !opens {
            eprintln!(
                "note: the vault being replaced does not open with this token; the server's \
                 ai_json_cryptoken must be the new token"
            );
        }
        db.set(store, VAULT_PREVIOUS_KEY, old)?;
    }
    db.set(store, VAULT_KEY, text.as_bytes())?;
    eprintln!(
        "stored {name} as {VAULT_KEY} in {} [store {store}]: etag {etag}, {}, {}, {}{}",
        db.path().display(),
        count(summary.providers.len(), "provider"),
        count(summary.usable_keys(), "usable key"),
        count(summary.models(), "model"),
        if current.is_some() {
            format!("; previous kept as {VAULT_PREVIOUS_KEY}")
        } else {
            String::new()
        }
    );
    Ok(())
}

fn pull(out: Option<&Path>, previous: bool, state_dir: &Path, store: &str) -> Result<()> {
    let key = if previous { VAULT_PREVIOUS_KEY } else { VAULT_KEY };
    let db = open_existing_db(state_dir)?;
    let Some(value) = db.get(store, key)? else {
        bail!("no {key} in {} [store {store}]", db.path().display());
    };
    let out = out.unwrap_or(Path::new("-"));
    write_output(out, &value, false)?;
    eprintln!(
        "wrote {key} ({} bytes, etag {}) to {}",
        value.len(),
        vault::etag_of(&String::from_utf8_lossy(&value)),
        display(out)
    );
    Ok(())
}

fn check(file: Option<&Path>, state_dir: &Path, store: &str, token_env: &str) -> Result<()> {
    let (source, text) = match file {
        Some(f) => {
            let name = display(f);
            let text = vault_text_of(read_input(f)?, &name)?;
            (name, text)
        }
        None => {
            let db = open_existing_db(state_dir)?;
            let source = format!("{VAULT_KEY} in {} [store {store}]", db.path().display());
            let Some(value) = db.get(store, VAULT_KEY)? else {
                bail!("no {VAULT_KEY} in {} [store {store}]", db.path().display());
            };
            (source.clone(), vault_text_of(value, &source)?)
        }
    };
    vault::parse_envelope(&text).map_err(|e| anyhow!("{source}: {e}"))?;
    let token = token::read(token_env, Confirm::Once)?;
    let mut issues = Vec::new();
    if text.len() > MAX_VAULT_BYTES {
        issues.push(ValidationIssue::new(
            "(vault)",
            format!(
                "is {} bytes; Spin key-value values are limited to {MAX_VAULT_BYTES}",
                text.len()
            ),
        ));
    }
    match inspect(&text, token.expose())
        .map_err(|e| anyhow!("{source} does not open with the token from {token_env}: {e}"))?
    {
        Verdict::Ok(summary) if issues.is_empty() => {
            print!("{}", render_ok(&source, &vault::etag_of(&text), &summary));
            Ok(())
        }
        Verdict::Ok(_) => report_problems(&source, &issues),
        Verdict::Invalid(found) => {
            issues.extend(found);
            report_problems(&source, &issues)
        }
    }
}

fn report_problems(source: &str, issues: &[ValidationIssue]) -> Result<()> {
    print!("{}", render_issues(source, issues));
    std::io::stdout().flush()?;
    bail!("{source}: {}", count(issues.len(), "problem"))
}

// ------------------------------------------------------- pure inspection --

/// What a vault that opens holds.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub providers: Vec<ProviderSummary>,
}

/// One provider's counts (never its keys).
#[derive(Debug, PartialEq, Eq)]
pub struct ProviderSummary {
    pub name: String,
    pub keys: usize,
    pub usable_keys: usize,
    pub models: usize,
    pub embedding_models: usize,
}

impl Summary {
    pub fn of(config: &AiConfig, now_ms: u64) -> Summary {
        let providers = config
            .providers()
            .map(|(name, p)| ProviderSummary {
                name: name.to_owned(),
                keys: p.keys.len(),
                usable_keys: p.usable_keys(now_ms).len(),
                models: p.models.len(),
                embedding_models: p.models.iter().filter(|m| m.is_embedding()).count(),
            })
            .collect();
        Summary { providers }
    }

    pub fn usable_keys(&self) -> usize {
        self.providers.iter().map(|p| p.usable_keys).sum()
    }

    pub fn models(&self) -> usize {
        self.providers.iter().map(|p| p.models).sum()
    }
}

#[derive(Debug)]
enum Verdict {
    Ok(Summary),
    Invalid(Vec<ValidationIssue>),
}

/// Decrypts to JSON text; any failure is the token's (or a corrupted file).
fn open_json(text: &str, token: &str) -> Result<String, vault::VaultError> {
    let plain = vault::decrypt_to_string(text, token)?;
    // Valid padding happens by chance about once in 256 wrong tokens: JSON
    // is the real proof that the token is right.
    serde_json::from_str::<serde::de::IgnoredAny>(plain.strip_prefix('\u{feff}').unwrap_or(&plain))
        .map_err(|e| vault::VaultError::NotJson(e.to_string()))?;
    Ok(plain)
}

/// Err when the vault does not open with the token; otherwise every
/// validation problem, or the summary when there is none.
fn inspect(text: &str, token: &str) -> Result<Verdict, vault::VaultError> {
    let plain = open_json(text, token)?;
    let json = plain.strip_prefix('\u{feff}').unwrap_or(&plain);
    let value: Value = serde_json::from_str(json).map_err(|e| vault::VaultError::NotJson(e.to_string()))?;
    let issues = config::validate(&value);
    if !issues.is_empty() {
        return Ok(Verdict::Invalid(issues));
    }
    match config::parse(json) {
        Ok(config) => Ok(Verdict::Ok(Summary::of(&config, now_ms()))),
        Err(ConfigError::Invalid(issue)) => Ok(Verdict::Invalid(vec![issue])),
        Err(ConfigError::NotJson(m)) => Err(vault::VaultError::NotJson(m)),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `n thing` / `n things`.
pub fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// The report of a vault that opens and validates.
pub fn render_ok(source: &str, etag: &str, s: &Summary) -> String {
    let mut out = format!(
        "OK {source} (etag {etag}): {}, {}, {}\n",
        count(s.providers.len(), "provider"),
        count(s.usable_keys(), "usable key"),
        count(s.models(), "model")
    );
    let width = s.providers.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in &s.providers {
        let _ = write!(
            out,
            "  {:width$}  {} of {} keys usable, {}",
            p.name,
            p.usable_keys,
            p.keys,
            count(p.models, "model")
        );
        if p.embedding_models > 0 {
            let _ = write!(out, " ({} embedding)", p.embedding_models);
        }
        if p.usable_keys == 0 {
            out.push_str("  warning: no usable key, the provider is not offered");
        } else if p.models == 0 {
            out.push_str("  warning: no model");
        }
        out.push('\n');
    }
    out
}

/// Every problem, one `path: message` a line.
pub fn render_issues(source: &str, issues: &[ValidationIssue]) -> String {
    let mut out = format!("{source}: {}\n", count(issues.len(), "problem"));
    for issue in issues {
        let _ = writeln!(out, "  {issue}");
    }
    out
}

// ------------------------------------------------------------------ I/O --

/// The path as shown in messages (`-` is stdin/stdout).
pub(crate) fn display(path: &Path) -> String {
    path.display().to_string()
}

fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

/// Reads a file, or stdin for `-`.
pub(crate) fn read_input(path: &Path) -> Result<Vec<u8>> {
    if is_stdio(path) {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).context("reading stdin")?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn vault_text_of(bytes: Vec<u8>, name: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| anyhow!("{name} is not vault text (not UTF-8)"))
}

/// Writes a file, or stdout for `-`. A `private` file (decrypted secrets)
/// is made readable by its owner only.
fn write_output(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    if is_stdio(path) {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(bytes).context("writing stdout")?;
        return stdout.flush().context("writing stdout");
    }
    let ctx = || format!("writing {}", path.display());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).with_context(ctx)?;
        }
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).with_context(ctx)?;
    file.write_all(bytes).with_context(ctx)?;
    file.flush().with_context(ctx)
}

/// Opens the KV of a state dir that must already exist (read-only commands
/// must not create an empty `.spin/` by accident).
pub(crate) fn open_existing_db(state_dir: &Path) -> Result<KvDb> {
    let file = state_dir.join(DB_FILE);
    if !file.is_file() {
        bail!(
            "no key-value store at {} (run from the project directory or pass --state-dir)",
            file.display()
        );
    }
    KvDb::open(state_dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        vault: VaultArgs,
    }

    fn parse(args: &[&str]) -> Result<VaultArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("vault").chain(args.iter().copied())).map(|c| c.vault)
    }

    #[test]
    fn flags_and_defaults() {
        let a = parse(&["push"]).unwrap();
        assert_eq!(a.state_dir, Path::new(".spin"));
        assert_eq!(a.store, "default");
        assert_eq!(a.token_env, DEFAULT_TOKEN_ENV);
        assert!(matches!(&a.op, VaultOp::Push { file, .. } if file == Path::new("ai.json.enc")));
        let a = parse(&["check", "--state-dir", "s", "--token-env", "MY_TOKEN"]).unwrap();
        assert_eq!(a.state_dir, Path::new("s"));
        assert_eq!(a.token_env, "MY_TOKEN");
        assert!(matches!(&a.op, VaultOp::Check { file: None, .. }));
        let a = parse(&["--state-dir", "t", "pull", "--previous", "--out", "-"]).unwrap();
        assert_eq!(a.state_dir, Path::new("t"));
        assert!(matches!(&a.op, VaultOp::Pull { previous: true, out: Some(o), .. } if o == Path::new("-")));
        let a = parse(&["encrypt", "--in", "ai.json", "--out", "ai.json.enc"]).unwrap();
        assert!(matches!(&a.op, VaultOp::Encrypt { input, out, .. }
            if input == Path::new("ai.json") && out == Path::new("ai.json.enc")));
        assert!(refuse_arguments(&a).is_ok());
        assert!(parse(&["encrypt", "--in", "ai.json"]).is_err(), "--out is required");
        assert!(parse(&["decrypt", "--out", "x"]).is_err(), "--in is required");
    }

    #[test]
    fn a_token_on_the_command_line_is_refused_without_echo() {
        for args in [
            &["decrypt", "--in", "a", "--out", "b", "s3cret-tok"][..],
            &["push", "s3cret-tok"],
            &["check", "--token", "s3cret-tok"],
            &["encrypt", "--in", "a", "--out", "b", "--password=s3cret-tok"],
            &["pull", "--pass", "s3cret-tok"],
        ] {
            let a = parse(args).unwrap();
            let err = refuse_arguments(&a).unwrap_err().to_string();
            assert!(!err.contains("s3cret"), "{err}");
            assert!(err.contains("never taken as an argument"), "{err}");
        }
    }

    fn summary() -> Summary {
        let json = r#"{"providers":{
            "groq":{"keys":[{"key":"gsk_SECRET_1"},{"key":"gsk_SECRET_2","type":"expired"}],
                    "models":[{"id":"llama"},{"id":"embed","usage":"embedding"}]},
            "openrouter":{"keys":[{"key":"sk-or-SECRET","expiresAt":"2000-01-01T00:00:00Z"}],
                    "models":[{"id":"x"}]},
            "nomodel":{"keys":[{"key":"k-SECRET"}]}}}"#;
        Summary::of(&config::parse(json).unwrap(), 1_700_000_000_000)
    }

    #[test]
    fn summary_counts_usable_keys_and_models() {
        let s = summary();
        assert_eq!(s.providers.len(), 3);
        assert_eq!(
            s.providers[0],
            ProviderSummary {
                name: "groq".into(),
                keys: 2,
                usable_keys: 1,
                models: 2,
                embedding_models: 1
            }
        );
        assert_eq!(s.providers[1].usable_keys, 0);
        assert_eq!(s.usable_keys(), 2);
        assert_eq!(s.models(), 3);
    }

    #[test]
    fn ok_report_has_counts_and_never_a_key() {
        let report = render_ok("ai.json.enc", "\"abc\"", &summary());
        assert_eq!(
            report,
            "OK ai.json.enc (etag \"abc\"): 3 providers, 2 usable keys, 3 models\n\
             \x20 groq        1 of 2 keys usable, 2 models (1 embedding)\n\
             \x20 openrouter  0 of 1 keys usable, 1 model  warning: no usable key, the provider is not offered\n\
             \x20 nomodel     1 of 1 keys usable, 0 models  warning: no model\n"
        );
        assert!(!report.contains("SECRET"));
    }

    #[test]
    fn issues_report_lists_every_path() {
        let issues = vec![
            ValidationIssue::new("providers.groq.keys[0].key", "must be a string"),
            ValidationIssue::new("version", "must be a positive integer"),
        ];
        assert_eq!(
            render_issues("f", &issues),
            "f: 2 problems\n  providers.groq.keys[0].key: must be a string\n  version: must be a positive integer\n"
        );
        assert_eq!(count(1, "problem"), "1 problem");
        assert_eq!(count(0, "model"), "0 models");
    }

    #[test]
    fn inspect_tells_wrong_token_from_invalid_config() {
        let salt = [7u8; 8];
        let good = vault::encrypt_with_salt(br#"{"providers":{"g":{"keys":[{"key":"k1"}]}}}"#, "tok", salt);
        assert!(matches!(inspect(&good, "tok"), Ok(Verdict::Ok(s)) if s.usable_keys() == 1));
        assert!(inspect(&good, "other").unwrap_err().is_wrong_token());
        let bad = vault::encrypt_with_salt(br#"{"version":0,"providers":{"G":{"keys":[{"key":7}]}}}"#, "tok", salt);
        let Ok(Verdict::Invalid(issues)) = inspect(&bad, "tok") else {
            panic!("expected issues");
        };
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert!(paths.contains(&"version"), "{paths:?}");
        assert!(paths.contains(&"providers.G"), "{paths:?}");
        assert!(paths.contains(&"providers.G.keys[0].key"), "{paths:?}");
        let not_json = vault::encrypt_with_salt(b"plain text", "tok", salt);
        assert!(matches!(inspect(&not_json, "tok"), Err(vault::VaultError::NotJson(_))));
    }
}
