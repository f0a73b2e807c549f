//! Outbound HTTP from an operation, through the host's grants.
//!
//! A group reaches only the hosts its operator granted
//! (`[[groups.NAME.http]]` in `toolhost.toml`); every request, and every
//! redirect this client follows, is checked by the host on the URL and on
//! the address the name resolves to. Credentials stay with the host: a
//! grant can add headers (an `Authorization` token, an API key) that the
//! group never sees. A refused request fails with the host's message,
//! which names the grant to add.
//!
//! ```no_run
//! use toolhost_sdk::prelude::*;
//!
//! #[derive(Deserialize)]
//! struct Forecast {
//!     temperature: f64,
//! }
//!
//! # fn example(ctx: &Context) -> Result<f64, ToolError> {
//! let forecast: Forecast = ctx
//!     .http()
//!     .get("https://api.example.com/v1/forecast?city=Oslo")
//!     .header("Accept", "application/json")
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! # Ok(forecast.temperature)
//! # }
//! ```

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{self as wasi, ErrorCode, Fields, OutgoingBody, OutgoingRequest};
use wasip2::io::streams::StreamError;

use crate::ToolError;

/// Redirects followed by default.
const DEFAULT_REDIRECTS: u8 = 5;
/// Largest response body read by default; the host has its own, per call.
const DEFAULT_MAX_BODY: usize = 16 << 20;
/// The most bytes one blocking write may carry in WASI.
const WRITE_CHUNK: usize = 4096;

/// Starts requests: `ctx.http().get(url)`. See [`Request`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Http;

impl Http {
    /// A `GET` request.
    pub fn get(&self, url: impl Into<String>) -> Request {
        Request::new(Method::Get, url)
    }

    /// A `POST` request.
    pub fn post(&self, url: impl Into<String>) -> Request {
        Request::new(Method::Post, url)
    }

    /// A `PUT` request.
    pub fn put(&self, url: impl Into<String>) -> Request {
        Request::new(Method::Put, url)
    }

    /// A `PATCH` request.
    pub fn patch(&self, url: impl Into<String>) -> Request {
        Request::new(Method::Patch, url)
    }

    /// A `DELETE` request.
    pub fn delete(&self, url: impl Into<String>) -> Request {
        Request::new(Method::Delete, url)
    }

    /// A `HEAD` request.
    pub fn head(&self, url: impl Into<String>) -> Request {
        Request::new(Method::Head, url)
    }
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
}

impl Method {
    fn wasi(self) -> wasi::Method {
        match self {
            Self::Get => wasi::Method::Get,
            Self::Head => wasi::Method::Head,
            Self::Post => wasi::Method::Post,
            Self::Put => wasi::Method::Put,
            Self::Patch => wasi::Method::Patch,
            Self::Delete => wasi::Method::Delete,
            Self::Options => wasi::Method::Options,
        }
    }
}

/// A request being built; [`send`](Self::send) sends it.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    redirects: u8,
    max_body: usize,
}

impl Request {
    /// A request with `method` to `url` (`http://` or `https://`).
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            redirects: DEFAULT_REDIRECTS,
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON, with its `Content-Type`.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, HttpError> {
        let body = serde_json::to_vec(value)
            .map_err(|e| HttpError::new(format!("cannot encode the request body: {e}")))?;
        Ok(self.header("Content-Type", "application/json").body(body))
    }

    /// How many redirects to follow (default 5; 0 returns the redirect).
    /// Each one is a new request the host checks against the grants.
    pub fn redirects(mut self, most: u8) -> Self {
        self.redirects = most;
        self
    }

