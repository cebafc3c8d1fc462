//! W3C Trace Context (`traceparent`, `tracestate`), Level 2, parsed to the
//! letter of the specification's current text and of the W3C test suite
//! (`test/test.py`): github.com/w3c/trace-context, main branch, commit
//! `acab820` of 2026-06-30 (`spec/20-http_request_header_format.md`,
//! `spec/30-processing-model.md`). Each rule below says where it comes
//! from: "L1" is unchanged since Level 1 (W3C Recommendation 2021), "L2"
//! is new or changed in Level 2.
//!
//! `traceparent`:
//!
//! - L1: the header value may be surrounded by optional whitespace (spaces
//!   and tabs), as HTTP allows;
//! - L1: `version` is two lowercase hex digits; `ff` is invalid;
//! - L1: version `00` is exactly 55 characters
//!   (`00-<32 hex trace-id>-<16 hex parent-id>-<2 hex trace-flags>`);
//! - L1: a higher (future) version is parsed as version `00` from its first
//!   55 characters; more characters may follow only after a `-`;
//! - L1: all hex is lowercase (uppercase is invalid); an all-zero trace-id
//!   or parent-id is invalid;
//! - L2: of the trace-flags, `sampled` (bit 0) and `random-trace-id`
//!   (bit 1) are kept; the other bits are unknown and never propagated
//!   ("Vendors MUST set those to zero"). The random flag of the incoming
//!   `traceparent` goes out on every `traceparent` of the same trace, set or
//!   unset, whether the trace is sampled or not; a trace this host starts
//!   (its trace ids are random, `RandomIdGenerator`) sets it;
//! - a carrier with several `traceparent` entries (names compared
//!   case-insensitively) is invalid (the suite's
//!   `test_traceparent_duplicated`; the spec says nothing).
//!
//! An invalid `traceparent` leaves the context unchanged (a new trace starts)
//! and `tracestate` is then not parsed at all (L1).
//!
//! `tracestate`:
//!
//! - L1: several entries are combined, in order, with commas; empty
//!   list-members (and whitespace around members) are skipped and not
//!   counted;
//! - L2: a key is `(lcalpha / DIGIT) 0*255(lcalpha / DIGIT / "_" / "-" /
//!   "*" / "/" / "@")`: the Level 1 split into `tenant-id@system-id` (one
//!   `@`, a system-id of at most 14 characters) is gone;
//! - L1: a value is 1 to 256 printable ASCII characters other than `,` and
//!   `=`, not ending in a space (leading spaces are kept);
//! - L2: a key repeated (within a header or across headers) is kept once,
//!   at its first position: received duplicates are not an error, and the
//!   spec allows discarding them;
//! - more than 32 list-members or any invalid list-member discards the
//!   whole `tracestate` (the spec allows it, the suite's strict tests ask
//!   for it);
//! - no limit below the spec's 32 members of 256-character keys and values
//!   is applied (the spec asks for at least 512 characters), and the host
//!   never adds, changes or removes a member.
//!
//! Injection writes `traceparent` as version `00` (L1) and `tracestate`
//! only when it is not empty (L2: "SHOULD avoid sending" empty ones).
//!
//! What the SDK cannot hold travels in the context, next to the span
//! context, as a [`W3cTrace`]: opentelemetry 0.33's `TraceState` rejects
//! keys Level 2 allows (`foo@@bar`, a 14-character system-id) and its SDK
//! clears every flag of a span it does not sample and never sets the
//! random flag on a trace it starts. The span context keeps the subset of
//! `tracestate` opentelemetry can represent (for samplers and OTLP export)
//! and the flags the SDK gives it.

use std::sync::Arc;

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

/// The `traceparent` header.
pub(crate) const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header.
pub(crate) const TRACESTATE: &str = "tracestate";
/// The most list-members a `tracestate` may have.
pub(crate) const MAX_TRACESTATE_MEMBERS: usize = 32;

/// The length of a version `00` `traceparent`.
const TRACEPARENT_LEN: usize = 55;

/// Trace-flags bit 1 (Level 2): at least the right-most 7 bytes of the
/// trace id are random.
pub(crate) const RANDOM: TraceFlags = TraceFlags::new(0x02);

/// The trace-flags Level 2 defines; the others are zeroed.
const KNOWN_FLAGS: u8 = 0x03;

/// What W3C propagation needs of a trace that the SDK's span context
/// cannot hold: the random flag and the `tracestate` as received. It
/// travels in the [`Context`] (every child context the host derives keeps
/// it) and applies only while the context's span is in its trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct W3cTrace {
    trace_id: TraceId,
    random: bool,
    /// The validated `tracestate`, members joined with `,`; empty for none.
    tracestate: Arc<str>,
}

