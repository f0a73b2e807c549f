//! Sources → what clients see: naming, schema validators, collisions and
//! the atomic swap.
//!
//! The catalog holds [`Source`]s keyed by [`SourceId`] and knows nothing
//! else of them. Readers take a [`Snapshot`], an immutable `Arc`; a change
//! builds a new snapshot and swaps it in, so a request in flight keeps the
//! source version it started with. Every swap is announced on a watch
//! channel (the MCP side turns it into `notifications/*/list_changed`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::{Map, Value};
use tokio::sync::{broadcast, watch};

use crate::config::{ServerConfig, ToolFilter};
pub use crate::naming::{Naming, check_name};
use crate::published::{self, Listed, Prompt, Resource, Template, UriMap};
use crate::schema::{Rejection, Schema, SchemaBudget};
use crate::source::{Annotations, Description, Icon, ItemKind, Level, LoadError, Source, SourceId};

/// A JSON object (schemas, arguments).
pub type JsonObject = Map<String, Value>;

/// One published tool.
pub struct Tool {
    /// Published name, e.g. `math_divide`.
    pub name: String,
    /// The operation's own name inside its source, e.g. `divide`.
    pub operation: String,
    pub title: Option<String>,
    pub description: String,
    pub input_schema: Arc<JsonObject>,
    pub output_schema: Option<Arc<JsonObject>>,
    pub annotations: Annotations,
    /// The source version this tool belongs to.
    pub source: Arc<dyn Source>,
    /// The source's URIs, for links and resources in results.
    pub uris: Arc<UriMap>,
    /// Arguments a 2026-07-28 HTTP request also carries in a header
    /// (`x-mcp-header` on the property, SEP-2243), as (property, header).
    pub header_params: Vec<(String, http::HeaderName)>,
    /// The operation's icons, else the group's (checked at load; shared
    /// by the tools that publish the same ones).
    pub icons: Arc<[Icon]>,
    /// Whether it is listed now (`host.set-listed`).
    pub listed: Listed,
    input: Arc<Schema>,
    output: Option<Arc<Schema>>,
}

/// Everything being served at one moment.
#[derive(Default, Clone)]
pub struct Snapshot {
    /// Loaded sources.
    pub sources: BTreeMap<SourceId, Arc<dyn Source>>,
    /// Published tools by name.
    pub tools: BTreeMap<String, Arc<Tool>>,
    /// Published static resources by URI.
    pub resources: BTreeMap<String, Arc<Resource>>,
    /// Published resource templates by URI template.
    pub templates: BTreeMap<String, Arc<Template>>,
    /// Published prompts by name.
    pub prompts: BTreeMap<String, Arc<Prompt>>,
    /// Sources that could not be loaded or served, with the reason.
    pub failures: BTreeMap<SourceId, String>,
}

/// The source serving a published URI, and the URI in its own terms.
pub struct Owner {
    pub source: Arc<dyn Source>,
    pub uris: Arc<UriMap>,
    pub declared: String,
}

impl Snapshot {
    /// A copy with nothing of `id`: no tools, no recorded failure. Its
    /// source stays until the caller replaces or removes it.
    fn without(&self, id: &SourceId) -> Snapshot {
        let mut failures = self.failures.clone();
        failures.remove(id);
        Snapshot {
            sources: self.sources.clone(),
            tools: keep(&self.tools, |t| &t.source, id),
            resources: keep(&self.resources, |r| &r.source, id),
            templates: keep(&self.templates, |t| &t.source, id),
            prompts: keep(&self.prompts, |p| &p.source, id),
            failures,
        }
    }

    /// The tool `name`, when it is listed.
    pub fn tool(&self, name: &str) -> Option<&Arc<Tool>> {
        self.tools.get(name).filter(|tool| tool.listed.get())
    }

    /// The prompt `name`, when it is listed.
    pub fn prompt(&self, name: &str) -> Option<&Arc<Prompt>> {
        self.prompts.get(name).filter(|prompt| prompt.listed.get())
    }

    /// The resource template published as `uri_template`, when it is
    /// listed.
    pub fn template(&self, uri_template: &str) -> Option<&Arc<Template>> {
        self.templates
            .get(uri_template)
            .filter(|template| template.listed.get())
    }

