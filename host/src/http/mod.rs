//! MCP over streamable HTTP: an axum router that only routes and guards.
//!
//! `/mcp` is rmcp's `StreamableHttpService` around the same
//! [`crate::mcp::Handler`] as stdio, in both protocol eras rmcp 3.9 speaks
//! (the 2025-11-25 session flow and the stateless 2026-07-28 flow). Each
//! concern is one tower layer, outermost first:
//!
//! ```text
//! drain unread body of an early answer ─▶ request id ─▶ span ─▶ count status
//!   ─▶ Host/Origin guard (400, 403) ─▶ CORS (preflights) ─▶ body limit (413)
//!   ─▶ /healthz /readyz /metrics /.well-known/oauth-protected-resource
//!   ─▶ /mcp: limit per address (429) ─▶ auth (401) ─▶ limit per subject (429)
//!        ─▶ session owner and caps (404, 429, 503) ─▶ scopes (403)
//!        ─▶ stateless tools/call fast path ─▶ Handler
//!        ─▶ (anything else) JSON-RPC framing (400, 415)
//!           ─▶ one request per id in flight on a session (400) ─▶ rmcp ─▶ Handler
//! ```
//!
//! [`router`] builds both stacks with `ServiceBuilder`, in this order.
//!
//! Connections ([`listen`]): a deadline for each request head and a cap on
//! open connections. Shutdown ([`serve`]): stop accepting, wait (bounded)
//! for calls in flight, then close the long-lived streams so the last
//! connections end.

pub mod auth;
pub mod cors;
mod direct;
pub mod framing;
pub mod guard;
mod jwt;
pub mod limit;
pub mod listen;
pub mod observe;
pub mod params;
pub mod probes;
pub mod scope;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{FromFnLayer, from_fn_with_state};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::caller::ScopePolicy;
use crate::config::HttpConfig;
use crate::mcp::Handler;
use crate::mcp::rounds::Rounds;
use crate::metrics::Metrics;
use crate::service::CallService;

/// Everything the router serves.
pub struct Parts {
    pub service: CallService,
    pub scopes: Arc<ScopePolicy>,
    /// Seals the state of `input_required` results.
    pub rounds: Arc<Rounds>,
    /// Calls that went on as tasks.
    pub tasks: Arc<crate::mcp::tasks::Tasks>,
}

/// Builds the router. `streams` ends every MCP session and stream when
/// cancelled.
pub fn router(
    config: &HttpConfig,
    listen: SocketAddr,
    parts: Parts,
    streams: CancellationToken,
) -> anyhow::Result<Router> {
    let max_body = usize::try_from(config.max_body.0).unwrap_or(usize::MAX);
    let hosts = match &config.allowed_hosts {
        Some(hosts) => hosts.clone(),
        None => {
            let mut hosts = guard::default_hosts();
            let ip = listen.ip();
            if !ip.is_loopback() && !ip.is_unspecified() {
                hosts.push(ip.to_string());
            }
            if ip.is_unspecified() {
                tracing::warn!(
                    "listening on {listen} but only loopback Host names are accepted; \
                     list this server's names in [http] allowed_hosts"
                );
            }
            hosts
        }
    };
    let origins = config
        .allowed_origins
        .clone()
        .unwrap_or_else(guard::default_origins);
    let host_guard = Arc::new(guard::HostGuard::new(&hosts, &origins)?);
    let authenticator = auth::Authenticator::from_config(&config.auth, &parts.scopes, &hosts)?;

    // The guard layer checks Host and Origin on every route, so rmcp's own
    // check (same rules, /mcp only) is off.
    let mcp_config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_max_request_body_bytes(max_body)
        .with_json_response(true)
        .with_cancellation_token(streams);
    let handler = Handler::new(parts.service.clone())
        .with_rounds(parts.rounds.clone())
        .with_tasks(parts.tasks.clone());
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(config.session_idle_timeout.0);
    let sessions = Arc::new(sessions);
    let mcp = StreamableHttpService::new(
        move || Ok(handler.for_new_client()),
        sessions.clone(),
        mcp_config,
    );

    let quotas = limit::Quotas::from_config(config);
    let metadata = authenticator.as_ref().map(|auth| auth.metadata().clone());
    let scope_check = match &metadata {
        Some(metadata) if !parts.scopes.is_empty() => Some(scope::ScopeCheck {
            policy: parts.scopes.clone(),
            service: parts.service.clone(),
            metadata: metadata.clone(),
            max_body,
        }),
        _ => None,
    };
    let sessions = session::Sessions::new(
        sessions,
        session::Caps {
            max_total: config.max_sessions,
            max_per_owner: config.max_sessions_per_subject,
            idle_timeout: config.session_idle_timeout.0,
            max_body,
        },
    );
    let fast_path = direct::Direct {
        service: parts.service.clone(),
        rounds: parts.rounds.clone(),
        sessions: sessions.clone(),
        max_body,
    };
    let limit_by = |by| move |quota| middleware(limit::Limit::embedded(quota, by), limit::check);
    let mcp_layers = ServiceBuilder::new()
        .option_layer(quotas.address.map(limit_by(limit::By::Address)))
        .option_layer(authenticator.map(|auth| middleware(Arc::new(auth), auth::require)))
        .option_layer(quotas.subject.map(limit_by(limit::By::Subject)))
        .layer(middleware(sessions.clone(), session::track))
        .option_layer(scope_check.map(|check| middleware(check, scope::check)))
        // The fast path first: what it takes is a well-formed stateless
        // tools/call by construction (it parses strictly), so checking the
        // framing again would only parse every call twice.
        .layer(middleware(fast_path, direct::serve))
        .layer(middleware(framing::Framing { max_body }, framing::check))
        .layer(middleware(sessions, session::one_per_id));
    let mcp_route = Router::new()
        .route_service("/mcp", mcp)
        .route_layer(mcp_layers);

    let mut app = Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(probes::metrics))
        .with_state(probes::Probes {
            catalog: parts.service.catalog().clone(),
            metrics: parts.service.metrics().clone(),
        });
    if let Some(metadata) = metadata {
        app = app.merge(
            Router::new()
                .route(auth::METADATA_PATH, get(auth::metadata))
                .route(&format!("{}/mcp", auth::METADATA_PATH), get(auth::metadata))
                .with_state(metadata),
        );
    }

    let layers = ServiceBuilder::new()
        .layer(axum::middleware::from_fn(listen::drain_unread))
        .map_request(observe::drop_unusable_id)
        .layer(SetRequestIdLayer::new(observe::REQUEST_ID, MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(observe::REQUEST_ID))
        .map_request(observe::keep_id)
        .layer(observe::trace())
        .layer(from_fn_with_state(
            parts.service.metrics().clone(),
            observe::count_status,
        ))
        .layer(from_fn_with_state(host_guard, guard::check))
        .layer(cors::layer(config.cors_origins.as_deref())?)
        // CORS needs a response body with a default; the limit's has none.
        .map_response(axum::response::IntoResponse::into_response)
        .layer(RequestBodyLimitLayer::new(max_body));
    Ok(app.merge(mcp_route).layer(layers))
}

