//! The `toolhost` command line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use crate::caller::ScopePolicy;
use crate::catalog::Catalog;
use crate::config::{
    ByteSize, Config, HttpConfig, HumanDuration, JwtConfig, LimitOverrides, RateLimitConfig,
};
use crate::mcp::rounds::Rounds;
use crate::metrics::Metrics;
use crate::runtime::Runtime;
use crate::service::CallService;
use crate::watch::Watch;
use crate::{dev, http, load, mcp};

/// Run WebAssembly plugins as MCP tools.
#[derive(Debug, Parser)]
#[command(name = "toolhost", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr (the level comes from RUST_LOG, default `info`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve every component in DIR as MCP tools over stdio (default) or
    /// streamable HTTP (`--http ADDR`).
    Serve(Box<ServeArgs>),
    /// Print a component's group and tools without serving it.
    Inspect(InspectArgs),
    /// Build plugin crates, serve them over stdio, and rebuild and reload
    /// them on every save.
    Dev(DevArgs),
    /// Compile one component, read on stdin, under resource limits (how
    /// the host runs the compiler: see `runtime::compile`).
    #[command(name = "__compile", hide = true)]
    Compile(crate::runtime::compile::ChildArgs),
}

#[derive(Debug, clap::Args)]
struct DevArgs {
    /// Plugin crate directories (default: the current directory). A
    /// workspace directory builds every plugin crate in it.
    crates: Vec<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Directory of `.wasm` components (default: the bundled examples,
    /// built first if needed).
    dir: Option<PathBuf>,
    /// Do not reload the directory when its files change.
    #[arg(long)]
    no_watch: bool,
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    http: HttpArgs,
}

/// HTTP transport flags; each overrides its `[http]` key in the config file.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "HTTP")]
struct HttpArgs {
    /// Serve MCP over streamable HTTP at ADDR (e.g. 127.0.0.1:8080), on
    /// `/mcp`, instead of stdio.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Serve stdio as well as HTTP.
    #[arg(long)]
    stdio: bool,
    /// Accept this `Host` header (repeat for more; replaces the loopback
    /// default).
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// Accept this `Origin` (repeat for more; replaces the loopback default).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
    /// Require a bearer token from this file: one `TOKEN [SUBJECT [SCOPE...]]`
    /// per line.
    #[arg(long, value_name = "FILE")]
    auth_tokens: Option<PathBuf>,
    /// Require a JWT from this issuer (`iss`).
    #[arg(long, value_name = "ISS")]
    jwt_issuer: Option<String>,
    /// Require a JWT for this audience (`aud`).
    #[arg(long, value_name = "AUD")]
    jwt_audience: Option<String>,
    /// HS256 JWT secret, read from this environment variable.
    #[arg(long, value_name = "VAR")]
    jwt_secret_env: Option<String>,
    /// RS256/ES256 JWT public key (PEM) or key set (JWKS, `.json`).
    #[arg(long, value_name = "FILE")]
    jwt_key: Option<PathBuf>,
    /// Requests per second allowed per subject (token subject, else IP).
    #[arg(long, value_name = "N")]
    rate_limit: Option<f64>,
}

impl HttpArgs {
    /// The `[http]` settings with these flags applied, and the address to
    /// serve on (`None`: no HTTP).
    fn apply(&self, mut http: HttpConfig) -> anyhow::Result<(Option<SocketAddr>, HttpConfig)> {
        let listen = self.http.or(http.listen);
        if !self.allow_hosts.is_empty() {
            http.allowed_hosts = Some(self.allow_hosts.clone());
        }
        if !self.allow_origins.is_empty() {
            http.allowed_origins = Some(self.allow_origins.clone());
        }
        if let Some(file) = &self.auth_tokens {
            http.auth.tokens_file = Some(file.clone());
        }
        if let Some(per_second) = self.rate_limit {
            anyhow::ensure!(
                per_second.is_finite() && per_second > 0.0,
                "--rate-limit must be a positive number"
            );
            http.rate_limit = Some(RateLimitConfig {
                per_second,
                burst: http.rate_limit.and_then(|limit| limit.burst),
            });
        }
        let key_flag = self.jwt_secret_env.is_some() || self.jwt_key.is_some();
        if self.jwt_issuer.is_some() || key_flag {
            let mut jwt = http.auth.jwt.take().unwrap_or_default();
            if let Some(issuer) = &self.jwt_issuer {
                jwt.issuer = issuer.clone();
            }
            if let Some(audience) = &self.jwt_audience {
                jwt.audience = audience.clone();
            }
            if key_flag {
                jwt = JwtConfig {
                    hs256_secret_env: self.jwt_secret_env.clone(),
                    public_key: self.jwt_key.clone().filter(|key| !is_json(key)),
                    jwks: self.jwt_key.clone().filter(|key| is_json(key)),
                    hs256_secret_file: None,
                    ..jwt
                };
            }
            anyhow::ensure!(
                !jwt.issuer.is_empty() && !jwt.audience.is_empty(),
                "JWT auth needs --jwt-issuer and --jwt-audience (or issuer and audience in [http.auth.jwt])"
            );
            http.auth.jwt = Some(jwt);
        }
        Ok((listen, http))
    }
}

fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "json")
}

