//! A lean stdio client for the round-trip row: JSON-RPC lines written and
//! read on the pipes with blocking I/O, no client library in between, so
//! that the time measured is the server's and the pipes'. (rmcp's client
//! spends several times the server's own time per call on its tasks and
//! channels; its row is printed beside this one.)

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::toolhost_bin;

pub struct LineClient {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: String,
    next_id: u64,
}

impl LineClient {
    /// Spawns `toolhost serve DIR ARGS` and completes a 2025-11-25
    /// handshake as a client that offers nothing.
    pub fn start(dir: &Path, args: &[&OsStr]) -> LineClient {
        let mut child = Command::new(toolhost_bin())
            .arg("serve")
            .arg(dir)
            .args(args)
            .env_remove("TOOLHOST_CONFIG")
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn toolhost");
        let mut client = LineClient {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
            line: String::new(),
            next_id: 1,
        };
        client.send(
            r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#,
        );
        client.receive();
        client.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        client
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
    }

    fn receive(&mut self) -> &str {
        self.line.clear();
        let read = self.stdout.read_line(&mut self.line).unwrap();
        assert!(read > 0, "toolhost closed stdout");
        &self.line
    }

    /// Latencies (sorted) of `count` sequential calls of `tool` with
    /// `arguments` (JSON text); the first call waits for the initial load.
    pub fn round_trips(&mut self, tool: &str, arguments: &str, count: usize) -> Vec<Duration> {
        let mut latencies = Vec::with_capacity(count);
        for _ in 0..=count {
            let id = self.next_id;
            self.next_id += 1;
            let request = format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}"#
            );
            let sent = Instant::now();
            self.send(&request);
            let answer = self.receive();
            let took = sent.elapsed();
            assert!(
                answer.contains(r#""isError":false"#),
                "a call over stdio failed: {answer}"
            );
            latencies.push(took);
        }
        // The first waited for the initial load.
        latencies.remove(0);
        latencies.sort();
        latencies
    }
}

/// Latencies (sorted) of `count` lines echoed by `cat` over the same kind
/// of pipes: the round trip between two processes that no server can go
/// under (each side sleeps and is woken once per line).
pub fn pipe_round_trips(count: usize) -> Vec<Duration> {
    let mut cat = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    let mut stdin = cat.stdin.take().unwrap();
    let mut stdout = BufReader::new(cat.stdout.take().unwrap());
    let request = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"math_add","arguments":{"a":1.5,"b":2.5}}}"#;
    let mut line = String::new();
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let sent = Instant::now();
        stdin.write_all(request.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
        line.clear();
        stdout.read_line(&mut line).unwrap();
        latencies.push(sent.elapsed());
    }
    drop(stdin);
    let _ = cat.wait();
    latencies.sort();
    latencies
}

impl Drop for LineClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
