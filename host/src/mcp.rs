//! The MCP face of the catalog: an rmcp `ServerHandler`, the same for stdio
//! and HTTP. It maps catalog ↔ protocol and nothing else.

// MCP logging (`notifications/message`, `logging/setLevel`) is deprecated by
// SEP-2577 in the newest protocol era, but every client of the current eras
// uses it, and it is how plugin log lines reach them.
#![allow(deprecated)]

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    ContentBlock, GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    LoggingLevel, LoggingMessageNotificationParam, PaginatedRequestParams,
    ProgressNotificationParam, Prompt as McpPrompt, PromptArgument as McpPromptArgument,
    PromptMessage, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Reference,
    Resource as McpResource, ResourceContents, ResourceTemplate as McpResourceTemplate,
    ResourceUpdatedNotificationParam, ServerCapabilities, ServerConfig, SetLevelRequestParams,
    SubscribeRequestParams, SubscriptionFilter, Tool as McpTool, ToolAnnotations,
    UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, Peer, RoleServer, ServerHandler};
use serde_json::{Value, json};
use tracing::Instrument as _;

use crate::caller::{self, ScopePolicy};
use crate::catalog::{CallOutcome, Catalog, Snapshot, Tool};
use crate::metrics::Metrics;
use crate::published::UriMap;
use crate::runtime::{
    self, Completion, CompletionRequest, CompletionTarget, Content, ElicitAction, ElicitResponse,
    ErrorKind, Group, Level, PluginError, PluginEvent, Reply, Request, Role, SamplingRequest,
    SamplingResponse,
};

/// What a plugin hears when it asks the client something during a
/// stateless request.
const NO_REQUESTS_WHEN_STATELESS: &str = "{} is not available: this request uses the stateless \
     MCP protocol (2026-07-28), in which servers may not send requests to the client during a call";

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
    /// Resource URIs (as published) this client subscribed to.
    subscriptions: Arc<Mutex<HashSet<String>>>,
}

impl Handler {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self {
            catalog,
            min_level: Arc::new(Mutex::new(LoggingLevel::Info)),
            metrics: Metrics::new(),
            scopes: Arc::default(),
            subscriptions: Arc::default(),
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
    /// own log level and subscriptions.
    pub fn for_new_client(&self) -> Self {
        Self {
            min_level: Arc::new(Mutex::new(LoggingLevel::Info)),
            subscriptions: Arc::default(),
            ..self.clone()
        }
    }

    /// Whether the caller of `context` may use what `group` serves.
    fn allowed(&self, group: &Group, context: &RequestContext<RoleServer>) -> bool {
        self.scopes
            .missing(&group.name, caller::caller(context))
            .is_empty()
    }

    /// The current snapshot, once the initial load is done.
    async fn ready_snapshot(&self) -> Arc<Snapshot> {
        self.catalog.wait_ready(START_UP_WAIT).await;
        self.catalog.snapshot()
    }

