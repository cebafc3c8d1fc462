//! The ids of spans a `wasi:otel` guest made itself.
//!
//! The SDK tracer always takes a span's id (and a root span's trace id)
//! from its provider's `IdGenerator`; a `wasi:otel` guest has already
//! chosen them, and its children and the `traceparent` it sent out refer to
//! them. [`GuestIdGenerator`] hands the SDK ids the host pinned for the one
//! span it is building on this thread, and random ones otherwise, so that
//! the host's span is a real SDK span (its processors, sampler, limits and
//! export) with the guest's ids.

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use std::cell::Cell;

thread_local! {
    static PINNED: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// The provider's `IdGenerator` for `wasi:otel` guests: random ids
/// ([`RandomIdGenerator`]), except for the span the host is building for a
/// guest, which gets the ids the guest chose.
///
/// [`crate::telemetry::Telemetry`] installs it; an embedder with a tracer
/// provider of its own adds it with
/// `SdkTracerProvider::builder().with_id_generator(GuestIdGenerator::default())`.
/// Without it, `wasi:otel` spans get fresh ids, and the guest's spans no
/// longer name their parents (docs/DESIGN.md §12).
#[derive(Debug, Default)]
pub struct GuestIdGenerator {
    random: RandomIdGenerator,
}

impl IdGenerator for GuestIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        match PINNED.get() {
            Some((trace_id, _)) => trace_id,
            None => self.random.new_trace_id(),
        }
    }

    fn new_span_id(&self) -> SpanId {
        match PINNED.get() {
            Some((_, span_id)) => span_id,
            None => self.random.new_span_id(),
        }
    }
}

/// Runs `build` (which starts one SDK span) with `ids` pinned on this
/// thread. The pin is cleared afterwards, also if `build` panics.
pub(crate) fn with_pinned_ids<R>(ids: (TraceId, SpanId), build: impl FnOnce() -> R) -> R {
    struct Unpin;
    impl Drop for Unpin {
        fn drop(&mut self) {
            PINNED.set(None);
        }
    }
    PINNED.set(Some(ids));
    let _unpin = Unpin;
    build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_only_inside_the_call() {
        let ids = GuestIdGenerator::default();
        let pinned = (TraceId::from(7), SpanId::from(9));
        let inside = with_pinned_ids(pinned, || (ids.new_trace_id(), ids.new_span_id()));
        assert_eq!(inside, pinned);
        assert_ne!(ids.new_span_id(), pinned.1);
    }
}
