//! `toolhost.toml`: server settings, default limits and per-group policy.
//!
//! Every key has a documented default and unknown keys are errors, so a typo
//! never silently falls back to a default. The file is optional; without it
//! every group runs with [`Limits::default`] and no grants.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Deserializer};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Settings of the server itself.
    #[serde(default)]
    pub server: ServerConfig,
    /// Limits and policy every group starts from.
    #[serde(default)]
    pub defaults: GroupSettings,
    /// Per-group overrides, keyed by the group's name.
    #[serde(default)]
    pub groups: BTreeMap<String, GroupSettings>,
    /// The compile cache.
    #[serde(default)]
    pub cache: CacheConfig,
    /// The streamable HTTP transport.
    #[serde(default)]
    pub http: HttpConfig,
    /// Calls that go on as tasks after their request is answered.
    #[serde(default)]
    pub tasks: TasksConfig,
    /// Upstream MCP servers served beside the groups, by name.
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamConfig>,
}

/// `[upstreams.NAME]`: an MCP server toolhost runs (`command`, over
/// stdio) or reaches (`url`, over streamable HTTP) and serves through its
/// own doors, under the same policy as a group of that name: namespace,
/// tool filters, scopes, limits on calls.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// The program to run; it speaks MCP on its stdin and stdout.
    pub command: Option<String>,
    /// Or the server's streamable HTTP endpoint (`https://…/mcp`).
    pub url: Option<String>,
    /// Headers sent with every HTTP request to it, for its credentials;
    /// values may be `${env:NAME}` or `${file:PATH}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Its working directory (default: toolhost's).
    pub cwd: Option<std::path::PathBuf>,
    /// Its environment, as for a group: `KEY` passes toolhost's value,
    /// `KEY=VALUE` sets one (the value may hold `${env:NAME}` or
    /// `${file:PATH}`); nothing else reaches it but `PATH`.
    #[serde(default)]
    pub env: Vec<String>,
    /// Prefix of what it publishes (default: its name; `""`: none).
    pub namespace: Option<String>,
    /// Which of its tools are published.
    #[serde(default)]
    pub tools: ToolFilter,
    /// Longest a request to it may take (default: the groups' `timeout`).
    pub timeout: Option<HumanDuration>,
    /// Most requests to it at once (default as for a group); more wait
    /// within their timeout.
    pub max_concurrent_calls: Option<u32>,
    /// Requests in a row that time out or lose the session before toolhost
    /// stops sending it any (the circuit breaker opens).
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: u32,
    /// How long the breaker stays open before one request probes it.
    #[serde(default = "default_breaker_open")]
    pub breaker_open: HumanDuration,
}

fn default_breaker_failures() -> u32 {
    5
}

fn default_breaker_open() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

/// `[tasks]`: calls a group lets go on as tasks (`ctx.run_as_task()`),
/// which a client polls by id (the MCP tasks extension).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TasksConfig {
    /// How long a task and its result are kept, counted from its start
    /// (`ttlMs`); then its id is unknown. Keep it well above the groups'
    /// `timeout`, which still bounds each run of a task.
    #[serde(default = "default_task_ttl")]
    pub ttl: HumanDuration,
    /// How often a client is told to poll (`pollIntervalMs`).
    #[serde(default = "default_poll_interval")]
    pub poll_interval: HumanDuration,
    /// Most tasks kept at once; past it a call runs without becoming one.
    #[serde(default = "default_max_tasks")]
    pub max: usize,
    /// Most tasks kept for one caller (one subject; every caller is one
    /// without auth).
    #[serde(default = "default_max_tasks_per_caller")]
    pub max_per_caller: usize,
}

fn default_task_ttl() -> HumanDuration {
    HumanDuration(Duration::from_secs(3600))
}

fn default_poll_interval() -> HumanDuration {
    HumanDuration(Duration::from_millis(500))
}

fn default_max_tasks() -> usize {
    10_000
}

fn default_max_tasks_per_caller() -> usize {
    1_000
}

impl Default for TasksConfig {
    fn default() -> Self {
        Self {
            ttl: default_task_ttl(),
            poll_interval: default_poll_interval(),
            max: default_max_tasks(),
            max_per_caller: default_max_tasks_per_caller(),
        }
    }
}

