//! Every performance figure of issue 17 in one run, each against a baseline
//! measured in the same run, with its target beside it.
//!
//! ```text
//! cargo bench -p toolhost --bench figures
//! TOOLHOST_BIN=/path/to/other/toolhost cargo bench -p toolhost --bench figures
//! ```
//!
//! The second form measures another build of the server (say, a baseline
//! commit's `target/release/toolhost`) with the same client code, for an A/B
//! comparison; the in-process rows always measure this checkout. Only
//! 127.0.0.1 is contacted. A run takes one to two minutes. Nothing is
//! asserted: a missed target prints `no` in the last column.
//!
//! Every line of detail says how many cores other processes kept busy
//! meanwhile (from `/proc/stat`, less this bench and the server): the
//! machine has two cores, so a build or another benchmark running beside
//! this one lowers the figures, and the summary says when that happened.
//!
//! Rows (µs and ms are medians unless a percentile is named):
//!
//! 1. `raw floor`: one `math_add` in a fresh instance with wasmtime alone
//!    (InstancePre → new Store → call), per call, median over batches; the
//!    floor no host can go under. `in-process host path`: the same call
//!    through the host's `CallService` (lookup, validation, sandboxed call,
//!    output checks, MCP mapping) with no transport; ratio to the floor.
//! 2. `stdio round trip`: p50 of sequential calls to `toolhost serve` on
//!    its stdio, from a lean Rust client (`figures/line.rs`: lines on the
//!    pipes, blocking I/O) and from an rmcp client; ratios to the floor.
//!    The target is the lean client's: rmcp's own cost per call is several
//!    times the server's. Beside them, the same line echoed by `cat` over
//!    the same pipes (two processes, each woken once per line: no server
//!    can go under it; on a VM it can be twice the floor), and the stdio
//!    round trip less that.
//! 3. HTTP, from the load generator in `figures/http.rs` (keep-alive
//!    connections, one request at a time each, 5 s per row): `GET /healthz`
//!    req/s at 8 connections (the HTTP stack's floor); stateless 2026-07-28
//!    `tools/call` req/s at 8 connections as a share of it; the server's CPU
//!    time per call (from `/proc/PID/stat`) against the raw floor; the same
//!    on 1 connection with its p50; and calls on 2025-11-25 sessions (one
//!    per connection) as a share of stateless.
//! 4. `beside 2 spinners`: p50/p99 of sequential `math_add` calls (at least
//!    500, and for at least 5 s so that each spinner ends and restarts
//!    twice) while two `misbehave_spin` calls (each spinning until its 2 s
//!    deadline) run without pause, against the same calls with nothing else
//!    running, over stdio and over stateless HTTP. Each side stops after
//!    15 s even if fewer calls were made (the line of detail says how many).
//! 5. Start-up with 50 groups: spawn → first `tools/list` naming all 50
//!    groups (every page, polled until complete). Cold: empty compile cache
//!    (this run fills it), against an empty plugin directory; warm: the
//!    filled cache, against cold. Idle RSS of a warm server against an
//!    empty plugin directory's. The cold figure's target is "no slower than
//!    today": compare it across builds with `TOOLHOST_BIN`.

mod common;
#[path = "figures/cpu.rs"]
mod cpu;
#[path = "figures/http.rs"]
mod http;
#[path = "figures/line.rs"]
mod line;
#[path = "figures/start.rs"]
mod start;

use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{ARGS, RawCall, StdioServer, arguments, in_process_call, in_process_service};
use cpu::Others;
use http::{Conn, HttpServer, Traffic};
use rmcp::model::CallToolRequestParams;
use toolhost_tests::PluginDir;

