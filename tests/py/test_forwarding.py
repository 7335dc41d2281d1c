"""Forwarding (issue 4): exact upstream URL, headers and body per mode, the
key pool (round-robin, expiry, failover), errors and timeouts, streaming
pass-through, request validation and limits, CORS, x-request-id, rate
limiting and the per-request log line."""
from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlparse

import pytest

from conftest import CannedResponse, RawSocketMock, chat_completion, closed_port
from helpers import (
    ACCOUNT, AIG_TOKEN, ALICE_KEY, BOB_KEY, EXPIRED_USER_KEY, FUTURE, PAST, assert_openai_error, chat_body,
    direct, gateway, key, model, sse_events, stream_lines, users, vault, wait_for_log,
)

GATEWAY_KEY = "provider-gateway-key-77"
PROVIDER_KEYS = [
    "direct-key-1", "trail-key-1", "gsk-fwd-1", "gwkey-key-1", "sk-openai-fwd-1", "rr-key-1", "rr-key-2", "rr-key-3",
    "exp-key-typed", "exp-key-past", "exp-key-good-1", "exp-key-good-2", "fo-key-1", "fo-key-2", "rest-a-1", "rest-a-2", "rest-key-1", "rest-key-2", "af-key-1",
    "af-key-2", "af-key-3", "down-key-1", "stream-key-1", "mid-key-1", "endless-key-1", "prio-key-1",
]
ALLOWED_UPSTREAM_HEADERS = {"host", "content-type", "content-length", "authorization", "accept",
                            "cf-aig-authorization"}
MID_CHUNKS = [b'data: {"choices":[{"delta":{"content":"one "}}]}\n\n',
              b'data: {"choices":[{"delta":{"content":"two "}}]}\n\n']


def _midstream_script(conn, head, body):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
    for c in MID_CHUNKS:
        conn.sendall(f"{len(c):x}\r\n".encode() + c + b"\r\n")
        time.sleep(0.1)
    # ...and the connection closes without the terminating 0-length chunk.


@pytest.fixture(scope="module")
def raw_mock():
    m = RawSocketMock(_midstream_script)
    yield m
    m.close()


class EndlessStream:
    """Raw upstream that streams an SSE event every 0.1 s for up to 10 s and
    records when writing fails (the proxy dropped the upstream connection)."""

    def __init__(self):
        self.broke_after: float | None = None
        self.mock = RawSocketMock(self._script)

    def _script(self, conn, head, body):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < 10:
                c = b'data: {"choices":[{"delta":{"content":"tick "}}]}\n\n'
                conn.sendall(f"{len(c):x}\r\n".encode() + c + b"\r\n")
                time.sleep(0.1)
        except OSError:
            self.broke_after = time.monotonic() - t0


@pytest.fixture(scope="module")
def endless():
    e = EndlessStream()
    yield e
    e.mock.close()