/// Runs `work` on what `owner` points to every `period` (the first time
/// one period from now) until it is dropped: the housekeeping of the
/// stores these layers keep. `false` when there is no async runtime to run
/// it on.
pub(crate) fn every<T, F, W>(owner: std::sync::Weak<T>, period: Duration, work: W) -> bool
where
    T: Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
    W: Fn(Arc<T>) -> F + Send + 'static,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return false;
    };
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(owner) = owner.upgrade() else {
                return;
            };
            work(owner).await;
        }
    });
    true
}

/// `from_fn_with_state` for an `async fn(State<S>, Request, Next)`, with the
/// extractor types spelled out so that optional layers infer.
fn middleware<S, F>(state: S, f: F) -> FromFnLayer<F, S, (State<S>, Request)> {
    from_fn_with_state(state, f)
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then shuts
/// down gracefully: no new connections, calls in flight get up to
/// `shutdown_grace` to finish, then `streams` is cancelled to end sessions
/// and SSE streams.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    streams: CancellationToken,
    config: &HttpConfig,
) -> anyhow::Result<()> {
    let grace = config.shutdown_grace.0;
    let bounds = listen::Bounds {
        max_connections: config.max_connections,
        header_timeout: config.header_timeout.0,
    };
    let server = listen::accept(listener, router, bounds, shutdown.clone());
    let mut server = tokio::spawn(async move {
        server.await;
        Ok::<_, std::io::Error>(())
    });
    tokio::select! {
        result = &mut server => {
            return result.context("the HTTP server task failed")?.context("the HTTP server failed");
        }
        () = shutdown.cancelled() => {}
    }
    let deadline = Instant::now() + grace;
    let in_flight = metrics.in_flight();
    if in_flight > 0 {
        tracing::info!(
            calls = in_flight,
            "shutting down: no new connections; waiting up to {grace:?} for calls in flight"
        );
    }
    while metrics.in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if metrics.in_flight() > 0 {
        tracing::warn!(
            calls = metrics.in_flight(),
            "shutdown grace period over; dropping the calls still running"
        );
    }
    // Let the last responses leave before the streams close.
    tokio::time::sleep(Duration::from_millis(50)).await;
    streams.cancel();
    match tokio::time::timeout(Duration::from_secs(2), &mut server).await {
        Ok(result) => result
            .context("the HTTP server task failed")?
            .context("the HTTP server failed"),
        Err(_) => {
            tracing::warn!("connections still open after shutdown; closing them");
            server.abort();
            Ok(())
        }
    }
}

/// Cancels `token` on SIGTERM or Ctrl-C (SIGINT).
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(e) => {
                    tracing::warn!("cannot listen for SIGTERM: {e}");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: shutting down"),
            () = terminate => tracing::info!("SIGTERM: shutting down"),
        }
        token.cancel();
    });
}
