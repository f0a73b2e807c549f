//! The `tools/call` fast path, stateless and in sessions.
//!
//! A 2026-07-28 request is self-contained: one POST carries the protocol
//! version, the client's capabilities and the call. For the common case (a
//! `tools/call` without a progress token) nothing needs a protocol session,
//! yet rmcp builds a whole service per stateless request (tasks, channels,
//! re-decoding the JSON), which is most of what such a call costs besides
//! the plugin. This layer answers exactly those requests itself, through
//! the same [`CallService`] path as every other call (validation, sandbox,
//! metrics, scopes), with the same bytes rmcp would send: JSON, or SSE when
//! log notifications precede the result. Anything else, or anything it is
//! unsure of, goes on to rmcp untouched.
//!
//! A call in a 2025-11-25 session takes the same path when the session
//! needs nothing of rmcp for it ([`Sessions::begin_call`]): no progress
//! token, a client that offered neither sampling nor elicitation (nothing
//! to ask it), an id not already in flight. Its log lines go at the level
//! the session set, before the result, and `notifications/cancelled` for
//! its id stops it, as through rmcp.

// The per-request log level is MCP logging, deprecated by SEP-2577 but how
// plugin log lines reach clients.
#![allow(deprecated)]

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use rmcp::model::{CallToolResult, LoggingLevel, ResultType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;

use super::session::{SESSION_HEADER, Sessions};
use crate::caller::{Caller, RequestId};
use crate::catalog::Tool;
use crate::mcp::client::StatelessClient;
use crate::mcp::to_call_result;
use crate::service::{CallService, Who};

/// The only protocol version this path serves without a session.
const STATELESS: &str = "2026-07-28";

/// The session versions rmcp speaks, which this path serves in a session.
const SESSION_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

#[derive(Clone)]
pub struct Direct {
    pub service: CallService,
    pub sessions: std::sync::Arc<Sessions>,
    pub max_body: usize,
}

/// The answer to a call.
#[derive(Serialize)]
struct Reply<'a> {
    jsonrpc: &'static str,
    id: &'a Value,
    result: &'a CallToolResult,
}

/// A JSON-RPC request as this path accepts it; anything else fails to
/// parse and goes to rmcp.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    jsonrpc: String,
    id: Value,
    method: String,
    params: CallParams,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallParams {
    name: String,
    #[serde(default)]
    arguments: Option<Map<String, Value>>,
    #[serde(rename = "_meta", default)]
    meta: Map<String, Value>,
}

pub async fn serve(State(direct): State<Direct>, request: Request, next: Next) -> Response {
    let Some(door) = eligible(request.method(), request.headers()) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, direct.max_body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return Response::builder()
                .status(StatusCode::PAYLOAD_TOO_LARGE)
                .body(Body::from("Payload Too Large"))
                .unwrap_or_default();
        }
    };
    let answer = match door {
        Door::Stateless => stateless(&direct, &parts, &bytes).await,
        Door::Session => session(&direct, &parts, &bytes).await,
    };
    match answer {
        Some(answer) => answer,
        None => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    }
}

/// Which of the two this path might serve, from the headers alone.
enum Door {
    Stateless,
    Session,
}

/// The tool `name` as the caller of `parts` sees it, when this path may
/// call it: unknown tools, missing scopes and calls during the initial
/// load are the protocol layer's to answer.
fn callable<'p>(direct: &Direct, parts: &'p Parts, name: &str) -> Option<(Who<'p>, Arc<Tool>)> {
    let who = Who {
        caller: parts.extensions.get::<Caller>(),
        request_id: parts.extensions.get::<RequestId>(),
    };
    let tool = direct
        .service
        .is_ready()
        .then(|| direct.service.tool(who, name).ok())??;
    Some((who, tool))
}

/// A stateless `tools/call`; `None` leaves it to rmcp.
async fn stateless(direct: &Direct, parts: &Parts, bytes: &[u8]) -> Option<Response> {
    let (call, log_level) = parse(bytes, &parts.headers)?;
    let (who, tool) = callable(direct, parts, &call.params.name)?;
    let client = StatelessClient {
        threshold: log_level.unwrap_or(LoggingLevel::Info),
        in_session: false,
        logs: Default::default(),
    };
    // Cancelled if the client goes away: the future is dropped.
    let cancel = tokio_util::sync::CancellationToken::new();
    let _cancel_on_drop = cancel.clone().drop_guard();
    let arguments = call.params.arguments.unwrap_or_default();
    let outcome = direct
        .service
        .call(who, &tool, arguments, &client, cancel)
        .await;
    let mut result = to_call_result(&tool, outcome);
    result.result_type.get_or_insert(ResultType::COMPLETE);
    Some(reply(&call.id, &result, client))
}

/// A `tools/call` in a session, when the session needs nothing of rmcp
/// for it; `None` leaves it to rmcp.
async fn session(direct: &Direct, parts: &Parts, bytes: &[u8]) -> Option<Response> {
    let call = parse_session(bytes)?;
    let (who, tool) = callable(direct, parts, &call.params.name)?;
    let session = parts.headers.get(SESSION_HEADER)?.to_str().ok()?;
    let (level, held) = direct.sessions.begin_call(session, call.id.to_string())?;
    let client = StatelessClient {
        threshold: level,
        in_session: true,
        logs: Default::default(),
    };
    // Cancelled by `notifications/cancelled`, or when the client goes away.
    let _cancel_on_drop = held.cancel.clone().drop_guard();
    let arguments = call.params.arguments.unwrap_or_default();
    let outcome = direct
        .service
        .call(who, &tool, arguments, &client, held.cancel.clone())
        .await;
    let mut result = to_call_result(&tool, outcome);
    // `resultType` is of the 2026-07-28 era.
    result.result_type = None;
    Some(reply(&call.id, &result, client))
}

