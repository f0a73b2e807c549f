//! JSON-RPC framing of `POST /mcp`: [`crate::jsonrpc::check`] before rmcp.
//!
//! A body that is not one well-formed JSON-RPC message gets 400 with a
//! JSON-RPC error body (404 for a 2026-07-28 `ping`, as rmcp answers
//! unknown methods); a body that is not `application/json` gets 415,
//! also as JSON-RPC (rmcp answers both with 415 and plain text). The body
//! is already bounded by the body limit layer; this one reads at most
//! `max_body` bytes too, since it buffers the body.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode, header};
use serde_json::Value;

use crate::jsonrpc::{self, Rejection};

#[derive(Clone)]
pub struct Framing {
    pub max_body: usize,
}

/// The middleware.
pub async fn check(State(framing): State<Framing>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    if let Some(rejection) = wrong_content_type(request.headers()) {
        return answer(StatusCode::UNSUPPORTED_MEDIA_TYPE, &rejection);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, framing.max_body).await else {
        return answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            &Rejection::too_large(framing.max_body),
        );
    };
    if let Err(rejection) = jsonrpc::check(&bytes) {
        tracing::debug!("refused a message on /mcp: {rejection}");
        // rmcp's status for an unknown method, so that one is like the rest.
        let status = match rejection.code {
            jsonrpc::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        return answer(status, &rejection);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A JSON-RPC error response with `status`.
pub fn answer(status: StatusCode, rejection: &Rejection) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(rejection.to_bytes()))
        .unwrap_or_default()
}

fn wrong_content_type(headers: &HeaderMap) -> Option<Rejection> {
    let value = headers.get(header::CONTENT_TYPE);
    let essence = value
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim());
    if essence.is_some_and(|essence| essence.eq_ignore_ascii_case("application/json")) {
        return None;
    }
    let got = match (value, essence) {
        (None, _) => "none".to_owned(),
        (Some(_), Some(essence)) => format!("`{essence}`"),
        (Some(_), None) => "an unreadable one".to_owned(),
    };
    Some(Rejection::new(
        jsonrpc::INVALID_REQUEST,
        Value::Null,
        format!(
            "unsupported media type: a POST to /mcp carries one JSON-RPC message as \
             `Content-Type: application/json` (got {got})"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::post;
    use tower::ServiceExt as _;

    async fn post_body(content_type: Option<&str>, body: &str) -> (StatusCode, String, Value) {
        let app = Router::new()
            .route("/mcp", post(|body: String| async move { body }))
            .layer(axum::middleware::from_fn_with_state(
                Framing { max_body: 1024 },
                check,
            ));
        let mut request = Request::builder().method("POST").uri("/mcp");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = app
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let kind = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, kind, body)
    }

    #[tokio::test]
    async fn valid_messages_reach_the_inner_service_unchanged() {
        let message = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        let (status, _, body) = post_body(Some("application/json; charset=utf-8"), message).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["method"], "ping");
    }

    #[tokio::test]
    async fn framing_errors_are_400_with_a_json_rpc_body() {
        let (status, kind, body) = post_body(Some("application/json"), "{oops").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(kind, "application/json");
        assert_eq!(body["error"]["code"], jsonrpc::PARSE_ERROR);
        assert_eq!(body["id"], Value::Null);
    }

    #[tokio::test]
    async fn other_media_types_are_415_with_a_json_rpc_body() {
        for content_type in [Some("text/plain"), None] {
            let (status, kind, body) =
                post_body(content_type, r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert_eq!(kind, "application/json");
            assert_eq!(body["error"]["code"], jsonrpc::INVALID_REQUEST);
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("application/json"),
                "{body}"
            );
        }
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_413() {
        let (status, _, body) = post_body(Some("application/json"), &"x".repeat(2000)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["error"]["code"], jsonrpc::INVALID_REQUEST);
    }
}
