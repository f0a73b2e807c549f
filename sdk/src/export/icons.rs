//! Icons: the exported `icons` interface.

use super::{Group, GroupDef};
use crate::__private::bindings::exports::toolhost::plugin::icons as wit;

impl<G: Group> wit::Guest for G {
    fn group() -> Vec<wit::Icon> {
        G::GROUP.icons.iter().map(|src| icon(src)).collect()
    }

    fn operations() -> Vec<(String, Vec<wit::Icon>)> {
        G::GROUP
            .operations
            .iter()
            .filter(|operation| !operation.icons.is_empty())
            .map(|operation| {
                let icons = operation.icons.iter().map(|src| icon(src)).collect();
                (operation.name.to_owned(), icons)
            })
            .collect()
    }
}

/// An icon at `src`, with its MIME type when the URI says it.
fn icon(src: &str) -> wit::Icon {
    wit::Icon {
        src: src.to_owned(),
        mime_type: mime_type(src).map(str::to_owned),
        sizes: Vec::new(),
        theme: None,
    }
}

/// The image type a `data:` URI names, or a URL's file extension implies.
fn mime_type(src: &str) -> Option<&str> {
    if let Some(data) = src.strip_prefix("data:") {
        return data.split_once(';').map(|(kind, _)| kind);
    }
    let path = src.split(['?', '#']).next().unwrap_or_default();
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

/// Problems with the icons the host would refuse at load.
pub(super) fn check(group: &GroupDef, problems: &mut Vec<String>) {
    let owners = std::iter::once(("the group", group.icons)).chain(
        group
            .operations
            .iter()
            .map(|operation| (operation.name, operation.icons)),
    );
    for (owner, icons) in owners {
        if icons.len() > 8 {
            problems.push(format!("{owner} has more than 8 icons"));
        }
        for src in icons {
            let https = src.starts_with("https://");
            let data = src.starts_with("data:image/") && src.contains(";base64,");
            if !https && !data {
                problems.push(format!(
                    "icon `{src}` of {owner} must be an https:// URL or a base64 \
                     data:image/... URI"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mime_type_comes_from_the_data_uri_or_the_extension() {
        assert_eq!(mime_type("data:image/png;base64,AAAA"), Some("image/png"));
        assert_eq!(mime_type("https://x.org/i.SVG?v=2"), Some("image/svg+xml"));
        assert_eq!(mime_type("https://x.org/icon"), None);
    }
}
