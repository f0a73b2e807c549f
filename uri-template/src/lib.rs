//! RFC 6570 URI templates, the subset MCP resource templates use: parse a
//! template, match URIs against it, expand it. toolhost's host and its SDK
//! (`toolhost_sdk::template`) both use this crate, so a plugin and the host
//! always agree on which URIs a template serves.
//!
//! # Syntax
//!
//! - `{name}` (level 1, simple string expansion) matches one or more
//!   characters up to the next `/`, `?` or `#`: one path segment. The value
//!   is percent-decoded.
//! - `{+name}` (level 2, reserved expansion) matches one or more of any
//!   character, `/` included: the rest of a path. The value is kept as it is
//!   in the URI.
//! - Anything else is literal text that a URI must contain byte for byte.
//!
//! Two expressions must be separated by literal text, and a variable may
//! appear once. Other operators (`{?q}`, `{/p}`, `{#f}`, ...), lists of
//! variables (`{a,b}`) and modifiers (`{a*}`, `{a:3}`) are refused when the
//! template is parsed, as are templates longer than [`MAX_TEMPLATE_LEN`]
//! bytes or with more than [`MAX_VARIABLES`] variables.
//!
//! ```
//! use toolhost_uri_template::UriTemplate;
//!
//! let template = UriTemplate::parse("file:///{+path}/v{version}").unwrap();
//! assert_eq!(template.variables().collect::<Vec<_>>(), ["path", "version"]);
//! let captures = template.matches("file:///docs/guide.md/v2").unwrap();
//! assert_eq!(captures.get("path"), Some("docs/guide.md"));
//! assert_eq!(captures.get("version"), Some("2"));
//! assert!(template.matches("file:///docs/guide.md").is_none());
//! ```
//!
//! # Which match
//!
//! When a URI matches in several ways, each variable in turn, from the left,
//! takes the longest value that still lets the rest of the URI match:
//! `x://{+a}/end` gives `a` = `1/end/2` for `x://1/end/2/end`.
//!
//! # Cost
//!
//! Matching never backtracks. It first fills a table of which template
//! parts can match which URI suffixes, from the last part to the first,
//! then walks it forward to pick the values. For a template of `t` bytes
//! and a URI of `u` bytes it takes at most `2 × (t + 1) × (u + 1)` steps
//! (one step is a table cell, a byte compared or a byte scanned) and
//! `(2 × MAX_VARIABLES + 2) × (u + 1)` bits of memory: linear in the URI for
//! a given template, and bounded by the caps for any template (at most 17
//! million steps and 68 KB for the longest template and URI). URIs longer
//! than [`MAX_URI_LEN`] match no template.
//!
//! # Fuzzing
//!
//! `cargo test -p toolhost-uri-template` runs a bounded property-based fuzz
//! (proptest; `PROPTEST_CASES=100000` for more cases). For coverage-guided
//! fuzzing over a longer time, `uri-template/fuzz` is a cargo-fuzz project:
//! `cd uri-template && cargo +nightly fuzz run match`.

mod encoding;
mod matching;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

pub use parse::TemplateError;

/// The longest URI, in bytes, that [`UriTemplate::matches`] considers;
/// longer ones match no template. Matching costs time and memory in
/// proportion to the URI's length, and no resource URI needs more.
///
/// ```
/// use toolhost_uri_template::{MAX_URI_LEN, UriTemplate};
///
/// let template = UriTemplate::parse("file:///{+path}").unwrap();
/// let long = format!("file:///{}", "a".repeat(MAX_URI_LEN));
/// assert!(template.matches(&long).is_none());
/// assert!(template.matches(&long[..MAX_URI_LEN]).is_some());
/// ```
pub const MAX_URI_LEN: usize = 8 * 1024;

/// The longest template, in bytes, that [`UriTemplate::parse`] accepts.
///
/// ```
/// use toolhost_uri_template::{MAX_TEMPLATE_LEN, UriTemplate};
///
/// let long = format!("x://{}", "a".repeat(MAX_TEMPLATE_LEN));
/// let err = UriTemplate::parse(&long).unwrap_err();
/// assert!(err.to_string().contains("at most 1024 bytes"), "{err}");
/// ```
pub const MAX_TEMPLATE_LEN: usize = 1024;

/// The most variables a template may have.
///
/// ```
/// use toolhost_uri_template::{MAX_VARIABLES, UriTemplate};
///
/// let segments = |n: usize| (0..n).map(|i| format!("/{{v{i}}}")).collect::<String>();
/// assert!(UriTemplate::parse(&format!("x://{}", segments(MAX_VARIABLES))).is_ok());
/// let err = UriTemplate::parse(&format!("x://{}", segments(MAX_VARIABLES + 1))).unwrap_err();
/// assert!(err.to_string().contains("more than 32 variables"), "{err}");
/// ```
pub const MAX_VARIABLES: usize = 32;

