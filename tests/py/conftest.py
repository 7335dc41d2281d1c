"""Reusable pytest fixtures for end-to-end tests of ai-proxy.

Everything runs on loopback:

* ``mock_upstream`` — a recording HTTP server that plays an AI provider
  (model lists, chat completions with or without SSE streaming, embeddings),
  with canned responses that tests can replace per path.
* ``proxy`` / ``proxy_factory`` — the real host binary (``ai-proxy up``) on a
  free port with its own state directory, killed at teardown.
* ``browser_context`` / ``browser_page`` / ``new_page`` — Debian's chromium
  driven by Playwright (Playwright's own browser download is not used).

Environment knobs:

* ``AI_PROXY_BIN``   host binary (default ``<repo>/target/release/ai-proxy``)
* ``AI_PROXY_SPIN_TOML`` manifest (default ``<repo>/spin.toml``)
* ``AI_PROXY_START_TIMEOUT`` seconds to wait for the server (default 120;
  ``AI_PROXY_BUILD_TIMEOUT``, default 1800, is added when ``up`` rebuilds
  a stale component first)
* ``AI_PROXY_NO_BUILD=1`` never let ``up`` rebuild: run the ``.wasm`` as is
* ``CHROMIUM_BIN``   browser (default ``/usr/bin/chromium``)
* ``AI_PROXY_UI_FROM_DISK=1`` serve ``/ui/*`` from ``<repo>/ui`` through
  Playwright routing instead of the copy embedded in the component (for
  working on the UI without rebuilding the ``.wasm``).
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM_BIN = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
OPENSSL_ENC = ["-aes-256-cbc", "-pbkdf2", "-iter", "100000"]


# --------------------------------------------------------------------------- openssl helpers
def openssl_encrypt(plaintext: str | bytes, token: str) -> str:
    """Encrypt like the project's documentation says (base64, 64-char lines)."""
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    out = subprocess.run(["openssl", "enc", *OPENSSL_ENC, "-a", "-salt", "-pass", "env:AIPROXY_TOK"],
                         input=data, capture_output=True, check=True,
                         env={**os.environ, "AIPROXY_TOK": token})
    return out.stdout.decode()


def openssl_decrypt(text: str | bytes, token: str) -> str:
    """Decrypt vault text with the openssl CLI; raises CalledProcessError on a wrong token."""
    data = text.encode() if isinstance(text, str) else text
    # -A: accept base64 on one line; re-wrap first so both forms work.
    flat = b"".join(data.split())
    out = subprocess.run(["openssl", "enc", "-d", *OPENSSL_ENC, "-a", "-A", "-pass", "env:AIPROXY_TOK"],
                         input=flat, capture_output=True, check=True,
                         env={**os.environ, "AIPROXY_TOK": token})
    return out.stdout.decode()


# --------------------------------------------------------------------------- tiny HTTP client
@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, body: bytes | str | dict | list | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30) -> Response:
    """One HTTP request; never raises on a status code."""
    hdrs = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(url, data=body, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


# --------------------------------------------------------------------------- mock upstream
@dataclass
class RecordedRequest:
    method: str
    path: str            # path with query string, as received
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class CannedResponse:
    status: int = 200
    json: Any = None
    body: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    sse: list[Any] | None = None       # events; dicts are JSON-encoded, "[DONE]" appended
    delay: float = 0.0                 # seconds before answering (or between SSE events)
    handler: Callable[[RecordedRequest], "CannedResponse"] | None = None


DEFAULT_MODELS = [
    {"id": "llama-3.3-70b-versatile", "object": "model", "owned_by": "Meta", "active": True,
     "context_window": 131072, "max_completion_tokens": 32768},
    {"id": "llama-3.1-8b-instant", "object": "model", "owned_by": "Meta", "active": True,
     "context_window": 131072, "max_completion_tokens": 131072},
]


def chat_completion(model: str, content: str = "Hello from the mock upstream.") -> dict:
    return {
        "id": "chatcmpl-mock", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
    }


def chat_chunks(model: str, content: str = "Hello from the mock upstream.") -> list[dict]:
    base = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    for word in re.findall(r"\S+\s*", content):
        chunks.append({**base, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]})
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return chunks