    /// The flag of the item `name` (as declared) of kind `kind` that source
    /// `id` publishes; `None` when it publishes none (say a tool filtered
    /// out by the policy).
    fn listed_flag(&self, id: &SourceId, kind: ItemKind, name: &str) -> Option<&Listed> {
        match kind {
            ItemKind::Operation => self
                .tools
                .values()
                .find(|t| t.source.id() == id && t.operation == name)
                .map(|t| &t.listed),
            ItemKind::Prompt => self
                .prompts
                .values()
                .find(|p| p.source.id() == id && p.declared.name == name)
                .map(|p| &p.listed),
            ItemKind::Resource => self
                .resources
                .values()
                .find(|r| r.source.id() == id && r.declared.uri == name)
                .map(|r| &r.listed),
            ItemKind::ResourceTemplate => self
                .templates
                .values()
                .find(|t| t.source.id() == id && t.declared.uri_template == name)
                .map(|t| &t.listed),
        }
    }

    /// The source serving the published `uri`, with the URI in the
    /// source's own terms: a static resource's, or one matching a template.
    /// An unlisted resource, or a URI whose first matching template is
    /// unlisted, has none.
    pub fn resource_owner(&self, uri: &str) -> Option<Owner> {
        self.owner(uri, true)
    }

    /// The source serving the published `uri`, listed or not: whose it is.
    pub fn resource_owner_listed_or_not(&self, uri: &str) -> Option<Owner> {
        self.owner(uri, false)
    }

    fn owner(&self, uri: &str, listed_only: bool) -> Option<Owner> {
        if let Some(resource) = self.resources.get(uri) {
            if listed_only && !resource.listed.get() {
                return None;
            }
            return Some(Owner {
                source: resource.source.clone(),
                uris: resource.uris.clone(),
                declared: resource.declared.uri.clone(),
            });
        }
        // A source's templates share one URI map, which knows them all:
        // ask each source once.
        let mut asked: Vec<&Arc<UriMap>> = Vec::new();
        self.templates.values().find_map(|template| {
            if asked.iter().any(|uris| Arc::ptr_eq(uris, &template.uris)) {
                return None;
            }
            asked.push(&template.uris);
            let declared = template.uris.declared(uri)?;
            if listed_only {
                let matched = template.uris.template_of(&declared)?;
                let matched = template.source.description().templates.get(matched)?;
                self.template(&template.uris.publish_template(&matched.uri_template))?;
            }
            Some(Owner {
                source: template.source.clone(),
                uris: template.uris.clone(),
                declared,
            })
        })
    }
}

/// The first of `keys` that `map` already gives to another source, with
/// that source.
fn claimed<'k, 'm, T>(
    map: &'m BTreeMap<String, Arc<T>>,
    source: impl Fn(&T) -> &Arc<dyn Source>,
    id: &SourceId,
    keys: impl IntoIterator<Item = &'k str>,
) -> Option<(&'k str, &'m Arc<dyn Source>)> {
    keys.into_iter().find_map(|key| {
        let owner = source(map.get(key)?);
        (owner.id() != id).then_some((key, owner))
    })
}

/// The prefix of what `source` publishes: its namespace, else its name.
fn prefix_of(source: &dyn Source) -> String {
    source
        .policy()
        .namespace
        .clone()
        .unwrap_or_else(|| source.name().to_string())
}

/// Refuses a source that declares a group pinned to another file or
/// digest (`groups.NAME.file`, `groups.NAME.digest`), so a file cannot take
/// a group's name and the grants that come with it.
fn check_pin(source: &dyn Source) -> Result<(), String> {
    let name = source.name();
    let policy = source.policy();
    if let Some(pinned) = &policy.file {
        let matches = source.id().path().is_some_and(|path| {
            path.ends_with(pinned) || path.file_name().is_some_and(|file| file == pinned.as_str())
        });
        if !matches {
            return Err(format!(
                "declares group `{name}`, which is pinned to `{pinned}` (groups.{name}.file); \
                 only that file may serve it"
            ));
        }
    }
    if let Some(pinned) = &policy.digest {
        let digest = source.digest().map(|d| d.to_hex().to_string());
        if digest.as_deref() != Some(pinned.trim().to_ascii_lowercase().as_str()) {
            return Err(format!(
                "declares group `{name}`, which is pinned to digest {pinned} (groups.{name}.digest), \
                 but this file's BLAKE3 digest is {}",
                digest.as_deref().unwrap_or("unknown")
            ));
        }
    }
    Ok(())
}

