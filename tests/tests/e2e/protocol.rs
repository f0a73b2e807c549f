//! Protocol hygiene, as third-party clients meet it: malformed messages get
//! JSON-RPC errors (the same on stdio and HTTP) and the session goes on,
//! `ping` answers alike on both transports in each protocol era, a browser
//! page on an allowed origin can call `/mcp` (CORS), and a 2025-11-25
//! session belongs to the subject that created it.

use std::time::Duration;

use serde_json::{Value, json};
use toolhost_tests::http::{HttpServer, http_client, initialize_body, post_mcp};
use toolhost_tests::raw_stdio::RawStdio;
use toolhost_tests::{MISBEHAVE, PluginDir, bounded};

/// A normal call still works.
async fn echo(stdio: &mut RawStdio, id: u64) {
    let answer = stdio.request(&echo_call(id)).await;
    assert_eq!(answer["id"], id, "{answer}");
    assert_eq!(
        answer["result"]["content"][0]["text"], "still here",
        "{answer}"
    );
}

fn echo_call(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": { "name": "misbehave_echo", "arguments": { "text": "still here" } },
    })
}

/// `(what, message, code, id, words in the error message)`.
fn framing_cases() -> Vec<(&'static str, String, i64, Value, &'static str)> {
    vec![
        (
            "malformed JSON",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list""#.into(),
            -32700,
            Value::Null,
            "not valid JSON",
        ),
        (
            "no jsonrpc member",
            r#"{"id":5,"method":"tools/list"}"#.into(),
            -32600,
            json!(5),
            "`jsonrpc` is missing",
        ),
        (
            "method not a string",
            r#"{"jsonrpc":"2.0","id":6,"method":42}"#.into(),
            -32600,
            json!(6),
            "`method` must be a string",
        ),
        (
            "id an object",
            r#"{"jsonrpc":"2.0","id":{"n":1},"method":"tools/list"}"#.into(),
            -32600,
            Value::Null,
            "`id` must be a string or an integer",
        ),
        (
            "batch",
            r#"[{"jsonrpc":"2.0","id":7,"method":"tools/list"}]"#.into(),
            -32600,
            Value::Null,
            "batches are not supported by MCP 2025-06-18 and later; send one message per request",
        ),
        (
            "arguments not an object",
            json!({
                "jsonrpc": "2.0", "id": 8, "method": "tools/call",
                "params": { "name": "misbehave_echo", "arguments": "text=hi" },
            })
            .to_string(),
            -32602,
            json!(8),
            "`params.arguments` of `tools/call` must be a JSON object",
        ),
    ]
}

fn assert_error(answer: &Value, what: &str, code: i64, id: &Value, words: &str) {
    assert_eq!(answer["jsonrpc"], "2.0", "{what}: {answer}");
    assert_eq!(answer["error"]["code"], code, "{what}: {answer}");
    assert_eq!(&answer["id"], id, "{what}: {answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{what}: {answer}");
}

#[tokio::test]
async fn stdio_answers_framing_errors_and_goes_on() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let mut stdio = RawStdio::start(&dir).await;
    stdio.initialize(json!({})).await;
    echo(&mut stdio, 1).await;
    for (what, message, code, id, words) in framing_cases() {
        stdio.send(&message).await;
        let answer = stdio.answer().await;
        assert_error(&answer, what, code, &id, words);
        echo(&mut stdio, 100).await;
    }
}

#[tokio::test]
async fn stdio_refuses_an_overlong_line_and_goes_on() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let mut stdio = RawStdio::start(&dir).await;
    stdio.initialize(json!({})).await;
    let huge = json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "misbehave_echo", "arguments": { "text": "x".repeat(17 << 20) } },
    });
    stdio.send(&huge.to_string()).await;
    let answer = stdio.answer().await;
    assert_error(
        &answer,
        "long line",
        -32600,
        &Value::Null,
        "message too large",
    );
    echo(&mut stdio, 3).await;
}

async fn start_http(dir: &PluginDir) -> HttpServer {
    let server = HttpServer::start(dir, &[]).await;
    server.wait_ready().await;
    server
}

