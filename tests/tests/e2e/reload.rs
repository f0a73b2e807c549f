//! Hot reload: the plugin directory changes while a client is connected.
//! Every change reaches the client as `notifications/tools/list_changed`,
//! a call never fails because of a reload, and a bad new version never
//! replaces a good one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use serde_json::json;
use toolhost_tests::live::{Live, publish, versioned, versioned_as};
use toolhost_tests::{PluginDir, RAW};

const TOOL: &str = "versioned_version";

/// A directory serving `versioned` tagged `v1`, with the client ready.
async fn serving_v1() -> (PluginDir, Live) {
    let dir = PluginDir::new();
    dir.write("versioned.wasm", versioned("v1"));
    let live = Live::serve(&dir, &[]).await;
    assert!(live.ready().await.iter().any(|tool| tool.name == TOOL));
    assert_eq!(live.version(TOOL).await, "v1");
    (dir, live)
}

fn description(tool: &rmcp::model::Tool) -> String {
    tool.description.as_deref().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_new_file_adds_its_group() {
    let dir = PluginDir::with(&[RAW]);
    let live = Live::serve(&dir, &[]).await;
    assert!(live.ready().await.iter().all(|tool| tool.name != TOOL));

    let seen = live.changes();
    publish(&dir, "versioned.wasm", &versioned("v1"));
    live.wait_for_change(seen).await;

    assert!(live.tool(TOOL).await.is_some());
    assert_eq!(live.version(TOOL).await, "v1");
    assert!(
        live.tool("raw_greet").await.is_some(),
        "the other group still serves"
    );
}

#[tokio::test]
async fn a_replaced_file_serves_the_new_version_and_its_new_description() {
    let (dir, live) = serving_v1().await;

    let seen = live.changes();
    publish(&dir, "versioned.wasm", &versioned("v2"));
    live.wait_for_change(seen).await;

    let tool = live.tool(TOOL).await.expect("still published");
    assert!(description(&tool).contains("(v2)"), "{tool:?}");
    assert_eq!(live.version(TOOL).await, "v2");
    live.wait_for_stderr(&["reloaded", "versioned.wasm"]).await;
}

#[tokio::test]
async fn a_removed_file_disappears() {
    let (dir, live) = serving_v1().await;

    let seen = live.changes();
    std::fs::remove_file(dir.plugins().join("versioned.wasm")).unwrap();
    live.wait_for_change(seen).await;

    assert!(live.tool(TOOL).await.is_none());
    let error = live.call(TOOL, json!({})).await.unwrap_err();
    assert!(error.contains("JSON-RPC"), "{error}");
}

#[tokio::test]
async fn the_same_contents_change_nothing() {
    let (dir, live) = serving_v1().await;

    // Rewritten in place, renamed over, and touched: same bytes every time.
    dir.write("versioned.wasm", versioned("v1"));
    publish(&dir, "versioned.wasm", &versioned("v1"));
    let file = std::fs::File::options()
        .append(true)
        .open(dir.plugins().join("versioned.wasm"))
        .unwrap();
    file.set_modified(std::time::SystemTime::now()).unwrap();
    drop(file);
    // Reading the file (as the host itself does) is not a change either.
    let _ = std::fs::read(dir.plugins().join("versioned.wasm")).unwrap();

    live.assert_no_change(Duration::from_millis(600)).await;
    assert!(!live.stderr().contains("reloaded"), "{}", live.stderr());
}

#[tokio::test]
async fn an_in_place_write_is_loaded_once_complete() {
    let (dir, live) = serving_v1().await;
    let path = dir.plugins().join("versioned.wasm");
    let v2 = versioned("v2");

    // Written in place in small pieces, each a little after the last, as a
    // copy over a slow disk would.
    let seen = live.changes();
    {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&path).unwrap();
        for chunk in v2.chunks(v2.len() / 8 + 1) {
            file.write_all(chunk).unwrap();
            file.flush().unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    live.wait_for_change(seen).await;
    assert_eq!(live.version(TOOL).await, "v2");
    assert!(
        !live.stderr().contains("ERROR"),
        "a partial file was loaded:\n{}",
        live.stderr()
    );
}

#[tokio::test]
async fn a_writer_that_pauses_mid_file_never_gets_half_a_file_served() {
    let (dir, live) = serving_v1().await;
    let path = dir.plugins().join("versioned.wasm");
    let v2 = versioned("v2");

    let seen = live.changes();
    {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(&v2[..v2.len() / 2]).unwrap();
        file.flush().unwrap();
        // Long enough for the host to look at the half-written file.
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(
            live.version(TOOL).await,
            "v1",
            "the good version keeps serving"
        );
        file.write_all(&v2[v2.len() / 2..]).unwrap();
    }
    live.wait_for_change(seen).await;
    assert_eq!(live.version(TOOL).await, "v2");
}

#[tokio::test]
async fn cargo_style_remove_then_hard_link_replaces_without_a_gap() {
    let (dir, live) = serving_v1().await;
    // What `cargo build` does to target/…/x.wasm: remove it, then hard-link
    // the new build (from deps/) in its place.
    let deps = dir.make_dir("deps");
    std::fs::write(deps.join("versioned.wasm"), versioned("v2")).unwrap();

    let seen = live.changes();
    let path = dir.plugins().join("versioned.wasm");
    std::fs::remove_file(&path).unwrap();
    std::fs::hard_link(deps.join("versioned.wasm"), &path).unwrap();
    live.wait_for_change(seen).await;

    assert_eq!(live.version(TOOL).await, "v2");
    assert!(
        !live.stderr().contains("removed"),
        "the group went away:\n{}",
        live.stderr()
    );
}

#[tokio::test]
async fn a_broken_version_keeps_the_old_one_serving_until_fixed() {
    let (dir, live) = serving_v1().await;
    let v2 = versioned("v2");

    // Does not compile (truncated).
    publish(&dir, "versioned.wasm", &v2[..v2.len() / 2]);
    live.wait_for_stderr(&["ERROR", "versioned.wasm", "previous version keeps serving"])
        .await;
    let notice = live.wait_for_log("versioned.wasm").await;
    assert!(notice.contains("Error"), "{notice}");
    assert_eq!(live.version(TOOL).await, "v1");

    // Bad metadata: a group name the API rules refuse.
    publish(&dir, "versioned.wasm", &versioned_as("bad.name", "v2"));
    live.wait_for_stderr(&["ERROR", "versioned.wasm", "bad.name"])
        .await;
    assert_eq!(live.version(TOOL).await, "v1");

    // Fixed.
    let seen = live.changes();
    publish(&dir, "versioned.wasm", &v2);
    live.wait_for_change(seen).await;
    assert_eq!(live.version(TOOL).await, "v2");
}

#[tokio::test]
async fn a_version_whose_name_collides_is_refused_and_the_old_one_serves() {
    let dir = PluginDir::with(&[RAW]);
    dir.write("versioned.wasm", versioned("v1"));
    let live = Live::serve(&dir, &[]).await;
    assert!(
        live.ready()
            .await
            .iter()
            .any(|tool| tool.name == "raw_greet")
    );

    // raw.wasm becomes a second `versioned` group.
    publish(&dir, "raw.wasm", &versioned("v2"));
    live.wait_for_stderr(&["ERROR", "raw.wasm", "versioned.wasm"])
        .await;
    assert_eq!(
        live.call("raw_greet", json!({ "name": "Ada" }))
            .await
            .unwrap(),
        "hello, Ada"
    );
    assert_eq!(live.version(TOOL).await, "v1");

    // Once the group it collided with is gone, it loads.
    let seen = live.changes();
    std::fs::remove_file(dir.plugins().join("versioned.wasm")).unwrap();
    live.wait_for_change(seen).await;
    live.wait_for_tools("raw.wasm serving versioned v2", |tools| {
        tools.iter().any(|t| t.name == TOOL)
    })
    .await;
    assert_eq!(live.version(TOOL).await, "v2");
    assert!(live.tool("raw_greet").await.is_none());
}

#[tokio::test]
async fn a_slow_call_finishes_on_the_version_it_started_with() {
    let (dir, live) = serving_v1().await;
    let live = Arc::new(live);

    let slow = {
        let live = live.clone();
        tokio::spawn(async move { live.call(TOOL, json!({ "sleep_ms": 1500 })).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = live.changes();
    publish(&dir, "versioned.wasm", &versioned("v2"));
    live.wait_for_change(seen).await;
    assert_eq!(
        live.version(TOOL).await,
        "v2",
        "the next call gets the new version"
    );

    assert_eq!(
        slow.await.unwrap().unwrap(),
        "v1",
        "the call in flight kept its version"
    );
}

#[tokio::test]
async fn fifty_replacements_under_continuous_calls_fail_no_call() {
    let (dir, live) = serving_v1().await;
    let live = Arc::new(live);
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU32::new(0));

    let callers: Vec<_> = (0..2)
        .map(|_| {
            let (live, stop, calls) = (live.clone(), stop.clone(), calls.clone());
            tokio::spawn(async move {
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match live.call(TOOL, json!({})).await {
                        Ok(tag) if tag.starts_with('v') => {}
                        other => failures.push(format!("{other:?}")),
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                }
                failures
            })
        })
        .collect();

    for n in 2..=51 {
        let tag = format!("v{n}");
        publish(&dir, "versioned.wasm", &versioned(&tag));
        // Each version is served before the next one is published, so that
        // every one of them is a real swap.
        let wait = async {
            while live.version(TOOL).await != tag {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        toolhost_tests::bounded(&format!("{tag} served"), wait).await;
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        let failures = caller.await.unwrap();
        assert!(
            failures.is_empty(),
            "failed calls: {failures:?}\nstderr:\n{}",
            live.stderr()
        );
    }
    assert_eq!(live.version(TOOL).await, "v51");
    let tool = live.tool(TOOL).await.unwrap();
    assert!(description(&tool).contains("(v51)"), "{tool:?}");
    assert!(
        calls.load(Ordering::Relaxed) > 50,
        "the client kept calling"
    );
}