/// `[cache]`: compiled components kept on disk, so that a warm start maps
/// them instead of compiling (see `runtime::cache`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Use the cache at all (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Where (relative paths are relative to the working directory); default
    /// `$XDG_CACHE_HOME/toolhost`, else `~/.cache/toolhost`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: None,
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Joins a group's prefix and an operation name into a tool name.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Most calls running at once; more wait for a free slot.
    #[serde(default = "default_max_concurrent_calls")]
    pub max_concurrent_calls: u32,
    /// Require tool names to match `^[A-Za-z0-9_-]{1,64}$`, what the OpenAI
    /// and Anthropic APIs accept. Turn off to allow `.` (e.g. as separator).
    #[serde(default = "default_true")]
    pub strict_names: bool,
    /// Most items in one page of `tools/list`, `resources/list`,
    /// `resources/templates/list` and `prompts/list`; the rest follow
    /// through `nextCursor`.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// Guest linear memory all running calls may reserve together; a call
    /// reserves its group's `memory` limit while it runs, and waits (within
    /// its timeout) when the budget is spent. Default: half of the
    /// machine's memory.
    #[serde(default)]
    pub memory_budget: Option<ByteSize>,
    /// Largest component file loaded; a larger one is refused before it is
    /// read.
    #[serde(default = "default_max_component_size")]
    pub max_component_size: ByteSize,
    /// Longest one component may take to compile; a compile still running
    /// then is stopped and the file refused.
    #[serde(default = "default_compile_timeout")]
    pub compile_timeout: HumanDuration,
    /// Most memory (address space) one compilation may use.
    #[serde(default = "default_compile_memory")]
    pub compile_memory: ByteSize,
    /// Longest a request waits for the initial load of the plugin
    /// directory; after it, requests see the groups loaded so far and
    /// clients are told `list_changed` as the others arrive.
    #[serde(default = "default_load_wait")]
    pub load_wait: HumanDuration,
    /// Largest tool schema (input or output) a group may declare.
    #[serde(default)]
    pub schema_size: Option<ByteSize>,
    /// Most schema checks one validation of arguments or output may take,
    /// predicted before it starts; more is refused as too complex.
    #[serde(default)]
    pub schema_checks: Option<u64>,
    /// Where the host keeps data that must outlive it: the state store of
    /// groups granted `[groups.NAME.state]` (relative paths are relative to
    /// the working directory). Default `$XDG_DATA_HOME/toolhost`, else
    /// `~/.local/share/toolhost`.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// The key (32 bytes or more) that seals the `requestState` of
    /// 2026-07-28 `input_required` results, from `${env:NAME}` or
    /// `${file:PATH}`. Replicas behind one address share it, so that a
    /// retry may reach any of them; without it each process picks a random
    /// key, and a restart invalidates questions in flight.
    #[serde(default)]
    pub request_state_key: Option<String>,
    /// How long a 2026-07-28 client may reuse a list it fetched (`ttlMs`
    /// on `tools/list`, `prompts/list`, `resources/list` and
    /// `resources/templates/list`). A reload that changes a list still
    /// sends `list_changed`, which ends the reuse early for clients that
    /// listen. `0s` (the default): revalidate every time.
    #[serde(default)]
    pub list_ttl: HumanDuration,
}

impl ServerConfig {
    /// `request_state_key` with its references expanded.
    pub fn request_state_key(&self) -> anyhow::Result<Option<Vec<u8>>> {
        self.request_state_key
            .as_deref()
            .map(|template| {
                crate::runtime::outbound::expand(template)
                    .map(String::into_bytes)
                    .map_err(|e| anyhow::anyhow!("server.request_state_key: {e}"))
            })
            .transpose()
    }

    /// `data_dir`, or its default; `None` when neither it nor `$HOME` is
    /// set.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.data_dir
            .clone()
            .or_else(|| user_dir("XDG_DATA_HOME", ".local/share"))
    }

    /// `memory_budget`, or half of the machine's memory (4 GiB when that
    /// cannot be read).
    pub fn memory_budget(&self) -> u64 {
        self.memory_budget
            .map(|b| b.0)
            .unwrap_or_else(|| machine_memory().map_or(4 * 1024 * MIB, |total| total / 2))
    }

    /// The call slots one group may hold at once when its section does not
    /// say: a quarter of the host's, so that one group cannot take them all.
    pub fn default_group_calls(&self) -> u32 {
        (self.max_concurrent_calls / 4).max(1)
    }
}

/// `$XDG_VAR/toolhost`, else `$HOME/HOME_RELATIVE/toolhost` (the XDG base
/// directory rules); `None` when neither variable holds an absolute path.
pub fn user_dir(xdg_var: &str, home_relative: &str) -> Option<PathBuf> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    absolute(xdg_var)
        .or_else(|| absolute("HOME").map(|home| home.join(home_relative)))
        .map(|base| base.join("toolhost"))
}

/// Physical memory of the machine, from `/proc/meminfo`.
fn machine_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn default_page_size() -> usize {
    100
}

fn default_max_component_size() -> ByteSize {
    ByteSize(64 * MIB)
}

fn default_compile_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}

fn default_compile_memory() -> ByteSize {
    ByteSize(2 * GIB)
}

fn default_load_wait() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

fn default_true() -> bool {
    true
}

fn default_separator() -> String {
    "_".to_owned()
}

fn default_max_concurrent_calls() -> u32 {
    256
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            separator: default_separator(),
            max_concurrent_calls: default_max_concurrent_calls(),
            strict_names: true,
            page_size: default_page_size(),
            memory_budget: None,
            max_component_size: default_max_component_size(),
            compile_timeout: default_compile_timeout(),
            compile_memory: default_compile_memory(),
            load_wait: default_load_wait(),
            schema_size: None,
            schema_checks: None,
            data_dir: None,
            request_state_key: None,
            list_ttl: HumanDuration::default(),
        }
    }
}

