//! The host side of the standard `wasi:otel@0.2.0-rc.2` interfaces
//! (`tracing`, `logs`, `metrics`, `types`): guests that use the
//! OpenTelemetry API of their language through `wasi:otel` (such as the
//! `opentelemetry-wasi` crate) record into the same span table as
//! wasmtrace's own guests, under the same rules (docs/DESIGN.md §12).
//!
//! Unlike `wasmtrace:telemetry`, the guest keeps its telemetry until it
//! ends it and names spans by the ids it made: `spans` checks those ids and
//! parents against what the host knows, `logs` and `metrics` route records
//! and aggregates into the host's logs and instruments, and `values`
//! decodes the standard's JSON-encoded values into the typed values the
//! shared converter takes. Its functions use `bindgen!`'s owned arguments:
//! the guest's data is copied before the limits apply (bounded by
//! `max_call_bytes`, like every host call).

mod logs;
mod metrics;
mod spans;
mod values;

pub(crate) use spans::OtelState;
pub use spans::UNFINISHED_SPAN;

use crate::bindings::otel::{logs as otel_logs, metrics as otel_metrics, tracing, types};
use crate::ctx::{WasmtraceCtx, WasmtraceView};
use wasmtime::StoreContextMut;
use wasmtime::component::{HasData, Linker};

const TRACING: &str = "wasi:otel/tracing@0.2.0-rc.2";

/// `bindgen!`'s `HasData` for the `wasi:otel` imports: they see the
/// store's [`WasmtraceCtx`].
struct WasiOtel;

impl HasData for WasiOtel {
    type Data<'a> = &'a mut WasmtraceCtx;
}

impl types::Host for WasmtraceCtx {}

impl tracing::Host for WasmtraceCtx {
    fn on_start(&mut self, context: tracing::SpanContext) {
        self.table.otel_on_start(context);
    }

    fn on_end(&mut self, span: tracing::SpanData) {
        self.table.otel_on_end(span);
    }

    fn outer_span_context(&mut self) -> tracing::SpanContext {
        self.table.otel_outer_span_context()
    }
}

impl otel_logs::Host for WasmtraceCtx {
    fn on_emit(&mut self, data: otel_logs::LogRecord) {
        self.table.otel_on_emit(data);
    }
}

impl otel_metrics::Host for WasmtraceCtx {
    fn export(
        &mut self,
        metrics: otel_metrics::ResourceMetrics,
    ) -> Result<(), otel_metrics::Error> {
        self.table.otel_export(metrics)
    }
}

/// Adds the `wasi:otel@0.2.0-rc.2` imports (`types`, `tracing`, `logs`,
/// `metrics`) to a linker, recording into each store's [`WasmtraceCtx`]
/// like [`crate::add_to_linker`]'s interfaces (`tracing` also offers
/// `current-span-context`, upstream's later name of `outer-span-context`) (the two can be linked side
/// by side; [`crate::Runtime`] links both). The guest also imports
/// `wasi:clocks/wall-clock` for its types: link WASI too
/// (`wasmtime_wasi::p2::add_to_linker_sync`).
///
/// The host records each span with the ids the guest chose, which needs
/// the tracer provider's id generator to be
/// [`crate::telemetry::GuestIdGenerator`] (as
/// [`crate::telemetry::Telemetry`]'s provider is).
///
/// ```
/// use wasmtime::component::Linker;
/// use wasmtime::Engine;
/// use wasmtrace::WasmtraceCtx;
///
/// let engine = Engine::default();
/// let mut linker = Linker::<WasmtraceCtx>::new(&engine);
/// wasmtrace::add_wasi_otel_to_linker(&mut linker)?;
/// wasmtrace::add_to_linker(&mut linker)?;
/// # Ok::<(), wasmtime::Error>(())
/// ```
pub fn add_wasi_otel_to_linker<T: WasmtraceView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    fn ctx<T: WasmtraceView>(t: &mut T) -> &mut WasmtraceCtx {
        t.wasmtrace()
    }
    types::add_to_linker::<T, WasiOtel>(linker, ctx)?;
    tracing::add_to_linker::<T, WasiOtel>(linker, ctx)?;
    otel_logs::add_to_linker::<T, WasiOtel>(linker, ctx)?;
    otel_metrics::add_to_linker::<T, WasiOtel>(linker, ctx)?;
    // Upstream renamed `outer-span-context` to `current-span-context`
    // without a new version: guests built from either WIT import the same
    // interface, so the instance offers both names.
    linker.instance(TRACING)?.func_wrap(
        "current-span-context",
        |mut store: StoreContextMut<'_, T>, (): ()| -> wasmtime::Result<(tracing::SpanContext,)> {
            Ok((store.data_mut().wasmtrace().table.otel_outer_span_context(),))
        },
    )?;
    Ok(())
}
