//! The embedded state store: one `redb` file, `state.redb` in
//! `server.data_dir`, opened once per process and shared by every group.
//!
//! Three tables, all keyed by the group's name first, so that one group's
//! operations can only ever reach its own rows:
//!
//! - `entries`: (group, key) → (expiry in ms since the epoch or 0, value);
//! - `usage`: group → (keys, bytes of keys and values): what the quotas are
//!   checked against, updated in the same write transaction as the entry;
//! - `expiring`: (expiry, group, key) → (), so that the sweep visits only
//!   expired keys.
//!
//! Every operation is one transaction (redb runs one writer at a time,
//! which makes `increment` atomic) and runs on the blocking pool. Expiry is
//! by the wall clock, so a TTL survives a restart. An expired key is absent
//! at once; its row is removed when an operation meets it, or by the sweep
//! every [`SWEEP_EVERY`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use futures::FutureExt as _;
use futures::future::BoxFuture;
use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction};

use super::{KvError, KvResult, KvStore, Scope, grouped};

/// The file's name in the data directory.
pub const FILE_NAME: &str = "state.redb";

/// How often expired keys are removed in the background.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Most expired keys one sweep transaction removes (more wait for the next
/// round), so a sweep never holds the writer for long.
const SWEEP_BATCH: usize = 1000;

type Entry<'a> = (u64, &'a [u8]);

const ENTRIES: TableDefinition<(&str, &str), Entry> = TableDefinition::new("entries");
const USAGE: TableDefinition<&str, (u64, u64)> = TableDefinition::new("usage");
const EXPIRING: TableDefinition<(u64, &str, &str), ()> = TableDefinition::new("expiring");

/// The embedded [`KvStore`].
pub struct EmbeddedStore {
    db: Arc<Db>,
}

/// The database itself, shared with the blocking tasks.
struct Db {
    db: Database,
    path: PathBuf,
}

impl EmbeddedStore {
    /// Opens (or creates) `state.redb` in `dir`, and starts its sweep when
    /// there is an async runtime. Blocking: once per process.
    pub fn open(dir: &Path) -> anyhow::Result<Arc<Self>> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        let path = dir.join(FILE_NAME);
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => anyhow::anyhow!(
                "the state store {} is in use by another toolhost process; \
                 give each process its own `server.data_dir` (or --data-dir)",
                path.display()
            ),
            e => anyhow::anyhow!("cannot open the state store {}: {e}", path.display()),
        })?;
        let db = Db { db, path };
        // Created up front, so that reads never meet a missing table.
        db.write(|_| Ok(()))
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("cannot set up the state store {}", db.path.display()))?;
        let store = Arc::new(Self { db: Arc::new(db) });
        crate::http::every(Arc::downgrade(&store.db), SWEEP_EVERY, |db| async move {
            let swept = tokio::task::spawn_blocking(move || db.sweep(now_ms(), SWEEP_BATCH)).await;
            if let Ok(Err(e)) = swept {
                tracing::warn!("state store sweep failed: {e}");
            }
        });
        Ok(store)
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.db.path
    }

    /// Runs `op` on the blocking pool.
    fn blocking<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Db) -> KvResult<T> + Send + 'static,
    ) -> BoxFuture<'static, KvResult<T>> {
        let db = self.db.clone();
        async move {
            tokio::task::spawn_blocking(move || op(&db))
                .await
                .map_err(|e| KvError::Store(format!("the store task failed: {e}")))?
        }
        .boxed()
    }

    /// Removes up to `max` keys that expired at `now` (ms since the epoch);
    /// how many.
    pub fn sweep(&self, now: u64, max: usize) -> KvResult<usize> {
        self.db.sweep(now, max)
    }
}

