//! Guest SDK for [wasmtrace](https://example.invalid/wasmtrace) plugins.
//!
//! A wasmtrace plugin is a WebAssembly component (`wasm32-wasip2`) whose
//! spans, events and attributes are recorded by the host and exported as
//! OpenTelemetry traces. This crate wraps the `wasmtrace:telemetry` and
//! `wasmtrace:plugin` WIT packages in an idiomatic Rust API:
//!
//! * [`plugin!`] turns a function into the plugin's entry point and embeds
//!   the plugin's identity (`name@version`) in the component;
//! * [`with_span`], [`try_with_span`], [`span::start`] and [`Span::builder`]
//!   open spans, which end when their [`SpanGuard`] is dropped;
//! * [`attrs!`] writes typed attributes ([`KeyValue`], [`Value`]);
//! * [`add_attributes`], [`record_event`] and [`current_trace_id`] act on the
//!   current span;
//! * [`trace_headers`], [`propagate_context`] and [`with_propagated_context`]
//!   carry a trace across process boundaries;
//! * [`logs`] emits log records (and the [`log`] crate's records go there),
//!   stamped by the host with the current span's ids;
//! * [`metrics`] records counters, histograms and gauges aggregated by the
//!   host;
//! * [`cache`] is the host's traced key/value cache, and [`plugins::call`]
//!   calls another plugin inside the same trace.
//!
//! Spans are cheap: starting one (with its initial attributes) and ending it
//! are one host call each.
//!
//! # Example
//!
//! ```ignore
//! use wasmtrace_sdk::{add_attributes, attrs, record_event, try_with_span, with_span};
//!
//! fn handle(input: String) -> Result<String, String> {
//!     with_span("handle_request", attrs! { "request.size" => input.len() as i64 }, || {
//!         try_with_span("validate", attrs! {}, || {
//!             if input.is_empty() { Err("empty input") } else { Ok(()) }
//!         })
//!         .map_err(|e| format!("validation failed: {e}"))?;
//!
//!         let words = with_span("count_words", attrs! {}, || {
//!             let words = input.split_whitespace().count() as i64;
//!             add_attributes(attrs! { "words" => words });
//!             record_event("counted", attrs! { "words" => words });
//!             words
//!         });
//!         Ok(format!("{words} words"))
//!     })
//! }
//!
//! wasmtrace_sdk::plugin!(handle);
//! ```
//!
//! Build with `cargo build --target wasm32-wasip2`; the result is a
//! component the `wasmtrace` CLI runs. The crate also compiles for native
//! targets (so workspace-wide `cargo check`/`clippy` work), but there every
//! call into the host panics.

#![warn(missing_docs)]

// Lets the generated bindings (and the macros they emit into plugin crates)
// name this crate as `::wasmtrace_sdk` from inside it too.
extern crate self as wasmtrace_sdk;

pub mod cache;
mod current;
pub mod logs;
pub mod metrics;
pub mod plugins;
pub mod propagation;
pub mod span;
#[cfg(feature = "tracing")]
pub mod tracing_bridge;
pub mod value;

/// `#[traced]`: a function as a span (see the attribute's own docs).
#[cfg(feature = "macros")]
pub use wasmtrace_sdk_macros::traced;

pub use propagation::{
    Context, ContextGuard, PropagatedContext, propagate_context, trace_headers,
    with_propagated_context,
};
pub use propagation::{baggage, baggage_item, with_baggage};
pub use span::{
    Link, Span, SpanBuilder, SpanContext, SpanGuard, SpanKind, Status, add_attributes,
    current_span_context, current_trace_id, record_event, try_with_span, with_span,
};
pub use value::{KeyValue, Value};

/// The `wit-bindgen` runtime the generated bindings use. Re-exported so that
/// plugin crates need not depend on it themselves.
///
/// # Example
///
/// ```
/// // Plugins normally never name it; it is reached through the SDK's macros.
/// use wasmtrace_sdk::wit_bindgen as _;
/// ```
pub use wit_bindgen;

/// The `log` crate, whose records [`plugin!`] sends to the host (see
/// [`logs`]). Re-exported so that plugins log with the same version.
pub use log;

/// Raw bindings generated from `wit/` (world `wasmtrace:plugin/plugin`). Not
/// part of the SDK's stable API: use the wrappers at the crate root instead.
#[doc(hidden)]
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod wit {
    wit_bindgen::generate!({
        path: "../wit",
        world: "wasmtrace:plugin/plugin",
        pub_export_macro: true,
        default_bindings_module: "::wasmtrace_sdk::wit",
        runtime_path: "::wasmtrace_sdk::wit_bindgen::rt",
        ownership: Borrowing { duplicate_if_necessary: true },
        generate_all,
    });
}

