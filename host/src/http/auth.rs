//! Bearer authentication of `/mcp`, and the RFC 9728 protected-resource
//! metadata that a 401 points clients at.
//!
//! Two token sources, usable together: static tokens (from a file or an
//! environment variable; stored as BLAKE3 hashes and compared in constant
//! time, never logged) and JSON Web Tokens ([`super::jwt`]). A request that
//! proves a [`Caller`] goes on with it in its extensions; any other gets 401
//! with `WWW-Authenticate: Bearer resource_metadata="…"`.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::jwt::JwtVerifier;
use crate::caller::{Caller, ScopePolicy};
use crate::config::AuthConfig;

/// Shortest static token accepted: anything shorter is guessable.
const MIN_TOKEN_LEN: usize = 16;

/// Path of the protected-resource metadata (RFC 9728 §3).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

pub struct Authenticator {
    tokens: Vec<StaticToken>,
    jwt: Option<JwtVerifier>,
    metadata: ResourceMetadata,
}

struct StaticToken {
    hash: blake3::Hash,
    caller: Caller,
}

/// What `/.well-known/oauth-protected-resource` says.
#[derive(Clone)]
pub struct ResourceMetadata {
    /// Configured resource identifier; else derived from the request.
    resource: Option<String>,
    authorization_servers: Vec<String>,
    scopes: Vec<String>,
}

impl Authenticator {
    /// `None` when no token source is configured: auth is off. `hosts` are
    /// the `Host` values the server accepts: unless they are all loopback
    /// names, the resource identifier must be configured, since deriving it
    /// from a request's `Host` would let a client choose what the metadata
    /// says.
    pub fn from_config(
        config: &AuthConfig,
        scopes: &ScopePolicy,
        hosts: &[String],
    ) -> anyhow::Result<Option<Self>> {
        if !config.enabled() {
            if !scopes.is_empty() {
                bail!(
                    "[http.auth.scopes] needs a token source to know the caller's scopes; \
                     set tokens_file, tokens_env or [http.auth.jwt]"
                );
            }
            return Ok(None);
        }
        let mut tokens = Vec::new();
        if let Some(file) = &config.tokens_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read tokens file {}", file.display()))?;
            tokens.extend(
                parse_tokens(&text, &file.display().to_string())
                    .with_context(|| format!("in tokens file {}", file.display()))?,
            );
        }
        if let Some(var) = &config.tokens_env {
            let text = std::env::var(var).with_context(|| {
                format!("[http.auth] tokens_env: environment variable {var} is not set")
            })?;
            tokens.extend(
                parse_tokens(&text.replace(',', "\n"), var)
                    .with_context(|| format!("in environment variable {var}"))?,
            );
        }
        let jwt = config
            .jwt
            .as_ref()
            .map(JwtVerifier::from_config)
            .transpose()?;
        if tokens.is_empty() && jwt.is_none() {
            bail!("auth is configured but no token was found; every request would get 401");
        }
        if config.resource.is_none()
            && let Some(host) = hosts.iter().find(|host| !is_loopback_host(host))
        {
            bail!(
                "[http.auth] resource is not set, and allowed host `{host}` is not a loopback \
                 name, so it cannot be derived from the request's Host; set [http.auth] resource \
                 to this server's MCP URL, e.g. resource = \"https://tools.example.com/mcp\""
            );
        }
        Ok(Some(Self {
            tokens,
            jwt,
            metadata: ResourceMetadata {
                resource: config.resource.clone(),
                authorization_servers: config.authorization_servers.clone(),
                scopes: scopes.all_scopes().into_iter().map(str::to_owned).collect(),
            },
        }))
    }

    /// The caller `headers` prove, or why not.
    fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(Refusal::Missing);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(Refusal::Invalid(
                "the Authorization header is not `Bearer TOKEN`".into(),
            ))?;
        // Every entry is compared (blake3::Hash equality is constant-time),
        // so the time taken does not tell which or how many entries exist.
        let presented = blake3::hash(token.as_bytes());
        let mut found = None;
        for entry in &self.tokens {
            if entry.hash == presented {
                found = Some(&entry.caller);
            }
        }
        if let Some(caller) = found {
            return Ok(caller.clone());
        }
        match &self.jwt {
            Some(jwt) => jwt.verify(token).map_err(Refusal::Invalid),
            None => Err(Refusal::Invalid("unknown token".into())),
        }
    }

    pub fn metadata(&self) -> &ResourceMetadata {
        &self.metadata
    }
}

