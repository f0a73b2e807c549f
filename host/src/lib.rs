//! toolhost: runs WebAssembly service groups as MCP tools.
//!
//! The data path, one module per step:
//!
//! ```text
//! client ─▶ transport (stdio) ─▶ mcp ─▶ catalog lookup ─▶ validate arguments
//!        ◀─ result mapping ◀─ runtime: sandboxed call (fresh Store, limits) ◀─┘
//! load (directory) ─▶ runtime: compile + describe ─▶ catalog swap ─▶ list_changed
//! ```
//!
//! - [`config`]: `toolhost.toml`, limits and per-group policy.
//! - [`runtime`]: engines, the sandbox, one call; knows nothing of MCP.
//! - [`catalog`]: groups → tools, naming, validators, atomic swap.
//! - [`mcp`]: the rmcp `ServerHandler`; knows nothing of wasm.
//! - [`load`]: plugin directories into the catalog.
//! - [`cli`]: the `toolhost` command.

pub mod catalog;
pub mod cli;
pub mod config;
pub mod load;
pub mod mcp;
pub mod runtime;
