//! A running `toolhost serve` with an MCP client connected to it over stdio.

use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, ServerPeerInfo, Tool};
use rmcp::service::{RunningService, ServiceError};
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::{PluginDir, bounded, process, toolhost_bin};

/// `toolhost serve` as a child process, with an initialised rmcp client on
/// its stdin/stdout. Its stderr and everything it wrote to stdout are
/// recorded, so tests can assert on log lines and on the cleanliness of the
/// protocol stream. The process is killed when this is dropped.
pub struct Server {
    client: RunningService<RoleClient, ()>,
    child: Child,
    stderr: process::Recording,
    stdout: process::Recording,
}

impl Server {
    /// Starts `toolhost serve DIR [--config FILE]` and completes the MCP
    /// handshake.
    pub async fn start(dir: &PluginDir) -> Server {
        Server::start_with(dir, &[]).await
    }

    /// Like [`Server::start`], with extra command-line arguments
    /// (`--fuel`, `--timeout`, …).
    pub async fn start_with(dir: &PluginDir, args: &[&str]) -> Server {
        Server::start_with_env(dir, args, &[]).await
    }

    /// Like [`Server::start_with`], with extra environment variables for the
    /// server process (which a group sees only if its config grants them).
    pub async fn start_with_env(dir: &PluginDir, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(toolhost_bin());
        command.arg("serve").arg(dir.plugins());
        if let Some(config) = dir.config() {
            command.arg("--config").arg(config);
        }
        command
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("TOOLHOST_CONFIG")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn toolhost");
        let stderr = process::record_stderr(&mut child);
        let (recorder, stdout) = process::recorded_stdout(&mut child);
        let transport = (recorder, child.stdin.take().unwrap());
        let client = match tokio::time::timeout(crate::LIMIT, ().serve(transport)).await {
            Ok(Ok(client)) => client,
            outcome => panic!(
                "MCP handshake with toolhost failed: {outcome:?}\nstderr:\n{}",
                process::text_of(&stderr)
            ),
        };
        Server {
            client,
            child,
            stderr,
            stdout,
        }
    }

    /// What the server said about itself in the handshake.
    pub fn info(&self) -> Arc<ServerPeerInfo> {
        self.client.peer_info().expect("handshake done")
    }

    /// The client, for requests the helpers here do not cover.
    pub fn client(&self) -> &RunningService<RoleClient, ()> {
        &self.client
    }

    /// `tools/list`, every page.
    pub async fn tools(&self) -> Vec<Tool> {
        bounded("tools/list", self.client.list_all_tools())
            .await
            .expect("tools/list")
    }

    /// Polls `tools/list` until every tool in `names` is published (the host
    /// may answer the handshake before it has compiled every component), then
    /// returns the full list.
    pub async fn wait_for_tools(&self, names: &[&str]) -> Vec<Tool> {
        let wait = async {
            loop {
                let tools = self.client.list_all_tools().await.expect("tools/list");
                if names
                    .iter()
                    .all(|name| tools.iter().any(|tool| tool.name == *name))
                {
                    return tools;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        match tokio::time::timeout(crate::LOAD_LIMIT, wait).await {
            Ok(tools) => tools,
            Err(_) => panic!(
                "tools {names:?} not published within {:?}\nstderr:\n{}",
                crate::LOAD_LIMIT,
                self.stderr()
            ),
        }
    }

    /// `tools/call`; `Err` is a JSON-RPC error.
    pub async fn try_call(
        &self,
        tool: &str,
        arguments: Value,
    ) -> Result<CallToolResult, ServiceError> {
        let mut params = CallToolRequestParams::new(tool.to_string());
        if let Value::Object(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        bounded(&format!("tools/call {tool}"), self.client.call_tool(params)).await
    }

    /// `tools/call` that must produce a result (successful or not).
    pub async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        self.try_call(tool, arguments)
            .await
            .unwrap_or_else(|e| panic!("tools/call {tool}: JSON-RPC error {e}"))
    }

    /// `tools/call` that must succeed; returns the result.
    pub async fn call_ok(&self, tool: &str, arguments: Value) -> CallToolResult {
        let result = self.call(tool, arguments).await;
        assert_ne!(
            result.is_error,
            Some(true),
            "{tool} failed: {}",
            text(&result)
        );
        result
    }

    /// `tools/call` that must fail with `isError: true`; returns its text.
    pub async fn call_err(&self, tool: &str, arguments: Value) -> String {
        let result = self.call(tool, arguments).await;
        assert_eq!(
            result.is_error,
            Some(true),
            "{tool} should have failed: {result:?}"
        );
        text(&result)
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        strip_ansi(&process::text_of(&self.stderr))
    }

    /// Waits (up to [`crate::LOAD_LIMIT`]: log lines about loading come after
    /// compilation) until a line of stderr satisfies `wanted`; returns it.
    pub async fn wait_for_log_line(&self, wanted: impl Fn(&str) -> bool) -> String {
        let wait = async {
            loop {
                if let Some(line) = self.stderr().lines().find(|line| wanted(line)) {
                    return line.to_string();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        match tokio::time::timeout(crate::LOAD_LIMIT, wait).await {
            Ok(line) => line,
            Err(_) => panic!(
                "no such line on stderr within {:?}; stderr:\n{}",
                crate::LOAD_LIMIT,
                self.stderr()
            ),
        }
    }

    /// Waits for an error line on stderr that contains every one of `needles`.
    pub async fn wait_for_error_line(&self, needles: &[&str]) -> String {
        self.wait_for_log_line(|line| {
            is_error_line(line) && needles.iter().all(|n| line.contains(n))
        })
        .await
    }

    /// Everything the server wrote to stdout so far (the protocol stream).
    pub fn stdout(&self) -> String {
        process::text_of(&self.stdout)
    }

    /// Lines the server wrote to stdout that are not JSON-RPC messages: any
    /// such line means something other than the protocol reached stdout.
    pub fn protocol_violations(&self) -> Vec<String> {
        process::protocol_violations(&self.stdout)
    }

    /// Closes the server's stdin, as a client does when it is done, and
    /// waits for the process to exit.
    pub async fn stop(mut self) -> ExitStatus {
        let _ = bounded("closing the client", self.client.close()).await;
        bounded("toolhost exit after stdin closed", self.child.wait())
            .await
            .expect("wait for toolhost")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- toolhost stderr ---\n{}--- end of toolhost stderr ---",
                self.stderr()
            );
        }
    }
}

/// The text content of a tool result, one block per line.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text())
        .map(|block| block.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a log line is at error level, in the plain or the JSON format.
fn is_error_line(line: &str) -> bool {
    line.contains("ERROR") || line.contains(r#""level":"error""#)
}

/// Removes terminal colour sequences (`ESC [ … letter`) from log output.
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}
