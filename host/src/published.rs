//! Resources, resource templates and prompts as clients see them.
//!
//! A source declares names and URIs in its own terms; the catalog publishes
//! them under the source's namespace, as it does tool names. Names get the
//! `<namespace><separator>` prefix. URIs get the namespace as their first
//! path segment, the way FastMCP mounts servers: `test://static-text`
//! served by group `demo` is published as `test://demo/static-text`
//! (`urn:x` as `urn:demo/x`). A source with the empty namespace publishes
//! everything as declared. URIs inside a source's answers (embedded
//! resources, links, read results) are rewritten the same way when the
//! source serves them, so a client can always read back what it is given.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::naming::Naming;
use crate::source::{Description, PromptInfo, ResourceInfo, ResourceTemplate, Source};

/// A published static resource.
pub struct Resource {
    /// URI as clients see it.
    pub uri: String,
    /// Name as clients see it.
    pub name: String,
    /// What the source declared.
    pub declared: ResourceInfo,
    pub uris: Arc<UriMap>,
    pub source: Arc<dyn Source>,
    /// Whether it is listed now (`host.set-listed`).
    pub listed: Listed,
}

/// A published resource template.
pub struct Template {
    /// URI template as clients see it.
    pub uri_template: String,
    /// Name as clients see it.
    pub name: String,
    /// What the source declared.
    pub declared: ResourceTemplate,
    pub uris: Arc<UriMap>,
    pub source: Arc<dyn Source>,
    /// Whether it is listed now (`host.set-listed`).
    pub listed: Listed,
}

/// A published prompt.
pub struct Prompt {
    /// Name as clients see it.
    pub name: String,
    /// What the source declared.
    pub declared: PromptInfo,
    pub uris: Arc<UriMap>,
    pub source: Arc<dyn Source>,
    /// Whether it is listed now (`host.set-listed`).
    pub listed: Listed,
}

/// Whether a published item is listed now. A group lists and unlists its
/// items while it runs (`host.set-listed`); an unlisted item is left out of
/// the lists and served to nobody. The flag belongs to the item, which the
/// snapshots that hold it share, so that a change needs no new snapshot.
#[derive(Debug)]
pub struct Listed(AtomicBool);

impl Listed {
    pub fn new(listed: bool) -> Self {
        Self(AtomicBool::new(listed))
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the flag; whether it changed.
    pub fn set(&self, listed: bool) -> bool {
        self.0.swap(listed, Ordering::Relaxed) != listed
    }
}

/// Everything one source publishes besides its tools.
#[derive(Default)]
pub struct Published {
    pub resources: Vec<Resource>,
    pub templates: Vec<Template>,
    pub prompts: Vec<Prompt>,
}

/// Translates one source's URIs between its own terms and the published
/// ones.
#[derive(Debug, Default)]
pub struct UriMap {
    namespace: String,
    statics: HashSet<String>,
    templates: Vec<UriTemplate>,
}

impl UriMap {
    /// The map of what `description` declares, under `namespace` ("" for
    /// none).
    pub fn new(description: &Description, namespace: &str) -> Result<Self, String> {
        let templates = description
            .templates
            .iter()
            .map(|t| {
                UriTemplate::parse(&t.uri_template)
                    .map_err(|why| format!("resource template `{}`: {why}", t.uri_template))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            namespace: namespace.to_owned(),
            statics: description
                .resources
                .iter()
                .map(|r| r.uri.clone())
                .collect(),
            templates,
        })
    }

    /// Whether the source serves `uri` (in its own terms).
    pub fn serves(&self, uri: &str) -> bool {
        self.statics.contains(uri) || self.templates.iter().any(|t| t.matches(uri).is_some())
    }

    /// Which of the source's templates (by index, in declaration order) a
    /// URI in its own terms matches first; `None` for a static resource's
    /// URI or one it does not serve.
    pub fn template_of(&self, declared: &str) -> Option<usize> {
        if self.statics.contains(declared) {
            return None;
        }
        self.templates
            .iter()
            .position(|t| t.matches(declared).is_some())
    }

    /// One of the source's URI templates as clients see it.
    pub fn publish_template(&self, uri_template: &str) -> String {
        self.publish_always(uri_template)
    }

    /// A URI of the source as clients see it; URIs the source does not
    /// serve (say `https://...`) are left alone.
    pub fn publish(&self, uri: &str) -> String {
        if self.namespace.is_empty() || !self.serves(uri) {
            return uri.to_owned();
        }
        self.publish_always(uri)
    }

    /// A URI or URI template of the source under its namespace.
    fn publish_always(&self, uri: &str) -> String {
        if self.namespace.is_empty() {
            return uri.to_owned();
        }
        let (head, rest) = split(uri);
        format!("{head}{}/{rest}", self.namespace)
    }

