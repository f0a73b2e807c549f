//! Directory events → reloads: the plugin directory is watched while it is
//! served, and each `.wasm` file that changes is loaded again on its own.
//!
//! The initial load takes the same path: every file in the directory is
//! scheduled like a changed one, so each group is served as soon as it has
//! loaded (with the sort-order rule for collisions of [`FirstLoad`]), and
//! changes are applied while slow files still load. The catalog is marked
//! ready when every file of the initial load is done, or after
//! `server.load_wait`, whichever comes first: requests wait only that long
//! for what is slow, and clients hear `list_changed` when it arrives.
//!
//! What happens to a file (after the debouncer has let it be quiet for
//! [`DEBOUNCE`]):
//!
//! - new or replaced: loaded (compiled, or mapped from the compile cache)
//!   and swapped into the catalog, which tells every client
//!   `notifications/tools/list_changed`; calls in flight finish on the
//!   version they started with;
//! - same contents as what is served (by hash): nothing happens;
//! - removed: its group stops being served, after a short grace in which a
//!   replacement may appear (`cargo build` removes `target/…/x.wasm`, then
//!   hard-links the new one in its place);
//! - unloadable (does not compile, bad metadata, a name collision): logged
//!   with the file and the reason, recorded in the catalog, sent to clients
//!   as a log notification, and the previous version keeps serving. The same
//!   bytes are not tried again; a changed file is.
//!
//! Half-written files are never served: a file is read only when its size,
//! modification time and inode are the same before and after the read, and
//! a load that fails is only reported once the file has stayed unchanged for
//! [`SETTLE`] (a writer that pauses mid-file makes it fail, then changes it
//! again). Writing to a temporary name and renaming into place is the
//! reliable way to publish a plugin; it is handled like any other change.
//!
//! Only events that can change contents count: create, modify (data or
//! name), remove and close-after-write. Access events (open, close after
//! reading) are ignored, or the host's own reads would trigger reloads.
//! One file is reloaded at a time per path; different files in parallel.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use notify_debouncer_full::notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, DebouncedEvent, Debouncer, RecommendedCache};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::catalog::Catalog;
use crate::load::FirstLoad;
use crate::runtime::{Level, LoadError, Runtime};
use crate::source::{Source, SourceId};

/// How long a file must be quiet before it is looked at.
pub const DEBOUNCE: Duration = Duration::from_millis(50);
/// How long a file must stay unchanged before a failed load of it is
/// reported (rather than blamed on a writer still at work).
pub const SETTLE: Duration = Duration::from_millis(100);
/// How long a removed file may take to reappear before its group is
/// removed.
pub const REMOVE_GRACE: Duration = Duration::from_millis(50);
/// Attempts to find a file unchanged before loading it anyway.
const MAX_ATTEMPTS: u32 = 50;