/// The entries of `map` that do not belong to source `id`.
fn keep<T>(
    map: &BTreeMap<String, Arc<T>>,
    source: impl Fn(&T) -> &Arc<dyn Source>,
    id: &SourceId,
) -> BTreeMap<String, Arc<T>> {
    map.iter()
        .filter(|(_, entry)| source(entry).id() != id)
        .map(|(key, entry)| (key.clone(), entry.clone()))
        .collect()
}

/// The live catalog.
pub struct Catalog {
    current: RwLock<Arc<Snapshot>>,
    naming: Naming,
    changes: watch::Sender<Version>,
    ready: watch::Sender<bool>,
    notices: broadcast::Sender<Notice>,
    /// Published URIs of resources a group said changed.
    updates: broadcast::Sender<String>,
    /// A request stopped waiting for the initial load before it was done.
    answered_early: AtomicBool,
    /// What groups listed and unlisted while running (`host.set-listed`),
    /// by group name and then by item: kept across reloads, until the
    /// process ends. Locked after `current`, never before.
    choices: Mutex<HashMap<Arc<str>, Choices>>,
    /// Most items in one page of a list.
    pub page_size: usize,
    /// How long a client may reuse a list (`ttlMs`).
    pub list_ttl: std::time::Duration,
    /// What a tool schema may ask of the host.
    pub schema_budget: SchemaBudget,
}

/// How often the lists changed: by a new snapshot, or by a group listing
/// or unlisting its items (which changes no snapshot).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Snapshots swapped in.
    pub swaps: u64,
    /// Listing changes of tools, prompts, and resources or templates.
    pub tools: u64,
    pub prompts: u64,
    pub resources: u64,
}

/// A message from the host itself (not from a plugin) for every connected
/// client, e.g. that a plugin failed to build or reload.
#[derive(Debug, Clone)]
pub struct Notice {
    pub level: Level,
    pub message: String,
}

impl Catalog {
    pub fn new(naming: Naming) -> Self {
        Self {
            current: RwLock::new(Arc::default()),
            naming,
            changes: watch::channel(Version::default()).0,
            ready: watch::channel(false).0,
            notices: broadcast::channel(64).0,
            updates: broadcast::channel(256).0,
            answered_early: AtomicBool::new(false),
            choices: Mutex::default(),
            page_size: 100,
            list_ttl: std::time::Duration::ZERO,
            schema_budget: SchemaBudget::default(),
        }
    }

    /// A catalog named and paged as `[server]` says.
    pub fn from_config(server: &ServerConfig) -> Self {
        let defaults = SchemaBudget::default();
        let schema_budget = SchemaBudget {
            max_text_bytes: server.schema_size.map_or(defaults.max_text_bytes, |size| {
                usize::try_from(size.0).unwrap_or(usize::MAX)
            }),
            max_checks: server.schema_checks.unwrap_or(defaults.max_checks),
            ..defaults
        };
        Self {
            page_size: server.page_size,
            list_ttl: server.list_ttl.0,
            schema_budget,
            ..Self::new(Naming {
                separator: server.separator.clone(),
                strict: server.strict_names,
            })
        }
    }

    /// Sends `message` to every connected client as a log notification.
    pub fn notify(&self, level: Level, message: impl Into<String>) {
        let _ = self.notices.send(Notice {
            level,
            message: message.into(),
        });
    }

