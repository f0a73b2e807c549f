//! What a hostile or careless client cannot do to the others over HTTP:
//! hold every connection by trickling request heads, pile up sessions, send a
//! Host with an impossible port, cross two answers by reusing an id, or leave
//! a kept-alive connection half-read by an early refusal.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use toolhost_tests::http::{HttpServer, http_client, initialize_body, post_mcp};
use toolhost_tests::{MISBEHAVE, PluginDir, bounded};

const TOKEN: &str = "static-token-for-alice-0123456789";

async fn start(config: &str) -> (PluginDir, HttpServer) {
    let dir = PluginDir::with(&[MISBEHAVE]);
    dir.set_config(config);
    let server = HttpServer::start(&dir, &[]).await;
    server.wait_ready().await;
    (dir, server)
}

fn address(server: &HttpServer) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

/// A stateless `misbehave_echo` of `text`; how long it took, and the body.
async fn echo(server: &HttpServer, client: &reqwest::Client, text: &str) -> (Duration, String) {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": "misbehave_echo",
            "arguments": { "text": text },
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": { "name": "raw", "version": "1" },
            },
        },
    });
    let started = Instant::now();
    let response = bounded(
        "stateless tools/call",
        post_mcp(client, server, &body)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "misbehave_echo")
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.expect("body");
    (started.elapsed(), text)
}

/// A raw `initialize` (session flow); the response.
async fn initialize(server: &HttpServer) -> reqwest::Response {
    bounded(
        "initialize",
        post_mcp(&http_client(), server, &initialize_body()).send(),
    )
    .await
    .expect("send")
}

/// A POST on session `id`.
async fn on_session(server: &HttpServer, id: &str, body: &Value) -> reqwest::Response {
    bounded(
        "POST on a session",
        post_mcp(&http_client(), server, body)
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-11-25")
            .send(),
    )
    .await
    .expect("send")
}

/// `initialize` and `notifications/initialized`; the session id.
async fn open_session(server: &HttpServer) -> String {
    let response = initialize(server).await;
    assert_eq!(response.status().as_u16(), 200);
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let response = on_session(server, &id, &initialized).await;
    assert!(response.status().is_success(), "{}", response.status());
    id
}

