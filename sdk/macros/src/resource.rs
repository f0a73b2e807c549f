//! One `#[resource]` function: a static resource (`uri = "..."`) or a
//! resource template (`template = "..."`), and the glue that reads it.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Ident, ItemFn, LitStr, Pat, Path, Type};

use crate::docs::doc_expr;
use crate::signature::{
    Returns, attr_args, check_plain, is_context, option_str, parse_returns, published_name,
    reference_to, typed_inputs,
};

const KEYS: &[&str] = &["uri", "template", "name", "title", "mime_type"];

/// A resource function ready to be generated.
pub struct Resource {
    /// The URI or URI template as written.
    pub address: LitStr,
    /// Whether `address` is a template.
    pub is_template: bool,
    name: String,
    name_span: Span,
    title: Option<LitStr>,
    mime_type: Option<LitStr>,
    /// `unlisted`: not listed until the group lists it.
    unlisted: bool,
    docs: TokenStream,
    function: Ident,
    takes_context: bool,
    variables: Variables,
    returns: Returns,
}

/// How a template function takes the template's variables.
enum Variables {
    /// A static resource: none.
    None,
    /// One parameter per variable, in the function's order: its name and
    /// whether it is a `&str`.
    Each(Vec<(String, Type)>),
    /// One struct whose fields are the variables.
    Struct(Type),
}

impl Resource {
    pub fn new(attr: &Attribute, function: &ItemFn) -> syn::Result<Self> {
        let (args, flags) = attr_args(attr, KEYS, &["unlisted"], "resource")?;
        let (address, is_template) = match (args.get("uri"), args.get("template")) {
            (Some(uri), None) => (uri.clone(), false),
            (None, Some(template)) => (template.clone(), true),
            _ => {
                return Err(syn::Error::new_spanned(
                    attr,
                    "a resource has either `uri = \"...\"` (one static resource) or \
                     `template = \"...\"` (an RFC 6570 URI template such as \
                     `file:///{+path}`)",
                ));
            }
        };
        check_plain(function, "resource functions")?;
        let (name, name_span) = published_name(args.get("name"), function, "resource")?;
        let returns = parse_returns(
            &function.sig.output,
            "`String`, `Vec<u8>`, `ResourcePart`, `Vec<ResourcePart>`, ...",
        )?;
        let mut inputs = typed_inputs(function, "resource functions")?
            .into_iter()
            .peekable();
        let takes_context = match inputs.peek() {
            Some((_, ty)) if is_context(ty)? => {
                inputs.next();
                true
            }
            _ => false,
        };
        let rest: Vec<(&Pat, &Type)> = inputs.collect();
        let variables = if is_template {
            template_parameters(&address, &rest)?
        } else if let Some((_, ty)) = rest.first() {
            return Err(syn::Error::new(
                ty.span(),
                "a static resource takes no parameters but `ctx: &Context`; for a family of \
                 resources use `template = \"...\"` and take its variables",
            ));
        } else {
            Variables::None
        };
        Ok(Resource {
            address,
            is_template,
            name,
            name_span,
            title: args.get("title").cloned(),
            mime_type: args.get("mime_type").cloned(),
            unlisted: flags.contains("unlisted"),
            docs: doc_expr(&function.attrs),
            function: function.sig.ident.clone(),
            takes_context,
            variables,
            returns,
        })
    }

    /// The published name and where it was written.
    pub fn name(&self) -> (&str, Span) {
        (&self.name, self.name_span)
    }

    fn glue_name(&self) -> Ident {
        format_ident!("__toolhost_read_{}", self.function)
    }

