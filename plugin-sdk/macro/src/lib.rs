//! The `#[handler]` attribute of `hookhost-sdk`; use it through
//! `hookhost_sdk::handler`.

use proc_macro::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, parse_macro_input};

/// Turns `fn NAME(event: Event) -> Result<(), HandlerError>` into the
/// component's `handle` export. See `hookhost_sdk::handler`.
#[proc_macro_attribute]
pub fn handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        let attr = proc_macro2::TokenStream::from(attr);
        return syn::Error::new(attr.span(), "#[handler] takes no arguments")
            .to_compile_error()
            .into();
    }
    let func = parse_macro_input!(item as ItemFn);
    match expand(&func) {
        Ok(tokens) => tokens.into(),
        Err(err) => {
            // Keep the function so the error is the only one reported.
            let err = err.to_compile_error();
            quote!(#err #func).into()
        }
    }
}

const SIGNATURE: &str = "fn NAME(event: Event) -> Result<(), HandlerError>";

fn check(func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    if let Some(t) = &sig.asyncness {
        return Err(syn::Error::new(
            t.span(),
            "a handler cannot be `async`: the host calls it synchronously",
        ));
    }
    if let Some(t) = &sig.constness {
        return Err(syn::Error::new(t.span(), "a handler cannot be `const`"));
    }
    if let Some(t) = &sig.unsafety {
        return Err(syn::Error::new(t.span(), "a handler cannot be `unsafe`"));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new(
            abi.span(),
            "a handler cannot have an `extern` ABI",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a handler cannot be generic",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(v.span(), "a handler cannot be variadic"));
    }
    if sig.inputs.len() != 1 {
        let span = if sig.inputs.is_empty() {
            sig.paren_token.span.join()
        } else {
            sig.inputs.span()
        };
        return Err(syn::Error::new(
            span,
            format!(
                "a handler takes exactly one argument, the event, found {}: expected `{SIGNATURE}`",
                sig.inputs.len()
            ),
        ));
    }
    if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
        return Err(syn::Error::new(
            r.span(),
            format!("a handler is a free function, not a method: expected `{SIGNATURE}`"),
        ));
    }
    if let ReturnType::Default = sig.output {
        return Err(syn::Error::new(
            sig.ident.span(),
            format!("a handler returns `Result<(), HandlerError>`: expected `{SIGNATURE}`"),
        ));
    }
    Ok(())
}

fn expand(func: &ItemFn) -> syn::Result<proc_macro2::TokenStream> {
    check(func)?;
    let name = &func.sig.ident;
    // Coercing the function to the expected pointer type reports a wrong
    // argument or return type at the function, not inside generated code.
    let handler_const = quote_spanned! {func.sig.span()=>
        const HANDLER: ::hookhost_sdk::__private::HandlerFn = super::#name;
    };
    Ok(quote! {
        #func

        #[doc(hidden)]
        #[allow(unsafe_code)] // the export glue is unsafe FFI
        mod __hookhost_handler {
            #handler_const

            struct Handler;

            impl ::hookhost_sdk::wit::Guest for Handler {
                fn handle(
                    event: ::hookhost_sdk::wit::Event,
                ) -> ::core::result::Result<(), ::hookhost_sdk::wit::HandlerError> {
                    ::hookhost_sdk::__private::run(event, HANDLER)
                }
            }

            ::hookhost_sdk::wit::export!(Handler with_types_in ::hookhost_sdk::wit);
        }
    })
}
