//! The compile cache: a warm start maps what a cold start compiled, a
//! replaced version's entry is removed, and `--no-cache` writes nothing.

use std::path::Path;

use toolhost_tests::PluginDir;
use toolhost_tests::live::{Live, publish, versioned};

/// The compiled entries in a cache directory (`<dir>/<engine>/<hash>.cwasm`).
fn entries(cache: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for engine in std::fs::read_dir(cache).into_iter().flatten().flatten() {
        for entry in std::fs::read_dir(engine.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".cwasm") {
                found.push(name);
            }
        }
    }
    found
}

#[tokio::test]
async fn a_warm_start_maps_the_compiled_component() {
    let dir = PluginDir::new();
    dir.write("versioned.wasm", versioned("v1"));

    let cold = Live::serve(&dir, &[]).await;
    cold.ready().await;
    cold.wait_for_stderr(&["loaded", "versioned.wasm", "cached=false"])
        .await;
    cold.stop().await;
    assert_eq!(entries(&dir.root().join("cache")).len(), 1);

    let warm = Live::serve(&dir, &[]).await;
    warm.ready().await;
    warm.wait_for_stderr(&["loaded", "versioned.wasm", "cached=true"])
        .await;
    assert_eq!(warm.version("versioned_version").await, "v1");
}

#[tokio::test]
async fn a_replaced_version_leaves_no_entry_behind() {
    let dir = PluginDir::new();
    dir.write("versioned.wasm", versioned("v1"));
    let live = Live::serve(&dir, &[]).await;
    live.ready().await;

    let seen = live.changes();
    publish(&dir, "versioned.wasm", &versioned("v2"));
    live.wait_for_change(seen).await;

    let v2 = format!("{}.cwasm", blake3::hash(&versioned("v2")).to_hex());
    assert_eq!(entries(&dir.root().join("cache")), vec![v2]);
}

#[tokio::test]
async fn no_cache_compiles_and_writes_nothing() {
    let dir = PluginDir::new();
    dir.write("versioned.wasm", versioned("v1"));
    let live = Live::serve(&dir, &["--no-cache"]).await;
    live.ready().await;
    assert_eq!(live.version("versioned_version").await, "v1");
    assert!(entries(&dir.root().join("cache")).is_empty());
}
