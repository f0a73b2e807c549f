//! The MCP surface over stdio, as a client sees it: the handshake, the tool
//! list (names, descriptions, schemas, annotations exactly as declared),
//! argument validation, errors, shutdown, and `toolhost inspect`.

use serde_json::{Value, json};
use toolhost_tests::{MISBEHAVE, PluginDir, RAW, Server, run_toolhost, text};

async fn serve_raw_and_misbehave() -> (PluginDir, Server) {
    let dir = PluginDir::with(&[RAW, MISBEHAVE]);
    let server = Server::start(&dir).await;
    server
        .wait_for_tools(&["raw_greet", "misbehave_echo"])
        .await;
    (dir, server)
}

fn tool<'a>(tools: &'a [rmcp::model::Tool], name: &str) -> &'a rmcp::model::Tool {
    tools
        .iter()
        .find(|tool| tool.name == name)
        .unwrap_or_else(|| panic!("no tool {name}"))
}

fn as_json(tool: &rmcp::model::Tool) -> Value {
    serde_json::to_value(tool).unwrap()
}

#[tokio::test]
async fn initialize_names_the_server_and_offers_tools() {
    let dir = PluginDir::with(&[RAW]);
    let server = Server::start(&dir).await;

    let info = server.info();
    let implementation = info.server_info.as_ref().expect("serverInfo");
    assert_eq!(implementation.name, "toolhost");
    assert!(!implementation.version.is_empty());
    assert!(info.capabilities.tools.is_some(), "{:?}", info.capabilities);
}

#[tokio::test]
async fn tools_are_listed_exactly_as_declared() {
    let (_dir, server) = serve_raw_and_misbehave().await;
    let tools = server.tools().await;

    let greet = as_json(tool(&tools, "raw_greet"));
    assert_eq!(
        greet["description"],
        "Greets `name`; a well-behaved operation."
    );
    assert_eq!(
        greet["inputSchema"],
        json!({ "type": "object", "properties": { "name": { "type": "string" } }, "required": ["name"] })
    );
    assert_eq!(greet.get("outputSchema"), None);
    // Only the hint the group declared, none invented.
    assert_eq!(greet["annotations"], json!({ "readOnlyHint": true }));

    let not_json = as_json(tool(&tools, "raw_not_json"));
    assert_eq!(
        not_json["outputSchema"],
        json!({ "type": "object", "properties": { "count": { "type": "integer" } }, "required": ["count"] })
    );

    // SDK-built: descriptions from doc comments, schemas from the types.
    let echo = as_json(tool(&tools, "misbehave_echo"));
    assert_eq!(
        echo["description"],
        "Returns `text` unchanged; the operation that always works."
    );
    assert_eq!(echo["inputSchema"]["type"], "object");
    assert_eq!(echo["inputSchema"]["properties"]["text"]["type"], "string");
    assert_eq!(echo["inputSchema"]["required"], json!(["text"]));
    assert_eq!(
        echo["annotations"],
        json!({ "readOnlyHint": true, "idempotentHint": true })
    );
    let spin = as_json(tool(&tools, "misbehave_spin"));
    let spin_hints = spin.get("annotations").cloned().unwrap_or(json!({}));
    assert!(
        spin_hints.get("readOnlyHint").is_none() && spin_hints.get("destructiveHint").is_none(),
        "undeclared hints were published: {spin_hints}"
    );
}

#[tokio::test]
async fn published_names_are_accepted_by_model_apis() {
    let (_dir, server) = serve_raw_and_misbehave().await;

    for tool in server.tools().await {
        let name = tool.name.as_ref();
        let valid = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        assert!(
            valid,
            "tool name {name:?} does not match ^[A-Za-z0-9_-]{{1,64}}$"
        );
    }
}

#[tokio::test]
async fn a_call_returns_text_and_structured_content() {
    let (_dir, server) = serve_raw_and_misbehave().await;

    let greet = server.call_ok("raw_greet", json!({ "name": "Ada" })).await;
    assert_eq!(text(&greet), "hello, Ada");
    assert_eq!(greet.structured_content, None);

    // A non-object value is wrapped as `{"result": …}`, its text the plain value.
    let echo = server
        .call_ok("misbehave_echo", json!({ "text": "ping" }))
        .await;
    assert_eq!(echo.structured_content, Some(json!({ "result": "ping" })));
    assert_eq!(text(&echo), "ping");
}

#[tokio::test]
async fn invalid_arguments_list_every_violation_with_its_path() {
    let (_dir, server) = serve_raw_and_misbehave().await;

    let error = server
        .call_err(
            "misbehave_write_file",
            json!({ "path": 5, "contents": ["x"] }),
        )
        .await;
    assert!(
        error.starts_with("invalid arguments for tool `misbehave_write_file`"),
        "{error}"
    );
    assert!(error.contains("/path"), "{error}");
    assert!(error.contains("/contents"), "{error}");

    let error = server.call_err("raw_greet", json!({})).await;
    assert!(
        error.starts_with("invalid arguments for tool `raw_greet`"),
        "{error}"
    );
    assert!(error.contains("name"), "{error}");

    let error = server
        .call_err("misbehave_alloc", json!({ "bytes": "lots" }))
        .await;
    assert!(error.contains("/bytes"), "{error}");

    // Nothing reached the plugin, and it still serves.
    server.call_ok("raw_greet", json!({ "name": "Ada" })).await;
}

#[tokio::test]
async fn an_unknown_tool_is_a_json_rpc_error() {
    let (_dir, server) = serve_raw_and_misbehave().await;

    let outcome = server.try_call("raw_no_such_tool", json!({})).await;

    match outcome {
        Err(rmcp::ServiceError::McpError(error)) => {
            assert_eq!(
                error.code,
                rmcp::model::ErrorCode::INVALID_PARAMS,
                "{error:?}"
            );
            assert!(error.message.contains("raw_no_such_tool"), "{error:?}");
        }
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
    server.call_ok("raw_greet", json!({ "name": "Ada" })).await;
}

#[tokio::test]
async fn a_plugin_error_is_an_error_result_with_its_message() {
    let (_dir, server) = serve_raw_and_misbehave().await;

    let error = server
        .call_err("misbehave_config", json!({ "key": "nothing" }))
        .await;

    assert!(error.contains("no setting `nothing`"), "{error}");
}

#[tokio::test]
async fn closing_stdin_shuts_the_server_down_cleanly() {
    let (_dir, server) = serve_raw_and_misbehave().await;
    server.call_ok("raw_greet", json!({ "name": "Ada" })).await;

    let status = server.stop().await;

    assert!(status.success(), "toolhost exited with {status}");
}

#[tokio::test]
async fn inspect_prints_the_group_and_its_tools() {
    let output = run_toolhost(&["inspect", RAW]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);

    assert!(output.status.success(), "{output:?}");
    for expected in [
        "raw",
        "Returns malformed output on purpose.",
        "raw_greet",
        "Greets `name`; a well-behaved operation.",
        "raw_wrong_shape",
        "\"count\"",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
}

#[tokio::test]
async fn inspect_refuses_a_file_that_is_not_a_component() {
    let dir = PluginDir::new();
    let file = dir.write("x.wasm", "plain text");

    let output = run_toolhost(&["inspect", file.to_str().unwrap()]).await;

    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("x.wasm"), "{stderr}");
}
