//! The HTTP side of the figures: a `toolhost serve --http 127.0.0.1:0`
//! child process, and a load generator for it.
//!
//! The load generator is hand-rolled on purpose: N keep-alive TCP
//! connections, each sending one raw HTTP/1.1 request at a time and reading
//! the whole response (`Content-Length` or chunked) before the next. That
//! is all a closed-loop benchmark needs, costs the client little CPU (it
//! shares the machine's cores with the server), and needs no dependency.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::Barrier;
use toolhost_tests::PluginDir;

use crate::common::{ARGS, toolhost_bin};
use crate::cpu::{Others, cpu_time};

/// The stateless protocol version (one self-contained POST per call).
const STATELESS: &str = "2026-07-28";
/// The session protocol version (`initialize`, then `Mcp-Session-Id`).
const SESSION: &str = "2025-11-25";

/// `toolhost serve DIR --http 127.0.0.1:0`, killed when dropped.
pub struct HttpServer {
    _child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
}

impl HttpServer {
    /// Starts the server on `dir` (with its config and a private compile
    /// cache) and waits until `/readyz` answers 200.
    pub async fn start(dir: &PluginDir) -> HttpServer {
        let mut command = Command::new(toolhost_bin());
        command
            .arg("serve")
            .arg(dir.plugins())
            .args(["--http", "127.0.0.1:0"])
            .arg("--cache-dir")
            .arg(dir.root().join("cache"));
        if let Some(config) = dir.config() {
            command.arg("--config").arg(config);
        }
        command
            .env_remove("TOOLHOST_CONFIG")
            .env("RUST_LOG", "warn,toolhost=info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn toolhost");
        let pid = child.id().expect("toolhost is running");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let find_address = async {
            let mut log = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("address=").nth(1) {
                    let address = rest.split_whitespace().next().unwrap_or_default();
                    return address.parse::<SocketAddr>().expect("address= in the log");
                }
                log.push_str(&line);
                log.push('\n');
            }
            panic!("toolhost exited before listening:\n{log}");
        };
        let addr = tokio::time::timeout(Duration::from_secs(60), find_address)
            .await
            .expect("toolhost listens within 60 s");
        // Keep reading so that a chatty server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let server = HttpServer {
            _child: child,
            addr,
            pid,
        };
        let ready = async {
            loop {
                if let Ok(mut conn) = Conn::open(addr).await
                    && let Ok(response) = conn.send(&get(addr, "/readyz")).await
                    && response.status == 200
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(120), ready)
            .await
            .expect("/readyz answers 200 within 120 s");
        server
    }
}

/// One HTTP response, body decoded from its framing.
pub struct Response {
    pub status: u16,
    pub session: Option<String>,
    pub event_stream: bool,
    pub body: Vec<u8>,
}

impl Response {
    /// The JSON-RPC message in the body: the body itself, or for an SSE
    /// stream the `data:` line that holds a response.
    pub fn message(&self) -> Value {
        let text = String::from_utf8_lossy(&self.body);
        if !self.event_stream {
            return serde_json::from_str(&text).unwrap_or(Value::Null);
        }
        text.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .find(|message| message.get("id").is_some())
            .unwrap_or(Value::Null)
    }

    /// Whether this is a successful `tools/call` result; cheap enough for
    /// the load loop (a substring, not a parse).
    fn is_call_success(&self) -> bool {
        self.status == 200
            && self
                .body
                .windows(br#""isError":false"#.len())
                .any(|window| window == br#""isError":false"#)
    }
}

/// A keep-alive HTTP/1.1 connection.
pub struct Conn {
    stream: BufReader<TcpStream>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::with_capacity(64 * 1024, stream),
        })
    }

    /// Sends `request` (raw bytes) and reads the whole response.
    pub async fn send(&mut self, request: &[u8]) -> std::io::Result<Response> {
        self.stream.get_mut().write_all(request).await?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> std::io::Result<Response> {
        let mut line = String::new();
        self.read_line(&mut line).await?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| broken(&format!("status line {line:?}")))?;
        let (mut length, mut chunked, mut session, mut event_stream) = (None, false, None, false);
        loop {
            line.clear();
            self.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                return Err(broken(&format!("header {header:?}")));
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "mcp-session-id" => session = Some(value.to_owned()),
                "content-type" => event_stream = value.starts_with("text/event-stream"),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.read_line(&mut line).await?;
                let size = line.trim_end().split(';').next().unwrap_or_default();
                let size = usize::from_str_radix(size, 16)
                    .map_err(|_| broken(&format!("chunk size {line:?}")))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    loop {
                        line.clear();
                        self.read_line(&mut line).await?;
                        if line.trim_end().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                self.stream.read_exact(&mut body[start..]).await?;
                line.clear();
                self.read_line(&mut line).await?;
            }
        } else if let Some(length) = length {
            body.resize(length, 0);
            self.stream.read_exact(&mut body).await?;
        } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
            return Err(broken(
                "a response without length on a keep-alive connection",
            ));
        }
        Ok(Response {
            status,
            session,
            event_stream,
            body,
        })
    }

    async fn read_line(&mut self, line: &mut String) -> std::io::Result<()> {
        if self.stream.read_line(line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

fn broken(what: &str) -> std::io::Error {
    std::io::Error::other(format!("unexpected HTTP response: {what}"))
}

/// `GET PATH`.
pub fn get(addr: SocketAddr, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()
}

/// A `POST /mcp` of `body` with the headers every MCP POST carries, plus
/// `headers`.
fn post_mcp(addr: SocketAddr, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    request.into_bytes()
}

/// A stateless 2026-07-28 `tools/call` of `tool` with `arguments` (JSON
/// text): one self-contained POST, as `bench/http.sh` sends it.
pub fn stateless_call(addr: SocketAddr, tool: &str, arguments: &str) -> Vec<u8> {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments},"_meta":{{"io.modelcontextprotocol/protocolVersion":"{STATELESS}","io.modelcontextprotocol/clientCapabilities":{{}},"io.modelcontextprotocol/clientInfo":{{"name":"figures","version":"0"}}}}}}}}"#
    );
    let headers = [
        ("MCP-Protocol-Version", STATELESS),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", tool),
    ];
    post_mcp(addr, &headers, &body)
}

