//! What toolhost adds in front of an upstream MCP server: the same
//! trivial tool (`echo` of `@modelcontextprotocol/server-everything`, over
//! stdio) called directly and through `toolhost serve` (which runs the same
//! server as `[upstreams.everything]`), with the same rmcp client, in the
//! same run, alternating batches.
//!
//! ```text
//! cargo bench -p toolhost --bench upstream
//! TOOLHOST_BIN=/path/to/toolhost cargo bench -p toolhost --bench upstream
//! ```
//!
//! Prints p50, p99 and calls/s of each, one call at a time and 8 at once,
//! and the ratios of toolhost to direct; asserts nothing. Needs `npm` (the
//! tests install the server under the target directory).

use std::time::{Duration, Instant};

use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use serde_json::json;
use toolhost_tests::{PluginDir, servers};

/// Calls per batch, and batches per side.
const BATCH: usize = 100;
const BATCHES: usize = 10;
/// Calls in flight at once in the concurrent rows.
const CONCURRENCY: usize = 8;

type Client = RunningService<RoleClient, ()>;

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo bench -- --list` and test discovery
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}

async fn connect(command: tokio::process::Command) -> Client {
    ().serve(TokioChildProcess::new(command).unwrap())
        .await
        .expect("MCP handshake")
}

async fn echo(client: &Client, tool: &str) {
    let arguments = json!({ "message": "hi" }).as_object().unwrap().clone();
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true), "{result:?}");
}

/// Latencies of `BATCH` calls one at a time.
async fn one_at_a_time(client: &Client, tool: &str, into: &mut Vec<Duration>) -> Duration {
    let started = Instant::now();
    for _ in 0..BATCH {
        let call = Instant::now();
        echo(client, tool).await;
        into.push(call.elapsed());
    }
    started.elapsed()
}

/// `BATCH` calls, `CONCURRENCY` in flight at once; how long they took.
async fn concurrent(client: &Client, tool: &str) -> Duration {
    let started = Instant::now();
    let mut left = BATCH;
    while left > 0 {
        let n = left.min(CONCURRENCY);
        futures::future::join_all((0..n).map(|_| echo(client, tool))).await;
        left -= n;
    }
    started.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn run() {
    let server = servers::everything();
    let direct = {
        let mut command = tokio::process::Command::new(&server.node);
        command.arg(&server.script).arg("stdio");
        connect(command).await
    };
    let dir = PluginDir::new();
    dir.set_config(&server.upstream("everything", ""));
    let toolhost = std::env::var_os("TOOLHOST_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_toolhost").into());
    let through = {
        let mut command = tokio::process::Command::new(toolhost);
        command
            .arg("serve")
            .arg(dir.plugins())
            .arg("--config")
            .arg(dir.config().unwrap())
            .arg("--no-watch")
            .env("RUST_LOG", "warn");
        connect(command).await
    };
    // The upstream appears once toolhost has connected to it.
    let started = Instant::now();
    while !through
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .any(|t| t.name == "everything_echo")
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the upstream never appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sides = [(&direct, "echo"), (&through, "everything_echo")];
    for (client, tool) in sides {
        for _ in 0..BATCH {
            echo(client, tool).await;
        }
    }
    let mut latencies = [Vec::new(), Vec::new()];
    let mut serial = [Duration::ZERO; 2];
    let mut parallel = [Duration::ZERO; 2];
    for batch in 0..BATCHES {
        // Alternate which side goes first.
        let order = if batch % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            let (client, tool) = sides[side];
            serial[side] += one_at_a_time(client, tool, &mut latencies[side]).await;
            parallel[side] += concurrent(client, tool).await;
        }
    }
    let calls = (BATCH * BATCHES) as f64;
    let mut rows = Vec::new();
    for side in 0..2 {
        latencies[side].sort();
        rows.push((
            percentile(&latencies[side], 0.5),
            percentile(&latencies[side], 0.99),
            calls / serial[side].as_secs_f64(),
            calls / parallel[side].as_secs_f64(),
        ));
    }
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "echo of server-everything over stdio, {} calls per side ({BATCHES} alternating batches)",
        BATCH * BATCHES
    );
    println!(
        "{:<22} {:>10} {:>10} {:>12} {:>14}",
        "",
        "p50 µs",
        "p99 µs",
        "calls/s",
        format!("calls/s ×{CONCURRENCY}")
    );
    for (name, (p50, p99, serial, parallel)) in ["direct", "through toolhost"].iter().zip(&rows) {
        println!(
            "{name:<22} {:>10.0} {:>10.0} {serial:>12.0} {parallel:>14.0}",
            micros(*p50),
            micros(*p99)
        );
    }
    let (d, t) = (&rows[0], &rows[1]);
    println!(
        "{:<22} {:>10} {:>10} {:>12} {:>14}",
        "toolhost / direct",
        format!("{:.2}×", micros(t.0) / micros(d.0)),
        format!("{:.2}×", micros(t.1) / micros(d.1)),
        format!("{:.0}%", 100.0 * t.2 / d.2),
        format!("{:.0}%", 100.0 * t.3 / d.3),
    );
    println!(
        "added p50: {:.0} µs ({:.0}% of direct)",
        micros(t.0) - micros(d.0),
        100.0 * (micros(t.0) - micros(d.0)) / micros(d.0)
    );
    direct.cancel().await.ok();
    through.cancel().await.ok();
}
