//! toolhost: runs WebAssembly service groups as MCP tools.
//!
//! The data path, one module per step:
//!
//! ```text
//!  stdio ─┐                                                  ┌─ wasm component (runtime)
//!  HTTP  ─┼─▶ door (mcp, http) ─▶ service ─▶ catalog ─▶ source ┤
//!         │   protocol only      authz,      names,          └─ (upstream MCP servers, later)
//!         │                      limits,     collisions,
//!         │                      metrics,    atomic swap
//!         │                      events
//! load / watch (directory) ─▶ runtime: compile or cache + describe ─▶ catalog swap ─▶ list_changed
//! ```
//!
//! - [`config`]: `toolhost.toml`, limits and per-group policy.
//! - [`source`]: the source seam: what serves tools, resources, prompts.
//! - [`runtime`]: engines, the sandbox, capabilities, one call; a wasm
//!   component as a [`source::Source`]; knows nothing of MCP.
//! - [`naming`]: how published names are formed and checked.
//! - [`icons`]: the icons a group declares, checked before they are published.
//! - [`published`]: resources, templates and prompts as clients see them.
//! - [`catalog`]: sources → what clients see, collisions, atomic swap.
//! - [`schema`]: tool schemas compiled within caps, validated within a budget.
//! - [`service`]: the call service every door goes through: readiness,
//!   lookup, authorization, in-flight accounting, metrics, events.
//! - [`mcp`]: the MCP door, an rmcp `ServerHandler` over the service.
//! - [`http`]: the axum router around it: `/mcp`, probes, guards, auth.
//! - [`stdio`]: stdin/stdout around it, line by line, with backpressure.
//! - [`jsonrpc`]: framing checks both transports run before rmcp.
//! - [`caller`]: who is calling, as a transport tells the door.
//! - [`kv`]: persistent key-value state per group, behind a store trait.
//! - [`tasks`]: calls that outlive their request, behind a store trait.
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
pub mod icons;
pub mod jsonrpc;
pub mod kv;
pub mod load;
pub mod mcp;
pub mod metrics;
pub mod naming;
pub mod published;
pub mod runtime;
pub mod schema;
pub mod service;
pub mod source;
pub mod stdio;
pub mod tasks;
pub mod upstream;
pub mod watch;

#[cfg(test)]
mod config_fuzz;
#[cfg(test)]
mod jsonrpc_fuzz;