class MockUpstream:
    """A recording provider on 127.0.0.1:<random port>.

    Responses are chosen by ``(method, path)`` where path may be a glob
    (``*/models``); the most recently set rule wins; the query string is
    ignored for matching. Without a rule the defaults answer like an
    OpenAI-compatible provider: ``GET */models`` (Groq-shaped list),
    ``POST */chat/completions`` (SSE when the body has ``"stream": true``)
    and ``POST */embeddings``.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._rules: list[tuple[str, str, CannedResponse]] = []
        self._lock = threading.Lock()
        self.models: list[dict] = list(DEFAULT_MODELS)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._make_handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="mock-upstream", daemon=True)
        self._thread.start()

    # -- public API -------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_response(self, method: str, path: str, status: int = 200, json: Any = None,
                     body: bytes | str | None = None, headers: dict[str, str] | None = None,
                     sse: list[Any] | None = None, delay: float = 0.0,
                     handler: Callable[[RecordedRequest], CannedResponse] | None = None) -> None:
        """Answer ``method path`` (glob allowed) with this response from now on."""
        with self._lock:
            self._rules.append((method.upper(), path,
                                CannedResponse(status, json, body, dict(headers or {}), sse, delay, handler)))

    def set_models(self, path: str, models: list[dict]) -> None:
        """``GET path`` answers ``{"object":"list","data":models}`` (Groq / OpenAI shape)."""
        self.set_response("GET", path, json={"object": "list", "data": models})

    def requests_to(self, path_glob: str, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests
                    if fnmatch.fnmatchcase(r.path.split("?")[0], path_glob) and (method is None or r.method == method.upper())]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._rules.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- internals --------------------------------------------------------
    def _match(self, req: RecordedRequest) -> CannedResponse:
        path = req.path.split("?")[0]
        with self._lock:
            for method, pattern, resp in reversed(self._rules):
                if method in (req.method, "*") and fnmatch.fnmatchcase(path, pattern):
                    return resp.handler(req) if resp.handler else resp
        body = req.json() if req.body else {}
        if req.method == "GET" and path.endswith("/models"):
            return CannedResponse(json={"object": "list", "data": self.models})
        if req.method == "POST" and path.endswith("/chat/completions"):
            model = (body or {}).get("model", "mock-model")
            if (body or {}).get("stream"):
                return CannedResponse(sse=chat_chunks(model))
            return CannedResponse(json=chat_completion(model))
        if req.method == "POST" and path.endswith("/embeddings"):
            inputs = (body or {}).get("input", "")
            n = len(inputs) if isinstance(inputs, list) else 1
            return CannedResponse(json={"object": "list", "model": (body or {}).get("model"),
                                        "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(n)],
                                        "usage": {"prompt_tokens": 3, "total_tokens": 3}})
        return CannedResponse(404, json={"error": {"message": f"mock upstream: no route for {req.method} {path}",
                                                   "type": "invalid_request_error", "code": "not_found"}})

    def _make_handler(self):
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    raw = b""
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        raw += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    raw = self.rfile.read(n) if n else b""
                req = RecordedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                with mock._lock:
                    mock.requests.append(req)
                resp = mock._match(req)
                if resp.sse is not None:
                    self._send_sse(resp)
                    return
                if resp.delay:
                    time.sleep(resp.delay)
                if resp.json is not None:
                    payload = json.dumps(resp.json).encode()
                    ctype = "application/json"
                else:
                    payload = resp.body.encode() if isinstance(resp.body, str) else (resp.body or b"")
                    ctype = "text/plain"
                self.send_response(resp.status)
                headers = {"Content-Type": ctype, **resp.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _send_sse(self, resp: CannedResponse):
                self.send_response(resp.status)
                for k, v in {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **resp.headers}.items():
                    self.send_header(k, v)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                events = list(resp.sse) + ["[DONE]"]
                for ev in events:
                    if resp.delay:
                        time.sleep(resp.delay)
                    data = ev if isinstance(ev, str) else json.dumps(ev)
                    chunk = f"data: {data}\n\n".encode()
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        return Handler


@pytest.fixture
def mock_upstream():
    m = MockUpstream()
    try:
        yield m
    finally:
        m.close()


# --------------------------------------------------------------------------- the real proxy
def proxy_bin() -> Path:
    return Path(os.environ.get("AI_PROXY_BIN", REPO / "target" / "release" / "ai-proxy"))


def spin_toml() -> Path:
    return Path(os.environ.get("AI_PROXY_SPIN_TOML", REPO / "spin.toml"))


_NO_BUILD_MANIFEST: Path | None = None


def manifest_for_up() -> Path:
    """The manifest given to ``ai-proxy up --from``.

    ``ai-proxy up`` rebuilds the component when a watched file is newer than
    the ``.wasm``. With ``AI_PROXY_NO_BUILD=1`` the tests run the ``.wasm`` as
    it is: they use a copy of the manifest without the build section and with
    an absolute ``source``.
    """
    global _NO_BUILD_MANIFEST
    src = spin_toml()
    if os.environ.get("AI_PROXY_NO_BUILD") != "1":
        return src
    if _NO_BUILD_MANIFEST is None:
        out, skipping = [], False
        for line in src.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("["):
                skipping = bool(re.fullmatch(r"\[component\.[^\]]+\.build\]", stripped))
            if skipping:
                continue
            m = re.fullmatch(r'(\s*source\s*=\s*)"([^"]+)"\s*', line)
            if m and not os.path.isabs(m.group(2)):
                line = f'{m.group(1)}"{(src.parent / m.group(2)).resolve()}"'
            out.append(line)
        d = Path(tempfile.mkdtemp(prefix="ai-proxy-manifest-"))
        _NO_BUILD_MANIFEST = d / "spin.toml"
        _NO_BUILD_MANIFEST.write_text("\n".join(out) + "\n")
    return _NO_BUILD_MANIFEST


_CWASM_CACHE: Path | None = None   # compiled component shared by the servers of one test session


def _cwasm_cache() -> Path:
    global _CWASM_CACHE
    if _CWASM_CACHE is None:
        _CWASM_CACHE = Path(tempfile.mkdtemp(prefix="ai-proxy-cwasm-"))
    return _CWASM_CACHE


class ProxyServer:
    """``ai-proxy up`` on 127.0.0.1:<free port> with a private state dir."""

    URL_RE = re.compile(r"http://127\.0\.0\.1:(\d+)")

    def __init__(self, token: str, state_dir: Path, env: dict[str, str] | None = None,
                 allow_outbound: str = "http://127.0.0.1:*") -> None:
        self.token = token
        self.state_dir = Path(state_dir)
        self.extra_env = dict(env or {})
        self.allow_outbound = allow_outbound
        self.url: str | None = None
        self.proc: subprocess.Popen | None = None
        self.log_lines: list[str] = []
        self._url_ready = threading.Event()

    # -- lifecycle --------------------------------------------------------
    def start(self, timeout: float | None = None) -> "ProxyServer":
        timeout = timeout or float(os.environ.get("AI_PROXY_START_TIMEOUT", "120"))
        binary = proxy_bin()
        if not binary.exists():
            pytest.skip(f"{binary} not built (set AI_PROXY_BIN or build the release host)")
        if not spin_toml().exists():
            pytest.skip(f"{spin_toml()} missing")
        # `up` caches the compiled component (*.cwasm) in its state dir: share
        # it between the servers of this session instead of recompiling.
        for f in _cwasm_cache().glob("*.cwasm"):
            if not (self.state_dir / f.name).exists():
                shutil.copy2(f, self.state_dir / f.name)
        env = {**os.environ, "SPIN_VARIABLE_AI_JSON_CRYPTOKEN": self.token, **self.extra_env}
        cmd = [str(binary), "up", "--from", str(manifest_for_up()), "--listen", "127.0.0.1:0",
               "--state-dir", str(self.state_dir), "--allow-outbound", self.allow_outbound]
        self.proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        build_extended = False
        while not self._url_ready.wait(0.1):
            if self.proc.poll() is not None:
                raise RuntimeError(f"ai-proxy exited with {self.proc.returncode}:\n{self.log}")
            if not build_extended and any("building" in line for line in self.log_lines):
                # `up` rebuilds a stale component first: allow for a cold cargo build.
                deadline += float(os.environ.get("AI_PROXY_BUILD_TIMEOUT", "1800"))
                build_extended = True
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ai-proxy printed no http://127.0.0.1:<port> within {timeout}s:\n{self.log}")
        while True:
            try:
                if http("GET", self.url + "/", timeout=5).status == 200:
                    for f in self.state_dir.glob("*.cwasm"):
                        if not (_cwasm_cache() / f.name).exists():
                            shutil.copy2(f, _cwasm_cache() / f.name)
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"ai-proxy exited with {self.proc.returncode}:\n{self.log}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"GET / never answered 200 within {timeout}s:\n{self.log}")
            time.sleep(0.1)

    def _pump(self) -> None:
        assert self.proc and self.proc.stdout
        with open(self.state_dir / "ai-proxy.log", "a", encoding="utf-8", errors="replace") as logf:
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.log_lines.append(line)
                logf.write(line + "\n")
                logf.flush()
                if not self._url_ready.is_set():
                    m = self.URL_RE.search(line)
                    if m and m.group(1) != "0":
                        self.url = f"http://127.0.0.1:{m.group(1)}"
                        self._url_ready.set()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def log(self) -> str:
        return "\n".join(self.log_lines[-200:])

    def stop(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)

    # -- HTTP helpers -----------------------------------------------------
    def request(self, method: str, path: str, body=None, headers: dict[str, str] | None = None,
                auth: str | None = None, timeout: float = 30) -> Response:
        """Request against the proxy; ``auth`` is a bearer token (``proxy.token`` for admin calls)."""
        hdrs = dict(headers or {})
        if auth:
            hdrs["Authorization"] = f"Bearer {auth}"
        return http(method, self.url + path, body, hdrs, timeout)

    def admin(self, method: str, path: str, body=None, headers: dict[str, str] | None = None) -> Response:
        return self.request(method, path, body, headers, auth=self.token)

    # -- vault ------------------------------------------------------------
    def get_vault_text(self) -> Response:
        return self.request("GET", "/ai.json.enc")

    def get_vault(self) -> dict:
        """The stored vault, decrypted with the openssl CLI."""
        r = self.get_vault_text()
        assert r.status == 200, (r.status, r.text)
        return json.loads(openssl_decrypt(r.body, self.token))

    def put_vault(self, plaintext: dict | str, token: str | None = None) -> Response:
        """Encrypt ``plaintext`` with the openssl CLI and PUT it (If-Match / If-None-Match handled)."""
        text = plaintext if isinstance(plaintext, str) else json.dumps(plaintext, indent=2)
        enc = openssl_encrypt(text, token or self.token)
        cur = self.get_vault_text()
        hdrs = {"Content-Type": "text/plain"}
        if cur.status == 200 and cur.headers.get("etag"):
            hdrs["If-Match"] = cur.headers["etag"]
        else:
            hdrs["If-None-Match"] = "*"
        r = self.admin("PUT", "/ai.json.enc", enc, hdrs)
        assert r.status in (200, 201), f"PUT /ai.json.enc -> {r.status}: {r.text}"  # 201 when created
        return r

    # -- users ------------------------------------------------------------
    def put_users(self, users: dict) -> None:
        """Store the users map (with keys): through the CLI before start, else PUT /admin/users."""
        if not self.running:
            f = self.state_dir / "users.seed.json"
            f.write_text(json.dumps(users))
            out = subprocess.run([str(proxy_bin()), "kv", "put", "--state-dir", str(self.state_dir), "users",
                                  "--file", str(f)], capture_output=True, text=True, cwd=REPO)
            f.unlink()
            assert out.returncode == 0, f"ai-proxy kv put failed: {out.stdout}{out.stderr}"
            return
        cur = self.admin("GET", "/admin/users")
        assert cur.status == 200, (cur.status, cur.text)
        etag = cur.json().get("etag") or cur.headers.get("etag")
        r = self.admin("PUT", "/admin/users", users, {"If-Match": etag})
        assert r.status == 200, f"PUT /admin/users -> {r.status}: {r.text}"

    def get_users(self) -> dict:
        r = self.admin("GET", "/admin/users")
        assert r.status == 200, (r.status, r.text)
        return r.json()["users"]


@pytest.fixture
def proxy_factory(tmp_path_factory):
    """``make(start=True, token=None, users=None, vault=None, env=None) -> ProxyServer``.

    ``users`` is seeded with ``ai-proxy kv put`` before the server starts;
    ``vault`` (dict or JSON text) is PUT once it runs. Every server made is
    stopped at teardown, even when the test fails.
    """
    made: list[ProxyServer] = []

    def make(start: bool = True, token: str | None = None, users: dict | None = None,
             vault: dict | str | None = None, env: dict[str, str] | None = None) -> ProxyServer:
        srv = ProxyServer(token or "tok-" + secrets.token_urlsafe(18), tmp_path_factory.mktemp("proxy-state"), env)
        made.append(srv)
        if users is not None:
            if not proxy_bin().exists():
                pytest.skip(f"{proxy_bin()} not built")
            srv.put_users(users)
        if start:
            srv.start()
            if vault is not None:
                srv.put_vault(vault)
        return srv

    try:
        yield make
    finally:
        for srv in made:
            srv.stop()


@pytest.fixture
def proxy(proxy_factory) -> ProxyServer:
    """A running proxy with no vault and no users; ``.url``, ``.token``, ``.state_dir``."""
    return proxy_factory()


# --------------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def playwright_instance():
    pw_sync = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM_BIN).exists():
        pytest.skip(f"{CHROMIUM_BIN} missing (apt-get install chromium)")
    with pw_sync.sync_playwright() as p:
        yield p


def _serve_ui_from_disk(route):
    from urllib.parse import urlparse
    rel = urlparse(route.request.url).path[len("/ui/"):] or "index.html"
    f = (REPO / "ui" / rel).resolve()
    if not f.is_file() or (REPO / "ui") not in f.parents:
        return route.fulfill(status=404, body="not found")
    ctype = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}.get(f.suffix, "application/octet-stream")
    route.fulfill(status=200, body=f.read_bytes(), headers={"Content-Type": ctype + "; charset=utf-8"})


@pytest.fixture
def browser_context(playwright_instance, tmp_path_factory):
    """A fresh chromium (own user-data-dir) at 1280x900; page errors are collected on ``context.errors``."""
    ctx = playwright_instance.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM_BIN, headless=True,
        args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900}, accept_downloads=False)
    ctx.errors = []
    ctx.on("page", lambda page: page.on("pageerror", lambda e: ctx.errors.append(str(e))))
    for page in ctx.pages:
        page.on("pageerror", lambda e: ctx.errors.append(str(e)))
    if os.environ.get("AI_PROXY_UI_FROM_DISK") == "1":
        ctx.route("**/ui/**", _serve_ui_from_disk)
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def browser_page(browser_context):
    return browser_context.pages[0] if browser_context.pages else browser_context.new_page()


@pytest.fixture
def new_page(browser_context):
    """Open another tab in the same browser (own sessionStorage)."""
    return browser_context.new_page


@pytest.fixture
def screenshot():
    """``screenshot(page, "name")`` saves docs/screenshots/name.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path

    return shot


