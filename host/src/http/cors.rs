//! CORS, so that a web page on an allowed origin can call `/mcp`.
//!
//! The layer sits inside the Host/Origin guard: a request from an origin
//! the guard refuses gets its 403 and no CORS headers. By default every
//! origin the guard admits (`[http] allowed_origins`) may read responses;
//! `[http] cors_origins` narrows that. Preflights (`OPTIONS` with
//! `Access-Control-Request-Method`) are answered here, before auth, as
//! browsers send them without credentials; the real request then meets
//! auth as usual, and its 401 (with `WWW-Authenticate`) is readable by the
//! page.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, request::Parts};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers an MCP client in a browser sends.
const REQUEST_HEADERS: [&str; 8] = [
    "content-type",
    "authorization",
    "accept",
    "mcp-protocol-version",
    "mcp-session-id",
    "last-event-id",
    "mcp-method",
    "mcp-name",
];

/// Response headers such a client must read.
const RESPONSE_HEADERS: [&str; 3] = ["mcp-session-id", "www-authenticate", "mcp-protocol-version"];

/// The layer; `origins` is `[http] cors_origins` (`None`: whatever the
/// guard admits).
pub fn layer(origins: Option<&[String]>) -> anyhow::Result<CorsLayer> {
    let allow_origin = match origins {
        None => AllowOrigin::mirror_request(),
        Some(entries) => {
            let patterns = entries
                .iter()
                .map(|entry| {
                    OriginPattern::parse(entry).ok_or_else(|| {
                        anyhow::anyhow!(
                            "[http] cors_origins: `{entry}` is not `scheme://host[:port]`, \
                             `scheme://host:*`, `null` or `*`"
                        )
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            AllowOrigin::predicate(move |origin: &HeaderValue, _: &Parts| {
                origin
                    .to_str()
                    .is_ok_and(|origin| patterns.iter().any(|p| p.matches(origin)))
            })
        }
    };
    Ok(CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers(REQUEST_HEADERS.map(HeaderName::from_static))
        .expose_headers(RESPONSE_HEADERS.map(HeaderName::from_static))
        // Chrome asks before a public page may reach a loopback server; an
        // origin that got this far is one the operator listed.
        .allow_private_network(true)
        .max_age(Duration::from_secs(600)))
}

/// One `cors_origins` entry, matched against the `Origin` a browser sends
/// (lower-case scheme and host, default port left out).
#[derive(Debug, PartialEq)]
enum OriginPattern {
    Any,
    Exact(String),
    /// `scheme://host:*`: the host on any port; holds `scheme://host`.
    AnyPort(String),
}

impl OriginPattern {
    fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        match entry {
            "*" => return Some(Self::Any),
            "null" => return Some(Self::Exact("null".into())),
            _ => {}
        }
        if let Some(base) = entry.strip_suffix(":*") {
            let base = normalize(base)?;
            return Some(Self::AnyPort(base));
        }
        normalize(entry).map(Self::Exact)
    }

    fn matches(&self, origin: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(exact) => origin.eq_ignore_ascii_case(exact),
            Self::AnyPort(base) => {
                origin.len() >= base.len()
                    && origin.is_char_boundary(base.len())
                    && origin[..base.len()].eq_ignore_ascii_case(base)
                    && match &origin[base.len()..] {
                        "" => true,
                        rest => rest
                            .strip_prefix(':')
                            .is_some_and(|port| port.parse::<u16>().is_ok()),
                    }
            }
        }
    }
}

/// `scheme://host[:port]` as browsers write it, or `None`.
fn normalize(entry: &str) -> Option<String> {
    let uri: http::Uri = entry.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    if authority.as_str().contains('@') || !matches!(uri.path(), "" | "/") || uri.query().is_some()
    {
        return None;
    }
    let host = authority.host().to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    Some(match authority.port_u16() {
        Some(port) if Some(port) != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::post;
    use http::{Request, StatusCode};
    use tower::ServiceExt as _;

    #[test]
    fn patterns_match_origins_as_browsers_send_them() {
        let exact = OriginPattern::parse("https://App.example.com:443").unwrap();
        assert!(exact.matches("https://app.example.com"));
        assert!(!exact.matches("https://app.example.com:8443"));
        let any_port = OriginPattern::parse("http://localhost:*").unwrap();
        assert!(any_port.matches("http://localhost:6274"));
        assert!(any_port.matches("http://localhost"));
        assert!(!any_port.matches("http://localhost.evil.example"));
        assert!(!any_port.matches("https://localhost:6274"));
        assert!(OriginPattern::parse("app.example.com").is_none());
        assert!(OriginPattern::parse("https://app.example.com/path").is_none());
        assert!(layer(Some(&["nope".into()])).is_err());
    }

    async fn preflight(origins: Option<&[String]>, origin: &str) -> http::Response<Body> {
        let app = Router::new()
            .route("/mcp", post(|| async { "ok" }))
            .layer(layer(origins).unwrap());
        app.oneshot(
            Request::builder()
                .method("OPTIONS")
                .uri("/mcp")
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "content-type,authorization,mcp-session-id",
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn preflights_name_what_an_mcp_client_needs() {
        let response = preflight(None, "http://localhost:6274").await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(
            headers["access-control-allow-origin"],
            "http://localhost:6274"
        );
        let allowed = headers["access-control-allow-headers"].to_str().unwrap();
        for name in REQUEST_HEADERS {
            assert!(allowed.contains(name), "{allowed}");
        }
        assert!(
            headers["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("POST")
        );
    }

    #[tokio::test]
    async fn configured_origins_narrow_the_list() {
        let origins = ["https://app.example.com".to_owned()];
        let allowed = preflight(Some(&origins), "https://app.example.com").await;
        assert!(
            allowed
                .headers()
                .contains_key("access-control-allow-origin")
        );
        let other = preflight(Some(&origins), "http://localhost:6274").await;
        assert!(!other.headers().contains_key("access-control-allow-origin"));
    }
}
