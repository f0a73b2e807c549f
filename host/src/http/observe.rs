//! Request ids, log spans and response counting.
//!
//! Every request gets a correlation id: the client's `X-Request-Id` when it
//! sent a usable one, else a fresh UUID (tower-http's `SetRequestIdLayer`
//! with `MakeRequestUuid`, after [`drop_unusable_id`] removed anything else).
//! The id is in the response's `X-Request-Id` (`PropagateRequestIdLayer`), in
//! a tracing span around the request ([`trace`]; so in every log line it
//! causes, the tool call's included: the MCP handler opens its span from the
//! same id), and in the request's extensions as
//! [`crate::caller::RequestId`] ([`keep_id`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderName;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnFailure, MakeSpan, OnResponse, TraceLayer};
use tracing::{Level, Span};

use crate::caller::RequestId;
use crate::metrics::Metrics;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied id kept; longer ones are replaced.
const MAX_ID_LEN: usize = 128;

/// Removes a client's `X-Request-Id` that is empty, longer than
/// [`MAX_ID_LEN`] or not visible ASCII, so one is made instead: ids go into
/// logs and headers verbatim.
pub fn drop_unusable_id(mut request: Request) -> Request {
    let usable = request
        .headers()
        .get(&REQUEST_ID)
        .is_none_or(|id| is_usable(id.as_bytes()));
    if !usable {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}

fn is_usable(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.iter().all(u8::is_ascii_graphic)
}

/// Puts the id that `SetRequestIdLayer` settled on into the extensions as
/// [`RequestId`], where the MCP handler and the span read it.
pub fn keep_id(mut request: Request) -> Request {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|id| id.to_str().ok())
        .map(Arc::<str>::from);
    if let Some(id) = id {
        request.extensions_mut().insert(RequestId(id));
    }
    request
}

/// The span around each request, and a debug line per response with its
/// status and latency.
pub type Trace = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    RequestSpan,
    (),
    LogResponse,
    (),
    (),
    DefaultOnFailure,
>;

pub fn trace() -> Trace {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(LogResponse)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(DefaultOnFailure::new().level(Level::WARN))
}

/// `http{request_id=… method=… path=…}`.
#[derive(Clone, Copy, Debug)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &http::Request<B>) -> Span {
        let id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_else(|| Arc::from(""));
        tracing::info_span!(
            "http",
            request_id = %id,
            method = %request.method(),
            path = %request.uri().path(),
        )
    }
}

/// One debug line per response (`RUST_LOG=toolhost=debug`).
#[derive(Clone, Copy, Debug)]
pub struct LogResponse;

impl<B> OnResponse<B> for LogResponse {
    fn on_response(self, response: &http::Response<B>, latency: Duration, _span: &Span) {
        tracing::debug!(
            status = response.status().as_u16(),
            elapsed_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            "response"
        );
    }
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
    use tower::ServiceBuilder;
    use tower::ServiceExt as _;
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

    /// The same layers, in the same order, as the router.
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
            .layer(
                ServiceBuilder::new()
                    .map_request(drop_unusable_id)
                    .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                    .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                    .map_request(keep_id)
                    .layer(trace()),
            )
    }

    async fn id_of(header: Option<&[u8]>) -> (String, String) {
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
        let (echoed, seen) = id_of(Some(b"abc-123")).await;
        assert_eq!((echoed.as_str(), seen.as_str()), ("abc-123", "abc-123"));
        let longest = "x".repeat(MAX_ID_LEN);
        let (echoed, _) = id_of(Some(longest.as_bytes())).await;
        assert_eq!(echoed, longest);
        let (echoed, seen) = id_of(None).await;
        assert_eq!(echoed, seen);
        assert_eq!(echoed.len(), 36);
    }

    #[tokio::test]
    async fn unusable_client_ids_are_replaced() {
        let too_long = "x".repeat(MAX_ID_LEN + 1);
        for bogus in [
            b"has space".as_slice(),
            b"",
            too_long.as_bytes(),
            b"tab\there",
            "caf\u{e9}".as_bytes(),
        ] {
            let (echoed, seen) = id_of(Some(bogus)).await;
            assert_eq!(echoed, seen);
            assert_eq!(echoed.len(), 36, "{bogus:?} gave {echoed}");
        }
    }
}
