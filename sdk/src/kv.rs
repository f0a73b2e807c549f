//! Persistent key-value state: [`Context::kv`](crate::Context::kv).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__private::bindings::toolhost::plugin::kv as host;
use crate::ToolError;

/// Keys one [`Kv::keys`] request fetches from the host at a time.
const PAGE: u32 = 100;

/// The group's key-value state, kept by the host across calls, reloads and
/// restarts. Get one with [`Context::kv`](crate::Context::kv).
///
/// The host serves it only to a group granted `[groups.NAME.state]` in
/// `toolhost.toml`; otherwise every method fails with a [`KvError`] saying
/// so. Keys are non-empty strings of at most 512 bytes, seen by this group
/// only; the host enforces quotas on keys and bytes, and at most 1000
/// operations per call. The typed methods store values as JSON.
///
/// ```no_run
/// use toolhost_sdk::prelude::*;
///
/// /// Visits.
/// #[group(name = "visits")]
/// mod visits {
///     use super::*;
///
///     /// Count a visit and return how many there were.
///     #[operation]
///     pub fn visit(ctx: &Context) -> Result<i64, ToolError> {
///         Ok(ctx.kv().increment("visits", 1)?)
///     }
/// }
/// # fn main() {}
/// ```
pub struct Kv<'a> {
    detached: Option<&'a Detached>,
}

/// What a [`Kv`] operation failed with: a message from the host (state not
/// granted, quota exceeded, invalid key, budget spent) or about a value that
/// does not convert. Converts into a [`ToolError`] of kind
/// [`Failed`](crate::ErrorKind::Failed), so `?` works in operations.
///
/// ```
/// use toolhost_sdk::{Context, ToolError};
///
/// let err = Context::detached().kv().get_bytes("").unwrap_err();
/// assert!(err.message().contains("must not be empty"));
/// let err: ToolError = err.into();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvError {
    message: String,
}

impl KvError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// What went wrong, and what to do about it.
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// let ctx = Context::detached();
    /// let err = ctx.kv().increment("", 1).unwrap_err();
    /// assert!(!err.message().is_empty());
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KvError {}

/// A state failure is a [`Failed`](crate::ErrorKind::Failed) error with the
/// same message.
impl From<KvError> for ToolError {
    fn from(err: KvError) -> Self {
        ToolError::failed(err.message)
    }
}

/// The in-memory state of a detached [`Context`](crate::Context): what
/// tests see instead of the host's store. No quotas or budget.
#[derive(Debug, Default)]
pub(crate) struct Detached {
    entries: RefCell<Entries>,
}

/// Values by key, each with its expiry.
type Entries = BTreeMap<String, (Vec<u8>, Option<Instant>)>;

impl Detached {
    /// The entries, without those that have expired.
    fn live(&self) -> std::cell::RefMut<'_, Entries> {
        let mut entries = self.entries.borrow_mut();
        let now = Instant::now();
        entries.retain(|_, (_, expiry)| expiry.is_none_or(|at| at > now));
        entries
    }
}

impl<'a> Kv<'a> {
    /// The host's store, or the detached context's map.
    pub(crate) fn new(detached: Option<&'a Detached>) -> Self {
        Self { detached }
    }

