//! A flattened, owned view of the spans inside OTLP export requests.

use std::collections::BTreeMap;
use std::fmt;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::trace::v1::{Span, span, status};

/// How a span reached the test: over which OTLP transport, or straight from
/// the SDK's in-memory exporter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// OTLP/gRPC (`opentelemetry.proto.collector.trace.v1.TraceService/Export`).
    Grpc,
    /// OTLP/HTTP with a binary protobuf body.
    HttpProtobuf,
    /// OTLP/HTTP with a JSON body.
    HttpJson,
    /// The in-memory exporter of [`PluginTest`](super::PluginTest), converted
    /// to OTLP exactly as the OTLP exporter would.
    InMemory,
}

/// An attribute value, keeping the type it had on the wire.
///
/// Compare with `assert_eq!(span.attr("n"), Some(&AttrValue::Int(3)))`, or use
/// the `as_*` accessors. `From` impls exist for the common Rust types, so
/// `AttrValue::from("x")` and `AttrValue::from(3)` work too.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// `string_value`.
    String(String),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `bytes_value`.
    Bytes(Vec<u8>),
    /// `array_value`.
    Array(Vec<AttrValue>),
    /// `kvlist_value`; later duplicate keys win.
    KvList(BTreeMap<String, AttrValue>),
    /// `string_value_strindex` (profiles dictionary index; not expected in traces).
    StringIndex(i32),
    /// An `AnyValue` with no value set, or a `KeyValue` without a value.
    Empty,
}

/// The same type under the name OTLP's `AnyValue` oneof suggests.
pub type AnyValueKind = AttrValue;

impl AttrValue {
    /// Converts an OTLP `AnyValue`.
    pub fn from_any_value(value: &AnyValue) -> Self {
        match &value.value {
            None => AttrValue::Empty,
            Some(any_value::Value::StringValue(s)) => AttrValue::String(s.clone()),
            Some(any_value::Value::BoolValue(b)) => AttrValue::Bool(*b),
            Some(any_value::Value::IntValue(i)) => AttrValue::Int(*i),
            Some(any_value::Value::DoubleValue(d)) => AttrValue::Double(*d),
            Some(any_value::Value::BytesValue(b)) => AttrValue::Bytes(b.clone()),
            Some(any_value::Value::ArrayValue(a)) => {
                AttrValue::Array(a.values.iter().map(AttrValue::from_any_value).collect())
            }
            Some(any_value::Value::KvlistValue(kv)) => AttrValue::KvList(attributes(&kv.values)),
            Some(any_value::Value::StringValueStrindex(i)) => AttrValue::StringIndex(*i),
        }
    }

    /// The string, if this is a `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an `Int`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The float, if this is a `Double`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::Double(d) => Some(*d),
            _ => None,
        }
    }

    /// The boolean, if this is a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttrValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The elements, if this is an `Array`.
    pub fn as_array(&self) -> Option<&[AttrValue]> {
        match self {
            AttrValue::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The OTLP name of this value's type (`"string"`, `"int"`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            AttrValue::String(_) => "string",
            AttrValue::Bool(_) => "bool",
            AttrValue::Int(_) => "int",
            AttrValue::Double(_) => "double",
            AttrValue::Bytes(_) => "bytes",
            AttrValue::Array(_) => "array",
            AttrValue::KvList(_) => "kvlist",
            AttrValue::StringIndex(_) => "strindex",
            AttrValue::Empty => "empty",
        }
    }
}

