//! What the host offers an operation while it runs.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::__private::bindings::toolhost::plugin::{host, types};
use crate::convert;
use crate::elicit;
use crate::kv::{self, Kv};
use crate::{Elicitation, SamplingRequest, SamplingResponse, ToolError};

/// Severity of a log message, as in MCP (RFC 5424 severities), lowest first.
///
/// ```
/// use toolhost_sdk::Level;
/// assert!(Level::Warning > Level::Info);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Detailed information for debugging.
    Debug,
    /// Normal operational messages.
    Info,
    /// Normal but significant events.
    Notice,
    /// Something unexpected that the operation recovered from.
    Warning,
    /// The operation could not do part of its work.
    Error,
    /// A critical condition.
    Critical,
    /// Action must be taken immediately.
    Alert,
    /// The system is unusable.
    Emergency,
}

impl From<Level> for types::Level {
    fn from(level: Level) -> Self {
        match level {
            Level::Debug => types::Level::Debug,
            Level::Info => types::Level::Info,
            Level::Notice => types::Level::Notice,
            Level::Warning => types::Level::Warning,
            Level::Error => types::Level::Error,
            Level::Critical => types::Level::Critical,
            Level::Alert => types::Level::Alert,
            Level::Emergency => types::Level::Emergency,
        }
    }
}

/// The running call's link to the host: logging, progress, cancellation,
/// per-group configuration, resource change signals, persistent
/// key-value state ([`kv`](Self::kv)), and requests to the client's model
/// ([sampling](Self::sample)) and user ([elicitation](Self::elicit)). Take `ctx: &Context` as the first
/// parameter of an operation (or a resource, prompt or completion function)
/// to get one.
///
/// ```
/// use toolhost_sdk::prelude::*;
///
/// /// Long-running work.
/// #[group(name = "batch")]
/// mod batch {
///     use super::*;
///
///     /// Process every item, reporting progress; stops early when cancelled.
///     #[operation]
///     pub fn process(ctx: &Context) -> Result<u32, ToolError> {
///         let limit: u32 = ctx.config("limit").map(|v| v.parse()).transpose()?.unwrap_or(100);
///         for done in 0..limit {
///             if ctx.cancelled() {
///                 return Err(ToolError::unavailable("cancelled by the caller"));
///             }
///             ctx.progress(done as f64, Some(limit as f64), None);
///         }
///         ctx.info(format!("processed {limit} items"));
///         Ok(limit)
///     }
/// }
/// # fn main() {}
/// ```
///
/// Outside a host (unit tests), use [`Context::detached`].
#[derive(Debug)]
pub struct Context {
    detached: Option<Detached>,
}

/// Answers sampling requests of a detached context.
type Sampler = Box<dyn Fn(&SamplingRequest) -> Result<SamplingResponse, String>>;
/// Answers elicitations of a detached context: message and schema in.
type Elicitor = Box<dyn Fn(&str, &Value) -> Result<Elicitation<Value>, String>>;