/// Calls per batch of the in-process rows.
const BATCH: u32 = 200;
/// How long each in-process row runs (at least [`MIN_BATCHES`]).
const IN_PROCESS_TIME: Duration = Duration::from_secs(2);
const MIN_BATCHES: usize = 10;
/// Sequential calls of the stdio round trip.
const STDIO_ROUND_TRIPS: Calls = Calls {
    count: 2000,
    at_least: Duration::ZERO,
};
/// Length of each HTTP load row.
const HTTP_RUN: Duration = Duration::from_secs(5);
/// Sequential calls of each responsiveness row: long enough for each
/// spinner (2 s deadline) to end and restart twice.
const BESIDE_SPINNERS: Calls = Calls {
    count: 500,
    at_least: Duration::from_secs(5),
};
/// The longest a row of sequential calls runs, however few were made (a
/// host that stalls beside spinners would otherwise stretch the run by
/// minutes).
const CALLS_AT_MOST: Duration = Duration::from_secs(15);
/// Starts of an empty directory and warm starts, of which the median
/// counts (the cold start runs once: it is the one that fills the cache).
const STARTS: usize = 5;

/// The spinner's deadline: it spins until then, so a short one restarts
/// often. Fuel is unbounded so that the deadline, not fuel, ends it.
const CONFIG: &str = "[groups.misbehave]\nfuel = 100000000000000\ntimeout = \"2s\"\n";

