//! A `tools/call` over stdio that needs nothing of rmcp is answered by the
//! host's fast path, and a client cannot tell: the same result as through
//! rmcp (forced here with a progress token) in both protocol eras, log
//! lines at the session's level before the result, and
//! `notifications/cancelled` stops the call, which then gets no answer.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use toolhost_tests::raw_stdio::RawStdio;
use toolhost_tests::{MISBEHAVE, PluginDir};

fn call(id: u64, tool: &str, arguments: Value, meta: Value) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": { "name": tool, "arguments": arguments, "_meta": meta },
    })
}

fn stateless_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "raw", "version": "0" },
    })
}

/// The same call's result on the fast path (`meta`) and through rmcp
/// (`meta` with a progress token).
async fn both_ways(stdio: &mut RawStdio, tool: &str, arguments: Value, meta: &Value) {
    let fast = stdio
        .request(&call(1, tool, arguments.clone(), meta.clone()))
        .await;
    let mut tracked = meta.clone();
    tracked["progressToken"] = json!("p");
    let through_rmcp = stdio.request(&call(2, tool, arguments, tracked)).await;
    assert!(fast["result"].is_object(), "{fast}");
    assert_eq!(fast["result"], through_rmcp["result"], "{tool}");
}

#[tokio::test]
async fn calls_answer_alike_on_the_fast_path_and_through_rmcp() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let cases = [
        ("misbehave_echo", json!({ "text": "hi" })),
        // Invalid arguments, an error the plugin returns, and a trap.
        ("misbehave_echo", json!({ "text": 1 })),
        ("misbehave_read_env", json!({ "key": "HOME" })),
        ("misbehave_panic", json!({ "message": "boom" })),
    ];

    let mut session = RawStdio::start(&dir).await;
    session.initialize(json!({})).await;
    for (tool, arguments) in &cases {
        both_ways(&mut session, tool, arguments.clone(), &json!({})).await;
    }

    let mut stateless = RawStdio::start(&dir).await;
    for (tool, arguments) in &cases {
        both_ways(&mut stateless, tool, arguments.clone(), &stateless_meta()).await;
    }
    let answer = stateless
        .request(&call(
            3,
            "misbehave_echo",
            json!({ "text": "x" }),
            stateless_meta(),
        ))
        .await;
    assert_eq!(answer["result"]["resultType"], "complete", "{answer}");
}

#[tokio::test]
async fn log_lines_precede_the_result_at_the_level_the_session_set() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let mut stdio = RawStdio::start(&dir).await;
    stdio.initialize(json!({})).await;
    let flood = call(2, "misbehave_log_flood", json!({ "bytes": 3 }), json!({}));

    stdio.send(&flood.to_string()).await;
    let (notifications, answer) = stdio.answer_after().await;
    assert_eq!(answer["result"]["content"][0]["text"], "3", "{answer}");
    let logs = notifications
        .iter()
        .filter(|n| n["method"] == "notifications/message")
        .count();
    assert_eq!(logs, 3, "{notifications:?}");

    let set_level = json!({
        "jsonrpc": "2.0", "id": 3, "method": "logging/setLevel", "params": { "level": "error" },
    });
    stdio.send(&set_level.to_string()).await;
    // The call goes out before the level's answer comes back, which may
    // come after the call's.
    stdio.send(&flood.to_string()).await;
    let mut logs = Vec::new();
    let mut answered = Vec::new();
    while answered.len() < 2 {
        let (notifications, answer) = stdio.answer_after().await;
        logs.extend(notifications);
        answered.push(answer["id"].clone());
    }
    answered.sort_by_key(|id| id.as_u64());
    assert_eq!(answered, [json!(2), json!(3)]);
    assert!(logs.is_empty(), "{logs:?}");
}

#[tokio::test]
async fn a_cancelled_call_stops_and_gets_no_answer() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    // One call at a time: the next waits until the slow one ends.
    dir.set_config("[groups.misbehave]\nmax_concurrent_calls = 1\ntimeout = \"60s\"\n");
    let mut stdio = RawStdio::start(&dir).await;
    stdio.initialize(json!({})).await;

    let slow = call(7, "misbehave_sleep", json!({ "ms": 30000 }), json!({}));
    stdio.send(&slow.to_string()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cancel = json!({
        "jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": { "requestId": 7, "reason": "changed my mind" },
    });
    stdio.send(&cancel.to_string()).await;
    let started = Instant::now();
    let echo = call(8, "misbehave_echo", json!({ "text": "next" }), json!({}));
    let answer = stdio.request(&echo).await;
    assert_eq!(answer["id"], 8, "the cancelled call was answered: {answer}");
    assert_eq!(answer["result"]["content"][0]["text"], "next", "{answer}");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(15),
        "the next call waited {waited:?}: the cancelled one kept its slot"
    );
}
