//! Foundation: the real host serving the real component over loopback HTTP —
//! health, error shapes, KV persistence, start-up failure, concurrency,
//! request logs, shutdown, outbound allowlist and users.json import.

mod common;

use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn chat_body() -> serde_json::Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
}

#[test]
fn health_answers_200_with_the_crate_version() {
    let proxy = Proxy::start(ProxyOpts::new());
    let r = proxy.get("/");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").unwrap_or("").starts_with("application/json"));
    let body = r.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["service"], "ai-proxy");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn unknown_route_is_an_openai_shaped_404() {
    let proxy = Proxy::start(ProxyOpts::new());
    for path in ["/nope", "/v2/whatever", "/groq/v1/unknown-endpoint"] {
        let err = proxy.get(path).assert_openai_error(404);
        assert!(!err["message"].as_str().unwrap().is_empty(), "{path}: empty message");
    }
}

#[test]
fn wrong_method_is_an_openai_shaped_405() {
    let proxy = Proxy::start(ProxyOpts::new());
    for (method, path) in [
        ("DELETE", "/"),
        ("POST", "/"),
        ("GET", "/groq/v1/chat/completions"),
        ("POST", "/v1/providers"),
    ] {
        let r = proxy.call(method, path).send();
        let err = r.assert_openai_error(405);
        assert!(
            err["message"].as_str().unwrap().contains(method),
            "{method} {path}: {err}"
        );
    }
}

#[test]
fn kv_values_survive_a_restart_and_kv_list_and_delete_work() {
    let state = StateDir::new();
    state.kv(&["put", "greeting", "hello from kv"]);
    let mut proxy = Proxy::start_in(state, ProxyOpts::new());
    assert_eq!(proxy.get("/").status, 200);

    // Read while stopped, then across a restart on the same state dir.
    let stopped = proxy.stop();
    assert!(!stopped.forced, "host needed a kill: {stopped:?}");
    assert_eq!(proxy.kv(&["get", "greeting"]), "hello from kv");
    proxy.restart();
    assert_eq!(proxy.get("/").status, 200);
    proxy.kv(&["put", "second", "2"]);
    let state = proxy.into_state();
    assert_eq!(state.kv(&["get", "greeting"]), "hello from kv");

    let keys = state.kv(&["list"]);
    let keys: Vec<&str> = keys.lines().collect();
    assert!(
        keys.contains(&"greeting") && keys.contains(&"second"),
        "kv list: {keys:?}"
    );

    state.kv(&["delete", "greeting"]);
    assert!(!state.kv(&["list"]).lines().any(|k| k == "greeting"));
    let missing = state.kv_output(&["get", "greeting"]);
    assert!(!missing.status.success(), "kv get of a deleted key succeeded");
}

#[test]
fn missing_required_variable_fails_fast_naming_it() {
    // Isolated manifest: a developer's .env next to the repo's spin.toml
    // must not supply the token.
    let err = match Proxy::try_start(ProxyOpts::new().no_token().isolated_manifest()) {
        Ok(_) => panic!("the host started without ai_json_cryptoken"),
        Err(e) => e,
    };
    let status = err
        .status
        .unwrap_or_else(|| panic!("the host did not exit: {}\n{}", err.reason, err.stderr));
    assert!(!status.success(), "exit status {status}");
    assert!(err.elapsed < Duration::from_secs(10), "took {:?}", err.elapsed);
    assert!(err.stderr.contains("ai_json_cryptoken"), "stderr: {}", err.stderr);
    assert!(
        err.stderr.contains("SPIN_VARIABLE_AI_JSON_CRYPTOKEN"),
        "stderr: {}",
        err.stderr
    );
}

#[test]
fn serves_32_concurrent_requests() {
    let proxy = Proxy::start(ProxyOpts::new());
    let before = proxy.request_lines().len();
    let barrier = std::sync::Barrier::new(32);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..32)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    proxy.get("/").status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|&s| s == 200), "statuses: {statuses:?}");
    // One log line per request.
    let deadline = Instant::now() + Duration::from_secs(5);
    while proxy.request_lines().len() < before + 32 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(proxy.request_lines().len(), before + 32, "{}", proxy.logs());
}