/// What a plugin's handler function may return: `Result<T, E>` where the
/// output `T` converts into a `String` and the error `E` implements
/// `Display`, or a plain `String` for handlers that cannot fail.
///
/// An `Err` fails the invocation: the host sets the invocation span's status
/// to `Error` with the error's message, and the CLI exits non-zero.
///
/// # Example
///
/// ```
/// use wasmtrace_sdk::IntoHandlerResult;
///
/// let ok: Result<&str, std::num::ParseIntError> = Ok("done");
/// assert_eq!(ok.into_handler_result(), Ok("done".to_owned()));
///
/// let err = "x".parse::<u8>().map(|n| n.to_string());
/// assert_eq!(err.into_handler_result(), Err("invalid digit found in string".to_owned()));
/// ```
pub trait IntoHandlerResult {
    /// Converts into the WIT `handle` result.
    ///
    /// # Errors
    ///
    /// Returns the handler's error rendered with `Display`.
    ///
    /// # Example
    ///
    /// ```
    /// use wasmtrace_sdk::IntoHandlerResult;
    ///
    /// assert_eq!(String::from("hi").into_handler_result(), Ok("hi".to_owned()));
    /// ```
    fn into_handler_result(self) -> Result<String, String>;
}

impl<T: Into<String>, E: std::fmt::Display> IntoHandlerResult for Result<T, E> {
    fn into_handler_result(self) -> Result<String, String> {
        self.map(Into::into).map_err(|e| e.to_string())
    }
}

impl IntoHandlerResult for String {
    fn into_handler_result(self) -> Result<String, String> {
        Ok(self)
    }
}

/// Builds an array (`[KeyValue; N]`) of typed attributes: no allocation
/// beyond what the values need, so a span skipped in an unsampled trace
/// costs next to nothing.
///
/// Keys are `&'static str` or `String`; values anything `Into<Value>`
/// (strings, `bool`, integers, floats, and vectors, slices or arrays of
/// those). Every function taking attributes accepts any
/// `IntoIterator<Item = KeyValue>`: the array, a `Vec`, an iterator.
///
/// # Example
///
/// ```
/// use wasmtrace_sdk::{attrs, KeyValue, Value};
///
/// let attributes = attrs! {
///     "user.id" => "u-42",
///     "user.admin" => false,
///     "cart.items" => 3,
///     "cart.total" => 19.99,
///     "cart.skus" => ["A1", "B2"],
/// };
/// assert_eq!(attributes[2].value, Value::I64(3));
/// assert!(attrs! {}.is_empty());
/// let mut more: Vec<KeyValue> = attributes.into();
/// more.push(KeyValue::new("cart.coupon", true));
/// ```
#[macro_export]
macro_rules! attrs {
    () => {
        [] as [$crate::KeyValue; 0]
    };
    ($($body:tt)+) => {
        $crate::__attrs!(@munch [] $($body)+)
    };
}

/// `attrs!`'s muncher: one `key => value` pair at a time, so that a literal
/// value is seen as a literal (a forwarded `expr` could not be) and a
/// string literal is borrowed instead of copied. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __attrs {
    (@munch [$($out:expr,)*]) => {
        [$($out),*]
    };
    (@munch [$($out:expr,)*] $key:expr => $value:literal $(, $($rest:tt)*)?) => {
        $crate::__attrs!(@munch [$($out,)* $crate::KeyValue::new(
            $key,
            $crate::__private::LiteralValue::literal_value($value),
        ),] $($($rest)*)?)
    };
    (@munch [$($out:expr,)*] $key:expr => $value:expr $(, $($rest:tt)*)?) => {
        $crate::__attrs!(@munch [$($out,)* $crate::KeyValue::new($key, $value),] $($($rest)*)?)
    };
}

