//! The compile cache: compiled components on disk, so that a warm start
//! maps them instead of compiling.
//!
//! Layout: `<dir>/<engine>/<content>.cwasm`, and beside it
//! `<content>-<host>.describe`, what the component declared about
//! itself (JSON), where `<engine>` is a digest of
//! [`Engine::precompile_compatibility_hash`] (compiler, target, tunables,
//! wasm features and the wasmtime version) and `<content>` is the blake3
//! hash of the component's bytes. A component is looked up by exactly what
//! determines its compiled form, so an entry never needs invalidating: a
//! changed file or another engine configuration simply names another
//! entry.
//!
//! Entries are written to a temporary file in the same directory and
//! renamed into place, so a reader sees either nothing or a complete file,
//! never a partial one, and an entry is never modified once it is visible
//! (it is mapped by [`Component::deserialize_file`]). Stale entries are
//! removed: the entry of a version a reload replaced, entries not used for
//! [`UNUSED_FOR`], and temporary files left by a crash.

use std::hash::Hasher;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::source::Description;

/// Entries not used for this long are removed by [`CompileCache::clean`].
pub const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// A hit refreshes an entry's modification time (what [`UNUSED_FOR`] is
/// measured from) at most this often, so warm starts do not write.
const TOUCH_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Temporary files older than this were left by a process that died while
/// writing them.
const ABANDONED_AFTER: Duration = Duration::from_secs(3600);
const EXTENSION: &str = "cwasm";
const DESCRIPTION: &str = "describe";

fn description_name(hash: &blake3::Hash) -> String {
    // What a description means follows from the host's version and the
    // world it reads it through.
    static HOST: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut key = blake3::Hasher::new();
        key.update(env!("CARGO_PKG_VERSION").as_bytes());
        key.update(include_str!("../../../wit/plugin.wit").as_bytes());
        key.finalize().to_hex()[..16].to_owned()
    });
    format!("{}-{}.{DESCRIPTION}", hash.to_hex(), *HOST)
}

/// A compile cache directory.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

/// Where a compiled component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled now (and stored, when there is a cache).
    Compiled,
    /// Mapped from the cache.
    Cached,
}

impl CompileCache {
    /// A cache in `dir` (created when the first entry is stored).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The default location: `$XDG_CACHE_HOME/toolhost`, else
    /// `$HOME/.cache/toolhost`; `None` when neither is set.
    pub fn default_dir() -> Option<PathBuf> {
        crate::config::user_dir("XDG_CACHE_HOME", ".cache")
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory holding the entries of `engine`.
    pub fn engine_dir(&self, engine: &Engine) -> PathBuf {
        self.dir.join(engine_key(engine))
    }

    /// Maps the cached compilation of `bytes` (whose hash is `hash`) or
    /// compiles it in this process and stores the result. Blocking: call it
    /// off the async threads. A cache that cannot be read or written costs
    /// a compilation and a log line, never a failed load.
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        hash: &blake3::Hash,
    ) -> wasmtime::Result<(Component, Origin)> {
        if let Some(component) = self.lookup(engine, hash) {
            return Ok((component, Origin::Cached));
        }
        let component = Component::new(engine, bytes)?;
        let serialized = component.serialize()?;
        Ok((
            self.store(engine, hash, &serialized).unwrap_or(component),
            Origin::Compiled,
        ))
    }

    /// Maps the cached compilation of the component whose hash is `hash`,
    /// if there is one. Blocking but quick (no compilation). An unusable
    /// entry is removed.
    pub fn lookup(&self, engine: &Engine, hash: &blake3::Hash) -> Option<Component> {
        let entry = self.entry(engine, hash);
        if !entry.is_file() {
            return None;
        }
        match map(engine, &entry) {
            Ok(component) => {
                touch(&entry);
                Some(component)
            }
            Err(e) => {
                tracing::warn!(entry = %entry.display(), "unusable compile cache entry, compiling again: {e:#}");
                let _ = std::fs::remove_file(&entry);
                None
            }
        }
    }

