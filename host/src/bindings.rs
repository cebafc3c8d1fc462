//! Bindings of the wasmtrace WIT packages, laid out as wasmtime-wasi lays
//! out its own: the generated code is private, and what an embedder needs
//! is re-exported, so that an embedder whose world includes
//! `wasmtrace:telemetry/imports` maps it onto these instead of generating
//! the traits again:
//!
//! ```
//! mod my_bindings {
//!     wasmtime::component::bindgen!({
//!         inline: "
//!             package my:app;
//!             interface greeter { greet: func(name: string) -> string; }
//!             world app {
//!                 include wasmtrace:telemetry/imports@0.2.0;
//!                 import greeter;
//!             }
//!         ",
//!         path: "../wit",
//!         world: "my:app/app",
//!         with: { "wasmtrace:telemetry": ::wasmtrace::bindings::telemetry },
//!     });
//! }
//! // The generated world refers to wasmtrace's types, not copies of them:
//! let _: wasmtrace::bindings::telemetry::types::SpanContext;
//! ```
//!
//! Link the telemetry interfaces with [`crate::add_to_linker`] (or one at a
//! time, [`crate::add_tracing_to_linker`] and its siblings), then your own
//! interfaces with theirs. (The modules' generated `add_to_linker`s need a
//! `Host` implementation wasmtrace does not provide: its own functions read
//! their arguments in place, within the limits, which the generated ones
//! cannot.)

// The WIT's own comments document most of it; the rest is generated.
#[allow(missing_docs)]
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasmtrace:plugin/plugin",
    });
}

/// The `wasmtrace:telemetry` package: `types`, `propagation` and `tracing`,
/// each with its types, `Host` trait and `add_to_linker`.
pub use generated::wasmtrace::telemetry;

/// The `wasmtrace:plugin` package's imports: `cache` and `calls`.
pub use generated::wasmtrace::plugin;

/// The `wasmtrace:plugin/plugin` world: what the CLI runs.
pub use generated::{Plugin, PluginIndices, PluginPre};
