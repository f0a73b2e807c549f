//! The compile cache: a warm start maps what a cold start compiled, a
//! replaced version's entry is removed, and `--no-cache` writes nothing.

use std::path::{Path, PathBuf};

use toolhost_tests::PluginDir;
use toolhost_tests::live::{Live, publish, versioned};

/// The compiled entries in a cache directory (`<dir>/<engine>/<hash>.cwasm`),
/// by file name.
fn entries(cache: &Path) -> Vec<String> {
    files_ending(cache, ".cwasm")
        .iter()
        .filter_map(|path| path.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

/// The files of a cache directory whose names end with `ending`.
fn files_ending(cache: &Path, ending: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for engine in std::fs::read_dir(cache).into_iter().flatten().flatten() {
        for entry in std::fs::read_dir(engine.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.file_name().to_string_lossy().ends_with(ending) {
                found.push(entry.path());
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

#[tokio::test]
async fn a_warm_start_lists_from_the_cached_description_and_links_at_the_first_call() {
    let dir = PluginDir::new();
    dir.write("versioned.wasm", versioned("v1"));
    let cold = Live::serve(&dir, &[]).await;
    cold.ready().await;
    cold.stop().await;
    let cache = dir.root().join("cache");
    assert_eq!(files_ending(&cache, ".describe").len(), 1);

    // The compilation is gone: the group is still listed from its
    // description, and its first call compiles the file again.
    for entry in files_ending(&cache, ".cwasm") {
        std::fs::remove_file(entry).unwrap();
    }
    let warm = Live::serve(&dir, &[]).await;
    warm.ready().await;
    warm.wait_for_stderr(&["loaded", "versioned.wasm", "cached=true"])
        .await;
    assert!(entries(&cache).is_empty(), "nothing compiled before a call");
    assert_eq!(warm.version("versioned_version").await, "v1");
    assert_eq!(entries(&cache).len(), 1);
}

#[tokio::test]
async fn a_description_of_a_file_changed_behind_the_hosts_back_is_not_trusted() {
    let dir = PluginDir::new();
    dir.write("versioned.wasm", versioned("v1"));
    let cold = Live::serve(&dir, &[]).await;
    cold.ready().await;
    cold.stop().await;

    // Another version under the same name: its hash names no description.
    dir.write("versioned.wasm", versioned("v2"));
    let warm = Live::serve(&dir, &[]).await;
    warm.ready().await;
    warm.wait_for_stderr(&["loaded", "versioned.wasm", "cached=false"])
        .await;
    assert_eq!(warm.version("versioned_version").await, "v2");
}