# =============================================================================
# Cross-target scenario suite: `make_server` and generic test doubles.
# (Added for test_vault_api / test_routing / test_forwarding / test_openai_sdk;
# nothing above this line is changed.)
#
# Every scenario test gets its servers from `make_server`, a module-scoped
# factory parametrized over SERVER_TARGETS (env AI_PROXY_TARGETS, default
# "up,worker" or "up", see below). A target registers in SERVER_TARGET_STARTERS a function
# ``starter(tmp_path_factory, token, users, vault, env) -> server`` returning a
# server that is NOT started yet; ``make_server`` then calls
# ``server.put_users(users)`` (before start), ``server.start()`` and
# ``server.put_vault(vault)``. The server must offer ProxyServer's interface
# (``url``, ``token``, ``request``, ``admin``, ``put_vault``,
# ``get_vault_text``, ``put_users``, ``get_users``, ``log_lines``, ``stop``)
# plus ``target``, ``full_log`` and ``kv_get(key) -> bytes | None``.
# Environment is given with the core's variable names
# (``{"cloudflare_account_id": "acc123"}``); each target translates them
# (``ai-proxy up``: ``SPIN_VARIABLE_<UPPER>``, see ``up_env``; the Worker:
# vars/secrets ``<UPPER>``, from the same ``SPIN_VARIABLE_*`` entries).
#
# AI_PROXY_REQUIRE_BINARY=1 turns a missing host binary into a failure
# instead of a skip (CI sets it).
#
# Targets: "up" (``ai-proxy up``) and "worker" (the Cloudflare Worker under
# ``wrangler dev --local``, WorkerServer in tests/worker/worker_target.py).
# Without AI_PROXY_TARGETS both run when the Worker is built
# (worker/build/index.js, or $AI_PROXY_WORKER_BUILD/index.js), else only "up".
# AI_PROXY_REQUIRE_WORKER=1 makes a missing Worker build (or wrangler) a
# failure instead of a skip. A scenario that cannot apply to one target
# checks ``server.target`` (or ``make_server.target``) and calls pytest.skip
# with the reason.
# =============================================================================
import socket as _socket
import sys as _sys