// Reads are answered at once on the caller's thread: a redb read
// transaction never waits for a writer, and a call that only reads then
// finishes without a hop to the blocking pool (nor a move to the guest
// threads). Writes wait for their commit on the blocking pool.
impl KvStore for EmbeddedStore {
    fn get(&self, scope: Arc<Scope>, key: String) -> BoxFuture<'static, KvResult<Option<Vec<u8>>>> {
        let now = now_ms();
        let answer = match self.db.lookup(&scope.group, &key) {
            Ok(Some((expiry, value))) if !expired(expiry, now) => Ok(Some(value)),
            Ok(Some(_)) => {
                // Expired: purge it now rather than wait for the sweep,
                // without making the reader wait for the write.
                let db = self.db.clone();
                tokio::task::spawn_blocking(move || {
                    db.write(|tables| tables.purge_expired(&scope.group, &key, now))
                });
                Ok(None)
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        futures::future::ready(answer).boxed()
    }

    fn set(
        &self,
        scope: Arc<Scope>,
        key: String,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'static, KvResult<()>> {
        self.blocking(move |db| db.set(&scope, &key, &value, ttl, now_ms()))
    }

    fn delete(&self, scope: Arc<Scope>, key: String) -> BoxFuture<'static, KvResult<bool>> {
        self.blocking(move |db| {
            let now = now_ms();
            db.write(|tables| Ok(tables.remove(&scope.group, &key, now)? == Some(true)))
        })
    }

    fn keys(
        &self,
        scope: Arc<Scope>,
        prefix: String,
        after: Option<String>,
        limit: u32,
    ) -> BoxFuture<'static, KvResult<Vec<String>>> {
        let keys = self
            .db
            .keys(&scope.group, &prefix, after.as_deref(), limit, now_ms());
        futures::future::ready(keys).boxed()
    }

    fn increment(
        &self,
        scope: Arc<Scope>,
        key: String,
        delta: i64,
    ) -> BoxFuture<'static, KvResult<i64>> {
        self.blocking(move |db| db.increment(&scope, &key, delta, now_ms()))
    }
}

/// Milliseconds since the epoch, the clock expiries are written in.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn failed(e: impl Into<redb::Error>) -> KvError {
    KvError::Store(e.into().to_string())
}

/// The tables of one write transaction.
struct Tables<'t> {
    entries: Table<'t, (&'static str, &'static str), Entry<'static>>,
    usage: Table<'t, &'static str, (u64, u64)>,
    expiring: Table<'t, (u64, &'static str, &'static str), ()>,
}

impl Tables<'_> {
    /// The group's (keys, bytes).
    fn usage(&self, group: &str) -> KvResult<(u64, u64)> {
        Ok(self
            .usage
            .get(group)
            .map_err(failed)?
            .map_or((0, 0), |u| u.value()))
    }

    fn set_usage(&mut self, group: &str, (keys, bytes): (u64, u64)) -> KvResult<()> {
        if keys == 0 {
            self.usage.remove(group).map_err(failed)?;
        } else {
            self.usage.insert(group, (keys, bytes)).map_err(failed)?;
        }
        Ok(())
    }

    /// Removes `key`'s row, if any, and its share of the usage; whether
    /// the row had not expired, `None` when there was none.
    fn remove(&mut self, group: &str, key: &str, now: u64) -> KvResult<Option<bool>> {
        let Some((expiry, size)) = self
            .entries
            .remove((group, key))
            .map_err(failed)?
            .map(|old| {
                let (expiry, value) = old.value();
                (expiry, key.len() as u64 + value.len() as u64)
            })
        else {
            return Ok(None);
        };
        if expiry != 0 {
            self.expiring.remove((expiry, group, key)).map_err(failed)?;
        }
        let (keys, bytes) = self.usage(group)?;
        self.set_usage(group, (keys.saturating_sub(1), bytes.saturating_sub(size)))?;
        Ok(Some(!expired(expiry, now)))
    }

    /// Removes `key`'s row if it has expired; whether it did.
    fn purge_expired(&mut self, group: &str, key: &str, now: u64) -> KvResult<bool> {
        let expiry = self
            .entries
            .get((group, key))
            .map_err(failed)?
            .map(|row| row.value().0);
        if !expiry.is_some_and(|expiry| expired(expiry, now)) {
            return Ok(false);
        }
        self.remove(group, key, now)?;
        Ok(true)
    }

    /// Writes `key` (which has no row now) within the scope's quotas.
    fn insert(&mut self, scope: &Scope, key: &str, expiry: u64, value: &[u8]) -> KvResult<()> {
        let group = &*scope.group;
        let quota = &scope.quota;
        let (keys, bytes) = self.usage(group)?;
        let (keys, bytes) = (keys + 1, bytes + key.len() as u64 + value.len() as u64);
        if keys > quota.max_keys {
            return Err(over(scope, "max_keys", format!("{} keys", grouped(keys))));
        }
        if bytes > quota.max_bytes.0 {
            return Err(over(
                scope,
                "max_bytes",
                format!("{} bytes of keys and values", grouped(bytes)),
            ));
        }
        self.entries
            .insert((group, key), (expiry, value))
            .map_err(failed)?;
        if expiry != 0 {
            self.expiring
                .insert((expiry, group, key), ())
                .map_err(failed)?;
        }
        self.set_usage(group, (keys, bytes))
    }
}

