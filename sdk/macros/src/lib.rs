//! Procedural macros of [`toolhost-sdk`](https://docs.rs/toolhost-sdk):
//! `#[group]`, `#[operation]`, `#[resource]`, `#[prompt]` and `#[complete]`.
//! Use them through `toolhost_sdk::prelude`; their documentation lives
//! there.

#![warn(missing_docs)]

mod complete;
mod docs;
mod group;
mod operation;
mod prompt;
mod resource;
mod signature;

use proc_macro::TokenStream;

/// (Implemented by the `toolhost-sdk-macros` crate.)
#[proc_macro_attribute]
pub fn group(args: TokenStream, item: TokenStream) -> TokenStream {
    group::expand(args.into(), item.into()).into()
}

/// `#[group]` consumes these attributes, so the macros below only run on
/// one outside a group, and report that mistake.
fn outside_group(what: &str, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let error = syn::Error::new(
        proc_macro2::Span::call_site(),
        format!(
            "#[{what}] only works on a function directly inside a `#[group(name = \"...\")] mod`"
        ),
    )
    .into_compile_error();
    quote::quote!(#error #item).into()
}

/// (Implemented by the `toolhost-sdk-macros` crate; consumed by `#[group]`.)
#[proc_macro_attribute]
pub fn operation(_args: TokenStream, item: TokenStream) -> TokenStream {
    outside_group("operation", item)
}

/// (Implemented by the `toolhost-sdk-macros` crate; consumed by `#[group]`.)
#[proc_macro_attribute]
pub fn resource(_args: TokenStream, item: TokenStream) -> TokenStream {
    outside_group("resource", item)
}

/// (Implemented by the `toolhost-sdk-macros` crate; consumed by `#[group]`.)
#[proc_macro_attribute]
pub fn prompt(_args: TokenStream, item: TokenStream) -> TokenStream {
    outside_group("prompt", item)
}

/// (Implemented by the `toolhost-sdk-macros` crate; consumed by `#[group]`.)
#[proc_macro_attribute]
pub fn complete(_args: TokenStream, item: TokenStream) -> TokenStream {
    outside_group("complete", item)
}
