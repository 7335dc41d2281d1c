"""Smoke and parity tests of the Cloudflare Worker (``wrangler dev --local``).

Each scenario runs against the Worker and, when the host binary is built,
against ``ai-proxy up`` with the same token, users, vault and variables; the
two must answer with the same status, the same significant headers and the
same body (volatile fields aside). Without the host binary only the Worker's
own expectations are checked.

    bash worker/setup.sh && bash worker/build.sh
    AI_PROXY_NO_BUILD=1 .venv/bin/pytest tests/worker -q
"""
from __future__ import annotations

import http.client
import json
import secrets
import socket
import threading
import time
from urllib.parse import urlparse

import pytest

from worker_target import WorkerServer, py_conftest

MockUpstream = py_conftest.MockUpstream
ProxyServer = py_conftest.ProxyServer
openssl_decrypt = py_conftest.openssl_decrypt
chat_chunks = py_conftest.chat_chunks

TOKEN = "tok-" + secrets.token_urlsafe(18)
USER_KEY = "sk-aiproxy-alice-" + secrets.token_hex(12)
USERS = {"alice": {"key": USER_KEY, "owner": "ronan", "type": "paid"}}
# Shared by both targets (ProxyServer passes SPIN_VARIABLE_* to `ai-proxy up`;
# WorkerServer turns them into the Worker vars of the same upper-case names).
ENV = {
    "SPIN_VARIABLE_DEBUG": "true",
    "SPIN_VARIABLE_CLOUDFLARE_ACCOUNT_ID": "acct-test",
    "SPIN_VARIABLE_CLOUDFLARE_AIG_TOKEN": "aig-test-token",
    "SPIN_VARIABLE_UPSTREAM_CONNECT_TIMEOUT_MS": "1000",
    "SPIN_VARIABLE_UPSTREAM_FIRST_BYTE_TIMEOUT_MS": "2000",
    "SPIN_VARIABLE_UPSTREAM_IDLE_TIMEOUT_MS": "1500",
}
# Headers whose values must match between the two hosts.
SAME_HEADERS = [
    "content-type", "cache-control", "location", "content-security-policy", "x-content-type-options",
    "referrer-policy", "access-control-allow-origin", "access-control-allow-methods",
    "access-control-allow-headers", "access-control-max-age", "access-control-expose-headers", "vary",
    "x-ai-proxy-attempts", "retry-after", "www-authenticate", "allow",
]
VOLATILE_KEYS = {"created", "vault_derivations", "request_id"}


