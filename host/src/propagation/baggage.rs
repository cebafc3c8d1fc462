//! W3C Baggage (`baggage` header), to the letter of
//! <https://www.w3.org/TR/baggage/>:
//!
//! ```text
//! baggage-string = list-member 0*179( OWS "," OWS list-member )
//! list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
//! property       = key OWS "=" OWS value / key OWS
//! key            = token                      ; RFC 7230, section 3.2.6
//! value          = *baggage-octet
//! baggage-octet  = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
//! ```
//!
//! - Several `baggage` headers are combined, in order, with commas.
//! - Values are percent-decoded; a `%` not followed by two hex digits makes
//!   the list-member malformed. Decoded octets that are not UTF-8 are
//!   replaced with U+FFFD, as the spec requires ("percent-encoded octet
//!   sequences that do not match the UTF-8 encoding scheme MUST be replaced
//!   with the replacement code point").
//! - A malformed list-member (bad key, bad value, bad property, no `=`) is
//!   dropped; the well-formed ones are kept. Empty list-members are skipped.
//! - Limits: at most 64 list-members and 8192 bytes (the list-members as
//!   written, with their separating commas). List-members beyond either
//!   limit are dropped, whole (never truncated); the others are kept.
//! - Properties are kept, validated and as written (still percent-encoded),
//!   as the entry's [`BaggageMetadata`](opentelemetry::baggage::BaggageMetadata),
//!   and written back on injection.
//! - On injection values are percent-encoded: every octet outside
//!   `baggage-octet`, and `%` itself, becomes `%XX`; entries with an invalid
//!   key are skipped and the same limits apply.
//!
//! `opentelemetry_sdk::propagation::BaggagePropagator` (0.33) is not used:
//! it reads only the first `baggage` header, drops the whole header past
//! 8192 bytes, keeps keys that are not tokens and values with characters
//! outside `baggage-octet`, and drops (instead of replacing) non-UTF-8
//! values.

use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};

use super::w3c::{all_values, trim_ows};

/// The `baggage` header.
pub(crate) const BAGGAGE: &str = "baggage";
/// The most list-members propagated.
pub(crate) const MAX_MEMBERS: usize = 64;
/// The most bytes propagated (list-members and commas).
pub(crate) const MAX_BYTES: usize = 8192;

/// W3C Baggage propagator (`baggage` in `OTEL_PROPAGATORS`).
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::propagation::TextMapPropagator;
/// use std::collections::HashMap;
/// use wasmtrace::BaggagePropagator;
///
/// let headers = HashMap::from([("baggage".to_owned(), "user=J%C3%BCrgen;pii, bad key=1".to_owned())]);
/// let cx = BaggagePropagator::new().extract(&headers);
/// assert_eq!(cx.baggage().get("user").map(|v| v.as_str()), Some("Jürgen"));
/// assert_eq!(cx.baggage().len(), 1);
/// ```
#[derive(Debug)]
pub struct BaggagePropagator {
    fields: [String; 1],
}

