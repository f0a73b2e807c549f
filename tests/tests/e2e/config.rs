//! `toolhost.toml` as an operator uses it: naming (separator, namespace),
//! which tools are published, and refusal of a file with a typo.

use serde_json::json;
use toolhost_tests::{MISBEHAVE, PluginDir, Server, run_toolhost, text};

async fn published(config: &str, expected: &str) -> Vec<String> {
    let dir = PluginDir::with(&[MISBEHAVE]);
    dir.set_config(config);
    let server = Server::start(&dir).await;
    let tools = server.wait_for_tools(&[expected]).await;
    let result = server.call_ok(expected, json!({ "text": "hi" })).await;
    assert_eq!(text(&result), "hi");
    tools
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect()
}

#[tokio::test]
async fn separator_joins_group_and_operation() {
    let names = published("[server]\nseparator = \"-\"\n", "misbehave-echo").await;

    assert!(
        names.iter().all(|name| name.starts_with("misbehave-")),
        "{names:?}"
    );
}

#[tokio::test]
async fn namespace_replaces_the_group_prefix() {
    let names = published("[groups.misbehave]\nnamespace = \"m\"\n", "m_echo").await;

    assert!(names.iter().all(|name| name.starts_with("m_")), "{names:?}");
}

#[tokio::test]
async fn an_empty_namespace_publishes_bare_operation_names() {
    let names = published("[groups.misbehave]\nnamespace = \"\"\n", "echo").await;

    assert!(names.contains(&"spin".to_string()), "{names:?}");
}

#[tokio::test]
async fn tool_filters_publish_only_what_is_enabled_and_not_disabled() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    dir.set_config(
        "[groups.misbehave]\ntools = { enable = [\"e*\", \"counter\", \"spin\"], disable = [\"spin\"] }\n",
    );
    let server = Server::start(&dir).await;

    let tools = server
        .wait_for_tools(&["misbehave_echo", "misbehave_counter"])
        .await;
    let mut names: Vec<_> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort();
    assert_eq!(names, ["misbehave_counter", "misbehave_echo"]);

    // A filtered-out tool does not exist for clients.
    assert!(server.try_call("misbehave_spin", json!({})).await.is_err());
}

#[tokio::test]
async fn an_unknown_key_is_refused_by_name() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    dir.set_config("[groups.misbehave]\nfuell = 10\n");
    let config = dir.config().unwrap();

    let output = run_toolhost(&[
        "serve",
        dir.plugins().to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ])
    .await;

    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("fuell"), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}
