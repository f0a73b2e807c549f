//! Groups → tools: naming, schema validators, collisions and the atomic swap.
//!
//! The catalog is the one place where the runtime (groups, calls) and the
//! protocol side (tools, arguments) meet. Readers take a [`Snapshot`], an
//! immutable `Arc`; a change builds a new snapshot and swaps it in, so a
//! call in flight keeps the group version it started with. Every swap is
//! announced on a watch channel (the MCP side turns it into
//! `notifications/tools/list_changed`).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::{Map, Value};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{ServerConfig, ToolFilter};
use crate::published::{self, Prompt, Resource, Template, UriMap};
use crate::runtime::{Annotations, EventSink, Fault, Group, Level, LoadError, Output, PluginError};

/// A JSON object (schemas, arguments).
pub type JsonObject = Map<String, Value>;

/// One published tool.
pub struct Tool {
    /// Published name, e.g. `math_divide`.
    pub name: String,
    /// The operation's own name inside its group, e.g. `divide`.
    pub operation: String,
    pub title: Option<String>,
    pub description: String,
    pub input_schema: Arc<JsonObject>,
    pub output_schema: Option<Arc<JsonObject>>,
    pub annotations: Annotations,
    /// The group version this tool belongs to.
    pub group: Arc<Group>,
    /// The group's URIs, for links and resources in results.
    pub uris: Arc<UriMap>,
    input_validator: jsonschema::Validator,
    output_validator: Option<jsonschema::Validator>,
}

/// Everything being served at one moment.
#[derive(Default)]
pub struct Snapshot {
    /// Loaded groups by file.
    pub groups: BTreeMap<PathBuf, Arc<Group>>,
    /// Published tools by name.
    pub tools: BTreeMap<String, Arc<Tool>>,
    /// Published static resources by URI.
    pub resources: BTreeMap<String, Arc<Resource>>,
    /// Published resource templates by URI template.
    pub templates: BTreeMap<String, Arc<Template>>,
    /// Published prompts by name.
    pub prompts: BTreeMap<String, Arc<Prompt>>,
    /// Files that could not be loaded, with the reason.
    pub failures: BTreeMap<PathBuf, String>,
}

impl Snapshot {
    /// A copy with nothing of `path`: no tools, no recorded failure. Its
    /// group stays until the caller replaces or removes it.
    fn without(&self, path: &Path) -> Snapshot {
        let mut failures = self.failures.clone();
        failures.remove(path);
        Snapshot {
            groups: self.groups.clone(),
            tools: keep(&self.tools, |t| &t.group, path),
            resources: keep(&self.resources, |r| &r.group, path),
            templates: keep(&self.templates, |t| &t.group, path),
            prompts: keep(&self.prompts, |p| &p.group, path),
            failures,
        }
    }

    /// The group serving the published `uri`, with the URI in the group's
    /// own terms: a static resource's, or one matching a template.
    pub fn resource_owner(&self, uri: &str) -> Option<(Arc<Group>, Arc<UriMap>, String)> {
        if let Some(resource) = self.resources.get(uri) {
            return Some((
                resource.group.clone(),
                resource.uris.clone(),
                resource.declared.uri.clone(),
            ));
        }
        // A group's templates share one URI map, which knows them all:
        // ask each group once.
        let mut asked: Vec<&Arc<UriMap>> = Vec::new();
        self.templates.values().find_map(|template| {
            if asked.iter().any(|uris| Arc::ptr_eq(uris, &template.uris)) {
                return None;
            }
            asked.push(&template.uris);
            let declared = template.uris.declared(uri)?;
            Some((template.group.clone(), template.uris.clone(), declared))
        })
    }
}

/// The first of `keys` that `map` already gives to a group loaded from a
/// file other than `path`, with that group.
fn claimed<'k, 'm, T>(
    map: &'m BTreeMap<String, Arc<T>>,
    group: impl Fn(&T) -> &Arc<Group>,
    path: &Path,
    keys: impl IntoIterator<Item = &'k str>,
) -> Option<(&'k str, &'m Arc<Group>)> {
    keys.into_iter().find_map(|key| {
        let owner = group(map.get(key)?);
        (owner.path != path).then_some((key, owner))
    })
}

