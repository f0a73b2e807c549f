//! A running `toolhost serve --http 127.0.0.1:0`, and clients for it: rmcp's
//! streamable HTTP client (both protocol eras) and raw HTTP for the cases
//! where the status code is the point.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use rmcp::model::ProtocolVersion;
use rmcp::service::{ClientLifecycleMode, ClientServiceExt as _, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt as _};
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::{LIMIT, Notes, PluginDir, bounded, process, toolhost_bin};

/// An MCP client connected over HTTP; its handler is [`Notes`].
pub type HttpClient = RunningService<RoleClient, Notes>;

/// `toolhost serve DIR --http 127.0.0.1:0 [ARGS]` as a child process, on a
/// port it picked itself (read from its log), with its stderr recorded. The
/// process is killed when this is dropped.
pub struct HttpServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stderr: process::Recording,
}

impl HttpServer {
    /// Starts the server and waits until it listens.
    pub async fn start(dir: &PluginDir, args: &[&str]) -> HttpServer {
        HttpServer::start_with_env(dir, args, &[]).await
    }

    /// Like [`HttpServer::start`], with extra environment variables.
    pub async fn start_with_env(
        dir: &PluginDir,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> HttpServer {
        let mut command = Command::new(toolhost_bin());
        command
            .arg("serve")
            .arg(dir.plugins())
            .args(["--http", "127.0.0.1:0"]);
        if let Some(config) = dir.config() {
            command.arg("--config").arg(config);
        }
        command
            .args(args)
            .env_remove("TOOLHOST_CONFIG")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn toolhost");
        let stderr = process::record_stderr(&mut child);
        let mut server = HttpServer {
            child,
            base: String::new(),
            stderr,
        };
        let address = async {
            loop {
                if let Some(address) = server
                    .stderr()
                    .lines()
                    .filter(|line| line.contains("serving MCP over HTTP"))
                    .find_map(|line| line.split("address=").nth(1))
                    .and_then(|rest| rest.split_whitespace().next())
                {
                    return address.to_owned();
                }
                if let Ok(Some(status)) = server.child.try_wait() {
                    panic!(
                        "toolhost exited ({status}) before listening:\n{}",
                        server.stderr()
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let address = match tokio::time::timeout(LIMIT, address).await {
            Ok(address) => address,
            Err(_) => panic!(
                "toolhost did not listen within {LIMIT:?}:\n{}",
                server.stderr()
            ),
        };
        server.base = format!("http://{address}");
        server
    }

    /// `BASE/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits until `/readyz` says the initial load is done; returns its body.
    pub async fn wait_ready(&self) -> Value {
        let client = http_client();
        let wait = async {
            loop {
                if let Ok(response) = client.get(self.url("/readyz")).send().await
                    && response.status() == 200
                {
                    return response.json::<Value>().await.expect("readyz JSON");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        bounded("/readyz", wait).await
    }

    /// An MCP client on the 2025-11-25 session flow (`initialize`,
    /// `Mcp-Session-Id`), with `token` as bearer token if given.
    pub async fn connect(&self, token: Option<&str>) -> HttpClient {
        self.connect_with(token, ClientLifecycleMode::Initialize)
            .await
            .unwrap_or_else(|e| panic!("MCP over HTTP: {e}\nstderr:\n{}", self.stderr()))
    }

    /// An MCP client on the stateless 2026-07-28 flow (`server/discover`,
    /// per-request metadata).
    pub async fn connect_stateless(&self, token: Option<&str>) -> HttpClient {
        self.connect_with(
            token,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap_or_else(|e| panic!("MCP over HTTP: {e}\nstderr:\n{}", self.stderr()))
    }

    /// Connects with `lifecycle`; `Err` is the client's error text.
    pub async fn connect_with(
        &self,
        token: Option<&str>,
        lifecycle: ClientLifecycleMode,
    ) -> Result<HttpClient, String> {
        self.connect_as(Notes::default(), token, lifecycle).await
    }

    /// Connects with `notes` as the client's handler.
    pub async fn connect_as(
        &self,
        notes: Notes,
        token: Option<&str>,
        lifecycle: ClientLifecycleMode,
    ) -> Result<HttpClient, String> {
        connect_to(&self.url("/mcp"), notes, token, lifecycle).await
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        process::text_of(&self.stderr)
    }

    /// The process id, e.g. to send it a signal.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("toolhost is running")
    }

    /// Sends SIGTERM, as a service manager does to stop the server.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        bounded("toolhost exit", self.child.wait())
            .await
            .expect("wait for toolhost")
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- toolhost stderr ---\n{}--- end of toolhost stderr ---",
                self.stderr()
            );
        }
    }
}

/// An MCP client for the endpoint `url`, with `notes` as its handler.
pub async fn connect_to(
    url: &str,
    notes: Notes,
    token: Option<&str>,
    lifecycle: ClientLifecycleMode,
) -> Result<HttpClient, String> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    tls_provider();
    let transport = StreamableHttpClientTransport::from_config(config);
    match lifecycle {
        ClientLifecycleMode::Initialize => {
            bounded("MCP handshake over HTTP", notes.serve(transport)).await
        }
        lifecycle => {
            bounded(
                "MCP discovery over HTTP",
                notes.serve_with_lifecycle(transport, lifecycle),
            )
            .await
        }
    }
    .map_err(|e| e.to_string())
}

/// Chooses the process's TLS crypto provider: reqwest's rustls (enabled
/// for the whole workspace by the host, which configures its own clients)
/// needs one chosen before any client is built, even one that only speaks
/// plain HTTP. rustls's first `ClientConfig::builder()` installs the one
/// its features name (ring, as the host's).
pub fn tls_provider() {
    static CHOSEN: std::sync::Once = std::sync::Once::new();
    CHOSEN.call_once(|| {
        let _ = rustls::ClientConfig::builder();
    });
}

/// A plain HTTP client, for status-code cases.
pub fn http_client() -> reqwest::Client {
    tls_provider();
    reqwest::Client::builder()
        .timeout(LIMIT)
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// The raw `initialize` POST of the session flow, as JSON-RPC.
pub fn initialize_body() -> Value {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": { "name": "raw", "version": "0" }
        }
    })
}

/// A POST to `/mcp` with the headers MCP requires (JSON body, accepting
/// JSON and SSE).
pub fn post_mcp(
    client: &reqwest::Client,
    server: &HttpServer,
    body: &Value,
) -> reqwest::RequestBuilder {
    client
        .post(server.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string())
}

/// POSTs one 2026-07-28 JSON-RPC request (`body`) to `/mcp` with the
/// headers the protocol asks for (`Mcp-Method`, `Mcp-Name` = `name`) and
/// `token` as bearer, if any: the HTTP status and the JSON-RPC response
/// (the last `data:` line of an SSE answer, or the JSON body).
pub async fn post_2026(
    server: &HttpServer,
    token: Option<&str>,
    name: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut request = http_client().post(server.url("/mcp"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", body["method"].as_str().unwrap_or_default())
        .header("mcp-name", name)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .rfind(|data| !data.is_empty())
        .unwrap_or(&text);
    let json = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, json)
}
