#!/usr/bin/env python3
"""The client side of bench/soak.sh: good and hostile calls against one
running `toolhost serve --http 127.0.0.1:0 --stdio`, then a report.

Clients, all at once: one stdio session (the host's stdin and stdout are
FIFOs the script made), HTTP clients on the stateless 2026-07-28 flow (one
self-contained POST per call, some with a progress token so that they take
rmcp's path rather than the host's fast path), and HTTP session clients
(2025-11-25, `Mcp-Session-Id`) that end their session and open a new one
every few calls. Each picks good calls (`math_add`, answer checked) about
two times in three, else a hostile one; every hostile kind names the error
it must get. A sampler reads the host's VmRSS, threads and open files from
/proc every second.

Python 3.11 standard library only.
"""

import argparse
import http.client
import json
import os
import random
import re
import sys
import threading
import time
from collections import defaultdict

CALL_TIMEOUT = 30.0
STATELESS = "2026-07-28"
SESSION = "2025-11-25"


class Kind:
    """One kind of call: what to send and what must come back."""

    def __init__(self, name, tool, arguments, expect, weight, transports=("stdio", "http", "session")):
        self.name = name
        self.tool = tool
        self.arguments = arguments  # a function of the call's sequence number
        self.expect = expect  # (outcome) -> None when as expected, else a reason
        self.weight = weight
        self.transports = transports


def error_containing(*needles):
    def check(outcome):
        if outcome.get("transport_error"):
            return f"transport error: {outcome['transport_error']}"
        if not outcome.get("is_error"):
            return f"succeeded: {outcome.get('text', '')[:120]!r}"
        text = outcome.get("text", "")
        for needle in needles:
            if needle not in text:
                return f"error without {needle!r}: {text[:200]!r}"
        return None

    return check


def any_error(outcome):
    if outcome.get("transport_error"):
        return f"transport error: {outcome['transport_error']}"
    if not outcome.get("is_error"):
        return f"succeeded: {outcome.get('text', '')[:120]!r}"
    return None


def success_with(text):
    def check(outcome):
        if outcome.get("transport_error"):
            return f"transport error: {outcome['transport_error']}"
        if outcome.get("is_error"):
            return f"error: {outcome.get('text', '')[:200]!r}"
        if outcome.get("text") != text:
            return f"answered {outcome.get('text', '')[:120]!r}, not {text!r}"
        return None

    return check


def ends(outcome):
    """Either a result or an error result, as long as the call ends."""
    if outcome.get("transport_error"):
        return f"transport error: {outcome['transport_error']}"
    return None


def hostile_kinds(tools):
    """What misbehave offers that this host has, with the error each must get."""
    kinds = [
        Kind("spin", "misbehave_spin", lambda i: {}, error_containing("ran out of fuel"), 3),
        Kind("sleep", "misbehave_sleep", lambda i: {"ms": 30_000}, error_containing("timed out after"), 2),
        Kind("alloc", "misbehave_alloc", lambda i: {"bytes": 1 << 30}, error_containing("ran out of memory"), 3),
        Kind("recurse", "misbehave_recurse", lambda i: {"depth": 1_000_000_000}, error_containing("stack overflow"), 2),
        # Checked per call by `panic_check`: the call's own message must come back.
        Kind("panic", "misbehave_panic", lambda i: {"message": f"soak panic {i}"}, None, 3),
        Kind("huge_output", "misbehave_huge_output", lambda i: {"bytes": 2 << 20}, error_containing("output too large"), 2),
        Kind("flood", "misbehave_flood", lambda i: {"bytes": 256 << 10}, ends, 1),
        Kind("print_stdout", "misbehave_print_stdout", lambda i: {}, success_with("printed"), 1),
        Kind("leak", "misbehave_leak", lambda i: {"bytes": 8 << 20}, success_with(str(8 << 20)), 1),
        Kind("read_file", "misbehave_read_file", lambda i: {"path": "/etc/passwd"}, any_error, 1),
        Kind("read_env", "misbehave_read_env", lambda i: {"key": "HOME"}, any_error, 1),
        Kind("connect", "misbehave_connect", lambda i: {"addr": "127.0.0.1:9"}, any_error, 1),
        Kind("bad_arguments", "math_add", lambda i: {"a": "one", "b": [2]}, any_error, 1),
        Kind("unknown_tool", "misbehave_nothing_here", lambda i: {}, any_error, 1),
    ]
    return [k for k in kinds if k.tool in tools or k.name == "unknown_tool"]