/// The entries of `map` that do not belong to the group loaded from `path`.
fn keep<T>(
    map: &BTreeMap<String, Arc<T>>,
    group: impl Fn(&T) -> &Arc<Group>,
    path: &Path,
) -> BTreeMap<String, Arc<T>> {
    map.iter()
        .filter(|(_, entry)| group(entry).path != path)
        .map(|(key, entry)| (key.clone(), entry.clone()))
        .collect()
}

/// The live catalog.
pub struct Catalog {
    current: RwLock<Arc<Snapshot>>,
    naming: Naming,
    changes: watch::Sender<u64>,
    ready: watch::Sender<bool>,
    notices: broadcast::Sender<Notice>,
    /// Published URIs of resources a group said changed.
    updates: broadcast::Sender<String>,
    /// A request stopped waiting for the initial load before it was done.
    answered_early: AtomicBool,
    /// Most items in one page of a list.
    pub page_size: usize,
}

/// A message from the host itself (not from a plugin) for every connected
/// client, e.g. that a plugin failed to build or reload.
#[derive(Debug, Clone)]
pub struct Notice {
    pub level: Level,
    pub message: String,
}

/// How tool names are formed and checked.
#[derive(Debug, Clone)]
pub struct Naming {
    /// Between prefix and operation name.
    pub separator: String,
    /// Require `^[A-Za-z0-9_-]{1,64}$`, what the OpenAI and Anthropic APIs accept.
    pub strict: bool,
}

/// The result of calling a tool.
#[derive(Debug)]
pub enum CallOutcome {
    /// The plugin answered.
    Done {
        output: Output,
        structured: Option<Value>,
        fuel_used: u64,
    },
    /// The plugin returned its own error.
    PluginError(PluginError),
    /// The arguments did not match the input schema; one line per violation.
    InvalidArguments(Vec<String>),
    /// A limit, trap or invalid output.
    Fault(Fault),
}

impl Catalog {
    pub fn new(naming: Naming) -> Self {
        Self {
            current: RwLock::new(Arc::default()),
            naming,
            changes: watch::channel(0).0,
            ready: watch::channel(false).0,
            notices: broadcast::channel(64).0,
            updates: broadcast::channel(256).0,
            answered_early: AtomicBool::new(false),
            page_size: 100,
        }
    }

