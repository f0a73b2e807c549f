//! MCP over stdin/stdout, with the framing checks of [`crate::jsonrpc`].
//!
//! rmcp's own stdio transport drops what it cannot parse without a word (a
//! client waits forever for the answer) and reads as fast as the client
//! writes, spawning a task per request. Here rmcp talks to an in-memory
//! pipe instead, and two tasks stand between it and the process's streams:
//!
//! ```text
//! stdin ─▶ reader: one line at a time (at most `max_line` bytes kept),
//!            ├─ a plain tools/call: wait for a slot ─▶ CallService ─┐
//!            check ─┬─ valid: wait for a slot (≤ IN_FLIGHT requests  │
//!                   │          unanswered) ─▶ pipe ─▶ rmcp ─▶ Handler│
//!                   └─ invalid: error answer ─┐            │         │
//! stdout ◀─ writer: whole lines, one at a time ◀┴────────────┴─────────┘
//! ```
//!
//! The first branch is the fast path ([`crate::mcp::fast`]): a
//! `tools/call` that needs nothing of rmcp (no progress token, and either
//! a 2026-07-28 request or a session whose client offered nothing the
//! server may ask) goes straight to the call service on a task of its own,
//! and its answer (log lines, then the result) to the writer. rmcp's path
//! costs several times a small plugin call: decoding again, a task and
//! channels per request, and the pipes. The reader keeps what the fast
//! path needs of the session (the client's capabilities, the log level it
//! set) from the messages it passes to rmcp, and `notifications/cancelled`
//! stops a fast call as it would stop rmcp's.
//!
//! A client that pipelines more requests than the host answers meets
//! backpressure: the reader stops taking lines, the OS pipe fills and the
//! client's writes block. Memory stays bounded by the slot count, the pipe
//! and one line. Logs go to stderr (see `cli`), never to stdout.

// The session's log level is MCP logging, deprecated by SEP-2577 but how
// plugin log lines reach clients.
#![allow(deprecated)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use rmcp::model::LoggingLevel;
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::{RoleServer, ServiceExt as _};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::jsonrpc::{self, Kind, Rejection};
use crate::mcp::fast::{self, Call, Era};
use crate::mcp::rounds::Rounds;
use crate::service::{CallService, Who};

/// Longest message accepted on stdin by default; longer lines are answered
/// with an error and skipped without being buffered.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// Requests handed to rmcp and not yet answered. rmcp spawns a task per
/// request, so this is what bounds the work queued behind the handler's
/// concurrency limit.
const IN_FLIGHT: usize = 1024;

/// Bytes buffered between the reader and rmcp, and between rmcp and the
/// writer.
const PIPE_BYTES: usize = 256 * 1024;

/// Error answers waiting for the writer.
const ANSWERS: usize = 64;

/// What the reader needs to answer plain `tools/call`s itself, around
/// rmcp ([`crate::mcp::fast`]).
#[derive(Clone)]
pub struct Fast {
    pub service: CallService,
    pub rounds: Arc<Rounds>,
    /// The session's log level, shared with the handler, which answers
    /// `logging/setLevel`.
    pub level: Arc<Mutex<LoggingLevel>>,
}

/// Serves `service` over `input`/`output` until the client closes `input`
/// or the service ends, answering plain calls on the `fast` path when
/// given one. `max_line` is the longest message accepted.
pub async fn serve<S, R, W>(
    service: S,
    fast: Option<Fast>,
    input: R,
    output: W,
    max_line: usize,
) -> anyhow::Result<()>
where
    S: rmcp::Service<RoleServer>,
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (rmcp_side, our_side) = tokio::io::duplex(PIPE_BYTES);
    let (rmcp_read, rmcp_write) = tokio::io::split(rmcp_side);
    let (from_rmcp, to_rmcp) = tokio::io::split(our_side);
    // The reader caps lines itself; rmcp's cap only needs to let them in.
    let transport = AsyncRwTransport::<RoleServer, _, _>::new(rmcp_read, rmcp_write)
        .with_max_line_length(max_line.saturating_add(2));
    let window = Arc::new(Window::default());
    let (answers, answers_rx) = mpsc::channel(ANSWERS);
    let reader = tokio::spawn(read_loop(
        input,
        to_rmcp,
        Answers { tx: answers, fast },
        window.clone(),
        max_line,
    ));
    let writer = tokio::spawn(write_loop(from_rmcp, answers_rx, output, window.clone()));

    let outcome = async {
        let running = service
            .serve(transport)
            .await
            .context("the MCP session over stdio failed to start")?;
        running
            .waiting()
            .await
            .context("the MCP session over stdio failed")?;
        anyhow::Ok(())
    }
    .await;
    // The client is gone or the service ended: stop reading, then let the
    // writer send what is left.
    reader.abort();
    let _ = reader.await;
    // Fast calls still running would hold the writer open until they end.
    window.cancel_all();
    match writer.await {
        Ok(Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            tracing::debug!("writing to stdout failed: {e}");
        }
        _ => {}
    }
    outcome
}

