//! `#[group]`: turn an inline module of `#[operation]` functions into the
//! exported component interface.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Attribute, Fields, Ident, Item, ItemMod, LitStr, Path, Token, Visibility};

use crate::complete::Complete;
use crate::docs::doc_expr;
use crate::operation::{Operation, OperationArgs};
use crate::prompt::Prompt;
use crate::resource::Resource;
use crate::signature::{check_name, is_attr};

/// The attributes `#[group]` consumes on the functions of its module.
const DECLARATIONS: [&str; 4] = ["operation", "resource", "prompt", "complete"];

fn is_declaration_attr(attr: &Attribute) -> bool {
    DECLARATIONS.iter().any(|name| is_attr(attr, name))
}

/// What `#[group(...)]` says.
struct GroupArgs {
    name: Option<LitStr>,
    version: Option<LitStr>,
    instructions: Option<LitStr>,
    /// `icon = "..."`, in order.
    icons: Vec<LitStr>,
    krate: Path,
}

impl GroupArgs {
    fn parse(args: TokenStream) -> syn::Result<Self> {
        let mut parsed = GroupArgs {
            name: None,
            version: None,
            instructions: None,
            icons: Vec::new(),
            krate: syn::parse_quote!(::toolhost_sdk),
        };
        let parser = syn::meta::parser(|meta| {
            let slot = if meta.path.is_ident("name") {
                &mut parsed.name
            } else if meta.path.is_ident("version") {
                &mut parsed.version
            } else if meta.path.is_ident("instructions") {
                &mut parsed.instructions
            } else if meta.path.is_ident("icon") {
                parsed.icons.push(meta.value()?.parse()?);
                return Ok(());
            } else if meta.path.is_ident("crate") {
                let path: LitStr = meta.value()?.parse()?;
                parsed.krate = path.parse()?;
                return Ok(());
            } else {
                return Err(meta.error(
                    "unknown group attribute; expected `name = \"...\"`, `version = \"...\"`, \
                     `instructions = \"...\"`, `icon = \"...\"` or `crate = \"...\"`",
                ));
            };
            *slot = Some(meta.value()?.parse()?);
            Ok(())
        });
        parser.parse2(args)?;
        Ok(parsed)
    }
}

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut module: ItemMod = match syn::parse2(item.clone()) {
        Ok(module) => module,
        Err(err) => {
            let err = syn::Error::new(
                err.span(),
                "#[group] goes on an inline module: `#[group(name = \"...\")] mod name { ... }`",
            )
            .into_compile_error();
            return quote!(#err #item);
        }
    };
    match expand_module(args, &mut module) {
        Ok(tokens) => tokens,
        Err(err) => {
            // Keep the module (minus the attributes that failed) so that the
            // rest of the crate still resolves its items: only the real
            // errors show.
            if let Some((_, items)) = &mut module.content {
                for item in items {
                    if let Some(attrs) = item_attrs(item) {
                        attrs.retain(|attr| !is_declaration_attr(attr));
                    }
                }
            }
            let err = err.into_compile_error();
            quote!(#module #err)
        }
    }
}

fn expand_module(args: TokenStream, module: &mut ItemMod) -> syn::Result<TokenStream> {
    let args = GroupArgs::parse(args)?;
    let Some(name) = &args.name else {
        return Err(syn::Error::new(
            Span::call_site(),
            "the group needs a name: #[group(name = \"...\")]",
        ));
    };
    check_name(&name.value(), name.span(), "group")?;
    let Some((_, items)) = &mut module.content else {
        return Err(syn::Error::new_spanned(
            &*module,
            "#[group] needs the module's items inline: write `mod name { ... }`, not `mod name;`",
        ));
    };

    let krate = &args.krate;
    // First, so that the derives compile even when an operation is wrong.
    let mut object_outputs = Vec::new();
    prepare_types(items, krate, &[], &mut object_outputs);
    let declared = take_declarations(items)?;
    check_unique(
        "operation",
        declared
            .operations
            .iter()
            .map(|op| (op.name.as_str(), op.name_span)),
    )?;
    check_unique("resource", declared.resources.iter().map(Resource::name))?;
    check_unique(
        "prompt",
        declared
            .prompts
            .iter()
            .map(|p| (p.name.as_str(), p.name_span)),
    )?;

    let operations = declared.operations.iter().map(|op| op.definition(krate));
    let resources = declared
        .resources
        .iter()
        .filter(|r| !r.is_template)
        .map(|r| r.definition(krate));
    let templates = declared
        .resources
        .iter()
        .filter(|r| r.is_template)
        .map(|r| r.definition(krate));
    let prompts = declared.prompts.iter().map(|p| p.definition(krate));
    let completions = declared.completions.iter().map(|c| c.definition(krate));
    let version = match &args.version {
        Some(version) => version.to_token_stream(),
        None => quote!(::core::env!("CARGO_PKG_VERSION")),
    };
    let instructions = match &args.instructions {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    };
    let description = doc_expr(&module.attrs);
    let icons = &args.icons;

    let generated: Vec<Item> = vec![
        syn::parse_quote! {
            /// What this group describes to the host. `#[used]` keeps the
            /// declared functions alive for the dead-code lint in native
            /// builds, which have no exports.
            #[doc(hidden)]
            #[used]
            static __TOOLHOST_GROUP: #krate::__private::GroupDef = #krate::__private::GroupDef {
                name: #name,
                version: #version,
                description: #description,
                instructions: #instructions,
                operations: &[#(#operations),*],
                resources: &[#(#resources),*],
                templates: &[#(#templates),*],
                prompts: &[#(#prompts),*],
                completions: &[#(#completions),*],
                icons: &[#(#icons),*],
            };
        },
        syn::parse_quote! {
            /// The type the component exports.
            #[doc(hidden)]
            #[allow(dead_code)]
            pub struct __ToolhostGroup;
        },
        syn::parse_quote! {
            impl #krate::__private::Group for __ToolhostGroup {
                const GROUP: &'static #krate::__private::GroupDef = &__TOOLHOST_GROUP;
            }
        },
        // Only a wasm build is a component; native builds (unit tests,
        // clippy, docs) leave the exports out.
        syn::parse_quote! {
            #[cfg(target_arch = "wasm32")]
            #krate::__export_service_group_impl!(
                __ToolhostGroup with_types_in #krate::__private::bindings
            );
        },
        syn::parse_quote! {
            /// Checks, natively, what the host checks when it loads the group.
            #[cfg(test)]
            #[test]
            fn toolhost_group_contract() {
                let problems = #krate::__private::check_group(&__TOOLHOST_GROUP);
                assert!(problems.is_empty(), "{}", problems.join("\n"));
                #(#krate::__private::assert_object_output::<#object_outputs>();)*
            }
        },
    ];
    let glue = declared
        .operations
        .iter()
        .map(|op| op.glue(krate))
        .chain(declared.resources.iter().map(|r| r.glue(krate)))
        .chain(declared.prompts.iter().map(|p| p.glue(krate)))
        .chain(declared.completions.iter().map(|c| c.glue(krate)));
    items.extend(glue.map(Item::Verbatim));
    items.extend(generated);
    Ok(module.to_token_stream())
}

/// The functions of the group module, by kind, in source order.
#[derive(Default)]
struct Declarations {
    operations: Vec<Operation>,
    resources: Vec<Resource>,
    prompts: Vec<Prompt>,
    completions: Vec<Complete>,
}

/// Remove the `#[operation]`, `#[resource]`, `#[prompt]` and `#[complete]`
/// attributes and describe the functions that had them.
fn take_declarations(items: &mut [Item]) -> syn::Result<Declarations> {
    let mut declared = Declarations::default();
    let mut errors: Option<syn::Error> = None;
    for item in items.iter_mut() {
        let Some(attrs) = item_attrs(item) else {
            continue;
        };
        let Some(index) = attrs.iter().position(is_declaration_attr) else {
            continue;
        };
        let attr = attrs.remove(index);
        let result = match item {
            Item::Fn(function) => {
                if let Some(second) = function.attrs.iter().find(|a| is_declaration_attr(a)) {
                    Err(syn::Error::new_spanned(
                        second,
                        "a function is one operation, resource, prompt or completion; \
                         write another function for this one",
                    ))
                } else {
                    declare(&attr, function, &mut declared)
                }
            }
            _ => Err(syn::Error::new_spanned(
                &attr,
                "this attribute goes on a function of the group module",
            )),
        };
        if let Err(err) = result {
            match &mut errors {
                Some(errors) => errors.combine(err),
                None => errors = Some(err),
            }
        }
    }
    match errors {
        Some(errors) => Err(errors),
        None => Ok(declared),
    }
}

fn declare(
    attr: &Attribute,
    function: &syn::ItemFn,
    declared: &mut Declarations,
) -> syn::Result<()> {
    if is_attr(attr, "operation") {
        let operation =
            OperationArgs::parse(attr).and_then(|args| Operation::new(args, function))?;
        declared.operations.push(operation);
    } else if is_attr(attr, "resource") {
        declared.resources.push(Resource::new(attr, function)?);
    } else if is_attr(attr, "prompt") {
        declared.prompts.push(Prompt::new(attr, function)?);
    } else {
        declared.completions.push(Complete::new(attr, function)?);
    }
    Ok(())
}

/// Refuse a name declared twice for the same kind (`what`).
fn check_unique<'a>(what: &str, names: impl Iterator<Item = (&'a str, Span)>) -> syn::Result<()> {
    let names: Vec<(&str, Span)> = names.collect();
    for (index, (name, span)) in names.iter().enumerate() {
        if let Some((_, first)) = names[..index].iter().find(|(earlier, _)| earlier == name) {
            let mut err = syn::Error::new(
                *span,
                format!(
                    "the group already has a {what} named `{name}`; give this one another \
                     name with #[{what}(name = \"...\")]"
                ),
            );
            err.combine(syn::Error::new(
                *first,
                format!("`{name}` is first defined here"),
            ));
            return Err(err);
        }
    }
    Ok(())
}

/// Prepare the types of the group module (and its inline submodules):
///
/// - point their serde and schemars derives at the crates the SDK
///   re-exports, so that plugins need not depend on them;
/// - mark the structs that certainly serialize as JSON objects
///   `ObjectOutput`, so that returning one skips generating its schema on
///   every call. Their paths, relative to the group module, go to `marked`
///   for the contract test to check.
fn prepare_types(
    items: &mut Vec<Item>,
    krate: &Path,
    prefix: &[Ident],
    marked: &mut Vec<TokenStream>,
) {
    let krate_text = krate.to_token_stream().to_string().replace(' ', "");
    let mut markers: Vec<Item> = Vec::new();
    for item in items.iter_mut() {
        if let Item::Mod(ItemMod {
            ident,
            content: Some((_, nested)),
            ..
        }) = item
        {
            let mut path = prefix.to_vec();
            path.push(ident.clone());
            prepare_types(nested, krate, &path, marked);
            continue;
        }
        if !matches!(item, Item::Struct(_) | Item::Enum(_) | Item::Union(_)) {
            continue;
        }
        let Some(attrs) = item_attrs(item) else {
            continue;
        };
        let derived = derived_names(attrs);
        let derives = |name: &str| derived.iter().any(|derived| derived == name);
        if (derives("Serialize") || derives("Deserialize")) && !sets_crate(attrs, "serde") {
            let path = format!("{krate_text}::serde");
            attrs.push(syn::parse_quote!(#[serde(crate = #path)]));
        }
        if derives("JsonSchema") && !sets_crate(attrs, "schemars") {
            let path = format!("{krate_text}::schemars");
            attrs.push(syn::parse_quote!(#[schemars(crate = #path)]));
        }
        if let Item::Struct(item) = item {
            let nameable = prefix.is_empty() || !matches!(item.vis, Visibility::Inherited);
            if nameable
                && derives("Serialize")
                && derives("JsonSchema")
                && matches!(item.fields, Fields::Named(_))
                && item.generics.params.is_empty()
                && !reshapes_itself(&item.attrs)
            {
                let ident = &item.ident;
                markers.push(syn::parse_quote! {
                    impl #krate::__private::ObjectOutput for #ident {}
                });
                marked.push(quote!(#(#prefix::)* #ident));
            }
        }
    }
    items.extend(markers);
}

/// Whether serde or schemars attributes make a struct serialize or describe
/// itself as something else than its fields (`transparent`, `into`,
/// `remote`).
fn reshapes_itself(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        (attr.path().is_ident("serde") || attr.path().is_ident("schemars"))
            && attr.meta.require_list().is_ok_and(|list| {
                list.tokens.clone().into_iter().any(|token| {
                    matches!(token, TokenTree::Ident(ident)
                        if ident == "transparent" || ident == "into" || ident == "remote")
                })
            })
    })
}

/// The last segments of every path in `#[derive(...)]` attributes.
fn derived_names(attrs: &[Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("derive"))
        .filter_map(|attr| {
            attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
        .filter_map(|path| {
            path.segments
                .last()
                .map(|segment| segment.ident.to_string())
        })
        .collect()
}

/// Whether an attribute such as `#[serde(crate = "...")]` is already there.
fn sets_crate(attrs: &[Attribute], tool: &str) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident(tool)
            && attr
                .meta
                .require_list()
                .is_ok_and(|list| list.tokens.to_string().contains("crate"))
    })
}

fn item_attrs(item: &mut Item) -> Option<&mut Vec<Attribute>> {
    match item {
        Item::Fn(item) => Some(&mut item.attrs),
        Item::Struct(item) => Some(&mut item.attrs),
        Item::Enum(item) => Some(&mut item.attrs),
        Item::Union(item) => Some(&mut item.attrs),
        Item::Const(item) => Some(&mut item.attrs),
        Item::Static(item) => Some(&mut item.attrs),
        Item::Type(item) => Some(&mut item.attrs),
        Item::Mod(item) => Some(&mut item.attrs),
        Item::Use(item) => Some(&mut item.attrs),
        Item::Impl(item) => Some(&mut item.attrs),
        Item::Trait(item) => Some(&mut item.attrs),
        Item::Macro(item) => Some(&mut item.attrs),
        _ => None,
    }
}
