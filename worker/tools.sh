# Tool versions and paths shared by setup.sh, build.sh and wrangler.sh
# (sourced, not run).

WORKER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS="${AI_PROXY_WORKER_TOOLS:-$HOME/.cache/ai-proxy-worker-tools}"
RUST_TOOLCHAIN="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$WORKER_DIR/rust-toolchain.toml")"
WORKER_BUILD_VERSION=0.8.7
# The wasm-bindgen CLI must be exactly the library version in Cargo.lock.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$WORKER_DIR/Cargo.lock")"
NODE_VERSION=22.23.3
NODE_MIN_MAJOR=22

# A node >= NODE_MIN_MAJOR: the pinned copy from setup.sh, else the system one.
resolve_node() {
    local n
    for n in "$TOOLS/node-$NODE_VERSION/bin/node" "$(command -v node 2>/dev/null || true)"; do
        [[ -n "$n" && -x "$n" ]] || continue
        if [[ "$("$n" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0)" -ge "$NODE_MIN_MAJOR" ]]; then
            echo "$n"
            return
        fi
    done
}

esbuild_bin() {
    echo "$WORKER_DIR/node_modules/@esbuild/linux-x64/bin/esbuild"
}

wasm_opt_bin() {
    echo "$WORKER_DIR/node_modules/binaryen/bin/wasm-opt"
}