/// One of the group's own items, as it declares it: what
/// [`Context::set_listed`] lists or unlists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Item<'a> {
    /// An operation (a tool), by its name.
    Operation(&'a str),
    /// A prompt, by its name.
    Prompt(&'a str),
    /// A static resource, by its URI as declared.
    Resource(&'a str),
    /// A resource template, by its URI template as declared.
    Template(&'a str),
}

impl<'a> Item<'a> {
    fn parts(self) -> (types::ItemKind, &'a str) {
        match self {
            Item::Operation(name) => (types::ItemKind::Operation, name),
            Item::Prompt(name) => (types::ItemKind::Prompt, name),
            Item::Resource(uri) => (types::ItemKind::Resource, uri),
            Item::Template(uri) => (types::ItemKind::ResourceTemplate, uri),
        }
    }
}

/// State of a context that is not connected to a host.
#[derive(Default)]
struct Detached {
    config: BTreeMap<String, String>,
    cancelled: bool,
    sampler: Option<Sampler>,
    elicitor: Option<Elicitor>,
    state: kv::Detached,
    /// What `set_listed` chose, by item.
    listing: std::cell::RefCell<BTreeMap<(u8, String), bool>>,
}

impl fmt::Debug for Detached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detached")
            .field("config", &self.config)
            .field("cancelled", &self.cancelled)
            .field("sampler", &self.sampler.is_some())
            .field("elicitor", &self.elicitor.is_some())
            .finish()
    }
}

impl Context {
    /// The context of a call made by the host.
    pub(crate) fn from_host() -> Self {
        Context { detached: None }
    }

    /// A context that is not connected to a host, for calling operations in
    /// native unit tests: log messages go to stderr, progress is dropped,
    /// the call is never cancelled and configuration comes from
    /// [`with_config`](Self::with_config).
    ///
    /// ```
    /// use toolhost_sdk::Context;
    ///
    /// let ctx = Context::detached().with_config("greeting", "hello");
    /// assert_eq!(ctx.config("greeting").as_deref(), Some("hello"));
    /// assert_eq!(ctx.config("missing"), None);
    /// assert!(!ctx.cancelled());
    /// ```
    pub fn detached() -> Self {
        Context {
            detached: Some(Detached::default()),
        }
    }

    /// Set a configuration value of a [detached](Self::detached) context.
    /// On a context given by the host it has no effect.
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// let ctx = Context::detached().with_config("limit", "10");
    /// assert_eq!(ctx.config("limit").as_deref(), Some("10"));
    /// ```
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if let Some(detached) = &mut self.detached {
            detached.config.insert(key.into(), value.into());
        }
        self
    }

    /// Mark a [detached](Self::detached) context as cancelled, to test how an
    /// operation stops early. On a context given by the host it has no effect.
    ///
    /// ```
    /// # use toolhost_sdk::Context;
    /// assert!(Context::detached().with_cancelled(true).cancelled());
    /// ```
    pub fn with_cancelled(mut self, cancelled: bool) -> Self {
        if let Some(detached) = &mut self.detached {
            detached.cancelled = cancelled;
        }
        self
    }

    /// Answer the [sampling requests](Self::sample) of a
    /// [detached](Self::detached) context with `sampler`, to test an
    /// operation that asks the model. Without one, sampling fails as it
    /// does with a client that does not offer it. On a context given by the
    /// host it has no effect.
    ///
    /// ```
    /// use toolhost_sdk::{Content, Context, Role, SamplingResponse};
    ///
    /// let ctx = Context::detached().with_sampler(|request| {
    ///     Ok(SamplingResponse {
    ///         role: Role::Assistant,
    ///         content: Content::text(format!("{} messages", request.messages.len())),
    ///         model: "stub".into(),
    ///         stop_reason: None,
    ///     })
    /// });
    /// assert_eq!(ctx.sample("hi").unwrap().text(), Some("1 messages"));
    /// assert!(Context::detached().sample("hi").is_err());
    /// ```
    pub fn with_sampler(
        mut self,
        sampler: impl Fn(&SamplingRequest) -> Result<SamplingResponse, String> + 'static,
    ) -> Self {
        if let Some(detached) = &mut self.detached {
            detached.sampler = Some(Box::new(sampler));
        }
        self
    }

    /// Answer the [elicitations](Self::elicit) of a
    /// [detached](Self::detached) context with `elicitor`, which gets the
    /// message and the requested schema. Without one, elicitation fails as
    /// it does with a client that does not offer it. On a context given by
    /// the host it has no effect.
    ///
    /// ```
    /// use toolhost_sdk::prelude::*;
    /// use toolhost_sdk::{Elicitation, serde_json::json};
    ///
    /// #[derive(Debug, PartialEq, Deserialize, JsonSchema)]
    /// # #[serde(crate = "toolhost_sdk::serde")]
    /// # #[schemars(crate = "toolhost_sdk::schemars")]
    /// struct Name {
    ///     name: String,
    /// }
    ///
    /// let ctx = Context::detached()
    ///     .with_elicitor(|_message, _schema| Ok(Elicitation::Accept(json!({ "name": "Ada" }))));
    /// let answer = ctx.elicit::<Name>("Who are you?").unwrap();
    /// assert_eq!(answer, Elicitation::Accept(Name { name: "Ada".into() }));
    /// ```
    pub fn with_elicitor(
        mut self,
        elicitor: impl Fn(&str, &Value) -> Result<Elicitation<Value>, String> + 'static,
    ) -> Self {
        if let Some(detached) = &mut self.detached {
            detached.elicitor = Some(Box::new(elicitor));
        }
        self
    }

    /// Write a log message. The host writes it to its log and forwards it to
    /// MCP clients as `notifications/message`.
    ///
    /// ```no_run
    /// # use toolhost_sdk::{Context, Level};
    /// # let ctx = Context::detached();
    /// ctx.log(Level::Notice, "cache was cold; this call is slower");
    /// ```
    pub fn log(&self, level: Level, message: impl AsRef<str>) {
        match &self.detached {
            None => host::log(level.into(), message.as_ref()),
            Some(_) => eprintln!("[{level:?}] {}", message.as_ref()),
        }
    }

    /// Log at [`Level::Debug`].
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// ctx.debug("parsed 3 rows");
    /// ```
    pub fn debug(&self, message: impl AsRef<str>) {
        self.log(Level::Debug, message);
    }

    /// Log at [`Level::Info`].
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// ctx.info("imported 3 rows");
    /// ```
    pub fn info(&self, message: impl AsRef<str>) {
        self.log(Level::Info, message);
    }

    /// Log at [`Level::Warning`].
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// ctx.warn("row 7 has no id; skipped");
    /// ```
    pub fn warn(&self, message: impl AsRef<str>) {
        self.log(Level::Warning, message);
    }

    /// Log at [`Level::Error`].
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// ctx.error("could not read row 9");
    /// ```
    pub fn error(&self, message: impl AsRef<str>) {
        self.log(Level::Error, message);
    }

    /// Report progress: `done` units out of `total` (when known), with an
    /// optional message. The host forwards it as `notifications/progress`
    /// when the caller asked for progress, and drops it otherwise.
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// ctx.progress(3.0, Some(10.0), Some("downloading"));
    /// ```
    pub fn progress(&self, done: f64, total: Option<f64>, message: Option<&str>) {
        if self.detached.is_none() {
            host::progress(done, total, message);
        }
    }

    /// Whether the caller has cancelled this call. A long operation should
    /// check it regularly and stop early; its result is then discarded.
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// for chunk in 0..100 {
    ///     if ctx.cancelled() {
    ///         break;
    ///     }
    ///     // ... work on `chunk` ...
    /// }
    /// ```
    pub fn cancelled(&self) -> bool {
        match &self.detached {
            None => host::cancelled(),
            Some(detached) => detached.cancelled,
        }
    }

    /// Go on as a task: the host answers the request at once with a task
    /// the client polls (the MCP tasks extension), and this call runs on;
    /// what the operation returns becomes the task's result. Call it
    /// before the long part of the work, after any question that should be
    /// asked first; calling it again does nothing.
    ///
    /// Fails with [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable),
    /// saying why, when the client takes no tasks or the host keeps too
    /// many: the call then goes on as an ordinary one. An operation that
    /// can run either way ignores the error; one that cannot do without a
    /// task returns it, and the client is told to declare the extension.
    /// In a detached context (tests) it always fails.
    ///
    /// ```no_run
    /// # use toolhost_sdk::{Context, ToolError};
    /// # fn f(ctx: &Context) -> Result<String, ToolError> {
    /// // Optional: a client without tasks waits for the result instead.
    /// let _ = ctx.run_as_task();
    /// // Required: a client without tasks gets an error saying so.
    /// ctx.run_as_task()?;
    /// # Ok(String::new()) }
    /// ```
    pub fn run_as_task(&self) -> Result<(), ToolError> {
        match &self.detached {
            None => host::run_as_task().map_err(ToolError::unavailable),
            Some(_) => Err(ToolError::unavailable(
                "a detached context runs no tasks; the call goes on without one",
            )),
        }
    }

    /// List or unlist one of the group's own items, for every client. An
    /// unlisted item is left out of `tools/list` (and the other lists) and
    /// cannot be called, read or rendered, as if the group did not serve
    /// it; clients are told the lists changed. Use it for what only makes
    /// sense in some states: tools that appear after a sign-in, a prompt
    /// for a feature that is switched on.
    ///
    /// Returns whether the listing changed (`false` when the item already
    /// was as asked).
    ///
    /// Items start as declared: listed, or not for those marked `unlisted`
    /// (`#[operation(unlisted)]`, `#[prompt(unlisted)]`,
    /// `#[resource(uri = "...", unlisted)]`). The host keeps the choice
    /// across reloads of the group until it restarts; a group that must
    /// remember it longer keeps it in its [`Kv`](crate::Kv) state and sets
    /// it again.
    ///
    /// Fails with [`ErrorKind::InvalidArguments`](crate::ErrorKind::InvalidArguments),
    /// saying why, when the group declares no such item. In a detached
    /// context (tests) the choice is recorded for
    /// [`listed`](Self::listed), and it changed unless the last choice for
    /// the item was the same.
    ///
    /// ```no_run
    /// # use toolhost_sdk::{Context, Item, ToolError};
    /// # fn f(ctx: &Context) -> Result<String, ToolError> {
    /// // Signed in: the account tools appear in every client's list.
    /// ctx.set_listed(Item::Operation("transfer"), true)?;
    /// # Ok(String::new()) }
    /// ```
    pub fn set_listed(&self, item: Item<'_>, listed: bool) -> Result<bool, ToolError> {
        let (kind, name) = item.parts();
        match &self.detached {
            None => host::set_listed(kind, name, listed).map_err(ToolError::invalid_arguments),
            Some(detached) => {
                let before = detached
                    .listing
                    .borrow_mut()
                    .insert((kind as u8, name.to_owned()), listed);
                Ok(before != Some(listed))
            }
        }
    }

    /// In a detached context, what [`set_listed`](Self::set_listed) last
    /// chose for `item`; `None` when it was not called for it, and always
    /// on a host.
    ///
    /// ```
    /// # use toolhost_sdk::{Context, Item};
    /// let ctx = Context::detached();
    /// ctx.set_listed(Item::Prompt("review"), false).unwrap();
    /// assert_eq!(ctx.listed(Item::Prompt("review")), Some(false));
    /// assert_eq!(ctx.listed(Item::Operation("review")), None);
    /// ```
    pub fn listed(&self, item: Item<'_>) -> Option<bool> {
        let detached = self.detached.as_ref()?;
        let (kind, name) = item.parts();
        detached
            .listing
            .borrow()
            .get(&(kind as u8, name.to_owned()))
            .copied()
    }

    /// Read a per-group setting from the host's configuration, `None` when
    /// it is not set.
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// let base_url = ctx.config("base_url").unwrap_or_else(|| "https://example.org".into());
    /// ```
    pub fn config(&self, key: &str) -> Option<String> {
        match &self.detached {
            None => host::config(key),
            Some(detached) => detached.config.get(key).cloned(),
        }
    }

    /// Send HTTP requests to the hosts the operator granted this group
    /// (`[[groups.NAME.http]]`); see [`crate::http`].
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// # fn f(ctx: &toolhost_sdk::Context) -> Result<(), toolhost_sdk::ToolError> {
    /// let page = ctx.http().get("https://example.org/").send()?.text();
    /// # Ok(()) }
    /// ```
    pub fn http(&self) -> crate::http::Http {
        crate::http::Http
    }

    /// The group's persistent key-value state (see [`Kv`]): values kept by
    /// the host across calls, reloads and restarts, when the host grants
    /// the group `[groups.NAME.state]`. A [detached](Self::detached)
    /// context keeps them in memory instead.
    ///
    /// ```
    /// use toolhost_sdk::prelude::*;
    ///
    /// /// Bookmarks.
    /// #[group(name = "bookmarks")]
    /// mod bookmarks {
    ///     use super::*;
    ///
    ///     #[derive(Serialize, Deserialize, JsonSchema)]
    ///     pub struct Bookmark {
    ///         /// Short name.
    ///         pub name: String,
    ///         /// Where it points.
    ///         pub url: String,
    ///     }
    ///
    ///     /// Save a bookmark under its name.
    ///     #[operation]
    ///     pub fn save(ctx: &Context, bookmark: Bookmark) -> Result<(), ToolError> {
    ///         Ok(ctx.kv().set(&format!("bookmark:{}", bookmark.name), &bookmark)?)
    ///     }
    ///
    ///     #[derive(Deserialize, JsonSchema)]
    ///     pub struct Name {
    ///         /// The bookmark's name.
    ///         pub name: String,
    ///     }
    ///
    ///     /// The URL of a saved bookmark.
    ///     #[operation(read_only)]
    ///     pub fn open(ctx: &Context, Name { name }: Name) -> Result<String, ToolError> {
    ///         match ctx.kv().get::<Bookmark>(&format!("bookmark:{name}"))? {
    ///             Some(bookmark) => Ok(bookmark.url),
    ///             None => Err(ToolError::not_found(format!("no bookmark `{name}`; save it first"))),
    ///         }
    ///     }
    /// }
    /// # fn main() {}
    /// ```
    pub fn kv(&self) -> Kv<'_> {
        Kv::new(self.detached.as_ref().map(|detached| &detached.state))
    }

    /// Tell clients subscribed to resource `uri` (as the group declares it,
    /// e.g. a static resource's URI) that its contents changed. The host
    /// sends them `notifications/resources/updated`; they read it again.
    ///
    /// ```no_run
    /// # let ctx = toolhost_sdk::Context::detached();
    /// ctx.resource_updated("test://watched-resource");
    /// ```
    pub fn resource_updated(&self, uri: &str) {
        match &self.detached {
            None => host::resource_updated(uri),
            Some(_) => eprintln!("[resource updated] {uri}"),
        }
    }

    /// Ask the client's model to generate a message (MCP sampling) and wait
    /// for its answer. Pass a [`SamplingRequest`], or just the text of one
    /// user message.
    ///
    /// Fails with [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable),
    /// saying why, when the client does not offer sampling, refuses, or does
    /// not answer before the call's deadline.
    ///
    /// ```no_run
    /// use toolhost_sdk::{SamplingRequest, ToolError};
    /// # fn f(ctx: &toolhost_sdk::Context) -> Result<(), ToolError> {
    /// let answer = ctx.sample(
    ///     SamplingRequest::from("Summarize: the cat sat on the mat.").max_tokens(50),
    /// )?;
    /// let summary = answer.text().unwrap_or_default();
    /// # Ok(()) }
    /// ```
    pub fn sample(
        &self,
        request: impl Into<SamplingRequest>,
    ) -> Result<SamplingResponse, ToolError> {
        let request = request.into();
        let answer = match &self.detached {
            None => host::sample(&convert::sampling_request_to_wit(&request))
                .map(convert::sampling_response_from_wit),
            Some(Detached {
                sampler: Some(sampler),
                ..
            }) => sampler(&request),
            Some(_) => Err("this context is detached from a host and has no sampler; \
                            add one with `Context::with_sampler`"
                .into()),
        };
        answer.map_err(|why| ToolError::unavailable(format!("sampling failed: {why}")))
    }

    /// Ask the user to fill in a form (MCP elicitation) and wait for the
    /// answer. The form is derived from `T`, a struct of primitive fields
    /// (see [`Elicitation::requested_schema`]); `message` says what the
    /// values are for.
    ///
    /// Fails with [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable),
    /// saying why, when the client does not offer elicitation, and with
    /// [`ErrorKind::Failed`](crate::ErrorKind::Failed) when `T` cannot be
    /// asked for or the answer does not fit it.
    ///
    /// ```no_run
    /// use toolhost_sdk::prelude::*;
    /// use toolhost_sdk::Elicitation;
    ///
    /// #[derive(Deserialize, JsonSchema)]
    /// # #[serde(crate = "toolhost_sdk::serde")]
    /// # #[schemars(crate = "toolhost_sdk::schemars")]
    /// struct Confirm {
    ///     /// Really delete every row?
    ///     confirm: bool,
    /// }
    ///
    /// # fn f(ctx: &Context) -> Result<String, ToolError> {
    /// match ctx.elicit::<Confirm>("About to delete 120 rows.")? {
    ///     Elicitation::Accept(Confirm { confirm: true }) => Ok("deleted".into()),
    ///     Elicitation::Accept(_) | Elicitation::Decline | Elicitation::Cancel => {
    ///         Ok("nothing deleted".into())
    ///     }
    /// }
    /// # }
    /// ```
    pub fn elicit<T: DeserializeOwned + JsonSchema>(
        &self,
        message: &str,
    ) -> Result<Elicitation<T>, ToolError> {
        let schema = Elicitation::<T>::requested_schema()?;
        let (action, content) = self.elicit_raw(message, &schema)?;
        elicit::parse_answer(action, content.as_deref())
    }

    /// Send the user to a web page (MCP URL-mode elicitation) to do there
    /// what must not pass through the client: sign in to a third party,
    /// pay, type a secret. The answer is the user's choice:
    /// [`Elicitation::Accept`] means they agreed to open the page, not
    /// that they finished there; learn the outcome from your own service.
    ///
    /// `url` must be an absolute `https://` (or `http://`) URL. Fails with
    /// [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable), saying
    /// why, when the client does not offer URL elicitation (or in a
    /// detached context).
    ///
    /// ```no_run
    /// # use toolhost_sdk::{Context, Elicitation, ToolError};
    /// # fn f(ctx: &Context) -> Result<String, ToolError> {
    /// let url = "https://accounts.example.com/authorize?state=8f2c";
    /// match ctx.elicit_url("Sign in to Example to let me read your calendar.", url)? {
    ///     Elicitation::Accept(()) => Ok("waiting for the sign-in to finish".into()),
    ///     _ => Ok("not signed in".into()),
    /// }
    /// # }
    /// ```
    pub fn elicit_url(&self, message: &str, url: &str) -> Result<Elicitation<()>, ToolError> {
        match &self.detached {
            None => host::elicit_url(message, url)
                .map(convert::elicit_action_from_wit)
                .map_err(ToolError::unavailable),
            Some(_) => Err(ToolError::unavailable(
                "a detached context has no client to send the user to a URL",
            )),
        }
    }

    /// Ask the user to fill in a form whose JSON Schema you write yourself
    /// (a flat object of primitive fields, as MCP elicitation requires);
    /// the answer comes back as JSON. The schema is sent as it is, so it
    /// may use what MCP allows beyond derived schemas (titled multi-select
    /// enums, defaults on any field). Prefer [`elicit`](Self::elicit),
    /// which derives the schema and parses the answer.
    ///
    /// ```no_run
    /// use toolhost_sdk::{Elicitation, serde_json::json};
    /// # fn f(ctx: &toolhost_sdk::Context) -> Result<(), toolhost_sdk::ToolError> {
    /// let schema = json!({
    ///     "type": "object",
    ///     "properties": { "name": { "type": "string", "default": "Ada" } },
    /// });
    /// if let Elicitation::Accept(values) = ctx.elicit_with_schema("Your name?", schema)? {
    ///     let name = values["name"].as_str().unwrap_or_default();
    /// }
    /// # Ok(()) }
    /// ```
    pub fn elicit_with_schema(
        &self,
        message: &str,
        schema: Value,
    ) -> Result<Elicitation<Value>, ToolError> {
        if schema.get("type") != Some(&Value::from("object")) {
            return Err(ToolError::failed(format!(
                "the requested schema must be an object schema (`\"type\": \"object\"`), \
                 not {schema}"
            )));
        }
        let (action, content) = self.elicit_raw(message, &schema)?;
        elicit::parse_answer(action, content.as_deref())
    }

    /// Several questions to the client at once, each under a key of yours
    /// (see [`Questions`](crate::Questions)): a 2026-07-28 client gets them
    /// in one round instead of one round each.
    pub fn questions(&self) -> crate::Questions<'_> {
        crate::Questions::new(self)
    }

    /// The roots (directories or files, as URIs) the client works in (MCP
    /// roots). Fails with [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable),
    /// saying why, when the client does not offer roots.
    pub fn roots(&self) -> Result<Vec<crate::Root>, ToolError> {
        self.questions().roots("roots").ask().roots("roots")
    }

    /// Whether this context was made by [`Context::detached`].
    pub(crate) fn is_detached(&self) -> bool {
        self.detached.is_some()
    }

    /// Send an elicitation; the action and the content as JSON text.
    pub(crate) fn elicit_raw(
        &self,
        message: &str,
        schema: &Value,
    ) -> Result<(Elicitation<()>, Option<String>), ToolError> {
        let answer = match &self.detached {
            None => {
                host::elicit(message, &schema.to_string()).map(convert::elicit_response_from_wit)
            }
            Some(Detached {
                elicitor: Some(elicitor),
                ..
            }) => elicitor(message, schema).map(|answer| match answer {
                Elicitation::Accept(value) => (Elicitation::Accept(()), Some(value.to_string())),
                Elicitation::Decline => (Elicitation::Decline, None),
                Elicitation::Cancel => (Elicitation::Cancel, None),
            }),
            Some(_) => Err("this context is detached from a host and has no elicitor; \
                            add one with `Context::with_elicitor`"
                .into()),
        };
        answer.map_err(|why| ToolError::unavailable(format!("elicitation failed: {why}")))
    }
}
