//! What a plugin reports or asks during a call is budgeted before the host
//! does any work for it: a log flood stops at the per-call cap (host log
//! included), a loop of elicitations stops after 16 requests with a message
//! the plugin can read, and a giant updated-resource URI is dropped; other
//! calls are served meanwhile.

use serde_json::json;
use toolhost_tests::{MATH, MISBEHAVE, PluginDir, Server, text};

async fn start() -> (PluginDir, Server) {
    let dir = PluginDir::with(&[MISBEHAVE, MATH]);
    let server = Server::start(&dir).await;
    server
        .wait_for_tools(&["misbehave_log_flood", "math_add"])
        .await;
    (dir, server)
}

async fn assert_math_answers(server: &Server) {
    let result = server.call_ok("math_add", json!({ "a": 2, "b": 2 })).await;
    assert_eq!(text(&result), "4.0");
}

#[tokio::test]
async fn a_log_flood_stops_at_the_cap_in_the_host_log_too() {
    let (_dir, server) = start().await;
    let (flood, ()) = tokio::join!(
        server.call_ok("misbehave_log_flood", json!({ "bytes": 100000 })),
        assert_math_answers(&server),
    );
    assert_eq!(text(&flood), "100000");
    let logged = server
        .stderr()
        .lines()
        .filter(|line| line.contains("flood line"))
        .count();
    assert!(logged <= 1000, "{logged} flood lines reached the host log");
    assert!(logged > 0, "the first lines are logged");
}

#[tokio::test]
async fn a_loop_of_requests_to_the_client_stops_after_sixteen() {
    let (_dir, server) = start().await;
    let result = server
        .call_ok("misbehave_ask_loop", json!({ "bytes": 500 }))
        .await;
    assert!(
        text(&result).contains("asked the client 16 times"),
        "{}",
        text(&result)
    );
    assert_math_answers(&server).await;
}

#[tokio::test]
async fn a_giant_updated_uri_is_dropped() {
    let (_dir, server) = start().await;
    // Nine megabytes of URI: refused before any copy or queue, or stopped
    // by the call's own limits; either way the host goes on.
    let _ = server
        .try_call("misbehave_announce", json!({ "bytes": 9_000_000 }))
        .await
        .expect("an answer");
    assert!(
        !server.stderr().contains(&"a".repeat(10_000)),
        "the URI reached the host log"
    );
    assert_math_answers(&server).await;
}
