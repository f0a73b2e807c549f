//! One `#[prompt]` function: its attribute, its signature, and the glue
//! that renders it with the arguments of `prompts/get`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Ident, ItemFn, LitStr, Path, Type};

use crate::docs::doc_expr;
use crate::signature::{
    Returns, attr_args, check_plain, context_and_arguments, is_context, option_str, parse_returns,
    published_name, typed_inputs,
};

/// A prompt ready to be generated.
pub struct Prompt {
    /// Published name.
    pub name: String,
    /// Where to point when the name is a duplicate.
    pub name_span: Span,
    title: Option<LitStr>,
    /// `unlisted`: not listed until the group lists it.
    unlisted: bool,
    docs: TokenStream,
    function: Ident,
    takes_context: bool,
    argument: Option<Type>,
    returns: Returns,
}

impl Prompt {
    pub fn new(attr: &Attribute, function: &ItemFn) -> syn::Result<Self> {
        let (args, flags) = attr_args(attr, &["name", "title"], &["unlisted"], "prompt")?;
        check_plain(function, "prompts")?;
        let (name, name_span) = published_name(args.get("name"), function, "prompt")?;
        let returns = parse_returns(
            &function.sig.output,
            "`String`, `Vec<Message>`, `PromptResult`, ...",
        )?;
        let inputs = typed_inputs(function, "prompts")?;
        let mut takes_context = false;
        let mut argument = None;
        for (index, (_, ty)) in inputs.iter().enumerate() {
            if index == 0 && is_context(ty)? {
                takes_context = true;
            } else if argument.is_none() && !matches!(ty, Type::Reference(_) | Type::ImplTrait(_)) {
                argument = Some((*ty).clone());
            } else {
                return Err(syn::Error::new(
                    ty.span(),
                    "a prompt takes `ctx: &Context` and one arguments struct (deriving \
                     `Deserialize` and `JsonSchema`, with `String` fields), both optional, \
                     in that order",
                ));
            }
        }
        Ok(Prompt {
            name,
            name_span,
            title: args.get("title").cloned(),
            unlisted: flags.contains("unlisted"),
            docs: doc_expr(&function.attrs),
            function: function.sig.ident.clone(),
            takes_context,
            argument,
            returns,
        })
    }

    fn glue_name(&self) -> Ident {
        format_ident!("__toolhost_prompt_{}", self.function)
    }

    /// The function that parses the arguments, renders the prompt and
    /// converts its result.
    pub fn glue(&self, krate: &Path) -> TokenStream {
        let glue = self.glue_name();
        let function = &self.function;
        let (call_args, parse) = context_and_arguments(
            krate,
            self.takes_context,
            self.argument.as_ref(),
            "parse_prompt_arguments",
        );
        let value = self.returns.value(quote!(#function(#(#call_args),*)));
        let ok = &self.returns.ok;
        let convert = quote_spanned! {ok.span()=>
            <#ok as #krate::__private::IntoPromptResult>::into_prompt_result(value)
        };
        quote! {
            #[doc(hidden)]
            #[allow(unused_variables, clippy::needless_question_mark)]
            fn #glue(
                ctx: &#krate::Context,
                arguments: &[(::std::string::String, ::std::string::String)],
            ) -> ::core::result::Result<#krate::PromptResult, #krate::ToolError> {
                #parse
                let value = #value;
                #convert
            }
        }
    }

    /// The `PromptDef` describing this prompt.
    pub fn definition(&self, krate: &Path) -> TokenStream {
        let name = &self.name;
        let title = option_str(self.title.as_ref());
        let docs = &self.docs;
        let arguments = match &self.argument {
            Some(ty) => quote_spanned!(ty.span()=> #krate::__private::prompt_arguments_of::<#ty>),
            None => quote!(#krate::__private::prompt_arguments),
        };
        let glue = self.glue_name();
        let unlisted = self.unlisted;
        quote! {
            #krate::__private::PromptDef {
                name: #name,
                title: #title,
                unlisted: #unlisted,
                description: #docs,
                arguments: #arguments,
                get: #glue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse::Parser;

    fn prompt(function: &str) -> syn::Result<Prompt> {
        let attrs = Attribute::parse_outer
            .parse_str("#[prompt(title = \"T\")]")
            .expect("attribute parses");
        let function: ItemFn = syn::parse_str(function).expect("function parses");
        Prompt::new(&attrs[0], &function)
    }

    #[test]
    fn context_and_arguments_are_both_optional() {
        for function in [
            "fn p() -> String { todo!() }",
            "fn p(ctx: &Context) -> String { todo!() }",
            "fn p(args: Args) -> Vec<Message> { todo!() }",
            "fn p(ctx: &Context, Args { a }: Args) -> Result<PromptResult, ToolError> { todo!() }",
        ] {
            assert!(prompt(function).is_ok(), "{function}");
        }
    }

    #[test]
    fn wrong_prompts_are_explained() {
        for function in [
            "fn p(a: A, ctx: &Context) {}",
            "fn p(a: &str) {}",
            "fn p(a: A, b: B) {}",
        ] {
            let err = prompt(function).err().expect(function);
            assert!(
                err.to_string().contains("in that order"),
                "{function}: {err}"
            );
        }
    }
}
