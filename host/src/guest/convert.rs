//! Guest data into OpenTelemetry's, in one place: every string a guest sends
//! is truncated to its limit (releasing what was cut), every attribute,
//! array element, event and link is charged to the invocation's byte budget
//! and dropped, counted, once the budget or a per-span limit is reached.

use super::args::{ArgLink, ArgValue, Args};
use crate::bindings::telemetry::tracing::SpanKind as WitSpanKind;
use crate::bindings::telemetry::types::{
    SpanContext as WitSpanContext, TraceFlags as WitTraceFlags,
};
use crate::limits::Limits;
use crate::stats::Counts;
use opentelemetry::trace::{Link, SpanContext, SpanId, SpanKind, TraceFlags, TraceId, TraceState};
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use std::borrow::Cow;
use std::collections::HashSet;
use std::mem::size_of;
use std::ops::Range;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

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

/// The strings a store's guest repeats (attribute keys, short string
/// values, span and event names), each kept once for the life of the
/// process as a `&'static str`.
///
/// A span's data is freed by the export pipeline on its own thread. A
/// `'static` string costs nothing there: no cross-thread `free`, and no
/// reference count bouncing between the two threads' caches (an `Arc` per
/// string cost more than the allocation it saved). Guests choose these
/// strings, so the process-wide table is bounded in count and bytes; past
/// it new strings are owned per span, as they would be without it. Each
/// store keeps its own small set in front of the shared table, so a lookup
/// takes the lock only the first time a store sees a string. The hasher is
/// seeded per process and the sets are small, so guest-chosen strings
/// cannot make lookups slow.
#[derive(Default)]
pub(crate) struct Keys {
    seen: HashSet<&'static str, foldhash::fast::RandomState>,
}

impl Keys {
    /// Distinct strings each store remembers.
    pub(crate) const MAX: usize = 512;
    /// String values longer than this are not shared (they are rarely
    /// repeated).
    const MAX_SHARED_VALUE: usize = 64;

    /// The OTel key for `key`.
    pub(crate) fn key(&mut self, key: &str) -> Key {
        match self.shared(key) {
            Some(known) => Key::from_static_str(known),
            None => Key::from(key.to_owned()),
        }
    }

    /// A string value, shared when it is short.
    pub(crate) fn value(&mut self, value: &str) -> StringValue {
        match (value.len() <= Self::MAX_SHARED_VALUE)
            .then(|| self.shared(value))
            .flatten()
        {
            Some(known) => StringValue::from(known),
            None => StringValue::from(value.to_owned()),
        }
    }

    /// A span or event name.
    pub(crate) fn name(&mut self, name: &str) -> Cow<'static, str> {
        match self.shared(name) {
            Some(known) => Cow::Borrowed(known),
            None => Cow::Owned(name.to_owned()),
        }
    }

    fn shared(&mut self, s: &str) -> Option<&'static str> {
        if let Some(&known) = self.seen.get(s) {
            return Some(known);
        }
        let known = intern(s)?;
        if self.seen.len() < Self::MAX {
            self.seen.insert(known);
        }
        Some(known)
    }
}

/// The process-wide table behind [`Keys`]: strings leaked once, up to a
/// count and a total size.
fn intern(s: &str) -> Option<&'static str> {
    const MAX_STRINGS: usize = 8_192;
    const MAX_BYTES: usize = 512 << 10;
    static STRINGS: OnceLock<Mutex<(HashSet<&'static str>, usize)>> = OnceLock::new();
    let mut table = STRINGS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let (strings, bytes) = &mut *table;
    if let Some(&known) = strings.get(s) {
        return Some(known);
    }
    if strings.len() >= MAX_STRINGS || *bytes + s.len() > MAX_BYTES {
        return None;
    }
    let leaked: &'static str = Box::leak(s.into());
    strings.insert(leaked);
    *bytes += s.len();
    Some(leaked)
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

    /// A span or event name (already cut to its limit by the reader):
    /// charged, but never refused (spans and events are bounded by count,
    /// and need a name).
    pub(crate) fn name(&mut self, name: &str) -> Cow<'static, str> {
        *self.bytes = self.bytes.saturating_sub(name.len() as u64);
        self.keys.name(name)
    }

    /// A free-text value (status message, exception field): cut to the
    /// value-length limit and to what the budget still holds.
    pub(crate) fn text(&mut self, text: &str) -> String {
        let max = (*self.bytes).min(u64::from(self.limits.max_attribute_value_length));
        let text = truncate(text.to_owned(), max as u32);
        *self.bytes -= text.len() as u64;
        text
    }

    /// Converts the guest attributes `range` of `args` into `out`: reserved
    /// and empty keys are dropped, and attributes past `max` (counting what
    /// `out` holds) or the budget. Everything dropped is counted.
    pub(crate) fn attributes(
        &mut self,
        args: &Args,
        range: Range<u32>,
        max: u32,
        out: &mut Vec<KeyValue>,
    ) {
        let attributes = args.attributes(range);
        let room = (max as usize).saturating_sub(out.len());
        for kv in attributes.iter().take(room) {
            let key = args.text(kv.key);
            if !is_guest_key_allowed(key) {
                self.counts.attributes_dropped += 1;
                continue;
            }
            let Some(value) = self.value(args, &kv.value, ATTRIBUTE_COST + key.len() as u64) else {
                self.counts.attributes_dropped += 1;
                continue;
            };
            out.push(KeyValue::new(self.keys.key(key), value));
        }
        self.counts.attributes_dropped += attributes.len().saturating_sub(room) as u64;
    }

    /// Converts one value, charging `base` plus what it holds; `None` when
    /// the budget cannot pay for it.
    pub(crate) fn value(&mut self, args: &Args, value: &ArgValue, base: u64) -> Option<Value> {
        let cost = base + cost_of(args, value);
        if !self.charge(cost) {
            self.counts.bytes_dropped += cost;
            return None;
        }
        Some(match value {
            ArgValue::String(t) => Value::String(self.keys.value(args.text(*t))),
            ArgValue::Bool(b) => Value::Bool(*b),
            ArgValue::S64(i) => Value::I64(*i),
            ArgValue::F64(f) => Value::F64(*f),
            ArgValue::StringArray(r) => Value::Array(Array::String(
                args.strings(r.clone())
                    .iter()
                    .map(|t| StringValue::from(args.text(*t).to_owned()))
                    .collect(),
            )),
            ArgValue::BoolArray(r) => Value::Array(Array::Bool(args.bools(r.clone()).to_vec())),
            ArgValue::S64Array(r) => Value::Array(Array::I64(args.ints(r.clone()).to_vec())),
            ArgValue::F64Array(r) => Value::Array(Array::F64(args.floats(r.clone()).to_vec())),
        })
    }

    /// Converts the guest links of `args`: invalid ones and those past the
    /// limit or the budget are dropped and counted.
    pub(crate) fn links(&mut self, args: &Args, max: u32) -> Vec<Link> {
        let total = args.links.len();
        let mut kept = Vec::with_capacity(total.min(max as usize));
        for link in args.links.iter().take(max as usize) {
            let Some(sc) = link_span_context(args, link) else {
                self.counts.links_dropped += 1;
                continue;
            };
            if !self.charge(LINK_COST + args.text(link.trace_state).len() as u64) {
                self.counts.links_dropped += 1;
                continue;
            }
            let mut attributes = Vec::new();
            let per_link = self.limits.max_attributes_per_link;
            self.attributes(args, link.attributes.clone(), per_link, &mut attributes);
            kept.push(Link::new(sc, attributes, 0));
        }
        self.counts.links_dropped += total.saturating_sub(max as usize) as u64;
        kept
    }
}

