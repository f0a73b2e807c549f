//! Deny by default: a group sees no environment variable, no file and no
//! socket unless `toolhost.toml` grants it, and a grant gives exactly what it
//! says (read-only stays read-only, a granted directory cannot be escaped).

use std::path::Path;

use serde_json::{Value, json};
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

/// Calls `operation` and checks that the plugin itself ran and reported the
/// failure (its message starts with `what`), rather than the call being
/// refused for another reason such as bad arguments.
async fn refused(server: &Server, operation: &str, arguments: Value, what: &str) -> String {
    let error = server
        .call_err(&format!("misbehave_{operation}"), arguments)
        .await;
    assert!(error.starts_with(what), "expected `{what}…`, got: {error}");
    error
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
        refused(
            &server,
            "read_env",
            json!({ "key": key }),
            &format!("env `{key}`"),
        )
        .await;
    }
}

#[tokio::test]
async fn granted_environment_is_visible_and_nothing_else() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let data = host_files(&dir);
    dir.set_config(&grant(&data, &dir.make_dir("out")));
    let env = [
        ("TOOLHOST_TEST_PASSED", "yes"),
        ("TOOLHOST_TEST_SECRET", "no"),
    ];
    let server = start_with_env(&dir, &env).await;

    let passed = json!({ "key": "TOOLHOST_TEST_PASSED" });
    assert_eq!(
        text(&server.call_ok("misbehave_read_env", passed).await),
        "yes"
    );
    let set = json!({ "key": "GREETING" });
    assert_eq!(
        text(&server.call_ok("misbehave_read_env", set).await),
        "hello"
    );
    for key in ["TOOLHOST_TEST_SECRET", "HOME", "PATH"] {
        refused(
            &server,
            "read_env",
            json!({ "key": key }),
            &format!("env `{key}`"),
        )
        .await;
    }
}

#[tokio::test]
async fn no_filesystem_without_a_grant() {
    let dir = PluginDir::with(&[MISBEHAVE]);
    let data = host_files(&dir);
    let server = start(&dir).await;

    let root = dir.root().to_str().unwrap();
    for path in ["/", ".", "..", "/etc", root] {
        refused(
            &server,
            "list_dir",
            json!({ "path": path }),
            &format!("list {path}:"),
        )
        .await;
    }
    let secret = dir.root().join("secret.txt");
    let hello = data.join("hello.txt");
    for path in [
        "/etc/passwd",
        "../secret.txt",
        secret.to_str().unwrap(),
        hello.to_str().unwrap(),
    ] {
        let arguments = json!({ "path": path });
        let error = refused(&server, "read_file", arguments, &format!("read {path}:")).await;
        assert!(
            !error.contains(SECRET) && !error.contains("hello from the host"),
            "{error}"
        );
    }
    let planted = dir.root().join("planted.txt");
    let path = planted.to_str().unwrap();
    let arguments = json!({ "path": path, "contents": "planted" });
    refused(&server, "write_file", arguments, &format!("write {path}:")).await;
    assert!(!planted.exists());
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
    let names = json!({ "result": ["escape", "escape_rel", "hello.txt"] });
    assert_eq!(listed.structured_content, Some(names));
    let hello = json!({ "path": "/data/hello.txt" });
    assert_eq!(
        text(&server.call_ok("misbehave_read_file", hello).await),
        "hello from the host"
    );

    for path in [
        "/data/../secret.txt",
        "../secret.txt",
        "/data/escape",
        "/data/escape_rel",
        "/secret.txt",
        "/etc/passwd",
    ] {
        let arguments = json!({ "path": path });
        let error = refused(&server, "read_file", arguments, &format!("read {path}:")).await;
        assert!(!error.contains(SECRET), "{path}: {error}");
    }
    for path in ["/", "/data/.."] {
        refused(
            &server,
            "list_dir",
            json!({ "path": path }),
            &format!("list {path}:"),
        )
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

    for path in ["/data/new.txt", "/data/hello.txt"] {
        let arguments = json!({ "path": path, "contents": "no" });
        refused(&server, "write_file", arguments, &format!("write {path}:")).await;
    }
    assert!(!data.join("new.txt").exists());
    let hello = std::fs::read_to_string(data.join("hello.txt")).unwrap();
    assert_eq!(hello, "hello from the host");

    let arguments = json!({ "path": "/out/new.txt", "contents": "yes" });
    assert_eq!(
        text(&server.call_ok("misbehave_write_file", arguments).await),
        "3"
    );
    assert_eq!(std::fs::read_to_string(out.join("new.txt")).unwrap(), "yes");

    // A write through `..` out of the rw directory is refused too.
    let arguments = json!({ "path": "/out/../planted.txt", "contents": "no" });
    refused(
        &server,
        "write_file",
        arguments,
        "write /out/../planted.txt:",
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

    refused(
        &server,
        "connect",
        json!({ "addr": addr }),
        &format!("connect {addr}:"),
    )
    .await;

    // Had the guest connected, the connection would be queued by now.
    let wait = std::time::Duration::from_millis(200);
    let accepted = tokio::time::timeout(wait, listener.accept()).await;
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
    refused(
        &server,
        "config",
        json!({ "key": "api_key" }),
        "no setting `api_key`",
    )
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
