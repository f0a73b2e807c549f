//! Sending one allowed request: resolve, check each address, connect to
//! the checked one, TLS, add the grant's headers, and bound the response
//! by the call's bytes and time.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::task::AbortOnDropHandle;
use wasmtime_wasi_http::{Error, WasiBody};

use super::address;
use super::grant::Rule;
use crate::config::HttpLimits;

/// An allowed request and what it may spend.
pub struct Plan {
    pub group: Arc<str>,
    /// Lowercase, without brackets.
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub rule: Arc<Rule>,
    pub limits: HttpLimits,
    /// When the request must be over: its own timeout or the call's
    /// deadline, whichever comes first.
    pub deadline: Instant,
    pub bytes_left: Arc<AtomicU64>,
    pub stats: Arc<Stats>,
}

type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

/// Sends `request` as `plan` allows, and records it.
pub async fn send(plan: Plan, request: http::Request<WasiBody>) -> Result<Sent, Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = redacted(request.uri());
    match exchange(&plan, request, started).await {
        Ok(sent) => Ok(sent),
        Err(error) => {
            tracing::warn!(
                group = %plan.group, host = %plan.rule.pattern, %method, %path, %error,
                "outbound request failed"
            );
            plan.stats
                .record(&plan, method.as_str(), "error", 0, started.elapsed());
            Err(error)
        }
    }
}

async fn exchange(
    plan: &Plan,
    mut request: http::Request<WasiBody>,
    started: Instant,
) -> Result<Sent, Error> {
    for (name, value) in &plan.rule.headers {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    let deadline = tokio::time::Instant::from_std(plan.deadline);
    let connect_by = deadline.min(tokio::time::Instant::now() + plan.limits.connect_timeout);
    let stream = tokio::time::timeout_at(connect_by, connect(plan))
        .await
        .map_err(|_| Error::ConnectionTimeout)??;
    let (mut sender, connection) = tokio::time::timeout_at(connect_by, async {
        let io: Box<dyn Io> = match plan.tls {
            true => Box::new(tls(stream, &plan.host).await?),
            false => Box::new(stream),
        };
        hyper::client::conn::http1::handshake::<_, WasiBody>(TokioIo::new(io))
            .await
            .map_err(Error::from)
    })
    .await
    .map_err(|_| Error::ConnectionTimeout)??;
    let connection = AbortOnDropHandle::new(tokio::spawn(connection));

    // The request line carries the path only; the host is in `Host`.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;
    let method = request.method().clone();
    let first_byte_by = deadline.min(tokio::time::Instant::now() + plan.limits.first_byte_timeout);
    let response = tokio::time::timeout_at(first_byte_by, sender.send_request(request))
        .await
        .map_err(|_| Error::ConnectionReadTimeout)?
        .map_err(Error::from)?;
    let (parts, incoming) = response.into_parts();
    let body = Limited {
        incoming,
        deadline: Box::pin(tokio::time::sleep_until(deadline)),
        bytes_left: plan.bytes_left.clone(),
        limit: plan.limits.response_bytes,
        received: 0,
        record: Record {
            group: plan.group.clone(),
            rule: plan.rule.clone(),
            method,
            status: parts.status.as_u16(),
            started,
            stats: plan.stats.clone(),
        },
        _connection: connection,
    };
    Ok((
        http::Response::from_parts(parts, body.boxed_unsync()),
        Box::new(async { Ok(()) }),
    ))
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Connects to an address of the plan's host that its rule may reach.
async fn connect(plan: &Plan) -> Result<TcpStream, Error> {
    let candidates: Vec<IpAddr> = match plan.host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((plan.host.as_str(), plan.port))
            .await
            .map_err(|_| Error::DnsError {
                rcode: None,
                info_code: None,
            })?
            .map(|a| a.ip())
            .collect(),
    };
    let (allowed, refused): (Vec<IpAddr>, Vec<IpAddr>) = candidates
        .into_iter()
        .partition(|ip| plan.rule.may_reach(*ip));
    if allowed.is_empty() {
        let Some(ip) = refused.first() else {
            return Err(Error::DestinationNotFound);
        };
        let message = format!(
            "outbound request to `{}` refused: it resolves to {ip}, a {} address, which the \
             grant for `{}` does not name; name the address in the grant's `host` or \
             `addresses` if the group should reach it",
            plan.host,
            address::special(*ip).unwrap_or("special"),
            plan.rule.pattern
        );
        tracing::warn!(group = %plan.group, "{message}");
        plan.stats.denied(&plan.group);
        return Err(Error::InternalError(Some(message)));
    }
    let mut last = Error::ConnectionRefused;
    for ip in allowed {
        match TcpStream::connect((ip, plan.port)).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Error::Connect(e),
        }
    }
    Err(last)
}

