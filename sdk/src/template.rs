//! RFC 6570 URI templates, the subset resource templates use: parse a
//! template and match URIs against it. These are the types of the
//! `toolhost-uri-template` crate, the very matcher the host uses, so a
//! plugin and the host agree on which URIs a template serves.
//!
//! Two kinds of expression are supported:
//!
//! - `{name}` (level 1, simple string expansion) matches one or more
//!   characters up to the next `/`, `?` or `#`: one path segment. The value
//!   is percent-decoded.
//! - `{+name}` (level 2, reserved expansion) matches one or more of any
//!   character, `/` included: the rest of a path. The value is kept as it is
//!   in the URI.
//!
//! Two expressions must be separated by literal text. Other operators
//! (`{?q}`, `{/p}`, `{#f}`, ...), lists of variables (`{a,b}`) and modifiers
//! (`{a*}`, `{a:3}`) are refused when the template is parsed. When a URI
//! matches in several ways, each variable in turn, from the left, takes the
//! longest value that still lets the rest match. Matching takes time linear
//! in the URI's length, and URIs longer than [`MAX_URI_LEN`] match nothing.
//!
//! ```
//! use toolhost_sdk::template::UriTemplate;
//!
//! let template = UriTemplate::parse("file:///{+path}/v{version}").unwrap();
//! assert_eq!(template.variables().collect::<Vec<_>>(), ["path", "version"]);
//! let captures = template.matches("file:///docs/guide.md/v2").unwrap();
//! assert_eq!(captures.get("path"), Some("docs/guide.md"));
//! assert_eq!(captures.get("version"), Some("2"));
//! assert!(template.matches("file:///docs/guide.md").is_none());
//! ```

pub use toolhost_uri_template::{
    Captures, MAX_TEMPLATE_LEN, MAX_URI_LEN, MAX_VARIABLES, TemplateError, UriTemplate,
};