class TruncatingUpstream:
    """Answers every request with the head of an SSE stream and one event,
    then drops the connection (no terminating chunk)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                part = conn.recv(65536)
                if not part:
                    return
                data += part
            head, _, body = data.partition(b"\r\n\r\n")
            n = next((int(l.split(b":", 1)[1]) for l in head.split(b"\r\n")
                      if l.lower().startswith(b"content-length:")), 0)
            while len(body) < n:
                body += conn.recv(65536)
            event = b'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"partial"}}]}\n\n'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + f"{len(event):x}\r\n".encode() + event + b"\r\n")
            time.sleep(0.3)
            conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.sock.close()


def make_vault(upstream: str, broken: str = "http://127.0.0.1:9") -> dict:
    return {
        "version": 1,
        "x-extra": {"kept": True},
        "providers": {
            "groq": {  # direct to the mock
                "protocol": "openai",
                "endpoint": f"{upstream}/groq/openai/v1",
                "keys": [{"key": "gsk_worker_one", "owner": "ronan", "type": "paid"}],
                "models": [{"id": "llama-3.3-70b-versatile", "usage": "chat", "contextWindow": 8192,
                            "maxOutputTokens": 2048, "tpmLimit": None, "priority": 0}],
            },
            "mistral": {  # through a "gateway" on the mock: needs the account id and AIG token
                "protocol": "openai",
                "endpoint": f"{upstream}/mistral/v1",
                "gatewayEndpoint": f"{upstream}/gw/v1/{{account}}/default/compat",
                "gatewayModelPrefix": "mistral",
                "keys": [{"key": "mistral-key-one"}],
                "models": [{"id": "mistral-small-latest", "usage": "chat", "contextWindow": 32000,
                            "maxOutputTokens": 4096, "tpmLimit": None, "priority": 0}],
            },
            "brokenai": {  # an OpenAI-compatible upstream that drops streams part way
                "protocol": "openai",
                "endpoint": f"{broken}/v1",
                "keys": [{"key": "broken-key"}],
                "models": [{"id": "m1", "usage": "chat", "contextWindow": 1000, "maxOutputTokens": 100,
                            "tpmLimit": None, "priority": 0}],
            },
        },
    }


@pytest.fixture(scope="module")
def upstream():
    m = MockUpstream()
    yield m
    m.close()


@pytest.fixture(scope="module")
def broken():
    b = TruncatingUpstream()
    yield b
    b.close()


@pytest.fixture(scope="module")
def targets(upstream, broken, tmp_path_factory):
    """{"worker": WorkerServer, "up": ProxyServer | None}, both seeded alike."""
    made = []
    try:
        worker = WorkerServer(TOKEN, tmp_path_factory.mktemp("worker"), dict(ENV))
        made.append(worker)
        worker._check_built()
        worker.put_users(USERS)
        worker.start()
        worker.put_vault(make_vault(upstream.url, broken.url))
        up = None
        if py_conftest.proxy_bin().exists():
            up = ProxyServer(TOKEN, tmp_path_factory.mktemp("up"), dict(ENV))
            made.append(up)
            up.put_users(USERS)
            up.start()
            up.put_vault(make_vault(upstream.url, broken.url))
        yield {"worker": worker, "up": up}
    finally:
        for s in made:
            s.stop()


@pytest.fixture
def worker(targets) -> WorkerServer:
    return targets["worker"]


@pytest.fixture(autouse=True)
def _clean_upstream(upstream):
    upstream.reset()
    yield
    upstream.reset()


def _strip(v):
    if isinstance(v, dict):
        return {k: _strip(x) for k, x in v.items() if k not in VOLATILE_KEYS}
    if isinstance(v, list):
        return [_strip(x) for x in v]
    return v


def shape(r) -> tuple:
    body: object = r.body
    if "json" in (r.headers.get("content-type") or ""):
        try:
            body = _strip(json.loads(r.body))
        except ValueError:
            pass
    return r.status, {h: r.headers.get(h) for h in SAME_HEADERS}, body


def both(targets, fn, own_body: tuple[int, ...] = ()):
    """Runs ``fn(server)`` on each target; asserts the shapes match (except the
    bodies of the responses at ``own_body``); returns the Worker's responses."""
    w = fn(targets["worker"])
    w_list = w if isinstance(w, list) else [w]
    for r in w_list:
        assert "x-request-id" in r.headers, r.headers
    if targets["up"] is not None:
        u = fn(targets["up"])
        u_list = u if isinstance(u, list) else [u]
        w_shapes, u_shapes = [list(shape(r)) for r in w_list], [list(shape(r)) for r in u_list]
        for i in own_body:
            w_shapes[i][2] = u_shapes[i][2] = None
        assert w_shapes == u_shapes
    return w


# --------------------------------------------------------------------------- scenarios
def test_health(targets):
    r = both(targets, lambda s: s.request("GET", "/"))
    assert r.status == 200
    body = r.json()
    assert body["status"] == "ok" and body["service"] == "ai-proxy"
    assert "vault_derivations" in body  # DEBUG reached the Worker as a var


def test_unlocked_vault_is_cached_in_the_isolate(worker):
    before = worker.request("GET", "/").json()["vault_derivations"]
    for _ in range(5):
        assert worker.request("GET", "/v1/providers", auth=USER_KEY).status == 200
    assert worker.request("GET", "/").json()["vault_derivations"] == before


def test_vault_get_and_put(targets, upstream, broken):
    r = both(targets, lambda s: [s.get_vault_text(), s.admin("GET", "/ai.json"),
                                 s.request("GET", "/ai.json", auth="wrong-token"),
                                 s.request("PUT", "/ai.json.enc", "garbage", auth="wrong-token"),
                                 s.admin("PUT", "/ai.json.enc", "not a vault", {"Content-Type": "text/plain"})],
             own_body=(0,))  # each host has its own ciphertext
    text, plain, wrong, put_wrong, put_garbage = r
    assert text.status == 200 and text.headers.get("etag")
    assert json.loads(openssl_decrypt(text.body, TOKEN)) == make_vault(upstream.url, broken.url)
    assert plain.status == 200 and plain.json()["x-extra"] == {"kept": True}
    assert wrong.status in (401, 403) and put_wrong.status in (401, 403)
    assert put_garbage.status == 400
    # A PUT is seen on the next request.
    w = targets["worker"]
    v = make_vault(upstream.url, broken.url)
    v["providers"]["groq"]["models"].append({"id": "extra-model", "usage": "chat", "contextWindow": 1000,
                                             "maxOutputTokens": 100, "tpmLimit": None, "priority": 10})
    w.put_vault(v)
    ids = [m["id"] for m in w.request("GET", "/groq/v1/models", auth=USER_KEY).json()["data"]]
    assert "extra-model" in ids
    w.put_vault(make_vault(upstream.url, broken.url))
    assert json.loads(openssl_decrypt(w.get_vault_text().body, TOKEN)) == make_vault(upstream.url, broken.url)


