//! The whole MCP surface a group can offer, end to end with a real client,
//! over stdio and over HTTP: content of every kind, resources and
//! templates, prompts, completions, log and progress, sampling and
//! elicitation, subscriptions, namespacing and pagination.
//!
//! The `conformance` example group implements what the official suite
//! expects; served with `namespace = ""` its names are the suite's own.

#![allow(deprecated)] // resources/subscribe is legacy-only in the newest era.

use rmcp::RoleClient;
use rmcp::service::{ClientLifecycleMode, RunningService};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use toolhost_tests::http::HttpServer;
use toolhost_tests::live::Live;
use toolhost_tests::{CONFORMANCE, Notes, PluginDir, SAMPLED_TEXT, TEXT, bounded};

type Client = RunningService<RoleClient, Notes>;

const UNPREFIXED: &str = "[groups.conformance]\nnamespace = \"\"\n";

/// Builds a request's parameters from their JSON form.
fn params<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("valid request parameters")
}

fn json_of(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("serializable")
}

async fn call(client: &Client, name: &str, arguments: Value) -> Value {
    let result = bounded(
        name,
        client.call_tool(params(json!({ "name": name, "arguments": arguments }))),
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    json_of(&result)
}

async fn read(client: &Client, uri: &str) -> Result<Value, String> {
    bounded(uri, client.read_resource(params(json!({ "uri": uri }))))
        .await
        .map(|r| json_of(&r))
        .map_err(|e| e.to_string())
}

async fn prompt(client: &Client, name: &str, arguments: Value) -> Result<Value, String> {
    bounded(
        name,
        client.get_prompt(params(json!({ "name": name, "arguments": arguments }))),
    )
    .await
    .map(|r| json_of(&r))
    .map_err(|e| e.to_string())
}

/// Everything a client can do with the conformance group, served
/// un-prefixed.
async fn exercise(client: &Client) {
    // Content of every kind.
    let text = call(client, "test_simple_text", json!({})).await;
    assert_eq!(text["content"][0]["type"], "text", "{text}");
    let image = call(client, "test_image_content", json!({})).await;
    assert_eq!(image["content"][0]["type"], "image", "{image}");
    assert_eq!(image["content"][0]["mimeType"], "image/png");
    let audio = call(client, "test_audio_content", json!({})).await;
    assert_eq!(audio["content"][0]["mimeType"], "audio/wav", "{audio}");
    let embedded = call(client, "test_embedded_resource", json!({})).await;
    assert_eq!(embedded["content"][0]["type"], "resource", "{embedded}");
    assert_eq!(
        embedded["content"][0]["resource"]["uri"],
        "test://embedded-resource"
    );
    let mixed = call(client, "test_multiple_content_types", json!({})).await;
    let kinds: Vec<&str> = mixed["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["text", "image", "resource"], "{mixed}");
    let error = call(client, "test_error_handling", json!({})).await;
    assert_eq!(error["isError"], true, "{error}");

    // Log lines at the level the client asked for.
    bounded(
        "logging/setLevel",
        client.set_level(params(json!({ "level": "debug" }))),
    )
    .await
    .expect("logging/setLevel");
    let logged = call(client, "test_tool_with_logging", json!({})).await;
    assert_ne!(logged["isError"], true, "{logged}");
    let logs = client.service().log_texts();
    assert!(
        logs.iter()
            .filter(|l| l.starts_with("Tool execution") || l.starts_with("Tool processing"))
            .count()
            >= 3,
        "{logs:?}"
    );

    // Sampling: the plugin's request reaches the client's model and the
    // answer comes back to the plugin.
    let sampled = call(client, "test_sampling", json!({ "prompt": "Say hi" })).await;
    assert_ne!(sampled["isError"], true, "{sampled}");
    assert!(sampled.to_string().contains(SAMPLED_TEXT), "{sampled}");
    let requests = client.service().sampled.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert!(json_of(&requests[0]).to_string().contains("Say hi"));

    // Elicitation: the form reaches the user, the answer the plugin.
    let elicited = call(
        client,
        "test_elicitation",
        json!({ "message": "Who are you?" }),
    )
    .await;
    assert_ne!(elicited["isError"], true, "{elicited}");
    assert!(elicited.to_string().contains("ada"), "{elicited}");
    assert_eq!(*client.service().elicited.lock().unwrap(), ["Who are you?"]);

    // Resources: static text and binary, and a template.
    let listed = json_of(
        &bounded("resources/list", client.list_resources(None))
            .await
            .unwrap(),
    );
    let uris: Vec<&str> = listed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert!(uris.contains(&"test://static-text"), "{listed}");
    assert!(uris.contains(&"test://watched-resource"), "{listed}");
    let templates = json_of(
        &bounded(
            "resources/templates/list",
            client.list_resource_templates(None),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        templates["resourceTemplates"][0]["uriTemplate"], "test://template/{id}/data",
        "{templates}"
    );
    let static_text = read(client, "test://static-text").await.unwrap();
    assert_eq!(
        static_text["contents"][0]["text"],
        "This is the content of the static text resource."
    );
    let binary = read(client, "test://static-binary").await.unwrap();
    assert!(binary["contents"][0]["blob"].is_string(), "{binary}");
    assert!(binary["contents"][0].get("text").is_none(), "{binary}");
    let from_template = read(client, "test://template/123/data").await.unwrap();
    assert_eq!(
        from_template["contents"][0]["uri"],
        "test://template/123/data"
    );
    assert!(
        from_template["contents"][0]["text"]
            .as_str()
            .unwrap()
            .contains("123")
    );
    let missing = read(client, "test://nothing-here").await.unwrap_err();
    assert!(missing.contains("resources/list"), "{missing}");

    // Subscribers hear of updates a group signals; others do not.
    call(client, "test_update_watched_resource", json!({})).await;
    bounded(
        "resources/subscribe",
        client.subscribe(params(json!({ "uri": "test://watched-resource" }))),
    )
    .await
    .expect("resources/subscribe");
    call(client, "test_update_watched_resource", json!({})).await;
    let updated = "resources/updated test://watched-resource".to_owned();
    bounded("resources/updated", async {
        while !client.service().notices().contains(&updated) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(
        client
            .service()
            .notices()
            .iter()
            .filter(|n| **n == updated)
            .count(),
        1,
        "only the update after subscribing"
    );
    bounded(
        "resources/unsubscribe",
        client.unsubscribe(params(json!({ "uri": "test://watched-resource" }))),
    )
    .await
    .expect("resources/unsubscribe");

    // Prompts: arguments, required ones checked before the group runs,
    // images and embedded resources in messages.
    let prompts = json_of(
        &bounded("prompts/list", client.list_prompts(None))
            .await
            .unwrap(),
    );
    let with_args = prompts["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "test_prompt_with_arguments")
        .unwrap_or_else(|| panic!("{prompts}"));
    assert_eq!(with_args["arguments"][0]["name"], "arg1");
    assert_eq!(with_args["arguments"][0]["required"], true);
    let rendered = prompt(
        client,
        "test_prompt_with_arguments",
        json!({ "arg1": "testValue1", "arg2": "testValue2" }),
    )
    .await
    .unwrap();
    let rendered_text = rendered["messages"].to_string();
    assert!(
        rendered_text.contains("testValue1") && rendered_text.contains("testValue2"),
        "{rendered}"
    );
    let incomplete = prompt(
        client,
        "test_prompt_with_arguments",
        json!({ "arg1": "only one" }),
    )
    .await
    .unwrap_err();
    assert!(incomplete.contains("arg2"), "{incomplete}");
    let with_image = prompt(client, "test_prompt_with_image", json!({}))
        .await
        .unwrap();
    assert_eq!(with_image["messages"][0]["content"]["type"], "image");
    let with_resource = prompt(
        client,
        "test_prompt_with_embedded_resource",
        json!({ "resourceUri": "test://example-resource" }),
    )
    .await
    .unwrap();
    assert_eq!(
        with_resource["messages"][0]["content"]["resource"]["uri"],
        "test://example-resource"
    );
    let unknown = prompt(client, "no_such_prompt", json!({}))
        .await
        .unwrap_err();
    assert!(unknown.contains("prompts/list"), "{unknown}");

    // Completions, answered by the group.
    let completion = json_of(
        &bounded(
            "completion/complete",
            client.complete(params(json!({
                "ref": { "type": "ref/prompt", "name": "test_prompt_with_arguments" },
                "argument": { "name": "arg1", "value": "test" },
            }))),
        )
        .await
        .expect("completion/complete"),
    );
    assert!(
        completion["completion"]["values"].is_array(),
        "{completion}"
    );
}

#[tokio::test]
async fn every_capability_over_stdio() {
    let dir = PluginDir::with(&[CONFORMANCE]);
    dir.set_config(UNPREFIXED);
    let config = dir.config().unwrap();
    let server = Live::serve(&dir, &["--config", config.to_str().unwrap()]).await;
    exercise(server.client()).await;
    assert_eq!(server.protocol_violations(), Vec::<String>::new());
    server.stop().await;
}

#[tokio::test]
async fn every_capability_over_http() {
    let dir = PluginDir::with(&[CONFORMANCE]);
    dir.set_config(UNPREFIXED);
    let server = HttpServer::start(&dir, &[]).await;
    let client = server.connect(None).await;
    exercise(&client).await;
    let _ = bounded("close", client.cancel()).await;
}

#[tokio::test]
async fn plugins_are_told_when_the_client_cannot_sample_or_elicit() {
    let dir = PluginDir::with(&[CONFORMANCE]);
    dir.set_config(UNPREFIXED);
    let server = HttpServer::start(&dir, &[]).await;
    let client = server
        .connect_as(Notes::incapable(), None, ClientLifecycleMode::Initialize)
        .await
        .unwrap();
    let sampled = call(&client, "test_sampling", json!({ "prompt": "hi" })).await;
    assert!(
        sampled.to_string().contains("does not offer sampling"),
        "{sampled}"
    );
    let elicited = call(&client, "test_elicitation", json!({ "message": "hi" })).await;
    assert!(
        elicited.to_string().contains("does not offer elicitation"),
        "{elicited}"
    );
    // The host keeps serving.
    let text = call(&client, "test_simple_text", json!({})).await;
    assert_ne!(text["isError"], true, "{text}");
    let _ = bounded("close", client.cancel()).await;
}

#[tokio::test]
async fn names_and_uris_are_namespaced_per_group() {
    // Without the override, the group's namespace is its name.
    let dir = PluginDir::with(&[CONFORMANCE]);
    let server = Live::serve(&dir, &[]).await;
    let client = server.client();
    let text = call(client, "conformance_test_simple_text", json!({})).await;
    assert_ne!(text["isError"], true, "{text}");
    let read_back = read(client, "test://conformance/static-text")
        .await
        .unwrap();
    assert_eq!(
        read_back["contents"][0]["uri"],
        "test://conformance/static-text"
    );
    assert!(read(client, "test://static-text").await.is_err());
    let templated = read(client, "test://conformance/template/7/data")
        .await
        .unwrap();
    assert_eq!(
        templated["contents"][0]["uri"],
        "test://conformance/template/7/data"
    );
    let rendered = prompt(client, "conformance_test_simple_prompt", json!({}))
        .await
        .unwrap();
    assert!(rendered["messages"].is_array(), "{rendered}");
    server.stop().await;
}

#[tokio::test]
async fn clients_hear_when_resources_and_prompts_change() {
    let dir = PluginDir::with(&[CONFORMANCE]);
    let server = Live::serve(&dir, &[]).await;
    let client = server.client();
    let seen = server.changes();
    // The text group brings a prompt and no resources.
    dir.add(TEXT);
    server.wait_for_change(seen).await;
    let prompts = "prompts/list_changed".to_owned();
    bounded("prompts/list_changed", async {
        while !client.service().notices().contains(&prompts) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    let listed = bounded("prompts/list", client.list_prompts(None))
        .await
        .unwrap();
    assert!(
        listed.prompts.iter().any(|p| p.name == "text_rewrite"),
        "{listed:?}"
    );
    assert!(
        !client
            .service()
            .notices()
            .contains(&"resources/list_changed".to_owned()),
        "the resources did not change: {:?}",
        client.service().notices()
    );
    server.stop().await;
}

#[tokio::test]
async fn every_list_pages_with_opaque_cursors() {
    let dir = PluginDir::with(&[CONFORMANCE, TEXT]);
    dir.set_config("[server]\npage_size = 2\n");
    let config = dir.config().unwrap();
    let server = Live::serve(&dir, &["--config", config.to_str().unwrap()]).await;
    let client = server.client();
    server
        .wait_for_tools("both groups", |tools| tools.len() > 4)
        .await;
    let first = bounded("tools/list", client.list_tools(None))
        .await
        .unwrap();
    assert_eq!(first.tools.len(), 2);
    let cursor = first.next_cursor.clone().expect("a next page");
    let second = bounded(
        "tools/list page 2",
        client.list_tools(Some(params(json!({ "cursor": cursor })))),
    )
    .await
    .unwrap();
    assert_eq!(second.tools.len(), 2);
    assert!(second.tools.iter().all(|t| !first.tools.contains(t)));
    // Following every cursor lists every tool exactly once.
    let all = bounded("all tools", client.list_all_tools()).await.unwrap();
    let mut names: Vec<_> = all.iter().map(|t| t.name.to_string()).collect();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count);
    assert!(count > 4);
    let prompts = bounded("prompts/list", client.list_prompts(None))
        .await
        .unwrap();
    assert_eq!(prompts.prompts.len(), 2);
    assert!(prompts.next_cursor.is_some());
    let bad = bounded(
        "bad cursor",
        client.list_tools(Some(params(json!({ "cursor": "%%%" })))),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(bad.contains("cursor"), "{bad}");
    server.stop().await;
}

#[tokio::test]
async fn stateless_clients_hear_resource_updates_on_their_listen_stream() {
    let dir = PluginDir::with(&[CONFORMANCE]);
    dir.set_config(UNPREFIXED);
    let server = HttpServer::start(&dir, &[]).await;
    let client = server.connect_stateless(None).await;
    let mut subscription = bounded(
        "subscriptions/listen",
        client.listen(
            rmcp::model::SubscriptionFilter::builder()
                .resource_subscription("test://watched-resource")
                .build(),
        ),
    )
    .await
    .expect("subscriptions/listen");
    assert_eq!(
        subscription.acknowledged().resource_subscriptions,
        Some(vec!["test://watched-resource".to_owned()])
    );
    call(&client, "test_update_watched_resource", json!({})).await;
    let notification = bounded("notifications/resources/updated", subscription.next())
        .await
        .expect("subscription stream");
    match notification {
        Some(rmcp::model::ServerNotification::ResourceUpdatedNotification(updated)) => {
            assert_eq!(updated.params.uri, "test://watched-resource");
        }
        other => panic!("expected resources/updated, got {other:?}"),
    }
    bounded("cancel listen", subscription.cancel())
        .await
        .expect("cancel");
    let _ = bounded("close", client.cancel()).await;
}
