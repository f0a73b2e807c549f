//! `/healthz`, `/readyz` and `/metrics`: for orchestrators and scrapers,
//! not MCP clients.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

use crate::catalog::Catalog;
use crate::metrics::{self, Metrics};
use crate::source::SourceId;

#[derive(Clone)]
pub struct Probes {
    pub catalog: Arc<Catalog>,
    pub metrics: Arc<Metrics>,
}

/// Alive: the process answers.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready once the initial load of the plugin directory is done (503
/// before). Lists what is served and every file that failed to load, with
/// the reason; a failed file does not make the host unready, since the
/// other groups serve.
pub async fn readyz(State(probes): State<Probes>) -> Response {
    let ready = probes.catalog.is_ready();
    let snapshot = probes.catalog.snapshot();
    let groups: Vec<_> = snapshot
        .sources
        .iter()
        .map(|(id, source)| {
            let mut entry = serde_json::json!({
                "name": source.name().as_ref(),
                "version": source.description().info.version,
            });
            entry[origin(id)] = id_text(id).into();
            if let Some(status) = source.status() {
                entry["status"] = status.into();
            }
            entry
        })
        .collect();
    let failures: Vec<_> = snapshot
        .failures
        .iter()
        .map(|(id, reason)| {
            let mut entry = serde_json::json!({ "reason": reason });
            entry[origin(id)] = id_text(id).into();
            entry
        })
        .collect();
    let body = serde_json::json!({
        "ready": ready,
        "groups": groups,
        "tools": snapshot.tools.len(),
        "failed": failures,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{body:#}\n"),
    )
        .into_response()
}

/// Where a source comes from, as `/readyz` keys it: `file` or `upstream`.
fn origin(id: &SourceId) -> &'static str {
    match id {
        SourceId::File(_) => "file",
        SourceId::Upstream(_) => "upstream",
    }
}

/// The file's path, or the upstream's name.
fn id_text(id: &SourceId) -> String {
    match id {
        SourceId::File(path) => path.display().to_string(),
        SourceId::Upstream(name) => name.clone(),
    }
}

/// The metrics in the OpenMetrics text format, which Prometheus scrapes
/// natively.
pub async fn metrics(State(probes): State<Probes>) -> Response {
    let text = probes.metrics.render(&probes.catalog.snapshot());
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}
