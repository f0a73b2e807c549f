//! Operations: the exported `group` interface.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Group, GroupDef, check_unique, listing};
use crate::__private::bindings::exports::toolhost::plugin::group as wit;
use crate::__private::bindings::toolhost::plugin::types as t;
use crate::convert::{content_to_wit, error_to_wit};
use crate::schema::{make_object_schema, no_arguments_schema, schema_of};
use crate::{Context, ToolError, ToolOutput};

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
    /// `icon = "..."` of `#[operation]`: `https://` URLs or `data:` URIs.
    pub icons: &'static [&'static str],
    /// `unlisted`: not listed until the group lists it.
    pub unlisted: bool,
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
        return Err(ToolError::not_found(format!(
            "group `{}` has no operation `{name}`; it has: {}",
            group.name,
            listing(group.operations.iter().map(|op| op.name))
        )));
    };
    (operation.call)(ctx, arguments)
}

pub(super) fn check(group: &GroupDef, problems: &mut Vec<String>) {
    check_unique(
        "operation",
        group.operations.iter().map(|op| op.name),
        problems,
    );
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
}

fn output_to_wit(output: ToolOutput) -> wit::Output {
    let (content, structured) = output.into_parts();
    wit::Output {
        content: content.into_iter().map(content_to_wit).collect(),
        structured: structured.map(|value| value.to_string()),
    }
}
