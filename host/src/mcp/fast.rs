//! The `tools/call` fast path, as both transports share it.
//!
//! Most requests a client sends are `tools/call`s that need nothing of a
//! protocol session: no progress token, nothing to ask the client. rmcp
//! handles each by decoding it again, spawning a task, and routing the
//! answer back through channels, which costs several times what a small
//! plugin call does. The transports ([`crate::http`] and [`crate::stdio`])
//! recognise exactly those requests and answer them here, through the same
//! [`CallService`] path as every other call (lookup, validation, sandbox,
//! metrics, scopes), with the bytes rmcp would send. Deciding *whether* a
//! request may take this path is the transport's business, since only it
//! knows the session; anything it is unsure of goes on to rmcp untouched.

// The per-request log level is MCP logging, deprecated by SEP-2577 but how
// plugin log lines reach clients.
#![allow(deprecated)]

use std::sync::Arc;

use rmcp::ErrorData as McpError;
use rmcp::model::{LoggingLevel, ResultType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::client::StatelessClient;
use super::rounds::{self, Answers, Asking, Rounds};
use super::to_call_result;
use crate::catalog::Tool;
use crate::service::{CallOutcome, CallService, Who};

/// The only protocol version served without a session.
pub const STATELESS: &str = "2026-07-28";

/// The `_meta` keys a stateless request may carry on this path.
const STATELESS_META: [&str; 4] = [
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientCapabilities",
    "io.modelcontextprotocol/clientInfo",
    "io.modelcontextprotocol/logLevel",
];

/// The trace context a request's `_meta` may carry on this path (W3C
/// Trace Context, as MCP's `_meta` convention names it).
const TRACE_META: [&str; 2] = ["traceparent", "tracestate"];

/// A JSON-RPC `tools/call` as this path accepts it; anything else fails
/// to parse and goes to rmcp.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    jsonrpc: String,
    pub id: Value,
    method: String,
    pub params: CallParams,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallParams {
    pub name: String,
    #[serde(default)]
    arguments: Option<Map<String, Value>>,
    #[serde(rename = "_meta", default)]
    meta: Map<String, Value>,
}

/// How the request reached the host, which decides the result's shape,
/// and the least severe log level it hears.
#[derive(Clone, Copy)]
pub enum Era {
    /// A self-contained 2026-07-28 request: log lines only at the level it
    /// names, if any.
    Stateless(Option<LoggingLevel>),
    /// A request in a 2025 session, at the session's level.
    Session(LoggingLevel),
}

impl Call {
    /// `bytes` as a `tools/call` with an integer or string id, if it is
    /// exactly one.
    pub fn parse(bytes: &[u8]) -> Option<Call> {
        let call: Call = serde_json::from_slice(bytes).ok()?;
        (call.jsonrpc == "2.0"
            && call.method == "tools/call"
            && (call.id.is_string() || call.id.is_i64() || call.id.is_u64()))
        .then_some(call)
    }

    /// The call's arguments.
    pub fn arguments(&self) -> Option<&Map<String, Value>> {
        self.params.arguments.as_ref()
    }

    /// Whether the call's `_meta` holds nothing but a trace context (no
    /// progress token): in a session, it needs nothing but a result.
    pub fn is_plain(&self) -> bool {
        self.params
            .meta
            .keys()
            .all(|key| TRACE_META.contains(&key.as_str()))
    }

    /// When the call is a self-contained 2026-07-28 request that needs
    /// nothing but a result: the log level it asked for (`Some(None)`:
    /// none). `None` when it is anything else.
    pub fn stateless_level(&self) -> Option<Option<LoggingLevel>> {
        let meta = &self.params.meta;
        let plain = meta.get(STATELESS_META[0]) == Some(&json!(STATELESS))
            && meta.get(STATELESS_META[1]).is_some_and(Value::is_object)
            // A client that takes tasks goes through rmcp, which runs them.
            && !super::tasks::declared(meta.get(STATELESS_META[1]).and_then(|c| c.get("extensions")))
            && meta.get(STATELESS_META[2]).is_some_and(Value::is_object)
            && meta.keys().all(|key| {
                STATELESS_META.contains(&key.as_str()) || TRACE_META.contains(&key.as_str())
            });
        if !plain {
            return None;
        }
        match meta.get(STATELESS_META[3]) {
            None => Some(None),
            Some(level) => Some(Some(serde_json::from_value(level.clone()).ok()?)),
        }
    }
}

/// The lines of one answer, as JSON text: the call's log notifications
/// (they go first), then the response.
pub struct Answer {
    pub logs: Vec<String>,
    pub response: String,
    /// The response is an error HTTP answers with 400: a client
    /// capability the request needs is missing (-32021), or a header
    /// disagrees with the body (-32020).
    pub bad_request: bool,
}

/// The answer to a call.
#[derive(Serialize)]
struct Reply<'a, R> {
    jsonrpc: &'static str,
    id: &'a Value,
    result: &'a R,
}