@pytest.fixture(scope="module")
def srv(make_server, module_upstream, raw_mock, endless):
    u = module_upstream.url
    gw = f"{u}/v1/{{account}}/default/compat"
    v = vault({
        "direct": direct(f"{u}/openai/v1", ["direct-key-1"], [model("m-direct"), model("e-direct", usage="embedding")]),
        "trailing": direct(f"{u}/trail/v1/chat/completions", ["trail-key-1"]),
        "groq": gateway(gw, "groq", ["gsk-fwd-1"], [model("special", gatewayPrefix="workers-ai"),
                                                     model("llama-3.3-70b-versatile")]),
        "gwkey": gateway(gw, "custom-gwkey", ["gwkey-key-1"], gatewayKey=GATEWAY_KEY),
        "openai": gateway(gw, "openai", ["sk-openai-fwd-1"], [model("text-embedding-3-small", usage="embedding")]),
        "rr": direct(f"{u}/rr/v1", ["rr-key-1", "rr-key-2", "rr-key-3"]),
        "exp": direct(f"{u}/exp/v1", [key("exp-key-typed", type="expired"), key("exp-key-past", expiresAt=PAST),
                                      key("exp-key-good-1"), key("exp-key-good-2", expiresAt=FUTURE)]),
        "fo": direct(f"{u}/fo/v1", ["fo-key-1", "fo-key-2"]),
        "rest": direct(f"{u}/rest/v1", ["rest-a-1", "rest-a-2"]),
        "rest2": direct(f"{u}/rest2/v1", ["rest-key-1", "rest-key-2"]),
        "allfail": direct(f"{u}/allfail/v1", ["af-key-1", "af-key-2", "af-key-3"]),
        "down": direct(f"http://127.0.0.1:{closed_port()}/v1", ["down-key-1"]),
        "stream": direct(f"{u}/stream/v1", ["stream-key-1"]),
        "midfail": direct(f"{raw_mock.url}/v1", ["mid-key-1"]),
        "endless": direct(f"{endless.mock.url}/v1", ["endless-key-1"]),
        "prio": direct(f"{u}/prio/v1", ["prio-key-1"], [model("third", priority=3), model("first", priority=1),
                                                         model("second", priority=2)]),
    })
    return make_server(users=users(), vault=v,
                       env={"cloudflare_account_id": ACCOUNT, "cloudflare_aig_token": AIG_TOKEN})


def post(srv, path, body, headers=None, user=ALICE_KEY):
    return srv.request("POST", path, body, headers, auth=user)


def only_request(upstream):
    assert len(upstream.requests) == 1, [(q.method, q.path) for q in upstream.requests]
    return upstream.requests[0]


# The Workers platform adds `CF-Worker: <zone>` to every subrequest after the
# Worker's fetch (Cloudflare in production, miniflare's outbound service under
# wrangler dev): outside the Worker's control, and nothing from the client.
PLATFORM_UPSTREAM_HEADERS = {"up": set(), "worker": {"cf-worker"}}


def assert_clean_headers(q, srv):
    extra = set(q.headers) - ALLOWED_UPSTREAM_HEADERS - PLATFORM_UPSTREAM_HEADERS[srv.target]
    assert not extra, f"unexpected upstream headers {extra}"
    assert q.header("content-type") == "application/json"


# --------------------------------------------------------------------------- URL, headers, body per mode
def test_direct_mode_chat_goes_to_endpoint_with_model_unchanged(srv, upstream):
    r = post(srv, "/direct/v1/chat/completions", chat_body("m-direct"))
    assert r.status == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "Hello from the mock upstream."
    q = only_request(upstream)
    assert (q.method, q.path) == ("POST", "/openai/v1/chat/completions")
    assert q.json() == chat_body("m-direct")
    assert q.header("authorization") == "Bearer direct-key-1"
    assert q.header("cf-aig-authorization") is None, "no gateway header in direct mode"
    assert_clean_headers(q, srv)


def test_direct_mode_embeddings_goes_to_endpoint_embeddings(srv, upstream):
    r = post(srv, "/direct/v1/embeddings", {"model": "e-direct", "input": ["a", "b"]})
    assert r.status == 200, r.text
    assert len(r.json()["data"]) == 2
    q = only_request(upstream)
    assert q.path == "/openai/v1/embeddings"
    assert q.json() == {"model": "e-direct", "input": ["a", "b"]}
    assert q.header("authorization") == "Bearer direct-key-1"


def test_direct_endpoint_with_trailing_chat_completions_is_tolerated(srv, upstream):
    assert post(srv, "/trailing/v1/chat/completions", chat_body("t")).status == 200
    assert post(srv, "/trailing/v1/embeddings", {"model": "t-e", "input": "x"}).status == 200
    assert [q.path for q in upstream.requests] == ["/trail/v1/chat/completions", "/trail/v1/embeddings"]


def test_gateway_mode_url_prefix_and_headers(srv, upstream):
    r = post(srv, "/groq/v1/chat/completions", chat_body("llama-3.3-70b-versatile"))
    assert r.status == 200, r.text
    q = only_request(upstream)
    assert q.path == f"/v1/{ACCOUNT}/default/compat/chat/completions"
    assert q.json()["model"] == "groq/llama-3.3-70b-versatile"
    assert q.header("cf-aig-authorization") == f"Bearer {AIG_TOKEN}"
    assert q.header("authorization") == "Bearer gsk-fwd-1"
    assert_clean_headers(q, srv)