def panic_check(i):
    return error_containing("panicked", f"soak panic {i}")


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = defaultdict(int)  # (kind, transport) -> count
        self.unexpected = defaultdict(int)  # (kind, transport) -> count
        self.examples = defaultdict(list)  # kind -> reasons
        self.good_latency = defaultdict(list)  # transport -> seconds
        self.violations = []  # stdio lines that are not JSON-RPC

    def record(self, kind, transport, reason, seconds=None):
        with self.lock:
            self.calls[(kind, transport)] += 1
            if reason is not None:
                self.unexpected[(kind, transport)] += 1
                if len(self.examples[kind]) < 3:
                    self.examples[kind].append(f"[{transport}] {reason}")
            elif seconds is not None:
                self.good_latency[transport].append(seconds)


def call_outcome(message):
    """A tools/call answer as {is_error, text} or {transport_error}."""
    if message is None:
        return {"transport_error": "no answer"}
    if "error" in message:
        error = message["error"]
        return {"is_error": True, "text": f"JSON-RPC {error.get('code')}: {error.get('message')}"}
    result = message.get("result") or {}
    text = "".join(c.get("text", "") for c in result.get("content", []) if c.get("type") == "text")
    return {"is_error": bool(result.get("isError")), "text": text}


# --- stdio -----------------------------------------------------------------