/// Serves `service` over the process's stdin and stdout on a thread of its
/// own, until the client closes stdin or the service ends.
///
/// One client, one thread: its messages, rmcp's tasks for them and the
/// calls that finish at once all run there, so a request is read, answered
/// and written without waking another thread (calls that run long move to
/// the guest threads, see `runtime`). On the multi-threaded executor each
/// message crossed four tasks on two workers and, through tokio's blocking
/// stdin and stdout, two more threads: context switches were a third of the
/// host's CPU per call.
pub async fn serve_process<S>(service: S, fast: Option<Fast>, max_line: usize) -> anyhow::Result<()>
where
    S: rmcp::Service<RoleServer> + 'static,
{
    let (done, outcome) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("stdio".into())
        .spawn(move || {
            let served = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the stdio executor")
                .and_then(|executor| {
                    executor.block_on(async {
                        let (input, output) = process_streams();
                        serve(service, fast, input, output, max_line).await
                    })
                });
            let _ = done.send(served);
        })
        .context("cannot start the stdio thread")?;
    outcome
        .await
        .context("the stdio thread ended without an answer")?
}

/// The process's stdin and stdout. When they are pipes (as when an MCP
/// client spawns the host), they are read and written through the reactor
/// like sockets; tokio's own stdin and stdout hand every read and write to
/// a blocking thread. Anything else (a terminal, a file) gets those.
fn process_streams() -> (
    Box<dyn AsyncRead + Unpin + Send>,
    Box<dyn AsyncWrite + Unpin + Send>,
) {
    use std::os::fd::AsFd as _;
    use tokio::net::unix::pipe;
    // Duplicates share the open pipe ends with fds 0 and 1, which become
    // non-blocking; the client's ends of the pipes are untouched.
    let input = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .and_then(pipe::Receiver::from_owned_fd);
    let output = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .and_then(pipe::Sender::from_owned_fd);
    let input: Box<dyn AsyncRead + Unpin + Send> = match input {
        Ok(pipe) => Box::new(pipe),
        Err(_) => Box::new(tokio::io::stdin()),
    };
    let output: Box<dyn AsyncWrite + Unpin + Send> = match output {
        Ok(pipe) => Box::new(pipe),
        Err(_) => Box::new(tokio::io::stdout()),
    };
    (input, output)
}

/// The requests being answered, by id: by rmcp, or on the fast path
/// (which can be cancelled from here).
struct Window {
    slots: Semaphore,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    by_id: HashMap<String, Option<FastCall>>,
    /// Numbers fast calls, so that one that ends after its id was
    /// cancelled and reused does not close the new request.
    serial: u64,
}

struct FastCall {
    serial: u64,
    cancel: CancellationToken,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            slots: Semaphore::new(IN_FLIGHT),
            pending: Mutex::new(Pending::default()),
        }
    }
}

impl Window {
    /// Waits for a free slot for the request `id`, which rmcp answers.
    async fn open(&self, id: &Value) {
        self.open_for(id, None).await;
    }

    /// Waits for a free slot for the request `id`, answered on the fast
    /// path and stopped by `cancel`; its serial number, or `None` when the
    /// id is already in flight (rmcp answers such a request).
    async fn open_fast(&self, id: &Value, cancel: CancellationToken) -> Option<u64> {
        self.open_for(id, Some(cancel)).await
    }

