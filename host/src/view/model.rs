//! The trace model every renderer draws from: traces of spans in display
//! order (each span followed by its subtree, children by start time), with
//! their events, links and log records, and the resources and scopes they
//! came from. Built from the SDK's [`SpanData`] (the live sinks) and from
//! OTLP messages (`wasmtrace view`), through one conversion, so that a
//! trace looks the same whichever way it arrived.

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span as ProtoSpan, span};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::trace::SpanData;
use std::collections::HashMap;
use std::fmt;

/// An attribute value, as OTLP has them.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// No value (an OTLP `AnyValue` with nothing set).
    Empty,
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Double(f64),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// An array (OTLP allows mixed element types).
    Array(Vec<Value>),
    /// A list of key/value pairs.
    Map(Vec<Attribute>),
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// A short name of the type, as the HTML page shows it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::String(_) => "string",
            Self::Bool(_) => "bool",
            Self::Int(_) => "int",
            Self::Double(_) => "double",
            Self::Bytes(_) => "bytes",
            Self::Array(_) => "array",
            Self::Map(_) => "kvlist",
        }
    }
}

/// Strings quoted and escaped (so that no control character reaches a
/// terminal), arrays as `[a,b]`, maps as `{k=v,...}`, bytes as hex.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("null"),
            Self::String(s) => write!(f, "{s:?}"),
            Self::Bool(b) => b.fmt(f),
            Self::Int(i) => i.fmt(f),
            Self::Double(d) => d.fmt(f),
            Self::Bytes(b) => write!(f, "0x{}", hex::encode(b)),
            Self::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    item.fmt(f)?;
                }
                f.write_str("]")
            }
            Self::Map(entries) => {
                f.write_str("{")?;
                for (i, kv) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}={}", kv.key.escape_debug(), kv.value)?;
                }
                f.write_str("}")
            }
        }
    }
}

impl From<Option<AnyValue>> for Value {
    fn from(value: Option<AnyValue>) -> Self {
        match value.and_then(|v| v.value) {
            None => Self::Empty,
            Some(any_value::Value::StringValue(s)) => Self::String(s),
            Some(any_value::Value::BoolValue(b)) => Self::Bool(b),
            Some(any_value::Value::IntValue(i)) => Self::Int(i),
            Some(any_value::Value::DoubleValue(d)) => Self::Double(d),
            Some(any_value::Value::BytesValue(b)) => Self::Bytes(b),
            Some(any_value::Value::ArrayValue(a)) => {
                Self::Array(a.values.into_iter().map(|v| Self::from(Some(v))).collect())
            }
            Some(any_value::Value::KvlistValue(kv)) => Self::Map(attributes(kv.values)),
            // Strings by reference into a dictionary this reader never gets.
            Some(_) => Self::Empty,
        }
    }
}

/// A key and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
}

fn attributes(kvs: Vec<KeyValue>) -> Vec<Attribute> {
    kvs.into_iter()
        .map(|kv| Attribute {
            key: kv.key,
            value: Value::from(kv.value),
        })
        .collect()
}

/// The entity that produced telemetry (`service.name`, ...).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    /// Its attributes.
    pub attributes: Vec<Attribute>,
    /// Its schema URL, if any.
    pub schema_url: String,
}

impl Resource {
    /// The value of `key`, if set.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        find(&self.attributes, key)
    }
}

/// The instrumentation scope: for a plugin's spans, the plugin's name and
/// version (`docs/DESIGN.md` §9).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    /// Its name.
    pub name: String,
    /// Its version (empty when unknown).
    pub version: String,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
}

/// What a span is to its trace, as OTLP's `SpanKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// Not given.
    Unspecified,
    /// Internal work.
    Internal,
    /// Handles a remote request.
    Server,
    /// Makes a remote request.
    Client,
    /// Sends a message.
    Producer,
    /// Receives a message.
    Consumer,
}

impl SpanKind {
    fn from_otlp(kind: i32) -> Self {
        match span::SpanKind::try_from(kind) {
            Ok(span::SpanKind::Internal) => Self::Internal,
            Ok(span::SpanKind::Server) => Self::Server,
            Ok(span::SpanKind::Client) => Self::Client,
            Ok(span::SpanKind::Producer) => Self::Producer,
            Ok(span::SpanKind::Consumer) => Self::Consumer,
            _ => Self::Unspecified,
        }
    }