/// The JSON-RPC messages of a response, whether JSON or SSE.
async fn messages(response: reqwest::Response) -> Vec<Value> {
    let text = response.text().await.expect("body");
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        return vec![value];
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str(data).ok())
        .collect()
}

#[tokio::test]
async fn http_answers_framing_errors_with_400_and_json_rpc() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let server = start_http(&dir).await;
    let client = server.connect(None).await;
    let http = http_client();
    for (what, message, code, id, words) in framing_cases() {
        let response = bounded(
            what,
            post_mcp(&http, &server, &Value::Null).body(message).send(),
        )
        .await
        .expect("send");
        assert_eq!(response.status().as_u16(), 400, "{what}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let answer: Value = response.json().await.expect("JSON body");
        assert_error(&answer, what, code, &id, words);
        // The session of a well-behaved client is untouched.
        let result = bounded(
            "tools/call",
            client.call_tool(
                rmcp::model::CallToolRequestParams::new("misbehave_echo")
                    .with_arguments(json!({ "text": "still here" }).as_object().unwrap().clone()),
            ),
        )
        .await
        .expect("tools/call");
        assert_eq!(toolhost_tests::text(&result), "still here");
    }

    let response = bounded(
        "text/plain POST",
        http.post(server.url("/mcp"))
            .header("content-type", "text/plain")
            .header("accept", "application/json, text/event-stream")
            .body(initialize_body().to_string())
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(response.headers()["content-type"], "application/json");
    let answer: Value = response.json().await.expect("JSON body");
    assert_error(
        &answer,
        "415",
        -32600,
        &Value::Null,
        "Content-Type: application/json",
    );
    let _ = bounded("close", client.cancel()).await;
}

const STATELESS_META: &str = r#"{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"0"}}"#;

fn stateless(id: u64, method: &str) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": method,
        "params": { "_meta": serde_json::from_str::<Value>(STATELESS_META).unwrap() },
    })
}

#[tokio::test]
async fn ping_answers_alike_on_both_transports_in_each_era() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let ping = json!({ "jsonrpc": "2.0", "id": 11, "method": "ping" });

    // 2025-11-25 over stdio: answered before and after initialize.
    let mut stdio = RawStdio::start(&dir).await;
    assert_eq!(stdio.request(&ping).await["result"], json!({}));
    stdio.initialize(json!({})).await;
    let stdio_legacy = stdio.request(&ping).await;
    assert_eq!(stdio_legacy["result"], json!({}), "{stdio_legacy}");

    // 2026-07-28 over stdio: not part of the era, before and after the
    // client's first request of it.
    let mut stdio = RawStdio::start(&dir).await;
    let before = stdio.request(&stateless(12, "ping")).await;
    let listed = stdio.request(&stateless(13, "tools/list")).await;
    assert!(listed["result"]["tools"].is_array(), "{listed}");
    let after = stdio.request(&stateless(12, "ping")).await;
    assert_eq!(before, after);
    assert_eq!(after["error"]["code"], -32601, "{after}");

    let server = start_http(&dir).await;
    let http = http_client();
    // 2025-11-25 over HTTP, in a session.
    let response = bounded(
        "initialize",
        post_mcp(&http, &server, &initialize_body()).send(),
    )
    .await
    .expect("send");
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let in_session = |body: &Value| {
        post_mcp(&http, &server, body)
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
    };
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    bounded("initialized", in_session(&initialized).send())
        .await
        .expect("send");
    let response = bounded("ping", in_session(&ping).send())
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 200);
    let http_legacy = messages(response).await;
    assert_eq!(http_legacy, [stdio_legacy]);

    // 2026-07-28 over HTTP: the same error as over stdio.
    let response = bounded(
        "stateless ping",
        post_mcp(&http, &server, &stateless(12, "ping"))
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "ping")
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(messages(response).await, [after]);
}

