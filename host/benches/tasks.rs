//! What the tasks extension costs, end to end over HTTP with rmcp's client
//! in its 2026-07-28 mode, same server, same run, alternating:
//!
//! - a plain call from a client that takes no tasks (the fast path);
//! - the same call from a client that declared the tasks extension (the
//!   call runs in a spawned run that could become a task);
//! - a call that becomes a task and finishes at once, from `tools/call`
//!   until `tasks/get` first shows it completed (polled back to back).
//!
//! ```text
//! cargo bench -p toolhost --bench tasks
//! TOOLHOST_BIN=/path/to/toolhost cargo bench -p toolhost --bench tasks
//! ```
//!
//! Prints the p50 and p99 of each and their ratios to the first; asserts
//! nothing.

use std::time::{Duration, Instant};

use rmcp::model::{CallToolRequestParams, CallToolResponse, GetTaskParams, ProtocolVersion};
use rmcp::service::ClientLifecycleMode;
use serde_json::json;
use toolhost_tests::http::{HttpClient, HttpServer};
use toolhost_tests::{CONFORMANCE, Notes, PluginDir};

/// Calls measured per row (after as many to warm up).
const CALLS: usize = 300;

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo bench -- --list` and test discovery
    }
    if std::env::var_os("TOOLHOST_BIN").is_none() {
        // SAFETY: no other thread runs yet.
        unsafe { std::env::set_var("TOOLHOST_BIN", env!("CARGO_BIN_EXE_toolhost")) };
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}

async fn plain(client: &HttpClient) {
    let arguments = json!({ "name": "Ada" }).as_object().unwrap().clone();
    let request = CallToolRequestParams::new("greet").with_arguments(arguments);
    let result = client.call_tool_once(request).await.unwrap();
    assert!(
        matches!(result, CallToolResponse::Complete(_)),
        "{result:?}"
    );
}

async fn task(client: &HttpClient) {
    let request = CallToolRequestParams::new("test_quick_task");
    let CallToolResponse::Task(created) = client.call_tool_once(request).await.unwrap() else {
        panic!("test_quick_task did not become a task");
    };
    let id = created.task.task_id;
    loop {
        let task = client.get_task(GetTaskParams::new(&id)).await.unwrap();
        if task.task.status().is_terminal() {
            break;
        }
    }
}

async fn run() {
    let dir = PluginDir::with(&[CONFORMANCE]);
    dir.set_config("[groups.conformance]\nnamespace = \"\"\n");
    let server = HttpServer::start(&dir, &[]).await;
    server.wait_ready().await;
    let lifecycle = || ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let without = server
        .connect_as(Notes::default(), None, lifecycle())
        .await
        .unwrap();
    let taking = Notes {
        tasks: true,
        ..Notes::default()
    };
    let with = server.connect_as(taking, None, lifecycle()).await.unwrap();

    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..2 * CALLS {
        for (row, times) in times.iter_mut().enumerate() {
            let sent = Instant::now();
            match row {
                0 => plain(&without).await,
                1 => plain(&with).await,
                _ => task(&with).await,
            }
            if round >= CALLS {
                times.push(sent.elapsed());
            }
        }
    }
    let at = |times: &[Duration], q: f64| times[((times.len() - 1) as f64 * q) as usize];
    for row in &mut times {
        row.sort();
    }
    let base = (at(&times[0], 0.5), at(&times[0], 0.99));
    println!("the tasks extension, {CALLS} of each, alternating:");
    let names = [
        "plain call, client without tasks",
        "plain call, client taking tasks",
        "call that becomes a task, until done",
    ];
    for (name, row) in names.iter().zip(&times) {
        let (p50, p99) = (at(row, 0.5), at(row, 0.99));
        println!(
            "  {name:38} p50 {p50:>9.1?}  p99 {p99:>9.1?}  ({:.2}x, {:.2}x)",
            p50.as_secs_f64() / base.0.as_secs_f64(),
            p99.as_secs_f64() / base.1.as_secs_f64()
        );
    }
    let _ = without.cancel().await;
    let _ = with.cancel().await;
}
