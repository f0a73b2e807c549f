//! The MCP door: an rmcp `ServerHandler`, the same for stdio and HTTP. It
//! translates each MCP request into a call-service request and the reply
//! back, and nothing else.
//!
//! - [`convert`]: catalog and source data ↔ rmcp's model types.
//! - [`client`]: the peer as the call service's client (log, progress,
//!   sampling, elicitation).
//! - [`notify`]: list changes, resource updates and host notices.
//! - [`rounds`]: questions a group asks a 2026-07-28 client, as
//!   `input_required` results and retries.
//! - [`fast`]: the `tools/call` fast path the transports take around rmcp
//!   when a call needs nothing of a session.

// MCP logging (`notifications/message`, `logging/setLevel`) is deprecated by
// SEP-2577 in the newest protocol era, but every client of the current eras
// uses it, and it is how plugin log lines reach them.
#![allow(deprecated)]

pub mod client;
pub mod convert;
pub mod fast;
mod notify;
pub mod rounds;
pub mod tasks;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CancelTaskParams, CompleteRequestParams,
    CompleteResult, DiscoverResult, ErrorCode, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, GetTaskParams, GetTaskResult, Implementation, InitializeRequestParams,
    InitializeResult, InputRequiredResult, InputResponses, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, LoggingLevel,
    PaginatedRequestParams, PromptMessage, ProtocolVersion, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Reference, ServerCapabilities, ServerConfig,
    SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, Tool as McpTool,
    UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use convert::{to_call_result, to_mcp_tool};

use crate::caller::{self, Caller};
use crate::service::{CallOutcome, CallService, Completing, CompletionRef, Who};
use client::PeerClient;
use convert::{to_content_block, to_mcp_error, to_resource_contents, to_role};
use rounds::{Asking, Rounds};
use tasks::Tasks;

/// Longest `initialize` and `server/discover` wait for the initial load,
/// so that instructions describe the groups; a client's first list waits
/// longer (the call service's own bound).
const INSTRUCTIONS_WAIT: Duration = Duration::from_secs(10);

/// One client connection's view of the call service.
#[derive(Clone)]
pub struct Handler {
    service: CallService,
    /// Least severe level of plugin log messages sent to this client.
    min_level: Arc<Mutex<LoggingLevel>>,
    /// Resource URIs (as published) this client subscribed to.
    subscriptions: Arc<Mutex<HashSet<String>>>,
    /// Seals the state of `input_required` results.
    rounds: Arc<Rounds>,
    /// Calls that went on as tasks.
    tasks: Arc<Tasks>,
}

/// Who is asking, as the transport told rmcp.
fn who(context: &RequestContext<RoleServer>) -> Who<'_> {
    Who {
        caller: caller::caller(context),
        request_id: caller::request_id(context),
        traceparent: context
            .meta
            .get("traceparent")
            .and_then(Value::as_str)
            .and_then(crate::service::traceparent),
    }
}

impl Handler {
    /// A handler whose `input_required` states are sealed with a random
    /// key (see [`Self::with_rounds`]).
    pub fn new(service: CallService) -> Self {
        Self {
            service,
            min_level: Arc::new(Mutex::new(LoggingLevel::Info)),
            subscriptions: Arc::default(),
            rounds: Arc::new(Rounds::random()),
            tasks: Tasks::embedded(&crate::config::TasksConfig::default()),
        }
    }

    /// The same handler, sealing `input_required` states with `rounds`.
    pub fn with_rounds(self, rounds: Arc<Rounds>) -> Self {
        Self { rounds, ..self }
    }

    /// The same handler, keeping its tasks in `tasks`.
    pub fn with_tasks(self, tasks: Arc<Tasks>) -> Self {
        Self { tasks, ..self }
    }

    /// What seals this handler's `input_required` states.
    pub fn rounds(&self) -> Arc<Rounds> {
        self.rounds.clone()
    }

    /// The call service behind this handler.
    pub fn service(&self) -> &CallService {
        &self.service
    }

    /// This client's log level (`logging/setLevel`), for a transport that
    /// answers some of its calls itself ([`fast`]).
    pub fn session_level(&self) -> Arc<Mutex<LoggingLevel>> {
        self.min_level.clone()
    }

    /// A handler for another client: same service, its own log level and
    /// subscriptions.
    pub fn for_new_client(&self) -> Self {
        Self {
            service: self.service.clone(),
            min_level: Arc::new(Mutex::new(LoggingLevel::Info)),
            subscriptions: Arc::default(),
            rounds: self.rounds.clone(),
            tasks: self.tasks.clone(),
        }
    }