/// `[defaults]` and `[groups.NAME]`: every key optional, so a group section
/// only names what differs from the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSettings {
    pub fuel: Option<u64>,
    pub timeout: Option<HumanDuration>,
    pub memory: Option<ByteSize>,
    pub stack: Option<ByteSize>,
    pub max_output: Option<ByteSize>,
    pub instances: Option<InstanceMode>,
    /// Most calls of this group running at once (default: a quarter of
    /// `server.max_concurrent_calls`); more wait within their timeout.
    pub max_concurrent_calls: Option<u32>,
    /// Only this file may serve the group (a file name, or a path); any
    /// other component declaring the group's name is refused.
    pub file: Option<String>,
    /// Only a component with this BLAKE3 digest (hex) may serve the group.
    pub digest: Option<String>,
    pub namespace: Option<String>,
    pub env: Option<Vec<String>>,
    pub dirs: Option<Vec<DirGrant>>,
    pub tools: Option<ToolFilter>,
    pub config: Option<BTreeMap<String, String>>,
    /// `[[groups.NAME.http]]`: where the group may send HTTP requests.
    pub http: Option<Vec<HttpGrant>>,
    /// `[groups.NAME.http_limits]`: what one call may spend on them.
    pub http_limits: Option<HttpLimitSettings>,
    /// Persistent key-value state; the table's presence grants it.
    pub state: Option<StateQuota>,
}

/// One destination a group may send HTTP requests to:
/// `[[groups.NAME.http]]`. A request must match every field of one grant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGrant {
    /// A host name (`api.example.com`), a wildcard for its subdomains
    /// (`*.example.com`, not the name itself) or an IP address.
    pub host: String,
    /// Schemes allowed (default `["https"]`).
    pub schemes: Option<Vec<String>>,
    /// Ports allowed (default: the schemes' own, 443 and 80).
    pub ports: Option<Vec<u16>>,
    /// Methods allowed (default: all).
    pub methods: Option<Vec<String>>,
    /// Path prefixes allowed (default: all), like `/v1/`.
    pub paths: Option<Vec<String>>,
    /// Non-public addresses (`10.0.0.0/8`, `127.0.0.1`) the host name may
    /// resolve to; loopback, private, link-local and metadata addresses are
    /// refused otherwise.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Headers the host adds to every request this grant allows, for
    /// credentials the group never sees. Values may contain
    /// `${env:NAME}` and `${file:PATH}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// `[groups.NAME.http_limits]` (and `[defaults.http_limits]`): every key
/// optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpLimitSettings {
    pub requests: Option<u32>,
    pub response_bytes: Option<ByteSize>,
    pub connect_timeout: Option<HumanDuration>,
    pub first_byte_timeout: Option<HumanDuration>,
    pub request_timeout: Option<HumanDuration>,
}

/// What one call may spend on outbound HTTP. Every request also ends with
/// the call's own deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Requests per call.
    pub requests: u32,
    /// Response body bytes per call, all requests together.
    pub response_bytes: u64,
    /// Resolving the name and connecting (TLS included).
    pub connect_timeout: Duration,
    /// From sending the request to the response's headers.
    pub first_byte_timeout: Duration,
    /// One request from start to the end of its body.
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            requests: 16,
            response_bytes: 8 * MIB,
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// `[groups.NAME.state]` (or `[defaults.state]`): the group may keep
/// key-value state on the host's disk, within these quotas. An empty table
/// grants it with the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateQuota {
    /// Most keys the group may hold (default 10000).
    #[serde(default = "default_state_keys")]
    pub max_keys: u64,
    /// Most bytes of keys and values together (default 16MiB).
    #[serde(default = "default_state_bytes")]
    pub max_bytes: ByteSize,
    /// Largest single value (default 1MiB).
    #[serde(default = "default_state_value")]
    pub max_value: ByteSize,
}

impl Default for StateQuota {
    fn default() -> Self {
        Self {
            max_keys: default_state_keys(),
            max_bytes: default_state_bytes(),
            max_value: default_state_value(),
        }
    }
}

fn default_state_keys() -> u64 {
    10_000
}

fn default_state_bytes() -> ByteSize {
    ByteSize(16 * MIB)
}

fn default_state_value() -> ByteSize {
    ByteSize(MIB)
}

/// Whether each call gets a fresh instance or calls share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceMode {
    /// A fresh instance per call: no state leaks between calls (default).
    #[default]
    PerCall,
    /// One instance kept across calls, so a group can keep state. A trap or
    /// a hit limit discards it and the next call starts fresh.
    Reuse,
}

/// One directory a group may see.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirGrant {
    /// Directory on the host.
    pub host: PathBuf,
    /// Where the guest sees it, e.g. `/data`.
    pub guest: String,
    /// `ro` (default) or `rw`.
    #[serde(default)]
    pub mode: DirMode,
}

/// Access mode of a granted directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirMode {
    #[default]
    Ro,
    Rw,
}

/// Which of a group's operations are published, by name or glob.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolFilter {
    /// Only these (default: all).
    #[serde(default)]
    pub enable: Option<Vec<String>>,
    /// Never these, even when enabled.
    #[serde(default)]
    pub disable: Vec<String>,
}