enum Refusal {
    Missing,
    Invalid(String),
}

/// Parses `TOKEN [SUBJECT [SCOPE...]]` lines; `#` starts a comment line.
fn parse_tokens(text: &str, source: &str) -> anyhow::Result<Vec<StaticToken>> {
    let mut tokens = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let Some(token) = words.next().filter(|word| !word.starts_with('#')) else {
            continue;
        };
        if token.len() < MIN_TOKEN_LEN {
            bail!(
                "entry {} has a token shorter than {MIN_TOKEN_LEN} characters; \
                 use a random one, e.g. `openssl rand -hex 32`",
                index + 1
            );
        }
        let subject = words
            .next()
            .map_or_else(|| format!("{source}#{}", index + 1), str::to_owned);
        tokens.push(StaticToken {
            hash: blake3::hash(token.as_bytes()),
            caller: Caller {
                subject,
                scopes: words.map(str::to_owned).collect(),
            },
        });
    }
    Ok(tokens)
}

/// Whether an allowed-host entry (`name`, `name:port`, `[v6]:port`, `*`)
/// only matches loopback names.
fn is_loopback_host(entry: &str) -> bool {
    if let Ok(ip) = entry.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let name = match entry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => entry.split(':').next().unwrap_or_default(),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    match name.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => name == "localhost" || name.ends_with(".localhost"),
    }
}

impl ResourceMetadata {
    /// The resource identifier: configured, or `http://HOST/mcp` (only when
    /// every allowed `Host` is a loopback name).
    fn resource(&self, headers: &HeaderMap) -> String {
        self.resource.clone().unwrap_or_else(|| {
            let host = headers
                .get(header::HOST)
                .and_then(|host| host.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}/mcp")
        })
    }

    /// Where the metadata of the resource is (RFC 9728 §3.1: the well-known
    /// path goes between the authority and the resource's path).
    pub fn url(&self, headers: &HeaderMap) -> String {
        let resource = self.resource(headers);
        match resource.parse::<http::Uri>() {
            Ok(uri) if uri.scheme().is_some() && uri.authority().is_some() => {
                let path = uri.path().trim_end_matches('/');
                format!(
                    "{}://{}{METADATA_PATH}{path}",
                    uri.scheme_str().unwrap_or("http"),
                    uri.authority().map(|a| a.as_str()).unwrap_or_default()
                )
            }
            _ => format!("{resource}{METADATA_PATH}"),
        }
    }

    fn document(&self, headers: &HeaderMap) -> serde_json::Value {
        let mut doc = serde_json::json!({
            "resource": self.resource(headers),
            "bearer_methods_supported": ["header"],
            "resource_name": "toolhost",
        });
        if !self.authorization_servers.is_empty() {
            doc["authorization_servers"] = self.authorization_servers.clone().into();
        }
        if !self.scopes.is_empty() {
            doc["scopes_supported"] = self.scopes.clone().into();
        }
        doc
    }

    /// `WWW-Authenticate` for a refused request.
    pub fn challenge(&self, headers: &HeaderMap, error: Option<(&str, &str)>) -> HeaderValue {
        let mut value = format!(
            "Bearer realm=\"toolhost\", resource_metadata=\"{}\"",
            self.url(headers)
        );
        if let Some((code, description)) = error {
            value.push_str(&format!(
                ", error=\"{code}\", error_description=\"{}\"",
                description.replace(['"', '\\'], "'")
            ));
        }
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }
}