/// Exports a function as the plugin's `handle` entry point and embeds the
/// plugin's identity.
///
/// The function takes the input `String` and returns anything implementing
/// [`IntoHandlerResult`], typically `Result<String, E>` with `E: Display`.
/// Use the macro once, in the plugin's `cdylib` crate.
///
/// The macro also places the bytes `name@version` in a custom section
/// named `wasmtrace-plugin`, from which the host reads the plugin's
/// identity (its `invoke NAME` span, instrumentation scope and the name
/// other plugins call it by). They are the crate's `CARGO_PKG_NAME` and
/// `CARGO_PKG_VERSION` unless given: `plugin!(handle, name = "billing",
/// version = "2.1.0")` (either may be left out).
///
/// # Example
///
/// ```ignore
/// fn handle(input: String) -> Result<String, std::num::ParseIntError> {
///     let n: i64 = input.trim().parse()?;
///     Ok((n * 2).to_string())
/// }
///
/// wasmtrace_sdk::plugin!(handle);
/// ```
#[macro_export]
macro_rules! plugin {
    ($handler:expr $(,)?) => {
        $crate::plugin!(@export $handler, ::core::env!("CARGO_PKG_NAME"), ::core::env!("CARGO_PKG_VERSION"));
    };
    ($handler:expr, name = $name:literal $(,)?) => {
        $crate::plugin!(@export $handler, $name, ::core::env!("CARGO_PKG_VERSION"));
    };
    ($handler:expr, version = $version:literal $(,)?) => {
        $crate::plugin!(@export $handler, ::core::env!("CARGO_PKG_NAME"), $version);
    };
    ($handler:expr, name = $name:literal, version = $version:literal $(,)?) => {
        $crate::plugin!(@export $handler, $name, $version);
    };
    (@export $handler:expr, $name:expr, $version:expr) => {
        const _: () = {
            struct __WasmtracePlugin;

            impl $crate::wit::exports::wasmtrace::plugin::handler::Guest for __WasmtracePlugin {
                fn handle(
                    input: $crate::__private::String,
                ) -> ::core::result::Result<$crate::__private::String, $crate::__private::String>
                {
                    $crate::__private::reset_current();
                    $crate::__private::install_bridges();
                    $crate::IntoHandlerResult::into_handler_result(($handler)(input))
                }
            }

    $crate::wit::export!(__WasmtracePlugin with_types_in $crate::wit);

            const __WASMTRACE_PLUGIN_ID: &str = ::core::concat!($name, "@", $version);

            #[cfg_attr(target_family = "wasm", unsafe(link_section = "wasmtrace-plugin"))]
            #[used]
            static __WASMTRACE_PLUGIN: [u8; __WASMTRACE_PLUGIN_ID.len()] =
                $crate::__private::identity_bytes(__WASMTRACE_PLUGIN_ID);
        };
    };
}

/// Support for the macros; not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::current::reset as reset_current;

    /// Routes the `log` crate (and, with the `tracing` feature, the
    /// `tracing` crate) to the host, once.
    pub fn install_bridges() {
        crate::logs::install_log_bridge();
        #[cfg(feature = "tracing")]
        crate::tracing_bridge::install();
    }

    /// An argument of a `#[traced]` function, turned into an attribute
    /// value: by [`ViaValue`] when its type converts into a
    /// [`Value`](crate::Value), else by [`ViaDebug`] (autoref
    /// specialization: `(&ArgValue(&arg)).arg_value()` picks the first
    /// that applies).
    pub struct ArgValue<'a, T: ?Sized>(pub &'a T);

    /// Arguments whose type converts into a `Value`.
    pub trait ViaValue {
        /// The attribute value.
        fn arg_value(&self) -> crate::Value;
    }

    impl<T: Clone + Into<crate::Value>> ViaValue for ArgValue<'_, T> {
        fn arg_value(&self) -> crate::Value {
            self.0.clone().into()
        }
    }

    /// Other arguments: their `Debug` text.
    pub trait ViaDebug {
        /// The attribute value.
        fn arg_value(&self) -> crate::Value;
    }

    impl<T: ::core::fmt::Debug + ?Sized> ViaDebug for &ArgValue<'_, T> {
        fn arg_value(&self) -> crate::Value {
            crate::Value::from(::std::format!("{:?}", self.0))
        }
    }

    pub use crate::value::LiteralValue;
    pub use std::string::String;
    pub use std::vec;
    pub use std::vec::Vec;

    /// Copies `s` into an array of exactly its length (for a `#[link_section]`
    /// static, which must not hold a pointer).
    #[must_use]
    pub const fn identity_bytes<const N: usize>(s: &str) -> [u8; N] {
        let bytes = s.as_bytes();
        assert!(bytes.len() == N, "identity length mismatch");
        let mut out = [0u8; N];
        let mut i = 0;
        while i < N {
            out[i] = bytes[i];
            i += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn identity_bytes_copies() {
        const ID: &str = "quickstart@0.1.0";
        static BYTES: [u8; ID.len()] = crate::__private::identity_bytes(ID);
        assert_eq!(&BYTES, ID.as_bytes());
    }
}