def worker_build_index() -> Path:
    return Path(os.environ.get("AI_PROXY_WORKER_BUILD", REPO / "worker" / "build")) / "index.js"


def _require_worker() -> bool:
    return os.environ.get("AI_PROXY_REQUIRE_WORKER") == "1"


def _default_targets() -> str:
    return "up,worker" if worker_build_index().exists() or _require_worker() else "up"


SERVER_TARGETS: list[str] = [t.strip() for t in os.environ.get("AI_PROXY_TARGETS", _default_targets()).split(",")
                             if t.strip()]


def up_env(env: dict[str, str] | None) -> dict[str, str]:
    """Core variable names → ``ai-proxy up`` environment (``SPIN_VARIABLE_<UPPER>``)."""
    return {f"SPIN_VARIABLE_{k.upper()}": str(v) for k, v in (env or {}).items()}


class UpServer(ProxyServer):
    """``ai-proxy up`` with the extras the scenario suite uses."""

    target = "up"

    def kv_get(self, key: str) -> bytes | None:
        """A raw value of the server's KV store (read through the CLI; SQLite WAL allows it while running)."""
        out = subprocess.run([str(proxy_bin()), "kv", "get", "--state-dir", str(self.state_dir), key],
                             capture_output=True, cwd=REPO, timeout=30)
        if out.returncode != 0:
            if b"no key" in out.stderr:
                return None
            raise AssertionError(f"ai-proxy kv get {key} failed: {out.stderr.decode(errors='replace')}")
        return out.stdout

    @property
    def full_log(self) -> str:
        """Every line the server printed so far (``log`` keeps only the last 200)."""
        return "\n".join(self.log_lines)


