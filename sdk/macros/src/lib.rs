//! Procedural macros of [`toolhost-sdk`](https://docs.rs/toolhost-sdk):
//! `#[group]` and `#[operation]`. Use them through `toolhost_sdk::prelude`;
//! their documentation lives there.

mod docs;
mod group;
mod operation;

use proc_macro::TokenStream;

/// Turn an inline module into a toolhost service group. See
/// `toolhost_sdk::group` for the full documentation.
#[proc_macro_attribute]
pub fn group(args: TokenStream, item: TokenStream) -> TokenStream {
    group::expand(args.into(), item.into()).into()
}

/// Mark a function of a `#[group]` module as an operation. See
/// `toolhost_sdk::operation` for the full documentation.
///
/// `#[group]` consumes these attributes; this macro only runs when the
/// attribute is used outside a group, and then reports that mistake.
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