#[tokio::test]
async fn browser_pages_on_allowed_origins_may_call_mcp() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let server = start_http(&dir).await;
    let http = http_client();
    let preflight = |origin: &str| {
        http.request(reqwest::Method::OPTIONS, server.url("/mcp"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization,mcp-protocol-version,mcp-session-id",
            )
            .send()
    };

    let allowed = bounded("preflight", preflight("http://localhost:6274"))
        .await
        .expect("send");
    assert_eq!(allowed.status().as_u16(), 200);
    let headers = allowed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:6274"
    );
    let request_headers = headers["access-control-allow-headers"].to_str().unwrap();
    for name in [
        "content-type",
        "authorization",
        "accept",
        "mcp-protocol-version",
        "mcp-session-id",
        "last-event-id",
        "mcp-method",
        "mcp-name",
    ] {
        assert!(request_headers.contains(name), "{request_headers}");
    }

    let refused = bounded("preflight", preflight("https://evil.example"))
        .await
        .expect("send");
    assert_eq!(refused.status().as_u16(), 403);
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );

    // The real request: the page may read the session id.
    let response = bounded(
        "initialize",
        post_mcp(&http, &server, &initialize_body())
            .header("origin", "http://localhost:6274")
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in ["mcp-session-id", "www-authenticate", "mcp-protocol-version"] {
        assert!(exposed.contains(name), "{exposed}");
    }

    // `cors_origins` narrows what the guard admits.
    dir.set_config("[http]\ncors_origins = [\"http://127.0.0.1:*\"]\n");
    let narrowed = start_http(&dir).await;
    let response = bounded(
        "preflight",
        http.request(reqwest::Method::OPTIONS, narrowed.url("/mcp"))
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", "POST")
            .send(),
    )
    .await
    .expect("send");
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

const ALICE: &str = "token-of-alice-0123456789abcdef";
const BOB: &str = "token-of-bob-0123456789abcdefgh";

async fn start_with_two_subjects(dir: &PluginDir) -> HttpServer {
    let tokens = dir.root().join("tokens");
    std::fs::write(&tokens, format!("{ALICE} alice\n{BOB} bob\n")).unwrap();
    dir.set_config(&format!(
        "[http.auth]\ntokens_file = \"{}\"\n",
        tokens.display()
    ));
    start_http(dir).await
}

#[tokio::test]
async fn sessions_belong_to_the_subject_that_created_them() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let server = start_with_two_subjects(&dir).await;
    let http = http_client();

    // Browsers preflight without credentials; the page can then read the
    // 401 and its challenge.
    let preflight = bounded(
        "preflight",
        http.request(reqwest::Method::OPTIONS, server.url("/mcp"))
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(preflight.status().as_u16(), 200);
    let unauthorized = bounded(
        "no token",
        post_mcp(&http, &server, &initialize_body())
            .header("origin", "http://localhost:6274")
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(unauthorized.status().as_u16(), 401);
    assert_eq!(
        unauthorized.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );
    assert!(unauthorized.headers().contains_key("www-authenticate"));

    let response = bounded(
        "initialize",
        post_mcp(&http, &server, &initialize_body())
            .bearer_auth(ALICE)
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status().as_u16(), 200);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let on = |token: &str, session: &str, method: reqwest::Method, body: Option<&Value>| {
        let mut request = http
            .request(method, server.url("/mcp"))
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-11-25");
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        request.send()
    };
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let status = bounded(
        "initialized",
        on(ALICE, &session, reqwest::Method::POST, Some(&initialized)),
    )
    .await
    .expect("send")
    .status();
    assert!(status.is_success(), "{status}");

    // Bob sees exactly what he would see for a session that never existed.
    let unknown = bounded(
        "unknown session",
        on(
            BOB,
            "no-such-session",
            reqwest::Method::POST,
            Some(&echo_call(1)),
        ),
    )
    .await
    .expect("send");
    assert_eq!(unknown.status().as_u16(), 404);
    let unknown: Value = unknown.json().await.expect("JSON body");
    assert_eq!(unknown["error"]["code"], -32001, "{unknown}");
    for (method, body) in [
        (reqwest::Method::POST, Some(echo_call(2))),
        (reqwest::Method::GET, None),
        (reqwest::Method::DELETE, None),
    ] {
        let response = bounded(
            "bob on alice's session",
            on(BOB, &session, method.clone(), body.as_ref()),
        )
        .await
        .expect("send");
        assert_eq!(response.status().as_u16(), 404, "{method}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let answer: Value = response.json().await.expect("JSON body");
        assert_eq!(answer, unknown, "{method}");
    }

    // Alice's session still works, stream included.
    let response = bounded(
        "alice calls",
        on(ALICE, &session, reqwest::Method::POST, Some(&echo_call(3))),
    )
    .await
    .expect("send");
    assert_eq!(response.status().as_u16(), 200);
    let answers = messages(response).await;
    let result = answers.iter().find(|m| m["id"] == 3).expect("an answer");
    assert_eq!(
        result["result"]["content"][0]["text"], "still here",
        "{result}"
    );
    let stream = bounded(
        "alice's stream",
        on(ALICE, &session, reqwest::Method::GET, None),
    )
    .await
    .expect("send");
    assert_eq!(stream.status().as_u16(), 200);
    drop(stream);
    let deleted = bounded(
        "alice ends it",
        on(ALICE, &session, reqwest::Method::DELETE, None),
    )
    .await
    .expect("send");
    assert!(deleted.status().is_success(), "{}", deleted.status());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let gone = bounded(
        "after DELETE",
        on(ALICE, &session, reqwest::Method::POST, Some(&echo_call(4))),
    )
    .await
    .expect("send");
    assert_eq!(gone.status().as_u16(), 404);
}

#[tokio::test]
async fn a_trace_context_in_meta_joins_the_call_log_lines() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let server = start_http(&dir).await;
    let http = http_client();
    let on_fast_path = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let through_rmcp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let forged = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 forged=1";
    for (id, trace, progress) in [
        (1, on_fast_path, false),
        (2, through_rmcp, true),
        (3, forged, false),
    ] {
        let mut meta: Value = serde_json::from_str(STATELESS_META).unwrap();
        meta["traceparent"] = json!(trace);
        if progress {
            meta["progressToken"] = json!("p");
        }
        let call = json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": "misbehave_log_flood", "arguments": { "bytes": 1 }, "_meta": meta },
        });
        let response = post_mcp(&http, &server, &call)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "misbehave_log_flood")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let _ = response.text().await;
    }
    // The plugin's log line is written inside the call's span.
    let logged = |trace: &str| server.stderr().contains(&format!("traceparent={trace}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(logged(on_fast_path) && logged(through_rmcp)) {
        assert!(
            std::time::Instant::now() < deadline,
            "no call log line with the trace context:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!server.stderr().contains("forged=1"), "{}", server.stderr());
}

#[tokio::test]
async fn lists_carry_caching_hints_from_the_config() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let http = http_client();
    let hints = async |server: &HttpServer| {
        let response = post_mcp(&http, server, &stateless(1, "tools/list"))
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/list")
            .send()
            .await
            .unwrap();
        let answer: Value = response.json().await.unwrap();
        let result = &answer["result"];
        assert!(result["tools"].is_array(), "{answer}");
        (result["ttlMs"].clone(), result["cacheScope"].clone())
    };
    // By default a list is revalidated every time, and the same for all.
    let server = start_http(&dir).await;
    assert_eq!(hints(&server).await, (json!(0), json!("public")));
    drop(server);
    dir.set_config("[server]\nlist_ttl = \"30s\"\n");
    let server = start_http(&dir).await;
    assert_eq!(hints(&server).await, (json!(30000), json!("public")));
}

#[tokio::test]
async fn tools_carry_their_own_icons_or_their_groups() {
    let dir = PluginDir::with(&[toolhost_tests::CONFORMANCE]);
    dir.set_config("[groups.conformance]\nnamespace = \"\"\n");
    let server = HttpServer::start(&dir, &[]).await;
    let client = server.connect(None).await;
    let tools = bounded("tools/list", client.list_all_tools())
        .await
        .unwrap();
    let icons = |name: &str| {
        let tool = tools.iter().find(|t| t.name == name).unwrap();
        serde_json::to_value(&tool.icons).unwrap()
    };
    assert_eq!(
        icons("greet"),
        json!([{ "src": "https://example.com/icons/greet.svg", "mimeType": "image/svg+xml" }])
    );
    let group = icons("test_simple_text");
    assert_eq!(group[0]["mimeType"], "image/png", "{group}");
    assert!(
        group[0]["src"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,iVBOR"),
        "{group}"
    );
    let _ = bounded("close", client.cancel()).await;
}
