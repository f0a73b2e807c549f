//! The glue `#[group]` expands to: a static description of the group, and
//! the implementation of the exported WIT interface over it. Not public API.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::__private::bindings::exports::toolhost::plugin::group as wit;
use crate::__private::bindings::toolhost::plugin::types as t;
use crate::schema::{make_object_schema, no_arguments_schema, schema_of};
use crate::{Content, Context, ErrorKind, ResourceContents, ToolError, ToolOutput};

/// A group as `#[group]` describes it.
#[derive(Debug)]
pub struct GroupDef {
    /// Group name.
    pub name: &'static str,
    /// Group version.
    pub version: &'static str,
    /// The module's doc comment.
    pub description: &'static str,
    /// Guidance for models.
    pub instructions: Option<&'static str>,
    /// The `#[operation]` functions, in source order.
    pub operations: &'static [OperationDef],
}

/// An operation as `#[operation]` describes it.
#[derive(Debug)]
pub struct OperationDef {
    /// Operation name.
    pub name: &'static str,
    /// Human-readable title.
    pub title: Option<&'static str>,
    /// The function's doc comment.
    pub description: &'static str,
    /// `read_only`, `destructive`, `idempotent`, `open_world`.
    pub annotations: [Option<bool>; 4],
    /// Produces the input schema.
    pub input_schema: fn() -> Value,
    /// Produces the output schema.
    pub output_schema: fn() -> Option<Value>,
    /// Parses the arguments, runs the function and converts its result.
    pub call: fn(&Context, &str) -> Result<ToolOutput, ToolError>,
}

/// Implemented by the type `#[group]` generates; every such type implements
/// the exported WIT interface.
pub trait Group {
    /// The group's description.
    const GROUP: &'static GroupDef;
}

/// The input schema of an operation taking `T`.
pub fn input_schema<T: schemars::JsonSchema>() -> Value {
    let mut schema = schema_of::<T>(schemars::generate::Contract::Deserialize);
    make_object_schema(&mut schema);
    Value::Object(schema)
}

/// The input schema of an operation without arguments.
pub fn no_input_schema() -> Value {
    no_arguments_schema()
}

/// Parse the arguments of a call.
pub fn parse_arguments<T: DeserializeOwned>(arguments: &str) -> Result<T, ToolError> {
    serde_json::from_str(arguments)
        .map_err(|err| ToolError::invalid_arguments(format!("invalid arguments: {err}")))
}

impl<G: Group> wit::Guest for G {
    fn describe() -> wit::GroupInfo {
        let group = G::GROUP;
        wit::GroupInfo {
            name: group.name.into(),
            version: group.version.into(),
            description: group.description.into(),
            instructions: group.instructions.map(Into::into),
        }
    }

    fn operations() -> Vec<wit::Operation> {
        G::GROUP.operations.iter().map(describe_operation).collect()
    }

    fn call(name: String, arguments: String) -> Result<wit::Output, wit::Error> {
        call(G::GROUP, &name, &arguments, &Context::from_host())
            .map(output_to_wit)
            .map_err(error_to_wit)
    }
}

fn describe_operation(operation: &OperationDef) -> wit::Operation {
    let [read_only, destructive, idempotent, open_world] = operation.annotations;
    wit::Operation {
        name: operation.name.into(),
        title: operation.title.map(Into::into),
        description: operation.description.into(),
        input_schema: (operation.input_schema)().to_string(),
        output_schema: (operation.output_schema)().map(|schema| schema.to_string()),
        annotations: t::Annotations {
            read_only,
            destructive,
            idempotent,
            open_world,
        },
    }
}

/// Run operation `name` of `group`.
pub fn call(
    group: &GroupDef,
    name: &str,
    arguments: &str,
    ctx: &Context,
) -> Result<ToolOutput, ToolError> {
    let Some(operation) = group.operations.iter().find(|op| op.name == name) else {
        let known: Vec<&str> = group.operations.iter().map(|op| op.name).collect();
        return Err(ToolError::not_found(format!(
            "group `{}` has no operation `{name}`; it has: {}",
            group.name,
            known.join(", ")
        )));
    };
    (operation.call)(ctx, arguments)
}

/// Problems with a group that the host would refuse at load time; the test
/// `#[group]` generates runs this natively.
pub fn check_group(group: &GroupDef) -> Vec<String> {
    let mut problems = Vec::new();
    for operation in group.operations {
        if let Some(output) = (operation.output_schema)()
            && output.get("type") != Some(&Value::from("object"))
        {
            problems.push(format!(
                "operation `{}`: its output schema must be an object; the schema is {output}",
                operation.name
            ));
        }
        let input = (operation.input_schema)();
        if input.get("type") != Some(&Value::from("object")) {
            problems.push(format!(
                "operation `{}`: its arguments must be an object (a struct with named fields); \
                 the schema is {input}",
                operation.name
            ));
        }
    }
    problems
}

fn output_to_wit(output: ToolOutput) -> wit::Output {
    let (content, structured) = output.into_parts();
    wit::Output {
        content: content.into_iter().map(content_to_wit).collect(),
        structured: structured.map(|value| value.to_string()),
    }
}

fn content_to_wit(content: Content) -> t::Content {
    match content {
        Content::Text(text) => t::Content::Text(text),
        Content::Image { data, mime_type } => t::Content::Image(t::Media { data, mime_type }),
        Content::Audio { data, mime_type } => t::Content::Audio(t::Media { data, mime_type }),
        Content::Resource {
            uri,
            mime_type,
            contents,
        } => t::Content::Resource(t::EmbeddedResource {
            uri,
            mime_type,
            contents: match contents {
                ResourceContents::Text(text) => t::ResourceContents::Text(text),
                ResourceContents::Blob(bytes) => t::ResourceContents::Blob(bytes),
            },
        }),
    }
}

fn error_to_wit(error: ToolError) -> wit::Error {
    wit::Error {
        kind: match error.kind() {
            ErrorKind::InvalidArguments => t::ErrorKind::InvalidArguments,
            ErrorKind::NotFound => t::ErrorKind::NotFound,
            ErrorKind::Denied => t::ErrorKind::Denied,
            ErrorKind::Unavailable => t::ErrorKind::Unavailable,
            ErrorKind::Failed => t::ErrorKind::Failed,
        },
        message: error.message().into(),
    }
}
