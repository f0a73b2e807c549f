//! What a remote client meets before its request reaches a tool: the rate
//! limits (per subject, and per address before authentication), request ids,
//! the metrics an operator scrapes, and the stricter edges of auth (`crit`
//! JWT headers, the resource identifier beyond loopback).

use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use toolhost_tests::http::{HttpServer, http_client, initialize_body, post_mcp};
use toolhost_tests::{MISBEHAVE, PluginDir, RAW, bounded, run_toolhost};

const ALICE: &str = "static-token-for-alice-0123456789";
const BOB: &str = "static-token-for-bob-0123456789ab";
const SECRET: &str = "a-shared-hs256-secret-of-32-bytes-or-more";
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "toolhost-tests";

/// A server with static tokens for alice and bob, HS256 JWTs, and `limits`
/// (TOML tables) added to the config.
async fn start_with_auth(limits: &str) -> (PluginDir, HttpServer) {
    let dir = PluginDir::with(&[RAW]);
    let tokens = dir.root().join("tokens");
    std::fs::write(&tokens, format!("{ALICE} alice\n{BOB} bob\n")).unwrap();
    dir.set_config(&format!(
        r#"
        [http.auth]
        tokens_file = "{}"
        [http.auth.jwt]
        issuer = "{ISSUER}"
        audience = "{AUDIENCE}"
        hs256_secret_env = "TEST_JWT_SECRET"
        {limits}
        "#,
        tokens.display()
    ));
    let server = HttpServer::start_with_env(&dir, &[], &[("TEST_JWT_SECRET", SECRET)]).await;
    server.wait_ready().await;
    (dir, server)
}

/// A raw `initialize` with `token`; the response.
async fn initialize(server: &HttpServer, token: &str) -> reqwest::Response {
    bounded(
        "POST /mcp",
        post_mcp(&http_client(), server, &initialize_body())
            .header("authorization", format!("Bearer {token}"))
            .send(),
    )
    .await
    .expect("send")
}

#[tokio::test]
async fn a_subject_past_its_burst_gets_429_with_retry_after() {
    let (_dir, server) = start_with_auth("[http.rate_limit]\nper_second = 0.2\nburst = 3\n").await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(initialize(&server, ALICE).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200]);

    let refused = initialize(&server, ALICE).await;
    assert_eq!(refused.status().as_u16(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry_after), "Retry-After: {retry_after}");
    let body: Value = refused.json().await.expect("a JSON body");
    assert_eq!(body["jsonrpc"], "2.0");
    assert!(body["error"]["code"].is_i64(), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Too Many Requests"),
        "{body}"
    );

    // Bob, from the same address, has his own allowance.
    assert_eq!(initialize(&server, BOB).await.status().as_u16(), 200);
}

