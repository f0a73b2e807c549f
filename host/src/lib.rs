//! toolhost: runs WebAssembly service groups as MCP tools.
//!
//! The data path, one module per step:
//!
//! ```text
//! client ─▶ transport (stdio | HTTP) ─▶ mcp ─▶ catalog lookup ─▶ validate arguments
//!        ◀─ result mapping ◀─ runtime: sandboxed call (fresh Store, limits) ◀─┘
//! load / watch (directory) ─▶ runtime: compile or cache + describe ─▶ catalog swap ─▶ list_changed
//! ```
//!
//! - [`config`]: `toolhost.toml`, limits and per-group policy.
//! - [`runtime`]: engines, the sandbox, one call; knows nothing of MCP.
//! - [`catalog`]: groups → tools, naming, validators, atomic swap.
//! - [`mcp`]: the rmcp `ServerHandler`; knows nothing of wasm.
//! - [`http`]: the axum router around it: `/mcp`, probes, guards, auth.
//! - [`caller`]: who is calling, as a transport tells the handler.
//! - [`metrics`]: call and HTTP counters, Prometheus text.
//! - [`load`]: plugin directories into the catalog.
//! - [`watch`]: directory events → reloads of the files that changed.
//! - [`dev`]: `toolhost dev`, build + serve + rebuild on save.
//! - [`cli`]: the `toolhost` command.

pub mod caller;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod dev;
pub mod http;
pub mod load;
pub mod mcp;
pub mod metrics;
pub mod published;
pub mod runtime;
pub mod watch;