    /// Receives what [`Catalog::notify`] sends from now on.
    pub fn notices(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Tells subscribed clients that the resource at `uri` (as published)
    /// changed.
    pub fn resource_updated(&self, uri: String) {
        let _ = self.updates.send(uri);
    }

    /// Receives what [`Catalog::resource_updated`] sends from now on.
    pub fn resource_updates(&self) -> broadcast::Receiver<String> {
        self.updates.subscribe()
    }

    /// Marks the initial load as done: requests waiting for it go on.
    pub fn mark_ready(&self) {
        self.ready.send_replace(true);
        // A request that gave up waiting saw an incomplete list (e.g. while
        // `toolhost dev` ran a long first build): tell clients to list again.
        if self.answered_early.swap(false, Ordering::Relaxed) {
            self.announce();
        }
    }

    /// Whether the initial load is done.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits (at most `limit`) until the initial load is done, so that a
    /// client connecting during start-up sees every tool in its first
    /// `tools/list` instead of an empty list.
    pub async fn wait_ready(&self, limit: std::time::Duration) {
        let mut ready = self.ready.subscribe();
        if tokio::time::timeout(limit, ready.wait_for(|ready| *ready))
            .await
            .is_err()
        {
            self.answered_early.store(true, Ordering::Relaxed);
        }
    }

    /// Waits until the initial load is done, however long it takes.
    pub async fn until_ready(&self) {
        let mut ready = self.ready.subscribe();
        let _ = ready.wait_for(|ready| *ready).await;
    }

    /// What is served now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes whenever a list changes.
    pub fn subscribe(&self) -> watch::Receiver<Version> {
        self.changes.subscribe()
    }

    /// Serves `source`, replacing what a source of the same id served
    /// before. Refused, with the previous version left serving, when a tool
    /// is invalid or a name collides with another source's.
    pub fn insert(&self, source: Arc<dyn Source>) -> Result<(), LoadError> {
        let id = source.id().clone();
        let fail = |reason: String| LoadError::of(id.clone(), reason);
        let name = source.name().clone();
        let prefix = source
            .policy()
            .namespace
            .clone()
            .unwrap_or_else(|| name.to_string());
        check_pin(source.as_ref()).map_err(fail)?;
        let uris = Arc::new(UriMap::new(source.description(), &prefix).map_err(fail)?);
        let tools = build_tools(&source, &self.naming, &self.schema_budget, &prefix, &uris)
            .map_err(fail)?;
        let published = published::build(&source, &self.naming, &prefix, &uris).map_err(fail)?;
        let declared = declared(source.description());
        let unlisted = unlisted(source.description(), &declared).map_err(fail)?;
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        for (other_id, other) in &current.sources {
            if *other_id == id {
                continue;
            }
            if other.name() == &name {
                return Err(fail(format!(
                    "group `{name}` is already served from {other_id}; rename one of the groups or \
                     remove a file (pin a group to its file with `file` in [groups.{name}])"
                )));
            }
            // `text` and `text_regex` would share names (`text_regex_find`):
            // the newcomer is refused, never the group already serving.
            let other_prefix = prefix_of(other.as_ref());
            if self.naming.overlap(&prefix, &other_prefix) {
                return Err(fail(format!(
                    "group `{name}` publishes under `{prefix}{sep}`, which overlaps `{other_prefix}{sep}` \
                     of group `{}` ({other_id}); set `namespace` in [groups.{name}] of toolhost.toml \
                     to tell them apart",
                    other.name(),
                    sep = self.naming.separator,
                )));
            }
        }
        let collision = |kind: &str, key: &str, other: &Arc<dyn Source>| {
            fail(format!(
                "{kind} `{key}` of group `{name}` collides with the same name from group `{}` ({}); \
                 set `namespace` in [groups.{name}] of toolhost.toml to tell them apart",
                other.name(),
                other.id(),
            ))
        };
        let checks = [
            (
                "tool",
                claimed(
                    &current.tools,
                    |t| &t.source,
                    &id,
                    tools.iter().map(|t| t.name.as_str()),
                ),
            ),
            (
                "resource",
                claimed(
                    &current.resources,
                    |r| &r.source,
                    &id,
                    published.resources.iter().map(|r| r.uri.as_str()),
                ),
            ),
            (
                "resource template",
                claimed(
                    &current.templates,
                    |t| &t.source,
                    &id,
                    published.templates.iter().map(|t| t.uri_template.as_str()),
                ),
            ),
            (
                "prompt",
                claimed(
                    &current.prompts,
                    |p| &p.source,
                    &id,
                    published.prompts.iter().map(|p| p.name.as_str()),
                ),
            ),
        ];
        for (kind, taken) in checks {
            if let Some((key, other)) = taken {
                return Err(collision(kind, key, other));
            }
        }
        {
            let mut choices = self.choices.lock().unwrap_or_else(|e| e.into_inner());
            let chosen = choices.entry(name.clone()).or_default();
            chosen.retain(|(kind, item), _| declared.contains(&(*kind, item.as_str())));
            let starts_listed = |kind: ItemKind, item: &str| {
                chosen
                    .get(&(kind as u8, item.to_owned()))
                    .copied()
                    .unwrap_or_else(|| !unlisted.contains(&(kind as u8, item)))
            };
            for tool in &tools {
                tool.listed
                    .set(starts_listed(ItemKind::Operation, &tool.operation));
            }
            for resource in &published.resources {
                resource
                    .listed
                    .set(starts_listed(ItemKind::Resource, &resource.declared.uri));
            }
            for template in &published.templates {
                template.listed.set(starts_listed(
                    ItemKind::ResourceTemplate,
                    &template.declared.uri_template,
                ));
            }
            for prompt in &published.prompts {
                prompt
                    .listed
                    .set(starts_listed(ItemKind::Prompt, &prompt.declared.name));
            }
        }
        let mut next = current.without(&id);
        next.sources.insert(id, source);
        next.tools
            .extend(tools.into_iter().map(|t| (t.name.clone(), Arc::new(t))));
        next.resources.extend(
            published
                .resources
                .into_iter()
                .map(|r| (r.uri.clone(), Arc::new(r))),
        );
        next.templates.extend(
            published
                .templates
                .into_iter()
                .map(|t| (t.uri_template.clone(), Arc::new(t))),
        );
        next.prompts.extend(
            published
                .prompts
                .into_iter()
                .map(|p| (p.name.clone(), Arc::new(p))),
        );
        *current = Arc::new(next);
        drop(current);
        self.announce();
        Ok(())
    }

    /// Stops serving whatever source `id` served.
    pub fn remove(&self, id: &SourceId) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if !current.sources.contains_key(id) && !current.failures.contains_key(id) {
            return;
        }
        let mut next = current.without(id);
        let changed = next.sources.remove(id).is_some();
        *current = Arc::new(next);
        drop(current);
        if changed {
            self.announce();
        }
    }