    /// Lowercase, as the renderers print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Internal => "internal",
            Self::Server => "server",
            Self::Client => "client",
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        }
    }

    /// Whether the renderers mark it (internal and unspecified go unmarked).
    pub fn is_marked(self) -> bool {
        !matches!(self, Self::Internal | Self::Unspecified)
    }
}

/// A span's status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Status {
    /// Not set.
    #[default]
    Unset,
    /// Ok.
    Ok,
    /// Error, with its description.
    Error(String),
}

/// Something that happened at a point in a span.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When, in nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Its name.
    pub name: String,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
    /// Attributes the producer dropped.
    pub dropped_attributes_count: u32,
}

/// A link to another span.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// The linked span's trace.
    pub trace_id: TraceId,
    /// The linked span.
    pub span_id: SpanId,
    /// The linked span's W3C `tracestate`.
    pub trace_state: String,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
    /// Attributes the producer dropped.
    pub dropped_attributes_count: u32,
}

/// A log record. Records with a trace and span id are drawn with that span
/// (as ticks on its bar, in the tree under it, in the HTML detail pane).
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    /// When it happened, in nanoseconds since the Unix epoch (0: unknown).
    pub time_unix_nano: u64,
    /// When it was observed (0: unknown).
    pub observed_time_unix_nano: u64,
    /// OTLP's `SeverityNumber` (1-24; 0: unspecified).
    pub severity_number: i32,
    /// The severity as the source named it (`INFO`, ...).
    pub severity_text: String,
    /// Its body.
    pub body: Value,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
    /// Attributes the producer dropped.
    pub dropped_attributes_count: u32,
    /// The event name, if it is an event.
    pub event_name: String,
    /// The trace it was recorded in, if any.
    pub trace_id: Option<TraceId>,
    /// The span it was recorded in, if any.
    pub span_id: Option<SpanId>,
    /// Index of its resource in [`TraceSet::resources`].
    pub resource: usize,
    /// Index of its scope in [`TraceSet::scopes`].
    pub scope: usize,
}

impl LogRecord {
    /// The time to draw it at: when it happened, else when it was observed.
    pub fn time(&self) -> u64 {
        if self.time_unix_nano != 0 {
            self.time_unix_nano
        } else {
            self.observed_time_unix_nano
        }
    }

    /// The severity's name: the text given, else OTLP's name for its
    /// number (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`).
    pub fn severity(&self) -> &str {
        if !self.severity_text.is_empty() {
            return &self.severity_text;
        }
        match self.severity_number {
            1..=4 => "TRACE",
            5..=8 => "DEBUG",
            9..=12 => "INFO",
            13..=16 => "WARN",
            17..=20 => "ERROR",
            21..=24 => "FATAL",
            _ => "LOG",
        }
    }

    /// Whether it is an error or worse (`SeverityNumber` 17 and above).
    pub fn is_error(&self) -> bool {
        self.severity_number >= 17
    }
}

/// A span.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// Its trace.
    pub trace_id: TraceId,
    /// Its id.
    pub span_id: SpanId,
    /// Its parent, if it has one.
    pub parent_span_id: Option<SpanId>,
    /// Whether the parent is in another process (unknown when the producer
    /// did not say).
    pub parent_is_remote: Option<bool>,
    /// Its W3C `tracestate`.
    pub trace_state: String,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: SpanKind,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// End, in nanoseconds since the Unix epoch.
    pub end_unix_nano: u64,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
    /// Attributes dropped (by the SDK's or wasmtrace's limits).
    pub dropped_attributes_count: u32,
    /// Its events, in the order recorded.
    pub events: Vec<Event>,
    /// Events dropped.
    pub dropped_events_count: u32,
    /// Its links.
    pub links: Vec<Link>,
    /// Links dropped.
    pub dropped_links_count: u32,
    /// Its status.
    pub status: Status,
    /// Index of its resource in [`TraceSet::resources`].
    pub resource: usize,
    /// Index of its scope in [`TraceSet::scopes`].
    pub scope: usize,
    /// Log records recorded in it, by time.
    pub logs: Vec<LogRecord>,
}

