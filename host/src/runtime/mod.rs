//! The sandbox: engines, loading components, and running one call.
//!
//! Every call runs with fuel (yielding to the executor every
//! [`YIELD_FUEL`], so a spinning guest never starves the others; a call
//! still running then moves to the guest threads, see [`guests`]), a
//! wall-clock deadline (epoch interruption with a ticker thread), a memory
//! cap that records *why* growth was
//! refused, a wasm stack cap, captured stdio and only the grants its policy
//! names. By default each call gets a fresh instance from an `InstancePre`
//! in a pooling allocator; `instances = "reuse"` keeps one instance per
//! group, discarded after any fault. This module knows nothing of MCP.

mod admission;
mod ask;
pub mod cache;
pub mod capability;
pub mod capture;
pub mod compile;
mod fault;
mod guests;
mod kv;
pub mod outbound;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use tokio::sync::{Mutex, Semaphore};

use admission::Admission;
pub use fault::Busy;
use tokio_util::sync::CancellationToken;
use wasmtime::component::{Component, Instance, InstancePre, Linker};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

pub use fault::{Fault, FaultKind, LoadError};
pub(crate) use fault::{check_output, resource_size};
pub use state::{EventSink, PluginEvent};

use crate::config::{Config, InstanceMode, LimitOverrides, Limits, Policy};
use crate::source::{Answer, Description, Outcome, Source, SourceId};
use ask::Ask;
use capability::{Capability, Grant};
use state::CallState;

wasmtime::component::bindgen!({
    world: "service-group",
    path: "../wit",
    imports: {
        "toolhost:plugin/host.sample": async,
        "toolhost:plugin/host.elicit": async,
        "toolhost:plugin/host.ask": async,
        "toolhost:plugin/host.run-as-task": async,
        "toolhost:plugin/host.elicit-url": async,
        "toolhost:plugin/host.set-listed": async,
        // Every state operation waits for the store (disk, or a server).
        "toolhost:plugin/kv": async,
    },
    exports: { default: async },
    // A group's description is cached beside its compilation (`cache`).
    additional_derives: [serde::Serialize, serde::Deserialize],
});

pub use self::exports::toolhost::plugin::group::{GroupInfo, Operation};
pub use self::exports::toolhost::plugin::icons::Icon;
use self::exports::toolhost::plugin::{
    completions, group as tools, icons, listing, prompts, resources,
};
pub use self::toolhost::plugin::types::{
    Annotations, Answer as ClientAnswer, Completion, CompletionRequest, CompletionTarget, Content,
    ElicitAction, ElicitResponse, ElicitationForm, EmbeddedResource, Error as PluginError,
    ErrorKind, ItemKind, Level, Media, Message, Output, PromptArgument, PromptInfo, PromptResult,
    Question, ResourceContents, ResourceInfo, ResourceLink, ResourceTemplate, Role, Root,
    SamplingRequest, SamplingResponse,
};

/// How often the epoch ticks: the resolution of deadlines and of yielding.
const TICK: Duration = Duration::from_millis(10);
/// Bytes of each pooled linear memory, and of each table, reset in place
/// rather than unmapped between calls (see [`reset_in_place`]).
const KEEP_RESIDENT_MEMORY: usize = 2 << 20;
const KEEP_RESIDENT_TABLE: usize = 64 << 10;
/// Fuel a guest burns between yields to the executor: a few tens of
/// microseconds of wasm, so a spinning guest holds a worker thread no longer
/// than that before the calls and connections queued behind it run. (The
/// epoch tick, every [`TICK`], is too coarse: requests waited whole ticks.)
const YIELD_FUEL: u64 = 20_000;
/// Extra time after a deadline before a call blocked in a host function is
/// dropped (a guest running wasm is interrupted at the deadline itself).
const DEADLINE_GRACE: Duration = Duration::from_millis(50);

/// Engines (one per distinct wasm stack limit; usually one) and the call
/// slots they share.
pub struct Runtime {
    engines: BTreeMap<u64, Sandbox>,
    default_stack: u64,
    admission: Arc<admission::Shared>,
    config: Config,
    overrides: LimitOverrides,
    cache: Option<cache::CompileCache>,
    /// Compilations running at once: each already uses every core, so more
    /// would only add their scratch memory to the peak. At least two, so
    /// that one slow file (which holds one slot, for at most
    /// `server.compile_timeout`) never holds them all.
    compiles: Arc<Semaphore>,
    budget: compile::Budget,
    capabilities: Vec<Arc<dyn Capability>>,
    /// Outbound HTTP metrics of every group ([`Runtime::outbound_stats`]).
    outbound: Arc<outbound::Stats>,
    guests: Arc<guests::Guests>,
    _ticker: Ticker,
}