class StdioClient:
    """One MCP session over the host's stdin and stdout; one call at a time,
    answers matched by id by a reader thread."""

    def __init__(self, stdin_path, stdout_path, stats):
        self.stats = stats
        self.write = open(stdin_path, "wb", buffering=0)
        self.read = open(stdout_path, "rb")
        self.pending = {}
        self.lock = threading.Lock()
        self.next_id = 0
        self.closed = False
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        for line in self.read:
            try:
                message = json.loads(line)
                ok = isinstance(message, dict) and message.get("jsonrpc") == "2.0"
            except ValueError:
                ok = False
            if not ok:
                with self.stats.lock:
                    if len(self.stats.violations) < 1000:
                        self.stats.violations.append(line[:200])
                continue
            waiter = self.pending.get(message.get("id"))
            if waiter is not None:
                waiter.append(message)
                waiter[0].set()
        self.closed = True
        for waiter in list(self.pending.values()):
            waiter[0].set()

    def send(self, message):
        self.write.write(json.dumps(message).encode() + b"\n")

    def request(self, method, params, timeout=CALL_TIMEOUT):
        if self.closed:
            return None
        with self.lock:
            self.next_id += 1
            id = self.next_id
        waiter = [threading.Event()]
        self.pending[id] = waiter
        try:
            self.send({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
            waiter[0].wait(timeout)
            return waiter[1] if len(waiter) > 1 else None
        except OSError as e:
            return {"error": {"code": "io", "message": str(e)}}
        finally:
            del self.pending[id]

    def initialize(self):
        answer = self.request(
            "initialize",
            {"protocolVersion": SESSION, "capabilities": {}, "clientInfo": {"name": "soak", "version": "0"}},
        )
        if answer is None or "result" not in answer:
            raise RuntimeError(f"stdio initialize failed: {answer}")
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def call(self, tool, arguments):
        try:
            return call_outcome(self.request("tools/call", {"name": tool, "arguments": arguments}))
        except OSError as e:
            return {"transport_error": str(e)}

    def list_tools(self):
        names, cursor = [], None
        while True:
            answer = self.request("tools/list", {"cursor": cursor} if cursor else {})
            result = (answer or {}).get("result") or {}
            names += [t["name"] for t in result.get("tools", [])]
            cursor = result.get("nextCursor")
            if not cursor:
                return names

    def garbage(self):
        """A line that is not JSON, one that is JSON but no message: the
        session must still answer a ping."""
        try:
            self.write.write(b"{not json at all\n")
            self.write.write(b'{"jsonrpc":"2.0","id":{"no":"id"},"method":7}\n')
        except OSError as e:
            return {"transport_error": str(e)}
        answer = self.request("ping", {})
        if answer is None or "result" not in answer:
            return {"transport_error": f"no ping answer after garbage: {answer}"}
        return {"is_error": True, "text": "ignored"}


# --- HTTP ------------------------------------------------------------------


class HttpClient:
    """Keep-alive HTTP/1.1 to the host's /mcp."""

    def __init__(self, address):
        self.host, port = address.rsplit(":", 1)
        self.port = int(port)
        self.connection = None

    def post(self, body, headers):
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=CALL_TIMEOUT)
            try:
                self.connection.request("POST", "/mcp", body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                if response.getheader("connection", "").lower() == "close":
                    self.close()
                return response, data
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def delete(self, headers):
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=CALL_TIMEOUT)
        self.connection.request("DELETE", "/mcp", headers=headers)
        response = self.connection.getresponse()
        response.read()
        return response.status

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def decode_answer(response, data, id):
    """The JSON-RPC message with `id` in a JSON or SSE response body."""
    kind = response.getheader("content-type", "")
    if kind.startswith("application/json"):
        message = json.loads(data)
        return message if isinstance(message, dict) else None
    if kind.startswith("text/event-stream"):
        for line in data.decode().splitlines():
            if line.startswith("data:"):
                payload = line[5:].strip()
                if payload:
                    message = json.loads(payload)
                    if message.get("id") == id:
                        return message
    return None


def stateless_call(client, tool, arguments, id, progress):
    meta = {
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "soak", "version": "0"},
    }
    if progress:
        meta["progressToken"] = id
    body = json.dumps(
        {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": arguments, "_meta": meta}}
    )
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": STATELESS,
        "Mcp-Method": "tools/call",
        "Mcp-Name": tool,
    }
    try:
        response, data = client.post(body, headers)
    except (OSError, http.client.HTTPException) as e:
        return {"transport_error": repr(e)}
    if response.status != 200:
        return call_outcome({"error": {"code": f"HTTP {response.status}", "message": data[:200].decode(errors="replace")}})
    try:
        return call_outcome(decode_answer(response, data, id))
    except ValueError as e:
        return {"transport_error": f"undecodable answer ({e}): {data[:200]!r}"}


class SessionClient:
    """The 2025-11-25 flow over HTTP: initialize, calls with the session id,
    DELETE to end the session."""

    def __init__(self, address):
        self.http = HttpClient(address)
        self.session = None
        self.next_id = 0

    def headers(self):
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.session:
            headers["Mcp-Session-Id"] = self.session
            headers["MCP-Protocol-Version"] = SESSION
        return headers

    def open(self):
        self.session = None
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"protocolVersion": SESSION, "capabilities": {}, "clientInfo": {"name": "soak", "version": "0"}},
            }
        )
        response, data = self.http.post(body, self.headers())
        session = response.getheader("mcp-session-id")
        if response.status != 200 or not session:
            raise RuntimeError(f"initialize over HTTP: {response.status} {data[:200]!r}")
        self.session = session
        response, _ = self.http.post(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}), self.headers())
        if response.status >= 300:
            raise RuntimeError(f"notifications/initialized over HTTP: {response.status}")

    def end(self):
        if self.session:
            try:
                self.http.delete(self.headers())
            except (OSError, http.client.HTTPException):
                self.http.close()
            self.session = None

    def call(self, tool, arguments):
        self.next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}})
        try:
            response, data = self.http.post(body, self.headers())
        except (OSError, http.client.HTTPException) as e:
            return {"transport_error": repr(e)}
        if response.status != 200:
            return call_outcome({"error": {"code": f"HTTP {response.status}", "message": data[:200].decode(errors="replace")}})
        try:
            return call_outcome(decode_answer(response, data, self.next_id))
        except ValueError as e:
            return {"transport_error": f"undecodable answer ({e}): {data[:200]!r}"}