/// The effective limits and grants of one group: defaults, then the group's
/// section, then command-line overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub limits: Limits,
    pub instances: InstanceMode,
    /// Most calls of the group running at once.
    pub max_concurrent_calls: u32,
    /// The file the group is pinned to (`groups.NAME.file`).
    pub file: Option<String>,
    /// The digest the group is pinned to (`groups.NAME.digest`).
    pub digest: Option<String>,
    /// `None`: prefix tools with the group name; `Some("")`: no prefix.
    pub namespace: Option<String>,
    pub env: Vec<String>,
    pub dirs: Vec<DirGrant>,
    pub tools: ToolFilter,
    pub config: BTreeMap<String, String>,
    /// Where the group may send HTTP requests (none: nowhere).
    pub http: Vec<HttpGrant>,
    pub http_limits: HttpLimits,
    /// The state grant and its quotas; `None`: no state.
    pub state: Option<StateQuota>,
}

/// Resource limits of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel per call (roughly one unit per wasm instruction).
    pub fuel: u64,
    /// Wall-clock time per call.
    pub timeout: Duration,
    /// Maximum linear memory of the instance, in bytes.
    pub memory: u64,
    /// Maximum wasm stack, in bytes.
    pub stack: u64,
    /// Maximum size of a result, in bytes.
    pub max_output: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 1_000_000_000,
            timeout: Duration::from_secs(10),
            memory: 128 * MIB,
            stack: 512 * KIB,
            max_output: 4 * MIB,
        }
    }
}

/// Limits given on the command line; they win over the file.
#[derive(Debug, Clone, Copy, Default)]
pub struct LimitOverrides {
    pub fuel: Option<u64>,
    pub timeout: Option<Duration>,
    pub memory: Option<u64>,
}

/// `[http]`: serving MCP over streamable HTTP (`toolhost serve --http`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Serve HTTP on this address, like `--http ADDR` (the flag wins).
    /// Default: no HTTP unless `--http` is given.
    #[serde(default)]
    pub listen: Option<std::net::SocketAddr>,
    /// `Host` header values accepted (name or `name:port`; `*` accepts
    /// any). Default: `localhost`, `127.0.0.1`, `::1` and the listen address.
    #[serde(default)]
    pub allowed_hosts: Option<Vec<String>>,
    /// `Origin` header values accepted (`scheme://host[:port]`, `:*` for
    /// any port, `*` for any origin). Requests without `Origin` always pass.
    /// Default: loopback origins on any port.
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
    /// Origins whose web pages may read `/mcp` responses (CORS), same
    /// syntax as `allowed_origins`. Default: every origin `allowed_origins`
    /// admits; an origin the guard refuses gets 403 whatever this says.
    #[serde(default)]
    pub cors_origins: Option<Vec<String>>,
    /// Largest request body; larger ones get 413. Default 4MiB.
    #[serde(default = "default_max_body")]
    pub max_body: ByteSize,
    /// How long a shutdown (SIGTERM, Ctrl-C) waits for calls in flight.
    /// Default 10s.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace: HumanDuration,
    /// Requests per subject (token subject, else client address), after
    /// authentication. Default: off.
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    /// Requests per client address (IPv6: per /64), before authentication,
    /// so wrong tokens are limited too; `per_second = 0` turns it off.
    /// Default: ten times `rate_limit` (rate and burst) when that is set,
    /// else off.
    #[serde(default)]
    pub address_limit: Option<RateLimitConfig>,
    /// How long a connection may take to send a complete request head
    /// (also the longest a kept-alive connection waits for its next
    /// request); slower ones are closed. Default 10s.
    #[serde(default = "default_header_timeout")]
    pub header_timeout: HumanDuration,
    /// Most connections open at once (keep it below the process's file
    /// descriptor limit). Past it, the oldest connection that is not in a
    /// request is closed to make room; when every one is in a request, new
    /// connections wait in the kernel's backlog. Default 512.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Most 2025-11-25 sessions open at once; an `initialize` past it gets
    /// 503. Default 10000.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
    /// Most sessions one subject (without auth: one client address) may
    /// have open; an `initialize` past it gets 429. Default 32.
    #[serde(default = "default_max_sessions_per_subject")]
    pub max_sessions_per_subject: usize,
    /// A session with no request for this long ends. Default 30m.
    #[serde(default = "default_session_idle_timeout")]
    pub session_idle_timeout: HumanDuration,
    /// Who may call. Default: anyone who can reach the address.
    #[serde(default)]
    pub auth: AuthConfig,
}

fn default_header_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

fn default_max_connections() -> usize {
    512
}

fn default_max_sessions() -> usize {
    10_000
}

fn default_max_sessions_per_subject() -> usize {
    32
}

fn default_session_idle_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30 * 60))
}

fn default_max_body() -> ByteSize {
    ByteSize(4 * MIB)
}

