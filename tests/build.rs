//! Builds the guest components the end-to-end tests load, and tells the tests
//! where they are.
//!
//! Two cargo workspaces are built for wasm32-wasip2 in release mode, each in
//! its own directory so that its `.cargo/config.toml` (`build.target`)
//! applies: `plugins/` (the examples) and `plugins/fixtures/` (plugins that
//! misbehave on purpose). `$OUT_DIR/artifacts.rs` then holds one `pub const`
//! per component path, e.g. `pub const MATH: &str = "/…/math.wasm";`.
//!
//! As in wasmtime's test-programs, every fixture crate must be listed in
//! [`FIXTURES`]: a fixture that no test can name fails the build instead of
//! going silently unused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `(const name, cargo target name)` of the examples the tests use.
const EXAMPLES: &[(&str, &str)] = &[
    ("MATH", "math"),
    ("TEXT", "text"),
    ("JSON", "json"),
    ("WEB", "web"),
];

/// `(const name, cargo target name)` of every crate in `plugins/fixtures/`.
const FIXTURES: &[(&str, &str)] = &[
    ("MISBEHAVE", "misbehave"),
    ("CONFORMANCE", "conformance"),
    ("RAW", "raw"),
    ("BADSCHEMA", "badschema"),
    // Schemas that cost the host as much as they can (issue 10).
    ("HOSTILE_SCHEMA", "hostile_schema"),
    ("WRONG_WORLD", "wrong_world"),
    // Hot reload tests and benchmarks (tests/src/live.rs).
    ("VERSIONED", "versioned"),
    // A `describe` that never ends in time (tests/e2e/loading_budget.rs).
    ("SLOW_DESCRIBE", "slow_describe"),
    // Outbound HTTP grants, limits and secrets (tests/e2e/outbound.rs).
    ("OUTBOUND", "outbound"),
    // Key-value state (tests/e2e/state.rs, the call path bench).
    ("STATEFUL", "stateful"),
    ("NEIGHBOR", "neighbor"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir
        .parent()
        .expect("tests/ lives in the workspace root");
    let plugins = root.join("plugins");
    let fixtures = plugins.join("fixtures");

    for input in [
        "sdk/Cargo.toml",
        "sdk/src",
        "sdk/macros/Cargo.toml",
        "sdk/macros/src",
        "uri-template/Cargo.toml",
        "uri-template/src",
        "wit",
    ] {
        rerun_if_changed(&root.join(input));
    }

    let mut consts = String::new();
    for (workspace, wanted, strict) in [(&plugins, EXAMPLES, false), (&fixtures, FIXTURES, true)] {
        watch_workspace(workspace);
        let built = build_components(workspace);
        if strict {
            let listed: Vec<&str> = wanted.iter().map(|(_, target)| *target).collect();
            let unlisted: Vec<&String> = built
                .keys()
                .filter(|target| !listed.contains(&target.as_str()))
                .collect();
            assert!(
                unlisted.is_empty(),
                "{} builds components no test can name: {unlisted:?}; add them to FIXTURES in {}",
                workspace.display(),
                manifest_dir.join("build.rs").display(),
            );
        }
        for (name, target) in wanted {
            let path = built.get(*target).unwrap_or_else(|| {
                panic!(
                    "{} built no component `{target}` (built: {:?})",
                    workspace.display(),
                    built.keys()
                )
            });
            let crate_dir = workspace.strip_prefix(root).unwrap().join(target);
            consts.push_str(&format!(
                "/// The component built from `{}`.\npub const {name}: &str = {:?};\n",
                crate_dir.display(),
                path.display().to_string()
            ));
        }
    }

    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("artifacts.rs");
    std::fs::write(&out, consts).expect("write artifacts.rs");
}

/// Runs `cargo build --release` in `workspace` and returns the `.wasm` file of
/// every cdylib or bin target of the workspace's own packages, by target name.
fn build_components(workspace: &Path) -> BTreeMap<String, PathBuf> {
    let mut cargo = nested_cargo();
    cargo
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
            "--target-dir",
        ])
        .arg(workspace.join("target"));
    let output = cargo
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        panic!(
            "building the components in {} failed ({}):\n{}",
            workspace.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr),
        );
    }

    let mut built = BTreeMap::new();
    for line in stdout.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let in_workspace = message["manifest_path"]
            .as_str()
            .is_some_and(|manifest| Path::new(manifest).starts_with(workspace));
        let kinds = message["target"]["kind"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let component = kinds.iter().any(|kind| kind == "cdylib" || kind == "bin");
        if !in_workspace || !component {
            continue;
        }
        let name = message["target"]["name"]
            .as_str()
            .unwrap()
            .replace('-', "_");
        let wasm = message["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|file| file.as_str())
            .find(|file| file.ends_with(".wasm"));
        if let Some(wasm) = wasm {
            built.insert(name, PathBuf::from(wasm));
        }
    }
    built
}

/// A `cargo` command that does not inherit the settings the outer build
/// passes to build scripts (target, profile, flags, wrappers such as
/// clippy-driver), which would otherwise apply to the wasm build too.
fn nested_cargo() -> Command {
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let keep = ["CARGO_HOME", "CARGO_MAKEFLAGS"].contains(&key)
            || [
                "CARGO_NET_",
                "CARGO_HTTP_",
                "CARGO_REGISTRIES_",
                "CARGO_REGISTRY_",
                "CARGO_TERM_",
            ]
            .iter()
            .any(|prefix| key.starts_with(prefix));
        let outer_build_setting = (key.starts_with("CARGO_") && !keep)
            || [
                "RUSTFLAGS",
                "RUSTDOCFLAGS",
                "RUSTC_WORKSPACE_WRAPPER",
                "RUSTC_LINKER",
                "CLIPPY_ARGS",
                "CLIPPY_CONF_DIR",
                "TARGET",
                "HOST",
                "OUT_DIR",
                "PROFILE",
                "OPT_LEVEL",
                "DEBUG",
                "NUM_JOBS",
            ]
            .contains(&key);
        if outer_build_setting {
            cargo.env_remove(key);
        }
    }
    cargo
}

/// Declares the inputs of a plugin workspace, but not its `target/` (which
/// the nested build itself writes, so watching it would rebuild every time).
fn watch_workspace(workspace: &Path) {
    for file in ["Cargo.toml", "Cargo.lock", ".cargo/config.toml"] {
        rerun_if_changed(&workspace.join(file));
    }
    let Ok(entries) = std::fs::read_dir(workspace) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if dir.join("Cargo.toml").is_file() {
            rerun_if_changed(&dir.join("Cargo.toml"));
            rerun_if_changed(&dir.join("src"));
        }
    }
}

/// Only for paths that exist: cargo reruns a build script on every build when
/// a declared input is missing.
fn rerun_if_changed(path: &Path) {
    if !path.exists() {
        return;
    }
    println!("cargo::rerun-if-changed={}", path.display());
}
