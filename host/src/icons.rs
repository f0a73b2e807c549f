//! The icons a group declares (the optional `icons` export), checked
//! before they are published: they are untrusted metadata that clients
//! fetch or render.
//!
//! - `src` is an `https://` URL (at most [`MAX_URL`] bytes) or a `data:`
//!   URI of a PNG, JPEG, WebP, GIF or SVG image in base64 (at most
//!   [`MAX_DATA`] bytes). Nothing else: no `http:`, no `javascript:`, no
//!   `file:`, nothing that points at the client's own machine by scheme.
//! - `mimeType` is an `image/...` type; `sizes` are `WxH` or `any`;
//!   `theme` is `light` or `dark`.
//! - At most [`MAX_PER_ITEM`] icons per group or operation, and
//!   [`MAX_TOTAL`] bytes of `src` per group, of which at most
//!   [`MAX_GROUP`] in the group's own icons (sent with each of its tools
//!   that has none of its own).
//! - Checked in one pass over the declarations, whatever their number.
//!
//! A group that breaks a rule is refused at load, with a message naming
//! the icon and the rule.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use base64::Engine as _;

use crate::source::{Icon, Icons, Operation};

/// Most icons of one group or one operation.
pub const MAX_PER_ITEM: usize = 8;
/// Longest `https://` URL.
pub const MAX_URL: usize = 2048;
/// Longest `data:` URI.
pub const MAX_DATA: usize = 64 * 1024;
/// Most bytes of `src` in one group's icons.
pub const MAX_TOTAL: usize = 1024 * 1024;
/// Most bytes of `src` in the group's own icons, which every tool without
/// icons of its own repeats.
pub const MAX_GROUP: usize = 16 * 1024;

/// The image types a `data:` URI may carry.
const DATA_TYPES: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "image/svg+xml",
];

/// A group's icons as its tools publish them, shared rather than copied
/// into each tool.
pub struct Published<'a> {
    group: Arc<[Icon]>,
    operations: HashMap<&'a str, Arc<[Icon]>>,
}

impl Published<'_> {
    /// The icons of operation `name`: its own, else the group's.
    pub fn of(&self, name: &str) -> Arc<[Icon]> {
        self.operations.get(name).unwrap_or(&self.group).clone()
    }
}

/// `icons` checked, ready to publish; or the message that refuses the
/// group.
pub fn check<'a>(icons: &'a Icons, operations: &[Operation]) -> Result<Published<'a>, String> {
    let mut total = 0;
    check_list("the group's icons", &icons.group, &mut total)?;
    // The group's icons are repeated on each of its tools in every list.
    if total > MAX_GROUP {
        return Err(format!(
            "the group's icons take more than {MAX_GROUP} bytes together; they are sent \
             with every tool that has none of its own, so link large images by https:// URL"
        ));
    }
    let declared: HashSet<&str> = operations.iter().map(|op| op.name.as_str()).collect();
    let mut published = HashMap::with_capacity(icons.operations.len());
    for (name, list) in &icons.operations {
        let what = format!("the icons of operation `{}`", name.escape_debug());
        if !declared.contains(name.as_str()) {
            return Err(format!("{what}: the group declares no such operation"));
        }
        check_list(&what, list, &mut total)?;
        if published
            .insert(name.as_str(), list.as_slice().into())
            .is_some()
        {
            return Err(format!("{what} are declared twice"));
        }
    }
    Ok(Published {
        group: icons.group.as_slice().into(),
        operations: published,
    })
}

fn check_list(what: &str, icons: &[Icon], total: &mut usize) -> Result<(), String> {
    if icons.len() > MAX_PER_ITEM {
        return Err(format!(
            "{what}: {} icons, more than the {MAX_PER_ITEM} allowed",
            icons.len()
        ));
    }
    for (n, icon) in icons.iter().enumerate() {
        *total += icon.src.len();
        if *total > MAX_TOTAL {
            return Err(format!(
                "{what}: the group's icons take more than {MAX_TOTAL} bytes together; \
                 link large images by https:// URL"
            ));
        }
        check_icon(icon).map_err(|why| format!("{what}, icon {}: {why}", n + 1))?;
    }
    Ok(())
}

