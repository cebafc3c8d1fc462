//! Calling other plugins loaded in the same runtime.
//!
//! The callee runs in a fresh instance of its own (its own memory, limits
//! and identity); its invocation span is a child of the caller's current
//! span, so one request through several plugins is one trace.
//!
//! ```no_run
//! use wasmtrace_sdk::{plugins, try_with_span, attrs};
//!
//! fn handle(input: String) -> Result<String, String> {
//!     try_with_span("price_order", attrs! {}, || plugins::call("request-handler", &input))
//! }
//! ```

use crate::wit::wasmtrace::tracing::plugins as wit;

/// Invokes the plugin named `name` with `input` and returns its output.
///
/// # Errors
///
/// The callee's own error, or why it could not be called: no plugin of that
/// name is loaded, it crashed, or the chain of calls is too deep.
pub fn call(name: &str, input: &str) -> Result<String, String> {
    wit::call(name, input)
}
