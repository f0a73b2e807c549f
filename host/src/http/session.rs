//! 2025-11-25 sessions: who owns each, how many each owner may have, and
//! one request per JSON-RPC id at a time.
//!
//! The `Mcp-Session-Id` that an `initialize` response hands out is recorded
//! with its owner: the subject of the authenticated [`Caller`], or without
//! auth the client address (IPv6: its /64), as the rate limit counts them.
//!
//! - **Ownership** (auth on): a request naming a session (POST, the GET
//!   stream, DELETE) goes on only when it comes from the owning subject;
//!   anyone else gets the same 404 as for a session that does not exist, so
//!   session ids cannot be probed, and rmcp never sees the request. Without
//!   auth there is no identity to check, and anyone may use any session.
//! - **Caps**: an `initialize` from an owner that has `max_per_owner`
//!   sessions open gets 429, and one past `max_total` sessions in all gets
//!   503, each with a JSON-RPC error that says to end unused sessions with
//!   DELETE. Entries go on DELETE, and when rmcp no longer knows the session
//!   (it was idle past its keep-alive): noticed by the next request on it,
//!   by a periodic sweep, and before an owner at its cap is refused.
//! - **Ids in flight** ([`one_per_id`], after framing): a request whose id
//!   is already in flight on its session is refused with `-32600` before it
//!   reaches rmcp, which would cross or lose the two answers; the id is free
//!   again once the first response (or its SSE stream) has been sent.
//! - **What the fast path needs of a session** ([`Sessions::begin_call`]):
//!   whether its client offered sampling or elicitation at `initialize`
//!   (then its calls need rmcp's peer), the log level it set, the calls the
//!   fast path runs for it (so `notifications/cancelled` reaches them), and
//!   when rmcp last saw it (rmcp ends a session it has not seen for its
//!   keep-alive, so the fast path lets a call through to rmcp now and then).

// The session's log level is MCP logging, deprecated by SEP-2577 but how
// plugin log lines reach clients of this era.
#![allow(deprecated)]

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use rmcp::model::LoggingLevel;
use rmcp::transport::streamable_http_server::SessionManager as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{framing, limit, listen};
use crate::caller::Caller;
use crate::jsonrpc::{INVALID_REQUEST, Rejection, SESSION_NOT_FOUND};
use crate::mcp::fast;

/// Most requests in flight on one session at once.
pub const MAX_IN_FLIGHT: usize = 1024;

/// The JSON-RPC code of a refused `initialize` (implementation-defined
/// server error, as for the rate limit).
const TOO_MANY_SESSIONS: i32 = -32000;

pub(super) const SESSION_HEADER: &str = "mcp-session-id";

/// The session caps.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Sessions open at once, across all owners.
    pub max_total: usize,
    /// Sessions open at once per owner.
    pub max_per_owner: usize,
    /// How long rmcp keeps a session without requests (for the messages).
    pub idle_timeout: Duration,
    /// Largest body read to see whether a request is an `initialize`.
    pub max_body: usize,
}

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Owner {
    Subject(Arc<str>),
    /// Without auth: the client address.
    Address(limit::Key),
}

impl Owner {
    fn of(request: &Request) -> Self {
        if let Some(caller) = request.extensions().get::<Caller>() {
            return Owner::Subject(caller.subject.as_str().into());
        }
        let ip = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(address)| {
                address.ip()
            });
        Owner::Address(limit::Key::address(ip))
    }

    /// For a message to the client.
    fn describe(&self) -> &'static str {
        match self {
            Owner::Subject(_) => "this subject",
            Owner::Address(_) => "this client address",
        }
    }
}

/// The sessions open now.
pub struct Sessions {
    state: Mutex<Table>,
    caps: Caps,
    rmcp: Arc<LocalSessionManager>,
}

#[derive(Default)]
struct Table {
    by_id: HashMap<Arc<str>, Entry>,
    per_owner: HashMap<Owner, usize>,
}

struct Entry {
    owner: Owner,
    /// JSON-RPC ids of the requests in flight, as JSON text.
    in_flight: HashSet<String>,
    /// Whether the client offered sampling or elicitation (or we could not
    /// tell): its calls go through rmcp, which can ask it.
    asks: bool,
    /// The level of its last `logging/setLevel`.
    log_level: Option<LoggingLevel>,
    /// Calls the fast path runs for it, by id.
    calls: HashMap<String, CancellationToken>,
    /// When a request of it last went to rmcp.
    rmcp_seen: Instant,
}

