//! Deny by default: a group sees no environment variable, no file and no
//! socket unless `toolhost.toml` grants it, and a grant gives exactly what it
//! says (read-only stays read-only, a granted directory cannot be escaped).

use std::path::Path;

use serde_json::json;
use toolhost_tests::{MISBEHAVE, PluginDir, Server, text};

const SECRET: &str = "the host's secret";

async fn start(dir: &PluginDir) -> Server {
    start_with_env(dir, &[]).await
}

async fn start_with_env(dir: &PluginDir, env: &[(&str, &str)]) -> Server {
    let server = Server::start_with_env(dir, &[], env).await;
    server.wait_for_tools(&["misbehave_echo"]).await;
    server
}

/// `<root>/secret.txt` beside `<root>/data/{hello.txt, escape, escape_rel}`,
/// where both `escape` links point at the secret.
fn host_files(dir: &PluginDir) -> std::path::PathBuf {
    let secret = dir.root().join("secret.txt");
    std::fs::write(&secret, SECRET).unwrap();
    let data = dir.make_dir("data");
    std::fs::write(data.join("hello.txt"), "hello from the host").unwrap();
    std::os::unix::fs::symlink(&secret, data.join("escape")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", data.join("escape_rel")).unwrap();
    data
}

fn grant(data: &Path, out: &Path) -> String {
    format!(
        r#"[groups.misbehave]
env = ["TOOLHOST_TEST_PASSED", "GREETING=hello"]
dirs = [
    {{ host = "{}", guest = "/data", mode = "ro" }},
    {{ host = "{}", guest = "/out", mode = "rw" }},
]
"#,
        data.display(),
        out.display()
    )
}

#[tokio::test]
async fn no_environment_without_a_grant() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let server = start_with_env(&dir, &[("TOOLHOST_TEST_PASSED", "yes")]).await;

    for key in ["TOOLHOST_TEST_PASSED", "HOME", "PATH"] {
        let error = server
            .call_err("misbehave_read_env", json!({ "key": key }))
            .await;
        assert!(error.contains(key), "{error}");
    }
}

#[tokio::test]
async fn granted_environment_is_visible_and_nothing_else() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let data = host_files(&dir);
    dir.set_config(&grant(&data, &dir.make_dir("out")));
    let server = start_with_env(
        &dir,
        &[
            ("TOOLHOST_TEST_PASSED", "yes"),
            ("TOOLHOST_TEST_SECRET", "no"),
        ],
    )
    .await;

    let passed = server
        .call_ok(
            "misbehave_read_env",
            json!({ "key": "TOOLHOST_TEST_PASSED" }),
        )
        .await;
    assert_eq!(text(&passed), "yes");
    let set = server
        .call_ok("misbehave_read_env", json!({ "key": "GREETING" }))
        .await;
    assert_eq!(text(&set), "hello");
    for key in ["TOOLHOST_TEST_SECRET", "HOME", "PATH"] {
        server
            .call_err("misbehave_read_env", json!({ "key": key }))
            .await;
    }
}

#[tokio::test]
async fn no_filesystem_without_a_grant() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let data = host_files(&dir);
    let server = start(&dir).await;

    let secret = dir.root().join("secret.txt");
    let hello = data.join("hello.txt");
    for path in ["/", ".", "..", "/etc", dir.root().to_str().unwrap()] {
        server
            .call_err("misbehave_list_dir", json!({ "path": path }))
            .await;
    }
    for path in [
        "/etc/passwd",
        "../secret.txt",
        secret.to_str().unwrap(),
        hello.to_str().unwrap(),
    ] {
        let error = server
            .call_err("misbehave_read_file", json!({ "path": path }))
            .await;
        assert!(
            !error.contains(SECRET) && !error.contains("hello from the host"),
            "{error}"
        );
    }
    let target = dir.root().join("planted.txt");
    server
        .call_err(
            "misbehave_write_file",
            json!({ "path": target, "contents": "planted" }),
        )
        .await;
    assert!(!target.exists());
}