fn default_shutdown_grace() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: None,
            allowed_hosts: None,
            allowed_origins: None,
            cors_origins: None,
            max_body: default_max_body(),
            shutdown_grace: default_shutdown_grace(),
            rate_limit: None,
            address_limit: None,
            header_timeout: default_header_timeout(),
            max_connections: default_max_connections(),
            max_sessions: default_max_sessions(),
            max_sessions_per_subject: default_max_sessions_per_subject(),
            session_idle_timeout: default_session_idle_timeout(),
            auth: AuthConfig::default(),
        }
    }
}

/// `[http.rate_limit]` (a token bucket per subject) and
/// `[http.address_limit]` (one per client address).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed in a burst above the sustained rate. Default: one
    /// second's worth (at least 1).
    #[serde(default)]
    pub burst: Option<u32>,
}

/// `[http.auth]`: bearer tokens. Auth is on as soon as a token source
/// (`tokens_file`, `tokens_env` or `[http.auth.jwt]`) is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// File of static tokens, one per line: `TOKEN [SUBJECT [SCOPE...]]`.
    #[serde(default)]
    pub tokens_file: Option<PathBuf>,
    /// Environment variable holding static tokens, same format as
    /// `tokens_file` (lines or `,`-separated entries).
    #[serde(default)]
    pub tokens_env: Option<String>,
    /// JSON Web Tokens.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
    /// This server's resource identifier (RFC 9728), e.g.
    /// `https://tools.example.com/mcp`. Default: `http://HOST/mcp` from the
    /// request's `Host`.
    #[serde(default)]
    pub resource: Option<String>,
    /// Authorization servers announced in the protected-resource metadata.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// Scopes a caller needs to see and call a group's tools, by group name.
    #[serde(default)]
    pub scopes: BTreeMap<String, Vec<String>>,
}

impl AuthConfig {
    /// Whether any token source is configured.
    pub fn enabled(&self) -> bool {
        self.tokens_file.is_some() || self.tokens_env.is_some() || self.jwt.is_some()
    }
}

/// `[http.auth.jwt]`: exactly one key source; `issuer` and `audience` are
/// required, `exp` is required and `nbf` checked when present.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud` (one of the token's audiences).
    pub audience: String,
    /// HS256: environment variable holding the shared secret.
    #[serde(default)]
    pub hs256_secret_env: Option<String>,
    /// HS256: file holding the shared secret (trailing newline ignored).
    #[serde(default)]
    pub hs256_secret_file: Option<PathBuf>,
    /// RS256 or ES256: a PEM public key (the key type picks the algorithm).
    #[serde(default)]
    pub public_key: Option<PathBuf>,
    /// RS256 or ES256: a JWKS file; the token's `kid` picks the key.
    #[serde(default)]
    pub jwks: Option<PathBuf>,
    /// Clock skew tolerated on `exp` and `nbf`. Default 30s.
    #[serde(default)]
    pub leeway: Option<HumanDuration>,
}

