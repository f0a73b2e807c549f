//! A call that asks the user one question, answered by the client, end to
//! end over HTTP: the 2025-11-25 session flow (the question goes to the
//! client on the call's SSE stream and the plugin waits) against the
//! 2026-07-28 flow (`input_required`, then a retry that runs the operation
//! again with the answer), same server, same rmcp client library, same run.
//!
//! ```text
//! cargo bench -p toolhost --bench elicit
//! TOOLHOST_BIN=/path/to/toolhost cargo bench -p toolhost --bench elicit
//! ```
//!
//! Prints the p50 and p99 of each flow and their ratio; asserts nothing.

use std::time::{Duration, Instant};

use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::ClientLifecycleMode;
use serde_json::json;
use toolhost_tests::http::HttpServer;
use toolhost_tests::{CONFORMANCE, Notes, PluginDir};

/// Calls measured per flow (after as many to warm up).
const CALLS: usize = 300;
/// The tool: asks for a confirmation once, then answers.
const TOOL: &str = "test_input_required_result_request_state";

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

async fn run() {
    let dir = PluginDir::with(&[CONFORMANCE]);
    dir.set_config("[groups.conformance]\nnamespace = \"\"\n");
    let server = HttpServer::start(&dir, &[]).await;
    server.wait_ready().await;
    let notes = || Notes {
        elicit_answer: Some(json!({ "ok": true })),
        ..Notes::default()
    };
    let session = server
        .connect_as(notes(), None, ClientLifecycleMode::Initialize)
        .await
        .unwrap();
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let stateless = server.connect_as(notes(), None, lifecycle).await.unwrap();

    // Alternate the flows, so that drift on the machine hits both alike.
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for round in 0..2 * CALLS {
        for (client, times) in [(&session, &mut old), (&stateless, &mut new)] {
            let sent = Instant::now();
            let result = client
                .call_tool(CallToolRequestParams::new(TOOL))
                .await
                .unwrap();
            let took = sent.elapsed();
            let text = serde_json::to_value(&result).unwrap().to_string();
            assert!(text.contains("state-ok: action=accept"), "{text}");
            if round >= CALLS {
                times.push(took);
            }
        }
    }
    old.sort();
    new.sort();
    let at = |times: &[Duration], q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!("a call that elicits once, {CALLS} calls each, alternating:");
    for (name, times) in [
        ("2025-11-25 session (in-call request)", &old),
        ("2026-07-28 input_required + retry", &new),
    ] {
        println!(
            "  {name:40} p50 {:>9.1?}  p99 {:>9.1?}",
            at(times, 0.5),
            at(times, 0.99)
        );
    }
    println!(
        "  2026 / 2025: p50 {:.2}x, p99 {:.2}x",
        at(&new, 0.5).as_secs_f64() / at(&old, 0.5).as_secs_f64(),
        at(&new, 0.99).as_secs_f64() / at(&old, 0.99).as_secs_f64()
    );
    let _ = session.cancel().await;
    let _ = stateless.cancel().await;
}
