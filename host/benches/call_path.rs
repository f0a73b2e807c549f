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
//!   stdio (`TOOLHOST_BIN` picks another build).
//! - `state_plain`, `state_get_set` and `state_get`: `host_in_process`
//!   for the `stateful` fixture, an operation that does nothing against
//!   one that reads and writes a key of the embedded state store (on the
//!   disk of the temporary directory) and one that only reads it: what
//!   state costs a call.
//!
//! Report ratios against `raw_floor` from the same run, not absolute times.
//! `cargo bench -p toolhost --bench figures` prints these and the other
//! figures of issue 17 as one table of ratios and targets.

mod common;

use std::path::Path;

use common::{
    ARGS, RawCall, StdioServer, arguments, in_process_call, in_process_service,
    in_process_service_with,
};
use criterion::{Criterion, criterion_group, criterion_main};

/// A bare wasmtime call per iteration; `sandboxed` adds fuel, an epoch
/// deadline that yields, and a memory limiter.
fn raw(c: &mut Criterion, rt: &tokio::runtime::Runtime, wasm: &Path, sandboxed: bool) {
    let raw = RawCall::new(wasm, sandboxed);
    let name = if sandboxed {
        "raw_sandboxed"
    } else {
        "raw_floor"
    };
    c.bench_function(name, |b| b.iter(|| rt.block_on(raw.call("add", ARGS))));
}

fn host_in_process(c: &mut Criterion, rt: &tokio::runtime::Runtime, wasm: &Path) {
    let service = rt.block_on(in_process_service(wasm));
    c.bench_function("host_in_process", |b| {
        b.iter(|| rt.block_on(in_process_call(&service, "math_add", arguments())))
    });
}

fn stdio_round_trip(c: &mut Criterion, rt: &tokio::runtime::Runtime, wasm: &Path) {
    let dir = wasm.parent().unwrap();
    let (server, _) = rt.block_on(StdioServer::start(dir, &[], &[], false));
    c.bench_function("stdio_round_trip", |b| {
        b.iter(|| {
            rt.block_on(async {
                let result = server.call("math_add", arguments()).await.unwrap();
                assert_eq!(result.is_error, Some(false));
            })
        })
    });
}

fn state(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let data = std::env::temp_dir().join(format!("toolhost-bench-state-{}", std::process::id()));
    let mut config = toolhost::config::Config::default();
    config.server.data_dir = Some(data.clone());
    config.groups.insert(
        "stateful".into(),
        toolhost::config::GroupSettings {
            state: Some(toolhost::config::StateQuota::default()),
            ..Default::default()
        },
    );
    let wasm = Path::new(toolhost_tests::STATEFUL);
    let service = rt.block_on(in_process_service_with(wasm, config));
    let object = |text: &str| serde_json::from_str::<toolhost::catalog::JsonObject>(text).unwrap();
    let plain = object(r#"{"ops":0}"#);
    let touch = object(r#"{"key":"bench"}"#);
    c.bench_function("state_plain", |b| {
        b.iter(|| rt.block_on(in_process_call(&service, "stateful_flood", plain.clone())))
    });
    c.bench_function("state_get_set", |b| {
        b.iter(|| rt.block_on(in_process_call(&service, "stateful_touch", touch.clone())))
    });
    c.bench_function("state_get", |b| {
        b.iter(|| rt.block_on(in_process_call(&service, "stateful_get", touch.clone())))
    });
    drop(service);
    let _ = std::fs::remove_dir_all(data);
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let wasm = Path::new(toolhost_tests::MATH);
    raw(c, &rt, wasm, false);
    raw(c, &rt, wasm, true);
    host_in_process(c, &rt, wasm);
    stdio_round_trip(c, &rt, wasm);
    state(c, &rt);
}

criterion_group!(call_path, benches);
criterion_main!(call_path);
