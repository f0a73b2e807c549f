//! Request ids, log spans and response counting.
//!
//! Every request gets a correlation id: the client's `X-Request-Id` when it
//! sent a sane one, else a fresh UUID. The id is in the response's
//! `X-Request-Id`, in a tracing span around the request (so in every log
//! line it causes, the tool call's included: the MCP handler opens its span
//! from the same id), and in the request's extensions as
//! [`crate::caller::RequestId`].

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use tracing::Instrument as _;

use crate::caller::RequestId;
use crate::metrics::Metrics;

pub const REQUEST_ID: &str = "x-request-id";

/// Longest client-supplied id kept; longer ones are replaced.
const MAX_ID_LEN: usize = 128;

/// The request-id middleware.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sane(id))
        .map(Arc::<str>::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string().into());
    let span = tracing::info_span!(
        "http",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    request.extensions_mut().insert(RequestId(id.clone()));
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "response"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// Printable ASCII without spaces, so it is safe in logs and headers.
fn is_sane(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Counts every response by status (`toolhost_http_requests_total`).
pub async fn count_status(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    metrics.record_http(response.status().as_u16());
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    fn app() -> Router {
        Router::new()
            .route(
                "/",
                get(|request: Request| async move {
                    request
                        .extensions()
                        .get::<RequestId>()
                        .unwrap()
                        .0
                        .to_string()
                }),
            )
            .layer(axum::middleware::from_fn(request_id))
    }

    async fn id_of(header: Option<&str>) -> (String, String) {
        let mut request = Request::builder().uri("/");
        if let Some(header) = header {
            request = request.header(REQUEST_ID, header);
        }
        let response = app()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let echoed = response.headers()[REQUEST_ID].to_str().unwrap().to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        (echoed, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn client_ids_are_kept_and_missing_ones_generated() {
        let (echoed, seen) = id_of(Some("abc-123")).await;
        assert_eq!((echoed.as_str(), seen.as_str()), ("abc-123", "abc-123"));
        let (echoed, seen) = id_of(None).await;
        assert_eq!(echoed, seen);
        assert_eq!(echoed.len(), 36);
        let (echoed, _) = id_of(Some("has space")).await;
        assert_ne!(echoed, "has space");
    }
}
