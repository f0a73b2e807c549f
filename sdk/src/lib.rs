//! Write [toolhost](https://example.invalid/toolhost) service groups in Rust.
//!
//! A service group is a WebAssembly component whose operations toolhost
//! publishes as MCP tools. With this crate a group is one module of plain
//! functions: their doc comments become tool descriptions, their argument
//! and result types become JSON Schemas, and the WIT contract stays out of
//! sight.
//!
//! # A complete plugin
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "math"            # the component is target/wasm32-wasip2/release/math.wasm
//! version = "0.1.0"        # becomes the group's version
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! toolhost-sdk = "0.1"     # or { path = "..." }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use toolhost_sdk::prelude::*;
//!
//! /// Arithmetic and statistics.
//! #[group(name = "math")]
//! mod math {
//!     use super::*;
//!
//!     #[derive(Deserialize, JsonSchema)]
//!     pub struct Pair {
//!         /// First operand.
//!         pub a: f64,
//!         /// Second operand.
//!         pub b: f64,
//!     }
//!
//!     /// Divide `a` by `b`.
//!     #[operation(read_only, idempotent)]
//!     pub fn divide(ctx: &Context, Pair { a, b }: Pair) -> Result<f64, ToolError> {
//!         if b == 0.0 {
//!             return Err(ToolError::invalid_arguments("b must not be zero"));
//!         }
//!         ctx.log(Level::Debug, "dividing");
//!         Ok(a / b)
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! Build it into a component and point toolhost at the directory:
//!
//! ```sh
//! rustup target add wasm32-wasip2
//! cargo build --release --target wasm32-wasip2
//! # -> target/wasm32-wasip2/release/math.wasm
//! ```
//!
//! (Put `[build] target = "wasm32-wasip2"` in `.cargo/config.toml` to drop
//! the `--target`.) A release profile with `lto = true`, `codegen-units = 1`,
//! `opt-level = "s"` and `strip = true` gives small components that load fast.
//!
//! # What the host sees
//!
//! - **Group**: name from `#[group(name = ...)]`, version from `version = ...`
//!   or the crate's `CARGO_PKG_VERSION`, description from the module's doc
//!   comment, optional `instructions = ...` for models. See [`group`].
//! - **Operations**: every `#[operation]` function; name, title, annotations
//!   from the attribute, description from the doc comment. See [`operation`].
//! - **Input schema**: the JSON Schema (draft 2020-12, subschemas inlined) of
//!   the argument type, which derives [`Deserialize`](prelude::Deserialize) and [`JsonSchema`](prelude::JsonSchema); doc
//!   comments on fields become property descriptions, and
//!   `#[schemars(range(min = 0, max = 15))]`, `#[schemars(length(max = 100))]`,
//!   `#[serde(default)]`, `Option` fields and enums all show up in it.
//!   Operations without arguments take `{"type":"object","properties":{}}`.
//! - **Results**: see [`IntoOutput`]: any `Serialize + JsonSchema` type
//!   (with an output schema; non-objects are wrapped as `{"result": ...}`),
//!   or [`ToolOutput`] / [`Content`] / `Vec<Content>` for text, images, audio,
//!   embedded resources and resource links, mixed in any order.
//! - **Errors**: return [`ToolError`]; its [kind](ErrorKind) tells the model
//!   whether to fix its arguments, look elsewhere or retry. Arguments that do
//!   not parse are `invalid-arguments`; an unknown operation is `not-found`.
//! - **Panics** trap the call; the host reports the panic message.
//! - **Resources, prompts and completions**: every `#[resource]`,
//!   `#[prompt]` and `#[complete]` function, described the same way. See
//!   [`resource`], [`prompt`], [`complete`] and the next section. A group
//!   without them lists none.
//!
//! # Resources, prompts and completions
//!
//! A group serves data (resources), conversation templates (prompts) and
//! suggestions for their arguments (completions) beside its tools, each
//! written as a function with a doc comment and an attribute:
//!
//! ```
//! use toolhost_sdk::prelude::*;
//!
//! /// Recipes.
//! #[group(name = "cookbook")]
//! mod cookbook {
//!     use super::*;
//!
//!     const RECIPES: [&str; 3] = ["pancakes", "pesto", "ratatouille"];
//!
//!     /// Every recipe, one name per line.
//!     #[resource(uri = "cookbook://recipes", mime_type = "text/plain")]
//!     pub fn recipes() -> String {
//!         RECIPES.join("\n")
//!     }
//!
//!     /// One recipe, in Markdown.
//!     #[resource(template = "cookbook://recipes/{name}", mime_type = "text/markdown")]
//!     pub fn recipe(name: &str) -> Result<String, ToolError> {
//!         if !RECIPES.contains(&name) {
//!             return Err(ToolError::not_found(format!("no recipe `{name}`; read cookbook://recipes")));
//!         }
//!         Ok(format!("# {name}\n\n1. ..."))
//!     }
//!
//!     #[complete(template = "cookbook://recipes/{name}", argument = "name")]
//!     pub fn recipe_names(value: &str) -> Completion {
//!         Completion::matching(RECIPES, value)
//!     }
//!
//!     #[derive(Deserialize, JsonSchema)]
//!     pub struct Plan {
//!         /// The recipe to cook.
//!         pub recipe: String,
//!         /// How many people will eat; four when absent.
//!         pub guests: Option<String>,
//!     }
//!
//!     /// Plan the cooking of a recipe, step by step.
//!     #[prompt(title = "Plan a meal")]
//!     pub fn plan(Plan { recipe, guests }: Plan) -> Vec<Message> {
//!         let guests = guests.unwrap_or_else(|| "4".into());
//!         vec![
//!             Message::user(format!("Plan cooking {recipe} for {guests} people.")),
//!             Message::user(ResourceLink::new(format!("cookbook://recipes/{recipe}"), recipe)),
//!         ]
//!     }
//!
//!     #[complete(prompt = "plan", argument = "recipe")]
//!     pub fn plan_recipes(value: &str) -> Completion {
//!         Completion::matching(RECIPES, value)
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! Template variables are matched by [`template`]: `{name}` is one path
//! segment, `{+path}` the rest of the URI.
//!
//! # Asking the model and the user
//!
//! During any call, the [`Context`] can ask the client's model to generate
//! text ([`Context::sample`]) and the user to fill in a form derived from a
//! struct ([`Context::elicit`]); it can also tell subscribed clients that a
//! resource changed ([`Context::resource_updated`]). Clients that do not
//! offer sampling or elicitation make these fail with an error that says
//! so.
//!
//! ```
//! use toolhost_sdk::prelude::*;
//!
//! /// Notes.
//! #[group(name = "notes")]
//! mod notes {
//!     use super::*;
//!
//!     #[derive(Deserialize, JsonSchema)]
//!     pub struct Note {
//!         /// The note's text.
//!         pub text: String,
//!     }
//!
//!     /// What to file the note under.
//!     #[derive(Deserialize, JsonSchema)]
//!     pub struct Filing {
//!         /// Folder name.
//!         pub folder: String,
//!         /// Pin it to the top.
//!         #[serde(default)]
//!         pub pinned: bool,
//!     }
//!
//!     /// File a note, with a title suggested by the model and a folder chosen by the user.
//!     #[operation]
//!     pub fn file(ctx: &Context, Note { text }: Note) -> Result<String, ToolError> {
//!         let title = ctx.sample(
//!             SamplingRequest::new()
//!                 .system_prompt("Answer with a title of at most five words.")
//!                 .user(text)
//!                 .max_tokens(20),
//!         )?;
//!         let title = title.text().unwrap_or("Untitled").to_owned();
//!         match ctx.elicit::<Filing>(&format!("Where should \"{title}\" go?"))? {
//!             Elicitation::Accept(Filing { folder, pinned }) => {
//!                 ctx.resource_updated(&format!("notes://{folder}"));
//!                 Ok(format!("filed \"{title}\" in {folder}{}", if pinned { ", pinned" } else { "" }))
//!             }
//!             Elicitation::Decline | Elicitation::Cancel => Ok("not filed".into()),
//!         }
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! # State that outlives a call
//!
//! Every call runs in a fresh instance, so a group keeps what must last in
//! the host's key-value store: [`Context::kv`] gives a [`Kv`] with typed
//! (JSON) and raw methods, expiry ([`Kv::set_for`]), prefix listing
//! ([`Kv::keys`]) and an atomic counter ([`Kv::increment`]). The host keeps
//! the values on its disk, per group, across calls, reloads and restarts,
//! for groups it grants `[groups.NAME.state]`; a [`KvError`] converts into
//! a [`ToolError`] so `?` works.
//!
//! ```
//! use toolhost_sdk::prelude::*;
//!
//! /// A shared counter.
//! #[group(name = "counter")]
//! mod counter {
//!     use super::*;
//!
//!     /// Add one to the counter and return its new value.
//!     #[operation]
//!     pub fn bump(ctx: &Context) -> Result<i64, ToolError> {
//!         Ok(ctx.kv().increment("count", 1)?)
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! # Serde and schemars without depending on them
//!
//! The prelude re-exports the `Serialize`, `Deserialize` and `JsonSchema`
//! derives, and `#[group]` points the derives of every type defined inside
//! the group module (and its inline submodules) at the copies this crate
//! re-exports ([`serde`], [`schemars`]). A plugin therefore needs no serde
//! or schemars dependency. For types defined *outside* the group module,
//! either add the paths yourself:
//!
//! ```
//! use toolhost_sdk::prelude::*;
//!
//! #[derive(Serialize, JsonSchema)]
//! #[serde(crate = "toolhost_sdk::serde")]
//! #[schemars(crate = "toolhost_sdk::schemars")]
//! pub struct Shared {
//!     pub id: u64,
//! }
//! ```
//!
//! or depend on `serde` (with `derive`) and `schemars` 1.x directly.
//!
//! # Property order
//!
//! By default schema properties come out sorted by name. Enable the
//! `preserve-order` feature to publish them in declaration order, which
//! reads better in tool listings:
//! `toolhost-sdk = { version = "0.1", features = ["preserve-order"] }`.
//!
//! # Testing operations natively
//!
//! Operations are plain functions: call them in unit tests, with
//! [`Context::detached`] where they need a context, and run the tests for
//! the host target (`cargo test --target x86_64-unknown-linux-gnu`). Every
//! `#[group]` also adds a test, `toolhost_group_contract`, that checks what
//! the host checks when it loads the group (for example that every
//! argument type is a JSON object) and that the other declarations are
//! usable: unique names, resource URIs with a scheme, templates that parse,
//! prompt arguments that are text, completions naming an existing prompt
//! argument or template variable. [`Context::with_sampler`] and
//! [`Context::with_elicitor`] stand in for the client in such tests.
//!
//! One crate holds one group: the component exports the `group`,
//! `resources`, `prompts` and `completions` interfaces of the WIT world
//! `service-group`.

