//! Integration-test harness: the real host binary serving the real
//! component on a free loopback port, a scripted mock upstream, an HTTP
//! client that treats every status as data, and vault/users fixtures.
//!
//! ```ignore
//! mod common;
//! use common::*;
//! let mock = MockUpstream::start();
//! mock.on("/openai/v1/chat/completions", MockResponse::chat_completion(MODEL, "hi"));
//! let proxy = Proxy::start(ProxyOpts::new().vault(vault_for(&mock.url())).users(&users()));
//! let r = proxy.call("POST", "/groq/v1/chat/completions").bearer(USER_KEY).json(&body).send();
//! ```
//!
//! The artifacts are built before `cargo test` (see [`artifacts`]); tests
//! never invoke cargo.

// Every test file compiles this module and uses a different part of it.
#![allow(dead_code, unused_imports)]

pub mod http;
pub mod mock;
pub mod vault;

pub use http::{Call, Resp, Streaming};
pub use mock::{MockBody, MockResponse, MockUpstream, Recorded};
pub use vault::{ai_json, decrypt_vault, encrypt_vault, users, vault_for, MODEL, PROVIDER_KEY, TOKEN, USER_KEY};

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// How long the host may take to print its `Serving` line and answer `GET /`.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the host may take to exit after SIGTERM before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound for one `ai-proxy kv ...` command.
pub const KV_TIMEOUT: Duration = Duration::from_secs(30);

const BUILD_WASM: &str = "cargo build --target wasm32-wasip2 --release -p ai-proxy";
const BUILD_HOST: &str = "cargo build --release -p ai-proxy-cli";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built artifacts the tests run.
#[derive(Clone, Debug)]
pub struct Artifacts {
    pub host: PathBuf,
    pub wasm: PathBuf,
    pub manifest: PathBuf,
}

