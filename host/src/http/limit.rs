//! Rate limits on `/mcp`: one per client address before authentication
//! (so wrong tokens are limited too), one per subject after it.
//!
//! Each limit is a [`RateLimit`] store; the embedded one ([`Embedded`]) is
//! governor's GCRA over a concurrent map, and a store shared by several
//! replicas can take its place behind the same trait. A refused request gets
//! 429 with `Retry-After` (whole seconds until one request is allowed again)
//! and a JSON-RPC error body.
//!
//! Keys are budgeted: IPv6 clients are keyed by their /64 (one host owns a
//! whole /64), the embedded map holds at most [`MAX_KEYS`] keys (new keys past
//! that share one bucket until the next prune), and idle keys are pruned by a
//! periodic task, never on the request path.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use http::{StatusCode, header};

use crate::caller::Caller;
use crate::config::{HttpConfig, RateLimitConfig};

/// Most keys the embedded store tracks per limit (about 100 bytes each).
pub const MAX_KEYS: usize = 100_000;

/// How often idle keys are dropped from the embedded store.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// The address limit, when only `[http.rate_limit]` is configured, is this
/// many times the subject limit: clients behind one NAT share an address.
const ADDRESS_FACTOR: u32 = 10;

/// Who a limit counts requests for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// An authenticated subject.
    Subject(Arc<str>),
    /// A client address: IPv4 as is, IPv6 reduced to its /64.
    Address(IpAddr),
}

impl Key {
    /// The key of a client at `ip`.
    pub fn address(ip: IpAddr) -> Self {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1))),
            },
            v4 => v4,
        };
        Key::Address(ip)
    }
}

/// As a shared store would name it.
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Subject(subject) => write!(f, "sub:{subject}"),
            Key::Address(IpAddr::V4(ip)) => write!(f, "ip:{ip}"),
            Key::Address(IpAddr::V6(ip)) => write!(f, "ip:{ip}/64"),
        }
    }
}

/// How long until the key may make a request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// For the `Retry-After` header: whole seconds, at least 1.
    pub fn seconds(self) -> u64 {
        (self.0.as_secs_f64().ceil() as u64).max(1)
    }
}

/// A store of rate-limit state: takes one request from `key`'s allowance,
/// or says how long to wait. A shared store (for several replicas) that
/// cannot be reached should log it and let the request through.
pub trait RateLimit: Send + Sync + 'static {
    fn check<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<(), RetryAfter>>;
}

/// Sustained rate and burst of one limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub per_second: f64,
    pub burst: u32,
}

impl Quota {
    /// `burst` defaults to one second's worth, at least 1.
    fn from_config(config: &RateLimitConfig) -> Self {
        Self {
            per_second: config.per_second,
            burst: config
                .burst
                .unwrap_or_else(|| config.per_second.ceil().min(f64::from(u32::MAX)) as u32)
                .max(1),
        }
    }

    /// Rates slower than one request a day count as one a day.
    fn to_governor(self) -> governor::Quota {
        let slowest = Duration::from_secs(24 * 60 * 60);
        let period = Duration::try_from_secs_f64(1.0 / self.per_second)
            .unwrap_or(slowest)
            .clamp(Duration::from_nanos(1), slowest);
        governor::Quota::with_period(period)
            .expect("the period is at least 1ns")
            .allow_burst(NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN))
    }
}

/// The limits `[http]` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Quotas {
    /// Per client address, before authentication.
    pub address: Option<Quota>,
    /// Per subject (without auth: per client address), after authentication.
    pub subject: Option<Quota>,
}

impl Quotas {
    /// `[http.address_limit]` when set (`per_second = 0` turns it off), else
    /// [`ADDRESS_FACTOR`] times `[http.rate_limit]` when that is set.
    pub fn from_config(config: &HttpConfig) -> Self {
        let subject = config.rate_limit.as_ref().map(Quota::from_config);
        let address = match &config.address_limit {
            Some(limit) if limit.per_second > 0.0 => Some(Quota::from_config(limit)),
            Some(_) => None,
            None => subject.map(|quota| Quota {
                per_second: quota.per_second * f64::from(ADDRESS_FACTOR),
                burst: quota.burst.saturating_mul(ADDRESS_FACTOR),
            }),
        };
        Self { address, subject }
    }
}

/// What the embedded store keys its map by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Slot {
    Key(Key),
    /// Every new key while the map is full.
    Overflow,
}

/// governor's dashmap store with a cap on keys.
struct CappedStore {
    map: DashMapStateStore<Slot>,
    max_keys: usize,
    /// Keys in the map: counted as they are added, recounted at each prune.
    keys: AtomicUsize,
}

impl StateStore for CappedStore {
    type Key = Slot;