impl AttrValue {
    /// Converts back to an OTLP `AnyValue`.
    pub fn to_any_value(&self) -> AnyValue {
        let value = match self {
            AttrValue::String(s) => Some(any_value::Value::StringValue(s.clone())),
            AttrValue::Bool(b) => Some(any_value::Value::BoolValue(*b)),
            AttrValue::Int(i) => Some(any_value::Value::IntValue(*i)),
            AttrValue::Double(d) => Some(any_value::Value::DoubleValue(*d)),
            AttrValue::Bytes(b) => Some(any_value::Value::BytesValue(b.clone())),
            AttrValue::Array(a) => Some(any_value::Value::ArrayValue(ArrayValue {
                values: a.iter().map(AttrValue::to_any_value).collect(),
            })),
            AttrValue::KvList(kv) => Some(any_value::Value::KvlistValue(KeyValueList {
                values: kv
                    .iter()
                    .map(|(k, v)| KeyValue {
                        key: k.clone(),
                        value: Some(v.to_any_value()),
                        ..Default::default()
                    })
                    .collect(),
            })),
            AttrValue::StringIndex(i) => Some(any_value::Value::StringValueStrindex(*i)),
            AttrValue::Empty => None,
        };
        AnyValue { value }
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::String(s) => write!(f, "{s:?}"),
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Double(d) => write!(f, "{d:?}"),
            AttrValue::Bytes(b) => write!(f, "0x{}", hex::encode(b)),
            AttrValue::Array(a) => {
                f.write_str("[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            AttrValue::KvList(kv) => {
                f.write_str("{")?;
                for (i, (k, v)) in kv.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            AttrValue::StringIndex(i) => write!(f, "strindex({i})"),
            AttrValue::Empty => f.write_str("<empty>"),
        }
    }
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> Self {
        AttrValue::String(v.to_string())
    }
}
impl From<String> for AttrValue {
    fn from(v: String) -> Self {
        AttrValue::String(v)
    }
}
impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<i32> for AttrValue {
    fn from(v: i32) -> Self {
        AttrValue::Int(v.into())
    }
}
impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::Double(v)
    }
}
impl<T: Into<AttrValue>> From<Vec<T>> for AttrValue {
    fn from(v: Vec<T>) -> Self {
        AttrValue::Array(v.into_iter().map(Into::into).collect())
    }
}

/// Converts OTLP key/values to a map (a later duplicate key wins; see
/// [`ReceivedSpan::duplicate_attribute_keys`] to detect duplicates).
pub fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, AttrValue> {
    kvs.iter()
        .map(|kv| {
            let value = kv
                .value
                .as_ref()
                .map_or(AttrValue::Empty, AttrValue::from_any_value);
            (kv.key.clone(), value)
        })
        .collect()
}

fn duplicate_keys(kvs: &[KeyValue]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut dups = Vec::new();
    for kv in kvs {
        if !seen.insert(kv.key.as_str()) && !dups.contains(&kv.key) {
            dups.push(kv.key.clone());
        }
    }
    dups
}

fn hex_id(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn optional_hex_id(bytes: &[u8]) -> Option<String> {
    (!bytes.is_empty()).then(|| hex::encode(bytes))
}

/// OTLP span kind, with unknown wire values preserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// `SPAN_KIND_UNSPECIFIED` (0).
    Unspecified,
    /// `SPAN_KIND_INTERNAL` (1).
    Internal,
    /// `SPAN_KIND_SERVER` (2).
    Server,
    /// `SPAN_KIND_CLIENT` (3).
    Client,
    /// `SPAN_KIND_PRODUCER` (4).
    Producer,
    /// `SPAN_KIND_CONSUMER` (5).
    Consumer,
    /// A value outside the enum.
    Other(i32),
}

impl From<i32> for SpanKind {
    fn from(v: i32) -> Self {
        match span::SpanKind::try_from(v) {
            Ok(span::SpanKind::Unspecified) => SpanKind::Unspecified,
            Ok(span::SpanKind::Internal) => SpanKind::Internal,
            Ok(span::SpanKind::Server) => SpanKind::Server,
            Ok(span::SpanKind::Client) => SpanKind::Client,
            Ok(span::SpanKind::Producer) => SpanKind::Producer,
            Ok(span::SpanKind::Consumer) => SpanKind::Consumer,
            Err(_) => SpanKind::Other(v),
        }
    }
}

