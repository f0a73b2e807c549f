//! What a group may reach beyond its own memory: one [`Capability`] per
//! thing that can be granted, each with the same lifecycle (as Spin's
//! factors). Deny by default.
//!
//! 1. [`Capability::link`]: add its imports to each engine's linker, once.
//! 2. [`Capability::grant`]: check a group's policy when the group loads
//!    (a bad grant fails the load with a message naming the config key) and
//!    prepare what the group's instances get.
//! 3. [`Grant::build`]: contribute to each new instance: its WASI context
//!    and the capability's own per-instance state, kept in
//!    [`CallState::extensions`] and read back by the capability's host
//!    functions.
//!
//! The runtime loops over [`all`] and knows none of them by name; adding
//! one (outbound HTTP, key-value state) touches no other.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use wasmtime::component::{HasSelf, Linker};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::outbound::{self, CallHooks};
use super::state::CallState;
use super::toolhost::plugin::{host, types};
use crate::config::{Config, DirMode, Policy};

/// One kind of thing a group can be granted.
pub trait Capability: Send + Sync {
    /// Its name in `[groups.NAME]` of the config file, for messages.
    fn key(&self) -> &'static str;

    /// Adds the capability's imports to a linker. Called once per engine.
    fn link(&self, linker: &mut Linker<CallState>) -> anyhow::Result<()>;

    /// Checks `policy` and prepares what a group's instances get; `None`
    /// when the policy grants nothing of this capability.
    fn grant(&self, policy: &Policy) -> anyhow::Result<Option<Arc<dyn Grant>>>;
}

/// What one group was granted of one capability.
pub trait Grant: Send + Sync {
    /// Contributes to a new instance.
    fn build(&self, instance: &mut InstanceBuilder<'_>) -> anyhow::Result<()>;
}

/// What a [`Grant`] may contribute to while an instance is built.
pub struct InstanceBuilder<'a> {
    /// The group's name.
    pub group: &'a Arc<str>,
    /// The WASI context (environment, preopened directories).
    pub wasi: &'a mut WasiCtxBuilder,
    /// Per-instance state of capabilities, by type.
    pub extensions: &'a mut Extensions,
    /// What the instance's outbound HTTP requests go through.
    pub http: &'a mut Box<dyn CallHooks>,
}

/// Per-instance state of capabilities, one value per type.
#[derive(Default)]
pub struct Extensions {
    values: HashMap<TypeId, Box<dyn Any + Send>>,
}

impl Extensions {
    /// Stores `value`, replacing one of the same type.
    pub fn insert<T: Any + Send>(&mut self, value: T) {
        self.values.insert(TypeId::of::<T>(), Box::new(value));
    }

    /// The value of type `T`, if one was stored.
    pub fn get<T: Any + Send>(&self) -> Option<&T> {
        self.values.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// The value of type `T`, mutable, if one was stored.
    pub fn get_mut<T: Any + Send>(&mut self) -> Option<&mut T> {
        self.values.get_mut(&TypeId::of::<T>())?.downcast_mut()
    }
}

/// Every capability, in the order they are linked and built.
pub fn all(config: &Config, outbound: &Arc<outbound::Stats>) -> Vec<Arc<dyn Capability>> {
    vec![
        Arc::new(Wasi),
        Arc::new(Env),
        Arc::new(Dirs),
        Arc::new(HostApi),
        Arc::new(outbound::Outbound::new(outbound.clone())),
        Arc::new(super::kv::KeyValue::new(config.server.data_dir())),
    ]
}

/// The capabilities `policy` grants, each checked.
pub fn grants(
    capabilities: &[Arc<dyn Capability>],
    group: &str,
    policy: &Policy,
) -> Result<Vec<Arc<dyn Grant>>, String> {
    let mut grants = Vec::new();
    for capability in capabilities {
        match capability.grant(policy) {
            Ok(Some(grant)) => grants.push(grant),
            Ok(None) => {}
            Err(e) => {
                return Err(format!(
                    "{e:#}; check `{}` in [groups.{group}] of toolhost.toml",
                    capability.key()
                ));
            }
        }
    }
    Ok(grants)
}

/// WASI itself (clocks, random, captured stdio; sockets denied). Every
/// group has it: the Rust standard library needs it to start.
struct Wasi;

impl Capability for Wasi {
    fn key(&self) -> &'static str {
        "wasi"
    }