impl Span {
    /// The value of attribute `key`, if set.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        find(&self.attributes, key)
    }

    /// How long it took, in nanoseconds (0 if it ends before it starts).
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }

    /// Whether it is the first span of its trace in this process: no parent,
    /// or a remote one.
    pub fn is_local_root(&self) -> bool {
        self.parent_span_id.is_none() || self.parent_is_remote == Some(true)
    }

    /// Converts an OTLP span of `resource` and `scope` (indices into the
    /// set being built). Fails on ids of the wrong length.
    fn from_otlp(span: ProtoSpan, resource: usize, scope: usize) -> Result<Self, String> {
        let trace_id = trace_id(&span.trace_id)
            .ok_or_else(|| format!("span {:?}: traceId is not 16 bytes of hex", span.name))?;
        let span_id = span_id_of(&span.span_id)
            .ok_or_else(|| format!("span {:?}: spanId is not 8 bytes of hex", span.name))?;
        let parent_span_id = match span.parent_span_id.as_slice() {
            [] => None,
            bytes => Some(span_id_of(bytes).ok_or_else(|| {
                format!("span {:?}: parentSpanId is not 8 bytes of hex", span.name)
            })?),
        }
        .filter(|id| *id != SpanId::INVALID);
        let status = match span.status {
            Some(s) if s.code == 2 => Status::Error(s.message),
            Some(s) if s.code == 1 => Status::Ok,
            _ => Status::Unset,
        };
        let mut links = Vec::with_capacity(span.links.len());
        for link in span.links {
            let (Some(trace_id), Some(span_id)) =
                (trace_id_of(&link.trace_id), span_id_of(&link.span_id))
            else {
                return Err(format!("span {:?}: a link's ids are malformed", span.name));
            };
            links.push(Link {
                trace_id,
                span_id,
                trace_state: link.trace_state,
                attributes: attributes(link.attributes),
                dropped_attributes_count: link.dropped_attributes_count,
            });
        }
        Ok(Self {
            trace_id,
            span_id,
            parent_span_id,
            parent_is_remote: (span.flags & HAS_IS_REMOTE != 0)
                .then_some(span.flags & IS_REMOTE != 0),
            trace_state: span.trace_state,
            name: span.name,
            kind: SpanKind::from_otlp(span.kind),
            start_unix_nano: span.start_time_unix_nano,
            end_unix_nano: span.end_time_unix_nano,
            attributes: attributes(span.attributes),
            dropped_attributes_count: span.dropped_attributes_count,
            events: span
                .events
                .into_iter()
                .map(|e| Event {
                    time_unix_nano: e.time_unix_nano,
                    name: e.name,
                    attributes: attributes(e.attributes),
                    dropped_attributes_count: e.dropped_attributes_count,
                })
                .collect(),
            dropped_events_count: span.dropped_events_count,
            links,
            dropped_links_count: span.dropped_links_count,
            status,
            resource,
            scope,
            logs: Vec::new(),
        })
    }
}

/// OTLP `SpanFlags`: whether the producer says if the parent is remote,
/// and whether it is.
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

fn find<'a>(attributes: &'a [Attribute], key: &str) -> Option<&'a Value> {
    attributes.iter().find(|a| a.key == key).map(|a| &a.value)
}

fn trace_id(bytes: &[u8]) -> Option<TraceId> {
    trace_id_of(bytes).filter(|id| *id != TraceId::INVALID)
}

fn trace_id_of(bytes: &[u8]) -> Option<TraceId> {
    <[u8; 16]>::try_from(bytes).ok().map(TraceId::from_bytes)
}

fn span_id_of(bytes: &[u8]) -> Option<SpanId> {
    <[u8; 8]>::try_from(bytes).ok().map(SpanId::from_bytes)
}

/// Where a span sits in its trace's tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    /// 0 for a root.
    pub depth: usize,
    /// Index of its parent in [`Trace::spans`], if it is drawn under one.
    pub parent: Option<usize>,
    /// Whether it is the last child of its parent (or the last root).
    pub last: bool,
    /// One past the index of its last descendant: its subtree is
    /// `spans[i..end]`.
    pub end: usize,
}

/// One trace: its spans in display order, with their place in the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// Its id.
    pub trace_id: TraceId,
    /// Its spans, each followed by its subtree, children (and roots) by
    /// start time.
    pub spans: Vec<Span>,
    /// Where each span sits, parallel to `spans`.
    pub nodes: Vec<Node>,
    /// Log records of this trace whose span is not among `spans`.
    pub logs: Vec<LogRecord>,
}

impl Trace {
    /// The earliest start of its spans (ns since the Unix epoch).
    pub fn start_unix_nano(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.start_unix_nano)
            .min()
            .unwrap_or(0)
    }

    /// The latest end of its spans (never before [`Trace::start_unix_nano`]).
    pub fn end_unix_nano(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.end_unix_nano.max(s.start_unix_nano))
            .max()
            .unwrap_or(0)
    }
}