#[tokio::main]
async fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo bench -- --list` and test discovery
    }
    println!("toolhost binary: {}", common::toolhost_bin().display());
    // Other work on the machine lowers every figure; say how much there was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average before the run: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut table = Table::default();
    let floor = in_process(&mut table).await;
    let dir = PluginDir::with(&[toolhost_tests::MATH, toolhost_tests::MISBEHAVE]);
    dir.set_config(CONFIG);
    over_stdio(&mut table, &dir, floor).await;
    over_http(&mut table, &dir, floor).await;
    start_up(&mut table).await;
    table.print();
}

/// Figure 1: the raw floor and the in-process host path; returns the floor.
async fn in_process(table: &mut Table) -> Duration {
    let wasm = Path::new(toolhost_tests::MATH);
    let raw = RawCall::new(wasm, false);
    let others = Others::start(None);
    let floor = per_call(|| async { raw_add(&raw).await }).await;
    println!("raw floor: {}/call; {}", time(floor), table.others(&others));
    table.row("raw floor (wasmtime alone)", time(floor), None, None);
    let service = in_process_service(wasm).await;
    let others = Others::start(None);
    let host = per_call(|| async {
        in_process_call(&service, "math_add", arguments()).await;
    })
    .await;
    println!(
        "in-process host path: {}/call; {}",
        time(host),
        table.others(&others)
    );
    table.row(
        "in-process host path",
        time(host),
        Some(("floor", time(floor))),
        Some(Ratio::times(host, floor).at_most(1.5)),
    );
    floor
}

/// Figures 2 and 4 over stdio, on one server.
async fn over_stdio(table: &mut Table, dir: &PluginDir, floor: Duration) {
    let config = dir.config().unwrap();
    let cache = dir.root().join("cache");
    let args = [
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--cache-dir"),
        cache.as_os_str(),
    ];
    let plugins = dir.plugins();
    // Blocking I/O, on this worker: nothing else runs meanwhile.
    let pipe = tokio::task::block_in_place(|| line::pipe_round_trips(STDIO_ROUND_TRIPS.count));
    let pipe_p50 = percentile(&pipe, 0.5);
    println!("a line echoed by cat: p50 {}", time(pipe_p50));
    table.row(
        "pipe round trip p50 (cat)",
        time(pipe_p50),
        Some(("floor", time(floor))),
        Some(Ratio::times(pipe_p50, floor)),
    );
    let lean = tokio::task::block_in_place(|| {
        let mut client = line::LineClient::start(&plugins, &args);
        let others = Others::start(Some(client.pid()));
        let latencies = client.round_trips("math_add", ARGS, STDIO_ROUND_TRIPS.count);
        (latencies, table.others(&others))
    });
    let p50 = percentile(&lean.0, 0.5);
    println!(
        "stdio round trip, lean client: p50 {} over {} calls; {}",
        time(p50),
        lean.0.len(),
        lean.1
    );
    table.row(
        "stdio round trip p50 (lean)",
        time(p50),
        Some(("floor", time(floor))),
        Some(Ratio::times(p50, floor).at_most(3.0)),
    );
    // What the server adds to the pipes, against what the call costs.
    let added = p50.saturating_sub(pipe_p50);
    table.row(
        "stdio round trip less cat's",
        time(added),
        Some(("floor", time(floor))),
        Some(Ratio::times(added, floor)),
    );
    let (server, _) = StdioServer::start(&plugins, &args, &[], false).await;
    let others = Others::start(Some(server.pid));
    let round_trips = stdio_latencies(&server, STDIO_ROUND_TRIPS).await;
    let p50 = percentile(&round_trips, 0.5);
    println!(
        "stdio round trip, rmcp client: p50 {} over {} calls; {}",
        time(p50),
        round_trips.len(),
        table.others(&others)
    );
    table.row(
        "stdio round trip p50 (rmcp)",
        time(p50),
        Some(("floor", time(floor))),
        Some(Ratio::times(p50, floor)),
    );
    let others = Others::start(Some(server.pid));
    let alone = stdio_latencies(&server, BESIDE_SPINNERS).await;
    let spinners = Spinners::stdio(&server);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let loaded = stdio_latencies(&server, BESIDE_SPINNERS).await;
    let spun = spinners.stop();
    let others = table.others(&others);
    let _ = server.client.cancel().await;
    responsiveness(table, "stdio", &alone, &loaded, spun, &others);
}

/// Figures 3 and 4 over HTTP, on one server.
async fn over_http(table: &mut Table, dir: &PluginDir, floor: Duration) {
    let server = HttpServer::start(dir).await;
    check_http(&server).await;
    let healthz = http::drive(&server, Traffic::Healthz, 8, HTTP_RUN).await;
    report(table, "GET /healthz, 8 connections", &healthz);
    table.row("GET /healthz, 8 conn", rate(healthz.per_second), None, None);
    let stateless = http::drive(&server, Traffic::Stateless, 8, HTTP_RUN).await;
    report(table, "stateless tools/call, 8 connections", &stateless);
    table.row(
        "stateless tools/call, 8 conn",
        rate(stateless.per_second),
        Some(("/healthz", rate(healthz.per_second))),
        Some(Ratio::share(stateless.per_second, healthz.per_second).at_least(0.25)),
    );
    table.row(
        "server CPU/call, stateless 8 conn",
        time(stateless.cpu_per_request),
        Some(("floor", time(floor))),
        Some(Ratio::times(stateless.cpu_per_request, floor).at_most(5.0)),
    );
    let single = http::drive(&server, Traffic::Stateless, 1, HTTP_RUN).await;
    report(table, "stateless tools/call, 1 connection", &single);
    table.row(
        "stateless tools/call, 1 conn",
        rate(single.per_second),
        Some(("8 conn", rate(stateless.per_second))),
        Some(Ratio::share(single.per_second, stateless.per_second)),
    );
    let single_p50 = percentile(&single.latencies, 0.5);
    table.row(
        "stateless p50, 1 conn",
        time(single_p50),
        Some(("floor", time(floor))),
        Some(Ratio::times(single_p50, floor)),
    );
    table.row(
        "server CPU/call, stateless 1 conn",
        time(single.cpu_per_request),
        Some(("floor", time(floor))),
        Some(Ratio::times(single.cpu_per_request, floor)),
    );
    let session = http::drive(&server, Traffic::Session, 8, HTTP_RUN).await;
    report(table, "session tools/call, 8 connections", &session);
    table.row(
        "session tools/call, 8 conn",
        rate(session.per_second),
        Some(("stateless", rate(stateless.per_second))),
        Some(Ratio::share(session.per_second, stateless.per_second).at_least(0.8)),
    );
    let others = Others::start(Some(server.pid));
    let alone = http_latencies(&server, BESIDE_SPINNERS).await;
    let spinners = Spinners::http(&server);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let loaded = http_latencies(&server, BESIDE_SPINNERS).await;
    let spun = spinners.stop();
    let others = table.others(&others);
    drop(server);
    responsiveness(table, "HTTP", &alone, &loaded, spun, &others);
}

/// One `math_add` with wasmtime alone.
async fn raw_add(raw: &RawCall) {
    let output = raw.call("add", ARGS).await;
    std::hint::black_box(output);
}

/// Median over batches of the mean time per call of `call`.
async fn per_call<F: Future<Output = ()>>(mut call: impl FnMut() -> F) -> Duration {
    for _ in 0..BATCH {
        call().await;
    }
    let started = Instant::now();
    let mut means = Vec::new();
    while means.len() < MIN_BATCHES || started.elapsed() < IN_PROCESS_TIME {
        let batch = Instant::now();
        for _ in 0..BATCH {
            call().await;
        }
        means.push(batch.elapsed() / BATCH);
    }
    means.sort();
    means[means.len() / 2]
}

/// How many sequential calls a row makes: `count` and for `at_least`, but
/// never for longer than [`CALLS_AT_MOST`].
struct Calls {
    count: usize,
    at_least: Duration,
}

impl Calls {
    /// Whether to make another call, `made` calls and `elapsed` in.
    fn more(&self, made: usize, elapsed: Duration) -> bool {
        (made < self.count || elapsed < self.at_least) && elapsed < CALLS_AT_MOST
    }
}

/// Latencies (sorted) of sequential `math_add` calls over stdio.
async fn stdio_latencies(server: &StdioServer, calls: Calls) -> Vec<Duration> {
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(calls.count);
    while calls.more(latencies.len(), started.elapsed()) {
        let sent = Instant::now();
        let result = server.call("math_add", arguments()).await.unwrap();
        latencies.push(sent.elapsed());
        assert_eq!(result.is_error, Some(false), "{result:?}");
    }
    latencies.sort();
    latencies
}

/// Latencies (sorted) of sequential stateless `math_add` calls on one
/// connection.
async fn http_latencies(server: &HttpServer, calls: Calls) -> Vec<Duration> {
    let mut conn = Conn::open(server.addr).await.unwrap();
    let request = http::stateless_call(server.addr, "math_add", ARGS);
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(calls.count);
    while calls.more(latencies.len(), started.elapsed()) {
        let sent = Instant::now();
        let response = conn.send(&request).await.unwrap();
        latencies.push(sent.elapsed());
        assert_eq!(response.status, 200);
    }
    latencies.sort();
    latencies
}

/// One call over HTTP must succeed before any is measured.
async fn check_http(server: &HttpServer) {
    let mut conn = Conn::open(server.addr).await.unwrap();
    let response = conn
        .send(&http::stateless_call(server.addr, "math_add", ARGS))
        .await
        .unwrap();
    let message = response.message();
    assert!(
        response.status == 200 && message["result"]["isError"] == false,
        "a stateless tools/call failed ({}): {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
}

/// Two `misbehave_spin` calls kept running: each is restarted as soon as
/// it ends.
struct Spinners {
    stop: Arc<AtomicBool>,
    ended: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    started: Instant,
}

/// How long the spinners ran and how many of their calls ended meanwhile
/// (each at its deadline).
struct Spun {
    time: Duration,
    ended: u64,
}

impl Spinners {
    /// On the stdio server's client, concurrently with its other calls.
    fn stdio(server: &StdioServer) -> Spinners {
        Spinners::spawn(|stop, ended| {
            let peer = server.client.peer().clone();
            async move {
                while !stop.load(Ordering::Relaxed) {
                    let _ = peer
                        .call_tool(CallToolRequestParams::new("misbehave_spin"))
                        .await;
                    ended.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    }

    /// Each on its own HTTP connection.
    fn http(server: &HttpServer) -> Spinners {
        let addr = server.addr;
        Spinners::spawn(|stop, ended| async move {
            let mut conn = Conn::open(addr).await.unwrap();
            let request = http::stateless_call(addr, "misbehave_spin", "{}");
            while !stop.load(Ordering::Relaxed) {
                conn.send(&request).await.unwrap();
                ended.fetch_add(1, Ordering::Relaxed);
            }
        })
    }

    fn spawn<F>(spinner: impl Fn(Arc<AtomicBool>, Arc<AtomicU64>) -> F) -> Spinners
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let ended = Arc::new(AtomicU64::new(0));
        let tasks = (0..2)
            .map(|_| tokio::spawn(spinner(stop.clone(), ended.clone())))
            .collect();
        Spinners {
            stop,
            ended,
            tasks,
            started: Instant::now(),
        }
    }

    /// Stops them (the calls still spinning are left to the server).
    fn stop(self) -> Spun {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.abort();
        }
        Spun {
            time: self.started.elapsed(),
            ended: self.ended.load(Ordering::Relaxed),
        }
    }
}

/// Rows of figure 4 for one door.
fn responsiveness(
    table: &mut Table,
    door: &str,
    alone: &[Duration],
    loaded: &[Duration],
    spun: Spun,
    others: &str,
) {
    let (a50, a99) = (percentile(alone, 0.5), percentile(alone, 0.99));
    let (l50, l99) = (percentile(loaded, 0.5), percentile(loaded, 0.99));
    println!(
        "{door} math_add: alone p50 {} p99 {} ({} calls); beside 2 spinners p50 {} p99 {} \
         ({} calls; the spinners ran {:.1} s and {} of their calls ended); {others}",
        time(a50),
        time(a99),
        alone.len(),
        time(l50),
        time(l99),
        loaded.len(),
        spun.time.as_secs_f64(),
        spun.ended,
    );
    table.row(
        &format!("{door} p50 beside 2 spinners"),
        time(l50),
        Some(("alone", time(a50))),
        Some(Ratio::times(l50, a50)),
    );
    table.row(
        &format!("{door} p99 beside 2 spinners"),
        time(l99),
        Some(("alone", time(a99))),
        Some(Ratio::times(l99, a99).at_most(2.0)),
    );
}

/// Figure 5: cold and warm starts with 50 groups, and idle memory.
async fn start_up(table: &mut Table) {
    let empty = PluginDir::new();
    let empty_cache = empty.root().join("cache");
    let baseline = start::starts(&empty.plugins(), &empty_cache, 0, STARTS).await;
    baseline.print("empty plugin directory");
    let dir = start::many_groups();
    let cache = dir.root().join("cache");
    let cold = start::starts(&dir.plugins(), &cache, start::GROUPS, 1).await;
    cold.print(&format!("{} groups, cold", start::GROUPS));
    let warm = start::starts(&dir.plugins(), &cache, start::GROUPS, STARTS).await;
    warm.print(&format!("{} groups, warm", start::GROUPS));
    table.row(
        "warm start, 50 groups",
        time(warm.time),
        Some(("cold", time(cold.time))),
        Some(
            Ratio::times(warm.time, cold.time)
                .value_within(warm.time <= Duration::from_millis(30), "≤ 30 ms"),
        ),
    );
    table.row(
        "idle RSS, 50 groups (warm)",
        mib(warm.rss),
        Some(("empty dir", mib(baseline.rss))),
        Some(
            Ratio::of(warm.rss as f64, baseline.rss as f64)
                .value_within(warm.rss <= 40 << 20, "≤ 40 MiB"),
        ),
    );
    table.row(
        "cold start, 50 groups",
        time(cold.time),
        Some(("empty dir", time(baseline.time))),
        Some(Ratio::times(cold.time, baseline.time).across_builds("A/B: ≤ today's")),
    );
}

/// Prints one load run.
fn report(table: &mut Table, what: &str, load: &http::Load) {
    table.most_others = table.most_others.max(load.others);
    println!(
        "{what}: {} ({} requests, {} failed), p50 {} p99 {}, server CPU {}/request; \
         other processes: {:.2} cores",
        rate(load.per_second),
        load.requests,
        load.failures,
        time(percentile(&load.latencies, 0.5)),
        time(percentile(&load.latencies, 0.99)),
        time(load.cpu_per_request),
        load.others
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A duration in µs below 1 ms, else in ms.
fn time(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 1e-3 {
        format!("{:.1} µs", seconds * 1e6)
    } else {
        format!("{:.1} ms", seconds * 1e3)
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn rate(per_second: f64) -> String {
    format!("{per_second:.0} req/s")
}

/// A figure's ratio to its baseline, and the target it is held to.
struct Ratio {
    value: f64,
    /// Shown as a percentage (a share of the baseline) instead of `×`.
    percent: bool,
    target: String,
    met: Option<bool>,
}

impl Ratio {
    fn of(value: f64, baseline: f64) -> Ratio {
        Ratio {
            value: value / baseline,
            percent: false,
            target: "—".into(),
            met: None,
        }
    }

    fn times(value: Duration, baseline: Duration) -> Ratio {
        Ratio::of(value.as_secs_f64(), baseline.as_secs_f64())
    }

    fn share(value: f64, baseline: f64) -> Ratio {
        Ratio {
            percent: true,
            ..Ratio::of(value, baseline)
        }
    }

    fn at_most(self, limit: f64) -> Ratio {
        Ratio {
            target: format!("≤ {limit}×"),
            met: Some(self.value <= limit),
            ..self
        }
    }

    fn at_least(self, limit: f64) -> Ratio {
        Ratio {
            target: format!("≥ {:.0} %", limit * 100.0),
            met: Some(self.value >= limit),
            ..self
        }
    }

    /// The target is on the value itself, not on the ratio.
    fn value_within(self, met: bool, target: &str) -> Ratio {
        Ratio {
            target: target.into(),
            met: Some(met),
            ..self
        }
    }

    /// The target compares builds: run again with `TOOLHOST_BIN`.
    fn across_builds(self, target: &str) -> Ratio {
        Ratio {
            target: target.into(),
            ..self
        }
    }

    fn shown(&self) -> String {
        match self.value {
            value if self.percent => format!("{:.0} %", value * 100.0),
            value if value < 0.1 => format!("{value:.4}×"),
            value if value < 100.0 => format!("{value:.2}×"),
            value => format!("{value:.0}×"),
        }
    }
}

/// The summary printed last: figure, value, baseline, ratio, target, met?
#[derive(Default)]
struct Table {
    rows: Vec<[String; 6]>,
    /// The most cores other processes kept busy during a measurement.
    most_others: f64,
}

impl Table {
    /// How many cores other processes kept busy since `others` started, as
    /// a phrase; remembered for the summary.
    fn others(&mut self, others: &Others) -> String {
        let cores = others.cores();
        self.most_others = self.most_others.max(cores);
        format!("other processes: {cores:.2} cores")
    }

    fn row(
        &mut self,
        figure: &str,
        value: String,
        baseline: Option<(&str, String)>,
        ratio: Option<Ratio>,
    ) {
        let baseline = baseline.map_or("—".into(), |(name, value)| format!("{name} {value}"));
        let (ratio, target, met) = match ratio {
            None => ("—".into(), "—".into(), "—"),
            Some(ratio) => {
                let met = match ratio.met {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "—",
                };
                (ratio.shown(), ratio.target.clone(), met)
            }
        };
        self.rows
            .push([figure.into(), value, baseline, ratio, target, met.into()]);
    }

    fn print(&self) {
        let header = ["figure", "value", "baseline", "ratio", "target", "met?"].map(String::from);
        let mut widths = [0; 6];
        for row in std::iter::once(&header).chain(&self.rows) {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        println!();
        for row in std::iter::once(&header).chain(&self.rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            println!("{}", cells.join("  ").trim_end());
        }
        println!(
            "\nOther processes kept up to {:.2} cores busy during a measurement (each line \
             above says how many);\nwell above 0.1 the figures are disturbed: run again on a \
             quiet machine.",
            self.most_others
        );
    }
}
