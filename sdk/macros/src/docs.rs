//! Descriptions from doc comments.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Expr, ExprLit, Lit, Meta};

/// One `#[doc = ...]` attribute: literal text (what `///` and `/** */`
/// become) or an expression such as `include_str!("group.md")`.
enum Piece {
    Text(String),
    Expr(Expr),
}

/// The documentation written on an item, as an expression of type
/// `&'static str`: a string literal for plain doc comments, a `concat!` when
/// some of it comes from macros such as `include_str!`.
pub fn doc_expr(attrs: &[Attribute]) -> TokenStream {
    let pieces = pieces(attrs);
    if pieces.iter().all(|piece| matches!(piece, Piece::Text(_))) {
        let lines: Vec<&str> = pieces
            .iter()
            .filter_map(|piece| match piece {
                Piece::Text(text) => Some(text.as_str()),
                Piece::Expr(_) => None,
            })
            .collect();
        let text = unindent(&lines);
        return quote!(#text);
    }
    let parts = pieces.iter().map(|piece| match piece {
        Piece::Text(text) => {
            let text = unindent(&[text.as_str()]);
            quote!(#text, "\n",)
        }
        Piece::Expr(expr) => quote!(#expr, "\n",),
    });
    quote!(::core::concat!(#(#parts)*).trim_ascii())
}

fn pieces(attrs: &[Attribute]) -> Vec<Piece> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(nv) => Some(match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(text),
                    ..
                }) => Piece::Text(text.value()),
                expr => Piece::Expr(expr.clone()),
            }),
            // `#[doc(hidden)]`, `#[doc(alias = "...")]`: not text.
            _ => None,
        })
        .collect()
}

/// Join doc lines the way rustdoc shows them: remove the indentation every
/// non-blank line shares (the space after `///`), keep blank lines between
/// paragraphs, drop blank lines at both ends and trailing whitespace.
pub fn unindent(docs: &[&str]) -> String {
    let lines: Vec<&str> = docs.iter().flat_map(|doc| doc.split('\n')).collect();
    let indent = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let lines: Vec<&str> = lines
        .iter()
        .map(|line| line.get(indent..).unwrap_or("").trim_end())
        .collect();
    let first = lines.iter().position(|line| !line.is_empty());
    let last = lines.iter().rposition(|line| !line.is_empty());
    match (first, last) {
        (Some(first), Some(last)) => lines[first..=last].join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs_of(item: &str) -> String {
        let item: syn::ItemFn = syn::parse_str(item).unwrap();
        let expr = doc_expr(&item.attrs);
        let lit: syn::LitStr = syn::parse2(expr).unwrap();
        lit.value()
    }

    #[test]
    fn line_comments_lose_the_space_after_the_slashes() {
        let text = docs_of(
            "/// Divide `a` by `b`.\n///\n/// Second paragraph,\n/// two lines.\nfn f() {}",
        );
        assert_eq!(text, "Divide `a` by `b`.\n\nSecond paragraph,\ntwo lines.");
    }

    #[test]
    fn relative_indentation_is_kept() {
        let text = docs_of("/// Example:\n///\n///     let x = 1;\nfn f() {}");
        assert_eq!(text, "Example:\n\n    let x = 1;");
    }

    #[test]
    fn block_comments_are_unindented_and_trimmed() {
        let text = docs_of("/**\n    First.\n\n    Second.\n*/\nfn f() {}");
        assert_eq!(text, "First.\n\nSecond.");
    }

    #[test]
    fn no_docs_is_an_empty_description() {
        assert_eq!(docs_of("#[doc(hidden)] fn f() {}"), "");
    }

    #[test]
    fn docs_from_macros_are_concatenated() {
        let item: syn::ItemFn =
            syn::parse_str("/// Intro.\n#[doc = include_str!(\"x.md\")]\nfn f() {}").unwrap();
        let expr = doc_expr(&item.attrs).to_string();
        assert!(expr.contains("concat"), "{expr}");
        assert!(expr.contains("include_str"), "{expr}");
    }
}
