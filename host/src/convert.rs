//! Conversions between the WIT types and OpenTelemetry's, in one place.

use crate::bindings::types as wit;
use crate::limits::{Limits, truncate};
use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;

/// Attribute key prefixes only the host may set (plugin identity, resource).
pub(crate) const RESERVED_PREFIXES: [&str; 2] = ["wasmtrace.", "service."];

/// Whether a guest may set this attribute key.
pub(crate) fn is_guest_key_allowed(key: &str) -> bool {
    !key.is_empty() && !RESERVED_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Converts a guest value, truncating strings to `max_len` bytes (OTel's
/// `AttributeValueLengthLimit`, applied to each string of an array too).
pub(crate) fn guest_value(value: wit::Value, max_len: u32) -> Value {
    let cut = |s: String| StringValue::from(truncate(s, max_len));
    match value {
        wit::Value::String(s) => Value::String(cut(s)),
        wit::Value::Bool(b) => Value::Bool(b),
        wit::Value::S64(i) => Value::I64(i),
        wit::Value::F64(f) => Value::F64(f),
        wit::Value::StringArray(v) => Value::Array(Array::String(v.into_iter().map(cut).collect())),
        wit::Value::BoolArray(v) => Value::Array(Array::Bool(v)),
        wit::Value::S64Array(v) => Value::Array(Array::I64(v)),
        wit::Value::F64Array(v) => Value::Array(Array::F64(v)),
    }
}

/// Converts guest attributes, dropping reserved or empty keys and
/// truncating long keys and values, then appends `extra` (the host's own
/// attributes). Returns the attributes and how many guest ones were dropped.
pub(crate) fn guest_attributes(
    attrs: Vec<wit::KeyValue>,
    limits: &Limits,
    keys: &mut Keys,
    extra: &[KeyValue],
) -> (Vec<KeyValue>, u32) {
    let total = attrs.len();
    // Sized once: the SDK keeps this `Vec` as the span's attributes.
    let mut kept = Vec::with_capacity(total + extra.len());
    kept.extend(
        attrs
            .into_iter()
            .filter(|kv| is_guest_key_allowed(&kv.key))
            .map(|kv| {
                KeyValue::new(
                    keys.key(truncate(kv.key, limits.max_name_length)),
                    guest_value(kv.value, limits.max_attribute_value_length),
                )
            }),
    );
    let dropped = (total - kept.len()) as u32;
    kept.extend_from_slice(extra);
    (kept, dropped)
}

/// The attribute keys a store's guest has used, each shared as one
/// `Arc<str>`.
///
/// A span's attributes are freed by the batch processor on its own thread;
/// for a key seen before that is a reference count going down rather than
/// a cross-thread `free`. Guests reuse a handful of keys, so a small bound
/// holds them all; past it new keys are simply owned. The hasher is seeded
/// per process and the table is small, so guest-chosen keys cannot make
/// lookups slow.
#[derive(Default)]
pub(crate) struct Keys(HashSet<Arc<str>, foldhash::fast::RandomState>);

impl Keys {
    /// Distinct keys kept per store.
    const MAX: usize = 256;

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

impl From<wit::SpanKind> for SpanKind {
    fn from(kind: wit::SpanKind) -> Self {
        match kind {
            wit::SpanKind::Internal => SpanKind::Internal,
            wit::SpanKind::Server => SpanKind::Server,
            wit::SpanKind::Client => SpanKind::Client,
            wit::SpanKind::Producer => SpanKind::Producer,
            wit::SpanKind::Consumer => SpanKind::Consumer,
        }
    }
}

impl From<wit::Status> for Status {
    fn from(status: wit::Status) -> Self {
        match status {
            wit::Status::Unset => Status::Unset,
            wit::Status::Ok => Status::Ok,
            wit::Status::Error(message) => Status::error(message),
        }
    }
}

impl From<&SpanContext> for wit::SpanContext {
    fn from(sc: &SpanContext) -> Self {
        wit::SpanContext {
            trace_id: sc.trace_id().to_string(),
            span_id: sc.span_id().to_string(),
            trace_flags: sc.trace_flags().to_u8(),
            trace_state: sc.trace_state().header(),
            is_remote: sc.is_remote(),
        }
    }
}

/// Parses a guest-supplied span context. `None` when an id is not valid hex
/// of the right length or is all zeros.
pub(crate) fn span_context_from_guest(sc: &wit::SpanContext) -> Option<SpanContext> {
    if sc.trace_id.len() != 32 || sc.span_id.len() != 16 {
        return None;
    }
    let trace_id = TraceId::from_hex(&sc.trace_id).ok()?;
    let span_id = SpanId::from_hex(&sc.span_id).ok()?;
    let trace_state = TraceState::from_str(&sc.trace_state).unwrap_or_default();
    let ctx = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(sc.trace_flags),
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
    let mut attrs = vec![
        KeyValue::new("exception.type", exception_type),
        KeyValue::new("exception.message", message),
    ];
    if let Some(st) = stacktrace {
        attrs.push(KeyValue::new("exception.stacktrace", st));
    }
    attrs
}

/// Converts guest links; invalid ones are dropped and counted.
pub(crate) fn guest_links(
    links: Vec<wit::Link>,
    limits: &Limits,
    keys: &mut Keys,
) -> (Vec<Link>, u32) {
    let mut dropped = 0;
    let mut kept = Vec::with_capacity(links.len());
    for link in links {
        match span_context_from_guest(&link.span_context) {
            Some(sc) => {
                let (attributes, _) = guest_attributes(link.attributes, limits, keys, &[]);
                kept.push(Link::new(sc, attributes, 0));
            }
            None => dropped += 1,
        }
    }
    (kept, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_keys_are_dropped() {
        let attrs = vec![
            wit::KeyValue {
                key: "service.name".into(),
                value: wit::Value::String("evil".into()),
            },
            wit::KeyValue {
                key: "wasmtrace.plugin.name".into(),
                value: wit::Value::String("evil".into()),
            },
            wit::KeyValue {
                key: "".into(),
                value: wit::Value::Bool(true),
            },
            wit::KeyValue {
                key: "items".into(),
                value: wit::Value::S64Array(vec![1, 2]),
            },
        ];
        let (kept, dropped) =
            guest_attributes(attrs, &Limits::default(), &mut Keys::default(), &[]);
        assert_eq!(dropped, 3);
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
    fn long_keys_and_values_are_truncated() {
        let limits = Limits {
            max_name_length: 3,
            max_attribute_value_length: 2,
            ..Limits::default()
        };
        let attrs = vec![wit::KeyValue {
            key: "abcdef".into(),
            value: wit::Value::StringArray(vec!["xyz".into(), "é".into()]),
        }];
        let (kept, _) = guest_attributes(attrs, &limits, &mut Keys::default(), &[]);
        let expected = Value::Array(vec![StringValue::from("xy"), StringValue::from("é")].into());
        assert_eq!(kept, vec![KeyValue::new("abc", expected)]);
    }

    #[test]
    fn invalid_guest_span_contexts_are_rejected() {
        let good = wit::SpanContext {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: "00f067aa0ba902b7".into(),
            trace_flags: 1,
            trace_state: "congo=t61rcWkgMzE".into(),
            is_remote: true,
        };
        let parsed = span_context_from_guest(&good).expect("valid");
        let back = wit::SpanContext::from(&parsed);
        assert_eq!(
            (
                back.trace_id,
                back.span_id,
                back.trace_flags,
                back.trace_state,
                back.is_remote
            ),
            (
                good.trace_id.clone(),
                good.span_id.clone(),
                good.trace_flags,
                good.trace_state.clone(),
                good.is_remote
            )
        );

        for (trace_id, span_id) in [
            ("00000000000000000000000000000000", "00f067aa0ba902b7"),
            ("4bf92f3577b34da6a3ce929d0e0e4736", "0000000000000000"),
            ("4bf92f3577b34da6a3ce929d0e0e47", "00f067aa0ba902b7"),
            ("4bf92f3577b34da6a3ce929d0e0e473z", "00f067aa0ba902b7"),
        ] {
            let bad = wit::SpanContext {
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