struct Sandbox {
    engine: Engine,
    linker: Linker<CallState>,
}

impl Runtime {
    /// The outbound HTTP metrics, for the `/metrics` registry.
    pub fn outbound_stats(&self) -> &outbound::Stats {
        &self.outbound
    }

    /// Creates the engines the configuration needs and starts the epoch
    /// ticker.
    pub fn new(config: Config, overrides: LimitOverrides) -> anyhow::Result<Arc<Self>> {
        let max_calls = config.server.max_concurrent_calls;
        let max_memory = config.max_memory(&overrides);
        let default_stack = config.policy("", &overrides).limits.stack;
        let stacks: BTreeSet<u64> = std::iter::once(default_stack)
            .chain(
                config
                    .groups
                    .keys()
                    .map(|name| config.policy(name, &overrides).limits.stack),
            )
            .collect();
        let outbound = Arc::new(outbound::Stats::default());
        let capabilities = capability::all(&config, &outbound);
        let mut engines = BTreeMap::new();
        for stack in stacks {
            engines.insert(
                stack,
                Sandbox::new(stack, max_memory, max_calls, &capabilities)?,
            );
        }
        let ticker = Ticker::start(engines.values().map(|s| s.engine.clone()).collect());
        let cache = config
            .cache
            .enabled
            .then(|| {
                config
                    .cache
                    .dir
                    .clone()
                    .or_else(cache::CompileCache::default_dir)
            })
            .flatten()
            .map(cache::CompileCache::new);
        Ok(Arc::new(Self {
            engines,
            default_stack,
            admission: Arc::new(admission::Shared::new(
                max_calls,
                config.server.memory_budget(),
            )),
            budget: compile::Budget::from_config(&config.server),
            config,
            overrides,
            cache,
            compiles: Arc::new(Semaphore::new(parallelism().max(2))),
            capabilities,
            outbound,
            guests: Arc::new(
                guests::Guests::start(parallelism())
                    .map_err(|e| anyhow::anyhow!("cannot start the guest threads: {e}"))?,
            ),
            _ticker: ticker,
        }))
    }

    /// The configuration the runtime was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The compile cache, when enabled.
    pub fn cache(&self) -> Option<&cache::CompileCache> {
        self.cache.as_ref()
    }

    /// Loads one component file as a group: checks its size and bytes,
    /// compiles, asks the group to describe itself and prepares its
    /// instances.
    pub async fn load(self: &Arc<Self>, path: &Path) -> Result<Group, LoadError> {
        let bytes = self.read(path).await?;
        self.load_bytes(path, bytes).await
    }

    /// Reads a component file, refusing it by its size before reading.
    async fn read(&self, path: &Path) -> Result<Vec<u8>, LoadError> {
        let read = |e: std::io::Error| LoadError::new(path, format!("cannot read the file: {e}"));
        let size = tokio::fs::metadata(path).await.map_err(read)?.len();
        self.check_size(path, size)?;
        tokio::fs::read(path).await.map_err(read)
    }

    /// Refuses a file of `size` bytes over `server.max_component_size`,
    /// before anything else is done with it.
    pub fn check_size(&self, path: &Path, size: u64) -> Result<(), LoadError> {
        self.budget
            .check_size(size)
            .map_err(|reason| LoadError::new(path, reason))
    }

