//! Self-tests of the harness in tests/common (no host involved), so a
//! failure elsewhere can be trusted to be the product's, not the mock's.

mod common;

use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn mock_records_requests_and_answers_fixed_then_queued_responses() {
    let mock = MockUpstream::start();
    mock.on("/a", MockResponse::text(200, "fixed"));
    mock.enqueue("/a", MockResponse::text(201, "first"));
    mock.enqueue(
        "/a",
        MockResponse::json(429, &json!({"error": "slow down"})).header("retry-after", "7"),
    );

    let send = |path: &str| {
        Call::new("POST", format!("{}{path}", mock.url()))
            .bearer("k1")
            .body("payload")
            .send()
    };
    let r = send("/a?x=1");
    assert_eq!((r.status, r.text().as_str()), (201, "first"));
    let r = send("/a");
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(send("/a").text(), "fixed");
    assert_eq!(send("/a").text(), "fixed");
    let unscripted = send("/b");
    assert_eq!(unscripted.status, 404);
    assert_eq!(unscripted.json()["error"]["code"], "unscripted");

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 5);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/a?x=1");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer k1"));
    assert_eq!(reqs[0].text(), "payload");
    mock.clear();
    assert!(mock.requests().is_empty());
}

#[test]
fn mock_streams_sse_chunks_with_the_scripted_gaps() {
    let mock = MockUpstream::start();
    mock.on(
        "/s",
        MockResponse::chat_stream(MODEL, &["Hel", "lo"], Duration::from_millis(150)),
    );
    let mut s = Call::new("GET", format!("{}/s", mock.url())).open();
    assert_eq!(s.status, 200);
    assert_eq!(s.header("content-type"), Some("text/event-stream"));
    let t0 = Instant::now();
    let first = s.next_chunk().unwrap();
    let first_at = t0.elapsed();
    assert!(
        String::from_utf8_lossy(&first).contains("\"Hel\""),
        "{}",
        String::from_utf8_lossy(&first)
    );
    let (rest, err) = s.read_all();
    assert!(err.is_none(), "{err:?}");
    let rest_at = t0.elapsed();
    let all = String::from_utf8_lossy(&rest);
    assert!(all.contains("\"lo\"") && all.ends_with("data: [DONE]\n\n"), "{all}");
    // Three more events, 150 ms apart, arrived after the first.
    assert!(
        rest_at - first_at >= Duration::from_millis(300),
        "{first_at:?} then {rest_at:?}"
    );
}

#[test]
fn mock_can_fail_mid_stream_and_drop_connections() {
    let mock = MockUpstream::start();
    mock.on(
        "/cut",
        MockResponse::sse(&["data: 1\n\n", "data: 2\n\n"], Duration::from_millis(20)).fail_mid_stream(),
    );
    mock.on("/drop", MockResponse::drop_connection());

    let mut s = Call::new("GET", format!("{}/cut", mock.url())).open();
    assert_eq!(s.status, 200);
    let (got, err) = s.read_all();
    assert_eq!(String::from_utf8_lossy(&got), "data: 1\n\ndata: 2\n\n");
    assert!(err.is_some(), "a cut stream must end in an error, not a clean end");

    assert!(Call::new("GET", format!("{}/drop", mock.url())).try_send().is_err());
    assert_eq!(mock.requests().len(), 2);
}

#[test]
fn mock_delays_the_response_head() {
    let mock = MockUpstream::start();
    mock.on(
        "/slow",
        MockResponse::text(200, "late").delay_head(Duration::from_millis(300)),
    );
    let t0 = Instant::now();
    let r = Call::new("GET", format!("{}/slow", mock.url())).send();
    assert_eq!(r.text(), "late");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    // The request is recorded on arrival, before the head is sent.
    mock.on(
        "/slower",
        MockResponse::text(200, "x").delay_head(Duration::from_secs(5)),
    );
    let short = Call::new("GET", format!("{}/slower", mock.url()))
        .timeout(Duration::from_millis(200))
        .try_send();
    assert!(short.is_err());
    mock.wait_for_requests(2, Duration::from_secs(1));
}

#[test]
fn vault_helpers_round_trip_through_the_openssl_cli() {
    let text = vault_for("http://127.0.0.1:9");
    assert!(text.lines().all(|l| l.len() <= 64), "openssl -a wraps at 64");
    let plain = decrypt_vault(&text, TOKEN).expect("decrypts with the token");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&plain).unwrap(),
        ai_json("http://127.0.0.1:9")
    );
    // Also as one unwrapped line, as a client might send it.
    assert!(decrypt_vault(&text.replace('\n', ""), TOKEN).is_some());
    assert!(decrypt_vault(&text, "wrong-token").is_none());
}

#[test]
fn request_log_lines_are_recognised() {
    assert!(is_request_line("GET / 200 1.09ms"));
    assert!(is_request_line("POST /groq/v1/chat/completions 502 12.50ms"));
    assert!(!is_request_line("ai-proxy: shutting down"));
    assert!(!is_request_line("GET / 200"));
}
