//! The call service: the one place every request passes, whatever door it
//! came through (MCP over stdio or HTTP, the stateless fast path, later
//! REST and the gateway).
//!
//! For each kind of request — lists, tool calls, resource reads and
//! subscriptions, prompts, completions, instructions — it waits for the
//! initial load, looks the name up in the catalog, checks the caller's
//! scopes (**the one authorization point**: every list is filtered and every
//! request guarded), counts the request in flight (shutdown waits for every
//! kind), opens a tracing span, records metrics, and runs the source with
//! the door's [`Client`] on the other end of its events. A door only
//! translates its protocol to these typed requests and replies and back.

mod events;
mod page;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

pub use events::{Client, NoClient};
pub use page::Page;

use crate::caller::{Caller, RequestId, ScopePolicy};
use crate::catalog::{Catalog, JsonObject, Owner, Snapshot, Tool};
use crate::metrics::Metrics;
use crate::published::{Prompt, Resource, Template, UriMap};
use crate::source::{
    Completion, CompletionRequest, CompletionTarget, EmbeddedResource, Fault, FaultKind, Output,
    PluginError, PromptResult, Source,
};

/// Longest a request waits for the initial load of the plugin directory.
const START_UP_WAIT: Duration = Duration::from_secs(60);

/// Who is asking: what the door knows of the caller.
#[derive(Debug, Clone, Copy, Default)]
pub struct Who<'a> {
    /// The authenticated caller; `None` over stdio or HTTP without auth.
    pub caller: Option<&'a Caller>,
    /// The correlation id of the HTTP request.
    pub request_id: Option<&'a RequestId>,
    /// The W3C trace context the client sent (`_meta.traceparent`), when
    /// well-formed: recorded on the call's span, so that the host's log
    /// lines of the call join the client's trace.
    pub traceparent: Option<&'a str>,
}

/// `value` when it is a well-formed W3C `traceparent` (version `00`:
/// `00-<32 hex>-<16 hex>-<2 hex>`, neither id all zeros); anything else is
/// ignored rather than logged.
pub fn traceparent(value: &str) -> Option<&str> {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    let valid = matches!(parts.as_slice(), [version, trace, parent, flags]
        if *version == "00" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2)
            && !zero(trace) && !zero(parent));
    valid.then_some(value)
}

/// Why a request was not served.
#[derive(Debug)]
pub enum Error {
    /// Nothing of that name (or that the caller may see) is served.
    Unknown { what: Kind, name: String },
    /// It exists, but the caller lacks scopes for it.
    Forbidden {
        what: Kind,
        name: String,
        missing: Vec<String>,
    },
    /// The request itself is invalid (a bad cursor, missing arguments).
    Invalid(String),
    /// The source answered with its own error.
    Plugin { error: PluginError, subject: String },
    /// A limit, trap or invalid answer stopped the source.
    Fault(Fault),
}

/// What a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tool,
    Resource,
    Template,
    Prompt,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Tool => "tool",
            Kind::Resource => "resource",
            Kind::Template => "resource template",
            Kind::Prompt => "prompt",
        }
    }

    fn listed_by(self) -> &'static str {
        match self {
            Kind::Tool => "call tools/list to see the available tools",
            Kind::Resource => "resources/list and resources/templates/list say what there is",
            Kind::Template => "resources/templates/list says what there is",
            Kind::Prompt => "call prompts/list to see the available prompts",
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Unknown { what, name } => write!(
                f,
                "unknown {} `{}`; {}",
                what.noun(),
                shown(name),
                what.listed_by()
            ),
            Error::Forbidden {
                what,
                name,
                missing,
            } => write!(
                f,
                "insufficient_scope: {} `{}` needs scope {}",
                what.noun(),
                shown(name),
                missing.join(" ")
            ),
            Error::Invalid(message) => f.write_str(message),
            Error::Plugin { error, .. } => f.write_str(&error.message),
            Error::Fault(fault) => write!(f, "{fault}"),
        }
    }
}

/// The result of calling a tool. Everything that went wrong inside the
/// source is an outcome, not an [`Error`]: the model reads it.
#[derive(Debug)]
pub enum CallOutcome {
    /// The source answered.
    Done {
        output: Output,
        structured: Option<Value>,
        fuel_used: u64,
    },
    /// The source returned its own error.
    PluginError(PluginError),
    /// The arguments did not match the input schema; one line per violation.
    InvalidArguments(Vec<String>),
    /// A limit, trap or invalid output.
    Fault(Fault),
}

