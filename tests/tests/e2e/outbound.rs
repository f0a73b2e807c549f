//! Outbound HTTP: a group reaches exactly what `[[groups.NAME.http]]`
//! grants, checked on the URL and on the address it resolves to, within
//! the call's limits, and never sees the credentials the host adds.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use toolhost_tests::origin::{Origin, PAGE};
use toolhost_tests::{OUTBOUND, PluginDir, Server, WEB, text};

const SECRET: &str = "sk-outbound-secret-4f9a";

async fn serve(dir: &PluginDir, config: &str, env: &[(&str, &str)]) -> Server {
    dir.set_config(config);
    let server = Server::start_with_env(dir, &[], env).await;
    server.wait_for_tools(&["outbound_send"]).await;
    server
}

/// A grant of the origin's 127.0.0.1 port over plain HTTP, plus `extra`
/// TOML lines inside the same grant.
fn loopback_grant(origin: &Origin, extra: &str) -> String {
    format!(
        "[[groups.outbound.http]]\nhost = \"127.0.0.1\"\nschemes = [\"http\"]\nports = [{}]\n{extra}\n",
        origin.port
    )
}

async fn send(server: &Server, arguments: Value) -> Result<Value, String> {
    let result = server.call("outbound_send", arguments).await;
    match result.is_error {
        Some(true) => Err(text(&result)),
        _ => Ok(result.structured_content.expect("structured result")),
    }
}

#[tokio::test]
async fn a_group_without_a_grant_is_refused_with_the_key_to_add() {
    let origin = Origin::start().await;
    let dir = PluginDir::with(&[OUTBOUND]);
    let server = serve(&dir, "", &[]).await;
    let error = send(&server, json!({ "url": origin.url("/page") }))
        .await
        .unwrap_err();
    assert!(
        error.contains("no grant names host `127.0.0.1`")
            && error.contains("[[groups.outbound.http]]"),
        "{error}"
    );
}

#[tokio::test]
async fn a_granted_address_is_reached_and_nothing_beside_it() {
    let origin = Origin::start().await;
    let dir = PluginDir::with(&[OUTBOUND]);
    let config = loopback_grant(
        &origin,
        "methods = [\"GET\"]\npaths = [\"/page\", \"/json\"]",
    );
    let server = serve(&dir, &config, &[]).await;

    let seen = send(&server, json!({ "url": origin.url("/page") }))
        .await
        .unwrap();
    assert_eq!(seen["status"], 200);
    assert_eq!(seen["body"], PAGE);

    for (arguments, why) in [
        (json!({ "url": origin.url("/record") }), "allows paths"),
        (
            json!({ "url": origin.url("/page"), "method": "POST" }),
            "allows methods",
        ),
        (
            json!({ "url": format!("https://127.0.0.1:{}/page", origin.port) }),
            "allows schemes",
        ),
        (json!({ "url": "http://127.0.0.1:1/page" }), "allows ports"),
        (json!({ "url": origin.url("/page/../record") }), "segments"),
        (
            json!({ "url": origin.other_url("/page") }),
            "no grant names host `127.0.0.2`",
        ),
    ] {
        let error = send(&server, arguments.clone()).await.unwrap_err();
        assert!(error.contains(why), "{arguments}: {error}");
    }
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_needs_the_address_named() {
    let origin = Origin::start().await;
    let dir = PluginDir::with(&[OUTBOUND]);
    let config = format!(
        "[[groups.outbound.http]]\nhost = \"localhost\"\nschemes = [\"http\"]\nports = [{}]\n",
        origin.port
    );
    let server = serve(&dir, &config, &[]).await;
    let url = format!("http://localhost:{}/page", origin.port);
    let error = send(&server, json!({ "url": url })).await.unwrap_err();
    assert!(
        error.contains("resolves to") && error.contains("loopback") && error.contains("addresses"),
        "{error}"
    );

    // Naming the range in the grant lets the same name through.
    let config = format!(
        "[[groups.outbound.http]]\nhost = \"localhost\"\nschemes = [\"http\"]\nports = [{}]\n\
         addresses = [\"127.0.0.0/8\", \"::1\"]\n",
        origin.port
    );
    let dir = PluginDir::with(&[OUTBOUND]);
    let server = serve(&dir, &config, &[]).await;
    let seen = send(&server, json!({ "url": url })).await.unwrap();
    assert_eq!(seen["status"], 200);
}

#[tokio::test]
async fn a_redirect_is_checked_like_a_request() {
    let origin = Origin::start().await;
    let dir = PluginDir::with(&[OUTBOUND]);
    let server = serve(&dir, &loopback_grant(&origin, ""), &[]).await;
    let to = origin.other_url("/page");
    let error = send(
        &server,
        json!({ "url": origin.url(&format!("/redirect?to={to}")) }),
    )
    .await
    .unwrap_err();
    assert!(error.contains("no grant names host `127.0.0.2`"), "{error}");

    // Within the grant, it is followed.
    let to = origin.url("/json");
    let seen = send(
        &server,
        json!({ "url": origin.url(&format!("/redirect?to={to}")) }),
    )
    .await
    .unwrap();
    assert_eq!(seen["url"], to);
}

#[tokio::test]
async fn a_secret_header_reaches_the_server_and_nowhere_else() {
    let origin = Origin::start().await;
    let dir = PluginDir::with(&[OUTBOUND]);
    let config = format!(
        "{}\n[[groups.outbound.http]]\nhost = \"127.0.0.2\"\nschemes = [\"http\"]\nports = [{}]\n",
        loopback_grant(
            &origin,
            "headers = { X-Api-Key = \"Key ${env:OUTBOUND_TEST_SECRET}\" }"
        ),
        origin.other_port
    );
    let server = serve(&dir, &config, &[("OUTBOUND_TEST_SECRET", SECRET)]).await;

    // The group sets the same header itself: the grant's value wins.
    let seen = send(
        &server,
        json!({ "url": origin.url("/record"), "headers": { "X-Api-Key": "mine" } }),
    )
    .await
    .unwrap();
    // Redirected to the other host, the header stays behind.
    let to = origin.other_url("/record");
    let redirected = send(
        &server,
        json!({ "url": origin.url(&format!("/redirect?to={to}")) }),
    )
    .await
    .unwrap();
    let refused = send(&server, json!({ "url": "http://127.0.0.3:1/" }))
        .await
        .unwrap_err();

    let recorded = origin.recorded();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0]["x-api-key"], format!("Key {SECRET}"));
    assert!(recorded[1].get("x-api-key").is_none());
    for (what, text) in [
        ("response and environment", seen.to_string()),
        ("redirected response", redirected.to_string()),
        ("refusal", refused),
        ("host log", server.stderr()),
    ] {
        assert!(
            !text.contains(SECRET),
            "the secret is in the {what}: {text}"
        );
    }
}