    async fn open_for(&self, id: &Value, cancel: Option<CancellationToken>) -> Option<u64> {
        let key = id_key(id)?;
        if let Ok(permit) = self.slots.acquire().await {
            permit.forget();
        }
        let mut pending = self.lock();
        if pending.by_id.contains_key(&key) {
            drop(pending);
            // A reused id is answered once as far as this count goes.
            self.slots.add_permits(1);
            return None;
        }
        pending.serial += 1;
        let serial = pending.serial;
        let fast = cancel.map(|cancel| FastCall { serial, cancel });
        pending.by_id.insert(key, fast);
        Some(serial)
    }

    /// rmcp answered the request `id`.
    fn answered(&self, id: &Value) {
        let Some(key) = id_key(id) else { return };
        let mut pending = self.lock();
        if matches!(pending.by_id.get(&key), Some(None)) {
            pending.by_id.remove(&key);
            drop(pending);
            self.slots.add_permits(1);
        }
    }

    /// The fast call `serial` for `id` ended.
    fn finished(&self, id: &Value, serial: u64) {
        let Some(key) = id_key(id) else { return };
        let mut pending = self.lock();
        if matches!(pending.by_id.get(&key), Some(Some(call)) if call.serial == serial) {
            pending.by_id.remove(&key);
            drop(pending);
            self.slots.add_permits(1);
        }
    }

    /// The client cancelled the request `id`, so it will get no answer.
    fn cancelled(&self, id: &Value) {
        let Some(key) = id_key(id) else { return };
        let removed = self.lock().by_id.remove(&key);
        if let Some(call) = removed {
            if let Some(call) = call {
                call.cancel.cancel();
            }
            self.slots.add_permits(1);
        }
    }

