//! Guest data into OpenTelemetry's, in one place: every string a guest sends
//! is truncated to its limit (releasing what was cut), every attribute,
//! array element, event and link is charged to the invocation's byte budget
//! and dropped, counted, once the budget or a per-span limit is reached.

use crate::bindings::telemetry::tracing::{Link as WitLink, SpanKind as WitSpanKind};
use crate::bindings::telemetry::types::{
    KeyValue as WitKeyValue, SpanContext as WitSpanContext, TraceFlags as WitTraceFlags,
    Value as WitValue,
};
use crate::limits::Limits;
use crate::stats::Counts;
use opentelemetry::trace::{Link, SpanContext, SpanId, SpanKind, TraceFlags, TraceId, TraceState};
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use std::collections::HashSet;
use std::mem::size_of;
use std::str::FromStr;
use std::sync::Arc;

/// Attribute key prefixes only the host may set (plugin identity, resource).
pub(crate) const RESERVED_PREFIXES: [&str; 2] = ["wasmtrace.", "service."];

/// What the host charges for one attribute besides its strings: the
/// `KeyValue` the span keeps.
pub(crate) const ATTRIBUTE_COST: u64 = size_of::<KeyValue>() as u64;
/// What the host charges for one event besides its name and attributes.
pub(crate) const EVENT_COST: u64 = size_of::<opentelemetry::trace::Event>() as u64;
/// What the host charges for one link besides its attributes.
pub(crate) const LINK_COST: u64 = size_of::<Link>() as u64;

/// Whether a guest may set this attribute key.
pub(crate) fn is_guest_key_allowed(key: &str) -> bool {
    !key.is_empty() && !RESERVED_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Truncates `s` to at most `max` bytes at a character boundary and gives
/// back the memory that was cut.
pub(crate) fn truncate(mut s: String, max: u32) -> String {
    let max = max as usize;
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.shrink_to_fit();
    }
    s
}

/// The attribute keys a store's guest has used, each shared as one
/// `Arc<str>`.
///
/// A span's attributes are freed by the export pipeline on its own thread;
/// for a key seen before that is a reference count going down rather than
/// a cross-thread `free`. Guests reuse a handful of keys, so a small bound
/// holds them all; past it new keys are simply owned. The hasher is seeded
/// per process and the table is small, so guest-chosen keys cannot make
/// lookups slow.
#[derive(Default)]
pub(crate) struct Keys(HashSet<Arc<str>, foldhash::fast::RandomState>);

impl Keys {
    /// Distinct keys kept per store.
    pub(crate) const MAX: usize = 256;

    /// The OTel key for `key`, shared with earlier uses of the same key.
    pub(crate) fn key(&mut self, key: String) -> Key {
        if let Some(shared) = self.0.get(key.as_str()) {
            return Key::from(shared.clone());
        }
        if self.0.len() >= Self::MAX {
            return Key::from(key);
        }
        let shared: Arc<str> = key.into();
        self.0.insert(shared.clone());
        Key::from(shared)
    }
}

/// Converts guest data under the per-span limits and the byte budget,
/// counting what it drops.
pub(crate) struct Recorder<'a> {
    pub(crate) limits: &'a Limits,
    /// Bytes the invocation may still record.
    pub(crate) bytes: &'a mut u64,
    pub(crate) keys: &'a mut Keys,
    pub(crate) counts: &'a mut Counts,
}