def test_providers_and_models(targets):
    providers, anonymous, wrong, models, one = both(targets, lambda s: [
        s.request("GET", "/v1/providers", auth=USER_KEY),
        s.request("GET", "/v1/providers"),
        s.request("GET", "/v1/providers", auth="sk-nobody"),
        s.request("GET", "/groq/v1/models", auth=USER_KEY),
        s.request("GET", "/groq/v1/models/llama-3.3-70b-versatile", auth=USER_KEY),
    ])
    assert providers.status == 200
    assert {p["id"] for p in providers.json()["data"]} == {"groq", "mistral", "brokenai"}
    assert anonymous.status == 401 and wrong.status == 403
    assert models.status == 200 and one.json()["id"] == "llama-3.3-70b-versatile"


def test_admin_users(targets):
    r = both(targets, lambda s: s.admin("GET", "/admin/users"))
    assert r.status == 200 and set(r.json()["users"]) == {"alice"}
    assert "key" not in r.json()["users"]["alice"]


def test_chat_completion_forwarded(targets, upstream):
    body = {"model": "llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "hi"}]}
    r = both(targets, lambda s: s.request("POST", "/groq/v1/chat/completions", body, auth=USER_KEY))
    assert r.status == 200
    assert r.json()["choices"][0]["message"]["content"] == "Hello from the mock upstream."
    sent = upstream.requests_to("/groq/openai/v1/chat/completions", "POST")
    assert sent and all(x.header("authorization") == "Bearer gsk_worker_one" for x in sent)
    assert sent[0].json()["model"] == "llama-3.3-70b-versatile"


def test_chat_through_gateway_uses_account_and_aig_token(targets, upstream):
    body = {"model": "mistral-small-latest", "messages": [{"role": "user", "content": "hi"}]}
    r = both(targets, lambda s: s.request("POST", "/mistral/v1/chat/completions", body, auth=USER_KEY))
    assert r.status == 200, r.text
    sent = upstream.requests_to("/gw/v1/acct-test/default/compat/chat/completions", "POST")
    assert sent, [x.path for x in upstream.requests]
    assert all(x.header("cf-aig-authorization") == "Bearer aig-test-token" for x in sent)
    assert sent[0].json()["model"] == "mistral/mistral-small-latest"


def test_legacy_route_with_x_host_final(targets):
    body = {"model": "llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "hi"}]}
    r = both(targets, lambda s: s.request("POST", "/openai/v1/chat/completions", body,
                                          {"X-Host-Final": "api.groq.com"}, auth=USER_KEY))
    assert r.status == 200


def stream_lines(srv, path: str, body: dict, timeout: float = 30) -> list[tuple[float, str]]:
    """POSTs and returns (seconds since the request, line) for each non-empty body line as it arrives."""
    u = urlparse(srv.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    t0 = time.monotonic()
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json",
                                                 "Authorization": f"Bearer {USER_KEY}"})
    resp = conn.getresponse()
    assert resp.status == 200, (resp.status, resp.read())
    assert resp.getheader("content-type", "").startswith("text/event-stream")
    out = []
    while True:
        line = resp.readline()
        if not line:
            break
        if line.strip():
            out.append((time.monotonic() - t0, line.decode().rstrip("\n")))
    conn.close()
    return out


def test_streaming_passes_chunks_as_they_come(targets, upstream):
    content = "one two three four five six"
    upstream.set_response("POST", "/groq/openai/v1/chat/completions",
                          sse=chat_chunks("llama-3.3-70b-versatile", content), delay=0.4)
    body = {"model": "llama-3.3-70b-versatile", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    results = {}
    for name, srv in targets.items():
        if srv is None:
            continue
        lines = stream_lines(srv, "/groq/v1/chat/completions", body)
        data = [l for l in lines if l[1].startswith("data: ")]
        assert data[-1][1] == "data: [DONE]", data
        # The mock sends 9 events 0.4 s apart: the first must reach the client
        # long before the last is sent.
        assert data[-1][0] - data[0][0] >= 2.0, (name, data)
        text = "".join(json.loads(l[5:])["choices"][0]["delta"].get("content", "")
                       for _, l in data[:-1])
        assert text == content
        results[name] = [l for _, l in data]
    if targets["up"] is not None:
        norm = lambda ls: [_strip(json.loads(l[5:])) if l != "data: [DONE]" else l for l in ls]
        assert norm(results["worker"]) == norm(results["up"])


def test_stream_idle_timeout_ends_with_error_event(targets, upstream):
    upstream.set_response("POST", "/groq/openai/v1/chat/completions",
                          sse=chat_chunks("llama-3.3-70b-versatile", "slow"), delay=3)
    body = {"model": "llama-3.3-70b-versatile", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    for name, srv in targets.items():
        if srv is None:
            continue
        lines = stream_lines(srv, "/groq/v1/chat/completions", body)
        last = json.loads(lines[-1][1][len("data: "):])
        assert last["error"]["code"] == "stream_interrupted", (name, lines)
        assert lines[-1][0] < 2.9, (name, lines)


def test_stream_cut_by_upstream_ends_with_error_event(targets):
    body = {"model": "m1", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    for name, srv in targets.items():
        if srv is None:
            continue
        lines = [l for _, l in stream_lines(srv, "/brokenai/v1/chat/completions", body)]
        assert "partial" in lines[0], (name, lines)
        last = json.loads(lines[-1][len("data: "):])
        assert last["error"]["code"] == "stream_interrupted", (name, lines)


def test_first_byte_timeout_is_a_504(targets, upstream):
    upstream.set_response("POST", "/groq/openai/v1/chat/completions", json={"late": True}, delay=4)
    body = {"model": "llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "hi"}]}
    t0 = time.monotonic()
    r = both(targets, lambda s: s.request("POST", "/groq/v1/chat/completions", body, auth=USER_KEY))
    assert r.status == 504
    assert time.monotonic() - t0 < 8


def test_cors_preflight(targets):
    r = both(targets, lambda s: s.request("OPTIONS", "/groq/v1/chat/completions", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-stainless-os"}))
    assert r.status == 204
    assert r.headers.get("access-control-allow-origin") in ("*", "https://app.example")
    assert "POST" in r.headers.get("access-control-allow-methods", "")


def no_redirect(srv, method: str, path: str):
    """One request that does not follow redirects (urllib does)."""
    u = urlparse(srv.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request(method, path)
    r = conn.getresponse()
    out = py_conftest.Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    conn.close()
    return out


def test_ui(targets):
    page, redirect, missing = both(targets, lambda s: [s.request("GET", "/ui/"), no_redirect(s, "GET", "/ui"),
                                                       s.request("GET", "/ui/no-such-file.js")],
                                   own_body=(0,))  # the UI is embedded at build time: builds may differ
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.lower().startswith("<!doctype html>")
    assert "frame-ancestors 'none'" in page.headers.get("content-security-policy", "")
    assert redirect.status == 301 and redirect.headers.get("location") == "/ui/"
    assert missing.status == 404
    # Every asset the page links to is served too.
    import re
    for ref in re.findall(r'(?:src|href)="/?(?:ui/)?([^"#?]+\.(?:js|css))"', page.text):
        r = both(targets, lambda s: s.request("GET", "/ui/" + ref), own_body=(0,))
        assert r.status == 200 and r.body, ref


def test_errors_are_openai_shaped(targets):
    missing, method = both(targets, lambda s: [s.request("GET", "/nope"), s.request("DELETE", "/ai.json.enc")])
    assert missing.status == 404 and method.status == 405
    assert set(missing.json()["error"]) >= {"message", "type", "code"}


def test_body_limit(targets):
    big = {"model": "llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "x" * (11 * 1024 * 1024)}]}
    r = both(targets, lambda s: s.request("POST", "/groq/v1/chat/completions", big, auth=USER_KEY, timeout=60))
    assert r.status == 413
