//! The tests' MCP client handler, the same over stdio and HTTP: it records
//! everything the server says without being asked (list changes, log
//! lines, progress, resource updates) and answers the server's own
//! requests (sampling, elicitation) the way a real client would.

// MCP logging is deprecated by SEP-2577 in the newest protocol era, but it
// is how plugin log lines and the host's own messages reach today's clients.
#![allow(deprecated)]

use std::sync::{Arc, Mutex};

use rmcp::model::{
    ClientCapabilities, ClientConfig, CreateMessageRequestParams, CreateMessageResult,
    ElicitRequestParams, ElicitResult, ElicitationCapability, LoggingMessageNotificationParam,
    ProgressNotificationParam, ResourceUpdatedNotificationParam, SamplingCapability,
    TASKS_EXTENSION_ID,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ClientHandler, ErrorData, RoleClient};
use serde_json::{Value, json};
use tokio::sync::watch;

/// The text the client's "model" answers every sampling request with.
pub const SAMPLED_TEXT: &str = "a sampled answer from the test client";

/// What a client heard from the server besides responses, and how it
/// answers the server's requests.
#[derive(Clone)]
pub struct Notes {
    /// Counts `notifications/tools/list_changed`.
    pub changes: Arc<watch::Sender<u64>>,
    /// `notifications/message`, in order.
    pub logs: Arc<Mutex<Vec<LoggingMessageNotificationParam>>>,
    /// `notifications/progress` values, in order.
    pub progress: Arc<Mutex<Vec<f64>>>,
    /// Other notifications by method (and URI for resource updates), in
    /// order: `resources/list_changed`, `prompts/list_changed`,
    /// `resources/updated <uri>`.
    pub notices: Arc<Mutex<Vec<String>>>,
    /// Sampling requests the server made.
    pub sampled: Arc<Mutex<Vec<CreateMessageRequestParams>>>,
    /// Elicitation requests the server made (their messages).
    pub elicited: Arc<Mutex<Vec<String>>>,
    /// Whether to declare sampling and elicitation (a client that does not
    /// must see plugins told so).
    pub capable: bool,
    /// What the user "submits" to an elicitation; `None` declines.
    pub elicit_answer: Option<Value>,
    /// Whether to declare the tasks extension (`io.modelcontextprotocol/tasks`).
    pub tasks: bool,
}

impl Default for Notes {
    fn default() -> Self {
        Self {
            changes: Arc::new(watch::channel(0).0),
            logs: Arc::default(),
            progress: Arc::default(),
            notices: Arc::default(),
            sampled: Arc::default(),
            elicited: Arc::default(),
            capable: true,
            elicit_answer: Some(json!({ "username": "ada", "email": "ada@example.com" })),
            tasks: false,
        }
    }
}

impl Notes {
    /// A client that offers neither sampling nor elicitation.
    pub fn incapable() -> Self {
        Self {
            capable: false,
            ..Self::default()
        }
    }

    /// The data of every log notification, as text.
    pub fn log_texts(&self) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .map(|log| match &log.data {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect()
    }

    /// Every log notification as a `level: data` line.
    pub fn log_lines(&self) -> Vec<String> {
        let levels = self
            .logs
            .lock()
            .unwrap()
            .iter()
            .map(|log| log.level)
            .collect::<Vec<_>>();
        levels
            .iter()
            .zip(self.log_texts())
            .map(|(level, text)| format!("{level:?}: {text}"))
            .collect()
    }

    /// The notices recorded so far.
    pub fn notices(&self) -> Vec<String> {
        self.notices.lock().unwrap().clone()
    }

    fn notice(&self, what: String) {
        self.notices.lock().unwrap().push(what);
    }
}

impl ClientHandler for Notes {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        let mut capabilities = ClientCapabilities::default();
        if self.capable {
            capabilities.sampling = Some(SamplingCapability::default());
            capabilities.elicitation = Some(
                ElicitationCapability::new()
                    .with_form(Default::default())
                    .with_url(Default::default()),
            );
        }
        if self.tasks {
            let tasks = (TASKS_EXTENSION_ID.to_owned(), Default::default());
            capabilities.extensions = Some([tasks].into_iter().collect());
        }
        info.capabilities = capabilities;
        info
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        self.sampled.lock().unwrap().push(params);
        serde_json::from_value(json!({
            "role": "assistant",
            "content": { "type": "text", "text": SAMPLED_TEXT },
            "model": "test-model",
            "stopReason": "endTurn",
        }))
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let request = serde_json::to_value(&request).unwrap_or_default();
        let message = request["message"].as_str().unwrap_or_default().to_owned();
        // A URL elicitation is noted with its URL, and accepted (the user
        // agrees to open the page) unless every elicitation is declined.
        if request["mode"] == "url" {
            let url = request["url"].as_str().unwrap_or_default();
            self.elicited
                .lock()
                .unwrap()
                .push(format!("{message} ({url})"));
            let action = if self.elicit_answer.is_some() {
                "accept"
            } else {
                "decline"
            };
            return serde_json::from_value(json!({ "action": action }))
                .map_err(|e| ErrorData::internal_error(e.to_string(), None));
        }
        self.elicited.lock().unwrap().push(message);
        let answer = match &self.elicit_answer {
            Some(content) => json!({ "action": "accept", "content": content }),
            None => json!({ "action": "decline" }),
        };
        serde_json::from_value(answer).map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changes.send_modify(|n| *n += 1);
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.notice("resources/list_changed".into());
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.notice("prompts/list_changed".into());
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.notice(format!("resources/updated {}", params.uri));
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.logs.lock().unwrap().push(params);
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params.progress);
    }
}
