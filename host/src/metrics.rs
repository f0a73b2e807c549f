//! What the host counts, and its exposition at `/metrics`.
//!
//! The counters live in a `prometheus-client` registry and are rendered in
//! the OpenMetrics text format, which Prometheus scrapes natively. Both
//! transports record into the same [`Metrics`]: every request a client makes
//! of a group ([`Metrics::record_request`], or [`Metrics::record_call`] for a
//! finished `tools/call`), every HTTP response ([`Metrics::record_http`]).
//!
//! Label values that come from plugins (tool, prompt and resource names) are
//! budgeted: past [`MAX_NAMES`] distinct values per label, new ones are
//! counted as `other`, so a plugin that publishes thousands of names (or a
//! reload loop that renames them) cannot grow the exposition without bound.

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::catalog::Snapshot;
use crate::service::CallOutcome;

/// Upper bounds (seconds) of the latency histogram buckets.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

/// Most distinct values of one plugin-given label; the rest count as
/// [`OTHER`].
pub const MAX_NAMES: usize = 1000;

/// The label value names past [`MAX_NAMES`] are folded into.
pub const OTHER: &str = "other";

/// `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `kind` of [`Metrics::record_request`] that feeds the `toolhost_call*`
/// metrics; every other kind feeds `toolhost_requests_total`.
pub const TOOL: &str = "tool";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolOutcome {
    tool: Arc<str>,
    outcome: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabel {
    /// A name from `[upstreams]` of the config: bounded by the operator.
    upstream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabel {
    tool: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolFault {
    tool: Arc<str>,
    kind: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindNameOutcome {
    kind: Arc<str>,
    name: Arc<str>,
    outcome: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: u16,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every counter of one host process.
pub struct Metrics {
    registry: Registry,
    calls: Family<ToolOutcome, Counter>,
    call_duration: Histograms<ToolLabel>,
    fuel: Family<ToolLabel, Counter>,
    faults: Family<ToolFault, Counter>,
    requests: Family<KindNameOutcome, Counter>,
    request_duration: Histograms<KindLabel>,
    in_flight: Gauge,
    groups_loaded: Gauge,
    tools: Gauge,
    groups_failed: Gauge,
    upstreams_up: Family<UpstreamLabel, Gauge>,
    http: Family<StatusLabel, Counter>,
    tool_names: Names,
    other_names: Names,
    /// Small label values given by the code (outcomes, kinds).
    words: Names,
}

/// Marks one call in flight until dropped.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Self::with_outbound(&crate::runtime::outbound::Stats::default())
    }

    /// Metrics that include the runtime's outbound HTTP requests.
    pub fn with_outbound(outbound: &crate::runtime::outbound::Stats) -> Arc<Self> {
        let mut registry = Registry::default();
        outbound.register(&mut registry);
        let calls = Family::default();
        registry.register(
            "toolhost_calls",
            "Tool calls by tool and outcome.",
            calls.clone(),
        );
        let call_duration: Histograms<ToolLabel> = Family::new_with_constructor(latency_histogram);
        registry.register(
            "toolhost_call_duration_seconds",
            "Tool call latency, validation and plugin run included.",
            call_duration.clone(),
        );
        let fuel = Family::default();
        registry.register(
            "toolhost_fuel_used",
            "Fuel consumed by successful calls, by tool.",
            fuel.clone(),
        );
        let faults = Family::default();
        registry.register(
            "toolhost_faults",
            "Calls stopped by the sandbox, by tool and kind (fuel, timeout, memory, stack, \
             output_too_large are limit hits; panic, trap, invalid_output, ... are plugin faults).",
            faults.clone(),
        );
        let requests = Family::default();
        registry.register(
            "toolhost_requests",
            "Requests other than tool calls (resource reads, prompts, completions) by kind, \
             name and outcome.",
            requests.clone(),
        );
        let request_duration: Histograms<KindLabel> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "toolhost_request_duration_seconds",
            "Latency of requests other than tool calls, by kind.",
            request_duration.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "toolhost_calls_in_flight",
            "Tool calls running now.",
            in_flight.clone(),
        );
        let groups_loaded = Gauge::default();
        registry.register(
            "toolhost_groups_loaded",
            "Groups being served.",
            groups_loaded.clone(),
        );
        let tools = Gauge::default();
        registry.register("toolhost_tools", "Tools being served.", tools.clone());
        let groups_failed = Gauge::default();
        registry.register(
            "toolhost_groups_failed",
            "Plugin files that failed to load (see /readyz for why).",
            groups_failed.clone(),
        );
        let upstreams_up = Family::default();
        registry.register(
            "toolhost_upstream_up",
            "1 while an upstream MCP server is served and its circuit breaker is closed, else 0 \
             (see /readyz for why).",
            upstreams_up.clone(),
        );
        let http = Family::default();
        registry.register(
            "toolhost_http_requests",
            "HTTP responses by status code.",
            http.clone(),
        );
        Arc::new(Self {
            registry,
            calls,
            call_duration,
            fuel,
            faults,
            requests,
            request_duration,
            in_flight,
            groups_loaded,
            tools,
            groups_failed,
            upstreams_up,
            http,
            tool_names: Names::new(MAX_NAMES),
            other_names: Names::new(MAX_NAMES),
            words: Names::new(MAX_NAMES),
        })
    }

    /// Counts a call as in flight for as long as the guard lives; shutdown
    /// waits for this to reach zero.
    pub fn call_started(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(self)
    }

    /// Calls running now.
    pub fn in_flight(&self) -> u64 {
        u64::try_from(self.in_flight.get()).unwrap_or(0)
    }

    /// Records one finished request of `kind` ([`TOOL`], `"resource"`,
    /// `"prompt"`, ...) for `name` that ended as `outcome` (`ok`,
    /// `plugin_error`, `invalid_arguments`, `fault`, ...). `name` should be
    /// bounded (a tool or prompt name, a resource template rather than each
    /// URI); past [`MAX_NAMES`] distinct names it is counted as `other`.
    pub fn record_request(&self, kind: &str, name: &str, outcome: &str, elapsed: Duration) {
        let outcome = self.words.get(outcome);
        if kind == TOOL {
            let tool = self.tool_names.get(name);
            self.calls
                .get_or_create(&ToolOutcome {
                    tool: tool.clone(),
                    outcome,
                })
                .inc();
            self.call_duration
                .get_or_create(&ToolLabel { tool })
                .observe(elapsed.as_secs_f64());
        } else {
            let kind = self.words.get(kind);
            self.requests
                .get_or_create(&KindNameOutcome {
                    kind: kind.clone(),
                    name: self.other_names.get(name),
                    outcome,
                })
                .inc();
            self.request_duration
                .get_or_create(&KindLabel { kind })
                .observe(elapsed.as_secs_f64());
        }
    }

    /// Adds `fuel` consumed by a successful call of `tool`.
    pub fn record_fuel(&self, tool: &str, fuel: u64) {
        let tool = self.tool_names.get(tool);
        self.fuel.get_or_create(&ToolLabel { tool }).inc_by(fuel);
    }

    /// Counts one call of `tool` stopped by the sandbox, by
    /// [`crate::runtime::FaultKind::label`].
    pub fn record_fault(&self, tool: &str, kind: &str) {
        let tool = self.tool_names.get(tool);
        let kind = self.words.get(kind);
        self.faults.get_or_create(&ToolFault { tool, kind }).inc();
    }

    /// Records one finished `tools/call` of `tool`: its outcome, latency,
    /// fuel and fault kind.
    pub fn record_call(&self, tool: &str, outcome: &CallOutcome, elapsed: Duration) {
        let label = match outcome {
            CallOutcome::Done { fuel_used, .. } => {
                self.record_fuel(tool, *fuel_used);
                "ok"
            }
            CallOutcome::PluginError(_) => "plugin_error",
            CallOutcome::InvalidArguments(_) => "invalid_arguments",
            CallOutcome::Fault(fault) => {
                self.record_fault(tool, fault.kind.label());
                "fault"
            }
        };
        self.record_request(TOOL, tool, label, elapsed);
    }

    /// Records one HTTP response.
    pub fn record_http(&self, status: u16) {
        self.http.get_or_create(&StatusLabel { status }).inc();
    }

    /// The OpenMetrics text exposition ([`CONTENT_TYPE`]) of every counter,
    /// plus gauges read from `catalog`.
    pub fn render(&self, catalog: &Snapshot) -> String {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.groups_loaded.set(count(catalog.sources.len()));
        self.tools.set(count(catalog.tools.len()));
        self.groups_failed.set(count(catalog.failures.len()));
        let upstream = |id: &crate::source::SourceId| match id {
            crate::source::SourceId::Upstream(name) => Some(UpstreamLabel {
                upstream: name.clone(),
            }),
            crate::source::SourceId::File(_) => None,
        };
        for (id, source) in &catalog.sources {
            if let Some(label) = upstream(id) {
                let up = source.status().is_none();
                self.upstreams_up.get_or_create(&label).set(i64::from(up));
            }
        }
        for id in catalog.failures.keys() {
            if let Some(label) = upstream(id)
                && !catalog.sources.contains_key(id)
            {
                self.upstreams_up.get_or_create(&label).set(0);
            }
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// A budget of distinct label values: each value is interned once, and past
/// the budget unseen values become [`OTHER`].
struct Names {
    seen: RwLock<HashSet<Arc<str>>>,
    max: usize,
    other: Arc<str>,
    /// How many values were folded into `other` (for the warning).
    folded: AtomicU64,
}

impl Names {
    fn new(max: usize) -> Self {
        Self {
            seen: RwLock::default(),
            max,
            other: Arc::from(OTHER),
            folded: AtomicU64::new(0),
        }
    }

    fn get(&self, name: &str) -> Arc<str> {
        if let Some(name) = self
            .seen
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return name.clone();
        }
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        if let Some(name) = seen.get(name) {
            return name.clone();
        }
        if seen.len() >= self.max {
            let folded = self
                .folded
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if folded == 0 {
                tracing::warn!(
                    limit = self.max,
                    "more distinct names than the metrics keep; counting the rest as `{OTHER}`"
                );
            }
            return self.other.clone();
        }
        let name: Arc<str> = Arc::from(name);
        seen.insert(name.clone());
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Output;

    fn done(fuel_used: u64) -> CallOutcome {
        CallOutcome::Done {
            output: Output {
                content: Vec::new(),
                structured: None,
            },
            structured: None,
            fuel_used,
        }
    }

    #[test]
    fn calls_are_counted_by_tool_and_outcome() {
        let metrics = Metrics::new();
        metrics.record_call("math_add", &done(100), Duration::from_micros(300));
        metrics.record_call("math_add", &done(50), Duration::from_millis(20));
        metrics.record_call(
            "math_add",
            &CallOutcome::InvalidArguments(vec!["/a: nope".into()]),
            Duration::from_micros(10),
        );
        metrics.record_http(200);
        metrics.record_http(200);
        metrics.record_http(429);
        let text = metrics.render(&Snapshot::default());
        for line in [
            "# TYPE toolhost_calls counter",
            "toolhost_calls_total{tool=\"math_add\",outcome=\"ok\"} 2",
            "toolhost_calls_total{tool=\"math_add\",outcome=\"invalid_arguments\"} 1",
            "toolhost_fuel_used_total{tool=\"math_add\"} 150",
            "toolhost_call_duration_seconds_bucket{le=\"0.0005\",tool=\"math_add\"} 2",
            "toolhost_call_duration_seconds_bucket{le=\"+Inf\",tool=\"math_add\"} 3",
            "toolhost_call_duration_seconds_count{tool=\"math_add\"} 3",
            "toolhost_http_requests_total{status=\"200\"} 2",
            "toolhost_http_requests_total{status=\"429\"} 1",
            "toolhost_groups_loaded 0",
            "toolhost_calls_in_flight 0",
            "# EOF",
        ] {
            assert!(text.contains(line), "no `{line}` in:\n{text}");
        }
    }

    #[test]
    fn other_kinds_have_their_own_counter() {
        let metrics = Metrics::new();
        metrics.record_request("prompt", "text_rewrite", "ok", Duration::from_millis(1));
        let text = metrics.render(&Snapshot::default());
        assert!(
            text.contains(
                "toolhost_requests_total{kind=\"prompt\",name=\"text_rewrite\",outcome=\"ok\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("toolhost_request_duration_seconds_count{kind=\"prompt\"} 1"),
            "{text}"
        );
        assert!(!text.contains("toolhost_calls_total{"), "{text}");
    }

    #[test]
    fn names_past_the_budget_count_as_other() {
        let metrics = Metrics::new();
        for n in 0..MAX_NAMES + 5 {
            metrics.record_request(TOOL, &format!("tool_{n}"), "ok", Duration::ZERO);
        }
        metrics.record_request(TOOL, "tool_0", "ok", Duration::ZERO);
        let text = metrics.render(&Snapshot::default());
        assert!(
            text.contains("toolhost_calls_total{tool=\"other\",outcome=\"ok\"} 5"),
            "{text}"
        );
        assert!(text.contains("toolhost_calls_total{tool=\"tool_0\",outcome=\"ok\"} 2"));
        let series = text
            .lines()
            .filter(|line| line.starts_with("toolhost_calls_total{"))
            .count();
        assert_eq!(series, MAX_NAMES + 1);
    }

    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::new();
        metrics.record_request(TOOL, "a\"b\\c\nd", "ok", Duration::ZERO);
        let text = metrics.render(&Snapshot::default());
        assert!(text.contains(r#"tool="a\"b\\c\nd""#), "{text}");
    }

    #[test]
    fn in_flight_follows_guards() {
        let metrics = Metrics::new();
        let first = metrics.call_started();
        let second = metrics.call_started();
        assert_eq!(metrics.in_flight(), 2);
        drop(first);
        drop(second);
        assert_eq!(metrics.in_flight(), 0);
    }
}
