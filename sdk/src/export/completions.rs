//! Completions: the exported `completions` interface.

use super::{Group, GroupDef, check_unique};
use crate::__private::bindings::exports::toolhost::plugin::completions as wit;
use crate::__private::bindings::toolhost::plugin::types as t;
use crate::convert::error_to_wit;
use crate::template::UriTemplate;
use crate::{Completion, CompletionContext, Context, ToolError};

/// What a `#[complete]` function completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionTarget {
    /// An argument of the prompt with this name.
    Prompt(&'static str),
    /// A variable of the resource template with this URI template.
    Template(&'static str),
}

/// A completion function as `#[complete]` describes it.
#[derive(Debug)]
pub struct CompletionDef {
    /// The prompt or template.
    pub target: CompletionTarget,
    /// The argument or variable.
    pub argument: &'static str,
    /// Runs the function and converts its result.
    pub complete: fn(&Context, &str, &CompletionContext) -> Result<Completion, ToolError>,
}

impl<G: Group> wit::Guest for G {
    fn complete(request: wit::CompletionRequest) -> Result<wit::Completion, wit::Error> {
        let target = match &request.target {
            t::CompletionTarget::Prompt(name) => (true, name.as_str()),
            t::CompletionTarget::ResourceTemplate(template) => (false, template.as_str()),
        };
        let context = CompletionContext::from_iter(request.context);
        complete(
            G::GROUP,
            target,
            &request.argument,
            &request.value,
            &context,
            &Context::from_host(),
        )
        .map(|completion| wit::Completion {
            values: completion.values,
            total: completion.total,
            has_more: completion.has_more,
        })
        .map_err(error_to_wit)
    }
}

/// Complete `argument` of a prompt (`(true, name)`) or a template
/// (`(false, uri_template)`): the answer of the matching `#[complete]`
/// function, or no suggestions when there is none.
pub fn complete(
    group: &GroupDef,
    (prompt, target): (bool, &str),
    argument: &str,
    value: &str,
    context: &CompletionContext,
    ctx: &Context,
) -> Result<Completion, ToolError> {
    let function = group.completions.iter().find(|def| {
        def.argument == argument
            && match def.target {
                CompletionTarget::Prompt(name) => prompt && name == target,
                CompletionTarget::Template(template) => !prompt && template == target,
            }
    });
    match function {
        Some(def) => (def.complete)(ctx, value, context),
        None => Ok(Completion::default()),
    }
}

pub(super) fn check(group: &GroupDef, problems: &mut Vec<String>) {
    let keys: Vec<String> = group
        .completions
        .iter()
        .map(|def| format!("{} argument `{}`", describe(def.target), def.argument))
        .collect();
    check_unique(
        "completion function for the",
        keys.iter().map(String::as_str),
        problems,
    );
    for def in group.completions {
        let arguments: Option<Vec<String>> = match def.target {
            CompletionTarget::Prompt(name) => group
                .prompts
                .iter()
                .find(|prompt| prompt.name == name)
                .map(|prompt| (prompt.arguments)().into_iter().map(|a| a.name).collect()),
            CompletionTarget::Template(template) => group
                .templates
                .iter()
                .find(|t| t.uri_template == template)
                .and_then(|t| UriTemplate::parse(t.uri_template).ok())
                .map(|t| t.variables().map(Into::into).collect()),
        };
        match arguments {
            None => problems.push(format!(
                "#[complete] names the {}, which the group does not declare",
                describe(def.target)
            )),
            Some(arguments) if !arguments.iter().any(|a| a == def.argument) => {
                problems.push(format!(
                    "#[complete] names argument `{}` of the {}, which has: {}",
                    def.argument,
                    describe(def.target),
                    super::listing(arguments.iter().map(String::as_str))
                ))
            }
            Some(_) => {}
        }
    }
}

fn describe(target: CompletionTarget) -> String {
    match target {
        CompletionTarget::Prompt(name) => format!("prompt `{name}`"),
        CompletionTarget::Template(template) => format!("resource template `{template}`"),
    }
}
