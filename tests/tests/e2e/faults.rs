//! A plugin that panics, spins, sleeps, exhausts memory or stack, floods its
//! output or returns malformed results gets an error result that says which
//! limit or fault it hit, the protocol stream stays clean, and the next call
//! is served normally.

use std::time::Instant;

use futures::future::join_all;
use serde_json::json;
use toolhost_tests::{MATH, MISBEHAVE, PluginDir, RAW, Server, text};

/// A plugin directory with `misbehave` (and `raw`) and the given config.
fn misbehave_dir(config: &str) -> PluginDir {
    let dir = PluginDir::with(&[MISBEHAVE, RAW]);
    if !config.is_empty() {
        dir.set_config(config);
    }
    dir
}

async fn start(dir: &PluginDir) -> Server {
    let server = Server::start(dir).await;
    server
        .wait_for_tools(&["misbehave_echo", "raw_greet"])
        .await;
    server
}

/// The group still answers a normal call, from a fresh instance.
async fn assert_still_serves(server: &Server) {
    let result = server
        .call_ok("misbehave_echo", json!({ "text": "still here" }))
        .await;
    assert_eq!(text(&result), "still here");
    assert!(
        server.protocol_violations().is_empty(),
        "{:?}",
        server.protocol_violations()
    );
}

#[tokio::test]
async fn panic_reports_the_message_and_the_next_call_works() {
    let dir = misbehave_dir("");
    let server = start(&dir).await;

    let error = server
        .call_err(
            "misbehave_panic",
            json!({ "message": "the sky is falling" }),
        )
        .await;

    assert!(error.contains("`misbehave`"), "{error}");
    let panicked = error
        .find("panicked")
        .unwrap_or_else(|| panic!("no `panicked` in: {error}"));
    assert!(error[panicked..].contains("the sky is falling"), "{error}");
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn endless_loop_runs_out_of_the_default_fuel() {
    let dir = misbehave_dir("");
    let server = start(&dir).await;

    let error = server.call_err("misbehave_spin", json!({})).await;

    assert!(
        error.contains("plugin `misbehave` ran out of fuel"),
        "{error}"
    );
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn endless_loop_with_ample_fuel_hits_the_deadline() {
    let dir = misbehave_dir("");
    let server = Server::start_with(&dir, &["--fuel", "1000000000000000", "--timeout", "1s"]).await;
    server.wait_for_tools(&["misbehave_spin"]).await;

    let error = server.call_err("misbehave_spin", json!({})).await;

    assert!(error.contains("`misbehave`"), "{error}");
    assert!(error.contains("timed out after"), "{error}");
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn sleeping_past_the_deadline_is_cut_short() {
    let dir = misbehave_dir("[groups.misbehave]\ntimeout = \"1s\"\n");
    let server = start(&dir).await;

    let started = Instant::now();
    let error = server
        .call_err("misbehave_sleep", json!({ "ms": 30_000 }))
        .await;

    assert!(error.contains("`misbehave`"), "{error}");
    assert!(error.contains("timed out after"), "{error}");
    // Loose on purpose: only that the host did not wait for the sleep to end.
    assert!(
        started.elapsed().as_secs() < 25,
        "took {:?}",
        started.elapsed()
    );
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn memory_bomb_runs_out_of_memory() {
    let dir = misbehave_dir("[groups.misbehave]\nmemory = \"64MiB\"\n");
    let server = start(&dir).await;

    let error = server
        .call_err("misbehave_alloc", json!({ "bytes": 1u64 << 30 }))
        .await;

    assert!(
        error.contains("plugin `misbehave` ran out of memory"),
        "{error}"
    );
    // Allocations within the limit still work.
    let result = server
        .call_ok("misbehave_alloc", json!({ "bytes": 1u64 << 20 }))
        .await;
    assert_eq!(text(&result), "256");
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn slow_leak_in_reuse_mode_ends_in_oom_then_a_fresh_instance() {
    let dir = misbehave_dir("[groups.misbehave]\ninstances = \"reuse\"\nmemory = \"32MiB\"\n");
    let server = start(&dir).await;

    // The instance is reused: state survives between calls.
    assert_eq!(
        text(&server.call_ok("misbehave_counter", json!({})).await),
        "1"
    );
    assert_eq!(
        text(&server.call_ok("misbehave_counter", json!({})).await),
        "2"
    );

    let mut oom = None;
    for _ in 0..64 {
        let result = server
            .call("misbehave_leak", json!({ "bytes": 4u64 << 20 }))
            .await;
        if result.is_error == Some(true) {
            oom = Some(text(&result));
            break;
        }
    }
    let error = oom.expect("leaking 4 MiB per call never ran out of 32 MiB");
    assert!(
        error.contains("plugin `misbehave` ran out of memory"),
        "{error}"
    );

    // The poisoned instance is gone: the next call gets a fresh one.
    assert_eq!(
        text(&server.call_ok("misbehave_counter", json!({})).await),
        "1"
    );
    let leaked = server
        .call_ok("misbehave_leak", json!({ "bytes": 1u64 << 20 }))
        .await;
    assert_eq!(text(&leaked), (1u64 << 20).to_string());
}

#[tokio::test]
async fn deep_recursion_overflows_the_stack() {
    let dir = misbehave_dir("");
    let server = start(&dir).await;

    let error = server
        .call_err("misbehave_recurse", json!({ "depth": 1_000_000_000u64 }))
        .await;

    assert!(error.contains("`misbehave`"), "{error}");
    assert!(error.contains("stack overflow"), "{error}");
    // Shallow recursion is fine.
    server
        .call_ok("misbehave_recurse", json!({ "depth": 100 }))
        .await;
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn output_floods_never_reach_the_protocol_stream() {
    let dir = misbehave_dir("");
    let server = start(&dir).await;

    let bytes = 4u64 << 20;
    let result = server
        .call("misbehave_flood", json!({ "bytes": bytes }))
        .await;

    // Whether the host keeps or drops the flood, the call ends and the
    // protocol stream holds nothing but JSON-RPC.
    if result.is_error != Some(true) {
        assert_eq!(text(&result), bytes.to_string());
    }
    assert!(
        !server.stdout().contains("xxxxxxxxxx"),
        "guest output reached stdout"
    );
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn guest_println_does_not_reach_the_protocol_stream() {
    let dir = misbehave_dir("");
    let server = start(&dir).await;

    let result = server.call_ok("misbehave_print_stdout", json!({})).await;

    assert_eq!(text(&result), "printed");
    // The guest printed a well-formed JSON-RPC response; it must not appear.
    assert!(
        !server.stdout().contains("guest stdout"),
        "guest stdout reached the protocol stream"
    );
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn output_over_the_limit_is_refused() {
    // Room for the guest to build 100 MB (and its JSON copies), so that it is
    // the output limit, not memory or fuel, that stops it.
    let dir = misbehave_dir(
        "[groups.misbehave]\nmemory = \"1GiB\"\nfuel = 1000000000000\ntimeout = \"50s\"\n",
    );
    let server = start(&dir).await;

    let error = server
        .call_err("misbehave_huge_output", json!({ "bytes": 100_000_000 }))
        .await;

    assert!(error.contains("`misbehave`"), "{error}");
    assert!(error.contains("output too large"), "{error}");
    assert!(
        error.len() < 4096,
        "the error itself is {} bytes",
        error.len()
    );
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn structured_output_that_is_not_json_is_invalid_output() {
    let dir = misbehave_dir("");
    let server = start(&dir).await;

    let error = server.call_err("raw_not_json", json!({})).await;

    assert!(error.contains("`raw`"), "{error}");
    assert!(error.contains("invalid output"), "{error}");
    assert_raw_still_serves(&server).await;
}

#[tokio::test]
async fn text_that_is_not_utf8_is_invalid_output() {
    let dir = misbehave_dir("");
    let server = start(&dir).await;

    let error = server.call_err("raw_bad_utf8", json!({})).await;

    assert!(error.contains("`raw`"), "{error}");
    assert!(error.contains("invalid output"), "{error}");
    assert_raw_still_serves(&server).await;
}

#[tokio::test]
async fn structured_output_violating_its_schema_is_refused() {
    let dir = misbehave_dir("");
    let server = start(&dir).await;

    let error = server.call_err("raw_wrong_shape", json!({})).await;

    assert!(error.contains("`raw`"), "{error}");
    assert!(
        error.contains("does not match its output schema"),
        "{error}"
    );
    assert_raw_still_serves(&server).await;
}

async fn assert_raw_still_serves(server: &Server) {
    let result = server.call_ok("raw_greet", json!({ "name": "Ada" })).await;
    assert_eq!(text(&result), "hello, Ada");
}

#[tokio::test]
async fn spinning_calls_do_not_starve_other_calls() {
    let dir = misbehave_dir("[groups.misbehave]\nfuel = 1000000000000000\ntimeout = \"5s\"\n");
    dir.add(MATH);
    let server = start(&dir).await;
    server.wait_for_tools(&["math_add"]).await;

    let spin = || async {
        let error = server.call_err("misbehave_spin", json!({})).await;
        assert!(error.contains("timed out after"), "{error}");
        Instant::now()
    };
    let quick = async {
        // Give the spinners a head start so that they occupy the executor.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let result = server.call_ok("math_add", json!({ "a": 2, "b": 2 })).await;
        assert_eq!(text(&result), "4.0");
        Instant::now()
    };
    let (first, second, quick) = tokio::join!(spin(), spin(), quick);

    assert!(
        quick < first && quick < second,
        "the quick call waited for the spinners"
    );
}

#[tokio::test]
async fn two_hundred_concurrent_calls_good_and_bad() {
    let dir = misbehave_dir(
        "[groups.misbehave]\nfuel = 20000000\ntimeout = \"5s\"\nmemory = \"64MiB\"\n",
    );
    let server = start(&dir).await;

    let calls = (0..200).map(|i| {
        let server = &server;
        async move {
            match i % 8 {
                0 => {
                    let error = server
                        .call_err("misbehave_panic", json!({ "message": format!("boom {i}") }))
                        .await;
                    assert!(error.contains(&format!("boom {i}")), "{error}");
                }
                1 => {
                    let error = server.call_err("misbehave_spin", json!({})).await;
                    assert!(error.contains("ran out of fuel"), "{error}");
                }
                2 => {
                    let error = server
                        .call_err("misbehave_alloc", json!({ "bytes": 1u64 << 30 }))
                        .await;
                    assert!(error.contains("ran out of memory"), "{error}");
                }
                3 => {
                    let error = server.call_err("raw_wrong_shape", json!({})).await;
                    assert!(
                        error.contains("does not match its output schema"),
                        "{error}"
                    );
                }
                4 | 6 => {
                    let result = server
                        .call_ok("misbehave_echo", json!({ "text": format!("echo {i}") }))
                        .await;
                    assert_eq!(text(&result), format!("echo {i}"));
                }
                _ => {
                    let result = server
                        .call_ok("raw_greet", json!({ "name": format!("caller {i}") }))
                        .await;
                    assert_eq!(text(&result), format!("hello, caller {i}"));
                }
            }
        }
    });
    join_all(calls).await;

    assert_still_serves(&server).await;
}

#[tokio::test]
async fn output_is_counted_in_every_field_not_only_the_text() {
    // A tiny link whose MIME type carries 200 KB: the size is in a field
    // other than the text, and still counts against max_output.
    let dir = misbehave_dir("[groups.misbehave]\nmax_output = \"64KiB\"\n");
    let server = start(&dir).await;
    let error = server
        .call_err("misbehave_big_mime", json!({ "bytes": 200_000 }))
        .await;
    assert!(error.contains("output too large"), "{error}");
    assert!(error.contains("groups.misbehave.max_output"), "{error}");
    let small = server
        .call_ok("misbehave_big_mime", json!({ "bytes": 10 }))
        .await;
    assert_eq!(small.is_error, Some(false));
    assert_still_serves(&server).await;
}
