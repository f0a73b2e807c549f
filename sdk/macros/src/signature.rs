//! What every kind of annotated function shares: attribute values, the
//! checks on its signature, and how its result is taken apart.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, ItemFn, LitStr, Pat, PathArguments, ReturnType, Type,
};

/// Whether `attr` is `#[name]` / `#[name(...)]` / `#[path::name]`.
pub fn is_attr(attr: &Attribute, name: &str) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == name)
}

/// The `key = "value"` pairs of an attribute whose keys are all in
/// `allowed`; `what` names the attribute in errors.
pub fn string_args(
    attr: &Attribute,
    allowed: &[&str],
    what: &str,
) -> syn::Result<BTreeMap<String, LitStr>> {
    Ok(attr_args(attr, allowed, &[], what)?.0)
}

/// The `key = "value"` pairs of an attribute whose keys are all in
/// `allowed`, and the bare words of it that are in `flags`; `what` names
/// the attribute in errors.
pub fn attr_args(
    attr: &Attribute,
    allowed: &[&str],
    flags: &[&str],
    what: &str,
) -> syn::Result<(BTreeMap<String, LitStr>, BTreeSet<String>)> {
    let mut values = BTreeMap::new();
    let mut set = BTreeSet::new();
    if matches!(attr.meta, syn::Meta::Path(_)) {
        return Ok((values, set));
    }
    attr.parse_nested_meta(|meta| {
        if let Some(flag) = flags.iter().find(|flag| meta.path.is_ident(flag)) {
            if !set.insert((*flag).to_owned()) {
                return Err(meta.error(format!("`{flag}` is already set")));
            }
            return Ok(());
        }
        let Some(key) = allowed.iter().find(|key| meta.path.is_ident(key)) else {
            let expected: Vec<String> = allowed
                .iter()
                .map(|key| format!("`{key} = \"...\"`"))
                .chain(flags.iter().map(|flag| format!("`{flag}`")))
                .collect();
            return Err(meta.error(format!(
                "unknown {what} attribute; expected {}",
                expected.join(", ")
            )));
        };
        if values.contains_key(*key) {
            return Err(meta.error(format!("`{key}` is already set")));
        }
        values.insert((*key).to_owned(), meta.value()?.parse()?);
        Ok(())
    })?;
    Ok((values, set))
}

/// `Some("...")` or `None`, as an expression of type `Option<&'static str>`.
pub fn option_str(value: Option<&LitStr>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// Names become parts of MCP names, which clients restrict to
/// `[A-Za-z0-9_-]`.
pub fn check_name(name: &str, span: Span, what: &str) -> syn::Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!(
                "{what} name `{name}` must be 1 to 64 characters from `A-Z a-z 0-9 _ -` \
                 (MCP clients reject other tool names)"
            ),
        ))
    }
}

/// The published name: `name = "..."`, else the function's name.
pub fn published_name(
    name: Option<&LitStr>,
    function: &ItemFn,
    what: &str,
) -> syn::Result<(String, Span)> {
    let (name, span) = match name {
        Some(name) => (name.value(), name.span()),
        None => {
            let name = function.sig.ident.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
            (name, function.sig.ident.span())
        }
    };
    check_name(&name, span, what)?;
    Ok((name, span))
}

/// Refuse what no annotated function may be: async, unsafe, generic,
/// variadic. `what` is the plural used in messages ("operations").
pub fn check_plain(function: &ItemFn, what: &str) -> syn::Result<()> {
    let signature = &function.sig;
    if let Some(asyncness) = signature.asyncness {
        return Err(syn::Error::new(
            asyncness.span(),
            format!("{what} are synchronous functions; remove `async`"),
        ));
    }
    if let Some(unsafety) = signature.unsafety {
        return Err(syn::Error::new(
            unsafety.span(),
            format!("{what} cannot be `unsafe fn`; put the unsafe block inside the function"),
        ));
    }
    if !signature.generics.params.is_empty() || signature.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            signature.generics.span(),
            format!("{what} cannot be generic: the argument and result types must be concrete"),
        ));
    }
    if let Some(variadic) = &signature.variadic {
        return Err(syn::Error::new(
            variadic.span(),
            format!("{what} cannot be variadic"),
        ));
    }
    Ok(())
}