    /// Like [`Runtime::load`], from bytes already read.
    pub async fn load_bytes(
        self: &Arc<Self>,
        path: &Path,
        bytes: Vec<u8>,
    ) -> Result<Group, LoadError> {
        self.check_size(path, bytes.len() as u64)?;
        fault::check_header(&bytes).map_err(|reason| LoadError::new(path, reason))?;
        let hash = blake3::hash(&bytes);
        let default = &self.engines[&self.default_stack];
        // Loaded before by this host: serve from what it declared, and map
        // the compilation at the first call (see `Core::prepared`).
        if let Some(declared) = self.cached_description(&default.engine, hash).await {
            let policy = self.config.policy(&declared.info.name, &self.overrides);
            return self.group(path, hash, declared, policy, None, true);
        }
        let bytes = Arc::new(bytes);
        let compiling = Compiling {
            path,
            bytes,
            hash,
            cache: self.cache.as_ref(),
            slots: &self.compiles,
            budget: &self.budget,
        };
        let (pre, origin) = default.prepare(&compiling, self.default_stack).await?;
        // Under the defaults' limits: the group has no name yet. It holds
        // no compile slot meanwhile.
        let limits = self.config.policy("", &self.overrides).limits;
        // Like a call: a describe that spins moves to the guest threads.
        let declared = {
            let (pre, path) = (pre.clone(), path.to_owned());
            self.guests
                .run(async move { describe(&pre, &path, &limits).await })
                .await?
        };
        self.store_description(&default.engine, hash, &declared)
            .await;
        let policy = self.config.policy(&declared.info.name, &self.overrides);
        let pre = if policy.limits.stack == self.default_stack {
            pre
        } else {
            self.engines[&policy.limits.stack]
                .prepare(&compiling, policy.limits.stack)
                .await?
                .0
        };
        self.group(
            path,
            hash,
            declared,
            policy,
            Some(pre),
            origin == cache::Origin::Cached,
        )
    }

    /// A group from what it declared, under its `policy`; `pre` is its
    /// linked component, or `None` to map (or compile) it at the first call.
    fn group(
        self: &Arc<Self>,
        path: &Path,
        hash: blake3::Hash,
        declared: Description,
        policy: Policy,
        pre: Option<Prepared>,
        cached: bool,
    ) -> Result<Group, LoadError> {
        let grants = capability::grants(&self.capabilities, &declared.info.name, &policy)
            .map_err(|e| LoadError::new(path, e))?;
        let name: Arc<str> = declared.info.name.clone().into();
        let later = pre.is_none().then(|| Later {
            runtime: self.clone(),
            path: path.to_owned(),
            hash,
            stack: policy.limits.stack,
        });
        Ok(Group {
            name: name.clone(),
            id: SourceId::file(path),
            hash,
            cached,
            description: declared,
            core: Arc::new(Core {
                name,
                limits: policy.limits,
                reused: (policy.instances == InstanceMode::Reuse).then(|| Mutex::new(None)),
                admission: self
                    .admission
                    .for_group(policy.max_concurrent_calls, policy.limits.memory),
                grants,
                pre: tokio::sync::OnceCell::new_with(pre),
                later,
            }),
            policy,
            guests: self.guests.clone(),
        })
    }

    async fn cached_description(&self, engine: &Engine, hash: blake3::Hash) -> Option<Description> {
        let cache = self.cache.clone()?;
        let engine = engine.clone();
        tokio::task::spawn_blocking(move || cache.description(&engine, &hash))
            .await
            .ok()
            .flatten()
    }

    async fn store_description(&self, engine: &Engine, hash: blake3::Hash, declared: &Description) {
        let Some(cache) = self.cache.clone() else {
            return;
        };
        let (engine, declared) = (engine.clone(), declared.clone());
        let _ = tokio::task::spawn_blocking(move || {
            cache.store_description(&engine, &hash, &declared);
        })
        .await;
    }

    /// Links the component of a group that was loaded from its cached
    /// description: mapped from the compile cache, or compiled again from
    /// its file if the compilation is gone and the file is unchanged.
    async fn prepare_later(&self, later: &Later) -> Result<Prepared, LoadError> {
        let sandbox = &self.engines[&later.stack];
        let path = later.path.as_path();
        if let Some(component) =
            compile::cached(&sandbox.engine, later.hash, self.cache.as_ref()).await
        {
            return sandbox.link(&component, path);
        }
        let bytes = self.read(path).await?;
        if blake3::hash(&bytes) != later.hash {
            return Err(LoadError::new(
                path,
                "the file changed since it was loaded; the new version is served once it loads",
            ));
        }
        let compiling = Compiling {
            path,
            bytes: Arc::new(bytes),
            hash: later.hash,
            cache: self.cache.as_ref(),
            slots: &self.compiles,
            budget: &self.budget,
        };
        Ok(sandbox.prepare(&compiling, later.stack).await?.0)
    }
}

