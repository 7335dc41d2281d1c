#!/usr/bin/env bash
# Builds the Worker into worker/build/ (index.js, index_bg.wasm) with
# `worker-build --release`. Extra arguments go to worker-build (e.g. --dev).
#
# With the tools of setup.sh (the normal case here) worker-build is pointed at
# them and downloads nothing; without them, a `worker-build` on PATH is used
# as is (it fetches wasm-bindgen, esbuild and wasm-opt itself).
set -euo pipefail
# shellcheck source=tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$WORKER_DIR"

wb="$TOOLS/worker-build-$WORKER_BUILD_VERSION/bin/worker-build"
args=(--release)
if [[ -x "$wb" ]]; then
    export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION/bin/wasm-bindgen}"
    export ESBUILD_BIN="${ESBUILD_BIN:-$(esbuild_bin)}"
    if [[ -z "${WASM_OPT_BIN:-}" && -x "$(wasm_opt_bin)" && -n "$(resolve_node)" ]]; then
        WASM_OPT_BIN="$(wasm_opt_bin)"
        # binaryen's npm build is a node script.
        export PATH="$(dirname "$(resolve_node)"):$PATH"
    fi
    if [[ -n "${WASM_OPT_BIN:-}" ]]; then
        export WASM_OPT_BIN
    else
        echo "[worker/build] no wasm-opt: building without it (run setup.sh)" >&2
        args+=(--no-opt)
    fi
else
    wb="$(command -v worker-build || true)"
    [[ -n "$wb" ]] || { echo "worker-build missing: run bash worker/setup.sh" >&2; exit 1; }
fi
exec "$wb" "${args[@]}" "$@"
