//! Persistent key-value state per group: the store seam.
//!
//! A group granted `[groups.NAME.state]` keeps keys and values that outlive
//! its calls, reloads and the host process. The capability that serves the
//! WIT `kv` interface (`runtime::kv`) checks keys and the per-call operation
//! budget and hands every operation to a [`KvStore`]: one atomic backend
//! call each, so that a store shared by several replicas (Redis, later)
//! needs no lock around it. Expiry and the quotas of a [`Scope`] are the
//! store's job, enforced inside the same atomic operation.
//!
//! - [`embedded`]: the default, one `redb` file under `server.data_dir`,
//!   shared by every group of the process.

pub mod embedded;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::config::StateQuota;

/// Longest key, in bytes of UTF-8.
pub const MAX_KEY: usize = 512;

/// Most keys one `keys` page returns, whatever the guest asks for.
pub const MAX_PAGE: u32 = 1000;

/// What a store answers: the value, or why not.
pub type KvResult<T> = Result<T, KvError>;

/// A key-value store shared by every group, each seeing only its own keys.
/// Every method is one atomic operation; expired keys are absent to all of
/// them.
pub trait KvStore: Send + Sync {
    /// The value of `key`, unless it is unset or expired.
    fn get(&self, scope: Arc<Scope>, key: String) -> BoxFuture<'static, KvResult<Option<Vec<u8>>>>;

    /// Sets `key` to `value`, with a new expiry (`ttl` from now) or none,
    /// within the scope's quotas.
    fn set(
        &self,
        scope: Arc<Scope>,
        key: String,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'static, KvResult<()>>;

    /// Removes `key`; whether it was set (and not expired).
    fn delete(&self, scope: Arc<Scope>, key: String) -> BoxFuture<'static, KvResult<bool>>;

    /// Up to `limit` keys starting with `prefix`, sorted by their bytes,
    /// strictly after `after` when given.
    fn keys(
        &self,
        scope: Arc<Scope>,
        prefix: String,
        after: Option<String>,
        limit: u32,
    ) -> BoxFuture<'static, KvResult<Vec<String>>>;

    /// Adds `delta` to the decimal integer held by `key` (0 when unset),
    /// keeping its expiry, and returns the sum.
    fn increment(
        &self,
        scope: Arc<Scope>,
        key: String,
        delta: i64,
    ) -> BoxFuture<'static, KvResult<i64>>;
}

/// Whose keys an operation touches, and the quotas it must respect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The group's name: the namespace of its keys.
    pub group: Arc<str>,
    /// Its `[groups.NAME.state]` limits.
    pub quota: StateQuota,
}

/// Why a state operation failed. The message is shown to the plugin (and
/// through it, often to the model), so it says what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// The group has no `[groups.NAME.state]`.
    NotGranted { group: Arc<str> },
    /// The key is empty or too long.
    InvalidKey { reason: String },
    /// A quota would be exceeded; nothing was written.
    Quota {
        group: Arc<str>,
        /// The config key of the limit (`max_keys`, ...).
        limit: &'static str,
        /// What the group would hold, in words ("10,001 keys").
        would: String,
    },
    /// `increment` on a key whose value is not a decimal integer, or a sum
    /// out of range.
    NotANumber { key: String, reason: String },
    /// The call spent its operation budget.
    Budget { spent: u32 },
    /// The store itself failed (disk, corruption, a task that died).
    Store(String),
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::NotGranted { group } => write!(
                f,
                "state is not granted to group `{group}`; add `[groups.{group}.state]` to toolhost.toml"
            ),
            KvError::InvalidKey { reason } => write!(f, "invalid state key: {reason}"),
            KvError::Quota {
                group,
                limit,
                would,
            } => write!(
                f,
                "state quota exceeded: group `{group}` would hold {would} \
                 (limit `{limit}` in [groups.{group}.state]); delete keys or raise the limit"
            ),
            KvError::NotANumber { key, reason } => {
                write!(f, "cannot increment state key `{key}`: {reason}")
            }
            KvError::Budget { spent } => write!(
                f,
                "this call already made {spent} state operations, the most one call may make; \
                 spread the work over several calls"
            ),
            KvError::Store(reason) => write!(f, "the state store failed: {reason}"),
        }
    }
}

impl std::error::Error for KvError {}

/// Checks a key: non-empty, at most [`MAX_KEY`] bytes. (A WIT string is
/// always valid UTF-8.)
pub fn check_key(key: &str) -> KvResult<()> {
    if key.is_empty() {
        return Err(KvError::InvalidKey {
            reason: "keys must not be empty".into(),
        });
    }
    if key.len() > MAX_KEY {
        return Err(KvError::InvalidKey {
            reason: format!(
                "key of {} bytes is longer than the {MAX_KEY} bytes allowed",
                key.len()
            ),
        });
    }
    Ok(())
}

/// `n` with thousands separators, as quota messages print counts.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_counts_grouped() {
        assert!(check_key("a").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key(&"é".repeat(256)).is_ok());
        assert!(check_key(&"é".repeat(257)).is_err());
        assert_eq!(grouped(7), "7");
        assert_eq!(grouped(10_001), "10,001");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn errors_name_the_config_key() {
        let group: Arc<str> = "web".into();
        let not_granted = KvError::NotGranted {
            group: group.clone(),
        };
        assert_eq!(
            not_granted.to_string(),
            "state is not granted to group `web`; add `[groups.web.state]` to toolhost.toml"
        );
        let quota = KvError::Quota {
            group,
            limit: "max_keys",
            would: "10,001 keys".into(),
        };
        assert!(quota.to_string().starts_with(
            "state quota exceeded: group `web` would hold 10,001 keys \
             (limit `max_keys` in [groups.web.state])"
        ));
    }
}
