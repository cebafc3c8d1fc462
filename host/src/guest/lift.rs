//! Reading a guest's telemetry arguments in place, within the limits.
//!
//! wasmtime's own lifting copies every string of every list before the host
//! function runs. A guest can make a list whose elements all point at the
//! same bytes, so a 234 KiB list can ask for 120 MiB of copies; wasmtime's
//! hostcall fuel bounds that by trapping the guest. The telemetry functions
//! take their arguments borrowed instead (`WasmStr`, `WasmList`), look only
//! at the elements the limits keep and copy only the bytes they keep: what
//! a call costs the host is bounded by the limits, not by the guest's
//! memory, and oversized telemetry never traps.

use super::args::{ArgKeyValue, ArgLink, ArgValue, Args, Text};
use crate::bindings::telemetry::types::TraceFlags as WitTraceFlags;
use crate::limits::Limits;
use crate::stats::Counts;
use std::ops::Range;
use wasmtime::AsContextMut;
use wasmtime::component::{ComponentType, Lift, WasmList, WasmStr};

/// WIT `key-value`, borrowed.
#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct KeyValueRef {
    key: WasmStr,
    value: ValueRef,
}

/// WIT `value`, borrowed.
#[derive(ComponentType, Lift)]
#[component(variant)]
pub(crate) enum ValueRef {
    #[component(name = "string")]
    String(WasmStr),
    #[component(name = "bool")]
    Bool(bool),
    #[component(name = "s64")]
    S64(i64),
    #[component(name = "f64")]
    F64(f64),
    #[component(name = "string-array")]
    StringArray(WasmList<WasmStr>),
    #[component(name = "bool-array")]
    BoolArray(WasmList<bool>),
    #[component(name = "s64-array")]
    S64Array(WasmList<i64>),
    #[component(name = "f64-array")]
    F64Array(WasmList<f64>),
}

/// WIT `span-context`, borrowed.
#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct SpanContextRef {
    #[component(name = "trace-id")]
    trace_id: WasmStr,
    #[component(name = "span-id")]
    span_id: WasmStr,
    #[component(name = "trace-flags")]
    trace_flags: WitTraceFlags,
    #[component(name = "trace-state")]
    trace_state: WasmStr,
    #[component(name = "is-remote")]
    is_remote: bool,
}

/// WIT `link`, borrowed.
#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct LinkRef {
    #[component(name = "span-context")]
    span_context: SpanContextRef,
    attributes: WasmList<KeyValueRef>,
}

/// WIT `tracing.status`, borrowed.
#[derive(ComponentType, Lift)]
#[component(variant)]
pub(crate) enum StatusRef {
    #[component(name = "unset")]
    Unset,
    #[component(name = "ok")]
    Ok,
    #[component(name = "error")]
    Error(WasmStr),
}

/// WIT `logs.log-record`, borrowed.
#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct LogRecordRef {
    #[component(name = "severity-number")]
    pub(crate) severity_number: u8,
    #[component(name = "severity-text")]
    pub(crate) severity_text: Option<WasmStr>,
    pub(crate) body: Option<ValueRef>,
    pub(crate) attributes: WasmList<KeyValueRef>,
    #[component(name = "event-name")]
    pub(crate) event_name: Option<WasmStr>,
}

/// WIT `metrics.instrument-info`, borrowed.
#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct InstrumentInfoRef {
    pub(crate) name: WasmStr,
    pub(crate) kind: crate::bindings::telemetry::metrics::InstrumentKind,
    #[component(name = "float")]
    pub(crate) float: bool,
    pub(crate) unit: WasmStr,
    pub(crate) description: WasmStr,
    pub(crate) boundaries: Option<WasmList<f64>>,
}

/// A carrier or baggage entries, borrowed.
pub(crate) type PairsRef = WasmList<(WasmStr, WasmStr)>;

/// The limits that bound what is read, copied out of the store's table so
/// that reading can borrow the store.
#[derive(Clone, Copy)]
pub(crate) struct Bounds {
    name: u32,
    value: u32,
    items: usize,
}

impl Bounds {
    pub(crate) fn of(limits: &Limits) -> Self {
        Self {
            name: limits.max_name_length,
            value: limits.max_attribute_value_length,
            items: limits.max_array_length as usize,
        }
    }
}

/// Reads borrowed arguments out of `store`'s guest memory within `bounds`
/// into `args`, counting into `counts` what it leaves behind.
pub(crate) struct Reader<'a, S> {
    pub(crate) store: S,
    pub(crate) bounds: Bounds,
    pub(crate) counts: &'a mut Counts,
    pub(crate) args: &'a mut Args,
}

