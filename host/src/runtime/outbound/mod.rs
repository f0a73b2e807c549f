//! Outbound HTTP: `wasi:http/outgoing-handler`, denied unless granted.
//!
//! Every request a group sends is checked against its
//! `[[groups.NAME.http]]` grants ([`grant`]): scheme, host, port, method
//! and path. The host then resolves the name itself, checks every address
//! it would connect to ([`address`]: special addresses need a grant that
//! names them, so a DNS answer cannot smuggle `127.0.0.1` past a name
//! grant), connects to exactly the address it checked, adds the grant's
//! secret headers, and bounds the request ([`send`]). The host never
//! follows redirects: a redirect is a new request, checked again, and a
//! secret header belongs to the grant, so it goes only where that grant
//! allows.

mod address;
mod grant;
pub(crate) use grant::expand;
mod send;
pub(crate) use send::tls_config;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use wasmtime::component::Linker;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

pub use self::send::Stats;
use super::capability::{Capability, Grant, InstanceBuilder};
use super::state::CallState;
use crate::config::{HttpLimits, Policy};
use grant::Rules;

/// The capability: links `wasi:http` and turns `[[groups.NAME.http]]`
/// into each instance's [`Hooks`].
pub struct Outbound {
    stats: Arc<Stats>,
}

impl Outbound {
    pub fn new(stats: Arc<Stats>) -> Self {
        Self { stats }
    }
}

struct OutboundGrant {
    rules: Arc<Rules>,
    limits: HttpLimits,
    stats: Arc<Stats>,
}

impl Capability for Outbound {
    fn key(&self) -> &'static str {
        "http"
    }

    fn link(&self, linker: &mut Linker<CallState>) -> anyhow::Result<()> {
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
    }

    fn grant(&self, policy: &Policy) -> anyhow::Result<Option<Arc<dyn Grant>>> {
        // Every group gets hooks, so that a request from a group without
        // grants is refused with a message naming the key to add.
        Ok(Some(Arc::new(OutboundGrant {
            rules: Arc::new(Rules::new(&policy.http)?),
            limits: policy.http_limits,
            stats: self.stats.clone(),
        })))
    }
}

impl Grant for OutboundGrant {
    fn build(&self, instance: &mut InstanceBuilder<'_>) -> anyhow::Result<()> {
        *instance.http = Box::new(Hooks {
            group: instance.group.clone(),
            rules: self.rules.clone(),
            limits: self.limits,
            stats: self.stats.clone(),
            call: Call::new(Instant::now()),
        });
        Ok(())
    }
}

/// What the `wasi:http` implementation asks of an instance: one per
/// instance, reset at each call.
pub trait CallHooks: WasiHttpHooks {
    /// A call starts; it must end by `deadline`.
    fn begin_call(&mut self, deadline: Instant);
}

/// Hooks of an instance of a group: its grants and this call's budget.
struct Hooks {
    group: Arc<str>,
    rules: Arc<Rules>,
    limits: HttpLimits,
    stats: Arc<Stats>,
    call: Call,
}

/// What the current call has spent.
struct Call {
    deadline: Instant,
    requests: u32,
    /// Response bytes left, shared by the call's requests.
    bytes_left: Arc<AtomicU64>,
}

impl Call {
    fn new(deadline: Instant) -> Self {
        Self {
            deadline,
            requests: 0,
            bytes_left: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl CallHooks for Hooks {
    fn begin_call(&mut self, deadline: Instant) {
        self.call = Call::new(deadline);
        self.call.bytes_left.store(
            self.limits.response_bytes,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let plan = match self.check(&request) {
            Ok(plan) => plan,
            Err(why) => {
                let message = format!(
                    "outbound request {} {} refused: {why}",
                    request.method(),
                    send::redacted(request.uri())
                );
                if self.call.requests <= self.limits.requests.saturating_add(1) {
                    tracing::warn!(group = %self.group, "{message}");
                }
                self.stats.denied(&self.group);
                return Box::new(async move { Err(Error::InternalError(Some(message))) });
            }
        };
        Box::new(send::send(plan, request))
    }
}

impl Hooks {
    /// Which grant allows `request` and what it may spend, or why it is
    /// refused.
    fn check(&mut self, request: &http::Request<WasiBody>) -> Result<send::Plan, String> {
        // Every attempt counts, refused or not: a guest looping on refused
        // requests meets the same limit (and logs at most one line past it).
        self.call.requests = self.call.requests.saturating_add(1);
        if self.call.requests > self.limits.requests {
            return Err(format!(
                "this call already sent {} requests (limit `requests` in \
                 [groups.{}.http_limits])",
                self.limits.requests, self.group
            ));
        }
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let host = uri
            .host()
            .ok_or("the request has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "http" { 80 } else { 443 });
        let target = grant::Target {
            scheme: &scheme,
            host: &host,
            port,
            method: request.method().as_str(),
            path: uri.path(),
        };
        let rule = self.rules.find(&target).map_err(|why| {
            format!(
                "{why}; grant it with a [[groups.{}.http]] entry in toolhost.toml",
                self.group
            )
        })?;
        let now = Instant::now();
        Ok(send::Plan {
            group: self.group.clone(),
            host,
            port,
            tls: scheme == "https",
            rule,
            limits: self.limits,
            deadline: self.call.deadline.min(now + self.limits.request_timeout),
            bytes_left: self.call.bytes_left.clone(),
            stats: self.stats.clone(),
        })
    }
}

/// Hooks of an instance built without the capability: everything refused.
pub struct Denied;

impl WasiHttpHooks for Denied {
    fn send_request(
        &mut self,
        _request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        Box::new(async { Err(Error::HttpRequestDenied) })
    }
}

impl CallHooks for Denied {
    fn begin_call(&mut self, _deadline: Instant) {}
}
