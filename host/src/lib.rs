//! wasmtrace: run sandboxed WebAssembly plugins (components) and turn what
//! they trace into OpenTelemetry spans, inside the embedder's own traces.
//!
//! Two ways in:
//!
//! - **Your own world and linker**: `include wasmtrace:tracing/imports` in
//!   your WIT world, keep a [`WasmtraceCtx`] in your store data, implement
//!   [`WasmtraceView`], and call [`add_to_linker`]. Before each call into the
//!   guest, [`WasmtraceCtx::set_parent`] the context its spans belong under;
//!   after a trap, [`WasmtraceCtx::end_open_spans`].
//! - **The plugin world**: [`Runtime`] loads components that export
//!   `wasmtrace:tracing/handler` (or `wasi:cli/run`) and [`Runtime::invoke`]s
//!   them inside an invocation span, handling crashes for you.
//!
//! [`telemetry::Telemetry`] sets up export from the standard `OTEL_*`
//! variables (OTLP over gRPC or HTTP, or the embedded console default).
//!
//! ```no_run
//! use wasmtrace::{telemetry::Telemetry, Runtime, RuntimeConfig};
//! use opentelemetry::Context;
//!
//! let telemetry = Telemetry::builder("my-service", "1.0.0").build()?;
//! let runtime = Runtime::new(telemetry.provider(), RuntimeConfig::default())?;
//! let plugin = runtime.load_file("plugin.wasm".as_ref())?;
//! let output = runtime.invoke(&plugin, "hello", &Context::current());
//! println!("{output:?}");
//! telemetry.shutdown(std::time::Duration::from_secs(5))?;
//! # Ok::<(), anyhow::Error>(())
//! ```

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod bindings;
pub mod capabilities;
mod convert;
mod ctx;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod guest_spans;
mod http;
mod identity;
mod limits;
mod propagation;
mod runtime;
mod sampling;
pub mod serve;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use ctx::{GuestFailure, WasmtraceCtx, WasmtraceView, add_to_linker};
pub use guest_spans::GuestSpan;
pub use http::{AllowedHosts, OutboundHttp, PluginHttp};
pub use identity::{ATTR_COMPONENT_SHA256, ATTR_INSTANCE_ID, PLUGIN_SECTION, PluginIdentity};
pub use limits::{Limits, TracingStats};
pub use propagation::{
    BaggagePropagator, GuestContext, GuestContextGuard, OTEL_PROPAGATORS, Propagators,
    TraceContextPropagator, XTraceIdPropagator,
};
pub use runtime::{InvocationError, MAX_CALL_DEPTH, Plugin, PluginState, Runtime, RuntimeConfig};
pub use sampling::{PluginSampler, parse_sampler};
