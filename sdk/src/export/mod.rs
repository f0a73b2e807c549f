//! The glue `#[group]` expands to: a static description of the group, and
//! the implementation of the exported WIT interfaces over it, one module per
//! interface. Not public API.

mod completions;
mod icons;
mod listing;
mod prompts;
mod resources;
mod tools;

pub use completions::{CompletionDef, CompletionTarget, complete};
pub use prompts::{
    PromptArgument, PromptDef, get_prompt, parse_prompt_arguments, prompt_arguments,
    prompt_arguments_of,
};
pub use resources::{
    ResourceDef, TemplateDef, read_resource, template_arguments, template_variable,
};
pub use tools::{OperationDef, call, input_schema, no_input_schema, parse_arguments};

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
    /// The `#[resource(uri = ...)]` functions, in source order.
    pub resources: &'static [ResourceDef],
    /// The `#[resource(template = ...)]` functions, in source order.
    pub templates: &'static [TemplateDef],
    /// The `#[prompt]` functions, in source order.
    pub prompts: &'static [PromptDef],
    /// The `#[complete]` functions, in source order.
    pub completions: &'static [CompletionDef],
    /// `icon = "..."` of `#[group]`: `https://` URLs or `data:` URIs.
    pub icons: &'static [&'static str],
}

/// Implemented by the type `#[group]` generates; every such type implements
/// the exported WIT interfaces.
pub trait Group {
    /// The group's description.
    const GROUP: &'static GroupDef;
}

/// `None` for an empty doc comment.
fn non_empty(text: &'static str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// `a, b, c`, or `none` for an empty list.
fn listing<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Problems with a group that the host would refuse at load time, or that
/// would make a declaration unusable; the test `#[group]` generates runs
/// this natively.
pub fn check_group(group: &GroupDef) -> Vec<String> {
    let mut problems = Vec::new();
    tools::check(group, &mut problems);
    resources::check(group, &mut problems);
    prompts::check(group, &mut problems);
    completions::check(group, &mut problems);
    icons::check(group, &mut problems);
    problems
}

/// Problems with names that must be unique: `what` names each kind.
fn check_unique<'a>(what: &str, names: impl Iterator<Item = &'a str>, problems: &mut Vec<String>) {
    let mut seen: Vec<&str> = Vec::new();
    for name in names {
        if seen.contains(&name) {
            problems.push(format!(
                "two {what}s are named `{name}`; give one another name"
            ));
        } else {
            seen.push(name);
        }
    }
}

/// Problems with a published name (`[A-Za-z0-9_-]{1,64}`).
fn check_name(what: &str, name: &str, problems: &mut Vec<String>) {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        problems.push(format!(
            "{what} name `{name}` must be 1 to 64 characters from `A-Z a-z 0-9 _ -`"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompletionContext, ToolError};

    fn text(_: &Context) -> Result<Vec<crate::ResourcePart>, ToolError> {
        Ok(Vec::new())
    }

    fn templated(
        _: &Context,
        _: &crate::template::Captures,
    ) -> Result<Vec<crate::ResourcePart>, ToolError> {
        Ok(Vec::new())
    }

    fn rendered(_: &Context, _: &[(String, String)]) -> Result<crate::PromptResult, ToolError> {
        Ok(crate::PromptResult::default())
    }

    fn nothing(
        _: &Context,
        _: &str,
        _: &CompletionContext,
    ) -> Result<crate::Completion, ToolError> {
        Ok(crate::Completion::default())
    }

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code, reason = "only the schema is used")]
    struct Numbers {
        count: u32,
    }

    use crate::Context;

    /// Declarations that are wrong in ways only the contract test sees.
    static BROKEN: GroupDef = GroupDef {
        name: "broken",
        version: "0.1.0",
        description: "",
        instructions: None,
        icons: &[],
        operations: &[],
        resources: &[
            ResourceDef {
                uri: "books",
                name: "books",
                title: None,
                unlisted: false,
                description: "",
                mime_type: None,
                read: text,
            },
            ResourceDef {
                uri: "broken://books",
                name: "books",
                title: None,
                unlisted: false,
                description: "",
                mime_type: None,
                read: text,
            },
        ],
        templates: &[TemplateDef {
            uri_template: "broken://{?query}",
            name: "search",
            title: None,
            unlisted: false,
            description: "",
            mime_type: None,
            read: templated,
        }],
        prompts: &[PromptDef {
            name: "numbers",
            title: None,
            unlisted: false,
            description: "",
            arguments: prompt_arguments_of::<Numbers>,
            get: rendered,
        }],
        completions: &[
            CompletionDef {
                target: CompletionTarget::Prompt("numbers"),
                argument: "missing",
                complete: nothing,
            },
            CompletionDef {
                target: CompletionTarget::Template("broken://{nothing}"),
                argument: "nothing",
                complete: nothing,
            },
        ],
    };

    #[test]
    fn the_contract_test_finds_bad_declarations() {
        let problems = check_group(&BROKEN);
        let expected = [
            "two resources are named `books`",
            "resource `books`: its URI `books` needs a scheme",
            "resource template `search`: URI template `broken://{?query}`, at byte 9",
            "prompt `numbers`: argument `count` must be a `String`",
            "#[complete] names argument `missing` of the prompt `numbers`, which has: count",
            "#[complete] names the resource template `broken://{nothing}`, which the group \
             does not declare",
        ];
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
        for (problem, expected) in problems.iter().zip(expected) {
            assert!(
                problem.starts_with(expected),
                "{problem}\nshould start with\n{expected}"
            );
        }
    }
}
