//! Listing: the exported `listing` interface, from `unlisted` on
//! `#[operation]`, `#[prompt]` and `#[resource]`.

use super::{Group, GroupDef};
use crate::__private::bindings::exports::toolhost::plugin::listing as wit;
use crate::__private::bindings::toolhost::plugin::types::ItemKind;

impl<G: Group> wit::Guest for G {
    fn unlisted() -> Vec<(ItemKind, String)> {
        unlisted(G::GROUP)
    }
}

fn unlisted(group: &GroupDef) -> Vec<(ItemKind, String)> {
    let operations = group.operations.iter();
    let prompts = group.prompts.iter();
    let resources = group.resources.iter();
    let templates = group.templates.iter();
    operations
        .filter(|o| o.unlisted)
        .map(|o| (ItemKind::Operation, o.name))
        .chain(
            prompts
                .filter(|p| p.unlisted)
                .map(|p| (ItemKind::Prompt, p.name)),
        )
        .chain(
            resources
                .filter(|r| r.unlisted)
                .map(|r| (ItemKind::Resource, r.uri)),
        )
        .chain(
            templates
                .filter(|t| t.unlisted)
                .map(|t| (ItemKind::ResourceTemplate, t.uri_template)),
        )
        .map(|(kind, name)| (kind, name.to_owned()))
        .collect()
}