def _start_up(tmp_path_factory, token: str, users: dict | None, vault, env: dict | None) -> UpServer:
    """The ``up`` target: an unstarted UpServer (``users``/``vault`` are applied by ``make_server``)."""
    if not proxy_bin().exists():
        if os.environ.get("AI_PROXY_REQUIRE_BINARY") == "1":
            pytest.fail(f"{proxy_bin()} not built and AI_PROXY_REQUIRE_BINARY=1")
        pytest.skip(f"{proxy_bin()} not built (set AI_PROXY_BIN or build the release host)")
    return UpServer(token, tmp_path_factory.mktemp("proxy-state"), up_env(env))


def _start_worker(tmp_path_factory, token: str, users: dict | None, vault, env: dict | None):
    """The ``worker`` target: an unstarted WorkerServer. Core variable names go in as
    ``SPIN_VARIABLE_<UPPER>`` (like ``up``); WorkerServer writes them to .dev.vars as ``<UPPER>``."""
    # Imported here: worker_target imports this module.
    worker_dir = str(REPO / "tests" / "worker")
    if worker_dir not in _sys.path:
        _sys.path.insert(0, worker_dir)
    from worker_target import WORKER_DIR, WorkerServer

    missing = None
    if not worker_build_index().exists():
        missing = f"{worker_build_index()} not built (bash worker/setup.sh && bash worker/build.sh)"
    elif not (WORKER_DIR / "node_modules" / "wrangler").exists() and "AI_PROXY_WRANGLER" not in os.environ:
        missing = "wrangler not installed (bash worker/setup.sh)"
    if missing:
        if _require_worker():
            pytest.fail(f"{missing} and AI_PROXY_REQUIRE_WORKER=1")
        pytest.skip(missing)
    return WorkerServer(token, tmp_path_factory.mktemp("worker-state"), up_env(env))


