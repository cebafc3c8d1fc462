//! Where guest calls become OpenTelemetry: the host side of the
//! `wasmtrace:telemetry` interfaces.
//!
//! `link` puts the functions in a linker; `lift` reads their arguments in
//! place within the limits; the span table (`table`) owns every handle and
//! enforces every limit and budget; `convert` turns guest data into OTel's
//! under them. `logs` and `metrics` are the table's other two signals.
//! `wasi_otel` is the standard `wasi:otel` interfaces onto the same table.

/// A [`convert::Recorder`] over a table's limits, budget, keys and counts,
/// borrowing only those fields (the open spans stay usable beside it).
macro_rules! recorder {
    ($table:expr) => {
        $crate::guest::convert::Recorder {
            limits: &$table.limits,
            bytes: &mut $table.budget.bytes,
            keys: &mut $table.keys,
            counts: &mut $table.counts,
        }
    };
}

mod args;
pub(crate) mod convert;
mod lift;
mod link;
pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod table;
mod wasi_otel;

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use args::Args;
pub use link::{
    add_logs_to_linker, add_metrics_to_linker, add_propagation_to_linker, add_tracing_to_linker,
    add_types_to_linker,
};
pub(crate) use metrics::Instruments;
pub(crate) use table::{CONTEXT_FIXED_COST, SPAN_FIXED_COST, SpanTable, TablePool};
pub use wasi_otel::{UNFINISHED_SPAN, add_wasi_otel_to_linker};