#![warn(missing_docs)]

mod ask;
mod completion;
mod context;
mod convert;
mod elicit;
mod error;
mod export;
pub mod http;
mod kv;
mod output;
mod prompt;
mod resource;
mod returned;
mod sampling;
mod schema;
pub mod template;

pub use ask::{Answers, Questions, Root};
pub use completion::{Completion, CompletionContext, IntoCompletion, MAX_COMPLETION_VALUES};
pub use context::{Context, Item, Level};
pub use elicit::Elicitation;
pub use error::{ErrorKind, ResultExt, ToolError};
pub use kv::{Keys, Kv, KvError};
pub use output::{Content, IntoOutput, ResourceContents, ResourceLink, ToolOutput};
pub use prompt::{IntoPromptResult, Message, PromptResult, Role};
pub use resource::{IntoResourceContents, ResourcePart};
pub use sampling::{SamplingRequest, SamplingResponse};

/// Declare a service group: put it on an inline module of `#[operation]`,
/// `#[resource]`, `#[prompt]` and `#[complete]` functions.
///
/// ```
/// use toolhost_sdk::prelude::*;
///
/// /// Greetings in several languages.
/// ///
/// /// The module's doc comment is the group description.
/// #[group(
///     name = "greet",
///     version = "1.2.0",
///     instructions = "Use `hello` once per conversation."
/// )]
/// mod greet {
///     use super::*;
///
///     /// Say hello.
///     #[operation(read_only)]
///     pub fn hello() -> String {
///         "hello".into()
///     }
/// }
/// # fn main() {}
/// ```
///
/// Attributes:
///
/// | attribute | meaning |
/// | --- | --- |
/// | `name = "..."` | **required**; the group name, `[A-Za-z0-9_-]`, the default tool-name prefix |
/// | `version = "..."` | defaults to the plugin crate's `CARGO_PKG_VERSION` |
/// | `instructions = "..."` | guidance for models on how to use the tools together |
/// | `icon = "..."` | an icon for the group's tools that have none of their own: an `https://` URL or a base64 `data:image/...` URI; may repeat |
/// | `crate = "..."` | path of this crate, if the plugin renamed the dependency |
///
/// The module must be inline (`mod name { ... }`) and bring the prelude into
/// scope (`use super::*;`). Types deriving serde or schemars traits inside it
/// get `#[serde(crate = ...)]` / `#[schemars(crate = ...)]` added, so the
/// plugin does not depend on those crates. A crate has one group.
#[doc(inline)]
pub use toolhost_sdk_macros::group;

