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
//! token, a client that offered neither sampling, elicitation nor roots (nothing
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
use std::sync::Arc;

use super::session::{SESSION_HEADER, Sessions};
use crate::caller::{Caller, RequestId};
use crate::catalog::Tool;
use crate::mcp::fast::{self, Answer, Call, Era, STATELESS};
use crate::mcp::rounds::Rounds;
use crate::service::{CallService, Who};
use rmcp::ErrorData as McpError;
use rmcp::model::ErrorCode;

/// The session versions rmcp speaks, which this path serves in a session.
const SESSION_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

#[derive(Clone)]
pub struct Direct {
    pub service: CallService,
    pub rounds: Arc<Rounds>,
    pub sessions: std::sync::Arc<Sessions>,
    pub max_body: usize,
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
        Door::Removed(method) => return removed(method, &bytes),
    };
    match answer {
        Some(answer) => reply(answer),
        None => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    }
}

/// Which of the two this path might serve, from the headers alone; or a
/// stateless request for a method of the session era.
enum Door {
    Stateless,
    Session,
    Removed(&'static str),
}

/// Methods 2026-07-28 removed, and what replaces each.
const REMOVED: [(&str, &str); 4] = [
    (
        "initialize",
        "a 2026-07-28 client sends no handshake: call server/discover, and send \
         the protocol version and capabilities in each request's _meta",
    ),
    (
        "logging/setLevel",
        "name the level in each request's _meta (io.modelcontextprotocol/logLevel)",
    ),
    (
        "resources/subscribe",
        "open a subscriptions/listen stream naming the resource",
    ),
    (
        "resources/unsubscribe",
        "cancel the subscriptions/listen stream",
    ),
];

/// The answer to a stateless request for a removed method: 404 and
/// -32601, as the protocol asks, saying what to use instead.
fn removed(method: &'static str, bytes: &[u8]) -> Response {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<serde_json::Value>,
    }
    let id = serde_json::from_slice::<Id>(bytes)
        .ok()
        .and_then(|r| r.id)
        .unwrap_or_default();
    let instead = REMOVED
        .iter()
        .find(|(name, _)| *name == method)
        .map_or("", |(_, instead)| instead);
    let error = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": -32601,
            "message": format!("Method not found: `{method}` is not part of MCP 2026-07-28; {instead}"),
        },
    });
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(error.to_string()))
        .unwrap_or_default()
}

/// The tool `name` as the caller of `parts` sees it, when this path may
/// call it: unknown tools, missing scopes and calls during the initial
/// load are the protocol layer's to answer.
fn callable<'p>(direct: &Direct, parts: &'p Parts, name: &str) -> Option<(Who<'p>, Arc<Tool>)> {
    let who = Who {
        caller: parts.extensions.get::<Caller>(),
        request_id: parts.extensions.get::<RequestId>(),
        traceparent: None,
    };
    let tool = direct
        .service
        .is_ready()
        .then(|| direct.service.tool(who, name).ok())??;
    Some((who, tool))
}

/// A stateless `tools/call` whose headers agree with its body; `None`
/// leaves it to rmcp.
async fn stateless(direct: &Direct, parts: &Parts, bytes: &[u8]) -> Option<Answer> {
    let call = Call::parse(bytes)?;
    let named = parts.headers.get("mcp-name").and_then(|v| v.to_str().ok());
    if named != Some(call.params.name.as_str()) {
        return None;
    }
    let level = call.stateless_level()?;
    let (who, tool) = callable(direct, parts, &call.params.name)?;
    let empty = serde_json::Map::new();
    let arguments = call.arguments().unwrap_or(&empty);
    if let Err(why) = super::params::check(&tool, arguments, &parts.headers) {
        let error = McpError::new(ErrorCode::HEADER_MISMATCH, why, None);
        return Some(fast::refusal(&call.id, &error));
    }
    // Cancelled if the client goes away: the future is dropped.
    let cancel = tokio_util::sync::CancellationToken::new();
    let _cancel_on_drop = cancel.clone().drop_guard();
    Some(
        fast::answer(
            &direct.service,
            &direct.rounds,
            who,
            &tool,
            call,
            // A 2026-07-28 request hears logs only at a level it names.
            Era::Stateless(level),
            cancel,
        )
        .await,
    )
}

/// A `tools/call` in a session, when the session needs nothing of rmcp
/// for it; `None` leaves it to rmcp.
async fn session(direct: &Direct, parts: &Parts, bytes: &[u8]) -> Option<Answer> {
    let call = Call::parse(bytes).filter(Call::is_plain)?;
    let (who, tool) = callable(direct, parts, &call.params.name)?;
    let session = parts.headers.get(SESSION_HEADER)?.to_str().ok()?;
    let (level, held) = direct.sessions.begin_call(session, call.id.to_string())?;
    // Cancelled by `notifications/cancelled`, or when the client goes away.
    let _cancel_on_drop = held.cancel.clone().drop_guard();
    let cancel = held.cancel.clone();
    Some(
        fast::answer(
            &direct.service,
            &direct.rounds,
            who,
            &tool,
            call,
            Era::Session(level),
            cancel,
        )
        .await,
    )
}

/// The answer as HTTP: JSON, or SSE when log lines go first.
fn reply(answer: Answer) -> Response {
    if answer.logs.is_empty() {
        let status = match answer.bad_request {
            true => StatusCode::BAD_REQUEST,
            false => StatusCode::OK,
        };
        return Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(answer.response))
            .unwrap_or_default();
    }
    // Log lines first, then the result, as rmcp streams them.
    let mut stream = String::new();
    for line in answer.logs.iter().chain([&answer.response]) {
        stream.push_str("data: ");
        stream.push_str(line);
        stream.push_str("\n\n");
    }
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
        if !is("mcp-protocol-version", STATELESS) {
            return None;
        }
        if is("mcp-method", "tools/call") {
            return Some(Door::Stateless);
        }
        REMOVED
            .iter()
            .find(|(method, _)| is("mcp-method", method))
            .map(|(method, _)| Door::Removed(method))
    } else {
        SESSION_VERSIONS
            .iter()
            .any(|version| is("mcp-protocol-version", version))
            .then_some(Door::Session)
    }
}
