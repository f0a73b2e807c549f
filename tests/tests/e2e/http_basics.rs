//! MCP over streamable HTTP, as a remote client sees it: both protocol eras,
//! the guards (Host/Origin, body size), the probes and metrics, request ids
//! and a graceful shutdown.

// `logging/setLevel` is deprecated by SEP-2577 in the newest era, but it is
// how a client of the current eras asks for plugin log lines.
#![allow(deprecated)]

use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, LoggingLevel, ServerNotification, SetLevelRequestParams,
    SubscriptionFilter,
};
use serde_json::{Value, json};
use toolhost_tests::http::{HttpClient, HttpServer, http_client, initialize_body, post_mcp};
use toolhost_tests::{MATH, MISBEHAVE, PluginDir, RAW, bounded, text};

async fn start(dir: &PluginDir, args: &[&str]) -> HttpServer {
    let server = HttpServer::start(dir, args).await;
    server.wait_ready().await;
    server
}

async fn call(client: &HttpClient, tool: &str, arguments: Value) -> rmcp::model::CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
    bounded(&format!("tools/call {tool}"), client.call_tool(params))
        .await
        .unwrap_or_else(|e| panic!("tools/call {tool}: {e}"))
}

async fn tool_names(client: &HttpClient) -> Vec<String> {
    bounded("tools/list", client.list_all_tools())
        .await
        .expect("tools/list")
        .into_iter()
        .map(|tool| tool.name.to_string())
        .collect()
}

#[tokio::test]
async fn the_session_flow_lists_and_calls() {
    let dir = PluginDir::with(&[MISBEHAVE, RAW]);
    let server = start(&dir, &[]).await;
    let client = server.connect(None).await;

    let info = client.peer_info().expect("initialized");
    assert_eq!(info.server_info.as_ref().unwrap().name, "toolhost");
    let names = tool_names(&client).await;
    assert!(names.contains(&"misbehave_echo".to_owned()), "{names:?}");
    assert!(names.contains(&"raw_greet".to_owned()), "{names:?}");

    let result = call(&client, "misbehave_echo", json!({ "text": "over http" })).await;
    assert_eq!(text(&result), "over http");
    let invalid = call(&client, "misbehave_echo", json!({ "text": 3 })).await;
    assert_eq!(invalid.is_error, Some(true));
    assert!(text(&invalid).contains("invalid arguments"), "{invalid:?}");
    let _ = bounded("close", client.cancel()).await;
}

#[tokio::test]
async fn the_stateless_flow_lists_calls_and_listens() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let server = start(&dir, &[]).await;
    let client = server.connect_stateless(None).await;

    let names = tool_names(&client).await;
    assert!(names.contains(&"misbehave_echo".to_owned()), "{names:?}");
    let result = call(&client, "misbehave_echo", json!({ "text": "stateless" })).await;
    assert_eq!(text(&result), "stateless");

    // `subscriptions/listen` is how this era hears of tool list changes.
    let mut subscription = bounded(
        "subscriptions/listen",
        client.listen(SubscriptionFilter::builder().tools_list_changed().build()),
    )
    .await
    .expect("subscriptions/listen");
    assert_eq!(subscription.acknowledged().tools_list_changed, Some(true));
    // A new plugin file is loaded and announced on the stream.
    dir.add(RAW);
    let notification = bounded("notifications/tools/list_changed", subscription.next())
        .await
        .expect("subscription stream");
    assert!(
        matches!(
            notification,
            Some(ServerNotification::ToolListChangedNotification(_))
        ),
        "{notification:?}"
    );
    let names = tool_names(&client).await;
    assert!(names.contains(&"raw_greet".to_owned()), "{names:?}");
    bounded("cancel listen", subscription.cancel())
        .await
        .expect("cancel");
    let _ = bounded("close", client.cancel()).await;
}