/// Publish a function of a [`group`] module as an operation (one MCP tool).
///
/// ```
/// use toolhost_sdk::prelude::*;
///
/// /// Files of the workspace.
/// #[group(name = "files")]
/// mod files {
///     use super::*;
///
///     #[derive(Deserialize, JsonSchema)]
///     pub struct Remove {
///         /// Path relative to the workspace root.
///         pub path: String,
///     }
///
///     /// Delete a file.
///     ///
///     /// Fails with `not-found` when the file does not exist.
///     #[operation(destructive, idempotent, read_only = false, title = "Delete file", name = "rm")]
///     pub fn remove(ctx: &Context, Remove { path }: Remove) -> Result<(), ToolError> {
///         ctx.info(format!("removing {path}"));
///         Err(ToolError::not_found(format!("no file at `{path}`")))
///     }
/// }
/// # fn main() {}
/// ```
///
/// Attributes:
///
/// | attribute | meaning |
/// | --- | --- |
/// | `read_only`, `destructive`, `idempotent`, `open_world` | MCP annotations; each may be written `= true` / `= false`; left out means "not declared" |
/// | `title = "..."` | human-readable title |
/// | `name = "..."` | published name, `[A-Za-z0-9_-]`; defaults to the function name |
/// | `icon = "..."` | the tool's icon: an `https://` URL or a base64 `data:image/...` URI; may repeat |
/// | `unlisted` | not listed (nor callable) until the group lists it with [`Context::set_listed`] |
///
/// An operation whose work is long may go on as a task with
/// [`Context::run_as_task`].
///
/// The doc comment is the description models read to pick the tool: say what
/// it does, when to use it and what it returns. Lines lose the space after
/// `///`; paragraphs are kept.
///
/// Accepted signatures, with any parameter pattern (`Pair { a, b }: Pair`):
///
/// - `fn(ctx: &Context, args: T)`, `fn(args: T)`, `fn(ctx: &Context)`, `fn()`,
///   where `T: Deserialize + JsonSchema` is a struct (the arguments object);
/// - returning `R` or `Result<R, E>` where `R` is `IntoOutput` (see
///   [`IntoOutput`]: any `Serialize + JsonSchema` type, [`ToolOutput`],
///   [`Content`]) or `Vec<Content>`, and `ToolError: From<E>` (so
///   `Result<R, ToolError>`, or `std::io::Result<R>`, ...). A `Result` is
///   recognized by its name; no return type means `()`, an empty result.
///
/// Operation names must be unique within the group.
#[doc(inline)]
pub use toolhost_sdk_macros::operation;

