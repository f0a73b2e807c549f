//! A `tools/call` in a 2025-11-25 session that needs nothing of rmcp is
//! answered by the HTTP fast path (plain JSON), and behaves as it does
//! through rmcp: log lines at the session's level, `notifications/cancelled`,
//! one request per id, asks refused for a client that offered none; a
//! call with a progress token, or from a client that may be asked things,
//! still goes through rmcp (an SSE stream).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use toolhost_tests::http::{HttpServer, http_client, initialize_body};
use toolhost_tests::{MISBEHAVE, PluginDir};

const VERSION: &str = "2025-11-25";

struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    /// The JSON-RPC response in the body, JSON or the last SSE event.
    fn message(&self) -> Value {
        let text = match self.content_type.starts_with("text/event-stream") {
            true => self
                .body
                .lines()
                .filter_map(|line| line.strip_prefix("data: "))
                .rfind(|data| !data.is_empty())
                .unwrap_or_default()
                .to_owned(),
            false => self.body.clone(),
        };
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn text(&self) -> String {
        self.message()["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

async fn post(server: &HttpServer, session: Option<&str>, body: &Value) -> Answer {
    let mut request = http_client()
        .post(server.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(session) = session {
        request = request
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", VERSION);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    Answer {
        status,
        content_type,
        body,
    }
}

/// A session whose client declared `capabilities`.
async fn open(server: &HttpServer, capabilities: Value) -> String {
    let mut initialize = initialize_body();
    initialize["params"]["capabilities"] = capabilities;
    let response = http_client()
        .post(server.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(initialize.to_string())
        .send()
        .await
        .unwrap();
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    response.text().await.unwrap();
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    assert_eq!(post(server, Some(&session), &initialized).await.status, 202);
    session
}

fn call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": { "name": tool, "arguments": arguments },
    })
}

async fn start() -> HttpServer {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let server = HttpServer::start(&dir, &[]).await;
    server.wait_ready().await;
    server
}

#[tokio::test]
async fn a_plain_call_is_answered_directly_and_a_progress_token_goes_to_rmcp() {
    let server = start().await;
    let session = open(&server, json!({})).await;

    let answer = post(
        &server,
        Some(&session),
        &call(2, "misbehave_echo", json!({ "text": "hi" })),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.content_type.starts_with("application/json"),
        "{}",
        answer.content_type
    );
    let message = answer.message();
    assert_eq!(message["id"], 2);
    assert_eq!(answer.text(), "hi");
    assert!(message["result"].get("resultType").is_none(), "{message}");

    let mut with_token = call(3, "misbehave_echo", json!({ "text": "tracked" }));
    with_token["params"]["_meta"] = json!({ "progressToken": "p1" });
    let answer = post(&server, Some(&session), &with_token).await;
    assert!(
        answer.content_type.starts_with("text/event-stream"),
        "{}",
        answer.content_type
    );
    assert_eq!(answer.text(), "tracked");

    // Invalid arguments and unknown tools answer as through rmcp.
    let invalid = post(
        &server,
        Some(&session),
        &call(4, "misbehave_echo", json!({ "text": 1 })),
    )
    .await;
    assert_eq!(invalid.message()["result"]["isError"], true);
    let unknown = post(
        &server,
        Some(&session),
        &call(5, "misbehave_nope", json!({})),
    )
    .await;
    assert!(unknown.message()["error"].is_object(), "{}", unknown.body);
}

#[tokio::test]
async fn a_client_that_may_be_asked_things_is_served_by_rmcp() {
    let server = start().await;
    let capable = open(&server, json!({ "elicitation": {} })).await;
    let answer = post(
        &server,
        Some(&capable),
        &call(2, "misbehave_echo", json!({ "text": "hi" })),
    )
    .await;
    assert!(
        answer.content_type.starts_with("text/event-stream"),
        "{}",
        answer.content_type
    );
    assert_eq!(answer.text(), "hi");

    let incapable = open(&server, json!({})).await;
    let answer = post(
        &server,
        Some(&incapable),
        &call(2, "misbehave_ask_loop", json!({ "bytes": 1 })),
    )
    .await;
    assert!(
        answer.content_type.starts_with("application/json"),
        "{}",
        answer.content_type
    );
    assert!(answer.text().contains("does not offer"), "{}", answer.body);
}

#[tokio::test]
async fn log_lines_follow_the_level_the_session_set() {
    let server = start().await;
    let session = open(&server, json!({})).await;
    let answer = post(
        &server,
        Some(&session),
        &call(2, "misbehave_log_flood", json!({ "bytes": 3 })),
    )
    .await;
    assert!(
        answer.content_type.starts_with("text/event-stream"),
        "{}",
        answer.content_type
    );
    assert_eq!(
        answer.body.matches("notifications/message").count(),
        3,
        "{}",
        answer.body
    );
    assert_eq!(answer.message()["result"]["content"][0]["text"], "3");

    let set_level = json!({
        "jsonrpc": "2.0", "id": 3, "method": "logging/setLevel", "params": { "level": "error" },
    });
    assert_eq!(post(&server, Some(&session), &set_level).await.status, 200);
    let answer = post(
        &server,
        Some(&session),
        &call(4, "misbehave_log_flood", json!({ "bytes": 3 })),
    )
    .await;
    assert!(
        answer.content_type.starts_with("application/json"),
        "{}",
        answer.body
    );
    assert!(
        !answer.body.contains("notifications/message"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn cancelled_calls_stop_and_ids_in_flight_are_refused() {
    let server = std::sync::Arc::new(start().await);
    let session = open(&server, json!({})).await;
    let slow = {
        let server = server.clone();
        let session = session.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            post(
                &server,
                Some(&session),
                &call(7, "misbehave_sleep", json!({ "ms": 20000 })),
            )
            .await;
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = post(
        &server,
        Some(&session),
        &call(7, "misbehave_echo", json!({ "text": "x" })),
    )
    .await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("already in flight"), "{}", again.body);

    let cancel = json!({
        "jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": { "requestId": 7, "reason": "changed my mind" },
    });
    assert_eq!(post(&server, Some(&session), &cancel).await.status, 202);
    let took = slow.await.unwrap();
    assert!(
        took < Duration::from_secs(10),
        "the cancelled call ran for {took:?}"
    );
}