/// The answer to call `id`: JSON, or SSE when log lines go first.
fn reply(id: &Value, result: &CallToolResult, client: StatelessClient) -> Response {
    let logs = client.logs.into_inner().unwrap_or_else(|e| e.into_inner());
    // Straight to text: no JSON tree in between.
    let response = serde_json::to_string(&Reply {
        jsonrpc: "2.0",
        id,
        result,
    })
    .unwrap_or_default();
    if logs.is_empty() {
        return Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(response))
            .unwrap_or_default();
    }
    // Log lines first, then the result, as rmcp streams them.
    let mut stream = String::new();
    for log in logs {
        let notification = json!({
            "jsonrpc": "2.0",
            "method": "notifications/message",
            "params": log,
        });
        stream.push_str(&format!("data: {notification}\n\n"));
    }
    stream.push_str(&format!("data: {response}\n\n"));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", HeaderValue::from_static("no"))
        .body(Body::from(Bytes::from(stream)))
        .unwrap_or_default()
}

/// Whether the headers say "stateless tools/call" or "a request in a
/// session"; cheap, before the body is read.
fn eligible(method: &Method, headers: &HeaderMap) -> Option<Door> {
    let is = |name: &str, value: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case(value))
    };
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let plain = *method == Method::POST
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
        && accept.contains("application/json")
        && accept.contains("text/event-stream");
    if !plain {
        None
    } else if !headers.contains_key(SESSION_HEADER) {
        (is("mcp-protocol-version", STATELESS) && is("mcp-method", "tools/call"))
            .then_some(Door::Stateless)
    } else {
        SESSION_VERSIONS
            .iter()
            .any(|version| is("mcp-protocol-version", version))
            .then_some(Door::Session)
    }
}

/// The call, when the body is exactly a `tools/call` that needs nothing
/// but a result (no progress token).
fn parse_session(bytes: &[u8]) -> Option<Call> {
    let call: Call = serde_json::from_slice(bytes).ok()?;
    let simple = call.jsonrpc == "2.0"
        && call.method == "tools/call"
        && (call.id.is_string() || call.id.is_i64() || call.id.is_u64())
        && call.params.meta.is_empty();
    simple.then_some(call)
}

/// The call, when the body is exactly a stateless `tools/call` whose
/// headers agree with it and that needs nothing but a result; and the log
/// level it asked for.
fn parse(bytes: &[u8], headers: &HeaderMap) -> Option<(Call, Option<LoggingLevel>)> {
    let call: Call = serde_json::from_slice(bytes).ok()?;
    let meta = &call.params.meta;
    let named = headers.get("mcp-name").and_then(|v| v.to_str().ok());
    let simple = call.jsonrpc == "2.0"
        && call.method == "tools/call"
        && (call.id.is_string() || call.id.is_i64() || call.id.is_u64())
        && named == Some(call.params.name.as_str())
        && meta.get("io.modelcontextprotocol/protocolVersion") == Some(&json!(STATELESS))
        && meta
            .get("io.modelcontextprotocol/clientCapabilities")
            .is_some_and(Value::is_object)
        && meta
            .get("io.modelcontextprotocol/clientInfo")
            .is_some_and(Value::is_object)
        && meta.keys().all(|key| {
            matches!(
                key.as_str(),
                "io.modelcontextprotocol/protocolVersion"
                    | "io.modelcontextprotocol/clientCapabilities"
                    | "io.modelcontextprotocol/clientInfo"
                    | "io.modelcontextprotocol/logLevel"
            )
        });
    if !simple {
        return None;
    }
    let log_level = match meta.get("io.modelcontextprotocol/logLevel") {
        None => None,
        Some(level) => Some(serde_json::from_value(level.clone()).ok()?),
    };
    Some((call, log_level))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("mcp-name", name.parse().unwrap());
        headers
    }

    fn body(meta: Value) -> Vec<u8> {
        json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "math_add", "arguments": { "a": 1 }, "_meta": meta },
        })
        .to_string()
        .into_bytes()
    }

    fn meta() -> Value {
        json!({
            "io.modelcontextprotocol/protocolVersion": STATELESS,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": { "name": "c", "version": "1" },
        })
    }

    #[test]
    fn takes_only_plain_stateless_calls() {
        assert!(parse(&body(meta()), &headers("math_add")).is_some());
        // The header must name the same tool.
        assert!(parse(&body(meta()), &headers("math_sub")).is_none());
        // A progress token needs the protocol layer's streaming.
        let mut with_token = meta();
        with_token["progressToken"] = json!(1);
        assert!(parse(&body(with_token), &headers("math_add")).is_none());
        // Another protocol version, or missing client metadata.
        let mut older = meta();
        older["io.modelcontextprotocol/protocolVersion"] = json!("2025-11-25");
        assert!(parse(&body(older), &headers("math_add")).is_none());
        let mut anonymous = meta();
        anonymous
            .as_object_mut()
            .unwrap()
            .remove("io.modelcontextprotocol/clientInfo");
        assert!(parse(&body(anonymous), &headers("math_add")).is_none());
    }

    #[test]
    fn reads_the_requested_log_level() {
        let mut debug = meta();
        debug["io.modelcontextprotocol/logLevel"] = json!("debug");
        let (_, level) = parse(&body(debug), &headers("math_add")).unwrap();
        assert_eq!(level, Some(LoggingLevel::Debug));
        let mut bogus = meta();
        bogus["io.modelcontextprotocol/logLevel"] = json!("loud");
        assert!(parse(&body(bogus), &headers("math_add")).is_none());
    }
}
