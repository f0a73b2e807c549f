//! Compiling a component under a budget.
//!
//! A component's bytes are untrusted, and compiling them is the most
//! expensive thing the host does with them: one pathological function can
//! take minutes and gigabytes. So a compilation has a [`Budget`]:
//!
//! - the file's size is capped before it is read
//!   (`server.max_component_size`);
//! - the compiler runs in a child process, `toolhost __compile`, which the
//!   host kills when it runs longer than `server.compile_timeout`, and whose
//!   address space (`RLIMIT_AS`, `server.compile_memory`) and CPU time
//!   (`RLIMIT_CPU`, the timeout on every core: a backstop should the host
//!   itself die) the kernel bounds. A compiler that blows up takes down the
//!   child, never the host.
//!
//! The child builds its engine from [`engine_config`], as the host's engines
//! are, so what it compiles has the host engine's compatibility hash; it
//! reads the component on stdin and writes the serialized `.cwasm` to
//! stdout. The host stores that in the compile cache and maps it from there
//! (a warm start then maps the same entry), or deserializes it when there is
//! no cache. A hit in the cache needs no child and no compile slot.
//!
//! A process that is not the `toolhost` binary (unit tests, benches, an
//! embedder that never called [`compile_in_child_processes`]) compiles on a
//! blocking thread instead: there the deadline stops the waiting, not the
//! work, and memory is not bounded.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::OwnedSemaphorePermit;
use wasmtime::Engine;
use wasmtime::component::Component;

use super::cache::{CompileCache, Origin};
use super::fault;
use crate::config::{ByteSize, ServerConfig, format_duration};

/// How much a component may cost to load.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Largest file, in bytes (`server.max_component_size`).
    pub max_size: u64,
    /// Longest compilation (`server.compile_timeout`).
    pub timeout: Duration,
    /// Most address space of the compiler process (`server.compile_memory`).
    pub memory: u64,
}

impl Budget {
    pub fn from_config(server: &ServerConfig) -> Self {
        Self {
            max_size: server.max_component_size.0,
            timeout: server.compile_timeout.0,
            memory: server.compile_memory.0,
        }
    }

    /// Refuses a file of `len` bytes over the size cap.
    pub fn check_size(&self, len: u64) -> Result<(), String> {
        if len <= self.max_size {
            return Ok(());
        }
        Err(format!(
            "the file is {}, over the limit of {} (limit: server.max_component_size); \
             raise it if a component this large is expected",
            ByteSize(len),
            ByteSize(self.max_size)
        ))
    }

    fn timed_out(&self) -> String {
        format!(
            "compiling took longer than {} (limit: server.compile_timeout); \
             raise it if the component is expected to take this long",
            format_duration(self.timeout)
        )
    }

    fn out_of_memory(&self) -> String {
        format!(
            "compiling needed more than {} of memory (limit: server.compile_memory); \
             raise it if the component is expected to need this much",
            ByteSize(self.memory)
        )
    }

    /// CPU seconds the child may use: the timeout on every core, rounded
    /// up, plus one.
    fn cpu_seconds(&self) -> u64 {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as f64;
        (self.timeout.as_secs_f64() * cores).ceil() as u64 + 1
    }
}

/// The executable to run as `toolhost __compile`, once
/// [`compile_in_child_processes`] was called.
static COMPILER: OnceLock<PathBuf> = OnceLock::new();

/// Makes every later compilation of this process run in a child process:
/// `exe` (the `toolhost` binary) run as `toolhost __compile`.
pub fn compile_in_child_processes(exe: PathBuf) {
    let _ = COMPILER.set(exe);
}

/// The running executable, in a form that still starts it after the file
/// was replaced (as `cargo build` does with a binary that is running).
pub fn this_executable() -> std::io::Result<PathBuf> {
    let proc_self = Path::new("/proc/self/exe");
    if proc_self.exists() {
        return Ok(proc_self.to_owned());
    }
    std::env::current_exe()
}

/// What the engines compile with: every setting that reaches the compiled
/// code. Instance allocation (a pool in the host) is added by the caller.
pub fn engine_config(stack: u64) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(stack as usize)
        // Host functions run on the same fiber stack as the guest.
        .async_stack_size(stack as usize + 1024 * 1024)
        .concurrency_support(false);
    config
}

/// Maps the cached compilation of `hash`, if any. Needs no compile slot.
pub(super) async fn cached(
    engine: &Engine,
    hash: blake3::Hash,
    cache: Option<&CompileCache>,
) -> Option<Component> {
    let cache = cache?.clone();
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || cache.lookup(&engine, &hash))
        .await
        .ok()
        .flatten()
}