    /// The value of `key` as JSON decoded into `T`; `None` when it is not
    /// set or has expired.
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// let ctx = Context::detached();
    /// ctx.kv().set("limits", &vec![1, 2, 3])?;
    /// assert_eq!(ctx.kv().get::<Vec<u32>>("limits")?, Some(vec![1, 2, 3]));
    /// assert_eq!(ctx.kv().get::<u32>("missing")?, None);
    /// # Ok::<(), toolhost_sdk::KvError>(())
    /// ```
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, KvError> {
        let Some(bytes) = self.get_bytes(key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            KvError::new(format!(
                "state key `{key}` does not hold the JSON of the type asked for: {e}"
            ))
        })
    }

    /// Sets `key` to `value` as JSON, with no expiry.
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// let ctx = Context::detached();
    /// ctx.kv().set("greeting", "hello")?;
    /// assert_eq!(ctx.kv().get::<String>("greeting")?.as_deref(), Some("hello"));
    /// # Ok::<(), toolhost_sdk::KvError>(())
    /// ```
    pub fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), KvError> {
        self.set_bytes_ttl(key, &to_json(key, value)?, None)
    }

    /// Sets `key` to `value` as JSON, expiring `ttl` from now (rounded up
    /// to a millisecond); it is then absent to every method.
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// use std::time::Duration;
    /// let ctx = Context::detached();
    /// ctx.kv().set_for("session", &42, Duration::from_secs(60))?;
    /// assert_eq!(ctx.kv().get::<u32>("session")?, Some(42));
    /// # Ok::<(), toolhost_sdk::KvError>(())
    /// ```
    pub fn set_for<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), KvError> {
        self.set_bytes_ttl(key, &to_json(key, value)?, Some(ttl))
    }

    /// The raw bytes of `key`; `None` when it is not set or has expired.
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// let ctx = Context::detached();
    /// ctx.kv().set_bytes("blob", &[1, 2, 3])?;
    /// assert_eq!(ctx.kv().get_bytes("blob")?, Some(vec![1, 2, 3]));
    /// # Ok::<(), toolhost_sdk::KvError>(())
    /// ```
    pub fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        match self.detached {
            None => host::get(key).map_err(KvError::new),
            Some(detached) => {
                check_key(key)?;
                Ok(detached.live().get(key).map(|(value, _)| value.clone()))
            }
        }
    }

    /// Sets `key` to raw bytes, with no expiry.
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// let ctx = Context::detached();
    /// ctx.kv().set_bytes("blob", b"\x00\xff")?;
    /// # Ok::<(), toolhost_sdk::KvError>(())
    /// ```
    pub fn set_bytes(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.set_bytes_ttl(key, value, None)
    }

    /// Sets `key` to raw bytes, expiring `ttl` from now.
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// use std::time::Duration;
    /// let ctx = Context::detached();
    /// ctx.kv().set_bytes_for("nonce", b"abc", Duration::from_secs(5))?;
    /// # Ok::<(), toolhost_sdk::KvError>(())
    /// ```
    pub fn set_bytes_for(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError> {
        self.set_bytes_ttl(key, value, Some(ttl))
    }

    fn set_bytes_ttl(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError> {
        let ttl_ms = ttl.map(|ttl| {
            u64::try_from(ttl.as_nanos().div_ceil(1_000_000))
                .unwrap_or(u64::MAX)
                .max(1)
        });
        match self.detached {
            None => host::set(key, value, ttl_ms).map_err(KvError::new),
            Some(detached) => {
                check_key(key)?;
                let expiry = ttl_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
                detached
                    .live()
                    .insert(key.to_owned(), (value.to_vec(), expiry));
                Ok(())
            }
        }
    }

    /// Removes `key`; whether it was set.
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// let ctx = Context::detached();
    /// ctx.kv().set("draft", "…")?;
    /// assert!(ctx.kv().delete("draft")?);
    /// assert!(!ctx.kv().delete("draft")?);
    /// # Ok::<(), toolhost_sdk::KvError>(())
    /// ```
    pub fn delete(&self, key: &str) -> Result<bool, KvError> {
        match self.detached {
            None => host::delete(key).map_err(KvError::new),
            Some(detached) => {
                check_key(key)?;
                Ok(detached.live().remove(key).is_some())
            }
        }
    }

    /// Every key starting with `prefix`, sorted, fetched from the host a
    /// page at a time as the iterator advances (each page is one operation
    /// of the call's budget).
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// let ctx = Context::detached();
    /// for name in ["user:ada", "user:bob", "team:x"] {
    ///     ctx.kv().set(name, &true)?;
    /// }
    /// let users: Vec<String> = ctx.kv().keys("user:").collect::<Result<_, _>>()?;
    /// assert_eq!(users, ["user:ada", "user:bob"]);
    /// # Ok::<(), toolhost_sdk::KvError>(())
    /// ```
    pub fn keys(&self, prefix: &str) -> Keys<'a> {
        Keys {
            detached: self.detached,
            prefix: prefix.to_owned(),
            after: None,
            page: Vec::new().into_iter(),
            done: false,
        }
    }

    /// Adds `delta` to the integer at `key` (0 when it is not set) and
    /// returns the sum, atomically: concurrent calls never lose an update.
    /// The value is stored as its decimal text, so [`get`](Self::get)
    /// reads it as a number too; a key holding anything else is an error.
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// let ctx = Context::detached();
    /// assert_eq!(ctx.kv().increment("hits", 1)?, 1);
    /// assert_eq!(ctx.kv().increment("hits", 41)?, 42);
    /// assert_eq!(ctx.kv().get::<i64>("hits")?, Some(42));
    /// # Ok::<(), toolhost_sdk::KvError>(())
    /// ```
    pub fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        match self.detached {
            None => host::increment(key, delta).map_err(KvError::new),
            Some(detached) => {
                check_key(key)?;
                let mut entries = detached.live();
                let (value, _) = entries
                    .entry(key.to_owned())
                    .or_insert_with(|| (b"0".to_vec(), None));
                let current: i64 = std::str::from_utf8(value)
                    .ok()
                    .and_then(|text| text.parse().ok())
                    .ok_or_else(|| {
                        KvError::new(format!(
                            "cannot increment state key `{key}`: its value is not a decimal integer"
                        ))
                    })?;
                let sum = current.checked_add(delta).ok_or_else(|| {
                    KvError::new(format!("cannot increment state key `{key}`: out of range"))
                })?;
                *value = sum.to_string().into_bytes();
                Ok(sum)
            }
        }
    }
}

