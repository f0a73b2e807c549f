//! RFC 6570 URI templates, the subset resource templates use: parse a
//! template and match URIs against it.
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
//! Two expressions must be separated by literal text, so that a URI matches
//! in one way only. Other operators (`{?q}`, `{/p}`, `{#f}`, ...), lists of
//! variables (`{a,b}`) and modifiers (`{a*}`, `{a:3}`) are refused when
//! the template is parsed.
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

use std::fmt;

/// A parsed URI template. See the [module documentation](self) for the
/// syntax.
///
/// ```
/// use toolhost_sdk::template::UriTemplate;
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

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// A variable; `rest` for `{+name}`.
    Variable {
        name: String,
        rest: bool,
    },
}

/// Why a template does not parse: the template, the byte offset of the
/// problem and what is wrong there.
///
/// ```
/// use toolhost_sdk::template::UriTemplate;
///
/// let err = UriTemplate::parse("test://{a}{b}").unwrap_err();
/// assert_eq!(err.offset(), 10);
/// assert!(err.to_string().contains("separated by literal text"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    template: String,
    offset: usize,
    reason: String,
}

impl TemplateError {
    /// Byte offset into the template where the problem is.
    ///
    /// ```
    /// # use toolhost_sdk::template::UriTemplate;
    /// assert_eq!(UriTemplate::parse("x://{").unwrap_err().offset(), 4);
    /// ```
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "URI template `{}`, at byte {}: {}",
            self.template, self.offset, self.reason
        )
    }
}

impl std::error::Error for TemplateError {}

impl UriTemplate {
    /// Parse a template.
    ///
    /// ```
    /// use toolhost_sdk::template::UriTemplate;
    ///
    /// assert!(UriTemplate::parse("users://{id}/profile").is_ok());
    /// let err = UriTemplate::parse("search://{?q}").unwrap_err();
    /// assert!(err.to_string().contains("`{name}` and `{+name}`"), "{err}");
    /// ```
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let error = |offset: usize, reason: &str| TemplateError {
            template: template.to_owned(),
            offset,
            reason: reason.to_owned(),
        };
        let mut parts: Vec<Part> = Vec::new();
        let mut literal = String::new();
        let mut rest = template.char_indices();
        while let Some((start, c)) = rest.next() {
            match c {
                '{' => {
                    let Some(len) = template[start + 1..].find('}') else {
                        return Err(error(start, "`{` is never closed by `}`"));
                    };
                    let expression = &template[start + 1..start + 1 + len];
                    let variable =
                        parse_expression(expression).map_err(|reason| error(start, &reason))?;
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    } else if matches!(parts.last(), Some(Part::Variable { .. })) {
                        return Err(error(
                            start,
                            "two expressions must be separated by literal text, or a URI could \
                             match them in several ways",
                        ));
                    }
                    if parts.iter().any(
                        |part| matches!(part, Part::Variable { name, .. } if *name == variable.0),
                    ) {
                        return Err(error(start, "this variable already appears earlier"));
                    }
                    parts.push(Part::Variable {
                        name: variable.0,
                        rest: variable.1,
                    });
                    // Skip the expression and its closing brace.
                    for _ in 0..expression.chars().count() + 1 {
                        rest.next();
                    }
                }
                '}' => return Err(error(start, "`}` without an opening `{`")),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(UriTemplate {
            text: template.to_owned(),
            parts,
        })
    }

