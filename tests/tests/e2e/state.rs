//! Key-value state: only a group granted `[groups.NAME.state]` has it; what
//! it keeps survives calls, reloads and restarts, stays its own, expires
//! when asked, and is bounded by quotas and a per-call operation budget.

use std::time::Duration;

use serde_json::json;
use toolhost_tests::{NEIGHBOR, PluginDir, STATEFUL, Server, live, text};

/// `[server] data_dir` under the test's root, and `sections` after it.
fn config(dir: &PluginDir, sections: &str) -> String {
    format!(
        "[server]\ndata_dir = \"{}\"\n{sections}",
        dir.root().join("data").display()
    )
}

/// A server on a directory holding the `stateful` fixture, with `sections`
/// of configuration after the data directory.
async fn serve(sections: &str) -> (PluginDir, Server) {
    let dir = PluginDir::with(&[STATEFUL]);
    dir.set_config(&config(&dir, sections));
    let server = start(&dir).await;
    (dir, server)
}

async fn start(dir: &PluginDir) -> Server {
    let server = Server::start(dir).await;
    server.wait_for_tools(&["stateful_count"]).await;
    server
}

async fn call(server: &Server, tool: &str, arguments: serde_json::Value) -> String {
    text(&server.call_ok(tool, arguments).await)
}

/// The fixture with a custom section appended: another file to the
/// watcher (new contents), the same group.
fn stateful_rebuilt() -> Vec<u8> {
    let mut bytes = std::fs::read(STATEFUL).expect("read the stateful fixture");
    let name = b"rebuilt";
    bytes.extend_from_slice(&[0, (name.len() + 1) as u8, name.len() as u8]);
    bytes.extend_from_slice(name);
    bytes
}

#[tokio::test]
async fn a_group_without_the_grant_is_told_how_to_get_it() {
    let (_dir, server) = serve("").await;
    for (tool, arguments) in [
        ("stateful_count", json!({ "key": "n" })),
        ("stateful_get", json!({ "key": "n" })),
        ("stateful_list", json!({ "prefix": "" })),
    ] {
        let error = server.call_err(tool, arguments).await;
        assert!(
            error.contains(
                "state is not granted to group `stateful`; \
                 add `[groups.stateful.state]` to toolhost.toml"
            ),
            "{tool}: {error}"
        );
    }
}

#[tokio::test]
async fn values_counters_and_key_lists_round_trip() {
    let (_dir, server) = serve("[groups.stateful.state]\n").await;
    let put = |key: &str, value| json!({ "key": key, "value": value });
    assert_eq!(
        call(&server, "stateful_put", put("user:ada", json!({"n": 1}))).await,
        "ok"
    );
    call(&server, "stateful_put", put("user:bob", json!([1, 2]))).await;
    call(&server, "stateful_put", put("team", json!("x"))).await;
    assert_eq!(
        call(&server, "stateful_get", json!({ "key": "user:ada" })).await,
        r#"{"n":1}"#
    );
    assert_eq!(
        call(&server, "stateful_list", json!({ "prefix": "user:" })).await,
        r#"["user:ada","user:bob"]"#
    );
    assert_eq!(
        call(&server, "stateful_delete", json!({ "key": "user:bob" })).await,
        "true"
    );
    assert_eq!(
        call(&server, "stateful_delete", json!({ "key": "user:bob" })).await,
        "false"
    );
    assert_eq!(
        call(&server, "stateful_get", json!({ "key": "user:bob" })).await,
        "absent"
    );

    for expected in ["1", "2", "3"] {
        assert_eq!(
            call(&server, "stateful_count", json!({ "key": "n" })).await,
            expected
        );
    }
    assert_eq!(
        call(&server, "stateful_count", json!({ "key": "n", "by": -10 })).await,
        "-7"
    );
    // A counter is a JSON number to `get`.
    assert_eq!(
        call(&server, "stateful_get", json!({ "key": "n" })).await,
        "-7"
    );
    let error = server
        .call_err("stateful_count", json!({ "key": "team" }))
        .await;
    assert!(
        error.contains("cannot increment state key `team`"),
        "{error}"
    );
    let error = server.call_err("stateful_get", json!({ "key": "" })).await;
    assert!(error.contains("keys must not be empty"), "{error}");
}