/// The keys under a prefix, from [`Kv::keys`]. Yields an error (and then
/// ends) when the host refuses a page.
///
/// ```
/// # use toolhost_sdk::Context;
/// let ctx = Context::detached();
/// ctx.kv().set("a:1", &1)?;
/// assert_eq!(ctx.kv().keys("a:").count(), 1);
/// # Ok::<(), toolhost_sdk::KvError>(())
/// ```
pub struct Keys<'a> {
    detached: Option<&'a Detached>,
    prefix: String,
    after: Option<String>,
    page: std::vec::IntoIter<String>,
    done: bool,
}

impl Keys<'_> {
    fn fetch(&mut self) -> Result<Vec<String>, KvError> {
        match self.detached {
            None => host::keys(&self.prefix, self.after.as_deref(), PAGE).map_err(KvError::new),
            Some(detached) => {
                let entries = detached.live();
                let after = self.after.as_deref();
                Ok(entries
                    .keys()
                    .filter(|key| key.starts_with(&self.prefix))
                    .filter(|key| after.is_none_or(|after| key.as_str() > after))
                    .take(PAGE as usize)
                    .cloned()
                    .collect())
            }
        }
    }
}

impl Iterator for Keys<'_> {
    type Item = Result<String, KvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(key) = self.page.next() {
            self.after = Some(key.clone());
            return Some(Ok(key));
        }
        if self.done {
            return None;
        }
        match self.fetch() {
            Ok(page) => {
                self.done = page.len() < PAGE as usize;
                self.page = page.into_iter();
                let key = self.page.next()?;
                self.after = Some(key.clone());
                Some(Ok(key))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn to_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>, KvError> {
    serde_json::to_vec(value)
        .map_err(|e| KvError::new(format!("cannot store `{key}` as JSON: {e}")))
}

/// The host's key rules, for a detached context.
fn check_key(key: &str) -> Result<(), KvError> {
    if key.is_empty() {
        return Err(KvError::new("invalid state key: keys must not be empty"));
    }
    if key.len() > 512 {
        return Err(KvError::new(format!(
            "invalid state key: key of {} bytes is longer than the 512 bytes allowed",
            key.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Context;
    use std::time::Duration;

    #[test]
    fn keys_iterate_over_every_page_in_order() {
        let ctx = Context::detached();
        for i in 0..250 {
            ctx.kv().set(&format!("k:{i:03}"), &i).unwrap();
        }
        ctx.kv().set("other", &0).unwrap();
        let keys: Vec<String> = ctx.kv().keys("k:").map(Result::unwrap).collect();
        assert_eq!(keys.len(), 250);
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn an_expired_key_is_absent_and_a_counter_needs_a_number() {
        let ctx = Context::detached();
        ctx.kv()
            .set_for("short", &1, Duration::from_millis(1))
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(ctx.kv().get::<i32>("short").unwrap(), None);
        ctx.kv().set("name", "ada").unwrap();
        assert!(ctx.kv().increment("name", 1).is_err());
        let err = ctx.kv().get::<u32>("name").unwrap_err();
        assert!(err.message().contains("does not hold the JSON"), "{err}");
        assert_eq!(crate::ToolError::from(err).kind(), crate::ErrorKind::Failed);
    }
}