/// Calls `tool` (already looked up for `who`) with `call`'s arguments and
/// answers it; log lines at or above the era's level are kept for the
/// answer.
/// The call stops when `cancel` fires. In a stateless request, a question
/// the group asks ends the call with an `input_required` result sealed by
/// `rounds` (whose retry, carrying answers, goes through rmcp).
pub async fn answer(
    service: &CallService,
    rounds: &Rounds,
    who: Who<'_>,
    tool: &Arc<Tool>,
    call: Call,
    era: Era,
    cancel: CancellationToken,
) -> Answer {
    let threshold = match era {
        Era::Stateless(level) => level,
        Era::Session(level) => Some(level),
    };
    let client = StatelessClient {
        threshold,
        in_session: matches!(era, Era::Session(_)),
        logs: Default::default(),
    };
    // The call's W3C trace context, when well-formed.
    let traceparent = call.params.meta.get(TRACE_META[0]).and_then(Value::as_str);
    let who = Who {
        traceparent: traceparent.and_then(crate::service::traceparent),
        ..who
    };
    let arguments = call.params.arguments.unwrap_or_default();
    let mut bad_request = false;
    let response = match era {
        Era::Session(_) => {
            let outcome = service.call(who, tool, arguments, &client, cancel).await;
            let mut result = to_call_result(tool, outcome);
            // `resultType` is of the 2026-07-28 era.
            result.result_type = None;
            reply(&call.id, &result)
        }
        Era::Stateless(_) => {
            let capabilities = call.params.meta.get(STATELESS_META[1]);
            // Only a client that can answer questions is asked any; only
            // then is the binding of their state needed.
            let asks = capabilities.is_some_and(|c| {
                ["sampling", "elicitation", "roots"]
                    .iter()
                    .any(|name| c.get(name).is_some())
            });
            let subject = who.caller.map(|c| c.subject.as_str());
            let binding = asks.then(|| rounds::binding(subject, &tool.name, &arguments));
            let stop = cancel.child_token();
            let capabilities = capabilities.map(std::borrow::Cow::Borrowed);
            let asking = Asking::new(
                &client,
                Some(Answers::default()),
                capabilities,
                stop.clone(),
            );
            let outcome = service.call(who, tool, arguments, &asking, stop).await;
            let finished = asking.finish();
            let missing = match &outcome {
                CallOutcome::PluginError(error) => finished.missing_capability(&error.message),
                _ => None,
            };
            let questions = finished.questions;
            match (missing, binding) {
                (Some(error), _) => {
                    bad_request = true;
                    error_reply(&call.id, &error)
                }
                (None, Some(binding)) if !questions.is_empty() => {
                    match rounds.input_required(&binding, finished.answers, questions) {
                        Ok(result) => reply(&call.id, &result),
                        Err(message) => {
                            error_reply(&call.id, &McpError::internal_error(message, None))
                        }
                    }
                }
                _ => {
                    let mut result = to_call_result(tool, outcome);
                    result.result_type = Some(ResultType::COMPLETE);
                    reply(&call.id, &result)
                }
            }
        }
    };
    let logs = client.logs.into_inner().unwrap_or_else(|e| e.into_inner());
    Answer {
        logs: logs
            .into_iter()
            .map(|log| {
                json!({
                    "jsonrpc": "2.0",
                    "method": "notifications/message",
                    "params": log,
                })
                .to_string()
            })
            .collect(),
        response,
        bad_request,
    }
}