impl Sandbox {
    fn new(
        stack: u64,
        max_memory: u64,
        max_calls: u32,
        capabilities: &[Arc<dyn Capability>],
    ) -> anyhow::Result<Self> {
        // Slots for every concurrent call plus reused instances and loads.
        let instances = max_calls + 64;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_core_instances(instances * 8)
            .total_memories(instances * 2)
            .total_tables(instances * 4)
            .total_stacks(instances)
            .max_memory_size(usize::try_from(max_memory).unwrap_or(usize::MAX));
        reset_in_place(&mut pool);
        // The compiler child builds its engine from the same settings.
        let mut config = compile::engine_config(stack);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)
            .map_err(|e| anyhow::anyhow!("cannot create the wasm engine: {e:#}"))?;
        let mut linker = Linker::new(&engine);
        for capability in capabilities {
            capability.link(&mut linker)?;
        }
        Ok(Self { engine, linker })
    }

    /// Maps the component from the cache, or compiles it within the
    /// budget (see [`compile`]), and links it. Only a compilation takes a
    /// compile slot.
    async fn prepare(
        &self,
        compiling: &Compiling<'_>,
        stack: u64,
    ) -> Result<(Prepared, cache::Origin), LoadError> {
        let path = compiling.path;
        let cached = compile::cached(&self.engine, compiling.hash, compiling.cache).await;
        let (component, origin) =
            match cached {
                Some(component) => (component, cache::Origin::Cached),
                None => {
                    let slot =
                        compiling.slots.clone().acquire_owned().await.map_err(|e| {
                            LoadError::new(path, format!("compilation refused: {e}"))
                        })?;
                    compile::compile(
                        &self.engine,
                        stack,
                        compiling.bytes.clone(),
                        compiling.hash,
                        compiling.cache,
                        compiling.budget,
                        slot,
                    )
                    .await
                    .map_err(|reason| LoadError::new(path, reason))?
                }
            };
        Ok((self.link(&component, path)?, origin))
    }

    /// Links a compiled component and finds its exports.
    fn link(&self, component: &Component, path: &Path) -> Result<Prepared, LoadError> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| LoadError::new(path, fault::describe_link_error(&e)))?;
        let exports = Exports::find(&pre)
            .map_err(|e| LoadError::new(path, fault::describe_world_error(&e)))?;
        Ok(Prepared {
            pre,
            exports: Arc::new(exports),
        })
    }
}

/// One component being compiled, for each engine it needs.
struct Compiling<'a> {
    path: &'a Path,
    bytes: Arc<Vec<u8>>,
    hash: blake3::Hash,
    cache: Option<&'a cache::CompileCache>,
    slots: &'a Arc<Semaphore>,
    budget: &'a compile::Budget,
}

/// A linked component and where its exports are.
#[derive(Clone)]
struct Prepared {
    pre: InstancePre<CallState>,
    exports: Arc<Exports>,
}

/// The interfaces a component exports: `group` always; `resources`,
/// `prompts` and `completions` when it offers them (a `tool-group`
/// component does not).
struct Exports {
    tools: tools::GuestIndices,
    resources: Option<resources::GuestIndices>,
    prompts: Option<prompts::GuestIndices>,
    completions: Option<completions::GuestIndices>,
    icons: Option<icons::GuestIndices>,
    listing: Option<listing::GuestIndices>,
}

impl Exports {
    fn find(pre: &InstancePre<CallState>) -> wasmtime::Result<Self> {
        Ok(Self {
            tools: tools::GuestIndices::new(pre)?,
            resources: resources::GuestIndices::new(pre).ok(),
            prompts: prompts::GuestIndices::new(pre).ok(),
            completions: completions::GuestIndices::new(pre).ok(),
            icons: icons::GuestIndices::new(pre).ok(),
            listing: listing::GuestIndices::new(pre).ok(),
        })
    }
}

