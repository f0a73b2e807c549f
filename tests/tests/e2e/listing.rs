//! A group lists and unlists its own items while it runs
//! (`host.set-listed`): a connected client hears `list_changed` and sees
//! the lists change, and an unlisted tool is as unknown as one never
//! declared.

use serde_json::json;
use toolhost_tests::live::Live;
use toolhost_tests::{CONFORMANCE, PluginDir};

const DYNAMIC: &str = "conformance_test_dynamic_tool";
const TRIGGER: &str = "conformance_test_trigger_tool_change";

#[tokio::test]
async fn a_client_hears_a_group_list_and_unlist_its_tool() {
    let dir = PluginDir::with(&[CONFORMANCE]);
    let live = Live::serve(&dir, &[]).await;
    assert!(live.ready().await.iter().all(|tool| tool.name != DYNAMIC));
    let refused = live.call(DYNAMIC, json!({})).await.unwrap_err();
    assert!(refused.contains("tools/list"), "{refused}");

    let seen = live.changes();
    let said = live.call(TRIGGER, json!({})).await.unwrap();
    assert!(said.contains("is listed"), "{said}");
    let seen = live.wait_for_change(seen).await;
    assert!(live.tool(DYNAMIC).await.is_some());
    assert_eq!(
        live.call(DYNAMIC, json!({})).await.unwrap(),
        "This tool comes and goes."
    );

    let said = live.call(TRIGGER, json!({})).await.unwrap();
    assert!(said.contains("is unlisted"), "{said}");
    live.wait_for_change(seen).await;
    assert!(live.tool(DYNAMIC).await.is_none());
    live.stop().await;
}