    /// Stores `serialized` (the output of [`Component::serialize`] by
    /// `engine`, or an engine of the same compatibility hash) as the entry
    /// of `hash` and maps it. Blocking. `None`, after a log line, when the
    /// entry cannot be written or read back: the caller still has the
    /// compilation.
    pub fn store(
        &self,
        engine: &Engine,
        hash: &blake3::Hash,
        serialized: &[u8],
    ) -> Option<Component> {
        let dir = self.engine_dir(engine);
        let entry = self.entry(engine, hash);
        // Serve from the file just written, as a warm start would: the code
        // then lives in file-backed pages the kernel can share and evict,
        // and the compiled copy on the heap is freed.
        match write_entry(&dir, &entry, serialized).and_then(|()| {
            map(engine, &entry).map_err(|e| anyhow::anyhow!("{}: {e:#}", entry.display()))
        }) {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "cannot write to the compile cache: {e:#}");
                None
            }
        }
    }

    /// What the component whose hash is `hash` said about itself when this
    /// version of the host loaded it, if that is cached: a warm start lists
    /// its tools from this and maps the compilation at its first call.
    /// Blocking but quick. An unreadable entry is removed.
    pub fn description(&self, engine: &Engine, hash: &blake3::Hash) -> Option<Description> {
        let entry = self.description_entry(engine, hash);
        let text = std::fs::read(&entry).ok()?;
        match serde_json::from_slice(&text) {
            Ok(description) => {
                touch(&entry);
                Some(description)
            }
            Err(e) => {
                tracing::warn!(entry = %entry.display(), "unusable cached description, describing again: {e}");
                let _ = std::fs::remove_file(&entry);
                None
            }
        }
    }

    /// Stores `description` as what the component whose hash is `hash`
    /// says about itself. Blocking. A failure costs a log line.
    pub fn store_description(
        &self,
        engine: &Engine,
        hash: &blake3::Hash,
        description: &Description,
    ) {
        let entry = self.description_entry(engine, hash);
        if entry.is_file() {
            return;
        }
        let stored = serde_json::to_vec(description)
            .map_err(anyhow::Error::from)
            .and_then(|text| write_entry(&self.engine_dir(engine), &entry, &text));
        if let Err(e) = stored {
            tracing::warn!(dir = %self.dir.display(), "cannot write to the compile cache: {e:#}");
        }
    }

    /// Descriptions are valid for the host that made them (its version and
    /// WIT world): another may describe or link differently.
    fn description_entry(&self, engine: &Engine, hash: &blake3::Hash) -> PathBuf {
        self.engine_dir(engine).join(description_name(hash))
    }

    fn entry(&self, engine: &Engine, hash: &blake3::Hash) -> PathBuf {
        self.engine_dir(engine)
            .join(format!("{}.{EXTENSION}", hash.to_hex()))
    }

    /// Removes the entries of content `hash`, for every engine: the file it
    /// came from was replaced or removed.
    pub fn forget(&self, hash: &blake3::Hash) {
        let name = format!("{}.{EXTENSION}", hash.to_hex());
        for engine_dir in subdirectories(&self.dir) {
            let _ = std::fs::remove_file(engine_dir.join(&name));
            let _ = std::fs::remove_file(engine_dir.join(description_name(hash)));
        }
    }

    /// Removes entries unused for [`UNUSED_FOR`], abandoned temporary files
    /// and engine directories left empty. Returns how many files it removed.
    pub fn clean(&self) -> usize {
        self.clean_older_than(UNUSED_FOR)
    }

    fn clean_older_than(&self, unused_for: Duration) -> usize {
        let now = SystemTime::now();
        let mut removed = 0;
        for engine_dir in subdirectories(&self.dir) {
            let Ok(entries) = std::fs::read_dir(&engine_dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let age = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|modified| now.duration_since(modified).ok())
                    .unwrap_or_default();
                let stale = match path.extension().and_then(|e| e.to_str()) {
                    Some(EXTENSION | DESCRIPTION) => age > unused_for,
                    Some("tmp") => age > ABANDONED_AFTER.min(unused_for),
                    _ => false,
                };
                if stale && std::fs::remove_file(&path).is_ok() {
                    removed += 1;
                }
            }
            // Fails unless empty, which is what is wanted.
            let _ = std::fs::remove_dir(&engine_dir);
        }
        removed
    }
}

