//! The MCP face of the catalog: an rmcp `ServerHandler`, the same for stdio
//! and HTTP. It maps catalog ↔ protocol and nothing else.

// MCP logging (`notifications/message`, `logging/setLevel`) is deprecated by
// SEP-2577 in the newest protocol era, but every client of the current eras
// uses it, and it is how plugin log lines reach them.
#![allow(deprecated)]

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, LoggingLevel, LoggingMessageNotificationParam, PaginatedRequestParams,
    ProgressNotificationParam, ResourceContents, ServerCapabilities, ServerConfig,
    SetLevelRequestParams, SubscriptionFilter, Tool as McpTool, ToolAnnotations,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;
use tracing::Instrument as _;

use crate::caller::{self, ScopePolicy};
use crate::catalog::{CallOutcome, Catalog, Tool};
use crate::metrics::Metrics;
use crate::runtime::{self, Content, Level, PluginEvent};

/// Longest a request waits for the initial load of the plugin directory.
const START_UP_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// One client connection's view of the catalog.
#[derive(Clone)]
pub struct Handler {
    catalog: Arc<Catalog>,
    /// Least severe level of plugin log messages sent to this client.
    min_level: Arc<Mutex<LoggingLevel>>,
    metrics: Arc<Metrics>,
    /// Scopes an authenticated caller needs, by group.
    scopes: Arc<ScopePolicy>,
}

impl Handler {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self {
            catalog,
            min_level: Arc::new(Mutex::new(LoggingLevel::Info)),
            metrics: Metrics::new(),
            scopes: Arc::default(),
        }
    }

    /// Records calls into `metrics` (shared by every transport).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Hides and refuses the tools of groups whose scopes the caller lacks.
    pub fn with_scopes(mut self, scopes: Arc<ScopePolicy>) -> Self {
        self.scopes = scopes;
        self
    }

    /// A handler for another client: same catalog, metrics and scopes, its
    /// own log level.
    pub fn for_new_client(&self) -> Self {
        Self {
            min_level: Arc::new(Mutex::new(LoggingLevel::Info)),
            ..self.clone()
        }
    }

    fn instructions(&self) -> Option<String> {
        let snapshot = self.catalog.snapshot();
        if snapshot.groups.is_empty() {
            return None;
        }
        let mut text = String::from("Tools are grouped by plugin:\n");
        for group in snapshot.groups.values() {
            text.push_str(&format!(
                "- {}: {}\n",
                group.info.name,
                group.info.description.trim()
            ));
            if let Some(instructions) = &group.info.instructions {
                text.push_str(&format!(
                    "  {}\n",
                    instructions.trim().replace('\n', "\n  ")
                ));
            }
        }
        Some(text)
    }
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_logging()
            .build();
        let mut info = ServerConfig::new(capabilities);
        info.server_info = Implementation::new("toolhost", env!("CARGO_PKG_VERSION"));
        info.instructions = self.instructions();
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        self.catalog.wait_ready(START_UP_WAIT).await;
        let snapshot = self.catalog.snapshot();
        let caller = caller::caller(&context);
        let tools = snapshot
            .tools
            .values()
            .filter(|tool| self.scopes.missing(&tool.group.name, caller).is_empty())
            .map(|tool| to_mcp_tool(tool))
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    fn get_tool(&self, name: &str) -> Option<McpTool> {
        self.catalog
            .snapshot()
            .tools
            .get(name)
            .map(|tool| to_mcp_tool(tool))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        self.catalog.wait_ready(START_UP_WAIT).await;
        let Some(tool) = self
            .catalog
            .snapshot()
            .tools
            .get(request.name.as_ref())
            .cloned()
        else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool `{}`; call tools/list to see the available tools",
                    request.name
                ),
                None,
            ));
        };
        let missing = self
            .scopes
            .missing(&tool.group.name, caller::caller(&context));
        if !missing.is_empty() {
            // The HTTP layer answers such calls with 403 before they get
            // here; this keeps the rule for any other transport.
            return Err(McpError::invalid_request(
                format!(
                    "insufficient_scope: tool `{}` needs scope {}",
                    tool.name,
                    missing.join(" ")
                ),
                None,
            ));
        }
        let span = match caller::request_id(&context) {
            Some(id) => tracing::info_span!("call", tool = %tool.name, request_id = %id.0),
            None => tracing::info_span!("call", tool = %tool.name),
        };
        let (events, forwarder) = self.forward_events(&context);
        let started = std::time::Instant::now();
        let in_flight = self.metrics.call_started();
        let outcome = tool
            .call(
                request.arguments.unwrap_or_default(),
                Some(events),
                context.ct.clone(),
            )
            .instrument(span)
            .await;
        self.metrics
            .record_call(&tool.name, &outcome, started.elapsed());
        // The sender is gone once the call is over; let the last events out.
        let _ = forwarder.await;
        drop(in_flight);
        Ok(to_call_result(&tool, outcome).into())
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        *self.min_level.lock().unwrap_or_else(|e| e.into_inner()) = request.level;
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        _requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(SubscriptionFilter::builder().tools_list_changed().build())
    }

    /// The 2026-07-28 way to hear about tool list changes: a
    /// `subscriptions/listen` stream, open until the client cancels it.
    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), McpError> {
        let mut changes = self.catalog.subscribe();
        changes.mark_unchanged();
        let wants_tools = subscription.accepted().tools_list_changed == Some(true);
        loop {
            tokio::select! {
                () = subscription.cancelled() => return Ok(()),
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    if wants_tools && subscription.sink().notify_tool_list_changed().await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        // Tell this client whenever the tool list changes, for as long as it
        // is connected.
        let mut changes = self.catalog.subscribe();
        let peer = context.peer;
        let notices_peer = peer.clone();
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                if peer.notify_tool_list_changed().await.is_err() {
                    break;
                }
            }
        });
        // And of what the host itself has to say (a plugin that failed to
        // build or reload), at the level the client asked for.
        let mut notices = self.catalog.notices();
        let min_level = self.min_level.clone();
        tokio::spawn(async move {
            loop {
                let notice = match notices.recv().await {
                    Ok(notice) => notice,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                let level = to_logging_level(notice.level);
                if severity(level) < severity(*min_level.lock().unwrap_or_else(|e| e.into_inner()))
                {
                    continue;
                }
                let mut param =
                    LoggingMessageNotificationParam::new(level, Value::String(notice.message));
                param.logger = Some("toolhost".into());
                if notices_peer.notify_logging_message(param).await.is_err() {
                    break;
                }
            }
        });
    }
}