/// Instantiates a freshly loaded component once to read its metadata.
/// Runs under `limits` (the defaults': the group has no name yet).
async fn describe(
    prepared: &Prepared,
    path: &Path,
    limits: &Limits,
) -> Result<Description, LoadError> {
    let pre = &prepared.pre;
    let exports = &prepared.exports;
    let state = CallState::new("(loading)".into(), &[], limits)
        .map_err(|e| LoadError::new(path, format!("{e:#}")))?;
    let mut store =
        new_store(pre.engine(), state).map_err(|e| LoadError::new(path, format!("{e:#}")))?;
    store
        .set_fuel(limits.fuel)
        .map_err(|e| LoadError::new(path, format!("{e:#}")))?;
    store.set_epoch_deadline(1);
    store.data_mut().begin_call(
        admission::deadline(limits.timeout),
        None,
        CancellationToken::new(),
    );
    let work = async {
        let instance = pre.instantiate_async(&mut store).await?;
        let group = exports.tools.load(&mut store, &instance)?;
        let info = group.call_describe(&mut store).await?;
        let operations = group.call_operations(&mut store).await?;
        let (mut resources, mut templates, mut prompts) = Default::default();
        if let Some(indices) = &exports.resources {
            let guest = indices.load(&mut store, &instance)?;
            resources = guest.call_list(&mut store).await?;
            templates = guest.call_templates(&mut store).await?;
        }
        if let Some(indices) = &exports.prompts {
            prompts = indices
                .load(&mut store, &instance)?
                .call_list(&mut store)
                .await?;
        }
        let mut icons = crate::source::Icons::default();
        if let Some(indices) = &exports.icons {
            let guest = indices.load(&mut store, &instance)?;
            icons.group = guest.call_group(&mut store).await?;
            icons.operations = guest.call_operations(&mut store).await?;
        }
        let mut unlisted = Vec::new();
        if let Some(indices) = &exports.listing {
            let guest = indices.load(&mut store, &instance)?;
            unlisted = guest.call_unlisted(&mut store).await?;
        }
        wasmtime::Result::Ok(Description {
            info,
            operations,
            resources,
            templates,
            prompts,
            icons,
            unlisted,
        })
    };
    match tokio::time::timeout(limits.timeout + DEADLINE_GRACE, work).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e)) => match fault::classify(&e, store.data(), limits) {
            FaultKind::Timeout => Err(describe_timed_out(path, limits)),
            kind => Err(LoadError::new(
                path,
                format!("describing the group failed: {}", kind.describe_at_load()),
            )),
        },
        Err(_) => Err(describe_timed_out(path, limits)),
    }
}

fn describe_timed_out(path: &Path, limits: &Limits) -> LoadError {
    LoadError::new(
        path,
        format!(
            "describing the group took longer than {} (limit: defaults.timeout or --timeout)",
            crate::config::format_duration(limits.timeout)
        ),
    )
}

fn new_store(engine: &Engine, state: CallState) -> anyhow::Result<Store<CallState>> {
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);
    store.fuel_async_yield_interval(Some(YIELD_FUEL))?;
    store.epoch_deadline_callback(|ctx| {
        Ok(if Instant::now() >= ctx.data().deadline {
            wasmtime::UpdateDeadline::Interrupt
        } else {
            wasmtime::UpdateDeadline::Yield(1)
        })
    });
    // From the start: a store's deadline is otherwise the epoch it was
    // made in, so instantiating (which runs the guest's start code) would
    // yield once on every call.
    store.set_epoch_deadline(1);
    Ok(store)
}

/// Hostcall fuel for `limits`: the result may be `max_output` bytes, plus
/// room for the strings and lists around it.
fn hostcall_fuel(limits: &Limits) -> usize {
    usize::try_from(limits.max_output.saturating_mul(2).saturating_add(1 << 20))
        .unwrap_or(usize::MAX)
}

/// A loaded group, ready to serve calls. Immutable: a reload builds a new
/// one, and calls in flight keep the one they started with.
pub struct Group {
    /// The group's name as it describes itself.
    pub name: Arc<str>,
    /// The file it was loaded from.
    pub id: SourceId,
    /// Hash of the file's contents.
    pub hash: blake3::Hash,
    /// Whether its compilation came from the compile cache.
    pub cached: bool,
    /// What the group says about itself.
    pub description: Description,
    /// The effective policy.
    pub policy: Policy,
    core: Arc<Core>,
    guests: Arc<guests::Guests>,
}

/// What running a request needs, owned, so that a call can move to the
/// guest threads (see [`guests`]).
struct Core {
    name: Arc<str>,
    limits: Limits,
    grants: Vec<Arc<dyn Grant>>,
    /// Set at load, or at the first call of a group loaded from its cached
    /// description (from `later`).
    pre: tokio::sync::OnceCell<Prepared>,
    later: Option<Later>,
    reused: Option<Mutex<Option<Live>>>,
    admission: Admission,
}