    /// The function that runs the resource function and converts its
    /// result.
    pub fn glue(&self, krate: &Path) -> TokenStream {
        let glue = self.glue_name();
        let function = &self.function;
        let mut call_args = Vec::new();
        if self.takes_context {
            call_args.push(quote!(ctx));
        }
        let mut bindings = Vec::new();
        match &self.variables {
            Variables::None => {}
            Variables::Each(parameters) => {
                for (index, (name, ty)) in parameters.iter().enumerate() {
                    let local = format_ident!("__variable_{index}");
                    let binding = if reference_to(ty, "str").is_some() {
                        quote!(let #local = captures.get(#name).unwrap_or_default();)
                    } else {
                        quote_spanned! {ty.span()=>
                            let #local: #ty = #krate::__private::template_variable::<#ty>(captures, #name)?;
                        }
                    };
                    bindings.push(binding);
                    call_args.push(quote!(#local));
                }
            }
            Variables::Struct(ty) => {
                bindings.push(quote_spanned! {ty.span()=>
                    let args: #ty = #krate::__private::template_arguments::<#ty>(captures)?;
                });
                call_args.push(quote!(args));
            }
        }
        let value = self.returns.value(quote!(#function(#(#call_args),*)));
        let ok = &self.returns.ok;
        let convert = quote_spanned! {ok.span()=>
            <#ok as #krate::__private::IntoResourceContents>::into_resource_parts(value)
        };
        let captures = if self.is_template {
            quote!(captures: &#krate::__private::Captures,)
        } else {
            quote!()
        };
        quote! {
            #[doc(hidden)]
            #[allow(unused_variables, clippy::needless_question_mark)]
            fn #glue(
                ctx: &#krate::Context,
                #captures
            ) -> ::core::result::Result<
                ::std::vec::Vec<#krate::ResourcePart>,
                #krate::ToolError,
            > {
                #(#bindings)*
                let value = #value;
                #convert
            }
        }
    }

    /// The `ResourceDef` or `TemplateDef` describing this resource.
    pub fn definition(&self, krate: &Path) -> TokenStream {
        let name = &self.name;
        let title = option_str(self.title.as_ref());
        let mime_type = option_str(self.mime_type.as_ref());
        let docs = &self.docs;
        let address = &self.address;
        let glue = self.glue_name();
        let unlisted = self.unlisted;
        if self.is_template {
            quote! {
                #krate::__private::TemplateDef {
                    uri_template: #address,
                    name: #name,
                    title: #title,
                    unlisted: #unlisted,
                    description: #docs,
                    mime_type: #mime_type,
                    read: #glue,
                }
            }
        } else {
            quote! {
                #krate::__private::ResourceDef {
                    uri: #address,
                    name: #name,
                    title: #title,
                    unlisted: #unlisted,
                    description: #docs,
                    mime_type: #mime_type,
                    read: #glue,
                }
            }
        }
    }
}

/// The names of a template's variables: `{name}` and `{+name}`. The SDK
/// checks the rest of the syntax in the group's contract test.
pub fn template_variables(template: &str) -> Vec<String> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(expression, _)| expression.trim_start_matches('+').to_owned())
        .collect()
}

/// Parameters named after the template's variables, or one struct.
fn template_parameters(template: &LitStr, parameters: &[(&Pat, &Type)]) -> syn::Result<Variables> {
    let variables = template_variables(&template.value());
    let named = |pat: &Pat| match pat {
        Pat::Ident(ident) => Some(ident.ident.to_string()),
        _ => None,
    };
    let by_name = parameters
        .iter()
        .all(|(pat, _)| named(pat).is_some_and(|name| variables.contains(&name)));
    if by_name {
        return Ok(Variables::Each(
            parameters
                .iter()
                .map(|(pat, ty)| (named(pat).unwrap_or_default(), (*ty).clone()))
                .collect(),
        ));
    }
    match parameters {
        [(_, ty)] if !matches!(ty, Type::Reference(_)) => Ok(Variables::Struct((*ty).clone())),
        _ => {
            let (pat, _) = parameters
                .iter()
                .find(|(pat, _)| !named(pat).is_some_and(|name| variables.contains(&name)))
                .expect("some parameter is not a variable");
            Err(syn::Error::new(
                pat.span(),
                format!(
                    "this parameter is not a variable of the template; take the variables \
                     ({}) as parameters of the same names (`String`, `&str` or any `FromStr` \
                     type), or all of them as one struct deriving `Deserialize`",
                    variables
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse::Parser;

    fn resource(attr: &str, function: &str) -> syn::Result<Resource> {
        let attrs = Attribute::parse_outer
            .parse_str(attr)
            .expect("attribute parses");
        let function: ItemFn = syn::parse_str(function).expect("function parses");
        Resource::new(&attrs[0], &function)
    }

    #[test]
    fn template_variables_are_taken_by_name_or_as_one_struct() {
        let by_name = resource(
            "#[resource(template = \"x://{owner}/{+path}\")]",
            "fn f(ctx: &Context, path: &str, owner: String) -> String { todo!() }",
        )
        .unwrap();
        assert!(by_name.takes_context && by_name.is_template);
        assert!(matches!(&by_name.variables, Variables::Each(v)
            if v.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>() == ["path", "owner"]));
        let by_struct = resource(
            "#[resource(template = \"x://{owner}\", name = \"repo\")]",
            "fn f(args: Repo) -> String { todo!() }",
        )
        .unwrap();
        assert!(matches!(by_struct.variables, Variables::Struct(_)));
        assert_eq!(by_struct.name().0, "repo");
    }

    #[test]
    fn wrong_resources_are_explained() {
        for (attr, function, expected) in [
            ("#[resource(name = \"a\")]", "fn f() {}", "either `uri"),
            (
                "#[resource(uri = \"a://\", template = \"a://{b}\")]",
                "fn f() {}",
                "either `uri",
            ),
            (
                "#[resource(uri = \"a://\")]",
                "fn f(id: String) {}",
                "takes no parameters",
            ),
            (
                "#[resource(template = \"a://{id}\")]",
                "fn f(a: &str, b: &str) {}",
                "not a variable",
            ),
            (
                "#[resource(uri = \"a://\", mime = \"x\")]",
                "fn f() {}",
                "unknown resource attribute",
            ),
            (
                "#[resource(uri = \"a://\")]",
                "async fn f() {}",
                "synchronous",
            ),
        ] {
            let err = resource(attr, function).err().expect(function);
            assert!(
                err.to_string().contains(expected),
                "{attr} {function}: {err}"
            );
        }
    }

    #[test]
    fn variables_are_read_from_the_template() {
        assert_eq!(template_variables("a://{x}/{+y}/z"), ["x", "y"]);
        assert!(template_variables("a://static").is_empty());
    }
}