    /// The client of one request.
    fn client(&self, context: &RequestContext<RoleServer>) -> PeerClient {
        PeerClient {
            peer: context.peer.clone(),
            progress_token: context.meta.get_progress_token(),
            // A 2026-07-28 request names its own level; older sessions set
            // one with logging/setLevel.
            request_level: context.meta.log_level(),
            stateless: context.meta.protocol_version() == Some(ProtocolVersion::V_2026_07_28),
            session_level: self.min_level.clone(),
        }
    }

    /// The caching hints of a list (2026-07-28 `ttlMs`, `cacheScope`):
    /// `server.list_ttl`, public when every caller sees the same lists.
    fn list_hints(&self) -> (Option<u64>, Option<CacheScope>) {
        let (ttl, shared) = self.service.list_freshness();
        let scope = match shared {
            true => CacheScope::Public,
            false => CacheScope::Private,
        };
        (Some(ttl), Some(scope))
    }

    /// What an `input_required` state of this request is bound to, when
    /// the request is of the 2026-07-28 era (earlier clients are asked in
    /// the session instead).
    fn binding(
        &self,
        context: &RequestContext<RoleServer>,
        who: Who<'_>,
        what: &str,
        arguments: &rmcp::model::JsonObject,
    ) -> Option<Vec<u8>> {
        (context.meta.protocol_version() == Some(ProtocolVersion::V_2026_07_28)).then(|| {
            let subject = who.caller.map(|c| c.subject.as_str());
            rounds::binding(subject, what, arguments)
        })
    }

    /// The client a request's source talks to, and what stops its run.
    /// With a `binding` (a 2026-07-28 request), a question the source
    /// asks stops the run to become an `input_required` result (see
    /// [`Self::conclude`]), and `retry` (the request's `requestState` and
    /// `inputResponses`) answers the questions of earlier rounds.
    fn asking<'c>(
        &self,
        context: &RequestContext<RoleServer>,
        client: &'c PeerClient,
        binding: Option<&[u8]>,
        retry: (Option<&str>, Option<&InputResponses>),
    ) -> Result<(Asking<'c>, CancellationToken), McpError> {
        let answers = binding
            .map(|binding| self.rounds.resume(binding, retry.0, retry.1))
            .transpose()
            .map_err(|message| McpError::invalid_params(message, None))?;
        let capabilities = context
            .meta
            .client_capabilities()
            .and_then(|c| serde_json::to_value(c).ok())
            .map(std::borrow::Cow::Owned);
        let stop = context.ct.child_token();
        let asking = Asking::new(client, answers, capabilities, stop.clone());
        Ok((asking, stop))
    }

    /// The question that stopped a run, as the `input_required` result
    /// to answer with; `None` when the run was not stopped by one. A run
    /// that failed (`failure`, the source's message) after a question it
    /// needed was refused for want of a capability is answered with the
    /// error MCP names for that.
    fn conclude(
        &self,
        asking: Asking<'_>,
        binding: Option<&[u8]>,
        failure: Option<&str>,
    ) -> Result<Option<InputRequiredResult>, McpError> {
        self.conclude_finished(asking.finish(), binding, failure)
    }

    /// [`Self::conclude`] for a run that already ended.
    fn conclude_finished(
        &self,
        finished: rounds::Finished,
        binding: Option<&[u8]>,
        failure: Option<&str>,
    ) -> Result<Option<InputRequiredResult>, McpError> {
        if let Some(error) = failure.and_then(|f| finished.missing_capability(f)) {
            return Err(error);
        }
        if finished.questions.is_empty() {
            return Ok(None);
        }
        let binding = binding.unwrap_or_default();
        self.rounds
            .input_required(binding, finished.answers, finished.questions)
            .map(Some)
            .map_err(|message| McpError::internal_error(message, None))
    }

    /// Whether the request's client takes tasks (it declared the tasks
    /// extension).
    fn takes_tasks(&self, context: &RequestContext<RoleServer>) -> bool {
        context
            .client_capabilities()
            .is_some_and(|c| c.supports_tasks())
    }

    /// A 2026-07-28 `tools/call` from a client that takes tasks: the run
    /// goes on in the background, and the request is answered with its
    /// result, its questions, or the task it became (see [`tasks`]).
    #[allow(clippy::too_many_arguments)]
    async fn call_taking_tasks(
        &self,
        context: &RequestContext<RoleServer>,
        who: Who<'_>,
        tool: Arc<crate::catalog::Tool>,
        arguments: rmcp::model::JsonObject,
        client: PeerClient,
        binding: &[u8],
        retry: (Option<&str>, Option<&InputResponses>),
    ) -> Result<CallToolResponse, McpError> {
        let answers = self
            .rounds
            .resume(binding, retry.0, retry.1)
            .map_err(|message| McpError::invalid_params(message, None))?;
        let run = tasks::Run {
            service: self.service.clone(),
            tool: tool.clone(),
            arguments,
            caller: who.caller.cloned(),
            request_id: who.request_id.cloned(),
            traceparent: who.traceparent.map(str::to_owned),
            client,
            capabilities: context
                .meta
                .client_capabilities()
                .and_then(|c| serde_json::to_value(c).ok()),
        };
        let (outcome, finished) = match self
            .tasks
            .first_run(run, answers, context.ct.clone())
            .await?
        {
            Ok(ended) => ended,
            Err(task) => return Ok(CallToolResponse::Task(task)),
        };
        let failure = match &outcome {
            CallOutcome::PluginError(error) => Some(error.message.as_str()),
            _ => None,
        };
        Ok(
            match self.conclude_finished(finished, Some(binding), failure)? {
                None => to_call_result(&tool, outcome).into(),
                Some(question) => CallToolResponse::InputRequired(question),
            },
        )
    }

    async fn instructions(&self, who: Who<'_>) -> Option<String> {
        tokio::time::timeout(INSTRUCTIONS_WAIT, self.service.instructions(who))
            .await
            .unwrap_or(None)
    }
}