    /// Runs `request` against `group` with this client on the other end
    /// (log, progress, sampling, elicitation) and returns the group's own
    /// answer, or a JSON-RPC error when the sandbox stopped it.
    async fn invoke(
        &self,
        group: &Group,
        uris: &Arc<UriMap>,
        request: Request<'_>,
        context: &RequestContext<RoleServer>,
    ) -> Result<Reply, McpError> {
        let (events, forwarder) = self.forward_events(context, uris.clone());
        let outcome = group
            .invoke(request, Some(events), context.ct.clone())
            .await;
        let _ = forwarder.await;
        outcome
            .map(|success| success.result)
            .map_err(|fault| McpError::internal_error(fault.to_string(), None))
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
            .enable_logging()
            .enable_completions()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .enable_resources_subscribe()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        let mut info = ServerConfig::new(capabilities);
        info.server_info = Implementation::new("toolhost", env!("CARGO_PKG_VERSION"));
        info.instructions = self.instructions();
        info
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let snapshot = self.ready_snapshot().await;
        let (tools, next) = page(&snapshot.tools, request, self.catalog.page_size, |tool| {
            self.allowed(&tool.group, &context)
        })?;
        let mut result = ListToolsResult::with_all_items(tools.map(|t| to_mcp_tool(t)).collect());
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let snapshot = self.ready_snapshot().await;
        let (resources, next) = page(&snapshot.resources, request, self.catalog.page_size, |r| {
            self.allowed(&r.group, &context)
        })?;
        let mut result = ListResourcesResult::with_all_items(
            resources
                .map(|r| {
                    let d = &r.declared;
                    let mut out = McpResource::new(r.uri.clone(), r.name.clone());
                    out.title = d.title.clone();
                    out.description = d.description.clone();
                    out.mime_type = d.mime_type.clone();
                    out.size = d.size;
                    out
                })
                .collect(),
        );
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let snapshot = self.ready_snapshot().await;
        let (templates, next) = page(&snapshot.templates, request, self.catalog.page_size, |t| {
            self.allowed(&t.group, &context)
        })?;
        let mut result = ListResourceTemplatesResult::with_all_items(
            templates
                .map(|t| {
                    let d = &t.declared;
                    let mut out = McpResourceTemplate::new(t.uri_template.clone(), t.name.clone());
                    out.title = d.title.clone();
                    out.description = d.description.clone();
                    out.mime_type = d.mime_type.clone();
                    out
                })
                .collect(),
        );
        result.next_cursor = next;
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let snapshot = self.ready_snapshot().await;
        let Some((group, uris, declared)) = snapshot
            .resource_owner(&request.uri)
            .filter(|(group, ..)| self.allowed(group, &context))
        else {
            return Err(McpError::resource_not_found(
                format!(
                    "no resource `{}`; resources/list and resources/templates/list say what there is",
                    request.uri
                ),
                Some(json!({ "uri": request.uri })),
            ));
        };
        let reply = self
            .invoke(&group, &uris, Request::Read { uri: &declared }, &context)
            .await?;
        let Reply::Read(parts) = reply else {
            unreachable!("a read is answered by a read reply")
        };
        let parts = parts.map_err(|e| plugin_error(e, &request.uri))?;
        let contents = parts
            .into_iter()
            .map(|part| to_resource_contents(part, &uris))
            .collect();
        Ok(ReadResourceResult::new(contents).into())
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(request.uri);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let snapshot = self.ready_snapshot().await;
        let (prompts, next) = page(&snapshot.prompts, request, self.catalog.page_size, |p| {
            self.allowed(&p.group, &context)
        })?;
        let mut result = ListPromptsResult::with_all_items(
            prompts
                .map(|p| {
                    let d = &p.declared;
                    let arguments = d
                        .arguments
                        .iter()
                        .map(|a| {
                            let mut out =
                                McpPromptArgument::new(a.name.clone()).with_required(a.required);
                            out.title = a.title.clone();
                            out.description = a.description.clone();
                            out
                        })
                        .collect::<Vec<_>>();
                    let mut out = McpPrompt::new(
                        p.name.clone(),
                        d.description.clone(),
                        (!arguments.is_empty()).then_some(arguments),
                    );
                    out.title = d.title.clone();
                    out
                })
                .collect(),
        );
        result.next_cursor = next;
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let snapshot = self.ready_snapshot().await;
        let Some(prompt) = snapshot
            .prompts
            .get(&request.name)
            .filter(|p| self.allowed(&p.group, &context))
            .cloned()
        else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown prompt `{}`; call prompts/list to see the available prompts",
                    request.name
                ),
                None,
            ));
        };
        let given = request.arguments.unwrap_or_default();
        let mut arguments = Vec::with_capacity(given.len());
        for (name, value) in given {
            let value = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            arguments.push((name, value));
        }
        let missing: Vec<&str> = prompt
            .declared
            .arguments
            .iter()
            .filter(|a| a.required && !arguments.iter().any(|(name, _)| *name == a.name))
            .map(|a| a.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(McpError::invalid_params(
                format!(
                    "prompt `{}` needs argument(s) {}; prompts/list describes them",
                    prompt.name,
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None,
            ));
        }
        let request = Request::Prompt {
            name: &prompt.declared.name,
            arguments: &arguments,
        };
        let reply = self
            .invoke(&prompt.group, &prompt.uris, request, &context)
            .await?;
        let Reply::Prompt(result) = reply else {
            unreachable!("a prompt request is answered by a prompt reply")
        };
        let result = result.map_err(|e| plugin_error(e, &prompt.name))?;
        let messages = result
            .messages
            .into_iter()
            .map(|m| PromptMessage::new(to_role(m.role), to_content_block(m.content, &prompt.uris)))
            .collect();
        let mut out = GetPromptResult::new(messages);
        out.description = result.description.or(prompt.declared.description.clone());
        Ok(out.into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let snapshot = self.ready_snapshot().await;
        let (group, uris, target) = match &request.r#ref {
            Reference::Prompt(reference) => {
                let prompt = snapshot
                    .prompts
                    .get(&reference.name)
                    .filter(|p| self.allowed(&p.group, &context))
                    .ok_or_else(|| {
                        McpError::invalid_params(
                            format!(
                                "unknown prompt `{}`; call prompts/list to see the available prompts",
                                reference.name
                            ),
                            None,
                        )
                    })?;
                (
                    prompt.group.clone(),
                    prompt.uris.clone(),
                    CompletionTarget::Prompt(prompt.declared.name.clone()),
                )
            }
            Reference::Resource(reference) => {
                let template = snapshot
                    .templates
                    .get(&reference.uri)
                    .filter(|t| self.allowed(&t.group, &context))
                    .ok_or_else(|| {
                        McpError::invalid_params(
                            format!(
                                "unknown resource template `{}`; resources/templates/list says \
                                 what there is",
                                reference.uri
                            ),
                            None,
                        )
                    })?;
                (
                    template.group.clone(),
                    template.uris.clone(),
                    CompletionTarget::ResourceTemplate(template.declared.uri_template.clone()),
                )
            }
            other => {
                return Err(McpError::invalid_params(
                    format!("completion for {other:?} is not supported"),
                    None,
                ));
            }
        };
        let completion_request = CompletionRequest {
            target,
            argument: request.argument.name.clone(),
            value: request.argument.value.clone(),
            context: request
                .context
                .and_then(|c| c.arguments)
                .map(|a| {
                    a.into_iter()
                        .collect::<BTreeMap<_, _>>()
                        .into_iter()
                        .collect()
                })
                .unwrap_or_default(),
        };
        let reply = self
            .invoke(
                &group,
                &uris,
                Request::Complete(&completion_request),
                &context,
            )
            .await?;
        let Reply::Complete(completion) = reply else {
            unreachable!("a completion request is answered by a completion reply")
        };
        let completion = completion.map_err(|e| plugin_error(e, &request.argument.name))?;
        to_complete_result(completion)
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
        let (events, forwarder) = self.forward_events(&context, tool.uris.clone());
        let arguments = request.arguments.unwrap_or_default();
        let request_id = caller::request_id(&context);
        let in_flight = self.metrics.call_started();
        let result = self
            .run_tool(&tool, arguments, events, context.ct.clone(), request_id)
            .await;
        // The sender is gone once the call is over; let the last events out.
        let _ = forwarder.await;
        drop(in_flight);
        Ok(result.into())
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
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let filter = SubscriptionFilter::builder()
            .tools_list_changed()
            .prompts_list_changed()
            .resources_list_changed();
        // Any URI may be watched, including one a group serves later.
        Some(
            match &requested.resource_subscriptions {
                Some(uris) => filter.resource_subscriptions(uris.clone()),
                None => filter,
            }
            .build(),
        )
    }

    /// The 2026-07-28 way to hear about list changes and resource updates:
    /// a `subscriptions/listen` stream, open until the client cancels it.
    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), McpError> {
        let mut changes = self.catalog.subscribe();
        changes.mark_unchanged();
        let mut updates = self.catalog.resource_updates();
        let watched: HashSet<String> = subscription
            .accepted()
            .resource_subscriptions
            .iter()
            .flatten()
            .cloned()
            .collect();
        let accepted = subscription.accepted();
        let wants = |flag: Option<bool>| flag == Some(true);
        let (tools, prompts, resources) = (
            wants(accepted.tools_list_changed),
            wants(accepted.prompts_list_changed),
            wants(accepted.resources_list_changed),
        );
        self.catalog.until_ready().await;
        let mut last = self.catalog.snapshot();
        loop {
            tokio::select! {
                () = subscription.cancelled() => return Ok(()),
                update = updates.recv(), if !watched.is_empty() => {
                    let uri = match update {
                        Ok(uri) => uri,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
                    };
                    if watched.contains(&uri)
                        && subscription.sink().notify_resource_updated(uri).await.is_err()
                    {
                        return Ok(());
                    }
                }
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let now = self.catalog.snapshot();
                    let what = Changed::between(&last, &now);
                    last = now;
                    let sink = subscription.sink();
                    let sent = async {
                        if tools && what.tools {
                            sink.notify_tool_list_changed().await?;
                        }
                        if prompts && what.prompts {
                            sink.notify_prompt_list_changed().await?;
                        }
                        if resources && what.resources {
                            sink.notify_resource_list_changed().await?;
                        }
                        Ok::<_, rmcp::service::SubscriptionSendError>(())
                    };
                    if sent.await.is_err() {
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
        let catalog = self.catalog.clone();
        let list_peer = peer.clone();
        spawn_while_connected(&peer, async move {
            // Changes are announced once the initial load is done; compare
            // with what was served then.
            catalog.until_ready().await;
            let mut last = catalog.snapshot();
            while changes.changed().await.is_ok() {
                let now = catalog.snapshot();
                let what = Changed::between(&last, &now);
                last = now;
                if what.send(&list_peer).await.is_err() {
                    break;
                }
            }
        });
        // Resource updates the groups signal, for the URIs this client
        // subscribed to.
        let mut updates = self.catalog.resource_updates();
        let subscriptions = self.subscriptions.clone();
        let update_peer = peer.clone();
        spawn_while_connected(&peer, async move {
            loop {
                let uri = match updates.recv().await {
                    Ok(uri) => uri,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                let subscribed = subscriptions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains(&uri);
                if subscribed
                    && update_peer
                        .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                        .await
                        .is_err()
                {
                    break;
                }
            }
        });
        // And of what the host itself has to say (a plugin that failed to
        // build or reload), at the level the client asked for.
        let mut notices = self.catalog.notices();
        let min_level = self.min_level.clone();
        spawn_while_connected(&peer, async move {
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
    /// Calls `tool`, records the call in the metrics and maps its outcome.
    async fn run_tool(
        &self,
        tool: &Tool,
        arguments: crate::catalog::JsonObject,
        events: runtime::EventSink,
        cancel: tokio_util::sync::CancellationToken,
        request_id: Option<&caller::RequestId>,
    ) -> CallToolResult {
        let span = match request_id {
            Some(id) => tracing::info_span!("call", tool = %tool.name, request_id = %id.0),
            None => tracing::info_span!("call", tool = %tool.name),
        };
        let started = std::time::Instant::now();
        let outcome = tool
            .call(arguments, Some(events), cancel)
            .instrument(span)
            .await;
        self.metrics
            .record_call(&tool.name, &outcome, started.elapsed());
        to_call_result(tool, outcome)
    }

    /// A `tools/call` that needs no conversation with the client while it
    /// runs (a stateless request without a progress token), answered
    /// without a protocol session: the result, and the log notifications
    /// the request's level lets through, to send before it. `None` when the
    /// call is not this simple one (unknown tool, missing scope): the
    /// protocol layer then answers it.
    pub async fn call_stateless(
        &self,
        name: &str,
        arguments: crate::catalog::JsonObject,
        who: Option<&caller::Caller>,
        request_id: Option<&caller::RequestId>,
        log_level: Option<LoggingLevel>,
    ) -> Option<(CallToolResult, Vec<LoggingMessageNotificationParam>)> {
        if !self.catalog.is_ready() {
            return None;
        }
        let tool = self.catalog.snapshot().tools.get(name).cloned()?;
        if !self.scopes.missing(&tool.group.name, who).is_empty() {
            return None;
        }
        let threshold = log_level.unwrap_or(LoggingLevel::Info);
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        let catalog = self.catalog.clone();
        let uris = tool.uris.clone();
        let collector = tokio::spawn(async move {
            let mut logs = Vec::new();
            while let Some(event) = receiver.recv().await {
                match event {
                    PluginEvent::Log { level, message } => {
                        let level = to_logging_level(level);
                        if severity(level) >= severity(threshold) {
                            logs.push(LoggingMessageNotificationParam::new(
                                level,
                                Value::String(message),
                            ));
                        }
                    }
                    // No progress token: nobody asked.
                    PluginEvent::Progress { .. } => {}
                    PluginEvent::ResourceUpdated { uri } => {
                        catalog.resource_updated(uris.publish(&uri));
                    }
                    PluginEvent::Sample { reply, .. } => {
                        let _ =
                            reply.send(Err(NO_REQUESTS_WHEN_STATELESS.replace("{}", "sampling")));
                    }
                    PluginEvent::Elicit { reply, .. } => {
                        let _ = reply
                            .send(Err(NO_REQUESTS_WHEN_STATELESS.replace("{}", "elicitation")));
                    }
                }
            }
            logs
        });
        let in_flight = self.metrics.call_started();
        // Cancelled if the client goes away: the future is dropped.
        let cancel = tokio_util::sync::CancellationToken::new();
        let _cancel_on_drop = cancel.clone().drop_guard();
        let result = self
            .run_tool(&tool, arguments, sender, cancel, request_id)
            .await;
        let logs = collector.await.unwrap_or_default();
        drop(in_flight);
        Some((result, logs))
    }

    /// A sink for a call's plugin events and the task that sends them to
    /// the client as log and progress notifications.
    fn forward_events(
        &self,
        context: &RequestContext<RoleServer>,
        uris: Arc<UriMap>,
    ) -> (runtime::EventSink, tokio::task::JoinHandle<()>) {
        let catalog = self.catalog.clone();
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
                    PluginEvent::ResourceUpdated { uri } => {
                        catalog.resource_updated(uris.publish(&uri));
                    }
                    PluginEvent::Sample { request, mut reply } => {
                        // The call may end (deadline, cancel) before the
                        // client answers: stop waiting then.
                        let answer = tokio::select! {
                            answer = sample(&peer, request, &uris) => answer,
                            () = reply.closed() => continue,
                        };
                        let _ = reply.send(answer);
                    }
                    PluginEvent::Elicit {
                        message,
                        requested_schema,
                        mut reply,
                    } => {
                        let answer = tokio::select! {
                            answer = elicit(&peer, message, &requested_schema) => answer,
                            () = reply.closed() => continue,
                        };
                        let _ = reply.send(answer);
                    }
                }
            }
        });
        (sender, task)
    }
}

/// Runs `task` for as long as `peer`'s connection is open, so that a
/// client that went away without closing its session (an HTTP session
/// expires when idle) leaves no task waiting for the next change.
fn spawn_while_connected(peer: &Peer<RoleServer>, task: impl Future<Output = ()> + Send + 'static) {
    let peer = peer.clone();
    tokio::spawn(async move {
        let gone = async {
            let mut check = tokio::time::interval(std::time::Duration::from_secs(5));
            while !peer.is_transport_closed() {
                check.tick().await;
            }
        };
        tokio::select! {
            () = task => {}
            () = gone => {}
        }
    });
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
            let mut content: Vec<ContentBlock> = output
                .content
                .into_iter()
                .map(|c| to_content_block(c, &tool.uris))
                .collect();
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

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A group's content as MCP sends it, with the group's URIs published.
fn to_content_block(content: Content, uris: &UriMap) -> ContentBlock {
    match content {
        Content::Text(text) => ContentBlock::text(text),
        Content::Image(media) => ContentBlock::image(b64(&media.data), media.mime_type),
        Content::Audio(media) => ContentBlock::audio(b64(&media.data), media.mime_type),
        Content::Resource(resource) => ContentBlock::resource(to_resource_contents(resource, uris)),
        Content::Link(link) => {
            let mut out = McpResource::new(uris.publish(&link.uri), link.name);
            out.title = link.title;
            out.description = link.description;
            out.mime_type = link.mime_type;
            out.size = link.size;
            ContentBlock::resource_link(out)
        }
    }
}

fn to_resource_contents(resource: runtime::EmbeddedResource, uris: &UriMap) -> ResourceContents {
    let uri = uris.publish(&resource.uri);
    match resource.contents {
        runtime::ResourceContents::Text(text) => ResourceContents::TextResourceContents {
            uri,
            mime_type: resource.mime_type,
            text,
            meta: None,
        },
        runtime::ResourceContents::Blob(blob) => ResourceContents::BlobResourceContents {
            uri,
            mime_type: resource.mime_type,
            blob: b64(&blob),
            meta: None,
        },
    }
}

fn to_role(role: Role) -> rmcp::model::Role {
    match role {
        Role::User => rmcp::model::Role::User,
        Role::Assistant => rmcp::model::Role::Assistant,
    }
}

/// A group's own error for a request other than a tool call, as a JSON-RPC
/// error (`subject` is what the request named).
fn plugin_error(error: PluginError, subject: &str) -> McpError {
    let data = Some(json!({ "subject": subject }));
    match error.kind {
        ErrorKind::NotFound => McpError::resource_not_found(error.message, data),
        ErrorKind::InvalidArguments => McpError::invalid_params(error.message, data),
        ErrorKind::Denied | ErrorKind::Unavailable | ErrorKind::Failed => {
            McpError::internal_error(error.message, data)
        }
    }
}

/// At most 100 values, as MCP allows; the rest are counted in `total`.
fn to_complete_result(completion: Completion) -> Result<CompleteResult, McpError> {
    const MAX_VALUES: usize = 100;
    let count = completion.values.len();
    let mut values = completion.values;
    values.truncate(MAX_VALUES);
    let total = completion
        .total
        .or_else(|| (count > MAX_VALUES).then(|| u32::try_from(count).unwrap_or(u32::MAX)));
    let info = json!({
        "values": values,
        "total": total,
        "hasMore": completion.has_more || count > MAX_VALUES,
    });
    let info = serde_json::from_value(info)
        .map_err(|e| McpError::internal_error(format!("invalid completion: {e}"), None))?;
    Ok(CompleteResult::new(info))
}

/// Which lists differ between two snapshots.
struct Changed {
    tools: bool,
    prompts: bool,
    resources: bool,
}

impl Changed {
    fn between(before: &Snapshot, after: &Snapshot) -> Self {
        fn differ<T>(a: &BTreeMap<String, Arc<T>>, b: &BTreeMap<String, Arc<T>>) -> bool {
            a.len() != b.len()
                || a.iter()
                    .zip(b)
                    .any(|((ka, va), (kb, vb))| ka != kb || !Arc::ptr_eq(va, vb))
        }
        Self {
            tools: differ(&before.tools, &after.tools),
            prompts: differ(&before.prompts, &after.prompts),
            resources: differ(&before.resources, &after.resources)
                || differ(&before.templates, &after.templates),
        }
    }

    /// Tells a client of the changed lists. Tools are announced on every
    /// change (a reload of the same names may change descriptions).
    async fn send(&self, peer: &Peer<RoleServer>) -> Result<(), rmcp::ServiceError> {
        peer.notify_tool_list_changed().await?;
        if self.prompts {
            peer.notify_prompt_list_changed().await?;
        }
        if self.resources {
            peer.notify_resource_list_changed().await?;
        }
        Ok(())
    }
}

/// A page of `items` after the request's cursor, and the cursor of the next
/// page. A cursor is the last key of its page, opaque to clients.
fn page<T>(
    items: &BTreeMap<String, T>,
    request: Option<PaginatedRequestParams>,
    size: usize,
    visible: impl Fn(&T) -> bool,
) -> Result<(impl Iterator<Item = &T>, Option<String>), McpError> {
    let after = match request.and_then(|r| r.cursor) {
        None => None,
        Some(cursor) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&cursor)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    McpError::invalid_params(
                        format!("invalid cursor `{cursor}`; pass back a nextCursor unchanged"),
                        None,
                    )
                })?,
        ),
    };
    let start = match &after {
        Some(key) => Bound::Excluded(key.as_str()),
        None => Bound::Unbounded,
    };
    let mut entries: Vec<(&String, &T)> = items
        .range::<str, _>((start, Bound::Unbounded))
        .filter(|(_, item)| visible(item))
        .take(size + 1)
        .collect();
    let next = (entries.len() > size).then(|| {
        entries.truncate(size);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(entries[size - 1].0)
    });
    Ok((entries.into_iter().map(|(_, item)| item), next))
}