    /// A catalog named and paged as `[server]` says.
    pub fn from_config(server: &ServerConfig) -> Self {
        Self {
            page_size: server.page_size,
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

    /// Changes whenever the tool list changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Serves `group` (loaded from `group.path`), replacing what that file
    /// served before. Refused, with the previous version left serving, when
    /// a tool is invalid or a name collides with another file's.
    pub fn insert(&self, group: Group) -> Result<(), LoadError> {
        let group = Arc::new(group);
        let prefix = group
            .policy
            .namespace
            .clone()
            .unwrap_or_else(|| group.name.to_string());
        let uris =
            Arc::new(UriMap::new(&group, &prefix).map_err(|why| LoadError::new(&group.path, why))?);
        let tools = build_tools(&group, &self.naming, &prefix, &uris)?;
        let published = published::build(&group, &self.naming, &prefix, &uris)?;
        let path = group.path.clone();
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        for (other_path, other) in &current.groups {
            if *other_path != path && other.name == group.name {
                return Err(LoadError::new(
                    &path,
                    format!(
                        "group `{}` is already served from {}; rename one of the groups or remove a file",
                        group.name,
                        other_path.display()
                    ),
                ));
            }
        }
        for tool in &tools {
            if let Some(existing) = current.tools.get(&tool.name)
                && existing.group.path != path
            {
                return Err(LoadError::new(
                    &path,
                    format!(
                        "tool `{}` of group `{}` collides with the same name from group `{}` ({}); \
                         set `namespace` in [groups.{}] of toolhost.toml to tell them apart",
                        tool.name,
                        group.name,
                        existing.group.name,
                        existing.group.path.display(),
                        group.name
                    ),
                ));
            }
        }
        let collision = |kind: &str, name: &str, other: &Group| {
            LoadError::new(
                &path,
                format!(
                    "{kind} `{name}` of group `{}` collides with the same one from group `{}` ({}); \
                     set `namespace` in [groups.{}] of toolhost.toml to tell them apart",
                    group.name,
                    other.name,
                    other.path.display(),
                    group.name
                ),
            )
        };
        let checks = [
            (
                "resource",
                claimed(
                    &current.resources,
                    |r| &r.group,
                    &path,
                    published.resources.iter().map(|r| r.uri.as_str()),
                ),
            ),
            (
                "resource template",
                claimed(
                    &current.templates,
                    |t| &t.group,
                    &path,
                    published.templates.iter().map(|t| t.uri_template.as_str()),
                ),
            ),
            (
                "prompt",
                claimed(
                    &current.prompts,
                    |p| &p.group,
                    &path,
                    published.prompts.iter().map(|p| p.name.as_str()),
                ),
            ),
        ];
        for (kind, taken) in checks {
            if let Some((name, other)) = taken {
                return Err(collision(kind, name, other));
            }
        }
        let mut next = current.without(&path);
        next.groups.insert(path, group);
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

    /// Stops serving whatever `path` served.
    pub fn remove(&self, path: &Path) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if !current.groups.contains_key(path) && !current.failures.contains_key(path) {
            return;
        }
        let mut next = current.without(path);
        let changed = next.groups.remove(path).is_some();
        *current = Arc::new(next);
        drop(current);
        if changed {
            self.announce();
        }
    }

    /// Tells subscribers the tool list changed. Changes during the initial
    /// load are not announced: nobody can have listed the tools yet.
    fn announce(&self) {
        if self.is_ready() {
            self.changes.send_modify(|n| *n += 1);
        }
    }

    /// Records that `error.path` could not be loaded. Whatever it served
    /// before keeps serving.
    pub fn record_failure(&self, error: &LoadError) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut next = Snapshot {
            groups: current.groups.clone(),
            tools: current.tools.clone(),
            resources: current.resources.clone(),
            templates: current.templates.clone(),
            prompts: current.prompts.clone(),
            failures: current.failures.clone(),
        };
        next.failures
            .insert(error.path.clone(), error.reason.clone());
        *current = Arc::new(next);
    }
}

impl Tool {
    /// Validates, calls and checks the output of this tool.
    pub async fn call(
        &self,
        arguments: JsonObject,
        events: Option<EventSink>,
        cancel: CancellationToken,
    ) -> CallOutcome {
        let arguments = Value::Object(arguments);
        let violations: Vec<String> = self
            .input_validator
            .iter_errors(&arguments)
            .map(|e| format!("{}: {}", display_path(&e.instance_path().to_string()), e))
            .collect();
        if !violations.is_empty() {
            return CallOutcome::InvalidArguments(violations);
        }
        let arguments = arguments.to_string();
        let success = match self
            .group
            .call(&self.operation, &arguments, events, cancel)
            .await
        {
            Ok(success) => success,
            Err(fault) => return CallOutcome::Fault(fault),
        };
        let output = match success.result {
            Ok(output) => output,
            Err(error) => return CallOutcome::PluginError(error),
        };
        let structured = match output
            .structured
            .as_deref()
            .map(serde_json::from_str::<Value>)
        {
            None => None,
            Some(Ok(value)) => Some(value),
            Some(Err(e)) => {
                return CallOutcome::Fault(
                    self.invalid_output(format!("structured result is not JSON ({e})")),
                );
            }
        };
        match (&self.output_validator, &structured) {
            (Some(validator), Some(value)) => {
                let violations: Vec<String> = validator
                    .iter_errors(value)
                    .take(10)
                    .map(|e| format!("{}: {}", display_path(&e.instance_path().to_string()), e))
                    .collect();
                if !violations.is_empty() {
                    return CallOutcome::Fault(self.invalid_output(format!(
                        "the structured result does not match its output schema: {}",
                        violations.join("; ")
                    )));
                }
            }
            (Some(_), None) => {
                return CallOutcome::Fault(self.invalid_output(
                    "the operation declares an output schema but returned no structured result (it does not match its output schema)".into(),
                ));
            }
            _ => {}
        }
        CallOutcome::Done {
            output,
            structured,
            fuel_used: success.fuel_used,
        }
    }