/// Where a group loaded from its cached description gets its component.
struct Later {
    runtime: Arc<Runtime>,
    path: PathBuf,
    hash: blake3::Hash,
    stack: u64,
}

/// An instance kept across calls (`instances = "reuse"`).
struct Live {
    store: Store<CallState>,
    instance: Instance,
}

impl Source for Group {
    fn id(&self) -> &SourceId {
        &self.id
    }

    fn name(&self) -> &Arc<str> {
        &self.name
    }

    fn description(&self) -> &Description {
        &self.description
    }

    fn policy(&self) -> &Policy {
        &self.policy
    }

    fn digest(&self) -> Option<blake3::Hash> {
        Some(self.hash)
    }

    fn call<'a>(
        &'a self,
        operation: &'a str,
        arguments: &'a str,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Outcome<'a, Output> {
        let request = ask::Call {
            operation: operation.to_owned(),
            arguments: arguments.to_owned(),
        };
        self.invoke(request, events, cancel).boxed()
    }

    fn read<'a>(
        &'a self,
        uri: &'a str,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Outcome<'a, Vec<EmbeddedResource>> {
        self.invoke(
            ask::Read {
                uri: uri.to_owned(),
            },
            events,
            cancel,
        )
        .boxed()
    }

    fn prompt<'a>(
        &'a self,
        name: &'a str,
        arguments: &'a [(String, String)],
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Outcome<'a, PromptResult> {
        let request = ask::GetPrompt {
            name: name.to_owned(),
            arguments: arguments.to_vec(),
        };
        self.invoke(request, events, cancel).boxed()
    }

    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Outcome<'a, Completion> {
        self.invoke(ask::Complete(request.clone()), events, cancel)
            .boxed()
    }
}

impl Group {
    /// Runs one request in the sandbox under the group's policy, inline or
    /// on the guest threads (see [`guests`]). `events` receives the guest's
    /// log and progress messages and its requests to the client; `cancel`
    /// stops the call.
    async fn invoke<A: Ask>(
        &self,
        request: A,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Result<Answer<A::Answer>, Fault> {
        let core = self.core.clone();
        // Linking (mapping or even compiling) a group loaded from its cached
        // description is host work: done here, before the call may move.
        core.prepared().await?;
        self.guests
            .run(async move { core.invoke(request, events, cancel).await })
            .await
    }
}

impl Core {
    fn fault(&self, kind: FaultKind) -> Fault {
        Fault {
            group: self.name.clone(),
            limits: self.limits,
            kind,
        }
    }