#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// What to inspect: a component file (`math.wasm`), an MCP server's
    /// streamable HTTP URL (`https://…/mcp`), or the command that runs one
    /// over stdio with its arguments (`npx -y @modelcontextprotocol/server-everything`).
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    target: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, clap::Args)]
struct CommonArgs {
    /// Configuration file (see README: Configuration).
    #[arg(long, short, env = "TOOLHOST_CONFIG")]
    config: Option<PathBuf>,
    /// Fuel per call for every group (overrides the file).
    #[arg(long)]
    fuel: Option<u64>,
    /// Wall-clock limit per call, e.g. 500ms, 10s (overrides the file).
    #[arg(long)]
    timeout: Option<HumanDuration>,
    /// Linear memory limit per instance, e.g. 64MiB (overrides the file).
    #[arg(long)]
    memory: Option<ByteSize>,
    /// Compile cache directory (overrides the file; default
    /// `$XDG_CACHE_HOME/toolhost` or `~/.cache/toolhost`).
    #[arg(long, env = "TOOLHOST_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every component, neither reading nor writing the cache
    /// (wins over `--cache-dir`).
    #[arg(long)]
    no_cache: bool,
    /// Where groups granted `state` keep it (overrides `server.data_dir`;
    /// default `$XDG_DATA_HOME/toolhost` or `~/.local/share/toolhost`).
    #[arg(long, env = "TOOLHOST_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

impl CommonArgs {
    fn load(&self) -> anyhow::Result<(Config, LimitOverrides)> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(dir) = &self.cache_dir {
            config.cache.dir = Some(dir.clone());
        }
        if self.no_cache {
            config.cache.enabled = false;
        }
        if let Some(dir) = &self.data_dir {
            config.server.data_dir = Some(dir.clone());
        }
        let overrides = LimitOverrides {
            fuel: self.fuel,
            timeout: self.timeout.map(|d| d.0),
            memory: self.memory.map(|b| b.0),
        };
        Ok((config, overrides))
    }
}

impl Cli {
    /// Logs go to stderr only: in stdio mode stdout is the protocol stream.
    pub fn init_logging(&self) {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(ansi);
        match self.log_format {
            LogFormat::Text => builder.init(),
            LogFormat::Json => builder.json().init(),
        }
    }

    pub async fn run(self) -> anyhow::Result<ExitCode> {
        use crate::runtime::compile;
        if let Ok(exe) = compile::this_executable() {
            // Compilation runs in a child process with its own limits.
            compile::compile_in_child_processes(exe);
        }
        match self.command {
            Command::Compile(args) => Ok(compile::child(args)),
            Command::Serve(args) => serve(*args).await,
            Command::Inspect(args) => inspect(args).await,
            Command::Dev(args) => dev(args).await,
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (config, overrides) = args.common.load()?;
    let dir = match args.dir {
        Some(dir) => dir,
        None => load::bundled_plugins()?,
    };
    let (listen, http_config) = args.http.apply(config.http.clone())?;
    let scopes = Arc::new(ScopePolicy::new(http_config.auth.scopes.clone()));
    let catalog = Arc::new(Catalog::from_config(&config.server));
    let rounds = Arc::new(Rounds::new(config.server.request_state_key()?.as_deref())?);
    let tasks = mcp::tasks::Tasks::embedded(&config.tasks);
    // Upstream servers connect beside the loading of the plugin directory,
    // and never hold it up; they stop (their processes too) with `serve`.
    let upstreams = crate::upstream::start(&config, catalog.clone());
    let runtime = Runtime::new(config, overrides)?;
    let metrics = Metrics::with_outbound(runtime.outbound_stats());
    let service = CallService::new(catalog.clone(), metrics.clone(), scopes.clone());
    let handler = mcp::Handler::new(service.clone())
        .with_rounds(rounds.clone())
        .with_tasks(tasks.clone());
    // Bind before loading, so a taken port fails at once.
    let http = match listen {
        Some(listen) => {
            let streams = tokio_util::sync::CancellationToken::new();
            let parts = http::Parts {
                service: service.clone(),
                scopes,
                rounds,
                tasks,
            };
            let router = http::router(&http_config, listen, parts, streams.clone())?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            tracing::info!(address = %listener.local_addr()?, "serving MCP over HTTP at /mcp");
            Some((listener, router, streams))
        }
        None => None,
    };

    // Watching starts before the initial load so that no change is missed.
    let watch = match args.no_watch {
        true => None,
        false => Some(Watch::start(&dir)?),
    };
    // The handshake does not wait for compilation; list and call requests
    // wait for the initial load instead.
    let loader = crate::watch::spawn_serving(runtime.clone(), catalog.clone(), dir, watch);
    let stdio = http.is_none() || args.http.stdio;
    match http {
        None => serve_stdio(handler).await?,
        Some((listener, router, streams)) => {
            let shutdown = tokio_util::sync::CancellationToken::new();
            http::cancel_on_signal(shutdown.clone());
            if stdio {
                // The process ends with the stdio session (its client left)
                // or on a signal, whichever comes first.
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve_stdio(handler).await {
                        tracing::error!("{e:#}");
                    }
                    shutdown.cancel();
                });
            }
            http::serve(listener, router, metrics, shutdown, streams, &http_config).await?;
            tracing::info!("stopped");
        }
    }
    loader.abort();
    drop(upstreams);
    Ok(ExitCode::SUCCESS)
}

