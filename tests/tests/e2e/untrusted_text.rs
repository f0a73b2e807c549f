//! Text a plugin or client controls is bounded where the host works on
//! it: resource URIs are matched against templates in linear time and
//! capped in length, and plugin text shown to clients carries no terminal
//! control characters.

use std::time::{Duration, Instant};

use serde_json::json;
use toolhost_tests::{MATH, MISBEHAVE, PluginDir, Server, bounded, text};

async fn start() -> (PluginDir, Server) {
    let dir = PluginDir::with(&[MISBEHAVE, MATH]);
    let server = Server::start(&dir).await;
    server
        .wait_for_tools(&["misbehave_panic", "math_add"])
        .await;
    (dir, server)
}

async fn read(server: &Server, uri: &str) -> Result<String, String> {
    let params = serde_json::from_value(json!({ "uri": uri })).unwrap();
    bounded("resources/read", server.client().read_resource(params))
        .await
        .map(|result| serde_json::to_string(&result).unwrap())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_backtracking_template_is_matched_in_linear_time() {
    let (_dir, server) = start().await;
    // `t://{+a}/{+b}/{+c}/{+d}/{+e}/{+f}!` against a URI with many slashes
    // and no `!`: exponential for a backtracking matcher.
    let hostile = format!("t://misbehave/{}", "a/".repeat(500));
    let started = Instant::now();
    let error = read(&server, &hostile).await.expect_err("no such resource");
    assert!(error.contains("unknown resource"), "{error}");
    // Loose on purpose: only that matching did not run away.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // Longer than any URI the host matches: refused without matching.
    let huge = format!("t://misbehave/{}!", "a/".repeat(500_000));
    let refused = read(&server, &huge).await.expect_err("too long to match");
    // The error does not send the megabyte back.
    assert!(refused.len() < 4096, "{} bytes", refused.len());
    // A URI that does match is served.
    let served = read(&server, "t://misbehave/1/2/3/4/5/6!").await.unwrap();
    assert!(served.contains("1|2|3|4|5|6"), "{served}");
    let result = server.call_ok("math_add", json!({ "a": 1, "b": 1 })).await;
    assert_eq!(text(&result), "2.0");
}

#[tokio::test]
async fn plugin_text_reaches_clients_without_control_characters() {
    let (_dir, server) = start().await;
    let error = server
        .call_err(
            "misbehave_panic",
            json!({ "message": "boom\u{1b}[2J\u{7}rang" }),
        )
        .await;
    assert!(
        !error.contains('\u{1b}') && !error.contains('\u{7}'),
        "{error:?}"
    );
    assert!(error.contains("boom") && error.contains("rang"), "{error}");
    let result = server.call_ok("math_add", json!({ "a": 1, "b": 1 })).await;
    assert_eq!(text(&result), "2.0");
}