/// Compiles `bytes` for `engine` (whose wasm stack is `stack`) within
/// `budget`, holding `slot` until the compilation has really stopped, and
/// stores the result in `cache`. The error is a reason for a
/// [`super::LoadError`].
pub(super) async fn compile(
    engine: &Engine,
    stack: u64,
    bytes: Arc<Vec<u8>>,
    hash: blake3::Hash,
    cache: Option<&CompileCache>,
    budget: &Budget,
    slot: OwnedSemaphorePermit,
) -> Result<(Component, Origin), String> {
    let serialized = match COMPILER.get() {
        Some(exe) => in_child(exe, stack, &bytes, budget).await?,
        None => return in_process(engine, bytes, hash, cache, budget, slot).await,
    };
    drop(slot);
    let engine = engine.clone();
    let cache = cache.cloned();
    tokio::task::spawn_blocking(move || {
        if let Some(component) = cache.and_then(|cache| cache.store(&engine, &hash, &serialized)) {
            return Ok(component);
        }
        // SAFETY: `deserialize` trusts the bytes to be the output of
        // `Component::serialize` by a compatible engine. They are: the child
        // is this very binary, and it serialized what it compiled with
        // `engine_config`, as `engine` was configured (wasmtime also checks
        // the version and configuration recorded in the bytes, and refuses a
        // mismatch with an error).
        unsafe { Component::deserialize(&engine, &serialized) }
    })
    .await
    .map_err(|e| format!("loading the compiled component crashed: {e}"))?
    .map(|component| (component, Origin::Compiled))
    .map_err(|e| format!("cannot load the compiled component: {e:#}"))
}

/// Compiles on a blocking thread of this process.
async fn in_process(
    engine: &Engine,
    bytes: Arc<Vec<u8>>,
    hash: blake3::Hash,
    cache: Option<&CompileCache>,
    budget: &Budget,
    slot: OwnedSemaphorePermit,
) -> Result<(Component, Origin), String> {
    let engine = engine.clone();
    let cache = cache.cloned();
    let work = tokio::task::spawn_blocking(move || {
        // Held until the compilation is over, even when nobody waits for
        // it any more.
        let _slot = slot;
        match cache {
            Some(cache) => cache.load(&engine, &bytes, &hash),
            None => Component::new(&engine, &*bytes).map(|c| (c, Origin::Compiled)),
        }
    });
    match tokio::time::timeout(budget.timeout, work).await {
        Err(_) => Err(budget.timed_out()),
        Ok(Err(e)) => Err(format!("compilation crashed: {e}")),
        Ok(Ok(compiled)) => compiled.map_err(|e| fault::describe_compile_error(&e)),
    }
}

/// The exit status of the child for a component that does not compile; its
/// stderr then holds the reason.
const EXIT_REFUSED: u8 = 2;
/// Most of the child's stderr kept for the error message.
const STDERR_TAIL: usize = 4096;

/// Runs `toolhost __compile` on `bytes` and returns what it serialized.
async fn in_child(
    exe: &Path,
    stack: u64,
    bytes: &[u8],
    budget: &Budget,
) -> Result<Vec<u8>, String> {
    let mut child = tokio::process::Command::new(exe)
        .arg("__compile")
        .args(["--stack", &stack.to_string()])
        .args(["--memory", &budget.memory.to_string()])
        .args(["--cpu", &budget.cpu_seconds().to_string()])
        // glibc reserves 64 MiB of address space per malloc arena, up to
        // eight per core: that would count against the memory limit.
        .env("MALLOC_ARENA_MAX", "2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start the compiler process {}: {e}", exe.display()))?;
    let (Some(mut stdin), Some(mut stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err("the compiler process has no pipes".to_owned());
    };
    let feed = async move {
        // A child that dies early closes the pipe; its status says why.
        let _ = stdin.write_all(bytes).await;
    };
    let mut serialized = Vec::new();
    let output = async {
        // Bounded like the child's memory: it cannot have produced more.
        let _ = (&mut stdout)
            .take(budget.memory)
            .read_to_end(&mut serialized)
            .await;
    };
    let run = async { tokio::join!(feed, output, tail(stderr), child.wait()) };
    let (_, _, stderr, status) = match tokio::time::timeout(budget.timeout, run).await {
        Ok(done) => done,
        Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(budget.timed_out());
        }
    };
    let status = status.map_err(|e| format!("cannot wait for the compiler process: {e}"))?;
    if status.success() {
        return Ok(serialized);
    }
    let stderr = String::from_utf8_lossy(&stderr);
    let stderr = stderr.trim();
    if status.code() == Some(EXIT_REFUSED.into()) {
        return Err(stderr
            .lines()
            .last()
            .unwrap_or("it does not compile")
            .to_owned());
    }
    #[cfg(unix)]
    if std::os::unix::process::ExitStatusExt::signal(&status) == Some(libc::SIGXCPU) {
        return Err(budget.timed_out());
    }
    let out_of_memory = [
        "memory allocation of",
        "Cannot allocate memory",
        "out of memory",
    ]
    .iter()
    .any(|sign| stderr.contains(sign));
    if out_of_memory {
        return Err(budget.out_of_memory());
    }
    Err(format!("the compiler process failed ({status}): {stderr}"))
}