/// Publish a function of a [`group`] module as an MCP resource: a static
/// resource at one URI (`uri = "..."`), or a family of resources named by a
/// URI template (`template = "..."`).
///
/// ```
/// use toolhost_sdk::prelude::*;
///
/// /// Project documents.
/// #[group(name = "docs")]
/// mod docs {
///     use super::*;
///
///     /// The project's README.
///     #[resource(uri = "docs://readme", mime_type = "text/markdown", title = "README")]
///     pub fn readme() -> &'static str {
///         "# Project\n\nHello."
///     }
///
///     /// The logo, as PNG.
///     #[resource(uri = "docs://logo.png", name = "logo", mime_type = "image/png")]
///     pub fn logo_png() -> Vec<u8> {
///         vec![0x89, b'P', b'N', b'G']
///     }
///
///     /// One chapter of the guide, by number.
///     #[resource(template = "docs://guide/{chapter}", mime_type = "text/markdown")]
///     pub fn chapter(ctx: &Context, chapter: u32) -> Result<String, ToolError> {
///         ctx.debug(format!("reading chapter {chapter}"));
///         match chapter {
///             1..=3 => Ok(format!("# Chapter {chapter}")),
///             _ => Err(ToolError::not_found(format!("there is no chapter {chapter}; try 1 to 3"))),
///         }
///     }
///
///     /// Any file under `src/`, with a second part holding its size.
///     #[resource(template = "docs://src/{+path}")]
///     pub fn source(path: &str) -> Vec<ResourcePart> {
///         vec![
///             ResourcePart::text(format!("// {path}")).with_mime_type("text/x-rust"),
///             ResourcePart::text("42 bytes").with_uri(format!("docs://src/{path}#size")),
///         ]
///     }
/// }
/// # fn main() {}
/// ```
///
/// Attributes:
///
/// | attribute | meaning |
/// | --- | --- |
/// | `uri = "..."` | a static resource at this URI (listed by `resources/list`) |
/// | `template = "..."` | a URI template (listed by `resources/templates/list`): `{name}` matches one path segment, `{+name}` the rest (see [`template`]) |
/// | `name = "..."` | short name, `[A-Za-z0-9_-]`; defaults to the function name |
/// | `title = "..."` | human-readable title |
/// | `mime_type = "..."` | MIME type of the contents, given to every part that does not set its own |
/// | `unlisted` | not listed (nor read) until the group lists it with [`Context::set_listed`] |
///
/// The doc comment is the resource's description. One of `uri` and
/// `template` is required.
///
/// Parameters: optionally `ctx: &Context` first; for a template, then either
/// one parameter per template variable, named like it, of type `String`,
/// `&str` or any `FromStr` type (a value that does not parse fails the read
/// with `invalid-arguments`), or one struct deriving `Deserialize` whose
/// (`String`) fields are the variables.
///
/// Returns anything [`IntoResourceContents`] (text, bytes, one or several
/// [`ResourcePart`]s, JSON), or a `Result` of it. Parts without a URI get the
/// URI that was read. Tell subscribed clients that a resource changed with
/// [`Context::resource_updated`].
#[doc(inline)]
pub use toolhost_sdk_macros::resource;

