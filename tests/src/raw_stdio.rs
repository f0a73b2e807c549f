//! `toolhost serve` spoken to line by line, as a raw stdio client: for
//! tests that need exact bytes on the wire, which rmcp's client hides.

use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::http::initialize_body;
use crate::{PluginDir, bounded, toolhost_bin};

pub struct RawStdio {
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl RawStdio {
    /// `toolhost serve` on `dir`'s plugins, with its config if it has one.
    pub async fn start(dir: &PluginDir) -> RawStdio {
        let mut command = Command::new(toolhost_bin());
        command.arg("serve").arg(dir.plugins());
        if let Some(config) = dir.config() {
            command.arg("--config").arg(config);
        }
        let mut child = command
            .env_remove("TOOLHOST_CONFIG")
            .env("RUST_LOG", "debug")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn toolhost");
        RawStdio {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()).lines(),
            _child: child,
        }
    }

    pub async fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.write_all(b"\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// The next message on stdout, which must be JSON.
    pub async fn message(&mut self) -> Value {
        let line = bounded("a line on stdout", self.stdout.next_line())
            .await
            .expect("read stdout")
            .expect("toolhost closed stdout");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"))
    }

    /// The next response (notifications are skipped).
    pub async fn answer(&mut self) -> Value {
        self.answer_after().await.1
    }

    /// The notifications before the next response, and the response.
    pub async fn answer_after(&mut self) -> (Vec<Value>, Value) {
        let mut notifications = Vec::new();
        loop {
            let message = self.message().await;
            if message.get("id").is_some() {
                return (notifications, message);
            }
            notifications.push(message);
        }
    }

    pub async fn request(&mut self, message: &Value) -> Value {
        self.send(&message.to_string()).await;
        self.answer().await
    }

    /// The 2025-11-25 handshake of a client that offers `capabilities`.
    pub async fn initialize(&mut self, capabilities: Value) {
        let mut initialize = initialize_body();
        initialize["params"]["capabilities"] = capabilities;
        let answer = self.request(&initialize).await;
        assert_eq!(
            answer["result"]["serverInfo"]["name"], "toolhost",
            "{answer}"
        );
        self.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await;
    }
}
