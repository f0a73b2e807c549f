//! The source seam: whatever serves tools, resources, prompts and
//! completions to the catalog.
//!
//! A [`Source`] says what it offers ([`Description`]) and answers one
//! request of each kind. A wasm component loaded from a file is the first
//! kind of source ([`crate::runtime::Group`]); an upstream MCP server is the
//! next. The catalog keys sources by [`SourceId`] and knows nothing else of
//! them: not wasm, not files, not transports.
//!
//! The request and answer types are the contract's own data (`wit/`), which
//! is a plain, transport-neutral model of what MCP serves.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::config::Policy;
pub use crate::runtime::{
    Annotations, ClientAnswer, Completion, CompletionRequest, CompletionTarget, Content,
    ElicitAction, ElicitResponse, ElicitationForm, EmbeddedResource, ErrorKind, EventSink, Fault,
    FaultKind, GroupInfo, Icon, ItemKind, Level, LoadError, Media, Operation, Output, PluginError,
    PluginEvent, PromptInfo, PromptResult, Question, ResourceContents, ResourceInfo,
    ResourceTemplate, Role, Root, SamplingRequest, SamplingResponse,
};

/// Where a source comes from: the catalog's key, stable across reloads of
/// the same file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceId {
    /// A component file in a plugin directory.
    File(PathBuf),
    /// An upstream MCP server, by its name in `[upstreams]`.
    Upstream(String),
}

impl SourceId {
    /// The source loaded from `path`.
    pub fn file(path: &Path) -> Self {
        Self::File(path.to_owned())
    }

    /// The file of a file source.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::File(path) => Some(path),
            Self::Upstream(_) => None,
        }
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Upstream(name) => write!(f, "upstream `{name}`"),
        }
    }
}

/// Everything a source declares about itself.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Description {
    pub info: GroupInfo,
    pub operations: Vec<Operation>,
    pub resources: Vec<ResourceInfo>,
    pub templates: Vec<ResourceTemplate>,
    pub prompts: Vec<PromptInfo>,
    /// Absent in descriptions cached before groups had icons.
    #[serde(default)]
    pub icons: Icons,
    /// The items that start unlisted (the `listing` export).
    #[serde(default)]
    pub unlisted: Vec<(ItemKind, String)>,
}

/// The icons a group declares (checked when it is published).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Icons {
    /// The group's own, for what has none of its own.
    pub group: Vec<Icon>,
    /// By operation name.
    pub operations: Vec<(String, Vec<Icon>)>,
}

/// A source's answer: its own result or its own error, and what answering
/// cost.
#[derive(Debug)]
pub struct Answer<T> {
    pub result: Result<T, PluginError>,
    /// Fuel the request consumed (0 where fuel does not apply).
    pub fuel_used: u64,
}

/// A source's answer to one request, or the fault that stopped it.
pub type Outcome<'a, T> = BoxFuture<'a, Result<Answer<T>, Fault>>;

/// One thing that serves tools, resources, prompts and completions.
///
/// Each request runs under the source's own limits; `events` receives what
/// the source reports or asks of the client while it runs, and `cancel`
/// stops it.
pub trait Source: Send + Sync + 'static {
    /// Where it comes from.
    fn id(&self) -> &SourceId;
    /// Its name (the default namespace of what it publishes).
    fn name(&self) -> &Arc<str>;
    /// What it offers.
    fn description(&self) -> &Description;
    /// The policy it runs under (namespace, tool filters, limits).
    fn policy(&self) -> &Policy;
    /// A digest of what was loaded, to tell versions apart.
    fn digest(&self) -> Option<blake3::Hash> {
        None
    }

    /// Runs operation `operation` with `arguments` (a JSON object as text).
    fn call<'a>(
        &'a self,
        operation: &'a str,
        arguments: &'a str,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Outcome<'a, Output>;

    /// Reads the resource at `uri` (in the source's own terms).
    fn read<'a>(
        &'a self,
        uri: &'a str,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Outcome<'a, Vec<EmbeddedResource>>;

    /// Renders prompt `name` with `arguments`.
    fn prompt<'a>(
        &'a self,
        name: &'a str,
        arguments: &'a [(String, String)],
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Outcome<'a, PromptResult>;

    /// Suggests values for an argument of a prompt or resource template.
    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Outcome<'a, Completion>;

    /// Whether an item it declares that cannot be published (a schema over
    /// the budget, a bad name) is left out, logged, rather than refusing
    /// the whole source. A plugin's author fixes the plugin; an upstream
    /// server is someone else's, and its other tools still serve.
    fn lenient(&self) -> bool {
        false
    }

    /// What keeps it from serving now, when something does (say an
    /// upstream whose circuit breaker is open); for `/readyz` and metrics.
    fn status(&self) -> Option<String> {
        None
    }

    /// A fault of this source, for work the host does on its behalf (e.g.
    /// checking its output).
    fn fault(&self, kind: FaultKind) -> Fault {
        Fault {
            group: self.name().clone(),
            limits: self.policy().limits,
            kind,
        }
    }
}