    /// Lists or unlists the item `name` (as declared) of kind `kind` that
    /// `source` declares, for every client, from now until the process
    /// ends (reloads keep the choice); subscribers hear of a change.
    /// Whether the listing changed.
    pub fn set_listed(
        &self,
        source: &dyn Source,
        kind: ItemKind,
        name: &str,
        listed: bool,
    ) -> Result<bool, String> {
        if !declares(source.description(), kind, name) {
            return Err(format!(
                "the group declares no {} `{}`, so it cannot be listed or unlisted",
                kind_noun(kind),
                name.escape_debug()
            ));
        }
        // Under the write lock, so that a reload of the group either sees
        // the choice or is already served when the flag is set.
        let current = self.current.write().unwrap_or_else(|e| e.into_inner());
        self.choices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(source.name().clone())
            .or_default()
            .insert((kind as u8, name.to_owned()), listed);
        let changed = current
            .listed_flag(source.id(), kind, name)
            .is_some_and(|flag| flag.set(listed));
        drop(current);
        if changed && self.is_ready() {
            self.changes.send_modify(|version| match kind {
                ItemKind::Operation => version.tools += 1,
                ItemKind::Prompt => version.prompts += 1,
                ItemKind::Resource | ItemKind::ResourceTemplate => version.resources += 1,
            });
        }
        Ok(changed)
    }

    /// Tells subscribers the lists changed. Changes during the initial
    /// load are not announced: nobody can have listed anything yet.
    fn announce(&self) {
        if self.is_ready() {
            self.changes.send_modify(|version| version.swaps += 1);
        }
    }

    /// Records that `error.source` could not be loaded. Whatever it served
    /// before keeps serving.
    pub fn record_failure(&self, error: &LoadError) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut next = Snapshot::clone(&current);
        next.failures
            .insert(error.source.clone(), error.reason.clone());
        *current = Arc::new(next);
    }
}

/// One group's listing choices, by item (its [`ItemKind`] as a number,
/// and its name).
type Choices = HashMap<(u8, String), bool>;

/// Items by kind (as a number) and name.
type Items<'a> = HashSet<(u8, &'a str)>;

/// What the word for `kind` is in messages.
fn kind_noun(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Operation => "operation",
        ItemKind::Prompt => "prompt",
        ItemKind::Resource => "resource",
        ItemKind::ResourceTemplate => "resource template",
    }
}