impl Recorder<'_> {
    /// Takes `cost` bytes from the budget; false (and nothing taken) when
    /// it does not hold them.
    pub(crate) fn charge(&mut self, cost: u64) -> bool {
        match self.bytes.checked_sub(cost) {
            Some(left) => {
                *self.bytes = left;
                true
            }
            None => false,
        }
    }

    /// A span or event name: truncated, charged (but never refused: spans
    /// and events are bounded by count, and need a name).
    pub(crate) fn name(&mut self, name: String) -> String {
        let name = truncate(name, self.limits.max_name_length);
        *self.bytes = self.bytes.saturating_sub(name.len() as u64);
        name
    }

    /// A free-text value (status message, exception field): truncated to
    /// the value-length limit and to what the budget still holds.
    pub(crate) fn text(&mut self, text: String) -> String {
        let max = (*self.bytes).min(u64::from(self.limits.max_attribute_value_length));
        let text = truncate(text, max as u32);
        *self.bytes -= text.len() as u64;
        text
    }

    /// Converts guest attributes into `out`, which holds `present` already:
    /// reserved and empty keys are dropped, keys and values truncated,
    /// arrays cut to their limit, and attributes past `max` or the budget
    /// dropped. Everything dropped is counted.
    pub(crate) fn attributes(
        &mut self,
        attributes: Vec<WitKeyValue>,
        max: u32,
        out: &mut Vec<KeyValue>,
    ) {
        let room = (max as usize).saturating_sub(out.len());
        let total = attributes.len();
        for kv in attributes.into_iter().take(room) {
            if !is_guest_key_allowed(&kv.key) {
                self.counts.attributes_dropped += 1;
                continue;
            }
            let key = truncate(kv.key, self.limits.max_name_length);
            let Some(value) = self.value(kv.value, ATTRIBUTE_COST + key.len() as u64) else {
                self.counts.attributes_dropped += 1;
                continue;
            };
            out.push(KeyValue::new(self.keys.key(key), value));
        }
        self.counts.attributes_dropped += total.saturating_sub(room) as u64;
    }

    /// Converts one value, charging `base` plus what it holds; `None` when
    /// the budget cannot pay for it.
    fn value(&mut self, value: WitValue, base: u64) -> Option<Value> {
        let max_len = self.limits.max_attribute_value_length;
        let max_items = self.limits.max_array_length as usize;
        let cut = |s: String| StringValue::from(truncate(s, max_len));
        let (value, cost) = match value {
            WitValue::String(s) => {
                let s = cut(s);
                let cost = s.as_str().len() as u64;
                (Value::String(s), cost)
            }
            WitValue::Bool(b) => (Value::Bool(b), 0),
            WitValue::S64(i) => (Value::I64(i), 0),
            WitValue::F64(f) => (Value::F64(f), 0),
            WitValue::StringArray(mut v) => {
                self.counts.array_items_dropped += v.len().saturating_sub(max_items) as u64;
                v.truncate(max_items);
                let items: Vec<StringValue> = v.into_iter().map(cut).collect();
                let cost = items
                    .iter()
                    .map(|s| (size_of::<StringValue>() + s.as_str().len()) as u64)
                    .sum();
                (Value::Array(Array::String(items)), cost)
            }
            WitValue::BoolArray(mut v) => {
                self.counts.array_items_dropped += v.len().saturating_sub(max_items) as u64;
                v.truncate(max_items);
                v.shrink_to_fit();
                let cost = v.len() as u64;
                (Value::Array(Array::Bool(v)), cost)
            }
            WitValue::S64Array(mut v) => {
                self.counts.array_items_dropped += v.len().saturating_sub(max_items) as u64;
                v.truncate(max_items);
                v.shrink_to_fit();
                let cost = 8 * v.len() as u64;
                (Value::Array(Array::I64(v)), cost)
            }
            WitValue::F64Array(mut v) => {
                self.counts.array_items_dropped += v.len().saturating_sub(max_items) as u64;
                v.truncate(max_items);
                v.shrink_to_fit();
                let cost = 8 * v.len() as u64;
                (Value::Array(Array::F64(v)), cost)
            }
        };
        if self.charge(base + cost) {
            Some(value)
        } else {
            self.counts.bytes_dropped += base + cost;
            None
        }
    }

    /// Converts guest links: invalid ones and those past the limit or the
    /// budget are dropped and counted.
    pub(crate) fn links(&mut self, links: Vec<WitLink>, max: u32) -> Vec<Link> {
        let total = links.len();
        let mut kept = Vec::with_capacity(total.min(max as usize));
        for link in links.into_iter().take(max as usize) {
            let Some(sc) = span_context_from_guest(&link.span_context) else {
                self.counts.links_dropped += 1;
                continue;
            };
            if !self.charge(LINK_COST + link.span_context.trace_state.len() as u64) {
                self.counts.links_dropped += 1;
                continue;
            }
            let mut attributes = Vec::new();
            let per_link = self.limits.max_attributes_per_event;
            self.attributes(link.attributes, per_link, &mut attributes);
            kept.push(Link::new(sc, attributes, 0));
        }
        self.counts.links_dropped += total.saturating_sub(max as usize) as u64;
        kept
    }
}