/// The last [`STDERR_TAIL`] bytes `reader` yields.
async fn tail(mut reader: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buffer = [0; 4096];
    while let Ok(n @ 1..) = reader.read(&mut buffer).await {
        kept.extend_from_slice(&buffer[..n]);
        if kept.len() > 2 * STDERR_TAIL {
            kept.drain(..kept.len() - STDERR_TAIL);
        }
    }
    let start = kept.len().saturating_sub(STDERR_TAIL);
    kept.split_off(start)
}

/// `toolhost __compile`: compiles the component on stdin, writes the
/// serialized compilation to stdout.
#[derive(Debug, clap::Args)]
pub struct ChildArgs {
    /// The wasm stack of the engine to compile for, in bytes.
    #[arg(long)]
    stack: u64,
    /// Most address space, in bytes.
    #[arg(long)]
    memory: u64,
    /// Most CPU time, in seconds.
    #[arg(long)]
    cpu: u64,
}

/// Runs the compiler child. Exit status 0: the compilation is on stdout;
/// [`EXIT_REFUSED`]: the component does not compile, the reason is on
/// stderr; anything else: it crashed or hit a limit.
pub fn child(args: ChildArgs) -> ExitCode {
    use std::io::{Read as _, Write as _};
    if let Err(e) = limit_resources(args.memory, args.cpu) {
        eprintln!("cannot limit the compiler's resources: {e}");
        return ExitCode::FAILURE;
    }
    exit_with_parent();
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut bytes) {
        eprintln!("cannot read the component: {e}");
        return ExitCode::FAILURE;
    }
    let engine = match Engine::new(&engine_config(args.stack)) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("cannot create the wasm engine: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let serialized = match Component::new(&engine, &bytes).and_then(|c| c.serialize()) {
        Ok(serialized) => serialized,
        Err(e) => {
            eprintln!("{}", fault::describe_compile_error(&e).replace('\n', " "));
            return ExitCode::from(EXIT_REFUSED);
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(&serialized).and_then(|()| stdout.flush()) {
        eprintln!("cannot write the compilation: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Ends this process soon after the host that started it: a host killed
/// mid-compile must not leave its compiler running.
fn exit_with_parent() {
    #[cfg(unix)]
    {
        let parent = std::os::unix::process::parent_id();
        let _ = std::thread::Builder::new()
            .name("parent-watch".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                while std::os::unix::process::parent_id() == parent {
                    std::thread::sleep(Duration::from_millis(200));
                }
                std::process::exit(1);
            });
    }
}

/// Caps this process's address space at `memory` bytes and its CPU time at
/// `cpu` seconds (`SIGXCPU` then, `SIGKILL` a second later).
#[cfg(unix)]
fn limit_resources(memory: u64, cpu: u64) -> std::io::Result<()> {
    let set = |resource, soft: u64, hard: u64| {
        let limit = libc::rlimit {
            rlim_cur: soft as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: plain system call on a valid, initialized struct.
        if unsafe { libc::setrlimit(resource, &limit) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    set(libc::RLIMIT_AS, memory, memory)?;
    set(libc::RLIMIT_CPU, cpu, cpu + 1)
}

#[cfg(not(unix))]
fn limit_resources(_memory: u64, _cpu: u64) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_cap_names_the_key() {
        let budget = Budget::from_config(&ServerConfig::default());
        assert_eq!(budget.max_size, 64 * 1024 * 1024);
        assert!(budget.check_size(budget.max_size).is_ok());
        let refused = budget.check_size(80 * 1024 * 1024).unwrap_err();
        assert!(
            refused.contains("80MiB, over the limit of 64MiB (limit: server.max_component_size)"),
            "{refused}"
        );
    }

    #[test]
    fn the_child_compiles_for_the_host_engines() {
        // What the child compiles must be what the host's pooled engine
        // maps: the same compatibility hash, hence the same cache directory.
        let stack = 512 * 1024;
        let host = super::super::Sandbox::new(stack, 64 << 20, 4, &[]).unwrap();
        let child = Engine::new(&engine_config(stack)).unwrap();
        let cache = CompileCache::new(PathBuf::from("/nonexistent"));
        assert_eq!(cache.engine_dir(&host.engine), cache.engine_dir(&child));
        let compiled = Component::new(&child, b"\0asm\x0d\0\x01\0")
            .and_then(|c| c.serialize())
            .unwrap();
        // SAFETY: serialized just above by an engine of the same settings.
        unsafe { Component::deserialize(&host.engine, &compiled) }.unwrap();
    }

    #[test]
    fn the_other_limits_name_their_keys() {
        let budget = Budget::from_config(&ServerConfig::default());
        assert!(
            budget
                .timed_out()
                .contains("longer than 60s (limit: server.compile_timeout)")
        );
        assert!(
            budget
                .out_of_memory()
                .contains("more than 2GiB of memory (limit: server.compile_memory)")
        );
    }
}