/// Whether `description` declares the item `name` of kind `kind`.
fn declares(description: &Description, kind: ItemKind, name: &str) -> bool {
    match kind {
        ItemKind::Operation => description.operations.iter().any(|o| o.name == name),
        ItemKind::Prompt => description.prompts.iter().any(|p| p.name == name),
        ItemKind::Resource => description.resources.iter().any(|r| r.uri == name),
        ItemKind::ResourceTemplate => description.templates.iter().any(|t| t.uri_template == name),
    }
}

/// Every item `description` declares.
fn declared(description: &Description) -> Items<'_> {
    let operations = description.operations.iter();
    let prompts = description.prompts.iter();
    let resources = description.resources.iter();
    let templates = description.templates.iter();
    operations
        .map(|o| (ItemKind::Operation as u8, o.name.as_str()))
        .chain(prompts.map(|p| (ItemKind::Prompt as u8, p.name.as_str())))
        .chain(resources.map(|r| (ItemKind::Resource as u8, r.uri.as_str())))
        .chain(templates.map(|t| (ItemKind::ResourceTemplate as u8, t.uri_template.as_str())))
        .collect()
}

/// The items `description` says start unlisted, each checked to be one of
/// the `declared`.
fn unlisted<'a>(description: &'a Description, declared: &Items<'_>) -> Result<Items<'a>, String> {
    description
        .unlisted
        .iter()
        .map(|(kind, name)| {
            if declared.contains(&(*kind as u8, name.as_str())) {
                Ok((*kind as u8, name.as_str()))
            } else {
                Err(format!(
                    "`listing.unlisted` names {} `{}`, which the group does not declare",
                    kind_noun(*kind),
                    name.escape_debug()
                ))
            }
        })
        .collect()
}

impl Tool {
    /// Why `arguments` do not match the input schema, one line per
    /// violation; `Ok` when they do. Checked within the schema budget, off
    /// the async workers when large.
    pub async fn check_arguments(&self, arguments: Arc<Value>) -> Result<(), Vec<String>> {
        self.input
            .validate_async(arguments)
            .await
            .map_err(|rejection| match rejection {
                Rejection::Violations(lines) => lines,
                too_complex => vec![format!("the arguments are {too_complex}")],
            })
    }