/// A watch on a plugin directory. Changes are queued from [`Watch::start`]
/// on, so that nothing written during the initial load is missed, and
/// applied by [`spawn_serving`].
pub struct Watch {
    dir: PathBuf,
    events: mpsc::UnboundedReceiver<Vec<PathBuf>>,
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

impl Watch {
    /// Starts watching `dir` (not its subdirectories).
    pub fn start(dir: &Path) -> anyhow::Result<Watch> {
        let (sender, events) = mpsc::unbounded_channel();
        let watched = dir.to_owned();
        let mut debouncer = notify_debouncer_full::new_debouncer(
            DEBOUNCE,
            None,
            move |result: DebounceEventResult| match result {
                Ok(events) => {
                    let paths = changed_files(&watched, &events);
                    if !paths.is_empty() {
                        let _ = sender.send(paths);
                    }
                }
                Err(errors) => {
                    for error in errors {
                        tracing::warn!(dir = %watched.display(), "watching the plugin directory: {error}");
                    }
                }
            },
        )
        .with_context(|| format!("cannot watch plugin directory {}", dir.display()))?;
        debouncer
            .watch(dir, RecursiveMode::NonRecursive)
            .with_context(|| format!("cannot watch plugin directory {}", dir.display()))?;
        Ok(Watch {
            dir: dir.to_owned(),
            events,
            _debouncer: debouncer,
        })
    }
}

/// Loads `initial` (the directory's files at start) and then, with
/// `events`, every change, until `events` ends (or, without it, until the
/// initial load is done).
async fn serve(
    dir: PathBuf,
    initial: Vec<PathBuf>,
    mut events: Option<mpsc::UnboundedReceiver<Vec<PathBuf>>>,
    runtime: Arc<Runtime>,
    catalog: Arc<Catalog>,
) {
    let load_wait = runtime.config().server.load_wait.0;
    let mut reloads = Reloads {
        reloader: Arc::new(Reloader {
            dir: dir.clone(),
            runtime,
            catalog,
            failed: Mutex::default(),
            first: Mutex::new(Some(FirstLoad::new(&initial))),
        }),
        busy: HashSet::new(),
        again: HashSet::new(),
        tasks: JoinSet::new(),
    };
    let started = Instant::now();
    for path in initial {
        reloads.schedule(path);
    }
    let mut first_done = reloads.reloader.first_load_done(None);
    if first_done {
        reloads
            .reloader
            .initial_load_over(&dir, started, events.is_some());
    }
    let give_up = tokio::time::sleep(load_wait);
    tokio::pin!(give_up);
    loop {
        tokio::select! {
            batch = async { events.as_mut()?.recv().await }, if events.is_some() => {
                let Some(batch) = batch else { break };
                for path in batch {
                    if path == dir {
                        // Events were lost (queue overflow): look at
                        // every file, present or served.
                        for path in reloads.reloader.everything() {
                            reloads.schedule(path);
                        }
                    } else {
                        reloads.schedule(path);
                    }
                }
            }
            Some(done) = reloads.tasks.join_next(), if !reloads.tasks.is_empty() => {
                match done {
                    Ok((path, follow_ups)) => {
                        if !first_done && reloads.reloader.first_load_done(Some(&path)) {
                            first_done = true;
                            reloads.reloader.initial_load_over(&dir, started, events.is_some());
                        }
                        reloads.finished(path);
                        follow_ups.into_iter().for_each(|path| reloads.schedule(path));
                    }
                    Err(e) => tracing::error!("a reload task crashed: {e}"),
                }
            }
            () = &mut give_up, if !first_done && !reloads.reloader.catalog.is_ready() => {
                let waiting = reloads.reloader.still_loading();
                tracing::warn!(
                    dir = %dir.display(),
                    waited_ms = load_wait.as_millis() as u64,
                    "serving what has loaded so far (limit: server.load_wait); still loading: {}",
                    waiting.join(", ")
                );
                reloads.reloader.catalog.mark_ready();
            }
            else => break,
        }
    }
}

/// Reloads under way: at most one per file; a change that arrives during
/// one is looked at again when it is done.
struct Reloads {
    reloader: Arc<Reloader>,
    busy: HashSet<PathBuf>,
    again: HashSet<PathBuf>,
    tasks: JoinSet<(PathBuf, Vec<PathBuf>)>,
}

impl Reloads {
    fn schedule(&mut self, path: PathBuf) {
        if self.busy.contains(&path) {
            self.again.insert(path);
            return;
        }
        self.busy.insert(path.clone());
        let reloader = self.reloader.clone();
        self.tasks.spawn(async move {
            let follow_ups = reloader.reload(&path).await;
            (path, follow_ups)
        });
    }

