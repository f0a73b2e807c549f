//! Plugin directories → catalog: which files a directory holds, and the
//! rule of its initial load ([`FirstLoad`]). Files are loaded, and changes
//! applied, by `watch`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::catalog::Catalog;
use crate::source::{LoadError, Source, SourceId};

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

/// The initial load of a directory. Its files load in parallel and each is
/// served as soon as it has loaded, not after the slowest; yet of two files
/// that collide (same group name, tool, resource or prompt) the one whose
/// path sorts first wins, whichever finished first: when a file is refused
/// for colliding with a later one already served, the later one is taken
/// out, the earlier one served, and every later file inserted again in
/// order. The outcome is the same as inserting every loaded file in order.
pub struct FirstLoad {
    files: BTreeSet<PathBuf>,
    pending: BTreeSet<PathBuf>,
    /// What each done file loaded as, served or refused.
    loaded: BTreeMap<PathBuf, Arc<dyn Source>>,
}

impl FirstLoad {
    /// The initial load of `files`.
    pub fn new(files: &[PathBuf]) -> Self {
        let files: BTreeSet<PathBuf> = files.iter().cloned().collect();
        Self {
            pending: files.clone(),
            files,
            loaded: BTreeMap::new(),
        }
    }

    /// Whether `path` is one of the files of this load.
    pub fn includes(&self, path: &Path) -> bool {
        self.files.contains(path)
    }

    /// Notes that the load of `path` is over, whatever its outcome.
    pub fn done(&mut self, path: &Path) {
        self.pending.remove(path);
    }

    /// Whether every file is done.
    pub fn is_done(&self) -> bool {
        self.pending.is_empty()
    }

    /// The files not done yet.
    pub fn pending(&self) -> impl Iterator<Item = &PathBuf> {
        self.pending.iter()
    }

    /// Serves `source`, loaded from `path`, by the sort-order rule. Returns
    /// its own outcome and the refusals of later files it displaced.
    pub fn insert(
        &mut self,
        catalog: &Catalog,
        path: &Path,
        source: Arc<dyn Source>,
    ) -> (Result<(), LoadError>, Vec<LoadError>) {
        self.loaded.insert(path.to_owned(), source.clone());
        let mut inserted = catalog.insert(source.clone());
        let mut displaced = Vec::new();
        // A refusal names the source it collides with; when that is a later
        // file of this load, it yields.
        while let Err(refusal) = &inserted {
            let snapshot = catalog.snapshot();
            let Some(later) = self
                .later_than(path)
                .map(|(later, _)| SourceId::file(later))
                .find(|id| {
                    snapshot.sources.contains_key(id) && refusal.reason.contains(&id.to_string())
                })
            else {
                break;
            };
            catalog.remove(&later);
            displaced.push(later);
            inserted = catalog.insert(source.clone());
        }
        if displaced.is_empty() {
            return (inserted, Vec::new());
        }
        // The later files again, in order: the displaced ones are refused
        // now, and a file refused for colliding with one of them may fit.
        let mut refusals = Vec::new();
        for (later, source) in self.later_than(path) {
            let id = SourceId::file(later);
            if catalog.snapshot().sources.contains_key(&id) {
                continue;
            }
            if let Err(refusal) = catalog.insert(source.clone())
                && displaced.contains(&id)
            {
                refusals.push(refusal);
            }
        }
        (inserted, refusals)
    }

