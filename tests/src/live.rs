//! Helpers for hot reload and `toolhost dev`: a server whose client records
//! what the server says on its own (`notifications/tools/list_changed`, log
//! messages), and versions of the `versioned` fixture made by patching its
//! name and tag slots.

use std::process::Stdio;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, Tool};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::{LIMIT, Notes, PluginDir, VERSIONED, bounded, process, toolhost_bin};

/// The `versioned` fixture with group name `name` and version tag `tag`
/// (each at most 32 bytes of `[A-Za-z0-9_-]`): its `version` tool answers
/// `tag`, and its descriptions mention it.
pub fn versioned_as(name: &str, tag: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(VERSIONED).expect("read the versioned fixture");
    patch_slot(&mut bytes, b"versioned#", name);
    patch_slot(&mut bytes, b"v0#", tag);
    bytes
}

/// The `versioned` fixture (group `versioned`) tagged `tag`.
pub fn versioned(tag: &str) -> Vec<u8> {
    versioned_as("versioned", tag)
}

/// Replaces the 32-byte slot starting with `prefix` (padded with `#`) by
/// `value` padded the same way.
fn patch_slot(bytes: &mut [u8], prefix: &[u8], value: &str) {
    assert!(
        value.len() <= 32 && !value.contains('#'),
        "slot value {value:?}"
    );
    let at = bytes
        .windows(prefix.len())
        .position(|window| window == prefix)
        .unwrap_or_else(|| {
            panic!(
                "no slot {:?} in the fixture",
                String::from_utf8_lossy(prefix)
            )
        });
    let mut slot = [b'#'; 32];
    slot[..value.len()].copy_from_slice(value.as_bytes());
    bytes[at..at + 32].copy_from_slice(&slot);
}

/// Publishes `bytes` as `name` in `dir`'s plugin directory the safe way:
/// written under a temporary name, then renamed into place.
pub fn publish(dir: &PluginDir, name: &str, bytes: &[u8]) {
    let tmp = dir.root().join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).expect("write the temporary file");
    std::fs::rename(&tmp, dir.plugins().join(name)).expect("rename into place");
}

/// A running `toolhost` (serve or dev) with a listening client.
pub struct Live {
    client: RunningService<RoleClient, Notes>,
    notes: Notes,
    stderr: process::Recording,
    stdout: process::Recording,
    child: Child,
}

impl Live {
    /// `toolhost serve <dir> --cache-dir <root>/cache ARGS`.
    pub async fn serve(dir: &PluginDir, args: &[&str]) -> Live {
        let mut command = Live::command(&["serve"]);
        command
            .arg(dir.plugins())
            .arg("--cache-dir")
            .arg(dir.root().join("cache"))
            .args(args);
        Live::connect(command).await
    }

