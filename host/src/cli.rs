//! The `toolhost` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use rmcp::ServiceExt as _;

use crate::catalog::{Catalog, Naming};
use crate::config::{ByteSize, Config, HumanDuration, LimitOverrides};
use crate::runtime::Runtime;
use crate::watch::Watch;
use crate::{dev, load, mcp};

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
    /// Serve every component in DIR as MCP tools over stdio.
    Serve(ServeArgs),
    /// Print a component's group and tools without serving it.
    Inspect(InspectArgs),
    /// Build plugin crates, serve them over stdio, and rebuild and reload
    /// them on every save.
    Dev(DevArgs),
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
}

#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// The component to inspect.
    file: PathBuf,
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
        match self.command {
            Command::Serve(args) => serve(args).await,
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
    let naming = Naming {
        separator: config.server.separator.clone(),
        strict: config.server.strict_names,
    };
    let runtime = Runtime::new(config, overrides)?;
    let catalog = Arc::new(Catalog::new(naming));

    // Watching starts before the initial load so that no change is missed.
    let watch = match args.no_watch {
        true => None,
        false => Some(Watch::start(&dir)?),
    };
    // The handshake does not wait for compilation; list and call requests
    // wait for the initial load instead.
    let loader = load::spawn_serving(runtime.clone(), catalog.clone(), dir, watch);
    serve_stdio(catalog).await?;
    loader.abort();
    Ok(ExitCode::SUCCESS)
}

async fn dev(args: DevArgs) -> anyhow::Result<ExitCode> {
    let (config, overrides) = args.common.load()?;
    let naming = Naming {
        separator: config.server.separator.clone(),
        strict: config.server.strict_names,
    };
    let runtime = Runtime::new(config, overrides)?;
    let catalog = Arc::new(Catalog::new(naming));
    let dev_loop = dev::start(runtime, catalog.clone(), &args.crates)?;
    tracing::info!(staging = %dev_loop.staging.dir().display(), "dev loop started; waiting for a client on stdio");
    serve_stdio(catalog).await?;
    drop(dev_loop);
    Ok(ExitCode::SUCCESS)
}

/// One MCP session over stdin/stdout, until the client goes away.
async fn serve_stdio(catalog: Arc<Catalog>) -> anyhow::Result<()> {
    let service = mcp::Handler::new(catalog)
        .serve(rmcp::transport::stdio())
        .await
        .context("the MCP session over stdio failed to start")?;
    service
        .waiting()
        .await
        .context("the MCP session over stdio failed")?;
    Ok(())
}

async fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let (config, overrides) = args.common.load()?;
    let naming = Naming {
        separator: config.server.separator.clone(),
        strict: config.server.strict_names,
    };
    let runtime = Runtime::new(config, overrides)?;
    let catalog = Catalog::new(naming);
    let group = match runtime.load(&args.file).await {
        Ok(group) => group,
        Err(e) => {
            eprintln!("error: cannot load {}: {}", e.path.display(), e.reason);
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Err(e) = catalog.insert(group) {
        eprintln!("error: cannot serve {}: {}", e.path.display(), e.reason);
        return Ok(ExitCode::FAILURE);
    }
    match print_inspection(&catalog, &args.file, args.json) {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {}
        other => other?,
    }
    Ok(ExitCode::SUCCESS)
}

fn print_inspection(catalog: &Catalog, file: &Path, json: bool) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let snapshot = catalog.snapshot();
    let Some(group) = snapshot.groups.values().next() else {
        return Ok(());
    };
    let tools: Vec<_> = snapshot
        .tools
        .values()
        .map(|tool| mcp::to_mcp_tool(tool))
        .collect();
    if json {
        let value = serde_json::json!({
            "file": file,
            "group": {
                "name": group.info.name,
                "version": group.info.version,
                "description": group.info.description,
                "instructions": group.info.instructions,
            },
            "tools": tools,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "group {} {} ({})",
        group.info.name,
        group.info.version,
        file.display()
    )?;
    writeln!(
        out,
        "  {}",
        group.info.description.trim().replace('\n', "\n  ")
    )?;
    if let Some(instructions) = &group.info.instructions {
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
