//! `toolhost dev`: the plugin author's loop. Builds plugin crates for
//! wasm32-wasip2, serves what they build, rebuilds on every save and
//! hot-reloads the result while clients stay connected.
//!
//! ```text
//! save ─▶ source watch ─▶ cargo build ─▶ stage (tmp + rename) ─▶ watch ─▶ reload ─▶ list_changed
//!                              └─ error: printed on stderr + log notification; previous version serves
//! ```
//!
//! Built components are copied into a private staging directory, which is
//! served like any plugin directory: the reload path is exactly the one
//! `toolhost serve` uses, and the served directory holds only the
//! components of the given crates (not everything else in `target/`).
//! Cargo's stdout is read here as JSON messages and never reaches our
//! stdout, which is the MCP stream; its stderr and the rendered compiler
//! diagnostics go to our stderr.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache};
use tokio::io::AsyncBufReadExt as _;
use tokio::sync::mpsc;

use crate::catalog::Catalog;
use crate::runtime::{Level, Runtime};
use crate::watch::Watch;

/// The target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";
/// How long sources must be quiet before a rebuild (editors write a file in
/// several steps).
const SOURCE_DEBOUNCE: Duration = Duration::from_millis(150);

/// A plugin crate (or a workspace of them) being developed.
#[derive(Debug, Clone)]
struct Crate {
    /// Canonical directory holding its `Cargo.toml`.
    dir: PathBuf,
}

/// The directory `toolhost dev` serves; removed when dropped.
pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    fn new() -> anyhow::Result<Staging> {
        let dir = std::env::temp_dir().join(format!("toolhost-dev-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the staging directory {}", dir.display()))?;
        Ok(Staging { dir })
    }

    /// The directory served.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running dev loop: dropping it stops watching and building.
pub struct DevLoop {
    pub staging: Staging,
    task: tokio::task::JoinHandle<()>,
    _sources: Debouncer<RecommendedWatcher, RecommendedCache>,
}

impl Drop for DevLoop {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the dev loop for `crate_dirs` (the current directory when
/// empty): the first builds, then serving and watching, all in the
/// background, so that the MCP handshake never waits for cargo. The
/// catalog is marked ready once the first builds are loaded.
pub fn start(
    runtime: Arc<Runtime>,
    catalog: Arc<Catalog>,
    crate_dirs: &[PathBuf],
) -> anyhow::Result<DevLoop> {
    let crates = find_crates(crate_dirs)?;
    let staging = Staging::new()?;
    let watch = Watch::start(staging.dir())?;

    let (dirty_sender, mut dirty) = mpsc::unbounded_channel::<usize>();
    let sources = watch_sources(&crates, dirty_sender)?;

    let staging_dir = staging.dir().to_owned();
    let task = tokio::spawn(async move {
        for krate in &crates {
            build_and_stage(krate, &staging_dir, &catalog).await;
        }
        let serving =
            crate::watch::spawn_serving(runtime, catalog.clone(), staging_dir.clone(), Some(watch));
        // Rebuild whatever changed, one build at a time; changes made during
        // a build are picked up by the next one.
        while let Some(first) = dirty.recv().await {
            let mut pending = BTreeSet::from([first]);
            tokio::time::sleep(SOURCE_DEBOUNCE).await;
            while let Ok(more) = dirty.try_recv() {
                pending.insert(more);
            }
            for index in pending {
                build_and_stage(&crates[index], &staging_dir, &catalog).await;
            }
        }
        serving.abort();
    });
    Ok(DevLoop {
        staging,
        task,
        _sources: sources,
    })
}

fn find_crates(dirs: &[PathBuf]) -> anyhow::Result<Vec<Crate>> {
    let dirs = if dirs.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        dirs.to_vec()
    };
    let mut crates = Vec::new();
    for dir in dirs {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("no plugin crate at {}", dir.display()))?;
        if !dir.join("Cargo.toml").is_file() {
            bail!(
                "{} has no Cargo.toml; give the directory of a plugin crate (see `toolhost dev --help`)",
                dir.display()
            );
        }
        crates.push(Crate { dir });
    }
    Ok(crates)
}

/// Builds `krate` and copies its components into `staging`. A failed
/// build is reported on stderr and to every client; what was staged
/// before stays, so the previous version keeps serving.
async fn build_and_stage(krate: &Crate, staging: &Path, catalog: &Catalog) {
    let started = Instant::now();
    tracing::info!(krate = %krate.dir.display(), "building");
    match build(krate).await {
        Ok(components) => {
            let took_ms = started.elapsed().as_millis() as u64;
            for component in &components {
                if let Err(e) = stage(component, staging) {
                    tracing::error!("{e:#}");
                    catalog.notify(Level::Error, format!("{e:#}"));
                }
            }
            tracing::info!(krate = %krate.dir.display(), components = components.len(), took_ms, "built");
        }
        Err(failure) => {
            let message = format!(
                "building {} failed; the previous version keeps serving\n{}",
                krate.dir.display(),
                failure.trim_end()
            );
            tracing::error!("{message}");
            catalog.notify(Level::Error, message);
        }
    }
}