/// The error of a call that waits on `/slow`, under `config` (TOML after
/// the grant); the call must end well before the server would answer.
async fn cut_short(config: &str) -> String {
    let origin = Origin::start().await;
    let dir = PluginDir::with(&[OUTBOUND]);
    let server = serve(
        &dir,
        &format!("{}\n{config}", loopback_grant(&origin, "")),
        &[],
    )
    .await;
    let started = Instant::now();
    let error = send(&server, json!({ "url": origin.url("/slow") }))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30), "{error}");
    error
}

#[tokio::test]
async fn a_slow_server_is_cut_at_the_limit() {
    let error = cut_short("[groups.outbound.http_limits]\nfirst_byte_timeout = \"300ms\"").await;
    assert!(error.contains("did not answer in time"), "{error}");
}

#[tokio::test]
async fn a_slow_server_is_cut_at_the_call_deadline() {
    // The request's deadline is the call's: whichever notices first says so.
    let error = cut_short("[groups.outbound]\ntimeout = \"1s\"").await;
    assert!(
        error.contains("in time") || error.contains("timed out"),
        "{error}"
    );
}

#[tokio::test]
async fn a_huge_body_is_cut_at_the_limit() {
    let origin = Origin::start().await;
    let dir = PluginDir::with(&[OUTBOUND]);
    let config = format!(
        "{}\n[groups.outbound.http_limits]\nresponse_bytes = \"256KiB\"\n",
        loopback_grant(&origin, "")
    );
    let server = serve(&dir, &config, &[]).await;
    let error = send(&server, json!({ "url": origin.url("/huge") }))
        .await
        .unwrap_err();
    assert!(
        error.contains("exceeded 262144 bytes") && error.contains("response_bytes"),
        "{error}"
    );
}

#[tokio::test]
async fn requests_per_call_are_counted() {
    let origin = Origin::start().await;
    let dir = PluginDir::with(&[OUTBOUND]);
    let config = format!(
        "{}\n[groups.outbound.http_limits]\nrequests = 3\n",
        loopback_grant(&origin, "")
    );
    let server = serve(&dir, &config, &[]).await;
    send(&server, json!({ "url": origin.url("/json"), "times": 3 }))
        .await
        .unwrap();
    let error = send(&server, json!({ "url": origin.url("/json"), "times": 4 }))
        .await
        .unwrap_err();
    assert!(error.contains("already sent 3 requests"), "{error}");
}

