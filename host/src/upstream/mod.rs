//! Upstream MCP servers as sources: toolhost runs each `[upstreams.NAME]`
//! server as a child process speaking MCP on its stdio (`command`), or
//! reaches it over streamable HTTP (`url`), keeps one session with it for
//! as long as it lives, and serves what it lists through the catalog beside
//! the wasm groups. What it publishes gets the same
//! namespacing, tool filters, collision rules, schema budget, scopes and
//! pagination as a group's, and every request reaches it through the one
//! call service, arguments checked first.
//!
//! ```text
//! spawn ─▶ initialize ─▶ list everything ─▶ catalog insert ─▶ list_changed ─┐
//!   ▲                          ▲                                            │
//!   │                          └──────────── list again (at most 1/s) ◀─────┤
//!   └── backoff 1 s … 30 s ◀── stop serving it, record why ◀── it exits ◀───┘
//! ```
//!
//! Requests pass a circuit breaker per upstream (`Breaker`); the
//! upstream's progress and questions (sampling, elicitation) reach the
//! client of the request they belong to (`Link`).
//!
//! Connecting never holds up start-up or the other sources: what an
//! upstream offers appears when it has answered, with `list_changed`. An
//! upstream is untrusted like a plugin: its lists are checked as a group's
//! description is, its answers are converted (never passed through as
//! bytes), every request has the upstream's timeout and slot limit, and
//! what it sends during a call is capped.

// The upstream's log lines use MCP logging, deprecated by SEP-2577 in the
// newest protocol era but what every server of the current eras sends.
#![allow(deprecated)]

mod convert;

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use rmcp::model::{
    CallToolRequestParams, CancelledNotificationParam, ClientRequest, CompleteRequestParams,
    GetPromptRequestParams, LoggingLevel, LoggingMessageNotificationParam, PaginatedRequestParams,
    ProgressNotificationParam, ProgressToken, ReadResourceRequestParams, RequestId, ServerResult,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ErrorData as McpError, Peer, RoleClient, ServiceExt as _};