def test_gateway_provider_gateway_key_wins_over_the_variable(srv, upstream):
    assert post(srv, "/gwkey/v1/chat/completions", chat_body("some-model")).status == 200
    q = only_request(upstream)
    assert q.header("cf-aig-authorization") == f"Bearer {GATEWAY_KEY}"
    assert q.header("authorization") == "Bearer gwkey-key-1"
    assert q.json()["model"] == "custom-gwkey/some-model"


def test_gateway_header_is_omitted_when_neither_token_nor_gateway_key_is_set(make_fresh_server, upstream):
    v = vault({"groq": gateway(f"{upstream.url}/v1/{{account}}/default/compat", "groq", ["gsk-noaig-1"])})
    s = make_fresh_server(users=users(), vault=v, env={"cloudflare_account_id": ACCOUNT})
    assert post(s, "/groq/v1/chat/completions", chat_body("llama")).status == 200
    q = only_request(upstream)
    assert q.path == f"/v1/{ACCOUNT}/default/compat/chat/completions"
    assert "cf-aig-authorization" not in q.headers
    assert q.header("authorization") == "Bearer gsk-noaig-1"


def test_listed_model_gateway_prefix_is_used(srv, upstream):
    assert post(srv, "/groq/v1/chat/completions", chat_body("special")).status == 200
    assert only_request(upstream).json()["model"] == "workers-ai/special"


def test_model_already_prefixed_is_not_prefixed_twice(srv, upstream):
    assert post(srv, "/groq/v1/chat/completions", chat_body("groq/llama-3.1-8b-instant")).status == 200
    assert only_request(upstream).json()["model"] == "groq/llama-3.1-8b-instant"


@pytest.mark.parametrize("sent", ["text-embedding-3-small", "openai/text-embedding-3-small"])
def test_gateway_embeddings_use_the_provider_route_unprefixed(srv, upstream, sent):
    r = post(srv, "/openai/v1/embeddings", {"model": sent, "input": "hello"})
    assert r.status == 200, r.text
    q = only_request(upstream)
    assert q.path == f"/v1/{ACCOUNT}/default/openai/embeddings"
    assert q.json() == {"model": "text-embedding-3-small", "input": "hello"}
    assert q.header("authorization") == "Bearer sk-openai-fwd-1"
    assert q.header("cf-aig-authorization") == f"Bearer {AIG_TOKEN}"


def test_gateway_embeddings_for_groq_are_400_embeddings_unsupported(srv, upstream):
    r = post(srv, "/groq/v1/embeddings", {"model": "nomic-embed-text", "input": "x"})
    assert_openai_error(r, 400, "embeddings_unsupported")
    assert upstream.requests == []


RICH_BODY = (
    b'{ "messages" : [{"role":"user","content":[{"type":"text","text":"What is in this image?"},'
    b'{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==","detail":"low"}}]}],\n'
    b'  "model":"llama-3.3-70b-versatile",  "tools":[{"type":"function","function":{"name":"get_weather",'
    b'"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],'
    b' "tool_choice":"auto", "stream_options":{"include_usage":true}, "temperature":0.70,'
    b' "x_vendor_field":{"nested":[1,2.50,"\\u00e9",null]}, "seed": 1e3 }'
)


def test_body_is_forwarded_byte_for_byte_except_model_in_gateway_mode(srv, upstream):
    r = post(srv, "/groq/v1/chat/completions", RICH_BODY, {"Content-Type": "application/json"})
    assert r.status == 200, r.text
    q = only_request(upstream)
    expected = RICH_BODY.replace(b'"llama-3.3-70b-versatile"', b'"groq/llama-3.3-70b-versatile"')
    assert q.body == expected, "every byte outside the model value is unchanged"
    sent, got = json.loads(RICH_BODY), q.json()
    assert got.pop("model") == "groq/llama-3.3-70b-versatile"
    sent.pop("model")
    assert got == sent