impl From<WitSpanKind> for SpanKind {
    fn from(kind: WitSpanKind) -> Self {
        match kind {
            WitSpanKind::Internal => SpanKind::Internal,
            WitSpanKind::Server => SpanKind::Server,
            WitSpanKind::Client => SpanKind::Client,
            WitSpanKind::Producer => SpanKind::Producer,
            WitSpanKind::Consumer => SpanKind::Consumer,
        }
    }
}

/// W3C trace-flags bit 1: the trace id is random (Trace Context Level 2).
pub(crate) const RANDOM: TraceFlags = TraceFlags::new(0x02);

impl From<TraceFlags> for WitTraceFlags {
    fn from(flags: TraceFlags) -> Self {
        let mut out = WitTraceFlags::empty();
        if flags.is_sampled() {
            out |= WitTraceFlags::SAMPLED;
        }
        if flags & RANDOM == RANDOM {
            out |= WitTraceFlags::RANDOM;
        }
        out
    }
}

impl From<WitTraceFlags> for TraceFlags {
    fn from(flags: WitTraceFlags) -> Self {
        let mut out = TraceFlags::NOT_SAMPLED;
        if flags.contains(WitTraceFlags::SAMPLED) {
            out = out | TraceFlags::SAMPLED;
        }
        if flags.contains(WitTraceFlags::RANDOM) {
            out = out | RANDOM;
        }
        out
    }
}

impl From<&SpanContext> for WitSpanContext {
    fn from(sc: &SpanContext) -> Self {
        WitSpanContext {
            trace_id: sc.trace_id().to_string(),
            span_id: sc.span_id().to_string(),
            trace_flags: sc.trace_flags().into(),
            trace_state: sc.trace_state().header(),
            is_remote: sc.is_remote(),
        }
    }
}

/// Parses a guest-supplied span context. `None` when an id is not lowercase
/// hex of the right length or is all zeros.
pub(crate) fn span_context_from_guest(sc: &WitSpanContext) -> Option<SpanContext> {
    let lower_hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if !lower_hex(&sc.trace_id, 32) || !lower_hex(&sc.span_id, 16) {
        return None;
    }
    let trace_id = TraceId::from_hex(&sc.trace_id).ok()?;
    let span_id = SpanId::from_hex(&sc.span_id).ok()?;
    let trace_state = TraceState::from_str(&sc.trace_state).unwrap_or_default();
    let ctx = SpanContext::new(
        trace_id,
        span_id,
        sc.trace_flags.into(),
        sc.is_remote,
        trace_state,
    );
    ctx.is_valid().then_some(ctx)
}

