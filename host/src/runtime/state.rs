//! Per-store state: the WASI context, the memory limiter, captured stdio and
//! the `host` interface a group imports.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::capability::{Extensions, Grant, HostConfig, InstanceBuilder};
use super::capture::Tail;
use super::outbound::{CallHooks, Denied};
use super::toolhost::plugin::{host, types};
use crate::config::Limits;

/// Most log and progress messages one call may send; more are dropped.
const MAX_EVENTS_PER_CALL: u32 = 1000;
/// Longest log message forwarded, in bytes.
const MAX_EVENT_TEXT: usize = 8 * 1024;
/// Most sampling and elicitation requests one call may send the client.
const MAX_REQUESTS_PER_CALL: u32 = 16;
/// Longest resource URI a group may announce as updated, in bytes.
const MAX_UPDATED_URI: usize = 8 * 1024;

/// Something a guest reported or asked for during a call.
#[derive(Debug)]
pub enum PluginEvent {
    /// `host.log`.
    Log {
        level: types::Level,
        message: String,
    },
    /// `host.progress`.
    Progress {
        done: f64,
        total: Option<f64>,
        message: Option<String>,
    },
    /// `host.resource-updated`, with the URI as the group declares it.
    ResourceUpdated { uri: String },
    /// `host.sample`: the guest waits for `reply`.
    Sample {
        request: types::SamplingRequest,
        reply: oneshot::Sender<Result<types::SamplingResponse, String>>,
    },
    /// `host.elicit`: the guest waits for `reply`.
    Elicit {
        message: String,
        requested_schema: String,
        reply: oneshot::Sender<Result<types::ElicitResponse, String>>,
    },
    /// `host.ask`: the guest waits for `reply`, one answer per question.
    Ask {
        questions: Vec<(String, types::Question)>,
        reply: oneshot::Sender<Result<Vec<Result<types::Answer, String>>, String>>,
    },
    /// `host.elicit-url`, with a URL checked to be http(s): the guest waits
    /// for `reply`.
    ElicitUrl {
        message: String,
        url: String,
        reply: oneshot::Sender<Result<types::ElicitAction, String>>,
    },
    /// `host.run-as-task`: the guest waits for `reply`.
    RunAsTask {
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// `host.set-listed`: the guest waits for `reply`.
    SetListed {
        kind: types::ItemKind,
        name: String,
        listed: bool,
        reply: oneshot::Sender<Result<bool, String>>,
    },
}

/// Where a call's events go.
pub type EventSink = UnboundedSender<PluginEvent>;

pub struct CallState {
    group: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: MemoryLimiter,
    pub stdout: Tail,
    pub stderr: Tail,
    /// Per-instance state of the capabilities granted.
    pub extensions: Extensions,
    http_ctx: WasiHttpCtx,
    /// Where outbound HTTP requests are checked and sent.
    http: Box<dyn CallHooks>,
    events: Option<EventSink>,
    events_sent: u32,
    requests_sent: u32,
    /// Calls begun on this instance, the current one included.
    calls: u64,
    cancel: CancellationToken,
    /// When the current call must stop; read by the epoch callback.
    pub deadline: Instant,
}

impl CallState {
    pub fn new(
        group: Arc<str>,
        grants: &[Arc<dyn Grant>],
        limits: &Limits,
    ) -> anyhow::Result<Self> {
        let stdout = Tail::default();
        let stderr = Tail::default();
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false);
        let mut extensions = Extensions::default();
        let mut http: Box<dyn CallHooks> = Box::new(Denied);
        for grant in grants {
            grant.build(&mut InstanceBuilder {
                group: &group,
                wasi: &mut wasi,
                extensions: &mut extensions,
                http: &mut http,
            })?;
        }
        Ok(Self {
            group,
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.memory),
            stdout,
            stderr,
            extensions,
            http_ctx: WasiHttpCtx::new(),
            http,
            events: None,
            events_sent: 0,
            requests_sent: 0,
            calls: 0,
            cancel: CancellationToken::new(),
            deadline: Instant::now(),
        })
    }

    /// Resets per-call state before a call starts.
    pub fn begin_call(
        &mut self,
        deadline: Instant,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) {
        self.deadline = deadline;
        self.http.begin_call(deadline);
        self.events = events;
        self.events_sent = 0;
        self.requests_sent = 0;
        self.calls += 1;
        self.cancel = cancel;
        self.limiter.denied = None;
        self.stdout.clear();
        self.stderr.clear();
    }

    /// The group this instance runs.
    pub fn group(&self) -> &Arc<str> {
        &self.group
    }

    /// Which call of this instance is running (1 for the first): per-call
    /// budgets of capabilities start again when it changes.
    pub fn call_number(&self) -> u64 {
        self.calls
    }

    /// Drops what belongs to the finished call: a kept instance must not
    /// hold the call's event sink open (its receiver waits for the end).
    pub fn end_call(&mut self) {
        self.events = None;
        self.cancel = CancellationToken::new();
    }

    /// Sends what the guest printed to the host log (stderr), never to
    /// stdout.
    pub fn log_captured_output(&self) {
        for (stream, tail) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if tail.total() > 0 {
                tracing::debug!(group = %self.group, stream, bytes = tail.total(), tail = %tail.text(), "guest output");
            }
        }
    }

    /// Sends a request to the client through the call's event sink and
    /// waits for the answer. There is none without a client (a call made by
    /// the host itself, as in benchmarks).
    async fn ask_client<T>(
        &mut self,
        what: &str,
        event: impl FnOnce(oneshot::Sender<Result<T, String>>) -> PluginEvent,
    ) -> Result<T, String> {
        if self.requests_sent >= MAX_REQUESTS_PER_CALL {
            return Err(format!(
                "this call already asked the client {MAX_REQUESTS_PER_CALL} times; \
                 no more {what} requests are sent during one call"
            ));
        }
        self.requests_sent += 1;
        self.request(what, event).await
    }

    /// Sends `event` through the call's event sink and waits for the
    /// answer to `what` (a noun: "sampling", "listing").
    async fn request<T>(
        &mut self,
        what: &str,
        event: impl FnOnce(oneshot::Sender<Result<T, String>>) -> PluginEvent,
    ) -> Result<T, String> {
        let Some(events) = &self.events else {
            return Err(format!(
                "no MCP client is attached to this call to answer {what}"
            ));
        };
        let (reply, answer) = oneshot::channel();
        events
            .send(event(reply))
            .map_err(|_| format!("the client connection closed before {what} could be asked"))?;
        answer
            .await
            .unwrap_or_else(|_| Err(format!("the client connection closed during {what}")))
    }

    /// Counts one event against the call's cap; `false` when it is spent
    /// (the event is then dropped before any work is done for it).
    fn count_event(&mut self) -> bool {
        if self.events_sent >= MAX_EVENTS_PER_CALL {
            return false;
        }
        self.events_sent += 1;
        true
    }

    fn emit(&mut self, event: PluginEvent) {
        if let Some(events) = &self.events {
            let _ = events.send(event);
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http_ctx,
            table: &mut self.table,
            hooks: &mut *self.http,
        }
    }
}