/// Why an `initialize` is refused.
enum Full {
    Owner,
    Total,
}

impl Table {
    fn forget(&mut self, id: &str) {
        if let Some(entry) = self.by_id.remove(id)
            && let Some(count) = self.per_owner.get_mut(&entry.owner)
        {
            *count -= 1;
            if *count == 0 {
                self.per_owner.remove(&entry.owner);
            }
        }
    }

    fn full(&self, owner: &Owner, caps: &Caps) -> Option<Full> {
        if self.per_owner.get(owner).copied().unwrap_or(0) >= caps.max_per_owner {
            Some(Full::Owner)
        } else if self.by_id.len() >= caps.max_total {
            Some(Full::Total)
        } else {
            None
        }
    }
}

impl Sessions {
    /// `rmcp` is the session manager of the `/mcp` service: sessions past a
    /// cap are closed there, and those it ended are forgotten here. A task
    /// forgets the ended ones every `sweep` while this lives.
    pub fn new(rmcp: Arc<LocalSessionManager>, caps: Caps) -> Arc<Self> {
        let sessions = Arc::new(Self {
            state: Mutex::default(),
            caps: Caps {
                max_total: caps.max_total.max(1),
                max_per_owner: caps.max_per_owner.max(1),
                ..caps
            },
            rmcp,
        });
        let sweep =
            (caps.idle_timeout / 2).clamp(Duration::from_millis(100), Duration::from_secs(60));
        sweep_every(Arc::downgrade(&sessions), sweep);
        sessions
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a new session, unless that would pass a cap; `asks`: its
    /// client may be asked for sampling or elicitation.
    fn bind(&self, id: &str, owner: Owner, asks: bool) -> Result<(), Full> {
        let mut state = self.lock();
        if state.by_id.contains_key(id) {
            return Ok(());
        }
        if let Some(full) = state.full(&owner, &self.caps) {
            return Err(full);
        }
        *state.per_owner.entry(owner.clone()).or_default() += 1;
        state.by_id.insert(
            id.into(),
            Entry {
                owner,
                in_flight: HashSet::new(),
                asks,
                log_level: None,
                calls: HashMap::new(),
                rmcp_seen: Instant::now(),
            },
        );
        Ok(())
    }

    fn forget(&self, id: &str) {
        self.lock().forget(id);
    }

    /// Forgets the sessions (of `owner`, or all) that rmcp no longer has.
    async fn sweep(&self, owner: Option<&Owner>) {
        let ids: Vec<Arc<str>> = self
            .lock()
            .by_id
            .iter()
            .filter(|(_, entry)| owner.is_none_or(|owner| entry.owner == *owner))
            .map(|(id, _)| id.clone())
            .collect();
        let mut ended = Vec::new();
        for id in ids {
            if !self.rmcp.has_session(&id).await.unwrap_or(true) {
                ended.push(id);
            }
        }
        if !ended.is_empty() {
            let mut state = self.lock();
            for id in &ended {
                state.forget(id);
            }
            tracing::debug!(sessions = ended.len(), "forgot sessions that ended");
        }
    }

    /// Whether `owner` may open one more session, after forgetting its
    /// sessions that ended.
    async fn room_for(&self, owner: &Owner) -> Result<(), Full> {
        let full = self.lock().full(owner, &self.caps);
        match full {
            None => Ok(()),
            Some(Full::Owner) => {
                self.sweep(Some(owner)).await;
                self.lock().full(owner, &self.caps).map_or(Ok(()), Err)
            }
            Some(full) => Err(full),
        }
    }

    fn closed_in_rmcp(&self, id: Arc<str>) {
        let rmcp = self.rmcp.clone();
        tokio::spawn(async move {
            if let Err(e) = rmcp.close_session(&id).await {
                tracing::debug!(session = %id, "closing a session past the cap: {e}");
            }
        });
    }

    /// Registers call `id` (JSON text) of `session` for the fast path and
    /// returns the session's log level, unless the call should go through
    /// rmcp: the session is unknown here, its client may be asked things,
    /// the id is in flight (rmcp's path refuses it), or rmcp has not seen
    /// the session for a quarter of its keep-alive.
    pub fn begin_call(
        self: &Arc<Self>,
        session: &str,
        id: String,
    ) -> Option<(LoggingLevel, DirectCall)> {
        let mut state = self.lock();
        let entry = state.by_id.get_mut(session)?;
        if entry.asks
            || entry.in_flight.contains(&id)
            || entry.in_flight.len() >= MAX_IN_FLIGHT
            || entry.rmcp_seen.elapsed() > self.caps.idle_timeout / 4
        {
            return None;
        }
        let cancel = CancellationToken::new();
        entry.in_flight.insert(id.clone());
        entry.calls.insert(id.clone(), cancel.clone());
        let level = entry.log_level.unwrap_or(LoggingLevel::Info);
        Some((
            level,
            DirectCall {
                held: InFlight {
                    sessions: self.clone(),
                    session: session.to_owned(),
                    key: id,
                },
                cancel,
            },
        ))
    }

    /// Notes what the fast path needs of a message on its way to rmcp.
    fn heard(&self, session: &str, message: Option<&Peek>, bytes: &[u8]) {
        let method = message.and_then(|m| m.method.as_deref());
        let cancelled = match method {
            Some("notifications/cancelled") => serde_json::from_slice::<Params<Cancelled>>(bytes)
                .ok()
                .map(|c| c.params.request_id.to_string()),
            _ => None,
        };
        let level = match method {
            Some("logging/setLevel") => fast::set_level(bytes),
            _ => None,
        };
        let mut state = self.lock();
        let Some(entry) = state.by_id.get_mut(session) else {
            return;
        };
        entry.rmcp_seen = Instant::now();
        if let Some(level) = level {
            entry.log_level = Some(level);
        }
        if let Some(token) = cancelled.and_then(|id| entry.calls.get(&id)) {
            token.cancel();
        }
    }

    /// Sessions open now.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The refusal of an `initialize` past a cap.
    fn refuse(&self, full: Full, owner: &Owner, id: Value) -> Response {
        let idle = humantime_minutes(self.caps.idle_timeout);
        let (status, message) = match full {
            Full::Owner => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many sessions: {} has {} open, the most allowed \
                     ([http] max_sessions_per_subject); end the sessions you no longer use \
                     with DELETE /mcp and their Mcp-Session-Id (idle ones end after {idle})",
                    owner.describe(),
                    self.caps.max_per_owner
                ),
            ),
            Full::Total => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "too many sessions: the server has {} open, the most allowed \
                     ([http] max_sessions); end the sessions you no longer use with \
                     DELETE /mcp and their Mcp-Session-Id, or retry later \
                     (idle ones end after {idle})",
                    self.caps.max_total
                ),
            ),
        };
        tracing::info!(owner = ?owner, "refused an initialize: {message}");
        let mut response = framing::answer(status, &Rejection::new(TOO_MANY_SESSIONS, id, message));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        response
    }
}

