#!/usr/bin/env bash
# The Cloudflare Worker's tests: installs its toolchain (cached), builds it,
# then runs the HTTP scenario suite of tests/py against the Worker under
# `wrangler dev --local` (target "worker"; ../test.sh ran it against
# `ai-proxy up` already) and the Worker smoke/parity tests of tests/worker.
#
# Without npm the toolchain cannot be installed: a skip notice and exit 0,
# unless AI_PROXY_REQUIRE_WORKER=1 (then a failure).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
    if [[ "${AI_PROXY_REQUIRE_WORKER:-}" == "1" ]]; then
        echo "worker/test.sh: npm is missing and AI_PROXY_REQUIRE_WORKER=1: cannot install wrangler/node for the Worker tests" >&2
        exit 1
    fi
    echo "worker/test.sh: SKIPPED the Cloudflare Worker tests: npm is missing (needed for wrangler and node >= 22; set AI_PROXY_REQUIRE_WORKER=1 to make this a failure)"
    exit 0
fi

bash worker/setup.sh && bash worker/build.sh

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r tests/py/requirements.txt
fi

# Every `wrangler dev` the tests start records its process group here; what an
# interrupted run leaves behind (wrangler, workerd) is ended on exit.
pgids="$(mktemp -d)"
cleanup() {
    local f
    for f in "$pgids"/*; do
        [[ -e "$f" ]] || continue
        kill -KILL -- "-$(basename "$f")" 2>/dev/null || true
    done
    rm -rf "$pgids"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The Worker was just built: a missing build or wrangler is a failure, not a skip.
AI_PROXY_WORKER_PGID_DIR="$pgids" AI_PROXY_REQUIRE_WORKER=1 \
AI_PROXY_NO_BUILD=1 AI_PROXY_TARGETS=worker .venv/bin/python -m pytest \
    tests/py/test_vault_api.py tests/py/test_routing.py tests/py/test_forwarding.py tests/py/test_openai_sdk.py \
    tests/worker -q -p no:cacheprovider