/// Traces with the resources and scopes their spans refer to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceSet {
    /// The traces, in the order their first span arrived.
    pub traces: Vec<Trace>,
    /// The resources spans and log records name by index.
    pub resources: Vec<Resource>,
    /// The scopes spans and log records name by index.
    pub scopes: Vec<Scope>,
    /// Log records of no trace here.
    pub logs: Vec<LogRecord>,
}

impl TraceSet {
    /// The set of `spans` (as the SDK ended them) of `resource`.
    pub fn from_span_data(spans: Vec<SpanData>, resource: &opentelemetry_sdk::Resource) -> Self {
        let mut builder = TraceSetBuilder::default();
        builder.add_span_data(spans, resource);
        builder.build()
    }

    /// How many spans it holds.
    pub fn span_count(&self) -> usize {
        self.traces.iter().map(|t| t.spans.len()).sum()
    }
}

/// Collects spans, log records, resources and scopes, then builds a
/// [`TraceSet`].
#[derive(Debug, Default)]
pub struct TraceSetBuilder {
    resources: Vec<Resource>,
    scopes: Vec<Scope>,
    spans: Vec<Span>,
    logs: Vec<LogRecord>,
}

impl TraceSetBuilder {
    /// Adds `resource` (once: an equal one is shared); returns its index.
    pub fn add_resource(&mut self, resource: Resource) -> usize {
        intern(&mut self.resources, resource)
    }

    /// Adds `scope` (once: an equal one is shared); returns its index.
    pub fn add_scope(&mut self, scope: Scope) -> usize {
        intern(&mut self.scopes, scope)
    }

    /// Adds a span; its `resource` and `scope` are indices this builder
    /// returned.
    pub fn add_span(&mut self, span: Span) {
        self.spans.push(span);
    }

    /// Adds a log record; its `resource` and `scope` are indices this
    /// builder returned. It is drawn with its span when that is in the set.
    pub fn add_log(&mut self, log: LogRecord) {
        self.logs.push(log);
    }

    /// Adds spans as the SDK ended them, all of `resource`, through the
    /// same OTLP conversion as `--export-json` (so that the live console
    /// and `wasmtrace view` of the file draw the same).
    pub fn add_span_data(&mut self, spans: Vec<SpanData>, resource: &opentelemetry_sdk::Resource) {
        let resource = ResourceAttributesWithSchema::from(resource);
        let resource = self.add_resource(Resource {
            attributes: attributes(resource.attributes.0),
            schema_url: resource.schema_url.unwrap_or_default(),
        });
        let mut scopes: HashMap<opentelemetry::InstrumentationScope, usize> = HashMap::new();
        for span in spans {
            let scope = match scopes.get(&span.instrumentation_scope) {
                Some(&i) => i,
                None => {
                    let proto = InstrumentationScope::from((&span.instrumentation_scope, None));
                    let i = self.add_scope(scope_from_otlp(Some(proto)));
                    scopes.insert(span.instrumentation_scope.clone(), i);
                    i
                }
            };
            // SDK spans have well-formed ids.
            if let Ok(span) = Span::from_otlp(ProtoSpan::from(span), resource, scope) {
                self.spans.push(span);
            }
        }
    }

    /// Adds the spans of OTLP `ResourceSpans`; returns a message for each
    /// span that could not be read (malformed ids), the rest are kept.
    pub fn add_otlp_spans(&mut self, resource_spans: Vec<ResourceSpans>) -> Vec<String> {
        let mut problems = Vec::new();
        for rs in resource_spans {
            let resource = self.add_resource(resource_from_otlp(rs.resource, rs.schema_url));
            for ss in rs.scope_spans {
                let scope = self.add_scope(scope_from_otlp(ss.scope));
                for span in ss.spans {
                    match Span::from_otlp(span, resource, scope) {
                        Ok(span) => self.spans.push(span),
                        Err(problem) => problems.push(problem),
                    }
                }
            }
        }
        problems
    }

