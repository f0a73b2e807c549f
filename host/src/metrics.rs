//! What the host counts, and its Prometheus text exposition (`/metrics`).
//!
//! Counters are atomics behind a map that is only written when a tool or a
//! status code is seen for the first time, so recording a call costs a read
//! lock and a few atomic adds. Both transports record into the same
//! [`Metrics`]: the MCP handler calls [`Metrics::record_call`] for every
//! `tools/call`, the HTTP layer [`Metrics::record_http`] for every response.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::catalog::{CallOutcome, Snapshot};

/// Upper bounds (seconds) of the call latency histogram buckets.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

/// How a call ended, as the `outcome` label spells it.
const OUTCOMES: [&str; 4] = ["ok", "plugin_error", "invalid_arguments", "fault"];

/// Every counter of one host process.
#[derive(Default)]
pub struct Metrics {
    tools: RwLock<HashMap<String, Arc<ToolStats>>>,
    http: RwLock<BTreeMap<u16, Arc<AtomicU64>>>,
    in_flight: AtomicU64,
}

#[derive(Default)]
struct ToolStats {
    outcomes: [AtomicU64; OUTCOMES.len()],
    fuel: AtomicU64,
    /// Non-cumulative counts per bucket; the last one is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_nanos: AtomicU64,
    /// Faults by [`crate::runtime::FaultKind::label`]; rare, so a mutex.
    faults: Mutex<BTreeMap<&'static str, u64>>,
}

/// Marks one call in flight until dropped.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Counts a call as in flight for as long as the guard lives; shutdown
    /// waits for this to reach zero.
    pub fn call_started(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Calls running now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Records one finished `tools/call` of `tool`.
    pub fn record_call(&self, tool: &str, outcome: &CallOutcome, elapsed: Duration) {
        let stats = self.tool(tool);
        let (index, fuel) = match outcome {
            CallOutcome::Done { fuel_used, .. } => (0, *fuel_used),
            CallOutcome::PluginError(_) => (1, 0),
            CallOutcome::InvalidArguments(_) => (2, 0),
            CallOutcome::Fault(fault) => {
                *stats
                    .faults
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(fault.kind.label())
                    .or_default() += 1;
                (3, 0)
            }
        };
        stats.outcomes[index].fetch_add(1, Ordering::Relaxed);
        stats.fuel.fetch_add(fuel, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        stats.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        stats.latency_sum_nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Records one HTTP response.
    pub fn record_http(&self, status: u16) {
        if let Some(counter) = self
            .http
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&status)
        {
            counter.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.http
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(status)
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    fn tool(&self, name: &str) -> Arc<ToolStats> {
        if let Some(stats) = self
            .tools
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return stats.clone();
        }
        self.tools
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// The Prometheus text exposition (format 0.0.4) of every counter, plus
    /// gauges read from `catalog`.
    pub fn render(&self, catalog: &Snapshot) -> String {
        let mut out = String::new();
        let tools: BTreeMap<String, Arc<ToolStats>> = self
            .tools
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, stats)| (name.clone(), stats.clone()))
            .collect();

        header(
            &mut out,
            "toolhost_calls_total",
            "counter",
            "Tool calls by tool and outcome.",
        );
        for (tool, stats) in &tools {
            for (outcome, count) in OUTCOMES.iter().zip(&stats.outcomes) {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    let _ = writeln!(
                        out,
                        "toolhost_calls_total{{tool=\"{}\",outcome=\"{outcome}\"}} {count}",
                        escape(tool)
                    );
                }
            }
        }

        header(
            &mut out,
            "toolhost_call_duration_seconds",
            "histogram",
            "Tool call latency, validation and plugin run included.",
        );
        for (tool, stats) in &tools {
            let tool = escape(tool);
            let mut cumulative = 0;
            for (index, count) in stats.buckets.iter().enumerate() {
                cumulative += count.load(Ordering::Relaxed);
                let bound = LATENCY_BUCKETS
                    .get(index)
                    .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                let _ = writeln!(
                    out,
                    "toolhost_call_duration_seconds_bucket{{tool=\"{tool}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let sum = stats.latency_sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "toolhost_call_duration_seconds_sum{{tool=\"{tool}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "toolhost_call_duration_seconds_count{{tool=\"{tool}\"}} {cumulative}"
            );
        }

        header(
            &mut out,
            "toolhost_fuel_used_total",
            "counter",
            "Fuel consumed by successful calls, by tool.",
        );
        for (tool, stats) in &tools {
            let _ = writeln!(
                out,
                "toolhost_fuel_used_total{{tool=\"{}\"}} {}",
                escape(tool),
                stats.fuel.load(Ordering::Relaxed)
            );
        }

        header(
            &mut out,
            "toolhost_faults_total",
            "counter",
            "Calls stopped by the sandbox, by tool and kind (fuel, timeout, memory, stack, \
             output_too_large are limit hits; panic, trap, invalid_output, ... are plugin faults).",
        );
        for (tool, stats) in &tools {
            let faults = stats.faults.lock().unwrap_or_else(|e| e.into_inner());
            for (kind, count) in faults.iter() {
                let _ = writeln!(
                    out,
                    "toolhost_faults_total{{tool=\"{}\",kind=\"{kind}\"}} {count}",
                    escape(tool)
                );
            }
        }

        header(
            &mut out,
            "toolhost_calls_in_flight",
            "gauge",
            "Tool calls running now.",
        );
        let _ = writeln!(out, "toolhost_calls_in_flight {}", self.in_flight());

        header(
            &mut out,
            "toolhost_groups_loaded",
            "gauge",
            "Groups being served.",
        );
        let _ = writeln!(out, "toolhost_groups_loaded {}", catalog.groups.len());
        header(&mut out, "toolhost_tools", "gauge", "Tools being served.");
        let _ = writeln!(out, "toolhost_tools {}", catalog.tools.len());
        header(
            &mut out,
            "toolhost_groups_failed",
            "gauge",
            "Plugin files that failed to load (see /readyz for why).",
        );
        let _ = writeln!(out, "toolhost_groups_failed {}", catalog.failures.len());

        header(
            &mut out,
            "toolhost_http_requests_total",
            "counter",
            "HTTP responses by status code.",
        );
        for (status, count) in self.http.read().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                out,
                "toolhost_http_requests_total{{status=\"{status}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value (tool names are already restricted, but a
/// non-strict separator config allows more than the default).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
        assert!(text.contains("toolhost_calls_total{tool=\"math_add\",outcome=\"ok\"} 2"));
        assert!(
            text.contains(
                "toolhost_calls_total{tool=\"math_add\",outcome=\"invalid_arguments\"} 1"
            )
        );
        assert!(text.contains("toolhost_fuel_used_total{tool=\"math_add\"} 150"));
        assert!(
            text.contains(
                "toolhost_call_duration_seconds_bucket{tool=\"math_add\",le=\"0.0005\"} 2"
            )
        );
        assert!(
            text.contains("toolhost_call_duration_seconds_bucket{tool=\"math_add\",le=\"+Inf\"} 3")
        );
        assert!(text.contains("toolhost_http_requests_total{status=\"200\"} 2"));
        assert!(text.contains("toolhost_http_requests_total{status=\"429\"} 1"));
        assert!(text.contains("toolhost_groups_loaded 0"));
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
