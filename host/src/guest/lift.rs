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

use crate::bindings::telemetry::tracing::Link as WitLink;
use crate::bindings::telemetry::types::{
    KeyValue as WitKeyValue, SpanContext as WitSpanContext, TraceFlags as WitTraceFlags,
    Value as WitValue,
};
use crate::limits::Limits;
use crate::stats::Counts;
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

/// Reads borrowed arguments out of `store`'s guest memory within `bounds`,
/// counting into `counts` what it leaves behind.
pub(crate) struct Reader<'a, S> {
    pub(crate) store: S,
    pub(crate) bounds: Bounds,
    pub(crate) counts: &'a mut Counts,
}

impl<S: AsContextMut> Reader<'_, S> {
    /// At most `max` bytes of `s` (cut at a character boundary).
    pub(crate) fn string(&mut self, s: &WasmStr, max: u32) -> wasmtime::Result<String> {
        let text = s.to_str(self.store.as_context())?;
        let mut end = text.len().min(max as usize);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Ok(text[..end].to_owned())
    }

    /// A span or event name, or a key.
    pub(crate) fn name(&mut self, s: &WasmStr) -> wasmtime::Result<String> {
        self.string(s, self.bounds.name)
    }

    /// A value-sized text (status message, exception field).
    pub(crate) fn text(&mut self, s: &WasmStr) -> wasmtime::Result<String> {
        self.string(s, self.bounds.value)
    }

    /// Up to `max` attributes; the rest are counted as dropped.
    pub(crate) fn attributes(
        &mut self,
        list: &WasmList<KeyValueRef>,
        max: usize,
    ) -> wasmtime::Result<Vec<WitKeyValue>> {
        let kept = list.len().min(max);
        self.counts.attributes_dropped += (list.len() - kept) as u64;
        let refs: Vec<KeyValueRef> = list
            .iter(&mut self.store)?
            .take(kept)
            .collect::<wasmtime::Result<_>>()?;
        let mut out = Vec::with_capacity(kept);
        for kv in refs {
            let key = self.name(&kv.key)?;
            let value = self.value(kv.value)?;
            out.push(WitKeyValue { key, value });
        }
        Ok(out)
    }

    fn value(&mut self, value: ValueRef) -> wasmtime::Result<WitValue> {
        let items = self.bounds.items;
        Ok(match value {
            ValueRef::String(s) => WitValue::String(self.text(&s)?),
            ValueRef::Bool(b) => WitValue::Bool(b),
            ValueRef::S64(i) => WitValue::S64(i),
            ValueRef::F64(f) => WitValue::F64(f),
            ValueRef::StringArray(list) => {
                let strings: Vec<WasmStr> = self.items(&list)?;
                let mut out = Vec::with_capacity(strings.len());
                for s in &strings {
                    out.push(self.text(s)?);
                }
                WitValue::StringArray(out)
            }
            ValueRef::BoolArray(list) => WitValue::BoolArray(self.items(&list)?),
            ValueRef::S64Array(list) => {
                let kept = list.len().min(items);
                self.counts.array_items_dropped += (list.len() - kept) as u64;
                let raw = list.as_le_slice(self.store.as_context());
                WitValue::S64Array(raw[..kept].iter().map(|v| i64::from_le(*v)).collect())
            }
            ValueRef::F64Array(list) => WitValue::F64Array(self.items(&list)?),
        })
    }

    /// The first `max_array_length` elements of an array.
    fn items<T: Lift>(&mut self, list: &WasmList<T>) -> wasmtime::Result<Vec<T>> {
        let kept = list.len().min(self.bounds.items);
        self.counts.array_items_dropped += (list.len() - kept) as u64;
        list.iter(&mut self.store)?.take(kept).collect()
    }

    /// Up to `max` links, each with its attributes.
    pub(crate) fn links(
        &mut self,
        list: &WasmList<LinkRef>,
        max: usize,
        max_attributes: usize,
    ) -> wasmtime::Result<Vec<WitLink>> {
        let kept = list.len().min(max);
        self.counts.links_dropped += (list.len() - kept) as u64;
        let refs: Vec<LinkRef> = list
            .iter(&mut self.store)?
            .take(kept)
            .collect::<wasmtime::Result<_>>()?;
        let mut out = Vec::with_capacity(kept);
        for link in refs {
            let sc = &link.span_context;
            // Ids longer than W3C's are invalid anyway: 64 bytes keep them
            // recognisably wrong without copying more.
            let span_context = WitSpanContext {
                trace_id: self.string(&sc.trace_id, 64)?,
                span_id: self.string(&sc.span_id, 64)?,
                trace_flags: sc.trace_flags,
                trace_state: self
                    .string(&sc.trace_state, crate::propagation::MAX_TRACESTATE_LEN)?,
                is_remote: sc.is_remote,
            };
            let attributes = self.attributes(&link.attributes, max_attributes)?;
            out.push(WitLink {
                span_context,
                attributes,
            });
        }
        Ok(out)
    }

    /// The pairs whose name `wanted` accepts, at most `max` of them, values
    /// cut at `max_value` bytes.
    pub(crate) fn pairs(
        &mut self,
        list: &PairsRef,
        wanted: impl Fn(&str) -> bool,
        max: usize,
        max_value: u32,
    ) -> wasmtime::Result<Vec<(String, String)>> {
        let refs: Vec<(WasmStr, WasmStr)> = list
            .iter(&mut self.store)?
            .collect::<wasmtime::Result<_>>()?;
        let mut out = Vec::new();
        for (k, v) in &refs {
            if out.len() == max {
                break;
            }
            let key = k.to_str(self.store.as_context())?;
            if !wanted(&key) {
                continue;
            }
            let key = key.into_owned();
            out.push((key, self.string(v, max_value)?));
        }
        Ok(out)
    }
}