/// Checks that the host binary and the component exist, and that the
/// component is not older than the sources spin.toml's `build.watch` names
/// (the host would otherwise rebuild it inside the test). Panics with the
/// build commands if not.
pub fn artifacts() -> Artifacts {
    static CHECKED: OnceLock<Result<Artifacts, String>> = OnceLock::new();
    CHECKED
        .get_or_init(check_artifacts)
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn check_artifacts() -> Result<Artifacts, String> {
    let root = repo_root();
    let a = Artifacts {
        host: root.join("target/release/ai-proxy"),
        wasm: root.join("target/wasm32-wasip2/release/ai_proxy.wasm"),
        manifest: root.join("spin.toml"),
    };
    let how = format!(
        "build them first (from {}):\n  {BUILD_WASM}\n  {BUILD_HOST}",
        root.display()
    );
    for p in [&a.host, &a.wasm] {
        if !p.exists() {
            return Err(format!("{} is missing; {how}", p.display()));
        }
    }
    let built = mtime(&a.wasm).unwrap_or(SystemTime::UNIX_EPOCH);
    let manifest = std::fs::read_to_string(&a.manifest).map_err(|e| format!("reading spin.toml: {e}"))?;
    for glob in watch_globs(&manifest) {
        if let Some((t, file)) = newest(&root, &glob) {
            if t > built {
                return Err(format!(
                    "{} is older than {}; {how}\n(if cargo finds nothing to rebuild, `touch` the .wasm: \
                     `ai-proxy up` compares the same mtimes and would run the build itself)",
                    a.wasm.display(),
                    file.display()
                ));
            }
        }
    }
    Ok(a)
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The strings of spin.toml's `watch = [...]` line.
fn watch_globs(manifest: &str) -> Vec<String> {
    manifest
        .lines()
        .find(|l| l.trim_start().starts_with("watch"))
        .and_then(|l| l.split_once('='))
        .map(|(_, v)| v.split('"').skip(1).step_by(2).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Newest file matching `dir/**/*.ext`, `dir/**` or a plain path — the
/// same reading of the globs as the host's staleness check.
fn newest(base: &Path, pattern: &str) -> Option<(SystemTime, PathBuf)> {
    let Some(star) = pattern.find('*') else {
        let p = base.join(pattern);
        return mtime(&p).map(|t| (t, p));
    };
    let suffix = pattern.rsplit('*').next().unwrap_or("");
    let mut best: Option<(SystemTime, PathBuf)> = None;
    let mut stack = vec![base.join(pattern[..star].trim_end_matches('/'))];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for p in entries.flatten().map(|e| e.path()) {
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                if let Some(t) = mtime(&p) {
                    if best.as_ref().is_none_or(|(b, _)| t > *b) {
                        best = Some((t, p));
                    }
                }
            }
        }
    }
    best
}

/// Runs a command with piped output, killing it after `timeout`.
pub fn output_within(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// A temporary state directory (`sqlite_key_value.db`, compile cache),
/// usable with `ai-proxy kv` whether or not a host runs on it.
pub struct StateDir(tempfile::TempDir);

impl Default for StateDir {
    fn default() -> Self {
        Self::new()
    }
}

impl StateDir {
    pub fn new() -> StateDir {
        StateDir(
            tempfile::Builder::new()
                .prefix("ai-proxy-state-")
                .tempdir()
                .expect("temp state dir"),
        )
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// `ai-proxy kv <args> --state-dir <dir>`, whatever its exit status.
    pub fn kv_output(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(artifacts().host);
        cmd.arg("kv").args(args).arg("--state-dir").arg(self.path());
        output_within(&mut cmd, KV_TIMEOUT)
    }

    /// `ai-proxy kv <args>`; panics unless it succeeds; returns stdout.
    pub fn kv(&self, args: &[&str]) -> String {
        let out = self.kv_output(args);
        assert!(
            out.status.success(),
            "ai-proxy kv {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `ai-proxy kv put KEY --file <tmp file holding value>`.
    pub fn kv_put(&self, key: &str, value: &[u8]) {
        let file = tempfile::NamedTempFile::new().expect("temp value file");
        std::fs::write(file.path(), value).expect("write value file");
        self.kv(&["put", key, "--file", &file.path().to_string_lossy()]);
    }

    /// Stores vault text under `vault:ai.json.enc`.
    pub fn put_vault_kv(&self, text: &str) {
        self.kv_put("vault:ai.json.enc", text.as_bytes());
    }

    /// Stores the users object under `users`.
    pub fn put_users_kv(&self, users: &Value) {
        self.kv_put("users", users.to_string().as_bytes());
    }
}

/// How to start a [`Proxy`]. Defaults: token [`TOKEN`], the repo's
/// spin.toml, `--allow-outbound http://127.0.0.1:*`.
#[derive(Clone, Debug)]
pub struct ProxyOpts {
    token: Option<String>,
    env: Vec<(String, String)>,
    allow_loopback: bool,
    args: Vec<String>,
    isolated: bool,
    users_json: Option<String>,
    seed: Vec<(String, Vec<u8>)>,
}

impl Default for ProxyOpts {
    fn default() -> Self {
        Self::new()
    }
}

impl ProxyOpts {
    pub fn new() -> ProxyOpts {
        ProxyOpts {
            token: Some(TOKEN.to_owned()),
            env: Vec::new(),
            allow_loopback: true,
            args: Vec::new(),
            isolated: false,
            users_json: None,
            seed: Vec::new(),
        }
    }

    /// Sets `SPIN_VARIABLE_AI_JSON_CRYPTOKEN` to `token`.
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// Leaves the required token variable unset.
    pub fn no_token(mut self) -> Self {
        self.token = None;
        self
    }

    /// Sets the Spin variable `name` (e.g. `debug`) via `SPIN_VARIABLE_<NAME>`.
    pub fn var(self, name: &str, value: &str) -> Self {
        self.env(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()), value)
    }

    /// Sets a raw environment variable for the host.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Starts without `--allow-outbound http://127.0.0.1:*`, so only
    /// spin.toml's allowed_outbound_hosts are reachable.
    pub fn no_loopback_outbound(mut self) -> Self {
        self.allow_loopback = false;
        self
    }

    /// An extra argument to `ai-proxy up`.
    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_owned());
        self
    }

    /// Serves from a copy of spin.toml in a temp dir (absolute `source`, no
    /// build section), so nothing next to the repo's manifest (`.env`,
    /// `users.json`) is read.
    pub fn isolated_manifest(mut self) -> Self {
        self.isolated = true;
        self
    }

    /// Puts `users.json` with this text next to an isolated manifest copy,
    /// for the host's import at start.
    pub fn users_json(mut self, text: &str) -> Self {
        self.users_json = Some(text.to_owned());
        self.isolated = true;
        self
    }

    /// Writes a KV entry (store `default`) with `ai-proxy kv put` before the
    /// first start.
    pub fn kv(mut self, key: &str, value: &[u8]) -> Self {
        self.seed.push((key.to_owned(), value.to_vec()));
        self
    }

    /// Seeds `vault:ai.json.enc` before start.
    pub fn vault(self, text: &str) -> Self {
        self.kv("vault:ai.json.enc", text.as_bytes())
    }

    /// Seeds `users` before start.
    pub fn users(self, users: &Value) -> Self {
        self.kv("users", users.to_string().as_bytes())
    }
}

/// Why a host did not come up.
#[derive(Debug)]
pub struct StartError {
    pub reason: String,
    /// The exit status, if the host exited on its own.
    pub status: Option<ExitStatus>,
    pub stderr: String,
    pub elapsed: Duration,
}

/// How a host stopped.
#[derive(Debug)]
pub struct Stopped {
    pub status: ExitStatus,
    /// From SIGTERM to exit.
    pub elapsed: Duration,
    /// It did not exit within [`STOP_TIMEOUT`] and was killed.
    pub forced: bool,
}

/// `ai-proxy up` serving the component; stopped (SIGTERM, then kill) on drop.
pub struct Proxy {
    opts: ProxyOpts,
    state: StateDir,
    app_dir: Option<tempfile::TempDir>,
    manifest: PathBuf,
    seeded: bool,
    url: String,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Proxy {
    /// Starts on a fresh state dir; panics (with the host's stderr) if it
    /// does not come up within [`START_TIMEOUT`].
    pub fn start(opts: ProxyOpts) -> Proxy {
        Proxy::start_in(StateDir::new(), opts)
    }

    /// Starts on an existing state dir.
    pub fn start_in(state: StateDir, opts: ProxyOpts) -> Proxy {
        let mut p = Proxy::unstarted(state, opts);
        if let Err(e) = p.launch() {
            panic!(
                "ai-proxy did not start: {} (after {:?}, exit {:?})\n--- stderr ---\n{}",
                e.reason, e.elapsed, e.status, e.stderr
            );
        }
        p
    }

    /// Starts, returning the failure instead of panicking.
    pub fn try_start(opts: ProxyOpts) -> Result<Proxy, StartError> {
        let mut p = Proxy::unstarted(StateDir::new(), opts);
        p.launch().map(|()| p)
    }

    fn unstarted(state: StateDir, opts: ProxyOpts) -> Proxy {
        let a = artifacts();
        let (app_dir, manifest) = if opts.isolated {
            let dir = tempfile::Builder::new()
                .prefix("ai-proxy-app-")
                .tempdir()
                .expect("temp app dir");
            let manifest = dir.path().join("spin.toml");
            std::fs::write(&manifest, isolated_manifest(&a)).expect("write spin.toml copy");
            if let Some(users) = &opts.users_json {
                std::fs::write(dir.path().join("users.json"), users).expect("write users.json");
            }
            (Some(dir), manifest)
        } else {
            (None, a.manifest.clone())
        };
        Proxy {
            opts,
            state,
            app_dir,
            manifest,
            seeded: false,
            url: String::new(),
            child: None,
            log: Arc::default(),
            readers: Vec::new(),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(artifacts().host);
        cmd.arg("up")
            .arg("--from")
            .arg(&self.manifest)
            .args(["--listen", "127.0.0.1:0"])
            .arg("--state-dir")
            .arg(self.state.path());
        if self.opts.allow_loopback {
            cmd.args(["--allow-outbound", "http://127.0.0.1:*"]);
        }
        cmd.args(&self.opts.args);
        // Only what the test sets: no Spin variable leaks in from the shell.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("SPIN_VARIABLE_") {
                cmd.env_remove(k);
            }
        }
        if let Some(t) = &self.opts.token {
            cmd.env("SPIN_VARIABLE_AI_JSON_CRYPTOKEN", t);
        }
        cmd.envs(self.opts.env.iter().map(|(k, v)| (k, v)));
        // A relative default (e.g. `.spin`) must never land in the repo.
        cmd.current_dir(self.state.path());
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    fn launch(&mut self) -> Result<(), StartError> {
        assert!(self.child.is_none(), "already running");
        if !self.seeded {
            for (k, v) in &self.opts.seed {
                self.state.kv_put(k, v);
            }
            self.seeded = true;
        }
        let started = Instant::now();
        let log_start = self.log.lock().unwrap().len();
        let mut child = self.command().spawn().expect("spawn ai-proxy up");

        let log = self.log.clone();
        let stderr = child.stderr.take().unwrap();
        self.readers.push(std::thread::spawn(move || {
            let mut r = BufReader::new(stderr);
            let mut line = Vec::new();
            while matches!(r.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                log.lock().unwrap().push_str(&String::from_utf8_lossy(&line));
                line.clear();
            }
        }));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        self.readers.push(std::thread::spawn(move || {
            // Keep draining after the URL so the host never blocks on stdout.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("Serving ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        }));
        self.child = Some(child);

        let fail = |p: &mut Proxy, reason: String| {
            let mut child = p.child.take().unwrap();
            let status = match child.try_wait() {
                Ok(Some(s)) => Some(s),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    None
                }
            };
            p.join_readers();
            let stderr = p.log.lock().unwrap()[log_start..].to_owned();
            Err(StartError {
                reason,
                status,
                stderr,
                elapsed: started.elapsed(),
            })
        };

        let deadline = started + START_TIMEOUT;
        let url = loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(url) => break url,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stdout closed: the host is exiting; give it a moment.
                    let child = self.child.as_mut().unwrap();
                    let until = Instant::now() + STOP_TIMEOUT;
                    while child.try_wait().ok().flatten().is_none() && Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    return fail(self, "the host exited before printing `Serving http://...`".into());
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(_)) = self.child.as_mut().unwrap().try_wait() {
                        return fail(self, "the host exited before printing `Serving http://...`".into());
                    }
                    if Instant::now() > deadline {
                        return fail(self, format!("no `Serving` line within {START_TIMEOUT:?}"));
                    }
                }
            }
        };
        self.url = url;

        // Ready means answering, not only listening.
        let probes_logged = |p: &Proxy| p.request_lines().iter().filter(|l| l.starts_with("GET / 200 ")).count();
        let logged_before = probes_logged(self);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return fail(
                    self,
                    format!("GET {}/ did not answer 200 within {START_TIMEOUT:?}", self.url),
                );
            }
            let probe = Call::new("GET", format!("{}/", self.url))
                .timeout(left.min(Duration::from_secs(5)))
                .try_send();
            if matches!(probe, Ok(ref r) if r.status == 200) {
                // Wait for the probe's log line, so a test counting request
                // lines right after start does not race it.
                let until = Instant::now() + STOP_TIMEOUT;
                while probes_logged(self) == logged_before && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(5));
                }
                return Ok(());
            }
            if let Ok(Some(_)) = self.child.as_mut().unwrap().try_wait() {
                return fail(self, "the host exited while starting".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn join_readers(&mut self) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }

    /// SIGTERM, then wait up to [`STOP_TIMEOUT`], then kill. Keeps the state dir.
    pub fn stop(&mut self) -> Stopped {
        let mut child = self.child.take().expect("the host is not running");
        let t0 = Instant::now();
        // SAFETY: plain syscall on our own child's pid, which it still holds
        // (not reaped yet, so the pid cannot have been reused).
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let mut forced = false;
        let status = loop {
            if let Some(s) = child.try_wait().expect("try_wait") {
                break s;
            }
            if t0.elapsed() > STOP_TIMEOUT {
                forced = true;
                let _ = child.kill();
                break child.wait().expect("wait after kill");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = t0.elapsed();
        self.join_readers();
        Stopped {
            status,
            elapsed,
            forced,
        }
    }

    /// Stops (if running) and starts again on the same state dir and options.
    /// The port changes; KV seeds from the options are not written again.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        if let Err(e) = self.launch() {
            panic!(
                "ai-proxy did not restart: {} (exit {:?})\n--- stderr ---\n{}",
                e.reason, e.status, e.stderr
            );
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// `http://127.0.0.1:PORT` of the current run.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in url")
    }

    pub fn state(&self) -> &StateDir {
        &self.state
    }

    /// The spin.toml being served (the repo's, or a temp copy).
    pub fn manifest(&self) -> &Path {
        &self.manifest
    }

    /// A request to `path` on this host.
    pub fn call(&self, method: &str, path: &str) -> Call {
        Call::new(method, format!("{}{path}", self.url))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.call("GET", path).send()
    }

    /// `PUT /ai.json.enc` with the crypto token.
    pub fn put_vault_http(&self, text: &str) -> Resp {
        let token = self.opts.token.clone().unwrap_or_default();
        self.call("PUT", "/ai.json.enc")
            .bearer(&token)
            .header("content-type", "text/plain")
            .body(text)
            .send()
    }

    pub fn kv(&self, args: &[&str]) -> String {
        self.state.kv(args)
    }

    pub fn put_vault_kv(&self, text: &str) {
        self.state.put_vault_kv(text)
    }

    pub fn put_users_kv(&self, users: &Value) {
        self.state.put_users_kv(users)
    }

    /// Everything the host wrote to stderr (all runs so far).
    pub fn logs(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The per-request lines: `METHOD /path STATUS 1.23ms`.
    pub fn request_lines(&self) -> Vec<String> {
        self.logs()
            .lines()
            .filter(|l| is_request_line(l))
            .map(str::to_owned)
            .collect()
    }

    /// Waits until stderr contains `needle`; false after `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log.lock().unwrap().contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops and hands back the state dir (for a later `start_in`).
    pub fn into_state(mut self) -> StateDir {
        if self.child.is_some() {
            self.stop();
        }
        let state = std::mem::take(&mut self.state);
        drop(self);
        state
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Runs on panics too: never leave a host behind.
        if self.child.is_some() {
            self.stop();
        }
    }
}

/// `METHOD /path STATUS 1.23ms`, as the host logs each request.
pub fn is_request_line(line: &str) -> bool {
    let parts: Vec<&str> = line.split(' ').collect();
    matches!(parts.as_slice(), [m, p, s, t]
        if !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase())
        && p.starts_with('/')
        && s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit())
        && t.strip_suffix("ms").is_some_and(|n| n.parse::<f64>().is_ok()))
}

/// The repo's spin.toml with an absolute `source` and no build section, so
/// a copy in another directory serves the built component and never builds.
fn isolated_manifest(a: &Artifacts) -> String {
    let text = std::fs::read_to_string(&a.manifest).expect("read spin.toml");
    let mut out = String::new();
    let (mut in_build, mut sources) = (false, 0);
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_build = t.starts_with("[component.") && t.ends_with(".build]");
        }
        if in_build {
            continue;
        }
        if t.starts_with("source") && t.contains('=') {
            out.push_str(&format!("source = \"{}\"\n", a.wasm.display()));
            sources += 1;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert_eq!(sources, 1, "expected one `source =` line in spin.toml");
    out
}