use tokio::sync::{Notify, Semaphore, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;
use crate::config::{Config, Policy, UpstreamConfig};
use crate::source::{
    Completion, CompletionRequest, CompletionTarget, Description, EmbeddedResource, EventSink,
    Fault, FaultKind, GroupInfo, Icons, LoadError, Outcome, Output, PluginEvent, PromptResult,
    Source, SourceId,
};

/// First wait before connecting again after a failure; it doubles up to
/// [`LAST_RETRY`], and starts over once a connection lasted [`STABLE`].
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(30);
const STABLE: Duration = Duration::from_secs(60);
/// Least time between two listings after `list_changed`: an upstream that
/// floods them is listed at most this often.
const RELIST_INTERVAL: Duration = Duration::from_secs(1);
/// Most items of one kind listed from an upstream, and most pages.
const MAX_LISTED: usize = 10_000;
const MAX_PAGES: usize = 1_000;
/// Most progress notifications forwarded for one request.
const MAX_EVENTS_PER_CALL: u32 = 1000;
/// Most sampling and elicitation requests forwarded for one request, as
/// for a group's call.
const MAX_QUESTIONS_PER_CALL: u32 = 16;
/// Longest stderr line of an upstream logged, in bytes.
const MAX_STDERR_LINE: usize = 4096;

/// The upstreams being served; dropping it stops them (and their
/// processes).
pub struct Upstreams {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Upstreams {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts serving every upstream of `config` through `catalog`, each on
/// its own task; returns at once.
pub fn start(config: &Config, catalog: Arc<Catalog>) -> Upstreams {
    let tasks = config
        .upstreams
        .iter()
        .map(|(name, upstream)| {
            let policy = config.upstream_policy(name, upstream);
            let serving = keep_serving(name.clone(), upstream.clone(), policy, catalog.clone());
            tokio::spawn(serving)
        })
        .collect();
    Upstreams { tasks }
}

/// The upstream `toolhost inspect TARGET...` names: a URL, or a command
/// and its arguments.
pub fn inspected(target: &[String]) -> UpstreamConfig {
    let url = match target {
        [one] if one.starts_with("http://") || one.starts_with("https://") => Some(one.clone()),
        _ => None,
    };
    UpstreamConfig {
        command: url.is_none().then(|| target[0].clone()),
        args: if url.is_none() {
            target[1..].to_vec()
        } else {
            Vec::new()
        },
        url,
        cwd: None,
        env: vec!["HOME".into()],
        headers: Default::default(),
        namespace: Some(String::new()),
        tools: Default::default(),
        timeout: None,
        max_concurrent_calls: None,
        breaker_failures: 1,
        breaker_open: crate::config::HumanDuration(Duration::ZERO),
    }
}

/// A session with an upstream, for as long as it is held.
pub struct Session(
    #[allow(dead_code, reason = "held, not read")] RunningService<RoleClient, Handler>,
);

/// Connects to the upstream `config` says once and lists it (for
/// `toolhost inspect`): what it offers as a source, and the session.
pub async fn connect_once(
    name: &str,
    config: &UpstreamConfig,
    policy: Policy,
) -> Result<(Arc<dyn Source>, Session), String> {
    let name: Arc<str> = name.into();
    let connection = connect(&name, config, policy.limits.timeout).await?;
    let peer = connection.running.peer().clone();
    let mut description = tokio::time::timeout(policy.limits.timeout, describe(&peer, &name))
        .await
        .map_err(|_| "did not list what it offers in time".to_owned())??;
    description.info.instructions = connection.instructions;
    let source = Upstream {
        id: SourceId::Upstream(name.to_string()),
        name: name.clone(),
        description,
        slots: Arc::new(Semaphore::new(policy.max_concurrent_calls as usize)),
        policy,
        peer,
        link: connection.link,
        breaker: Arc::new(Breaker::new(name, config)),
    };
    Ok((Arc::new(source), Session(connection.running)))
}

/// Connects to upstream `name` and serves it, again and again, for as long
/// as the task lives.
async fn keep_serving(name: String, config: UpstreamConfig, policy: Policy, catalog: Arc<Catalog>) {
    let id = SourceId::Upstream(name.clone());
    let name: Arc<str> = name.into();
    let breaker = Arc::new(Breaker::new(name.clone(), &config));
    let mut retry = FIRST_RETRY;
    loop {
        let started = Instant::now();
        let reason = match connect(&name, &config, policy.limits.timeout).await {
            Ok(connection) => {
                tracing::info!(upstream = %name, "upstream `{name}` connected");
                let reason = connection.serve(&id, &policy, &breaker, &catalog).await;
                catalog.remove(&id);
                reason
            }
            Err(reason) => reason,
        };
        if started.elapsed() >= STABLE {
            retry = FIRST_RETRY;
        }
        let reason = format!(
            "{reason}; connecting again in {}",
            crate::config::format_duration(retry)
        );
        tracing::warn!(upstream = %name, "upstream `{name}` {reason}");
        catalog.record_failure(&LoadError::of(id.clone(), reason));
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LAST_RETRY);
    }
}

/// A live session with an upstream.
struct Connection {
    running: RunningService<RoleClient, Handler>,
    link: Arc<Link>,
    instructions: Option<String>,
}

/// Starts the upstream's process, or reaches its URL, and completes the
/// MCP handshake within `timeout`.
async fn connect(
    name: &Arc<str>,
    config: &UpstreamConfig,
    timeout: Duration,
) -> Result<Connection, String> {
    let link = Arc::new(Link {
        name: name.clone(),
        calls: Mutex::default(),
        changed: Notify::new(),
    });
    let handler = Handler(link.clone());
    let session = match (&config.command, &config.url) {
        (Some(command), _) => {
            let transport = spawn(name, command, config)?;
            tokio::time::timeout(timeout, handler.serve(transport)).await
        }
        (None, Some(url)) => {
            let transport = http_transport(url, config)?;
            tokio::time::timeout(timeout, handler.serve(transport)).await
        }
        (None, None) => return Err("has neither a command nor a url".into()),
    };
    let running = session
        .map_err(|_| {
            format!(
                "did not complete the MCP handshake within {} (limit: upstreams.{name}.timeout)",
                crate::config::format_duration(timeout)
            )
        })?
        .map_err(|e| format!("failed the MCP handshake: {e}"))?;
    let instructions = running
        .peer_info()
        .and_then(|info| info.instructions.clone());
    Ok(Connection {
        running,
        link,
        instructions,
    })
}

/// The transport to a server reached over streamable HTTP: one pooled
/// client, the configured headers, TLS checked against the web roots.
fn http_transport(
    url: &str,
    config: &UpstreamConfig,
) -> Result<StreamableHttpClientTransport<reqwest::Client>, String> {
    let mut headers = HashMap::new();
    for (header, template) in &config.headers {
        let value = crate::runtime::outbound::expand(template)
            .map_err(|e| format!("cannot make header `{header}`: {e:#}"))?;
        let header = http::HeaderName::try_from(header.as_str())
            .map_err(|_| format!("`{header}` is not a header name"))?;
        let mut value = http::HeaderValue::try_from(value)
            .map_err(|_| format!("the value of header `{header}` is not a valid header value"))?;
        value.set_sensitive(true);
        headers.insert(header, value);
    }
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured((*crate::runtime::outbound::tls_config()).clone())
        .build()
        .map_err(|e| format!("cannot make its HTTP client: {e}"))?;
    let transport = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers);
    Ok(StreamableHttpClientTransport::with_client(
        client, transport,
    ))
}

/// Starts the upstream's process, its stderr going to the host's log.
fn spawn(
    name: &Arc<str>,
    program: &str,
    config: &UpstreamConfig,
) -> Result<TokioChildProcess, String> {
    let mut command = tokio::process::Command::new(program);
    // Killed when its session is dropped, even as the process exits and
    // no task runs any more: no orphan outlives toolhost.
    command.args(&config.args).env_clear().kill_on_drop(true);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    for entry in &config.env {
        match entry.split_once('=') {
            Some((var, template)) => {
                let value = crate::runtime::outbound::expand(template)
                    .map_err(|e| format!("cannot set {var} for it: {e:#}"))?;
                command.env(var, value);
            }
            None => {
                if let Some(value) = std::env::var_os(entry) {
                    command.env(entry, value);
                }
            }
        }
    }
    if let Some(cwd) = &config.cwd {
        command.current_dir(cwd);
    }
    let (transport, stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    if let Some(stderr) = stderr {
        tokio::spawn(log_stderr(name.clone(), stderr));
    }
    Ok(transport)
}

/// Logs what an upstream writes on stderr, line by line, escaped and
/// bounded (it cannot forge the host's own lines).
async fn log_stderr(name: Arc<str>, stderr: tokio::process::ChildStderr) {
    use tokio::io::AsyncReadExt as _;
    let mut stderr = stderr;
    let mut chunk = [0u8; 4096];
    // The current line, kept up to MAX_STDERR_LINE bytes: a line without
    // end holds no more memory than that.
    let mut line = Vec::new();
    while let Ok(read) = stderr.read(&mut chunk).await {
        if read == 0 {
            break;
        }
        for piece in chunk[..read].split_inclusive(|b| *b == b'\n') {
            let room = MAX_STDERR_LINE.saturating_sub(line.len());
            line.extend_from_slice(&piece[..piece.len().min(room)]);
            if piece.ends_with(b"\n") {
                let text = String::from_utf8_lossy(&line);
                tracing::debug!(upstream = %name, "stderr: {}", text.trim_end().escape_debug());
                line.clear();
            }
        }
    }
}

impl Connection {
    /// Serves the upstream until its session ends; says why it ended.
    async fn serve(
        self,
        id: &SourceId,
        policy: &Policy,
        breaker: &Arc<Breaker>,
        catalog: &Catalog,
    ) -> String {
        let Connection {
            running,
            link,
            instructions,
        } = self;
        let peer = running.peer().clone();
        let slots = Arc::new(Semaphore::new(policy.max_concurrent_calls as usize));
        let mut closed = std::pin::pin!(running.waiting());
        let mut listed_at: Option<Instant> = None;
        // What was last served: an upstream that says its lists changed
        // when they did not costs a listing, not a rebuild of its schemas.
        let mut served: Option<blake3::Hash> = None;
        loop {
            if let Some(at) = listed_at {
                tokio::time::sleep_until((at + RELIST_INTERVAL).into()).await;
            }
            listed_at = Some(Instant::now());
            let listing = tokio::time::timeout(policy.limits.timeout, describe(&peer, &link.name));
            let described = tokio::select! {
                described = listing => described.unwrap_or_else(|_| Err("did not list what it offers in time".into())),
                quit = &mut closed => return ended(quit),
            };
            match described {
                Ok(mut description) => {
                    description.info.instructions = instructions.clone();
                    let digest = serde_json::to_vec(&description)
                        .ok()
                        .map(|text| blake3::hash(&text));
                    if digest.is_some()
                        && digest == served
                        && catalog.snapshot().sources.contains_key(id)
                    {
                        tracing::debug!(upstream = %link.name, "its lists did not change");
                    } else {
                        served = digest;
                        let source = Upstream {
                            id: id.clone(),
                            name: link.name.clone(),
                            description,
                            policy: policy.clone(),
                            peer: peer.clone(),
                            link: link.clone(),
                            slots: slots.clone(),
                            breaker: breaker.clone(),
                        };
                        if let Err(error) = catalog.insert(Arc::new(source)) {
                            tracing::warn!(upstream = %link.name, "upstream `{}` is not served: {}", link.name, error.reason);
                            catalog.record_failure(&error);
                        }
                    }
                }
                Err(reason) => {
                    let error = LoadError::of(id.clone(), reason);
                    tracing::warn!(upstream = %link.name, "upstream `{}` {}", link.name, error.reason);
                    catalog.record_failure(&error);
                }
            }
            tokio::select! {
                () = link.changed.notified() => {}
                quit = &mut closed => return ended(quit),
            }
        }
    }
}

/// Why a session ended.
fn ended<E: std::fmt::Display>(quit: Result<rmcp::service::QuitReason, E>) -> String {
    match quit {
        Ok(reason) => format!("ended its session ({reason:?})"),
        Err(e) => format!("lost its session: {e}"),
    }
}

/// What the upstream offers, as a source's description. Capabilities it
/// does not declare are not asked for.
async fn describe(peer: &Peer<RoleClient>, name: &str) -> Result<Description, String> {
    let info = peer.peer_info();
    let capabilities = info.as_ref().map(|info| &info.capabilities);
    let mut description = Description {
        info: GroupInfo {
            name: name.to_owned(),
            version: info
                .as_ref()
                .and_then(|info| info.server_info.as_ref())
                .map(|server| server.version.clone())
                .unwrap_or_default(),
            description: info
                .as_ref()
                .and_then(|info| info.server_info.as_ref())
                .and_then(|server| server.title.clone())
                .unwrap_or_else(|| format!("the upstream MCP server `{name}`")),
            instructions: None,
        },
        operations: Vec::new(),
        resources: Vec::new(),
        templates: Vec::new(),
        prompts: Vec::new(),
        icons: Icons::default(),
        unlisted: Vec::new(),
    };
    let page = |cursor| Some(PaginatedRequestParams::default().with_cursor(cursor));
    if capabilities.is_some_and(|c| c.tools.is_some()) {
        let tools = list("tools", |cursor| async {
            let result = peer.list_tools(page(cursor)).await?;
            Ok((result.tools, result.next_cursor))
        })
        .await?;
        for tool in &tools {
            description.operations.push(convert::operation(tool)?);
            if let Some(icons) = &tool.icons {
                let icons = icons.iter().map(convert::icon).collect();
                description
                    .icons
                    .operations
                    .push((tool.name.to_string(), icons));
            }
        }
    }
    if capabilities.is_some_and(|c| c.resources.is_some()) {
        let resources = list("resources", |cursor| async {
            let result = peer.list_resources(page(cursor)).await?;
            Ok((result.resources, result.next_cursor))
        })
        .await?;
        description.resources = resources.iter().map(convert::resource).collect();
        let templates = list("resource templates", |cursor| async {
            let result = peer.list_resource_templates(page(cursor)).await?;
            Ok((result.resource_templates, result.next_cursor))
        })
        .await?;
        // A template the host cannot match (say `{?query}`) could never
        // be read through it: it is left out, not the whole upstream.
        for template in &templates {
            match crate::published::UriTemplate::parse(&template.uri_template) {
                Ok(_) => description.templates.push(convert::template(template)),
                Err(why) => tracing::warn!(
                    upstream = %name,
                    template = %template.uri_template.escape_debug(),
                    "resource template left out: {why}"
                ),
            }
        }
    }
    if capabilities.is_some_and(|c| c.prompts.is_some()) {
        let prompts = list("prompts", |cursor| async {
            let result = peer.list_prompts(page(cursor)).await?;
            Ok((result.prompts, result.next_cursor))
        })
        .await?;
        description.prompts = prompts.iter().map(convert::prompt).collect();
    }
    Ok(description)
}

/// Every page of one of an upstream's lists, within [`MAX_LISTED`] items
/// and [`MAX_PAGES`] pages (an upstream's list is untrusted: endless
/// cursors or pages must not hold memory or the listing forever).
async fn list<T, P>(what: &str, mut page: impl FnMut(Option<String>) -> P) -> Result<Vec<T>, String>
where
    P: Future<Output = Result<(Vec<T>, Option<String>), rmcp::ServiceError>>,
{
    let mut items = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let (more, next) = page(cursor.take())
            .await
            .map_err(|e| format!("failed to list its {what}: {e}"))?;
        items.extend(more);
        if items.len() > MAX_LISTED {
            return Err(format!(
                "lists more than {MAX_LISTED} {what}; toolhost serves no upstream list that long"
            ));
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
    Err(format!(
        "did not finish listing its {what} in {MAX_PAGES} pages"
    ))
}

/// The client side of one session: where notifications of the upstream
/// go.
struct Link {
    name: Arc<str>,
    /// Requests in flight that hear the upstream's progress, by the
    /// progress token of their request.
    calls: Mutex<HashMap<ProgressToken, Listener>>,
    /// The upstream said one of its lists changed.
    changed: Notify,
}

/// Where a request's progress and questions go, and how many went.
struct Listener {
    events: EventSink,
    sent: AtomicU32,
    asked: AtomicU32,
}

/// The session's handler: what the upstream sends reaches the [`Link`].
#[derive(Clone)]
struct Handler(Arc<Link>);

impl std::ops::Deref for Handler {
    type Target = Link;

    fn deref(&self) -> &Link {
        &self.0
    }
}

impl Link {
    /// The one request in flight that the upstream's own request (sampling,
    /// elicitation) must be for, counted against its budget. A session
    /// over stdio does not say which request such a question belongs to,
    /// so it is forwarded only while exactly one is in flight.
    fn asker(&self, what: &str) -> Result<EventSink, McpError> {
        let calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let mut listeners = calls.values();
        let (Some(listener), None) = (listeners.next(), listeners.next()) else {
            return Err(McpError::invalid_request(
                format!(
                    "toolhost forwards {what} only while exactly one request to this server \
                     is in flight ({} are), so that it reaches the right client",
                    calls.len()
                ),
                None,
            ));
        };
        if listener.asked.fetch_add(1, Ordering::Relaxed) >= MAX_QUESTIONS_PER_CALL {
            return Err(McpError::invalid_request(
                format!("this request already asked its client {MAX_QUESTIONS_PER_CALL} times"),
                None,
            ));
        }
        Ok(listener.events.clone())
    }

    /// Asks the client of the request in flight through its events.
    async fn ask<T>(
        &self,
        what: &str,
        event: impl FnOnce(oneshot::Sender<Result<T, String>>) -> PluginEvent,
    ) -> Result<T, McpError> {
        let events = self.asker(what)?;
        let (reply, answer) = oneshot::channel();
        let gone = || McpError::invalid_request(format!("the call ended before {what}"), None);
        events.send(event(reply)).map_err(|_| gone())?;
        answer
            .await
            .map_err(|_| gone())?
            .map_err(|why| McpError::invalid_request(why, None))
    }
}

impl ClientHandler for Handler {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        let mut info = rmcp::model::ClientConfig::default();
        info.client_info = rmcp::model::Implementation::new("toolhost", env!("CARGO_PKG_VERSION"));
        // Offered on behalf of the calling client, which may refuse.
        info.capabilities.sampling = Some(Default::default());
        info.capabilities.elicitation = Some(
            rmcp::model::ElicitationCapability::new()
                .with_form(Default::default())
                .with_url(Default::default()),
        );
        info
    }

    async fn create_message(
        &self,
        params: rmcp::model::CreateMessageRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::CreateMessageResult, McpError> {
        let request = convert::sampling_request(&params)
            .map_err(|why| McpError::invalid_params(why, None))?;
        let response = self
            .ask("a sampling request", |reply| PluginEvent::Sample {
                request,
                reply,
            })
            .await?;
        convert::sampling_result(response).map_err(|why| McpError::internal_error(why, None))
    }

    async fn create_elicitation(
        &self,
        params: rmcp::model::ElicitRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, McpError> {
        let elicitation =
            convert::elicitation(&params).map_err(|why| McpError::invalid_params(why, None))?;
        let (action, content) = match elicitation {
            convert::Elicitation::Form(message, requested_schema) => {
                let response = self
                    .ask("an elicitation", |reply| PluginEvent::Elicit {
                        message,
                        requested_schema,
                        reply,
                    })
                    .await?;
                (response.action, response.content)
            }
            convert::Elicitation::Url(message, url) => {
                let action = self
                    .ask("a URL elicitation", |reply| PluginEvent::ElicitUrl {
                        message,
                        url,
                        reply,
                    })
                    .await?;
                (action, None)
            }
        };
        convert::elicit_result(action, content).map_err(|why| McpError::internal_error(why, None))
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let Some(listener) = calls.get(&params.progress_token) else {
            return;
        };
        if listener.sent.fetch_add(1, Ordering::Relaxed) >= MAX_EVENTS_PER_CALL {
            return;
        }
        let _ = listener.events.send(PluginEvent::Progress {
            done: params.progress,
            total: params.total,
            message: params.message,
        });
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        // A log line of a stdio session belongs to no request: it goes to
        // the host's log, never to another caller.
        let text = params.data.to_string();
        let text = &text[..text.floor_char_boundary(MAX_STDERR_LINE)];
        let name = &*self.name;
        match params.level {
            LoggingLevel::Debug => tracing::debug!(upstream = name, "{}", text.escape_debug()),
            LoggingLevel::Info | LoggingLevel::Notice => {
                tracing::info!(upstream = name, "{}", text.escape_debug())
            }
            LoggingLevel::Warning => tracing::warn!(upstream = name, "{}", text.escape_debug()),
            _ => tracing::error!(upstream = name, "{}", text.escape_debug()),
        }
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.notify_one();
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.notify_one();
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.notify_one();
    }
}

/// One version of what an upstream offers, as the catalog serves it.
pub struct Upstream {
    id: SourceId,
    name: Arc<str>,
    description: Description,
    policy: Policy,
    peer: Peer<RoleClient>,
    link: Arc<Link>,
    /// Requests to it at once, shared by its versions.
    slots: Arc<Semaphore>,
    /// Shared by its versions and sessions.
    breaker: Arc<Breaker>,
}

/// Removes a request's progress listener when the request is over.
struct Listening<'a> {
    link: &'a Link,
    token: ProgressToken,
}

impl Drop for Listening<'_> {
    fn drop(&mut self) {
        self.link
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.token);
    }
}

impl Upstream {
    fn fail(&self, label: &'static str, reason: String) -> Fault {
        self.fault(FaultKind::Upstream { label, reason })
    }

    /// Sends `request` within the upstream's timeout and slots, forwarding
    /// its progress to `events`; cancelling stops it upstream too.
    async fn send(
        &self,
        request: ClientRequest,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Result<ServerResult, Fault> {
        let timeout = self.policy.limits.timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let config = format!("upstreams.{}", self.name);
        let pass = self
            .breaker
            .admit()
            .map_err(|reason| self.fail("open", reason))?;
        let _slot = tokio::time::timeout_at(deadline, self.slots.acquire())
            .await
            .map_err(|_| {
                self.fail(
                    "busy",
                    format!(
                        "had all {} request slots in use for {} (limit: {config}.max_concurrent_calls)",
                        self.policy.max_concurrent_calls,
                        crate::config::format_duration(timeout)
                    ),
                )
            })?;
        let handle = self
            .peer
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await
            .map_err(|e| {
                self.fail(
                    "closed",
                    format!("is not connected ({e}); try again shortly"),
                )
            })?;
        let _listening = events.map(|events| {
            let token = handle.progress_token.clone();
            self.link
                .calls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(
                    token.clone(),
                    Listener {
                        events,
                        sent: AtomicU32::new(0),
                        asked: AtomicU32::new(0),
                    },
                );
            Listening {
                link: &self.link,
                token,
            }
        });
        let id = handle.id.clone();
        let answer = tokio::select! {
            answer = tokio::time::timeout_at(deadline, handle.await_response()) => answer,
            () = cancel.cancelled() => {
                self.cancel_upstream(id, "the caller cancelled the request");
                return Err(self.fail("cancelled", "was asked to stop: the caller cancelled the request".into()));
            }
        };
        // Its own error answer is a working upstream; silence and a lost
        // session are what open the breaker.
        pass.done(matches!(
            answer,
            Ok(Ok(_)) | Ok(Err(rmcp::ServiceError::McpError(_)))
        ));
        match answer {
            Err(_) => {
                self.cancel_upstream(id, "toolhost's timeout for this upstream passed");
                Err(self.fail(
                    "timeout",
                    format!(
                        "did not answer within {} (limit: {config}.timeout); \
                         raise it if this request is expected to take longer",
                        crate::config::format_duration(timeout)
                    ),
                ))
            }
            Ok(Err(rmcp::ServiceError::McpError(error))) => Err(self.fail(
                "error",
                format!("answered with an error: {}", error.message),
            )),
            Ok(Err(e)) => Err(self.fail(
                "closed",
                format!("failed the request: {e}; it is restarted if it exited"),
            )),
            Ok(Ok(result)) => Ok(result),
        }
    }

    /// Tells the upstream to stop request `id`, without waiting.
    fn cancel_upstream(&self, id: RequestId, reason: &str) {
        let peer = self.peer.clone();
        let param = CancelledNotificationParam::new(Some(id), Some(reason.to_owned()));
        tokio::spawn(async move {
            let _ = peer.notify_cancelled(param).await;
        });
    }

    /// Its answer is over the result limit, or otherwise invalid (`kind`
    /// from the checks groups' answers get).
    fn too_large(&self, kind: FaultKind) -> Fault {
        match kind {
            FaultKind::OutputTooLarge { size } => self.fail(
                "output_too_large",
                format!(
                    "answered with {}, over the limit of {} (limit: defaults.max_output, or \
                     groups.{}.max_output); ask for less",
                    size.map_or_else(
                        || "more".to_owned(),
                        |n| crate::config::ByteSize(n).to_string()
                    ),
                    crate::config::ByteSize(self.policy.limits.max_output),
                    self.name,
                ),
            ),
            kind => self.fault(kind),
        }
    }

    fn invalid(&self, reason: String) -> Fault {
        self.fault(FaultKind::InvalidOutput { reason })
    }

    fn unexpected(&self, what: &str) -> Fault {
        self.invalid(format!("it answered {what} with a result of another kind"))
    }
}

impl Source for Upstream {
    fn id(&self) -> &SourceId {
        &self.id
    }

    fn name(&self) -> &Arc<str> {
        &self.name
    }

    fn description(&self) -> &Description {
        &self.description
    }

    fn policy(&self) -> &Policy {
        &self.policy
    }

    fn lenient(&self) -> bool {
        true
    }

    fn status(&self) -> Option<String> {
        self.breaker.open_since().map(|failures| {
            format!("circuit breaker open after {failures} failed requests in a row")
        })
    }

    fn call<'a>(
        &'a self,
        operation: &'a str,
        arguments: &'a str,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Outcome<'a, Output> {
        async move {
            let arguments = serde_json::from_str(arguments)
                .map_err(|e| self.fault(FaultKind::Host(format!("arguments: {e}"))))?;
            let params = CallToolRequestParams::new(operation.to_owned()).with_arguments(arguments);
            let request = ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(params));
            match self.send(request, events, cancel).await? {
                ServerResult::CallToolResult(result) => {
                    let result = convert::call_result(result).map_err(|why| self.invalid(why))?;
                    if let Ok(output) = &result {
                        crate::runtime::check_output(output, &self.policy.limits)
                            .map_err(|kind| self.too_large(kind))?;
                    }
                    Ok(crate::source::Answer {
                        result,
                        fuel_used: 0,
                    })
                }
                _ => Err(self.unexpected("tools/call")),
            }
        }
        .boxed()
    }

    fn read<'a>(
        &'a self,
        uri: &'a str,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Outcome<'a, Vec<EmbeddedResource>> {
        async move {
            let params = ReadResourceRequestParams::new(uri.to_owned());
            let request =
                ClientRequest::ReadResourceRequest(rmcp::model::ReadResourceRequest::new(params));
            match self.send(request, events, cancel).await? {
                ServerResult::ReadResourceResult(result) => {
                    let parts: Vec<_> = result
                        .contents
                        .into_iter()
                        .map(convert::embedded)
                        .collect::<Result<_, _>>()
                        .map_err(|why| self.invalid(why))?;
                    let size = parts.iter().map(crate::runtime::resource_size).sum();
                    if size > self.policy.limits.max_output {
                        return Err(self.too_large(FaultKind::OutputTooLarge { size: Some(size) }));
                    }
                    Ok(crate::source::Answer {
                        result: Ok(parts),
                        fuel_used: 0,
                    })
                }
                _ => Err(self.unexpected("resources/read")),
            }
        }
        .boxed()
    }

    fn prompt<'a>(
        &'a self,
        name: &'a str,
        arguments: &'a [(String, String)],
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Outcome<'a, PromptResult> {
        async move {
            let arguments = arguments
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            let params = GetPromptRequestParams::new(name.to_owned()).with_arguments(arguments);
            let request =
                ClientRequest::GetPromptRequest(rmcp::model::GetPromptRequest::new(params));
            match self.send(request, events, cancel).await? {
                ServerResult::GetPromptResult(result) => Ok(crate::source::Answer {
                    result: Ok(convert::prompt_result(result).map_err(|why| self.invalid(why))?),
                    fuel_used: 0,
                }),
                _ => Err(self.unexpected("prompts/get")),
            }
        }
        .boxed()
    }

    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Outcome<'a, Completion> {
        async move {
            let reference = match &request.target {
                CompletionTarget::Prompt(name) => rmcp::model::Reference::for_prompt(name),
                CompletionTarget::ResourceTemplate(uri) => {
                    rmcp::model::Reference::for_resource(uri)
                }
            };
            let mut params = CompleteRequestParams::new(
                reference,
                rmcp::model::ArgumentInfo::new(request.argument.clone(), request.value.clone()),
            );
            if !request.context.is_empty() {
                params = params.with_context(rmcp::model::CompletionContext::with_arguments(
                    request.context.iter().cloned().collect(),
                ));
            }
            let asked = ClientRequest::CompleteRequest(rmcp::model::CompleteRequest::new(params));
            match self.send(asked, events, cancel).await? {
                ServerResult::CompleteResult(result) => Ok(crate::source::Answer {
                    result: Ok(convert::completion(result)),
                    fuel_used: 0,
                }),
                _ => Err(self.unexpected("completion/complete")),
            }
        }
        .boxed()
    }
}