/// A parsed URI template. See the [crate documentation](crate) for the
/// syntax and which match is chosen.
///
/// ```
/// use toolhost_uri_template::UriTemplate;
///
/// let template = UriTemplate::parse("test://template/{id}/data").unwrap();
/// assert_eq!(template.as_str(), "test://template/{id}/data");
/// assert_eq!(template.matches("test://template/123/data").unwrap().get("id"), Some("123"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    text: String,
    parts: Vec<Part>,
}

/// One piece of a template. Literals are never empty, and two variables are
/// never next to each other.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// `{name}`, or `{+name}` when `reserved`.
    Variable {
        name: String,
        reserved: bool,
    },
}

impl UriTemplate {
    /// Parse a template, or say what in it is not supported and where.
    ///
    /// ```
    /// use toolhost_uri_template::UriTemplate;
    ///
    /// assert!(UriTemplate::parse("users://{id}/profile").is_ok());
    /// let err = UriTemplate::parse("search://{?q}").unwrap_err();
    /// assert!(err.to_string().contains("`{name}`"), "{err}");
    /// assert_eq!(err.offset(), 9);
    /// ```
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        Ok(UriTemplate {
            text: template.to_owned(),
            parts: parse::parts(template)?,
        })
    }

    /// The template as written.
    ///
    /// ```
    /// # use toolhost_uri_template::UriTemplate;
    /// assert_eq!(UriTemplate::parse("a://{b}").unwrap().as_str(), "a://{b}");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The names of the template's variables, in order.
    ///
    /// ```
    /// # use toolhost_uri_template::UriTemplate;
    /// let template = UriTemplate::parse("repo://{owner}/{name}/{+path}").unwrap();
    /// assert_eq!(template.variables().collect::<Vec<_>>(), ["owner", "name", "path"]);
    /// ```
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Variable { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The values of the variables when `uri` matches the template, `None`
    /// when it does not or is longer than [`MAX_URI_LEN`]. Every variable
    /// matches at least one character. Linear in the length of `uri`; see
    /// the [crate documentation](crate#cost).
    ///
    /// ```
    /// # use toolhost_uri_template::UriTemplate;
    /// let template = UriTemplate::parse("notes://{folder}/{name}").unwrap();
    /// let captures = template.matches("notes://work/to%20do").unwrap();
    /// assert_eq!(captures.get("name"), Some("to do"));
    /// assert!(template.matches("notes://work/sub/to-do").is_none());
    /// assert!(template.matches("notes:///to-do").is_none());
    /// ```
    pub fn matches(&self, uri: &str) -> Option<Captures> {
        let values = matching::match_parts(&self.parts, uri, &mut 0)?;
        Some(Captures { values })
    }

    /// The URI made by putting `values` in for the variables: `{name}`
    /// values are percent-encoded except for unreserved characters,
    /// `{+name}` values keep reserved characters such as `/` (and `%`) too.
    /// A variable without a value expands to nothing.
    ///
    /// ```
    /// # use toolhost_uri_template::UriTemplate;
    /// let template = UriTemplate::parse("notes://{folder}/{+name}").unwrap();
    /// let uri = template.expand(&[("folder", "my work"), ("name", "a/b.md")]);
    /// assert_eq!(uri, "notes://my%20work/a/b.md");
    /// ```
    pub fn expand(&self, values: &[(&str, &str)]) -> String {
        let mut uri = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => uri.push_str(text),
                Part::Variable { name, reserved } => {
                    let value = values
                        .iter()
                        .find(|(key, _)| key == name)
                        .map_or("", |(_, value)| value);
                    encoding::percent_encode(value, *reserved, &mut uri);
                }
            }
        }
        uri
    }
}

impl fmt::Display for UriTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for UriTemplate {
    type Err = TemplateError;

    fn from_str(template: &str) -> Result<Self, Self::Err> {
        UriTemplate::parse(template)
    }
}

/// The values a URI gave the variables of a template, in the template's
/// order.
///
/// ```
/// use toolhost_uri_template::UriTemplate;
///
/// let template = UriTemplate::parse("test://template/{id}/data").unwrap();
/// let captures = template.matches("test://template/42/data").unwrap();
/// assert_eq!(captures.get("id"), Some("42"));
/// assert_eq!(captures.iter().collect::<Vec<_>>(), [("id", "42")]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captures {
    values: Vec<(String, String)>,
}

impl Captures {
    /// The value of variable `name`, `None` when the template has no such
    /// variable.
    ///
    /// ```
    /// # use toolhost_uri_template::UriTemplate;
    /// let captures = UriTemplate::parse("a://{b}").unwrap().matches("a://c").unwrap();
    /// assert_eq!(captures.get("b"), Some("c"));
    /// assert_eq!(captures.get("z"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every (name, value), in the template's order.
    ///
    /// ```
    /// # use toolhost_uri_template::UriTemplate;
    /// let captures = UriTemplate::parse("a://{b}/{c}").unwrap().matches("a://1/2").unwrap();
    /// assert_eq!(captures.iter().collect::<Vec<_>>(), [("b", "1"), ("c", "2")]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}