def malformed_post(client):
    """A body that is not JSON: a 4xx, and the connection keeps working."""
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": STATELESS}
    try:
        response, data = client.post('{"jsonrpc":"2.0","id":1,"method":', headers)
    except (OSError, http.client.HTTPException) as e:
        return {"transport_error": repr(e)}
    if 400 <= response.status < 500:
        return {"is_error": True, "text": f"HTTP {response.status}"}
    return {"transport_error": f"HTTP {response.status} for a malformed body: {data[:200]!r}"}


# --- the soak --------------------------------------------------------------


def good_call(call, rng):
    a, b = rng.randint(-10**6, 10**6), rng.randint(-10**6, 10**6)
    started = time.monotonic()
    outcome = call("math_add", {"a": a, "b": b})
    seconds = time.monotonic() - started
    reason = success_with(f"{float(a + b)}")(outcome)
    return reason, seconds


def run_client(transport, call, extra, kinds, stats, deadline, seed, per_call=None, good_share=2 / 3):
    """Calls until `deadline`: good ones `good_share` of the time, else a
    hostile kind by weight. `extra` are transport-only hostile kinds
    (name, function returning an outcome)."""
    rng = random.Random(seed)
    mine = [k for k in kinds if transport in k.transports]
    weights = [k.weight for k in mine] + [1 for _ in extra]
    sequence = 0
    while time.monotonic() < deadline:
        sequence += 1
        if per_call:
            per_call(sequence)
        if rng.random() < good_share:
            reason, seconds = good_call(call, rng)
            stats.record("math_add (good)", transport, reason, seconds)
            continue
        choice = rng.choices(range(len(weights)), weights)[0]
        if choice >= len(mine):
            name, function = extra[choice - len(mine)]
            stats.record(name, transport, any_error(function()))
            continue
        kind = mine[choice]
        check = panic_check(f"{seed}-{sequence}") if kind.name == "panic" else kind.expect
        arguments = kind.arguments(f"{seed}-{sequence}")
        stats.record(kind.name, transport, check(call(kind.tool, arguments)))


def http_address(log_path, deadline):
    while time.monotonic() < deadline:
        with open(log_path, errors="replace") as log:
            match = re.search(r"serving MCP over HTTP.*?address=([0-9.:]+)", log.read())
        if match:
            return match.group(1)
        time.sleep(0.1)
    raise RuntimeError("toolhost did not say where it listens")