#[test]
fn one_log_line_per_request_without_header_or_query_values() {
    let vault = vault_for("http://127.0.0.1:9");
    let proxy = Proxy::start(ProxyOpts::new().users(&users()).vault(&vault));
    let secret = "SECRET-XYZ";
    let r = proxy
        .call("GET", "/nope?api_key=QUERY-SECRET-1")
        .bearer(secret)
        .header("x-api-key", "HEADER-SECRET-2")
        .send();
    assert_eq!(r.status, 404);
    // The auth path sees the bearer value (an unknown key: 403); it must
    // not log or echo it either.
    let r = proxy.call("GET", "/v1/providers").bearer(secret).send();
    r.assert_openai_error(403);
    assert!(!r.text().contains(secret), "error echoes the key: {}", r.text());
    let r = proxy.call("GET", "/v1/providers").bearer(USER_KEY).send();
    assert_eq!(r.status, 200, "{}", r.text());

    // stderr is one ordered stream: once the last line is in, all are.
    assert!(
        proxy.wait_for_log("GET /v1/providers 200 ", Duration::from_secs(5)),
        "{}",
        proxy.logs()
    );
    let lines = proxy.request_lines();
    let nope: Vec<_> = lines.iter().filter(|l| l.starts_with("GET /nope ")).collect();
    assert_eq!(nope.len(), 1, "lines: {lines:?}");
    assert!(nope[0].starts_with("GET /nope 404 "), "{}", nope[0]);
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("GET /v1/providers 403 ")).count(),
        1,
        "lines: {lines:?}"
    );
    let logs = proxy.logs();
    for leaked in [secret, "QUERY-SECRET-1", "HEADER-SECRET-2", USER_KEY, TOKEN] {
        assert!(!logs.contains(leaked), "{leaked} appears in the logs:\n{logs}");
    }
}

#[test]
fn sigterm_stops_the_host_within_seconds() {
    let mut proxy = Proxy::start(ProxyOpts::new());
    let port = proxy.port();
    let stopped = proxy.stop();
    assert!(!stopped.forced, "not stopped within {STOP_TIMEOUT:?}");
    assert!(stopped.elapsed < Duration::from_secs(3), "took {:?}", stopped.elapsed);
    use std::os::unix::process::ExitStatusExt;
    assert!(
        stopped.status.success() || stopped.status.signal() == Some(libc::SIGTERM),
        "exit status {:?}",
        stopped.status
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still accepts connections"
    );
}

#[test]
fn outbound_to_a_host_not_allowed_is_refused_with_502_and_never_sent() {
    let mock = MockUpstream::start();
    mock.fallback(MockResponse::chat_completion(MODEL, "should never be sent"));
    let proxy = Proxy::start(
        ProxyOpts::new()
            .no_loopback_outbound()
            .vault(&vault_for(&mock.url()))
            .users(&users()),
    );
    let r = proxy
        .call("POST", "/groq/v1/chat/completions")
        .bearer(USER_KEY)
        .json(&chat_body())
        .send();
    r.assert_openai_error(502);
    assert!(
        !r.text().contains(PROVIDER_KEY),
        "error leaks the provider key: {}",
        r.text()
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(mock.requests().len(), 0, "the mock was reached: {:?}", mock.requests());
}

/// The control for the refusal test: the same vault with loopback allowed
/// does reach the mock, with the provider key.
#[test]
fn outbound_to_an_allowed_loopback_upstream_is_forwarded() {
    let mock = MockUpstream::start();
    mock.on(
        "/openai/v1/chat/completions",
        MockResponse::chat_completion(MODEL, "hello"),
    );
    let proxy = Proxy::start(ProxyOpts::new().vault(&vault_for(&mock.url())).users(&users()));
    let r = proxy
        .call("POST", "/groq/v1/chat/completions")
        .bearer(USER_KEY)
        .json(&chat_body())
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], "hello");
    let reqs = mock.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/openai/v1/chat/completions");
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    assert_eq!(reqs[0].json()["model"], MODEL);
}

#[test]
fn users_json_next_to_the_manifest_is_imported_at_start() {
    let mock = MockUpstream::start();
    let mut proxy = Proxy::start(
        ProxyOpts::new()
            .users_json(&users().to_string())
            .vault(&vault_for(&mock.url())),
    );
    assert!(
        proxy.wait_for_log("imported 1 user(s)", Duration::from_secs(5)),
        "{}",
        proxy.logs()
    );
    let r = proxy.call("GET", "/v1/providers").bearer(USER_KEY).send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("groq"), "providers: {}", r.text());
    assert_eq!(proxy.kv(&["get", "users"]), users().to_string());

    // KV now has users: a restart does not import again.
    proxy.restart();
    assert_eq!(
        proxy.logs().matches("imported 1 user(s)").count(),
        1,
        "{}",
        proxy.logs()
    );
}

/// Exercises the harness's `put_vault_http` against the real route: the
/// uploaded text lands in KV and still decrypts with the token.
#[test]
fn vault_uploaded_with_the_token_is_stored_in_kv() {
    let proxy = Proxy::start(ProxyOpts::new());
    let text = vault_for("http://127.0.0.1:9");
    let r = proxy.put_vault_http(&text);
    assert!((200..300).contains(&r.status), "{} {}", r.status, r.text());
    let stored = proxy.kv(&["get", "vault:ai.json.enc"]);
    let plain = decrypt_vault(&stored, TOKEN).expect("stored vault decrypts");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&plain).unwrap(),
        ai_json("http://127.0.0.1:9")
    );
    assert!(!proxy.logs().contains(TOKEN), "the token appears in the logs");
}
