//! Admission: a flood of calls to one group waits on that group's share of
//! call slots and on the host's guest memory budget, within each call's own
//! timeout, while a trivial call to another group answers at once.

use std::time::Instant;

use futures::future::join_all;
use serde_json::json;
use toolhost_tests::{MATH, MISBEHAVE, PluginDir, Server, text};

async fn start(config: &str) -> (PluginDir, Server) {
    let dir = PluginDir::with(&[MISBEHAVE, MATH]);
    dir.set_config(config);
    let server = Server::start(&dir).await;
    server
        .wait_for_tools(&["misbehave_sleep", "math_add"])
        .await;
    (dir, server)
}

/// Six slow calls to `misbehave` and, once they queue, one to `math`; the
/// math call must finish before any slow one, and the slow calls that never
/// got in must say what they waited for.
async fn flood_then_quick(server: &Server, expected: &[&str]) {
    let slow = (0..6).map(|_| async {
        let result = server.call("misbehave_sleep", json!({ "ms": 1500 })).await;
        (Instant::now(), result)
    });
    let quick = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let result = server.call_ok("math_add", json!({ "a": 2, "b": 2 })).await;
        assert_eq!(text(&result), "4.0");
        Instant::now()
    };
    let (slow, quick) = tokio::join!(join_all(slow), quick);
    assert!(
        slow.iter().all(|(done, _)| quick < *done),
        "the quick call waited for the flood"
    );
    let refused: Vec<String> = slow
        .iter()
        .filter(|(_, result)| result.is_error == Some(true))
        .map(|(_, result)| text(result))
        .filter(|message| message.contains("could not start within its timeout"))
        .collect();
    assert!(!refused.is_empty(), "no call was refused for waiting");
    for message in &refused {
        for needle in expected {
            assert!(message.contains(needle), "{message}");
        }
    }
    // Once the flood is over, the group serves again.
    server.call_ok("misbehave_sleep", json!({ "ms": 1 })).await;
}

#[tokio::test]
async fn one_group_cannot_take_every_call_slot() {
    let (_dir, server) = start(
        "[server]\nmax_concurrent_calls = 8\n\
         [groups.misbehave]\nmax_concurrent_calls = 2\ntimeout = \"2s\"\n",
    )
    .await;
    flood_then_quick(
        &server,
        &[
            "plugin `misbehave`",
            "call slots of the group",
            "groups.misbehave.max_concurrent_calls",
        ],
    )
    .await;
}

#[tokio::test]
async fn guest_memory_has_one_host_wide_budget() {
    let (_dir, server) = start(
        "[server]\nmemory_budget = \"256MiB\"\n\
         [groups.misbehave]\nmemory = \"120MiB\"\ntimeout = \"2s\"\n\
         [groups.math]\nmemory = \"16MiB\"\n",
    )
    .await;
    flood_then_quick(
        &server,
        &["memory budget of 256MiB", "server.memory_budget"],
    )
    .await;
}
