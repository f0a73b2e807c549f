//! What the host adds on top of wasmtime for one trivial call.
//!
//! - `raw_floor`: InstancePre → fresh Store → `call` with wasmtime alone: the
//!   floor no host can go under with a fresh instance per call.
//! - `host_in_process`: the host's whole path without transport: catalog
//!   lookup, argument validation, sandboxed call (fuel, deadline, memory
//!   limiter, captured stdio), output checks and MCP result mapping.
//! - `raw_sandboxed`: `raw_floor` plus fuel, an epoch deadline with yields
//!   and a memory limiter: the price of the sandbox itself.
//! - `stdio_round_trip`: a real MCP client calling the real binary over
//!   stdio.
//!
//! Report ratios against `raw_floor` from the same run, not absolute times.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use tokio_util::sync::CancellationToken;
use toolhost::catalog::{Catalog, Naming};
use toolhost::config::{Config, LimitOverrides};
use toolhost::metrics::Metrics;
use toolhost::runtime::{Runtime, ServiceGroupPre, toolhost::plugin};
use toolhost::service::{CallService, NoClient, Who};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

const ARGS: &str = r#"{"a":1.5,"b":2.5}"#;

fn math_wasm() -> PathBuf {
    PathBuf::from(toolhost_tests::MATH)
}

/// The least state a service group can run with.
struct Bare {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Bare {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl plugin::types::Host for Bare {}

impl plugin::host::Host for Bare {
    fn log(&mut self, _: plugin::types::Level, _: String) {}
    fn progress(&mut self, _: f64, _: Option<f64>, _: Option<String>) {}
    fn cancelled(&mut self) -> bool {
        false
    }
    fn config(&mut self, _: String) -> Option<String> {
        None
    }
    fn resource_updated(&mut self, _: String) {}
    async fn sample(
        &mut self,
        _: plugin::types::SamplingRequest,
    ) -> Result<plugin::types::SamplingResponse, String> {
        Err("no client".into())
    }
    async fn elicit(
        &mut self,
        _: String,
        _: String,
    ) -> Result<plugin::types::ElicitResponse, String> {
        Err("no client".into())
    }
}

impl wasmtime::ResourceLimiter for Bare {
    fn memory_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 128 << 20)
    }
    fn table_growing(&mut self, _: usize, _: usize, _: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// A bare wasmtime call per iteration; `sandboxed` adds fuel, an epoch
/// deadline that yields, and a memory limiter.
fn raw(c: &mut Criterion, rt: &tokio::runtime::Runtime, wasm: &PathBuf, sandboxed: bool) {
    let mut config = wasmtime::Config::new();
    config
        .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(
            Default::default(),
        ))
        .consume_fuel(sandboxed)
        .epoch_interruption(sandboxed)
        .concurrency_support(false);
    let engine = wasmtime::Engine::new(&config).unwrap();
    let component = Component::from_file(&engine, wasm).unwrap();
    let mut linker = Linker::<Bare>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    toolhost::runtime::ServiceGroup::add_to_linker::<Bare, HasSelf<Bare>>(&mut linker, |s| s)
        .unwrap();
    let pre = ServiceGroupPre::new(linker.instantiate_pre(&component).unwrap()).unwrap();
    let name = if sandboxed {
        "raw_sandboxed"
    } else {
        "raw_floor"
    };
    c.bench_function(name, |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut store = wasmtime::Store::new(
                    &engine,
                    Bare {
                        wasi: WasiCtx::builder().build(),
                        table: ResourceTable::new(),
                    },
                );
                if sandboxed {
                    store.limiter(|s| s);
                    store.set_fuel(1_000_000_000).unwrap();
                    store.set_epoch_deadline(1);
                    store.epoch_deadline_callback(|_| Ok(wasmtime::UpdateDeadline::Yield(1)));
                }
                let instance = pre.instantiate_async(&mut store).await.unwrap();
                instance
                    .toolhost_plugin_group()
                    .call_call(&mut store, "add", ARGS)
                    .await
                    .unwrap()
                    .unwrap()
            })
        })
    });
}

fn host_in_process(c: &mut Criterion, rt: &tokio::runtime::Runtime, wasm: &Path) {
    let runtime = rt
        .block_on(async { Runtime::new(Config::default(), LimitOverrides::default()) })
        .unwrap();
    let catalog = Catalog::new(Naming {
        separator: "_".into(),
        strict: true,
    });
    let group = rt.block_on(runtime.load(wasm)).unwrap();
    catalog.insert(Arc::new(group)).unwrap();
    catalog.mark_ready();
    let service = CallService::new(Arc::new(catalog), Metrics::new(), Arc::default());
    let arguments: serde_json::Map<String, serde_json::Value> = serde_json::from_str(ARGS).unwrap();
    c.bench_function("host_in_process", |b| {
        b.iter(|| {
            rt.block_on(async {
                let who = Who::default();
                let tool = service.find_tool(who, "math_add").await.unwrap();
                let outcome = service
                    .call(
                        who,
                        &tool,
                        arguments.clone(),
                        &NoClient,
                        CancellationToken::new(),
                    )
                    .await;
                let result = toolhost::mcp::to_call_result(&tool, outcome);
                assert_eq!(result.is_error, Some(false));
                result
            })
        })
    });
}

fn stdio_round_trip(c: &mut Criterion, rt: &tokio::runtime::Runtime, wasm: &Path) {
    let dir = wasm.parent().unwrap().to_owned();
    let client = rt.block_on(async {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_toolhost"));
        command.arg("serve").arg(&dir).env("RUST_LOG", "warn");
        let transport = rmcp::transport::TokioChildProcess::new(command).unwrap();
        ().serve(transport).await.unwrap()
    });
    let client = Arc::new(client);
    let arguments: serde_json::Map<String, serde_json::Value> = serde_json::from_str(ARGS).unwrap();
    c.bench_function("stdio_round_trip", |b| {
        b.iter(|| {
            rt.block_on(async {
                let request =
                    CallToolRequestParams::new("math_add").with_arguments(arguments.clone());
                let result = client.call_tool(request).await.unwrap();
                assert_eq!(result.is_error, Some(false));
            })
        })
    });
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let wasm = math_wasm();
    raw(c, &rt, &wasm, false);
    raw(c, &rt, &wasm, true);
    host_in_process(c, &rt, &wasm);
    stdio_round_trip(c, &rt, &wasm);
}

criterion_group!(call_path, benches);
criterion_main!(call_path);