/// Whom a task belongs to: the caller's subject.
fn owner(context: &RequestContext<RoleServer>) -> Option<String> {
    caller::caller(context).map(|c| c.subject.clone())
}

fn cursor(request: &Option<PaginatedRequestParams>) -> Option<&str> {
    request.as_ref().and_then(|r| r.cursor.as_deref())
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
            .enable_tasks()
            .build();
        let mut info = ServerConfig::new(capabilities);
        info.server_info = Implementation::new("toolhost", env!("CARGO_PKG_VERSION"));
        info
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        context.peer.set_peer_info(request.clone());
        let mut result = self.negotiate_initialize(&request)?;
        result.instructions = self.instructions(who(&context)).await;
        Ok(result)
    }

    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, McpError> {
        let mut info = self.get_info();
        info.instructions = self.instructions(who(&context)).await;
        Ok(DiscoverResult::from_server_info(
            self.supported_protocol_versions().into_owned(),
            info,
        ))
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let page = self
            .service
            .list_tools(who(&context), cursor(&request))
            .await
            .map_err(to_mcp_error)?;
        let mut result =
            ListToolsResult::with_all_items(page.items.iter().map(|t| to_mcp_tool(t)).collect());
        result.next_cursor = page.next;
        (result.ttl_ms, result.cache_scope) = self.list_hints();
        Ok(result)
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let page = self
            .service
            .list_resources(who(&context), cursor(&request))
            .await
            .map_err(to_mcp_error)?;
        let mut result = ListResourcesResult::with_all_items(
            page.items
                .iter()
                .map(|r| convert::to_mcp_resource(r))
                .collect(),
        );
        result.next_cursor = page.next;
        (result.ttl_ms, result.cache_scope) = self.list_hints();
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let page = self
            .service
            .list_templates(who(&context), cursor(&request))
            .await
            .map_err(to_mcp_error)?;
        let mut result = ListResourceTemplatesResult::with_all_items(
            page.items
                .iter()
                .map(|t| convert::to_mcp_template(t))
                .collect(),
        );
        result.next_cursor = page.next;
        (result.ttl_ms, result.cache_scope) = self.list_hints();
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let read = self
            .service
            .read_resource(
                who(&context),
                &request.uri,
                &self.client(&context),
                context.ct.clone(),
            )
            .await
            .map_err(to_mcp_error)?;
        let contents = read
            .parts
            .into_iter()
            .map(|part| to_resource_contents(part, &read.uris))
            .collect();
        Ok(ReadResourceResult::new(contents).into())
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.service
            .subscribe(who(&context), &request.uri)
            .map_err(to_mcp_error)?;
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
        let page = self
            .service
            .list_prompts(who(&context), cursor(&request))
            .await
            .map_err(to_mcp_error)?;
        let mut result = ListPromptsResult::with_all_items(
            page.items
                .iter()
                .map(|p| convert::to_mcp_prompt(p))
                .collect(),
        );
        result.next_cursor = page.next;
        (result.ttl_ms, result.cache_scope) = self.list_hints();
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let who = who(&context);
        let given = request.arguments.unwrap_or_default();
        let binding = self.binding(
            &context,
            who,
            &format!("prompts/get {}", request.name),
            &given,
        );
        let arguments = given
            .into_iter()
            .map(|(name, value)| {
                let value = match value {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                (name, value)
            })
            .collect();
        let retry = (
            request.request_state.as_deref(),
            request.input_responses.as_ref(),
        );
        let client = self.client(&context);
        let (asking, stop) = self.asking(&context, &client, binding.as_deref(), retry)?;
        let outcome = self
            .service
            .get_prompt(who, &request.name, arguments, &asking, stop)
            .await;
        let failure = match &outcome {
            Err(crate::service::Error::Plugin { error, .. }) => Some(error.message.clone()),
            _ => None,
        };
        if let Some(question) = self.conclude(asking, binding.as_deref(), failure.as_deref())? {
            return Ok(GetPromptResponse::InputRequired(question));
        }
        let outcome = outcome.map_err(to_mcp_error)?;
        let prompt = &outcome.prompt;
        let messages = outcome
            .result
            .messages
            .into_iter()
            .map(|m| PromptMessage::new(to_role(m.role), to_content_block(m.content, &prompt.uris)))
            .collect();
        let mut out = GetPromptResult::new(messages);
        out.description = outcome
            .result
            .description
            .or(prompt.declared.description.clone());
        Ok(out.into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let reference = match &request.r#ref {
            Reference::Prompt(reference) => CompletionRef::Prompt(reference.name.clone()),
            Reference::Resource(reference) => CompletionRef::Template(reference.uri.clone()),
            other => {
                return Err(McpError::invalid_params(
                    format!("completion for {other:?} is not supported"),
                    None,
                ));
            }
        };
        let context_arguments = request
            .context
            .and_then(|c| c.arguments)
            .map(|a| {
                a.into_iter()
                    .collect::<BTreeMap<_, _>>()
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default();
        let completion = self
            .service
            .complete(
                who(&context),
                Completing {
                    reference,
                    argument: request.argument.name,
                    value: request.argument.value,
                    context: context_arguments,
                },
                &self.client(&context),
                context.ct.clone(),
            )
            .await
            .map_err(to_mcp_error)?;
        convert::to_complete_result(completion)
    }

    fn get_tool(&self, name: &str) -> Option<McpTool> {
        self.service
            .catalog()
            .snapshot()
            .tool(name)
            .map(|tool| to_mcp_tool(tool))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let who = who(&context);
        let tool = self
            .service
            .find_tool(who, &request.name)
            .await
            .map_err(to_mcp_error)?;
        let arguments = request.arguments.unwrap_or_default();
        let binding = self.binding(&context, who, &tool.name, &arguments);
        // Over HTTP, a 2026-07-28 request's `Mcp-Param-*` headers must
        // agree with the body.
        if binding.is_some()
            && let Some(parts) = context.extensions.get::<http::request::Parts>()
        {
            crate::http::params::check(&tool, &arguments, &parts.headers)
                .map_err(|why| McpError::new(ErrorCode::HEADER_MISMATCH, why, None))?;
        }
        let retry = (
            request.request_state.as_deref(),
            request.input_responses.as_ref(),
        );
        let client = self.client(&context);
        if let Some(binding) = binding.as_deref()
            && self.takes_tasks(&context)
        {
            return self
                .call_taking_tasks(&context, who, tool, arguments, client, binding, retry)
                .await;
        }
        let (asking, stop) = self.asking(&context, &client, binding.as_deref(), retry)?;
        let outcome = self
            .service
            .call(who, &tool, arguments, &asking, stop)
            .await;
        let failure = match &outcome {
            CallOutcome::PluginError(error) => Some(error.message.as_str()),
            _ => None,
        };
        Ok(match self.conclude(asking, binding.as_deref(), failure)? {
            None => to_call_result(&tool, outcome).into(),
            Some(question) => CallToolResponse::InputRequired(question),
        })
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let owner = owner(&context);
        let task = self.tasks.get(&request.task_id, owner.as_deref()).await?;
        Ok(GetTaskResult::new(task))
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.tasks
            .update(&request.task_id, who(&context), request.input_responses)
            .await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let owner = owner(&context);
        self.tasks.cancel(&request.task_id, owner.as_deref()).await
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
        // Any URI may be watched, including one a group serves later;
        // each update is checked against the listener's scopes.
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
        let caller = caller::caller(subscription.request_context()).cloned();
        notify::listen(&self.service, subscription, caller).await;
        Ok(())
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let caller: Option<Caller> = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .cloned();
        notify::start_session(
            &self.service,
            context.peer,
            caller,
            self.subscriptions.clone(),
            self.min_level.clone(),
        );
    }
}
