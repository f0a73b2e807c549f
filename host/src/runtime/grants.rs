//! What a group may reach beyond its own memory. Deny by default.
//!
//! Each grant has the same shape: built once from the group's policy (and
//! checked then, so a bad grant fails at load with a clear message), it
//! contributes to the WASI context of every instance. The runtime loops over
//! them and knows none of them by name.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::config::{DirMode, Policy};

/// One capability a group has been granted.
pub trait Grant: Send + Sync {
    /// Adds the capability to an instance's WASI context.
    fn apply(&self, wasi: &mut WasiCtxBuilder) -> anyhow::Result<()>;
}

/// Builds the grants a policy names, checking each.
pub fn from_policy(policy: &Policy) -> anyhow::Result<Vec<Box<dyn Grant>>> {
    let mut grants: Vec<Box<dyn Grant>> = Vec::new();
    if !policy.env.is_empty() {
        grants.push(Box::new(EnvGrant::new(&policy.env)));
    }
    for dir in &policy.dirs {
        grants.push(Box::new(DirGrant::new(&dir.host, &dir.guest, dir.mode)?));
    }
    Ok(grants)
}

/// Environment variables: `KEY` passes the host's value through (when set),
/// `KEY=VALUE` sets one. Nothing else of the host environment is visible.
struct EnvGrant {
    vars: Vec<(String, String)>,
}

impl EnvGrant {
    fn new(entries: &[String]) -> Self {
        let vars = entries
            .iter()
            .filter_map(|entry| match entry.split_once('=') {
                Some((key, value)) => Some((key.to_owned(), value.to_owned())),
                None => std::env::var(entry)
                    .ok()
                    .map(|value| (entry.clone(), value)),
            })
            .collect();
        Self { vars }
    }
}

impl Grant for EnvGrant {
    fn apply(&self, wasi: &mut WasiCtxBuilder) -> anyhow::Result<()> {
        wasi.envs(&self.vars);
        Ok(())
    }
}

/// A host directory seen at a guest path. WASI resolves every path inside
/// the preopen, so neither `..` nor a symlink leads out of it, and a
/// read-only grant refuses every write.
struct DirGrant {
    host: PathBuf,
    guest: String,
    perms: FsPerms,
}

impl DirGrant {
    fn new(host: &std::path::Path, guest: &str, mode: DirMode) -> anyhow::Result<Self> {
        let host = host
            .canonicalize()
            .with_context(|| format!("granted directory {} does not exist", host.display()))?;
        if !host.is_dir() {
            bail!("granted directory {} is not a directory", host.display());
        }
        let perms = match mode {
            DirMode::Ro => FsPerms::ReadOnly,
            DirMode::Rw => FsPerms::ReadWrite,
        };
        Ok(Self {
            host,
            guest: guest.to_owned(),
            perms,
        })
    }
}

impl Grant for DirGrant {
    fn apply(&self, wasi: &mut WasiCtxBuilder) -> anyhow::Result<()> {
        wasi.preopened_dir(&self.host, &self.guest, self.perms)
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot open granted directory {}: {e:#}",
                    self.host.display()
                )
            })?;
        Ok(())
    }
}
