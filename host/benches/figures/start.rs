//! Start-up of a server with many groups: time from spawning
//! `toolhost serve` (stdio) to the first `tools/list` that has every
//! group's tools, and resident memory once it is idle.
//!
//! The groups are copies of the `versioned` fixture whose group-name slot
//! is patched (`toolhost_tests::live::versioned_as`): distinct groups
//! without compiling the crate once per group.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt as _;
use toolhost_tests::PluginDir;
use toolhost_tests::live::versioned_as;

use crate::common::StdioServer;
use crate::{mib, time};

/// Groups in the plugin directory.
pub const GROUPS: usize = 50;

/// How long a server gets to settle before its memory is read.
const SETTLE: Duration = Duration::from_secs(1);

/// One start.
struct Start {
    /// Spawn → first complete `tools/list`.
    time: Duration,
    /// VmRSS once idle, in bytes.
    rss: u64,
    /// Groups the server's log says came from the compile cache.
    cached: usize,
}

/// Several starts of the same directory.
pub struct Starts {
    /// Median spawn → first complete `tools/list`.
    pub time: Duration,
    /// Median VmRSS once idle, in bytes.
    pub rss: u64,
    runs: Vec<Start>,
}

impl Starts {
    /// One line: the medians, then each run's time and cache hits.
    pub fn print(&self, label: &str) {
        let runs: Vec<String> = self
            .runs
            .iter()
            .map(|run| format!("{} ({} cached)", time(run.time), run.cached))
            .collect();
        println!(
            "{label}: start {}, idle RSS {}; runs: {}",
            time(self.time),
            mib(self.rss),
            runs.join(", ")
        );
    }
}

/// `runs` starts of `plugins` (see [`start_once`]), with their medians.
pub async fn starts(plugins: &Path, cache: &Path, groups: usize, runs: usize) -> Starts {
    let mut all = Vec::with_capacity(runs);
    for _ in 0..runs {
        all.push(start_once(plugins, cache, groups).await);
    }
    let mut times: Vec<_> = all.iter().map(|run| run.time).collect();
    let mut rss: Vec<_> = all.iter().map(|run| run.rss).collect();
    times.sort();
    rss.sort();
    Starts {
        time: times[runs / 2],
        rss: rss[runs / 2],
        runs: all,
    }
}

/// A plugin directory with [`GROUPS`] distinct groups, `g00`…`g49`.
pub fn many_groups() -> PluginDir {
    let dir = PluginDir::new();
    for i in 0..GROUPS {
        let name = format!("g{i:02}");
        dir.write(&format!("{name}.wasm"), versioned_as(&name, "v1"));
    }
    dir
}

/// Starts `toolhost serve` on `plugins` with the compile cache in `cache`,
/// polls `tools/list` (every page) until it names `groups` groups, then
/// reads the server's memory once it has settled, and stops it.
async fn start_once(plugins: &Path, cache: &Path, groups: usize) -> Start {
    let args = [OsStr::new("--cache-dir"), cache.as_os_str()];
    let started = Instant::now();
    // Info level for the "loaded … cached=true" lines; 50 lines cost nothing.
    let (server, stderr) = StdioServer::start(plugins, &args, &[("RUST_LOG", "info")], true).await;
    let mut stderr = stderr.expect("stderr is piped");
    let log = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let complete = async {
        loop {
            let tools = server.client.list_all_tools().await.expect("tools/list");
            let seen: BTreeSet<&str> = tools
                .iter()
                .filter_map(|tool| tool.name.split_once('_').map(|(group, _)| group))
                .collect();
            if seen.len() >= groups {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(300), complete)
        .await
        .expect("every group listed within 300 s");
    let time = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    let rss = rss(server.pid);
    let _ = server.client.cancel().await;
    let log = tokio::time::timeout(Duration::from_secs(30), log)
        .await
        .expect("the server exits once its client is gone")
        .unwrap_or_default();
    let cached = log
        .lines()
        .filter(|line| line.contains("loaded") && line.contains("cached=true"))
        .count();
    Start { time, rss, cached }
}

/// VmRSS of process `pid`, in bytes (0 if unreadable).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}