#[tokio::test]
async fn a_bad_grant_fails_the_load_with_its_key() {
    let dir = PluginDir::with(&[OUTBOUND]);
    dir.set_config(
        "[[groups.outbound.http]]\nhost = \"api.example.com\"\n\
         headers = { Authorization = \"Bearer ${env:OUTBOUND_TEST_UNSET_TOKEN}\" }\n",
    );
    let server = Server::start(&dir).await;
    let line = server
        .wait_for_error_line(&["OUTBOUND_TEST_UNSET_TOKEN is not set", "groups.outbound"])
        .await;
    assert!(line.contains("http"), "{line}");
}

#[tokio::test]
async fn the_web_example_reads_pages_and_json_apis() {
    let origin = Origin::start().await;
    let dir = PluginDir::with(&[WEB]);
    dir.set_config(&format!(
        "[[groups.web.http]]\nhost = \"127.0.0.1\"\nschemes = [\"http\"]\nports = [{}]\nmethods = [\"GET\"]\n",
        origin.port
    ));
    let server = Server::start(&dir).await;
    server
        .wait_for_tools(&["web_fetch_page", "web_get_json"])
        .await;

    let page = server
        .call_ok("web_fetch_page", json!({ "url": origin.url("/page") }))
        .await
        .structured_content
        .unwrap();
    assert_eq!(page["title"], "Tide tables");
    assert_eq!(page["text"], "High tide at 06:42 & 19:03");
    assert_eq!(page["truncated"], false);

    let level = server
        .call_ok(
            "web_get_json",
            json!({ "url": origin.url("/json"), "pointer": "/station/levels/2" }),
        )
        .await;
    assert_eq!(text(&level), "140");

    let error = server
        .call_err(
            "web_fetch_page",
            json!({ "url": origin.other_url("/page") }),
        )
        .await;
    assert!(error.contains("[[groups.web.http]]"), "{error}");
}

#[tokio::test]
async fn each_request_is_counted_by_grant_and_status_in_metrics() {
    use rmcp::model::CallToolRequestParams;
    use toolhost_tests::http::{HttpServer, http_client};

    let origin = Origin::start().await;
    let dir = PluginDir::with(&[OUTBOUND]);
    dir.set_config(&loopback_grant(&origin, ""));
    let server = HttpServer::start(&dir, &[]).await;
    server.wait_ready().await;
    let client = server.connect(None).await;
    for url in [origin.url("/json"), origin.other_url("/json")] {
        let arguments = json!({ "url": url }).as_object().unwrap().clone();
        client
            .call_tool(CallToolRequestParams::new("outbound_send").with_arguments(arguments))
            .await
            .unwrap();
    }
    let metrics = http_client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"toolhost_outbound_requests_total{group="outbound",host="127.0.0.1",method="GET",status="200"} 1"#,
        r#"toolhost_outbound_requests_total{group="outbound",host="",method="",status="denied"} 1"#,
        r#"toolhost_outbound_response_bytes_total{group="outbound",host="127.0.0.1"} 51"#,
    ] {
        assert!(metrics.contains(line), "no `{line}` in:\n{metrics}");
    }
}

#[tokio::test]
async fn the_web_example_keeps_pages_in_its_state() {
    let origin = Origin::start().await;
    let dir = PluginDir::with(&[WEB]);
    let data = dir.make_dir("data");
    dir.set_config(&format!(
        "[server]\ndata_dir = \"{}\"\n\n[[groups.web.http]]\nhost = \"127.0.0.1\"\n\
         schemes = [\"http\"]\nports = [{}]\n\n[groups.web.state]\n",
        data.display(),
        origin.port
    ));
    let server = Server::start(&dir).await;
    server.wait_for_tools(&["web_fetch_page"]).await;
    let arguments = json!({ "url": origin.url("/page") });
    let first = server.call_ok("web_fetch_page", arguments.clone()).await;
    assert_eq!(first.structured_content.unwrap()["cached"], false);
    drop(origin);
    // The origin is gone: the page comes from the group's state.
    let second = server.call_ok("web_fetch_page", arguments).await;
    let page = second.structured_content.unwrap();
    assert_eq!(page["cached"], true);
    assert_eq!(page["title"], "Tide tables");
}
