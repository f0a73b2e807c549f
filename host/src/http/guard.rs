//! DNS-rebinding protection: a request whose `Host` or `Origin` is not on
//! the allow-lists gets 403, on every route.
//!
//! A web page on a foreign site can make a browser send requests to a
//! server on loopback (by rebinding its own name to 127.0.0.1); those
//! requests carry the foreign name in `Host` and the page's site in
//! `Origin`, which is what this layer refuses.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// The allow-lists.
#[derive(Debug, Clone)]
pub struct HostGuard {
    hosts: Vec<AllowedHost>,
    origins: Vec<AllowedOrigin>,
}

#[derive(Debug, Clone, PartialEq)]
enum AllowedHost {
    Any,
    Name { host: String, port: Option<u16> },
}

#[derive(Debug, Clone, PartialEq)]
enum AllowedOrigin {
    Any,
    Null,
    Tuple {
        scheme: String,
        host: String,
        /// `None`: any port.
        port: Option<u16>,
    },
}

/// Loopback names, the default for `Host`.
pub fn default_hosts() -> Vec<String> {
    ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(String::from)
        .collect()
}

/// Loopback origins on any port, the default for `Origin` (local tools such
/// as the MCP Inspector run on loopback).
pub fn default_origins() -> Vec<String> {
    ["http", "https"]
        .into_iter()
        .flat_map(|scheme| {
            ["localhost", "127.0.0.1", "[::1]"]
                .into_iter()
                .map(move |host| format!("{scheme}://{host}:*"))
        })
        .collect()
}