fn check_icon(icon: &Icon) -> Result<(), String> {
    let src = icon.src.as_str();
    if let Some(data) = src.strip_prefix("data:") {
        check_data(src, data)?;
    } else {
        check_url(src)?;
    }
    if let Some(mime) = &icon.mime_type {
        let subtype = mime.strip_prefix("image/").unwrap_or_default();
        let token = |c: char| c.is_ascii_alphanumeric() || "+-.".contains(c);
        if subtype.is_empty() || mime.len() > 64 || !subtype.chars().all(token) {
            return Err(format!(
                "mimeType `{}` is not an image type (image/png, image/svg+xml, ...)",
                mime.escape_debug()
            ));
        }
    }
    if icon.sizes.len() > MAX_PER_ITEM {
        return Err(format!("more than {MAX_PER_ITEM} sizes"));
    }
    for size in &icon.sizes {
        let valid = size == "any"
            || size.split_once('x').is_some_and(|(w, h)| {
                let number =
                    |s: &str| (1..=5).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
                number(w) && number(h)
            });
        if !valid {
            return Err(format!(
                "size `{}` is neither `WxH` (as `48x48`) nor `any`",
                size.escape_debug()
            ));
        }
    }
    match icon.theme.as_deref() {
        None | Some("light" | "dark") => Ok(()),
        Some(other) => Err(format!(
            "theme `{}` is neither `light` nor `dark`",
            other.escape_debug()
        )),
    }
}

fn check_url(src: &str) -> Result<(), String> {
    if src.len() > MAX_URL {
        return Err(format!("the URL is longer than {MAX_URL} bytes"));
    }
    let uri: http::Uri = src
        .parse()
        .map_err(|_| "src is neither an https:// URL nor a data: URI".to_owned())?;
    match (uri.scheme_str(), uri.host()) {
        (Some("https"), Some(host)) if !host.is_empty() => Ok(()),
        _ => Err("src must be an https:// URL with a host, or a data: URI".into()),
    }
}

fn check_data(src: &str, data: &str) -> Result<(), String> {
    if src.len() > MAX_DATA {
        return Err(format!(
            "the data: URI is longer than {MAX_DATA} bytes; link the image by https:// URL"
        ));
    }
    let Some((kind, payload)) = data.split_once(";base64,") else {
        return Err("a data: URI must carry base64 data (`data:image/png;base64,...`)".into());
    };
    if !DATA_TYPES.contains(&kind) {
        return Err(format!(
            "a data: URI must hold one of {}, not `{}`",
            DATA_TYPES.join(", "),
            kind.escape_debug()
        ));
    }
    base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|e| format!("the data: URI's base64 does not decode: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn icon(src: &str) -> Icon {
        Icon {
            src: src.into(),
            mime_type: None,
            sizes: Vec::new(),
            theme: None,
        }
    }

    fn group(icons: Vec<Icon>) -> Result<(), String> {
        let icons = Icons {
            group: icons,
            operations: Vec::new(),
        };
        check(&icons, &[]).map(|_| ())
    }

    #[test]
    fn https_urls_and_image_data_are_accepted() {
        let mut themed = icon("https://example.com/icon.svg");
        themed.sizes = vec!["48x48".into(), "any".into()];
        themed.theme = Some("dark".into());
        themed.mime_type = Some("image/svg+xml".into());
        let data = icon("data:image/png;base64,iVBORw0KGgo=");
        assert_eq!(group(vec![themed, data]), Ok(()));
    }

    #[test]
    fn other_schemes_and_bad_fields_are_refused_with_the_rule() {
        for (src, rule) in [
            ("http://example.com/i.png", "https:// URL"),
            ("javascript:alert(1)", "https:// URL"),
            ("file:///etc/passwd", "https:// URL"),
            ("data:text/html;base64,PGI+", "must hold one of"),
            ("data:image/png,raw", "base64 data"),
            ("data:image/png;base64,@@@", "does not decode"),
        ] {
            let refused = group(vec![icon(src)]).unwrap_err();
            assert!(refused.contains(rule), "{src}: {refused}");
            assert!(
                refused.starts_with("the group's icons, icon 1: "),
                "{refused}"
            );
        }
        let mut sized = icon("https://example.com/i.png");
        sized.sizes = vec!["huge".into()];
        assert!(group(vec![sized]).unwrap_err().contains("size `huge`"));
        let mut themed = icon("https://example.com/i.png");
        themed.theme = Some("neon".into());
        assert!(group(vec![themed]).unwrap_err().contains("theme `neon`"));
        let many = vec![icon("https://example.com/i.png"); MAX_PER_ITEM + 1];
        assert!(group(many).unwrap_err().contains("more than the 8 allowed"));
    }

    #[test]
    fn the_group_icons_every_tool_repeats_are_small() {
        let data = format!("data:image/png;base64,{}", "A".repeat(12 * 1024));
        let refused = group(vec![icon(&data), icon(&data)]).unwrap_err();
        assert!(refused.contains("sent with every tool"), "{refused}");
    }

    #[test]
    fn icons_of_an_unknown_operation_are_refused() {
        let icons = Icons {
            group: Vec::new(),
            operations: vec![("ghost".into(), vec![icon("https://example.com/i.png")])],
        };
        let Err(refused) = check(&icons, &[]) else {
            panic!("icons of an unknown operation pass");
        };
        assert!(refused.contains("declares no such operation"), "{refused}");
    }
}
