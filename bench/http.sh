#!/usr/bin/env bash
# tools/call throughput and latency over streamable HTTP.
#
# Starts a release `toolhost serve --http 127.0.0.1:0` on one trivial tool
# and drives it with wrk (installed from Debian if missing) at 1, 8 and 64
# concurrent clients, without auth and with a static bearer token. Each run
# lasts DURATION seconds (default 10) and only talks to 127.0.0.1. The
# baseline is GET /healthz at 8 clients in the same run: the HTTP stack's
# floor, which the tools/call rows are reported against.
#
#   bash bench/http.sh            # DURATION=5 bash bench/http.sh for a quick look
#
# Requests use the stateless 2026-07-28 flow (one self-contained POST per
# call, JSON response), which is what a load balancer in front of several
# hosts sees.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-"1 8 64"}

if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package)..." >&2
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq >&2
    $SUDO apt-get install -y -qq wrk >&2
fi

# TOOLHOST_BIN measures another build (e.g. a baseline commit's) the same way.
if [ -n "${TOOLHOST_BIN:-}" ]; then
    BIN=$TOOLHOST_BIN
else
    rustup toolchain install >/dev/null 2>&1 || true
    echo "building toolhost (release)..." >&2
    cargo build --release -p toolhost --quiet
    BIN=target/release/toolhost
fi

# A trivial tool: the example `math_add`, unless BENCH_WASM, BENCH_TOOL and
# BENCH_ARGS name another.
if [ -n "${BENCH_WASM:-}" ]; then
    WASM=$BENCH_WASM
    TOOL=${BENCH_TOOL:?set BENCH_TOOL with BENCH_WASM}
    ARGS=${BENCH_ARGS:-'{}'}
else
    echo "building the math example plugin..." >&2
    (cd plugins && cargo build --release --quiet -p math)
    WASM=plugins/target/wasm32-wasip2/release/math.wasm
    TOOL=math_add
    ARGS='{"a":1,"b":2}'
fi

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/plugins"
cp "$WASM" "$WORK/plugins/"
TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$TOKEN bench" > "$WORK/tokens"

# call_body EXTRA_META: a stateless tools/call; EXTRA_META (e.g. a progress
# token) is added to _meta.
call_body() {
    printf '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"%s","arguments":%s,"_meta":{%s"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"0"}}}}' "$TOOL" "$ARGS" "$1"
}
BODY=$(call_body "")
# The same call with a progress token: the host's stateless fast path
# leaves such requests to rmcp's protocol layer, so this row is the cost of
# a call through rmcp, measured in the same run.
PROGRESS_BODY=$(call_body '"progressToken":1,')
for script in call progress; do
    if [ "$script" = call ]; then body=$BODY; else body=$PROGRESS_BODY; fi
    cat > "$WORK/$script.lua" <<LUA
wrk.method = "POST"
wrk.body = [[$body]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
wrk.headers["Mcp-Method"] = "tools/call"
wrk.headers["Mcp-Name"] = "$TOOL"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
LUA
done

# start_server ARGS... : sets SERVER_PID and ADDR.
start_server() {
    RUST_LOG=warn,toolhost=info "$BIN" serve "$WORK/plugins" --http 127.0.0.1:0 "$@" \
        2> "$WORK/server.log" &
    SERVER_PID=$!
    ADDR=
    for _ in $(seq 1 300); do
        ADDR=$(grep -o 'address=[0-9.:]*' "$WORK/server.log" | head -1 | cut -d= -f2 || true)
        if [ -n "$ADDR" ] && curl -sf "http://$ADDR/readyz" >/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "toolhost did not become ready:" >&2; cat "$WORK/server.log" >&2; exit 1
}

stop_server() {
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

# check_call AUTH: one call must succeed before measuring.
check_call() {
    local out
    out=$(curl -s "http://$ADDR/mcp" -H "Content-Type: application/json" \
        -H "Accept: application/json, text/event-stream" -H "MCP-Protocol-Version: 2026-07-28" \
        -H "Mcp-Method: tools/call" -H "Mcp-Name: $TOOL" ${1:+-H "Authorization: $1"} -d "$BODY")
    if ! grep -q '"isError":false' <<<"$out"; then
        echo "a single tools/call failed: $out" >&2; cat "$WORK/server.log" >&2; exit 1
    fi
}

# server_ticks: CPU time the server has used so far (user + system), in
# clock ticks.
server_ticks() {
    awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"
}

# measure LABEL CLIENTS URL [LUA] : prints one table row. The last column
# is the server's CPU time per request, which a busy machine disturbs far
# less than throughput: compare builds by it.
measure() {
    local label=$1 clients=$2 url=$3 script=${4:-}
    local threads=$(( clients < 2 ? clients : 2 ))
    local out before after
    before=$(server_ticks)
    out=$(timeout $((DURATION + 30)) wrk -t "$threads" -c "$clients" -d "${DURATION}s" --latency \
        ${script:+-s "$script"} "$url")
    after=$(server_ticks)
    local rps p50 p99 errors requests cpu
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    cpu=$(awk -v t=$((after - before)) -v n="$requests" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.1fus", (n > 0 ? t / hz / n * 1e6 : 0) }')
    printf '%-22s %8s %12s %10s %10s %8s %10s\n' "$label" "$clients" "$rps" "$p50" "$p99" "${errors:-0}" "$cpu"
    echo "$rps" > "$WORK/last_rps"
}

printf '%-22s %8s %12s %10s %10s %8s %10s\n' "case" "clients" "req/s" "p50" "p99" "non-2xx" "cpu/req"

start_server
check_call ""
measure "GET /healthz (floor)" 8 "http://$ADDR/healthz"
FLOOR=$(cat "$WORK/last_rps")
for c in $CLIENTS; do
    BENCH_AUTH="" measure "tools/call $TOOL" "$c" "http://$ADDR/mcp" "$WORK/call.lua"
    [ "$c" = 8 ] && NOAUTH8=$(cat "$WORK/last_rps")
done
BENCH_AUTH="" measure "via rmcp (progress)" 8 "http://$ADDR/mcp" "$WORK/progress.lua"
RMCP8=$(cat "$WORK/last_rps")
stop_server

start_server --auth-tokens "$WORK/tokens"
check_call "Bearer $TOKEN"
for c in $CLIENTS; do
    BENCH_AUTH="Bearer $TOKEN" measure "tools/call + auth" "$c" "http://$ADDR/mcp" "$WORK/call.lua"
done
stop_server

if [ -n "${NOAUTH8:-}" ]; then
    awk -v call="$NOAUTH8" -v floor="$FLOOR" -v rmcp="$RMCP8" 'BEGIN {
        printf "\ntools/call at 8 clients runs at %.0f%% of the GET /healthz floor (%.0f vs %.0f req/s)\n",
            100 * call / floor, call, floor
        printf "and at %.2fx the same call through rmcp'"'"'s protocol layer (%.0f req/s)\n",
            call / rmcp, rmcp }'
fi
