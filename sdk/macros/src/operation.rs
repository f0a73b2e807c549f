//! One `#[operation]` function: its attribute, its signature, and the glue
//! that calls it with JSON arguments.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Ident, ItemFn, LitBool, LitStr, Path, Type};

use crate::docs::doc_expr;
use crate::signature::{
    Returns, check_name, check_plain, context_and_arguments, is_context, parse_returns,
    published_name, typed_inputs,
};

/// What `#[operation(...)]` says.
pub struct OperationArgs {
    /// Published name and the span to blame for it.
    pub name: Option<LitStr>,
    title: Option<LitStr>,
    /// `read_only`, `destructive`, `idempotent`, `open_world`.
    annotations: [Option<bool>; 4],
    /// `icon = "..."`, in order.
    icons: Vec<LitStr>,
    /// `unlisted`: not listed until the group lists it.
    unlisted: bool,
}

const ANNOTATIONS: [&str; 4] = ["read_only", "destructive", "idempotent", "open_world"];

impl OperationArgs {
    pub fn parse(attr: &Attribute) -> syn::Result<Self> {
        let mut args = OperationArgs {
            name: None,
            title: None,
            annotations: [None; 4],
            icons: Vec::new(),
            unlisted: false,
        };
        if matches!(attr.meta, syn::Meta::Path(_)) {
            return Ok(args);
        }
        attr.parse_nested_meta(|meta| {
            if let Some(index) = ANNOTATIONS.iter().position(|name| meta.path.is_ident(name)) {
                if args.annotations[index].is_some() {
                    return Err(meta.error("this annotation is already set"));
                }
                let value = if meta.input.peek(syn::Token![=]) {
                    meta.value()?.parse::<LitBool>()?.value
                } else {
                    true
                };
                args.annotations[index] = Some(value);
            } else if meta.path.is_ident("name") {
                let name: LitStr = meta.value()?.parse()?;
                check_name(&name.value(), name.span(), "operation")?;
                args.name = Some(name);
            } else if meta.path.is_ident("title") {
                args.title = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("icon") {
                args.icons.push(meta.value()?.parse()?);
            } else if meta.path.is_ident("unlisted") {
                args.unlisted = true;
            } else {
                return Err(meta.error(
                    "unknown operation attribute; expected `read_only`, `destructive`, \
                     `idempotent`, `open_world` (each optionally `= true|false`), \
                     `name = \"...\"`, `title = \"...\"`, `icon = \"...\"` or `unlisted`",
                ));
            }
            Ok(())
        })?;
        Ok(args)
    }
}

/// An operation ready to be generated.
pub struct Operation {
    /// Published name.
    pub name: String,
    /// Where to point when the name is a duplicate.
    pub name_span: Span,
    title: Option<LitStr>,
    annotations: [Option<bool>; 4],
    icons: Vec<LitStr>,
    unlisted: bool,
    docs: TokenStream,
    function: Ident,
    takes_context: bool,
    argument: Option<Type>,
    returns: Returns,
}

impl Operation {
    pub fn new(args: OperationArgs, function: &ItemFn) -> syn::Result<Self> {
        check_plain(function, "operations")?;
        let (takes_context, argument) = parse_inputs(function)?;
        let returns = parse_returns(
            &function.sig.output,
            "`Serialize + JsonSchema`, `ToolOutput`, `Vec<Content>`, ...) so that the output \
             schema can be derived from it",
        )?;
        let (name, name_span) = published_name(args.name.as_ref(), function, "operation")?;
        Ok(Operation {
            name,
            name_span,
            title: args.title,
            annotations: args.annotations,
            icons: args.icons,
            unlisted: args.unlisted,
            docs: doc_expr(&function.attrs),
            function: function.sig.ident.clone(),
            takes_context,
            argument,
            returns,
        })
    }

    /// The name of the generated function that runs this operation.
    fn glue_name(&self) -> Ident {
        format_ident!("__toolhost_call_{}", self.function)
    }

    /// The name of the generated function that gives its output schema.
    fn schema_glue_name(&self) -> Ident {
        format_ident!("__toolhost_output_schema_{}", self.function)
    }