impl<S: AsContextMut> Reader<'_, S> {
    /// At most `max` bytes of `s` (cut at a character boundary).
    pub(crate) fn string(&mut self, s: &WasmStr, max: u32) -> wasmtime::Result<Text> {
        let text = s.to_str(self.store.as_context())?;
        let mut end = text.len().min(max as usize);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Ok(self.args.push_text(&text[..end]))
    }

    /// A span or event name, or a key.
    pub(crate) fn name(&mut self, s: &WasmStr) -> wasmtime::Result<Text> {
        self.string(s, self.bounds.name)
    }

    /// A value-sized text (status message, exception field).
    pub(crate) fn text(&mut self, s: &WasmStr) -> wasmtime::Result<Text> {
        self.string(s, self.bounds.value)
    }

    /// Up to `max` attributes; the rest are counted as dropped. Returns
    /// where they are in `args`.
    pub(crate) fn attributes(
        &mut self,
        list: &WasmList<KeyValueRef>,
        max: usize,
    ) -> wasmtime::Result<Range<u32>> {
        let kept = list.len().min(max);
        self.counts.attributes_dropped += (list.len() - kept) as u64;
        let start = self.args.attributes_len();
        // One lift context for the list (`get` makes one per element), into
        // a reused buffer; a link's attributes nest inside a span's list, so
        // the buffer is shared from where this list's views begin.
        let mut refs = std::mem::take(&mut self.args.refs);
        let from = refs.len();
        for kv in list.iter(&mut self.store)?.take(kept) {
            refs.push(kv?);
        }
        for kv in refs.drain(from..) {
            let key = self.name(&kv.key)?;
            let value = self.value(kv.value)?;
            self.args.push_attribute(ArgKeyValue { key, value });
        }
        self.args.refs = refs;
        Ok(start..self.args.attributes_len())
    }

    /// One value (a log record's body), within the bounds.
    pub(crate) fn value(&mut self, value: ValueRef) -> wasmtime::Result<ArgValue> {
        Ok(match value {
            ValueRef::String(s) => ArgValue::String(self.text(&s)?),
            ValueRef::Bool(b) => ArgValue::Bool(b),
            ValueRef::S64(i) => ArgValue::S64(i),
            ValueRef::F64(f) => ArgValue::F64(f),
            ValueRef::StringArray(list) => {
                let kept = self.kept(list.len());
                let start = self.args.strings_len();
                let mut items = std::mem::take(&mut self.args.str_refs);
                items.clear();
                for s in list.iter(&mut self.store)?.take(kept) {
                    items.push(s?);
                }
                for s in &items {
                    let text = self.text(s)?;
                    self.args.push_string(text);
                }
                self.args.str_refs = items;
                ArgValue::StringArray(start..self.args.strings_len())
            }
            ValueRef::BoolArray(list) => {
                let kept = self.kept(list.len());
                let values: Vec<bool> = list
                    .iter(&mut self.store)?
                    .take(kept)
                    .collect::<wasmtime::Result<_>>()?;
                ArgValue::BoolArray(self.args.push_bools(values))
            }
            ValueRef::S64Array(list) => {
                let kept = self.kept(list.len());
                let raw = list.as_le_slice(self.store.as_context());
                ArgValue::S64Array(
                    self.args
                        .push_ints(raw[..kept].iter().map(|v| i64::from_le(*v))),
                )
            }
            ValueRef::F64Array(list) => {
                let kept = self.kept(list.len());
                let values: Vec<f64> = list
                    .iter(&mut self.store)?
                    .take(kept)
                    .collect::<wasmtime::Result<_>>()?;
                ArgValue::F64Array(self.args.push_floats(values))
            }
        })
    }

    /// At most `max` floats of `list` (histogram boundaries).
    pub(crate) fn floats(
        &mut self,
        list: &WasmList<f64>,
        max: usize,
    ) -> wasmtime::Result<Vec<f64>> {
        list.iter(&mut self.store)?.take(max).collect()
    }

    /// How many of an array's `len` elements are kept; counts the rest.
    fn kept(&mut self, len: usize) -> usize {
        let kept = len.min(self.bounds.items);
        self.counts.array_items_dropped += (len - kept) as u64;
        kept
    }

    /// Up to `max` links, each with its attributes, into `args.links`.
    pub(crate) fn links(
        &mut self,
        list: &WasmList<LinkRef>,
        max: usize,
        max_attributes: usize,
    ) -> wasmtime::Result<()> {
        let kept = list.len().min(max);
        self.counts.links_dropped += (list.len() - kept) as u64;
        for i in 0..kept {
            let Some(link) = list.get(&mut self.store, i) else {
                break;
            };
            let link = link?;
            let sc = &link.span_context;
            // Ids longer than W3C's are invalid anyway: 64 bytes keep them
            // recognisably wrong without copying more.
            let trace_id = self.string(&sc.trace_id, 64)?;
            let span_id = self.string(&sc.span_id, 64)?;
            let trace_state =
                self.string(&sc.trace_state, crate::propagation::MAX_TRACESTATE_LEN)?;
            let attributes = self.attributes(&link.attributes, max_attributes)?;
            self.args.links.push(ArgLink {
                trace_id,
                span_id,
                trace_flags: sc.trace_flags,
                trace_state,
                is_remote: sc.is_remote,
                attributes,
            });
        }
        Ok(())
    }

    /// The pairs whose name `wanted` accepts, at most `max` of them, values
    /// cut at `max_value` bytes.
    pub(crate) fn pairs(
        &mut self,
        list: &PairsRef,
        wanted: impl Fn(&str) -> bool,
        max: usize,
        max_value: u32,
    ) -> wasmtime::Result<()> {
        let mut kept = 0;
        for i in 0..list.len() {
            if kept == max {
                break;
            }
            let Some(pair) = list.get(&mut self.store, i) else {
                break;
            };
            let (k, v) = pair?;
            if !wanted(&k.to_str(self.store.as_context())?) {
                continue;
            }
            let key = self.string(&k, self.bounds.name)?;
            let value = self.string(&v, max_value)?;
            self.args.push_pair(key, value);
            kept += 1;
        }
        Ok(())
    }
}