    /// The template as written.
    ///
    /// ```
    /// # use toolhost_sdk::template::UriTemplate;
    /// assert_eq!(UriTemplate::parse("a://{b}").unwrap().as_str(), "a://{b}");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The names of the template's variables, in order.
    ///
    /// ```
    /// # use toolhost_sdk::template::UriTemplate;
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
    /// when it does not. Every variable matches at least one character.
    ///
    /// ```
    /// # use toolhost_sdk::template::UriTemplate;
    /// let template = UriTemplate::parse("notes://{folder}/{name}").unwrap();
    /// let captures = template.matches("notes://work/to%20do").unwrap();
    /// assert_eq!(captures.get("name"), Some("to do"));
    /// assert!(template.matches("notes://work/sub/to-do").is_none());
    /// assert!(template.matches("notes:///to-do").is_none());
    /// ```
    pub fn matches(&self, uri: &str) -> Option<Captures> {
        let mut values = Vec::new();
        match_parts(&self.parts, uri, &mut values).then_some(Captures { values })
    }

    /// The URI made by putting `values` in for the variables: `{name}`
    /// values are percent-encoded except for unreserved characters,
    /// `{+name}` values keep reserved characters such as `/` too. A variable
    /// without a value expands to nothing.
    ///
    /// ```
    /// # use toolhost_sdk::template::UriTemplate;
    /// let template = UriTemplate::parse("notes://{folder}/{+name}").unwrap();
    /// let uri = template.expand(&[("folder", "my work"), ("name", "a/b.md")]);
    /// assert_eq!(uri, "notes://my%20work/a/b.md");
    /// ```
    pub fn expand(&self, values: &[(&str, &str)]) -> String {
        let mut uri = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => uri.push_str(text),
                Part::Variable { name, rest } => {
                    let value = values
                        .iter()
                        .find(|(key, _)| key == name)
                        .map_or("", |(_, value)| value);
                    percent_encode(value, *rest, &mut uri);
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

/// `name` or `+name` → (name, is rest).
fn parse_expression(expression: &str) -> Result<(String, bool), String> {
    let (name, rest) = match expression.strip_prefix('+') {
        Some(name) => (name, true),
        None => (expression, false),
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '%');
    if valid {
        Ok((name.to_owned(), rest))
    } else {
        Err(format!(
            "`{{{expression}}}` is not supported: only `{{name}}` and `{{+name}}` expressions \
             with one variable name of `A-Z a-z 0-9 _ .` are"
        ))
    }
}

/// Match `parts` against all of `uri`, pushing the variables' values.
fn match_parts(parts: &[Part], uri: &str, values: &mut Vec<(String, String)>) -> bool {
    let Some((first, others)) = parts.split_first() else {
        return uri.is_empty();
    };
    match first {
        Part::Literal(text) => uri
            .strip_prefix(text.as_str())
            .is_some_and(|rest| match_parts(others, rest, values)),
        Part::Variable { name, rest } => {
            let limit = if *rest {
                uri.len()
            } else {
                uri.find(['/', '?', '#']).unwrap_or(uri.len())
            };
            // Longest first, so that `{+path}` takes as much as it can.
            let ends = (1..=limit).rev().filter(|end| uri.is_char_boundary(*end));
            for end in ends {
                let mark = values.len();
                let value = if *rest {
                    uri[..end].to_owned()
                } else {
                    percent_decode(&uri[..end])
                };
                values.push((name.clone(), value));
                if match_parts(others, &uri[end..], values) {
                    return true;
                }
                values.truncate(mark);
            }
            false
        }
    }
}

/// Decode `%XX` triplets; anything that is not a valid triplet, or decodes
/// to bytes that are not UTF-8, stays as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).unwrap_or_else(|_| text.to_owned())
}

fn percent_encode(value: &str, keep_reserved: bool, out: &mut String) {
    const RESERVED: &str = ":/?#[]@!$&'()*+,;=";
    for c in value.chars() {
        let unreserved = c.is_ascii_alphanumeric() || "-._~".contains(c);
        if unreserved || (keep_reserved && (RESERVED.contains(c) || c == '%')) {
            out.push(c);
        } else {
            let mut buffer = [0; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
}

/// The values a URI gave the variables of a template, in the template's
/// order.
///
/// ```
/// use toolhost_sdk::template::UriTemplate;
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
    /// # use toolhost_sdk::template::UriTemplate;
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
    /// # use toolhost_sdk::template::UriTemplate;
    /// let captures = UriTemplate::parse("a://{b}/{c}").unwrap().matches("a://1/2").unwrap();
    /// assert_eq!(captures.iter().count(), 2);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captures(template: &str, uri: &str) -> Option<Vec<(String, String)>> {
        let template = UriTemplate::parse(template).unwrap();
        template.matches(uri).map(|captures| {
            captures
                .iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect()
        })
    }

    fn pairs(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            pairs
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_simple_variable_is_one_path_segment() {
        let template = "test://template/{id}/data";
        assert_eq!(
            captures(template, "test://template/123/data"),
            pairs(&[("id", "123")])
        );
        assert_eq!(captures(template, "test://template/1/2/data"), None);
        assert_eq!(captures(template, "test://template//data"), None);
        assert_eq!(captures(template, "test://template/123/data/"), None);
        assert_eq!(captures(template, "test://other/123/data"), None);
        assert_eq!(captures("a://{x}", "a://b?c"), None);
    }

    #[test]
    fn a_reserved_variable_takes_the_rest_with_slashes() {
        assert_eq!(
            captures("file:///{+path}", "file:///a/b/c.txt"),
            pairs(&[("path", "a/b/c.txt")])
        );
        assert_eq!(
            captures("repo://{owner}/{+path}/raw", "repo://me/src/lib.rs/raw"),
            pairs(&[("owner", "me"), ("path", "src/lib.rs")])
        );
        // The longest match wins when a literal appears twice.
        assert_eq!(
            captures("x://{+a}/end", "x://1/end/2/end"),
            pairs(&[("a", "1/end/2")])
        );
    }

    #[test]
    fn simple_values_are_percent_decoded_and_reserved_ones_are_not() {
        assert_eq!(
            captures("n://{name}", "n://caf%C3%A9%20au%20lait"),
            pairs(&[("name", "café au lait")])
        );
        assert_eq!(
            captures("n://{name}", "n://100%"),
            pairs(&[("name", "100%")])
        );
        assert_eq!(
            captures("n://{+name}", "n://a%2Fb"),
            pairs(&[("name", "a%2Fb")])
        );
    }

    #[test]
    fn templates_without_variables_match_exactly() {
        assert_eq!(captures("test://static", "test://static"), pairs(&[]));
        assert_eq!(captures("test://static", "test://static2"), None);
    }

    #[test]
    fn unsupported_syntax_is_refused_with_its_position() {
        for (template, offset, reason) in [
            ("a://{", 4, "never closed"),
            ("a://}", 4, "without an opening"),
            ("a://{?q}", 4, "not supported"),
            ("a://{x,y}", 4, "not supported"),
            ("a://{x*}", 4, "not supported"),
            ("a://{x:3}", 4, "not supported"),
            ("a://{}", 4, "not supported"),
            ("a://{x}{y}", 7, "separated by literal text"),
            ("a://{x}/{x}", 8, "already appears"),
        ] {
            let err = UriTemplate::parse(template).unwrap_err();
            assert_eq!(err.offset(), offset, "{template}: {err}");
            assert!(err.to_string().contains(reason), "{template}: {err}");
        }
    }

    #[test]
    fn expansion_encodes_what_matching_decodes() {
        let template = UriTemplate::parse("n://{folder}/{+path}").unwrap();
        let uri = template.expand(&[("folder", "a b/c"), ("path", "x/y z")]);
        assert_eq!(uri, "n://a%20b%2Fc/x/y%20z");
        let captures = template.matches(&uri).unwrap();
        assert_eq!(captures.get("folder"), Some("a b/c"));
    }

    #[test]
    fn multibyte_characters_are_matched_whole() {
        assert_eq!(captures("n://{a}é", "n://ééé"), pairs(&[("a", "éé")]));
    }
}
