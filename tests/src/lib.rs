//! Harness for toolhost's end-to-end tests.
//!
//! The tests run the real `toolhost` binary ([`toolhost_bin`]) on a temporary
//! plugin directory ([`PluginDir`]) holding components built by `build.rs`
//! (the consts [`MATH`], [`MISBEHAVE`], …) and talk to it over stdio with a
//! real rmcp client ([`Server`]), asserting what an MCP client would see.
//!
//! Run them with `cargo test -p toolhost-tests`: `build.rs` builds the
//! example and fixture plugins (release, wasm32-wasip2) and the first test
//! builds the `toolhost` binary with the tests' own profile. Set
//! `TOOLHOST_BIN` to test another build of the binary instead.
//!
//! Every wait on the server is bounded ([`LIMIT`] per request, [`LOAD_LIMIT`]
//! for loading), so a host that hangs fails the test instead of stalling the
//! suite.

mod binary;
pub mod http;
pub mod live;
mod notes;
pub mod origin;
mod plugin_dir;
mod process;
pub mod python;
pub mod raw_stdio;
mod server;
pub mod servers;

use std::time::Duration;

pub use binary::{run_toolhost, toolhost_bin};
pub use notes::{Notes, SAMPLED_TEXT};
pub use plugin_dir::PluginDir;
pub use server::{Server, text};

/// Paths of the components built by `build.rs`, one const per component.
pub mod artifacts {
    include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));
}
pub use artifacts::*;

/// The longest any single request to the server may take.
pub const LIMIT: Duration = Duration::from_secs(60);

/// The longest the server may take to load its plugin directory. Longer than
/// [`LIMIT`]: the handshake does not wait for compilation, and a debug build
/// of the host compiling a multi-megabyte component on a busy machine (tests
/// run in parallel) legitimately takes tens of seconds.
pub const LOAD_LIMIT: Duration = Duration::from_secs(240);

/// Awaits `future`, panicking with `what` if it takes longer than [`LIMIT`].
pub async fn bounded<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(LIMIT, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: no answer within {LIMIT:?}"),
    }
}
