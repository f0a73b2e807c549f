#!/usr/bin/env bash
# Soak: good and hostile calls for DURATION seconds (default 600) against one
# release `toolhost serve`, over stdio and HTTP at once.
#
# The host serves the `math` example and the `misbehave` fixture with short
# limits (toolhost.toml below) so hostile calls end quickly. bench/soak.py
# drives it: one long-lived stdio client, HTTP clients on the stateless
# 2026-07-28 flow (as bench/http.sh), and session clients (2025-11-25, with
# `Mcp-Session-Id`) that end and open sessions as they go. Good calls are
# `math_add` with a checked answer; hostile ones are what `misbehave` offers
# (spin, sleep, memory and stack exhaustion, panic, huge output, floods,
# sandbox escapes) plus malformed requests, each with the error it must get.
#
#   bash bench/soak.sh                 # DURATION=60 bash bench/soak.sh for a quick look
#
# The report: calls per kind and transport, good calls that failed (target
# 0), hostile calls without their expected error (target 0), p50/p99 of
# good calls, and the host's RSS after warm-up, at the end and its maximum
# (sampled every second). Missed targets print `TARGET MISSED`; the exit
# code is 0 all the same, since this is a measurement. Everything stays on
# 127.0.0.1. HTTP_CLIENTS (default 4) and SESSION_CLIENTS (default 2) set
# the number of HTTP clients of each kind; TOOLHOST_BIN soaks a given binary.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-600}
HTTP_CLIENTS=${HTTP_CLIENTS:-4}
SESSION_CLIENTS=${SESSION_CLIENTS:-2}

if [ -n "${TOOLHOST_BIN:-}" ]; then
    BIN=$TOOLHOST_BIN
else
    rustup toolchain install >/dev/null 2>&1 || true
    echo "building toolhost (release)..." >&2
    cargo build --release -p toolhost --quiet
    BIN=target/release/toolhost
fi
echo "building the math example and the misbehave fixture..." >&2
(cd plugins && cargo build --release --quiet -p math)
(cd plugins/fixtures && cargo build --release --quiet -p misbehave)

WORK=$(mktemp -d)
SERVER_PID=
DRIVER_PID=
cleanup() {
    if [ -n "$DRIVER_PID" ]; then kill "$DRIVER_PID" 2>/dev/null || true; wait "$DRIVER_PID" 2>/dev/null || true; fi
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$WORK/plugins"
cp plugins/target/wasm32-wasip2/release/math.wasm \
    plugins/fixtures/target/wasm32-wasip2/release/misbehave.wasm "$WORK/plugins/"

# Limits that end every hostile call within about a second: spinning runs
# out of fuel, sleeping times out, 1 GiB allocations and deep recursion hit
# memory and stack, 2 MiB results pass max_output. The compile cache is off
# so that the RSS figures are the host's own.
cat > "$WORK/toolhost.toml" <<'TOML'
[cache]
enabled = false

[groups.misbehave]
fuel = 200000000
timeout = "1s"
memory = "64MiB"
max_output = "1MiB"
TOML

# The host's stdio is a pair of FIFOs that the driver opens: stdin first,
# then stdout, the order in which the shell below opens them.
mkfifo "$WORK/stdin" "$WORK/stdout"
RUST_LOG=warn,toolhost=info NO_COLOR=1 "$BIN" serve "$WORK/plugins" --no-watch \
    --config "$WORK/toolhost.toml" --http 127.0.0.1:0 --stdio \
    < "$WORK/stdin" > "$WORK/stdout" 2> "$WORK/server.log" &
SERVER_PID=$!

python3 bench/soak.py --pid "$SERVER_PID" --log "$WORK/server.log" \
    --stdin "$WORK/stdin" --stdout "$WORK/stdout" --duration "$DURATION" \
    --http-clients "$HTTP_CLIENTS" --session-clients "$SESSION_CLIENTS" &
DRIVER_PID=$!
status=0
wait "$DRIVER_PID" || status=$?
DRIVER_PID=
if [ "$status" != 0 ]; then
    echo "the soak driver failed (exit $status); server log:" >&2
    tail -n 40 "$WORK/server.log" >&2
fi
exit 0
