//! Template text → parts, refusing what matching does not support.

use std::fmt;

use crate::{MAX_TEMPLATE_LEN, MAX_VARIABLES, Part};

/// Why a template does not parse: the template, the byte offset of the
/// problem and what is wrong there.
///
/// ```
/// use toolhost_uri_template::UriTemplate;
///
/// let err = UriTemplate::parse("test://{a}{b}").unwrap_err();
/// assert_eq!(err.offset(), 10);
/// assert!(err.to_string().contains("separated by literal text"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// The template, cut short when it is too long to quote whole.
    template: String,
    offset: usize,
    reason: String,
}

/// Templates longer than this are quoted in errors by their start only.
const QUOTED_LEN: usize = 100;

impl TemplateError {
    fn new(template: &str, offset: usize, reason: impl Into<String>) -> Self {
        let template = if template.len() > QUOTED_LEN {
            let mut end = QUOTED_LEN;
            while !template.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}… ({} bytes)", &template[..end], template.len())
        } else {
            template.to_owned()
        };
        TemplateError {
            template,
            offset,
            reason: reason.into(),
        }
    }

    /// Byte offset into the template where the problem is.
    ///
    /// ```
    /// # use toolhost_uri_template::UriTemplate;
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

/// The parts of `template`: literals merged, never empty, and never two
/// variables in a row.
pub(crate) fn parts(template: &str) -> Result<Vec<Part>, TemplateError> {
    let error = |offset: usize, reason: &str| TemplateError::new(template, offset, reason);
    if template.len() > MAX_TEMPLATE_LEN {
        return Err(error(
            MAX_TEMPLATE_LEN,
            &format!(
                "the template is {} bytes long; templates of at most {MAX_TEMPLATE_LEN} bytes \
                 are supported",
                template.len()
            ),
        ));
    }
    let mut parts: Vec<Part> = Vec::new();
    let mut variables = 0;
    let mut literal_start = 0;
    let mut at = 0;
    while let Some(found) = template[at..].find(['{', '}']) {
        let start = at + found;
        if template.as_bytes()[start] == b'}' {
            return Err(error(start, "`}` without an opening `{`"));
        }
        let Some(len) = template[start + 1..].find('}') else {
            return Err(error(start, "`{` is never closed by `}`"));
        };
        let expression = &template[start + 1..start + 1 + len];
        let (name, reserved) = parse_expression(expression).map_err(|why| error(start, &why))?;
        if literal_start < start {
            parts.push(Part::Literal(template[literal_start..start].to_owned()));
        } else if matches!(parts.last(), Some(Part::Variable { .. })) {
            return Err(error(
                start,
                "two expressions must be separated by literal text, or a URI could match them \
                 in several ways",
            ));
        }
        if parts
            .iter()
            .any(|part| matches!(part, Part::Variable { name: earlier, .. } if earlier == name))
        {
            return Err(error(start, "this variable already appears earlier"));
        }
        variables += 1;
        if variables > MAX_VARIABLES {
            return Err(error(
                start,
                &format!("templates with more than {MAX_VARIABLES} variables are not supported"),
            ));
        }
        parts.push(Part::Variable {
            name: name.to_owned(),
            reserved,
        });
        at = start + 1 + len + 1;
        literal_start = at;
    }
    if literal_start < template.len() {
        parts.push(Part::Literal(template[literal_start..].to_owned()));
    }
    Ok(parts)
}

/// `name` or `+name` → (name, whether reserved).
fn parse_expression(expression: &str) -> Result<(&str, bool), String> {
    let (name, reserved) = match expression.strip_prefix('+') {
        Some(name) => (name, true),
        None => (expression, false),
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '%');
    if valid {
        Ok((name, reserved))
    } else {
        Err(format!(
            "`{{{expression}}}` is not supported: only `{{name}}` (one path segment) and \
             `{{+name}}` (the rest of a path) are, with a variable name of `A-Z a-z 0-9 _ .`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::{MAX_TEMPLATE_LEN, UriTemplate};

    #[test]
    fn unsupported_syntax_is_refused_with_its_position() {
        for (template, offset, reason) in [
            ("a://{", 4, "never closed"),
            ("a://}", 4, "without an opening"),
            ("a://{x}}", 7, "without an opening"),
            ("a://{?q}", 4, "not supported"),
            ("a://{x,y}", 4, "not supported"),
            ("a://{x*}", 4, "not supported"),
            ("a://{x:3}", 4, "not supported"),
            ("a://{}", 4, "not supported"),
            ("a://{+}", 4, "not supported"),
            ("a://{x{y}", 4, "not supported"),
            ("a://{x}{y}", 7, "separated by literal text"),
            ("a://{x}{+y}", 7, "separated by literal text"),
            ("a://{x}/{x}", 8, "already appears"),
            ("a://{x}/{+x}", 8, "already appears"),
        ] {
            let err = UriTemplate::parse(template).unwrap_err();
            assert_eq!(err.offset(), offset, "{template}: {err}");
            assert!(err.to_string().contains(reason), "{template}: {err}");
        }
    }

    #[test]
    fn supported_syntax_parses_into_merged_parts() {
        for template in ["", "a://b", "{x}", "{+x}/", "é{x}é", "a://{x_1.y%20}/{+Z}"] {
            let parsed = UriTemplate::parse(template).unwrap();
            assert_eq!(parsed.as_str(), template);
        }
    }

    #[test]
    fn a_long_template_is_refused_and_quoted_by_its_start() {
        let template = format!("x://{}", "é".repeat(MAX_TEMPLATE_LEN));
        let err = UriTemplate::parse(&template).unwrap_err().to_string();
        assert!(err.contains("at most 1024 bytes"), "{err}");
        assert!(
            err.contains(&format!("({} bytes)", template.len())),
            "{err}"
        );
        assert!(err.len() < 400, "{err}");
    }
}