    /// The functions that parse arguments, call the operation and convert
    /// its result, and that give its output schema.
    pub fn glue(&self, krate: &Path) -> TokenStream {
        let glue = self.glue_name();
        let function = &self.function;
        let (call_args, parse) = context_and_arguments(
            krate,
            self.takes_context,
            self.argument.as_ref(),
            "parse_arguments",
        );
        let value = self.returns.value(quote!(#function(#(#call_args),*)));
        let ok = &self.returns.ok;
        let convert = quote_spanned! {ok.span()=>
            #[allow(unused_imports)]
            use #krate::__private::{AnyOutput as _, SpecialOutput as _};
            (&#krate::__private::Returned::<#ok>::new(value)).convert()
        };
        let schema = quote_spanned! {ok.span()=>
            (&#krate::__private::Returned::<#ok>::probe()).output_schema()
        };
        let schema_glue = self.schema_glue_name();
        quote! {
            #[doc(hidden)]
            fn #schema_glue() -> ::core::option::Option<#krate::serde_json::Value> {
                #[allow(unused_imports)]
                use #krate::__private::{AnyOutput as _, SpecialOutput as _};
                #schema
            }

            #[doc(hidden)]
            #[allow(unused_variables, clippy::needless_question_mark)]
            fn #glue(
                ctx: &#krate::Context,
                arguments: &str,
            ) -> ::core::result::Result<#krate::ToolOutput, #krate::ToolError> {
                #parse
                let value = #value;
                #convert
            }
        }
    }

    /// The `OperationDef` describing this operation.
    pub fn definition(&self, krate: &Path) -> TokenStream {
        let name = &self.name;
        let title = match &self.title {
            Some(title) => quote!(::core::option::Option::Some(#title)),
            None => quote!(::core::option::Option::None),
        };
        let docs = &self.docs;
        let annotations = self.annotations.iter().map(|value| match value {
            Some(value) => quote!(::core::option::Option::Some(#value)),
            None => quote!(::core::option::Option::None),
        });
        let input_schema = match &self.argument {
            Some(ty) => quote_spanned!(ty.span()=> #krate::__private::input_schema::<#ty>),
            None => quote!(#krate::__private::no_input_schema),
        };
        let output_schema = self.schema_glue_name();
        let glue = self.glue_name();
        let icons = &self.icons;
        let unlisted = self.unlisted;
        quote! {
            #krate::__private::OperationDef {
                name: #name,
                title: #title,
                description: #docs,
                annotations: [#(#annotations),*],
                input_schema: #input_schema,
                output_schema: #output_schema,
                call: #glue,
                icons: &[#(#icons),*],
                unlisted: #unlisted,
            }
        }
    }
}

/// `(ctx: &Context, args: T)`, `(args: T)`, `(ctx: &Context)` or `()`.
fn parse_inputs(function: &ItemFn) -> syn::Result<(bool, Option<Type>)> {
    let inputs = typed_inputs(function, "operations")?;
    if let Some((_, extra)) = inputs.get(2) {
        return Err(syn::Error::new(
            extra.span(),
            "an operation takes at most two parameters: `ctx: &Context` and the arguments struct",
        ));
    }
    let argument = |ty: &Type| -> syn::Result<Type> {
        if let Type::Reference(_) = ty {
            return Err(syn::Error::new(
                ty.span(),
                "arguments are taken by value (they are deserialized from JSON); \
                 the only reference parameter an operation takes is `ctx: &Context`",
            ));
        }
        check_argument(ty)?;
        Ok(ty.clone())
    };
    match inputs.as_slice() {
        [] => Ok((false, None)),
        [(_, only)] if is_context(only)? => Ok((true, None)),
        [(_, only)] => Ok((false, Some(argument(only)?))),
        [(_, first), (_, second)] => {
            if !is_context(first)? {
                return Err(syn::Error::new(
                    first.span(),
                    "with two parameters, the first must be the context: `ctx: &Context`",
                ));
            }
            Ok((true, Some(argument(second)?)))
        }
        _ => unreachable!("more than two parameters were refused above"),
    }
}

fn check_argument(ty: &Type) -> syn::Result<()> {
    if let Type::ImplTrait(_) = ty {
        return Err(syn::Error::new(
            ty.span(),
            "the arguments must be a concrete type deriving `Deserialize` and `JsonSchema`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operation(attr: &str, function: &str) -> syn::Result<Operation> {
        let attrs = syn::Attribute::parse_outer
            .parse_str(attr)
            .expect("attribute parses");
        let function: ItemFn = syn::parse_str(function).expect("function parses");
        Operation::new(OperationArgs::parse(&attrs[0])?, &function)
    }

    use syn::parse::Parser;

    #[test]
    fn flags_may_be_bare_or_explicit() {
        let op = operation(
            "#[operation(read_only, idempotent = false, title = \"Divide\")]",
            "fn divide(ctx: &Context, Pair { a, b }: Pair) -> Result<f64, ToolError> { todo!() }",
        )
        .unwrap();
        assert_eq!(op.annotations, [Some(true), None, Some(false), None]);
        assert_eq!(op.name, "divide");
        assert!(op.takes_context);
        assert!(op.argument.is_some());
        assert!(op.returns.fallible.is_some());
    }

    #[test]
    fn every_accepted_signature_parses() {
        for function in [
            "fn f() {}",
            "fn f(ctx: &Context) -> u8 { 0 }",
            "fn f(args: Args) -> Result<Out> { todo!() }",
            "fn f(_: &toolhost_sdk::Context, Args { x }: Args) -> Vec<Content> { todo!() }",
        ] {
            assert!(operation("#[operation]", function).is_ok(), "{function}");
        }
    }

    #[test]
    fn wrong_signatures_are_explained() {
        for (function, expected) in [
            ("fn f(a: &str) {}", "taken by value"),
            ("fn f(a: A, ctx: &Context) {}", "first must be the context"),
            ("fn f(ctx: &mut Context) {}", "not `&mut Context`"),
            ("fn f(ctx: &Context, a: A, b: B) {}", "at most two"),
            ("async fn f() {}", "synchronous"),
            ("fn f<T>(a: T) {}", "generic"),
            ("fn f() -> impl Serialize { 1 }", "concrete type"),
        ] {
            let err = operation("#[operation]", function).err().expect(function);
            assert!(err.to_string().contains(expected), "{function}: {err}");
        }
    }

    #[test]
    fn names_must_suit_mcp_clients() {
        assert!(operation("#[operation(name = \"a.b\")]", "fn f() {}").is_err());
        let op = operation("#[operation(name = \"get-item\")]", "fn f() {}").unwrap();
        assert_eq!(op.name, "get-item");
    }

    #[test]
    fn unknown_attributes_are_rejected() {
        let err = operation("#[operation(readonly)]", "fn f() {}")
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("unknown operation attribute"),
            "{err}"
        );
    }
}
