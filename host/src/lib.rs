//! wasmtrace: run sandboxed WebAssembly plugins (components) and turn what
//! they record into OpenTelemetry telemetry, inside the embedder's own
//! traces.
//!
//! Two ways in:
//!
//! - **Your own world and linker**: `include wasmtrace:telemetry/imports` in
//!   your WIT world, keep a [`WasmtraceCtx`] in your store data, implement
//!   [`WasmtraceView`], and call [`add_to_linker`]. Before each call into the
//!   guest, [`WasmtraceCtx::set_parent`] the context its spans belong under;
//!   after a trap, [`WasmtraceCtx::end_open_spans`] with
//!   [`GuestFailure::from_error`]. [`bindings`] has the generated types for
//!   your own `bindgen!`'s `with:`.
//! - **The plugin world**: [`Runtime`] loads components that export
//!   `wasmtrace:plugin/handler` (or `wasi:cli/run`, or
//!   `wasi:http/incoming-handler` for [`http::HttpServer`]) and
//!   [`Runtime::invoke`]s them inside an invocation span, with budgets per
//!   call tree and crash handling. It is built on the same public API.
//!
//! [`telemetry::Telemetry`] sets up export from the standard `OTEL_*`
//! variables (OTLP over gRPC or HTTP, or the embedded console default).
//!
//! (`tests/all/testkit.rs` runs this example on a built plugin:
//! `the_crate_documentation_example_runs`.)
//!
//! ```ignore
//! use wasmtrace::{telemetry::Telemetry, Runtime, RuntimeConfig};
//! use opentelemetry::Context;
//!
//! let telemetry = Telemetry::builder("my-service", "1.0.0").build()?;
//! let runtime = Runtime::new(telemetry.providers(), RuntimeConfig::default())?;
//! let plugin = runtime.load_file("plugin.wasm".as_ref())?;
//! let output = runtime.invoke(&plugin, "hello", &Context::current());
//! println!("{output:?}");
//! telemetry.shutdown(std::time::Duration::from_secs(5))?;
//! # Ok::<(), anyhow::Error>(())
//! ```

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod bindings;
mod budget;
pub mod capabilities;
mod compile_cache;
mod ctx;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod guest;
pub mod http;
mod identity;
mod limits;
mod plugin_telemetry;
mod propagation;
mod runtime;
mod sampling;
mod stats;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod view;

pub use compile_cache::{CodeSource, CompileCache, WASMTRACE_CACHE_DIR};
pub use ctx::{GuestFailure, WasmtraceCtx, WasmtraceCtxBuilder, WasmtraceView, add_to_linker};
pub use guest::{
    UNFINISHED_SPAN, add_logs_to_linker, add_metrics_to_linker, add_propagation_to_linker,
    add_tracing_to_linker, add_types_to_linker, add_wasi_otel_to_linker,
};
pub use http::{AllowedHosts, OutboundHttp};
pub use identity::{
    ATTR_COMPONENT_SHA256, ATTR_INSTANCE_ID, PLUGIN_SECTION, PluginIdentity, stamp,
};
pub use limits::Limits;
pub use plugin_telemetry::{PluginTelemetry, Providers};
pub use propagation::{
    BaggagePropagator, OTEL_PROPAGATORS, Propagators, TraceContextPropagator, XTraceIdPropagator,
};
pub use runtime::{
    InstanceAllocation, InvocationError, MAX_CALL_DEPTH, Plugin, Runtime, RuntimeConfig,
};
pub use sampling::{PluginSampler, parse_sampler};
pub use stats::TracingStats;
