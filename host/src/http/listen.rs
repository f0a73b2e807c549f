//! Connections: how many may be open, how long a request head may take, and
//! what an early refusal does to a kept-alive connection.
//!
//! [`accept`] is the server loop (hyper's HTTP/1 connection per socket,
//! which `axum::serve` offers without these bounds):
//!
//! - A connection must send a complete request head within `header_timeout`
//!   (also the longest a kept-alive connection waits for its next request),
//!   else it is closed: clients that trickle bytes cannot hold sockets.
//! - At most `max_connections` are open. Past that, the oldest connection
//!   that is not in a request (it is still sending a head, or idle between
//!   requests) is closed to make room, so trickling clients cannot lock out
//!   the others; when every connection is in a request, new ones wait in
//!   the kernel's backlog.
//!
//! [`drain_unread`] is a layer: a response given before the request body was
//! read (401, 403, 413, 429) first reads up to [`DRAIN_LIMIT`] of the body,
//! so that the connection is ready for the client's next request; a longer
//! or slower body gets `Connection: close`, and the client's next request
//! goes on a fresh connection instead of one with a half-read body.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, header};
use http_body_util::BodyExt as _;
use hyper::body::{Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// Most bytes of an unread request body read after an early response.
pub const DRAIN_LIMIT: usize = 64 * 1024;

/// How long reading that much may take.
const DRAIN_TIME: Duration = Duration::from_millis(500);

/// The connection bounds.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// Connections open now, oldest first.
#[derive(Default)]
struct Open {
    by_age: Mutex<BTreeMap<u64, Arc<Connection>>>,
    next: AtomicU64,
}

struct Connection {
    /// Requests being answered (the response body not yet sent).
    requests: AtomicUsize,
    /// Cancelled to close the connection at once.
    close: CancellationToken,
}

impl Open {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Connection>>> {
        self.by_age.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self) -> (u64, Arc<Connection>) {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            requests: AtomicUsize::new(0),
            close: CancellationToken::new(),
        });
        self.lock().insert(number, connection.clone());
        (number, connection)
    }

    fn remove(&self, number: u64) {
        self.lock().remove(&number);
    }

    /// Closes the oldest connection not in a request; whether there was one.
    fn close_oldest_idle(&self) -> bool {
        let open = self.lock();
        let idle = open.values().find(|connection| {
            connection.requests.load(Ordering::Acquire) == 0 && !connection.close.is_cancelled()
        });
        match idle {
            Some(connection) => {
                connection.close.cancel();
                true
            }
            None => false,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled; then stops
/// accepting, asks each connection to end after its current request, and
/// returns once all have.
pub async fn accept(
    listener: TcpListener,
    router: Router,
    bounds: Bounds,
    shutdown: CancellationToken,
) {
    let max = bounds.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let open = Arc::new(Open::default());
    let mut warned = false;
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a little rather than spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if open.close_oldest_idle() {
                    tracing::debug!("{max} connections open: closed the oldest idle one");
                } else if !warned {
                    warned = true;
                    tracing::warn!(
                        "{max} connections open, all in a request; new connections wait \
                         (raise [http] max_connections if this is expected)"
                    );
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = shutdown.cancelled() => break,
                }
            }
        };
        let (number, connection) = open.add();
        let open = open.clone();
        let router = router.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            serve_connection(
                stream,
                remote,
                router,
                &connection,
                bounds,
                shutdown,
                permit,
            )
            .await;
            open.remove(number);
        });
    }
    drop(listener);
    // Every connection holds a permit until it ends.
    let _ = permits.acquire_many(max as u32).await;
}

async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    connection: &Arc<Connection>,
    bounds: Bounds,
    shutdown: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    // Responses are small and often written in pieces (SSE events); without
    // TCP_NODELAY, Nagle's algorithm and delayed ACKs add ~40 ms to each.
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!("cannot set TCP_NODELAY: {e}");
    }
    let tracked = connection.clone();
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let in_request = InRequest::new(tracked.clone());
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(remote));
        let router = router.clone();
        async move {
            let Ok(response) = router.oneshot(request).await;
            Ok::<_, Infallible>(response.map(|body| hold(body, in_request)))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(bounds.header_timeout);
    let served = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(served);
    let mut ending = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%remote, "connection ended: {e}");
                }
                return;
            }
            () = shutdown.cancelled(), if !ending => {
                ending = true;
                served.as_mut().graceful_shutdown();
            }
            () = connection.close.cancelled() => {
                tracing::debug!(%remote, "closed an idle connection to make room");
                return;
            }
        }
    }
}

/// Counts a request on its connection while it lives.
struct InRequest(Arc<Connection>);

impl InRequest {
    fn new(connection: Arc<Connection>) -> Self {
        connection.requests.fetch_add(1, Ordering::AcqRel);
        Self(connection)
    }
}

impl Drop for InRequest {
    fn drop(&mut self) {
        self.0.requests.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A body that holds `T` until it is sent or dropped.
pub struct HeldBody<T> {
    body: Body,
    _held: T,
}

impl<T: Send + Unpin + 'static> HttpBody for HeldBody<T> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// `body` with `held` dropped when the body is sent or dropped.
pub fn hold<T: Send + Unpin + 'static>(body: Body, held: T) -> Body {
    Body::new(HeldBody { body, _held: held })
}

/// The layer: see the module doc.
pub async fn drain_unread(request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let left = Arc::new(Left::default());
    let request = request.map(|body| {
        Body::new(WatchedBody {
            body: Some(body),
            left: left.clone(),
        })
    });
    let mut response = next.run(request).await;
    let unread = left.body.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(body) = unread
        && !drain(body).await
    {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Reads `body` to its end if that is at most [`DRAIN_LIMIT`] bytes within
/// [`DRAIN_TIME`]; whether it did.
async fn drain(mut body: Body) -> bool {
    let read = async {
        let mut total = 0;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return false;
            };
            total += frame.data_ref().map_or(0, Bytes::len);
            if total > DRAIN_LIMIT {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_TIME, read)
        .await
        .unwrap_or(false)
}

/// A request body dropped before its end, left for [`drain_unread`].
#[derive(Default)]
struct Left {
    body: Mutex<Option<Body>>,
}

struct WatchedBody {
    /// `None` once the end was read.
    body: Option<Body>,
    /// Where the body goes if it is dropped unread.
    left: Arc<Left>,
}

impl HttpBody for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = Pin::new(body).poll_frame(cx);
        if let Poll::Ready(None) = frame {
            self.body = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        if let Some(body) = self.body.take()
            && !body.is_end_stream()
        {
            *self.left.body.lock().unwrap_or_else(|e| e.into_inner()) = Some(body);
        }
    }
}