impl HttpConfig {
    fn check(&self) -> anyhow::Result<()> {
        if self.max_body.0 == 0 {
            bail!("http.max_body must be at least 1 byte");
        }
        for (key, value) in [
            ("max_connections", self.max_connections),
            ("max_sessions", self.max_sessions),
            ("max_sessions_per_subject", self.max_sessions_per_subject),
        ] {
            if value == 0 {
                bail!("http.{key} must be at least 1");
            }
        }
        if self.max_connections > u32::MAX as usize {
            bail!("http.max_connections must be at most {}", u32::MAX);
        }
        for (key, value) in [
            ("header_timeout", self.header_timeout),
            ("session_idle_timeout", self.session_idle_timeout),
        ] {
            if value.0.is_zero() {
                bail!("http.{key} must be longer than 0s");
            }
        }
        if let Some(limit) = &self.rate_limit
            && !(limit.per_second.is_finite() && limit.per_second > 0.0)
        {
            bail!("http.rate_limit.per_second must be a positive number");
        }
        if let Some(limit) = &self.address_limit
            && !(limit.per_second.is_finite() && limit.per_second >= 0.0)
        {
            bail!("http.address_limit.per_second must be a positive number, or 0 for no limit");
        }
        if let Some(jwt) = &self.auth.jwt {
            let sources = [
                jwt.hs256_secret_env.is_some(),
                jwt.hs256_secret_file.is_some(),
                jwt.public_key.is_some(),
                jwt.jwks.is_some(),
            ];
            if sources.iter().filter(|set| **set).count() != 1 {
                bail!(
                    "[http.auth.jwt] needs exactly one key source: hs256_secret_env, \
                     hs256_secret_file, public_key or jwks"
                );
            }
            if jwt.issuer.is_empty() || jwt.audience.is_empty() {
                bail!("[http.auth.jwt] issuer and audience must not be empty");
            }
        }
        Ok(())
    }
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let config: Config = toml::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        config
            .check()
            .with_context(|| format!("invalid config file {}", path.display()))?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.server.separator.is_empty()
            || !self
                .server
                .separator
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            bail!("server.separator must be one or more of [A-Za-z0-9_.-]");
        }
        if self.server.strict_names && self.server.separator.contains('.') {
            bail!(
                "server.separator `{}` makes tool names the OpenAI and Anthropic APIs reject; \
                 set server.strict_names = false to allow it anyway",
                self.server.separator
            );
        }
        if self.server.page_size == 0 {
            bail!("server.page_size must be at least 1");
        }
        if self.server.max_concurrent_calls == 0 {
            bail!("server.max_concurrent_calls must be at least 1");
        }
        for (name, settings) in std::iter::once(("defaults", &self.defaults))
            .chain(self.groups.iter().map(|(k, v)| (k.as_str(), v)))
        {
            settings
                .check()
                .with_context(|| format!("in [{}]", section_name(name)))?;
        }
        if self.defaults.namespace.is_some() {
            bail!("`namespace` is per group: set it in [groups.NAME], not in [defaults]");
        }
        self.http.check()?;
        for (name, upstream) in &self.upstreams {
            crate::naming::check_name(name, true)
                .map_err(|why| anyhow::anyhow!("upstream name `{name}` {why}"))?;
            match (&upstream.command, &upstream.url) {
                (Some(command), None) if !command.trim().is_empty() => {}
                (None, Some(url)) => {
                    let uri: http::Uri = url
                        .parse()
                        .with_context(|| format!("[upstreams.{name}] url `{url}`"))?;
                    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                        bail!(
                            "[upstreams.{name}] url must be an http:// or https:// URL, not `{url}`"
                        );
                    }
                }
                _ => bail!(
                    "[upstreams.{name}] needs either a `command` (a server run over stdio) \
                     or a `url` (a server reached over streamable HTTP)"
                ),
            }
            if upstream.url.is_none() && !upstream.headers.is_empty() {
                bail!("[upstreams.{name}] headers are for a server reached by `url`");
            }
            if upstream.timeout.is_some_and(|t| t.0.is_zero()) {
                bail!("[upstreams.{name}] timeout must be more than 0s");
            }
            if upstream.max_concurrent_calls == Some(0) {
                bail!("[upstreams.{name}] max_concurrent_calls must be at least 1");
            }
        }
        Ok(())
    }

    /// The effective policy of upstream `name`: what it publishes and how
    /// it is called. Nothing of a group's sandbox applies to it.
    pub fn upstream_policy(&self, name: &str, upstream: &UpstreamConfig) -> Policy {
        let base = self.policy(name, &LimitOverrides::default());
        Policy {
            limits: Limits {
                timeout: upstream.timeout.map_or(base.limits.timeout, |t| t.0),
                ..base.limits
            },
            max_concurrent_calls: upstream
                .max_concurrent_calls
                .unwrap_or_else(|| self.server.default_group_calls())
                .max(1),
            namespace: upstream.namespace.clone(),
            tools: upstream.tools.clone(),
            file: None,
            digest: None,
            env: Vec::new(),
            dirs: Vec::new(),
            config: BTreeMap::new(),
            http: Vec::new(),
            state: None,
            ..base
        }
    }

    /// The effective policy of group `name`.
    pub fn policy(&self, name: &str, overrides: &LimitOverrides) -> Policy {
        let group = self.groups.get(name);
        let base = Limits::default();
        let fuel = group.and_then(|s| s.fuel).or(self.defaults.fuel);
        let timeout = group
            .and_then(|s| s.timeout)
            .or(self.defaults.timeout)
            .map(|d| d.0);
        let memory = group
            .and_then(|s| s.memory)
            .or(self.defaults.memory)
            .map(|b| b.0);
        let stack = group
            .and_then(|s| s.stack)
            .or(self.defaults.stack)
            .map(|b| b.0);
        let max_output = group
            .and_then(|s| s.max_output)
            .or(self.defaults.max_output)
            .map(|b| b.0);
        let limits = Limits {
            fuel: overrides.fuel.or(fuel).unwrap_or(base.fuel),
            timeout: overrides.timeout.or(timeout).unwrap_or(base.timeout),
            memory: overrides.memory.or(memory).unwrap_or(base.memory),
            stack: stack.unwrap_or(base.stack),
            max_output: max_output.unwrap_or(base.max_output),
        };
        Policy {
            limits,
            instances: group
                .and_then(|s| s.instances)
                .or(self.defaults.instances)
                .unwrap_or_default(),
            max_concurrent_calls: group
                .and_then(|s| s.max_concurrent_calls)
                .or(self.defaults.max_concurrent_calls)
                .unwrap_or_else(|| self.server.default_group_calls())
                .max(1),
            file: group.and_then(|s| s.file.clone()),
            digest: group.and_then(|s| s.digest.clone()),
            namespace: group.and_then(|s| s.namespace.clone()),
            env: layer(group, &self.defaults, |s| s.env.as_ref()),
            dirs: layer(group, &self.defaults, |s| s.dirs.as_ref()),
            tools: layer(group, &self.defaults, |s| s.tools.as_ref()),
            config: layer(group, &self.defaults, |s| s.config.as_ref()),
            state: group.and_then(|s| s.state).or(self.defaults.state),
            http: layer(group, &self.defaults, |s| s.http.as_ref()),
            http_limits: self.http_limits(group),
        }
    }

    /// Each outbound HTTP limit from the group, else `[defaults]`, else
    /// the built-in default.
    fn http_limits(&self, group: Option<&GroupSettings>) -> HttpLimits {
        let group = group.and_then(|s| s.http_limits).unwrap_or_default();
        let defaults = self.defaults.http_limits.unwrap_or_default();
        let base = HttpLimits::default();
        let time = |group: Option<HumanDuration>, defaults: Option<HumanDuration>, base| {
            group.or(defaults).map_or(base, |t| t.0)
        };
        HttpLimits {
            requests: group
                .requests
                .or(defaults.requests)
                .unwrap_or(base.requests),
            response_bytes: group
                .response_bytes
                .or(defaults.response_bytes)
                .map_or(base.response_bytes, |b| b.0),
            connect_timeout: time(
                group.connect_timeout,
                defaults.connect_timeout,
                base.connect_timeout,
            ),
            first_byte_timeout: time(
                group.first_byte_timeout,
                defaults.first_byte_timeout,
                base.first_byte_timeout,
            ),
            request_timeout: time(
                group.request_timeout,
                defaults.request_timeout,
                base.request_timeout,
            ),
        }
    }

    /// The largest memory limit any group can have: the pooling allocator
    /// reserves slots of this size.
    pub fn max_memory(&self, overrides: &LimitOverrides) -> u64 {
        let configured = std::iter::once(&self.defaults)
            .chain(self.groups.values())
            .filter_map(|s| s.memory.map(|b| b.0));
        overrides
            .memory
            .into_iter()
            .chain(configured)
            .chain(std::iter::once(Limits::default().memory))
            .max()
            .unwrap_or(Limits::default().memory)
    }

    /// The largest wasm stack any group can have.
    pub fn max_stack(&self) -> u64 {
        std::iter::once(&self.defaults)
            .chain(self.groups.values())
            .filter_map(|s| s.stack.map(|b| b.0))
            .chain(std::iter::once(Limits::default().stack))
            .max()
            .unwrap_or(Limits::default().stack)
    }
}