/// OTLP status code, with unknown wire values preserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// `STATUS_CODE_UNSET` (0), also used when the span has no status.
    Unset,
    /// `STATUS_CODE_OK` (1).
    Ok,
    /// `STATUS_CODE_ERROR` (2).
    Error,
    /// A value outside the enum.
    Other(i32),
}

impl From<i32> for StatusCode {
    fn from(v: i32) -> Self {
        match status::StatusCode::try_from(v) {
            Ok(status::StatusCode::Unset) => StatusCode::Unset,
            Ok(status::StatusCode::Ok) => StatusCode::Ok,
            Ok(status::StatusCode::Error) => StatusCode::Error,
            Err(_) => StatusCode::Other(v),
        }
    }
}

/// A span event.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedEvent {
    /// Event name.
    pub name: String,
    /// Event time, unix nanoseconds.
    pub time_unix_nano: u64,
    /// Event attributes.
    pub attributes: BTreeMap<String, AttrValue>,
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
}

impl ReceivedEvent {
    /// The attribute `key`, if present.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes.get(key)
    }
}

/// A span link.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedLink {
    /// Linked trace id, lowercase hex.
    pub trace_id: String,
    /// Linked span id, lowercase hex.
    pub span_id: String,
    /// W3C trace state of the link.
    pub trace_state: String,
    /// Link attributes.
    pub attributes: BTreeMap<String, AttrValue>,
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
    /// Link flags.
    pub flags: u32,
}

/// The instrumentation scope a span was reported under.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReceivedScope {
    /// Scope name.
    pub name: String,
    /// Scope version.
    pub version: String,
    /// Scope attributes.
    pub attributes: BTreeMap<String, AttrValue>,
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
    /// `ScopeSpans.schema_url`.
    pub schema_url: String,
}

/// One received span, flattened together with its scope and resource.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedSpan {
    /// Span name.
    pub name: String,
    /// Trace id, lowercase hex (32 digits for a valid id).
    pub trace_id: String,
    /// Span id, lowercase hex (16 digits for a valid id).
    pub span_id: String,
    /// Parent span id, lowercase hex; `None` when the wire field was empty.
    pub parent_span_id: Option<String>,
    /// W3C trace state.
    pub trace_state: String,
    /// Span kind.
    pub kind: SpanKind,
    /// Status code (`Unset` when the span carries no status).
    pub status_code: StatusCode,
    /// Status message.
    pub status_message: String,
    /// Start time, unix nanoseconds.
    pub start_time_unix_nano: u64,
    /// End time, unix nanoseconds.
    pub end_time_unix_nano: u64,
    /// Span attributes (a later duplicate key wins).
    pub attributes: BTreeMap<String, AttrValue>,
    /// Keys that appeared more than once in the span's attribute list.
    pub duplicate_attribute_keys: Vec<String>,
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
    /// Events, in wire order.
    pub events: Vec<ReceivedEvent>,
    /// `dropped_events_count`.
    pub dropped_events_count: u32,
    /// Links, in wire order.
    pub links: Vec<ReceivedLink>,
    /// `dropped_links_count`.
    pub dropped_links_count: u32,
    /// Span flags (W3C trace flags in the low byte, remote-parent bits above).
    pub flags: u32,
    /// Instrumentation scope.
    pub scope: ReceivedScope,
    /// Resource attributes.
    pub resource: BTreeMap<String, AttrValue>,
    /// Resource `dropped_attributes_count`.
    pub resource_dropped_attributes_count: u32,
    /// `ResourceSpans.schema_url`.
    pub resource_schema_url: String,
    /// How the span reached the receiver.
    pub transport: Transport,
    /// The span exactly as decoded.
    pub raw: Span,
}

