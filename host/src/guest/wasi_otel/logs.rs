//! `wasi:otel/logs`: a guest's log record into the host's logs pipeline
//! (`guest/logs.rs`), with its limits, budgets and the plugin's identity.
//!
//! The record's trace and span ids are checked like a span's parent: they
//! stand when they name the invocation span or a span this guest started
//! or ended here; otherwise (absent, malformed, someone else's) the record
//! belongs to the invocation span. Its time is the guest's, its observed
//! time the host's. Its scope and resource are the plugin's, not the
//! guest's.

use super::spans::{parse_span_id, time_of};
use super::values::{push_attributes, push_text, push_value};
use crate::bindings::otel::logs::LogRecord;
use crate::guest::SpanTable;
use crate::guest::logs::LogArgs;
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceId};

impl SpanTable {
    /// `logs.on-emit`.
    pub(crate) fn otel_on_emit(&mut self, record: LogRecord) {
        let t = self.timer.start();
        let mut args = self.args.take().unwrap_or_default();
        args.clear();
        let limits = self.limits.clone();
        let log = LogArgs {
            severity_number: record.severity_number.unwrap_or(0),
            severity_text: record
                .severity_text
                .as_deref()
                .map(|s| push_text(&mut args, s, limits.max_name_length)),
            body: record
                .body
                .as_deref()
                .and_then(|b| push_value(&mut args, b, &limits, &mut self.counts)),
            attributes: push_attributes(
                &mut args,
                record.attributes.as_deref().unwrap_or_default(),
                &limits,
                &mut self.counts,
            ),
            event_name: record
                .event_name
                .as_deref()
                .map(|s| push_text(&mut args, s, limits.max_name_length)),
            timestamp: record.timestamp.as_ref().map(time_of),
        };
        let sc = self.otel_log_span(&record);
        self.emit_log_record(&sc, &args, log);
        self.args = Some(args);
        self.counts.add_time_since(t);
    }

    /// The span a record belongs to: the one it names if the host knows
    /// it, else the invocation span.
    fn otel_log_span(&self, record: &LogRecord) -> SpanContext {
        let base = self.base.span().span_context().clone();
        let claimed_trace = record
            .trace_id
            .as_deref()
            .and_then(|t| TraceId::from_hex(t).ok())
            .filter(|t| *t != TraceId::INVALID);
        let known = record
            .span_id
            .as_deref()
            .and_then(parse_span_id)
            .and_then(|id| Some((id, self.otel_known(id)?)));
        match known {
            Some((id, trace)) if claimed_trace.is_none_or(|t| t == trace) => SpanContext::new(
                trace,
                id,
                base.trace_flags(),
                false,
                base.trace_state().clone(),
            ),
            _ => base,
        }
    }
}
