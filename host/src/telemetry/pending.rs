//! Spans and log records held by a local sink until their trace can be
//! drawn whole.

use crate::view::{TraceSet, TraceSetBuilder};
use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::trace::SpanData;
use std::collections::HashSet;

/// A log record as a log processor receives it.
pub(crate) type LogData = (SdkLogRecord, InstrumentationScope);

/// Log records held for traces not yet whole, at most: past it the oldest
/// are drawn on their own (a trace whose spans never reach this sink must
/// not hold its records forever).
const MAX_HELD_LOGS: usize = 10_000;

/// What is ready to draw: whole traces with their log records, and log
/// records that belong to no trace drawn here.
#[derive(Debug, Default)]
pub(crate) struct Ready {
    pub(crate) spans: Vec<SpanData>,
    pub(crate) logs: Vec<LogData>,
}

impl Ready {
    pub(crate) fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.logs.is_empty()
    }

    /// The spans and records as one set to draw.
    pub(crate) fn into_trace_set(self, resource: &Resource) -> TraceSet {
        let mut builder = TraceSetBuilder::default();
        builder.add_span_data(self.spans, resource);
        builder.add_log_data(&self.logs, resource);
        builder.build()
    }
}

/// The spans of traces whose local root (the span whose parent is remote or
/// absent) has not ended yet, and the log records of sampled traces. Children
/// end before their parent, so a trace is whole when its local root ends.
#[derive(Debug, Default)]
pub(crate) struct PendingTraces {
    spans: Vec<SpanData>,
    logs: Vec<LogData>,
}

impl PendingTraces {
    /// Adds `batch`; returns every trace it completes (spans in the order
    /// they arrived) with its log records.
    pub(crate) fn add(&mut self, batch: Vec<SpanData>) -> Ready {
        let finished: HashSet<TraceId> = batch
            .iter()
            .filter(|s| is_local_root(s))
            .map(|s| s.span_context.trace_id())
            .collect();
        self.spans.extend(batch);
        if finished.is_empty() {
            return Ready::default();
        }
        let (spans, keep) = std::mem::take(&mut self.spans)
            .into_iter()
            .partition(|s| finished.contains(&s.span_context.trace_id()));
        self.spans = keep;
        let (logs, keep) = std::mem::take(&mut self.logs)
            .into_iter()
            .partition(|(r, _)| trace_of(r).is_some_and(|t| finished.contains(&t)));
        self.logs = keep;
        Ready { spans, logs }
    }

    /// Adds log records: those of a sampled trace wait for it; the others
    /// (no trace, or an unsampled one, whose spans never come) are ready.
    pub(crate) fn add_logs(&mut self, logs: Vec<LogData>) -> Ready {
        let (held, ready): (Vec<_>, Vec<_>) = logs.into_iter().partition(|(r, _)| {
            r.trace_context()
                .is_some_and(|t| t.trace_flags.is_none_or(|f| f.is_sampled()))
        });
        self.logs.extend(held);
        let mut ready = ready;
        if self.logs.len() > MAX_HELD_LOGS {
            let excess = self.logs.len() - MAX_HELD_LOGS;
            ready.extend(self.logs.drain(..excess));
        }
        Ready {
            spans: Vec::new(),
            logs: ready,
        }
    }

    /// Everything still held (at a flush or shutdown).
    pub(crate) fn take_all(&mut self) -> Ready {
        Ready {
            spans: std::mem::take(&mut self.spans),
            logs: std::mem::take(&mut self.logs),
        }
    }
}

fn trace_of(record: &SdkLogRecord) -> Option<TraceId> {
    record.trace_context().map(|t| t.trace_id)
}

fn is_local_root(span: &SpanData) -> bool {
    span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote
}
