//! Resources and resource templates: the exported `resources` interface.

use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{Group, GroupDef, check_name, check_unique, listing, non_empty};
use crate::__private::bindings::exports::toolhost::plugin::resources as wit;
use crate::convert::{error_to_wit, part_to_wit};
use crate::resource::complete_parts;
use crate::template::{Captures, UriTemplate};
use crate::{Context, ResourcePart, ToolError};

/// A static resource as `#[resource(uri = ...)]` describes it.
#[derive(Debug)]
pub struct ResourceDef {
    /// The resource's URI.
    pub uri: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Human-readable title.
    pub title: Option<&'static str>,
    /// `unlisted`: not listed until the group lists it.
    pub unlisted: bool,
    /// The function's doc comment.
    pub description: &'static str,
    /// Declared MIME type.
    pub mime_type: Option<&'static str>,
    /// Runs the function and converts its result.
    pub read: fn(&Context) -> Result<Vec<ResourcePart>, ToolError>,
}

/// A resource template as `#[resource(template = ...)]` describes it.
#[derive(Debug)]
pub struct TemplateDef {
    /// The URI template.
    pub uri_template: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Human-readable title.
    pub title: Option<&'static str>,
    /// `unlisted`: not listed until the group lists it.
    pub unlisted: bool,
    /// The function's doc comment.
    pub description: &'static str,
    /// Declared MIME type.
    pub mime_type: Option<&'static str>,
    /// Converts the captured variables, runs the function and converts its
    /// result.
    pub read: fn(&Context, &Captures) -> Result<Vec<ResourcePart>, ToolError>,
}

/// The value of template variable `name`, parsed as `T`.
pub fn template_variable<T>(captures: &Captures, name: &str) -> Result<T, ToolError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let value = captures.get(name).unwrap_or_default();
    value.parse().map_err(|err| {
        ToolError::invalid_arguments(format!("template variable `{name}` = `{value}`: {err}"))
    })
}

/// The template variables as a struct `T` whose fields take them (as
/// strings).
pub fn template_arguments<T: DeserializeOwned>(captures: &Captures) -> Result<T, ToolError> {
    let object: Map<String, Value> = captures
        .iter()
        .map(|(name, value)| (name.to_owned(), Value::from(value)))
        .collect();
    serde_json::from_value(Value::Object(object)).map_err(|err| {
        ToolError::invalid_arguments(format!("template variables do not fit: {err}"))
    })
}

impl<G: Group> wit::Guest for G {
    fn list() -> Vec<wit::ResourceInfo> {
        G::GROUP
            .resources
            .iter()
            .map(|resource| wit::ResourceInfo {
                uri: resource.uri.into(),
                name: resource.name.into(),
                title: resource.title.map(Into::into),
                description: non_empty(resource.description),
                mime_type: resource.mime_type.map(Into::into),
                size: None,
            })
            .collect()
    }

    fn templates() -> Vec<wit::ResourceTemplate> {
        G::GROUP
            .templates
            .iter()
            .map(|template| wit::ResourceTemplate {
                uri_template: template.uri_template.into(),
                name: template.name.into(),
                title: template.title.map(Into::into),
                description: non_empty(template.description),
                mime_type: template.mime_type.map(Into::into),
            })
            .collect()
    }

    fn read(uri: String) -> Result<Vec<wit::EmbeddedResource>, wit::Error> {
        read_resource(G::GROUP, &uri, &Context::from_host())
            .map(|parts| parts.into_iter().map(part_to_wit).collect())
            .map_err(error_to_wit)
    }
}

/// Read the resource at `uri`: a static resource with that URI, else the
/// first template that matches it. Every part has its URI and MIME type
/// filled in.
pub fn read_resource(
    group: &GroupDef,
    uri: &str,
    ctx: &Context,
) -> Result<Vec<ResourcePart>, ToolError> {
    if let Some(resource) = group.resources.iter().find(|r| r.uri == uri) {
        let parts = (resource.read)(ctx)?;
        return Ok(complete_parts(parts, uri, resource.mime_type));
    }
    for template in group.templates {
        let Ok(parsed) = UriTemplate::parse(template.uri_template) else {
            continue;
        };
        if let Some(captures) = parsed.matches(uri) {
            let parts = (template.read)(ctx, &captures)?;
            return Ok(complete_parts(parts, uri, template.mime_type));
        }
    }
    Err(ToolError::not_found(format!(
        "group `{}` has no resource `{uri}`; its resources are: {}; its templates are: {}",
        group.name,
        listing(group.resources.iter().map(|r| r.uri)),
        listing(group.templates.iter().map(|t| t.uri_template)),
    )))
}

pub(super) fn check(group: &GroupDef, problems: &mut Vec<String>) {
    let names = group.resources.iter().map(|r| r.name);
    let template_names = group.templates.iter().map(|t| t.name);
    check_unique("resource", names.chain(template_names), problems);
    check_unique(
        "resource URI",
        group.resources.iter().map(|r| r.uri),
        problems,
    );
    check_unique(
        "resource template",
        group.templates.iter().map(|t| t.uri_template),
        problems,
    );
    for resource in group.resources {
        check_name("resource", resource.name, problems);
        if !has_scheme(resource.uri) {
            problems.push(format!(
                "resource `{}`: its URI `{}` needs a scheme, such as `file:///...` or \
                 `{}://...`",
                resource.name, resource.uri, group.name
            ));
        }
    }
    for template in group.templates {
        check_name("resource template", template.name, problems);
        match UriTemplate::parse(template.uri_template) {
            Err(err) => problems.push(format!("resource template `{}`: {err}", template.name)),
            Ok(_) if !has_scheme(template.uri_template) => problems.push(format!(
                "resource template `{}`: `{}` needs a scheme, such as `file:///{{+path}}`",
                template.name, template.uri_template
            )),
            Ok(_) => {}
        }
    }
}

/// `scheme:` as RFC 3986 spells it.
fn has_scheme(uri: &str) -> bool {
    uri.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}
