//! Per-group scopes at the HTTP level: a `tools/call` of a tool whose group
//! needs scopes the caller's token lacks gets 403 with
//! `WWW-Authenticate: Bearer error="insufficient_scope"`, as MCP
//! authorization asks, so a client can step up its token. (The MCP handler
//! also hides such tools from `tools/list` and refuses them itself.)
//!
//! Only POSTs from an authenticated caller are read, and only while some
//! group needs scopes; the body is already bounded by the body limit.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use serde::Deserialize;

use super::auth::ResourceMetadata;
use crate::caller::{Caller, ScopePolicy};
use crate::service::{CallService, Error, Who};

#[derive(Clone)]
pub struct ScopeCheck {
    pub policy: Arc<ScopePolicy>,
    pub service: CallService,
    pub metadata: ResourceMetadata,
    pub max_body: usize,
}

/// The part of a JSON-RPC message this layer looks at.
#[derive(Deserialize)]
struct Message {
    id: Option<serde_json::Value>,
    method: Option<String>,
    params: Option<Params>,
}

#[derive(Deserialize)]
struct Params {
    name: Option<String>,
}

pub async fn check(State(check): State<ScopeCheck>, request: Request, next: Next) -> Response {
    if check.policy.is_empty() || request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(caller) = request.extensions().get::<Caller>().cloned() else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, check.max_body).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large").into_response(),
    };
    if let Ok(Message {
        id,
        method: Some(method),
        params: Some(Params { name: Some(name) }),
    }) = serde_json::from_slice::<Message>(&bytes)
        && method == "tools/call"
    {
        let who = Who {
            caller: Some(&caller),
            request_id: None,
            traceparent: None,
        };
        if let Err(Error::Forbidden { missing, .. }) = check.service.tool(who, &name) {
            let scope = missing.join(" ");
            let description = format!("tool `{name}` needs scope {scope}");
            let mut challenge = check
                .metadata
                .challenge(&parts.headers, Some(("insufficient_scope", &description)))
                .to_str()
                .unwrap_or("Bearer")
                .to_owned();
            challenge.push_str(&format!(", scope=\"{scope}\""));
            let body = serde_json::json!({
                "jsonrpc": "2.0",
                "id": id,
                "error": { "code": -32600, "message": format!("insufficient_scope: {description}") },
            });
            return (
                StatusCode::FORBIDDEN,
                [
                    (header::WWW_AUTHENTICATE, challenge),
                    (header::CONTENT_TYPE, "application/json".to_owned()),
                ],
                body.to_string(),
            )
                .into_response();
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
