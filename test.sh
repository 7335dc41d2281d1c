#!/usr/bin/env bash
# Runs every test of ai-proxy: Rust unit and integration tests (real
# component, real host, loopback mocks), the Python suite (official OpenAI
# SDK, HTTP scenarios, the vault UI in Chromium) and, when its toolchain can
# be installed, the same scenarios against the Cloudflare Worker.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }

step "build the component (wasm32-wasip2) and the host"
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
cargo build --release --target wasm32-wasip2 -p ai-proxy
# Fresh even when cargo had nothing to relink, so `ai-proxy up` never rebuilds.
touch target/wasm32-wasip2/release/ai_proxy.wasm
cargo build --release -p ai-proxy-cli

step "Rust tests (unit + integration)"
cargo test --release --workspace

step "Python suite (OpenAI SDK, HTTP scenarios, UI in Chromium)"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/py/requirements.txt
# The component was just built: tests must run it as is, never rebuild it.
export AI_PROXY_NO_BUILD=1
# Scenarios against `ai-proxy up` only: worker/test.sh (below) runs them
# against the Worker once it has rebuilt it.
AI_PROXY_TARGETS=up .venv/bin/python -m pytest tests/py -q -p no:cacheprovider

if [ -x worker/test.sh ]; then
    step "Cloudflare Worker: same scenarios under wrangler dev"
    worker/test.sh
fi
