//! How published names are formed and checked: the one place for the
//! `<namespace><separator><name>` rule and the name rule, shared by tools,
//! prompts, resources and templates.

/// How published names are formed and checked.
#[derive(Debug, Clone)]
pub struct Naming {
    /// Between prefix and operation name.
    pub separator: String,
    /// Require `^[A-Za-z0-9_-]{1,64}$`, what the OpenAI and Anthropic APIs accept.
    pub strict: bool,
}

impl Naming {
    /// `name` under `prefix` (`""` for none), checked.
    pub fn publish(&self, prefix: &str, name: &str) -> Result<String, String> {
        let published = self.join(prefix, name);
        check_name(&published, self.strict).map_err(|why| format!("`{published}` {why}"))?;
        Ok(published)
    }

    /// A resource's or template's `name` under `prefix`: a label, never
    /// used to address anything (the URI is), so any printable text of 1
    /// to 128 characters.
    pub fn label(&self, prefix: &str, name: &str) -> Result<String, String> {
        let published = self.join(prefix, name);
        if name.is_empty() || published.chars().count() > 128 {
            return Err(format!(
                "`{}` must be 1 to 128 characters long",
                published.escape_debug()
            ));
        }
        if published.chars().any(char::is_control) {
            return Err(format!(
                "`{}` holds control characters",
                published.escape_debug()
            ));
        }
        Ok(published)
    }

    /// Whether names under `a` and under `b` could collide: one prefix,
    /// with its separator, starts the other (`text_` and `text_regex_`).
    /// An empty prefix (no namespace) is the operator's explicit choice and
    /// overlaps nothing.
    pub fn overlap(&self, a: &str, b: &str) -> bool {
        if a.is_empty() || b.is_empty() {
            return false;
        }
        let (a, b) = (
            format!("{a}{}", self.separator),
            format!("{b}{}", self.separator),
        );
        a.starts_with(&b) || b.starts_with(&a)
    }

    /// `name` under `prefix`, unchecked.
    pub fn join(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}{}{name}", self.separator)
        }
    }
}

/// Checks a published name.
pub fn check_name(name: &str, strict: bool) -> Result<(), &'static str> {
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (!strict && c == '.');
    if name.is_empty() || name.len() > 64 {
        return Err("must be 1 to 64 characters long");
    }
    if !name.chars().all(allowed) {
        return Err(if strict {
            "may only contain A-Z, a-z, 0-9, `_` and `-` (what the OpenAI and Anthropic APIs accept)"
        } else {
            "may only contain A-Z, a-z, 0-9, `_`, `-` and `.`"
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_api_rule() {
        assert!(check_name("math_divide", true).is_ok());
        assert!(check_name("math.divide", true).is_err());
        assert!(check_name("math.divide", false).is_ok());
        assert!(check_name("", true).is_err());
        assert!(check_name(&"x".repeat(65), true).is_err());
        assert!(check_name("héllo", false).is_err());
    }

    #[test]
    fn prefixes_join_with_the_separator() {
        let naming = Naming {
            separator: "_".into(),
            strict: true,
        };
        assert_eq!(naming.publish("math", "add").unwrap(), "math_add");
        assert_eq!(naming.publish("", "add").unwrap(), "add");
        assert!(
            naming
                .publish("m.x", "add")
                .unwrap_err()
                .contains("`m.x_add`")
        );
    }
}