/// The attributes of an OTel `exception` event, per the semantic
/// conventions.
pub(crate) fn exception_attributes(
    exception_type: String,
    message: String,
    stacktrace: Option<String>,
) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(3);
    attrs.push(KeyValue::new("exception.type", exception_type));
    attrs.push(KeyValue::new("exception.message", message));
    if let Some(st) = stacktrace {
        attrs.push(KeyValue::new("exception.stacktrace", st));
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: WitValue) -> WitKeyValue {
        WitKeyValue {
            key: key.into(),
            value,
        }
    }

    fn convert(
        limits: &Limits,
        bytes: &mut u64,
        attributes: Vec<WitKeyValue>,
    ) -> (Vec<KeyValue>, Counts) {
        let mut counts = Counts::default();
        let mut keys = Keys::default();
        let mut out = Vec::new();
        Recorder {
            limits,
            bytes,
            keys: &mut keys,
            counts: &mut counts,
        }
        .attributes(attributes, limits.max_attributes_per_span, &mut out);
        (out, counts)
    }

    #[test]
    fn reserved_and_empty_keys_are_dropped_and_counted() {
        let attrs = vec![
            kv("service.name", WitValue::String("evil".into())),
            kv("wasmtrace.plugin.name", WitValue::String("evil".into())),
            kv("", WitValue::Bool(true)),
            kv("items", WitValue::S64Array(vec![1, 2])),
        ];
        let (kept, counts) = convert(&Limits::default(), &mut u64::MAX.clone(), attrs);
        assert_eq!(counts.attributes_dropped, 3);
        assert_eq!(
            kept,
            vec![KeyValue::new("items", Value::Array(vec![1i64, 2].into()))]
        );
    }

    #[test]
    fn keys_are_shared_up_to_a_bound() {
        let mut keys = Keys::default();
        let first = keys.key("http.route".into());
        let again = keys.key("http.route".into());
        assert_eq!(first, again);
        assert_eq!(keys.0.len(), 1);
        // Shared: the key seen again is the same allocation, not a copy.
        let shared = keys.0.get("http.route").unwrap();
        assert_eq!(Arc::strong_count(shared), 3);
        for i in 0..Keys::MAX {
            keys.key(format!("k{i}"));
        }
        assert_eq!(keys.0.len(), Keys::MAX);
        assert_eq!(keys.key("late".into()).as_str(), "late");
        assert_eq!(keys.0.len(), Keys::MAX);
    }

    #[test]
    fn long_keys_values_and_arrays_are_cut() {
        let limits = Limits {
            max_name_length: 3,
            max_attribute_value_length: 2,
            max_array_length: 2,
            ..Limits::default()
        };
        let attrs = vec![kv(
            "abcdef",
            WitValue::StringArray(vec!["xyz".into(), "é".into(), "dropped".into()]),
        )];
        let (kept, counts) = convert(&limits, &mut u64::MAX.clone(), attrs);
        let expected = Value::Array(vec![StringValue::from("xy"), StringValue::from("é")].into());
        assert_eq!(kept, vec![KeyValue::new("abc", expected)]);
        assert_eq!(counts.array_items_dropped, 1);
    }

    #[test]
    fn truncation_releases_memory() {
        let cut = truncate("x".repeat(1 << 20), 256);
        assert_eq!(cut.len(), 256);
        assert!(cut.capacity() < 1024, "capacity {}", cut.capacity());
    }

    #[test]
    fn the_byte_budget_drops_what_it_cannot_pay_for() {
        let value = "v".repeat(100);
        let attrs = (0..10)
            .map(|i| kv(&format!("k{i}"), WitValue::String(value.clone())))
            .collect();
        let one = ATTRIBUTE_COST + 2 + 100;
        let mut bytes = 3 * one + 10;
        let (kept, counts) = convert(&Limits::default(), &mut bytes, attrs);
        assert_eq!(kept.len(), 3);
        assert_eq!(bytes, 10);
        assert_eq!(counts.attributes_dropped, 7);
        assert_eq!(counts.bytes_dropped, 7 * one);
    }

    #[test]
    fn invalid_guest_span_contexts_are_rejected() {
        let good = WitSpanContext {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: "00f067aa0ba902b7".into(),
            trace_flags: WitTraceFlags::SAMPLED | WitTraceFlags::RANDOM,
            trace_state: "congo=t61rcWkgMzE".into(),
            is_remote: true,
        };
        let parsed = span_context_from_guest(&good).expect("valid");
        let back = WitSpanContext::from(&parsed);
        assert_eq!(back.trace_id, good.trace_id);
        assert_eq!(back.span_id, good.span_id);
        assert_eq!(back.trace_flags, good.trace_flags);
        assert_eq!(back.trace_state, good.trace_state);
        assert!(back.is_remote);
        for (trace_id, span_id) in [
            ("00000000000000000000000000000000", "00f067aa0ba902b7"),
            ("4bf92f3577b34da6a3ce929d0e0e4736", "0000000000000000"),
            ("4bf92f3577b34da6a3ce929d0e0e47", "00f067aa0ba902b7"),
            ("4bf92f3577b34da6a3ce929d0e0e473z", "00f067aa0ba902b7"),
            ("4BF92F3577B34DA6A3CE929D0E0E4736", "00f067aa0ba902b7"),
        ] {
            let bad = WitSpanContext {
                trace_id: trace_id.into(),
                span_id: span_id.into(),
                ..good.clone()
            };
            assert!(
                span_context_from_guest(&bad).is_none(),
                "{trace_id}/{span_id}"
            );
        }
    }
}
