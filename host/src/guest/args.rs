//! A guest call's arguments, copied out of guest memory within the limits
//! into buffers the store reuses from call to call: once they have grown,
//! reading a call's arguments allocates nothing.

use std::ops::Range;

/// A string in [`Args::text`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Text {
    start: u32,
    end: u32,
}

/// An attribute value; arrays index [`Args`]' element buffers.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ArgValue {
    String(Text),
    Bool(bool),
    S64(i64),
    F64(f64),
    StringArray(Range<u32>),
    BoolArray(Range<u32>),
    S64Array(Range<u32>),
    F64Array(Range<u32>),
}

/// One attribute.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ArgKeyValue {
    pub(crate) key: Text,
    pub(crate) value: ArgValue,
}

/// One link: its span context's fields and its attributes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ArgLink {
    pub(crate) trace_id: Text,
    pub(crate) span_id: Text,
    pub(crate) trace_flags: crate::bindings::telemetry::types::TraceFlags,
    pub(crate) trace_state: Text,
    pub(crate) is_remote: bool,
    pub(crate) attributes: Range<u32>,
}

/// See the [module documentation](self).
#[derive(Default)]
pub(crate) struct Args {
    text: String,
    attributes: Vec<ArgKeyValue>,
    strings: Vec<Text>,
    bools: Vec<bool>,
    ints: Vec<i64>,
    floats: Vec<f64>,
    pub(crate) links: Vec<ArgLink>,
    pairs: Vec<(Text, Text)>,
    /// The reader's borrowed views of a list's elements, between lifting
    /// them and copying their strings.
    pub(crate) refs: Vec<super::lift::KeyValueRef>,
    pub(crate) str_refs: Vec<wasmtime::component::WasmStr>,
}

impl Args {
    /// The memory the buffers hold.
    pub(crate) fn capacity_bytes(&self) -> usize {
        fn bytes<T>(v: &Vec<T>) -> usize {
            v.capacity() * size_of::<T>()
        }
        self.text.capacity()
            + bytes(&self.attributes)
            + bytes(&self.strings)
            + bytes(&self.bools)
            + bytes(&self.ints)
            + bytes(&self.floats)
            + bytes(&self.links)
            + bytes(&self.pairs)
            + bytes(&self.refs)
            + bytes(&self.str_refs)
    }

    /// Empties the buffers, keeping their memory.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.attributes.clear();
        self.strings.clear();
        self.bools.clear();
        self.ints.clear();
        self.floats.clear();
        self.links.clear();
        self.pairs.clear();
        self.refs.clear();
        self.str_refs.clear();
    }

    /// Copies `s` in.
    pub(crate) fn push_text(&mut self, s: &str) -> Text {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        Text {
            start,
            end: self.text.len() as u32,
        }
    }

    /// A string copied in.
    pub(crate) fn text(&self, t: Text) -> &str {
        &self.text[t.start as usize..t.end as usize]
    }

    /// Where the next attribute goes.
    pub(crate) fn attributes_len(&self) -> u32 {
        self.attributes.len() as u32
    }

    pub(crate) fn push_attribute(&mut self, kv: ArgKeyValue) {
        self.attributes.push(kv);
    }

    /// The attributes `range` (from [`Self::attributes_len`] before and
    /// after pushing them).
    pub(crate) fn attributes(&self, range: Range<u32>) -> &[ArgKeyValue] {
        &self.attributes[range.start as usize..range.end as usize]
    }

    pub(crate) fn push_string(&mut self, t: Text) {
        self.strings.push(t);
    }

    pub(crate) fn strings_len(&self) -> u32 {
        self.strings.len() as u32
    }

    pub(crate) fn strings(&self, range: Range<u32>) -> &[Text] {
        &self.strings[range.start as usize..range.end as usize]
    }

    /// Appends `values` to the booleans; returns where they are.
    pub(crate) fn push_bools(&mut self, values: impl IntoIterator<Item = bool>) -> Range<u32> {
        let start = self.bools.len() as u32;
        self.bools.extend(values);
        start..self.bools.len() as u32
    }

    pub(crate) fn bools(&self, range: Range<u32>) -> &[bool] {
        &self.bools[range.start as usize..range.end as usize]
    }

    /// Appends `values` to the integers; returns where they are.
    pub(crate) fn push_ints(&mut self, values: impl IntoIterator<Item = i64>) -> Range<u32> {
        let start = self.ints.len() as u32;
        self.ints.extend(values);
        start..self.ints.len() as u32
    }

    pub(crate) fn ints(&self, range: Range<u32>) -> &[i64] {
        &self.ints[range.start as usize..range.end as usize]
    }

    /// Appends `values` to the floats; returns where they are.
    pub(crate) fn push_floats(&mut self, values: impl IntoIterator<Item = f64>) -> Range<u32> {
        let start = self.floats.len() as u32;
        self.floats.extend(values);
        start..self.floats.len() as u32
    }

    pub(crate) fn floats(&self, range: Range<u32>) -> &[f64] {
        &self.floats[range.start as usize..range.end as usize]
    }

    pub(crate) fn push_pair(&mut self, key: Text, value: Text) {
        self.pairs.push((key, value));
    }

    /// The pairs (a carrier or baggage entries) as owned strings, as the
    /// propagators take them.
    pub(crate) fn pairs(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .map(|&(k, v)| (self.text(k).to_owned(), self.text(v).to_owned()))
            .collect()
    }

    /// Fills the buffers from owned WIT values (the table's tests and the
    /// fuzzer, which have no guest memory); returns the attributes' range.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn push_wit(
        &mut self,
        attributes: Vec<crate::bindings::telemetry::types::KeyValue>,
    ) -> Range<u32> {
        use crate::bindings::telemetry::types::Value;
        let start = self.attributes_len();
        for kv in attributes {
            let key = self.push_text(&kv.key);
            let value = match kv.value {
                Value::String(s) => ArgValue::String(self.push_text(&s)),
                Value::Bool(b) => ArgValue::Bool(b),
                Value::S64(i) => ArgValue::S64(i),
                Value::F64(f) => ArgValue::F64(f),
                Value::StringArray(v) => {
                    let from = self.strings_len();
                    for s in &v {
                        let t = self.push_text(s);
                        self.push_string(t);
                    }
                    ArgValue::StringArray(from..self.strings_len())
                }
                Value::BoolArray(v) => ArgValue::BoolArray(self.push_bools(v)),
                Value::S64Array(v) => ArgValue::S64Array(self.push_ints(v)),
                Value::F64Array(v) => ArgValue::F64Array(self.push_floats(v)),
            };
            self.push_attribute(ArgKeyValue { key, value });
        }
        start..self.attributes_len()
    }
}