    fn measure_and_replace<T, F, E>(&self, key: &Slot, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        if !self.map.contains_key(key) && self.keys.fetch_add(1, Ordering::Relaxed) >= self.max_keys
        {
            self.keys.fetch_sub(1, Ordering::Relaxed);
            return self.map.measure_and_replace(&Slot::Overflow, f);
        }
        self.map.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<Slot> for CappedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&self.map, drop_below);
        self.keys.store(self.map.len(), Ordering::Relaxed);
    }

    fn shrink_to_fit(&self) {
        self.map.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The in-process store: one GCRA state (a single atomic) per key.
pub struct Embedded<C: Clock = DefaultClock> {
    limiter: governor::RateLimiter<Slot, CappedStore, C, NoOpMiddleware<C::Instant>>,
}

impl Embedded {
    /// A store for `quota`, pruned in the background while it lives.
    pub fn new(quota: Quota) -> Arc<Self> {
        let store = Arc::new(Self::with_clock(quota, MAX_KEYS, DefaultClock::default()));
        store.prune_every(PRUNE_EVERY);
        store
    }

    /// Drops idle keys every `period`, on a blocking thread so the async
    /// workers never wait for it, for as long as the store exists.
    fn prune_every(self: &Arc<Self>, period: Duration) {
        let prune = |store: Arc<Self>| async move {
            let _ = tokio::task::spawn_blocking(move || store.prune()).await;
        };
        if !super::every(Arc::downgrade(self), period, prune) {
            tracing::warn!("no async runtime: rate-limit keys are never pruned");
        }
    }
}

impl<C: Clock> Embedded<C> {
    fn with_clock(quota: Quota, max_keys: usize, clock: C) -> Self {
        let store = CappedStore {
            map: DashMapStateStore::default(),
            max_keys,
            keys: AtomicUsize::new(0),
        };
        Self {
            limiter: governor::RateLimiter::new(quota.to_governor(), store, clock),
        }
    }

    fn take(&self, key: Key) -> Result<(), RetryAfter> {
        self.limiter
            .check_key(&Slot::Key(key))
            .map_err(|not_until| RetryAfter(not_until.wait_time_from(self.limiter.clock().now())))
    }

    /// Drops keys whose bucket is full again (indistinguishable from a new
    /// key) and gives the memory back.
    pub fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Keys tracked now.
    pub fn keys(&self) -> usize {
        self.limiter.len()
    }
}

impl<C: Clock + Send + Sync + 'static> RateLimit for Embedded<C> {
    fn check<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<(), RetryAfter>> {
        Box::pin(std::future::ready(self.take(key.clone())))
    }
}

/// What a limit counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// The client address.
    Address,
    /// The authenticated subject, else the client address.
    Subject,
}

/// One limit layer's state.
#[derive(Clone)]
pub struct Limit {
    pub store: Arc<dyn RateLimit>,
    pub by: By,
}

impl Limit {
    /// An embedded store for `quota`.
    pub fn embedded(quota: Quota, by: By) -> Self {
        Self {
            store: Embedded::new(quota),
            by,
        }
    }
}

/// The middleware.
pub async fn check(State(limit): State<Limit>, request: Request, next: Next) -> Response {
    let key = key_of(limit.by, &request);
    match limit.store.check(&key).await {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let seconds = wait.seconds();
            // Refusals by address come in floods; the 429 count is in
            // /metrics.
            match limit.by {
                By::Subject => tracing::info!(%key, retry_after = seconds, "rate limited"),
                By::Address => tracing::debug!(%key, retry_after = seconds, "rate limited"),
            }
            too_many_requests(seconds)
        }
    }
}

fn key_of(by: By, request: &Request) -> Key {
    if by == By::Subject
        && let Some(caller) = request.extensions().get::<Caller>()
    {
        return Key::Subject(Arc::from(caller.subject.as_str()));
    }
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(address)) => Key::address(address.ip()),
        // Not served through `serve` (tests): every such request shares one.
        None => Key::Address(IpAddr::from([0, 0, 0, 0])),
    }
}