impl Handler {
    /// A sink for a call's plugin events and the task that sends them to
    /// the client as log and progress notifications.
    fn forward_events(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> (runtime::EventSink, tokio::task::JoinHandle<()>) {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        let peer = context.peer.clone();
        let progress_token = context.meta.get_progress_token();
        let min_level = self.min_level.clone();
        // A 2026-07-28 request names its own level; older sessions set one
        // with logging/setLevel.
        let request_level = context.meta.log_level();
        let task = tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                match event {
                    PluginEvent::Log { level, message } => {
                        let level = to_logging_level(level);
                        let threshold = request_level.unwrap_or_else(|| {
                            *min_level.lock().unwrap_or_else(|e| e.into_inner())
                        });
                        if severity(level) < severity(threshold) {
                            continue;
                        }
                        let _ = peer
                            .notify_logging_message(LoggingMessageNotificationParam::new(
                                level,
                                Value::String(message),
                            ))
                            .await;
                    }
                    PluginEvent::Progress {
                        done,
                        total,
                        message,
                    } => {
                        let Some(token) = &progress_token else {
                            continue;
                        };
                        let mut param = ProgressNotificationParam::new(token.clone(), done);
                        param.total = total;
                        param.message = message;
                        let _ = peer.notify_progress(param).await;
                    }
                }
            }
        });
        (sender, task)
    }
}

/// RFC 5424 order: higher is more severe.
fn severity(level: LoggingLevel) -> u8 {
    level as u8
}

fn to_logging_level(level: Level) -> LoggingLevel {
    match level {
        Level::Debug => LoggingLevel::Debug,
        Level::Info => LoggingLevel::Info,
        Level::Notice => LoggingLevel::Notice,
        Level::Warning => LoggingLevel::Warning,
        Level::Error => LoggingLevel::Error,
        Level::Critical => LoggingLevel::Critical,
        Level::Alert => LoggingLevel::Alert,
        Level::Emergency => LoggingLevel::Emergency,
    }
}

/// A catalog tool as MCP lists it: exactly what the plugin declared.
pub fn to_mcp_tool(tool: &Tool) -> McpTool {
    let mut out = McpTool::new(
        tool.name.clone(),
        tool.description.clone(),
        tool.input_schema.clone(),
    );
    out.title = tool.title.clone();
    out.output_schema = tool.output_schema.clone();
    let a = &tool.annotations;
    if a.read_only.is_some()
        || a.destructive.is_some()
        || a.idempotent.is_some()
        || a.open_world.is_some()
    {
        out.annotations = Some(ToolAnnotations::from_raw(
            None,
            a.read_only,
            a.destructive,
            a.idempotent,
            a.open_world,
        ));
    }
    out
}

/// A call's outcome as MCP returns it. Everything that went wrong inside the
/// plugin is a tool result with `isError`, so the model can read it.
pub fn to_call_result(tool: &Tool, outcome: CallOutcome) -> CallToolResult {
    match outcome {
        CallOutcome::Done {
            output, structured, ..
        } => {
            let mut content: Vec<ContentBlock> =
                output.content.into_iter().map(to_content_block).collect();
            let mut result = match structured {
                Some(value) => {
                    if content.is_empty() {
                        content.push(ContentBlock::text(value.to_string()));
                    }
                    let mut result = CallToolResult::success(content);
                    result.structured_content = Some(value);
                    result
                }
                None => CallToolResult::success(content),
            };
            result.is_error = Some(false);
            result
        }
        CallOutcome::PluginError(error) => {
            CallToolResult::error(vec![ContentBlock::text(error.message)])
        }
        CallOutcome::InvalidArguments(violations) => {
            let mut text = format!("invalid arguments for tool `{}`:\n", tool.name);
            for violation in violations {
                text.push_str(&format!("- {violation}\n"));
            }
            text.push_str("The tool's inputSchema in tools/list says what it accepts.");
            CallToolResult::error(vec![ContentBlock::text(text)])
        }
        CallOutcome::Fault(fault) => {
            CallToolResult::error(vec![ContentBlock::text(fault.to_string())])
        }
    }
}

fn to_content_block(content: Content) -> ContentBlock {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    match content {
        Content::Text(text) => ContentBlock::text(text),
        Content::Image(media) => ContentBlock::image(b64(&media.data), media.mime_type),
        Content::Audio(media) => ContentBlock::audio(b64(&media.data), media.mime_type),
        Content::Resource(resource) => ContentBlock::resource(match resource.contents {
            runtime::ResourceContents::Text(text) => ResourceContents::TextResourceContents {
                uri: resource.uri,
                mime_type: resource.mime_type,
                text,
                meta: None,
            },
            runtime::ResourceContents::Blob(blob) => ResourceContents::BlobResourceContents {
                uri: resource.uri,
                mime_type: resource.mime_type,
                blob: b64(&blob),
                meta: None,
            },
        }),
    }
}