    fn invalid_output(&self, reason: String) -> Fault {
        Fault {
            group: self.group.name.clone(),
            limits: self.group.policy.limits,
            kind: crate::runtime::FaultKind::InvalidOutput { reason },
        }
    }
}

fn display_path(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

/// Builds the tools of one group, checking every name and schema.
fn build_tools(
    group: &Arc<Group>,
    naming: &Naming,
    prefix: &str,
    uris: &Arc<UriMap>,
) -> Result<Vec<Tool>, LoadError> {
    let fail = |reason: String| LoadError::new(&group.path, reason);
    check_name(&group.name, naming.strict)
        .map_err(|why| fail(format!("group name `{}` {why}", group.name)))?;
    let filter =
        ToolSelection::new(&group.policy.tools).map_err(|e| fail(format!("tools filter: {e}")))?;
    let mut seen = HashSet::new();
    let mut tools = Vec::new();
    for operation in &group.operations {
        if !seen.insert(operation.name.as_str()) {
            return Err(fail(format!(
                "operation `{}` is declared twice",
                operation.name
            )));
        }
        if !filter.allows(&operation.name) {
            continue;
        }
        let name = if prefix.is_empty() {
            operation.name.clone()
        } else {
            format!("{prefix}{}{}", naming.separator, operation.name)
        };
        check_name(&name, naming.strict).map_err(|why| {
            fail(format!(
                "tool name `{name}` (operation `{}`) {why}",
                operation.name
            ))
        })?;
        let context = |what: &str| format!("operation `{}`: {what}", operation.name);
        let input_schema = parse_schema(&operation.input_schema)
            .map_err(|e| fail(format!("{}: {e}", context("input schema"))))?;
        let input_validator = jsonschema::validator_for(&Value::Object(input_schema.clone()))
            .map_err(|e| {
                fail(format!(
                    "{}: not a valid JSON Schema: {e}",
                    context("input schema")
                ))
            })?;
        let (output_schema, output_validator) = match &operation.output_schema {
            None => (None, None),
            Some(text) => {
                let schema = parse_schema(text)
                    .map_err(|e| fail(format!("{}: {e}", context("output schema"))))?;
                let validator =
                    jsonschema::validator_for(&Value::Object(schema.clone())).map_err(|e| {
                        fail(format!(
                            "{}: not a valid JSON Schema: {e}",
                            context("output schema")
                        ))
                    })?;
                (Some(Arc::new(schema)), Some(validator))
            }
        };
        tools.push(Tool {
            name,
            operation: operation.name.clone(),
            title: operation.title.clone(),
            description: operation.description.clone(),
            input_schema: Arc::new(input_schema),
            output_schema,
            annotations: operation.annotations,
            group: group.clone(),
            uris: uris.clone(),
            input_validator,
            output_validator,
        });
    }
    Ok(tools)
}

/// A schema must be a JSON object describing an object (MCP requires
/// `"type": "object"` for tool input and output schemas).
fn parse_schema(text: &str) -> Result<JsonObject, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?;
    let Value::Object(schema) = value else {
        return Err("must be a JSON object".to_owned());
    };
    if schema.get("type") != Some(&Value::String("object".into())) {
        return Err("must describe an object (`\"type\": \"object\"`), as MCP requires".to_owned());
    }
    Ok(schema)
}

/// Checks a published name.
pub fn check_name(name: &str, strict: bool) -> Result<(), &'static str> {
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (!strict && c == '.');
    if name.is_empty() || name.len() > 64 {
        return Err("must be 1 to 64 characters long");
    }
    if !name.chars().all(allowed) {
        return Err(if strict {
            "may only contain A-Z, a-z, 0-9, `_` and `-` (what the OpenAI and Anthropic APIs accept)"
        } else {
            "may only contain A-Z, a-z, 0-9, `_`, `-` and `.`"
        });
    }
    Ok(())
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
    fn names_follow_the_api_rule() {
        assert!(check_name("math_divide", true).is_ok());
        assert!(check_name("math.divide", true).is_err());
        assert!(check_name("math.divide", false).is_ok());
        assert!(check_name("", true).is_err());
        assert!(check_name(&"x".repeat(65), true).is_err());
        assert!(check_name("héllo", false).is_err());
    }

    #[test]
    fn schemas_must_describe_objects() {
        assert!(parse_schema(r#"{"type":"object","properties":{}}"#).is_ok());
        assert!(
            parse_schema(r#"{"type":"string"}"#)
                .unwrap_err()
                .contains("object")
        );
        assert!(
            parse_schema("{nope")
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(parse_schema("[1]").is_err());
    }

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