    fn finished(&mut self, path: PathBuf) {
        self.busy.remove(&path);
        if self.again.remove(&path) {
            self.schedule(path);
        }
    }
}

/// Loads changed files into the catalog.
struct Reloader {
    dir: PathBuf,
    runtime: Arc<Runtime>,
    catalog: Arc<Catalog>,
    /// Files whose last load failed, with the hash of what failed: the same
    /// bytes are not tried again.
    failed: Mutex<HashMap<PathBuf, blake3::Hash>>,
    /// The initial load, until every file of it is done.
    first: Mutex<Option<FirstLoad>>,
}

/// What a file looks like when it is read.
enum FileState {
    Missing,
    /// Being written: it changed while it was read.
    Changing,
    /// Over `server.max_component_size`: not read.
    TooLarge(u64),
    Read {
        bytes: Vec<u8>,
        stamp: Stamp,
    },
}

impl Reloader {
    /// Brings what the catalog serves from `path` up to date with the file.
    /// Returns other files worth another look (after a removal, the files
    /// that failed: one may have collided with the removed group).
    async fn reload(&self, path: &Path) -> Vec<PathBuf> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let max_size = self.runtime.config().server.max_component_size.0;
            let state = read_when_still(path.to_owned(), max_size).await;
            let (bytes, stamp) = match state {
                FileState::TooLarge(size) => {
                    if let Err(error) = self.runtime.check_size(path, size) {
                        let serving = self
                            .catalog
                            .snapshot()
                            .sources
                            .contains_key(&SourceId::file(path));
                        self.failed(&error, serving);
                    }
                    return Vec::new();
                }
                FileState::Missing => {
                    tokio::time::sleep(REMOVE_GRACE).await;
                    if Stamp::of(path).is_some() {
                        continue;
                    }
                    return self.removed(path);
                }
                FileState::Changing if attempt < MAX_ATTEMPTS => {
                    tokio::time::sleep(DEBOUNCE).await;
                    continue;
                }
                FileState::Changing => {
                    tracing::warn!(file = %path.display(), "the file keeps changing; waiting for the next change");
                    return Vec::new();
                }
                FileState::Read { bytes, stamp } => (bytes, stamp),
            };
            let hash = blake3::hash(&bytes);
            let snapshot = self.catalog.snapshot();
            let previous = snapshot.sources.get(&SourceId::file(path)).cloned();
            if previous
                .as_ref()
                .is_some_and(|source| source.digest() == Some(hash))
            {
                self.failed_lock().remove(path);
                return Vec::new();
            }
            if self.failed_lock().get(path) == Some(&hash) {
                return Vec::new();
            }
            let started = Instant::now();
            let loaded = self.runtime.load_bytes(path, bytes).await;
            let loaded = loaded.and_then(|group| {
                let summary = (
                    group.name.clone(),
                    group.description.info.version.clone(),
                    group.cached,
                );
                self.insert(path, Arc::new(group)).map(|()| summary)
            });
            match loaded {
                Ok((name, version, cached)) => {
                    self.failed_lock().remove(path);
                    let took_ms = started.elapsed().as_millis() as u64;
                    match &previous {
                        Some(old) => {
                            tracing::info!(group = %name, version, file = %path.display(), took_ms, cached, "reloaded");
                            if let Some(digest) = old.digest() {
                                self.forget_compiled(&digest);
                            }
                        }
                        None => {
                            tracing::info!(group = %name, version, file = %path.display(), took_ms, cached, "loaded")
                        }
                    }
                    return Vec::new();
                }
                Err(error) => {
                    // A file still being written in place fails to load;
                    // it is only a failure if it has stopped changing.
                    tokio::time::sleep(SETTLE).await;
                    if Stamp::of(path) != Some(stamp) && attempt < MAX_ATTEMPTS {
                        continue;
                    }
                    self.failed(&error, previous.is_some());
                    self.failed_lock().insert(path.to_owned(), hash);
                    return Vec::new();
                }
            }
        }
    }

    /// Serves `source`, loaded from `path`: by the rule of the initial load
    /// while `path` is part of it, else replacing what `path` served.
    fn insert(&self, path: &Path, source: Arc<dyn Source>) -> Result<(), LoadError> {
        let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
        let Some(first) = first.as_mut().filter(|first| first.includes(path)) else {
            return self.catalog.insert(source);
        };
        let (inserted, displaced) = first.insert(&self.catalog, path, source);
        for error in displaced {
            self.failed(&error, false);
        }
        inserted
    }

    /// Notes that the load of `path` is done; whether every file of the
    /// initial load is. The rule of the initial load ends with it.
    fn first_load_done(&self, path: Option<&Path>) -> bool {
        let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
        let Some(load) = first.as_mut() else {
            return true;
        };
        if let Some(path) = path {
            load.done(path);
        }
        let done = load.is_done();
        if done {
            *first = None;
        }
        done
    }

    /// The files of the initial load not done yet.
    fn still_loading(&self) -> Vec<String> {
        let first = self.first.lock().unwrap_or_else(|e| e.into_inner());
        first
            .iter()
            .flat_map(|load| load.pending())
            .map(|path| path.display().to_string())
            .collect()
    }

    /// Marks the catalog ready (if the wait did not already), reports the
    /// initial load and cleans the compile cache.
    fn initial_load_over(&self, dir: &Path, started: Instant, watching: bool) {
        self.catalog.mark_ready();
        let snapshot = self.catalog.snapshot();
        tracing::info!(
            dir = %dir.display(),
            groups = snapshot.sources.len(),
            tools = snapshot.tools.len(),
            failed = snapshot.failures.len(),
            took_ms = started.elapsed().as_millis() as u64,
            watching,
            "plugin directory loaded"
        );
        if let Some(cache) = self.runtime.cache().cloned() {
            tokio::task::spawn_blocking(move || {
                let removed = cache.clean();
                if removed > 0 {
                    tracing::debug!(dir = %cache.dir().display(), removed, "cleaned the compile cache");
                }
            });
        }
    }

    fn failed(&self, error: &LoadError, serving: bool) {
        let outcome = if serving {
            "the previous version keeps serving"
        } else {
            "nothing is served from it"
        };
        tracing::error!("cannot load {}: {}; {outcome}", error.source, error.reason);
        self.catalog.record_failure(error);
        self.catalog.notify(
            Level::Error,
            format!("cannot load {}: {}; {outcome}", error.source, error.reason),
        );
    }

    fn removed(&self, path: &Path) -> Vec<PathBuf> {
        let id = SourceId::file(path);
        let served = self.catalog.snapshot().sources.get(&id).cloned();
        self.catalog.remove(&id);
        self.failed_lock().remove(path);
        let Some(source) = served else {
            return Vec::new();
        };
        tracing::info!(group = %source.name(), file = %path.display(), "removed");
        if let Some(digest) = source.digest() {
            self.forget_compiled(&digest);
        }
        // A file refused for colliding with this group may load now.
        self.failed_lock().clear();
        file_paths(self.catalog.snapshot().failures.keys())
    }

    /// Drops the cached compilation of a version nothing serves any more.
    fn forget_compiled(&self, hash: &blake3::Hash) {
        let Some(cache) = self.runtime.cache() else {
            return;
        };
        if !self
            .catalog
            .snapshot()
            .sources
            .values()
            .any(|source| source.digest() == Some(*hash))
        {
            cache.forget(hash);
        }
    }

    /// Every `.wasm` file in the directory and every file served from it.
    fn everything(&self) -> Vec<PathBuf> {
        let snapshot = self.catalog.snapshot();
        let mut paths: HashSet<PathBuf> = crate::load::component_files(&self.dir)
            .unwrap_or_default()
            .into_iter()
            .collect();
        paths.extend(file_paths(snapshot.sources.keys()));
        paths.extend(file_paths(snapshot.failures.keys()));
        paths.into_iter().collect()
    }

    fn failed_lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, blake3::Hash>> {
        self.failed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The files of the file sources among `ids`.
fn file_paths<'a>(ids: impl Iterator<Item = &'a SourceId>) -> Vec<PathBuf> {
    ids.filter_map(|id| id.path().map(Path::to_owned)).collect()
}