/// A resource read: its parts, with the URIs of the source that served it.
pub struct ReadOutcome {
    pub parts: Vec<EmbeddedResource>,
    pub uris: Arc<UriMap>,
}

/// A rendered prompt, with the published prompt it came from.
pub struct PromptOutcome {
    pub result: PromptResult,
    pub prompt: Arc<Prompt>,
}

/// What a completion request refers to, as published.
#[derive(Debug, Clone)]
pub enum CompletionRef {
    Prompt(String),
    Template(String),
}

/// A completion request: which argument of what, its value so far, and
/// the other arguments already given.
#[derive(Debug, Clone)]
pub struct Completing {
    pub reference: CompletionRef,
    pub argument: String,
    pub value: String,
    pub context: Vec<(String, String)>,
}

/// The call service, shared by every door.
#[derive(Clone)]
pub struct CallService {
    catalog: Arc<Catalog>,
    metrics: Arc<Metrics>,
    scopes: Arc<ScopePolicy>,
}

impl CallService {
    pub fn new(catalog: Arc<Catalog>, metrics: Arc<Metrics>, scopes: Arc<ScopePolicy>) -> Self {
        Self {
            catalog,
            metrics,
            scopes,
        }
    }

    /// The catalog behind the service (for the doors' notifications).
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The metrics every door records into.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The current snapshot, once the initial load is done (or after
    /// waiting for it as long as a request may).
    async fn ready(&self) -> Arc<Snapshot> {
        self.catalog.wait_ready(START_UP_WAIT).await;
        self.catalog.snapshot()
    }

    /// The scopes `who` lacks for what `source` serves; empty when allowed.
    fn missing(&self, source: &dyn Source, who: Who<'_>) -> Vec<String> {
        self.scopes
            .missing(source.name(), who.caller)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    fn allowed(&self, source: &dyn Source, who: Who<'_>) -> bool {
        self.scopes.missing(source.name(), who.caller).is_empty()
    }

    /// `Ok` when `who` may use `source`, else the refusal naming `name`.
    fn guard(
        &self,
        source: &dyn Source,
        who: Who<'_>,
        what: Kind,
        name: &str,
    ) -> Result<(), Error> {
        let missing = self.missing(source, who);
        if missing.is_empty() {
            return Ok(());
        }
        tracing::info!(subject = who.caller.map(|c| c.subject.as_str()), what = what.noun(), name, missing = %missing.join(" "), "insufficient scope");
        Err(Error::Forbidden {
            what,
            name: name.to_owned(),
            missing,
        })
    }

    /// Server instructions: what each source the caller may use says of
    /// itself. Waits (bounded) for the initial load, so that a client
    /// initializing during start-up still gets them.
    pub async fn instructions(&self, who: Who<'_>) -> Option<String> {
        let snapshot = self.ready().await;
        let mut text = String::from("Tools are grouped by plugin:\n");
        let mut any = false;
        for source in snapshot.sources.values() {
            if !self.allowed(source.as_ref(), who) {
                continue;
            }
            any = true;
            let info = &source.description().info;
            text.push_str(&format!("- {}: {}\n", info.name, info.description.trim()));
            if let Some(instructions) = &info.instructions {
                text.push_str(&format!(
                    "  {}\n",
                    instructions.trim().replace('\n', "\n  ")
                ));
            }
        }
        any.then_some(text)
    }

    /// One page of the tools `who` may see.
    pub async fn list_tools(
        &self,
        who: Who<'_>,
        cursor: Option<&str>,
    ) -> Result<Page<Tool>, Error> {
        let snapshot = self.ready().await;
        Page::of(&snapshot.tools, cursor, self.catalog.page_size, |t| {
            t.listed.get() && self.allowed(t.source.as_ref(), who)
        })
    }

    /// One page of the static resources `who` may see.
    pub async fn list_resources(
        &self,
        who: Who<'_>,
        cursor: Option<&str>,
    ) -> Result<Page<Resource>, Error> {
        let snapshot = self.ready().await;
        Page::of(&snapshot.resources, cursor, self.catalog.page_size, |r| {
            r.listed.get() && self.allowed(r.source.as_ref(), who)
        })
    }

    /// One page of the resource templates `who` may see.
    pub async fn list_templates(
        &self,
        who: Who<'_>,
        cursor: Option<&str>,
    ) -> Result<Page<Template>, Error> {
        let snapshot = self.ready().await;
        Page::of(&snapshot.templates, cursor, self.catalog.page_size, |t| {
            t.listed.get() && self.allowed(t.source.as_ref(), who)
        })
    }

    /// One page of the prompts `who` may see.
    pub async fn list_prompts(
        &self,
        who: Who<'_>,
        cursor: Option<&str>,
    ) -> Result<Page<Prompt>, Error> {
        let snapshot = self.ready().await;
        Page::of(&snapshot.prompts, cursor, self.catalog.page_size, |p| {
            p.listed.get() && self.allowed(p.source.as_ref(), who)
        })
    }

    /// The tool `name`, when `who` may call it. Does not wait for the
    /// initial load (for doors that decide before they commit, such as
    /// the HTTP scope check).
    pub fn tool(&self, who: Who<'_>, name: &str) -> Result<Arc<Tool>, Error> {
        let tool = self
            .catalog
            .snapshot()
            .tool(name)
            .cloned()
            .ok_or_else(|| Error::Unknown {
                what: Kind::Tool,
                name: name.to_owned(),
            })?;
        self.guard(tool.source.as_ref(), who, Kind::Tool, name)?;
        Ok(tool)
    }

    /// How long a client may reuse a list, in milliseconds, and whether
    /// the same list may be reused for every caller: it may when no scope
    /// policy makes lists differ by caller.
    pub fn list_freshness(&self) -> (u64, bool) {
        let ttl = u64::try_from(self.catalog.list_ttl.as_millis()).unwrap_or(u64::MAX);
        (ttl, self.scopes.is_empty())
    }

    /// Whether the initial load is done.
    pub fn is_ready(&self) -> bool {
        self.catalog.is_ready()
    }

    /// The tool `name`, when `who` may call it, once the initial load is
    /// done.
    pub async fn find_tool(&self, who: Who<'_>, name: &str) -> Result<Arc<Tool>, Error> {
        self.catalog.wait_ready(START_UP_WAIT).await;
        self.tool(who, name)
    }

    /// Calls `tool`, already looked up and authorized by [`Self::tool`].
    pub async fn call(
        &self,
        who: Who<'_>,
        tool: &Tool,
        arguments: JsonObject,
        client: &dyn Client,
        cancel: CancellationToken,
    ) -> CallOutcome {
        let span = match who.request_id {
            Some(id) => tracing::info_span!(
                "call",
                tool = %tool.name,
                request_id = %id.0,
                traceparent = tracing::field::Empty
            ),
            None => {
                tracing::info_span!("call", tool = %tool.name, traceparent = tracing::field::Empty)
            }
        };
        if let Some(traceparent) = who.traceparent {
            span.record("traceparent", tracing::field::display(traceparent));
        }
        let _in_flight = self.metrics.call_started();
        let started = Instant::now();
        let outcome = self
            .run_tool(tool, arguments, client, cancel)
            .instrument(span)
            .await;
        self.metrics
            .record_call(&tool.name, &outcome, started.elapsed());
        outcome
    }

    async fn run_tool(
        &self,
        tool: &Tool,
        arguments: JsonObject,
        client: &dyn Client,
        cancel: CancellationToken,
    ) -> CallOutcome {
        let arguments = Arc::new(Value::Object(arguments));
        if let Err(violations) = tool.check_arguments(arguments.clone()).await {
            return CallOutcome::InvalidArguments(violations);
        }
        let arguments = arguments.to_string();
        let source = &tool.source;
        let answer = events::converse(
            &self.catalog,
            source.as_ref(),
            &tool.uris,
            client,
            |events| source.call(&tool.operation, &arguments, Some(events), cancel),
        )
        .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(fault) => return CallOutcome::Fault(fault),
        };
        let output = match answer.result {
            Ok(output) => output,
            Err(error) => return CallOutcome::PluginError(error),
        };
        let invalid =
            |reason: String| CallOutcome::Fault(source.fault(FaultKind::InvalidOutput { reason }));
        let structured = match output
            .structured
            .as_deref()
            .map(serde_json::from_str::<Value>)
        {
            None => None,
            Some(Ok(value)) => Some(Arc::new(value)),
            Some(Err(e)) => return invalid(format!("structured result is not JSON ({e})")),
        };
        if let Some(reason) = tool.check_output(structured.as_ref()).await {
            return invalid(reason);
        }
        let linked = output.content.iter().filter_map(content_uri);
        if let Some(reason) = self.foreign(source.as_ref(), &tool.uris, linked) {
            return invalid(reason);
        }
        CallOutcome::Done {
            output,
            structured: structured.map(Arc::unwrap_or_clone),
            fuel_used: answer.fuel_used,
        }
    }

    /// Reads the resource at the published `uri`.
    pub async fn read_resource(
        &self,
        who: Who<'_>,
        uri: &str,
        client: &dyn Client,
        cancel: CancellationToken,
    ) -> Result<ReadOutcome, Error> {
        let snapshot = self.ready().await;
        let Some(Owner {
            source,
            uris,
            declared,
        }) = snapshot.resource_owner(uri)
        else {
            return Err(Error::Unknown {
                what: Kind::Resource,
                name: uri.to_owned(),
            });
        };
        self.guard(source.as_ref(), who, Kind::Resource, uri)?;
        let _in_flight = self.metrics.call_started();
        let started = Instant::now();
        let span = tracing::info_span!("read", group = %source.name());
        let answer = events::converse(&self.catalog, source.as_ref(), &uris, client, |events| {
            source.read(&declared, Some(events), cancel)
        })
        .instrument(span)
        .await;
        self.record("resource", source.name(), &answer, started);
        let answer = answer.map_err(Error::Fault)?;
        let parts = answer.result.map_err(|error| Error::Plugin {
            error,
            subject: uri.to_owned(),
        })?;
        let given = parts.iter().map(|part| part.uri.as_str());
        if let Some(reason) = self.foreign(source.as_ref(), &uris, given) {
            return Err(Error::Fault(
                source.fault(FaultKind::InvalidOutput { reason }),
            ));
        }
        Ok(ReadOutcome { parts, uris })
    }

    /// Records a finished request other than a tool call.
    fn record<T>(
        &self,
        kind: &str,
        name: &str,
        answer: &Result<crate::source::Answer<T>, Fault>,
        started: Instant,
    ) {
        let outcome = match answer {
            Err(fault) => fault.kind.label(),
            Ok(answer) if answer.result.is_err() => "plugin_error",
            Ok(_) => "ok",
        };
        self.metrics
            .record_request(kind, name, outcome, started.elapsed());
    }

    /// Why an answer of `source` may not be passed on: it names a URI
    /// another source publishes (a link to, or the contents of, another
    /// group's resource), which would let one group speak for another.
    fn foreign<'u>(
        &self,
        source: &dyn Source,
        uris: &UriMap,
        given: impl Iterator<Item = &'u str>,
    ) -> Option<String> {
        let mut snapshot = None;
        for uri in given {
            if uris.serves(uri) {
                continue;
            }
            let snapshot = snapshot.get_or_insert_with(|| self.catalog.snapshot());
            if let Some(owner) = snapshot.resource_owner_listed_or_not(uri)
                && owner.source.id() != source.id()
            {
                return Some(format!(
                    "it handed out `{}`, a resource of group `{}`; a group may only give its \
                     own resources or outside URIs",
                    uri.escape_debug(),
                    owner.source.name()
                ));
            }
        }
        None
    }

