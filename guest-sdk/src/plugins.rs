//! Calling other plugins loaded in the same runtime.
//!
//! The callee runs in a fresh instance of its own (its own memory, limits
//! and identity), on what is left of this invocation's budgets; its
//! invocation span is a child of the current span, so one request through
//! several plugins is one trace.
//!
//! ```ignore
//! use wasmtrace_sdk::{plugins, try_with_span, attrs};
//!
//! fn handle(input: String) -> Result<String, String> {
//!     try_with_span("price_order", attrs! {}, || plugins::call("request-handler", &input))
//!         .map_err(|e| e.to_string())
//! }
//! ```

use crate::current;
use crate::wit::wasmtrace::plugin::calls as wit;
use std::fmt;

/// Why [`call`] did not return the callee's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The callee ran and returned this error.
    Failed(String),
    /// No plugin of that name is loaded.
    UnknownPlugin(String),
    /// The callee trapped (a panic, out of memory): the trap message.
    Crashed(String),
    /// The call was not made: too deep, or the invocation made all the
    /// calls it may.
    Refused(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(message) => f.write_str(message),
            Self::UnknownPlugin(name) => write!(f, "no plugin named {name:?} is loaded"),
            Self::Crashed(message) => write!(f, "the plugin crashed: {message}"),
            Self::Refused(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CallError {}

/// Invokes the plugin named `name` with `input` and returns its output.
///
/// # Errors
///
/// The callee's own error, or why it could not be called (see
/// [`CallError`]). When the callee runs out of fuel or time, so has this
/// plugin, and the host stops it too.
pub fn call(name: &str, input: &str) -> Result<String, CallError> {
    wit::call(current::handle(), name, input).map_err(|e| match e {
        wit::CallError::Failed(m) => CallError::Failed(m),
        wit::CallError::UnknownPlugin => CallError::UnknownPlugin(name.to_owned()),
        wit::CallError::Crashed(m) => CallError::Crashed(m),
        wit::CallError::Refused(m) => CallError::Refused(m),
    })
}