fn too_many_requests(seconds: u64) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32000,
            "message": format!("Too Many Requests: retry in {seconds}s"),
            "data": { "retryAfter": seconds },
        },
    });
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::RETRY_AFTER, seconds.to_string()),
            (header::CONTENT_TYPE, "application/json".to_owned()),
        ],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::post;
    use governor::clock::FakeRelativeClock;
    use tower::ServiceExt as _;

    fn quota(per_second: f64, burst: u32) -> Quota {
        Quota { per_second, burst }
    }

    fn alice() -> Key {
        Key::Subject("alice".into())
    }

    #[test]
    fn buckets_refill_at_the_rate_and_keys_are_separate() {
        let clock = FakeRelativeClock::default();
        let store = Embedded::with_clock(quota(2.0, 3), MAX_KEYS, clock.clone());
        for _ in 0..3 {
            assert!(store.take(alice()).is_ok());
        }
        assert_eq!(
            store.take(alice()),
            Err(RetryAfter(Duration::from_millis(500)))
        );
        assert!(store.take(Key::Subject("bob".into())).is_ok());
        clock.advance(Duration::from_millis(500));
        assert!(store.take(alice()).is_ok());
        clock.advance(Duration::from_millis(100));
        assert!(store.take(alice()).is_err());
    }

    #[test]
    fn extreme_rates_still_make_a_quota() {
        for per_second in [1e-30, 1e-6, 1e30, f64::MAX] {
            let quota = quota(per_second, 1).to_governor();
            assert!(quota.replenish_interval() <= Duration::from_secs(86_400));
        }
    }

    #[test]
    fn retry_after_is_whole_seconds_at_least_one() {
        assert_eq!(RetryAfter(Duration::from_millis(1)).seconds(), 1);
        assert_eq!(RetryAfter(Duration::from_millis(1990)).seconds(), 2);
        assert_eq!(RetryAfter(Duration::from_secs(3)).seconds(), 3);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Key::address(a), Key::address(b));
        assert_ne!(Key::address(a), Key::address(c));
        assert_eq!(Key::address(a).to_string(), "ip:2001:db8:1:2::/64");
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(Key::address(mapped), Key::address(v4));
        assert_eq!(Key::address(v4).to_string(), "ip:192.0.2.7");
        assert_ne!(Key::address("192.0.2.8".parse().unwrap()), Key::address(v4));
    }

    #[test]
    fn idle_keys_are_pruned_and_new_keys_past_the_cap_share_a_bucket() {
        let clock = FakeRelativeClock::default();
        let store = Embedded::with_clock(quota(1.0, 1), 30_000, clock.clone());
        for n in 0..30_000u32 {
            assert!(
                store
                    .take(Key::address(IpAddr::from(n.to_be_bytes())))
                    .is_ok()
            );
        }
        assert_eq!(store.keys(), 30_000);
        // Full: two unseen addresses share the overflow bucket (burst 1).
        let late = |n: u8| Key::address(IpAddr::from([10, 0, 0, n]));
        assert!(store.take(late(1)).is_ok());
        assert!(store.take(late(2)).is_err());
        assert_eq!(store.keys(), 30_001);
        // Keys seen before the map filled keep their own bucket.
        assert!(
            store
                .take(Key::address(IpAddr::from([0, 0, 0, 1])))
                .is_err()
        );

        // Once every bucket is full again, pruning forgets them all.
        clock.advance(Duration::from_secs(3));
        store.prune();
        assert_eq!(store.keys(), 0);
        assert!(store.take(late(2)).is_ok());
        assert_eq!(store.keys(), 1);
    }

    #[test]
    fn the_address_limit_follows_the_subject_limit_unless_set() {
        let mut config = HttpConfig::default();
        assert_eq!(Quotas::from_config(&config), Quotas::default());
        config.rate_limit = Some(RateLimitConfig {
            per_second: 2.0,
            burst: None,
        });
        let quotas = Quotas::from_config(&config);
        assert_eq!(quotas.subject, Some(quota(2.0, 2)));
        assert_eq!(quotas.address, Some(quota(20.0, 20)));
        config.address_limit = Some(RateLimitConfig {
            per_second: 0.0,
            burst: None,
        });
        assert_eq!(Quotas::from_config(&config).address, None);
        config.rate_limit = None;
        config.address_limit = Some(RateLimitConfig {
            per_second: 5.0,
            burst: Some(50),
        });
        let quotas = Quotas::from_config(&config);
        assert_eq!(
            (quotas.address, quotas.subject),
            (Some(quota(5.0, 50)), None)
        );
    }

    async fn statuses(limit: Limit, caller: Option<&str>, n: usize) -> Vec<u16> {
        let app = Router::new()
            .route("/mcp", post(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(limit, check));
        let mut statuses = Vec::new();
        for _ in 0..n {
            let mut request = Request::post("/mcp").body(Body::empty()).unwrap();
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 4000))));
            if let Some(subject) = caller {
                request.extensions_mut().insert(Caller {
                    subject: subject.into(),
                    scopes: Default::default(),
                });
            }
            let response = app.clone().oneshot(request).await.unwrap();
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                assert_eq!(response.headers()[header::RETRY_AFTER], "1");
                let body = axum::body::to_bytes(response.into_body(), 4096)
                    .await
                    .unwrap();
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(body["jsonrpc"], "2.0");
                assert_eq!(body["error"]["data"]["retryAfter"], 1);
                statuses.push(429);
            } else {
                statuses.push(response.status().as_u16());
            }
        }
        statuses
    }

    #[tokio::test]
    async fn refusals_are_429_with_retry_after_and_a_json_rpc_error() {
        let limit = Limit::embedded(quota(1.0, 2), By::Subject);
        assert_eq!(statuses(limit.clone(), None, 3).await, [200, 200, 429]);
        // Another subject from the same address has its own bucket...
        assert_eq!(statuses(limit, Some("alice"), 2).await, [200, 200]);
        // ...but not for a limit by address.
        let limit = Limit::embedded(quota(1.0, 2), By::Address);
        assert_eq!(statuses(limit.clone(), None, 2).await, [200, 200]);
        assert_eq!(statuses(limit, Some("alice"), 1).await, [429]);
    }
}
