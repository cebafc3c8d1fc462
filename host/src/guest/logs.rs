//! `wasmtrace:telemetry/logs`: log records stamped by the host with the
//! time and their context's trace and span ids, and emitted at once to the
//! plugin's logger (so a trap loses none), under the same limits, budgets
//! and reserved keys as spans.

use super::args::{ArgValue, Args, Text};
use super::convert::ATTRIBUTE_COST;
use super::table::{Handle, SpanTable};
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};
use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use opentelemetry::{Array, Key, Value};
use std::borrow::Cow;
use std::ops::Range;
use std::time::SystemTime;

/// What a guest's `emit` carries, read within the limits.
pub(crate) struct LogArgs {
    pub(crate) severity_number: u8,
    pub(crate) severity_text: Option<Text>,
    pub(crate) body: Option<ArgValue>,
    pub(crate) attributes: Range<u32>,
    pub(crate) event_name: Option<Text>,
    /// When the event happened, if the guest says (`wasi:otel`); else the
    /// host stamps it when it observes it.
    pub(crate) timestamp: Option<SystemTime>,
}

/// What the host charges for one record besides its strings.
const LOG_RECORD_COST: u64 = size_of::<opentelemetry_sdk::logs::SdkLogRecord>() as u64;

/// OpenTelemetry's severity for a severity number; `None` for 0 (unspecified)
/// and for numbers outside 1..=24.
pub(crate) fn severity(number: u8) -> Option<Severity> {
    use Severity::*;
    const ALL: [Severity; 24] = [
        Trace, Trace2, Trace3, Trace4, Debug, Debug2, Debug3, Debug4, Info, Info2, Info3, Info4,
        Warn, Warn2, Warn3, Warn4, Error, Error2, Error3, Error4, Fatal, Fatal2, Fatal3, Fatal4,
    ];
    ALL.get(usize::from(number).checked_sub(1)?).copied()
}

/// A span attribute value as a log attribute value.
fn any_value(value: Value) -> AnyValue {
    match value {
        Value::Bool(b) => AnyValue::Boolean(b),
        Value::I64(i) => AnyValue::Int(i),
        Value::F64(f) => AnyValue::Double(f),
        Value::String(s) => AnyValue::String(s),
        Value::Array(array) => AnyValue::ListAny(Box::new(match array {
            Array::Bool(v) => v.into_iter().map(AnyValue::Boolean).collect(),
            Array::I64(v) => v.into_iter().map(AnyValue::Int).collect(),
            Array::F64(v) => v.into_iter().map(AnyValue::Double).collect(),
            Array::String(v) => v.into_iter().map(AnyValue::String).collect(),
            _ => Vec::new(),
        })),
        _ => AnyValue::String("".into()),
    }
}

impl SpanTable {
    /// Whether a record of `severity_number` would be kept.
    pub(crate) fn log_enabled(&self, severity_number: u8) -> bool {
        self.logger.is_some() && self.budget.logs > 0 && severity_number <= 24
    }

    /// `logs.emit`.
    pub(crate) fn emit_log(&mut self, cx: Handle, args: &Args, log: LogArgs) {
        let t = self.timer.start();
        self.settle_lifted();
        let (parent, _) = self.resolve(cx);
        let sc = parent.span().span_context().clone();
        self.emit_log_record(&sc, args, log);
        self.counts.add_time_since(t);
    }

    /// Emits a record in the span `sc` (when valid), within the limits and
    /// budgets: the one path of both `logs` interfaces.
    pub(super) fn emit_log_record(&mut self, sc: &SpanContext, args: &Args, log: LogArgs) {
        let Some(logger) = self.logger.clone() else {
            self.counts.logs_dropped += 1;
            return;
        };
        let mut recorder = recorder!(self);
        if self.budget.logs == 0 || !recorder.charge(LOG_RECORD_COST) {
            self.counts.logs_dropped += 1;
            return;
        }
        self.budget.logs -= 1;
        let mut recorder = recorder!(self);
        let mut record = logger.create_log_record();
        let now = SystemTime::now();
        record.set_timestamp(log.timestamp.unwrap_or(now));
        record.set_observed_timestamp(now);
        let severity = severity(log.severity_number);
        if let Some(severity) = severity {
            record.set_severity_number(severity);
        }
        // The SDK keeps these as `&'static str`: the shared, bounded table of
        // names gives one; past its bound the canonical name stands in (or,
        // for an event name, an attribute does).
        let mut extra = Vec::new();
        if let Some(text) = log.severity_text {
            match recorder.name(args.text(text)) {
                Cow::Borrowed(text) => record.set_severity_text(text),
                Cow::Owned(_) => {
                    if let Some(severity) = severity {
                        record.set_severity_text(severity.name());
                    }
                }
            }
        }
        if let Some(name) = log.event_name {
            match recorder.name(args.text(name)) {
                Cow::Borrowed(name) => record.set_event_name(name),
                Cow::Owned(name) => extra.push((Key::from_static_str("event.name"), name.into())),
            }
        }
        if let Some(body) = &log.body {
            match recorder.value(args, body, ATTRIBUTE_COST) {
                Some(body) => record.set_body(any_value(body)),
                None => self.counts.attributes_dropped += 1,
            }
        }
        let mut recorder = recorder!(self);
        let mut kept = Vec::with_capacity((log.attributes.end - log.attributes.start) as usize);
        let max = self.limits.max_attributes_per_log;
        recorder.attributes(args, log.attributes, max, &mut kept);
        record.add_attributes(
            kept.into_iter()
                .map(|kv| (kv.key, any_value(kv.value)))
                .chain(extra)
                .chain(
                    self.identity
                        .iter()
                        .map(|kv| (kv.key.clone(), any_value(kv.value.clone()))),
                ),
        );
        if sc.is_valid() {
            record.set_trace_context(sc.trace_id(), sc.span_id(), Some(sc.trace_flags()));
        }
        logger.emit(record);
        self.counts.logs += 1;
    }
}