impl HostGuard {
    /// Parses the lists; an entry that cannot match anything is an error.
    pub fn new(hosts: &[String], origins: &[String]) -> anyhow::Result<Self> {
        let hosts = hosts
            .iter()
            .map(|entry| {
                parse_allowed_host(entry).ok_or_else(|| {
                    anyhow::anyhow!("allowed host `{entry}` is not a host name, `name:port` or `*`")
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let origins = origins
            .iter()
            .map(|entry| {
                parse_allowed_origin(entry).ok_or_else(|| {
                    anyhow::anyhow!(
                        "allowed origin `{entry}` is not `scheme://host[:port]`, \
                         `scheme://host:*`, `null` or `*`"
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { hosts, origins })
    }

    /// Why `request` is refused, if it is: the status and a one-line reason.
    fn refuse(&self, request: &Request) -> Option<(StatusCode, &'static str)> {
        let forbidden = |reason| Some((StatusCode::FORBIDDEN, reason));
        let host = request
            .headers()
            .get(http::header::HOST)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .or_else(|| request.uri().authority().map(|a| a.to_string()));
        let Some(host) = host else {
            return forbidden("Forbidden: missing Host header");
        };
        let Some((host, port)) = parse_authority(&host) else {
            return Some((
                StatusCode::BAD_REQUEST,
                "Bad Request: malformed Host header; send `name` or `name:port` \
                 with a port from 0 to 65535",
            ));
        };
        if !self.hosts.iter().any(|allowed| match allowed {
            AllowedHost::Any => true,
            AllowedHost::Name {
                host: name,
                port: allowed_port,
            } => *name == host && allowed_port.is_none_or(|p| Some(p) == port),
        }) {
            return forbidden("Forbidden: Host header is not allowed");
        }
        let origin = request.headers().get(http::header::ORIGIN)?;
        let origin = origin.to_str().ok().and_then(parse_origin);
        let allowed = origin.is_some_and(|origin| {
            self.origins.iter().any(|allowed| match (allowed, &origin) {
                (AllowedOrigin::Any, _) => true,
                (AllowedOrigin::Null, AllowedOrigin::Null) => true,
                (
                    AllowedOrigin::Tuple { scheme, host, port },
                    AllowedOrigin::Tuple {
                        scheme: s,
                        host: h,
                        port: p,
                    },
                ) => {
                    scheme == s
                        && host == h
                        && port.is_none_or(|port| Some(port) == p.or(default_port(s)))
                }
                _ => false,
            })
        });
        (!allowed).then_some((
            StatusCode::FORBIDDEN,
            "Forbidden: Origin header is not allowed",
        ))
    }
}

/// The middleware: 403 (400 for a malformed `Host`) with a one-line reason,
/// or on to the next layer.
pub async fn check(State(guard): State<Arc<HostGuard>>, request: Request, next: Next) -> Response {
    if let Some((status, reason)) = guard.refuse(&request) {
        tracing::warn!(
            host = ?request.headers().get(http::header::HOST),
            origin = ?request.headers().get(http::header::ORIGIN),
            "refused: {reason}"
        );
        return (status, reason).into_response();
    }
    next.run(request).await
}

fn parse_allowed_host(entry: &str) -> Option<AllowedHost> {
    let entry = entry.trim();
    if entry == "*" {
        return Some(AllowedHost::Any);
    }
    // A bare IPv6 address (`::1`) is not an authority.
    if let Ok(std::net::IpAddr::V6(ip)) = entry.parse() {
        return Some(AllowedHost::Name {
            host: ip.to_string(),
            port: None,
        });
    }
    let (host, port) = parse_authority(entry)?;
    Some(AllowedHost::Name { host, port })
}

fn parse_allowed_origin(entry: &str) -> Option<AllowedOrigin> {
    let entry = entry.trim();
    match entry {
        "*" => return Some(AllowedOrigin::Any),
        "null" => return Some(AllowedOrigin::Null),
        _ => {}
    }
    if let Some(base) = entry.strip_suffix(":*") {
        let AllowedOrigin::Tuple { scheme, host, .. } = parse_origin(base)? else {
            return None;
        };
        return Some(AllowedOrigin::Tuple {
            scheme,
            host,
            port: None,
        });
    }
    match parse_origin(entry)? {
        AllowedOrigin::Tuple { scheme, host, port } => Some(AllowedOrigin::Tuple {
            port: port.or(default_port(&scheme)),
            scheme,
            host,
        }),
        other => Some(other),
    }
}

/// `scheme://host[:port]` or `null`, as browsers send it.
fn parse_origin(value: &str) -> Option<AllowedOrigin> {
    if value.eq_ignore_ascii_case("null") {
        return Some(AllowedOrigin::Null);
    }
    let uri: http::Uri = value.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let (host, port) = parse_authority(uri.authority()?.as_str())?;
    Some(AllowedOrigin::Tuple { scheme, host, port })
}

/// `host[:port]` with the host lower-cased and IPv6 brackets removed; `None`
/// when malformed, a port that is not a `u16` (`localhost:99999`) or empty
/// included.
fn parse_authority(value: &str) -> Option<(String, Option<u16>)> {
    let authority: http::uri::Authority = value.parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    // `Authority` reads an out-of-range port as no port at all.
    let after_host = match authority.as_str().rfind(']') {
        Some(end) => &authority.as_str()[end + 1..],
        None => authority
            .as_str()
            .rfind(':')
            .map_or("", |colon| &authority.as_str()[colon..]),
    };
    if let Some(port) = after_host.strip_prefix(':')
        && port.parse::<u16>().is_err()
    {
        return None;
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    Some((host, authority.port_u16()))
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    async fn status(guard: &HostGuard, host: &str, origin: Option<&str>) -> StatusCode {
        let app = Router::new().route("/", get(|| async { "ok" })).layer(
            axum::middleware::from_fn_with_state(Arc::new(guard.clone()), check),
        );
        let mut request = Request::builder().uri("/").header("host", host);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        app.oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn loopback_defaults_refuse_foreign_hosts_and_origins() {
        let guard = HostGuard::new(&default_hosts(), &default_origins()).unwrap();
        assert_eq!(status(&guard, "127.0.0.1:8080", None).await, StatusCode::OK);
        assert_eq!(status(&guard, "localhost", None).await, StatusCode::OK);
        assert_eq!(status(&guard, "[::1]:9000", None).await, StatusCode::OK);
        assert_eq!(
            status(&guard, "localhost:1", Some("http://localhost:6274")).await,
            StatusCode::OK
        );
        assert_eq!(
            status(&guard, "evil.example:8080", None).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(&guard, "127.0.0.1:8080", Some("https://evil.example")).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(&guard, "127.0.0.1:8080", Some("not an origin")).await,
            StatusCode::FORBIDDEN
        );
    }

    #[tokio::test]
    async fn hosts_with_impossible_ports_are_malformed() {
        let guard = HostGuard::new(&default_hosts(), &default_origins()).unwrap();
        for host in [
            "localhost:99999",
            "localhost:65536",
            "localhost:",
            "localhost:8o80",
            "[::1]:123456",
            "[::1]:",
        ] {
            assert_eq!(
                status(&guard, host, None).await,
                StatusCode::BAD_REQUEST,
                "{host}"
            );
        }
        assert_eq!(
            status(&guard, "localhost:65535", None).await,
            StatusCode::OK
        );
        assert_eq!(status(&guard, "[::1]", None).await, StatusCode::OK);
        assert!(HostGuard::new(&["example.com:99999".into()], &[]).is_err());
    }

    #[tokio::test]
    async fn configured_entries_match_ports_as_written() {
        let guard = HostGuard::new(
            &["tools.example.com:443".into(), "api.example.com".into()],
            &["https://app.example.com".into()],
        )
        .unwrap();
        assert_eq!(
            status(&guard, "tools.example.com:443", None).await,
            StatusCode::OK
        );
        assert_eq!(
            status(&guard, "tools.example.com:80", None).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(&guard, "api.example.com:1", None).await,
            StatusCode::OK
        );
        assert_eq!(
            status(&guard, "api.example.com", Some("https://app.example.com")).await,
            StatusCode::OK
        );
        assert_eq!(
            status(
                &guard,
                "api.example.com",
                Some("https://app.example.com:8443")
            )
            .await,
            StatusCode::FORBIDDEN
        );
        let open = HostGuard::new(&["*".into()], &["*".into()]).unwrap();
        assert_eq!(
            status(&open, "anything", Some("null")).await,
            StatusCode::OK
        );
        assert!(HostGuard::new(&["bad host".into()], &[]).is_err());
        assert!(HostGuard::new(&[], &["app.example.com".into()]).is_err());
    }
}