    /// Why a structured result does not match the output schema, if it
    /// does not; `None` when it does or there is no output schema.
    pub async fn check_output(&self, structured: Option<&Arc<Value>>) -> Option<String> {
        match (&self.output, structured) {
            (Some(schema), Some(value)) => {
                schema
                    .validate_async(value.clone())
                    .await
                    .err()
                    .map(|rejection| match rejection {
                        Rejection::Violations(_) => format!(
                            "the structured result does not match its output schema: {rejection}"
                        ),
                        Rejection::TooComplex { .. } => {
                            format!("the structured result is {rejection}")
                        }
                    })
            }
            (Some(_), None) => Some(
                "the operation declares an output schema but returned no structured result \
                 (it does not match its output schema)"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// Builds the tools of one source, checking every name and schema.
fn build_tools(
    source: &Arc<dyn Source>,
    naming: &Naming,
    budget: &SchemaBudget,
    prefix: &str,
    uris: &Arc<UriMap>,
) -> Result<Vec<Tool>, String> {
    let name = source.name();
    check_name(name, naming.strict).map_err(|why| format!("group name `{name}` {why}"))?;
    let filter =
        ToolSelection::new(&source.policy().tools).map_err(|e| format!("tools filter: {e}"))?;
    static NO_ICONS: crate::source::Icons = crate::source::Icons {
        group: Vec::new(),
        operations: Vec::new(),
    };
    let operations = &source.description().operations;
    let icons = match crate::icons::check(&source.description().icons, operations) {
        Ok(icons) => icons,
        Err(why) if source.lenient() => {
            left_out(source.as_ref(), "its icons", &why);
            crate::icons::check(&NO_ICONS, operations)?
        }
        Err(why) => return Err(why),
    };
    let mut seen = HashSet::new();
    let mut tools = Vec::new();
    for operation in operations {
        if !filter.allows(&operation.name) {
            continue;
        }
        let tool = if seen.insert(operation.name.as_str()) {
            build_tool(source, operation, naming, budget, prefix, uris, &icons)
        } else {
            Err(format!("operation `{}` is declared twice", operation.name))
        };
        match tool {
            Ok(tool) => tools.push(tool),
            Err(why) if source.lenient() => {
                let what = format!("tool `{}`", operation.name.escape_debug());
                left_out(source.as_ref(), &what, &why);
            }
            Err(why) => return Err(why),
        }
    }
    Ok(tools)
}

/// Logs what a lenient source publishes without (see [`Source::lenient`]).
pub(crate) fn left_out(source: &dyn Source, what: &str, why: &str) {
    tracing::warn!(source = %source.id(), "{what} of {} is left out: {why}", source.id());
}

/// One tool of a source, its name and schemas checked.
fn build_tool(
    source: &Arc<dyn Source>,
    operation: &crate::source::Operation,
    naming: &Naming,
    budget: &SchemaBudget,
    prefix: &str,
    uris: &Arc<UriMap>,
    icons: &crate::icons::Published<'_>,
) -> Result<Tool, String> {
    {
        let published = naming
            .publish(prefix, &operation.name)
            .map_err(|why| format!("tool name {why} (operation `{}`)", operation.name))?;
        let context = |what: &str| format!("operation `{}`: {what}", operation.name);
        let input = Schema::compile(&operation.input_schema, budget)
            .map_err(|e| format!("{}: {e}", context("input schema")))?;
        let output = match &operation.output_schema {
            None => None,
            Some(text) => Some(Arc::new(
                Schema::compile(text, budget)
                    .map_err(|e| format!("{}: {e}", context("output schema")))?,
            )),
        };
        let header_params = header_params(input.as_object())
            .map_err(|e| format!("{}: {e}", context("input schema")))?;
        Ok(Tool {
            header_params,
            icons: icons.of(&operation.name),
            listed: Listed::new(true),
            name: published,
            operation: operation.name.clone(),
            title: operation.title.clone(),
            description: operation.description.clone(),
            input_schema: input.as_object().clone(),
            output_schema: output.as_ref().map(|schema| schema.as_object().clone()),
            annotations: operation.annotations,
            source: source.clone(),
            uris: uris.clone(),
            input: Arc::new(input),
            output,
        })
    }
}

/// The properties of `schema` that name a header with `x-mcp-header`, as
/// (property, `Mcp-Param-{name}`); a name that cannot be part of a header
/// name, or one used twice, is an error.
fn header_params(schema: &JsonObject) -> Result<Vec<(String, http::HeaderName)>, String> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Ok(Vec::new());
    };
    let mut params: Vec<(String, http::HeaderName)> = Vec::new();
    for (property, definition) in properties {
        let Some(name) = definition.get("x-mcp-header") else {
            continue;
        };
        let header = name
            .as_str()
            .filter(|name| !name.is_empty() && name.len() <= 64)
            .and_then(|name| http::HeaderName::try_from(format!("mcp-param-{name}")).ok())
            .ok_or_else(|| {
                format!(
                    "`x-mcp-header` of property `{property}` must be 1 to 64 characters \
                     allowed in an HTTP header name, not {name}"
                )
            })?;
        if params.iter().any(|(_, other)| *other == header) {
            return Err(format!("two properties name the header `{header}`"));
        }
        params.push((property.clone(), header));
    }
    Ok(params)
}

/// `tools = { enable = [...], disable = [...] }` as glob sets.
struct ToolSelection {
    enable: Option<GlobSet>,
    disable: GlobSet,
}

impl ToolSelection {
    fn new(filter: &ToolFilter) -> Result<Self, globset::Error> {
        let build = |patterns: &[String]| -> Result<GlobSet, globset::Error> {
            let mut set = GlobSetBuilder::new();
            for pattern in patterns {
                set.add(Glob::new(pattern)?);
            }
            set.build()
        };
        Ok(Self {
            enable: filter.enable.as_deref().map(build).transpose()?,
            disable: build(&filter.disable)?,
        })
    }

    fn allows(&self, operation: &str) -> bool {
        self.enable
            .as_ref()
            .is_none_or(|set| set.is_match(operation))
            && !self.disable.is_match(operation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_filters_use_globs() {
        let filter = ToolSelection::new(&ToolFilter {
            enable: Some(vec!["read_*".into(), "count".into()]),
            disable: vec!["read_secret".into()],
        })
        .unwrap();
        assert!(filter.allows("read_file"));
        assert!(filter.allows("count"));
        assert!(!filter.allows("read_secret"));
        assert!(!filter.allows("write_file"));
        assert!(
            ToolSelection::new(&ToolFilter::default())
                .unwrap()
                .allows("anything")
        );
    }
}