    /// The largest response body to read (default 16 MiB); a longer one
    /// fails the request. The host also bounds the bytes of a whole call.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Sends the request and reads the whole response, following
    /// redirects. Fails when the host refuses it (the message names the
    /// grant to add), when the connection fails, or past a limit.
    pub fn send(mut self) -> Result<Response, HttpError> {
        let mut url = Url::parse(&self.url)?;
        let mut hops = 0;
        loop {
            let response = self.send_once(&url)?;
            let location = match response.status {
                301 | 302 | 303 | 307 | 308 => response.header("location"),
                _ => None,
            };
            let Some(location) = location.filter(|_| hops < self.redirects) else {
                return Ok(response);
            };
            hops += 1;
            let next = url.join(location)?;
            if response.status == 303
                || (matches!(response.status, 301 | 302) && self.method == Method::Post)
            {
                self.method = Method::Get;
                self.body.clear();
                self.headers
                    .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
            }
            if next.authority != url.authority {
                // Credentials the group set itself stay with their host.
                self.headers.retain(|(name, _)| {
                    !["authorization", "cookie", "proxy-authorization"]
                        .iter()
                        .any(|h| name.eq_ignore_ascii_case(h))
                });
            }
            url = next;
        }
    }

    fn send_once(&self, url: &Url) -> Result<Response, HttpError> {
        let headers: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone().into_bytes()))
            .collect();
        let fields = Fields::from_list(&headers)
            .map_err(|e| HttpError::new(format!("invalid request header: {e:?}")))?;
        let request = OutgoingRequest::new(fields);
        let scheme = match url.https {
            true => wasi::Scheme::Https,
            false => wasi::Scheme::Http,
        };
        let invalid = |what: &str| HttpError::new(format!("invalid {what} in `{}`", url.text()));
        request
            .set_method(&self.method.wasi())
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(&url.authority))
            .map_err(|()| invalid("host"))?;
        request
            .set_path_with_query(Some(&url.path))
            .map_err(|()| invalid("path"))?;
        let body = request
            .body()
            .map_err(|()| HttpError::new("the request body was taken twice"))?;
        let pending = outgoing_handler::handle(request, None).map_err(HttpError::from_code)?;
        if !self.body.is_empty() {
            let stream = body
                .write()
                .map_err(|()| HttpError::new("the request body was written twice"))?;
            for chunk in self.body.chunks(WRITE_CHUNK) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(HttpError::from_stream)?;
            }
        }
        OutgoingBody::finish(body, None).map_err(HttpError::from_code)?;
        let response = loop {
            match pending.get() {
                Some(Ok(result)) => break result.map_err(HttpError::from_code)?,
                Some(Err(())) => return Err(HttpError::new("the response was taken twice")),
                None => pending.subscribe().block(),
            }
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let incoming = response
            .consume()
            .map_err(|()| HttpError::new("the response body was taken twice"))?;
        let mut body = Vec::new();
        {
            let stream = incoming
                .stream()
                .map_err(|()| HttpError::new("the response body was taken twice"))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => {
                        if body.len() + chunk.len() > self.max_body {
                            return Err(HttpError::new(format!(
                                "the response from {} is larger than {} bytes",
                                url.text(),
                                self.max_body
                            )));
                        }
                        body.extend_from_slice(&chunk);
                    }
                    Err(StreamError::Closed) => break,
                    Err(e) => return Err(HttpError::from_stream(e)),
                }
            }
        }
        Ok(Response {
            status,
            headers,
            body,
            url: url.text(),
        })
    }
}

/// A response, its body read whole.
#[derive(Debug, Clone)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    url: String,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, as received (names in lowercase).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The URL that answered, after redirects.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The body.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            HttpError::new(format!(
                "the response from {} is not the JSON expected: {e}",
                self.url
            ))
        })
    }

    /// The response itself when its status is 2xx, else an error that
    /// names the status and the URL.
    pub fn error_for_status(self) -> Result<Self, HttpError> {
        if self.is_success() {
            return Ok(self);
        }
        Err(HttpError::new(format!(
            "{} answered with status {}",
            self.url, self.status
        )))
    }
}

/// Why a request failed. Converts into a [`ToolError`] (`unavailable`),
/// so `?` works in an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    message: String,
}

