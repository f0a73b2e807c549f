//! Temporary plugin directories.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A temporary directory laid out as a user would set one up:
///
/// ```text
/// <root>/plugins/*.wasm     the directory `toolhost serve` loads
/// <root>/toolhost.toml      the config file, when one was set
/// <root>/<name>/            directories a test grants to a group
/// ```
///
/// Removed when dropped.
pub struct PluginDir {
    root: PathBuf,
}

impl PluginDir {
    /// An empty plugin directory.
    pub fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "toolhost-tests-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let root = std::env::temp_dir().join(unique);
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("plugins")).expect("create plugin dir");
        // Canonical, so that paths in the host's messages compare equal.
        let root = root.canonicalize().expect("canonical temp dir");
        PluginDir { root }
    }

    /// A plugin directory holding copies of `components` (paths from
    /// [`crate::artifacts`]).
    pub fn with(components: &[&str]) -> Self {
        let dir = PluginDir::new();
        for component in components {
            dir.add(component);
        }
        dir
    }

    /// Copies `component` into the plugin directory under its own file name.
    pub fn add(&self, component: &str) -> PathBuf {
        let name = Path::new(component)
            .file_name()
            .expect("component file name");
        let to = self.plugins().join(name);
        std::fs::copy(component, &to).unwrap_or_else(|e| panic!("copy {component}: {e}"));
        to
    }

    /// Writes a file named `name` with `bytes` into the plugin directory.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let to = self.plugins().join(name);
        std::fs::write(&to, bytes).unwrap_or_else(|e| panic!("write {}: {e}", to.display()));
        to
    }

    /// Writes `toolhost.toml`; the server is then started with `--config`.
    pub fn set_config(&self, toml: &str) -> &Self {
        std::fs::write(self.config_file(), toml).expect("write toolhost.toml");
        self
    }

    /// The config file, if [`Self::set_config`] wrote one.
    pub fn config(&self) -> Option<PathBuf> {
        Some(self.config_file()).filter(|file| file.is_file())
    }

    /// Creates `<root>/<name>`, a host directory a test can grant to a group.
    pub fn make_dir(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        dir
    }

    /// The directory `toolhost serve` loads.
    pub fn plugins(&self) -> PathBuf {
        self.root.join("plugins")
    }

    /// The temporary root holding everything else.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn config_file(&self) -> PathBuf {
        self.root.join("toolhost.toml")
    }
}

impl Default for PluginDir {
    fn default() -> Self {
        PluginDir::new()
    }
}

impl Drop for PluginDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