    async fn invoke<A: Ask>(
        &self,
        request: A,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Result<Answer<A::Answer>, Fault> {
        let limits = &self.limits;
        // Queueing counts toward the call's timeout.
        let deadline = admission::deadline(limits.timeout);
        let pre = self.prepared().await?;
        let _ticket = self
            .admission
            .enter(deadline)
            .await
            .map_err(|kind| self.fault(kind))?;
        match &self.reused {
            None => {
                let mut store = self.new_store(pre)?;
                store
                    .data_mut()
                    .begin_call(deadline, events, cancel.clone());
                let instance = self.instantiate(pre, &mut store).await?;
                self.run(pre, &mut store, &instance, request, deadline, cancel)
                    .await
            }
            Some(slot) => {
                let mut slot = admission::within(deadline, Busy::Instance, slot.lock())
                    .await
                    .map_err(|kind| self.fault(kind))?;
                let live = match slot.take() {
                    Some(live) => live,
                    None => {
                        let mut store = self.new_store(pre)?;
                        store
                            .data_mut()
                            .begin_call(deadline, None, CancellationToken::new());
                        let instance = self.instantiate(pre, &mut store).await?;
                        Live { store, instance }
                    }
                };
                let Live {
                    mut store,
                    instance,
                } = live;
                store
                    .data_mut()
                    .begin_call(deadline, events, cancel.clone());
                store
                    .set_fuel(limits.fuel)
                    .map_err(|e| self.fault(FaultKind::Host(format!("{e:#}"))))?;
                let outcome = self
                    .run(pre, &mut store, &instance, request, deadline, cancel)
                    .await;
                // A trap or a hit limit leaves the instance in an unknown
                // state: the next call starts fresh.
                if outcome.is_ok() {
                    *slot = Some(Live { store, instance });
                }
                outcome
            }
        }
    }

    /// The linked component: linked at load, or now for a group loaded from
    /// its cached description (once; concurrent first calls wait for it).
    async fn prepared(&self) -> Result<&Prepared, Fault> {
        self.pre
            .get_or_try_init(|| async {
                let Some(later) = &self.later else {
                    // Not reached: a group without `later` is linked at load.
                    return Err(self.fault(FaultKind::Host("the group was never linked".into())));
                };
                later.runtime.prepare_later(later).await.map_err(|e| {
                    self.fault(FaultKind::Host(format!(
                        "cannot prepare the group's component: {}",
                        e.reason
                    )))
                })
            })
            .await
    }

    async fn instantiate(
        &self,
        pre: &Prepared,
        store: &mut Store<CallState>,
    ) -> Result<Instance, Fault> {
        let limits = &self.limits;
        pre.pre.instantiate_async(&mut *store).await.map_err(|e| {
            let kind = fault::classify(&e, store.data(), limits);
            self.fault(FaultKind::Instantiate(kind.describe(&self.name, limits)))
        })
    }

    fn new_store(&self, pre: &Prepared) -> Result<Store<CallState>, Fault> {
        let state = CallState::new(self.name.clone(), &self.grants, &self.limits)
            .map_err(|e| self.fault(FaultKind::Host(format!("{e:#}"))))?;
        let mut store = new_store(pre.pre.engine(), state)
            .map_err(|e| self.fault(FaultKind::Host(format!("{e:#}"))))?;
        store
            .set_fuel(self.limits.fuel)
            .map_err(|e| self.fault(FaultKind::Host(format!("{e:#}"))))?;
        // Bounds the bytes the guest can hand the host in one call (its
        // result included) before they are copied: an oversized result is
        // refused without the host allocating it.
        store.set_hostcall_fuel(hostcall_fuel(&self.limits));
        Ok(store)
    }

    async fn run<A: Ask>(
        &self,
        pre: &Prepared,
        store: &mut Store<CallState>,
        instance: &Instance,
        request: A,
        deadline: std::time::Instant,
        cancel: CancellationToken,
    ) -> Result<Answer<A::Answer>, Fault> {
        let limits = &self.limits;
        store.set_epoch_deadline(1);
        let outcome = {
            let call = request.ask(&mut *store, instance, &pre.exports);
            tokio::select! {
                outcome = tokio::time::timeout_at((deadline + DEADLINE_GRACE).into(), call) => Some(outcome),
                () = cancel.cancelled() => None,
            }
        };
        let Some(outcome) = outcome else {
            store.data_mut().end_call();
            return Err(self.fault(FaultKind::Cancelled));
        };
        let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        store.data_mut().end_call();
        let state = store.data();
        state.log_captured_output();
        match outcome {
            Err(_elapsed) => Err(self.fault(FaultKind::Timeout)),
            Ok(Err(error)) => Err(self.fault(fault::classify(&error, state, limits))),
            Ok(Ok(result)) => {
                if let Ok(answer) = &result {
                    A::check(answer, limits).map_err(|kind| self.fault(kind))?;
                }
                Ok(Answer { result, fuel_used })
            }
        }
    }
}

/// Advances every engine's epoch each [`TICK`] until dropped.
struct Ticker {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Ticker {
    fn start(engines: Vec<Engine>) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engines.iter().for_each(Engine::increment_epoch);
                }
            })
            .expect("cannot start the epoch ticker thread");
        Self { stop }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Sets how `pool` resets a slot for the next call. Where the kernel can
/// say which pages a call dirtied (`PAGEMAP_SCAN`, Linux 6.7+), only those
/// are reset, by copying, and stay mapped: `madvise` would unmap them, which
/// costs a TLB shootdown on every core and a page fault per page on the next
/// call (measured: 2.7x the calls per second at 8 clients). Only slots that
/// calls really used stay resident, as reuse is most-recent-first. Without
/// the scan, resetting the kept bytes would mean rewriting all of them on
/// every call: slots are unmapped then, wasmtime's default.
pub fn reset_in_place(pool: &mut PoolingAllocationConfig) {
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(wasmtime::Enabled::Yes)
            .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
            .table_keep_resident(KEEP_RESIDENT_TABLE);
    }
}

/// The cores this process may use.
fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}
