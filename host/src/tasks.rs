//! Tasks: calls that go on after the request that started them has been
//! answered, polled by id (the MCP `io.modelcontextprotocol/tasks`
//! extension, SEP-2663; a REST door reuses the same records).
//!
//! A [`TaskStore`] keeps the records: status, result or error, the
//! questions a parked task waits on. [`Embedded`], the default, keeps them
//! in this process's memory; a store shared by replicas implements the
//! same trait. The store enforces the rules every door relies on:
//!
//! - ids are 128 random bits: a task is found by whoever holds its id and
//!   is its owner (the caller's subject), never by enumeration;
//! - a terminal status (`completed`, `failed`, `cancelled`) is final: a
//!   cancel that races a finishing run, or a run finishing after a cancel,
//!   never rewrites it;
//! - a record lives `ttl` from its creation, then is gone;
//! - the store holds at most `max` records, `max_per_owner` of one owner;
//!   beyond that a new task is refused, and the call runs without one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use crate::config::TasksConfig;

/// Where a task is in its life.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Running.
    Working,
    /// Parked until the client answers these questions (key → the request
    /// as `{method, params}`).
    InputRequired(BTreeMap<String, Value>),
    /// Finished with this result (which may itself report a tool error).
    Completed(Map<String, Value>),
    /// Failed outside the tool's own error reporting: this JSON-RPC error
    /// object (`code`, `message`).
    Failed(Map<String, Value>),
    /// Stopped at the client's request.
    Cancelled,
}

impl Status {
    /// Whether the task is over; its record then never changes again.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Status::Completed(_) | Status::Failed(_) | Status::Cancelled
        )
    }
}

/// One task as the store keeps it.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    /// The subject of the caller that started it; `None` without auth.
    pub owner: Option<String>,
    pub status: Status,
    /// What the task last said about itself (its progress message).
    pub message: Option<String>,
    pub created: SystemTime,
    pub updated: SystemTime,
    /// How long after `created` the record is kept.
    pub ttl: Duration,
}

impl Record {
    fn expired(&self, now: SystemTime) -> bool {
        now.duration_since(self.created).unwrap_or_default() >= self.ttl
    }
}

/// A change to a task's record.
#[derive(Debug, Clone)]
pub enum Change {
    /// A new status; refused once the status is terminal.
    Status(Status),
    /// A new progress message, kept while the task is not over.
    Message(String),
}

/// Why the store did not do what was asked.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreError {
    /// Too many tasks are kept; the message says which limit.
    Full(String),
    /// The store itself failed (a shared store's connection).
    Unavailable(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Full(why) | StoreError::Unavailable(why) => f.write_str(why),
        }
    }
}

/// Keeps task records.
pub trait TaskStore: Send + Sync {
    /// Keeps a new record, working, for `owner`. It is found by
    /// [`Self::get`] as soon as this returns.
    fn create(&self, owner: Option<&str>) -> BoxFuture<'_, Result<Record, StoreError>>;

    /// The record `id`, when it exists, has not expired and belongs to
    /// `owner`.
    fn get<'a>(
        &'a self,
        id: &'a str,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>>;

    /// Applies `change` to the record `id` and returns it as it is now
    /// (unchanged when its status was terminal already); `None` when there
    /// is no such record.
    fn update<'a>(
        &'a self,
        id: &'a str,
        change: Change,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>>;
}

/// The limits of a store, from `[tasks]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub ttl: Duration,
    pub max: usize,
    pub max_per_owner: usize,
}

impl From<&TasksConfig> for Limits {
    fn from(config: &TasksConfig) -> Self {
        Limits {
            ttl: config.ttl.0,
            max: config.max,
            max_per_owner: config.max_per_caller,
        }
    }
}

/// A new id no one can guess: 128 random bits, hex (task ids, URL
/// elicitation ids).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    let mut id = String::with_capacity(32);
    for byte in bytes {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

/// The store in this process's memory: the default.
pub struct Embedded {
    limits: Limits,
    records: Mutex<HashMap<String, Record>>,
}

impl Embedded {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            records: Mutex::default(),
        }
    }

    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn create_now(&self, owner: Option<&str>, now: SystemTime) -> Result<Record, StoreError> {
        let mut records = self.records();
        if records.len() >= self.limits.max {
            records.retain(|_, r| !r.expired(now));
        }
        if records.len() >= self.limits.max {
            return Err(StoreError::Full(format!(
                "the host keeps at most {} tasks and that many are kept now",
                self.limits.max
            )));
        }
        let owned = records
            .values()
            .filter(|r| r.owner.as_deref() == owner && !r.expired(now))
            .count();
        if owned >= self.limits.max_per_owner {
            return Err(StoreError::Full(format!(
                "this caller already has {owned} of the {} tasks the host keeps for one caller \
                 (each is kept {} from its start)",
                self.limits.max_per_owner,
                humanize(self.limits.ttl)
            )));
        }
        let record = Record {
            id: random_id(),
            owner: owner.map(str::to_owned),
            status: Status::Working,
            message: None,
            created: now,
            updated: now,
            ttl: self.limits.ttl,
        };
        records.insert(record.id.clone(), record.clone());
        Ok(record)
    }
}