/// Fails requests fast while an upstream keeps failing: after
/// `breaker_failures` requests in a row time out or lose the session, it
/// sends the upstream nothing for `breaker_open`, then lets one request
/// through as a probe; the probe's success closes it again.
struct Breaker {
    name: Arc<str>,
    failures_to_open: u32,
    open_for: Duration,
    state: Mutex<BreakerState>,
}

#[derive(Default)]
struct BreakerState {
    /// Failed requests in a row.
    failures: u32,
    /// While open: when a probe may go.
    open_until: Option<Instant>,
    /// A probe is out.
    probing: bool,
}

/// One request let through; say how it went with [`Pass::done`].
struct Pass<'a> {
    breaker: &'a Breaker,
    probe: bool,
    done: bool,
}

impl Breaker {
    fn new(name: Arc<str>, config: &UpstreamConfig) -> Self {
        Self {
            name,
            failures_to_open: config.breaker_failures.max(1),
            open_for: config.breaker_open.0,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The failures in a row that opened it, while it is open.
    fn open_since(&self) -> Option<u32> {
        let state = self.state();
        state.open_until.map(|_| state.failures)
    }

    /// A request may go, or why not.
    fn admit(&self) -> Result<Pass<'_>, String> {
        let mut state = self.state();
        let pass = |probe| Pass {
            breaker: self,
            probe,
            done: false,
        };
        let Some(until) = state.open_until else {
            return Ok(pass(false));
        };
        let now = Instant::now();
        if now < until || state.probing {
            let wait = until.saturating_duration_since(now);
            return Err(format!(
                "failed {} request{} in a row, so toolhost sends it nothing for now; \
                 it is tried again in {} (limits: breaker_failures, breaker_open)",
                state.failures,
                if state.failures == 1 { "" } else { "s" },
                if state.probing {
                    "a moment, when the probe sent to it answers".to_owned()
                } else {
                    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                    crate::config::format_duration(Duration::from_secs(seconds.max(1)))
                }
            ));
        }
        state.probing = true;
        Ok(pass(true))
    }
}

impl Pass<'_> {
    /// Records whether the upstream answered.
    fn done(mut self, answered: bool) {
        self.done = true;
        let breaker = self.breaker;
        let mut state = breaker.state();
        if self.probe {
            state.probing = false;
        }
        if answered {
            if state.open_until.is_some() {
                tracing::info!(upstream = %breaker.name, "upstream `{}` answered a probe: its circuit breaker is closed", breaker.name);
            }
            *state = BreakerState::default();
            return;
        }
        state.failures = state.failures.saturating_add(1);
        if state.failures >= breaker.failures_to_open {
            if state.open_until.is_none() || self.probe {
                tracing::warn!(
                    upstream = %breaker.name,
                    "upstream `{}` failed {} requests in a row: its circuit breaker is open for {}",
                    breaker.name,
                    state.failures,
                    crate::config::format_duration(breaker.open_for)
                );
            }
            state.open_until = Some(Instant::now() + breaker.open_for);
        }
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        // A request dropped before it ended (its caller went away) says
        // nothing of the upstream; a probe's turn passes to the next.
        if !self.done && self.probe {
            self.breaker.state().probing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(failures: u32, open_for: Duration) -> Breaker {
        Breaker {
            name: "test".into(),
            failures_to_open: failures,
            open_for,
            state: Mutex::default(),
        }
    }

    #[tokio::test]
    async fn an_upstream_list_is_bounded_in_items_and_pages() {
        let endless = list("tools", |_| async {
            Ok((vec![1u8], Some("more".to_owned())))
        });
        let error = endless.await.unwrap_err();
        assert!(error.contains("in 1000 pages"), "{error}");
        let huge = list("tools", |_| async { Ok((vec![0u8; MAX_LISTED + 1], None)) });
        let error = huge.await.unwrap_err();
        assert!(error.contains("more than 10000 tools"), "{error}");
        let pages = std::cell::Cell::new(0);
        let two = list("tools", |cursor| {
            pages.set(pages.get() + 1);
            async move { Ok((vec![1u8], cursor.is_none().then(|| "next".to_owned()))) }
        });
        assert_eq!(two.await.unwrap(), [1, 1]);
        assert_eq!(pages.get(), 2);
    }

    #[test]
    fn the_breaker_opens_after_failures_in_a_row_and_one_probe_closes_it() {
        let breaker = breaker(2, Duration::ZERO);
        breaker.admit().unwrap().done(false);
        breaker.admit().unwrap().done(true);
        breaker.admit().unwrap().done(false);
        breaker.admit().unwrap().done(false);
        // Open: the wait is over at once, so one probe goes and the others
        // are refused while it is out.
        let probe = breaker.admit().unwrap();
        assert!(probe.probe);
        let refused = breaker.admit().err().expect("refused while probing");
        assert!(refused.contains("failed 2 requests in a row"), "{refused}");
        probe.done(true);
        assert!(!breaker.admit().unwrap().probe, "closed again");
    }

    #[test]
    fn an_open_breaker_says_when_it_tries_again_and_a_dropped_probe_frees_its_turn() {
        let breaker = breaker(1, Duration::from_secs(600));
        breaker.admit().unwrap().done(false);
        let refused = breaker.admit().err().expect("open");
        assert!(refused.contains("tried again in 600s"), "{refused}");

        let breaker = self::breaker(1, Duration::ZERO);
        breaker.admit().unwrap().done(false);
        drop(breaker.admit().unwrap());
        assert!(breaker.admit().unwrap().probe, "the next request probes");
    }
}