#[tokio::test]
async fn trickling_connections_do_not_lock_out_a_normal_call() {
    let (_dir, server) = start("").await;
    let address = address(&server);
    // More tricklers than the default cap (512): each sends one byte of a
    // request line a second and never finishes it.
    let mut tricklers = Vec::new();
    for _ in 0..600 {
        match TcpStream::connect(&address).await {
            Ok(stream) => tricklers.push(stream),
            Err(e) => panic!("connect: {e}"),
        }
    }
    let client = http_client();
    for round in 0..3 {
        for stream in &mut tricklers {
            let _ = stream.write_all(&[b"POST /mcp HTTP/1.1"[round]]).await;
        }
        let (took, body) = echo(&server, &client, "still served").await;
        assert!(body.contains("still served"), "{body}");
        assert!(took < Duration::from_secs(2), "the call took {took:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test]
async fn a_request_head_not_finished_in_time_is_closed() {
    let (_dir, server) = start("[http]\nheader_timeout = \"1s\"\n").await;
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    let read = bounded("the server closing", stream.read(&mut buffer)).await;
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the server answered an unfinished head: {read:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // A complete request within the time is served.
    let (_, body) = echo(&server, &http_client(), "in time").await;
    assert!(body.contains("in time"), "{body}");
}

#[tokio::test]
async fn initialize_past_the_cap_per_client_gets_429_until_one_ends() {
    let (_dir, server) = start("[http]\nmax_sessions_per_subject = 2\n").await;
    let first = open_session(&server).await;
    let _second = open_session(&server).await;

    let refused = initialize(&server).await;
    assert_eq!(refused.status().as_u16(), 429);
    let body: Value = refused.json().await.expect("JSON-RPC body");
    assert_eq!(body["id"], 1);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("too many sessions"), "{message}");
    assert!(message.contains("DELETE"), "{message}");

    // Calls that open no session go on meanwhile.
    let (took, text) = echo(&server, &http_client(), "no session needed").await;
    assert!(text.contains("no session needed"), "{text}");
    assert!(took < Duration::from_secs(2), "{took:?}");

    let deleted = bounded(
        "DELETE /mcp",
        http_client()
            .delete(server.url("/mcp"))
            .header("mcp-session-id", &first)
            .header("mcp-protocol-version", "2025-11-25")
            .send(),
    )
    .await
    .expect("send");
    assert!(deleted.status().is_success(), "{}", deleted.status());
    assert_eq!(initialize(&server).await.status().as_u16(), 200);
}

#[tokio::test]
async fn idle_sessions_end_and_free_their_place() {
    let (_dir, server) =
        start("[http]\nmax_sessions_per_subject = 1\nsession_idle_timeout = \"1s\"\n").await;
    let id = open_session(&server).await;
    assert_eq!(initialize(&server).await.status().as_u16(), 429);
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
    let gone = on_session(&server, &id, &ping).await;
    assert_eq!(gone.status().as_u16(), 404);
    assert_eq!(initialize(&server).await.status().as_u16(), 200);
}

#[tokio::test]
async fn a_host_with_an_impossible_port_is_refused() {
    let (_dir, server) = start("").await;
    for host in ["localhost:99999", "localhost:http"] {
        let response = bounded(
            "GET /healthz",
            http_client()
                .get(server.url("/healthz"))
                .header("host", host)
                .send(),
        )
        .await
        .expect("send");
        assert_eq!(response.status().as_u16(), 400, "{host}");
        let text = response.text().await.unwrap();
        assert!(text.contains("malformed Host header"), "{host}: {text}");
        assert!(text.contains("65535"), "{host}: {text}");
    }
}

#[tokio::test]
async fn a_second_request_with_an_id_in_flight_is_refused() {
    let (_dir, server) = start("").await;
    let id = open_session(&server).await;
    let call = |tool: &str, arguments: Value| {
        json!({
            "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": { "name": tool, "arguments": arguments },
        })
    };
    let slow = tokio::spawn({
        let body = call("misbehave_sleep", json!({ "ms": 1500 }));
        let request = post_mcp(&http_client(), &server, &body)
            .header("mcp-session-id", &id)
            .header("mcp-protocol-version", "2025-11-25");
        async move { request.send().await.expect("send") }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;

    let started = Instant::now();
    let second = on_session(
        &server,
        &id,
        &call("misbehave_echo", json!({ "text": "x" })),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(second.status().as_u16(), 400);
    let body: Value = second.json().await.expect("JSON-RPC body");
    assert_eq!(body["id"], 7);
    assert_eq!(body["error"]["code"], -32600);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("request id 7 is already in flight on this session"),
        "{body}"
    );

    let first = bounded("the slow call", slow).await.expect("task");
    assert_eq!(first.status().as_u16(), 200);
    let text = first.text().await.unwrap();
    assert!(
        text.contains("1500"),
        "the first call lost its answer: {text}"
    );

    // Once answered, the id may be used again.
    let again = on_session(
        &server,
        &id,
        &call("misbehave_echo", json!({ "text": "again" })),
    )
    .await;
    assert_eq!(again.status().as_u16(), 200);
    assert!(again.text().await.unwrap().contains("again"));
}

#[tokio::test]
async fn early_refusals_leave_a_kept_alive_connection_usable() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let tokens = dir.root().join("tokens");
    std::fs::write(&tokens, format!("{TOKEN} alice\n")).unwrap();
    dir.set_config(&format!(
        "[http]\nmax_body = \"16KiB\"\n[http.auth]\ntokens_file = \"{}\"\n",
        tokens.display()
    ));
    let server = HttpServer::start(&dir, &[]).await;
    server.wait_ready().await;
    // One client: reqwest keeps the connection alive between requests.
    let client = http_client();
    let padded = |size: usize| {
        let mut body = initialize_body();
        body["params"]["padding"] = json!("x".repeat(size));
        body
    };
    for size in [1_000, 12_000, 100_000] {
        let refused = bounded(
            "POST /mcp without a token",
            post_mcp(&client, &server, &padded(size)).send(),
        )
        .await
        .expect("send");
        let expected = if size > 16 * 1024 { 413 } else { 401 };
        assert_eq!(refused.status().as_u16(), expected, "{size} bytes");
        let _ = refused.bytes().await;

        let accepted = bounded(
            "POST /mcp with a token",
            post_mcp(&client, &server, &initialize_body())
                .header("authorization", format!("Bearer {TOKEN}"))
                .send(),
        )
        .await
        .unwrap_or_else(|e| panic!("the request after a {expected} failed: {e}"));
        assert_eq!(accepted.status().as_u16(), 200, "after {size} bytes");
    }
}

#[tokio::test]
async fn initialize_past_the_total_cap_gets_503() {
    let (_dir, server) = start("[http]\nmax_sessions = 2\n").await;
    let _first = open_session(&server).await;
    let _second = open_session(&server).await;

    let refused = initialize(&server).await;
    assert_eq!(refused.status().as_u16(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.expect("JSON-RPC body");
    assert_eq!(body["id"], 1);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("DELETE"), "{message}");

    // Calls that open no session go on meanwhile.
    let (took, text) = echo(&server, &http_client(), "still served").await;
    assert!(text.contains("still served"), "{text}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}
