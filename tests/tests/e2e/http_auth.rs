//! Who may call over HTTP: static bearer tokens, JWTs (signature, expiry,
//! audience), per-group scopes, the RFC 9728 metadata a 401 points at, and
//! the rate limit per subject.

use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use toolhost_tests::http::{HttpServer, http_client, initialize_body, post_mcp};
use toolhost_tests::{MISBEHAVE, PluginDir, RAW, bounded, text};

const TOKEN: &str = "static-token-for-alice-0123456789";
const SECRET: &str = "a-shared-hs256-secret-of-32-bytes-or-more";
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "toolhost-tests";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jwt(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn claims(scope: &str) -> Value {
    json!({
        "sub": "bob", "iss": ISSUER, "aud": AUDIENCE,
        "exp": now() + 600, "iat": now(), "scope": scope,
    })
}

/// A server with a static token for alice (scope `misbehave:call`), JWTs
/// from ISSUER for AUDIENCE, and group `misbehave` needing that scope.
async fn start() -> (PluginDir, HttpServer) {
    let dir = PluginDir::with(&[MISBEHAVE, RAW]);
    let tokens = dir.root().join("tokens");
    std::fs::write(
        &tokens,
        format!("# test tokens\n{TOKEN} alice misbehave:call\n"),
    )
    .unwrap();
    dir.set_config(&format!(
        r#"
        [http.auth]
        tokens_file = "{}"
        authorization_servers = ["{ISSUER}"]
        [http.auth.jwt]
        issuer = "{ISSUER}"
        audience = "{AUDIENCE}"
        hs256_secret_env = "TEST_JWT_SECRET"
        [http.auth.scopes]
        misbehave = ["misbehave:call"]
        "#,
        tokens.display()
    ));
    let server = HttpServer::start_with_env(&dir, &[], &[("TEST_JWT_SECRET", SECRET)]).await;
    server.wait_ready().await;
    (dir, server)
}

/// Status and `WWW-Authenticate` of a raw `initialize` with `authorization`.
async fn initialize_status(server: &HttpServer, authorization: Option<&str>) -> (u16, String) {
    let mut request = post_mcp(&http_client(), server, &initialize_body());
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = bounded("POST /mcp", request.send()).await.expect("send");
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), challenge)
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let (_dir, server) = start().await;

    let (status, challenge) = initialize_status(&server, None).await;
    assert_eq!(status, 401);
    let metadata_url = challenge
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no resource_metadata in `{challenge}`"));
    assert!(
        metadata_url.ends_with("/.well-known/oauth-protected-resource/mcp"),
        "{metadata_url}"
    );
    let metadata: Value = bounded("metadata", http_client().get(metadata_url).send())
        .await
        .expect("metadata")
        .json()
        .await
        .expect("metadata JSON");
    assert!(
        metadata["resource"].as_str().unwrap().ends_with("/mcp"),
        "{metadata}"
    );
    assert_eq!(metadata["authorization_servers"], json!([ISSUER]));
    assert_eq!(metadata["scopes_supported"], json!(["misbehave:call"]));

    // Accepted: the static token and a valid JWT.
    let (status, _) = initialize_status(&server, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 200);
    let (status, _) = initialize_status(
        &server,
        Some(&format!("Bearer {}", jwt(claims(""), SECRET))),
    )
    .await;
    assert_eq!(status, 200);

    // Refused, each saying why.
    for (token, why) in [
        ("not-a-known-static-token".to_owned(), "malformed"),
        (
            jwt(claims(""), "some-other-secret-of-32-bytes-or-more"),
            "signature",
        ),
        (
            jwt(
                json!({ "sub": "bob", "iss": ISSUER, "aud": AUDIENCE, "exp": now() - 3600 }),
                SECRET,
            ),
            "expired",
        ),
        (
            jwt(
                json!({ "sub": "bob", "iss": ISSUER, "aud": "someone-else", "exp": now() + 600 }),
                SECRET,
            ),
            "aud",
        ),
    ] {
        let (status, challenge) =
            initialize_status(&server, Some(&format!("Bearer {token}"))).await;
        assert_eq!(status, 401, "{why}");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(challenge.contains(why), "`{why}` not in `{challenge}`");
    }
    // Tokens never reach the log.
    assert!(!server.stderr().contains(TOKEN));
}

#[tokio::test]
async fn scopes_decide_what_a_caller_sees_and_calls() {
    let (_dir, server) = start().await;

    // Alice's static token has the scope: she sees and calls everything.
    let alice = server.connect(Some(TOKEN)).await;
    let names: Vec<String> = bounded("tools/list", alice.list_all_tools())
        .await
        .unwrap()
        .into_iter()
        .map(|tool| tool.name.to_string())
        .collect();
    assert!(names.contains(&"misbehave_echo".to_owned()), "{names:?}");
    let params = CallToolRequestParams::new("misbehave_echo")
        .with_arguments(json!({ "text": "hi" }).as_object().unwrap().clone());
    let result = bounded("tools/call", alice.call_tool(params))
        .await
        .unwrap();
    assert_eq!(text(&result), "hi");

    // Bob's JWT lacks it: misbehave's tools are not listed to him...
    let bob_token = jwt(claims("other:scope"), SECRET);
    let bob = server.connect(Some(&bob_token)).await;
    let names: Vec<String> = bounded("tools/list", bob.list_all_tools())
        .await
        .unwrap()
        .into_iter()
        .map(|tool| tool.name.to_string())
        .collect();
    assert!(names.contains(&"raw_greet".to_owned()), "{names:?}");
    assert!(
        !names.iter().any(|name| name.starts_with("misbehave_")),
        "{names:?}"
    );

    // ...and calling one anyway is 403 insufficient_scope.
    let call = json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": { "name": "misbehave_echo", "arguments": { "text": "hi" } },
    });
    let response = bounded(
        "POST tools/call",
        post_mcp(&http_client(), &server, &call)
            .header("authorization", format!("Bearer {bob_token}"))
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status().as_u16(), 403);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"misbehave:call\""),
        "{challenge}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], 7);

    let params = CallToolRequestParams::new("misbehave_echo")
        .with_arguments(json!({ "text": "hi" }).as_object().unwrap().clone());
    assert!(bounded("tools/call", bob.call_tool(params)).await.is_err());
    let _ = bounded("close", alice.cancel()).await;
    let _ = bounded("close", bob.cancel()).await;
}

#[tokio::test]
async fn each_subject_has_its_own_rate_limit() {
    let dir = PluginDir::with(&[RAW]);
    dir.set_config("[http.rate_limit]\nper_second = 0.5\nburst = 2\n");
    let server = HttpServer::start(&dir, &[]).await;
    server.wait_ready().await;
    let http = http_client();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..3 {
        let response = bounded("POST", post_mcp(&http, &server, &initialize_body()).send())
            .await
            .expect("send");
        statuses.push(response.status().as_u16());
        if let Some(value) = response.headers().get("retry-after") {
            retry_after = Some(value.to_str().unwrap().parse::<u64>().unwrap());
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(retry_after, Some(2));
    // Probes are not limited.
    let health = bounded("GET", http.get(server.url("/healthz")).send())
        .await
        .expect("send");
    assert_eq!(health.status().as_u16(), 200);
}