/// Forwards a group's sampling request to the client.
async fn sample(
    peer: &Peer<RoleServer>,
    request: SamplingRequest,
    uris: &UriMap,
) -> Result<SamplingResponse, String> {
    let offered = peer
        .peer_info()
        .is_some_and(|info| info.capabilities.sampling.is_some());
    if !offered {
        return Err(
            "the MCP client does not offer sampling (no `sampling` capability); \
                    the operation must work without it"
                .to_owned(),
        );
    }
    let mut messages = Vec::with_capacity(request.messages.len());
    for message in request.messages {
        let content = serde_json::to_value(to_content_block(message.content, uris))
            .map_err(|e| e.to_string())?;
        if !matches!(
            content.get("type").and_then(Value::as_str),
            Some("text" | "image" | "audio")
        ) {
            return Err("sampling messages may only hold text, image or audio".to_owned());
        }
        messages.push(json!({ "role": to_role(message.role), "content": content }));
    }
    let mut params = json!({
        "messages": messages,
        "maxTokens": request.max_tokens,
    });
    if let Some(system) = request.system_prompt {
        params["systemPrompt"] = json!(system);
    }
    if let Some(temperature) = request.temperature {
        params["temperature"] = json!(temperature);
    }
    if !request.stop_sequences.is_empty() {
        params["stopSequences"] = json!(request.stop_sequences);
    }
    if !request.model_hints.is_empty() {
        let hints: Vec<Value> = request
            .model_hints
            .iter()
            .map(|name| json!({ "name": name }))
            .collect();
        params["modelPreferences"] = json!({ "hints": hints });
    }
    let params = serde_json::from_value(params)
        .map_err(|e| format!("the sampling request is not valid MCP: {e}"))?;
    let result = peer
        .create_message(params)
        .await
        .map_err(|e| format!("the client refused or failed the sampling request: {e}"))?;
    let result = serde_json::to_value(&result).map_err(|e| e.to_string())?;
    let content = match &result["content"] {
        Value::Array(parts) => parts.first().cloned().unwrap_or(Value::Null),
        one => one.clone(),
    };
    Ok(SamplingResponse {
        role: if result["role"] == "assistant" {
            Role::Assistant
        } else {
            Role::User
        },
        content: content_from_json(&content)?,
        model: result["model"].as_str().unwrap_or_default().to_owned(),
        stop_reason: result["stopReason"].as_str().map(str::to_owned),
    })
}