/// `30m`, `90s`: how a duration reads in a message.
fn humantime_minutes(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{:?}", duration)
    }
}

/// Forgets ended sessions every `period`, for as long as they exist.
fn sweep_every(sessions: Weak<Sessions>, period: Duration) {
    let sweep = |sessions: Arc<Sessions>| async move { sessions.sweep(None).await };
    if !super::every(sessions, period, sweep) {
        tracing::warn!("no async runtime: ended sessions are forgotten only when used");
    }
}

/// What a JSON-RPC message is, as far as these layers care.
#[derive(Deserialize)]
struct Peek {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<String>,
}

/// The part of `notifications/cancelled` the fast path keeps track of.
#[derive(Deserialize)]
struct Params<T> {
    params: T,
}

#[derive(Deserialize)]
struct Cancelled {
    #[serde(rename = "requestId")]
    request_id: Value,
}

fn peek(bytes: &[u8]) -> Option<Peek> {
    serde_json::from_slice(bytes).ok()
}

/// The ownership and cap middleware; it runs after auth, which put the
/// [`Caller`] in.
pub async fn track(
    State(sessions): State<Arc<Sessions>>,
    request: Request,
    next: Next,
) -> Response {
    let owner = Owner::of(&request);
    let Some(id) = request.headers().get(SESSION_HEADER).cloned() else {
        if request.method() != Method::POST {
            return next.run(request).await;
        }
        // Only an `initialize` opens a session, and only before 2026-07-28
        // (whose requests say so in a header): read the body to see.
        let stateless = request
            .headers()
            .get("mcp-protocol-version")
            .is_some_and(|v| v.as_bytes() == b"2026-07-28");
        let mut asks = true;
        let mut request = request;
        if !stateless {
            let (parts, body) = request.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, sessions.caps.max_body).await else {
                return framing::answer(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &Rejection::too_large(sessions.caps.max_body),
                );
            };
            if let Some(message) = peek(&bytes)
                && message.method.as_deref() == Some("initialize")
            {
                if let Err(full) = sessions.room_for(&owner).await {
                    return sessions.refuse(full, &owner, message.id.unwrap_or(Value::Null));
                }
                asks = fast::offers_asks(&bytes);
            }
            request = Request::from_parts(parts, Body::from(bytes));
        }
        let response = next.run(request).await;
        if response.status().is_success()
            && let Some(id) = session_id(response.headers())
        {
            if let Err(full) = sessions.bind(id, owner.clone(), asks) {
                // Another `initialize` took the last place meanwhile.
                sessions.closed_in_rmcp(id.into());
                return sessions.refuse(full, &owner, Value::Null);
            }
            tracing::debug!(session = %id, owner = ?owner, "session bound to its owner");
        }
        return response;
    };
    let Some(id) = id.to_str().ok().map(str::to_owned) else {
        return not_found();
    };
    let owned = {
        let state = sessions.lock();
        match (state.by_id.get(id.as_str()), &owner) {
            (Some(entry), Owner::Subject(_)) => entry.owner == owner,
            (Some(_), Owner::Address(_)) => true,
            (None, _) => false,
        }
    };
    if !owned {
        tracing::info!(owner = ?owner, "refused a request on a session this caller does not own");
        return not_found();
    }
    let deletes = request.method() == Method::DELETE;
    let response = next.run(request).await;
    if response.status() == StatusCode::NOT_FOUND && !is_json(response.headers()) {
        // rmcp no longer knows the session (it timed out or ended).
        sessions.forget(&id);
        return not_found();
    }
    if deletes && response.status().is_success() {
        sessions.forget(&id);
    }
    response
}

