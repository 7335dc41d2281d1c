"""Builders shared by the HTTP scenario tests: vaults (ai.json), users,
request bodies, and small assertions on OpenAI-shaped answers."""
from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import urlparse

# User keys (the users value requires >= 16 characters for PUT /admin/users).
ALICE_KEY = "sk-user-alice-0123456789abcdef"
BOB_KEY = "sk-user-bob-fedcba9876543210"
EXPIRED_USER_KEY = "sk-user-old-0000111122223333"
UNKNOWN_KEY = "sk-user-nobody-9999888877776666"

ACCOUNT = "acc123"
AIG_TOKEN = "cf-aig-secret-token-4242"

PAST = "2001-01-01T00:00:00Z"
FUTURE = "2999-01-01T00:00:00Z"


def users(**extra: dict) -> dict:
    """alice (paid), bob (free), old (expired) — plus any extra users."""
    base = {
        "alice": {"key": ALICE_KEY, "owner": "Alice", "type": "paid"},
        "bob": {"key": BOB_KEY, "owner": "Bob", "type": "free"},
        "old": {"key": EXPIRED_USER_KEY, "owner": "Old", "type": "expired"},
    }
    base.update(extra)
    return base


def key(k: str, **fields: Any) -> dict:
    return {"key": k, **fields}


def model(mid: str, usage: str = "chat", ctx: int = 8192, out: int = 1024, **fields: Any) -> dict:
    return {"id": mid, "usage": usage, "contextWindow": ctx, "maxOutputTokens": out, **fields}


def direct(endpoint: str, keys: list[str | dict], models: list[dict] | None = None, **fields: Any) -> dict:
    """A provider in direct mode (OpenAI-compatible base URL)."""
    return {"protocol": "openai", "endpoint": endpoint,
            "keys": [k if isinstance(k, dict) else key(k) for k in keys],
            "models": models or [], **fields}


def gateway(gateway_endpoint: str, prefix: str | None, keys: list[str | dict], models: list[dict] | None = None,
            **fields: Any) -> dict:
    """A provider in Cloudflare AI Gateway mode."""
    p: dict[str, Any] = {"protocol": "openai", "gatewayEndpoint": gateway_endpoint}
    if prefix is not None:
        p["gatewayModelPrefix"] = prefix
    p["keys"] = [k if isinstance(k, dict) else key(k) for k in keys]
    p["models"] = models or []
    p.update(fields)
    return p


def vault(providers: dict[str, dict], **top: Any) -> dict:
    return {"version": 1, "providers": providers, **top}


def chat_body(mdl: str, **extra: Any) -> dict:
    return {"model": mdl, "messages": [{"role": "user", "content": "Say hello"}], **extra}


def assert_openai_error(resp, status: int, code: str | None = None) -> dict:
    """The response is ``status`` with an OpenAI-shaped JSON error; returns ``error``."""
    assert resp.status == status, f"expected {status}, got {resp.status}: {resp.text[:500]}"
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    body = resp.json()
    err = body.get("error")
    assert isinstance(err, dict), body
    assert isinstance(err.get("message"), str) and err["message"], body
    assert isinstance(err.get("type"), str) and err["type"], body
    assert "code" in err, body
    if code is not None:
        assert err["code"] == code, body
    return err


def wait_for_log(server, needle_fn, min_count: int = 1, timeout: float = 3.0) -> list[str]:
    """Lines of the server's log for which ``needle_fn(line)`` holds, once at least
    ``min_count`` are there or ``timeout`` passed (the log is read by a thread)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in list(server.log_lines) if needle_fn(line)]
        if len(found) >= min_count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def stream_lines(url: str, path: str, body: bytes, headers: dict[str, str], timeout: float = 15):
    """POST and read the response line by line as it arrives.

    Returns ``(status, headers, [(seconds since the request was sent, line bytes)])``.
    """
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        t0 = time.monotonic()
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
        resp = conn.getresponse()
        lines = []
        while True:
            line = resp.readline()
            if not line:
                break
            lines.append((time.monotonic() - t0, line))
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, lines
    finally:
        conn.close()


def sse_events(lines) -> list[str]:
    """The ``data:`` payloads of SSE lines (as returned by ``stream_lines``)."""
    out = []
    for _, line in lines:
        text = line.decode().rstrip("\r\n")
        if text.startswith("data:"):
            out.append(text[5:].strip())
    return out


def dumps(obj: Any) -> str:
    return json.dumps(obj)