async fn dev(args: DevArgs) -> anyhow::Result<ExitCode> {
    let (config, overrides) = args.common.load()?;
    let catalog = Arc::new(Catalog::from_config(&config.server));
    let runtime = Runtime::new(config, overrides)?;
    let dev_loop = dev::start(runtime, catalog.clone(), &args.crates)?;
    tracing::info!(staging = %dev_loop.staging.dir().display(), "dev loop started; waiting for a client on stdio");
    let service = CallService::new(catalog, Metrics::new(), Arc::default());
    serve_stdio(mcp::Handler::new(service)).await?;
    drop(dev_loop);
    Ok(ExitCode::SUCCESS)
}

/// One MCP session over stdin/stdout, until the client goes away.
async fn serve_stdio(handler: mcp::Handler) -> anyhow::Result<()> {
    let fast = crate::stdio::Fast {
        service: handler.service().clone(),
        rounds: handler.rounds(),
        level: handler.session_level(),
    };
    crate::stdio::serve_process(handler, Some(fast), crate::stdio::MAX_LINE).await
}

async fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let (config, overrides) = args.common.load()?;
    let catalog = Catalog::from_config(&config.server);
    let target = args.target.join(" ");
    let component = match args.target.as_slice() {
        [one] if one.ends_with(".wasm") || Path::new(one).is_file() => Some(PathBuf::from(one)),
        _ => None,
    };
    // An upstream's session lives until the lists are printed.
    let mut _session = None;
    let source: Arc<dyn crate::source::Source> = match component {
        Some(file) => {
            let runtime = Runtime::new(config, overrides)?;
            match runtime.load(&file).await {
                Ok(group) => Arc::new(group),
                Err(e) => {
                    eprintln!("error: cannot load {}: {}", e.source, e.reason);
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        None => {
            let upstream = crate::upstream::inspected(&args.target);
            let policy = config.upstream_policy("upstream", &upstream);
            match crate::upstream::connect_once("upstream", &upstream, policy).await {
                Ok((source, session)) => {
                    _session = Some(session);
                    source
                }
                Err(reason) => {
                    eprintln!("error: cannot inspect {target}: {reason}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    };
    if let Err(e) = catalog.insert(source) {
        eprintln!("error: cannot serve {}: {}", e.source, e.reason);
        return Ok(ExitCode::FAILURE);
    }
    match print_inspection(&catalog, &target, args.json) {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {}
        other => other?,
    }
    Ok(ExitCode::SUCCESS)
}

fn print_inspection(catalog: &Catalog, file: &str, json: bool) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let snapshot = catalog.snapshot();
    let Some(source) = snapshot.sources.values().next() else {
        return Ok(());
    };
    let info = &source.description().info;
    let tools: Vec<_> = snapshot
        .tools
        .values()
        .map(|tool| mcp::to_mcp_tool(tool))
        .collect();
    if json {
        let value = serde_json::json!({
            "file": file,
            "group": {
                "name": info.name,
                "version": info.version,
                "description": info.description,
                "instructions": info.instructions,
            },
            "tools": tools,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    writeln!(out, "group {} {} ({file})", info.name, info.version)?;
    writeln!(out, "  {}", info.description.trim().replace('\n', "\n  "))?;
    if let Some(instructions) = &info.instructions {
        writeln!(out, "  instructions: {}", instructions.trim())?;
    }
    for tool in &tools {
        writeln!(out)?;
        match &tool.title {
            Some(title) => writeln!(out, "tool {} — {title}", tool.name),
            None => writeln!(out, "tool {}", tool.name),
        }?;
        if let Some(description) = &tool.description {
            writeln!(out, "  {}", description.trim().replace('\n', "\n  "))?;
        }
        if let Some(annotations) = &tool.annotations {
            writeln!(
                out,
                "  annotations: {}",
                serde_json::to_string(annotations)?
            )?;
        }
        writeln!(
            out,
            "  input schema: {}",
            serde_json::to_string(&tool.input_schema)?
        )?;
        if let Some(schema) = &tool.output_schema {
            writeln!(out, "  output schema: {}", serde_json::to_string(schema)?)?;
        }
    }
    Ok(())
}