/// The parameters, refusing `self`.
pub fn typed_inputs<'a>(function: &'a ItemFn, what: &str) -> syn::Result<Vec<(&'a Pat, &'a Type)>> {
    function
        .sig
        .inputs
        .iter()
        .map(|arg| match arg {
            FnArg::Typed(pat_type) => Ok((&*pat_type.pat, &*pat_type.ty)),
            FnArg::Receiver(receiver) => Err(syn::Error::new(
                receiver.span(),
                format!("{what} are free functions; remove `self`"),
            )),
        })
        .collect()
}

/// For `&Name` / `&path::Name`: `Some(is_mut)`; `None` for other types.
pub fn reference_to(ty: &Type, name: &str) -> Option<bool> {
    let Type::Reference(reference) = ty else {
        return None;
    };
    let names_it = matches!(&*reference.elem, Type::Path(path)
        if path.qself.is_none()
            && path.path.segments.last().is_some_and(|segment| segment.ident == name));
    names_it.then_some(reference.mutability.is_some())
}

/// `&Context`; an error for `&mut Context`.
pub fn is_context(ty: &Type) -> syn::Result<bool> {
    match reference_to(ty, "Context") {
        None => Ok(false),
        Some(false) => Ok(true),
        Some(true) => Err(syn::Error::new(
            ty.span(),
            "take the context as `&Context`, not `&mut Context`",
        )),
    }
}

/// The arguments a generated glue function passes to a function taking
/// optionally `ctx: &Context` and optionally an arguments struct, and the
/// statement that parses that struct from the glue's `arguments` with
/// `#krate::__private::#parser`.
pub fn context_and_arguments(
    krate: &syn::Path,
    takes_context: bool,
    argument: Option<&Type>,
    parser: &str,
) -> (Vec<TokenStream>, Option<TokenStream>) {
    let mut call_args = Vec::new();
    if takes_context {
        call_args.push(quote!(ctx));
    }
    let parser = syn::Ident::new(parser, Span::call_site());
    let parse = argument.map(|ty| {
        call_args.push(quote!(args));
        quote_spanned! {ty.span()=>
            let args: #ty = #krate::__private::#parser::<#ty>(arguments)?;
        }
    });
    (call_args, parse)
}

/// What the function returns: `R`, or `Result<R, E>` (or an alias such as
/// `Result<R>`) where `E` converts into `ToolError`.
pub struct Returns {
    /// `R`, the value converted into the output.
    pub ok: Type,
    /// For a `Result`, the span of its error type (or of the whole type), to
    /// blame when the error does not convert into `ToolError`.
    pub fallible: Option<Span>,
}

impl Returns {
    /// `call`, with `?` when the function returns a `Result`.
    pub fn value(&self, call: TokenStream) -> TokenStream {
        match self.fallible {
            None => call,
            Some(span) => quote_spanned!(span=> #call?),
        }
    }
}

/// The return type; `concrete` says what to return instead of `impl Trait`.
pub fn parse_returns(output: &ReturnType, concrete: &str) -> syn::Result<Returns> {
    let ty = match output {
        ReturnType::Default => {
            return Ok(Returns {
                ok: syn::parse_quote!(()),
                fallible: None,
            });
        }
        ReturnType::Type(_, ty) => &**ty,
    };
    let plain = || {
        Ok(Returns {
            ok: ty.clone(),
            fallible: None,
        })
    };
    if let Type::ImplTrait(_) = ty {
        return Err(syn::Error::new(
            ty.span(),
            format!("return a concrete type ({concrete})"),
        ));
    }
    let Type::Path(path) = ty else {
        return plain();
    };
    let Some(last) = path.path.segments.last() else {
        return plain();
    };
    if last.ident != "Result" {
        return plain();
    }
    let types: Vec<&Type> = match &last.arguments {
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    match types.as_slice() {
        [] => Err(syn::Error::new(
            ty.span(),
            "write the success type: `Result<T, ToolError>`",
        )),
        [ok, rest @ ..] => Ok(Returns {
            ok: (*ok).clone(),
            // Point at the error type when it is written out.
            fallible: Some(rest.first().map_or_else(|| ty.span(), |err| err.span())),
        }),
    }
}