#[tokio::test]
async fn wrong_tokens_from_one_address_end_in_429() {
    let (_dir, server) =
        start_with_auth("[http.address_limit]\nper_second = 0.2\nburst = 20\n").await;
    let http = http_client();
    let started = std::time::Instant::now();
    let mut unauthorized = 0;
    let mut limited = 0;
    for n in 0..300 {
        let response = bounded(
            "POST /mcp",
            post_mcp(&http, &server, &initialize_body())
                .header("authorization", format!("Bearer wrong-token-number-{n:05}"))
                .send(),
        )
        .await
        .expect("send");
        match response.status().as_u16() {
            401 => unauthorized += 1,
            429 => {
                assert!(response.headers().contains_key("retry-after"));
                limited += 1;
            }
            other => panic!("status {other} for a wrong token"),
        }
    }
    // The burst, plus what refilled while the loop ran.
    let refilled = started.elapsed().as_secs() / 5 + 1;
    assert!(
        unauthorized <= 20 + refilled,
        "{unauthorized} refusals by auth in {:?}",
        started.elapsed()
    );
    assert_eq!(unauthorized + limited, 300);

    // The address limit comes before auth: a good token from the same
    // address waits too, and the refusals are counted.
    assert_eq!(initialize(&server, ALICE).await.status().as_u16(), 429);
    let metrics = bounded("metrics", http.get(server.url("/metrics")).send())
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap();
    let counted = metrics
        .lines()
        .find(|line| line.starts_with("toolhost_http_requests_total{status=\"429\"}"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no 429 count in:\n{metrics}"));
    assert_eq!(counted, limited + 1);
}

#[tokio::test]
async fn metrics_keep_their_names() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let server = HttpServer::start(&dir, &[]).await;
    server.wait_ready().await;
    let client = server.connect(None).await;
    for arguments in [json!({ "text": "hi" }), json!({ "text": 3 })] {
        let params = CallToolRequestParams::new("misbehave_echo")
            .with_arguments(arguments.as_object().unwrap().clone());
        bounded("tools/call", client.call_tool(params))
            .await
            .expect("tools/call");
    }
    let response = bounded("metrics", http_client().get(server.url("/metrics")).send())
        .await
        .expect("metrics");
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let metrics = response.text().await.unwrap();
    for line in [
        "# TYPE toolhost_calls counter",
        "toolhost_calls_total{tool=\"misbehave_echo\",outcome=\"ok\"} 1",
        "toolhost_calls_total{tool=\"misbehave_echo\",outcome=\"invalid_arguments\"} 1",
        "toolhost_call_duration_seconds_count{tool=\"misbehave_echo\"} 2",
        "toolhost_call_duration_seconds_bucket{le=\"+Inf\",tool=\"misbehave_echo\"} 2",
        "toolhost_fuel_used_total{tool=\"misbehave_echo\"} ",
        "toolhost_calls_in_flight 0",
        "toolhost_groups_loaded 1",
        "toolhost_tools ",
        "toolhost_groups_failed 0",
        "toolhost_http_requests_total{status=\"200\"} ",
        "# EOF",
    ] {
        assert!(
            metrics.lines().any(|found| found.starts_with(line)),
            "no line `{line}…` in:\n{metrics}"
        );
    }
    let _ = bounded("close", client.cancel()).await;
}

#[tokio::test]
async fn request_ids_are_echoed_unless_unusable() {
    let dir = PluginDir::with(&[RAW]);
    let server = HttpServer::start(&dir, &[]).await;
    server.wait_ready().await;
    let http = http_client();
    let id_for = |id: String| {
        let request = http.get(server.url("/healthz")).header("x-request-id", id);
        async move {
            let response = bounded("GET /healthz", request.send()).await.expect("send");
            assert_eq!(response.status().as_u16(), 200);
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(id_for("trace-7f3a".into()).await, "trace-7f3a");
    let longest = "a".repeat(128);
    assert_eq!(id_for(longest.clone()).await, longest);
    for bogus in ["a".repeat(129), "two words".into(), "tab\tinside".into()] {
        let echoed = id_for(bogus.clone()).await;
        assert_ne!(echoed, bogus);
        assert!(uuid_like(&echoed), "`{bogus}` was replaced by `{echoed}`");
    }
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

#[tokio::test]
async fn jwts_with_critical_extensions_are_refused() {
    let (_dir, server) = start_with_auth("").await;
    let claims = json!({
        "sub": "carol", "iss": ISSUER, "aud": AUDIENCE,
        "exp": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() + 600,
    });
    let sign = |header: &jsonwebtoken::Header| {
        jsonwebtoken::encode(
            header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    assert_eq!(
        initialize(&server, &sign(&header)).await.status().as_u16(),
        200
    );

    header.crit = Some(vec!["urn:example:must-understand".into()]);
    let response = initialize(&server, &sign(&header)).await;
    assert_eq!(response.status().as_u16(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(challenge.contains("crit"), "{challenge}");
}

#[tokio::test]
async fn beyond_loopback_the_resource_must_be_configured() {
    let dir = PluginDir::with(&[RAW]);
    let tokens = dir.root().join("tokens");
    std::fs::write(&tokens, format!("{ALICE} alice\n")).unwrap();
    let config = |resource: &str| {
        format!(
            "[http]\nallowed_hosts = [\"*\"]\n[http.auth]\ntokens_file = \"{}\"\n{resource}",
            tokens.display()
        )
    };
    dir.set_config(&config(""));
    let plugins = dir.plugins();
    let config_file = dir.config().unwrap();
    let args = [
        "serve",
        plugins.to_str().unwrap(),
        "--config",
        config_file.to_str().unwrap(),
        "--http",
        "127.0.0.1:0",
    ];
    let output = run_toolhost(&args).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("[http.auth] resource"), "{stderr}");

    // With the identifier configured, it serves and the metadata says it,
    // whatever Host the request names.
    dir.set_config(&config("resource = \"https://tools.example.com/mcp\"\n"));
    let server = HttpServer::start(&dir, &[]).await;
    let metadata: Value = bounded(
        "metadata",
        http_client()
            .get(server.url("/.well-known/oauth-protected-resource/mcp"))
            .header("host", "evil.example")
            .send(),
    )
    .await
    .expect("metadata")
    .json()
    .await
    .expect("metadata JSON");
    assert_eq!(metadata["resource"], "https://tools.example.com/mcp");
}