    /// Whether `who` may subscribe to the published `uri`. A URI nothing
    /// serves yet may be watched (a source may serve it later); updates are
    /// checked again when they are delivered ([`Self::may_hear`]).
    pub fn subscribe(&self, who: Who<'_>, uri: &str) -> Result<(), Error> {
        match self.catalog.snapshot().resource_owner(uri) {
            Some(owner) => self.guard(owner.source.as_ref(), who, Kind::Resource, uri),
            None => Ok(()),
        }
    }

    /// Whether an update of the published `uri` may reach `who`: its
    /// source serves it now and `who` may read it.
    pub fn may_hear(&self, who: Who<'_>, uri: &str) -> bool {
        self.catalog
            .snapshot()
            .resource_owner(uri)
            .is_some_and(|owner| self.allowed(owner.source.as_ref(), who))
    }

    /// Renders prompt `name` with `arguments` (values as text).
    pub async fn get_prompt(
        &self,
        who: Who<'_>,
        name: &str,
        arguments: Vec<(String, String)>,
        client: &dyn Client,
        cancel: CancellationToken,
    ) -> Result<PromptOutcome, Error> {
        let snapshot = self.ready().await;
        let prompt = snapshot
            .prompt(name)
            .cloned()
            .ok_or_else(|| Error::Unknown {
                what: Kind::Prompt,
                name: name.to_owned(),
            })?;
        self.guard(prompt.source.as_ref(), who, Kind::Prompt, name)?;
        let missing: Vec<String> = prompt
            .declared
            .arguments
            .iter()
            .filter(|a| a.required && !arguments.iter().any(|(given, _)| *given == a.name))
            .map(|a| format!("`{}`", a.name))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Invalid(format!(
                "prompt `{}` needs argument(s) {}; prompts/list describes them",
                prompt.name,
                missing.join(", ")
            )));
        }
        let _in_flight = self.metrics.call_started();
        let started = Instant::now();
        let span = tracing::info_span!("prompt", prompt = %prompt.name);
        let source = &prompt.source;
        let answer = events::converse(
            &self.catalog,
            source.as_ref(),
            &prompt.uris,
            client,
            |events| source.prompt(&prompt.declared.name, &arguments, Some(events), cancel),
        )
        .instrument(span)
        .await;
        self.record("prompt", &prompt.name, &answer, started);
        let answer = answer.map_err(Error::Fault)?;
        let result = answer.result.map_err(|error| Error::Plugin {
            error,
            subject: name.to_owned(),
        })?;
        let linked = result
            .messages
            .iter()
            .filter_map(|m| content_uri(&m.content));
        if let Some(reason) = self.foreign(source.as_ref(), &prompt.uris, linked) {
            return Err(Error::Fault(
                source.fault(FaultKind::InvalidOutput { reason }),
            ));
        }
        Ok(PromptOutcome { result, prompt })
    }

    /// Suggests values for `argument` of a prompt or resource template.
    pub async fn complete(
        &self,
        who: Who<'_>,
        completing: Completing,
        client: &dyn Client,
        cancel: CancellationToken,
    ) -> Result<Completion, Error> {
        let Completing {
            reference,
            argument,
            value,
            context,
        } = completing;
        let snapshot = self.ready().await;
        let (source, uris, target, name) = match &reference {
            CompletionRef::Prompt(name) => {
                let prompt = snapshot.prompt(name).ok_or_else(|| Error::Unknown {
                    what: Kind::Prompt,
                    name: name.clone(),
                })?;
                self.guard(prompt.source.as_ref(), who, Kind::Prompt, name)?;
                (
                    prompt.source.clone(),
                    prompt.uris.clone(),
                    CompletionTarget::Prompt(prompt.declared.name.clone()),
                    name,
                )
            }
            CompletionRef::Template(uri) => {
                let template = snapshot.template(uri).ok_or_else(|| Error::Unknown {
                    what: Kind::Template,
                    name: uri.clone(),
                })?;
                self.guard(template.source.as_ref(), who, Kind::Template, uri)?;
                (
                    template.source.clone(),
                    template.uris.clone(),
                    CompletionTarget::ResourceTemplate(template.declared.uri_template.clone()),
                    uri,
                )
            }
        };
        let request = CompletionRequest {
            target,
            argument,
            value,
            context,
        };
        let _in_flight = self.metrics.call_started();
        let started = Instant::now();
        let span = tracing::info_span!("complete", subject = %name);
        let answer = events::converse(&self.catalog, source.as_ref(), &uris, client, |events| {
            source.complete(&request, Some(events), cancel)
        })
        .instrument(span)
        .await;
        self.record("completion", name.as_str(), &answer, started);
        let answer = answer.map_err(Error::Fault)?;
        answer.result.map_err(|error| Error::Plugin {
            error,
            subject: request.argument.clone(),
        })
    }
}

/// A name or URI a client sent, as an error repeats it: at most 256
/// characters, so that a huge request does not come back twice as large.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 256;
    match text.char_indices().nth(MAX) {
        None => text.into(),
        Some((end, _)) => format!("{}… ({} bytes)", &text[..end], text.len()).into(),
    }
}

/// The URI of a link or embedded resource, in its source's own terms.
fn content_uri(content: &crate::source::Content) -> Option<&str> {
    match content {
        crate::source::Content::Resource(resource) => Some(&resource.uri),
        crate::source::Content::Link(link) => Some(&link.uri),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests;