/// The in-flight id middleware; it runs after framing, so a POST's body is
/// one JSON-RPC message in memory.
pub async fn one_per_id(
    State(sessions): State<Arc<Sessions>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(session) = session_id(request.headers()).map(str::to_owned) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return next.run(Request::from_parts(parts, Body::empty())).await;
    };
    let message = peek(&bytes);
    sessions.heard(&session, message.as_ref(), &bytes);
    let request_id = message.and_then(|message| message.method.and(message.id));
    let request = Request::from_parts(parts, Body::from(bytes));
    let Some(request_id) = request_id else {
        return next.run(request).await;
    };
    let key = request_id.to_string();
    let refusal = {
        let mut state = sessions.lock();
        match state.by_id.get_mut(session.as_str()) {
            None => None,
            Some(entry) if entry.in_flight.contains(&key) => Some(format!(
                "request id {key} is already in flight on this session; \
                 wait for its response or use a new id"
            )),
            Some(entry) if entry.in_flight.len() >= MAX_IN_FLIGHT => Some(format!(
                "{MAX_IN_FLIGHT} requests are already in flight on this session; \
                 wait for some responses first"
            )),
            Some(entry) => {
                entry.in_flight.insert(key.clone());
                None
            }
        }
    };
    if let Some(message) = refusal {
        tracing::info!(session = %session, "refused a request: {message}");
        return framing::answer(
            StatusCode::BAD_REQUEST,
            &Rejection::new(INVALID_REQUEST, request_id, message),
        );
    }
    let in_flight = InFlight {
        sessions,
        session,
        key,
    };
    let response = next.run(request).await;
    response.map(|body| listen::hold(body, in_flight))
}

