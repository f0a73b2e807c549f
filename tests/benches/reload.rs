//! Hot reload and start-up figures for toolhost, measured end to end on the
//! release binary with a real MCP client:
//!
//! - reload: a new version renamed into the plugin directory until the
//!   client receives `notifications/tools/list_changed`, against the
//!   host's own load time of that version (compile + describe + swap, from
//!   its "reloaded … took_ms" log line), measured in the same run; the
//!   difference is what reloading adds to compiling;
//! - start-up with 50 groups: time from spawning the server to the first
//!   complete `tools/list`, and resident memory once idle, cold (empty
//!   compile cache) and warm (filled cache), against an empty plugin
//!   directory as the baseline.
//!
//! The 50 groups are 50 copies of the `versioned` fixture (wit-bindgen and
//! serde_json, like a small real plugin) whose group name slot is patched to
//! `group00`…`group49`: a group's name comes from its own `describe()`, so
//! distinct groups need distinct bytes, and patching a fixed-size slot makes
//! them without 50 compilations of the crate.
//!
//! Not a criterion bench (each sample is a process start or a file swap of
//! tens of milliseconds, and memory is not a time): it prints medians.
//! Run: `cargo bench -p toolhost-tests --bench reload` (or `bash bench/reload.sh`).

use std::path::Path;
use std::time::{Duration, Instant};

use toolhost_tests::PluginDir;
use toolhost_tests::live::{Live, publish, versioned, versioned_as};

const GROUPS: usize = 50;
const RUNS: usize = 5;
const RELOADS: u32 = 20;

#[tokio::main]
async fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        // `cargo bench -- --list` / `cargo test --benches` probing.
        return;
    }
    println!(
        "component: versioned fixture, {} bytes",
        versioned("v1").len()
    );
    reload().await;
    start_up().await;
}

async fn reload() {
    let dir = PluginDir::new();
    dir.write("versioned.wasm", versioned("v1"));
    let live = Live::serve(&dir, &[]).await;
    live.ready().await;
    let (mut latencies, mut loads, mut overheads) = (Vec::new(), Vec::new(), Vec::new());
    for n in 2..=RELOADS + 1 {
        let tag = format!("v{n}");
        let bytes = versioned(&tag);
        let seen = live.changes();
        let started = Instant::now();
        publish(&dir, "versioned.wasm", &bytes);
        live.wait_for_change(seen).await;
        let latency = started.elapsed();
        let line = live
            .wait_for_stderr(&["reloaded", &format!("version=\"{tag}\"")])
            .await;
        let took = Duration::from_millis(field(&line, "took_ms").parse().expect("took_ms"));
        latencies.push(latency);
        loads.push(took);
        overheads.push(latency.saturating_sub(took));
        assert_eq!(live.version("versioned_version").await, tag);
    }
    println!("\nreload ({RELOADS} versions, each compiled; median / max)");
    println!(
        "  renamed into place → list_changed   {}",
        spread(&mut latencies)
    );
    println!(
        "  host load time (compile+describe)    {}",
        spread(&mut loads)
    );
    println!(
        "  reload overhead beyond the load      {}   (target < 100 ms)",
        spread(&mut overheads)
    );
}

async fn start_up() {
    let empty = PluginDir::new();
    let full = PluginDir::new();
    for i in 0..GROUPS {
        full.write(
            &format!("group{i:02}.wasm"),
            versioned_as(&format!("group{i:02}"), "v1"),
        );
    }
    let cache = full.root().join("cache");
    let mut rows = Vec::new();
    for (label, dir, cold) in [
        ("empty directory (baseline)", &empty, false),
        ("50 groups, cold (empty cache)", &full, true),
        ("50 groups, warm (filled cache)", &full, false),
    ] {
        let (mut times, mut rss) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            if cold {
                let _ = std::fs::remove_dir_all(&cache);
            }
            let (time, kib) = one_start(dir, &cache).await;
            times.push(time);
            rss.push(kib);
        }
        times.sort();
        rss.sort();
        rows.push((label, times[RUNS / 2], rss[RUNS / 2]));
    }
    println!("\nstart-up: spawn → first complete tools/list; RSS when idle (median of {RUNS})");
    for (label, time, kib) in &rows {
        println!(
            "  {label:32} {:>7.1} ms   {:>6.1} MiB",
            ms(*time),
            *kib as f64 / 1024.0
        );
    }
    let (base, cold, warm) = (&rows[0], &rows[1], &rows[2]);
    println!(
        "  warm / cold time: {:.2}; warm − baseline: {:.1} ms (target: warm < 100 ms)",
        warm.1.as_secs_f64() / cold.1.as_secs_f64(),
        ms(warm.1.saturating_sub(base.1))
    );
    println!(
        "  memory for 50 groups beyond the baseline: {:.1} MiB (target: idle RSS < 60 MiB)",
        (warm.2 as f64 - base.2 as f64) / 1024.0
    );
}

/// Starts a server on `dir`, returns the time to the first complete
/// `tools/list` and its resident memory (KiB) once idle.
async fn one_start(dir: &PluginDir, cache: &Path) -> (Duration, u64) {
    let started = Instant::now();
    let mut command = Live::command(&["serve", dir.plugins().to_str().unwrap()]);
    command.arg("--cache-dir").arg(cache);
    let live = Live::connect(command).await;
    let tools = live.tools().await;
    let time = started.elapsed();
    assert!(tools.len() == GROUPS || dir.plugins().read_dir().unwrap().next().is_none());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let kib = rss_kib(live.pid());
    live.stop().await;
    (time, kib)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// The value of `name=value` in a log line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line.find(&format!("{name}=")).expect("field in log line") + name.len() + 1;
    line[start..].split_whitespace().next().unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn spread(samples: &mut [Duration]) -> String {
    samples.sort();
    format!(
        "{:>7.1} ms / {:>7.1} ms",
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1])
    )
}