impl HttpError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    fn from_code(code: ErrorCode) -> Self {
        Self::new(describe(code))
    }

    fn from_stream(error: StreamError) -> Self {
        match error {
            StreamError::Closed => Self::new("the connection closed early"),
            StreamError::LastOperationFailed(e) => match wasi::http_error_code(&e) {
                Some(code) => Self::from_code(code),
                None => Self::new(e.to_debug_string()),
            },
        }
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for ToolError {
    fn from(error: HttpError) -> Self {
        ToolError::unavailable(error.message)
    }
}

/// A sentence for a `wasi:http` error code; the host's own refusals come
/// as `internal-error` with their message.
fn describe(code: ErrorCode) -> String {
    match code {
        ErrorCode::InternalError(Some(message)) => message,
        ErrorCode::HttpRequestDenied => "the host refused the request".into(),
        ErrorCode::DnsError(_) => "the host name could not be resolved".into(),
        ErrorCode::DestinationNotFound => "the host name has no address".into(),
        ErrorCode::ConnectionRefused => "the connection was refused".into(),
        ErrorCode::ConnectionTimeout => "connecting took too long".into(),
        ErrorCode::ConnectionReadTimeout => "the server did not answer in time".into(),
        ErrorCode::HttpResponseTimeout => "the response did not arrive in time".into(),
        ErrorCode::TlsCertificateError => "the server's TLS certificate is not valid".into(),
        other => format!("the request failed: {other:?}"),
    }
}

/// The parts of an `http(s)://` URL a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    https: bool,
    authority: String,
    /// Path and query, starting with `/`.
    path: String,
}

impl Url {
    fn parse(text: &str) -> Result<Self, HttpError> {
        let (https, rest) = if let Some(rest) = strip_prefix_ignore_case(text, "https://") {
            (true, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(text, "http://") {
            (false, rest)
        } else {
            return Err(HttpError::new(format!(
                "`{text}` is not an http:// or https:// URL"
            )));
        };
        let rest = rest.split('#').next().unwrap_or("");
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.is_empty() || authority.contains('@') {
            return Err(HttpError::new(format!(
                "`{text}` has no host, or has user information"
            )));
        }
        let path = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Self {
            https,
            authority: authority.to_owned(),
            path,
        })
    }

    /// `location` resolved against this URL.
    fn join(&self, location: &str) -> Result<Self, HttpError> {
        if location.contains("://") {
            return Self::parse(location);
        }
        let scheme = if self.https { "https" } else { "http" };
        if let Some(rest) = location.strip_prefix("//") {
            return Self::parse(&format!("{scheme}://{rest}"));
        }
        let path = if location.starts_with('/') {
            location.to_owned()
        } else {
            let base = self.path.split('?').next().unwrap_or("/");
            let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{location}")
        };
        Self::parse(&format!("{scheme}://{}{path}", self.authority))
    }

    fn text(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.path)
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let url = Url::parse("HTTPS://api.example.com:8443/v1/x?q=1#frag").unwrap();
        assert!(url.https);
        assert_eq!(url.authority, "api.example.com:8443");
        assert_eq!(url.path, "/v1/x?q=1");
        assert_eq!(Url::parse("http://h").unwrap().path, "/");
        assert_eq!(Url::parse("http://h?x=1").unwrap().path, "/?x=1");
        assert!(Url::parse("ftp://h/").is_err());
        assert!(Url::parse("http://user:pw@h/").is_err());
        assert!(Url::parse("http:///x").is_err());
    }

    #[test]
    fn redirect_locations_resolve_against_the_url() {
        let base = Url::parse("http://a.test/dir/page?x").unwrap();
        assert_eq!(base.join("/top").unwrap().text(), "http://a.test/top");
        assert_eq!(
            base.join("other").unwrap().text(),
            "http://a.test/dir/other"
        );
        assert_eq!(base.join("//b.test/x").unwrap().text(), "http://b.test/x");
        assert_eq!(
            base.join("https://c.test/").unwrap().text(),
            "https://c.test/"
        );
    }
}
