//! `#[traced]` for wasmtrace plugins; use it as `wasmtrace_sdk::traced`.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{
    FnArg, Ident, ItemFn, LitStr, Pat, PathArguments, ReturnType, Token, Type, parse_macro_input,
};

/// Runs the function inside a span named after it, with its arguments as
/// attributes, and, when it returns a `Result`, an `Err` recorded as the
/// span's error (an `exception` event whose `exception.type` is the error
/// type's path, left out for message-only errors such as `&str` and
/// `String`; and status Error).
///
/// ```ignore
/// #[wasmtrace_sdk::traced]
/// fn parse_order(id: i64, body: &str) -> Result<Order, OrderError> { .. }
///
/// #[wasmtrace_sdk::traced(name = "db.query", skip(conn))]
/// fn query(conn: &Connection, table: &str) -> Vec<Row> { .. }
/// ```
///
/// Options: `name = "..."` (default: the function's name), `skip(a, b)`
/// (arguments left out), `skip_all`. Arguments whose type converts into
/// `wasmtrace_sdk::Value` (strings, integers, floats, booleans, arrays)
/// keep their type; others are recorded by their `Debug` text, and those
/// that are neither must be skipped. `self` is never recorded. The span is
/// the current span while the function runs, so spans it opens nest under
/// it. An `async fn` is traced while its future runs.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    let options = parse_macro_input!(args as Options);
    let function = parse_macro_input!(item as ItemFn);
    match expand(options, function) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    skip: Vec<Ident>,
    skip_all: bool,
}

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut options = Options::default();
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            match key.to_string().as_str() {
                "name" => {
                    input.parse::<Token![=]>()?;
                    options.name = Some(input.parse()?);
                }
                "skip" => {
                    let content;
                    syn::parenthesized!(content in input);
                    let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
                    options.skip.extend(names);
                }
                "skip_all" => options.skip_all = true,
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown option `{other}` (expected `name = \"..\"`, `skip(..)` or `skip_all`)"
                        ),
                    ));
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(options)
    }
}

fn expand(options: Options, mut function: ItemFn) -> syn::Result<proc_macro2::TokenStream> {
    let name = options
        .name
        .unwrap_or_else(|| LitStr::new(&function.sig.ident.to_string(), function.sig.ident.span()));
    for skipped in &options.skip {
        let known = function.sig.inputs.iter().any(|arg| match arg {
            FnArg::Typed(typed) => matches!(&*typed.pat, Pat::Ident(p) if p.ident == *skipped),
            FnArg::Receiver(_) => false,
        });
        if !known {
            return Err(syn::Error::new(
                skipped.span(),
                format!("`skip({skipped})`: the function has no argument `{skipped}`"),
            ));
        }
    }
    let mut attributes = Vec::new();
    if !options.skip_all {
        for arg in &function.sig.inputs {
            let FnArg::Typed(typed) = arg else { continue };
            let Pat::Ident(pat) = &*typed.pat else {
                continue; // A pattern (`(a, b): (i64, i64)`) has no one name.
            };
            let ident = &pat.ident;
            if options.skip.contains(ident) {
                continue;
            }
            let key = LitStr::new(ident.to_string().trim_start_matches("r#"), ident.span());
            attributes.push(quote_spanned! {typed.span()=>
                ::wasmtrace_sdk::KeyValue::new(#key, {
                    #[allow(unused_imports)]
                    use ::wasmtrace_sdk::__private::{ViaDebug as _, ViaValue as _};
                    (&::wasmtrace_sdk::__private::ArgValue(&#ident)).arg_value()
                })
            });
        }
    }
    let returns_result = match &function.sig.output {
        ReturnType::Type(_, ty) => is_result(ty),
        ReturnType::Default => false,
    };
    let block = &function.block;
    let span = Ident::new("__wasmtrace_span", Span::mixed_site());
    let attributes = if attributes.is_empty() {
        quote! { ::core::iter::empty::<::wasmtrace_sdk::KeyValue>() }
    } else {
        quote! { [#(#attributes),*] }
    };
    let start = quote! {
        let #span = ::wasmtrace_sdk::Span::builder(#name)
            .attributes(#attributes)
            .start();
    };
    let record = if returns_result {
        quote! { #span.record_result(&__wasmtrace_result); }
    } else {
        quote! {}
    };
    let body = if function.sig.asyncness.is_some() {
        quote! {
            #start
            let __wasmtrace_result = async move #block.await;
            #record
            __wasmtrace_result
        }
    } else {
        // The closure's return type, for `?` inside it; an `impl Trait`
        // return cannot be written there, and is inferred.
        let output = match &function.sig.output {
            ReturnType::Type(_, ty) if !quote!(#ty).to_string().contains("impl ") => {
                quote! { -> #ty }
            }
            ReturnType::Type(..) => quote! {},
            ReturnType::Default => quote! { -> () },
        };
        // A closure keeps `return` and `?` in the body returning from the
        // body, so the result is seen (and recorded) on every path.
        quote! {
            #start
            #[allow(clippy::redundant_closure_call)]
            let __wasmtrace_result = (move || #output #block)();
            #record
            __wasmtrace_result
        }
    };
    function.block = syn::parse2(quote! {{ #body }})?;
    Ok(quote! { #function })
}

/// Whether `ty` is spelt as a `Result` (`Result<..>`, `io::Result<..>`,
/// `anyhow::Result<..>`).
fn is_result(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    path.path.segments.last().is_some_and(|last| {
        last.ident == "Result" && matches!(last.arguments, PathArguments::AngleBracketed(_))
    })
}
