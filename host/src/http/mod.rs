//! MCP over streamable HTTP: an axum router that only routes and guards.
//!
//! `/mcp` is rmcp's `StreamableHttpService` around the same
//! [`crate::mcp::Handler`] as stdio, in both protocol eras rmcp 3.9 speaks
//! (the 2025-11-25 session flow and the stateless 2026-07-28 flow). Each
//! concern is one tower layer, outermost first:
//!
//! ```text
//! request id + span ─▶ count status ─▶ Host/Origin guard (403) ─▶ body limit (413)
//!   ─▶ /healthz /readyz /metrics /.well-known/oauth-protected-resource
//!   ─▶ /mcp: auth (401) ─▶ rate limit (429) ─▶ scopes (403)
//!        ─▶ stateless tools/call fast path ─▶ Handler
//!        ─▶ (anything else) rmcp ─▶ Handler
//! ```
//!
//! Shutdown ([`serve`]): stop accepting, wait (bounded) for calls in flight,
//! then close the long-lived streams so the last connections end.

pub mod auth;
mod direct;
pub mod guard;
mod jwt;
pub mod limit;
pub mod observe;
pub mod probes;
pub mod scope;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;

use crate::caller::ScopePolicy;
use crate::catalog::Catalog;
use crate::config::HttpConfig;
use crate::mcp::Handler;
use crate::metrics::Metrics;

/// Everything the router serves.
pub struct Parts {
    pub handler: Handler,
    pub catalog: Arc<Catalog>,
    pub metrics: Arc<Metrics>,
    pub scopes: Arc<ScopePolicy>,
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
    let authenticator = auth::Authenticator::from_config(&config.auth, &parts.scopes)?;

    // The guard layer checks Host and Origin on every route, so rmcp's own
    // check (same rules, /mcp only) is off.
    let mcp_config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_max_request_body_bytes(max_body)
        .with_json_response(true)
        .with_cancellation_token(streams);
    let handler = parts.handler;
    let fast_path = direct::Direct {
        handler: handler.clone(),
        max_body,
    };
    let mcp = StreamableHttpService::new(
        move || Ok(handler.for_new_client()),
        Arc::new(LocalSessionManager::default()),
        mcp_config,
    );

    let mut mcp_route = Router::new()
        .route_service("/mcp", mcp)
        .route_layer(from_fn_with_state(fast_path, direct::serve));
    let mut app = Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(probes::metrics))
        .with_state(probes::Probes {
            catalog: parts.catalog.clone(),
            metrics: parts.metrics.clone(),
        });
    if let Some(authenticator) = authenticator {
        let metadata = authenticator.metadata().clone();
        if !parts.scopes.is_empty() {
            mcp_route = mcp_route.route_layer(from_fn_with_state(
                scope::ScopeCheck {
                    policy: parts.scopes.clone(),
                    catalog: parts.catalog.clone(),
                    metadata: metadata.clone(),
                    max_body,
                },
                scope::check,
            ));
        }
        if let Some(rate) = &config.rate_limit {
            mcp_route = mcp_route.route_layer(from_fn_with_state(
                Arc::new(limit::RateLimiter::new(rate)),
                limit::check,
            ));
        }
        mcp_route =
            mcp_route.route_layer(from_fn_with_state(Arc::new(authenticator), auth::require));
        app = app.merge(
            Router::new()
                .route(auth::METADATA_PATH, get(auth::metadata))
                .route(&format!("{}/mcp", auth::METADATA_PATH), get(auth::metadata))
                .with_state(metadata),
        );
    } else if let Some(rate) = &config.rate_limit {
        mcp_route = mcp_route.route_layer(from_fn_with_state(
            Arc::new(limit::RateLimiter::new(rate)),
            limit::check,
        ));
    }

    Ok(app
        .merge(mcp_route)
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(from_fn_with_state(host_guard, guard::check))
        .layer(from_fn_with_state(parts.metrics, observe::count_status))
        .layer(from_fn(observe::request_id)))
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then shuts
/// down gracefully: no new connections, calls in flight get up to `grace`
/// to finish, then `streams` is cancelled to end sessions and SSE streams.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    streams: CancellationToken,
    grace: Duration,
) -> anyhow::Result<()> {
    // Responses are small and often written in pieces (SSE events); without
    // TCP_NODELAY, Nagle's algorithm and delayed ACKs add ~40 ms to each.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
    });
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let mut server = tokio::spawn(async move { server.await });
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
