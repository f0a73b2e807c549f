//! What the `call_path` and `figures` benches share: the raw wasmtime call
//! that is their floor, the host's in-process call path, and a real MCP
//! client on the binary's stdio.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use tokio::process::{ChildStderr, Command};
use tokio_util::sync::CancellationToken;
use toolhost::catalog::{Catalog, JsonObject, Naming};
use toolhost::config::{Config, LimitOverrides};
use toolhost::metrics::Metrics;
use toolhost::runtime::{Runtime, ServiceGroupPre, toolhost::plugin};
use toolhost::service::{CallService, NoClient, Who};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The arguments of every `math_add` call the benches make.
pub const ARGS: &str = r#"{"a":1.5,"b":2.5}"#;

/// [`ARGS`] as a JSON object.
pub fn arguments() -> JsonObject {
    serde_json::from_str(ARGS).unwrap()
}

/// The `toolhost` binary under test: `TOOLHOST_BIN` if set (to compare
/// another build, say a baseline commit's), else the release binary cargo
/// built for this bench.
pub fn toolhost_bin() -> PathBuf {
    std::env::var_os("TOOLHOST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_toolhost")))
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
    async fn ask(
        &mut self,
        questions: Vec<(String, plugin::types::Question)>,
    ) -> Vec<Result<plugin::types::Answer, String>> {
        questions.iter().map(|_| Err("no client".into())).collect()
    }
    async fn run_as_task(&mut self) -> Result<(), String> {
        Err("no client".into())
    }
    async fn set_listed(
        &mut self,
        _kind: plugin::types::ItemKind,
        _name: String,
        _listed: bool,
    ) -> Result<bool, String> {
        Err("no catalog".into())
    }
    async fn elicit_url(
        &mut self,
        _: String,
        _: String,
    ) -> Result<plugin::types::ElicitAction, String> {
        Err("no client".into())
    }
}

/// No state: the floor's components never use it.
impl plugin::kv::Host for Bare {
    async fn get(&mut self, _: String) -> Result<Option<Vec<u8>>, String> {
        Err("no state".into())
    }
    async fn set(&mut self, _: String, _: Vec<u8>, _: Option<u64>) -> Result<(), String> {
        Err("no state".into())
    }
    async fn delete(&mut self, _: String) -> Result<bool, String> {
        Err("no state".into())
    }
    async fn keys(&mut self, _: String, _: Option<String>, _: u32) -> Result<Vec<String>, String> {
        Err("no state".into())
    }
    async fn increment(&mut self, _: String, _: i64) -> Result<i64, String> {
        Err("no state".into())
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

/// A component called with wasmtime alone, a fresh instance per call: the
/// floor no host can go under. `sandboxed` adds fuel, an epoch deadline that
/// yields, and a memory limiter.
pub struct RawCall {
    engine: wasmtime::Engine,
    pre: ServiceGroupPre<Bare>,
    sandboxed: bool,
}

impl RawCall {
    pub fn new(wasm: &Path, sandboxed: bool) -> RawCall {
        // Slots reset as the host resets them: the floor is the best
        // wasmtime does, not its defaults.
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        toolhost::runtime::reset_in_place(&mut pool);
        let mut config = wasmtime::Config::new();
        config
            .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool))
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
        RawCall {
            engine,
            pre,
            sandboxed,
        }
    }

    /// Calls `operation` with `arguments` (JSON text) in a fresh instance.
    pub async fn call(&self, operation: &str, arguments: &str) -> plugin::types::Output {
        let mut store = wasmtime::Store::new(
            &self.engine,
            Bare {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
            },
        );
        if self.sandboxed {
            store.limiter(|s| s);
            store.set_fuel(1_000_000_000).unwrap();
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(|_| Ok(wasmtime::UpdateDeadline::Yield(1)));
        }
        let instance = self.pre.instantiate_async(&mut store).await.unwrap();
        instance
            .toolhost_plugin_group()
            .call_call(&mut store, operation, arguments)
            .await
            .unwrap()
            .unwrap()
    }
}

/// The host's call service over `wasm` alone, as `toolhost serve` builds it
/// but without a transport. Must be called within a tokio runtime.
pub async fn in_process_service(wasm: &Path) -> CallService {
    in_process_service_with(wasm, Config::default()).await
}

/// [`in_process_service`] with `config`.
pub async fn in_process_service_with(wasm: &Path, config: Config) -> CallService {
    let runtime = Runtime::new(config, LimitOverrides::default()).unwrap();
    let catalog = Catalog::new(Naming {
        separator: "_".into(),
        strict: true,
    });
    let group = runtime.load(wasm).await.unwrap();
    catalog.insert(Arc::new(group)).unwrap();
    catalog.mark_ready();
    CallService::new(Arc::new(catalog), Metrics::new(), Arc::default())
}

/// One call of `tool` through the host's whole in-process path (lookup,
/// validation, sandboxed call, output checks, MCP mapping), asserted to
/// succeed.
pub async fn in_process_call(
    service: &CallService,
    tool: &str,
    arguments: JsonObject,
) -> CallToolResult {
    let who = Who::default();
    let tool = service.find_tool(who, tool).await.unwrap();
    let outcome = service
        .call(who, &tool, arguments, &NoClient, CancellationToken::new())
        .await;
    let result = toolhost::mcp::to_call_result(&tool, outcome);
    assert_eq!(result.is_error, Some(false));
    result
}

/// An MCP client speaking to `toolhost serve DIR ARGS` over its stdio.
pub struct StdioServer {
    pub client: RunningService<RoleClient, ()>,
    /// The server's process id.
    #[allow(dead_code, reason = "`call_path` reads only the client")]
    pub pid: u32,
}

impl StdioServer {
    /// Spawns `toolhost serve DIR ARGS` and completes the MCP handshake;
    /// also returns the server's stderr when `keep_stderr` (else it is
    /// discarded).
    pub async fn start(
        dir: &Path,
        args: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
        keep_stderr: bool,
    ) -> (StdioServer, Option<ChildStderr>) {
        let mut command = Command::new(toolhost_bin());
        command
            .arg("serve")
            .arg(dir)
            .args(args)
            .env_remove("TOOLHOST_CONFIG")
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied());
        let stderr = if keep_stderr {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let (transport, stderr) = TokioChildProcess::builder(command)
            .stderr(stderr)
            .spawn()
            .unwrap();
        let pid = transport.id().expect("toolhost is running");
        let client = ().serve(transport).await.unwrap();
        (StdioServer { client, pid }, stderr)
    }

    /// Calls `tool` with `arguments`; the result, or the JSON-RPC error.
    pub async fn call(
        &self,
        tool: &str,
        arguments: JsonObject,
    ) -> Result<CallToolResult, rmcp::ServiceError> {
        let request = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        self.client.call_tool(request).await
    }
}