def proc_status(pid):
    """VmRSS in KiB, threads and open files of `pid`, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        files = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"]), files


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples = []  # (time.monotonic(), rss KiB, threads, files)
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            sample = proc_status(self.pid)
            if sample is None:
                return
            self.samples.append((time.monotonic(), *sample))
            self.stop.wait(1.0)


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--stdin", required=True)
    parser.add_argument("--stdout", required=True)
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--http-clients", type=int, default=4)
    parser.add_argument("--session-clients", type=int, default=2)
    parser.add_argument("--rss-growth-max", type=float, default=float(os.environ.get("RSS_GROWTH_MAX", "0.5")),
                        help="largest end/start RSS growth that meets the target (0.5 = 50%%)")
    args = parser.parse_args()

    stats = Stats()
    stdio = StdioClient(args.stdin, args.stdout, stats)
    stdio.initialize()
    address = http_address(args.log, time.monotonic() + 30)
    tools = stdio.list_tools()
    for _ in range(600):
        if "math_add" in tools and "misbehave_echo" in tools:
            break
        time.sleep(0.1)
        tools = stdio.list_tools()
    misbehave = sorted(t for t in tools if t.startswith("misbehave_"))
    kinds = hostile_kinds(set(tools))
    print(f"toolhost pid {args.pid}, HTTP on {address}; {len(tools)} tools")
    print(f"misbehave offers: {', '.join(t.removeprefix('misbehave_') for t in misbehave)}")
    print(f"hostile kinds used: {', '.join(k.name for k in kinds)}, + garbage (stdio), malformed_body (HTTP)")
    unused = sorted(set(misbehave) - {k.tool for k in kinds})
    if unused:
        print(f"not called (no hostile use without a grant): {', '.join(t.removeprefix('misbehave_') for t in unused)}")

    sampler = Sampler(args.pid)
    sampler.start()

    # Warm-up: every kind once on every transport, so that lazily built
    # state (instances, pools, sessions) is in the starting RSS.
    warm = HttpClient(address)
    session = SessionClient(address)
    session.open()
    for kind in kinds:
        arguments = kind.arguments("warm")
        stdio.call(kind.tool, arguments)
        stateless_call(warm, kind.tool, arguments, 1, False)
        session.call(kind.tool, arguments)
    for i in range(20):
        stdio.call("math_add", {"a": i, "b": 1})
        stateless_call(warm, "math_add", {"a": i, "b": 1}, i, i % 2 == 0)
        session.call("math_add", {"a": i, "b": 1})
    session.end()
    warm.close()
    time.sleep(1.0)
    start = proc_status(args.pid)
    if start is None:
        print("TARGET MISSED: the host exited during warm-up")
        return 1
    started = time.monotonic()
    deadline = started + args.duration
    print(f"warm-up done; soaking for {args.duration:.0f}s "
          f"(stdio 1 client, HTTP {args.http_clients} stateless + {args.session_clients} session clients)")
    sys.stdout.flush()

    threads = [
        threading.Thread(
            target=run_client,
            args=("stdio", stdio.call, [("garbage", stdio.garbage)], kinds, stats, deadline, 1),
        )
    ]
    for n in range(args.http_clients):
        client = HttpClient(address)
        ids = iter(range(1, 1 << 62))

        def call(tool, arguments, client=client, ids=ids):
            id = next(ids)
            # One call in four carries a progress token: rmcp's stateless path.
            return stateless_call(client, tool, arguments, id, id % 4 == 0)

        extra = [("malformed_body", lambda client=client: malformed_post(client))]
        threads.append(threading.Thread(target=run_client, args=("http", call, extra, kinds, stats, deadline, 100 + n)))
    for n in range(args.session_clients):
        client = SessionClient(address)

        def renew(sequence, client=client):
            # A new session every 50 calls: sessions end as well as start.
            if client.session is None or sequence % 50 == 0:
                client.end()
                try:
                    client.open()
                except (OSError, http.client.HTTPException, RuntimeError) as e:
                    stats.record("session open", "session", f"{e!r}")
                    return
                stats.record("session open", "session", None)

        threads.append(
            threading.Thread(
                target=run_client,
                args=("session", lambda t, a, client=client: client.call(t, a), [], kinds, stats, deadline, 200 + n),
                kwargs={"per_call": renew},
            )
        )
    for thread in threads:
        thread.daemon = True
        thread.start()
    last_report = started
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=1.0)
        now = time.monotonic()
        if now - last_report >= 60 and now < deadline:
            last_report = now
            sample = sampler.samples[-1] if sampler.samples else None
            with stats.lock:
                total = sum(stats.calls.values())
                missed = sum(stats.unexpected.values())
            rss = mib(sample[1]) if sample else "?"
            print(f"  {now - started:5.0f}s: {total} calls, {missed} unexpected, RSS {rss}")
            sys.stdout.flush()
        if now > deadline + 2 * CALL_TIMEOUT:
            print("TARGET MISSED: clients still busy long after the deadline")
            break
    elapsed = time.monotonic() - started
    end = proc_status(args.pid)
    time.sleep(3.0)
    idle = proc_status(args.pid)
    sampler.stop.set()

    report(stats, kinds, sampler, started, start, end, idle, elapsed, args)
    return 0


def report(stats, kinds, sampler, started, start, end, idle, elapsed, args):
    transports = ["stdio", "http", "session"]
    names = ["math_add (good)"] + [k.name for k in kinds] + ["garbage", "malformed_body", "session open"]
    print()
    print(f"{'kind':<18}" + "".join(f"{t:>9}" for t in transports) + f"{'total':>9}{'unexpected':>12}")
    good_total = good_failed = hostile_total = hostile_missed = 0
    for name in names:
        counts = [stats.calls.get((name, t), 0) for t in transports]
        missed = sum(stats.unexpected.get((name, t), 0) for t in transports)
        if sum(counts) == 0:
            continue
        print(f"{name:<18}" + "".join(f"{c:>9}" for c in counts) + f"{sum(counts):>9}{missed:>12}")
        if name == "math_add (good)":
            good_total, good_failed = sum(counts), missed
        elif name != "session open":
            hostile_total += sum(counts)
            hostile_missed += missed
    total = sum(stats.calls.values())
    print(f"{'all':<18}" + "".join(f"{sum(stats.calls.get((n, t), 0) for n in names):>9}" for t in transports)
          + f"{total:>9}{sum(stats.unexpected.values()):>12}")
    print(f"\n{total} calls in {elapsed:.0f}s ({total / elapsed:.1f}/s)")

    latencies = [s for t in transports for s in stats.good_latency[t]]
    print(f"good calls: {good_total}, failed: {good_failed}; "
          f"latency p50 {percentile(latencies, 50) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms")
    for t in transports:
        values = stats.good_latency[t]
        if values:
            print(f"  {t:<8} {len(values):>7} ok   p50 {percentile(values, 50) * 1000:7.1f} ms   "
                  f"p99 {percentile(values, 99) * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms")
    print(f"hostile calls: {hostile_total}, without their expected error: {hostile_missed}")
    for kind, examples in sorted(stats.examples.items()):
        for example in examples:
            print(f"  {kind}: {example}")
    if stats.violations:
        print(f"stdio: {len(stats.violations)} lines on the host's stdout that are not JSON-RPC, e.g. {stats.violations[0]!r}")

    rss = [s[1] for s in sampler.samples]
    soaking = [s[1] for s in sampler.samples if s[0] >= started]
    print("\nhost (/proc, sampled every second):")
    print(f"  RSS after warm-up {mib(start[0])}, at the end {mib(end[0]) if end else 'gone'}, "
          f"3s later {mib(idle[0]) if idle else 'gone'}, max {mib(max(rss)) if rss else '?'}")
    print(f"  threads {start[1]} -> {end[1] if end else '?'}, open files {start[2]} -> {end[2] if end else '?'}")
    if len(soaking) >= 4:
        # RSS over the soak's second half against its first: a steady leak
        # shows as growth even when the maximum is not alarming.
        half = len(soaking) // 2
        first, second = sum(soaking[:half]) / half, sum(soaking[half:]) / (len(soaking) - half)
        print(f"  mean RSS first half {mib(first)}, second half {mib(second)}")

    print()
    if good_failed:
        print(f"TARGET MISSED: {good_failed} of {good_total} good calls failed (target 0)")
    if hostile_missed:
        print(f"TARGET MISSED: {hostile_missed} of {hostile_total} hostile calls did not get their expected error (target 0)")
    if stats.violations:
        print(f"TARGET MISSED: {len(stats.violations)} non-JSON-RPC lines on stdio (target 0)")
    if end is None or idle is None:
        print("TARGET MISSED: the host is gone")
    elif idle[0] > start[0] * (1 + args.rss_growth_max):
        print(f"TARGET MISSED: RSS grew from {mib(start[0])} to {mib(idle[0])} "
              f"(more than {args.rss_growth_max:.0%}; RSS_GROWTH_MAX sets the bound)")
    if not (good_failed or hostile_missed or stats.violations) and end and idle and idle[0] <= start[0] * (1 + args.rss_growth_max):
        print("all targets met")


if __name__ == "__main__":
    sys.exit(main())
