//! 2025-11-25 sessions belong to the caller that created them.
//!
//! With auth on, the `Mcp-Session-Id` that an `initialize` response hands
//! out is recorded with the subject of the [`Caller`] that asked for it. A
//! request naming a session (POST, the GET stream, DELETE) goes on only
//! when it comes from that subject; anyone else gets the same 404 as for a
//! session that does not exist, so session ids cannot be probed, and rmcp
//! never sees the request. Entries go on DELETE, when rmcp no longer knows
//! the session, and oldest first beyond [`MAX_SESSIONS`] (the evicted
//! session is closed in rmcp too, so it cannot outlive its binding).
//!
//! Without auth there is no subject and this layer is not installed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode, header};
use rmcp::transport::streamable_http_server::SessionManager as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use serde_json::Value;

use super::framing;
use crate::caller::Caller;
use crate::jsonrpc::{Rejection, SESSION_NOT_FOUND};

/// Most sessions bound at once, across all subjects.
pub const MAX_SESSIONS: usize = 10_000;

const SESSION_HEADER: &str = "mcp-session-id";

/// Who owns which session.
pub struct Sessions {
    owners: Mutex<Owners>,
    max: usize,
    rmcp: Arc<LocalSessionManager>,
}

#[derive(Default)]
struct Owners {
    /// Session id → (subject, creation number).
    by_id: HashMap<Arc<str>, (String, u64)>,
    /// Creation number → session id, oldest first.
    by_age: BTreeMap<u64, Arc<str>>,
    created: u64,
}

impl Sessions {
    /// `rmcp` is the session manager of the `/mcp` service, so that evicted
    /// sessions end there too.
    pub fn new(rmcp: Arc<LocalSessionManager>, max: usize) -> Self {
        Self {
            owners: Mutex::default(),
            max: max.max(1),
            rmcp,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Owners> {
        self.owners.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn owned_by(&self, id: &str, subject: &str) -> bool {
        self.lock()
            .by_id
            .get(id)
            .is_some_and(|(owner, _)| owner == subject)
    }

    fn bind(&self, id: &str, subject: &str) {
        let evicted = {
            let mut owners = self.lock();
            owners.created += 1;
            let number = owners.created;
            let id: Arc<str> = id.into();
            if let Some((_, old)) = owners
                .by_id
                .insert(id.clone(), (subject.to_owned(), number))
            {
                owners.by_age.remove(&old);
            }
            owners.by_age.insert(number, id);
            let mut evicted = Vec::new();
            while owners.by_id.len() > self.max {
                let Some((_, oldest)) = owners.by_age.pop_first() else {
                    break;
                };
                owners.by_id.remove(&oldest);
                evicted.push(oldest);
            }
            evicted
        };
        for id in evicted {
            tracing::info!(
                session = %id,
                "closing the oldest session: more than {} are open",
                self.max
            );
            let rmcp = self.rmcp.clone();
            tokio::spawn(async move {
                if let Err(e) = rmcp.close_session(&id).await {
                    tracing::debug!(session = %id, "closing an evicted session: {e}");
                }
            });
        }
    }

    fn forget(&self, id: &str) {
        let mut owners = self.lock();
        if let Some((_, number)) = owners.by_id.remove(id) {
            owners.by_age.remove(&number);
        }
    }

    /// Sessions bound now.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The middleware; it runs after auth, which put the [`Caller`] in.
pub async fn bind(State(sessions): State<Arc<Sessions>>, request: Request, next: Next) -> Response {
    let Some(subject) = request
        .extensions()
        .get::<Caller>()
        .map(|caller| caller.subject.clone())
    else {
        return next.run(request).await;
    };
    let Some(id) = request.headers().get(SESSION_HEADER).cloned() else {
        let creates = request.method() == Method::POST;
        let response = next.run(request).await;
        if creates
            && response.status().is_success()
            && let Some(id) = session_id(response.headers())
        {
            tracing::debug!(session = %id, %subject, "session bound to its subject");
            sessions.bind(id, &subject);
        }
        return response;
    };
    let Some(id) = id.to_str().ok().map(str::to_owned) else {
        return not_found();
    };
    if !sessions.owned_by(&id, &subject) {
        tracing::info!(%subject, "refused a request on a session this subject does not own");
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
    use axum::body::Body;
    use axum::routing::any;
    use tower::ServiceExt as _;

    /// A stand-in for rmcp: POST without a session creates `s-N`.
    fn app(sessions: Arc<Sessions>) -> Router {
        let counter = Arc::new(std::sync::atomic::AtomicU32::new(0));
        Router::new()
            .route(
                "/mcp",
                any(move |request: Request| {
                    let counter = counter.clone();
                    async move {
                        let mut response = Response::new(Body::from("ok"));
                        if request.headers().get(SESSION_HEADER).is_none() {
                            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            response
                                .headers_mut()
                                .insert(SESSION_HEADER, format!("s-{n}").parse().unwrap());
                        }
                        response
                    }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(sessions, bind))
    }

    async fn send(
        app: &Router,
        method: &str,
        subject: &str,
        session: Option<&str>,
    ) -> (StatusCode, Option<String>) {
        let mut request = Request::builder().method(method).uri("/mcp");
        if let Some(session) = session {
            request = request.header(SESSION_HEADER, session);
        }
        let mut request = request.body(Body::empty()).unwrap();
        request.extensions_mut().insert(Caller {
            subject: subject.into(),
            scopes: Default::default(),
        });
        let response = app.clone().oneshot(request).await.unwrap();
        let id = session_id(response.headers()).map(str::to_owned);
        (response.status(), id)
    }

    fn sessions(max: usize) -> Arc<Sessions> {
        Arc::new(Sessions::new(Arc::new(LocalSessionManager::default()), max))
    }

    #[tokio::test]
    async fn only_the_creator_may_use_or_end_a_session() {
        let sessions = sessions(10);
        let app = app(sessions.clone());
        let (_, id) = send(&app, "POST", "alice", None).await;
        let id = id.unwrap();
        for method in ["POST", "GET", "DELETE"] {
            assert_eq!(
                send(&app, method, "bob", Some(&id)).await.0,
                StatusCode::NOT_FOUND
            );
        }
        assert_eq!(
            send(&app, "GET", "bob", Some("never-issued")).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            send(&app, "POST", "alice", Some(&id)).await.0,
            StatusCode::OK
        );
        assert_eq!(
            send(&app, "DELETE", "alice", Some(&id)).await.0,
            StatusCode::OK
        );
        assert!(sessions.is_empty());
        assert_eq!(
            send(&app, "POST", "alice", Some(&id)).await.0,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn the_oldest_sessions_go_first_beyond_the_cap() {
        let sessions = sessions(2);
        let app = app(sessions.clone());
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(send(&app, "POST", "alice", None).await.1.unwrap());
        }
        assert_eq!(sessions.len(), 2);
        assert_eq!(
            send(&app, "POST", "alice", Some(&ids[0])).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            send(&app, "POST", "alice", Some(&ids[2])).await.0,
            StatusCode::OK
        );
    }
}
