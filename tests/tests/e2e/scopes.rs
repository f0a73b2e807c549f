//! Per-group scopes guard every kind of request, through the one
//! authorization point of the call service: lists are filtered, and reads,
//! subscriptions, prompts, completions and the server instructions of a
//! group are refused or hidden for a caller without its scopes, over an
//! HTTP session and the stateless flow alike.

#![allow(deprecated)] // resources/subscribe is legacy-only in the newest era.

use rmcp::RoleClient;
use rmcp::service::RunningService;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use toolhost_tests::http::HttpServer;
use toolhost_tests::{CONFORMANCE, MATH, Notes, PluginDir, bounded};

type Client = RunningService<RoleClient, Notes>;

const ALICE: &str = "alice-token-0123456789";
const BOB: &str = "bob-token-0123456789";

fn params<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("valid request parameters")
}

/// `conformance` needs scope `conformance:use`, which only alice has;
/// `math` needs nothing.
async fn start() -> (PluginDir, HttpServer) {
    let dir = PluginDir::with(&[CONFORMANCE, MATH]);
    let tokens = dir.root().join("tokens");
    std::fs::write(
        &tokens,
        format!("{ALICE} alice conformance:use\n{BOB} bob other:scope\n"),
    )
    .unwrap();
    dir.set_config(&format!(
        r#"
        [http.auth]
        tokens_file = "{}"
        [http.auth.scopes]
        conformance = ["conformance:use"]
        "#,
        tokens.display()
    ));
    let server = HttpServer::start(&dir, &[]).await;
    server.wait_ready().await;
    (dir, server)
}

async fn names(client: &Client) -> Vec<String> {
    let mut names = Vec::new();
    let tools = bounded("tools/list", client.list_all_tools())
        .await
        .unwrap();
    names.extend(tools.into_iter().map(|t| t.name.to_string()));
    let resources = bounded("resources/list", client.list_all_resources())
        .await
        .unwrap();
    names.extend(resources.into_iter().map(|r| r.uri.clone()));
    let templates = bounded(
        "resources/templates/list",
        client.list_all_resource_templates(),
    )
    .await
    .unwrap();
    names.extend(templates.into_iter().map(|t| t.uri_template.clone()));
    let prompts = bounded("prompts/list", client.list_all_prompts())
        .await
        .unwrap();
    names.extend(prompts.into_iter().map(|p| p.name.clone()));
    names
}

fn instructions(client: &Client) -> String {
    client
        .peer_info()
        .and_then(|info| info.instructions.clone())
        .unwrap_or_default()
}

/// Every request kind of the `conformance` group, with the error of each
/// (`Ok` when it was served).
async fn requests(client: &Client, session: bool) -> Vec<(&'static str, Result<(), String>)> {
    let mut out = Vec::new();
    let read = bounded(
        "resources/read",
        client.read_resource(params(json!({ "uri": "test://conformance/static-text" }))),
    )
    .await;
    out.push(("resources/read", read.map(drop).map_err(|e| e.to_string())));
    let template = bounded(
        "resources/read (template)",
        client.read_resource(params(
            json!({ "uri": "test://conformance/template/7/data" }),
        )),
    )
    .await;
    out.push((
        "resources/read (template)",
        template.map(drop).map_err(|e| e.to_string()),
    ));
    let prompt = bounded(
        "prompts/get",
        client.get_prompt(params(json!({ "name": "conformance_test_simple_prompt" }))),
    )
    .await;
    out.push(("prompts/get", prompt.map(drop).map_err(|e| e.to_string())));
    let completion = bounded(
        "completion/complete",
        client.complete(params(json!({
            "ref": { "type": "ref/prompt", "name": "conformance_test_prompt_with_arguments" },
            "argument": { "name": "arg1", "value": "t" },
        }))),
    )
    .await;
    out.push((
        "completion/complete",
        completion.map(drop).map_err(|e| e.to_string()),
    ));
    if session {
        let subscribe = bounded(
            "resources/subscribe",
            client.subscribe(params(
                json!({ "uri": "test://conformance/watched-resource" }),
            )),
        )
        .await;
        out.push((
            "resources/subscribe",
            subscribe.map(drop).map_err(|e| e.to_string()),
        ));
    }
    out
}

async fn check(server: &HttpServer, stateless: bool) {
    let connect = |token| async move {
        match stateless {
            true => server.connect_stateless(Some(token)).await,
            false => server.connect(Some(token)).await,
        }
    };
    let alice = connect(ALICE).await;
    let bob = connect(BOB).await;

    let seen = names(&alice).await;
    for name in [
        "conformance_test_simple_text",
        "test://conformance/static-text",
        "test://conformance/template/{id}/data",
        "conformance_test_simple_prompt",
        "math_add",
    ] {
        assert!(
            seen.iter().any(|n| n == name),
            "alice sees {name}: {seen:?}"
        );
    }
    let seen = names(&bob).await;
    assert!(
        seen.iter().all(|n| !n.contains("conformance")),
        "bob sees nothing of conformance: {seen:?}"
    );
    assert!(seen.iter().any(|n| n == "math_add"), "{seen:?}");

    assert!(
        instructions(&alice).contains("conformance"),
        "{}",
        instructions(&alice)
    );
    assert!(instructions(&alice).contains("math"));
    assert!(
        !instructions(&bob).contains("conformance"),
        "{}",
        instructions(&bob)
    );
    assert!(
        instructions(&bob).contains("math"),
        "{}",
        instructions(&bob)
    );

    for (what, result) in requests(&alice, !stateless).await {
        assert!(result.is_ok(), "alice {what}: {result:?}");
    }
    for (what, result) in requests(&bob, !stateless).await {
        let error = result.expect_err(what);
        assert!(
            error.contains("insufficient_scope") && error.contains("conformance:use"),
            "bob {what}: {error}"
        );
    }
    for client in [alice, bob] {
        let _ = client.cancel().await;
    }
}

#[tokio::test]
async fn scopes_guard_every_request_kind_in_a_session() {
    let (_dir, server) = start().await;
    check(&server, false).await;
}

#[tokio::test]
async fn scopes_guard_every_request_kind_when_stateless() {
    let (_dir, server) = start().await;
    check(&server, true).await;
}