/// Reads `path` if it is at most `max_size` bytes and does not change
/// while being read.
async fn read_when_still(path: PathBuf, max_size: u64) -> FileState {
    tokio::task::spawn_blocking(move || {
        let Some(before) = Stamp::of(&path) else {
            return FileState::Missing;
        };
        if before.len > max_size {
            return FileState::TooLarge(before.len);
        }
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileState::Missing,
            Err(_) => return FileState::Changing,
        };
        match Stamp::of(&path) {
            None => FileState::Missing,
            Some(after) if after == before && bytes.len() as u64 == before.len => FileState::Read {
                bytes,
                stamp: before,
            },
            Some(_) => FileState::Changing,
        }
    })
    .await
    .unwrap_or(FileState::Changing)
}

/// What changes when a file is written or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl Stamp {
    /// `None` when `path` is not a file (any more).
    fn of(path: &Path) -> Option<Stamp> {
        let metadata = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Stamp {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            inode,
        })
    }
}

/// The `.wasm` files of `dir` that debounced `events` may have changed, as
/// `dir.join(name)` (the form the catalog knows them by); `dir` itself when
/// events were lost and everything must be looked at.
fn changed_files(dir: &Path, events: &[DebouncedEvent]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for event in events {
        if event.need_rescan() {
            files.push(dir.to_owned());
            continue;
        }
        if !changes_contents(&event.kind) {
            continue;
        }
        for path in &event.paths {
            let Some(name) = path.file_name() else {
                continue;
            };
            let file = dir.join(name);
            if file.extension().is_some_and(|ext| ext == "wasm") && !files.contains(&file) {
                files.push(file);
            }
        }
    }
    files
}

