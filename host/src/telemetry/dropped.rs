//! Per-span counts of what the host's limits dropped (attributes, events,
//! links), put into the span's OTLP `dropped_*_count` fields.
//!
//! The span table enforces each plugin's limits itself, so the SDK never
//! sees what it drops and would export zeros. The table knows the counts
//! when it ends a span; span processors see the span while it ends, on the
//! same thread. So the table sets them aside for the span being ended, and
//! a processor that wants them calls [`apply_dropped_counts`] in its
//! `on_end` (wasmtrace's own export queue and local sinks do; wrap any
//! other processor in [`DroppedCounts`]).

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use std::cell::Cell;
use std::time::Duration;

/// What the limits dropped from one span.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub(crate) attributes: u32,
    pub(crate) events: u32,
    pub(crate) links: u32,
}

thread_local! {
    static ENDING: Cell<Option<(SpanId, Dropped)>> = const { Cell::new(None) };
}

/// Runs `end` (which ends the span `span_id`) with `dropped` set aside for
/// the processors.
pub(crate) fn while_ending(span_id: SpanId, dropped: Dropped, end: impl FnOnce()) {
    if dropped == Dropped::default() {
        return end();
    }
    ENDING.set(Some((span_id, dropped)));
    end();
    ENDING.set(None);
}

/// Adds what wasmtrace's limits dropped from `span` to its `dropped_*`
/// counts. Call it in a span processor's `on_end`, before the span leaves
/// the thread; it does nothing for spans the host dropped nothing from.
pub fn apply_dropped_counts(span: &mut SpanData) {
    if let Some((id, dropped)) = ENDING.get()
        && id == span.span_context.span_id()
    {
        span.dropped_attributes_count += dropped.attributes;
        span.events.dropped_count += dropped.events;
        span.links.dropped_count += dropped.links;
    }
}

/// Wraps a span processor so that the spans it gets carry the host's
/// dropped counts ([`apply_dropped_counts`]).
#[derive(Debug)]
pub struct DroppedCounts<P>(pub P);

impl<P: SpanProcessor> SpanProcessor for DroppedCounts<P> {
    fn on_start(&self, span: &mut Span, cx: &opentelemetry::Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        apply_dropped_counts(&mut span);
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}