/// Maps a cache entry.
fn map(engine: &Engine, entry: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` trusts the file to be the unmodified output
    // of `Component::serialize` by a compatible engine, and to stay
    // unchanged while mapped. Both hold for the entries of this cache: it
    // only reads files it wrote itself (from the output of this process or
    // of the compiler child it runs, the same binary: see `compile`), under the digest of the engine's
    // compatibility hash (wasmtime also checks the version and configuration
    // recorded in the file and refuses a mismatch with an error); every
    // entry was written completely to a temporary file and renamed into
    // place, so it is never partial; and no entry is ever written to again
    // once visible (it is replaced by rename or removed by unlink, both of
    // which leave an existing mapping intact). The directory is created
    // private to the user (0700), so only the user running the host, who
    // could run arbitrary code anyway, can put files there.
    unsafe { Component::deserialize_file(engine, entry) }
}

/// A digest of the engine's compatibility hash, as a directory name.
fn engine_key(engine: &Engine) -> String {
    let mut hasher = Blake3Hasher(blake3::Hasher::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    let digest = hasher.0.finalize();
    digest.to_hex()[..32].to_owned()
}

/// Feeds `std::hash::Hash` into blake3, whose output (unlike
/// `DefaultHasher`'s) is the same in every build and every process.
struct Blake3Hasher(blake3::Hasher);

impl Hasher for Blake3Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.finalize();
        u64::from_le_bytes(digest.as_bytes()[..8].try_into().expect("8 bytes"))
    }
}

/// Writes `serialized` to `entry` through a temporary file in the same
/// directory, then renames it into place.
fn write_entry(dir: &Path, entry: &Path, serialized: &[u8]) -> anyhow::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    create_private_dir(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        entry
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("entry"),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(serialized)?;
        file.sync_data()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, entry)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::anyhow!("{}: {e}", entry.display()));
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Refreshes the modification time of an entry that was just used, when it
/// is old enough for that to matter.
fn touch(entry: &Path) {
    let old = std::fs::metadata(entry)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| modified.elapsed().ok())
        .is_some_and(|age| age > TOUCH_AFTER);
    if old && let Ok(file) = std::fs::File::options().append(true).open(entry) {
        let _ = file.set_modified(SystemTime::now());
    }
}

fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .map(|entry| entry.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: no imports, no exports.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    fn engine(fuel: bool) -> Engine {
        let mut config = wasmtime::Config::new();
        config.concurrency_support(false).consume_fuel(fuel);
        Engine::new(&config).unwrap()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("toolhost-cache-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn count_entries(dir: &Path) -> usize {
        subdirectories(dir)
            .iter()
            .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
            .filter(|e| e.path().extension().is_some_and(|x| x == EXTENSION))
            .count()
    }

    #[test]
    fn a_second_load_maps_the_stored_compilation() {
        let dir = temp_dir("hit");
        let cache = CompileCache::new(dir.clone());
        let engine = engine(false);
        let hash = blake3::hash(EMPTY_COMPONENT);
        let (_, first) = cache.load(&engine, EMPTY_COMPONENT, &hash).unwrap();
        let (_, second) = cache.load(&engine, EMPTY_COMPONENT, &hash).unwrap();
        assert_eq!((first, second), (Origin::Compiled, Origin::Cached));
        assert_eq!(count_entries(&dir), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_corrupt_entry_is_replaced_by_a_compilation() {
        let dir = temp_dir("corrupt");
        let cache = CompileCache::new(dir.clone());
        let engine = engine(false);
        let hash = blake3::hash(EMPTY_COMPONENT);
        let engine_dir = cache.engine_dir(&engine);
        std::fs::create_dir_all(&engine_dir).unwrap();
        std::fs::write(
            engine_dir.join(format!("{}.{EXTENSION}", hash.to_hex())),
            b"garbage",
        )
        .unwrap();
        let (_, origin) = cache.load(&engine, EMPTY_COMPONENT, &hash).unwrap();
        assert_eq!(origin, Origin::Compiled);
        let (_, origin) = cache.load(&engine, EMPTY_COMPONENT, &hash).unwrap();
        assert_eq!(origin, Origin::Cached);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn engines_with_another_configuration_use_another_directory() {
        let cache = CompileCache::new(temp_dir("engines"));
        let plain = engine(false);
        let fueled = engine(true);
        assert_eq!(cache.engine_dir(&plain), cache.engine_dir(&engine(false)));
        assert_ne!(cache.engine_dir(&plain), cache.engine_dir(&fueled));
    }

    #[test]
    fn forget_and_clean_remove_stale_entries() {
        let dir = temp_dir("clean");
        let cache = CompileCache::new(dir.clone());
        let engine = engine(false);
        let hash = blake3::hash(EMPTY_COMPONENT);
        cache.load(&engine, EMPTY_COMPONENT, &hash).unwrap();
        cache.forget(&hash);
        assert_eq!(count_entries(&dir), 0);

        cache.load(&engine, EMPTY_COMPONENT, &hash).unwrap();
        std::fs::write(cache.engine_dir(&engine).join(".x.1.2.tmp"), b"partial").unwrap();
        assert_eq!(cache.clean(), 0, "fresh entries stay");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(cache.clean_older_than(Duration::from_millis(1)), 2);
        assert!(
            subdirectories(&dir).is_empty(),
            "the empty engine directory is removed"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