impl W3cTrace {
    /// The overlay of `cx` for the trace of `sc`, if it has one.
    fn of<'a>(cx: &'a Context, sc: &SpanContext) -> Option<&'a W3cTrace> {
        cx.get::<W3cTrace>().filter(|o| o.trace_id == sc.trace_id())
    }
}

/// Whether the trace of `sc` has random trace ids, as far as `cx` (the
/// context `sc` is in, or its parent's) knows: its overlay, else the
/// flags of `sc`.
pub(crate) fn is_random(cx: &Context, sc: &SpanContext) -> bool {
    match W3cTrace::of(cx, sc) {
        Some(o) => o.random,
        None => sc.trace_flags() & RANDOM == RANDOM,
    }
}

/// The `tracestate` to propagate for `sc` in `cx`: the one received for
/// its trace, else what the span context holds.
pub(crate) fn tracestate_header(cx: &Context, sc: &SpanContext) -> String {
    match W3cTrace::of(cx, sc) {
        Some(o) => o.tracestate.to_string(),
        None => sc.trace_state().header(),
    }
}

/// `cx` (the context of a span just started under `parent`), marked as a
/// trace of random ids when the span started a new trace: the host's
/// trace ids are random (the SDK's `RandomIdGenerator`), but the SDK never
/// says so in the flags.
pub(crate) fn mark_new_trace(parent: &Context, cx: Context) -> Context {
    if parent.span().span_context().is_valid() {
        return cx;
    }
    let trace_id = cx.span().span_context().trace_id();
    if trace_id == TraceId::INVALID {
        return cx;
    }
    cx.with_value(W3cTrace {
        trace_id,
        random: true,
        tracestate: Arc::from(""),
    })
}

/// A context with only the span context of `cx` and its W3C overlay (no
/// baggage or other values).
pub(crate) fn span_only(cx: &Context) -> Context {
    let out = Context::new().with_remote_span_context(cx.span().span_context().clone());
    match cx.get::<W3cTrace>() {
        Some(o) => out.with_value(o.clone()),
        None => out,
    }
}

/// W3C Trace Context propagator (`tracecontext` in `OTEL_PROPAGATORS`), to
/// the letter of Level 2 (see the [module documentation](self)). Unlike
/// `opentelemetry_sdk`'s, it rejects uppercase hex, treats several
/// `traceparent` headers as invalid, combines several `tracestate` headers,
/// validates `tracestate` list-members as the spec and the W3C test suite
/// require, and propagates the random flag.
///
/// ```
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use std::collections::HashMap;
/// use wasmtrace::TraceContextPropagator;
///
/// let headers = HashMap::from([(
///     "traceparent".to_owned(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".to_owned(),
/// )]);
/// let cx = TraceContextPropagator::new().extract(&headers);
/// assert!(cx.span().span_context().is_sampled());
/// let mut out = HashMap::new();
/// TraceContextPropagator::new().inject_context(&cx, &mut out);
/// assert!(out["traceparent"].ends_with("-03"), "the random flag goes on");
/// ```
#[derive(Debug)]
pub struct TraceContextPropagator {
    fields: [String; 2],
}

impl Default for TraceContextPropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl TraceContextPropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self {
            fields: [TRACEPARENT.to_owned(), TRACESTATE.to_owned()],
        }
    }
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let mut flags = sc.trace_flags() & TraceFlags::SAMPLED;
        if is_random(cx, sc) {
            flags = flags | RANDOM;
        }
        injector.set(
            TRACEPARENT,
            format!(
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                flags.to_u8()
            ),
        );
        let state = tracestate_header(cx, sc);
        if !state.is_empty() {
            injector.set(TRACESTATE, state);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let [traceparent] = all_values(extractor, TRACEPARENT)[..] else {
            // Missing, or several `traceparent` headers: invalid.
            return cx.clone();
        };
        let Some((trace_id, span_id, flags)) = parse_traceparent(traceparent) else {
            return cx.clone();
        };
        let members = parse_tracestate_members(&all_values(extractor, TRACESTATE).join(","))
            .unwrap_or_default();
        let sc = SpanContext::new(trace_id, span_id, flags, true, representable(&members));
        let tracestate: String = members
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        cx.with_remote_span_context(sc).with_value(W3cTrace {
            trace_id,
            random: flags & RANDOM == RANDOM,
            tracestate: Arc::from(tracestate),
        })
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Every value of `name` in the carrier (names compared case-insensitively
/// by the carriers of this crate).
pub(crate) fn all_values<'a>(extractor: &'a dyn Extractor, name: &str) -> Vec<&'a str> {
    extractor.get_all(name).unwrap_or_default()
}