    fn link(&self, linker: &mut Linker<CallState>) -> anyhow::Result<()> {
        wasmtime_wasi::p2::add_to_linker_async(linker).map_err(|e| anyhow::anyhow!("{e:#}"))
    }

    fn grant(&self, _policy: &Policy) -> anyhow::Result<Option<Arc<dyn Grant>>> {
        Ok(None)
    }
}

/// Environment variables: `KEY` passes the host's value through (when set),
/// `KEY=VALUE` sets one. Nothing else of the host environment is visible.
struct Env;

struct EnvGrant {
    vars: Vec<(String, String)>,
}

impl Capability for Env {
    fn key(&self) -> &'static str {
        "env"
    }

    fn link(&self, _linker: &mut Linker<CallState>) -> anyhow::Result<()> {
        Ok(())
    }

    fn grant(&self, policy: &Policy) -> anyhow::Result<Option<Arc<dyn Grant>>> {
        if policy.env.is_empty() {
            return Ok(None);
        }
        let vars = policy
            .env
            .iter()
            .filter_map(|entry| match entry.split_once('=') {
                Some((key, value)) => Some((key.to_owned(), value.to_owned())),
                None => std::env::var(entry)
                    .ok()
                    .map(|value| (entry.clone(), value)),
            })
            .collect();
        Ok(Some(Arc::new(EnvGrant { vars })))
    }
}

impl Grant for EnvGrant {
    fn build(&self, instance: &mut InstanceBuilder<'_>) -> anyhow::Result<()> {
        instance.wasi.envs(&self.vars);
        Ok(())
    }
}

/// Host directories seen at guest paths. WASI resolves every path inside
/// the preopen, so neither `..` nor a symlink leads out of it, and a
/// read-only grant refuses every write.
struct Dirs;

struct DirsGrant {
    dirs: Vec<(PathBuf, String, FsPerms)>,
}

impl Capability for Dirs {
    fn key(&self) -> &'static str {
        "dirs"
    }

    fn link(&self, _linker: &mut Linker<CallState>) -> anyhow::Result<()> {
        Ok(())
    }

    fn grant(&self, policy: &Policy) -> anyhow::Result<Option<Arc<dyn Grant>>> {
        if policy.dirs.is_empty() {
            return Ok(None);
        }
        let mut dirs = Vec::new();
        for dir in &policy.dirs {
            let host = dir.host.canonicalize().with_context(|| {
                format!("granted directory {} does not exist", dir.host.display())
            })?;
            if !host.is_dir() {
                bail!("granted directory {} is not a directory", host.display());
            }
            let perms = match dir.mode {
                DirMode::Ro => FsPerms::ReadOnly,
                DirMode::Rw => FsPerms::ReadWrite,
            };
            dirs.push((host, dir.guest.clone(), perms));
        }
        Ok(Some(Arc::new(DirsGrant { dirs })))
    }
}

impl Grant for DirsGrant {
    fn build(&self, instance: &mut InstanceBuilder<'_>) -> anyhow::Result<()> {
        for (host, guest, perms) in &self.dirs {
            instance
                .wasi
                .preopened_dir(host, guest, *perms)
                .map_err(|e| {
                    anyhow::anyhow!("cannot open granted directory {}: {e:#}", host.display())
                })?;
        }
        Ok(())
    }
}

/// The contract's `host` interface: log, progress, cancelled, config,
/// resource-updated, sample and elicit. Every group has it; its config
/// values come from `[groups.NAME.config]`.
struct HostApi;

/// The `[groups.NAME.config]` values an instance reads with `config(key)`.
pub(super) struct HostConfig(pub Arc<BTreeMap<String, String>>);

struct HostGrant {
    config: Arc<BTreeMap<String, String>>,
}

impl Capability for HostApi {
    fn key(&self) -> &'static str {
        "config"
    }

    fn link(&self, linker: &mut Linker<CallState>) -> anyhow::Result<()> {
        types::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)
            .and_then(|()| {
                host::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)
            })
            .map_err(|e| anyhow::anyhow!("{e:#}"))
    }

    fn grant(&self, policy: &Policy) -> anyhow::Result<Option<Arc<dyn Grant>>> {
        Ok(Some(Arc::new(HostGrant {
            config: Arc::new(policy.config.clone()),
        })))
    }
}

impl Grant for HostGrant {
    fn build(&self, instance: &mut InstanceBuilder<'_>) -> anyhow::Result<()> {
        instance.extensions.insert(HostConfig(self.config.clone()));
        Ok(())
    }
}