/// The host memory a value holds beyond its `KeyValue`.
fn cost_of(args: &Args, value: &ArgValue) -> u64 {
    match value {
        ArgValue::String(t) => args.text(*t).len() as u64,
        ArgValue::Bool(_) | ArgValue::S64(_) | ArgValue::F64(_) => 0,
        ArgValue::StringArray(r) => args
            .strings(r.clone())
            .iter()
            .map(|t| (size_of::<StringValue>() + args.text(*t).len()) as u64)
            .sum(),
        ArgValue::BoolArray(r) => args.bools(r.clone()).len() as u64,
        ArgValue::S64Array(r) => 8 * args.ints(r.clone()).len() as u64,
        ArgValue::F64Array(r) => 8 * args.floats(r.clone()).len() as u64,
    }
}

/// A link's span context, if its ids are lowercase hex of the right length
/// and not all zeros.
fn link_span_context(args: &Args, link: &ArgLink) -> Option<SpanContext> {
    span_context_from_guest(&WitSpanContext {
        trace_id: args.text(link.trace_id).to_owned(),
        span_id: args.text(link.span_id).to_owned(),
        trace_flags: link.trace_flags,
        trace_state: args.text(link.trace_state).to_owned(),
        is_remote: link.is_remote,
    })
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
/// conventions; an empty type (an error that is only a message, such as a
/// Rust `&str`) leaves `exception.type` out.
pub(crate) fn exception_attributes(
    exception_type: String,
    message: String,
    stacktrace: Option<String>,
) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(3);
    if !exception_type.is_empty() {
        attrs.push(KeyValue::new("exception.type", exception_type));
    }
    attrs.push(KeyValue::new("exception.message", message));
    if let Some(st) = stacktrace {
        attrs.push(KeyValue::new("exception.stacktrace", st));
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::telemetry::types::{KeyValue as WitKeyValue, Value as WitValue};

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
        let mut args = Args::default();
        let range = args.push_wit(attributes);
        let mut out = Vec::new();
        Recorder {
            limits,
            bytes,
            keys: &mut keys,
            counts: &mut counts,
        }
        .attributes(&args, range, limits.max_attributes_per_span, &mut out);
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
    fn keys_values_and_names_are_shared_up_to_a_bound() {
        let mut keys = Keys::default();
        // Shared: the key seen again is the same `'static` string.
        let (a, b) = (keys.key("http.route"), keys.key("http.route"));
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        for i in 0..Keys::MAX {
            keys.key(&format!("shared-bound-{i}"));
        }
        assert_eq!(keys.seen.len(), Keys::MAX);
        assert_eq!(keys.key("late").as_str(), "late");
        assert_eq!(keys.seen.len(), Keys::MAX);
        // Short values are shared, long ones owned.
        let mut keys = Keys::default();
        let (a, b) = (keys.value("/users/{id}"), keys.value("/users/{id}"));
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_eq!(keys.seen.len(), 1);
        keys.value(&"x".repeat(100));
        assert_eq!(keys.seen.len(), 1);
        // Names are `'static` once seen.
        assert!(matches!(
            keys.name("handle_request"),
            Cow::Borrowed("handle_request")
        ));
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