/// The answer that refuses call `id` with `error`, which HTTP answers with
/// 400.
pub fn refusal(id: &Value, error: &McpError) -> Answer {
    Answer {
        logs: Vec::new(),
        response: error_reply(id, error),
        bad_request: true,
    }
}

/// A response as JSON text, straight from the result: no JSON tree in
/// between.
fn reply<R: Serialize>(id: &Value, result: &R) -> String {
    serde_json::to_string(&Reply {
        jsonrpc: "2.0",
        id,
        result,
    })
    .unwrap_or_default()
}

/// An error response.
fn error_reply(id: &Value, error: &McpError) -> String {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": error,
    })
    .to_string()
}

/// Whether the `initialize` request in `bytes` offers anything the server
/// may ask for during a call (true when it cannot be read): such a
/// session's calls go through rmcp, which can ask.
pub fn offers_asks(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Initialize {
        capabilities: Map<String, Value>,
    }
    serde_json::from_slice::<Params<Initialize>>(bytes).map_or(true, |init| {
        let caps = &init.params.capabilities;
        ["sampling", "elicitation", "roots"]
            .iter()
            .any(|name| caps.contains_key(*name))
            || super::tasks::declared(caps.get("extensions"))
    })
}

/// The level a `logging/setLevel` request in `bytes` sets.
pub fn set_level(bytes: &[u8]) -> Option<LoggingLevel> {
    #[derive(Deserialize)]
    struct SetLevel {
        level: LoggingLevel,
    }
    let set: Params<SetLevel> = serde_json::from_slice(bytes).ok()?;
    Some(set.params.level)
}

#[derive(Deserialize)]
struct Params<T> {
    params: T,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(meta: Value) -> Call {
        let body = json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "math_add", "arguments": { "a": 1 }, "_meta": meta },
        });
        Call::parse(body.to_string().as_bytes()).unwrap()
    }

    fn meta() -> Value {
        json!({
            "io.modelcontextprotocol/protocolVersion": STATELESS,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": { "name": "c", "version": "1" },
        })
    }

    #[test]
    fn takes_only_calls_with_plain_ids() {
        let parse = |text: &str| Call::parse(text.as_bytes()).is_some();
        assert!(parse(
            r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"t"}}"#
        ));
        assert!(!parse(
            r#"{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"t"}}"#
        ));
        assert!(!parse(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"t"}}"#
        ));
        assert!(!parse(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"},"x":1}"#
        ));
        assert!(!parse(
            r#"{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"t"}}"#
        ));
    }

    #[test]
    fn takes_only_plain_stateless_calls() {
        assert_eq!(call(meta()).stateless_level(), Some(None));
        assert!(!call(meta()).is_plain());
        assert!(call(json!({})).is_plain());
        assert_eq!(call(json!({})).stateless_level(), None);
        // A trace context rides along in either era.
        let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(call(json!({ "traceparent": trace })).is_plain());
        let mut traced = meta();
        traced["traceparent"] = json!(trace);
        assert_eq!(call(traced).stateless_level(), Some(None));
        // A progress token needs the protocol layer's streaming.
        let mut with_token = meta();
        with_token["progressToken"] = json!(1);
        assert_eq!(call(with_token).stateless_level(), None);
        // Another protocol version, or missing client metadata.
        let mut older = meta();
        older["io.modelcontextprotocol/protocolVersion"] = json!("2025-11-25");
        assert_eq!(call(older).stateless_level(), None);
        let mut anonymous = meta();
        anonymous
            .as_object_mut()
            .unwrap()
            .remove("io.modelcontextprotocol/clientInfo");
        assert_eq!(call(anonymous).stateless_level(), None);
    }

    #[test]
    fn reads_the_requested_log_level() {
        let mut debug = meta();
        debug["io.modelcontextprotocol/logLevel"] = json!("debug");
        assert_eq!(
            call(debug).stateless_level(),
            Some(Some(LoggingLevel::Debug))
        );
        let mut bogus = meta();
        bogus["io.modelcontextprotocol/logLevel"] = json!("loud");
        assert_eq!(call(bogus).stateless_level(), None);
    }
}
