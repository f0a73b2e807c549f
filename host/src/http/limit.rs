//! Rate limit per subject: a token bucket per authenticated subject, or per
//! client IP when there is no caller. An empty bucket means 429 with
//! `Retry-After` (whole seconds until one request is allowed again).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

use crate::caller::Caller;
use crate::config::RateLimitConfig;

/// Above this many tracked subjects, idle (full) buckets are dropped.
const PRUNE_ABOVE: usize = 10_000;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig) -> Self {
        let burst = config
            .burst
            .map_or(config.per_second.ceil(), f64::from)
            .max(1.0);
        Self {
            per_second: config.per_second,
            burst,
            buckets: Mutex::default(),
        }
    }

    /// Takes one token from `subject`'s bucket, or says how long to wait.
    pub fn take(&self, subject: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(subject.to_owned()).or_insert_with(|| Bucket {
            tokens: self.burst,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

/// The middleware.
pub async fn check(
    State(limiter): State<Arc<RateLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let subject = match request.extensions().get::<Caller>() {
        Some(caller) => format!("sub:{}", caller.subject),
        None => match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(address)) => format!("ip:{}", address.ip()),
            None => "ip:unknown".to_owned(),
        },
    };
    match limiter.take(&subject, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            tracing::info!(%subject, retry_after = seconds, "rate limited");
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, seconds.to_string())],
                format!("Too Many Requests: retry in {seconds}s"),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_at_the_rate_and_subjects_are_separate() {
        let limiter = RateLimiter::new(&RateLimitConfig {
            per_second: 2.0,
            burst: Some(3),
        });
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("alice", start).is_ok());
        }
        let wait = limiter.take("alice", start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(limiter.take("bob", start).is_ok());
        assert!(
            limiter
                .take("alice", start + Duration::from_millis(500))
                .is_ok()
        );
        assert!(
            limiter
                .take("alice", start + Duration::from_millis(600))
                .is_err()
        );
    }
}