/// Trims HTTP optional whitespace (spaces and horizontal tabs).
pub(crate) fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

fn is_lower_hex(s: &[u8]) -> bool {
    s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parses a `traceparent` value; `None` when invalid. The flags keep the
/// bits Level 2 defines (sampled, random).
pub(crate) fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let value = trim_ows(value);
    let b = value.as_bytes();
    if b.len() < TRACEPARENT_LEN || !is_lower_hex(&b[..2]) {
        return None;
    }
    match &b[..2] {
        b"ff" => return None,
        b"00" if b.len() != TRACEPARENT_LEN => return None,
        // A future version: only the first 55 characters are read, and what
        // follows must be a new `-`-separated field.
        _ if b.len() > TRACEPARENT_LEN && b[TRACEPARENT_LEN] != b'-' => return None,
        _ => {}
    }
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let (trace_id, span_id, flags) = (&b[3..35], &b[36..52], &b[53..55]);
    if !is_lower_hex(trace_id) || !is_lower_hex(span_id) || !is_lower_hex(flags) {
        return None;
    }
    // All ASCII hex from here on, so the slices are on char boundaries.
    let trace_id = TraceId::from_hex(&value[3..35]).ok()?;
    let span_id = SpanId::from_hex(&value[36..52]).ok()?;
    let flags = u8::from_str_radix(&value[53..55], 16).ok()?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    Some((trace_id, span_id, TraceFlags::new(flags & KNOWN_FLAGS)))
}

/// The `key` rule of Level 2: `(lcalpha / DIGIT) 0*255(lcalpha / DIGIT /
/// "_" / "-" / "*" / "/" / "@")`.
pub(crate) fn is_valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    (1..=256).contains(&b.len())
        && matches!(b[0], b'a'..=b'z' | b'0'..=b'9')
        && b[1..]
            .iter()
            .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@'))
}

/// The `value` rule: `0*255(chr) nblk-chr`, where `nblk-chr` is printable
/// ASCII other than `,` and `=`, and `chr` also allows a space.
pub(crate) fn is_valid_value(value: &str) -> bool {
    let nblk = |b: u8| matches!(b, 0x21..=0x7e) && b != b',' && b != b'=';
    let b = value.as_bytes();
    (1..=256).contains(&b.len()) && b.iter().all(|&c| c == b' ' || nblk(c)) && nblk(b[b.len() - 1])
}

/// Parses list-members, a repeated key kept at its first position; `None`
/// when the `tracestate` must be discarded (an invalid member, or more than
/// 32, repeats included).
pub(crate) fn parse_tracestate_members(header: &str) -> Option<Vec<(String, String)>> {
    let mut members: Vec<(String, String)> = Vec::new();
    let mut count = 0;
    for member in header.split(',').map(trim_ows) {
        if member.is_empty() {
            continue;
        }
        let (key, value) = member.split_once('=')?;
        if !is_valid_key(key) || !is_valid_value(value) {
            return None;
        }
        count += 1;
        if count > MAX_TRACESTATE_MEMBERS {
            return None;
        }
        if !members.iter().any(|(k, _)| k == key) {
            members.push((key.to_owned(), value.to_owned()));
        }
    }
    Some(members)
}

/// The members opentelemetry's `TraceState` can hold (0.33 rejects some
/// keys Level 2 allows: several `@`, more than 13 characters after one),
/// for the span context: samplers and OTLP export see these.
fn representable(members: &[(String, String)]) -> TraceState {
    let kept = members
        .iter()
        .filter(|(k, v)| TraceState::from_key_value([(k.as_str(), v.as_str())]).is_ok());
    TraceState::from_key_value(kept.map(|(k, v)| (k.as_str(), v.as_str()))).unwrap_or_default()
}