def test_body_is_forwarded_unchanged_in_direct_mode(srv, upstream):
    body = RICH_BODY.replace(b"llama-3.3-70b-versatile", b"m-direct")
    assert post(srv, "/direct/v1/chat/completions", body, {"Content-Type": "application/json"}).status == 200
    assert only_request(upstream).body == body


def test_client_authorization_and_hop_by_hop_headers_never_go_upstream(srv, upstream):
    u = urlparse(srv.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
    try:
        conn.request("POST", "/direct/v1/chat/completions", body=json.dumps(chat_body("m-direct")), headers={
            "Authorization": f"Bearer {ALICE_KEY}", "Content-Type": "text/plain; charset=utf-8",
            "Connection": "keep-alive, X-Foo", "X-Foo": "1", "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "Basic c2VjcmV0OnNlY3JldA==", "X-Other-Client-Header": "nope",
        })
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
    finally:
        conn.close()
    q = only_request(upstream)
    assert q.header("authorization") == "Bearer direct-key-1"
    assert all(ALICE_KEY not in v for v in q.headers.values())
    for name in ("x-foo", "proxy-authorization", "keep-alive", "x-other-client-header"):
        assert name not in q.headers, q.headers
    assert "x-foo" not in q.headers.get("connection", "").lower()
    assert_clean_headers(q, srv)


def test_models_list_priority_order_is_vault_order(srv):
    r = srv.request("GET", "/prio/v1/models", auth=ALICE_KEY)
    assert r.status == 200
    assert [m["id"] for m in r.json()["data"]] == ["third", "first", "second"]


# --------------------------------------------------------------------------- key pool
def test_expired_keys_are_never_used(srv, upstream):
    for _ in range(10):
        assert post(srv, "/exp/v1/chat/completions", chat_body("m")).status == 200
    used = [q.header("authorization") for q in upstream.requests]
    assert len(used) == 10
    assert set(used) == {"Bearer exp-key-good-1", "Bearer exp-key-good-2"}
    lines = wait_for_log(srv, lambda line: "provider=exp " in line, min_count=10)
    assert len(lines) == 10, lines
    assert all("key=#2" in line or "key=#3" in line for line in lines), lines


def test_round_robin_cycles_over_three_keys(srv, upstream):
    for _ in range(6):
        assert post(srv, "/rr/v1/chat/completions", chat_body("m")).status == 200
    used = [q.header("authorization").removeprefix("Bearer ") for q in upstream.requests]
    assert used == ["rr-key-1", "rr-key-2", "rr-key-3", "rr-key-1", "rr-key-2", "rr-key-3"]


def test_failover_on_429_uses_the_next_key_and_client_sees_only_the_success(srv, upstream):
    calls = []

    def handler(req):
        calls.append(req.header("authorization"))
        if len(calls) == 1:
            return CannedResponse(429, json={"error": {"message": "rate limited by mock", "type": "rate_limit"}},
                                  headers={"Retry-After": "1"})
        return CannedResponse(200, json=chat_completion("m", content="after failover"))

    upstream.set_response("POST", "/fo/v1/chat/completions", handler=handler)
    r = post(srv, "/fo/v1/chat/completions", chat_body("m"))
    assert r.status == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "after failover"
    assert "rate limited by mock" not in r.text
    assert len(upstream.requests) == 2
    assert sorted(calls) == ["Bearer fo-key-1", "Bearer fo-key-2"], "each key at most once"
    assert r.headers.get("x-ai-proxy-attempts") in (None, "2")


@pytest.mark.parametrize("status", [401, 403, 500, 502, 503, 504])
def test_failover_on_other_retryable_statuses(srv, upstream, status):
    calls = []

    def handler(req):
        calls.append(req.header("authorization"))
        if len(calls) == 1:
            return CannedResponse(status, json={"error": {"message": f"mock says {status}"}})
        return CannedResponse(200, json=chat_completion("m", content=f"recovered from {status}"))

    upstream.set_response("POST", "/fo/v1/chat/completions", handler=handler)
    r = post(srv, "/fo/v1/chat/completions", chat_body("m"))
    assert r.status == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == f"recovered from {status}"
    assert len(calls) == 2 and calls[0] != calls[1]


@pytest.mark.parametrize("status", [400, 404, 422])
def test_non_retryable_upstream_error_is_passed_through_without_trying_another_key(srv, upstream, status):
    upstream.set_response("POST", "/rest/v1/chat/completions", status=status,
                          json={"error": {"message": f"bad request #{status}", "type": "invalid_request_error"}},
                          headers={"x-request-id": f"up-{status}"})
    r = post(srv, "/rest/v1/chat/completions", chat_body("m"))
    assert r.status == status
    assert r.json() == {"error": {"message": f"bad request #{status}", "type": "invalid_request_error"}}
    assert r.headers.get("x-request-id") == f"up-{status}"
    assert len(upstream.requests) == 1


def test_throttled_key_rests_and_is_not_retried_first(srv, upstream):
    def handler(req):
        if req.header("authorization") == "Bearer rest-key-1":
            return CannedResponse(429, json={"error": {"message": "slow down"}}, headers={"Retry-After": "60"})
        return CannedResponse(200, json=chat_completion("m"))

    upstream.set_response("POST", "/rest2/v1/chat/completions", handler=handler)
    for _ in range(4):
        assert post(srv, "/rest2/v1/chat/completions", chat_body("m")).status == 200
    used = [q.header("authorization").removeprefix("Bearer ") for q in upstream.requests]
    assert used.count("rest-key-1") == 1, f"a key answered 429 (Retry-After: 60) must rest: {used}"
    assert used.count("rest-key-2") == 4


def test_all_keys_failing_returns_the_last_upstream_answer_with_attempts(srv, upstream):
    n = []

    def handler(req):
        n.append(1)
        return CannedResponse(503, json={"error": {"message": f"overloaded #{len(n)}", "type": "server_error"}})

    upstream.set_response("POST", "/allfail/v1/chat/completions", handler=handler)
    r = post(srv, "/allfail/v1/chat/completions", chat_body("m"))
    assert r.status == 503
    assert r.json() == {"error": {"message": "overloaded #3", "type": "server_error"}}
    assert r.headers.get("x-ai-proxy-attempts") == "3"
    assert sorted(q.header("authorization") for q in upstream.requests) == [
        "Bearer af-key-1", "Bearer af-key-2", "Bearer af-key-3"]


def test_upstream_unreachable_is_502_openai_shaped(srv, upstream):
    r = post(srv, "/down/v1/chat/completions", chat_body("m"))
    assert_openai_error(r, 502)
    assert "down-key-1" not in r.text


@pytest.fixture(scope="module")
def timeout_srv(make_server, module_upstream):
    v = vault({"slow": direct(f"{module_upstream.url}/slow/v1", ["slow-key-1"])})
    # A short connect timeout too: the Worker cannot tell connecting from waiting
    # for the head and races the head against connect + first byte (worker/README.md).
    return make_server(users=users(), vault=v,
                       env={"upstream_connect_timeout_ms": "500", "upstream_first_byte_timeout_ms": "500",
                            "upstream_idle_timeout_ms": "500"})


def test_first_byte_timeout_is_504(timeout_srv, upstream):
    upstream.set_response("POST", "/slow/v1/chat/completions", json=chat_completion("m"), delay=3)
    t0 = time.monotonic()
    r = post(timeout_srv, "/slow/v1/chat/completions", chat_body("m"))
    elapsed = time.monotonic() - t0
    assert_openai_error(r, 504)
    assert elapsed < 2.5, f"timed out after {elapsed:.2f}s, not ~0.5s"
    assert "slow-key-1" not in r.text


def test_idle_timeout_between_stream_chunks_ends_with_an_error_event(timeout_srv, upstream):
    # The head goes out at once; the first event only after 1.2 s (> 0.5 s idle limit).
    upstream.set_response("POST", "/slow/v1/chat/completions", sse=STREAM_EVENTS[:1], delay=1.2)
    body = json.dumps(chat_body("m", stream=True)).encode()
    status, headers, lines = stream_lines(timeout_srv.url, "/slow/v1/chat/completions", body,
                                          {"Authorization": f"Bearer {ALICE_KEY}"})
    assert status == 200
    events = sse_events(lines)
    assert len(events) == 1, events
    assert json.loads(events[0])["error"]["message"], events
    assert lines[-1][0] < 1.2, "ended by the idle timeout, not by the next chunk"


# --------------------------------------------------------------------------- streaming
STREAM_EVENTS = [{"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": w}}]}
                 for w in ["Hel", "lo ", "wor", "ld", "!"]]