/// Caps linear memory and remembers a refusal, so that the trap that
/// follows (Rust aborts when allocation fails) is reported as out of memory.
pub struct MemoryLimiter {
    pub limit: u64,
    /// Bytes the guest asked for when growth was refused.
    pub denied: Option<u64>,
}

impl MemoryLimiter {
    fn new(limit: u64) -> Self {
        Self {
            limit,
            denied: None,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limit {
            self.denied = Some(desired as u64);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_EVENT_TEXT {
        let mut end = MAX_EVENT_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

impl types::Host for CallState {}

impl host::Host for CallState {
    fn log(&mut self, level: types::Level, message: String) {
        if !self.count_event() {
            return;
        }
        let message = truncate(message);
        let group = &*self.group;
        // Escaped, so that a plugin cannot forge host log lines with
        // newlines or send terminal control sequences to the operator.
        let line = message.escape_debug();
        match level {
            types::Level::Debug => tracing::debug!(group, "{line}"),
            types::Level::Info | types::Level::Notice => tracing::info!(group, "{line}"),
            types::Level::Warning => tracing::warn!(group, "{line}"),
            _ => tracing::error!(group, "{line}"),
        }
        self.emit(PluginEvent::Log { level, message });
    }

    fn progress(&mut self, done: f64, total: Option<f64>, message: Option<String>) {
        if !self.count_event() {
            return;
        }
        self.emit(PluginEvent::Progress {
            done,
            total,
            message: message.map(truncate),
        });
    }

    fn cancelled(&mut self) -> bool {
        self.cancel.is_cancelled()
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.extensions
            .get::<HostConfig>()
            .and_then(|config| config.0.get(&key).cloned())
    }

    fn resource_updated(&mut self, uri: String) {
        if uri.len() > MAX_UPDATED_URI || !self.count_event() {
            return;
        }
        self.emit(PluginEvent::ResourceUpdated { uri });
    }

    async fn sample(
        &mut self,
        request: types::SamplingRequest,
    ) -> Result<types::SamplingResponse, String> {
        self.ask_client("sampling", |reply| PluginEvent::Sample { request, reply })
            .await
    }

    async fn elicit(
        &mut self,
        message: String,
        requested_schema: String,
    ) -> Result<types::ElicitResponse, String> {
        self.ask_client("elicitation", |reply| PluginEvent::Elicit {
            message,
            requested_schema,
            reply,
        })
        .await
    }

    async fn ask(
        &mut self,
        questions: Vec<(String, types::Question)>,
    ) -> Vec<Result<types::Answer, String>> {
        let count = questions.len();
        if let Err(refusal) = check_questions(&questions) {
            return vec![Err(refusal); count];
        }
        // Each question counts against the call's requests to the client,
        // as a single `sample` or `elicit` does; `ask_client` counts one.
        let asked = u32::try_from(count).unwrap_or(u32::MAX);
        if self.requests_sent.saturating_add(asked) > MAX_REQUESTS_PER_CALL {
            let refusal = format!(
                "this call may ask the client at most {MAX_REQUESTS_PER_CALL} questions; \
                 {} were asked already and this ask holds {count}",
                self.requests_sent
            );
            return vec![Err(refusal); count];
        }
        self.requests_sent += asked.saturating_sub(1);
        match self
            .ask_client("questions", |reply| PluginEvent::Ask { questions, reply })
            .await
        {
            Ok(answers) if answers.len() == count => answers,
            Ok(_) => vec![Err("the client's answers do not match the questions".into()); count],
            Err(refusal) => vec![Err(refusal); count],
        }
    }

    async fn elicit_url(
        &mut self,
        message: String,
        url: String,
    ) -> Result<types::ElicitAction, String> {
        check_url(&url)?;
        self.ask_client("URL elicitation", |reply| PluginEvent::ElicitUrl {
            message,
            url,
            reply,
        })
        .await
    }

    async fn run_as_task(&mut self) -> Result<(), String> {
        self.request("taking a task", |reply| PluginEvent::RunAsTask { reply })
            .await
    }

    async fn set_listed(
        &mut self,
        kind: types::ItemKind,
        name: String,
        listed: bool,
    ) -> Result<bool, String> {
        if name.len() > MAX_UPDATED_URI {
            return Err(format!(
                "no item of the group has a name or URI longer than {MAX_UPDATED_URI} bytes"
            ));
        }
        // Each change may make every client list again: it counts as an
        // event of the call.
        if !self.count_event() {
            return Err(format!(
                "this call already sent {MAX_EVENTS_PER_CALL} messages; \
                 nothing more is listed or unlisted during it"
            ));
        }
        self.request("listing", |reply| PluginEvent::SetListed {
            kind,
            name,
            listed,
            reply,
        })
        .await
    }
}

/// Longest URL a group may send the user to, in bytes.
const MAX_ELICIT_URL: usize = 8 * 1024;

/// Whether `url` is one a client may open for the user: an absolute
/// `https` or `http` URL with a host, within [`MAX_ELICIT_URL`].
fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_ELICIT_URL {
        return Err(format!(
            "the URL is longer than {MAX_ELICIT_URL} bytes; no elicitation was sent"
        ));
    }
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("the URL does not parse ({e}); no elicitation was sent"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("https" | "http"), Some(host)) if !host.is_empty() => Ok(()),
        _ => Err(
            "the URL must be an absolute https:// (or http://) URL with a host; \
                  no elicitation was sent"
                .into(),
        ),
    }
}

/// Most questions in one `host.ask`.
pub const MAX_QUESTIONS: usize = 16;
/// Longest key of a question.
pub const MAX_QUESTION_KEY: usize = 64;

/// Why `questions` cannot be asked: too many, or keys that are empty,
/// too long, of other characters than `[A-Za-z0-9_.-]`, or repeated.
fn check_questions(questions: &[(String, types::Question)]) -> Result<(), String> {
    if questions.len() > MAX_QUESTIONS {
        return Err(format!(
            "{} questions in one ask; at most {MAX_QUESTIONS} are sent at once",
            questions.len()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (key, _) in questions {
        let valid = !key.is_empty()
            && key.len() <= MAX_QUESTION_KEY
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !valid {
            return Err(format!(
                "question key {:?} is not 1 to {MAX_QUESTION_KEY} characters of [A-Za-z0-9_.-]",
                truncate(key.clone())
            ));
        }
        if !seen.insert(key.as_str()) {
            return Err(format!("question key `{key}` is used twice in one ask"));
        }
    }
    Ok(())
}