/// A call the fast path runs for a session: its cancellation, and its id
/// held in flight until dropped.
pub struct DirectCall {
    held: InFlight,
    pub cancel: CancellationToken,
}

impl Drop for DirectCall {
    fn drop(&mut self) {
        let held = &self.held;
        if let Some(entry) = held.sessions.lock().by_id.get_mut(held.session.as_str()) {
            entry.calls.remove(&held.key);
        }
    }
}

/// A request id in flight; released when dropped.
struct InFlight {
    sessions: Arc<Sessions>,
    session: String,
    key: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(entry) = self.sessions.lock().by_id.get_mut(self.session.as_str()) {
            entry.in_flight.remove(&self.key);
        }
    }
}

fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(SESSION_HEADER)?.to_str().ok()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

/// What a session that is not the caller's looks like: not there.
fn not_found() -> Response {
    framing::answer(
        StatusCode::NOT_FOUND,
        &Rejection::new(
            SESSION_NOT_FOUND,
            Value::Null,
            "session not found: it ended or never existed; \
             start a new one with `initialize` (without Mcp-Session-Id)",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::any;
    use tower::ServiceExt as _;

    /// A stand-in for rmcp: a POST without a session opens one in `rmcp`
    /// (and says so with `Mcp-Session-Id`), a POST whose body says `slow`
    /// waits for `release`, anything else answers at once.
    fn app(sessions: Arc<Sessions>, release: Arc<tokio::sync::Notify>) -> Router {
        let rmcp = sessions.rmcp.clone();
        Router::new()
            .route(
                "/mcp",
                any(move |request: Request| {
                    let rmcp = rmcp.clone();
                    let release = release.clone();
                    async move {
                        let opens = request.headers().get(SESSION_HEADER).is_none()
                            && request.method() == Method::POST;
                        let body = axum::body::to_bytes(request.into_body(), 4096)
                            .await
                            .unwrap();
                        if body.windows(4).any(|w| w == b"slow") {
                            release.notified().await;
                        }
                        let mut response = Response::new(Body::from("ok"));
                        if opens && body.windows(10).any(|w| w == b"initialize") {
                            let (id, _transport) = rmcp.create_session().await.unwrap();
                            response
                                .headers_mut()
                                .insert(SESSION_HEADER, id.parse().unwrap());
                        }
                        response
                    }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                sessions.clone(),
                one_per_id,
            ))
            .layer(axum::middleware::from_fn_with_state(sessions, track))
    }

    struct Sent {
        status: StatusCode,
        session: Option<String>,
        body: Value,
    }

    async fn send(
        app: &Router,
        method: &str,
        subject: Option<&str>,
        session: Option<&str>,
        body: Value,
    ) -> Sent {
        let mut request = Request::builder().method(method).uri("/mcp");
        if let Some(session) = session {
            request = request.header(SESSION_HEADER, session);
        }
        let mut request = request.body(Body::from(body.to_string())).unwrap();
        if let Some(subject) = subject {
            request.extensions_mut().insert(Caller {
                subject: subject.into(),
                scopes: Default::default(),
            });
        }
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let session = session_id(response.headers()).map(str::to_owned);
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        Sent {
            status,
            session,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    fn initialize() -> Value {
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize"})
    }

    fn ping(id: u64, slow: bool) -> Value {
        let method = if slow { "slow" } else { "ping" };
        serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method})
    }

    fn sessions(max_total: usize, max_per_owner: usize) -> Arc<Sessions> {
        Sessions::new(
            Arc::new(LocalSessionManager::default()),
            Caps {
                max_total,
                max_per_owner,
                idle_timeout: Duration::from_secs(3600),
                max_body: 4096,
            },
        )
    }

    fn app_of(sessions: &Arc<Sessions>) -> Router {
        app(sessions.clone(), Arc::default())
    }

    #[tokio::test]
    async fn only_the_creator_may_use_or_end_a_session() {
        let sessions = sessions(10, 10);
        let app = app_of(&sessions);
        let id = send(&app, "POST", Some("alice"), None, initialize())
            .await
            .session
            .unwrap();
        for method in ["POST", "GET", "DELETE"] {
            let sent = send(&app, method, Some("bob"), Some(&id), ping(2, false)).await;
            assert_eq!(sent.status, StatusCode::NOT_FOUND);
        }
        let sent = send(&app, "GET", Some("bob"), Some("never-issued"), Value::Null).await;
        assert_eq!(sent.status, StatusCode::NOT_FOUND);
        let sent = send(&app, "POST", Some("alice"), Some(&id), ping(2, false)).await;
        assert_eq!(sent.status, StatusCode::OK);
        let sent = send(&app, "DELETE", Some("alice"), Some(&id), Value::Null).await;
        assert_eq!(sent.status, StatusCode::OK);
        assert!(sessions.is_empty());
        let sent = send(&app, "POST", Some("alice"), Some(&id), ping(3, false)).await;
        assert_eq!(sent.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn an_owner_at_its_cap_gets_429_until_it_ends_a_session() {
        let sessions = sessions(100, 2);
        let app = app_of(&sessions);
        let mut ids = Vec::new();
        for _ in 0..2 {
            ids.push(
                send(&app, "POST", Some("alice"), None, initialize())
                    .await
                    .session
                    .unwrap(),
            );
        }
        let refused = send(&app, "POST", Some("alice"), None, initialize()).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.body["error"]["code"], TOO_MANY_SESSIONS);
        assert_eq!(refused.body["id"], 1);
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("DELETE"), "{message}");
        assert!(message.contains("max_sessions_per_subject"), "{message}");
        // Requests that open no session still pass; other owners have room.
        let stateless = send(&app, "POST", Some("alice"), None, ping(5, false)).await;
        assert_eq!(stateless.status, StatusCode::OK);
        let bob = send(&app, "POST", Some("bob"), None, initialize()).await;
        assert_eq!(bob.status, StatusCode::OK);
        // Ending one (or rmcp ending one) makes room.
        let sent = send(&app, "DELETE", Some("alice"), Some(&ids[0]), Value::Null).await;
        assert_eq!(sent.status, StatusCode::OK);
        sessions
            .rmcp
            .close_session(&ids[1].as_str().into())
            .await
            .unwrap();
        for _ in 0..2 {
            let sent = send(&app, "POST", Some("alice"), None, initialize()).await;
            assert_eq!(sent.status, StatusCode::OK);
        }
    }

    #[tokio::test]
    async fn past_the_total_cap_an_initialize_gets_503() {
        let sessions = sessions(2, 10);
        let app = app_of(&sessions);
        for subject in ["alice", "bob"] {
            let sent = send(&app, "POST", Some(subject), None, initialize()).await;
            assert_eq!(sent.status, StatusCode::OK);
        }
        let refused = send(&app, "POST", None, None, initialize()).await;
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("max_sessions"), "{message}");
    }

    #[tokio::test]
    async fn a_second_request_with_an_id_in_flight_is_refused() {
        let sessions = sessions(10, 10);
        let release = Arc::new(tokio::sync::Notify::new());
        let app = app(sessions.clone(), release.clone());
        let id = send(&app, "POST", None, None, initialize())
            .await
            .session
            .unwrap();
        let first = tokio::spawn({
            let (app, id) = (app.clone(), id.clone());
            async move { send(&app, "POST", None, Some(&id), ping(7, true)).await }
        });
        while sessions.lock().by_id[id.as_str()].in_flight.is_empty() {
            tokio::task::yield_now().await;
        }
        let second = send(&app, "POST", None, Some(&id), ping(7, false)).await;
        assert_eq!(second.status, StatusCode::BAD_REQUEST);
        assert_eq!(second.body["error"]["code"], INVALID_REQUEST);
        assert_eq!(second.body["id"], 7);
        assert_eq!(
            second.body["error"]["message"].as_str().unwrap(),
            "request id 7 is already in flight on this session; \
             wait for its response or use a new id"
        );
        // Another id goes on meanwhile, and the first gets its answer.
        let other = send(&app, "POST", None, Some(&id), ping(8, false)).await;
        assert_eq!(other.status, StatusCode::OK);
        release.notify_one();
        assert_eq!(first.await.unwrap().status, StatusCode::OK);
        let again = send(&app, "POST", None, Some(&id), ping(7, false)).await;
        assert_eq!(again.status, StatusCode::OK);
    }
}