/// The middleware: 401 unless the request proves a caller.
pub async fn require(
    State(auth): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    match auth.authenticate(request.headers()) {
        Ok(caller) => {
            tracing::debug!(subject = %caller.subject, "authenticated");
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(refusal) => {
            let (error, message) = match &refusal {
                Refusal::Missing => (
                    None,
                    "Unauthorized: send `Authorization: Bearer TOKEN`".to_owned(),
                ),
                Refusal::Invalid(why) => (
                    Some(("invalid_token", why.as_str())),
                    format!("Unauthorized: {why}"),
                ),
            };
            tracing::info!(reason = %message, "refused an unauthenticated request");
            let challenge = auth.metadata.challenge(request.headers(), error);
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, challenge)],
                message,
            )
                .into_response()
        }
    }
}

/// `GET /.well-known/oauth-protected-resource[/mcp]`.
pub async fn metadata(State(metadata): State<ResourceMetadata>, headers: HeaderMap) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        metadata.document(&headers).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    fn authenticator() -> Arc<Authenticator> {
        Arc::new(Authenticator {
            tokens: parse_tokens(
                "# comment\nsecret-token-number-one alice math:call\nsecret-token-number-two\n",
                "tokens",
            )
            .unwrap(),
            jwt: None,
            metadata: ResourceMetadata {
                resource: None,
                authorization_servers: vec!["https://auth.example".into()],
                scopes: vec!["math:call".into()],
            },
        })
    }

    async fn call(authorization: Option<&str>) -> Response {
        let app = Router::new()
            .route(
                "/mcp",
                get(|request: Request| async move {
                    let caller = request.extensions().get::<Caller>().unwrap();
                    format!("{} {:?}", caller.subject, caller.scopes)
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                authenticator(),
                require,
            ));
        let mut request = Request::builder()
            .uri("/mcp")
            .header("host", "127.0.0.1:9000");
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        app.oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn static_tokens_name_their_caller() {
        let response = call(Some("Bearer secret-token-number-one")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body(response).await, "alice {\"math:call\"}");
        let response = call(Some("bearer secret-token-number-two")).await;
        assert_eq!(body(response).await, "tokens#3 {}");
    }

    #[tokio::test]
    async fn refusals_point_at_the_metadata() {
        let response = call(None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"toolhost\", resource_metadata=\"http://127.0.0.1:9000/.well-known/oauth-protected-resource/mcp\""
        );
        let response = call(Some("Bearer wrong-token-wrong-token")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        let response = call(Some("Basic dXNlcjpwYXNz")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn beyond_loopback_the_resource_must_be_configured() {
        let tokens = std::env::temp_dir().join(format!("toolhost-auth-{}", std::process::id()));
        std::fs::write(&tokens, "secret-token-number-one alice\n").unwrap();
        let mut config = AuthConfig {
            tokens_file: Some(tokens.clone()),
            ..AuthConfig::default()
        };
        let scopes = ScopePolicy::default();
        let loopback = [
            "localhost",
            "127.0.0.1:8080",
            "::1",
            "[::1]:80",
            "a.localhost",
        ]
        .map(String::from);
        assert!(
            Authenticator::from_config(&config, &scopes, &loopback)
                .unwrap()
                .is_some()
        );
        for hosts in [
            vec!["*".to_owned()],
            vec!["localhost".into(), "tools.example.com".into()],
        ] {
            let error = Authenticator::from_config(&config, &scopes, &hosts)
                .err()
                .expect("refused")
                .to_string();
            assert!(error.contains("[http.auth] resource"), "{error}");
        }
        config.resource = Some("https://tools.example.com/mcp".into());
        assert!(
            Authenticator::from_config(&config, &scopes, &["*".to_owned()])
                .unwrap()
                .is_some()
        );
        let _ = std::fs::remove_file(tokens);
    }

    #[test]
    fn short_static_tokens_are_refused() {
        assert!(parse_tokens("short", "tokens").is_err());
    }

    #[test]
    fn metadata_follows_the_configured_resource() {
        let metadata = ResourceMetadata {
            resource: Some("https://tools.example.com/mcp".into()),
            authorization_servers: vec![],
            scopes: vec![],
        };
        assert_eq!(
            metadata.url(&HeaderMap::new()),
            "https://tools.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata.document(&HeaderMap::new())["resource"],
            "https://tools.example.com/mcp"
        );
    }
}
