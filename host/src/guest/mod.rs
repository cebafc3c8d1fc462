//! Where guest calls become OpenTelemetry: the host side of the
//! `wasmtrace:telemetry` interfaces.
//!
//! `link` puts the functions in a linker; `lift` reads their arguments in
//! place within the limits; the span table (`table`) owns every handle and
//! enforces every limit and budget; `convert` turns guest data into OTel's
//! under them.

mod args;
pub(crate) mod convert;
mod lift;
mod link;
pub(crate) mod table;

pub use link::{add_propagation_to_linker, add_tracing_to_linker, add_types_to_linker};
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use args::Args;
pub(crate) use table::{CONTEXT_FIXED_COST, SPAN_FIXED_COST, SpanTable};
