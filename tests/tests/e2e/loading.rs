//! A file that is not a usable service group is skipped with an error line on
//! stderr naming it, and every other group in the directory still serves.

use serde_json::json;
use toolhost_tests::{BADSCHEMA, MATH, PluginDir, RAW, Server, WRONG_WORLD, text};

/// Serves `dir` (which holds `raw` and one bad file, `bad_file`) and checks
/// that the bad file is reported and `raw` still serves.
async fn assert_skipped(dir: &PluginDir, bad_file: &str) -> Server {
    let server = Server::start(dir).await;
    server.wait_for_error_line(&[&format!("/{bad_file}")]).await;

    server.wait_for_tools(&["raw_greet"]).await;
    let result = server.call_ok("raw_greet", json!({ "name": "Ada" })).await;
    assert_eq!(text(&result), "hello, Ada");
    server
}

#[tokio::test]
async fn a_component_of_another_world_is_skipped() {
    let dir = PluginDir::with(&[RAW, WRONG_WORLD]);
    let server = assert_skipped(&dir, "wrong_world.wasm").await;

    let tools = server.tools().await;
    assert!(
        tools.iter().all(|tool| tool.name.starts_with("raw_")),
        "{tools:?}"
    );
}

#[tokio::test]
async fn a_truncated_component_is_skipped() {
    let dir = PluginDir::with(&[RAW]);
    let math = std::fs::read(MATH).unwrap();
    dir.write("truncated.wasm", &math[..math.len() / 2]);

    assert_skipped(&dir, "truncated.wasm").await;
}

#[tokio::test]
async fn a_text_file_named_wasm_is_skipped() {
    let dir = PluginDir::with(&[RAW]);
    dir.write("x.wasm", "this is a text file, not WebAssembly\n");

    assert_skipped(&dir, "x.wasm").await;
}

#[tokio::test]
async fn a_core_module_is_skipped() {
    let dir = PluginDir::with(&[RAW]);
    // The smallest valid core module: magic number and version 1, no sections.
    dir.write("core.wasm", b"\0asm\x01\0\0\0");

    assert_skipped(&dir, "core.wasm").await;
}

#[tokio::test]
async fn a_group_with_an_input_schema_that_is_not_json_is_skipped() {
    let dir = PluginDir::with(&[RAW, BADSCHEMA]);
    let server = assert_skipped(&dir, "badschema.wasm").await;

    // The file is refused as a whole, including its valid operation.
    let tools = server.tools().await;
    assert!(
        !tools.iter().any(|tool| tool.name.starts_with("badschema")),
        "{tools:?}"
    );
}

#[tokio::test]
async fn a_second_file_with_the_same_group_is_refused_naming_both() {
    let dir = PluginDir::with(&[RAW]);
    dir.write("raw_again.wasm", std::fs::read(RAW).unwrap());
    let server = Server::start(&dir).await;

    // Which of the two counts as the second depends on load order; the error
    // line names both.
    server
        .wait_for_error_line(&["/raw.wasm", "/raw_again.wasm"])
        .await;

    server.wait_for_tools(&["raw_greet"]).await;
    let greet = server.call_ok("raw_greet", json!({ "name": "Ada" })).await;
    assert_eq!(text(&greet), "hello, Ada");
}

#[tokio::test]
async fn an_empty_directory_serves_no_tools() {
    let dir = PluginDir::new();
    let server = Server::start(&dir).await;

    assert!(server.tools().await.is_empty());
}