SERVER_TARGET_STARTERS: dict[str, Callable[..., Any]] = {"up": _start_up, "worker": _start_worker}


@pytest.fixture(scope="module", params=SERVER_TARGETS)
def make_server(request, tmp_path_factory):
    """``make(users=None, vault=None, env=None, token=None) -> started server``.

    Module-scoped: servers live until the end of the test module (use
    ``make_fresh_server`` for servers that should stop after one test).
    ``users`` is stored before start; ``vault`` (dict or JSON text) is PUT
    once the server runs. ``make.target`` names the target.
    """
    target = request.param
    starter = SERVER_TARGET_STARTERS.get(target)
    if starter is None:
        pytest.skip(f"no starter for target {target!r}")
    made: list[Any] = []

    def make(users: dict | None = None, vault: dict | str | None = None, env: dict[str, str] | None = None,
             token: str | None = None) -> Any:
        tok = token or "tok-" + secrets.token_urlsafe(18)
        srv = starter(tmp_path_factory, tok, users, vault, env)
        made.append(srv)
        if users is not None:
            srv.put_users(users)
        srv.start()
        if vault is not None:
            srv.put_vault(vault)
        return srv

    make.target = target
    make.made = made
    try:
        yield make
    finally:
        for srv in made:
            srv.stop()