/// A 2025-11-25 session on one connection: `initialize`, then
/// `notifications/initialized`; calls carry its `Mcp-Session-Id`.
pub struct Session {
    id: String,
    next_request: u64,
}

impl Session {
    pub async fn open(conn: &mut Conn, addr: SocketAddr) -> Session {
        let initialize = format!(
            r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{SESSION}","capabilities":{{}},"clientInfo":{{"name":"figures","version":"0"}}}}}}"#
        );
        let response = conn
            .send(&post_mcp(addr, &[], &initialize))
            .await
            .expect("initialize");
        let id = response.session.clone().unwrap_or_else(|| {
            panic!(
                "initialize answered {} without Mcp-Session-Id: {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            )
        });
        assert!(
            response.message()["result"]["protocolVersion"].is_string(),
            "initialize: {}",
            String::from_utf8_lossy(&response.body)
        );
        let session = Session {
            id,
            next_request: 1,
        };
        let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let response = conn
            .send(&post_mcp(addr, &session.headers(), initialized))
            .await
            .expect("notifications/initialized");
        assert!(
            (200..300).contains(&response.status),
            "notifications/initialized: {}",
            response.status
        );
        session
    }

    fn headers(&self) -> [(&str, &str); 2] {
        [
            ("Mcp-Session-Id", self.id.as_str()),
            ("MCP-Protocol-Version", SESSION),
        ]
    }

    /// A `tools/call` of `tool` on this session, with a fresh request id.
    pub fn call(&mut self, addr: SocketAddr, tool: &str, arguments: &str) -> Vec<u8> {
        let id = self.next_request;
        self.next_request += 1;
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}"#
        );
        post_mcp(addr, &self.headers(), &body)
    }
}

/// What the load loop sends.
#[derive(Clone, Copy)]
pub enum Traffic {
    /// `GET /healthz`: the HTTP stack's floor.
    Healthz,
    /// Stateless `tools/call math_add`.
    Stateless,
    /// `tools/call math_add` on a session per connection.
    Session,
}

/// What one load run measured.
pub struct Load {
    pub requests: u64,
    pub failures: u64,
    pub per_second: f64,
    /// Sorted.
    pub latencies: Vec<Duration>,
    /// Server CPU time (user + system) over the run, per request.
    pub cpu_per_request: Duration,
    /// Cores kept busy by processes other than the server and this bench
    /// during the run: noise that lowers the figures.
    pub others: f64,
}

/// Drives `server` with `traffic` on `connections` connections for
/// `duration`, each connection one request at a time.
pub async fn drive(
    server: &HttpServer,
    traffic: Traffic,
    connections: usize,
    duration: Duration,
) -> Load {
    let addr = server.addr;
    let start_line = Arc::new(Barrier::new(connections + 1));
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let start_line = start_line.clone();
            tokio::spawn(async move {
                let mut conn = Conn::open(addr).await.expect("connect");
                let mut session = match traffic {
                    Traffic::Session => Some(Session::open(&mut conn, addr).await),
                    _ => None,
                };
                let fixed = match traffic {
                    Traffic::Healthz => get(addr, "/healthz"),
                    _ => stateless_call(addr, "math_add", ARGS),
                };
                let (mut latencies, mut failures) = (Vec::new(), 0u64);
                start_line.wait().await;
                let deadline = Instant::now() + duration;
                while Instant::now() < deadline {
                    let request = match &mut session {
                        Some(session) => session.call(addr, "math_add", ARGS),
                        None => fixed.clone(),
                    };
                    let sent = Instant::now();
                    let response = conn.send(&request).await.expect("a response");
                    latencies.push(sent.elapsed());
                    let ok = match traffic {
                        Traffic::Healthz => response.status == 200,
                        _ => response.is_call_success(),
                    };
                    failures += u64::from(!ok);
                }
                (latencies, failures)
            })
        })
        .collect();
    start_line.wait().await;
    let (others, cpu_before) = (Others::start(Some(server.pid)), cpu_time(server.pid));
    let started = Instant::now();
    let (mut latencies, mut failures) = (Vec::new(), 0);
    for task in tasks {
        let (task_latencies, task_failures) = task.await.expect("load task");
        latencies.extend(task_latencies);
        failures += task_failures;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time(server.pid).saturating_sub(cpu_before);
    latencies.sort();
    let requests = latencies.len() as u64;
    Load {
        requests,
        failures,
        per_second: requests as f64 / elapsed.as_secs_f64(),
        latencies,
        cpu_per_request: cpu / requests.max(1) as u32,
        others: others.cores(),
    }
}