    /// Adds the log records of OTLP `ResourceLogs`; returns a message for
    /// each record whose ids were malformed (kept without them).
    pub fn add_otlp_logs(&mut self, resource_logs: Vec<ResourceLogs>) -> Vec<String> {
        let mut problems = Vec::new();
        for rl in resource_logs {
            let resource = self.add_resource(resource_from_otlp(rl.resource, rl.schema_url));
            for sl in rl.scope_logs {
                let scope = self.add_scope(scope_from_otlp(sl.scope));
                for log in sl.log_records {
                    // Empty or all-zero ids mean "none"; a wrong length is an error.
                    if !matches!(log.trace_id.len(), 0 | 16) || !matches!(log.span_id.len(), 0 | 8)
                    {
                        problems.push(
                            "a log record's traceId or spanId is malformed (kept without them)"
                                .to_owned(),
                        );
                    }
                    let (trace_id, span_id) = ids_from_otlp(&log.trace_id, &log.span_id);
                    self.logs.push(LogRecord {
                        time_unix_nano: log.time_unix_nano,
                        observed_time_unix_nano: log.observed_time_unix_nano,
                        severity_number: log.severity_number,
                        severity_text: log.severity_text,
                        body: log.body.into(),
                        attributes: attributes_from_otlp(log.attributes),
                        dropped_attributes_count: log.dropped_attributes_count,
                        event_name: log.event_name,
                        trace_id,
                        span_id,
                        resource,
                        scope,
                    });
                }
            }
        }
        problems
    }

    /// Adds log records as the SDK emitted them, all of `resource`, through
    /// the same OTLP conversion as `--export-json`.
    pub fn add_log_data(
        &mut self,
        logs: &[(SdkLogRecord, opentelemetry::InstrumentationScope)],
        resource: &opentelemetry_sdk::Resource,
    ) {
        let refs: Vec<_> = logs.iter().map(|(r, s)| (r, s)).collect();
        let batch = opentelemetry_sdk::logs::LogBatch::new(&refs);
        let resource = ResourceAttributesWithSchema::from(resource);
        self.add_otlp_logs(group_logs_by_resource_and_scope(&batch, &resource));
    }

    /// Groups the spans into traces and each trace into its tree.
    pub fn build(self) -> TraceSet {
        let mut order: HashMap<TraceId, usize> = HashMap::new();
        let mut groups: Vec<Vec<Span>> = Vec::new();
        for span in self.spans {
            let i = *order.entry(span.trace_id).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[i].push(span);
        }
        let mut traces: Vec<Trace> = groups.into_iter().map(arrange).collect();
        let mut unattached = Vec::new();
        let mut logs = self.logs;
        logs.sort_by_key(LogRecord::time);
        let mut positions: HashMap<(usize, SpanId), usize> = HashMap::new();
        if !logs.is_empty() {
            for (t, trace) in traces.iter().enumerate() {
                for (pos, span) in trace.spans.iter().enumerate() {
                    positions.entry((t, span.span_id)).or_insert(pos);
                }
            }
        }
        for log in logs {
            let Some(&t) = log.trace_id.and_then(|id| order.get(&id)) else {
                unattached.push(log);
                continue;
            };
            let trace = &mut traces[t];
            match log.span_id.and_then(|id| positions.get(&(t, id))) {
                Some(&pos) => trace.spans[pos].logs.push(log),
                None => trace.logs.push(log),
            }
        }
        TraceSet {
            traces,
            resources: self.resources,
            scopes: self.scopes,
            logs: unattached,
        }
    }
}

fn intern<T: PartialEq>(table: &mut Vec<T>, item: T) -> usize {
    match table.iter().position(|t| *t == item) {
        Some(i) => i,
        None => {
            table.push(item);
            table.len() - 1
        }
    }
}

pub(crate) fn resource_from_otlp(resource: Option<ProtoResource>, schema_url: String) -> Resource {
    Resource {
        attributes: resource
            .map(|r| attributes(r.attributes))
            .unwrap_or_default(),
        schema_url,
    }
}

pub(crate) fn scope_from_otlp(scope: Option<InstrumentationScope>) -> Scope {
    scope
        .map(|s| Scope {
            name: s.name,
            version: s.version,
            attributes: attributes(s.attributes),
        })
        .unwrap_or_default()
}

pub(crate) fn attributes_from_otlp(kvs: Vec<KeyValue>) -> Vec<Attribute> {
    attributes(kvs)
}

pub(crate) fn ids_from_otlp(trace: &[u8], span: &[u8]) -> (Option<TraceId>, Option<SpanId>) {
    (
        trace_id(trace),
        span_id_of(span).filter(|id| *id != SpanId::INVALID),
    )
}

