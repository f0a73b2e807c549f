//! Resources, resource templates and prompts as clients see them.
//!
//! A group declares names and URIs in its own terms; the catalog publishes
//! them under the group's namespace, as it does tool names. Names get the
//! `<namespace><separator>` prefix. URIs get the namespace as their first
//! path segment, the way FastMCP mounts servers: `test://static-text`
//! served by group `demo` is published as `test://demo/static-text`
//! (`urn:x` as `urn:demo/x`). A group with the empty namespace publishes
//! everything as declared. URIs inside a group's answers (embedded
//! resources, links, read results) are rewritten the same way when the
//! group serves them, so a client can always read back what it is given.

use std::collections::HashSet;
use std::sync::Arc;

use crate::catalog::{Naming, check_name};
use crate::runtime::{Group, LoadError, PromptInfo, ResourceInfo, ResourceTemplate};

/// A published static resource.
pub struct Resource {
    /// URI as clients see it.
    pub uri: String,
    /// Name as clients see it.
    pub name: String,
    /// What the group declared.
    pub declared: ResourceInfo,
    pub uris: Arc<UriMap>,
    pub group: Arc<Group>,
}

/// A published resource template.
pub struct Template {
    /// URI template as clients see it.
    pub uri_template: String,
    /// Name as clients see it.
    pub name: String,
    /// What the group declared.
    pub declared: ResourceTemplate,
    pub uris: Arc<UriMap>,
    pub group: Arc<Group>,
}

/// A published prompt.
pub struct Prompt {
    /// Name as clients see it.
    pub name: String,
    /// What the group declared.
    pub declared: PromptInfo,
    pub uris: Arc<UriMap>,
    pub group: Arc<Group>,
}

/// Everything one group publishes besides its tools.
#[derive(Default)]
pub struct Published {
    pub resources: Vec<Resource>,
    pub templates: Vec<Template>,
    pub prompts: Vec<Prompt>,
}

/// Translates one group's URIs between its own terms and the published
/// ones.
#[derive(Debug, Default)]
pub struct UriMap {
    namespace: String,
    statics: HashSet<String>,
    templates: Vec<UriTemplate>,
}

impl UriMap {
    /// The map of `group` under `namespace` ("" for none).
    pub fn new(group: &Group, namespace: &str) -> Result<Self, String> {
        let templates = group
            .templates
            .iter()
            .map(|t| {
                UriTemplate::parse(&t.uri_template)
                    .map_err(|why| format!("resource template `{}`: {why}", t.uri_template))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            namespace: namespace.to_owned(),
            statics: group.resources.iter().map(|r| r.uri.clone()).collect(),
            templates,
        })
    }

    /// Whether the group serves `uri` (in its own terms).
    pub fn serves(&self, uri: &str) -> bool {
        self.statics.contains(uri) || self.templates.iter().any(|t| t.matches(uri).is_some())
    }

    /// A URI of the group as clients see it; URIs the group does not serve
    /// (say `https://...`) are left alone.
    pub fn publish(&self, uri: &str) -> String {
        if self.namespace.is_empty() || !self.serves(uri) {
            return uri.to_owned();
        }
        self.publish_always(uri)
    }

    /// A URI or URI template of the group under its namespace.
    fn publish_always(&self, uri: &str) -> String {
        if self.namespace.is_empty() {
            return uri.to_owned();
        }
        let (head, rest) = split(uri);
        format!("{head}{}/{rest}", self.namespace)
    }

    /// A published URI in the group's own terms, when it is one of the
    /// group's: the inverse of [`UriMap::publish`].
    pub fn declared(&self, published: &str) -> Option<String> {
        let declared = if self.namespace.is_empty() {
            published.to_owned()
        } else {
            let (head, rest) = split(published);
            let rest = rest.strip_prefix(&self.namespace)?.strip_prefix('/')?;
            format!("{head}{rest}")
        };
        self.serves(&declared).then_some(declared)
    }
}

/// A URI split where the namespace goes: after `scheme://` (or `scheme:`
/// without an authority); at the start when there is no scheme.
fn split(uri: &str) -> (&str, &str) {
    let Some(colon) = uri.find(':') else {
        return ("", uri);
    };
    let at = if uri[colon + 1..].starts_with("//") {
        colon + 3
    } else {
        colon + 1
    };
    uri.split_at(at)
}

/// Builds what `group` publishes besides tools, checking every name.
pub fn build(
    group: &Arc<Group>,
    naming: &Naming,
    prefix: &str,
    uris: &Arc<UriMap>,
) -> Result<Published, LoadError> {
    let fail = |reason: String| LoadError::new(&group.path, reason);
    let publish_name = |kind: &str, name: &str| -> Result<String, LoadError> {
        let published = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}{}{name}", naming.separator)
        };
        check_name(&published, naming.strict)
            .map_err(|why| fail(format!("{kind} name `{published}` {why}")))?;
        Ok(published)
    };
    let mut out = Published::default();
    let mut seen = HashSet::new();
    for declared in &group.resources {
        if !seen.insert(declared.uri.as_str()) {
            return Err(fail(format!(
                "resource `{}` is declared twice",
                declared.uri
            )));
        }
        out.resources.push(Resource {
            uri: uris.publish_always(&declared.uri),
            name: publish_name("resource", &declared.name)?,
            declared: declared.clone(),
            uris: uris.clone(),
            group: group.clone(),
        });
    }
    for declared in &group.templates {
        if !seen.insert(declared.uri_template.as_str()) {
            return Err(fail(format!(
                "resource template `{}` is declared twice",
                declared.uri_template
            )));
        }
        out.templates.push(Template {
            uri_template: uris.publish_always(&declared.uri_template),
            name: publish_name("resource template", &declared.name)?,
            declared: declared.clone(),
            uris: uris.clone(),
            group: group.clone(),
        });
    }
    let mut seen = HashSet::new();
    for declared in &group.prompts {
        if !seen.insert(declared.name.as_str()) {
            return Err(fail(format!(
                "prompt `{}` is declared twice",
                declared.name
            )));
        }
        out.prompts.push(Prompt {
            name: publish_name("prompt", &declared.name)?,
            declared: declared.clone(),
            uris: uris.clone(),
            group: group.clone(),
        });
    }
    Ok(out)
}