#[tokio::test]
async fn state_survives_a_reload_and_a_restart() {
    let (dir, server) = serve("[groups.stateful.state]\n").await;
    for _ in 0..3 {
        call(&server, "stateful_count", json!({ "key": "runs" })).await;
    }

    live::publish(&dir, "stateful.wasm", &stateful_rebuilt());
    server
        .wait_for_log_line(|line| line.contains("reloaded") && line.contains("stateful.wasm"))
        .await;
    assert_eq!(
        call(&server, "stateful_count", json!({ "key": "runs" })).await,
        "4"
    );

    assert!(server.stop().await.success());
    let server = start(&dir).await;
    assert_eq!(
        call(&server, "stateful_count", json!({ "key": "runs" })).await,
        "5"
    );
    assert!(dir.root().join("data/state.redb").is_file());
}

#[tokio::test]
async fn two_groups_never_see_each_others_keys() {
    let dir = PluginDir::with(&[STATEFUL, NEIGHBOR]);
    dir.set_config(&config(
        &dir,
        "[groups.stateful.state]\n[groups.neighbor.state]\n",
    ));
    let server = start(&dir).await;
    server.wait_for_tools(&["neighbor_count"]).await;

    let secret = json!({ "key": "secret", "value": "stateful's" });
    call(&server, "stateful_put", secret).await;
    call(&server, "stateful_count", json!({ "key": "n", "by": 10 })).await;
    assert_eq!(
        call(&server, "neighbor_get", json!({ "key": "secret" })).await,
        "absent"
    );
    assert_eq!(call(&server, "neighbor_list", json!({})).await, "[]");
    assert_eq!(
        call(&server, "neighbor_count", json!({ "key": "n" })).await,
        "1"
    );
    assert_eq!(
        call(&server, "neighbor_delete", json!({ "key": "secret" })).await,
        "false"
    );
    assert_eq!(
        call(&server, "stateful_get", json!({ "key": "secret" })).await,
        r#""stateful's""#
    );
    assert_eq!(
        call(&server, "stateful_count", json!({ "key": "n" })).await,
        "11"
    );
}

#[tokio::test]
async fn quotas_refuse_with_the_limit_and_its_config_key() {
    let (_dir, server) =
        serve("[groups.stateful.state]\nmax_keys = 3\nmax_bytes = 100\nmax_value = 50\n").await;
    let fill = |prefix: &str, count: u32, size: u32| json!({ "prefix": prefix, "count": count, "size": size });
    let error = server.call_err("stateful_fill", fill("k", 4, 1)).await;
    assert!(
        error.contains(
            "state quota exceeded: group `stateful` would hold 4 keys \
             (limit `max_keys` in [groups.stateful.state])"
        ),
        "{error}"
    );
    // The three keys before the refusal were kept.
    assert_eq!(
        call(&server, "stateful_list", json!({ "prefix": "k" })).await,
        r#"["k0","k1","k2"]"#
    );
    call(&server, "stateful_delete", json!({ "key": "k1" })).await;
    call(&server, "stateful_delete", json!({ "key": "k2" })).await;

    // k0 (3 bytes), b0 (52), then b1 would make 107.
    let error = server.call_err("stateful_fill", fill("b", 2, 50)).await;
    assert!(
        error.contains("would hold 107 bytes of keys and values (limit `max_bytes`"),
        "{error}"
    );
    let error = server.call_err("stateful_fill", fill("v", 1, 51)).await;
    assert!(
        error.contains("would hold a value of 51 bytes (limit `max_value`"),
        "{error}"
    );
}

#[tokio::test]
async fn an_expired_key_is_gone() {
    let (_dir, server) = serve("[groups.stateful.state]\n").await;
    let put = json!({ "key": "token", "value": "abc", "ttl_ms": 400 });
    call(&server, "stateful_put", put).await;
    call(
        &server,
        "stateful_put",
        json!({ "key": "tolerant", "value": 1 }),
    )
    .await;
    assert_eq!(
        call(&server, "stateful_get", json!({ "key": "token" })).await,
        r#""abc""#
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        call(&server, "stateful_list", json!({ "prefix": "to" })).await,
        r#"["tolerant"]"#
    );
    assert_eq!(
        call(&server, "stateful_get", json!({ "key": "token" })).await,
        "absent"
    );
}

#[tokio::test]
async fn one_call_may_make_a_thousand_operations_and_no_more() {
    let (_dir, server) = serve("[groups.stateful.state]\n").await;
    assert_eq!(
        call(&server, "stateful_flood", json!({ "ops": 1000 })).await,
        "1000"
    );
    let error = server
        .call_err("stateful_flood", json!({ "ops": 1001 }))
        .await;
    assert!(
        error.contains("this call already made 1000 state operations"),
        "{error}"
    );
    // The budget is per call.
    assert_eq!(
        call(&server, "stateful_flood", json!({ "ops": 10 })).await,
        "10"
    );
}