#[tokio::test]
async fn plugin_log_messages_reach_http_clients() {
    let dir = PluginDir::with(&[MATH]);
    let server = start(&dir, &[]).await;
    let client = server.connect(None).await;
    bounded(
        "logging/setLevel",
        client.set_level(SetLevelRequestParams::new(LoggingLevel::Debug)),
    )
    .await
    .expect("logging/setLevel");
    let result = call(&client, "math_divide", json!({ "a": 1, "b": 4 })).await;
    assert_ne!(result.is_error, Some(true), "{result:?}");
    // The log line travels on the call's own response stream, before the
    // result.
    let logs = client.service().log_texts();
    assert_eq!(logs, ["dividing"]);
    let _ = bounded("close", client.cancel()).await;
}

#[tokio::test]
async fn foreign_hosts_and_origins_get_403() {
    let dir = PluginDir::with(&[RAW]);
    let server = start(&dir, &[]).await;
    let http = http_client();

    let status = |request: reqwest::RequestBuilder| async move {
        bounded("request", request.send())
            .await
            .expect("send")
            .status()
            .as_u16()
    };
    assert_eq!(status(http.get(server.url("/healthz"))).await, 200);
    assert_eq!(
        status(
            http.get(server.url("/healthz"))
                .header("host", "evil.example")
        )
        .await,
        403
    );
    assert_eq!(
        status(post_mcp(&http, &server, &initialize_body()).header("host", "evil.example:80"))
            .await,
        403
    );
    assert_eq!(
        status(
            post_mcp(&http, &server, &initialize_body()).header("origin", "https://evil.example")
        )
        .await,
        403
    );
    // A local web tool (e.g. the MCP Inspector) is a loopback origin.
    assert_eq!(
        status(
            post_mcp(&http, &server, &initialize_body()).header("origin", "http://localhost:6274")
        )
        .await,
        200
    );

    // Configured lists replace the loopback defaults.
    let open = start(
        &dir,
        &[
            "--allow-host",
            "tools.example.com",
            "--allow-host",
            "127.0.0.1",
            "--allow-origin",
            "https://app.example.com",
        ],
    )
    .await;
    assert_eq!(
        status(
            post_mcp(&http, &open, &initialize_body())
                .header("host", "tools.example.com")
                .header("origin", "https://app.example.com")
        )
        .await,
        200
    );
    assert_eq!(
        status(post_mcp(&http, &open, &initialize_body()).header("origin", "http://localhost:1"))
            .await,
        403
    );
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let dir = PluginDir::with(&[RAW]);
    dir.set_config("[http]\nmax_body = \"1KiB\"\n");
    let server = start(&dir, &[]).await;
    let http = http_client();
    let mut body = initialize_body();
    body["params"]["clientInfo"]["name"] = Value::String("x".repeat(2048));
    let response = bounded("POST", post_mcp(&http, &server, &body).send())
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 413);
    let response = bounded("POST", post_mcp(&http, &server, &initialize_body()).send())
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn readyz_reports_files_that_failed_to_load() {
    let dir = PluginDir::with(&[RAW]);
    dir.write("broken.wasm", b"this is not a component");
    let server = HttpServer::start(&dir, &[]).await;
    let ready = server.wait_ready().await;
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["groups"][0]["name"], "raw", "{ready:#}");
    let failed = ready["failed"].as_array().expect("failed list");
    assert_eq!(failed.len(), 1, "{ready:#}");
    assert!(
        failed[0]["file"].as_str().unwrap().ends_with("broken.wasm"),
        "{ready:#}"
    );
    assert!(!failed[0]["reason"].as_str().unwrap().is_empty());

    let health = bounded("healthz", http_client().get(server.url("/healthz")).send())
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn metrics_reflect_the_calls_made() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let server = start(&dir, &["--fuel", "5000000"]).await;
    let client = server.connect(None).await;
    for n in 0..3 {
        call(&client, "misbehave_echo", json!({ "text": n.to_string() })).await;
    }
    call(&client, "misbehave_echo", json!({})).await;
    let spin = call(&client, "misbehave_spin", json!({})).await;
    assert_eq!(spin.is_error, Some(true));

    let http = http_client();
    let forbidden = bounded(
        "healthz",
        http.get(server.url("/healthz"))
            .header("host", "evil.example")
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(forbidden.status().as_u16(), 403);

    let metrics = bounded("metrics", http.get(server.url("/metrics")).send())
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    for line in [
        "toolhost_calls_total{tool=\"misbehave_echo\",outcome=\"ok\"} 3",
        "toolhost_calls_total{tool=\"misbehave_echo\",outcome=\"invalid_arguments\"} 1",
        "toolhost_calls_total{tool=\"misbehave_spin\",outcome=\"fault\"} 1",
        "toolhost_faults_total{tool=\"misbehave_spin\",kind=\"fuel\"} 1",
        "toolhost_call_duration_seconds_count{tool=\"misbehave_echo\"} 4",
        "toolhost_groups_loaded 1",
        "toolhost_http_requests_total{status=\"403\"} 1",
    ] {
        assert!(metrics.contains(line), "no `{line}` in:\n{metrics}");
    }
    let fuel = metrics
        .lines()
        .find(|line| line.starts_with("toolhost_fuel_used_total{tool=\"misbehave_echo\"}"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no fuel counter in:\n{metrics}"));
    assert!(fuel > 0);
    let _ = bounded("close", client.cancel()).await;
}

#[tokio::test]
async fn request_ids_are_echoed_and_logged() {
    let dir = PluginDir::with(&[RAW]);
    let server =
        HttpServer::start_with_env(&dir, &[], &[("RUST_LOG", "info,toolhost=debug")]).await;
    server.wait_ready().await;
    let http = http_client();
    let response = bounded(
        "POST",
        post_mcp(&http, &server, &initialize_body())
            .header("x-request-id", "test-correlation-42")
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.headers()["x-request-id"], "test-correlation-42");
    let generated = bounded("GET", http.get(server.url("/healthz")).send())
        .await
        .expect("send");
    assert_eq!(generated.headers()["x-request-id"].len(), 36);

    let wait = async {
        loop {
            if server
                .stderr()
                .lines()
                .any(|line| line.contains("request_id=test-correlation-42"))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    bounded("a log line with the request id", wait).await;
}

#[tokio::test]
async fn shutdown_lets_a_call_in_flight_finish() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let mut server = start(&dir, &[]).await;
    let client = server.connect(None).await;
    let slow = tokio::spawn(async move {
        let result = call(&client, "misbehave_sleep", json!({ "ms": 1500 })).await;
        (client, result)
    });
    // Let the call start, then ask the server to stop.
    let http = http_client();
    let wait_in_flight = async {
        loop {
            let metrics = http
                .get(server.url("/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if metrics.contains("toolhost_calls_in_flight 1") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    bounded("the slow call to start", wait_in_flight).await;
    server.terminate();

    // New connections are refused while the call finishes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = http.get(server.url("/healthz")).send().await;
    assert!(refused.is_err(), "still accepting: {refused:?}");

    let (_client, result) = bounded("the slow call", slow).await.expect("call task");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    assert_eq!(text(&result), "1500");
    let status = server.wait_exit().await;
    assert!(status.success(), "{status}\n{}", server.stderr());
}

/// A stateless `tools/call` as a load balancer would forward it.
fn stateless_call(tool: &str, arguments: Value, extra_meta: Value) -> Value {
    let mut meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "raw", "version": "1" },
    });
    if let Value::Object(extra) = extra_meta {
        meta.as_object_mut().unwrap().extend(extra);
    }
    json!({
        "jsonrpc": "2.0", "id": 41, "method": "tools/call",
        "params": { "name": tool, "arguments": arguments, "_meta": meta },
    })
}

async fn post_stateless(server: &HttpServer, tool: &str, body: &Value) -> (String, String) {
    let response = bounded(
        "stateless tools/call",
        post_mcp(&http_client(), server, body)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", tool)
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (kind, response.text().await.expect("body"))
}

#[tokio::test]
async fn stateless_calls_get_the_same_answers_on_the_fast_path() {
    let dir = PluginDir::with(&[MATH]);
    let server = start(&dir, &[]).await;

    // A plain call: one JSON response.
    let (kind, body) = post_stateless(
        &server,
        "math_add",
        &stateless_call("math_add", json!({ "a": 1, "b": 2 }), json!({})),
    )
    .await;
    assert_eq!(kind, "application/json");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["id"], 41);
    assert_eq!(answer["result"]["resultType"], "complete");
    assert_eq!(answer["result"]["isError"], false);
    assert_eq!(answer["result"]["structuredContent"]["result"], 3.0);

    // Log lines at the requested level come first, on an SSE stream.
    let (kind, body) = post_stateless(
        &server,
        "math_divide",
        &stateless_call(
            "math_divide",
            json!({ "a": 1, "b": 4 }),
            json!({ "io.modelcontextprotocol/logLevel": "debug" }),
        ),
    )
    .await;
    assert_eq!(kind, "text/event-stream");
    let events: Vec<Value> = body
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{body}");
    assert_eq!(events[0]["method"], "notifications/message");
    assert_eq!(events[0]["params"]["data"], "dividing");
    assert_eq!(events[1]["result"]["structuredContent"]["result"], 0.25);
    // At the default level the debug line is not sent.
    let (kind, _) = post_stateless(
        &server,
        "math_divide",
        &stateless_call("math_divide", json!({ "a": 1, "b": 4 }), json!({})),
    )
    .await;
    assert_eq!(kind, "application/json");

    // Invalid arguments are a tool error, as always.
    let (_, body) = post_stateless(
        &server,
        "math_add",
        &stateless_call("math_add", json!({ "a": "one" }), json!({})),
    )
    .await;
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["result"]["isError"], true, "{body}");

    // An unknown tool and a call with a progress token are the protocol
    // layer's: a JSON-RPC error, and a result.
    let (_, body) = post_stateless(
        &server,
        "math_nope",
        &stateless_call("math_nope", json!({}), json!({})),
    )
    .await;
    assert!(body.contains("unknown tool"), "{body}");
    let (_, body) = post_stateless(
        &server,
        "math_add",
        &stateless_call(
            "math_add",
            json!({ "a": 2, "b": 2 }),
            json!({ "progressToken": 5 }),
        ),
    )
    .await;
    assert!(body.contains("\"isError\":false"), "{body}");

    // Every call counts in the metrics, whichever path served it.
    let metrics = bounded("metrics", http_client().get(server.url("/metrics")).send())
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    for line in [
        "toolhost_calls_total{tool=\"math_add\",outcome=\"ok\"} 2",
        "toolhost_calls_total{tool=\"math_add\",outcome=\"invalid_arguments\"} 1",
        "toolhost_calls_total{tool=\"math_divide\",outcome=\"ok\"} 2",
    ] {
        assert!(metrics.contains(line), "no `{line}` in:\n{metrics}");
    }
}

#[tokio::test]
async fn stdio_and_http_together_share_one_catalog() {
    let dir = PluginDir::with(&[MATH]);
    let server =
        toolhost_tests::live::Live::serve(&dir, &["--http", "127.0.0.1:0", "--stdio"]).await;
    let line = server.wait_for_stderr(&["serving MCP over HTTP"]).await;
    let address = line
        .split("address=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let over_http = toolhost_tests::http::connect_to(
        &format!("http://{address}/mcp"),
        toolhost_tests::Notes::default(),
        None,
        rmcp::service::ClientLifecycleMode::Initialize,
    )
    .await
    .expect("connect over HTTP");
    let result = call(&over_http, "math_add", json!({ "a": 2, "b": 3 })).await;
    assert_eq!(text(&result), "5.0");
    assert_eq!(
        server
            .call("math_add", json!({ "a": 1, "b": 1 }))
            .await
            .unwrap(),
        "2.0"
    );
    let _ = bounded("close", over_http.cancel()).await;
    // The process ends with its stdio session.
    server.stop().await;
}
