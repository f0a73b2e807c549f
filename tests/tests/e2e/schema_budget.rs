//! Schemas are untrusted input: a schema whose checking cost explodes is
//! refused at load with the cap it passed, and a backtracking `pattern`
//! runs in linear time, so a large output is checked promptly while
//! another group keeps answering.

use std::time::Instant;

use serde_json::json;
use toolhost_tests::{HOSTILE_SCHEMA, MATH, PluginDir, Server, text};

#[tokio::test]
async fn an_exploding_schema_is_refused_at_load_naming_the_cap() {
    let dir = PluginDir::with(&[HOSTILE_SCHEMA, MATH]);
    let server = Server::start(&dir).await;
    server.wait_for_tools(&["math_add"]).await;
    let line = server
        .wait_for_error_line(&["hostile_schema", "nested", "subschemas per value"])
        .await;
    assert!(line.contains("output schema"), "{line}");
    let result = server.call_ok("math_add", json!({ "a": 1, "b": 1 })).await;
    assert_eq!(text(&result), "2.0");
}

#[tokio::test]
async fn a_backtracking_pattern_checks_megabytes_in_linear_time() {
    let dir = PluginDir::with(&[HOSTILE_SCHEMA, MATH]);
    dir.set_config("[groups.hostile_schema]\ntools = { enable = [\"backtracking\"] }\n");
    let server = Server::start(&dir).await;
    server
        .wait_for_tools(&["hostile_schema_backtracking", "math_add"])
        .await;

    let slow = async {
        let error = server
            .call_err(
                "hostile_schema_backtracking",
                json!({ "count": 60000, "length": 30, "matching": false }),
            )
            .await;
        (Instant::now(), error)
    };
    let quick = async {
        let result = server.call_ok("math_add", json!({ "a": 2, "b": 2 })).await;
        assert_eq!(text(&result), "4.0");
        Instant::now()
    };
    let ((_, error), _) = tokio::join!(slow, quick);
    assert!(
        error.contains("does not match its output schema"),
        "{error}"
    );
    // A matching output of the same size passes.
    server
        .call_ok(
            "hostile_schema_backtracking",
            json!({ "count": 1000, "length": 30, "matching": true }),
        )
        .await;
}
