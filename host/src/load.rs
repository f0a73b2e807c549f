//! Plugin directories → catalog: find the components, load them in
//! parallel, report each file that fails on one log line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::catalog::Catalog;
use crate::runtime::Runtime;

/// The `.wasm` files directly inside `dir`, sorted so that the first of two
/// colliding files is always the same one.
pub fn component_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read plugin directory {}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm") && path.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Loads every component in `dir` into the catalog. Files are compiled in
/// parallel and inserted in name order; a file that fails is logged and
/// recorded, and the others still serve.
pub async fn load_dir(runtime: &Arc<Runtime>, catalog: &Catalog, dir: &Path) -> anyhow::Result<()> {
    let files = component_files(dir)?;
    if files.is_empty() {
        tracing::warn!(dir = %dir.display(), "no .wasm components in the plugin directory");
    }
    let loads = files.iter().map(|path| {
        let runtime = runtime.clone();
        let path = path.clone();
        tokio::spawn(async move { runtime.load(&path).await })
    });
    for load in futures::future::join_all(loads).await {
        let loaded = load.context("a loader task crashed")?;
        let inserted = loaded.and_then(|group| {
            let (name, id, tools, cached) = (
                group.name.clone(),
                group.id.clone(),
                group.description.operations.len(),
                group.cached,
            );
            catalog
                .insert(Arc::new(group))
                .map(|()| (name, id, tools, cached))
        });
        match inserted {
            Ok((name, id, operations, cached)) => {
                tracing::info!(group = %name, file = %id, operations, cached, "loaded")
            }
            Err(error) => {
                tracing::error!("cannot load {}: {}", error.source, error.reason);
                catalog.record_failure(&error);
            }
        }
    }
    Ok(())
}

/// Where the example plugins of this source tree are built.
pub fn bundled_plugins_dir() -> Option<(PathBuf, PathBuf)> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .join("plugins");
    let out = workspace.join("target/wasm32-wasip2/release");
    workspace
        .join("Cargo.toml")
        .is_file()
        .then_some((workspace, out))
}

/// The bundled example plugins, built first when they are missing.
pub fn bundled_plugins() -> anyhow::Result<PathBuf> {
    let Some((workspace, out)) = bundled_plugins_dir() else {
        bail!(
            "no plugin directory given and the bundled examples are not available; run `toolhost serve DIR`"
        );
    };
    if out.is_dir() && !component_files(&out)?.is_empty() {
        return Ok(out);
    }
    let command = format!("cd {} && cargo build --release", workspace.display());
    tracing::info!("building the bundled example plugins: {command}");
    // Cargo's output goes to our stderr: stdout may be the MCP stream.
    let status =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["build", "--release"])
            .current_dir(&workspace)
            .stdout(std::io::stderr())
            .status();
    match status {
        Ok(status) if status.success() => Ok(out),
        Ok(status) => {
            bail!("building the example plugins failed ({status}); run `{command}` to see why")
        }
        Err(e) => bail!("cannot run cargo to build the example plugins ({e}); run `{command}`"),
    }
}
