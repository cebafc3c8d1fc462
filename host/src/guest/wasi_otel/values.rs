//! `wasi:otel` attributes into the table's argument buffers.
//!
//! The standard sends each value as JSON text (its `AnyValue`, which WIT
//! cannot express). Decoded here into the same typed values wasmtrace's own
//! guests send, cut to the same lengths, so that the one converter
//! (`convert::Recorder`) applies every other limit, the byte budget and the
//! reserved keys to both.

use super::super::args::{ArgKeyValue, ArgValue, Args, Text};
use crate::bindings::otel::types::KeyValue;
use crate::limits::Limits;
use crate::stats::Counts;
use serde_json::Value as Json;
use std::ops::Range;

/// Copies `s` into `args`, cut to `max` bytes at a character boundary.
pub(super) fn push_text(args: &mut Args, s: &str, max: u32) -> Text {
    let mut end = s.len().min(max as usize);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    args.push_text(&s[..end])
}

/// Decodes `attributes` into `args`; returns their range. Keys are cut to
/// `max_name_length`, strings to `max_attribute_value_length`, arrays to
/// `max_array_length` (counted). A value that is not JSON is kept as the
/// string it is; JSON `null` drops the attribute (counted).
pub(super) fn push_attributes(
    args: &mut Args,
    attributes: &[KeyValue],
    limits: &Limits,
    counts: &mut Counts,
) -> Range<u32> {
    let start = args.attributes_len();
    for kv in attributes {
        let Some(value) = push_value(args, &kv.value, limits, counts) else {
            counts.attributes_dropped += 1;
            continue;
        };
        let key = push_text(args, &kv.key, limits.max_name_length);
        args.push_attribute(ArgKeyValue { key, value });
    }
    start..args.attributes_len()
}

/// Decodes one JSON-encoded value; `None` for `null`.
pub(super) fn push_value(
    args: &mut Args,
    json: &str,
    limits: &Limits,
    counts: &mut Counts,
) -> Option<ArgValue> {
    let max = limits.max_attribute_value_length;
    let Ok(value) = serde_json::from_str::<Json>(json) else {
        return Some(ArgValue::String(push_text(args, json, max)));
    };
    Some(match value {
        Json::Null => return None,
        Json::Bool(b) => ArgValue::Bool(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => ArgValue::S64(i),
            None => ArgValue::F64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => ArgValue::String(push_text(args, &s, max)),
        Json::Array(items) => push_array(args, json, &items, limits, counts),
        // Maps (and mixed arrays) have no typed attribute form: kept as
        // their JSON text.
        Json::Object(_) => ArgValue::String(push_text(args, json, max)),
    })
}

/// A homogeneous array as a typed array value, else its JSON text.
fn push_array(
    args: &mut Args,
    json: &str,
    items: &[Json],
    limits: &Limits,
    counts: &mut Counts,
) -> ArgValue {
    let keep = items.len().min(limits.max_array_length as usize);
    let cut = (items.len() - keep) as u64;
    let items = &items[..keep];
    let value = if items.iter().all(Json::is_string) {
        let from = args.strings_len();
        for s in items.iter().filter_map(Json::as_str) {
            let t = push_text(args, s, limits.max_attribute_value_length);
            args.push_string(t);
        }
        ArgValue::StringArray(from..args.strings_len())
    } else if items.iter().all(Json::is_boolean) {
        ArgValue::BoolArray(args.push_bools(items.iter().filter_map(Json::as_bool)))
    } else if items.iter().all(Json::is_i64) {
        ArgValue::S64Array(args.push_ints(items.iter().filter_map(Json::as_i64)))
    } else if items.iter().all(Json::is_number) {
        ArgValue::F64Array(args.push_floats(items.iter().filter_map(Json::as_f64)))
    } else {
        return ArgValue::String(push_text(args, json, limits.max_attribute_value_length));
    };
    counts.array_items_dropped += cut;
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str, limits: &Limits) -> (Option<ArgValue>, Args, Counts) {
        let mut args = Args::default();
        let mut counts = Counts::default();
        let value = push_value(&mut args, json, limits, &mut counts);
        (value, args, counts)
    }

    #[test]
    fn json_values_become_typed_values() {
        let limits = Limits::default();
        assert_eq!(decode("true", &limits).0, Some(ArgValue::Bool(true)));
        assert_eq!(decode("-3", &limits).0, Some(ArgValue::S64(-3)));
        assert_eq!(decode("1.5", &limits).0, Some(ArgValue::F64(1.5)));
        assert_eq!(decode("null", &limits).0, None);
        let (value, args, _) = decode("\"GET\"", &limits);
        let Some(ArgValue::String(t)) = value else {
            panic!("{value:?}")
        };
        assert_eq!(args.text(t), "GET");
        // Not JSON: the text itself.
        let (value, args, _) = decode("plain", &limits);
        let Some(ArgValue::String(t)) = value else {
            panic!("{value:?}")
        };
        assert_eq!(args.text(t), "plain");
        let (value, args, _) = decode("[1, 2, 3]", &limits);
        let Some(ArgValue::S64Array(r)) = value else {
            panic!("{value:?}")
        };
        assert_eq!(args.ints(r), [1, 2, 3]);
        let (value, args, _) = decode("[1, 2.5]", &limits);
        let Some(ArgValue::F64Array(r)) = value else {
            panic!("{value:?}")
        };
        assert_eq!(args.floats(r), [1.0, 2.5]);
        // Mixed: its JSON text.
        let (value, args, _) = decode("[1,\"a\"]", &limits);
        let Some(ArgValue::String(t)) = value else {
            panic!("{value:?}")
        };
        assert_eq!(args.text(t), "[1,\"a\"]");
    }

    #[test]
    fn strings_and_arrays_are_cut_to_the_limits() {
        let limits = Limits {
            max_attribute_value_length: 4,
            max_array_length: 2,
            ..Limits::default()
        };
        let (value, args, _) = decode("\"abcdefgh\"", &limits);
        let Some(ArgValue::String(t)) = value else {
            panic!("{value:?}")
        };
        assert_eq!(args.text(t), "abcd");
        let (value, args, counts) = decode("[true, false, true]", &limits);
        let Some(ArgValue::BoolArray(r)) = value else {
            panic!("{value:?}")
        };
        assert_eq!(args.bools(r), [true, false]);
        assert_eq!(counts.array_items_dropped, 1);
    }
}