impl Default for BaggagePropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl BaggagePropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self {
            fields: [BAGGAGE.to_owned()],
        }
    }
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let header = encode_baggage(cx.baggage());
        if !header.is_empty() {
            injector.set(BAGGAGE, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let values = all_values(extractor, BAGGAGE);
        if values.is_empty() {
            return cx.clone();
        }
        let members = parse_baggage(&values.join(","));
        cx.with_baggage(to_baggage(members))
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// One list-member: key, decoded value and its properties (as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) properties: String,
}

impl Member {
    /// The list-member as written on the wire.
    fn encoded(&self) -> String {
        let mut s = format!("{}={}", self.key, percent_encode(&self.value));
        if !self.properties.is_empty() {
            s.push(';');
            s.push_str(&self.properties);
        }
        s
    }
}

/// RFC 7230 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 7230 `token`: the grammar of baggage keys.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// `baggage-octet`: ASCII without controls, whitespace, `"`, `,`, `;`, `\`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// Decodes a `value`; `None` if it has characters outside `baggage-octet`
/// or a malformed percent-escape. Non-UTF-8 octets become U+FFFD.
pub(crate) fn percent_decode(value: &str) -> Option<String> {
    let b = value.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if !is_baggage_octet(b[i]) {
            return None;
        }
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            // Two ASCII hex digits.
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Encodes a value: octets outside `baggage-octet`, and `%`, become `%XX`.
pub(crate) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if is_baggage_octet(b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Validates `*( OWS ";" OWS property )` (without the leading `;`) and
/// writes it back without the optional whitespace; `None` if malformed.
fn parse_properties(props: &[&str]) -> Option<String> {
    let mut out = Vec::with_capacity(props.len());
    for prop in props {
        let prop = trim_ows(prop);
        match prop.split_once('=') {
            Some((k, v)) => {
                let (k, v) = (trim_ows(k), trim_ows(v));
                if !is_token(k) {
                    return None;
                }
                percent_decode(v)?;
                out.push(format!("{k}={v}"));
            }
            None => {
                if !is_token(prop) {
                    return None;
                }
                out.push(prop.to_owned());
            }
        }
    }
    Some(out.join(";"))
}

/// Parses one list-member (without surrounding whitespace).
fn parse_member(raw: &str) -> Option<Member> {
    let mut parts = raw.split(';');
    let (key, value) = parts.next()?.split_once('=')?;
    let (key, value) = (trim_ows(key), trim_ows(value));
    if !is_token(key) {
        return None;
    }
    let value = percent_decode(value)?;
    let properties = parse_properties(&parts.collect::<Vec<_>>())?;
    Some(Member {
        key: key.to_owned(),
        value,
        properties,
    })
}

/// Parses a (combined) `baggage` value: malformed list-members and those
/// beyond the limits are dropped. Later values of a repeated key replace
/// earlier ones.
pub(crate) fn parse_baggage(header: &str) -> Vec<Member> {
    let mut members = Limited::default();
    for raw in header.split(',').map(trim_ows) {
        if raw.is_empty() {
            continue;
        }
        if let Some(member) = parse_member(raw) {
            members.push(member);
        }
    }
    members.members
}

/// List-members kept within W3C's limits, measured as they are written.
#[derive(Default)]
struct Limited {
    members: Vec<Member>,
    /// The bytes of each member, as encoded.
    sizes: Vec<usize>,
}

impl Limited {
    fn bytes(&self) -> usize {
        self.sizes.iter().sum::<usize>() + self.sizes.len().saturating_sub(1)
    }

    /// Adds (or replaces) a member if the result stays within the limits;
    /// returns whether it was kept.
    fn push(&mut self, member: Member) -> bool {
        let size = member.encoded().len();
        match self.members.iter().position(|m| m.key == member.key) {
            Some(i) => {
                if self.bytes() - self.sizes[i] + size > MAX_BYTES {
                    return false;
                }
                self.members[i] = member;
                self.sizes[i] = size;
            }
            None => {
                let comma = usize::from(!self.members.is_empty());
                if self.members.len() >= MAX_MEMBERS || self.bytes() + comma + size > MAX_BYTES {
                    return false;
                }
                self.members.push(member);
                self.sizes.push(size);
            }
        }
        true
    }
}

fn to_baggage(members: Vec<Member>) -> Baggage {
    let mut baggage = Baggage::new();
    for m in members {
        baggage.insert_with_metadata(m.key, m.value, m.properties);
    }
    baggage
}

/// The members of `baggage` that can be written: valid keys, valid
/// properties (invalid ones are left out), sorted by key.
fn members_of(baggage: &Baggage) -> Vec<Member> {
    let mut members: Vec<Member> = baggage
        .iter()
        .filter(|(k, _)| is_token(k.as_str()))
        .map(|(k, (v, meta))| {
            let meta = meta.as_str();
            let properties = if meta.is_empty() {
                String::new()
            } else {
                parse_properties(&meta.split(';').collect::<Vec<_>>()).unwrap_or_default()
            };
            Member {
                key: k.to_string(),
                value: v.to_string(),
                properties,
            }
        })
        .collect();
    members.sort_by(|a, b| a.key.cmp(&b.key));
    members
}

/// Writes `baggage` as a `baggage` header value (empty when there is
/// nothing to write), within the limits.
pub(crate) fn encode_baggage(baggage: &Baggage) -> String {
    let mut limited = Limited::default();
    for m in members_of(baggage) {
        limited.push(m);
    }
    limited
        .members
        .iter()
        .map(Member::encoded)
        .collect::<Vec<_>>()
        .join(",")
}

/// `baggage` with `entries` added (a later value for the same name replaces
/// an earlier one). Entries whose name is not a token, or that would take
/// the baggage past W3C's limits, are dropped.
pub(crate) fn with_entries(baggage: &Baggage, entries: Vec<(String, String)>) -> Baggage {
    let mut limited = Limited::default();
    for m in members_of(baggage) {
        limited.push(m);
    }
    for (key, value) in entries {
        if !is_token(&key) {
            continue;
        }
        limited.push(Member {
            key,
            value,
            properties: String::new(),
        });
    }
    to_baggage(limited.members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::CarrierRef;

    fn extract(headers: &[&str]) -> Vec<(String, String, String)> {
        let pairs: Vec<(String, String)> = headers
            .iter()
            .map(|v| ("baggage".to_owned(), v.to_string()))
            .collect();
        let cx = BaggagePropagator::new().extract(&CarrierRef(&pairs));
        let mut out: Vec<_> = cx
            .baggage()
            .iter()
            .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.as_str().to_owned()))
            .collect();
        out.sort();
        out
    }

    fn kv(headers: &[&str]) -> Vec<(String, String)> {
        extract(headers)
            .into_iter()
            .map(|(k, v, _)| (k, v))
            .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn inject(baggage: Baggage) -> Option<String> {
        let mut out = std::collections::HashMap::new();
        BaggagePropagator::new().inject_context(&Context::new().with_baggage(baggage), &mut out);
        out.remove("baggage")
    }

    #[test]
    fn baggage_simple_members_are_extracted() {
        assert_eq!(kv(&["a=1,b=2"]), pairs(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn baggage_header_name_is_case_insensitive() {
        let carrier = pairs(&[("BaGgAgE", "a=1")]);
        let cx = BaggagePropagator::new().extract(&CarrierRef(&carrier));
        assert_eq!(cx.baggage().get("a").map(|v| v.as_str()), Some("1"));
    }

    #[test]
    fn baggage_ows_around_members_keys_and_values_is_ignored() {
        assert_eq!(
            kv(&[" \ta \t= \t1 \t, \tb=2\t"]),
            pairs(&[("a", "1"), ("b", "2")])
        );
    }

    #[test]
    fn baggage_multiple_headers_are_combined() {
        assert_eq!(
            kv(&["a=1", "b=2,c=3"]),
            pairs(&[("a", "1"), ("b", "2"), ("c", "3")])
        );
    }

    #[test]
    fn baggage_empty_list_members_are_skipped() {
        assert_eq!(kv(&[",a=1,,  ,b=2,"]), pairs(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn baggage_empty_value_is_valid() {
        assert_eq!(kv(&["a="]), pairs(&[("a", "")]));
    }

    #[test]
    fn baggage_key_must_be_a_token() {
        for bad in ["a b=1", "a@b=1", "a/b=1", "(a)=1", "a\"=1", "=1", "é=1"] {
            assert_eq!(
                kv(&[&format!("{bad},ok=1")]),
                pairs(&[("ok", "1")]),
                "{bad}"
            );
        }
        assert_eq!(
            kv(&["!#$%&'*+-.^_`|~Az9=1"]),
            pairs(&[("!#$%&'*+-.^_`|~Az9", "1")])
        );
    }

    #[test]
    fn baggage_member_without_equals_is_dropped() {
        assert_eq!(kv(&["novalue,ok=1"]), pairs(&[("ok", "1")]));
    }

    #[test]
    fn baggage_value_outside_baggage_octets_is_dropped() {
        for bad in ["a=x y", "a=x\"y", "a=x\\y", "a=x\u{7f}", "a=é"] {
            assert_eq!(
                kv(&[&format!("{bad},ok=1")]),
                pairs(&[("ok", "1")]),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn baggage_value_may_contain_equals_and_other_octets() {
        assert_eq!(kv(&["a=x=y/z?[]"]), pairs(&[("a", "x=y/z?[]")]));
    }

    #[test]
    fn baggage_percent_escapes_are_decoded() {
        assert_eq!(
            kv(&["a=J%C3%BCrgen%2C%20%3b%25,b=%e2%82%ac"]),
            pairs(&[("a", "Jürgen, ;%"), ("b", "€")])
        );
    }

    #[test]
    fn baggage_invalid_percent_encoding_drops_the_member() {
        for bad in ["a=%", "a=%4", "a=%zz", "a=x%g1"] {
            assert_eq!(
                kv(&[&format!("{bad},ok=1")]),
                pairs(&[("ok", "1")]),
                "{bad}"
            );
        }
    }

    #[test]
    fn baggage_non_utf8_octets_become_replacement_characters() {
        assert_eq!(kv(&["a=x%FFy"]), pairs(&[("a", "x\u{fffd}y")]));
    }

    #[test]
    fn baggage_properties_are_kept() {
        assert_eq!(
            extract(&["a=1 ; p1 ; p2 = v%202 ,b=2"]),
            [
                ("a".to_owned(), "1".to_owned(), "p1;p2=v%202".to_owned()),
                ("b".to_owned(), "2".to_owned(), String::new())
            ]
        );
    }

    #[test]
    fn baggage_invalid_property_drops_the_member() {
        for bad in ["a=1;", "a=1;p q", "a=1;p=x y", "a=1;=v", "a=1;p=%zz"] {
            assert_eq!(
                kv(&[&format!("{bad},ok=1")]),
                pairs(&[("ok", "1")]),
                "{bad}"
            );
        }
    }

    #[test]
    fn baggage_64_members_are_kept_and_more_are_dropped() {
        let header: Vec<String> = (0..70).map(|i| format!("k{i:02}={i}")).collect();
        let got = kv(&[&header.join(",")]);
        assert_eq!(got.len(), 64);
        assert!(got.iter().any(|(k, _)| k == "k63"));
        assert!(!got.iter().any(|(k, _)| k == "k64"));
    }

    #[test]
    fn baggage_members_beyond_8192_bytes_are_dropped() {
        // Two members of 4095 bytes and a comma: 8191 bytes; neither `big=zz`
        // nor `c=` (1 + 2 more bytes) fits.
        let a = format!("a={}", "x".repeat(4093));
        let b = format!("b={}", "y".repeat(4093));
        let got = kv(&[&format!("{a},{b},big=zz,c=")]);
        assert_eq!(got.len(), 2);
        // 4093 + 1 + 4095 = 8189 bytes: `c=` fits exactly (8192), `big=zz`
        // before it does not and is dropped alone.
        let a = format!("a={}", "x".repeat(4091));
        let got = kv(&[&format!("{a},{b},big=zz,c=")]);
        assert_eq!(
            got.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn baggage_a_member_over_8192_bytes_alone_is_dropped_not_the_header() {
        let huge = format!("huge={}", "x".repeat(9000));
        assert_eq!(
            kv(&[&format!("a=1,{huge},b=2")]),
            pairs(&[("a", "1"), ("b", "2")])
        );
    }

    #[test]
    fn baggage_repeated_key_keeps_the_last_value() {
        assert_eq!(kv(&["a=1,a=2"]), pairs(&[("a", "2")]));
    }

    #[test]
    fn baggage_missing_header_leaves_the_context_unchanged() {
        let mut b = Baggage::new();
        b.insert("keep", "1");
        let cx = Context::new().with_baggage(b);
        let cx = BaggagePropagator::new().extract_with_context(&cx, &CarrierRef(&[]));
        assert_eq!(cx.baggage().get("keep").map(|v| v.as_str()), Some("1"));
    }

    #[test]
    fn baggage_inject_percent_encodes_values() {
        let mut b = Baggage::new();
        b.insert("a", "Jürgen, ;%\"\\x=y");
        assert_eq!(
            inject(b).as_deref(),
            Some("a=J%C3%BCrgen%2C%20%3B%25%22%5Cx=y")
        );
    }

    #[test]
    fn baggage_inject_round_trips_properties() {
        let got = extract(&["a=1;p1;p2=v"]);
        let mut b = Baggage::new();
        b.insert_with_metadata(got[0].0.clone(), got[0].1.clone(), got[0].2.as_str());
        assert_eq!(inject(b).as_deref(), Some("a=1;p1;p2=v"));
    }

    #[test]
    fn baggage_inject_skips_invalid_properties_but_keeps_the_member() {
        let mut b = Baggage::new();
        b.insert_with_metadata("a", "1", "not a property");
        assert_eq!(inject(b).as_deref(), Some("a=1"));
    }

    #[test]
    fn baggage_inject_nothing_when_empty() {
        assert_eq!(inject(Baggage::new()), None);
    }

    #[test]
    fn baggage_inject_respects_the_member_limit() {
        let base = Baggage::new();
        let entries = (0..64)
            .map(|i| (format!("k{i:02}"), "v".to_owned()))
            .collect();
        let b = with_entries(&base, entries);
        assert_eq!(b.len(), 64);
        let b = with_entries(&b, vec![("extra".into(), "v".into())]);
        assert_eq!(b.len(), 64);
        assert!(b.get("extra").is_none());
        assert_eq!(inject(b).unwrap().split(',').count(), 64);
    }

    #[test]
    fn with_entries_rejects_names_that_are_not_tokens() {
        let b = with_entries(
            &Baggage::new(),
            pairs(&[("bad name", "1"), ("", "2"), ("ok", "3")]),
        );
        assert_eq!(b.len(), 1);
        assert_eq!(b.get("ok").map(|v| v.as_str()), Some("3"));
    }

    #[test]
    fn with_entries_replaces_a_name_and_keeps_the_rest() {
        let b = with_entries(&Baggage::new(), pairs(&[("a", "1"), ("b", "2")]));
        let b = with_entries(&b, pairs(&[("a", "3")]));
        assert_eq!(b.get("a").map(|v| v.as_str()), Some("3"));
        assert_eq!(b.get("b").map(|v| v.as_str()), Some("2"));
    }

    #[test]
    fn with_entries_enforces_the_byte_limit_on_encoded_values() {
        // 3000 "é" are 6000 bytes but 18000 encoded: past 8192.
        let b = with_entries(
            &Baggage::new(),
            pairs(&[("a", &"é".repeat(3000)), ("b", "1")]),
        );
        assert!(b.get("a").is_none());
        assert_eq!(b.get("b").map(|v| v.as_str()), Some("1"));
    }
}