/// Runs `cargo build --release --target wasm32-wasip2` in the crate's
/// directory; returns the `.wasm` files of its cdylib targets, or the
/// compiler errors.
async fn build(krate: &Crate) -> Result<Vec<PathBuf>, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = tokio::process::Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            TARGET,
            "--message-format=json",
        ])
        .current_dir(&krate.dir)
        .stdin(Stdio::null())
        // Parsed here; never inherited (our stdout is the MCP stream).
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut components = Vec::new();
    let mut errors = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        match message["reason"].as_str() {
            Some("compiler-message") => {
                let rendered = message["message"]["rendered"].as_str().unwrap_or_default();
                eprint!("{rendered}");
                if message["message"]["level"] == "error" {
                    errors.push_str(rendered);
                }
            }
            Some("compiler-artifact") => {
                let ours = message["manifest_path"]
                    .as_str()
                    .is_some_and(|manifest| Path::new(manifest).starts_with(&krate.dir));
                let cdylib = message["target"]["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|kind| kind == "cdylib"));
                if ours && cdylib {
                    let wasm = message["filenames"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|file| file.as_str())
                        .filter(|file| file.ends_with(".wasm"))
                        .map(PathBuf::from);
                    components.extend(wasm);
                }
            }
            _ => {}
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("cargo failed: {e}"))?;
    if !status.success() {
        if errors.is_empty() {
            errors = format!("cargo build exited with {status}; its output above says why");
        }
        return Err(errors);
    }
    if components.is_empty() {
        return Err(format!(
            "{} built no component: a plugin crate needs `[lib] crate-type = [\"cdylib\"]`",
            krate.dir.display()
        ));
    }
    Ok(components)
}

/// Copies `component` into `staging` under its own name, through a
/// temporary file renamed into place, so the watcher never sees half of
/// it. Unchanged contents are not copied (the watcher would ignore them
/// anyway).
fn stage(component: &Path, staging: &Path) -> anyhow::Result<()> {
    let name = component
        .file_name()
        .context("component without a file name")?;
    let to = staging.join(name);
    let bytes =
        std::fs::read(component).with_context(|| format!("cannot read {}", component.display()))?;
    if std::fs::read(&to).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let tmp = staging.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, &to))
        .with_context(|| {
            format!(
                "cannot stage {} in {}",
                component.display(),
                staging.display()
            )
        })
}

/// Watches the crates' sources; sends the index of a crate whose sources
/// changed.
fn watch_sources(
    crates: &[Crate],
    dirty: mpsc::UnboundedSender<usize>,
) -> anyhow::Result<Debouncer<RecommendedWatcher, RecommendedCache>> {
    let dirs: Vec<PathBuf> = crates.iter().map(|c| c.dir.clone()).collect();
    let roots = dirs.clone();
    let mut debouncer = notify_debouncer_full::new_debouncer(
        SOURCE_DEBOUNCE,
        None,
        move |result: DebounceEventResult| {
            let Ok(events) = result else { return };
            for event in events {
                if !crate::watch::changes_contents(&event.kind) {
                    continue;
                }
                for path in &event.paths {
                    let owner = roots
                        .iter()
                        .enumerate()
                        .filter(|(_, root)| path.starts_with(root))
                        .max_by_key(|(_, root)| root.as_os_str().len());
                    if let Some((index, root)) = owner
                        && is_source(root, path)
                    {
                        let _ = dirty.send(index);
                    }
                }
            }
        },
    )?;
    for dir in &dirs {
        debouncer
            .watch(dir, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", dir.display()))?;
    }
    Ok(debouncer)
}

/// Whether a change to `path` (inside crate directory `root`) can change
/// the build: not the build output, not version control, not an editor's
/// backup or swap file.
fn is_source(root: &Path, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(root) else {
        return false;
    };
    let hidden_or_output = relative.components().any(|part| {
        let part = part.as_os_str().to_string_lossy();
        part == "target" || part.starts_with('.')
    });
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let editor_file =
        name.ends_with('~') || name.ends_with(".swp") || name.ends_with(".swx") || name == "4913";
    !relative.as_os_str().is_empty() && !hidden_or_output && !editor_file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_exclude_output_and_editor_files() {
        let root = Path::new("/work/plugin");
        assert!(is_source(root, Path::new("/work/plugin/src/lib.rs")));
        assert!(is_source(root, Path::new("/work/plugin/Cargo.toml")));
        assert!(is_source(root, Path::new("/work/plugin/wit/world.wit")));
        assert!(!is_source(
            root,
            Path::new("/work/plugin/target/release/x.wasm")
        ));
        assert!(!is_source(root, Path::new("/work/plugin/.git/index")));
        assert!(!is_source(root, Path::new("/work/plugin/src/.lib.rs.swp")));
        assert!(!is_source(root, Path::new("/work/plugin/src/lib.rs~")));
        assert!(!is_source(root, Path::new("/work/plugin/src/4913")));
        assert!(!is_source(root, Path::new("/work/plugin")));
    }

    #[test]
    fn staging_copies_only_changes_and_never_half_a_file() {
        let staging = Staging::new().unwrap();
        let source = staging
            .dir()
            .join("..")
            .join(format!("toolhost-dev-src-{}.wasm", std::process::id()));
        std::fs::write(&source, b"one").unwrap();
        stage(&source, staging.dir()).unwrap();
        let staged = staging.dir().join(source.file_name().unwrap());
        assert_eq!(std::fs::read(&staged).unwrap(), b"one");
        let modified = std::fs::metadata(&staged).unwrap().modified().unwrap();
        stage(&source, staging.dir()).unwrap();
        assert_eq!(
            std::fs::metadata(&staged).unwrap().modified().unwrap(),
            modified
        );
        let leftovers: Vec<_> = std::fs::read_dir(staging.dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let _ = std::fs::remove_file(&source);
    }
}