/// Publish a function of a [`group`] module as an MCP prompt: a template of
/// messages that clients offer their users (`prompts/list`,
/// `prompts/get`).
///
/// ```
/// use toolhost_sdk::prelude::*;
///
/// /// Writing help.
/// #[group(name = "writing")]
/// mod writing {
///     use super::*;
///
///     #[derive(Deserialize, JsonSchema)]
///     pub struct ReviewArgs {
///         /// The text to review.
///         pub text: String,
///         /// What to focus on, e.g. `tone` or `grammar`; everything when absent.
///         pub focus: Option<String>,
///     }
///
///     /// Ask for a review of a text.
///     #[prompt(title = "Review a text")]
///     pub fn review(ReviewArgs { text, focus }: ReviewArgs) -> Vec<Message> {
///         let focus = focus.unwrap_or_else(|| "everything".into());
///         vec![
///             Message::user(format!("Review this text, focusing on {focus}:")),
///             Message::user(Content::resource("writing://draft", text)),
///         ]
///     }
///
///     /// Start a brainstorm.
///     #[prompt(name = "brainstorm")]
///     pub fn brainstorm_prompt() -> &'static str {
///         "Let's brainstorm. Ask me what the topic is."
///     }
/// }
/// # fn main() {}
/// ```
///
/// Attributes: `name = "..."` (`[A-Za-z0-9_-]`; defaults to the function
/// name), `title = "..."`, and `unlisted` (not listed, nor rendered, until
/// the group lists it with [`Context::set_listed`]). The doc comment is the
/// prompt's description.
///
/// Parameters: optionally `ctx: &Context`, then optionally one arguments
/// struct deriving `Deserialize` and `JsonSchema`. Its fields are the
/// prompt's arguments, in order (sorted by name without the
/// `preserve-order` feature): their doc comments are the descriptions,
/// `#[schemars(title = "...")]` their titles, and every field that is not an
/// `Option` (nor `#[serde(default)]`) is required. MCP passes prompt
/// arguments as text, so the fields are `String`s (or enums of unit
/// variants); the group's contract test checks it.
///
/// Returns anything [`IntoPromptResult`]: a `String` (one user message),
/// `Vec<Message>`, a [`Message`], a [`PromptResult`] with a description, or
/// a `Result` of one. A message holds text, an image, audio, an embedded
/// resource or a resource link ([`Content`]).
#[doc(inline)]
pub use toolhost_sdk_macros::prompt;