    /// `toolhost ARGS` with the client connected to its stdio.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Live {
        let mut command = Live::command(args);
        command.envs(env.iter().copied());
        Live::connect(command).await
    }

    /// The command [`Live::start`] runs, to adjust before [`Live::connect`].
    pub fn command(args: &[&str]) -> Command {
        let mut command = Command::new(toolhost_bin());
        command
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("TOOLHOST_CONFIG")
            .env("NO_COLOR", "1");
        command
    }

    /// Runs `command` (from [`Live::command`]) and connects the client.
    pub async fn connect(mut command: Command) -> Live {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn toolhost");
        let stderr = process::record_stderr(&mut child);
        let (recorder, stdout) = process::recorded_stdout(&mut child);
        let notes = Notes::default();
        let transport = (recorder, child.stdin.take().unwrap());
        let client = match tokio::time::timeout(LIMIT, notes.clone().serve(transport)).await {
            Ok(Ok(client)) => client,
            outcome => panic!(
                "MCP handshake with toolhost failed: {:?}\nstderr:\n{}",
                outcome.map(|r| r.err()),
                process::text_of(&stderr)
            ),
        };
        Live {
            client,
            notes,
            stderr,
            stdout,
            child,
        }
    }

    /// The MCP client.
    pub fn client(&self) -> &RunningService<RoleClient, Notes> {
        &self.client
    }

    /// What the client heard.
    pub fn notes(&self) -> &Notes {
        &self.notes
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// How many `tools/list_changed` notifications arrived so far.
    pub fn changes(&self) -> u64 {
        *self.notes.changes.borrow()
    }

    /// Waits until more than `seen` `tools/list_changed` notifications
    /// arrived; returns the new count.
    pub async fn wait_for_change(&self, seen: u64) -> u64 {
        let mut changes = self.notes.changes.subscribe();
        let wait = changes.wait_for(|n| *n > seen);
        match tokio::time::timeout(LIMIT, wait).await {
            Ok(Ok(n)) => *n,
            _ => panic!(
                "no tools/list_changed within {LIMIT:?}\nstderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// Asserts that no `tools/list_changed` arrives for `quiet`.
    pub async fn assert_no_change(&self, quiet: Duration) {
        let seen = self.changes();
        tokio::time::sleep(quiet).await;
        assert_eq!(
            self.changes(),
            seen,
            "unexpected tools/list_changed\nstderr:\n{}",
            self.stderr()
        );
    }

    /// `tools/list`.
    pub async fn tools(&self) -> Vec<Tool> {
        bounded("tools/list", self.client.list_all_tools())
            .await
            .expect("tools/list")
    }

    /// The published tool `name`, if any.
    pub async fn tool(&self, name: &str) -> Option<Tool> {
        self.tools()
            .await
            .into_iter()
            .find(|tool| tool.name == name)
    }

    /// Polls `tools/list` until `done` holds for it.
    pub async fn wait_for_tools(&self, what: &str, done: impl Fn(&[Tool]) -> bool) -> Vec<Tool> {
        let wait = async {
            loop {
                let tools = self.tools().await;
                if done(&tools) {
                    return tools;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        match tokio::time::timeout(LIMIT, wait).await {
            Ok(tools) => tools,
            Err(_) => panic!("{what}: not within {LIMIT:?}\nstderr:\n{}", self.stderr()),
        }
    }

    /// `tools/call`: `Ok(text)` for a successful result, `Err` with the
    /// reason for a JSON-RPC error or an `isError` result.
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<String, String> {
        let mut params = CallToolRequestParams::new(tool.to_string());
        if let Value::Object(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        match bounded(&format!("tools/call {tool}"), self.client.call_tool(params)).await {
            Err(e) => Err(format!("JSON-RPC error: {e}")),
            Ok(result) => {
                let text = crate::text(&result);
                if result.is_error == Some(true) {
                    Err(text)
                } else {
                    Ok(text)
                }
            }
        }
    }

    /// The `versioned` group's answer (its tag).
    pub async fn version(&self, tool: &str) -> String {
        self.call(tool, serde_json::json!({}))
            .await
            .unwrap_or_else(|e| panic!("{tool}: {e}\nstderr:\n{}", self.stderr()))
    }

    /// Log notifications received so far, as `level: data` lines.
    pub fn logs(&self) -> Vec<String> {
        self.notes.log_lines()
    }

    /// Waits for a log notification containing `needle`.
    pub async fn wait_for_log(&self, needle: &str) -> String {
        self.wait_for(&format!("a log notification containing {needle:?}"), || {
            self.logs().into_iter().find(|log| log.contains(needle))
        })
        .await
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        process::text_of(&self.stderr)
    }

    /// Waits for a stderr line containing every one of `needles`.
    pub async fn wait_for_stderr(&self, needles: &[&str]) -> String {
        self.wait_for(&format!("a stderr line with {needles:?}"), || {
            self.stderr()
                .lines()
                .find(|line| needles.iter().all(|n| line.contains(n)))
                .map(str::to_owned)
        })
        .await
    }

    async fn wait_for<T>(&self, what: &str, found: impl Fn() -> Option<T>) -> T {
        let wait = async {
            loop {
                if let Some(found) = found() {
                    return found;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        match tokio::time::timeout(LIMIT, wait).await {
            Ok(found) => found,
            Err(_) => panic!("{what}: not within {LIMIT:?}\nstderr:\n{}", self.stderr()),
        }
    }

    /// Waits until the initial load is over (a first `tools/list` answers
    /// only then) and returns the tools.
    pub async fn ready(&self) -> Vec<Tool> {
        self.tools().await
    }

    /// Lines on stdout (the protocol stream) that are not JSON-RPC.
    pub fn protocol_violations(&self) -> Vec<String> {
        process::protocol_violations(&self.stdout)
    }

    /// Closes the client and waits for the server to exit.
    pub async fn stop(mut self) {
        let _ = bounded("closing the client", self.client.close()).await;
        let _ = bounded("toolhost exit", self.child.wait()).await;
    }
}