/// The group's value when it sets one, else the default's, else empty.
fn layer<T: Clone + Default>(
    group: Option<&GroupSettings>,
    defaults: &GroupSettings,
    get: impl Fn(&GroupSettings) -> Option<&T>,
) -> T {
    group
        .and_then(&get)
        .or_else(|| get(defaults))
        .cloned()
        .unwrap_or_default()
}

fn section_name(name: &str) -> String {
    if name == "defaults" {
        name.to_owned()
    } else {
        format!("groups.{name}")
    }
}

impl GroupSettings {
    fn check(&self) -> anyhow::Result<()> {
        if self.fuel == Some(0) {
            bail!("fuel must be at least 1");
        }
        if let Some(t) = self.timeout
            && t.0.is_zero()
        {
            bail!("timeout must be longer than 0s");
        }
        if let Some(m) = self.memory
            && m.0 < 64 * KIB
        {
            bail!("memory must be at least 64KiB (one wasm page)");
        }
        if let Some(s) = self.stack
            && !(16 * KIB..=64 * MIB).contains(&s.0)
        {
            bail!("stack must be between 16KiB and 64MiB");
        }
        for entry in self.env.iter().flatten() {
            let key = entry.split_once('=').map_or(entry.as_str(), |(k, _)| k);
            if key.is_empty() || key.contains('\0') {
                bail!("env entry `{entry}` must be KEY or KEY=VALUE");
            }
        }
        for dir in self.dirs.iter().flatten() {
            if !dir.guest.starts_with('/') {
                bail!(
                    "dirs: guest path `{}` must be absolute, like /data",
                    dir.guest
                );
            }
        }
        for grant in self.http.iter().flatten() {
            if grant.host.trim().is_empty() {
                bail!("http: every grant needs a `host`");
            }
        }
        if let Some(limits) = &self.http_limits {
            for (key, duration) in [
                ("connect_timeout", limits.connect_timeout),
                ("first_byte_timeout", limits.first_byte_timeout),
                ("request_timeout", limits.request_timeout),
            ] {
                if duration.is_some_and(|d| d.0.is_zero()) {
                    bail!("http_limits.{key} must be longer than 0s");
                }
            }
        }
        if let Some(state) = &self.state
            && (state.max_keys == 0 || state.max_bytes.0 == 0 || state.max_value.0 == 0)
        {
            bail!("state: max_keys, max_bytes and max_value must be at least 1");
        }
        if let Some(ns) = &self.namespace
            && !ns
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bail!("namespace `{ns}` may only contain [A-Za-z0-9_-]");
        }
        Ok(())
    }
}

/// A duration written like `500ms`, `10s`, `2m` or `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HumanDuration(pub Duration);

