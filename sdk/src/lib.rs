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
//!   or [`ToolOutput`] / [`Content`] / `Vec<Content>` for text, images, audio
//!   and resources.
//! - **Errors**: return [`ToolError`]; its [kind](ErrorKind) tells the model
//!   whether to fix its arguments, look elsewhere or retry. Arguments that do
//!   not parse are `invalid-arguments`; an unknown operation is `not-found`.
//! - **Panics** trap the call; the host reports the panic message.
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
//! argument type is a JSON object).
//!
//! One crate holds one group: the component exports one `group` interface.

#![warn(missing_docs)]

mod context;
mod error;
mod export;
mod output;
mod returned;
mod schema;

pub use context::{Context, Level};
pub use error::{ErrorKind, ResultExt, ToolError};
pub use output::{Content, IntoOutput, ResourceContents, ToolOutput};

/// Declare a service group: put it on an inline module of `#[operation]`
/// functions.
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
        Content, Context, IntoOutput, Level, ResultExt, ToolError, ToolOutput, group, operation,
    };
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
}

/// Support for the code `#[group]` generates. Not public API: it changes
/// without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::{
        Group, GroupDef, OperationDef, call, check_group, input_schema, no_input_schema,
        parse_arguments,
    };
    pub use crate::returned::{
        AnyOutput, ObjectOutput, Returned, SpecialOutput, assert_object_output,
    };

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
