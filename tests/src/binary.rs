//! The `toolhost` binary under test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Path of the `toolhost` binary, built on first use.
///
/// `TOOLHOST_BIN` overrides it (to test an installed binary). Otherwise this
/// runs `cargo build -p toolhost --bin toolhost` in the workspace with the
/// profile the tests were built with; cargo has released its build lock by
/// the time tests run, so the nested build does not wait on the outer one.
pub fn toolhost_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var_os("TOOLHOST_BIN") {
        Some(path) => PathBuf::from(path),
        None => build_toolhost(),
    })
}

fn build_toolhost() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "-p", "toolhost", "--bin", "toolhost"])
        .arg("--message-format=json-render-diagnostics")
        .args(profile_args())
        .output()
        .expect("run cargo to build toolhost");
    assert!(
        output.status.success(),
        "building toolhost failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == "toolhost")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported no toolhost executable")
}

/// The cargo profile flags matching this test binary, read from its path
/// (`<target-dir>/<profile-dir>/deps/<test>`).
fn profile_args() -> Vec<String> {
    let exe = std::env::current_exe().expect("path of the test binary");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .unwrap_or("debug");
    match profile_dir {
        "debug" => vec![],
        "release" => vec!["--release".into()],
        custom => vec!["--profile".into(), custom.into()],
    }
}

/// Runs `toolhost ARGS` to completion (stdin empty), bounded by
/// [`crate::LIMIT`]; for commands other than a stdio session, such as
/// `inspect` or a `serve` that must refuse to start.
pub async fn run_toolhost(args: &[&str]) -> std::process::Output {
    let child = tokio::process::Command::new(toolhost_bin())
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("TOOLHOST_CONFIG")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    crate::bounded(&format!("toolhost {}", args.join(" ")), child)
        .await
        .expect("run toolhost")
}