/// Publish a function of a [`group`] module as the completion of one prompt
/// argument or template variable (`completion/complete`): clients call it
/// as the user types.
///
/// ```
/// use toolhost_sdk::prelude::*;
///
/// /// Code help.
/// #[group(name = "code")]
/// mod code {
///     use super::*;
///
///     #[derive(Deserialize, JsonSchema)]
///     pub struct ExplainArgs {
///         /// Programming language.
///         pub language: String,
///     }
///
///     /// Explain a language's idioms.
///     #[prompt]
///     pub fn explain(args: ExplainArgs) -> String {
///         format!("Explain idiomatic {}.", args.language)
///     }
///
///     #[complete(prompt = "explain", argument = "language")]
///     pub fn languages(value: &str) -> Completion {
///         Completion::matching(["python", "rust", "typescript"], value)
///     }
///
///     /// A crate's documentation.
///     #[resource(template = "code://{language}/{package}")]
///     pub fn package(language: String, package: String) -> String {
///         format!("{package} ({language})")
///     }
///
///     #[complete(template = "code://{language}/{package}", argument = "package")]
///     pub fn packages(value: &str, context: &CompletionContext) -> Vec<String> {
///         let known: &[&str] = match context.argument("language") {
///             Some("rust") => &["serde", "tokio"],
///             _ => &[],
///         };
///         known.iter().filter(|p| p.starts_with(value)).map(|p| p.to_string()).collect()
///     }
/// }
/// # fn main() {}
/// ```
///
/// Attributes: `argument = "..."` and either `prompt = "..."` (the prompt's
/// published name) or `template = "..."` (the URI template exactly as in its
/// `#[resource]`).
///
/// Parameters, in any order and each optional: `ctx: &Context`,
/// `value: &str` (what the user typed so far) and
/// `context: &CompletionContext` (the values of the other arguments).
/// Returns `Vec<String>`, `Vec<&str>` or a [`Completion`] (see
/// [`IntoCompletion`]), or a `Result` of one.
///
/// Arguments without a completion function get no suggestions. The group's
/// contract test checks that the prompt or template and the argument exist.
#[doc(inline)]
pub use toolhost_sdk_macros::complete;

/// The serde crate this SDK uses; `#[group]` points serde derives at it.
///
/// ```
/// use toolhost_sdk::serde::Serialize;
/// ```
pub use serde;

/// The schemars crate this SDK uses; `#[group]` points schemars derives at it.
///
/// ```
/// use toolhost_sdk::schemars::JsonSchema;
/// ```
pub use schemars;

/// The serde_json crate this SDK uses, for [`ToolOutput::with_structured`]
/// and `serde_json::Value` arguments.
///
/// ```
/// use toolhost_sdk::serde_json::json;
/// let value = json!({ "ok": true });
/// ```
pub use serde_json;

/// Everything a plugin needs: `use toolhost_sdk::prelude::*;`.
///
/// ```
/// use toolhost_sdk::prelude::*;
///
/// fn halve(x: f64) -> Result<f64, ToolError> {
///     Ok(x / 2.0)
/// }
/// ```
pub mod prelude {
    pub use crate::{
        Completion, CompletionContext, Content, Context, Elicitation, IntoOutput, Item, Level,
        Message, PromptResult, ResourceLink, ResourcePart, ResultExt, SamplingRequest, ToolError,
        ToolOutput, complete, group, operation, prompt, resource,
    };
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
}

/// Support for the code `#[group]` generates. Not public API: it changes
/// without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::completion::IntoCompletion;
    pub use crate::export::{
        CompletionDef, CompletionTarget, Group, GroupDef, OperationDef, PromptArgument, PromptDef,
        ResourceDef, TemplateDef, call, check_group, complete, get_prompt, input_schema,
        no_input_schema, parse_arguments, parse_prompt_arguments, prompt_arguments,
        prompt_arguments_of, read_resource, template_arguments, template_variable,
    };
    pub use crate::prompt::IntoPromptResult;
    pub use crate::resource::IntoResourceContents;
    pub use crate::returned::{
        AnyOutput, ObjectOutput, Returned, SpecialOutput, assert_object_output,
    };
    pub use crate::template::Captures;

    /// Guest bindings of the WIT world, generated from `wit/` at the root of
    /// the repository.
    pub mod bindings {
        wit_bindgen::generate!({
            path: "../wit",
            world: "service-group",
            pub_export_macro: true,
            export_macro_name: "__export_service_group",
            default_bindings_module: "::toolhost_sdk::__private::bindings",
        });
    }
}