    /// A published URI in the source's own terms, when it is one of the
    /// source's: the inverse of [`UriMap::publish`].
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

/// Builds what `source` publishes besides tools, checking every name. A
/// lenient source's item that fails a check is left out, logged.
pub fn build(
    source: &Arc<dyn Source>,
    naming: &Naming,
    prefix: &str,
    uris: &Arc<UriMap>,
) -> Result<Published, String> {
    let description = source.description();
    let keep = |what: String, checked: Result<String, String>| match checked {
        Ok(name) => Ok(Some(name)),
        Err(why) if source.lenient() => {
            crate::catalog::left_out(source.as_ref(), &what, &why);
            Ok(None)
        }
        Err(why) => Err(why),
    };
    let once = |seen: &mut HashSet<String>, key: &str, kind: &str| {
        if seen.insert(key.to_owned()) {
            Ok(())
        } else {
            Err(format!("{kind} `{key}` is declared twice"))
        }
    };
    let mut out = Published::default();
    let mut seen = HashSet::new();
    for declared in &description.resources {
        let name = once(&mut seen, &declared.uri, "resource").and_then(|()| {
            naming
                .label(prefix, &declared.name)
                .map_err(|why| format!("resource name {why}"))
        });
        let Some(name) = keep(format!("resource `{}`", declared.uri.escape_debug()), name)? else {
            continue;
        };
        out.resources.push(Resource {
            uri: uris.publish_always(&declared.uri),
            name,
            declared: declared.clone(),
            uris: uris.clone(),
            source: source.clone(),
            listed: Listed::new(true),
        });
    }
    for declared in &description.templates {
        let what = "resource template";
        let name = once(&mut seen, &declared.uri_template, what).and_then(|()| {
            naming
                .label(prefix, &declared.name)
                .map_err(|why| format!("{what} name {why}"))
        });
        let what = format!("{what} `{}`", declared.uri_template.escape_debug());
        let Some(name) = keep(what, name)? else {
            continue;
        };
        out.templates.push(Template {
            uri_template: uris.publish_always(&declared.uri_template),
            name,
            declared: declared.clone(),
            uris: uris.clone(),
            source: source.clone(),
            listed: Listed::new(true),
        });
    }
    let mut seen = HashSet::new();
    for declared in &description.prompts {
        let name = once(&mut seen, &declared.name, "prompt").and_then(|()| {
            naming
                .publish(prefix, &declared.name)
                .map_err(|why| format!("prompt name {why}"))
        });
        let Some(name) = keep(format!("prompt `{}`", declared.name.escape_debug()), name)? else {
            continue;
        };
        out.prompts.push(Prompt {
            name,
            declared: declared.clone(),
            uris: uris.clone(),
            source: source.clone(),
            listed: Listed::new(true),
        });
    }
    Ok(out)
}

/// RFC 6570 URI templates (`{var}` is one path segment, `{+var}` may hold
/// `/`), from the crate the SDK matches with too, so the host and a Rust
/// plugin agree on which URIs a template serves. Matching takes time linear
/// in the URI's length, and a URI longer than [`MAX_URI_LEN`] is refused
/// before any matching: no group serves it.
pub use toolhost_uri_template::{MAX_URI_LEN, UriTemplate};

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
        let captures = |template: &str, uri: &str| {
            let template = UriTemplate::parse(template).unwrap();
            template.matches(uri).map(|captures| {
                captures
                    .iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect::<Vec<_>>()
            })
        };
        let segment = "test://template/{id}/data";
        assert_eq!(
            captures(segment, "test://template/123/data"),
            Some(vec!["id=123".into()])
        );
        assert_eq!(captures(segment, "test://template/1/2/data"), None);
        assert_eq!(captures(segment, "test://template//data"), None);
        assert_eq!(
            captures("file:///{+path}", "file:///a/b.txt"),
            Some(vec!["path=a/b.txt".into()])
        );
        assert_eq!(
            captures("db://{table}/{id}", "db://users/7"),
            Some(vec!["table=users".into(), "id=7".into()])
        );
    }

    #[test]
    fn unsupported_templates_are_refused_with_a_reason() {
        let refusal = |template: &str| UriTemplate::parse(template).unwrap_err().to_string();
        assert!(refusal("x://{?q}").contains("not supported"));
        assert!(refusal("x://{a}{b}").contains("separated by literal text"));
        assert!(refusal("x://{a").contains("never closed"));
    }

    #[test]
    fn uris_over_the_limit_are_served_by_no_template() {
        let uris = map("demo", &[], &["test://{+path}"]);
        // `test://demo/` is published for the template's `test://`.
        let longest = format!("test://demo/{}", "a".repeat(MAX_URI_LEN - "test://".len()));
        assert!(uris.declared(&longest).is_some());
        assert_eq!(uris.declared(&format!("{longest}a")), None);
        let megabyte = format!("test://{}", "a/".repeat(512 * 1024));
        assert_eq!(uris.publish(&megabyte), megabyte);
    }

    #[test]
    fn a_template_with_many_reserved_variables_matches_in_one_pass() {
        // A backtracking matcher never finished this on a 1 KB URI.
        let uris = map("", &[], &["t://{+a}/{+b}/{+c}/{+d}/{+e}/{+f}!"]);
        let uri = format!("t://{}", "x/".repeat((MAX_URI_LEN - 4) / 2));
        assert_eq!(uris.declared(&uri), None);
        assert!(uris.declared("t://1/2/3/4/5/6!").is_some());
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