    /// Stops every fast call: the session is over.
    fn cancel_all(&self) {
        for call in self.lock().by_id.values().flatten() {
            call.cancel.cancel();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where the reader sends answers it makes itself: error answers, and
/// calls on the fast path.
struct Answers {
    tx: mpsc::Sender<Vec<u8>>,
    fast: Option<Fast>,
}

/// What the reader has seen of the session, as far as the fast path
/// cares.
#[derive(Default)]
struct Seen {
    /// Whether the client's `initialize` offered anything the server may
    /// ask (`None`: no `initialize` yet).
    asks: Option<bool>,
    /// `notifications/initialized` came.
    initialized: bool,
}

impl Seen {
    /// Notes what `line`, a valid message on its way to rmcp, says.
    fn hear(&mut self, line: &[u8], level: &Mutex<LoggingLevel>) {
        #[derive(Deserialize)]
        struct Peek {
            method: Option<String>,
        }
        let Ok(Peek {
            method: Some(method),
        }) = serde_json::from_slice(line)
        else {
            return;
        };
        match method.as_str() {
            "initialize" => self.asks = Some(fast::offers_asks(line)),
            "notifications/initialized" => self.initialized = true,
            "logging/setLevel" => {
                // Set here too, so that a call read after it uses it even
                // before rmcp gets to it.
                if let Some(set) = fast::set_level(line) {
                    *level.lock().unwrap_or_else(|e| e.into_inner()) = set;
                }
            }
            _ => {}
        }
    }

    /// Whether a call without `_meta` may skip rmcp: the session is set
    /// up and its client cannot be asked anything.
    fn quiet_session(&self) -> bool {
        self.initialized && self.asks == Some(false)
    }
}

impl Fast {
    /// Starts `call` on the fast path, unless it needs rmcp: then `false`.
    async fn start(
        &self,
        call: Call,
        seen: &Seen,
        window: &Arc<Window>,
        answers: &mpsc::Sender<Vec<u8>>,
    ) -> bool {
        let era = if call.is_plain() && seen.quiet_session() {
            let level = *self.level.lock().unwrap_or_else(|e| e.into_inner());
            Era::Session(level)
        } else if let Some(level) = call.stateless_level() {
            // A 2026-07-28 request hears logs only at a level it names.
            Era::Stateless(level)
        } else {
            return false;
        };
        // Unknown tools and calls during the initial load are rmcp's to
        // answer.
        let who = Who::default();
        let Some(tool) = self
            .service
            .is_ready()
            .then(|| self.service.tool(who, &call.params.name).ok())
            .flatten()
        else {
            return false;
        };
        let cancel = CancellationToken::new();
        let Some(serial) = window.open_fast(&call.id, cancel.clone()).await else {
            return false;
        };
        let (service, rounds) = (self.service.clone(), self.rounds.clone());
        let (window, answers) = (window.clone(), answers.clone());
        tokio::spawn(async move {
            let id = call.id.clone();
            let cancel_call = cancel.clone();
            let answer = fast::answer(&service, &rounds, who, &tool, call, era, cancel_call).await;
            // A cancelled request gets no answer.
            if !cancel.is_cancelled() {
                let mut lines = Vec::new();
                for line in answer.logs.iter().chain([&answer.response]) {
                    if !lines.is_empty() {
                        lines.push(b'\n');
                    }
                    lines.extend_from_slice(line.as_bytes());
                }
                let _ = answers.send(lines).await;
            }
            window.finished(&id, serial);
        });
        true
    }
}

/// The same key for an id as the request carried it and as rmcp echoes it
/// (which writes `1.0` back as `1`).
fn id_key(id: &Value) -> Option<String> {
    match id {
        Value::String(s) => Some(format!("s{s}")),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(|n| format!("n{n}")),
        _ => None,
    }
}

/// stdin → checks → rmcp. Ends at end of input, closing `to_rmcp`.
async fn read_loop<R, P>(
    input: R,
    mut to_rmcp: P,
    Answers { tx: answers, fast }: Answers,
    window: Arc<Window>,
    max_line: usize,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    P: AsyncWrite + Unpin,
{
    let mut lines = LineReader::new(input, max_line);
    let mut seen = Seen::default();
    loop {
        let line = match lines.next().await? {
            // The pipe's other half is still read, so only a shutdown
            // tells rmcp that the client is gone.
            Line::Eof => return to_rmcp.shutdown().await,
            Line::TooLong => {
                tracing::warn!(max_line, "refused a message longer than {max_line} bytes");
                let _ = answers
                    .send(Rejection::too_large(max_line).to_bytes())
                    .await;
                continue;
            }
            Line::Complete(line) => line,
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Some(fast) = &fast
            && let Some(call) = Call::parse(line)
            && fast.start(call, &seen, &window, &answers).await
        {
            continue;
        }
        match jsonrpc::check(line) {
            Err(rejection) => {
                tracing::debug!("refused a message on stdin: {rejection}");
                if answers.send(rejection.to_bytes()).await.is_err() {
                    return Ok(());
                }
                continue;
            }
            Ok(Kind::Request { id }) => window.open(&id).await,
            Ok(Kind::Notification {
                cancelled: Some(id),
            }) => window.cancelled(&id),
            Ok(_) => {}
        }
        if let Some(fast) = &fast {
            seen.hear(line, &fast.level);
        }
        to_rmcp.write_all(line).await?;
        to_rmcp.write_all(b"\n").await?;
    }
}

/// rmcp's output and the error answers → stdout, one whole line at a time.
async fn write_loop<P, W>(
    from_rmcp: P,
    mut answers: mpsc::Receiver<Vec<u8>>,
    mut output: W,
    window: Arc<Window>,
) -> std::io::Result<()>
where
    P: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    #[derive(Deserialize)]
    struct Probe {
        id: Option<Value>,
        method: Option<IgnoredAny>,
    }
    let mut from_rmcp = BufReader::new(from_rmcp);
    let mut line = Vec::new();
    let (mut rmcp_open, mut answers_open) = (true, true);
    while rmcp_open || answers_open {
        tokio::select! {
            // `line` keeps a partial read when the other branch wins.
            read = from_rmcp.read_until(b'\n', &mut line), if rmcp_open => {
                if read? == 0 {
                    rmcp_open = false;
                    continue;
                }
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                if let Ok(Probe { id: Some(id), method: None }) = serde_json::from_slice(&line) {
                    window.answered(&id);
                }
                output.write_all(&line).await?;
                output.flush().await?;
                line.clear();
            }
            answer = answers.recv(), if answers_open => {
                let Some(mut answer) = answer else {
                    answers_open = false;
                    continue;
                };
                answer.push(b'\n');
                output.write_all(&answer).await?;
                output.flush().await?;
            }
        }
    }
    output.flush().await
}

enum Line<'a> {
    /// Without its `\n` (and `\r`).
    Complete(&'a [u8]),
    /// Longer than the cap; skipped up to its end.
    TooLong,
    Eof,
}

/// Reads lines of at most `max` bytes, skipping longer ones without
/// keeping them.
struct LineReader<R> {
    input: BufReader<R>,
    line: Vec<u8>,
    max: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    fn new(input: R, max: usize) -> Self {
        Self {
            input: BufReader::with_capacity(64 * 1024, input),
            line: Vec::new(),
            max,
        }
    }

    async fn next(&mut self) -> std::io::Result<Line<'_>> {
        self.line.clear();
        let mut too_long = false;
        loop {
            let available = self.input.fill_buf().await?;
            if available.is_empty() {
                // A last message without a newline still counts.
                return Ok(match (too_long, self.line.is_empty()) {
                    (true, _) => Line::TooLong,
                    (false, true) => Line::Eof,
                    (false, false) => Line::Complete(&self.line),
                });
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let take = newline.map_or(available.len(), |at| at + 1);
            if !too_long {
                let body = newline.map_or(available, |at| &available[..at]);
                if self.line.len() + body.len() > self.max {
                    too_long = true;
                    self.line = Vec::new();
                } else {
                    self.line.extend_from_slice(body);
                }
            }
            self.input.consume(take);
            if newline.is_some() {
                if too_long {
                    return Ok(Line::TooLong);
                }
                if self.line.ends_with(b"\r") {
                    self.line.pop();
                }
                return Ok(Line::Complete(&self.line));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rmcp::ServerHandler;
    use serde_json::json;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};

    use super::*;

    #[derive(Clone)]
    struct Bare;
    impl ServerHandler for Bare {}

    struct Client {
        input: DuplexStream,
        output: tokio::io::Lines<BufReader<DuplexStream>>,
    }

    impl Client {
        fn start(max_line: usize) -> Self {
            Self::serving(None, max_line)
        }

        /// A client of `Bare`, which answers no `tools/call`, with the
        /// fast path in front of it.
        async fn with_fast_path() -> Self {
            let service = crate::service::tests::math_service_with(Default::default()).await;
            let fast = Fast {
                service,
                rounds: Arc::new(Rounds::random()),
                level: Arc::new(Mutex::new(LoggingLevel::Info)),
            };
            Self::serving(Some(fast), MAX_LINE)
        }

        fn serving(fast: Option<Fast>, max_line: usize) -> Self {
            let (input, server_in) = tokio::io::duplex(64 * 1024);
            let (server_out, output) = tokio::io::duplex(64 * 1024);
            tokio::spawn(serve(Bare, fast, server_in, server_out, max_line));
            Self {
                input,
                output: BufReader::new(output).lines(),
            }
        }

        async fn send(&mut self, line: &str) {
            self.input.write_all(line.as_bytes()).await.unwrap();
            self.input.write_all(b"\n").await.unwrap();
        }

        async fn answer(&mut self) -> Value {
            let line = tokio::time::timeout(Duration::from_secs(10), self.output.next_line())
                .await
                .expect("an answer within 10s")
                .unwrap()
                .expect("a line");
            serde_json::from_str(&line).unwrap()
        }

        async fn initialize(&mut self) {
            self.initialize_offering(json!({})).await;
        }

        async fn initialize_offering(&mut self, capabilities: Value) {
            self.send(
                &json!({
                    "jsonrpc": "2.0", "id": 0, "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-11-25", "capabilities": capabilities,
                        "clientInfo": { "name": "t", "version": "0" }
                    }
                })
                .to_string(),
            )
            .await;
            assert_eq!(self.answer().await["id"], 0);
            self.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
                .await;
        }

        async fn ping(&mut self, id: u32) {
            self.send(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#))
                .await;
            let answer = self.answer().await;
            assert_eq!(answer["id"], id, "{answer}");
            assert_eq!(answer["result"], json!({}), "{answer}");
        }
    }

    fn add(id: u32, meta: Value) -> String {
        json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": "math_add", "arguments": { "a": 2, "b": 3 }, "_meta": meta },
        })
        .to_string()
    }

    // `Bare` answers no `tools/call`: a result comes from the fast path.
    #[tokio::test]
    async fn plain_calls_in_a_quiet_session_skip_rmcp() {
        let mut client = Client::with_fast_path().await;
        client.initialize().await;
        client.send(&add(1, json!({}))).await;
        let answer = client.answer().await;
        assert_eq!(answer["id"], 1, "{answer}");
        assert_eq!(answer["result"]["isError"], false, "{answer}");
        // `resultType` is of the 2026-07-28 era.
        assert!(answer["result"].get("resultType").is_none(), "{answer}");
        // A progress token needs rmcp.
        client.send(&add(2, json!({ "progressToken": 1 }))).await;
        let answer = client.answer().await;
        assert_eq!(answer["id"], 2, "{answer}");
        assert!(answer["error"].is_object(), "{answer}");
    }

    #[tokio::test]
    async fn a_client_that_may_be_asked_things_is_served_by_rmcp() {
        let mut client = Client::with_fast_path().await;
        client.initialize_offering(json!({ "sampling": {} })).await;
        client.send(&add(1, json!({}))).await;
        let answer = client.answer().await;
        assert!(answer["error"].is_object(), "{answer}");
    }

    #[tokio::test]
    async fn stateless_calls_are_answered_without_a_session() {
        let mut client = Client::with_fast_path().await;
        let meta = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": { "name": "t", "version": "0" },
        });
        client.send(&add(1, meta)).await;
        let answer = client.answer().await;
        assert_eq!(answer["result"]["resultType"], "complete", "{answer}");
        assert_eq!(answer["result"]["isError"], false, "{answer}");
        // Without a session, a plain call is rmcp's to refuse.
        client.send(&add(2, json!({}))).await;
        let answer = client.answer().await;
        assert!(answer["error"].is_object(), "{answer}");
    }

    #[tokio::test]
    async fn framing_errors_are_answered_and_the_session_goes_on() {
        let mut client = Client::start(MAX_LINE);
        client.send("{not json").await;
        let answer = client.answer().await;
        assert_eq!(answer["id"], Value::Null);
        assert_eq!(answer["error"]["code"], jsonrpc::PARSE_ERROR);
        client.initialize().await;
        client.send("").await;
        client
            .send(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#)
            .await;
        let answer = client.answer().await;
        assert_eq!(answer["error"]["code"], jsonrpc::INVALID_REQUEST);
        client.ping(2).await;
    }

    #[tokio::test]
    async fn the_session_ends_when_input_closes() {
        let (mut input, server_in) = tokio::io::duplex(1024);
        let (server_out, _output) = tokio::io::duplex(1024);
        let served = tokio::spawn(serve(Bare, None, server_in, server_out, MAX_LINE));
        input
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
            .await
            .unwrap();
        drop(input);
        tokio::time::timeout(Duration::from_secs(10), served)
            .await
            .expect("serve returns once stdin closes")
            .unwrap()
            .ok();
    }

    #[tokio::test]
    async fn long_lines_are_refused_without_ending_the_session() {
        let mut client = Client::start(1024);
        client.initialize().await;
        client
            .send(&format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":"{}"}}}}"#,
                "x".repeat(100_000)
            ))
            .await;
        let answer = client.answer().await;
        assert_eq!(answer["error"]["code"], jsonrpc::INVALID_REQUEST);
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("message too large"),
            "{answer}"
        );
        client.ping(2).await;
    }

    #[tokio::test]
    async fn pipelined_requests_meet_backpressure_and_all_get_answers() {
        let mut client = Client::start(MAX_LINE);
        client.initialize().await;
        const N: u32 = 20_000;
        let Client { mut input, output } = client;
        let writing = tokio::spawn(async move {
            let mut batch = String::new();
            for id in 1..=N {
                batch.push_str(&format!(
                    "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"ping\"}}\n"
                ));
            }
            input.write_all(batch.as_bytes()).await.unwrap();
            input
        });
        // Nobody reads the answers yet: the writes must stall, not pile up.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!writing.is_finished(), "the server read everything ahead");
        let mut output = output;
        let mut seen = 0;
        while seen < N {
            let line = tokio::time::timeout(Duration::from_secs(30), output.next_line())
                .await
                .expect("answers keep coming")
                .unwrap()
                .expect("a line");
            let answer: Value = serde_json::from_str(&line).unwrap();
            assert!(answer.get("result").is_some(), "{answer}");
            seen += 1;
        }
        let _input = writing.await.unwrap();
    }
}
