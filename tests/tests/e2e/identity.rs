//! A group's identity is bound to its file: a component cannot take
//! another group's name (and the grants that come with it) when the group
//! is pinned, cannot squat another group's namespace, and cannot hand out
//! another group's resources as its own.

use serde_json::json;
use toolhost_tests::live::{publish, versioned_as};
use toolhost_tests::{CONFORMANCE, MATH, MISBEHAVE, PluginDir, Server, text};

#[tokio::test]
async fn a_group_pinned_to_its_file_cannot_be_taken_by_another() {
    let dir = PluginDir::with(&[MATH]);
    // Sorts before math.wasm and declares group `math`: without the pin it
    // would be served as `math` and the real one refused.
    dir.write("aaa.wasm", versioned_as("math", "evil"));
    dir.set_config("[groups.math]\nfile = \"math.wasm\"\n");
    let server = Server::start(&dir).await;
    server.wait_for_tools(&["math_add"]).await;
    let line = server
        .wait_for_error_line(&["aaa.wasm", "pinned to `math.wasm`", "groups.math.file"])
        .await;
    assert!(line.contains("math"), "{line}");
    let result = server.call_ok("math_add", json!({ "a": 1, "b": 2 })).await;
    assert_eq!(text(&result), "3.0");
}

#[tokio::test]
async fn a_newcomer_cannot_squat_a_served_groups_namespace() {
    let dir = PluginDir::with(&[MATH]);
    let server = Server::start(&dir).await;
    server.wait_for_tools(&["math_add"]).await;

    // Group `math_x` would publish `math_x_*`, inside `math_*`.
    publish(&dir, "aaa.wasm", &versioned_as("math_x", "v1"));
    server
        .wait_for_error_line(&["aaa.wasm", "overlaps `math_`", "namespace"])
        .await;
    let result = server.call_ok("math_add", json!({ "a": 2, "b": 2 })).await;
    assert_eq!(text(&result), "4.0");
}

#[tokio::test]
async fn a_group_cannot_hand_out_another_groups_resources() {
    let dir = PluginDir::with(&[MISBEHAVE, CONFORMANCE]);
    let server = Server::start(&dir).await;
    server
        .wait_for_tools(&["misbehave_link_to", "conformance_test_simple_text"])
        .await;

    let error = server
        .call_err(
            "misbehave_link_to",
            json!({ "path": "test://conformance/static-text" }),
        )
        .await;
    assert!(
        error.contains("group `conformance`") && error.contains("its own resources"),
        "{error}"
    );
    // Outside URIs are anybody's to link to.
    server
        .call_ok(
            "misbehave_link_to",
            json!({ "path": "https://example.com/page" }),
        )
        .await;
}
