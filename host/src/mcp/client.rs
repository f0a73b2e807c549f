//! The MCP client on the other end of a request, as the call service's
//! [`Client`]: log and progress notifications to the peer, sampling and
//! elicitation requests to it when it offers them.

// MCP logging (`notifications/message`) is deprecated by SEP-2577 in the
// newest protocol era, but every client of the current eras uses it.
#![allow(deprecated)]

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use futures::future::BoxFuture;
use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::{Peer, RoleServer};
use serde_json::{Value, json};

use super::convert::{severity, to_content_block, to_logging_level, to_role};
use crate::published::UriMap;
use crate::service::Client;
use crate::source::{
    self, Content, ElicitAction, ElicitResponse, Level, Role, Root, SamplingRequest,
    SamplingResponse,
};

/// A client connected through rmcp (stdio, or an HTTP session or stream).
#[derive(Clone)]
pub struct PeerClient {
    pub peer: Peer<RoleServer>,
    pub progress_token: Option<ProgressToken>,
    /// The level this request asked for (2026-07-28), else the session's.
    pub request_level: Option<LoggingLevel>,
    /// A 2026-07-28 request: without a level of its own it hears no logs.
    pub stateless: bool,
    pub session_level: Arc<Mutex<LoggingLevel>>,
}

impl Client for PeerClient {
    fn log(&self, level: Level, message: String) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let level = to_logging_level(level);
            let threshold = match (self.request_level, self.stateless) {
                (Some(level), _) => level,
                (None, true) => return,
                (None, false) => *self.session_level.lock().unwrap_or_else(|e| e.into_inner()),
            };
            if severity(level) < severity(threshold) {
                return;
            }
            let _ = self
                .peer
                .notify_logging_message(LoggingMessageNotificationParam::new(
                    level,
                    Value::String(message),
                ))
                .await;
        })
    }

    fn progress(
        &self,
        done: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let Some(token) = &self.progress_token else {
                return;
            };
            let mut param = ProgressNotificationParam::new(token.clone(), done);
            param.total = total;
            param.message = message;
            let _ = self.peer.notify_progress(param).await;
        })
    }

    fn sample<'a>(
        &'a self,
        request: SamplingRequest,
        uris: &'a UriMap,
    ) -> BoxFuture<'a, Result<SamplingResponse, String>> {
        Box::pin(sample(&self.peer, request, uris))
    }

    fn elicit(
        &self,
        message: String,
        requested_schema: String,
    ) -> BoxFuture<'_, Result<ElicitResponse, String>> {
        Box::pin(async move { elicit(&self.peer, message, &requested_schema).await })
    }

    fn elicit_url(
        &self,
        message: String,
        url: String,
    ) -> BoxFuture<'_, Result<ElicitAction, String>> {
        Box::pin(async move {
            offers(&self.peer, "elicitation.url", |c| {
                c.elicitation.as_ref().is_some_and(|e| e.url.is_some())
            })?;
            let params = serde_json::from_value(elicitation_url_params(message, url))
                .map_err(|e| format!("the URL elicitation could not be formed: {e}"))?;
            let result =
                self.peer.create_elicitation(params).await.map_err(|e| {
                    format!("the client refused or failed the URL elicitation: {e}")
                })?;
            let result = serde_json::to_value(&result).map_err(|e| e.to_string())?;
            Ok(elicitation_answer(&result).action)
        })
    }

    fn roots(&self) -> BoxFuture<'_, Result<Vec<Root>, String>> {
        Box::pin(async move {
            offers(&self.peer, "roots", |c| c.roots.is_some())?;
            let result = self
                .peer
                .list_roots()
                .await
                .map_err(|e| format!("the client refused or failed roots/list: {e}"))?;
            Ok(result
                .roots
                .into_iter()
                .map(|root| Root {
                    uri: root.uri,
                    name: root.name,
                })
                .collect())
        })
    }
}

/// What a source hears when it asks the client something during a
/// stateless request.
const NO_REQUESTS_WHEN_STATELESS: &str = "is not available: this request uses the stateless \
     MCP protocol (2026-07-28), in which servers may not send requests to the client during a call";

/// The client of a request the HTTP fast path answers without rmcp (a
/// stateless request, or a call in a session whose client offered nothing
/// to ask): log lines at the request's or session's level are kept to send
/// before the result; nobody asked for progress; requests to the client
/// are refused.
pub struct StatelessClient {
    /// The least severe level sent; `None`: none (a 2026-07-28 request
    /// that named no level).
    pub threshold: Option<LoggingLevel>,
    /// A session's client, which declared no sampling, elicitation or roots.
    pub in_session: bool,
    pub logs: Mutex<Vec<LoggingMessageNotificationParam>>,
}