/// Puts one trace's spans in display order: roots (spans whose parent is
/// not here) by start time, each followed by its subtree. Iterative, so
/// that a chain as deep as a guest can make it costs no stack; a span is
/// placed once even when parent links form a cycle (the span where the
/// cycle is entered is drawn as a root).
fn arrange(mut spans: Vec<Span>) -> Trace {
    spans.sort_by_key(|s| s.start_unix_nano);
    let trace_id = spans[0].trace_id;
    let mut index: HashMap<SpanId, usize> = HashMap::with_capacity(spans.len());
    for (i, s) in spans.iter().enumerate() {
        index.entry(s.span_id).or_insert(i);
    }
    let parent_of = |i: usize| -> Option<usize> {
        let s = &spans[i];
        s.parent_span_id
            .and_then(|p| index.get(&p).copied())
            .filter(|&p| p != i)
    };
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for i in 0..spans.len() {
        match parent_of(i) {
            Some(p) => children[p].push(i),
            None => roots.push(i),
        }
    }
    let mut placed = vec![false; spans.len()];
    let mut order: Vec<usize> = Vec::with_capacity(spans.len());
    let mut nodes: Vec<Node> = Vec::with_capacity(spans.len());
    let mut position = vec![usize::MAX; spans.len()];
    // (span, parent position, depth, last): placed when popped.
    let mut stack: Vec<(usize, Option<usize>, usize, bool)> = Vec::new();
    let mut visit =
        |root: usize, order: &mut Vec<usize>, nodes: &mut Vec<Node>, placed: &mut Vec<bool>| {
            stack.push((root, None, 0, false));
            while let Some((i, parent, depth, last)) = stack.pop() {
                if placed[i] {
                    continue;
                }
                placed[i] = true;
                position[i] = order.len();
                order.push(i);
                nodes.push(Node {
                    depth,
                    parent,
                    last,
                    end: 0,
                });
                let kids: Vec<usize> = children[i]
                    .iter()
                    .copied()
                    .filter(|&k| !placed[k])
                    .collect();
                for (n, &kid) in kids.iter().enumerate().rev() {
                    stack.push((kid, Some(position[i]), depth + 1, n + 1 == kids.len()));
                }
            }
        };
    for &root in &roots {
        visit(root, &mut order, &mut nodes, &mut placed);
    }
    // Spans on a cycle of parents: none of them is a root above.
    for i in 0..spans.len() {
        if !placed[i] {
            visit(i, &mut order, &mut nodes, &mut placed);
        }
    }
    // Subtree ends, from the bottom up; then which root is last.
    for pos in (0..nodes.len()).rev() {
        let end = nodes[pos].end.max(pos + 1);
        nodes[pos].end = end;
        if let Some(p) = nodes[pos].parent {
            nodes[p].end = nodes[p].end.max(end);
        }
    }
    let last_root = nodes.iter().rposition(|n| n.depth == 0);
    for (pos, node) in nodes.iter_mut().enumerate() {
        if node.depth == 0 {
            node.last = Some(pos) == last_root;
        }
    }
    let mut slots: Vec<Option<Span>> = spans.into_iter().map(Some).collect();
    let spans = order
        .iter()
        .map(|&i| slots[i].take().expect("each span is placed once"))
        .collect();
    Trace {
        trace_id,
        spans,
        nodes,
        logs: Vec::new(),
    }
}

#[cfg(test)]
impl Span {
    /// A bare internal span of trace 7 for the renderers' tests: span `id`
    /// under `parent` (0: none), from `start` to `end` (ns).
    pub(crate) fn for_test(name: &str, id: u64, parent: u64, start: u64, end: u64) -> Self {
        Self {
            trace_id: TraceId::from(7u128),
            span_id: SpanId::from(id),
            parent_span_id: (parent != 0).then(|| SpanId::from(parent)),
            parent_is_remote: Some(false),
            trace_state: String::new(),
            name: name.to_owned(),
            kind: SpanKind::Internal,
            start_unix_nano: start,
            end_unix_nano: end,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Vec::new(),
            dropped_events_count: 0,
            links: Vec::new(),
            dropped_links_count: 0,
            status: Status::Unset,
            resource: 0,
            scope: 0,
            logs: Vec::new(),
        }
    }
}

