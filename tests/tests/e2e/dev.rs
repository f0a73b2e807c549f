//! `toolhost dev`: an author edits a plugin crate while a client is
//! connected. A saved doc comment becomes the new tool description with no
//! restart; a build error reaches stderr and the client, and the previous
//! version keeps serving; nothing but JSON-RPC reaches stdout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use toolhost_tests::PluginDir;
use toolhost_tests::live::Live;

const TOOL: &str = "hello_greet";

/// A plugin crate written as an author would, depending on the SDK of this
/// repository.
fn write_crate(dir: &Path, doc: &str, body: &str) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            r#"[package]
name = "hello"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
toolhost-sdk = {{ path = {:?} }}

[workspace]

[profile.release]
opt-level = "s"
debug = false
codegen-units = 16
"#,
            repo.join("sdk")
        ),
    )
    .unwrap();
    // The crate lives outside the repository: give it the same toolchain.
    std::fs::copy(
        repo.join("rust-toolchain.toml"),
        dir.join("rust-toolchain.toml"),
    )
    .unwrap();
    edit(dir, doc, body);
}

fn edit(dir: &Path, doc: &str, body: &str) {
    let source = format!(
        r#"use toolhost_sdk::prelude::*;

/// Greetings.
#[group(name = "hello")]
mod hello {{
    use super::*;

    #[derive(Deserialize, JsonSchema)]
    pub struct Who {{
        /// Whom to greet.
        pub name: String,
    }}

    /// {doc}
    #[operation(read_only)]
    pub fn greet(Who {{ name }}: Who) -> String {{
        {body}
    }}
}}
"#
    );
    // As editors do: a temporary file renamed over the original.
    let tmp = dir.join("src/.lib.rs.tmp");
    std::fs::write(&tmp, source).unwrap();
    std::fs::rename(tmp, dir.join("src/lib.rs")).unwrap();
}

/// A target directory shared by every run of these tests, so that the SDK
/// and its dependencies are compiled once, not per test.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dev-tests")
}

/// The environment of a cargo run by these tests: none of the settings of
/// the cargo that runs the tests, the shared target directory.
fn cargo_env(command: &mut std::process::Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" || key == "RUSTFLAGS" {
            command.env_remove(&*key);
        }
    }
    command.env("CARGO_TARGET_DIR", target_dir());
}

/// Builds the crate once before the server starts, without the time limit
/// of a single wait (the first build compiles the SDK's dependencies).
async fn prebuild(dir: &Path) {
    let dir = dir.to_owned();
    let status = tokio::task::spawn_blocking(move || {
        let mut cargo =
            std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cargo
            .args(["build", "--release", "--target", "wasm32-wasip2", "--quiet"])
            .current_dir(&dir);
        cargo_env(&mut cargo);
        cargo.status()
    })
    .await
    .unwrap()
    .expect("run cargo");
    assert!(status.success(), "the plugin crate does not build");
}

async fn start_dev(root: &PluginDir, krate: &Path) -> Live {
    let cache = root.root().join("cache");
    let mut command = Live::command(&[
        "dev",
        krate.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    // Cargo's own settings from the test run must not leak into the build.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" || key == "RUSTFLAGS" {
            command.env_remove(&*key);
        }
    }
    command.env("CARGO_TARGET_DIR", target_dir());
    Live::connect(command).await
}

fn description(tool: &rmcp::model::Tool) -> String {
    tool.description.as_deref().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_saved_doc_comment_is_the_new_description_and_a_build_error_keeps_the_old_version() {
    let root = PluginDir::new();
    let krate = root.make_dir("hello");
    write_crate(
        &krate,
        "Greets someone politely.",
        r#"format!("hello, {name}")"#,
    );
    prebuild(&krate).await;

    let live = start_dev(&root, &krate).await;
    let tools = live
        .wait_for_tools("the built crate is served", |tools| {
            tools.iter().any(|t| t.name == TOOL)
        })
        .await;
    let tool = tools.iter().find(|t| t.name == TOOL).unwrap();
    assert!(
        description(tool).contains("Greets someone politely."),
        "{tool:?}"
    );
    assert_eq!(
        live.call(TOOL, json!({ "name": "Ada" })).await.unwrap(),
        "hello, Ada"
    );

    // The author edits the doc comment and saves.
    let seen = live.changes();
    edit(
        &krate,
        "Greets someone warmly.",
        r#"format!("hello, {name}")"#,
    );
    live.wait_for_change(seen).await;
    let tool = live.tool(TOOL).await.unwrap();
    assert!(
        description(&tool).contains("Greets someone warmly."),
        "{tool:?}"
    );

    // A save that does not compile.
    edit(&krate, "Greets someone warmly.", "nope");
    let notice = live.wait_for_log("failed").await;
    assert!(
        notice.contains("nope"),
        "the client sees the compiler error: {notice}"
    );
    live.wait_for_stderr(&["cannot find value `nope`"]).await;
    assert_eq!(
        live.call(TOOL, json!({ "name": "Ada" })).await.unwrap(),
        "hello, Ada"
    );

    // Fixed.
    let seen = live.changes();
    edit(&krate, "Greets someone.", r#"format!("hi, {name}")"#);
    live.wait_for_change(seen).await;
    assert_eq!(
        live.call(TOOL, json!({ "name": "Ada" })).await.unwrap(),
        "hi, Ada"
    );

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        live.protocol_violations(),
        Vec::<String>::new(),
        "only JSON-RPC on stdout"
    );
}