impl Client for StatelessClient {
    fn log(&self, level: Level, message: String) -> BoxFuture<'_, ()> {
        let level = to_logging_level(level);
        if self
            .threshold
            .is_some_and(|threshold| severity(level) >= severity(threshold))
        {
            self.logs.lock().unwrap_or_else(|e| e.into_inner()).push(
                LoggingMessageNotificationParam::new(level, Value::String(message)),
            );
        }
        Box::pin(async {})
    }

    fn unavailable(&self, what: &str) -> String {
        match self.in_session {
            true => format!(
                "{what} is not available: the MCP client does not offer it (no `{what}` \
                 capability); the operation must work without it"
            ),
            false => format!("{what} {NO_REQUESTS_WHEN_STATELESS}"),
        }
    }
}

/// `Ok` when the client declared capability `name` at initialization.
fn offers(
    peer: &Peer<RoleServer>,
    name: &str,
    declared: impl Fn(&rmcp::model::ClientCapabilities) -> bool,
) -> Result<(), String> {
    if peer
        .peer_info()
        .is_some_and(|info| declared(&info.capabilities))
    {
        return Ok(());
    }
    Err(format!(
        "the MCP client does not offer {name} (no `{name}` capability); \
         the operation must work without it"
    ))
}

/// Forwards a group's sampling request to the client.
async fn sample(
    peer: &Peer<RoleServer>,
    request: SamplingRequest,
    uris: &UriMap,
) -> Result<SamplingResponse, String> {
    offers(peer, "sampling", |c| c.sampling.is_some())?;
    let params = serde_json::from_value(sampling_params(request, uris)?)
        .map_err(|e| format!("the sampling request is not valid MCP: {e}"))?;
    let result = peer
        .create_message(params)
        .await
        .map_err(|e| format!("the client refused or failed the sampling request: {e}"))?;
    sampling_answer(&serde_json::to_value(&result).map_err(|e| e.to_string())?)
}

/// A group's sampling request as the params of MCP's
/// `sampling/createMessage`.
pub fn sampling_params(request: SamplingRequest, uris: &UriMap) -> Result<Value, String> {
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
    Ok(params)
}

/// The client's `CreateMessageResult` (JSON), in the group's terms.
pub fn sampling_answer(result: &Value) -> Result<SamplingResponse, String> {
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
    let media = || -> Result<source::Media, String> {
        Ok(source::Media {
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
    offers(peer, "elicitation", |c| c.elicitation.is_some())?;
    let params = serde_json::from_value(elicitation_params(message, requested_schema)?)
        .map_err(|e| {
            format!("the requested schema is not one MCP elicitation accepts (a flat object of strings, numbers, booleans and enums): {e}")
        })?;
    let result = peer
        .create_elicitation(params)
        .await
        .map_err(|e| format!("the client refused or failed the elicitation: {e}"))?;
    Ok(elicitation_answer(
        &serde_json::to_value(&result).map_err(|e| e.to_string())?,
    ))
}

/// A group's elicitation as the params of MCP's `elicitation/create`
/// (form mode).
pub fn elicitation_params(message: String, requested_schema: &str) -> Result<Value, String> {
    let schema: Value = serde_json::from_str(requested_schema)
        .map_err(|e| format!("the requested schema is not JSON: {e}"))?;
    Ok(json!({
        "mode": "form",
        "message": message,
        "requestedSchema": schema,
    }))
}

/// A group's URL elicitation as the params of MCP's `elicitation/create`
/// (URL mode), under a fresh random `elicitationId`.
pub fn elicitation_url_params(message: String, url: String) -> Value {
    json!({
        "mode": "url",
        "message": message,
        "url": url,
        "elicitationId": crate::tasks::random_id(),
    })
}

/// The client's `ElicitResult` (JSON), in the group's terms.
pub fn elicitation_answer(result: &Value) -> ElicitResponse {
    ElicitResponse {
        action: match result["action"].as_str() {
            Some("accept") => ElicitAction::Accept,
            Some("decline") => ElicitAction::Decline,
            _ => ElicitAction::Cancel,
        },
        content: result
            .get("content")
            .filter(|c| !c.is_null())
            .map(Value::to_string),
    }
}