/// An RFC 6570 URI template, as far as resource templates need it: simple
/// expressions `{var}` match one path segment (no `/`), reserved ones
/// `{+var}` match anything, including `/`.
#[derive(Debug, Clone)]
pub struct UriTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Variable { name: String, reserved: bool },
}

impl UriTemplate {
    pub fn parse(template: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let close = rest[open..].find('}').ok_or("has a `{` without its `}`")? + open;
            let expression = &rest[open + 1..close];
            let (name, reserved) = match expression.strip_prefix('+') {
                Some(name) => (name, true),
                None => (expression, false),
            };
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                return Err(format!(
                    "expression `{{{expression}}}` is not supported; use `{{name}}` for one path \
                     segment or `{{+name}}` for the rest of the URI"
                ));
            }
            if matches!(parts.last(), Some(Part::Variable { .. })) {
                return Err(format!(
                    "two expressions in a row before `{{{expression}}}` cannot be told apart"
                ));
            }
            parts.push(Part::Variable {
                name: name.to_owned(),
                reserved,
            });
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err("has a `}` without its `{`".to_owned());
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The variables' values when `uri` matches the template.
    pub fn matches(&self, uri: &str) -> Option<Vec<(String, String)>> {
        let mut values = Vec::new();
        match_parts(&self.parts, uri, &mut values).then_some(values)
    }
}

fn match_parts(parts: &[Part], uri: &str, values: &mut Vec<(String, String)>) -> bool {
    match parts.split_first() {
        None => uri.is_empty(),
        Some((Part::Literal(literal), rest)) => uri
            .strip_prefix(literal.as_str())
            .is_some_and(|uri| match_parts(rest, uri, values)),
        Some((Part::Variable { name, reserved }, rest)) => {
            // Try every end of the value, shortest first; a value is never
            // empty and a simple one stops at `/`.
            let limit = if *reserved {
                uri.len()
            } else {
                uri.find('/').unwrap_or(uri.len())
            };
            for end in (1..=limit).filter(|&end| uri.is_char_boundary(end)) {
                values.push((name.clone(), uri[..end].to_owned()));
                if match_parts(rest, &uri[end..], values) {
                    return true;
                }
                values.pop();
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(namespace: &str, statics: &[&str], templates: &[&str]) -> UriMap {
        UriMap {
            namespace: namespace.to_owned(),
            statics: statics.iter().map(|s| s.to_string()).collect(),
            templates: templates
                .iter()
                .map(|t| UriTemplate::parse(t).unwrap())
                .collect(),
        }
    }

    #[test]
    fn templates_match_segments_and_reserved_rests() {
        let t = UriTemplate::parse("test://template/{id}/data").unwrap();
        assert_eq!(
            t.matches("test://template/123/data"),
            Some(vec![("id".into(), "123".into())])
        );
        assert_eq!(t.matches("test://template/1/2/data"), None);
        assert_eq!(t.matches("test://template//data"), None);
        let t = UriTemplate::parse("file:///{+path}").unwrap();
        assert_eq!(
            t.matches("file:///a/b.txt"),
            Some(vec![("path".into(), "a/b.txt".into())])
        );
        let t = UriTemplate::parse("db://{table}/{id}").unwrap();
        assert_eq!(
            t.matches("db://users/7"),
            Some(vec![
                ("table".into(), "users".into()),
                ("id".into(), "7".into())
            ])
        );
    }

    #[test]
    fn unsupported_templates_are_refused_with_a_reason() {
        assert!(
            UriTemplate::parse("x://{?q}")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(
            UriTemplate::parse("x://{a}{b}")
                .unwrap_err()
                .contains("in a row")
        );
        assert!(UriTemplate::parse("x://{a").unwrap_err().contains('}'));
    }

    #[test]
    fn uris_are_namespaced_and_read_back() {
        let uris = map(
            "demo",
            &["test://static-text", "urn:thing"],
            &["test://t/{id}"],
        );
        assert_eq!(
            uris.publish("test://static-text"),
            "test://demo/static-text"
        );
        assert_eq!(uris.publish("test://t/5"), "test://demo/t/5");
        assert_eq!(uris.publish("urn:thing"), "urn:demo/thing");
        // Not the group's own: left alone.
        assert_eq!(uris.publish("https://example.com/"), "https://example.com/");
        assert_eq!(
            uris.declared("test://demo/static-text").as_deref(),
            Some("test://static-text")
        );
        assert_eq!(
            uris.declared("test://demo/t/5").as_deref(),
            Some("test://t/5")
        );
        assert_eq!(
            uris.declared("urn:demo/thing").as_deref(),
            Some("urn:thing")
        );
        assert_eq!(uris.declared("test://other/static-text"), None);
        assert_eq!(uris.declared("test://demo/unknown"), None);
    }

    #[test]
    fn the_empty_namespace_publishes_as_declared() {
        let uris = map("", &["test://static-text"], &[]);
        assert_eq!(uris.publish("test://static-text"), "test://static-text");
        assert_eq!(
            uris.declared("test://static-text").as_deref(),
            Some("test://static-text")
        );
        assert_eq!(uris.declared("test://nope"), None);
    }
}
