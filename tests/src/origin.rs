//! A web server on loopback for the outbound HTTP tests and benchmarks:
//! the same routes on `127.0.0.1` and on `127.0.0.2`, so a redirect can
//! cross to another host without leaving the machine.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Bytes `/huge` sends: more than any test grants.
const HUGE: usize = 64 << 20;

/// The HTML `/page` serves.
pub const PAGE: &str = "<html><head><title>Tide tables</title><style>p{color:red}</style></head>\
    <body><h1>High tide</h1><script>ignored()</script><p>at 06:42 &amp; 19:03</p></body></html>";

/// A running origin; stops when dropped.
pub struct Origin {
    /// Port on 127.0.0.1.
    pub port: u16,
    /// Port on 127.0.0.2.
    pub other_port: u16,
    recorded: Recorded,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

type Recorded = Arc<Mutex<Vec<HeaderMap>>>;

impl Origin {
    /// Serves `/page` (HTML), `/json`, `/kib` (1 KiB of text), `/record`
    /// (remembers the request's headers), `/redirect?to=URL`, `/slow` (no
    /// answer for a minute) and `/huge` (64 MiB).
    pub async fn start() -> Origin {
        let recorded = Recorded::default();
        let app = Router::new()
            .route(
                "/page",
                get(|| async { ([(header::CONTENT_TYPE, "text/html")], PAGE) }),
            )
            .route(
                "/json",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        r#"{"station":{"name":"Bergen","levels":[112,87,140]}}"#,
                    )
                }),
            )
            .route("/kib", get(|| async { "x".repeat(1024) }))
            .route(
                "/record",
                get(
                    |State(recorded): State<Recorded>, headers: HeaderMap| async move {
                        recorded.lock().unwrap().push(headers);
                        "recorded"
                    },
                ),
            )
            .route(
                "/redirect",
                // `?to=URL`, the URL written plainly.
                get(|RawQuery(query): RawQuery| async move {
                    let to = query.unwrap_or_default();
                    let to = to.strip_prefix("to=").unwrap_or_default().to_owned();
                    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
                }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            )
            .route(
                "/huge",
                get(|| async {
                    let chunk = bytes::Bytes::from(vec![b'x'; 64 << 10]);
                    let chunks = HUGE / chunk.len();
                    let stream = futures::stream::iter(
                        (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
                    );
                    Response::new(Body::from_stream(stream))
                }),
            )
            .with_state(recorded.clone());
        let mut tasks = Vec::new();
        let mut ports = Vec::new();
        for ip in ["127.0.0.1", "127.0.0.2"] {
            let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
            ports.push(listener.local_addr().unwrap().port());
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                axum::serve(listener, app).await.unwrap();
            }));
        }
        Origin {
            port: ports[0],
            other_port: ports[1],
            recorded,
            tasks,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `http://127.0.0.2:PORT{path}`.
    pub fn other_url(&self, path: &str) -> String {
        format!("http://127.0.0.2:{}{path}", self.other_port)
    }

    /// The headers of every `/record` request so far.
    pub fn recorded(&self) -> Vec<HeaderMap> {
        self.recorded.lock().unwrap().clone()
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