async fn tls(
    stream: TcpStream,
    host: &str,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| Error::TlsCertificateError)?;
    tokio_rustls::TlsConnector::from(tls_config())
        .connect(name, stream)
        .await
        .map_err(Error::Tls)
}

/// The standard web roots (Mozilla's, through `webpki-roots`), built once;
/// upstream MCP servers over HTTPS are checked against them too.
pub(crate) fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            };
            let config = rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// A response body cut at the call's byte budget and the deadline.
struct Limited {
    incoming: hyper::body::Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    bytes_left: Arc<AtomicU64>,
    limit: u64,
    received: u64,
    record: Record,
    /// Drives the connection while the body is read; dropped with it.
    _connection: AbortOnDropHandle<Result<(), hyper::Error>>,
}

impl Body for Limited {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                let taken =
                    this.bytes_left
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                            left.checked_sub(n)
                        });
                if taken.is_err() {
                    this.bytes_left.store(0, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(Error::InternalError(Some(format!(
                        "the responses of this call exceeded {} bytes (limit `response_bytes` \
                         in [groups.{}.http_limits])",
                        this.limit, this.record.group
                    ))))));
                }
                this.received += n;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Error::InternalError(Some(format!(
                    "the response did not end in time (limit `request_timeout` in \
                     [groups.{}.http_limits], or the call's own timeout)",
                    this.record.group
                )))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        let r = &self.record;
        let status = r.status.to_string();
        tracing::info!(
            group = %r.group, host = %r.rule.pattern, method = %r.method, status = r.status,
            bytes = self.received, ms = r.started.elapsed().as_millis() as u64,
            "outbound request"
        );
        r.stats
            .requests
            .get_or_create(&labels(&r.group, &r.rule, r.method.as_str(), &status))
            .inc();
        r.stats
            .observe(&r.group, &r.rule, self.received, r.started.elapsed());
    }
}

/// What is recorded when a response's body is done with.
struct Record {
    group: Arc<str>,
    rule: Arc<Rule>,
    method: http::Method,
    status: u16,
    started: Instant,
    stats: Arc<Stats>,
}

/// The URI without its query: guests may put tokens there.
pub fn redacted(uri: &http::Uri) -> String {
    format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map_or("", |a| a.as_str()),
        uri.path()
    )
}

/// Outbound request metrics. The `host` label is the grant's host as
/// written, so its values are bounded by the config.
pub struct Stats {
    requests: Family<RequestLabels, Counter>,
    duration: Family<HostLabels, Histogram, fn() -> Histogram>,
    bytes: Family<HostLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    group: Arc<str>,
    host: Arc<str>,
    method: Arc<str>,
    status: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabels {
    group: Arc<str>,
    host: Arc<str>,
}

fn labels(group: &Arc<str>, rule: &Rule, method: &str, status: &str) -> RequestLabels {
    RequestLabels {
        group: group.clone(),
        host: rule.pattern.clone(),
        method: method.into(),
        status: status.into(),
    }
}

impl Default for Stats {
    fn default() -> Self {
        fn histogram() -> Histogram {
            Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0])
        }
        Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(histogram),
            bytes: Family::default(),
        }
    }
}

impl Stats {
    /// Adds the metrics to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "toolhost_outbound_requests",
            "Outbound HTTP requests by group, granted host, method and status \
             (`error`: no response; `denied`: refused by the grants).",
            self.requests.clone(),
        );
        registry.register(
            "toolhost_outbound_duration_seconds",
            "Outbound HTTP request time, body included, by group and granted host.",
            self.duration.clone(),
        );
        registry.register(
            "toolhost_outbound_response_bytes",
            "Outbound HTTP response body bytes, by group and granted host.",
            self.bytes.clone(),
        );
    }

    fn record(&self, plan: &Plan, method: &str, status: &str, bytes: u64, time: Duration) {
        self.requests
            .get_or_create(&labels(&plan.group, &plan.rule, method, status))
            .inc();
        self.observe(&plan.group, &plan.rule, bytes, time);
    }

    fn observe(&self, group: &Arc<str>, rule: &Rule, bytes: u64, time: Duration) {
        let host = HostLabels {
            group: group.clone(),
            host: rule.pattern.clone(),
        };
        self.duration
            .get_or_create(&host)
            .observe(time.as_secs_f64());
        self.bytes.get_or_create(&host).inc_by(bytes);
    }

    /// A request the grants refused.
    pub fn denied(&self, group: &Arc<str>) {
        self.requests
            .get_or_create(&RequestLabels {
                group: group.clone(),
                host: "".into(),
                method: "".into(),
                status: "denied".into(),
            })
            .inc();
    }
}