impl std::str::FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{s}` is not a duration; write e.g. 500ms, 10s, 2m"))?;
        let seconds = match unit.trim() {
            "ms" => value / 1000.0,
            "s" | "" => value,
            "m" | "min" => value * 60.0,
            "h" => value * 3600.0,
            other => {
                return Err(format!(
                    "unknown duration unit `{other}` in `{s}`; use ms, s, m or h"
                ));
            }
        };
        Duration::try_from_secs_f64(seconds)
            .map(HumanDuration)
            .map_err(|_| format!("`{s}` is out of range"))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A size written like `64MiB`, `512KiB`, `1GiB`, `4MB` or a plain number of
/// bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let value: u64 = number
            .parse()
            .map_err(|_| format!("`{s}` is not a size; write e.g. 64MiB, 512KiB, 1GiB"))?;
        let factor = match unit.trim() {
            "" | "B" => 1,
            "KiB" | "K" | "k" => KIB,
            "MiB" | "M" => MIB,
            "GiB" | "G" => GIB,
            "KB" | "kB" => 1000,
            "MB" => 1000 * 1000,
            "GB" => 1000 * 1000 * 1000,
            other => {
                return Err(format!(
                    "unknown size unit `{other}` in `{s}`; use KiB, MiB or GiB"
                ));
            }
        };
        value
            .checked_mul(factor)
            .map(ByteSize)
            .ok_or_else(|| format!("`{s}` is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, size) in [("GiB", GIB), ("MiB", MIB), ("KiB", KIB)] {
            if n >= size {
                return if n.is_multiple_of(size) {
                    write!(f, "{}{unit}", n / size)
                } else {
                    write!(f, "{:.1}{unit}", n as f64 / size as f64)
                };
            }
        }
        write!(f, "{n} bytes")
    }
}

/// Formats a duration the way the config file spells it.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!("64MiB".parse::<ByteSize>().unwrap().0, 64 * MIB);
        assert_eq!("512KiB".parse::<ByteSize>().unwrap().0, 512 * KIB);
        assert_eq!("1000".parse::<ByteSize>().unwrap().0, 1000);
        assert!("12 parsecs".parse::<ByteSize>().is_err());
        assert_eq!(
            "500ms".parse::<HumanDuration>().unwrap().0,
            Duration::from_millis(500)
        );
        assert_eq!(
            "2m".parse::<HumanDuration>().unwrap().0,
            Duration::from_secs(120)
        );
        assert!("soon".parse::<HumanDuration>().is_err());
        assert_eq!(ByteSize(64 * MIB).to_string(), "64MiB");
        assert_eq!(ByteSize(1_000_000_000).to_string(), "953.7MiB");
        assert_eq!(ByteSize(100).to_string(), "100 bytes");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn group_section_overrides_defaults_and_flags_win() {
        let config: Config = toml::from_str(
            r#"
            [defaults]
            fuel = 10
            timeout = "2s"
            env = ["HOME"]
            [groups.math]
            fuel = 20
            namespace = ""
            instances = "reuse"
            dirs = [{ host = "/tmp", guest = "/data", mode = "rw" }]
            "#,
        )
        .unwrap();
        config.check().unwrap();
        let math = config.policy("math", &LimitOverrides::default());
        assert_eq!(math.limits.fuel, 20);
        assert_eq!(math.limits.timeout, Duration::from_secs(2));
        assert_eq!(math.namespace.as_deref(), Some(""));
        assert_eq!(math.instances, InstanceMode::Reuse);
        assert_eq!(math.env, vec!["HOME".to_owned()]);
        assert_eq!(math.dirs[0].mode, DirMode::Rw);
        let other = config.policy(
            "text",
            &LimitOverrides {
                fuel: Some(5),
                ..Default::default()
            },
        );
        assert_eq!(other.limits.fuel, 5);
        assert_eq!(other.instances, InstanceMode::PerCall);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<Config>("[defaults]\nfuell = 3").is_err());
        assert!(toml::from_str::<Config>("[groups.x]\ninstances = \"sometimes\"").is_err());
        let config: Config = toml::from_str("[groups.x]\nstack = \"1GiB\"").unwrap();
        assert!(config.check().is_err());
        let config: Config = toml::from_str("[defaults]\nnamespace = \"x\"").unwrap();
        assert!(config.check().is_err());
        assert!(toml::from_str::<Config>("[groups.x.state]\nmax_key = 3").is_err());
        let config: Config = toml::from_str("[groups.x.state]\nmax_keys = 0").unwrap();
        assert!(config.check().is_err());
    }

    #[test]
    fn state_is_granted_by_its_table_and_layers_over_the_defaults() {
        let config: Config = toml::from_str(
            r#"
            [server]
            data_dir = "/srv/toolhost"
            [defaults.state]
            max_keys = 5
            [groups.web.state]
            max_bytes = "1KiB"
            [groups.plain]
            fuel = 3
            "#,
        )
        .unwrap();
        config.check().unwrap();
        let policy = |name| config.policy(name, &LimitOverrides::default()).state;
        let web = policy("web").unwrap();
        assert_eq!((web.max_keys, web.max_bytes.0), (10_000, 1024));
        assert_eq!(web.max_value.0, MIB);
        assert_eq!(policy("plain").unwrap().max_keys, 5);
        let bare: Config = toml::from_str("[groups.web.state]").unwrap();
        assert_eq!(
            bare.policy("web", &LimitOverrides::default()).state,
            Some(StateQuota::default())
        );
        assert_eq!(bare.policy("other", &LimitOverrides::default()).state, None);
        assert_eq!(
            config.server.data_dir(),
            Some(PathBuf::from("/srv/toolhost"))
        );
    }
}