def test_streaming_chunks_arrive_as_sent_with_upstream_headers(srv, upstream):
    upstream.set_response("POST", "/stream/v1/chat/completions", sse=STREAM_EVENTS, delay=0.3, headers={
        "x-request-id": "upstream-req-abc", "x-ratelimit-remaining-requests": "42",
        "x-ratelimit-limit-tokens": "6000"})
    body = json.dumps(chat_body("m", stream=True)).encode()
    status, headers, lines = stream_lines(srv.url, "/stream/v1/chat/completions", body,
                                          {"Authorization": f"Bearer {ALICE_KEY}"})
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers.get("x-request-id") == "upstream-req-abc"
    assert headers.get("x-ratelimit-remaining-requests") == "42"
    assert headers.get("x-ratelimit-limit-tokens") == "6000"
    assert headers.get("access-control-allow-origin") == "*"
    assert sse_events(lines) == [json.dumps(e) for e in STREAM_EVENTS] + ["[DONE]"]
    data_times = [t for t, line in lines if line.startswith(b"data:")]
    # The mock sends event i after (i+1)*0.3 s: the last one (>= 1.8 s) cannot
    # have been sent when the first one reached us if nothing is buffered.
    assert data_times[0] < 1.2, f"first chunk only after {data_times[0]:.2f}s"
    assert data_times[-1] - data_times[0] > 1.0, data_times
    q = only_request(upstream)
    assert q.json()["stream"] is True


