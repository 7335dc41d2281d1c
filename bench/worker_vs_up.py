#!/usr/bin/env python3
"""Per-request overhead of the Cloudflare Worker (under `wrangler dev
--local`) next to `ai-proxy up`, measured with the bench harness's mock and
load generator in the same run, same vault, same user, loopback only.

    .venv/bin/python bench/worker_vs_up.py      # after bench/run and worker/build.sh

Prints a Markdown table and writes bench/worker_vs_up.json.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "py"), str(REPO / "tests" / "worker")]

from conftest import ProxyServer  # noqa: E402  (the test suite's server classes)
from worker_target import WorkerServer  # noqa: E402

USER_KEY = "sk-bench-user-key-0123456789"
TOKEN = "bench-token-0123456789"
SCENARIOS = [("chat", 1), ("chat", 16), ("models", 1), ("stream", 1)]


def loadgen(url: str, kind: str, c: int) -> dict:
    out = subprocess.run(
        [str(REPO / "target/release/loadgen"), "--url", url, "--kind", kind, "-c", str(c), "--key", USER_KEY,
         "--duration-ms", "3000", "--warmup-ms", "500", "--json"],
        capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def main() -> int:
    mock = subprocess.Popen([str(REPO / "target/release/mock"), "--listen", "127.0.0.1:0", "--delay-ms", "2"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = mock.stdout.readline()
        mock_url = line.strip().split()[-1].rstrip("/")  # "mock listening on http://..."
        vault = {"version": 1, "providers": {"groq": {
            "protocol": "openai", "endpoint": f"{mock_url}/openai/v1",
            "keys": [{"key": "gsk_bench_1"}, {"key": "gsk_bench_2"}],
            "models": [{"id": "llama-3.3-70b-versatile", "usage": "chat", "contextWindow": 131072,
                        "maxOutputTokens": 32768, "tpmLimit": None, "priority": 0}]}}}
        users = {"bench": {"key": USER_KEY}}
        rows, results = [], {}
        servers = {}
        for name, cls in (("up", ProxyServer), ("worker", WorkerServer)):
            srv = cls(TOKEN, Path(tempfile.mkdtemp(prefix=f"bench-{name}-")))
            srv.put_users(users)
            srv.start()
            srv.put_vault(vault)
            servers[name] = srv
        try:
            for kind, c in SCENARIOS:
                path = {"chat": "/groq/v1/chat/completions", "stream": "/groq/v1/chat/completions",
                        "models": "/groq/v1/models"}[kind]
                direct = loadgen(mock_url + ("/openai/v1/models" if kind == "models" else "/openai/v1/chat/completions"), kind, c)
                r = {"direct": direct}
                for name, srv in servers.items():
                    r[name] = loadgen(srv.url + path, kind, c)
                results[f"{kind} c={c}"] = r
        finally:
            for srv in servers.values():
                srv.stop()
    finally:
        mock.terminate()
        mock.wait(5)

    def p50(res, kind):
        hist = res.get("ttfc") if kind == "stream" and res.get("ttfc") else res["latency"]
        return hist["p50_us"] / 1000.0

    print("(stream rows: time to first chunk)")
    print("| scenario | direct p50 ms | ai-proxy up p50 ms (added) | Worker p50 ms (added) | up req/s | Worker req/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for (kind, c) in SCENARIOS:
        r = results[f"{kind} c={c}"]
        d, u, w = p50(r["direct"], kind), p50(r["up"], kind), p50(r["worker"], kind)
        print(f"| {kind} c={c} | {d:.3f} | {u:.3f} (+{u - d:.3f}) | {w:.3f} (+{w - d:.3f}) | "
              f"{r['up'].get('rps', 0):,.0f} | {r['worker'].get('rps', 0):,.0f} |")
    (REPO / "bench" / "worker_vs_up.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