/// Parses a (combined) `tracestate` value into what a [`TraceState`] can
/// hold; empty when it must be discarded.
#[cfg(test)]
pub(crate) fn parse_tracestate(header: &str) -> TraceState {
    representable(&parse_tracestate_members(header).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::CarrierRef;

    const TP: &str = "00-12345678901234567890123456789012-1234567890123456-01";
    const TRACE: &str = "12345678901234567890123456789012";

    fn extract_cx(pairs: &[(&str, &str)]) -> Context {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TraceContextPropagator::new().extract(&CarrierRef(&pairs))
    }

    fn extract(pairs: &[(&str, &str)]) -> SpanContext {
        extract_cx(pairs).span().span_context().clone()
    }

    fn trace_id(pairs: &[(&str, &str)]) -> Option<String> {
        let sc = extract(pairs);
        sc.is_valid().then(|| sc.trace_id().to_string())
    }

    fn valid(tp: &str) -> bool {
        trace_id(&[("traceparent", tp)]).as_deref() == Some(TRACE)
    }

    /// The tracestate propagated for a valid traceparent and these
    /// tracestate headers.
    fn state(tracestates: &[&str]) -> String {
        let mut pairs = vec![("traceparent", TP)];
        pairs.extend(tracestates.iter().map(|v| ("tracestate", *v)));
        let cx = extract_cx(&pairs);
        let sc = cx.span().span_context().clone();
        assert!(sc.is_valid());
        tracestate_header(&cx, &sc)
    }

    // --- traceparent: version ---

    #[test]
    fn traceparent_version_00_is_valid() {
        let sc = extract(&[("traceparent", TP)]);
        assert!(sc.is_valid() && sc.is_remote() && sc.is_sampled());
        assert_eq!(sc.trace_id().to_string(), TRACE);
        assert_eq!(sc.span_id().to_string(), "1234567890123456");
    }

    #[test]
    fn traceparent_version_00_with_trailing_characters_is_invalid() {
        assert!(!valid(&format!("{TP}.")));
        assert!(!valid(&format!("{TP}-what-the-future-will-be-like")));
    }

    #[test]
    fn traceparent_future_version_is_valid() {
        assert!(valid(
            "cc-12345678901234567890123456789012-1234567890123456-01"
        ));
    }

    #[test]
    fn traceparent_future_version_with_extra_fields_is_valid() {
        assert!(valid(
            "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like"
        ));
    }

    #[test]
    fn traceparent_future_version_extra_data_needs_a_dash() {
        assert!(!valid(
            "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like"
        ));
    }

    #[test]
    fn traceparent_future_version_still_needs_55_characters() {
        assert!(!valid(
            "cc-12345678901234567890123456789012-1234567890123456-1"
        ));
    }

    #[test]
    fn traceparent_version_ff_is_invalid() {
        assert!(!valid(
            "ff-12345678901234567890123456789012-1234567890123456-01"
        ));
    }

    #[test]
    fn traceparent_version_illegal_characters_are_invalid() {
        assert!(!valid(
            ".0-12345678901234567890123456789012-1234567890123456-01"
        ));
        assert!(!valid(
            "0.-12345678901234567890123456789012-1234567890123456-01"
        ));
    }

    #[test]
    fn traceparent_version_too_long_is_invalid() {
        assert!(!valid(
            "000-12345678901234567890123456789012-1234567890123456-01"
        ));
        assert!(!valid(
            "0000-12345678901234567890123456789012-1234567890123456-01"
        ));
    }

    #[test]
    fn traceparent_version_too_short_is_invalid() {
        assert!(!valid(
            "0-12345678901234567890123456789012-1234567890123456-01"
        ));
    }

    // --- traceparent: fields ---

    #[test]
    fn traceparent_uppercase_hex_is_invalid() {
        assert!(!valid(
            "00-1234567890123456789012345678901A-1234567890123456-01"
        ));
        assert!(!valid(
            "00-12345678901234567890123456789012-123456789012345A-01"
        ));
        assert!(!valid(
            "0A-12345678901234567890123456789012-1234567890123456-01"
        ));
        assert!(!valid(
            "00-12345678901234567890123456789012-1234567890123456-0A"
        ));
    }

    #[test]
    fn traceparent_trace_id_all_zero_is_invalid() {
        assert_eq!(
            trace_id(&[(
                "traceparent",
                "00-00000000000000000000000000000000-1234567890123456-01"
            )]),
            None
        );
    }

    #[test]
    fn traceparent_trace_id_illegal_characters_are_invalid() {
        assert!(!valid(
            "00-.2345678901234567890123456789012-1234567890123456-01"
        ));
        assert!(!valid(
            "00-1234567890123456789012345678901.-1234567890123456-01"
        ));
    }

    #[test]
    fn traceparent_trace_id_too_long_is_invalid() {
        assert_eq!(
            trace_id(&[(
                "traceparent",
                "00-123456789012345678901234567890123-1234567890123456-01"
            )]),
            None
        );
    }

    #[test]
    fn traceparent_trace_id_too_short_is_invalid() {
        assert_eq!(
            trace_id(&[(
                "traceparent",
                "00-1234567890123456789012345678901-1234567890123456-01"
            )]),
            None
        );
    }

    #[test]
    fn traceparent_parent_id_all_zero_is_invalid() {
        assert!(!valid(
            "00-12345678901234567890123456789012-0000000000000000-01"
        ));
    }

    #[test]
    fn traceparent_parent_id_illegal_characters_are_invalid() {
        assert!(!valid(
            "00-12345678901234567890123456789012-.234567890123456-01"
        ));
        assert!(!valid(
            "00-12345678901234567890123456789012-123456789012345.-01"
        ));
    }

    #[test]
    fn traceparent_parent_id_too_long_is_invalid() {
        assert!(!valid(
            "00-12345678901234567890123456789012-12345678901234567-01"
        ));
    }

    #[test]
    fn traceparent_parent_id_too_short_is_invalid() {
        assert!(!valid(
            "00-12345678901234567890123456789012-123456789012345-01"
        ));
    }

    #[test]
    fn traceparent_trace_flags_illegal_characters_are_invalid() {
        assert!(!valid(
            "00-12345678901234567890123456789012-1234567890123456-.0"
        ));
        assert!(!valid(
            "00-12345678901234567890123456789012-1234567890123456-0."
        ));
    }

    #[test]
    fn traceparent_trace_flags_too_long_is_invalid() {
        assert!(!valid(
            "00-12345678901234567890123456789012-1234567890123456-001"
        ));
    }

    #[test]
    fn traceparent_trace_flags_too_short_is_invalid() {
        assert!(!valid(
            "00-12345678901234567890123456789012-1234567890123456-1"
        ));
    }

    #[test]
    fn traceparent_wrong_separators_are_invalid() {
        assert!(!valid(
            "00_12345678901234567890123456789012-1234567890123456-01"
        ));
        assert!(!valid(
            "00-12345678901234567890123456789012_1234567890123456-01"
        ));
        assert!(!valid(
            "00-12345678901234567890123456789012-1234567890123456_01"
        ));
    }

    #[test]
    fn traceparent_keeps_the_sampled_and_random_flags_only() {
        let sc = extract(&[(
            "traceparent",
            "00-12345678901234567890123456789012-1234567890123456-ff",
        )]);
        assert_eq!(sc.trace_flags(), TraceFlags::SAMPLED | RANDOM);
        let sc = extract(&[(
            "traceparent",
            "00-12345678901234567890123456789012-1234567890123456-02",
        )]);
        assert!(sc.is_valid() && !sc.is_sampled());
        assert_eq!(sc.trace_flags(), RANDOM);
        let sc = extract(&[(
            "traceparent",
            "00-12345678901234567890123456789012-1234567890123456-fc",
        )]);
        assert_eq!(sc.trace_flags(), TraceFlags::NOT_SAMPLED);
    }

    #[test]
    fn traceparent_unsampled_flag_is_kept() {
        let sc = extract(&[(
            "traceparent",
            "00-12345678901234567890123456789012-1234567890123456-00",
        )]);
        assert!(sc.is_valid() && !sc.is_sampled());
    }

    // --- traceparent: headers and whitespace ---

    #[test]
    fn traceparent_leading_and_trailing_ows_is_tolerated() {
        for tp in [
            format!(" {TP}"),
            format!("\t{TP}"),
            format!("{TP} "),
            format!("{TP}\t"),
            format!("\t {TP} \t"),
        ] {
            assert!(valid(&tp), "{tp:?}");
        }
    }

    #[test]
    fn traceparent_inner_whitespace_is_invalid() {
        assert!(!valid(
            "00- 12345678901234567890123456789012-1234567890123456-01"
        ));
    }

    #[test]
    fn traceparent_header_name_is_case_insensitive() {
        for name in ["TraceParent", "TrAcEpArEnT", "TRACEPARENT"] {
            assert_eq!(trace_id(&[(name, TP)]).as_deref(), Some(TRACE), "{name}");
        }
    }

    #[test]
    fn traceparent_wrong_header_names_are_ignored() {
        assert_eq!(trace_id(&[("trace-parent", TP)]), None);
        assert_eq!(trace_id(&[("trace.parent", TP)]), None);
    }

    #[test]
    fn traceparent_duplicated_header_is_invalid() {
        assert_eq!(
            trace_id(&[
                (
                    "traceparent",
                    "00-12345678901234567890123456789011-1234567890123456-01"
                ),
                ("TraceParent", TP),
            ]),
            None
        );
    }

    #[test]
    fn traceparent_missing_leaves_the_context_empty() {
        assert_eq!(trace_id(&[("tracestate", "foo=1")]), None);
        assert_eq!(trace_id(&[]), None);
    }

    // --- tracestate ---

    #[test]
    fn tracestate_is_kept_with_a_valid_traceparent() {
        assert_eq!(state(&["foo=1,bar=2"]), "foo=1,bar=2");
    }

    #[test]
    fn tracestate_is_not_parsed_without_a_valid_traceparent() {
        let sc = extract(&[
            (
                "traceparent",
                "00-00000000000000000000000000000000-1234567890123456-01",
            ),
            ("tracestate", "foo=1"),
        ]);
        assert!(!sc.is_valid());
        assert_eq!(sc.trace_state().header(), "");
    }

    #[test]
    fn tracestate_header_name_is_case_insensitive() {
        for name in ["TraceState", "TrAcEsTaTe", "TRACESTATE"] {
            let sc = extract(&[("traceparent", TP), (name, "foo=1")]);
            assert_eq!(sc.trace_state().get("foo"), Some("1"), "{name}");
        }
    }

    #[test]
    fn tracestate_wrong_header_names_are_ignored() {
        for name in ["trace-state", "trace.state"] {
            let sc = extract(&[("traceparent", TP), (name, "foo=1")]);
            assert_eq!(sc.trace_state().get("foo"), None, "{name}");
        }
    }

    #[test]
    fn tracestate_empty_header_is_ignored() {
        assert_eq!(state(&[""]), "");
        assert_eq!(state(&["foo=1", ""]), "foo=1");
        assert_eq!(state(&["", "foo=1"]), "foo=1");
    }

    #[test]
    fn tracestate_empty_list_members_are_skipped() {
        assert_eq!(state(&[",foo=1,, ,\t,bar=2,"]), "foo=1,bar=2");
    }

    #[test]
    fn tracestate_multiple_headers_are_combined_in_order() {
        assert_eq!(
            state(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]),
            "foo=1,bar=2,rojo=1,congo=2,baz=3"
        );
    }

    #[test]
    fn tracestate_duplicated_keys_keep_the_first() {
        assert_eq!(state(&["foo=1,foo=1"]), "foo=1");
        assert_eq!(state(&["foo=1,foo=2"]), "foo=1");
        assert_eq!(state(&["foo=1", "foo=1"]), "foo=1");
        assert_eq!(state(&["foo=1", "foo=2"]), "foo=1");
        assert_eq!(state(&["foo=1,bar=2,foo=3,baz=4"]), "foo=1,bar=2,baz=4");
    }

    #[test]
    fn tracestate_repeats_count_toward_the_32_members() {
        let repeated: Vec<String> = (0..33).map(|_| "foo=1".to_owned()).collect();
        assert_eq!(state(&[&repeated.join(",")]), "");
    }

    #[test]
    fn tracestate_all_allowed_characters_are_kept() {
        let key: String = ('a'..='z').chain('0'..='9').chain("_-*/".chars()).collect();
        let vendor_key = format!("{key}@a-z0-9_-*/");
        let value: String = (0x20u8..=0x7e)
            .filter(|b| *b != b',' && *b != b'=')
            .map(char::from)
            .collect();
        for key in [key, vendor_key] {
            let member = format!("{key}={value}");
            assert_eq!(state(&[&member]), member);
            let sc = extract(&[("traceparent", TP), ("tracestate", &member)]);
            assert_eq!(sc.trace_state().get(&key), Some(value.as_str()), "{key}");
        }
    }

    #[test]
    fn tracestate_ows_around_members_is_ignored() {
        assert_eq!(
            state(&["foo=1 \t , \t bar=2, \t baz=3"]),
            "foo=1,bar=2,baz=3"
        );
        assert_eq!(
            state(&["foo=1\t \t,\t \tbar=2,\t \tbaz=3"]),
            "foo=1,bar=2,baz=3"
        );
        for ts in [" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"] {
            assert_eq!(state(&[ts]), "foo=1", "{ts:?}");
        }
    }

    #[test]
    fn tracestate_32_members_are_kept() {
        let members: Vec<String> = (1..=32).map(|i| format!("bar{i:02}={i:02}")).collect();
        let header = members.join(",");
        let sc = extract(&[("traceparent", TP), ("tracestate", &header)]);
        assert_eq!(sc.trace_state().header(), header);
        assert_eq!(sc.trace_state().get("bar01"), Some("01"));
    }

    #[test]
    fn tracestate_33_members_discard_it() {
        let members: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
        // Spread over several headers, as the W3C suite sends them.
        let parts: Vec<String> = members.chunks(10).map(|c| c.join(",")).collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        assert_eq!(state(&parts), "");
    }

    #[test]
    fn tracestate_key_uppercase_discards_it() {
        assert_eq!(state(&["FOO=1,bar=2"]), "");
    }

    #[test]
    fn tracestate_key_illegal_characters_discard_it() {
        assert_eq!(state(&["foo =1,bar=2"]), "");
        assert_eq!(state(&["foo.bar=1,bar=2"]), "");
    }

    #[test]
    fn tracestate_key_starts_with_a_lowercase_letter_or_a_digit() {
        assert_eq!(state(&["1foo=1,bar=2"]), "1foo=1,bar=2");
        assert_eq!(state(&["_foo=1,bar=2"]), "");
        assert_eq!(state(&["-foo=1,bar=2"]), "");
    }

    #[test]
    fn tracestate_key_may_hold_at_signs_anywhere_but_first() {
        // The suite's test_tracestate_key_illegal_vendor_format (Level 2).
        for ts in ["foo@=1,bar=2", "foo@@bar=1,bar=2", "foo@bar@baz=1,bar=2"] {
            assert_eq!(state(&[ts]), ts);
        }
        assert_eq!(state(&["@foo=1,bar=2"]), "");
    }

    #[test]
    fn tracestate_members_opentelemetry_cannot_hold_still_propagate() {
        let cx = extract_cx(&[("traceparent", TP), ("tracestate", "foo@@bar=1,bar=2")]);
        let sc = cx.span().span_context().clone();
        // The span context has what opentelemetry's TraceState can hold ...
        assert_eq!(sc.trace_state().header(), "bar=2");
        // ... and the carrier gets everything.
        let mut out = std::collections::HashMap::new();
        TraceContextPropagator::new().inject_context(&cx, &mut out);
        assert_eq!(out["tracestate"], "foo@@bar=1,bar=2");
    }

    #[test]
    fn tracestate_tenant_id_may_start_with_a_digit() {
        assert_eq!(state(&["1tenant@sys=1"]), "1tenant@sys=1");
    }

    #[test]
    fn tracestate_after_an_at_sign_anything_of_the_key_grammar() {
        // Level 1 wanted a lowercase letter after `@`.
        assert_eq!(state(&["tenant@1sys=1,bar=2"]), "tenant@1sys=1,bar=2");
    }

    #[test]
    fn tracestate_key_of_256_characters_is_kept() {
        let key = "z".repeat(256);
        let sc = extract(&[
            ("traceparent", TP),
            ("tracestate", "foo=1"),
            ("tracestate", &format!("{key}=1")),
        ]);
        assert_eq!(sc.trace_state().get("foo"), Some("1"));
        assert_eq!(sc.trace_state().get(&key), Some("1"));
    }

    #[test]
    fn tracestate_key_of_257_characters_discards_it() {
        assert_eq!(state(&["foo=1", &format!("{}=1", "z".repeat(257))]), "");
    }

    #[test]
    fn tracestate_keys_of_the_suites_length_limit_test_are_kept() {
        // test_tracestate_key_length_limit: 256 characters with `@`, and the
        // Level 1 tenant/system limits that no longer apply.
        for key in [
            format!("{}@{}", "t".repeat(241), "v".repeat(14)),
            format!("{}@v", "t".repeat(242)),
            format!("t@{}", "v".repeat(15)),
        ] {
            assert!(is_valid_key(&key), "{key}");
            let expected = format!("foo=1,{key}=1");
            assert_eq!(state(&["foo=1", &format!("{key}=1")]), expected);
        }
        let key = format!("{}@{}", "t".repeat(241), "v".repeat(15));
        assert_eq!(state(&["foo=1", &format!("{key}=1")]), "", "257 characters");
    }

    #[test]
    fn tracestate_value_with_equals_discards_it() {
        assert_eq!(state(&["foo=bar=baz"]), "");
    }

    #[test]
    fn tracestate_empty_value_discards_it() {
        assert_eq!(state(&["foo=,bar=3"]), "");
    }

    #[test]
    fn tracestate_member_without_equals_discards_it() {
        assert_eq!(state(&["foo,bar=3"]), "");
    }

    #[test]
    fn tracestate_value_may_contain_inner_spaces() {
        assert_eq!(state(&["foo=a b"]), "foo=a b");
    }

    #[test]
    fn tracestate_value_non_printable_discards_it() {
        assert_eq!(state(&["foo=a\u{7f}b,bar=2"]), "");
        assert_eq!(state(&["foo=\u{e9},bar=2"]), "");
    }

    #[test]
    fn tracestate_value_of_256_characters_is_kept() {
        let value = "v".repeat(256);
        assert_eq!(state(&[&format!("foo={value}")]), format!("foo={value}"));
    }

    #[test]
    fn tracestate_value_of_257_characters_discards_it() {
        assert_eq!(state(&[&format!("foo={},bar=2", "v".repeat(257))]), "");
    }

    // --- inject ---

    fn inject(sc: SpanContext) -> Vec<(String, String)> {
        let mut out = std::collections::HashMap::new();
        TraceContextPropagator::new()
            .inject_context(&Context::new().with_remote_span_context(sc), &mut out);
        let mut out: Vec<_> = out.into_iter().collect();
        out.sort();
        out
    }

    #[test]
    fn inject_writes_version_00_and_only_the_level_2_flags() {
        let (t, s, _) =
            parse_traceparent("cc-12345678901234567890123456789012-1234567890123456-01-future")
                .unwrap();
        let sc = SpanContext::new(t, s, TraceFlags::new(0xff), true, TraceState::NONE);
        assert_eq!(
            inject(sc),
            [(
                "traceparent".to_owned(),
                TP.replace("-01", "-03").to_owned()
            )]
        );
        let sc = SpanContext::new(t, s, TraceFlags::new(0xfd), true, TraceState::NONE);
        assert_eq!(inject(sc), [("traceparent".to_owned(), TP.to_owned())]);
    }

    /// What `cx` injects as `traceparent` flags and `tracestate`.
    fn injected(cx: &Context) -> (String, Option<String>) {
        let mut out = std::collections::HashMap::new();
        TraceContextPropagator::new().inject_context(cx, &mut out);
        let flags = out["traceparent"][53..].to_owned();
        (flags, out.get("tracestate").cloned())
    }

    /// A child of `cx` in the same trace with the flags the SDK gives a span
    /// it does not sample (all clear).
    fn unsampled_child(cx: &Context) -> Context {
        let parent = cx.span().span_context().clone();
        let sc = SpanContext::new(
            parent.trace_id(),
            SpanId::from_hex("00000000000000aa").unwrap(),
            TraceFlags::default(),
            false,
            TraceState::NONE,
        );
        cx.with_remote_span_context(sc)
    }

    #[test]
    fn the_incoming_random_flag_goes_out_in_the_same_trace_sampled_or_not() {
        // test_propagates_random_flag: `-02` in, `-02` out, though the SDK
        // cleared the flags of the unsampled span in between.
        let tp = TP.replace("-01", "-02");
        let cx = extract_cx(&[("traceparent", &tp), ("tracestate", "foo@@x=1")]);
        let child = unsampled_child(&cx);
        assert_eq!(injected(&child), ("02".into(), Some("foo@@x=1".into())));
        // Unset stays unset.
        let cx = extract_cx(&[("traceparent", TP)]);
        assert_eq!(injected(&unsampled_child(&cx)).0, "00");
        assert_eq!(injected(&cx).0, "01");
        let cx = extract_cx(&[("traceparent", &TP.replace("-01", "-03"))]);
        assert_eq!(injected(&cx).0, "03");
    }

    #[test]
    fn a_trace_the_host_starts_is_marked_random() {
        let root = SpanContext::new(
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
            SpanId::from_hex("b7ad6b7169203331").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let cx = mark_new_trace(
            &Context::new(),
            Context::new().with_remote_span_context(root),
        );
        assert_eq!(injected(&cx), ("03".into(), None));
        assert_eq!(injected(&unsampled_child(&cx)).0, "02");
        // A child of a valid parent is not a new trace.
        let parent = extract_cx(&[("traceparent", TP)]);
        let child = mark_new_trace(&parent, unsampled_child(&parent));
        assert_eq!(injected(&child).0, "00");
    }

    #[test]
    fn an_overlay_never_applies_to_another_trace() {
        let cx = extract_cx(&[
            ("traceparent", &TP.replace("-01", "-02")),
            ("tracestate", "foo=1"),
        ]);
        let other = SpanContext::new(
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
            SpanId::from_hex("b7ad6b7169203331").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        );
        assert_eq!(
            injected(&cx.with_remote_span_context(other)),
            ("01".into(), None)
        );
    }

    #[test]
    fn span_only_keeps_the_overlay_and_drops_the_rest() {
        let cx = extract_cx(&[
            ("traceparent", &TP.replace("-01", "-02")),
            ("tracestate", "foo@@x=1"),
        ])
        .with_value(7u32);
        let only = span_only(&cx);
        assert_eq!(only.get::<u32>(), None);
        assert_eq!(
            injected(&unsampled_child(&only)),
            ("02".into(), Some("foo@@x=1".into()))
        );
    }

    #[test]
    fn inject_writes_tracestate_only_when_not_empty() {
        let (t, s, f) = parse_traceparent(TP).unwrap();
        let sc = SpanContext::new(t, s, f, true, TraceState::NONE);
        assert_eq!(inject(sc).len(), 1);
        let sc = SpanContext::new(t, s, f, true, parse_tracestate("foo=1"));
        assert_eq!(
            inject(sc),
            [
                ("traceparent".to_owned(), TP.to_owned()),
                ("tracestate".to_owned(), "foo=1".to_owned())
            ]
        );
    }

    #[test]
    fn inject_writes_nothing_for_an_invalid_context() {
        assert!(inject(SpanContext::empty_context()).is_empty());
    }
}
