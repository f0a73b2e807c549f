//! The `state` capability: the WIT `kv` interface, backed by the process's
//! [`KvStore`].
//!
//! Every group's instances link `kv`; only a group granted
//! `[groups.NAME.state]` gets a [`KvAccess`] in its instances'
//! extensions, and every other group's calls get an error naming that
//! table. The store is opened once per process, off the async workers, by
//! the first state operation of any group: loading a group (or inspecting
//! one) never touches the file. Here the key is checked and each call's
//! operation budget ([`MAX_OPS_PER_CALL`]) is spent; the store does the
//! rest atomically (quotas, expiry). Its scope is always the calling
//! group's name, never something the guest says.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use wasmtime::component::{HasSelf, Linker};

use super::capability::{Capability, Grant, InstanceBuilder};
use super::state::CallState;
use super::toolhost::plugin::kv;
use crate::config::Policy;
use crate::kv::embedded::EmbeddedStore;
use crate::kv::{KvError, KvResult, KvStore, MAX_PAGE, Scope, check_key};

/// Most state operations one call may make: enough for any sane batch,
/// few enough that a hostile guest cannot keep the disk busy.
pub const MAX_OPS_PER_CALL: u32 = 1000;

/// The capability: every group's grant shares its one store.
pub(super) struct KeyValue {
    store: Option<Arc<LazyStore>>,
}

impl KeyValue {
    /// State kept under `data_dir` (`None`: no directory could be worked
    /// out, so a grant fails to load with a message saying so).
    pub(super) fn new(data_dir: Option<PathBuf>) -> Self {
        Self {
            store: data_dir.map(|dir| {
                Arc::new(LazyStore {
                    dir,
                    store: OnceCell::new(),
                })
            }),
        }
    }
}

/// The embedded store in `dir`, opened at its first use.
struct LazyStore {
    dir: PathBuf,
    store: OnceCell<Arc<dyn KvStore>>,
}

impl LazyStore {
    /// The store, opened now if it is not yet: on the blocking pool, once
    /// per process (a failure is retried by the next operation).
    async fn get(&self) -> KvResult<Arc<dyn KvStore>> {
        self.store
            .get_or_try_init(|| async {
                let dir = self.dir.clone();
                let opened = tokio::task::spawn_blocking(move || EmbeddedStore::open(&dir))
                    .await
                    .map_err(|e| KvError::Store(format!("opening the store failed: {e}")))?;
                match opened {
                    Ok(store) => Ok(store as Arc<dyn KvStore>),
                    Err(e) => Err(KvError::Store(format!("{e:#}"))),
                }
            })
            .await
            .cloned()
    }
}

/// What one group was granted: the store and its quotas.
struct StateGrant {
    store: Arc<LazyStore>,
    quota: crate::config::StateQuota,
}

/// Per-instance state access: the group's scope and the current call's
/// operation count.
pub(super) struct KvAccess {
    store: Arc<LazyStore>,
    scope: Arc<Scope>,
    /// [`CallState::call_number`] of the call `used` counts for.
    call: u64,
    used: u32,
}

impl Capability for KeyValue {
    fn key(&self) -> &'static str {
        "state"
    }

    fn link(&self, linker: &mut Linker<CallState>) -> anyhow::Result<()> {
        kv::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
    }

    fn grant(&self, policy: &Policy) -> anyhow::Result<Option<Arc<dyn Grant>>> {
        let Some(quota) = policy.state else {
            return Ok(None);
        };
        let store = self.store.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "there is no directory to keep state in (neither $XDG_DATA_HOME nor $HOME is \
                 set): set `data_dir` in [server] of toolhost.toml, or --data-dir"
            )
        })?;
        Ok(Some(Arc::new(StateGrant { store, quota })))
    }
}

impl Grant for StateGrant {
    fn build(&self, instance: &mut InstanceBuilder<'_>) -> anyhow::Result<()> {
        instance.extensions.insert(KvAccess {
            store: self.store.clone(),
            scope: Arc::new(Scope {
                group: instance.group.clone(),
                quota: self.quota,
            }),
            call: 0,
            used: 0,
        });
        Ok(())
    }
}

impl CallState {
    /// The store and scope for one more operation of the current call, or
    /// the message the guest gets: state not granted, the call's budget
    /// spent, or the store failing to open.
    async fn kv(&mut self) -> Result<(Arc<dyn KvStore>, Arc<Scope>), String> {
        let (store, scope) = self.spend_kv_op().map_err(|e| e.to_string())?;
        let store = store.get().await.map_err(|e| e.to_string())?;
        Ok((store, scope))
    }

    fn spend_kv_op(&mut self) -> KvResult<(Arc<LazyStore>, Arc<Scope>)> {
        let call = self.call_number();
        let group = self.group().clone();
        let access = self
            .extensions
            .get_mut::<KvAccess>()
            .ok_or(KvError::NotGranted { group })?;
        if access.call != call {
            access.call = call;
            access.used = 0;
        }
        if access.used >= MAX_OPS_PER_CALL {
            return Err(KvError::Budget { spent: access.used });
        }
        access.used += 1;
        Ok((access.store.clone(), access.scope.clone()))
    }
}

/// A key checked, or the message the guest gets.
fn checked(key: &str) -> Result<(), String> {
    check_key(key).map_err(|e| e.to_string())
}

impl kv::Host for CallState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, String> {
        let (store, scope) = self.kv().await?;
        checked(&key)?;
        store.get(scope, key).await.map_err(|e| e.to_string())
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> Result<(), String> {
        let (store, scope) = self.kv().await?;
        checked(&key)?;
        if ttl_ms == Some(0) {
            return Err(format!(
                "a TTL of 0ms would expire `{key}` at once; give at least 1ms, or none"
            ));
        }
        store
            .set(scope, key, value, ttl_ms.map(Duration::from_millis))
            .await
            .map_err(|e| e.to_string())
    }

    async fn delete(&mut self, key: String) -> Result<bool, String> {
        let (store, scope) = self.kv().await?;
        checked(&key)?;
        store.delete(scope, key).await.map_err(|e| e.to_string())
    }

    async fn keys(
        &mut self,
        prefix: String,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<String>, String> {
        let (store, scope) = self.kv().await?;
        store
            .keys(scope, prefix, after, limit.min(MAX_PAGE))
            .await
            .map_err(|e| e.to_string())
    }

    async fn increment(&mut self, key: String, delta: i64) -> Result<i64, String> {
        let (store, scope) = self.kv().await?;
        checked(&key)?;
        store
            .increment(scope, key, delta)
            .await
            .map_err(|e| e.to_string())
    }
}