#[cfg(test)]
impl TraceSet {
    /// The set of `spans` (of resource and scope 0), for tests.
    pub(crate) fn of(spans: Vec<Span>) -> Self {
        let mut builder = TraceSetBuilder::default();
        spans.into_iter().for_each(|s| builder.add_span(s));
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: u64, parent: u64, start: u64, end: u64) -> Span {
        Span::for_test(&format!("s{id}"), id, parent, start, end)
    }

    fn build(spans: Vec<Span>) -> Trace {
        let mut set = TraceSet::of(spans);
        assert_eq!(set.traces.len(), 1);
        set.traces.remove(0)
    }

    fn shape(trace: &Trace) -> Vec<(String, usize, bool, usize)> {
        trace
            .spans
            .iter()
            .zip(&trace.nodes)
            .map(|(s, n)| (s.name.clone(), n.depth, n.last, n.end))
            .collect()
    }

    #[test]
    fn children_follow_their_parent_by_start_time() {
        let trace = build(vec![
            span(3, 1, 5, 6),
            span(2, 1, 2, 3),
            span(4, 2, 2, 3),
            span(1, 0, 0, 10),
        ]);
        assert_eq!(
            shape(&trace),
            [
                ("s1".into(), 0, true, 4),
                ("s2".into(), 1, false, 3),
                ("s4".into(), 2, true, 3),
                ("s3".into(), 1, true, 4),
            ]
        );
        assert_eq!(trace.nodes[2].parent, Some(1));
        assert_eq!((trace.start_unix_nano(), trace.end_unix_nano()), (0, 10));
    }

    #[test]
    fn a_cycle_of_parents_is_drawn_once_from_where_it_is_entered() {
        // 1 -> 2 -> 3 -> 1, and 4 a child of 2; plus an orphan whose parent
        // is missing.
        let trace = build(vec![
            span(1, 3, 0, 9),
            span(2, 1, 1, 8),
            span(3, 2, 2, 7),
            span(4, 2, 3, 4),
            span(5, 99, 5, 6),
        ]);
        assert_eq!(
            shape(&trace),
            [
                ("s5".into(), 0, false, 1),
                ("s1".into(), 0, true, 5),
                ("s2".into(), 1, true, 5),
                ("s3".into(), 2, false, 4),
                ("s4".into(), 2, true, 5),
            ]
        );
    }

    #[test]
    fn a_span_that_is_its_own_parent_or_repeated_is_kept() {
        // The first is its own parent: a root. The second, with the same id,
        // is drawn under the first, as a child of that id.
        let trace = build(vec![span(1, 1, 0, 2), span(1, 1, 0, 2)]);
        assert_eq!(
            shape(&trace),
            [("s1".into(), 0, true, 2), ("s1".into(), 1, true, 2)]
        );
    }

    #[test]
    fn logs_go_to_their_span_else_their_trace_else_the_set() {
        let mut b = TraceSetBuilder::default();
        b.add_span(span(1, 0, 0, 10));
        let log = |trace: Option<u128>, span: Option<u64>, t: u64| LogRecord {
            time_unix_nano: t,
            observed_time_unix_nano: 0,
            severity_number: 9,
            severity_text: String::new(),
            body: Value::String(format!("at {t}")),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            event_name: String::new(),
            trace_id: trace.map(TraceId::from),
            span_id: span.map(SpanId::from),
            resource: 0,
            scope: 0,
        };
        b.add_log(log(Some(7), Some(1), 5));
        b.add_log(log(Some(7), Some(1), 3));
        b.add_log(log(Some(7), Some(2), 4));
        b.add_log(log(None, None, 1));
        let set = b.build();
        let trace = &set.traces[0];
        let times: Vec<u64> = trace.spans[0].logs.iter().map(|l| l.time()).collect();
        assert_eq!(times, [3, 5]);
        assert_eq!(trace.logs.len(), 1);
        assert_eq!(set.logs.len(), 1);
        assert_eq!(set.logs[0].severity(), "INFO");
    }

    #[test]
    fn values_print_typed_and_escaped() {
        let v = Value::Array(vec![
            Value::String("a\"b\u{1b}[31m".into()),
            Value::Int(-1),
            Value::Double(2.5),
            Value::Bool(true),
            Value::Map(vec![Attribute {
                key: "k".into(),
                value: Value::Bytes(vec![0xab, 1]),
            }]),
        ]);
        assert_eq!(
            v.to_string(),
            r#"["a\"b\u{1b}[31m",-1,2.5,true,{k=0xab01}]"#
        );
    }
}
