//! Prompts: the exported `prompts` interface.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::tools::input_schema;
use super::{Group, GroupDef, check_name, check_unique, listing, non_empty};
use crate::__private::bindings::exports::toolhost::plugin::prompts as wit;
use crate::__private::bindings::toolhost::plugin::types as t;
use crate::convert::{error_to_wit, message_to_wit};
use crate::{Context, PromptResult, ToolError};

/// Renders a prompt from the (name, value) arguments of `prompts/get`.
pub type RenderPrompt = fn(&Context, &[(String, String)]) -> Result<PromptResult, ToolError>;

/// A prompt as `#[prompt]` describes it.
#[derive(Debug)]
pub struct PromptDef {
    /// Prompt name.
    pub name: &'static str,
    /// Human-readable title.
    pub title: Option<&'static str>,
    /// `unlisted`: not listed until the group lists it.
    pub unlisted: bool,
    /// The function's doc comment.
    pub description: &'static str,
    /// Produces the arguments' descriptions.
    pub arguments: fn() -> Vec<PromptArgument>,
    /// Parses the arguments, runs the function and converts its result.
    pub get: RenderPrompt,
}

/// One argument of a prompt, from a field of its arguments struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptArgument {
    /// Field name.
    pub name: String,
    /// `#[schemars(title = "...")]`.
    pub title: Option<String>,
    /// The field's doc comment.
    pub description: Option<String>,
    /// Whether the field is neither `Option` nor `#[serde(default)]`.
    pub required: bool,
    /// The field's schema, to check that it takes text.
    pub schema: Value,
}

/// The arguments of a prompt taking `T`: the properties of its schema.
pub fn prompt_arguments_of<T: schemars::JsonSchema>() -> Vec<PromptArgument> {
    let schema = input_schema::<T>();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| PromptArgument {
            name: name.clone(),
            title: property["title"].as_str().map(Into::into),
            description: property["description"].as_str().map(Into::into),
            required: required.contains(&name.as_str()),
            schema: property.clone(),
        })
        .collect()
}

/// The arguments of a prompt that takes none.
pub fn prompt_arguments() -> Vec<PromptArgument> {
    Vec::new()
}

/// The arguments of a `prompts/get` as the struct `T`.
pub fn parse_prompt_arguments<T: DeserializeOwned>(
    arguments: &[(String, String)],
) -> Result<T, ToolError> {
    let object: Map<String, Value> = arguments
        .iter()
        .map(|(name, value)| (name.clone(), Value::from(value.as_str())))
        .collect();
    serde_json::from_value(Value::Object(object))
        .map_err(|err| ToolError::invalid_arguments(format!("invalid prompt arguments: {err}")))
}

impl<G: Group> wit::Guest for G {
    fn list() -> Vec<wit::PromptInfo> {
        G::GROUP
            .prompts
            .iter()
            .map(|prompt| wit::PromptInfo {
                name: prompt.name.into(),
                title: prompt.title.map(Into::into),
                description: non_empty(prompt.description),
                arguments: (prompt.arguments)()
                    .into_iter()
                    .map(|argument| t::PromptArgument {
                        name: argument.name,
                        title: argument.title,
                        description: argument.description,
                        required: argument.required,
                    })
                    .collect(),
            })
            .collect()
    }

    fn get(
        name: String,
        arguments: Vec<(String, String)>,
    ) -> Result<wit::PromptResult, wit::Error> {
        get_prompt(G::GROUP, &name, &arguments, &Context::from_host())
            .map(|result| wit::PromptResult {
                description: result.description,
                messages: result.messages.into_iter().map(message_to_wit).collect(),
            })
            .map_err(error_to_wit)
    }
}

/// Render prompt `name` of `group`.
pub fn get_prompt(
    group: &GroupDef,
    name: &str,
    arguments: &[(String, String)],
    ctx: &Context,
) -> Result<PromptResult, ToolError> {
    let Some(prompt) = group.prompts.iter().find(|prompt| prompt.name == name) else {
        return Err(ToolError::not_found(format!(
            "group `{}` has no prompt `{name}`; its prompts are: {}",
            group.name,
            listing(group.prompts.iter().map(|prompt| prompt.name))
        )));
    };
    (prompt.get)(ctx, arguments)
}

pub(super) fn check(group: &GroupDef, problems: &mut Vec<String>) {
    check_unique("prompt", group.prompts.iter().map(|p| p.name), problems);
    for prompt in group.prompts {
        check_name("prompt", prompt.name, problems);
        for argument in (prompt.arguments)() {
            if !takes_text(&argument.schema) {
                problems.push(format!(
                    "prompt `{}`: argument `{}` must be a `String` (or `Option<String>`, or an \
                     enum of unit variants): MCP passes prompt arguments as text; its schema is {}",
                    prompt.name, argument.name, argument.schema
                ));
            }
        }
    }
}

/// Whether a value of this schema can come from a string.
fn takes_text(schema: &Value) -> bool {
    let is_text = |ty: &Value| ty == "string" || ty == "null";
    match schema.get("type") {
        Some(Value::Array(types)) => types.iter().all(is_text),
        Some(ty) => is_text(ty),
        None => ["oneOf", "anyOf"].iter().any(|key| {
            schema[key]
                .as_array()
                .is_some_and(|branches| branches.iter().all(takes_text))
        }),
    }
}
