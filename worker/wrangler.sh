#!/usr/bin/env bash
# Runs the pinned wrangler (worker/node_modules, from setup.sh) under a
# node >= 22, e.g.  bash worker/wrangler.sh dev --local -c worker/wrangler.toml
set -euo pipefail
# shellcheck source=tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
NODE_BIN="$(resolve_node)"
WRANGLER_JS="$WORKER_DIR/node_modules/wrangler/bin/wrangler.js"
if [[ -z "$NODE_BIN" || ! -f "$WRANGLER_JS" ]]; then
    echo "wrangler or node >= $NODE_MIN_MAJOR missing: run bash worker/setup.sh" >&2
    exit 1
fi
export PATH="$(dirname "$NODE_BIN"):$PATH"
exec "$NODE_BIN" "$WRANGLER_JS" "$@"
