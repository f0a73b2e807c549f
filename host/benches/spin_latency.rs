//! Latency of a good tool while two plugins spin on this machine's cores.
//!
//! Two `misbehave_spin` calls run an endless loop until their deadline
//! (restarted as soon as they end), while `math_add` is called in a loop.
//! Prints p50/p99 of `math_add` with and without the spinners, and their
//! ratio. The spinners yield to the executor at every epoch tick, so the
//! good calls should stay within a tick or two of the baseline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use toolhost::catalog::{Catalog, JsonObject, Naming};
use toolhost::config::{Config, LimitOverrides};
use toolhost::metrics::Metrics;
use toolhost::runtime::Runtime;
use toolhost::service::{CallOutcome, CallService, NoClient, Who};

const CALLS: usize = 400;

async fn call(service: &CallService, name: &str, arguments: JsonObject) -> CallOutcome {
    let who = Who::default();
    let tool = service.find_tool(who, name).await.unwrap();
    service
        .call(who, &tool, arguments, &NoClient, CancellationToken::new())
        .await
}

async fn latencies(service: &CallService) -> Vec<Duration> {
    let args: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
    let mut out = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let start = Instant::now();
        let outcome = call(service, "math_add", args.clone()).await;
        assert!(matches!(outcome, CallOutcome::Done { .. }), "{outcome:?}");
        out.push(start.elapsed());
    }
    out.sort();
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test discovery
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config: Config =
            toml::from_str("[groups.misbehave]\nfuel = 100000000000000\ntimeout = \"2s\"\n")
                .unwrap();
        let runtime = Runtime::new(config, LimitOverrides::default()).unwrap();
        let catalog = Arc::new(Catalog::new(Naming {
            separator: "_".into(),
            strict: true,
        }));
        for path in [toolhost_tests::MATH, toolhost_tests::MISBEHAVE] {
            catalog
                .insert(Arc::new(runtime.load(path.as_ref()).await.unwrap()))
                .unwrap();
        }
        catalog.mark_ready();
        let service = CallService::new(catalog, Metrics::new(), Arc::default());

        let baseline = latencies(&service).await;

        let stop = Arc::new(AtomicBool::new(false));
        let spinners: Vec<_> = (0..2)
            .map(|_| {
                let (service, stop) = (service.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        call(&service, "misbehave_spin", Default::default()).await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let loaded = latencies(&service).await;
        stop.store(true, Ordering::Relaxed);
        for spinner in spinners {
            spinner.abort();
        }

        let (b50, b99) = (percentile(&baseline, 0.5), percentile(&baseline, 0.99));
        let (l50, l99) = (percentile(&loaded, 0.5), percentile(&loaded, 0.99));
        println!("math_add alone:            p50 {b50:>10.2?}  p99 {b99:>10.2?}");
        println!("math_add with 2 spinners:  p50 {l50:>10.2?}  p99 {l99:>10.2?}");
        println!(
            "ratio (spinning / alone):  p50 {:.2}x  p99 {:.2}x",
            l50.as_secs_f64() / b50.as_secs_f64(),
            l99.as_secs_f64() / b99.as_secs_f64()
        );
    });
}
