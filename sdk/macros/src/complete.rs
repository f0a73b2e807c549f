//! One `#[complete]` function: which argument it completes, and the glue
//! that calls it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Ident, ItemFn, LitStr, Path};

use crate::signature::{
    Returns, check_plain, is_context, parse_returns, reference_to, string_args, typed_inputs,
};

/// A completion function ready to be generated.
pub struct Complete {
    /// `prompt = "..."` (true) or `template = "..."` (false), and its value.
    pub target: (bool, LitStr),
    /// The argument or variable completed.
    pub argument: LitStr,
    function: Ident,
    /// In the function's order: `ctx`, `value`, `context`.
    parameters: Vec<TokenStream>,
    returns: Returns,
}

impl Complete {
    pub fn new(attr: &Attribute, function: &ItemFn) -> syn::Result<Self> {
        let args = string_args(attr, &["prompt", "template", "argument"], "complete")?;
        let target = match (args.get("prompt"), args.get("template")) {
            (Some(prompt), None) => (true, prompt.clone()),
            (None, Some(template)) => (false, template.clone()),
            _ => {
                return Err(syn::Error::new_spanned(
                    attr,
                    "say what the function completes: `prompt = \"name\"` or \
                     `template = \"uri-template\"`, and `argument = \"...\"`",
                ));
            }
        };
        let Some(argument) = args.get("argument").cloned() else {
            return Err(syn::Error::new_spanned(
                attr,
                "say which argument (or template variable) the function completes: \
                 `argument = \"...\"`",
            ));
        };
        check_plain(function, "completion functions")?;
        let returns = parse_returns(
            &function.sig.output,
            "`Vec<String>`, `Vec<&str>` or `Completion`",
        )?;
        let mut parameters = Vec::new();
        for (_, ty) in typed_inputs(function, "completion functions")? {
            let parameter = if is_context(ty)? {
                quote!(ctx)
            } else if reference_to(ty, "str") == Some(false) {
                quote!(value)
            } else if reference_to(ty, "CompletionContext") == Some(false) {
                quote!(context)
            } else {
                return Err(syn::Error::new(
                    ty.span(),
                    "a completion function takes, in any order, `ctx: &Context`, \
                     `value: &str` (what the user typed) and `context: &CompletionContext` \
                     (the arguments already chosen), each optional",
                ));
            };
            if parameters
                .iter()
                .any(|p: &TokenStream| p.to_string() == parameter.to_string())
            {
                return Err(syn::Error::new(
                    ty.span(),
                    "this parameter is already taken",
                ));
            }
            parameters.push(parameter);
        }
        Ok(Complete {
            target,
            argument,
            function: function.sig.ident.clone(),
            parameters,
            returns,
        })
    }

    fn glue_name(&self) -> Ident {
        format_ident!("__toolhost_complete_{}", self.function)
    }

    /// The function that calls the completion function and converts its
    /// result.
    pub fn glue(&self, krate: &Path) -> TokenStream {
        let glue = self.glue_name();
        let function = &self.function;
        let parameters = &self.parameters;
        let value = self.returns.value(quote!(#function(#(#parameters),*)));
        let ok = &self.returns.ok;
        let convert = quote_spanned! {ok.span()=>
            <#ok as #krate::__private::IntoCompletion>::into_completion(value)
        };
        quote! {
            #[doc(hidden)]
            #[allow(unused_variables, clippy::needless_question_mark)]
            fn #glue(
                ctx: &#krate::Context,
                value: &str,
                context: &#krate::CompletionContext,
            ) -> ::core::result::Result<#krate::Completion, #krate::ToolError> {
                let value = #value;
                #convert
            }
        }
    }

    /// The `CompletionDef` describing this function.
    pub fn definition(&self, krate: &Path) -> TokenStream {
        let (is_prompt, target) = &self.target;
        let target = if *is_prompt {
            quote!(#krate::__private::CompletionTarget::Prompt(#target))
        } else {
            quote!(#krate::__private::CompletionTarget::Template(#target))
        };
        let argument = &self.argument;
        let glue = self.glue_name();
        quote! {
            #krate::__private::CompletionDef {
                target: #target,
                argument: #argument,
                complete: #glue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse::Parser;

    fn complete(attr: &str, function: &str) -> syn::Result<Complete> {
        let attrs = Attribute::parse_outer
            .parse_str(attr)
            .expect("attribute parses");
        let function: ItemFn = syn::parse_str(function).expect("function parses");
        Complete::new(&attrs[0], &function)
    }

    #[test]
    fn parameters_are_recognized_by_type_in_any_order() {
        let def = complete(
            "#[complete(prompt = \"p\", argument = \"a\")]",
            "fn f(context: &CompletionContext, value: &str, ctx: &Context) -> Vec<String> { todo!() }",
        )
        .unwrap();
        let parameters: Vec<String> = def.parameters.iter().map(ToString::to_string).collect();
        assert_eq!(parameters, ["context", "value", "ctx"]);
    }

    #[test]
    fn wrong_completions_are_explained() {
        for (attr, function, expected) in [
            (
                "#[complete(argument = \"a\")]",
                "fn f() {}",
                "say what the function completes",
            ),
            ("#[complete(prompt = \"p\")]", "fn f() {}", "which argument"),
            (
                "#[complete(prompt = \"p\", argument = \"a\")]",
                "fn f(v: String) {}",
                "in any order",
            ),
            (
                "#[complete(prompt = \"p\", argument = \"a\")]",
                "fn f(a: &str, b: &str) {}",
                "already taken",
            ),
        ] {
            let err = complete(attr, function).err().expect(function);
            assert!(
                err.to_string().contains(expected),
                "{attr} {function}: {err}"
            );
        }
    }
}
