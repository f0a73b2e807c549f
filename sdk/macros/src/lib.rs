//! Procedural macros of [`toolhost-sdk`](https://docs.rs/toolhost-sdk):
//! `#[group]` and `#[operation]`. Use them through `toolhost_sdk::prelude`;
//! their documentation lives there.

#![warn(missing_docs)]

mod docs;
mod group;
mod operation;

use proc_macro::TokenStream;

/// (Implemented by the `toolhost-sdk-macros` crate.)
#[proc_macro_attribute]
pub fn group(args: TokenStream, item: TokenStream) -> TokenStream {
    group::expand(args.into(), item.into()).into()
}

/// (Implemented by the `toolhost-sdk-macros` crate: `#[group]` consumes
/// these attributes, so this macro only runs on one outside a group, and
/// reports that mistake.)
#[proc_macro_attribute]
pub fn operation(_args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let error = syn::Error::new(
        proc_macro2::Span::call_site(),
        "#[operation] only works on a function directly inside a `#[group(name = \"...\")] mod`",
    )
    .into_compile_error();
    quote::quote!(#error #item).into()
}