/// Whether an event can mean new contents (not an access, not metadata).
pub(crate) fn changes_contents(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any)
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
    )
}

/// Serves `dir` from a background task: the initial load (after which the
/// catalog is ready and stale compile cache entries are cleaned), then,
/// with `watch`, every change until the task is aborted. Changes are
/// applied during the initial load too.
pub fn spawn_serving(
    runtime: Arc<Runtime>,
    catalog: Arc<Catalog>,
    dir: PathBuf,
    watch: Option<Watch>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let initial = crate::load::component_files(&dir).unwrap_or_else(|e| {
            tracing::error!("{e:#}");
            Vec::new()
        });
        if initial.is_empty() {
            tracing::warn!(dir = %dir.display(), "no .wasm components in the plugin directory");
        }
        // The debouncer stops when dropped: it lives as long as the task.
        let (events, _debouncer) = match watch {
            Some(watch) => {
                tracing::debug!(dir = %watch.dir.display(), "watching the plugin directory");
                (Some(watch.events), Some(watch._debouncer))
            }
            None => (None, None),
        };
        serve(dir, initial, events, runtime, catalog).await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify_debouncer_full::notify::Event;
    use notify_debouncer_full::notify::event::{CreateKind, DataChange, MetadataKind, RenameMode};

    fn debounced(kind: EventKind, paths: &[&str]) -> DebouncedEvent {
        let mut event = Event::new(kind);
        for path in paths {
            event = event.add_path(PathBuf::from(path));
        }
        DebouncedEvent::new(event, Instant::now())
    }

    #[test]
    fn only_content_changes_to_wasm_files_count() {
        let dir = Path::new("/p");
        let events = [
            debounced(
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                &["/p/a.wasm"],
            ),
            debounced(
                EventKind::Access(AccessKind::Close(AccessMode::Read)),
                &["/p/a.wasm"],
            ),
            debounced(
                EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
                &["/p/a.wasm"],
            ),
            debounced(EventKind::Create(CreateKind::File), &["/p/notes.txt"]),
            debounced(EventKind::Create(CreateKind::File), &["/p/b.wasm.tmp"]),
        ];
        assert!(changed_files(dir, &events).is_empty());

        let events = [
            debounced(EventKind::Create(CreateKind::File), &["/p/a.wasm"]),
            debounced(
                EventKind::Modify(ModifyKind::Data(DataChange::Any)),
                &["/p/a.wasm"],
            ),
            debounced(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                &["/p/b.wasm"],
            ),
            debounced(
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
                &["/p/c.wasm", "/p/d.wasm"],
            ),
            debounced(
                EventKind::Remove(notify_debouncer_full::notify::event::RemoveKind::File),
                &["/p/e.wasm"],
            ),
        ];
        let names: Vec<PathBuf> = changed_files(dir, &events);
        let expected: Vec<PathBuf> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|n| dir.join(format!("{n}.wasm")))
            .collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn a_file_that_changes_while_read_is_not_used() {
        let dir = std::env::temp_dir().join(format!("toolhost-watch-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.wasm");
        std::fs::write(&file, b"first").unwrap();
        let before = Stamp::of(&file).unwrap();
        std::fs::write(&file, b"second, longer").unwrap();
        assert_ne!(Stamp::of(&file), Some(before));
        let tmp = dir.join("a.wasm.tmp");
        std::fs::write(&tmp, b"second, longer").unwrap();
        let written = Stamp::of(&file).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        assert_ne!(Stamp::of(&file), Some(written), "a rename is a new file");
        std::fs::remove_file(&file).unwrap();
        assert_eq!(Stamp::of(&file), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