#[tokio::test]
async fn a_granted_directory_is_readable_and_cannot_be_escaped() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let data = host_files(&dir);
    dir.set_config(&grant(&data, &dir.make_dir("out")));
    let server = start(&dir).await;

    let listed = server
        .call_ok("misbehave_list_dir", json!({ "path": "/data" }))
        .await;
    assert_eq!(
        listed.structured_content,
        Some(json!({ "result": ["escape", "escape_rel", "hello.txt"] }))
    );
    let hello = server
        .call_ok("misbehave_read_file", json!({ "path": "/data/hello.txt" }))
        .await;
    assert_eq!(text(&hello), "hello from the host");

    for path in [
        "/data/../secret.txt",
        "../secret.txt",
        "/data/escape",
        "/data/escape_rel",
        "/secret.txt",
        "/etc/passwd",
    ] {
        let error = server
            .call_err("misbehave_read_file", json!({ "path": path }))
            .await;
        assert!(!error.contains(SECRET), "{path}: {error}");
    }
    for path in ["/", "/data/.."] {
        server
            .call_err("misbehave_list_dir", json!({ "path": path }))
            .await;
    }
}

#[tokio::test]
async fn read_only_grant_refuses_writes_and_read_write_accepts_them() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let data = host_files(&dir);
    let out = dir.make_dir("out");
    dir.set_config(&grant(&data, &out));
    let server = start(&dir).await;

    server
        .call_err(
            "misbehave_write_file",
            json!({ "path": "/data/new.txt", "contents": "no" }),
        )
        .await;
    server
        .call_err(
            "misbehave_write_file",
            json!({ "path": "/data/hello.txt", "contents": "no" }),
        )
        .await;
    assert!(!data.join("new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(data.join("hello.txt")).unwrap(),
        "hello from the host"
    );

    let written = server
        .call_ok(
            "misbehave_write_file",
            json!({ "path": "/out/new.txt", "contents": "yes" }),
        )
        .await;
    assert_eq!(text(&written), "3");
    assert_eq!(std::fs::read_to_string(out.join("new.txt")).unwrap(), "yes");

    // A write through `..` out of the rw directory is refused too.
    server
        .call_err(
            "misbehave_write_file",
            json!({ "path": "/out/../planted.txt", "contents": "no" }),
        )
        .await;
    assert!(!dir.root().join("planted.txt").exists());
}

#[tokio::test]
async fn no_sockets() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let server = start(&dir).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();

    let error = server
        .call_err("misbehave_connect", json!({ "addr": addr }))
        .await;

    assert!(error.contains(&addr), "{error}");
    // Had the guest connected, the connection would be queued by now.
    let accepted =
        tokio::time::timeout(std::time::Duration::from_millis(200), listener.accept()).await;
    assert!(accepted.is_err(), "the guest reached the listener");
}

#[tokio::test]
async fn group_settings_are_readable_through_the_context() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    dir.set_config("[groups.misbehave]\nconfig = { api_base = \"https://example.com\" }\n");
    let server = start(&dir).await;

    let value = server
        .call_ok("misbehave_config", json!({ "key": "api_base" }))
        .await;
    assert_eq!(text(&value), "https://example.com");
    server
        .call_err("misbehave_config", json!({ "key": "api_key" }))
        .await;
}

#[tokio::test]
async fn every_call_gets_a_fresh_instance_by_default() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let server = start(&dir).await;

    for _ in 0..3 {
        let count = server.call_ok("misbehave_counter", json!({})).await;
        assert_eq!(text(&count), "1");
    }
}

#[tokio::test]
async fn reuse_mode_keeps_state_between_calls() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    dir.set_config("[groups.misbehave]\ninstances = \"reuse\"\n");
    let server = start(&dir).await;

    for expected in 1..=3 {
        let count = server.call_ok("misbehave_counter", json!({})).await;
        assert_eq!(text(&count), expected.to_string());
    }
}