/// Sampling content from the client, in the group's terms.
fn content_from_json(content: &Value) -> Result<Content, String> {
    let text = |key: &str| content[key].as_str().unwrap_or_default().to_owned();
    let media = || -> Result<runtime::Media, String> {
        Ok(runtime::Media {
            data: base64::engine::general_purpose::STANDARD
                .decode(text("data"))
                .map_err(|e| format!("the client sent invalid base64: {e}"))?,
            mime_type: text("mimeType"),
        })
    };
    match content["type"].as_str() {
        Some("text") => Ok(Content::Text(text("text"))),
        Some("image") => Ok(Content::Image(media()?)),
        Some("audio") => Ok(Content::Audio(media()?)),
        other => Err(format!(
            "the client answered with content of type {other:?}, which groups cannot receive"
        )),
    }
}

/// Forwards a group's elicitation request to the client.
async fn elicit(
    peer: &Peer<RoleServer>,
    message: String,
    requested_schema: &str,
) -> Result<ElicitResponse, String> {
    let offered = peer
        .peer_info()
        .is_some_and(|info| info.capabilities.elicitation.is_some());
    if !offered {
        return Err(
            "the MCP client does not offer elicitation (no `elicitation` capability); \
                    the operation must work without it"
                .to_owned(),
        );
    }
    let schema: Value = serde_json::from_str(requested_schema)
        .map_err(|e| format!("the requested schema is not JSON: {e}"))?;
    let params = serde_json::from_value(json!({
        "mode": "form",
        "message": message,
        "requestedSchema": schema,
    }))
    .map_err(|e| {
        format!("the requested schema is not one MCP elicitation accepts (a flat object of strings, numbers, booleans and enums): {e}")
    })?;
    let result = peer
        .create_elicitation(params)
        .await
        .map_err(|e| format!("the client refused or failed the elicitation: {e}"))?;
    let result = serde_json::to_value(&result).map_err(|e| e.to_string())?;
    Ok(ElicitResponse {
        action: match result["action"].as_str() {
            Some("accept") => ElicitAction::Accept,
            Some("decline") => ElicitAction::Decline,
            _ => ElicitAction::Cancel,
        },
        content: result
            .get("content")
            .filter(|c| !c.is_null())
            .map(Value::to_string),
    })
}
