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

// `wasi:otel`, the standard's WIT as the host implements it
// (`guest/wasi_otel`). Its clocks types are wasmtime-wasi's, so that the
// same `datetime` serves both.
#[allow(missing_docs)]
mod generated_otel {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:otel/imports@0.2.0-rc.2",
        // As wasmtime-wasi's, whose clocks and io the world refers to.
        require_store_data_send: true,
        with: {
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
        },
    });
}

/// The `wasi:otel@0.2.0-rc.2` package (`types`, `tracing`, `logs`,
/// `metrics`): its types and `Host` traits, for an embedder's own
/// `bindgen!`'s `with: { "wasi:otel": wasmtrace::bindings::otel }`. Link
/// the host's implementation with [`crate::add_wasi_otel_to_linker`].
pub use generated_otel::wasi::otel;

/// The `wasmtrace:telemetry` package: `types`, `propagation`, `tracing`,
/// `logs` and `metrics`, each with its types, `Host` trait and
/// `add_to_linker`.
pub use generated::wasmtrace::telemetry;

/// The `wasmtrace:plugin` package's imports: `cache` and `calls`.
pub use generated::wasmtrace::plugin;

/// The `wasmtrace:plugin/plugin` world: what the CLI runs.
pub use generated::{Plugin, PluginIndices, PluginPre};