/// `d` as people write it (`15m`, `1h`).
fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => format!("{}ms", d.as_millis()),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

impl TaskStore for Embedded {
    fn create(&self, owner: Option<&str>) -> BoxFuture<'_, Result<Record, StoreError>> {
        let created = self.create_now(owner, SystemTime::now());
        Box::pin(async move { created })
    }

    fn get<'a>(
        &'a self,
        id: &'a str,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        let now = SystemTime::now();
        let mut records = self.records();
        let found = match records.get(id) {
            Some(r) if r.expired(now) => {
                records.remove(id);
                None
            }
            Some(r) if r.owner.as_deref() == owner => Some(r.clone()),
            _ => None,
        };
        Box::pin(async move { Ok(found) })
    }

    fn update<'a>(
        &'a self,
        id: &'a str,
        change: Change,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        let now = SystemTime::now();
        let mut records = self.records();
        let updated = records.get_mut(id).map(|record| {
            if !record.status.is_terminal() {
                match change {
                    Change::Status(status) => record.status = status,
                    Change::Message(message) => record.message = Some(message),
                }
                record.updated = now;
            }
            record.clone()
        });
        Box::pin(async move { Ok(updated) })
    }
}

/// `t` as RFC 3339 in UTC with milliseconds, as task timestamps are sent.
pub fn timestamp(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(max: usize, per_owner: usize) -> Embedded {
        Embedded::new(Limits {
            ttl: Duration::from_secs(60),
            max,
            max_per_owner: per_owner,
        })
    }

    fn now(store: &Embedded, id: &str, owner: Option<&str>) -> Option<Record> {
        futures::executor::block_on(store.get(id, owner)).unwrap()
    }

    #[test]
    fn a_task_is_found_by_its_owner_only() {
        let store = store(10, 10);
        let task = futures::executor::block_on(store.create(Some("ada"))).unwrap();
        assert_eq!(task.id.len(), 32);
        assert!(now(&store, &task.id, Some("ada")).is_some());
        assert!(now(&store, &task.id, Some("bob")).is_none());
        assert!(now(&store, &task.id, None).is_none());
        assert!(now(&store, "0123", Some("ada")).is_none());
    }

    #[test]
    fn a_terminal_status_is_final() {
        let store = store(10, 10);
        let task = futures::executor::block_on(store.create(None)).unwrap();
        let cancel = Change::Status(Status::Cancelled);
        futures::executor::block_on(store.update(&task.id, cancel)).unwrap();
        let done = Change::Status(Status::Completed(Map::new()));
        let after = futures::executor::block_on(store.update(&task.id, done))
            .unwrap()
            .unwrap();
        assert_eq!(after.status, Status::Cancelled);
        let message = Change::Message("late".into());
        let after = futures::executor::block_on(store.update(&task.id, message))
            .unwrap()
            .unwrap();
        assert_eq!(after.message, None);
    }

    #[test]
    fn the_limits_refuse_new_tasks_with_a_reason() {
        let store = store(3, 2);
        let create = |owner| futures::executor::block_on(store.create(owner));
        create(Some("ada")).unwrap();
        create(Some("ada")).unwrap();
        let Err(StoreError::Full(why)) = create(Some("ada")) else {
            panic!("a third task of one owner is refused");
        };
        assert!(why.contains("already has 2 of the 2 tasks"), "{why}");
        create(Some("bob")).unwrap();
        let Err(StoreError::Full(why)) = create(Some("eve")) else {
            panic!("a fourth task is refused");
        };
        assert!(why.contains("at most 3 tasks"), "{why}");
    }

    #[test]
    fn an_expired_task_is_gone_and_frees_its_place() {
        let store = store(1, 1);
        let long_ago = SystemTime::now() - Duration::from_secs(61);
        let old = store.create_now(None, long_ago).unwrap();
        assert!(now(&store, &old.id, None).is_none());
        futures::executor::block_on(store.create(None)).unwrap();
    }

    #[test]
    fn timestamps_are_rfc_3339_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(timestamp(t), "2023-11-14T22:13:20.123Z");
    }
}