fn over(scope: &Scope, limit: &'static str, would: String) -> KvError {
    KvError::Quota {
        group: scope.group.clone(),
        limit,
        would,
    }
}

fn expired(expiry: u64, now: u64) -> bool {
    expiry != 0 && expiry <= now
}

impl Db {
    /// Runs `op` in one write transaction, committed when it succeeds and
    /// rolled back (nothing written) when it fails.
    fn write<T>(&self, op: impl FnOnce(&mut Tables<'_>) -> KvResult<T>) -> KvResult<T> {
        let txn = self.db.begin_write().map_err(failed)?;
        let outcome = Self::with_tables(&txn, op);
        match outcome {
            Ok(value) => {
                txn.commit().map_err(failed)?;
                Ok(value)
            }
            Err(e) => {
                txn.abort().map_err(failed)?;
                Err(e)
            }
        }
    }

    fn with_tables<T>(
        txn: &WriteTransaction,
        op: impl FnOnce(&mut Tables<'_>) -> KvResult<T>,
    ) -> KvResult<T> {
        let mut tables = Tables {
            entries: txn.open_table(ENTRIES).map_err(failed)?,
            usage: txn.open_table(USAGE).map_err(failed)?,
            expiring: txn.open_table(EXPIRING).map_err(failed)?,
        };
        op(&mut tables)
    }

    /// The expiry and value of `key`, expired or not.
    fn lookup(&self, group: &str, key: &str) -> KvResult<Option<(u64, Vec<u8>)>> {
        let txn = self.db.begin_read().map_err(failed)?;
        let entries = txn.open_table(ENTRIES).map_err(failed)?;
        let row = entries.get((group, key)).map_err(failed)?;
        Ok(row.map(|row| {
            let (expiry, value) = row.value();
            (expiry, value.to_vec())
        }))
    }

    #[cfg(test)]
    fn get(&self, scope: &Scope, key: &str, now: u64) -> KvResult<Option<Vec<u8>>> {
        match self.lookup(&scope.group, key)? {
            Some((expiry, value)) if !expired(expiry, now) => Ok(Some(value)),
            Some(_) => {
                // Expired: purge it now rather than wait for the sweep
                // (unless it was set again since the read).
                self.write(|tables| tables.purge_expired(&scope.group, key, now))?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    fn set(
        &self,
        scope: &Scope,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        now: u64,
    ) -> KvResult<()> {
        if value.len() as u64 > scope.quota.max_value.0 {
            return Err(over(
                scope,
                "max_value",
                format!("a value of {} bytes", grouped(value.len() as u64)),
            ));
        }
        let expiry = ttl.map_or(0, |ttl| {
            now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
                .max(1)
        });
        self.write(|tables| {
            tables.remove(&scope.group, key, now)?;
            tables.insert(scope, key, expiry, value)
        })
    }

    fn increment(&self, scope: &Scope, key: &str, delta: i64, now: u64) -> KvResult<i64> {
        self.write(|tables| {
            let old = tables
                .entries
                .get((&*scope.group, key))
                .map_err(failed)?
                .map(|row| {
                    let (expiry, value) = row.value();
                    (expiry, value.to_vec())
                });
            let (current, expiry) = match old {
                Some((expiry, value)) if !expired(expiry, now) => {
                    (parse_integer(key, &value)?, expiry)
                }
                _ => (0, 0),
            };
            let sum = current
                .checked_add(delta)
                .ok_or_else(|| KvError::NotANumber {
                    key: key.to_owned(),
                    reason: format!("{current} + {delta} is out of the signed 64-bit range"),
                })?;
            tables.remove(&scope.group, key, now)?;
            tables.insert(scope, key, expiry, sum.to_string().as_bytes())?;
            Ok(sum)
        })
    }

    fn keys(
        &self,
        group: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
        now: u64,
    ) -> KvResult<Vec<String>> {
        use std::ops::Bound;
        let txn = self.db.begin_read().map_err(failed)?;
        let entries = txn.open_table(ENTRIES).map_err(failed)?;
        let start = match after {
            Some(after) if after >= prefix => Bound::Excluded((group, after)),
            _ => Bound::Included((group, prefix)),
        };
        let mut keys = Vec::new();
        for row in entries
            .range::<(&str, &str)>((start, Bound::Unbounded))
            .map_err(failed)?
        {
            if keys.len() >= limit as usize {
                break;
            }
            let (k, v) = row.map_err(failed)?;
            let (row_group, key) = k.value();
            if row_group != group || !key.starts_with(prefix) {
                break;
            }
            if !expired(v.value().0, now) {
                keys.push(key.to_owned());
            }
        }
        Ok(keys)
    }

    fn sweep(&self, now: u64, max: usize) -> KvResult<usize> {
        let due: Vec<(String, String)> = {
            let txn = self.db.begin_read().map_err(failed)?;
            let expiring = txn.open_table(EXPIRING).map_err(failed)?;
            expiring
                .range::<(u64, &str, &str)>(..(now.saturating_add(1), "", ""))
                .map_err(failed)?
                .take(max)
                .map(|row| {
                    let (key, _) = row.map_err(failed)?;
                    let (_, group, key) = key.value();
                    Ok((group.to_owned(), key.to_owned()))
                })
                .collect::<KvResult<_>>()?
        };
        if due.is_empty() {
            return Ok(0);
        }
        self.write(|tables| {
            let mut swept = 0;
            for (group, key) in &due {
                swept += usize::from(tables.purge_expired(group, key, now)?);
            }
            Ok(swept)
        })
    }
}

/// The integer `increment` reads: the decimal text of an `i64`.
fn parse_integer(key: &str, value: &[u8]) -> KvResult<i64> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| KvError::NotANumber {
            key: key.to_owned(),
            reason: "its value is not a decimal integer (increment only counts on keys it \
                     created or that hold one, like `42`)"
                .into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ByteSize, StateQuota};

    /// A store in a fresh directory, removed when dropped.
    struct Fixture {
        dir: PathBuf,
        store: Arc<EmbeddedStore>,
    }

    impl Fixture {
        fn new() -> Self {
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "toolhost-kv-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            let store = EmbeddedStore::open(&dir).unwrap();
            Self { dir, store }
        }

        fn db(&self) -> &Db {
            &self.store.db
        }

        /// Closes the file and opens it again, as a restart would.
        fn reopen(&mut self) {
            let placeholder = EmbeddedStore::open(&self.dir.join("placeholder")).unwrap();
            drop(std::mem::replace(&mut self.store, placeholder));
            self.store = EmbeddedStore::open(&self.dir).unwrap();
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn scope(group: &str, max_keys: u64, max_bytes: u64) -> Scope {
        Scope {
            group: group.into(),
            quota: StateQuota {
                max_keys,
                max_bytes: ByteSize(max_bytes),
                max_value: ByteSize(100),
            },
        }
    }

    fn usage(db: &Db, group: &str) -> (u64, u64) {
        db.write(|tables| tables.usage(group)).unwrap()
    }

    #[test]
    fn quotas_count_keys_and_bytes_and_refuse_atomically() {
        let fixture = Fixture::new();
        let db = fixture.db();
        let web = scope("web", 3, 20);
        for key in ["a", "b", "c"] {
            db.set(&web, key, b"12345", None, 0).unwrap();
        }
        assert_eq!(usage(db, "web"), (3, 18));
        // Replacing a key changes bytes only.
        db.set(&web, "a", b"123", None, 0).unwrap();
        assert_eq!(usage(db, "web"), (3, 16));
        let err = db.set(&web, "d", b"1", None, 0).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("state quota exceeded: group `web` would hold 4 keys (limit `max_keys` in [groups.web.state])"),
            "{err}"
        );
        let err = db.set(&web, "a", b"12345678", None, 0).unwrap_err();
        assert!(err.to_string().contains("limit `max_bytes`"), "{err}");
        // A refused write changed nothing.
        assert_eq!(db.get(&web, "a", 0).unwrap(), Some(b"123".to_vec()));
        assert_eq!(usage(db, "web"), (3, 16));
        let err = db.set(&web, "a", &[0; 101], None, 0).unwrap_err();
        assert!(
            err.to_string()
                .contains("a value of 101 bytes (limit `max_value`"),
            "{err}"
        );
        assert!(
            db.write(|t| Ok(t.remove("web", "b", 0)? == Some(true)))
                .unwrap()
        );
        db.set(&web, "d", b"1", None, 0).unwrap();
        assert_eq!(usage(db, "web"), (3, 2 + 6 + 4));
    }

    #[test]
    fn groups_never_see_each_others_keys() {
        let fixture = Fixture::new();
        let db = fixture.db();
        let (a, b) = (scope("a", 10, 1000), scope("b", 10, 1000));
        db.set(&a, "secret", b"1", None, 0).unwrap();
        db.set(&a, "shared", b"a", None, 0).unwrap();
        db.set(&b, "shared", b"b", None, 0).unwrap();
        assert_eq!(db.get(&b, "secret", 0).unwrap(), None);
        assert_eq!(db.get(&b, "shared", 0).unwrap(), Some(b"b".to_vec()));
        assert_eq!(db.keys("b", "", None, 100, 0).unwrap(), ["shared"]);
        assert_eq!(
            db.keys("a", "", None, 100, 0).unwrap(),
            ["secret", "shared"]
        );
        // A group whose name prefixes another's sees only its own keys.
        let ab = scope("a\u{0}b", 10, 1000);
        assert_eq!(
            db.keys(&ab.group, "", None, 100, 0).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(usage(db, "a"), (2, 14));
        assert_eq!(usage(db, "b"), (1, 7));
    }

    #[test]
    fn expired_keys_are_absent_then_purged() {
        let fixture = Fixture::new();
        let db = fixture.db();
        let web = scope("web", 10, 1000);
        db.set(&web, "short", b"1", Some(Duration::from_millis(10)), 1000)
            .unwrap();
        db.set(&web, "long", b"2", Some(Duration::from_secs(60)), 1000)
            .unwrap();
        db.set(&web, "count", b"5", Some(Duration::from_millis(10)), 1000)
            .unwrap();
        assert_eq!(db.get(&web, "short", 1009).unwrap(), Some(b"1".to_vec()));
        assert_eq!(db.keys("web", "", None, 10, 1010).unwrap(), ["long"]);
        // Reading an expired key removes its row.
        assert_eq!(db.get(&web, "short", 1010).unwrap(), None);
        assert_eq!(usage(db, "web").0, 2);
        // An expired counter starts again from zero, with no expiry.
        assert_eq!(db.increment(&web, "count", 1, 1010).unwrap(), 1);
        assert_eq!(
            db.get(&web, "count", u64::MAX - 1).unwrap(),
            Some(b"1".to_vec())
        );
        // The sweep removes only what has expired.
        assert_eq!(db.sweep(1010, 100).unwrap(), 0);
        assert_eq!(db.sweep(61_000, 100).unwrap(), 1);
        assert_eq!(usage(db, "web"), (1, 6));
        assert_eq!(db.keys("web", "", None, 10, 61_000).unwrap(), ["count"]);
    }

    #[test]
    fn keys_page_through_a_prefix_in_order() {
        let fixture = Fixture::new();
        let db = fixture.db();
        let web = scope("web", 100, 10_000);
        for key in ["a:3", "a:1", "b:1", "a:2", "a:4", "a:5", "a"] {
            db.set(&web, key, b"", None, 0).unwrap();
        }
        db.set(&scope("other", 10, 100), "a:0", b"", None, 0)
            .unwrap();
        let page = |after: Option<&str>| db.keys("web", "a:", after, 2, 0).unwrap();
        assert_eq!(page(None), ["a:1", "a:2"]);
        assert_eq!(page(Some("a:2")), ["a:3", "a:4"]);
        assert_eq!(page(Some("a:4")), ["a:5"]);
        assert_eq!(page(Some("a:5")), Vec::<String>::new());
        // `after` before the prefix starts at the prefix.
        assert_eq!(page(Some("0")), ["a:1", "a:2"]);
        assert_eq!(db.keys("web", "", None, 100, 0).unwrap().len(), 7);
    }

    #[test]
    fn increment_is_atomic_under_concurrency() {
        let fixture = Fixture::new();
        let web = Arc::new(scope("web", 10, 1000));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .build()
            .unwrap();
        let store: Arc<dyn KvStore> = fixture.store.clone();
        runtime.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (store, web) = (store.clone(), web.clone());
                    tokio::spawn(async move {
                        for _ in 0..100 {
                            store.increment(web.clone(), "n".into(), 1).await.unwrap();
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            assert_eq!(store.increment(web.clone(), "n".into(), 0).await, Ok(800));
            assert_eq!(
                store.get(web.clone(), "n".into()).await,
                Ok(Some(b"800".to_vec()))
            );
        });
        let db = fixture.db();
        db.set(&web, "text", b"\"hello\"", None, 0).unwrap();
        let err = db.increment(&web, "text", 1, 0).unwrap_err();
        assert!(err.to_string().contains("not a decimal integer"), "{err}");
        db.set(&web, "max", i64::MAX.to_string().as_bytes(), None, 0)
            .unwrap();
        let err = db.increment(&web, "max", 1, 0).unwrap_err();
        assert!(
            err.to_string().contains("out of the signed 64-bit range"),
            "{err}"
        );
        assert_eq!(db.increment(&web, "neg", -5, 0).unwrap(), -5);
    }

    #[test]
    fn state_survives_reopening_and_one_process_holds_the_file() {
        let mut fixture = Fixture::new();
        let web = scope("web", 10, 1000);
        fixture.db().set(&web, "kept", b"yes", None, 0).unwrap();
        let err = EmbeddedStore::open(&fixture.dir).err().unwrap();
        assert!(
            format!("{err:#}").contains("in use by another toolhost process"),
            "{err:#}"
        );
        fixture.reopen();
        assert_eq!(
            fixture.db().get(&web, "kept", 0).unwrap(),
            Some(b"yes".to_vec())
        );
        assert_eq!(usage(fixture.db(), "web"), (1, 7));
        assert_eq!(fixture.store.path(), fixture.dir.join(FILE_NAME));
    }
}