@pytest.fixture
def make_fresh_server(make_server):
    """Like ``make_server``, but the servers made in this test stop at its end."""
    before = len(make_server.made)

    def make(**kwargs):
        return make_server(**kwargs)

    make.target = make_server.target
    try:
        yield make
    finally:
        for srv in make_server.made[before:]:
            srv.stop()


@pytest.fixture(scope="module")
def module_upstream():
    """A MockUpstream shared by one test module (use ``upstream`` to get it reset)."""
    m = MockUpstream()
    try:
        yield m
    finally:
        m.close()


@pytest.fixture
def upstream(module_upstream):
    """The module's MockUpstream with no rules and no recorded requests."""
    module_upstream.reset()
    module_upstream.models = list(DEFAULT_MODELS)
    return module_upstream


def closed_port() -> int:
    """A loopback port nobody listens on (bound then released)."""
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RawSocketMock:
    """A loopback TCP server whose replies are written by hand.

    ``script(conn, head, body)`` gets the socket, the request head (bytes up to
    the blank line) and the body (read by Content-Length), and writes whatever
    it likes — e.g. a response head and two chunks, then a close without the
    terminating chunk. Received requests are kept in ``requests``.
    """

    def __init__(self, script: Callable[[Any, bytes, bytes], None]) -> None:
        self.script = script
        self.requests: list[tuple[bytes, bytes]] = []
        self._sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        self._sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._closed = False
        threading.Thread(target=self._accept_loop, name="raw-socket-mock", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        conn.settimeout(10)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            n = int(m.group(1)) if m else 0
            while len(body) < n:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
            self.requests.append((head, body))
            self.script(conn, head, body)
        except OSError:
            pass
        finally:
            try:
                conn.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self._closed = True
        self._sock.close()
