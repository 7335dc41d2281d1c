"""The Cloudflare Worker as a test target: ``WorkerServer`` runs the built
Worker (``worker/build/``) under ``wrangler dev --local`` (workerd, local KV)
with the same public interface as ``ProxyServer`` in tests/py/conftest.py,
so a suite can run its scenarios against either host.

``WorkerServer`` subclasses ``ProxyServer``: the HTTP helpers (``request``,
``admin``, ``put_vault``, ``get_vault``, ``get_users``, ...) are the same
code; only starting, stopping and seeding KV before start differ.

Prerequisites (skipped with a message when missing)::

    bash worker/setup.sh && bash worker/build.sh

Environment knobs:

* ``AI_PROXY_WORKER_BUILD``  directory holding the built ``index.js``
  (default ``<repo>/worker/build``)
* ``AI_PROXY_WRANGLER``      command running wrangler (default
  ``<repo>/worker/wrangler.sh``, which picks node >= 22)
* ``AI_PROXY_START_TIMEOUT`` seconds to wait for ``GET /`` (default 120)

Variables: ``env`` entries named ``SPIN_VARIABLE_<NAME>`` (what
``ProxyServer`` passes to ``ai-proxy up``) become Worker vars ``<NAME>``
(``SPIN_VARIABLE_DEBUG`` → ``DEBUG``); the token becomes the secret
``AI_JSON_CRYPTOKEN``. They are written to a ``.dev.vars`` next to a
generated ``wrangler.toml`` in the state directory. Other ``env`` entries go
to wrangler's environment. ``allow_outbound`` is accepted and ignored:
Workers have no outbound allowlist.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKER_DIR = REPO / "worker"
PY_CONFTEST = REPO / "tests" / "py" / "conftest.py"
KV_BINDING = "KV_AI_PROXY"


def _py_conftest():
    """tests/py/conftest.py as a module: the one pytest loaded, else our own copy."""
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if f and Path(f).resolve() == PY_CONFTEST:
            return mod
    name = "ai_proxy_tests_py_conftest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PY_CONFTEST)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


py_conftest = _py_conftest()
ProxyServer = py_conftest.ProxyServer
http = py_conftest.http


def worker_build_dir() -> Path:
    return Path(os.environ.get("AI_PROXY_WORKER_BUILD", WORKER_DIR / "build"))


def wrangler_cmd() -> list[str]:
    custom = os.environ.get("AI_PROXY_WRANGLER")
    return custom.split() if custom else ["bash", str(WORKER_DIR / "wrangler.sh")]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _compatibility_date() -> str:
    m = re.search(r'^compatibility_date\s*=\s*"([^"]+)"', (WORKER_DIR / "wrangler.toml").read_text(), re.M)
    return m.group(1) if m else "2026-11-01"


def _dotenv_value(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class WorkerServer(ProxyServer):
    """The Worker under ``wrangler dev --local`` on 127.0.0.1:<free port>, with
    its own KV state (``--persist-to``) in ``state_dir``."""

    READY_RE = re.compile(r"Ready on http://127\.0\.0\.1:(\d+)")

    def __init__(self, token: str, state_dir: Path, env: dict[str, str] | None = None,
                 allow_outbound: str = "http://127.0.0.1:*") -> None:
        super().__init__(token, state_dir, env, allow_outbound)
        self.persist_dir = self.state_dir / "wrangler-state"
        self.config_dir = self.state_dir / "worker-config"
        self.worker_vars = {"AI_JSON_CRYPTOKEN": token}
        self.process_env: dict[str, str] = {}
        for k, v in self.extra_env.items():
            if k.startswith("SPIN_VARIABLE_"):
                self.worker_vars[k[len("SPIN_VARIABLE_"):].upper()] = v
            else:
                self.process_env[k] = v
        self._config: Path | None = None

    # -- configuration ----------------------------------------------------
    def _check_built(self) -> Path:
        index = worker_build_dir() / "index.js"
        if not index.exists():
            pytest.skip(f"{index} not built (bash worker/setup.sh && bash worker/build.sh)")
        if not (WORKER_DIR / "node_modules" / "wrangler").exists() and "AI_PROXY_WRANGLER" not in os.environ:
            pytest.skip("wrangler not installed (bash worker/setup.sh)")
        return index

    def config(self) -> Path:
        """A wrangler.toml for the prebuilt bundle (no [build] step) and its .dev.vars."""
        if self._config is None:
            index = self._check_built()
            self.config_dir.mkdir(parents=True, exist_ok=True)
            self.persist_dir.mkdir(parents=True, exist_ok=True)
            cfg = self.config_dir / "wrangler.toml"
            cfg.write_text(
                'name = "ai-proxy-test"\n'
                f"main = {json.dumps(str(index))}\n"
                f'compatibility_date = "{_compatibility_date()}"\n'
                "[[kv_namespaces]]\n"
                f'binding = "{KV_BINDING}"\n'
                'id = "local-test"\n'
            )
            self._config = cfg
        # Written on every start: tests may change variables between restarts.
        (self.config_dir / ".dev.vars").write_text(
            "".join(f"{k}={_dotenv_value(v)}\n" for k, v in self.worker_vars.items()))
        return self._config

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "WRANGLER_SEND_METRICS": "false",
            "CLOUDFLARE_CF_FETCH_ENABLED": "false",
            "WRANGLER_LOG_PATH": str(self.state_dir / "wrangler-logs"),
            "NO_UPDATE_NOTIFIER": "1",
            "CI": "true",
            **self.process_env,
        }

    def wrangler(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Runs one wrangler command against this server's config (not ``dev``)."""
        return subprocess.run([*wrangler_cmd(), *args, "-c", str(self.config())], capture_output=True, text=True,
                              cwd=self.config_dir, env=self._env(), stdin=subprocess.DEVNULL, timeout=timeout)

    def kv_put(self, key: str, value: bytes | str) -> None:
        """Writes a key of the local KV namespace (server stopped or running)."""
        f = self.state_dir / "kv-value.tmp"
        f.write_bytes(value.encode() if isinstance(value, str) else value)
        try:
            out = self.wrangler("kv", "key", "put", key, "--path", str(f), "--binding", KV_BINDING,
                                "--local", "--persist-to", str(self.persist_dir))
        finally:
            f.unlink(missing_ok=True)
        assert out.returncode == 0, f"wrangler kv key put {key} failed:\n{out.stdout}{out.stderr}"

    def kv_get(self, key: str) -> bytes | None:
        """A raw value of the local KV namespace (server stopped or running), or
        None when the key is absent (same contract as ``UpServer.kv_get``)."""
        out = self._wrangler_bytes("kv", "key", "get", key, "--binding", KV_BINDING,
                                   "--local", "--persist-to", str(self.persist_dir))
        assert out.returncode == 0, f"wrangler kv key get {key} failed:\n{out.stdout!r}{out.stderr!r}"
        if out.stdout == b"Value not found\n":
            # What wrangler prints for a missing key: tell it from a stored value
            # that happens to be this text.
            listed = self._wrangler_bytes("kv", "key", "list", "--prefix", key, "--binding", KV_BINDING,
                                          "--local", "--persist-to", str(self.persist_dir))
            assert listed.returncode == 0, f"wrangler kv key list failed:\n{listed.stdout!r}{listed.stderr!r}"
            if key not in [k["name"] for k in json.loads(listed.stdout)]:
                return None
        return out.stdout

    def _wrangler_bytes(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([*wrangler_cmd(), *args, "-c", str(self.config())], capture_output=True,
                              cwd=self.config_dir, env=self._env(), stdin=subprocess.DEVNULL, timeout=timeout)

    # -- what the scenario suite (tests/py, ``make_server``) expects -------
    target = "worker"

    @property
    def full_log(self) -> str:
        """Every line wrangler printed so far (the Worker's console lines included)."""
        return "\n".join(self.log_lines)

    # -- lifecycle --------------------------------------------------------
    def start(self, timeout: float | None = None) -> "WorkerServer":
        timeout = timeout or float(os.environ.get("AI_PROXY_START_TIMEOUT", "120"))
        cfg = self.config()
        port, inspector = _free_port(), _free_port()
        cmd = [*wrangler_cmd(), "dev", "--local", "-c", str(cfg), "--ip", "127.0.0.1", "--port", str(port),
               "--inspector-port", str(inspector), "--persist-to", str(self.persist_dir),
               "--show-interactive-dev-session=false"]
        self.log_lines = []
        self.proc = subprocess.Popen(cmd, env=self._env(), cwd=self.config_dir, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self._stopped = False
        self._record_group(True)
        threading.Thread(target=self._pump, daemon=True).start()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"wrangler dev exited with {self.proc.returncode}:\n{self.log}")
            try:
                if http("GET", self.url + "/", timeout=5).status == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"GET / never answered 200 within {timeout}s:\n{self.log}")
            time.sleep(0.2)

    def _pump(self) -> None:
        assert self.proc and self.proc.stdout
        with open(self.state_dir / "ai-proxy.log", "a", encoding="utf-8", errors="replace") as logf:
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.log_lines.append(line)
                logf.write(line + "\n")
                logf.flush()

    def _record_group(self, alive: bool) -> None:
        """With ``AI_PROXY_WORKER_PGID_DIR`` set (worker/test.sh), keeps one file per
        running process group there, so the script can end what an interrupted
        run left behind (wrangler, workerd)."""
        d = os.environ.get("AI_PROXY_WORKER_PGID_DIR")
        if not d or not self.proc:
            return
        f = Path(d) / str(self.proc.pid)
        if alive:
            f.touch()
        else:
            f.unlink(missing_ok=True)

    def stop(self) -> None:
        # The whole group, even when wrangler itself already exited (workerd
        # may still run); once only (the group id could be reused later).
        if not self.proc or getattr(self, "_stopped", True):
            return
        self._stopped = True
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            self._record_group(False)
            self.proc.wait(5)
            return
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        # wrangler's children (workerd) may outlive it by a moment: wait for
        # the whole group, then kill what is left of it.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(5)
        self._record_group(False)

    # -- users ------------------------------------------------------------
    def put_users(self, users: dict) -> None:
        """Before start: written to the local KV with wrangler; once running: PUT /admin/users."""
        if not self.running:
            self.kv_put("users", json.dumps(users))
            return
        super().put_users(users)


@pytest.fixture
def worker_factory(tmp_path_factory):
    """Like ``proxy_factory`` for the Worker: ``make(start=True, token=None,
    users=None, vault=None, env=None) -> WorkerServer``."""
    import secrets

    made: list[WorkerServer] = []

    def make(start: bool = True, token: str | None = None, users: dict | None = None,
             vault: dict | str | None = None, env: dict[str, str] | None = None) -> WorkerServer:
        srv = WorkerServer(token or "tok-" + secrets.token_urlsafe(18), tmp_path_factory.mktemp("worker-state"), env)
        made.append(srv)
        if users is not None:
            srv._check_built()
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