def test_midstream_upstream_failure_ends_with_an_error_event(srv, raw_mock):
    body = json.dumps(chat_body("m", stream=True)).encode()
    status, headers, lines = stream_lines(srv.url, "/midfail/v1/chat/completions", body,
                                          {"Authorization": f"Bearer {ALICE_KEY}"})
    assert status == 200
    events = sse_events(lines)
    assert events[:2] == [c.decode().strip()[5:].strip() for c in MID_CHUNKS]
    assert len(events) == 3, events
    err = json.loads(events[2])
    assert isinstance(err.get("error"), dict) and err["error"].get("message"), err
    assert "[DONE]" not in events


def test_client_disconnect_stops_the_upstream_request(srv, endless):
    u = urlparse(srv.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("POST", "/endless/v1/chat/completions", body=json.dumps(chat_body("m", stream=True)),
                 headers={"Authorization": f"Bearer {ALICE_KEY}", "Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.readline().startswith(b"data:")
    conn.sock.shutdown(2)
    conn.close()
    deadline = time.monotonic() + 6
    while endless.broke_after is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert endless.broke_after is not None, "the upstream stream kept going after the client left"
    assert endless.broke_after < 5


# --------------------------------------------------------------------------- validation and limits
@pytest.mark.parametrize("path, body", [
    ("/direct/v1/chat/completions", b"this is not json"),
    ("/direct/v1/chat/completions", b'["model","m"]'),
    ("/direct/v1/chat/completions", b'{"messages":[{"role":"user","content":"hi"}]}'),
    ("/direct/v1/chat/completions", b'{"model":"m"}'),
    ("/direct/v1/chat/completions", b'{"model":"m","messages":"hi"}'),
    ("/direct/v1/embeddings", b'{"model":"e"}'),
    ("/direct/v1/embeddings", b'{"model":"e","input":null}'),
], ids=["not-json", "array", "model-missing", "no-messages", "messages-not-array", "no-input", "null-input"])
def test_invalid_request_bodies_are_400_without_upstream_requests(srv, upstream, path, body):
    r = post(srv, path, body, {"Content-Type": "application/json"})
    assert_openai_error(r, 400)
    assert upstream.requests == []


def test_model_not_listed_is_still_forwarded(srv, upstream):
    r = post(srv, "/groq/v1/chat/completions", chat_body("brand-new-model-2099"))
    assert r.status == 200, r.text
    assert only_request(upstream).json()["model"] == "groq/brand-new-model-2099"


def test_body_over_max_body_bytes_is_413(make_fresh_server, upstream):
    v = vault({"p": direct(f"{upstream.url}/p/v1", ["p-key-1"])})
    s = make_fresh_server(users=users(), vault=v, env={"max_body_bytes": "2000"})
    small = chat_body("m", padding="x" * 1000)
    assert post(s, "/p/v1/chat/completions", small).status == 200
    big = chat_body("m", padding="x" * 3000)
    assert_openai_error(post(s, "/p/v1/chat/completions", big), 413)
    assert len(upstream.requests) == 1


# --------------------------------------------------------------------------- CORS and x-request-id
def test_preflight_is_204_with_methods_headers_and_max_age(srv):
    r = srv.request("OPTIONS", "/groq/v1/chat/completions", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert r.status == 204
    assert "POST" in r.headers["access-control-allow-methods"]
    allow = r.headers["access-control-allow-headers"].lower()
    for h in ("authorization", "content-type", "x-host-final"):
        assert h in allow
    assert int(r.headers["access-control-max-age"]) > 0
    assert r.headers["access-control-allow-origin"] == "*"
    r = srv.request("OPTIONS", "/v1/chat/completions", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-host-final"})
    assert r.status == 204
    assert "x-host-final" in r.headers["access-control-allow-headers"].lower()


def test_cors_and_request_id_are_on_every_response_including_errors(srv, upstream):
    origin = {"Origin": "https://app.example"}
    responses = {
        "health": srv.request("GET", "/", headers=origin),
        "providers": srv.request("GET", "/v1/providers", headers=origin, auth=ALICE_KEY),
        "proxied": post(srv, "/direct/v1/chat/completions", chat_body("m"), origin),
        "no-auth-401": srv.request("POST", "/direct/v1/chat/completions", chat_body("m"), origin),
        "bad-key-403": srv.request("GET", "/v1/providers", headers=origin, auth="sk-wrong-key-0000000000"),
        "no-route-404": srv.request("GET", "/no/such/route", headers=origin),
        "invalid-400": post(srv, "/direct/v1/chat/completions", b"nope", {**origin, "Content-Type": "text/plain"}),
        "unreachable-502": post(srv, "/down/v1/chat/completions", chat_body("m"), origin),
        "vault-200": srv.request("GET", "/ai.json.enc", headers=origin),
        "preflight-204": srv.request("OPTIONS", "/v1/providers", headers={
            **origin, "Access-Control-Request-Method": "GET"}),
        "method-405": srv.request("DELETE", "/v1/providers", headers=origin, auth=ALICE_KEY),
    }
    etag = responses["vault-200"].headers["etag"]
    responses["vault-304"] = srv.request("GET", "/ai.json.enc", headers={**origin, "If-None-Match": etag})
    assert responses["vault-304"].status == 304
    ids = set()
    for name, r in responses.items():
        assert r.headers.get("access-control-allow-origin") == "*", (name, r.status, r.headers)
        rid = r.headers.get("x-request-id")
        assert rid, (name, r.status, r.headers)
        ids.add(rid)
    assert len(ids) == len(responses), "request ids are unique"


def test_cors_allowed_origins_restricts_allow_origin(make_fresh_server, upstream):
    s = make_fresh_server(users=users(), env={"cors_allowed_origins": "https://a.test"})
    r = s.request("GET", "/v1/providers", headers={"Origin": "https://b.test"}, auth=ALICE_KEY)
    assert "access-control-allow-origin" not in r.headers
    r = s.request("GET", "/v1/providers", headers={"Origin": "https://b.test"})
    assert r.status == 401 and "access-control-allow-origin" not in r.headers
    pre = s.request("OPTIONS", "/v1/providers", headers={"Origin": "https://b.test",
                                                        "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in pre.headers
    ok = s.request("GET", "/", headers={"Origin": "https://a.test"})
    assert ok.headers.get("access-control-allow-origin") == "https://a.test"
    assert "origin" in ok.headers.get("vary", "").lower()
    assert ok.headers.get("x-request-id")


# --------------------------------------------------------------------------- rate limiting
def _away_from_window_edge(window: int = 60, margin: float = 8.0) -> None:
    """Fixed windows start at multiples of ``window`` seconds: do not straddle one."""
    into = time.time() % window
    if into > window - margin:
        time.sleep(window - into + 0.2)


def test_vault_rate_limit_gives_429_with_retry_after_and_user_limit_overrides(make_fresh_server, upstream):
    u = users(alice={"key": ALICE_KEY, "type": "paid", "rateLimit": {"requests": 5, "windowSeconds": 60}})
    v = vault({"p": direct(f"{upstream.url}/p/v1", ["p-key-1"])}, rateLimit={"requests": 2, "windowSeconds": 60})
    s = make_fresh_server(users=u, vault=v)
    _away_from_window_edge()
    assert [s.request("GET", "/v1/providers", auth=BOB_KEY).status for _ in range(2)] == [200, 200]
    r = post(s, "/p/v1/chat/completions", chat_body("m"), user=BOB_KEY)
    err = assert_openai_error(r, 429)
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert BOB_KEY not in err["message"]
    assert upstream.requests == [], "a limited request is not forwarded"
    # alice's own rateLimit (5) overrides the vault's (2).
    assert [s.request("GET", "/v1/providers", auth=ALICE_KEY).status for _ in range(6)] == [200] * 5 + [429]


def test_no_rate_limit_configured_means_unlimited(make_fresh_server, upstream):
    v = vault({"p": direct(f"{upstream.url}/p/v1", ["p-key-1"])})
    s = make_fresh_server(users=users(), vault=v)
    statuses = [post(s, "/p/v1/chat/completions", chat_body("m"), user=BOB_KEY).status for _ in range(10)]
    assert statuses == [200] * 10


# --------------------------------------------------------------------------- logging
def test_one_log_line_per_proxied_request_with_provider_model_key_status_and_time(srv, upstream):
    marker = "log-probe-model-7f3a"
    assert post(srv, "/direct/v1/chat/completions", chat_body(marker)).status == 200
    lines = wait_for_log(srv, lambda line: marker in line and "provider=" in line)
    time.sleep(0.2)  # a second line would have arrived by now
    lines = wait_for_log(srv, lambda line: marker in line and "provider=" in line)
    assert len(lines) == 1, lines
    line = lines[0]
    for part in ("provider=direct", "key=#0", "status=200", "upstream_ms="):
        assert part in line, line


def test_log_never_contains_a_secret(make_server, srv, upstream):
    # Runs last in this module: by now the logs hold every scenario above.
    assert post(srv, "/direct/v1/chat/completions", chat_body("m")).status == 200
    wait_for_log(srv, lambda line: "provider=direct" in line)
    assert "provider=" in srv.full_log
    secrets_ = PROVIDER_KEYS + [GATEWAY_KEY, AIG_TOKEN, ALICE_KEY, BOB_KEY, EXPIRED_USER_KEY, "gsk-noaig-1",
                                "slow-key-1", "p-key-1", "sk-wrong-key-0000000000"]
    for server in make_server.made:
        log = server.full_log
        for secret in secrets_ + [server.token]:
            assert secret not in log, f"secret {secret[:6]}… appears in the proxy log"
