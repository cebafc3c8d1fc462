//! Spans held by a local sink until their trace can be drawn whole.

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::SpanData;
use std::collections::HashSet;

/// The spans of traces whose local root (the span whose parent is remote or
/// absent) has not ended yet. Children end before their parent, so a trace
/// is whole when its local root ends.
#[derive(Debug, Default)]
pub(crate) struct PendingTraces {
    spans: Vec<SpanData>,
}

impl PendingTraces {
    /// Adds `batch`; returns the spans of every trace it completes (in the
    /// order they arrived).
    pub(crate) fn add(&mut self, batch: Vec<SpanData>) -> Vec<SpanData> {
        let finished: HashSet<TraceId> = batch
            .iter()
            .filter(|s| is_local_root(s))
            .map(|s| s.span_context.trace_id())
            .collect();
        self.spans.extend(batch);
        if finished.is_empty() {
            return Vec::new();
        }
        let (ready, keep) = std::mem::take(&mut self.spans)
            .into_iter()
            .partition(|s| finished.contains(&s.span_context.trace_id()));
        self.spans = keep;
        ready
    }

    /// Everything still held (at a flush or shutdown).
    pub(crate) fn take_all(&mut self) -> Vec<SpanData> {
        std::mem::take(&mut self.spans)
    }
}

fn is_local_root(span: &SpanData) -> bool {
    span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote
}