impl ReceivedSpan {
    /// The span attribute `key`, if present.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes.get(key)
    }

    /// The resource attribute `key`, if present.
    pub fn resource_attr(&self, key: &str) -> Option<&AttrValue> {
        self.resource.get(key)
    }

    /// The first event named `name`, if any.
    pub fn event(&self, name: &str) -> Option<&ReceivedEvent> {
        self.events.iter().find(|e| e.name == name)
    }

    /// `end - start` in nanoseconds (0 when the end precedes the start).
    pub fn duration_nanos(&self) -> u64 {
        self.end_time_unix_nano
            .saturating_sub(self.start_time_unix_nano)
    }

    /// True when the W3C `sampled` trace flag is set.
    pub fn is_sampled(&self) -> bool {
        self.flags & 0x01 != 0
    }

    /// Flattens every span of an export request.
    pub fn flatten(request: &ExportTraceServiceRequest, transport: Transport) -> Vec<Self> {
        let mut out = Vec::new();
        for rs in &request.resource_spans {
            let (resource, resource_dropped) = rs
                .resource
                .as_ref()
                .map(|r| (attributes(&r.attributes), r.dropped_attributes_count))
                .unwrap_or_default();
            for ss in &rs.scope_spans {
                let mut scope = ss
                    .scope
                    .as_ref()
                    .map(|s| ReceivedScope {
                        name: s.name.clone(),
                        version: s.version.clone(),
                        attributes: attributes(&s.attributes),
                        dropped_attributes_count: s.dropped_attributes_count,
                        schema_url: String::new(),
                    })
                    .unwrap_or_default();
                scope.schema_url = ss.schema_url.clone();
                for s in &ss.spans {
                    out.push(Self::from_span(
                        s,
                        &scope,
                        &resource,
                        resource_dropped,
                        &rs.schema_url,
                        transport,
                    ));
                }
            }
        }
        out
    }

    fn from_span(
        s: &Span,
        scope: &ReceivedScope,
        resource: &BTreeMap<String, AttrValue>,
        resource_dropped_attributes_count: u32,
        resource_schema_url: &str,
        transport: Transport,
    ) -> Self {
        let (status_code, status_message) = s
            .status
            .as_ref()
            .map(|st| (StatusCode::from(st.code), st.message.clone()))
            .unwrap_or((StatusCode::Unset, String::new()));
        ReceivedSpan {
            name: s.name.clone(),
            trace_id: hex_id(&s.trace_id),
            span_id: hex_id(&s.span_id),
            parent_span_id: optional_hex_id(&s.parent_span_id),
            trace_state: s.trace_state.clone(),
            kind: SpanKind::from(s.kind),
            status_code,
            status_message,
            start_time_unix_nano: s.start_time_unix_nano,
            end_time_unix_nano: s.end_time_unix_nano,
            attributes: attributes(&s.attributes),
            duplicate_attribute_keys: duplicate_keys(&s.attributes),
            dropped_attributes_count: s.dropped_attributes_count,
            events: s
                .events
                .iter()
                .map(|e| ReceivedEvent {
                    name: e.name.clone(),
                    time_unix_nano: e.time_unix_nano,
                    attributes: attributes(&e.attributes),
                    dropped_attributes_count: e.dropped_attributes_count,
                })
                .collect(),
            dropped_events_count: s.dropped_events_count,
            links: s
                .links
                .iter()
                .map(|l| ReceivedLink {
                    trace_id: hex_id(&l.trace_id),
                    span_id: hex_id(&l.span_id),
                    trace_state: l.trace_state.clone(),
                    attributes: attributes(&l.attributes),
                    dropped_attributes_count: l.dropped_attributes_count,
                    flags: l.flags,
                })
                .collect(),
            dropped_links_count: s.dropped_links_count,
            flags: s.flags,
            scope: scope.clone(),
            resource: resource.clone(),
            resource_dropped_attributes_count,
            resource_schema_url: resource_schema_url.to_string(),
            transport,
            raw: s.clone(),
        }
    }
}