    fn later_than<'a>(
        &'a self,
        path: &'a Path,
    ) -> impl Iterator<Item = (&'a PathBuf, &'a Arc<dyn Source>)> + 'a {
        self.loaded
            .range::<Path, _>((Bound::Excluded(path), Bound::Unbounded))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, LimitOverrides, Policy, ServerConfig};
    use crate::source::{
        Annotations, Completion, CompletionRequest, Description, EmbeddedResource, EventSink,
        GroupInfo, Operation, Outcome, Output, PromptResult,
    };
    use tokio_util::sync::CancellationToken;

    /// A source that only describes itself: group `name` with operations
    /// `operations`, published without a prefix.
    struct Declared {
        id: SourceId,
        name: Arc<str>,
        description: Description,
        policy: Policy,
    }

    fn declared(file: &str, name: &str, operations: &[&str]) -> (PathBuf, Arc<dyn Source>) {
        let path = PathBuf::from(format!("/plugins/{file}"));
        let operation = |name: &&str| Operation {
            name: name.to_string(),
            title: None,
            description: "does nothing".into(),
            input_schema: r#"{"type":"object"}"#.into(),
            output_schema: None,
            annotations: Annotations {
                read_only: None,
                destructive: None,
                idempotent: None,
                open_world: None,
            },
        };
        let source = Declared {
            id: SourceId::file(&path),
            name: name.into(),
            description: Description {
                info: GroupInfo {
                    name: name.into(),
                    version: "1".into(),
                    description: String::new(),
                    instructions: None,
                },
                operations: operations.iter().map(operation).collect(),
                resources: Vec::new(),
                templates: Vec::new(),
                prompts: Vec::new(),
                icons: Default::default(),
                unlisted: Vec::new(),
            },
            policy: Policy {
                namespace: Some(String::new()),
                ..Config::default().policy(name, &LimitOverrides::default())
            },
        };
        (path, Arc::new(source))
    }

    impl Source for Declared {
        fn id(&self) -> &SourceId {
            &self.id
        }
        fn name(&self) -> &Arc<str> {
            &self.name
        }
        fn description(&self) -> &Description {
            &self.description
        }
        fn policy(&self) -> &Policy {
            &self.policy
        }
        fn call<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: Option<EventSink>,
            _: CancellationToken,
        ) -> Outcome<'a, Output> {
            unreachable!("never called")
        }
        fn read<'a>(
            &'a self,
            _: &'a str,
            _: Option<EventSink>,
            _: CancellationToken,
        ) -> Outcome<'a, Vec<EmbeddedResource>> {
            unreachable!("never called")
        }
        fn prompt<'a>(
            &'a self,
            _: &'a str,
            _: &'a [(String, String)],
            _: Option<EventSink>,
            _: CancellationToken,
        ) -> Outcome<'a, PromptResult> {
            unreachable!("never called")
        }
        fn complete<'a>(
            &'a self,
            _: &'a CompletionRequest,
            _: Option<EventSink>,
            _: CancellationToken,
        ) -> Outcome<'a, Completion> {
            unreachable!("never called")
        }
    }

    /// Which file serves each group, as `group=file`.
    fn served(catalog: &Catalog) -> Vec<String> {
        catalog
            .snapshot()
            .sources
            .values()
            .map(|source| format!("{}={}", source.name(), source.id()))
            .collect()
    }

    #[test]
    fn of_colliding_files_the_first_in_sort_order_wins_whatever_loads_first() {
        let (a, x_from_a) = declared("a.wasm", "x", &[]);
        let (b, y_from_b) = declared("b.wasm", "y", &[]);
        let (c, x_from_c) = declared("c.wasm", "x", &[]);
        let catalog = Catalog::from_config(&ServerConfig::default());
        let mut load = FirstLoad::new(&[a.clone(), b.clone(), c.clone()]);

        // Loaded last to first: c serves until a arrives.
        assert!(load.insert(&catalog, &c, x_from_c).0.is_ok());
        assert!(load.insert(&catalog, &b, y_from_b).0.is_ok());
        let (inserted, displaced) = load.insert(&catalog, &a, x_from_a);
        assert!(inserted.is_ok(), "{inserted:?}");
        assert_eq!(displaced.len(), 1, "{displaced:?}");
        assert_eq!(displaced[0].source, SourceId::file(&c));
        assert!(
            displaced[0].reason.contains("/plugins/a.wasm"),
            "{displaced:?}"
        );
        assert_eq!(served(&catalog), ["x=/plugins/a.wasm", "y=/plugins/b.wasm"]);

        for file in [&c, &a] {
            load.done(file);
        }
        assert_eq!(load.pending().collect::<Vec<_>>(), [&b]);
        load.done(&b);
        assert!(load.is_done());
    }

    #[test]
    fn the_outcome_is_that_of_loading_in_order() {
        // a and b are both group `m`; b's tool `t` is also c's (group
        // `q`). In order: a serves, b is refused, c serves.
        let (a, m_from_a) = declared("a.wasm", "m", &[]);
        let (b, m_from_b) = declared("b.wasm", "m", &["t"]);
        let (c, q_from_c) = declared("c.wasm", "q", &["t"]);
        let catalog = Catalog::from_config(&ServerConfig::default());
        let mut load = FirstLoad::new(&[a.clone(), b.clone(), c.clone()]);

        assert!(load.insert(&catalog, &c, q_from_c).0.is_ok());
        // b displaces c...
        let (inserted, displaced) = load.insert(&catalog, &b, m_from_b);
        assert!(inserted.is_ok(), "{inserted:?}");
        assert_eq!(displaced[0].source, SourceId::file(&c));
        assert_eq!(served(&catalog), ["m=/plugins/b.wasm"]);
        // ...and a displaces b, after which c fits again.
        let (inserted, displaced) = load.insert(&catalog, &a, m_from_a);
        assert!(inserted.is_ok(), "{inserted:?}");
        assert_eq!(displaced.len(), 1, "{displaced:?}");
        assert_eq!(displaced[0].source, SourceId::file(&b));
        assert_eq!(served(&catalog), ["m=/plugins/a.wasm", "q=/plugins/c.wasm"]);
    }
}
