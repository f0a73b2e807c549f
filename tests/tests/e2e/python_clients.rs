//! Third-party clients in their default (2026-07-28) mode: the official
//! MCP Python SDK and FastMCP's client (pinned in
//! `tests/clients/python/requirements.txt`), over HTTP and stdio. A group's
//! questions (sampling, a form, a URL, roots, several at once) reach them as
//! `input_required` results, which they answer by retrying: what the
//! Python SDK and FastMCP could not do with toolhost before.

use std::process::Stdio;

use serde_json::Value;
use tokio::process::Command;
use toolhost_tests::http::HttpServer;
use toolhost_tests::python::{ask_script, python};
use toolhost_tests::{CONFORMANCE, PluginDir, toolhost_bin};

fn conformance() -> PluginDir {
    let dir = PluginDir::with(&[CONFORMANCE]);
    dir.set_config("[groups.conformance]\nnamespace = \"\"\n");
    dir
}

/// Runs `ask.py` with `args`; its report, one object per call.
async fn ask(args: &[&str]) -> Vec<Value> {
    let python = tokio::task::spawn_blocking(python).await.unwrap();
    let output = Command::new(python)
        .arg(ask_script())
        .args(args)
        .stdin(Stdio::null())
        .output();
    // Python and its imports start slowly on a busy machine: a longer
    // bound than one request's.
    let output = tokio::time::timeout(std::time::Duration::from_secs(300), output)
        .await
        .expect("the Python clients finished within 5 minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "ask.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Each client made each call in 2026-07-28 mode and got what the group
/// makes of the fixed answers.
fn check(report: &[Value]) {
    let expected = [
        ("test_sampling", "LLM response: Hello from Python"),
        ("test_input_required_result_elicitation", "Hello, Ada!"),
        ("test_elicitation_url", "action=accept"),
        (
            "test_input_required_result_multiple_inputs",
            "Hello from Python Ada (1 roots)",
        ),
    ];
    for client in ["mcp", "fastmcp"] {
        let calls: Vec<&Value> = report.iter().filter(|r| r["client"] == client).collect();
        assert_eq!(calls.len(), expected.len(), "{client}: {report:?}");
        for (call, (tool, text)) in calls.iter().zip(expected) {
            assert_eq!(call["protocol"], "2026-07-28", "{call}");
            assert_eq!(call["tool"], tool, "{call}");
            assert_eq!(call["text"], text, "{call}");
            assert_eq!(call["isError"], false, "{call}");
        }
    }
}

#[tokio::test]
async fn the_python_sdk_and_fastmcp_answer_questions_over_http() {
    let dir = conformance();
    let server = HttpServer::start(&dir, &[]).await;
    check(&ask(&[&server.url("/mcp")]).await);
}

#[tokio::test]
async fn the_python_sdk_and_fastmcp_answer_questions_over_stdio() {
    let dir = conformance();
    let plugins = dir.plugins();
    let config = dir.config().unwrap();
    let cache = dir.make_dir("cache");
    let args = [
        "stdio",
        toolhost_bin().to_str().unwrap(),
        "serve",
        plugins.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--no-watch",
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    check(&ask(&args).await);
}
